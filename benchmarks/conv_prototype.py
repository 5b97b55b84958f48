"""Scratch timings for the convolution and pooling layers: the book's im2col code vs variants.

    python benchmarks/conv_prototype.py [--rounds 15]

One BLAS thread, float32, batch 100; every variant of a workload runs once per round, in turn,
and the median over rounds is printed (the machine is shared: interleaving spreads the noise).

What it showed (2-core machine, 21 rounds, forward + backward):
- 16 -> 16 channels, 3x3, pad 1, with dx: the book's code 157 ms, the book's layer in float32
  92 ms, layerwise (9 shifted products) 40 ms; one fused product for all taps 84 ms (dropped).
- 1 -> 30 channels, 5x5: the book's 31 ms, in float32 15 ms, layerwise (im2col) 7.3 ms without
  dx (a first layer), 14 ms with; 25 shifted products with K = 1 would take 118 ms.
- 2x2 stride-2 pooling of 16 channels: the book's 30 ms, im2col + argmax in float32 25 ms,
  layerwise (slot-by-slot comparison of the reshaped image) 11 ms.
- Shifted products or im2col (stride 1): im2col wins for C = 1..3 against 16-30 filters, ties
  at C = 4 against 16 and C = 16 against 64, loses from 2*C >= FN on: the layer's rule.
"""

import argparse
import itertools
import statistics
import time

import numpy as np
from textbook import Convolution as BookConvolution
from textbook import Pooling as BookPooling
from threadpoolctl import threadpool_limits

# ---------------------------------------------------------------- variants


def layerwise_conv(W, b, pad, input_grad):
    from layerwise.layers import Convolution

    layer = Convolution(W, b, pad=pad)

    def step(x, dout):
        layer.forward(x)
        return layer.backward(dout, input_grad=input_grad)

    return step


def layerwise_pool(k):
    from layerwise.layers import Pooling

    layer = Pooling(k, k, stride=k)

    def step(x, dout):
        layer.forward(x)
        return layer.backward(dout)

    return step


def book_conv(W, b, pad):
    layer = BookConvolution(W, b, pad=pad)

    def step(x, dout):
        layer.forward(x)
        return layer.backward(dout)

    return step


def book_pool(k):
    layer = BookPooling(k, k, stride=k)

    def step(x, dout):
        layer.forward(x)
        return layer.backward(dout)

    return step


def shifted_conv(W, b, pad, fused):
    """Stride-1 convolution as FH*FW shifted products over the flat padded channels-last image.

    ``fused``: one product with all taps' weights side by side, then shifted adds of its column
    blocks; otherwise one product per tap added into the shifted rows.
    """
    FN, C, FH, FW = W.shape
    taps = list(itertools.product(range(FH), range(FW)))
    Wt = W.transpose(2, 3, 1, 0).copy()  # (FH, FW, C, FN)
    W_all = Wt.transpose(2, 0, 1, 3).reshape(C, -1)  # (C, FH*FW*FN)
    W_back = W.transpose(0, 2, 3, 1).reshape(FN, -1)  # (FN, FH*FW*C)

    def step(x, dout):
        N, _, H, Wd = x.shape
        Hp, Wp = H + 2 * pad, Wd + 2 * pad
        OH, OW = Hp - FH + 1, Wp - FW + 1
        xp = np.zeros((N, Hp, Wp, C), x.dtype)
        xp[:, pad : pad + H, pad : pad + Wd] = x.transpose(0, 2, 3, 1)
        X = xp.reshape(-1, C)
        rows = X.shape[0]
        M = rows - (FH - 1) * Wp - (FW - 1)
        out = np.empty((rows, FN), x.dtype)
        if fused:
            Y = X @ W_all
            for k, (i, j) in enumerate(taps):
                off = i * Wp + j
                blk = Y[off : off + M, k * FN : (k + 1) * FN]
                if k == 0:
                    out[:M] = blk
                else:
                    out[:M] += blk
        else:
            for k, (i, j) in enumerate(taps):
                off = i * Wp + j
                if k == 0:
                    np.matmul(X[off : off + M], Wt[i, j], out=out[:M])
                else:
                    out[:M] += X[off : off + M] @ Wt[i, j]
        out[:M] += b
        y = out.reshape(N, Hp, Wp, FN)[:, :OH, :OW].transpose(0, 3, 1, 2)
        # backward
        D = np.zeros((N, Hp, Wp, FN), x.dtype)
        D[:, :OH, :OW] = dout.transpose(0, 2, 3, 1)
        D = D.reshape(-1, FN)
        db = D.sum(axis=0)
        dWt = np.empty((FH, FW, FN, C), x.dtype)
        for i, j in taps:
            off = i * Wp + j
            np.matmul(D[:M].T, X[off : off + M], out=dWt[i, j])
        dW = dWt.transpose(2, 3, 0, 1).copy()
        dxp = np.zeros((rows, C), x.dtype)
        if fused:
            G = D[:M] @ W_back
            for k, (i, j) in enumerate(taps):
                off = i * Wp + j
                dxp[off : off + M] += G[:, k * C : (k + 1) * C]
        else:
            for i, j in taps:
                off = i * Wp + j
                dxp[off : off + M] += D[:M] @ Wt[i, j].T
        dx = dxp.reshape(N, Hp, Wp, C)[:, pad : pad + H, pad : pad + Wd].transpose(0, 3, 1, 2)
        return y, dx, dW, db

    return step


