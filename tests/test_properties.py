"""Property-based tests: every public function, layer and network against generated input.

For each generated case the call must either give a correct result (checked against a simple
reference where that is cheap, and against the dtype policy: parameter-free code keeps a floating
input's dtype and computes int/bool in float64; Affine and the networks compute in their
parameters' dtype) or raise one of the documented errors, a ValueError or TypeError whose message
names the function, layer or network. Never another exception, never a warning (finite input
never warns; see ``layerwise._checks`` for the one documented exception with infinite ``dout``),
never a modified input; read-only inputs must work everywhere.

The number of generated calls is counted per kind of call and printed after the run (with ``-s``
or ``-v``).
"""

import warnings

import numpy as np
import pytest
from conftest import record_count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import sliding_window_view

from layerwise import (
    AddLayer,
    Affine,
    BackwardBeforeForwardError,
    MulLayer,
    MultiLayerNet,
    Relu,
    Sequential,
    Sigmoid,
    SoftmaxWithLoss,
    TwoLayerNet,
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
)
from layerwise.layers import BatchNormalization, Convolution, Dropout, Pooling

FEW = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])

FLOAT_DTYPES = (np.float16, np.float32, np.float64)
INT_DTYPES = (np.int8, np.int64, np.uint8, np.bool_)
BAD_DTYPES = ("complex", "object", "str")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + BAD_DTYPES
ERROR = object()  # what `call` returns when the documented error was raised


# ---------------------------------------------------------------- generated input


def float_elements(dtype, values):
    """Elements of a float dtype: moderate, plus huge finite ones, plus NaN/inf."""
    info = np.finfo(dtype)
    moderate = st.floats(-50, 50, width=info.bits) | st.sampled_from([0.0, -0.0])
    if values == "moderate":
        return moderate
    huge = st.sampled_from([float(info.max), -float(info.max), float(dtype(info.max / 3))])
    if values == "huge":
        return moderate | huge
    return moderate | huge | st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def arrays(draw, shape, dtypes=ALL_DTYPES, values=None):
    """An array of ``shape`` with a drawn dtype and values (``values`` None: drawn too)."""
    dtype = draw(st.sampled_from(dtypes))
    if values is None:
        values = draw(st.sampled_from(["moderate", "huge", "nonfinite"]))
    if dtype in FLOAT_DTYPES:
        return draw(hnp.arrays(dtype, shape, elements=float_elements(dtype, values)))
    if dtype in INT_DTYPES:
        return draw(hnp.arrays(dtype, shape))
    base = draw(hnp.arrays(np.float64, shape, elements=st.floats(-9, 9)))
    if dtype == "complex":
        return base + 1j
    if dtype == "object":
        return base.astype(object)
    return base.astype(str)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def is_float(a):
    return np.asarray(a).dtype.kind == "f"


def is_real(a):
    return np.asarray(a).dtype.kind in "biuf"


def finite(*arrays_):
    return all(is_real(a) and np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays_)


def policy_dtype(x):
    """The dtype policy of parameter-free code: floats keep theirs, int/bool become float64."""
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def maybe_readonly(draw, *arrs):
    if draw(st.booleans()):
        for a in arrs:
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
    return arrs


def snapshot(a):
    a = np.asarray(a)
    return (a.shape, a.dtype, a.tolist() if a.dtype.kind == "O" else a.tobytes())


def call(fn, *args, names, inputs=None, inf_dout=False, counter):
    """``fn(*args)``, or ERROR if it raised the documented error naming one of ``names``.

    Fails on any other exception, on any warning (except NumPy's "invalid value" warning of
    ``0 * inf`` when ``inf_dout``: the documented Relu/Sigmoid backward case), and when an
    input (``inputs``, default every array in ``args``) is modified.
    """
    record_count("generated calls (test_properties)", counter)
    record_count("generated calls (test_properties)", "(all)")
    inputs = [a for a in args if isinstance(a, np.ndarray)] if inputs is None else inputs
    before = [snapshot(a) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if inf_dout:
            warnings.filterwarnings("ignore", "invalid value encountered in (scalar )?multiply")
        try:
            result = fn(*args)
        except (ValueError, TypeError) as err:
            message = str(err)
            assert any(name in message for name in names), (names, message)
            result = ERROR
    assert [snapshot(a) for a in inputs] == before, "an input was modified"
    return result


def assert_close(actual, expected, dtype, rtol_f64=1e-12):
    """Compare in float64 with a tolerance fitting ``dtype``; NaN must match NaN."""
    rtol = {2: 3e-3, 4: 3e-6}.get(np.dtype(dtype).itemsize, rtol_f64)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=rtol
    )


# ---------------------------------------------------------------- functions


@MANY
@given(data=st.data(), shape=shapes)
def test_relu_and_sigmoid_functions(data, shape):
    x = data.draw(arrays(shape))
    maybe_readonly(data.draw, x)
    out = call(relu, x, names=["relu"], counter="relu")
    if out is ERROR:
        assert not is_real(x)
    else:
        assert out.dtype == policy_dtype(x) and np.shape(out) == x.shape
        np.testing.assert_array_equal(out, np.maximum(x.astype(policy_dtype(x)), 0))
    out = call(sigmoid, x, names=["sigmoid"], counter="sigmoid")
    if out is ERROR:
        assert not is_real(x)
        return
    assert out.dtype == policy_dtype(x) and np.shape(out) == x.shape
    xf = x.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-xf))
    assert_close(out, expected, out.dtype)


