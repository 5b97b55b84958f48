"""The fast kernels of ``layers/_conv_fast.py`` compute the book's functions.

Each test runs a layer twice on the same float64 inputs: once as it chooses (the fast kernel,
where its rule says so) and once with the rule forced off, so that it computes the book's way
(im2col, one product, col2im; argmax over im2col's columns). The forward output and every
gradient must agree to 1e-12 (pooling: exactly, it only moves numbers).
"""

import numpy as np
import pytest

from layerwise.layers import Convolution, Pooling
from layerwise.layers import _conv_fast as fast

TOL = {"rtol": 1e-12, "atol": 1e-12}

# (N, C, H, W), (FN, FH, FW), pad: all on the fast path (stride 1, 2*C >= FN, pad < filter)
CONV_CASES = [
    ((2, 3, 5, 7), (4, 3, 3), 0),  # no padding, non-square image
    ((2, 16, 8, 8), (16, 3, 3), 1),  # DeepConvNet's layers, small
    ((2, 3, 6, 6), (6, 3, 3), 2),  # 2*C == FN, pad = FH - 1: the largest pad the rule allows
    ((1, 2, 6, 5), (3, 3, 2), 1),  # batch 1, rectangular filter, pad = FW - 1
    ((2, 3, 1, 4), (3, 5, 3), 2),  # one row per image: the frame at its smallest
    ((3, 2, 4, 1), (2, 3, 3), 1),  # one column per image
    ((2, 2, 4, 4), (2, 5, 5), 1),  # dout padded by FH-1-pad = 3 > pad in the backward frame
    ((2, 4, 4, 4), (2, 1, 1), 0),  # 1x1 filter
    ((2, 3, 3, 3), (5, 3, 3), 0),  # a single output pixel per image
    ((1, 1, 5, 5), (1, 2, 4), 1),  # one channel, one filter, even-sized rectangular filter
]
CONV_IDS = [f"{s}-{f}-p{p}" for s, f, p in CONV_CASES]

# (N, C, H, W), pool, pad: windows that do not overlap (pool_h == pool_w == stride)
POOL_CASES = [
    ((2, 3, 4, 6), 2, 0),  # the book's networks' 2x2 stride-2 pooling
    ((2, 2, 6, 4), 2, 1),  # padded: -inf on every side
    ((1, 2, 6, 6), 3, 0),  # 3x3 windows: nine slots
    ((2, 1, 7, 4), 3, 1),  # 3x3, padded, odd height
    ((2, 3, 3, 5), 1, 0),  # 1x1 windows: pooling is the identity
    ((1, 4, 2, 2), 2, 0),  # one window per channel
    ((2, 2, 5, 5), 2, 1),  # 5 + 2 = 7 rows: the last padded row in no window (floored)
    ((2, 3, 7, 5), 2, 0),  # odd sides: the last row and column in no window
]
POOL_IDS = [f"{s}-{k}x{k}-p{p}" for s, k, p in POOL_CASES]


def book_path(monkeypatch):
    """Make both layers compute the book's way, whatever their sizes."""
    monkeypatch.setattr(fast, "conv_fast_path", lambda *sizes: False)
    monkeypatch.setattr(fast, "pool_fast_path", lambda *sizes: False)


def run_convolution(x, W, b, pad, dout):
    layer = Convolution(W, b, pad=pad)
    out = layer.forward(x)
    dx = layer.backward(dout)
    dW, db = layer.dW, layer.db
    assert layer.backward(dout, input_grad=False) is None
    np.testing.assert_array_equal(layer.dW, dW)
    np.testing.assert_array_equal(layer.db, db)
    return layer, (out, dx, dW, db)


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape, filters, pad", CONV_CASES, ids=CONV_IDS)
def test_convolution_fast_path_is_the_books(monkeypatch, shape, filters, pad):
    rng = np.random.default_rng(0)
    FN, FH, FW = filters
    x = rng.standard_normal(shape)
    W = rng.standard_normal((FN, shape[1], FH, FW))
    b = rng.standard_normal(FN)
    assert fast.conv_fast_path(W.shape, 1, pad)
    H, Wd = shape[2] + 2 * pad - FH + 1, shape[3] + 2 * pad - FW + 1
    dout = rng.standard_normal((shape[0], FN, H, Wd))
    for x_in in (x, channels_last(x)):  # as a user passes it, as a previous layer hands it on
        layer, fast_result = run_convolution(x_in, W, b, pad, dout)
        assert layer.col is None and layer.col_W is None
        with monkeypatch.context() as m:
            book_path(m)
            layer, book_result = run_convolution(x_in, W, b, pad, dout)
        assert layer.col is not None and layer.col_W is not None
        for name, ours, book in zip(
            ("out", "dx", "dW", "db"), fast_result, book_result, strict=True
        ):
            assert ours.shape == book.shape, name
            np.testing.assert_allclose(ours, book, **TOL, err_msg=name)


@pytest.mark.parametrize("shape, pool, pad", POOL_CASES, ids=POOL_IDS)
def test_pooling_fast_path_is_the_books(monkeypatch, shape, pool, pad):
    rng = np.random.default_rng(1)
    # Values from a few levels: many ties, which both paths must give to the first maximum.
    x = rng.integers(-2, 3, shape).astype(np.float64)
    x.flat[::7] = -np.inf  # a window of -inf ties with its padding
    assert fast.pool_fast_path(pool, pool, pool)
    N, C, H, W = shape
    dout = rng.standard_normal((N, C, (H + 2 * pad) // pool, (W + 2 * pad) // pool))
    results = []
    for book in (False, True):
        with monkeypatch.context() as m:
            if book:
                book_path(m)
            layer = Pooling(pool, pool, stride=pool, pad=pad)
            out = layer.forward(x)
            results.append((out, layer.arg_max, layer.backward(dout)))
    for name, ours, theirs in zip(("out", "arg_max", "dx"), *results, strict=True):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_the_rules():
    """The fast path where its maths holds and where it pays; the book's elsewhere."""
    assert fast.conv_fast_path((16, 16, 3, 3), 1, 1)  # DeepConvNet's inner layers
    assert fast.conv_fast_path((6, 3, 3, 3), 1, 2)  # 2*C == FN, pad = FH - 1
    assert not fast.conv_fast_path((16, 1, 3, 3), 1, 1)  # a first layer: few input channels
    assert not fast.conv_fast_path((30, 1, 5, 5), 1, 0)  # SimpleConvNet's first layer
    assert not fast.conv_fast_path((4, 4, 3, 3), 2, 1)  # stride 2: a shift is not a slice
    assert not fast.conv_fast_path((4, 4, 3, 3), 1, 3)  # pad as large as the filter
    assert not fast.conv_fast_path((4, 4, 3, 2), 1, 2)  # ... as its width
    assert fast.pool_fast_path(2, 2, 2) and fast.pool_fast_path(3, 3, 3)
    assert not fast.pool_fast_path(3, 3, 2)  # overlapping windows
    assert not fast.pool_fast_path(2, 2, 3)  # gaps between windows
    assert not fast.pool_fast_path(2, 4, 2)  # rectangular