def window_conv(W, b, pad, input_grad):
    """Channels-last im2col by a sliding-window view (one copy), for C == 1 and stride > 1."""
    from numpy.lib.stride_tricks import sliding_window_view

    FN, C, FH, FW = W.shape
    W2 = W.transpose(0, 2, 3, 1).reshape(FN, -1)

    def step(x, dout):
        N, _, H, Wd = x.shape
        xp = np.zeros((N, H + 2 * pad, Wd + 2 * pad, C), x.dtype)
        xp[:, pad : pad + H, pad : pad + Wd] = x.transpose(0, 2, 3, 1)
        win = sliding_window_view(xp, (FH, FW), axis=(1, 2))  # (N, OH, OW, C, FH, FW)
        OH, OW = win.shape[1:3]
        col = win.transpose(0, 1, 2, 4, 5, 3).reshape(N * OH * OW, -1)
        out = col @ W2.T
        out += b
        y = out.reshape(N, OH, OW, FN).transpose(0, 3, 1, 2)
        d2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        dW = (d2.T @ col).reshape(FN, FH, FW, C).transpose(0, 3, 1, 2)
        db = d2.sum(axis=0)
        return y, dW, db

    return step


def book_conv_f32(W, b, pad):
    """The book's layer over layerwise.util's im2col/col2im (which keep float32)."""
    from layerwise.util import col2im, im2col

    layer = BookConvolution(W, b, pad=pad)
    FN, C, FH, FW = W.shape

    def step(x, dout):
        N, _, H, Wd = x.shape
        col = im2col(x, FH, FW, 1, pad)
        col_W = W.reshape(FN, -1).T
        out = (col @ col_W + b).reshape(N, H + 2 * pad - FH + 1, -1, FN).transpose(0, 3, 1, 2)
        d2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        layer.db = np.sum(d2, axis=0)
        layer.dW = (col.T @ d2).T.reshape(FN, C, FH, FW)
        return out, col2im(d2 @ col_W.T, x.shape, FH, FW, 1, pad)

    return step


def im2col_pool_f32(k):
    """The general path: im2col (float32, channels-last view) + argmax + col2im."""
    from layerwise.util import col2im, im2col

    def step(x, dout):
        N, C, H, W = x.shape
        col = im2col(x, k, k, k).reshape(-1, k * k)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1).reshape(N, H // k, W // k, C).transpose(0, 3, 1, 2)
        dcol = np.zeros((arg_max.size, k * k), x.dtype)
        dcol[np.arange(arg_max.size), arg_max] = dout.transpose(0, 2, 3, 1).reshape(-1)
        return out, col2im(dcol.reshape(-1, C * k * k), x.shape, k, k, k)

    return step


def reshape_argmax_pool(k):
    """Non-overlapping windows by a reshape, then one copy and argmax over k*k columns."""

    def step(x, dout):
        N, C, H, W = x.shape
        OH, OW = H // k, W // k
        windows = x.transpose(0, 2, 3, 1).reshape(N, OH, k, OW, k, C)
        col = windows.transpose(0, 1, 3, 5, 2, 4).reshape(-1, k * k)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1).reshape(N, OH, OW, C)
        dx = np.zeros((N, OH, OW, C, k * k), x.dtype)
        np.put_along_axis(
            dx, arg_max.reshape(N, OH, OW, C, 1), dout.transpose(0, 2, 3, 1)[..., None], -1
        )
        dx = dx.reshape(N, OH, OW, C, k, k).transpose(0, 1, 4, 2, 5, 3).reshape(N, H, W, C)
        return out.transpose(0, 3, 1, 2), dx.transpose(0, 3, 1, 2)

    return step


