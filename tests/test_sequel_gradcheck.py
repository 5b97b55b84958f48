"""Gradient check of every layer of :data:`layerwise.sequel.SEQUEL_LAYERS`, in float64.

The harness of ``test_layers_gradcheck.py`` rebuilds volume-1 layers from ``d<name>``
attributes and a single ``forward(x)``; the sequel's layers return tuples (``LSTM``), take
word ids and states, and write their gradients into ``grads`` lists, so they get this harness
of the same idea: the scalar ``L = sum(dout * forward(...))`` (for a loss, ``dout * loss``) has
gradient ``backward(dout)``, compared with :func:`~layerwise.numerical_gradient` for every float
input that backward returns a gradient for, for every ``params[i]`` against ``grads[i]`` and,
for stateful layers, for the carried state ``h`` against ``dh`` at a second call. Error measure:
``max |a - n| / max(1e-8, |a| + |n|)``, at most 1e-7 (central differences refined by
Richardson, see :func:`numgrad`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from conftest import max_relative_error, record_worst
from test_sequel_attention_cases import attention_cases

from layerwise import numerical_gradient
from layerwise.sequel import SEQUEL_LAYERS
from layerwise.sequel import layers as L
from layerwise.sequel import negative_sampling as NS
from layerwise.sequel import time_layers as TL

TOL = 1e-7


def numgrad(f, x, h=1e-3):
    """Central differences at steps h and h/2 combined by Richardson, ``(4 D(h/2) - D(h)) / 3``.

    A plain central difference errs by about h**2 f''' (through five tanh steps, 2e-7 relative
    at h = 1e-4) plus rounding of about 1e-16 |L| / h (4e-7 on a gradient entry of 1e-5 at
    h = 1e-5): no single step gives every entry to 1e-7. The combination cancels the h**2 term,
    leaving h**4 (1e-12) with the rounding of a step of 5e-4.
    """
    return (4 * numerical_gradient(f, x, h / 2) - numerical_gradient(f, x, h)) / 3


def _w(rng, *shape, scale=0.5):
    return scale * rng.standard_normal(shape)


def _rdout(rng, shape):
    """Upstream gradient with random signs and magnitudes in [0.5, 1.5]."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


@dataclass(repr=False)
class Case:
    """A layer, the arguments of its forward, and how to replay a forward exactly.

    ``n_grad``: how many leading arguments backward returns a gradient for (in order).
    ``prepare(layer)``: run before every forward (reseeds a random layer, sets a state).
    ``state``: for a stateful layer's second call, the carried arrays by attribute name; the
    gradient of ``h`` is compared with ``layer.dh``.
    """

    name: str
    layer: Any
    args: tuple
    n_grad: int = 1
    prepare: Callable[[Any], None] = lambda layer: None
    state: dict[str, np.ndarray] = field(default_factory=dict)

    def __repr__(self):
        return self.name


def _cell(rng, gates, D=3, H=4):
    return _w(rng, D, gates * H), _w(rng, H, gates * H), _w(rng, gates * H, scale=0.1)


def _reseed(attr):
    def prepare(layer):
        obj = layer.sampler if attr == "sampler" else layer
        obj.rng = np.random.default_rng(5)

    return prepare


def _stateful(cls, gates, rng, names=("h",)):
    """A stateful time layer after one call; the case checks its second call."""
    layer = cls(*_cell(rng, gates), stateful=True)
    layer.forward(rng.standard_normal((2, 3, 3)))
    state = {n: getattr(layer, n).copy() for n in names}

    def prepare(layer):
        for n, a in state.items():
            setattr(layer, n, a)

    return Case(
        f"{cls.__name__}-stateful", layer, (rng.standard_normal((2, 4, 3)),), 1, prepare, state
    )


def cases() -> list[Case]:
    rng = np.random.default_rng(2026)
    ids = np.array([[0, 3, 3, 1], [4, 0, 3, 3]])  # repeated ids
    corpus = np.array([0, 1, 2, 3, 4, 5, 6, 1, 2, 1, 3, 0])
    labels = np.array([[1, -1, 0, 2], [-1, 2, 2, 1], [0, 0, -1, 1]])
    onehot = np.eye(3)[np.array([[1, 0], [2, 2]])]
    out = [
        Case("MatMul", L.MatMul(_w(rng, 3, 4)), (rng.standard_normal((2, 3)),)),
        Case("Affine", L.Affine(_w(rng, 3, 4), _w(rng, 4)), (rng.standard_normal((2, 3)),)),
        Case("Affine-3d", L.Affine(_w(rng, 3, 4), _w(rng, 4)), (rng.standard_normal((2, 5, 3)),)),
        Case("Softmax", L.Softmax(), (rng.standard_normal((3, 4)),)),
        Case("Softmax-3d", L.Softmax(), (rng.standard_normal((2, 3, 4)),)),
        Case(
            "SoftmaxWithLoss",
            L.SoftmaxWithLoss(),
            (rng.standard_normal((3, 4)), np.array([0, 3, 1])),
        ),
        Case("Sigmoid", L.Sigmoid(), (rng.standard_normal((3, 4)),)),
        Case(
            "SigmoidWithLoss",
            L.SigmoidWithLoss(),
            (rng.standard_normal(5), np.array([1, 0, 0, 1, 1])),
        ),
        Case("Dropout", L.Dropout(0.3), (rng.standard_normal((3, 4)),), prepare=_reseed("rng")),
        Case("Embedding", L.Embedding(_w(rng, 5, 3)), (ids,), n_grad=0),
        Case(
            "EmbeddingDot",
            NS.EmbeddingDot(_w(rng, 5, 3)),
            (rng.standard_normal((2, 3)), np.array([4, 4])),
        ),
        Case(
            "EmbeddingDot-2d",
            NS.EmbeddingDot(_w(rng, 5, 3)),
            (rng.standard_normal((2, 3)), np.array([[4, 4, 0], [1, 2, 1]])),
        ),
        Case(
            "NegativeSamplingLoss",
            NS.NegativeSamplingLoss(_w(rng, 7, 3), corpus, sample_size=3),
            (rng.standard_normal((4, 3)), np.array([1, 1, 0, 6])),
            prepare=_reseed("sampler"),
        ),
        Case(
            "RNN",
            TL.RNN(*_cell(rng, 1)),
            (rng.standard_normal((2, 3)), rng.standard_normal((2, 4))),
            2,
        ),
        Case(
            "LSTM",
            TL.LSTM(*_cell(rng, 4)),
            tuple(rng.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4))),
            3,
        ),
        Case(
            "GRU",
            TL.GRU(*_cell(rng, 3)),
            (rng.standard_normal((2, 3)), rng.standard_normal((2, 4))),
            2,
        ),
        Case("TimeRNN", TL.TimeRNN(*_cell(rng, 1)), (rng.standard_normal((2, 5, 3)),)),
        Case("TimeLSTM", TL.TimeLSTM(*_cell(rng, 4)), (rng.standard_normal((2, 5, 3)),)),
        Case("TimeGRU", TL.TimeGRU(*_cell(rng, 3)), (rng.standard_normal((2, 5, 3)),)),
        _stateful(TL.TimeRNN, 1, rng),
        _stateful(TL.TimeLSTM, 4, rng, ("h", "c")),
        _stateful(TL.TimeGRU, 3, rng),
        Case("TimeEmbedding", TL.TimeEmbedding(_w(rng, 5, 3)), (ids,), n_grad=0),
        Case(
            "TimeAffine",
            TL.TimeAffine(_w(rng, 3, 4), _w(rng, 4)),
            (rng.standard_normal((2, 5, 3)),),
        ),
        Case(
            "TimeSoftmaxWithLoss",
            TL.TimeSoftmaxWithLoss(),
            (rng.standard_normal((3, 4, 3)), labels),
        ),
        Case(
            "TimeSoftmaxWithLoss-onehot",
            TL.TimeSoftmaxWithLoss(),
            (rng.standard_normal((2, 2, 3)), onehot),
        ),
        Case(
            "TimeDropout",
            TL.TimeDropout(0.4),
            (rng.standard_normal((2, 3, 4)),),
            prepare=_reseed("rng"),
        ),
        Case(
            "TimeBiLSTM",
            TL.TimeBiLSTM(*_cell(rng, 4), *_cell(rng, 4)),
            (rng.standard_normal((2, 4, 3)),),
        ),
        Case(
            "TimeSigmoidWithLoss",
            TL.TimeSigmoidWithLoss(),
            (rng.standard_normal((2, 3)), np.array([[1, 0, 1], [0, 0, 1]])),
        ),
    ]
    return out


CASES = cases() + [Case(*case) for case in attention_cases()]


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _loss(case: Case, douts) -> float:
    case.prepare(case.layer)
    outs = _as_tuple(case.layer.forward(*case.args))
    return float(sum(np.sum(d * o) for d, o in zip(douts, outs, strict=True)))


def test_every_sequel_layer_has_examples():
    covered = {case.name.split("-")[0] for case in CASES}
    assert covered == set(SEQUEL_LAYERS), set(SEQUEL_LAYERS) ^ covered


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradients_match_central_differences(case):
    rng = np.random.default_rng(0)
    layer = case.layer
    case.prepare(layer)
    outs = _as_tuple(layer.forward(*case.args))
    douts = tuple(
        _rdout(rng, np.shape(o)) if np.ndim(o) else float(rng.uniform(0.5, 1.5)) for o in outs
    )
    backs = _as_tuple(layer.backward(*douts))
    analytic = [g.copy() for g in backs[: case.n_grad]]
    param_grads = [g.copy() for g in layer.grads]
    checked = 0
    for i, a in enumerate(analytic):
        n = numgrad(lambda _: _loss(case, douts), case.args[i])
        record_worst("sequel gradient check", case.name, max_relative_error(a, n), TOL)
        checked += 1
    # A parameter may appear twice in params (tied weights): perturb each array once.
    for p, g in zip(layer.params, param_grads, strict=True):
        n = numgrad(lambda _: _loss(case, douts), p)
        record_worst("sequel gradient check", case.name, max_relative_error(g, n), TOL)
        checked += 1
    if "h" in case.state:
        n = numgrad(lambda _: _loss(case, douts), case.state["h"])
        record_worst(
            "sequel gradient check", case.name + " dh", max_relative_error(layer.dh, n), TOL
        )
        checked += 1
    assert checked or case.n_grad == 0 and not layer.params


def _frozen(a):
    if isinstance(a, np.ndarray):
        a = a.copy()
        a.flags.writeable = False
    return a


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_read_only_inputs_and_gradients_work_and_stay_unchanged(case):
    rng = np.random.default_rng(1)
    layer = case.layer
    case.prepare(layer)
    args = tuple(_frozen(a) for a in case.args)
    outs = _as_tuple(layer.forward(*args))
    douts = tuple(_frozen(_rdout(rng, np.shape(o))) if np.ndim(o) else 1.0 for o in outs)
    backs = _as_tuple(layer.backward(*douts))
    for a, original in zip(args, case.args, strict=True):
        np.testing.assert_array_equal(a, original)
    assert all(b is None or np.all(np.isfinite(b)) for b in backs)
