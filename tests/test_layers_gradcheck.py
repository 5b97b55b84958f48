"""Gradient check of every registered layer: backward(dout) against central differences.

The scalar ``L = sum(dout * forward(x))`` has gradient ``backward(dout)`` (a vector-Jacobian
product), so a random ``dout`` checks every entry of the Jacobian's action, not only its sum.
Each layer is built through the registry from its parameters and config
(``LAYERS[name](**arrays, **config)``, the protocol of :mod:`layerwise.layers.base`); ``dx``
(``dx`` and ``dy`` for the two-input nodes) and every parameter gradient ``d<name>`` are compared
with :func:`~layerwise.numerical_gradient` in float64, to 1e-7 relative.

The table below gives example constructions for every layer class: fixed cases where the sizes
choose a code path (convolution and pooling sizes, BatchNormalization layouts), generated ones
(hypothesis) where any shape will do. A new layer without an entry fails
``test_every_layer_has_examples``.

Two error measures:

- ``elementwise``: ``max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|)`` (analytic ``a``, numerical
  ``n``), with ``dout`` bounded away from 0 so that no entry is accidentally tiny (central
  differences have an absolute error of about 1e-10 here, which would dominate an entry of 1e-4);
- ``normwise``: ``max_i |a_i - n_i| / max_i (|a_i| + |n_i|)``, for Dropout and
  BatchNormalization, whose ``dx`` has entries near 0 that central differences resolve only to
  about 1e-10 absolute (the step is 1e-5 there).
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from conftest import max_relative_error, record_worst
from hypothesis import given, settings
from hypothesis import strategies as st

from layerwise import numerical_gradient
from layerwise.layers import LAYERS

TOL = 1e-7


def normwise_relative_error(analytic, numerical):
    """``max |a - n| / max (|a| + |n|)``: the gradient-check measure of Dropout and BatchNorm."""
    a = np.asarray(analytic, np.float64)
    n = np.asarray(numerical, np.float64)
    assert a.shape == n.shape, (a.shape, n.shape)
    return float(np.max(np.abs(a - n)) / max(float(np.max(np.abs(a) + np.abs(n))), 1e-300))


MEASURES = {"elementwise": max_relative_error, "normwise": normwise_relative_error}


@dataclass(repr=False)
class Example:
    """One construction of a layer and one input to check its gradients at.

    ``arrays`` are the constructor's parameters and buffers (perturbed in place for the
    parameters' gradients; buffers are copied for every forward, which may update them),
    ``config`` its other arguments, ``inputs`` the positional arguments of ``forward`` of which
    the first ``n_grad`` get a gradient from ``backward``.
    """

    inputs: tuple
    mode: str = ""  # the path or mode it covers: the report keeps the worst error per mode
    case: str = ""  # the sizes, for the test's id
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    forward_kwargs: dict[str, Any] = field(default_factory=dict)
    n_grad: int = 1
    dout: Any = None  # None: random_dout of the output's shape
    measure: str = "elementwise"
    h: float = 1e-4

    def __repr__(self):
        shapes = [np.shape(v) for v in self.inputs]
        return f"Example({self.mode} {self.case}, input shapes {shapes}, config {self.config})"


def random_dout(rng, shape):
    """Upstream gradient with random signs and magnitudes in [0.5, 1.5]."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def check_gradients(name, example, seed=0):
    """Compare the analytic gradients of one example with central differences."""
    cls = LAYERS[name]

    def build():
        arrays = {
            key: a.copy() if key in getattr(cls, "buffer_names", ()) else a
            for key, a in example.arrays.items()
        }
        return cls(**arrays, **example.config)

    inputs = [np.asarray(v) if i < example.n_grad else v for i, v in enumerate(example.inputs)]
    layer = build()
    out = layer.forward(*inputs, **example.forward_kwargs)
    dout = example.dout
    if dout is None:
        dout = random_dout(np.random.default_rng(seed), np.shape(out))
    grads = layer.backward(dout)
    grads = grads if isinstance(grads, tuple) else (grads,)
    analytic = {f"d{'xy'[i]}": g.copy() for i, g in enumerate(grads)}
    params = getattr(cls, "param_names", ())
    analytic |= {f"d{p}": getattr(layer, f"d{p}").copy() for p in params}

    def loss(*args):
        return np.sum(dout * build().forward(*args, **example.forward_kwargs))

    numerical = {}
    for i in range(example.n_grad):
        point = inputs[i].astype(np.float64)  # a copy: numerical_gradient perturbs in place

        def loss_i(v, i=i):
            return loss(*inputs[:i], v, *inputs[i + 1 :])

        numerical[f"d{'xy'[i]}"] = numerical_gradient(loss_i, point, example.h)
    for p in params:
        # the array build() passes on: perturbed in place, the layer sees each step
        numerical[f"d{p}"] = numerical_gradient(
            lambda _: loss(*inputs), example.arrays[p], example.h
        )

    assert analytic.keys() == numerical.keys()
    measure = MEASURES[example.measure]
    for key, a in analytic.items():
        assert a.shape == numerical[key].shape, (name, key, a.shape)
        err = measure(a, numerical[key])
        where = f"{name} {key}" + (f" ({example.mode})" if example.mode else "")
        record_worst("worst gradient-check error", where, err, TOL)


