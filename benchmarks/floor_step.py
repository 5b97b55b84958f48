"""How fast can a NumPy training step of 784-50-10 at batch 100 be? The floor, measured.

    python benchmarks/floor_step.py

Times, with one BLAS thread and interleaved repeats, on full Fashion-MNIST: layerwise's own step
(``Trainer.train_step`` on a gathered uint8 batch), and

- ``bare``: the step written as straight-line NumPy with no classes, no checks and no error
  handling (the same fused softmax-cross-entropy, float 0/1 Relu mask and skipped first dx as
  layerwise), gathering a batch of uint8 rows and scaling it to float32;
- ``bare, float32 data``: the same, with the whole training set converted to float32 beforehand
  (a plain float gather; 188 MB more memory);
- ``limit``: only the five matrix products of the step.

It shows how much of the gap to the matrix-product limit is NumPy's fixed cost per call and the
gather, which no amount of care in the layers removes: compare layerwise's step in run.py.
"""

import timeit

import numpy as np
from threadpoolctl import threadpool_limits

from layerwise import TwoLayerNet
from layerwise.datasets import load_fashion_mnist
from layerwise.training import Trainer

F32 = np.float32


def main():
    (x_u8, t), _ = load_fashion_mnist(normalize=False)
    x_f32 = x_u8.astype(F32) / F32(255)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x_u8))
    W1 = (0.01 * rng.standard_normal((784, 50))).astype(F32)
    b1 = np.zeros(50, F32)
    W2 = (0.01 * rng.standard_normal((50, 10))).astype(F32)
    b2 = np.zeros(10, F32)
    rows = np.arange(100)
    position = [0]

    def batch_indices():
        k = position[0] = (position[0] + 1) % 600
        return perm[k * 100 : (k + 1) * 100]

    def step(xb, tb):
        a1 = xb @ W1
        a1 += b1
        keep = np.greater(a1, 0, out=np.empty(a1.shape, F32))
        h = np.maximum(a1, 0)
        a2 = h @ W2
        a2 += b2
        top = a2.argmax(axis=1)
        shifted = a2 - a2[rows, top][:, None]
        e = np.exp(shifted)
        e[rows, top] = 0
        rest = e.sum(axis=1)
        lse = np.log1p(rest)
        e[rows, top] = 1
        y = e / (1 + rest)[:, None]
        _loss = (lse - shifted[rows, tb]).sum() / 100
        dx = y.copy()
        dx[rows, tb] -= 1
        dx *= 1 / 100
        dW2, db2, dh = h.T @ dx, dx.sum(axis=0), dx @ W2.T
        dh *= keep
        dW1, db1 = xb.T @ dh, dh.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            p -= 0.1 * g

    def bare_uint8():
        idx = batch_indices()
        xb = x_u8.take(idx, axis=0).astype(F32)
        xb *= F32(1 / 255)
        step(xb, t.take(idx))

    def bare_float32():
        idx = batch_indices()
        step(x_f32.take(idx, axis=0), t.take(idx))

    xb, h = x_f32[:100], np.ones((100, 50), F32)
    d, dh = np.ones((100, 10), F32), np.ones((100, 50), F32)

    def limit():
        xb @ W1, h @ W2, h.T @ d, d @ W2.T, xb.T @ dh

    net = TwoLayerNet(784, 50, 10, dtype=F32, seed=0)
    trainer = Trainer(net, x_u8, t, x_u8[:1], t[:1], optimizer_param={"lr": 0.1}, verbose=False)

    def layerwise_step():
        idx = batch_indices()
        trainer.train_step(*trainer.get_batch(idx))

    runs = {
        "layerwise (Trainer.train_step, uint8 data)": layerwise_step,
        "bare": bare_uint8,
        "bare, float32 data": bare_float32,
        "limit": limit,
    }
    times = {name: [] for name in runs}
    with threadpool_limits(1):
        for _ in range(15):  # interleaved rounds: drift hits every variant alike
            for name, fn in runs.items():
                times[name].append(timeit.timeit(fn, number=300) / 300 * 1e6)
    medians = {name: float(np.median(ts)) for name, ts in times.items()}
    print("| step 784-50-10 b100, 1 BLAS thread | µs | % of limit |\n|---|---|---|")
    for name, us in medians.items():
        print(f"| {name} | {us:.0f} | {100 * medians['limit'] / us:.0f}% |")


if __name__ == "__main__":
    main()
