"""The chapter-5 experiment end to end, one implementation per process.

``python benchmarks/e2e.py IMPL [options]`` loads Fashion-MNIST, trains TwoLayerNet(784, 50, 10)
with SGD for ``--iters`` minibatches of ``--batch`` drawn at random, evaluates the full training
and test sets once per epoch (as the book's ``train_neuralnet.py`` does), and prints one JSON
line: times, final accuracies and the peak resident memory of this process. ``run.py`` starts
it in a fresh subprocess per implementation, so one run's memory cannot hide another's.

IMPL is ``textbook`` (the book's code and loop, float64 parameters), ``layerwise`` (the library
in float32) or ``torch`` (PyTorch float32, autograd, torch.optim.SGD).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


def _subset(arrays, train_size, test_size):
    (x_train, t_train), (x_test, t_test) = arrays
    if train_size:
        x_train, t_train = x_train[:train_size], t_train[:train_size]
    if test_size:
        x_test, t_test = x_test[:test_size], t_test[:test_size]
    return (x_train, t_train), (x_test, t_test)


def run_textbook(args):
    import textbook as tb

    np.random.seed(args.seed)  # noqa: NPY002 - the book seeds the legacy global generator
    arrays = tb.load_mnist(args.data_dir, normalize=True, one_hot_label=True)
    (x_train, t_train), (x_test, t_test) = _subset(arrays, args.train_size, args.test_size)
    t_loaded = time.perf_counter()
    network, losses, train_acc, test_acc = tb.train_neuralnet(
        x_train, t_train, x_test, t_test,
        iters_num=args.iters, batch_size=args.batch, learning_rate=args.lr,
    )  # fmt: skip
    t_trained = time.perf_counter()
    final = (network.accuracy(x_train, t_train), network.accuracy(x_test, t_test))
    return t_loaded, t_trained, losses, train_acc, test_acc, final


def run_layerwise(args):
    from layerwise import TwoLayerNet
    from layerwise.datasets import load_fashion_mnist

    try:
        from layerwise.training import Trainer
    except ImportError:
        return _run_layerwise_loop(args)

    # The library's way: uint8 images (scaled one batch at a time), the Trainer's loop.
    arrays = load_fashion_mnist(normalize=False, data_dir=args.data_dir, download=False)
    (x_train, t_train), (x_test, t_test) = _subset(arrays, args.train_size, args.test_size)
    t_loaded = time.perf_counter()
    network = TwoLayerNet(784, 50, 10, dtype=np.float32, seed=args.seed)
    # The Trainer counts epochs: as many as the book's loop evaluates (one per 600 iterations,
    # the first at iteration 0), so the Trainer runs up to an epoch's iterations more.
    iter_per_epoch = math.ceil(len(x_train) / args.batch)
    trainer = Trainer(
        network, x_train, t_train, x_test, t_test,
        epochs=math.ceil(args.iters / iter_per_epoch), mini_batch_size=args.batch,
        optimizer="SGD", optimizer_param={"lr": args.lr}, verbose=False, seed=args.seed,
    )  # fmt: skip
    trainer.train()
    t_trained = time.perf_counter()
    args.iters = trainer.iteration
    final = (trainer.accuracy(x_train, t_train), trainer.accuracy(x_test, t_test))
    return (
        t_loaded, t_trained, trainer.train_loss_list, trainer.train_acc_list,
        trainer.test_acc_list, final,
    )  # fmt: skip


def _run_layerwise_loop(args):
    """The book's loop with the library's network and optimizer (before the Trainer)."""
    from layerwise import TwoLayerNet
    from layerwise.datasets import load_fashion_mnist
    from layerwise.optimizers import SGD

    arrays = load_fashion_mnist(data_dir=args.data_dir, download=False)
    (x_train, t_train), (x_test, t_test) = _subset(arrays, args.train_size, args.test_size)
    t_loaded = time.perf_counter()

    network = TwoLayerNet(784, 50, 10, dtype=np.float32, seed=args.seed)
    optimizer = SGD(lr=args.lr)
    rng = np.random.default_rng(args.seed)
    train_size = len(x_train)
    iter_per_epoch = max(train_size / args.batch, 1)
    losses, train_acc, test_acc = [], [], []
    for i in range(args.iters):
        idx = rng.integers(0, train_size, args.batch)
        grads = network.gradient(x_train.take(idx, axis=0), t_train.take(idx))
        optimizer.update(network.params, grads)
        # The loss of this minibatch is already known from the gradient's forward pass
        # (the book computes it again after the update).
        losses.append(network.lastLayer.loss)
        if i % iter_per_epoch == 0:
            train_acc.append(network.accuracy(x_train, t_train))
            test_acc.append(network.accuracy(x_test, t_test))
    t_trained = time.perf_counter()
    final = (network.accuracy(x_train, t_train), network.accuracy(x_test, t_test))
    return t_loaded, t_trained, losses, train_acc, test_acc, final


def run_torch(args):
    import torch
    import torch.nn.functional as F
    from torch import nn

    from layerwise.datasets import read_idx

    torch.manual_seed(args.seed)
    root = Path(args.data_dir)

    def images(name):
        x = read_idx(root / name).reshape(-1, 784)
        return torch.from_numpy(x).float().div_(255.0)

    def labels(name):
        return torch.from_numpy(read_idx(root / name).astype(np.int64))

    arrays = (
        (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")),
        (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")),
    )
    (x_train, t_train), (x_test, t_test) = _subset(arrays, args.train_size, args.test_size)
    t_loaded = time.perf_counter()

    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    with torch.no_grad():  # the book's weight_init_std=0.01, zero biases
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.01)
                m.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    def accuracy(x, t):
        with torch.no_grad():
            return (model(x).argmax(dim=1) == t).float().mean().item()

    train_size = len(x_train)
    iter_per_epoch = max(train_size / args.batch, 1)
    losses, train_acc, test_acc = [], [], []
    for i in range(args.iters):
        idx = torch.randint(0, train_size, (args.batch,))
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x_train[idx]), t_train[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if i % iter_per_epoch == 0:
            train_acc.append(accuracy(x_train, t_train))
            test_acc.append(accuracy(x_test, t_test))
    t_trained = time.perf_counter()
    final = (accuracy(x_train, t_train), accuracy(x_test, t_test))
    return t_loaded, t_trained, losses, train_acc, test_acc, final


def peak_rss_mib():
    """This process's peak resident set size, in MiB.

    ``VmHWM`` is the high-water mark of this process's own address space. ``ru_maxrss`` is
    not used: Linux carries it across ``exec``, so a child started by a large parent (the
    benchmark process holds the dataset and torch) would report the parent's size.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


