"""Parity with PyTorch: each test writes the torch computation line for line beside ours.

Forward and backward agree within 1e-10 relative in float64 and 1e-5 in float32; the worst
errors are printed after the run (``-s`` or ``-v``). Without PyTorch the module is skipped.
"""

import numpy as np
import pytest
from conftest import record_worst

from layerwise import Affine, Relu, Sigmoid, SoftmaxWithLoss
from layerwise.layers import Convolution, Pooling

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = {np.float64: 1e-10, np.float32: 1e-5}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def close(ours, theirs, dtype, name):
    theirs = theirs.detach().numpy()
    assert ours.dtype == dtype and ours.shape == theirs.shape
    denom = np.maximum(np.abs(theirs), np.finfo(dtype).tiny)
    err = float(np.max(np.abs(ours.astype(np.float64) - theirs) / np.maximum(denom, 1e-30)))
    # Entries whose true value is ~0 are compared absolutely against the array's scale.
    scale = float(np.max(np.abs(theirs))) or 1.0
    err = min(err, float(np.max(np.abs(ours.astype(np.float64) - theirs))) / scale)
    where = f"{name} {np.dtype(dtype).name}"
    record_worst("largest difference from PyTorch (layers)", where, err, RTOL[dtype])


dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32])


@dtypes
def test_relu(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)).astype(dtype)
    dout = rng.standard_normal((7, 5)).astype(dtype)
    layer = Relu()
    out = layer.forward(x)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    outt = F.relu(xt)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "relu forward")
    close(dx, xt.grad, dtype, "relu backward")


@dtypes
def test_sigmoid(dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((6, 4)) * 8).astype(dtype)
    dout = rng.standard_normal((6, 4)).astype(dtype)
    layer = Sigmoid()
    out = layer.forward(x)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    outt = torch.sigmoid(xt)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "sigmoid forward")
    close(dx, xt.grad, dtype, "sigmoid backward")


@dtypes
def test_affine_is_linear(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 2, 3, 5)).astype(dtype)
    W = rng.standard_normal((30, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    dout = rng.standard_normal((8, 4)).astype(dtype)
    layer = Affine(W, b)
    out = layer.forward(x)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W.T.copy(), requires_grad=True)  # torch stores (out_features, in_features)
    bt = torch.tensor(b, requires_grad=True)
    outt = F.linear(xt.reshape(8, -1), Wt, bt)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "linear forward")
    close(dx, xt.grad, dtype, "linear backward dx")
    close(layer.dW, Wt.grad.T, dtype, "linear backward dW")
    close(layer.db, bt.grad, dtype, "linear backward db")


@dtypes
@pytest.mark.parametrize("target", ["index", "probability"])
@pytest.mark.parametrize("dout", [1.0, 0.3])
def test_softmax_cross_entropy(dtype, target, dout):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((9, 6)) * 4).astype(dtype)
    labels = rng.integers(0, 6, 9)
    t = labels if target == "index" else rng.dirichlet(np.ones(6), 9).astype(dtype)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    losst = F.cross_entropy(xt, torch.tensor(t))  # mean over the batch, like ours
    (losst * dout).backward()
    close(np.asarray(loss), losst, dtype, f"cross_entropy {target} forward")
    close(layer.y, F.softmax(xt, dim=1), dtype, "softmax")
    close(dx, xt.grad, dtype, f"cross_entropy {target} backward")


@dtypes
def test_cross_entropy_single_sample(dtype):
    x = np.array([2.0, -1.0, 0.5], dtype=dtype)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, 2)
    dx = layer.backward()
    xt = torch.tensor(x, requires_grad=True)
    losst = F.cross_entropy(xt, torch.tensor(2))  # torch also accepts one unbatched sample
    losst.backward()
    close(np.asarray(loss), losst, dtype, "cross_entropy single forward")
    close(dx, xt.grad, dtype, "cross_entropy single backward")


def test_cross_entropy_extreme_logits_match_torch():
    x = np.array([[50.0, 0.0], [0.0, 50.0], [1e4, -1e4]])
    t = np.array([0, 0, 1])
    per_sample = [SoftmaxWithLoss().forward(x[i], t[i]) for i in range(3)]
    theirs = F.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    # torch rounds the first loss, log(1 + e^-50) = 1.93e-22, to 0; ours keeps it (log1p).
    np.testing.assert_allclose(per_sample, theirs, rtol=1e-10, atol=1e-21)
    assert per_sample[0] == pytest.approx(1.9287498479639178e-22, rel=1e-12)


