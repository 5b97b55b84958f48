"""Peak memory and wall time of DeepConvNet training steps, one implementation per process.

``python benchmarks/e2e_conv.py IMPL [--steps 50 | --epoch] [--batch 100] [--workers 2]``

Loads the 60,000 Fashion-MNIST training images the way IMPL does, builds the book's DeepConvNet
and runs ``--steps`` training steps with Adam (lr 0.001), then prints one JSON line: load and
training times, the resident memory after loading (``VmRSS``) and the peak resident memory of
this process (``VmHWM``), also as it stood after steps 1, 10, 50, 200 and 600 where reached. No
accuracy is evaluated: this measures what training itself holds. ``run.py`` starts it in a fresh
subprocess per implementation.

IMPL is ``textbook`` (the book's ``load_mnist(normalize=True, flatten=False)``: float32 images;
its DeepConvNet in float64 and ``Trainer.train_step``: ``np.random.choice``, gradient, update,
and the loss computed again) or ``layerwise`` (uint8 images scaled one batch at a time, float32
DeepConvNet, ``Trainer.train_step`` over a permutation).

Every step allocates its activations and gradients afresh, so the peak is reached within the
first steps: ``--steps 50`` (the default) gives an epoch's peak in a twelfth of the time;
``--epoch`` runs the 600 steps of a full epoch at batch 100 to confirm it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CHECKPOINTS = (1, 10, 50, 200, 600)


def status_mib(field):
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MiB; None elsewhere.

    ``VmHWM`` is this process's own high-water mark (``ru_maxrss`` would carry the parent's
    across ``exec``; see ``e2e.peak_rss_mib``).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_textbook(args, on_step):
    import textbook as tb

    np.random.seed(args.seed)  # noqa: NPY002 - the book's Dropout and sampling use it
    (x_train, t_train), _ = tb.load_mnist(
        args.data_dir, normalize=True, one_hot_label=False, flatten=False
    )
    on_step(0)
    network = tb.DeepConvNet()
    optimizer = tb.Adam(lr=0.001)
    for i in range(args.steps):
        tb.train_step(network, optimizer, x_train, t_train, args.batch)
        on_step(i + 1)


def run_layerwise(args, on_step):
    from layerwise import DeepConvNet
    from layerwise.datasets import load_fashion_mnist
    from layerwise.training import Trainer

    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(
        normalize=False, flatten=False, data_dir=args.data_dir, download=False
    )
    on_step(0)
    network = DeepConvNet(dtype=np.float32, seed=args.seed)
    trainer = Trainer(
        network, x_train, t_train, x_test, t_test, mini_batch_size=args.batch,
        optimizer="Adam", optimizer_param={"lr": 0.001}, verbose=False, seed=args.seed,
    )  # fmt: skip
    per_epoch = len(x_train) // args.batch
    pool = None
    if args.workers > 1:  # the Trainer's own pool, as `Trainer(workers=N).train()` opens it
        from layerwise.parallel import DataParallel

        pool = DataParallel(
            network, args.workers, x_train.shape[1:], (), t_train.dtype, args.batch,
            optimizer=trainer.optimizer,
        )  # fmt: skip
        pool.start()
        trainer._pool = pool
    try:
        for i in range(args.steps):
            if i % per_epoch == 0:
                perm = trainer.rng.permutation(len(x_train))
            k = i % per_epoch
            trainer.train_step(*trainer.get_batch(perm[k * args.batch : (k + 1) * args.batch]))
            on_step(i + 1)
    finally:
        if pool is not None:
            trainer._pool = None
            pool.close()


RUNNERS = {"textbook": run_textbook, "layerwise": run_layerwise}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=sorted(RUNNERS))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--epoch", action="store_true", help="one full epoch (60000 / batch)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=1, help="layerwise: processes per step (layerwise.parallel)"
    )
    parser.add_argument("--data-dir", default=DEBIAN_DIR)
    args = parser.parse_args(argv)
    if args.epoch:
        args.steps = math.ceil(60000 / args.batch)

    limiter = threadpool_limits(args.threads) if args.threads else None
    clock, memory, peaks = {}, {}, {}

    def on_step(step):
        """Called with 0 once the data are loaded, then after every step."""
        clock[min(step, 2)] = time.perf_counter()  # 0 loaded, 1 first step done, 2 last step
        if step == 0:
            memory["rss_loaded_mib"] = status_mib("VmRSS")
            memory["peak_rss_loaded_mib"] = status_mib("VmHWM")
        if step in CHECKPOINTS:
            peaks[str(step)] = status_mib("VmHWM")

    t_begin = time.perf_counter()
    RUNNERS[args.impl](args, on_step)
    if limiter is not None:
        limiter.restore_original_limits()
    result = {
        "impl": args.impl,
        "steps": args.steps,
        "batch": args.batch,
        "threads": args.threads or "default",
        "import_s": t_begin - T_START,
        "load_s": clock[0] - t_begin,
        "train_s": clock[max(clock)] - clock[0],
        "first_step_ms": 1e3 * (clock[1] - clock[0]) if 1 in clock else None,
        # the steps after the first (which allocates everything for the first time)
        "ms_per_step": 1e3 * (clock[2] - clock[1]) / (args.steps - 1) if 2 in clock else None,
        **memory,
        "peak_rss_mib": status_mib("VmHWM"),
        "peak_rss_after_step_mib": peaks,
        "workers": args.workers,
    }
    if args.workers > 1:
        import resource

        # The largest child's peak (Linux reports KiB); their sum is at most workers - 1 times it.
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        result["peak_rss_child_mib"] = child
        result["peak_rss_all_mib_at_most"] = result["peak_rss_mib"] + (args.workers - 1) * child
    print(json.dumps(result))


if __name__ == "__main__":
    main()