RUNNERS = {"textbook": run_textbook, "layerwise": run_layerwise, "torch": run_torch}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=sorted(RUNNERS))
    parser.add_argument("--iters", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--train-size", type=int, default=0, help="first N images (0: all)")
    parser.add_argument("--test-size", type=int, default=0, help="first N images (0: all)")
    parser.add_argument("--threads", type=int, default=0, help="BLAS threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=DEBIAN_DIR)
    args = parser.parse_args(argv)

    if args.threads:
        limiter = threadpool_limits(args.threads)
        if args.impl == "torch":
            import torch

            torch.set_num_threads(args.threads)
    else:
        limiter = None
    t_begin = time.perf_counter()
    t_loaded, t_trained, losses, train_acc, test_acc, final = RUNNERS[args.impl](args)
    t_end = time.perf_counter()
    if limiter is not None:
        limiter.restore_original_limits()

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    result = {
        "impl": args.impl,
        "iters": args.iters,
        "batch": args.batch,
        "lr": args.lr,
        "train_size": int(args.train_size or 60000),
        "test_size": int(args.test_size or 10000),
        "threads": args.threads or "default",
        "import_s": t_begin - T_START,
        "load_s": t_loaded - t_begin,
        "train_s": t_trained - t_loaded,
        "script_s": t_end - T_START,
        "epochs_evaluated": len(test_acc),
        "final_loss": float(np.mean([float(v) for v in losses[-100:]])) if losses else math.nan,
        "final_train_acc": float(final[0]),
        "final_test_acc": float(final[1]),
        "test_acc_per_epoch": [float(a) for a in test_acc],
        "peak_rss_mib": peak_rss_mib(),
        "blas_architecture": [b.get("architecture") for b in blas],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
