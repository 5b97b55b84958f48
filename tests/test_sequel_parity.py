"""The sequel's layers against PyTorch in float64: outputs and every gradient within 1e-10.

Each test writes the PyTorch side line for line: ``nn.RNN``, ``nn.LSTM`` (the sequel's gate
blocks f, g, i, o reordered into PyTorch's i, f, g, o, its one bias as ``bias_ih`` with
``bias_hh = 0``), ``nn.LSTM(bidirectional=True)``, ``nn.Embedding`` with repeated ids,
``F.cross_entropy(ignore_index=-1)``; the sequel's GRU, which is not ``nn.GRU``, and negative
sampling as their equations written with torch's autograd. Error: ``max |a - b| / max |b|``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import record_worst

from layerwise.sequel import (
    GRU,
    NegativeSamplingLoss,
    TimeBiLSTM,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = 1e-10
N, T, D, H = 3, 6, 4, 5

# Block k of PyTorch's LSTM weights (i, f, g, o) is block TORCH_FROM_SEQUEL[k] of the sequel's
# (f, g, i, o).
TORCH_FROM_SEQUEL = [2, 0, 1, 3]


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def close(name, a, b):
    record_worst("sequel parity with PyTorch (float64)", name, rel(a, b), TOL)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=grad)


def reorder_lstm(W: np.ndarray) -> np.ndarray:
    """The sequel's (..., 4H) blocks f, g, i, o as PyTorch's i, f, g, o."""
    blocks = np.split(W, 4, axis=-1)
    return np.concatenate([blocks[k] for k in TORCH_FROM_SEQUEL], axis=-1)


def cell_params(rng, gates):
    return (
        rng.normal(0, 0.5, (D, gates * H)),
        rng.normal(0, 0.5, (H, gates * H)),
        rng.normal(0, 0.2, gates * H),
    )


def load_torch_rnn(module, Wx, Wh, b, suffix=""):
    """Copy the sequel's parameters into a torch RNN/LSTM: weights transposed, one bias."""
    with torch.no_grad():
        getattr(module, "weight_ih_l0" + suffix).copy_(t64(Wx.T))
        getattr(module, "weight_hh_l0" + suffix).copy_(t64(Wh.T))
        getattr(module, "bias_ih_l0" + suffix).copy_(t64(b))
        getattr(module, "bias_hh_l0" + suffix).zero_()


@pytest.mark.parametrize("stateful", [False, True])
def test_time_rnn_is_nn_rnn(stateful):
    rng = np.random.default_rng(1)
    Wx, Wh, b = cell_params(rng, 1)
    xs, dhs, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    layer = TimeRNN(Wx, Wh, b, stateful=stateful)
    layer.set_state(h0)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True).double()
    load_torch_rnn(rnn, Wx, Wh, b)
    x = t64(xs, grad=True)
    h_start = t64(h0 if stateful else np.zeros((N, H)), grad=True)
    out, _ = rnn(x, h_start[None])
    out.backward(t64(dhs))

    close("TimeRNN hs", hs, out.detach())
    close("TimeRNN dxs", dxs, x.grad)
    close("TimeRNN dWx", layer.grads[0], rnn.weight_ih_l0.grad.T)
    close("TimeRNN dWh", layer.grads[1], rnn.weight_hh_l0.grad.T)
    close("TimeRNN db", layer.grads[2], rnn.bias_ih_l0.grad)
    close("TimeRNN dh", layer.dh, h_start.grad)
    close("TimeRNN h", layer.h, out.detach()[:, -1])


@pytest.mark.parametrize("stateful", [False, True])
def test_time_lstm_is_nn_lstm_with_the_gates_reordered(stateful):
    rng = np.random.default_rng(2)
    Wx, Wh, b = cell_params(rng, 4)
    xs, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H))
    h0, c0 = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    layer = TimeLSTM(Wx, Wh, b, stateful=stateful)
    layer.set_state(h0, c0)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    load_torch_rnn(lstm, reorder_lstm(Wx), reorder_lstm(Wh), reorder_lstm(b))
    x = t64(xs, grad=True)
    zeros = np.zeros((N, H))
    h_start = t64(h0 if stateful else zeros, grad=True)
    c_start = t64(c0 if stateful else zeros)
    out, (h_last, c_last) = lstm(x, (h_start[None], c_start[None]))
    out.backward(t64(dhs))

    close("TimeLSTM hs", hs, out.detach())
    close("TimeLSTM h, c", np.stack([layer.h, layer.c]), torch.cat([h_last, c_last]).detach())
    close("TimeLSTM dxs", dxs, x.grad)
    close("TimeLSTM dWx", reorder_lstm(layer.grads[0]), lstm.weight_ih_l0.grad.T)
    close("TimeLSTM dWh", reorder_lstm(layer.grads[1]), lstm.weight_hh_l0.grad.T)
    close("TimeLSTM db", reorder_lstm(layer.grads[2]), lstm.bias_ih_l0.grad)
    close("TimeLSTM dh", layer.dh, h_start.grad)