# ---------------------------------------------------------------- harness


def run(workloads, rounds):
    for title, args, variants in workloads:
        times = {name: [] for name in variants}
        for _ in range(rounds):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn(*args)
                times[name].append(time.perf_counter() - t0)
        print(f"\n{title}")
        base = statistics.median(next(iter(times.values())))
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:<48s} {med * 1e3:8.1f} ms  {base / med:5.1f}x")


def relu_like(shape, rng):
    """A channels-last activation handed on as an (N, C, H, W) view, like a layer's output."""
    n, c, h, w = shape
    return np.maximum(rng.standard_normal((n, h, w, c), dtype=np.float32), 0).transpose(0, 3, 1, 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    f32 = np.float32

    x16 = relu_like((100, 16, 28, 28), rng)
    x16_nchw = np.ascontiguousarray(x16)
    W16 = (rng.standard_normal((16, 16, 3, 3)) * 0.1).astype(f32)
    b16 = np.zeros(16, f32)
    d16 = relu_like((100, 16, 28, 28), rng)

    x1 = rng.random((100, 1, 28, 28), dtype=f32)
    W1 = (rng.standard_normal((30, 1, 5, 5)) * 0.1).astype(f32)
    b1 = np.zeros(30, f32)
    d1 = relu_like((100, 30, 24, 24), rng)

    p16 = relu_like((100, 16, 28, 28), rng)
    p16_nchw = np.ascontiguousarray(p16)
    dp16 = relu_like((100, 16, 14, 14), rng)

    workloads = [
        (
            "conv (100, 16, 28, 28) 16 filters 3x3 pad 1, forward + backward with dx",
            (x16, d16),
            {
                "book (float64 im2col/col2im)": book_conv(W16, b16, 1),
                "book's layer, float32 im2col/col2im": book_conv_f32(W16, b16, 1),
                "layerwise": layerwise_conv(W16, b16, 1, True),
                "shifted, 9 products": shifted_conv(W16, b16, 1, fused=False),
                "shifted, one fused product": shifted_conv(W16, b16, 1, fused=True),
            },
        ),
        (
            "conv (100, 16, 28, 28) 3x3 pad 1, NCHW-contiguous input",
            (x16_nchw, d16),
            {
                "book (float64 im2col/col2im)": book_conv(W16, b16, 1),
                "layerwise": layerwise_conv(W16, b16, 1, True),
            },
        ),
        (
            "conv (100, 1, 28, 28) 30 filters 5x5, forward + backward (book: with dx)",
            (x1, d1),
            {
                "book (float64 im2col/col2im)": book_conv(W1, b1, 0),
                "book's layer, float32 im2col/col2im": book_conv_f32(W1, b1, 0),
                "layerwise, input_grad=False": layerwise_conv(W1, b1, 0, False),
                "layerwise, input_grad=True": layerwise_conv(W1, b1, 0, True),
                "shifted, 25 products (with dx)": shifted_conv(W1, b1, 0, fused=False),
                "window im2col (no dx)": window_conv(W1, b1, 0, False),
            },
        ),
        (
            "pool (100, 16, 28, 28) 2x2 stride 2, forward + backward",
            (p16, dp16),
            {
                "book": book_pool(2),
                "im2col + argmax, float32": im2col_pool_f32(2),
                "reshape + argmax": reshape_argmax_pool(2),
                "layerwise": layerwise_pool(2),
            },
        ),
        (
            "pool (100, 16, 28, 28) 2x2 stride 2, NCHW-contiguous input",
            (p16_nchw, dp16),
            {
                "book": book_pool(2),
                "layerwise": layerwise_pool(2),
            },
        ),
    ]
    workloads = [w for w in workloads if args.only in w[0]]
    with threadpool_limits(1):
        run(workloads, args.rounds)


if __name__ == "__main__":
    main()