@MANY
@given(data=st.data(), shape=shapes)
def test_softmax_and_log_softmax(data, shape):
    x = data.draw(arrays(shape))
    maybe_readonly(data.draw, x)
    for fn in (softmax, log_softmax):
        out = call(fn, x, names=[fn.__name__], counter=fn.__name__)
        if out is ERROR:
            assert not is_real(x) or x.ndim == 0 or x.shape[-1] == 0
            continue
        assert out.dtype == policy_dtype(x) and out.shape == x.shape
        if not finite(x) or x.size == 0:
            continue
        probs = out if fn is softmax else np.exp(out.astype(np.float64))
        assert np.all(probs >= 0)
        assert_close(np.sum(probs, axis=-1, dtype=np.float64), 1.0, out.dtype)
        # the largest score has the largest probability
        top = np.argmax(x, axis=-1)[..., None]
        assert np.all(np.take_along_axis(out, top, -1) == np.max(out, axis=-1, keepdims=True))


@st.composite
def scores_and_labels(draw, dtypes=ALL_DTYPES):
    """Scores (N, C) or (C,) (sometimes of a bad shape) and supervision t, good or bad."""
    n, c = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    shape = draw(st.sampled_from([(n, c), (c,), (n, c, 2), ()]))
    x = draw(arrays(shape, dtypes=dtypes))
    batch = shape[:-1] if len(shape) >= 1 else ()
    kind = draw(st.sampled_from(["labels", "labels", "onehot", "float labels", "bad shape"]))
    if kind == "labels":
        dtype = draw(st.sampled_from([np.int64, np.uint8, np.int8]))
        low = -1 if dtype != np.uint8 and draw(st.booleans()) else 0
        t = draw(hnp.arrays(dtype, batch, elements=st.integers(low, max(c, 1))))
    elif kind == "onehot":
        t = draw(arrays(shape, dtypes=FLOAT_DTYPES + INT_DTYPES + ("complex", "object")))
    elif kind == "float labels":
        t = draw(hnp.arrays(np.float64, batch, elements=st.integers(0, 3).map(float)))
    else:
        t = draw(hnp.arrays(np.int64, draw(shapes), elements=st.integers(0, 3)))
    maybe_readonly(draw, x, t)
    return x, t


def valid_supervision(x, t):
    """Whether (x, t) is a valid batch: real scores (N, C)/(C,) non-empty, t labels/one-hot."""
    if not is_real(x) or x.ndim not in (1, 2) or x.size == 0:
        return False
    c = x.shape[-1]
    if t.shape == x.shape:
        return is_real(t)
    if t.shape == x.shape[:-1]:
        return t.dtype.kind in "iu" and (t.size == 0 or (t.min() >= 0 and t.max() < c))
    return False


def reference_loss(log_probs, t):
    """``-mean_n sum_k T_nk log p_nk`` in float64, T being t as one-hot rows."""
    onehot = t.shape == np.shape(log_probs)
    log_probs = np.atleast_2d(np.asarray(log_probs, np.float64))
    if onehot:
        weights = np.atleast_2d(t.astype(np.float64))
    else:
        weights = np.eye(log_probs.shape[-1])[np.atleast_1d(t)]
    with np.errstate(invalid="ignore"):
        return -np.sum(weights * log_probs) / log_probs.shape[0]


@MANY
@given(data=st.data())
def test_cross_entropy_error(data):
    y, t = data.draw(scores_and_labels())
    loss = call(cross_entropy_error, y, t, names=["cross_entropy_error"], counter="cee")
    if loss is ERROR:
        assert not valid_supervision(y, t)
        return
    assert valid_supervision(y, t)
    assert np.shape(loss) == () and np.asarray(loss).dtype == policy_dtype(y)
    if finite(y, t) and np.all(y > 0.01) and np.all(np.abs(t) < 10):
        with np.errstate(over="ignore"):
            expected = reference_loss(np.log(y.astype(np.float64)), t)
        assert_close(loss, expected, policy_dtype(y))


@FEW
@given(data=st.data(), shape=shapes)
def test_numerical_gradient(data, shape):
    x = data.draw(arrays(shape))
    maybe_readonly(data.draw, x)
    h = data.draw(st.sampled_from([1e-4, 1e-2, 0.0, -1.0, np.nan, "1e-4"]))
    f = data.draw(st.sampled_from(["tanh", "array", "complex", "not callable"]))
    fn = {
        "tanh": lambda v: np.sum(np.tanh(v.astype(np.float64))),
        "array": lambda v: np.tanh(v),
        "complex": lambda v: 1j,
        "not callable": None,
    }[f]
    scalar_f = f == "tanh" or (f == "array" and x.ndim == 0)  # tanh of a 0-d x is a scalar
    ok = is_float(x) and x.flags.writeable and scalar_f and h in (1e-4, 1e-2)
    if x.size == 0 and f != "not callable" and is_float(x) and x.flags.writeable:
        ok = h in (1e-4, 1e-2)  # f is never called for an empty x
    grad = call(numerical_gradient, fn, x, h, names=["numerical_gradient"], counter="numgrad")
    if grad is ERROR:
        assert not ok
        return
    assert ok
    assert grad.shape == x.shape and grad.dtype == x.dtype
    if x.dtype == np.float64 and finite(x) and np.all(np.abs(x) < 60):
        assert_close(grad, 1 - np.tanh(x) ** 2, np.float16)  # error h**2 / 3 for h = 1e-2


# ---------------------------------------------------------------- parameter-free layers