# (N, C, H, W), (FN, FH, FW), stride, pad
CONV_CONFIGS = [
    ((4, 3, 8, 10), (5, 3, 3), 1, 1),  # shifted products
    ((2, 8, 7, 7), (6, 3, 3), 1, 0),  # shifted
    ((1, 4, 9, 6), (3, 2, 3), 1, 2),  # shifted, batch 1, rectangular, pad 2
    ((3, 3, 9, 11), (4, 3, 3), 2, 1),  # im2col, stride 2
    ((2, 2, 11, 7), (4, 4, 3), 3, 1),  # im2col, stride 3, rectangular
    ((2, 1, 12, 12), (6, 5, 5), 1, 0),  # im2col, one channel
    ((2, 3, 10, 10), (16, 3, 3), 1, 1),  # im2col, few channels for 16 filters
    # Sizes the windows do not tile: the output size is floored, as in torch (ResNet's layers)
    ((2, 3, 32, 32), (4, 3, 3), 2, 1),  # im2col, 3x3 stride-2 downsampling, 32 -> 16
    ((2, 3, 28, 28), (4, 3, 3), 2, 1),  # im2col, the same on 28 -> 14
    ((2, 4, 32, 32), (6, 1, 1), 2, 0),  # im2col, the 1x1 stride-2 shortcut, 32 -> 16
    ((1, 1, 224, 224), (2, 7, 7), 2, 3),  # im2col, the 7x7 stride-2 stem, 224 -> 112
    ((2, 3, 8, 9), (3, 4, 2), 3, 0),  # im2col, stride 3, rectangular, 5 and 8 left over
]


@dtypes
@pytest.mark.parametrize("shape, filters, stride, pad", CONV_CONFIGS)
def test_conv2d(dtype, shape, filters, stride, pad):
    rng = np.random.default_rng(sum(shape) + stride + pad)
    (FN, FH, FW), C = filters, shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    W = (rng.standard_normal((FN, C, FH, FW)) * 0.3).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    layer = Convolution(W, b, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)  # torch's weight layout is the book's (FN, C, FH, FW)
    bt = torch.tensor(b, requires_grad=True)
    outt = F.conv2d(xt, Wt, bt, stride=stride, padding=pad)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "conv2d forward")
    close(dx, xt.grad, dtype, "conv2d backward dx")
    close(layer.dW, Wt.grad, dtype, "conv2d backward dW")
    close(layer.db, bt.grad, dtype, "conv2d backward db")


# (N, C, H, W), pool_h, pool_w, stride, pad (torch allows pad up to half the window)
POOL_CONFIGS = [
    ((2, 3, 8, 6), 2, 2, 2, 0),
    ((2, 3, 8, 6), 2, 2, 2, 1),
    ((2, 2, 9, 9), 3, 3, 3, 0),
    ((2, 2, 9, 11), 3, 3, 2, 0),  # overlapping windows
    ((1, 2, 9, 7), 3, 3, 2, 1),  # overlapping, padded, batch 1
    ((2, 1, 6, 7), 3, 2, 1, 1),  # rectangular, stride 1, padded
    ((1, 3, 6, 8), 2, 4, 2, 0),  # rectangular
    # Sizes the windows do not tile: the output size is floored, as in torch
    ((2, 3, 32, 32), 3, 3, 2, 1),  # ResNet's max pool, 32 -> 16
    ((2, 3, 5, 5), 2, 2, 2, 1),  # 5 + 2 -> 3: the last padded row unused
    ((2, 2, 7, 9), 2, 2, 2, 0),  # odd sides (the non-overlapping kernel)
    ((1, 2, 10, 8), 3, 3, 3, 1),  # 3x3 stride 3: 12 -> 4 and 10 -> 3
]


@dtypes
@pytest.mark.parametrize("values", ["distinct", "ties"])
@pytest.mark.parametrize("shape, ph, pw, stride, pad", POOL_CONFIGS)
def test_max_pool2d(dtype, values, shape, ph, pw, stride, pad):
    rng = np.random.default_rng(sum(shape) + ph * pw + stride + pad)
    if values == "ties":  # three values only: most windows hold equal maxima
        x = rng.integers(0, 3, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    layer = Pooling(ph, pw, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    outt = F.max_pool2d(xt, (ph, pw), stride=stride, padding=pad)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "max_pool2d forward")
    close(dx, xt.grad, dtype, f"max_pool2d backward, {values}")
