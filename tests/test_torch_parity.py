"""Parity with PyTorch: each test writes the torch computation line for line beside ours.

Forward and backward agree within 1e-10 relative in float64 and 1e-5 in float32.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerwise import Affine, Relu, Sigmoid, SoftmaxWithLoss

RTOL = {np.float64: 1e-10, np.float32: 1e-5}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
WORST = {}


def close(ours, theirs, dtype, name):
    theirs = theirs.detach().numpy()
    assert ours.dtype == dtype and ours.shape == theirs.shape
    denom = np.maximum(np.abs(theirs), np.finfo(dtype).tiny)
    err = float(np.max(np.abs(ours.astype(np.float64) - theirs) / np.maximum(denom, 1e-30)))
    # Entries whose true value is ~0 are compared absolutely against the array's scale.
    scale = float(np.max(np.abs(theirs))) or 1.0
    err = min(err, float(np.max(np.abs(ours.astype(np.float64) - theirs))) / scale)
    WORST[(name, np.dtype(dtype).name)] = max(WORST.get((name, np.dtype(dtype).name), 0), err)
    assert err <= RTOL[dtype], f"{name}: relative error {err:.2e}"


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


def test_report_worst_errors():
    for (name, dtype), err in sorted(WORST.items()):
        print(f"torch parity {name:<36s} {dtype:<8s} max relative error {err:.2e}")