@MANY
@given(data=st.data(), shape=shapes)
def test_relu_and_sigmoid_layers(data, shape):
    x = data.draw(arrays(shape))
    dout_shape = shape if data.draw(st.integers(0, 4)) else data.draw(shapes)
    dout = data.draw(arrays(dout_shape))
    maybe_readonly(data.draw, x, dout)
    inf_dout = is_real(dout) and bool(np.any(np.isinf(np.asarray(dout, np.float64))))
    for cls in (Relu, Sigmoid):
        layer = cls()
        name = cls.__name__
        with pytest.raises(BackwardBeforeForwardError, match=name):
            layer.backward(dout)
        out = call(layer.forward, x, names=[f"{name}.forward"], counter=name)
        if out is ERROR:
            assert not is_real(x)
            continue
        assert out.dtype == policy_dtype(x) and np.shape(out) == x.shape
        dx = call(layer.backward, dout, names=[f"{name}.backward"], inf_dout=inf_dout, counter=name)
        if dx is ERROR:
            assert not is_real(dout) or dout.shape != x.shape
            continue
        assert dout.shape == x.shape and dx.dtype == out.dtype and dx.shape == x.shape
        if finite(x, dout) and cls is Relu:
            with np.errstate(over="ignore"):  # a float32 dout beyond float16's range: inf
                expected = np.where(x > 0, dout.astype(dx.dtype), 0.0)
            assert_close(dx, expected, dx.dtype)
        elif finite(x, dout):
            s = np.asarray(out, np.float64)
            with np.errstate(over="ignore"):  # a dout beyond float16's range may give inf
                expected = (dout.astype(np.float64) * s * (1 - s)).astype(dx.dtype)
            assert_close(dx, expected, dx.dtype)


@MANY
@given(data=st.data(), shape=shapes)
def test_mul_and_add_layers(data, shape):
    x = data.draw(arrays(shape))
    y = data.draw(arrays(shape if data.draw(st.integers(0, 3)) else data.draw(shapes)))
    dout = data.draw(arrays(shape if data.draw(st.integers(0, 3)) else data.draw(shapes)))
    maybe_readonly(data.draw, x, y, dout)
    for cls, op in ((MulLayer, np.multiply), (AddLayer, np.add)):
        layer = cls()
        name = cls.__name__
        with pytest.raises(BackwardBeforeForwardError, match=name):
            layer.backward(dout)
        out = call(layer.forward, x, y, names=[f"{name}.forward"], counter=name)
        if out is ERROR:
            assert not (is_real(x) and is_real(y) and x.shape == y.shape)
            continue
        dtype = np.result_type(policy_dtype(x), policy_dtype(y))
        assert np.asarray(out).dtype == dtype and np.shape(out) == shape
        if finite(x, y):
            with np.errstate(over="ignore", invalid="ignore"):
                expected = op(x.astype(dtype), y.astype(dtype))
            np.testing.assert_array_equal(out, expected)
        grads = call(layer.backward, dout, names=[f"{name}.backward"], counter=name)
        if grads is ERROR:
            assert not is_real(dout) or dout.shape != shape
            continue
        for g in grads:
            assert np.shape(g) == shape and np.asarray(g).dtype == dtype
        if finite(x, y, dout) and cls is AddLayer:
            with np.errstate(over="ignore"):  # an int dout beyond float16's range gives inf
                assert_close(grads[0], dout.astype(dtype), dtype)


# ---------------------------------------------------------------- Affine


@st.composite
def affine_case(draw):
    d, m = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    w_shape = draw(st.sampled_from([(d, m), (d, m), (d,), (d, m, 1)]))
    W = draw(
        arrays(
            w_shape,
            dtypes=FLOAT_DTYPES + FLOAT_DTYPES + INT_DTYPES + BAD_DTYPES,
            values=draw(st.sampled_from(["moderate", "moderate", "huge"])),
        )
    )
    b = draw(arrays(draw(st.sampled_from([(m,), (m,), (m + 1,), ()])), dtypes=FLOAT_DTYPES))
    n = draw(st.integers(0, 3))
    x_shape = draw(st.sampled_from([(n, d), (n, d), (n, 1, d), (n, d + 1), (d,), ()]))
    x = draw(arrays(x_shape))
    dout_shape = draw(st.sampled_from([(n, m), (n, m), (m, n), (n,)]))
    dout = draw(arrays(dout_shape))
    maybe_readonly(draw, W, b, x, dout)
    return W, b, x, dout


@MANY
@given(case=affine_case())
def test_affine(case):
    W, b, x, dout = case
    layer = call(Affine, W, b, names=["Affine"], counter="Affine")
    if layer is ERROR:
        assert not (is_real(W) and W.ndim == 2 and is_real(b) and b.shape == W.shape[1:])
        return
    with pytest.raises(BackwardBeforeForwardError, match="Affine"):
        layer.backward(dout)
    out = call(layer.forward, x, inputs=[W, b, x], names=["Affine.forward"], counter="Affine")
    d, m = layer.W.shape
    if out is ERROR:
        valid = is_real(x) and x.ndim >= 2 and x.shape[0] >= 1 and np.prod(x.shape[1:]) == d
        assert not valid
        return
    n = x.shape[0]
    assert out.shape == (n, m) and out.dtype == layer.W.dtype
    if finite(W, b, x) and np.all(np.abs(W) < 100) and np.all(np.abs(x) < 100):
        x2 = x.reshape(n, -1).astype(layer.W.dtype).astype(np.float64)
        expected = x2 @ layer.W.astype(np.float64) + b.astype(np.float64)
        if np.all(np.abs(expected) < np.finfo(layer.W.dtype).max / 2):
            np.testing.assert_allclose(out, expected, rtol=5e-2, atol=5e-2 * (1 + d) * 100)
    dx = call(
        layer.backward, dout, inputs=[W, b, x, dout], names=["Affine.backward"], counter="Affine"
    )
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != (n, m)
        return
    assert dx.shape == x.shape and dx.dtype == layer.W.dtype
    assert layer.dW.shape == (d, m) and layer.dW.dtype == layer.W.dtype
    assert layer.db.shape == (m,) and layer.db.dtype == layer.W.dtype


# ---------------------------------------------------------------- SoftmaxWithLoss