def test_time_bilstm_is_a_bidirectional_nn_lstm():
    rng = np.random.default_rng(3)
    fwd, bwd = cell_params(rng, 4), cell_params(rng, 4)
    xs, dout = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, 2 * H))
    layer = TimeBiLSTM(*fwd, *bwd)
    out = layer.forward(xs)
    dxs = layer.backward(dout)

    lstm = torch.nn.LSTM(D, H, batch_first=True, bidirectional=True).double()
    load_torch_rnn(lstm, *(reorder_lstm(p) for p in fwd))
    load_torch_rnn(lstm, *(reorder_lstm(p) for p in bwd), suffix="_reverse")
    x = t64(xs, grad=True)
    y, _ = lstm(x)
    y.backward(t64(dout))

    close("TimeBiLSTM out", out, y.detach())
    close("TimeBiLSTM dxs", dxs, x.grad)
    close("TimeBiLSTM dWx backward", reorder_lstm(layer.grads[3]), lstm.weight_ih_l0_reverse.grad.T)
    close("TimeBiLSTM dWh forward", reorder_lstm(layer.grads[1]), lstm.weight_hh_l0.grad.T)


def test_time_embedding_is_nn_embedding_with_repeated_ids():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(7, D))
    ids = np.array([[0, 3, 3, 6], [3, 0, 1, 1], [6, 6, 6, 6]])
    dout = rng.normal(size=(*ids.shape, D))
    layer = TimeEmbedding(W)
    out = layer.forward(ids)
    layer.backward(dout)

    embed = torch.nn.Embedding(7, D).double()
    with torch.no_grad():
        embed.weight.copy_(t64(W))
    y = embed(torch.tensor(ids))
    y.backward(t64(dout))
    close("TimeEmbedding out", out, y.detach())
    close("TimeEmbedding dW", layer.grads[0], embed.weight.grad)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_time_softmax_with_loss_is_cross_entropy_ignoring_minus_one(scale):
    rng = np.random.default_rng(5)
    V = 6
    xs = scale * rng.normal(size=(N, T, V))
    ts = rng.integers(0, V, size=(N, T))
    ts[0, 1] = ts[2, 4] = ts[1, 0] = -1
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dxs = layer.backward(0.7)

    x = t64(xs, grad=True)
    ref = F.cross_entropy(x.reshape(-1, V), torch.tensor(ts.reshape(-1)), ignore_index=-1)
    (0.7 * ref).backward()
    close(f"TimeSoftmaxWithLoss loss (scale {scale})", loss, ref.detach())
    close(f"TimeSoftmaxWithLoss dxs (scale {scale})", dxs, x.grad)


def torch_gru_step(x, h, Wx, Wh, b):
    """The sequel's GRU equations (common/time_layers.py), not nn.GRU's."""
    Wxz, Wxr, Wxh = Wx[:, :H], Wx[:, H : 2 * H], Wx[:, 2 * H :]
    Whz, Whr, Whh = Wh[:, :H], Wh[:, H : 2 * H], Wh[:, 2 * H :]
    bz, br, bh = b[:H], b[H : 2 * H], b[2 * H :]
    z = torch.sigmoid(x @ Wxz + h @ Whz + bz)
    r = torch.sigmoid(x @ Wxr + h @ Whr + br)
    h_hat = torch.tanh(x @ Wxh + (r * h) @ Whh + bh)
    return (1 - z) * h + z * h_hat


def test_time_gru_follows_its_equations_under_autograd():
    rng = np.random.default_rng(6)
    params = cell_params(rng, 3)
    xs, dhs, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    layer = TimeGRU(*params, stateful=True)
    layer.set_state(h0)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    Wx, Wh, b = (t64(p, grad=True) for p in params)
    x, h = t64(xs, grad=True), t64(h0, grad=True)
    h_t, outs = h, []
    for t in range(T):
        h_t = torch_gru_step(x[:, t], h_t, Wx, Wh, b)
        outs.append(h_t)
    out = torch.stack(outs, dim=1)
    out.backward(t64(dhs))
    close("TimeGRU hs", hs, out.detach())
    close("TimeGRU dxs", dxs, x.grad)
    for name, ours, ref in zip(("dWx", "dWh", "db"), layer.grads, (Wx, Wh, b), strict=True):
        close(f"TimeGRU {name}", ours, ref.grad)
    close("TimeGRU dh", layer.dh, h.grad)

    cell = GRU(*params)  # the single step is the same function
    close("GRU step", cell.forward(xs[:, 0], h0), outs[0].detach())


def test_negative_sampling_loss_follows_its_equations_under_autograd():
    rng = np.random.default_rng(7)
    V, S = 12, 4
    W, h = rng.normal(size=(V, H)), rng.normal(size=(N, H))
    target = np.array([3, 3, 0])
    layer = NegativeSamplingLoss(W, rng.integers(0, V, 200), sample_size=S, seed=0)
    loss = layer.forward(h, target)
    dh = layer.backward(1.3)
    neg = torch.tensor(layer.negative_sample)

    Wt, ht = t64(W, grad=True), t64(h, grad=True)
    pos = (Wt[torch.tensor(target)] * ht).sum(1)
    negs = (Wt[neg] * ht[:, None]).sum(2)
    # The sequel: the mean over the batch of each example's binary cross-entropy, summed.
    ref = -F.logsigmoid(pos).mean() - F.logsigmoid(-negs).mean(0).sum()
    (1.3 * ref).backward()
    close("NegativeSamplingLoss loss", loss, ref.detach())
    close("NegativeSamplingLoss dh", dh, ht.grad)
    close("NegativeSamplingLoss dW", layer.grads[0], Wt.grad)
