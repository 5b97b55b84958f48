"""Where the time of one layerwise training step goes.

``python benchmarks/profile_step.py [--sizes 784 50 10] [--batch 100] [--dtype float32]``

Runs the step as :class:`layerwise.training.Trainer` does (uint8 rows of a 60000-row set
taken by a permutation and scaled by ``Trainer.get_batch``; forward through every layer; the loss;
backward, the first Affine without ``dx``; the finiteness check; ``SGD.update``) with a clock
read between the stages, BLAS pinned to one thread. Prints the median time of every stage in
context (caches as warm or cold as in training), the bare matrix products of the same shapes
for comparison, then the top functions of a cProfile of the uninstrumented step.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import workloads as wl  # noqa: E402

import layerwise  # noqa: E402
from layerwise.optimizers import SGD  # noqa: E402
from layerwise.training import Trainer  # noqa: E402


def instrumented(net, optimizer, data, batch, steps, seed=0):
    """Median seconds of each stage over ``steps`` steps, the stages timed in sequence."""
    clock = time.perf_counter
    x_train, t_train = data.x_u8, data.t_u8
    trainer = Trainer(net, x_train, t_train, x_train[:1], t_train[:1], verbose=False)
    batches = wl._batches(len(x_train), batch, seed)
    layers = list(net.layers.items())
    affines = [layer for _, layer in layers if isinstance(layer, layerwise.Affine)]
    samples = {}

    def add(name, seconds):
        samples.setdefault(name, []).append(seconds)

    for _ in range(steps):
        idx = next(batches)
        t0 = clock()
        x, t = trainer.get_batch(idx)
        t1 = clock()
        add("gather: Trainer.get_batch", t1 - t0)
        net._check_batch(x, t)
        t2 = clock()
        add("network._check_batch", t2 - t1)
        h = x
        for name, layer in layers:
            t0 = clock()
            h = layer.forward(h)
            add(f"{name}.forward", clock() - t0)
        t0 = clock()
        loss = net.lastLayer.forward(h, t)
        t1 = clock()
        add("lastLayer.forward (SoftmaxWithLoss)", t1 - t0)
        dout = net.lastLayer.backward(1.0)
        add("lastLayer.backward", clock() - t1)
        for i in range(len(layers) - 1, -1, -1):
            name, layer = layers[i]
            t0 = clock()
            if i == 0 and isinstance(layer, layerwise.Affine):
                layer.backward(dout, input_grad=False)
                name += ".backward (no dx)"
            else:
                dout = layer.backward(dout)
                name += ".backward"
            add(name, clock() - t0)
        t0 = clock()
        grads = {}
        for k, layer in enumerate(affines, start=1):
            grads[f"W{k}"], grads[f"b{k}"] = layer.dW, layer.db
        finite = np.isfinite(loss)
        t1 = clock()
        add("grads dict + isfinite(loss)", t1 - t0)
        assert finite
        optimizer.update(net.params, grads)
        add("SGD.update", clock() - t1)
    # The median of each stage: a step preempted by another process does not count.
    return {name: float(np.median(values)) for name, values in samples.items()}


def product_times(net, batch, dtype, rounds, min_time):
    """The bare matrix products of every Affine, forward and backward, timed alone."""
    rng = np.random.default_rng(0)
    funcs = {}
    for k, layer in enumerate(a for a in net.layers.values() if isinstance(a, layerwise.Affine)):
        d_in, d_out = layer.W.shape
        x = rng.random((batch, d_in)).astype(dtype)
        d = rng.random((batch, d_out)).astype(dtype)
        o1, o2, o3 = (np.empty(s, dtype) for s in ((batch, d_out), (d_in, d_out), (batch, d_in)))
        W = layer.W
        funcs[f"Affine{k + 1}: x @ W"] = lambda x=x, W=W, o=o1: np.matmul(x, W, out=o)
        funcs[f"Affine{k + 1}: x.T @ dout (dW)"] = lambda x=x, d=d, o=o2: np.matmul(x.T, d, out=o)
        if k:
            funcs[f"Affine{k + 1}: dout @ W.T (dx)"] = lambda d=d, W=W, o=o3: np.matmul(
                d, W.T, out=o
            )
    return run.measure_interleaved(funcs, rounds, min_time)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 50, 10])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    sizes = args.sizes
    data = wl.Data.load()
    if len(sizes) == 3:
        net = layerwise.TwoLayerNet(*sizes, dtype=dtype, seed=0)
    else:
        net = layerwise.MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], dtype=dtype, seed=0)
    optimizer = SGD(lr=0.01)
    step = wl._layerwise_step(net, optimizer, data, args.batch, 0)

    with threadpool_limits(1):
        instrumented(net, optimizer, data, args.batch, 200)  # warm up
        stages = instrumented(net, optimizer, data, args.batch, args.steps)
        whole = run.measure_interleaved(
            {"step": step, "limit": wl.matmul_limit(sizes, args.batch, dtype)}, 15, 0.02
        )
        products = product_times(net, args.batch, dtype, 15, 0.02)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.steps):
            step()
        prof.disable()

    step_s, limit_s = whole["step"]["median"], whole["limit"]["median"]
    total = sum(stages.values())
    print(f"layerwise {dtype} step {'-'.join(map(str, sizes))} b{args.batch}, 1 BLAS thread")
    print(f"uninstrumented step (Trainer.train_step path): {step_s * 1e6:.1f} µs; matmul limit "
          f"{limit_s * 1e6:.1f} µs = {100 * limit_s / step_s:.0f}% of the step")  # fmt: skip
    print()
    print("| stage (timed in sequence, median) | µs | % of the sum |")
    print("|---|---|---|")
    for name, seconds in stages.items():
        print(f"| {name} | {seconds * 1e6:.1f} | {100 * seconds / total:.1f}% |")
    print(f"| **sum of the stages** | {total * 1e6:.1f} | 100% |")
    print()
    print("| bare product, alone | µs |")
    print("|---|---|")
    for name, r in products.items():
        print(f"| {name} | {r['median'] * 1e6:.1f} |")
    print(f"| **sum** | {sum(r['median'] for r in products.values()) * 1e6:.1f} |")
    print()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
    print(f"cProfile of {args.steps} uninstrumented steps, by own time:")
    print(buf.getvalue())


if __name__ == "__main__":
    main()