@MANY
@given(data=st.data())
def test_softmax_with_loss(data):
    x, t = data.draw(scores_and_labels())
    dout = data.draw(st.sampled_from([1.0, 2, np.float32(0.5), np.ones(1), 1j, "1", np.inf]))
    layer = SoftmaxWithLoss()
    with pytest.raises(BackwardBeforeForwardError, match="SoftmaxWithLoss"):
        layer.backward()
    loss = call(layer.forward, x, t, names=["SoftmaxWithLoss.forward"], counter="SWL")
    if loss is ERROR:
        assert not valid_supervision(x, t)
        return
    assert valid_supervision(x, t)
    dtype = policy_dtype(x)
    assert np.shape(loss) == () and np.asarray(loss).dtype == dtype
    assert layer.y.shape == x.shape and layer.y.dtype == dtype
    if finite(x, t) and np.all(np.abs(x) < 50) and np.all(np.abs(t) < 10):
        x64 = x.astype(dtype).astype(np.float64)
        shifted = x64 - np.max(x64, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        assert_close(loss, reference_loss(log_probs, t), dtype, rtol_f64=1e-9)
    dx = call(
        layer.backward, dout, inputs=[x, t], names=["SoftmaxWithLoss.backward"], counter="SWL"
    )
    if dx is ERROR:
        assert isinstance(dout, (np.ndarray, complex, str))
        return
    assert dx.shape == x.shape and dx.dtype == dtype
    if finite(x, t) and t.shape != x.shape and dout == 1.0:
        # labels: every row of dx sums to 0, (y - onehot) / N
        assert_close(np.sum(dx, axis=-1, dtype=np.float64), 0.0, dtype)


# ---------------------------------------------------------------- Dropout and BatchNormalization


@st.composite
def dropout_case(draw):
    ratio = draw(st.sampled_from([0.5, 0.0, 0.3, 0.99, np.float32(0.25), -0.1, 1.0, np.nan, "0.5"]))
    inverted = draw(st.sampled_from([False, True, 1]))
    shape = draw(shapes)
    x = draw(arrays(shape))
    dout = draw(arrays(shape if draw(st.integers(0, 4)) else draw(shapes)))
    maybe_readonly(draw, x, dout)
    return ratio, inverted, draw(st.booleans()), x, dout


@MANY
@given(case=dropout_case(), seed=st.integers(0, 2**32 - 1))
def test_dropout_layer(case, seed):
    ratio, inverted, train_flg, x, dout = case
    layer = call(
        lambda: Dropout(ratio, inverted=inverted, seed=seed),
        inputs=[],
        names=["Dropout"],
        counter="Dropout",
    )
    valid = isinstance(ratio, (float, np.floating)) and 0 <= ratio < 1
    if layer is ERROR:
        assert not (valid and isinstance(inverted, bool))
        return
    with pytest.raises(BackwardBeforeForwardError, match="Dropout"):
        layer.backward(dout)
    out = call(layer.forward, x, train_flg, names=["Dropout.forward"], counter="Dropout")
    if out is ERROR:
        assert not is_real(x)
        return
    dtype = policy_dtype(x)
    assert np.asarray(out).dtype == dtype and np.shape(out) == x.shape
    if train_flg:
        assert layer.mask.shape == x.shape and layer.mask.dtype == np.bool_
        keep = layer.mask / (1 - layer.dropout_ratio) if inverted else layer.mask
    else:
        assert layer.mask is None
        keep = np.ones(x.shape) if inverted else np.full(x.shape, 1 - layer.dropout_ratio)
        if inverted and x.dtype.kind == "f":
            assert out is x  # inference is the identity, as in torch
    if finite(x):
        with np.errstate(over="ignore"):  # a scaled float16 beyond its range is inf
            assert_close(out, (x.astype(np.float64) * keep).astype(dtype), dtype)
    dx = call(layer.backward, dout, inputs=[x, dout], names=["Dropout.backward"], counter="Dropout")
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != x.shape
        return
    assert np.asarray(dx).dtype == dtype and np.shape(dx) == x.shape
    if finite(dout):
        with np.errstate(over="ignore"):
            assert_close(dx, (dout.astype(np.float64) * keep).astype(dtype), dtype)


@st.composite
def batchnorm_case(draw):
    """gamma, beta, running statistics, options, x and dout: all valid, or one thing broken."""
    broken = draw(st.sampled_from([None] * 6 + ["gamma", "beta", "running", "option", "x"]))
    d = draw(st.integers(0, 4))
    gamma_shape, gamma_dtypes = (d,), FLOAT_DTYPES + FLOAT_DTYPES + INT_DTYPES
    if broken == "gamma" and draw(st.booleans()):
        gamma_shape = draw(st.sampled_from([(d, 1), (), (1, d)]))
    elif broken == "gamma":
        gamma_dtypes = BAD_DTYPES
    values = draw(st.sampled_from(["moderate", "moderate", "huge", None]))
    gamma = draw(arrays(gamma_shape, dtypes=gamma_dtypes, values=values))
    beta = draw(arrays((d + 1,) if broken == "beta" else (d,), dtypes=FLOAT_DTYPES, values=values))
    bad = draw(st.integers(0, 1)) if broken == "running" else None
    running = [
        draw(arrays((d + 1,), FLOAT_DTYPES))
        if i == bad
        else draw(st.none() | arrays((d,), FLOAT_DTYPES + INT_DTYPES, values=values))
        for i in range(2)
    ]
    options = {
        "momentum": draw(st.sampled_from([0.9, 0.0, 1.0, 0.5, np.float32(0.7)])),
        "eps": draw(st.sampled_from([1e-6, 1e-5, 0.5])),
        "unbiased_running_var": draw(st.booleans()),
    }
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([1.5, -0.1, np.nan, np.inf, 0.0, "no", None]))
    n, c, h, w = (draw(st.integers(a, 3)) for a in (1, 1, 1, 1))
    x_shapes = [(n, d), (n, d, h, w), (n, 1, 1, d), (n, 1, d, 1), (n, c, h, w)]
    if broken == "x":
        x_shapes = [(0, d), (n, d, 0, w), (n, d + 1), (d,), (n, d, h), (), (n, c, h, w)]
    x_shape = draw(st.sampled_from(x_shapes))
    x = draw(arrays(x_shape, dtypes=ALL_DTYPES if broken == "x" else FLOAT_DTYPES + INT_DTYPES))
    dout = draw(arrays(x_shape if draw(st.integers(0, 4)) else draw(shapes)))
    maybe_readonly(draw, gamma, beta, *running, x, dout)
    return gamma, beta, running, options, x, dout, draw(st.booleans())


