"""Property-based tests of the functions (relu, sigmoid, softmax, cross_entropy_error, ...).

Each generated call gives a correct result or a documented, named error, and nothing else: the
rule is written out in ``property_cases.py``, which holds what the suites share.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from property_cases import (
    ERROR,
    FEW,
    MANY,
    arrays,
    assert_close,
    call,
    finite,
    is_float,
    is_real,
    maybe_readonly,
    policy_dtype,
    reference_loss,
    scores_and_labels,
    shapes,
    valid_supervision,
)

from layerwise import (
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
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
