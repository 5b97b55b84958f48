"""Gradient check of every layer: backward(dout) against central differences of sum(dout * out).

The scalar ``L(x) = sum(dout * forward(x))`` has gradient ``backward(dout)`` (a vector-Jacobian
product), so a random ``dout`` checks every entry of the Jacobian's action, not only its sum.
"""

import numpy as np
from conftest import max_relative_error
from hypothesis import given, settings
from hypothesis import strategies as st

from layerwise import Affine, Relu, Sigmoid, SoftmaxWithLoss, numerical_gradient

TOL = 1e-7
# The worst error seen is recorded so that the closing note can report it (tests print it with -s).
WORST = {}


def _record(name, err):
    WORST[name] = max(WORST.get(name, 0.0), err)
    assert err <= TOL, f"{name}: max relative error {err:.3e} > {TOL}"


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def random_dout(rng, shape):
    """Upstream gradient with random signs and magnitudes in [0.5, 1.5].

    Bounded away from 0 so that no entry of the checked gradient is accidentally tiny: the
    measure is relative per element, and central differences have an absolute error of about
    1e-10 here, which would dominate an entry of 1e-4.
    """
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds)
def test_relu_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    # Keep inputs at least 0.1 away from the kink at 0, where the derivative jumps.
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    dout = random_dout(rng, shape)
    layer = Relu()
    layer.forward(x)
    dx = layer.backward(dout)
    num = numerical_gradient(lambda v: np.sum(dout * Relu().forward(v)), x.copy())
    _record("Relu dx", max_relative_error(dx, num))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds)
def test_sigmoid_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    dout = random_dout(rng, shape)
    layer = Sigmoid()
    layer.forward(x)
    dx = layer.backward(dout)
    num = numerical_gradient(lambda v: np.sum(dout * Sigmoid().forward(v)), x.copy())
    _record("Sigmoid dx", max_relative_error(dx, num))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 4),
    feature_shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    m=st.integers(1, 5),
    seed=seeds,
)
def test_affine_gradient(n, feature_shape, m, seed):
    """Batch 1, 2-D and up to 4-D inputs; dx comes back in the input's shape."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *feature_shape))
    d = int(np.prod(feature_shape))
    W = rng.standard_normal((d, m))
    b = rng.standard_normal(m)
    dout = random_dout(rng, (n, m))
    layer = Affine(W, b)
    layer.forward(x)
    dx = layer.backward(dout)
    assert dx.shape == x.shape

    def f_x(v):
        return np.sum(dout * Affine(W, b).forward(v))

    def f_params(_):
        return np.sum(dout * Affine(W, b).forward(x))

    _record("Affine dx", max_relative_error(dx, numerical_gradient(f_x, x.copy())))
    _record("Affine dW", max_relative_error(layer.dW, numerical_gradient(f_params, W)))
    _record("Affine db", max_relative_error(layer.db, numerical_gradient(f_params, b)))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 5),
    c=st.integers(2, 6),
    single=st.booleans(),
    onehot=st.booleans(),
    dout=st.floats(-3, 3).filter(lambda v: abs(v) > 0.1),
    seed=seeds,
)
def test_softmax_with_loss_gradient(n, c, single, onehot, dout, seed):
    """Index and one-hot labels, batches and single-sample (C,) logits, any dout."""
    rng = np.random.default_rng(seed)
    shape = (c,) if single else (n, c)
    # Unit-scale logits keep every probability, hence every entry of dx, well above the
    # ~1e-12 rounding error of central differences on the loss.
    x = rng.standard_normal(shape)
    labels = rng.integers(0, c, shape[:-1])
    t = np.eye(c)[labels] if onehot else labels
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    num = numerical_gradient(lambda v: dout * SoftmaxWithLoss().forward(v, t), x.copy())
    _record("SoftmaxWithLoss dx", max_relative_error(dx, num))


def test_softmax_with_loss_gradient_probability_targets():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    t = rng.dirichlet(np.ones(5), size=4)
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(1.7)
    num = numerical_gradient(lambda v: 1.7 * SoftmaxWithLoss().forward(v, t), x.copy())
    _record("SoftmaxWithLoss dx (probabilities)", max_relative_error(dx, num))


def test_report_worst_errors():
    """Runs last in this file: prints the worst gradient-check errors (pytest -s shows them)."""
    for name, err in sorted(WORST.items()):
        print(f"gradient check {name:<36s} max relative error {err:.2e}")