def batchnorm_layout(x_shape, d):
    """The documented layouts: (axes of one feature, gamma's broadcast shape), or None."""
    if len(x_shape) not in (2, 4) or x_shape[0] < 1:
        return None
    if len(x_shape) == 2:
        return ((0,), (d,)) if x_shape[1] == d else None
    if x_shape[1] == d and x_shape[2] * x_shape[3] >= 1:
        return (0, 2, 3), (d, 1, 1)
    return ((0,), (d,)) if int(np.prod(x_shape[1:])) == d else None


def valid_batchnorm(gamma, beta, running, options):
    ok = is_real(gamma) and gamma.ndim == 1 and is_real(beta) and beta.shape == gamma.shape
    ok = ok and all(r is None or (is_real(r) and r.shape == gamma.shape) for r in running)
    momentum, eps = options["momentum"], options["eps"]
    ok = ok and isinstance(momentum, (float, np.floating)) and 0 <= momentum <= 1
    ok = ok and isinstance(eps, float) and 0 < eps < np.inf
    return ok and isinstance(options["unbiased_running_var"], bool)


@MANY
@given(case=batchnorm_case())
def test_batch_normalization_layer(case):
    gamma, beta, running, options, x, dout, train_flg = case
    layer = call(
        lambda: BatchNormalization(
            gamma, beta, running_mean=running[0], running_var=running[1], **options
        ),
        inputs=[gamma, beta, *(r for r in running if r is not None)],
        names=["BatchNormalization"],
        counter="BatchNormalization",
    )
    if layer is ERROR:
        assert not valid_batchnorm(gamma, beta, running, options)
        return
    assert valid_batchnorm(gamma, beta, running, options)
    dtype, d = layer.gamma.dtype, gamma.shape[0]
    assert dtype == policy_dtype(gamma)
    buffers = (layer.running_mean, layer.running_var)
    for given_, fill, buffer in zip(running, (0.0, 1.0), buffers, strict=True):
        assert buffer.dtype == dtype and buffer.shape == (d,)
        if given_ is None:
            np.testing.assert_array_equal(buffer, np.full(d, fill))
        elif given_.dtype == dtype and given_.flags.writeable:
            assert buffer is given_  # kept by reference, to be updated in place
    with pytest.raises(BackwardBeforeForwardError, match="BatchNormalization"):
        layer.backward(dout)
    before = [b.copy() for b in buffers]
    out = call(
        layer.forward,
        x,
        train_flg,
        inputs=[x, gamma, beta],
        names=["BatchNormalization.forward"],
        counter="BatchNormalization",
    )
    layout = batchnorm_layout(x.shape, d) if is_real(x) else None
    if out is ERROR:
        n_values = int(np.prod([x.shape[a] for a in layout[0]])) if layout else 0
        assert layout is None or (train_flg and options["unbiased_running_var"] and n_values < 2)
        return
    assert layout is not None
    assert out.dtype == dtype and out.shape == x.shape
    assert (layer.running_mean, layer.running_var) == buffers  # the same objects
    if not train_flg:
        for b, old in zip(buffers, before, strict=True):
            np.testing.assert_array_equal(b, old)
    arrays_ = [x, gamma, beta, *before]
    if finite(*arrays_) and all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in arrays_):
        axes, pshape = layout
        x64 = x.astype(dtype).astype(np.float64)
        if pshape == (d,):
            x64 = x64.reshape(x.shape[0], d)  # 2-D, or the book's per-position layout
        if train_flg:
            mu, var = x64.mean(axis=axes), x64.var(axis=axes)
        else:
            mu, var = (b.astype(np.float64) for b in before)
        g64, b64 = layer.gamma.astype(np.float64), beta.astype(dtype).astype(np.float64)
        with np.errstate(invalid="ignore"):  # a negative running_var gives NaN, like ours
            std = np.sqrt(var + layer.eps)
            expected = g64.reshape(pshape) * (x64 - mu.reshape(pshape)) / std.reshape(pshape)
            expected += b64.reshape(pshape)
        in_range = np.all(np.abs(expected) < np.finfo(dtype).max / 2)
        if np.all(std > 0) and d and x.size and in_range:
            scale = np.max(np.abs(g64)) * (np.max(np.abs(x64)) + np.max(np.abs(mu)) + 1)
            scale = scale / np.min(std) + np.max(np.abs(b64))
            atol = {2: 5e-2, 4: 1e-5}.get(dtype.itemsize, 1e-13) * scale
            np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=0, atol=atol)
    dx = call(
        layer.backward,
        dout,
        inputs=[x, gamma, beta, dout],
        names=["BatchNormalization.backward"],
        counter="BatchNormalization",
    )
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != x.shape
        return
    assert dx.shape == x.shape and dx.dtype == dtype
    for grad in (layer.dgamma, layer.dbeta):
        assert grad.shape == (d,) and grad.dtype == dtype
    moderate = all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in (x, gamma, dout))
    if train_flg and dtype == np.float64 and finite(x, gamma, dout) and moderate and d:
        # out does not change when a constant is added to one feature: dx sums to 0 over it
        dx2 = dx.reshape(layer.xn.shape)
        scale = np.max(np.abs(layer.gamma)) * np.max(np.abs(dout)) / np.min(layer.std)
        assert np.all(np.abs(np.sum(dx2, axis=layout[0])) <= 1e-13 * scale * dx2.size)


# ---------------------------------------------------------------- Convolution and Pooling


