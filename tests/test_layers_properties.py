"""Property-based tests of Relu, Sigmoid, MulLayer, AddLayer, Affine, SoftmaxWithLoss.

Each generated call gives a correct result or a documented, named error, and nothing else: the
rule is written out in ``property_cases.py``, which holds what the suites share.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_cases import (
    BAD_DTYPES,
    ERROR,
    FLOAT_DTYPES,
    INT_DTYPES,
    MANY,
    arrays,
    assert_close,
    call,
    finite,
    is_real,
    maybe_readonly,
    policy_dtype,
    reference_loss,
    scores_and_labels,
    shapes,
    valid_supervision,
)

from layerwise import (
    AddLayer,
    Affine,
    BackwardBeforeForwardError,
    MulLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    cross_entropy_error,
    log_softmax,
    relu,
    sigmoid,
    softmax,
)
from layerwise.layers import BatchNormalization, Convolution, Dropout, Pooling

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
