"""Training steps on N worker processes (layerwise.parallel) against PyTorch on N threads.

Usage::

    python benchmarks/workers.py                      # workers 1, 2 (and all cores if more)
    python benchmarks/workers.py --workers 1,2,4,8,16 --only DeepConvNet
    python benchmarks/workers.py --rounds 5 --batch 100
    python benchmarks/workers.py --memory              # peak memory, 1 worker against 2

For each network (the book's SimpleConvNet and DeepConvNet, float32, Adam lr 0.001, batch 100
of 28x28 Fashion-MNIST images, uint8 scaled per batch as the Trainer does) and each N it times
one training step of layerwise with ``workers=N`` (every pool open side by side, BLAS pinned
to one thread per process) and of PyTorch with ``torch.set_num_threads(N)``, from the same
initial weights and the same minibatches. Rounds are interleaved: each round times every
configuration once, so drift hits all alike; the figure is the median over rounds.

Prints a markdown table: ms per step, layerwise's speed-up over its 1-worker step, and
layerwise's time over PyTorch's at the same N (<= 1: layerwise is faster). ``run.py --workers``
calls :func:`workers_table`.

``--memory`` measures, for each network and N in 1, 2, a fresh process that takes 20 steps:
the peak resident memory (VmHWM) and the proportional set size (PSS, shared pages counted
once) of that process and its workers, summed, and their ratio to one worker's. The shared
block holds the parameters once, so the second worker costs its interpreter, its copy of the
network's layers and its activations, not a second copy of the weights (Linux only: it reads
``/proc``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# PyTorch's OpenMP threads spin for a while after each of its steps; interleaved with the worker
# processes they would steal the cores the next layerwise step needs. Passive waiting (set before
# torch is imported) lets each configuration have the machine to itself.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import workloads as wl  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import layerwise  # noqa: E402
from layerwise.optimizers import Adam  # noqa: E402
from layerwise.parallel import START_METHOD, DataParallel, available_cores  # noqa: E402


def _layerwise(name, workers, images, index, seed, start_method=None):
    """A step function of layerwise with ``workers`` processes; returns (run, close)."""
    net = getattr(layerwise, name)(dtype=np.float32, seed=seed)
    optimizer = Adam(lr=0.001)
    batches = itertools.cycle(index)
    if workers == 1:

        def run():
            idx = next(batches)
            x = layerwise.training.as_batch(images.x_u8[idx], net.dtype)
            _, grads = net.loss_and_gradient(x, images.t_u8[idx])
            optimizer.update(net.params, grads)

        return run, lambda: None
    pool = DataParallel(
        net, workers, (1, 28, 28), (), images.t_u8.dtype, len(index[0]), optimizer=optimizer,
        start_method=start_method,
    )  # fmt: skip
    pool.start()

    def run_parallel():
        idx = next(batches)
        pool.step(images.x_u8[idx], images.t_u8[idx])
        pool.update()

    return run_parallel, pool.close


def _torch(name, threads, data, index, seed):
    torch = wl.torch
    params = getattr(layerwise, name)(dtype=np.float32, seed=seed).params
    step = wl._torch_conv_step(name, params, 0.001, data, index, seed)

    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            step()
        finally:
            torch.set_num_threads(previous)

    return run


def workers_table(workers_list, names=("SimpleConvNet", "DeepConvNet"), rounds=7, batch=100,
                  seed=0, log=print):  # fmt: skip
    """Time every (network, N) configuration, interleaved; returns (rows, markdown)."""
    data = wl.Data.load()
    images = wl._images(data)
    index = wl.fixed_batches(len(images.x_u8), batch, seed=seed)
    rows = []
    with threadpool_limits(1, user_api="blas"):
        for name in names:
            funcs, closers = {}, []
            for n in workers_list:
                run, close = _layerwise(name, n, images, index, seed)
                funcs[("layerwise", n)] = run
                closers.append(close)
                if wl._have_torch():
                    funcs[("torch", n)] = _torch(name, n, data, index, seed)
            try:
                for f in funcs.values():  # warm up: first allocations, thread pools
                    f()
                    f()
                times = {key: [] for key in funcs}
                keys = list(funcs)
                for r in range(rounds):
                    for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                        start = time.perf_counter()
                        funcs[key]()
                        times[key].append(time.perf_counter() - start)
            finally:
                for close in closers:
                    close()
            med = {key: 1e3 * statistics.median(v) for key, v in times.items()}
            for n in workers_list:
                ours, theirs = med[("layerwise", n)], med.get(("torch", n))
                rows.append({
                    "network": name, "workers": n, "layerwise_ms": ours, "torch_ms": theirs,
                    "speedup_vs_1": med[("layerwise", workers_list[0])] / ours,
                    "time_vs_torch": ours / theirs if theirs else None,
                })  # fmt: skip
                log(f"{name} N={n}: layerwise {ours:.1f} ms, torch {theirs or float('nan'):.1f} ms")
    lines = [
        f"| step, batch {batch}, Adam | N | layerwise ms | speed-up vs N={workers_list[0]} "
        "| PyTorch N threads ms | layerwise / PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        torch_ms = f"{row['torch_ms']:.1f}" if row["torch_ms"] else "-"
        ratio = f"{row['time_vs_torch']:.2f}" if row["time_vs_torch"] else "-"
        lines.append(
            f"| {row['network']} | {row['workers']} | {row['layerwise_ms']:.1f} | "
            f"{row['speedup_vs_1']:.2f}x | {torch_ms} | {ratio} |"
        )
    return rows, "\n".join(lines)


def _descendants(pid):
    """The processes started by ``pid``, their children, and so on (Linux's /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        todo += children
    return found


def _memory_kb(pids):
    """``(peak RSS, PSS)`` in kB, summed over ``pids`` (Linux's /proc)."""
    peak = pss = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        peak += int(re.search(r"VmHWM:\s+(\d+)", status)[1])
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        pss += int(re.search(r"^Pss:\s+(\d+)", rollup, re.MULTILINE)[1])
    return peak, pss


def measure_memory(name, workers, steps=20, batch=100, seed=0, start_method=None):
    """This process with ``workers`` after ``steps`` steps: its memory and its descendants'
    (the workers, and the fork server or resource tracker they need)."""
    data = wl.Data.load()
    images = wl._images(data)
    index = wl.fixed_batches(len(images.x_u8), batch, seed=seed)
    with threadpool_limits(1, user_api="blas"):
        run, close = _layerwise(name, workers, images, index, seed, start_method)
        try:
            for _ in range(steps):
                run()
            return _memory_kb([os.getpid(), *_descendants(os.getpid())])
        finally:
            close()


def memory_table(names=("SimpleConvNet", "DeepConvNet"), workers_list=(1, 2), start_method=None):
    """Peak RSS and PSS of each (network, N), each in a fresh process; returns markdown."""
    method = start_method or START_METHOD
    lines = [
        f"| network | N ({method}) | peak RSS MB | x N=1 | PSS MB | x N=1 |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        first = None
        for n in workers_list:
            # Started with -c, so that spawn and forkserver workers do not import this script
            # (and PyTorch with it), as they would not import a user's.
            code = (
                f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                f"import workers; workers.main(sys.argv[1:])"
            )
            child = [sys.executable, "-c", code, "--memory-of", name, str(n), method]
            peak, pss = json.loads(subprocess.check_output(child, text=True).splitlines()[-1])
            first = first or (peak, pss)
            lines.append(
                f"| {name} | {n} | {peak / 1024:.0f} | {peak / first[0]:.2f}x | "
                f"{pss / 1024:.0f} | {pss / first[1]:.2f}x |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = sorted({1, 2, available_cores()})
    parser.add_argument(
        "--workers",
        default=",".join(map(str, default)),
        help="comma-separated N (default: %(default)s)",
    )
    parser.add_argument("--only", nargs="*", default=["SimpleConvNet", "DeepConvNet"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--memory", action="store_true", help="peak memory, N=1 against N=2")
    parser.add_argument("--start-method", help="of the workers (default: layerwise's)")
    parser.add_argument("--memory-of", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_of:
        name, n, method = args.memory_of
        print(json.dumps(measure_memory(name, int(n), batch=args.batch, start_method=method)))
        return
    if args.memory:
        print(memory_table(args.only, start_method=args.start_method))
        return
    workers_list = [int(n) for n in args.workers.split(",")]
    _, table = workers_table(workers_list, args.only, args.rounds, args.batch,
                             log=lambda s: print(s, file=sys.stderr))  # fmt: skip
    print(f"{available_cores()} cores, load average {os.getloadavg()}\n")
    print(table)


if __name__ == "__main__":
    main()