def fit(filter_size, out_size, stride, pad):
    """An input size that gives ``out_size`` outputs (more if that is < 1)."""
    size = (out_size - 1) * stride + filter_size - 2 * pad
    while size < 1:
        size += stride
    return size


def whole(value, low):
    """Whether ``value`` is a whole number >= ``low`` as check_number(integer=True) accepts."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


def window_output_shape(x, channels, fh, fw, stride, pad, out_channels=None):
    """(N, out_channels or C, OH, OW) for a valid x, else None: the documented input rules."""
    if not is_real(x) or x.ndim != 4 or 0 in x.shape:
        return None
    if channels is not None and x.shape[1] != channels:
        return None
    spans = (x.shape[2] + 2 * pad - fh, x.shape[3] + 2 * pad - fw)
    if min(spans) < 0:
        return None
    oh, ow = spans[0] // stride + 1, spans[1] // stride + 1
    return (x.shape[0], out_channels or x.shape[1], oh, ow)


@st.composite
def images(draw, c, fh, fw, stride, pad, broken):
    """Images the windows fit, drawn in either memory layout; or of a broken shape."""
    n, oh, ow = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # Up to stride - 1 rows and columns more than whole windows reach: the floored size.
    rest_h, rest_w = draw(st.integers(0, stride - 1)), draw(st.integers(0, stride - 1))
    shape = (n, c, fit(fh, oh, stride, pad) + rest_h, fit(fw, ow, stride, pad) + rest_w)
    if broken:
        shape = draw(
            st.sampled_from(
                [
                    (n, c, shape[2] + 1, shape[3]),
                    (n, c, shape[2], shape[3] + draw(st.integers(1, 2))),
                    (n, c + 1, *shape[2:]),
                    (0, *shape[1:]),
                    (n, c, 0, shape[3]),
                    shape[1:],
                    (*shape, 1),
                    (n, c, 1, 1),
                ]
            )
        )
    x = draw(arrays(shape, dtypes=ALL_DTYPES if broken else FLOAT_DTYPES + INT_DTYPES))
    if x.ndim == 4 and draw(st.booleans()):
        # channels-last memory seen as (N, C, H, W): what the layers hand on
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return x


@st.composite
def dout_for(draw, shape):
    """A dout of the forward output's shape, now and then of another shape or dtype."""
    if shape is None or not draw(st.integers(0, 5)):
        shape = draw(st.sampled_from([(1, 1, 1, 1), (2, 1, 2), ()]))
    return draw(arrays(shape))


@st.composite
def convolution_case(draw):
    broken = draw(st.sampled_from([None] * 6 + ["W", "b", "option", "x"]))
    fn, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    w_shape, w_dtypes = (fn, c, fh, fw), FLOAT_DTYPES + FLOAT_DTYPES + INT_DTYPES
    if broken == "W" and draw(st.booleans()):
        w_shape = draw(st.sampled_from([(fn, c, fh), (fn, c, fh, fw, 1), (0, c, fh, fw), ()]))
    elif broken == "W":
        w_dtypes = BAD_DTYPES
    values = draw(st.sampled_from(["moderate", "moderate", "huge", None]))
    W = draw(arrays(w_shape, dtypes=w_dtypes, values=values))
    b = draw(arrays((fn + 1,) if broken == "b" else (fn,), dtypes=FLOAT_DTYPES, values=values))
    options = {"stride": stride, "pad": pad}
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([0, -1, 1.5, 2.0, "1", None, True, np.int8(2)]))
    x = draw(images(c, fh, fw, stride, pad, broken == "x"))
    FN = w_shape[0] if len(w_shape) == 4 else None
    dout = draw(dout_for(window_output_shape(x, c, fh, fw, stride, pad, FN)))
    maybe_readonly(draw, W, b, x, dout)
    return W, b, options, x, dout, draw(st.booleans())


def valid_convolution(W, b, options):
    ok = is_real(W) and W.ndim == 4 and W.size > 0 and is_real(b) and b.shape == W.shape[:1]
    return ok and whole(options["stride"], 1) and whole(options["pad"], 0)


def reference_convolution(x, W, b, stride, pad):
    """The definition, in float64: every window of the zero-padded x times every filter."""
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    windows = sliding_window_view(xp, W.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncyxij,fcij->nfyx", windows, W) + b[:, None, None]


@MANY
@given(case=convolution_case())
def test_convolution_layer(case):
    W, b, options, x, dout, input_grad = case
    layer = call(
        lambda: Convolution(W, b, **options),
        inputs=[W, b],
        names=["Convolution"],
        counter="Convolution",
    )
    if layer is ERROR:
        assert not valid_convolution(W, b, options)
        return
    assert valid_convolution(W, b, options)
    dtype = layer.W.dtype
    assert dtype == policy_dtype(W) and layer.get_config() == options
    with pytest.raises(BackwardBeforeForwardError, match="Convolution"):
        layer.backward(dout)
    out = call(
        layer.forward, x, inputs=[W, b, x], names=["Convolution.forward"], counter="Convolution"
    )
    FN, C, FH, FW = W.shape
    stride, pad = options["stride"], options["pad"]
    shape = window_output_shape(x, C, FH, FW, stride, pad, FN)
    if out is ERROR:
        assert shape is None
        return
    assert out.shape == shape and out.dtype == dtype
    arrays_ = (x, W, b)
    if finite(*arrays_) and all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in arrays_):
        x64 = x.astype(dtype).astype(np.float64)
        w64, b64 = layer.W.astype(np.float64), b.astype(dtype).astype(np.float64)
        expected = reference_convolution(x64, w64, b64, stride, pad)
        if np.all(np.abs(expected) < np.finfo(dtype).max / 2):
            scale = (1 + C * FH * FW) * 50 * 50
            atol = {2: 2e-3, 4: 1e-6}.get(dtype.itemsize, 1e-14) * scale
            np.testing.assert_allclose(out, expected, rtol=0, atol=atol)
    dx = call(
        lambda d: layer.backward(d, input_grad=input_grad),
        dout,
        inputs=[W, b, x, dout],
        names=["Convolution.backward"],
        counter="Convolution",
    )
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != shape
        return
    assert dout.shape == shape
    if input_grad:
        assert dx.shape == x.shape and dx.dtype == dtype
    else:
        assert dx is None
    assert layer.dW.shape == W.shape and layer.dW.dtype == dtype
    assert layer.db.shape == (FN,) and layer.db.dtype == dtype