# ---------------------------------------------------------------- the table: fixed examples


def conv_case(shape, filters, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    FN, FH, FW = filters
    x = rng.standard_normal(shape).astype(dtype)
    W = (rng.standard_normal((FN, shape[1], FH, FW)) * 0.5).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    return x, W, b


def conv_example(shape, filters, stride, pad):
    x, W, b = conv_case(shape, filters)
    return Example(
        case=f"{shape}-{filters}-s{stride}-p{pad}",
        inputs=(x,),
        arrays={"W": W, "b": b},
        config={"stride": stride, "pad": pad},
    )


# (N, C, H, W), (FN, FH, FW), stride, pad. The comment names the path taken.
CONV_CASES = [
    ((2, 3, 5, 7), (4, 3, 3), 1, 0),  # shifted products, non-square
    ((2, 3, 5, 5), (4, 3, 3), 1, 1),  # shifted
    ((1, 2, 6, 5), (3, 3, 2), 1, 1),  # shifted, batch 1, rectangular filter, pad = FW - 1
    ((2, 3, 1, 4), (3, 5, 3), 1, 2),  # shifted, one row per image, the frame at its smallest
    ((2, 2, 4, 4), (2, 5, 5), 1, 1),  # shifted, dout padded by 3 > pad in the backward frame
    ((2, 4, 4, 4), (2, 1, 1), 1, 0),  # shifted, 1x1 filter
    ((1, 2, 6, 5), (3, 2, 3), 1, 2),  # im2col, pad as large as the filter (rectangular)
    ((2, 4, 4, 4), (2, 1, 1), 1, 1),  # im2col, 1x1 filter with pad 1
    ((2, 3, 7, 9), (2, 3, 3), 2, 1),  # im2col, stride 2
    ((1, 2, 8, 6), (2, 4, 2), 2, 2),  # im2col, stride 2, pad 2, rectangular
    ((2, 1, 6, 5), (3, 3, 2), 1, 1),  # im2col, one input channel
    ((2, 2, 5, 6), (6, 3, 3), 1, 1),  # im2col, few channels for its filters (2*C < FN)
    ((1, 1, 7, 7), (2, 3, 3), 2, 0),  # im2col, one channel, stride 2
    # Sizes the windows do not tile (the output is floored, as in PyTorch): ResNet's layers
    ((1, 2, 32, 32), (3, 3, 3), 2, 1),  # im2col, 3x3 stride-2 downsampling, 32 -> 16
    ((1, 2, 28, 28), (2, 3, 3), 2, 1),  # im2col, the same on 28 -> 14
    ((1, 2, 32, 32), (3, 1, 1), 2, 0),  # im2col, the 1x1 stride-2 shortcut, 32 -> 16
    # the 7x7 stride-2 pad-3 stem, as on 224 -> 112 (223 odd, the last row unused); 224x224
    # itself is compared with PyTorch (tests/test_torch_parity.py): central differences over
    # its 50,176 pixels take minutes
    ((1, 1, 24, 24), (2, 7, 7), 2, 3),  # im2col, 24 -> 12
]


def distinct_values(shape, seed=0):
    """Values 0.01 apart at least, in random order: no ties, and a step of 1e-4 changes no max."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.01 - n * 0.005).reshape(shape)


# (N, C, H, W), pool_h, pool_w, stride, pad. dx is exactly 0 off the maxima; there the
# elementwise measure compares 0 with about 1e-12.
POOL_CASES = [
    ((2, 3, 4, 6), 2, 2, 2, 0),  # non-overlapping windows: the reshape path
    ((1, 2, 6, 6), 3, 3, 3, 0),  # reshape path, 3x3
    ((2, 2, 6, 4), 2, 2, 2, 1),  # reshape path with padding
    ((2, 3, 7, 9), 3, 3, 2, 0),  # overlapping windows: im2col
    ((1, 2, 7, 7), 3, 3, 2, 1),  # overlapping, padded
    ((2, 1, 5, 6), 3, 2, 1, 1),  # rectangular, stride 1, padded
    ((1, 1, 6, 8), 2, 4, 2, 0),  # rectangular, stride 2 (im2col: not pool_h == pool_w)
    # Sizes the windows do not tile (the output is floored, as in PyTorch)
    ((1, 2, 32, 32), 3, 3, 2, 1),  # overlapping, padded, 32 -> 16: im2col
    ((2, 2, 5, 5), 2, 2, 2, 1),  # reshape path, padded, 5 -> 3: the last padded row unused
    ((2, 2, 7, 5), 2, 2, 2, 0),  # reshape path, odd sides: the last row and column unused
]


def pool_example(shape, ph, pw, stride, pad):
    return Example(
        case=f"{shape}-{ph}x{pw}-s{stride}-p{pad}",
        inputs=(distinct_values(shape),),
        config={"pool_h": ph, "pool_w": pw, "stride": stride, "pad": pad},
    )


def dropout_example(shape, inverted, train_flg):
    # A fixed seed gives every forward the same mask: the loss is a smooth function of x.
    rng = np.random.default_rng(0)
    kind, phase = "inverted" if inverted else "book", "train" if train_flg else "inference"
    return Example(
        mode=f"{kind} {phase}",
        case=str(shape),
        inputs=(rng.standard_normal(shape),),
        config={"dropout_ratio": 0.3, "inverted": inverted, "seed": 1},
        forward_kwargs={"train_flg": train_flg},
        dout=rng.standard_normal(shape),
        measure="normwise",
        h=1e-5,
    )


# (shape of x, D, eps, unbiased_running_var)
BN_CASES = [
    ((3, 4), 4, 1e-6, False),
    ((8, 5), 5, 1e-6, True),
    ((5, 1), 1, 1e-6, False),
    ((2, 3), 3, 0.5, False),  # a batch of 2 with a large eps: xn is not +-1, dx not ~0
    ((2, 3, 2, 3), 3, 1e-6, False),  # per channel: 12 values per statistic
    ((3, 2, 1, 4), 2, 1e-6, True),
    ((4, 2, 2, 3), 12, 1e-6, False),  # the book's per-position layout
    ((3, 3, 1, 1), 3, 1e-6, False),  # H*W = 1: per channel and per position coincide
]


def batchnorm_example(shape, d, eps, unbiased, train_flg, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    dout = rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
    arrays = {"gamma": gamma, "beta": rng.standard_normal(d)}
    arrays |= {"running_mean": rng.standard_normal(d), "running_var": rng.uniform(0.5, 2.0, d)}
    layout = "2-D" if len(shape) == 2 else "per-channel" if shape[1] == d else "per-position"
    return Example(
        mode=f"{layout} {'train' if train_flg else 'inference'}",
        case=f"{shape}-eps{eps}-seed{seed}",
        inputs=(x,),
        arrays=arrays,
        config={"momentum": 0.9, "eps": eps, "unbiased_running_var": unbiased},
        forward_kwargs={"train_flg": train_flg},
        dout=dout,
        measure="normwise",
        h=1e-5,
    )


FIXED = {
    "Convolution": [conv_example(*case) for case in CONV_CASES],
    "Pooling": [pool_example(*case) for case in POOL_CASES],
    "Dropout": [
        dropout_example(shape, inverted, train_flg)
        for shape in [(5, 7), (2, 3, 4, 4), (9,)]
        for inverted in (False, True)
        for train_flg in (True, False)
    ],
    "BatchNormalization": [
        batchnorm_example(*case, train_flg, seed)
        for case in BN_CASES
        for train_flg in (True, False)
        for seed in (0, 1)
    ],
    "SoftmaxWithLoss": [  # probability targets (rows of a Dirichlet draw)
        Example(
            mode="probability targets",
            inputs=(
                np.random.default_rng(0).standard_normal((4, 5)),
                np.random.default_rng(1).dirichlet(np.ones(5), size=4),
            ),
            dout=1.7,
        )
    ],
}

# ---------------------------------------------------------------- the table: generated examples

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
rngs = st.integers(0, 2**32 - 1).map(np.random.default_rng)


@st.composite
def relu_examples(draw):
    shape, rng = draw(shapes), draw(rngs)
    # Inputs at least 0.1 away from the kink at 0, where the derivative jumps.
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return Example(inputs=(x,), dout=random_dout(rng, shape))


@st.composite
def sigmoid_examples(draw):
    shape, rng = draw(shapes), draw(rngs)
    return Example(inputs=(rng.standard_normal(shape) * 2,))


@st.composite
def affine_examples(draw):
    """Batch 1, 2-D and up to 4-D inputs; dx comes back in the input's shape."""
    n, m, rng = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(rngs)
    feature_shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    W = rng.standard_normal((int(np.prod(feature_shape)), m))
    return Example(
        inputs=(rng.standard_normal((n, *feature_shape)),),
        arrays={"W": W, "b": rng.standard_normal(m)},
    )


@st.composite
def softmax_with_loss_examples(draw):
    """Index and one-hot labels, batches and single-sample (C,) logits, any dout."""
    n, c, rng = draw(st.integers(1, 5)), draw(st.integers(2, 6)), draw(rngs)
    single, onehot = draw(st.booleans()), draw(st.booleans())
    dout = draw(st.floats(-3, 3).filter(lambda v: abs(v) > 0.1))
    shape = (c,) if single else (n, c)
    # Unit-scale logits keep every probability, hence every entry of dx, well above the
    # ~1e-12 rounding error of central differences on the loss.
    labels = rng.integers(0, c, shape[:-1])
    t = np.eye(c)[labels] if onehot else labels
    mode = f"{'one-hot' if onehot else 'index'} labels"
    return Example(mode=mode, inputs=(rng.standard_normal(shape), t), dout=dout)


@st.composite
def two_input_examples(draw):
    shape, rng = draw(shapes), draw(rngs)
    # MulLayer's dx is dout * y: bounded away from 0 for the elementwise measure, as dout is.
    x, y = random_dout(rng, shape), random_dout(rng, shape)
    return Example(inputs=(x, y), n_grad=2)


GENERATED = {
    "Relu": relu_examples(),
    "Sigmoid": sigmoid_examples(),
    "Affine": affine_examples(),
    "SoftmaxWithLoss": softmax_with_loss_examples(),
    "MulLayer": two_input_examples(),
    "AddLayer": two_input_examples(),
}

# ---------------------------------------------------------------- the tests


def test_every_layer_has_examples():
    """A layer of the package cannot skip the gradient check: add it to FIXED or GENERATED."""
    ours = {name for name, cls in LAYERS.items() if cls.__module__.startswith("layerwise.")}
    missing = sorted(ours - FIXED.keys() - GENERATED.keys())
    assert not missing, f"no gradient-check examples for {missing}: add them to FIXED or GENERATED"


def test_dropout_examples_drop_some_units():
    """The Dropout examples check a mask that drops some units and keeps others."""
    for example in FIXED["Dropout"]:
        layer = LAYERS["Dropout"](**example.config)
        x = example.inputs[0]
        layer.forward(x, **example.forward_kwargs)
        if example.forward_kwargs["train_flg"] and x.shape != (9,):
            assert 0 < layer.mask.sum() < layer.mask.size


FIXED_CASES = [(name, ex) for name, examples in FIXED.items() for ex in examples]


@pytest.mark.parametrize(
    "name, example",
    FIXED_CASES,
    ids=[f"{name}-{ex.mode}-{ex.case}".replace("--", "-").strip("-") for name, ex in FIXED_CASES],
)
def test_gradient(name, example):
    check_gradients(name, example)


@pytest.mark.parametrize("name", list(GENERATED))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_gradient_generated(name, data):
    check_gradients(name, data.draw(GENERATED[name]), seed=data.draw(st.integers(0, 2**16)))