@st.composite
def pooling_case(draw):
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    if draw(st.booleans()):
        pw = stride = ph  # windows side by side: the reshape path
    options = {"pool_h": ph, "pool_w": pw, "stride": stride, "pad": pad}
    broken = draw(st.sampled_from([None] * 5 + ["option", "x"]))
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([0, -1, 1.5, 2.0, "2", None, False, np.int16(2)]))
    x = draw(images(draw(st.integers(1, 3)), ph, pw, stride, pad, broken == "x"))
    dout = draw(dout_for(window_output_shape(x, None, ph, pw, stride, pad)))
    maybe_readonly(draw, x, dout)
    return options, x, dout


def valid_pooling(options):
    ok = all(whole(options[name], 1) for name in ("pool_h", "pool_w", "stride"))
    ok = ok and whole(options["pad"], 0)
    return ok and options["pad"] < min(options["pool_h"], options["pool_w"])


@MANY
@given(case=pooling_case())
def test_pooling_layer(case):
    options, x, dout = case
    layer = call(lambda: Pooling(**options), inputs=[], names=["Pooling"], counter="Pooling")
    if layer is ERROR:
        assert not valid_pooling(options)
        return
    assert valid_pooling(options) and layer.get_config() == options
    with pytest.raises(BackwardBeforeForwardError, match="Pooling"):
        layer.backward(dout)
    out = call(layer.forward, x, names=["Pooling.forward"], counter="Pooling")
    ph, pw, stride, pad = options.values()
    shape = window_output_shape(x, None, ph, pw, stride, pad)
    if out is ERROR:
        assert shape is None
        return
    dtype = policy_dtype(x)
    assert out.shape == shape and out.dtype == dtype
    # The maximum of each window of the -inf-padded x: exact, NaN where a window holds NaN.
    xp = np.pad(x.astype(dtype), [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=-np.inf)
    windows = sliding_window_view(xp, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    np.testing.assert_array_equal(out, windows.max(axis=(4, 5)))
    dx = call(layer.backward, dout, inputs=[x, dout], names=["Pooling.backward"], counter="Pooling")
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != shape
        return
    assert dout.shape == shape and dx.shape == x.shape and dx.dtype == dtype
    if finite(x, dout) and np.all(np.abs(dout.astype(np.float64)) <= 50):
        # Each dout goes to exactly one input: the sums agree.
        total = np.sum(dout.astype(dtype), dtype=np.float64)
        assert_close(np.sum(dx, dtype=np.float64), total, dtype)


# ---------------------------------------------------------------- networks


def make_net(kind, d, c, dtype):
    if kind == "TwoLayerNet":
        return TwoLayerNet(d, 3, c, weight_init_std=0.5, dtype=dtype, seed=0)
    if kind == "MultiLayerNet":
        return MultiLayerNet(
            d, [3, 2], c, activation="sigmoid", weight_decay_lambda=0.1, dtype=dtype, seed=0
        )
    rng = np.random.default_rng(0)
    return Sequential(
        Affine(rng.standard_normal((d, 3)).astype(dtype), np.zeros(3, dtype)),
        Relu(),
        Affine(rng.standard_normal((3, c)).astype(dtype), np.zeros(c, dtype)),
    )


LAYER_NAMES = ["Affine", "Relu", "Sigmoid", "SoftmaxWithLoss"]


@st.composite
def network_case(draw, supervision="any"):
    kind = draw(st.sampled_from(["TwoLayerNet", "MultiLayerNet", "Sequential"]))
    d, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    net = make_net(kind, d, c, draw(st.sampled_from([np.float32, np.float64])))
    n = draw(st.integers(0, 4))
    x = draw(arrays(draw(st.sampled_from([(n, d), (n, d), (n, d), (n, d + 1), (d,)]))))
    if supervision == "labels":
        t = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    elif supervision == "onehot":
        t = np.eye(c)[draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))]
    else:
        n_t = n if draw(st.integers(0, 4)) else draw(st.integers(0, 4))
        t = draw(
            st.one_of(
                hnp.arrays(np.int64, (n_t,), elements=st.integers(0, c - 1)),
                hnp.arrays(np.int64, (n_t,), elements=st.integers(-1, c)),
                arrays((n_t, c)),
                arrays((n_t,)),
            )
        )
    maybe_readonly(draw, x, t)
    return net, x, t


def n_classes(net):
    return net.parameters()[-1].shape[0]  # the last bias


def valid_network_input(net, x, t):
    d = net.params["W1"].shape[0]
    shape_ok = is_real(x) and x.ndim == 2 and x.shape[1] == d and x.shape[0] >= 1
    return shape_ok and valid_supervision(np.zeros((x.shape[0], n_classes(net))), t)


def check_network_call(net, method, x, t, counter):
    names = [type(net).__name__, *LAYER_NAMES]
    params_before = [snapshot(p) for p in net.params.values()]
    result = call(getattr(net, method), x, t, inputs=[x, t], names=names, counter=counter)
    if "gradient" not in method:
        assert [snapshot(p) for p in net.params.values()] == params_before
    return result


@MANY
@given(case=network_case(supervision="labels"))
def test_network_predict_loss_gradient(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    scores = call(
        net.predict, x, inputs=[x], names=[type(net).__name__, *LAYER_NAMES], counter="network"
    )
    if scores is not ERROR:
        assert scores.shape == (x.shape[0], n_classes(net)) and scores.dtype == net.dtype
    for method in ("loss", "gradient", "loss_and_gradient"):
        result = check_network_call(net, method, x, t, counter="network")
        if result is ERROR:
            assert not valid, method
            continue
        assert valid, method
        if method == "loss_and_gradient":
            loss, result = result
            np.testing.assert_array_equal(loss, net.loss(x, t))  # NaN equals NaN here
        if method == "loss":
            assert np.shape(result) == () and np.asarray(result).dtype == net.dtype
        else:
            assert result.keys() == net.params.keys()
            for key, grad in result.items():
                assert grad.shape == net.params[key].shape and grad.dtype == net.dtype


@MANY
@given(case=network_case(supervision="onehot"))
def test_network_accuracy_valid_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    acc = check_network_call(net, "accuracy", x, t, counter="network")
    if acc is ERROR:
        assert not valid
        return
    assert valid and 0.0 <= acc <= 1.0


@FEW
@given(case=network_case())
def test_network_loss_and_gradient_any_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    for method in ("loss", "gradient"):
        result = check_network_call(net, method, x, t, counter="network")
        assert (result is not ERROR) == valid, method


# -- regressions of network.py problems this suite found (fixed in network.py)


@FEW
@given(case=network_case())
def test_network_accuracy_validates_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    acc = check_network_call(net, "accuracy", x, t, counter="network")
    assert (acc is not ERROR) == valid


@pytest.mark.parametrize("batch_size", [0, -1])
def test_network_accuracy_validates_batch_size(batch_size):
    net = make_net("TwoLayerNet", 3, 2, np.float64)
    x, t = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="batch_size"):
        net.accuracy(x, t, batch_size=batch_size)


def test_network_ragged_input_names_the_network():
    net = make_net("TwoLayerNet", 2, 2, np.float64)
    with pytest.raises(ValueError, match="TwoLayerNet"):
        net.loss([[1.0, 2.0], [3.0]], np.array([0, 1]))


@pytest.mark.parametrize("where", ["setitem", "load_state_dict", "weight_decay"])
def test_network_huge_finite_parameters_do_not_warn(where):
    net = MultiLayerNet(2, [3], 2, weight_decay_lambda=0.1, dtype=np.float32, seed=0)
    huge = {k: np.full(v.shape, 1e300) for k, v in net.params.items()}
    x, t = np.ones((2, 2)), np.array([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if where == "setitem":
            net.params["W1"] = huge["W1"]
        elif where == "load_state_dict":
            net.load_state_dict(huge)
        else:
            net.params["W1"][...] = np.float32(3e38)
            net.loss(x, t)


@pytest.mark.parametrize(
    "build",
    [
        lambda: TwoLayerNet(0, 3, 2),
        lambda: TwoLayerNet(2, -1, 2),
        lambda: TwoLayerNet(2, 2.5, 2),
        lambda: TwoLayerNet(2, 3, 2, weight_init_std=float("nan")),
        lambda: MultiLayerNet(2, [3], 2, weight_decay_lambda=float("nan")),
        lambda: MultiLayerNet(2, [3], 2, weight_decay_lambda="a"),
        lambda: MultiLayerNet(2, "ab", 2),
        lambda: Sequential(3),
    ],
    ids=[
        "zero",
        "negative",
        "fraction",
        "nan-std",
        "nan-lambda",
        "str-lambda",
        "str-hidden",
        "non-layer",
    ],
)
def test_network_constructors_validate(build):
    with pytest.raises((ValueError, TypeError), match="TwoLayerNet|MultiLayerNet|Sequential"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: MultiLayerNet(2, [3], 2, activation=["relu"]),
        lambda: Sequential(Relu(), loss=3),
    ],
    ids=["list-activation", "non-layer-loss"],
)
def test_network_constructors_validate_activation_and_loss(build):
    with pytest.raises((ValueError, TypeError), match="MultiLayerNet|Sequential"):
        build()


# ---------------------------------------------------------------- ragged and odd containers


@pytest.mark.parametrize(
    "fn, name",
    [
        (relu, "relu"),
        (sigmoid, "sigmoid"),
        (softmax, "softmax"),
        (log_softmax, "log_softmax"),
        (lambda x: cross_entropy_error(x, [0, 1]), "cross_entropy_error"),
        (lambda x: cross_entropy_error([[0.5, 0.5], [0.5, 0.5]], x), "cross_entropy_error"),
        (Relu().forward, "Relu.forward"),
        (Sigmoid().forward, "Sigmoid.forward"),
        (Affine(np.ones((2, 2)), np.zeros(2)).forward, "Affine.forward"),
        (Dropout(seed=0).forward, "Dropout.forward"),
        (BatchNormalization(np.ones(2), np.zeros(2)).forward, "BatchNormalization.forward"),
        (Convolution(np.ones((1, 1, 1, 1)), np.zeros(1)).forward, "Convolution.forward"),
        (Pooling(1, 1, stride=1).forward, "Pooling.forward"),
        (lambda x: SoftmaxWithLoss().forward(x, [0, 1]), "SoftmaxWithLoss.forward"),
        (lambda x: MulLayer().forward(x, x), "MulLayer.forward"),
        (lambda x: AddLayer().forward(x, 1.0), "AddLayer.forward"),
    ],
)
@pytest.mark.parametrize("bad", [[[1.0, 2.0], [3.0]], {"a": 1}, None, "abc"])
def test_odd_containers_are_named_errors(fn, name, bad):
    result = call(fn, bad, inputs=[], names=[name], counter="containers")
    assert result is ERROR


def test_python_numbers_and_lists_work():
    assert relu([-1, 2]).tolist() == [0.0, 2.0]
    assert MulLayer().forward(100, 2) == 200.0
    assert SoftmaxWithLoss().forward([[0.0, 0.0]], [1]) == pytest.approx(np.log(2))
