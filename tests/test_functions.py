"""The pure functions: values against hand-computed references, dtypes, numerical_gradient.

The book's versions of the functions that layerwise changes are written out below (``book_*``),
as they stand in the book's ``common/functions.py``, to compare against; every departure from
them has a ``test_regression_*``. The property tests at the end run every function on generated
input of random shape, dtype and values (NaN and inf included), read-only half the time.
"""

import inspect
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerwise import (
    Relu,
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
)
from layerwise import functions as F
from layerwise.functions import (
    identity_function,
    mean_squared_error,
    relu_grad,
    sigmoid_grad,
    softmax_loss,
    step_function,
    sum_squared_error,
)

# ---------------------------------------------------------------- the book's code, for comparison


def book_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def book_sigmoid_grad(x):
    return (1.0 - book_sigmoid(x)) * book_sigmoid(x)


def book_relu_grad(x):
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def book_sum_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


# ---------------------------------------------------------------- hand-computed values


def test_softmax_rows_sum_to_one_and_match_definition():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]])
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    np.testing.assert_allclose(y[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-15)
    np.testing.assert_allclose(y[1], [0.5, 0.5, 0.0], atol=1e-300)


def test_softmax_one_dimensional_is_one_sample():
    x = np.array([0.3, 2.9, 4.0])  # the book's example, section 3.5
    np.testing.assert_allclose(softmax(x), [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)


def test_log_softmax_equals_log_of_softmax_where_finite():
    x = np.random.default_rng(0).standard_normal((5, 7))
    np.testing.assert_allclose(log_softmax(x), np.log(softmax(x)), rtol=1e-13)


def test_log_softmax_keeps_tiny_probabilities():
    # log(1 + e^-50) = 1.9287e-22 would round to 0 without log1p.
    np.testing.assert_allclose(-log_softmax(np.array([50.0, 0.0]))[0], 1.9287498479639178e-22)
    assert np.isfinite(log_softmax(np.array([0.0, 1e5]))).all()


def test_cross_entropy_error_exact_for_ordinary_values():
    y = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])
    t = np.array([1, 0])
    expected = -(np.log(0.6) + np.log(0.8)) / 2
    assert cross_entropy_error(y, t) == pytest.approx(expected, rel=1e-15)
    assert cross_entropy_error(y, np.eye(3)[t]) == pytest.approx(expected, rel=1e-15)
    # A certain, correct prediction costs nothing (the book's +1e-7 gives 1e-7).
    assert cross_entropy_error(np.array([1.0, 0.0]), 0) == 0.0


def test_cross_entropy_error_is_finite_at_zero_probability():
    loss = cross_entropy_error(np.array([[0.0, 1.0]]), np.array([0]))
    assert np.isfinite(loss) and loss > 700


def test_relu_and_sigmoid_functions():
    np.testing.assert_array_equal(relu(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(sigmoid(np.array([0.0, 1.0])), [0.5, 1 / (1 + np.exp(-1))])
    assert sigmoid(np.array([1.0], np.float32)).dtype == np.float32
    assert relu(np.array([1, -1])).dtype == np.float64


def test_numerical_gradient_any_shape_and_exact_restore():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    # Central differences of a cubic err by exactly h^2 = 1e-8 per element.
    np.testing.assert_allclose(grad, 3 * before**2, rtol=0, atol=1.1e-8)
    # Restored bit for bit, not recomputed as (x + h) - h.
    np.testing.assert_array_equal(x, before)
    assert grad.shape == x.shape and grad.dtype == x.dtype


def test_numerical_gradient_of_book_function():
    """Book, section 4.4: the gradient of x0^2 + x1^2 at (3, 4) is (6, 8)."""
    grad = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-9)


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="floating-point"):
        numerical_gradient(lambda v: v.sum(), np.array([1, 2]))


def test_complex_input_is_a_type_error():
    with pytest.raises(TypeError, match="complex"):
        softmax(np.array([1j, 2]))


def test_all_lists_every_public_function():
    public = {
        name
        for name, obj in vars(F).items()
        if inspect.isfunction(obj) and obj.__module__ == F.__name__ and not name.startswith("_")
    }
    assert set(F.__all__) == public | {"mean_squared_error"}
    assert all(callable(getattr(F, name)) for name in F.__all__)


def test_identity_function_returns_float_input_itself():
    x = np.array([[-1.5, 0.0, 2.0]], dtype=np.float32)
    assert identity_function(x) is x  # no copy, as the book's `return x`
    out = identity_function([1, 2, 3])
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    assert identity_function(np.array([True, False])).dtype == np.float64


def test_step_function_book_example():
    """Book, section 3.2.3: step_function(np.array([-1.0, 1.0, 2.0])) is array([0, 1, 1])."""
    out = step_function(np.array([-1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(out, [0, 1, 1])
    assert out.dtype == np.dtype(int)  # the book's int output, not float
    special = [0.0, -0.0, np.nan, np.inf, -np.inf]
    np.testing.assert_array_equal(step_function(special), [0, 0, 0, 1, 0])  # NaN is not > 0
    assert step_function(np.float32(3)).shape == ()


def test_sigmoid_grad_matches_book_and_numerical_gradient():
    x = np.linspace(-10, 10, 41)
    # The book's 1 - sigmoid(x) cancels: about 1e-16 / sigmoid(-x) relative error, 3e-12 at 10.
    np.testing.assert_allclose(sigmoid_grad(x), book_sigmoid_grad(x), rtol=1e-11)
    assert sigmoid_grad(0.0) == 0.25
    # Central differences of a sum near 20 carry about 1e-16 * 20 / h = 2e-11 of rounding.
    numeric = numerical_gradient(lambda v: np.sum(sigmoid(v)), x.copy())
    np.testing.assert_allclose(sigmoid_grad(x), numeric, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(sigmoid_grad(x), sigmoid_grad(-x))  # exactly symmetric
    assert sigmoid_grad(np.array([1.0], np.float32)).dtype == np.float32
    assert sigmoid_grad([1, 2]).dtype == np.float64


def test_regression_sigmoid_grad_exact_in_the_tail():
    """The book's (1 - sigmoid(x)) * sigmoid(x) is 0 beyond x of about 37 (float64) or 17 (float32).

    The derivative there is exp(-x) (1 + exp(-x))^-2 = exp(-x) to within 1e-16 relative.
    """
    assert book_sigmoid_grad(np.float64(40.0)) == 0.0
    assert sigmoid_grad(40.0) == pytest.approx(np.exp(-40.0), rel=1e-15)
    assert sigmoid_grad(-40.0) == sigmoid_grad(40.0)
    assert book_sigmoid_grad(np.float32(20.0)) == 0.0
    out32 = sigmoid_grad(np.array([20.0], np.float32))
    assert out32.dtype == np.float32 and out32[0] == pytest.approx(np.exp(-20.0), rel=1e-6)
    # The book's sigmoid overflows (with a RuntimeWarning) below -709; this does not warn.
    with pytest.warns(RuntimeWarning, match="overflow"):
        book_sigmoid_grad(np.float64(-800.0))
    assert sigmoid_grad(-800.0) == 0.0  # exp(-800) is below the smallest float64


def test_relu_grad_book_values():
    x = np.array([[-2.0, -0.0, 0.0], [1e-300, 3.0, np.nan]])
    np.testing.assert_array_equal(relu_grad(x), book_relu_grad(x))
    np.testing.assert_array_equal(relu_grad(x), [[0, 1, 1], [1, 1, 0]])
    assert relu_grad(x.astype(np.float32)).dtype == np.float32


def test_relu_grad_is_one_at_zero_unlike_the_relu_layer():
    """The book's relu_grad gives 1 at x == 0; the Relu layer (the book's and ours) gives 0."""
    x = np.array([-1.0, 0.0, 1.0])
    layer = Relu()
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones(3)), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(relu_grad(x), [0.0, 1.0, 1.0])


def test_regression_relu_grad_of_int_input_is_float64():
    """The book's np.zeros_like(x) returns ints for int x; the dtype rule makes it float64."""
    x = np.array([-1, 0, 1])
    assert book_relu_grad(x).dtype.kind == "i"
    out = relu_grad(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, book_relu_grad(x))


def test_sum_squared_error_book_example():
    """Book, section 4.2.1: 0.0975 when "2" is most likely and right, 0.5975 when "7" is."""
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    assert sum_squared_error(np.array(y), np.array(t)) == pytest.approx(0.0975, rel=1e-14)
    y = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
    assert sum_squared_error(np.array(y), np.array(t)) == pytest.approx(0.5975, rel=1e-14)


def test_mean_squared_error_is_sum_squared_error():
    # The book's chapter-4 text uses this name for the same formula: a sum, not a mean.
    assert mean_squared_error is sum_squared_error
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert mean_squared_error(y, np.zeros((2, 2))) == 0.5 * (1 + 4 + 9 + 16)


def test_sum_squared_error_sums_over_the_batch_and_keeps_y_dtype():
    rng = np.random.default_rng(0)
    y, t = rng.random((4, 3)), np.eye(3)[[0, 2, 1, 1]]
    assert sum_squared_error(y, t) == pytest.approx(
        sum(sum_squared_error(y[i], t[i]) for i in range(4)), rel=1e-14
    )
    assert sum_squared_error(y, t) == book_sum_squared_error(y, t)
    out = sum_squared_error(y.astype(np.float32), t)
    assert isinstance(out, np.float32)
    assert isinstance(sum_squared_error([1, 2], [0, 0]), np.float64)
    # A difference beyond the float range: inf, without a warning.
    assert sum_squared_error(np.array([3e38], np.float32), np.array([-3e38])) == np.inf


def test_regression_sum_squared_error_refuses_broadcasting():
    """The book's version broadcasts label indices t (N,) against y (N, N): a wrong number."""
    y = np.full((3, 3), 1 / 3)
    t = np.array([0, 2, 1])
    assert np.isfinite(book_sum_squared_error(y, t))  # silently meaningless
    with pytest.raises(ValueError, match=r"sum_squared_error: .*\(3, 3\).*np\.eye"):
        sum_squared_error(y, t)
    with pytest.raises(ValueError, match="sum_squared_error"):
        sum_squared_error(np.zeros((2, 3)), np.zeros((3, 2)))


def test_softmax_loss_equals_cross_entropy_of_softmax():
    rng = np.random.default_rng(1)
    x = 3 * rng.standard_normal((6, 5))
    t = rng.integers(0, 5, size=6)
    np.testing.assert_allclose(softmax_loss(x, t), cross_entropy_error(softmax(x), t), rtol=1e-13)
    # Labels and one-hot rows give the same loss; a 1-D x is one sample.
    np.testing.assert_allclose(softmax_loss(x, np.eye(5)[t]), softmax_loss(x, t), rtol=1e-15)
    assert softmax_loss(x[2], t[2]) == pytest.approx(softmax_loss(x[2:3], t[2:3]), rel=1e-15)
    assert softmax_loss(x[2], np.eye(5)[t[2]]) == pytest.approx(softmax_loss(x[2], t[2]), rel=1e-15)
    # By hand: logits (0, log 3) give softmax (1/4, 3/4).
    assert softmax_loss(np.array([0.0, np.log(3.0)]), 0) == pytest.approx(np.log(4.0), rel=1e-15)


def test_softmax_loss_exact_where_softmax_underflows():
    # softmax([0, -1000]) is [1, 0] in float64: cross_entropy_error of it would be about 708.
    assert softmax_loss(np.array([0.0, -1000.0]), 1) == 1000.0
    assert softmax_loss(np.array([[0.0, -1000.0]]), np.array([[0.0, 1.0]])) == 1000.0
    assert softmax_loss(np.array([0.0, -1000.0], np.float32), 1) == np.float32(1000.0)
    # A near-certain correct class keeps its tiny loss, log(1 + e^-50).
    assert softmax_loss(np.array([50.0, 0.0]), 0) == pytest.approx(1.9287498479639178e-22)


def test_softmax_loss_dtype_and_no_warnings():
    x = np.array([[1.0, 2.0, 3.0], [3e38, -3e38, 0.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax_loss(x, np.array([2, 1]))
        assert isinstance(out, np.float32)
        assert softmax_loss([[1, 2]], [0]).dtype == np.float64
        assert np.isnan(softmax_loss(np.array([np.nan, 1.0]), 0))
        assert softmax_loss(np.array([-np.inf, 1.0]), 0) == np.inf
    with pytest.raises(ValueError, match="softmax_loss: labels must lie in"):
        softmax_loss(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="softmax_loss"):
        softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int))


def test_new_functions_name_themselves_in_errors():
    for fn in (identity_function, step_function, sigmoid_grad, relu_grad):
        with pytest.raises(TypeError, match=fn.__name__):
            fn(np.array([1j]))
    with pytest.raises(TypeError, match="sum_squared_error: t"):
        sum_squared_error([1.0], ["a"])


# ---------------------------------------------------------------- properties

SETTINGS = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
FLOATS = (np.float16, np.float32, np.float64)
INTS = (np.int8, np.int64, np.uint8, np.bool_)
RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


@st.composite
def arrays(draw, shape, dtypes=FLOATS + INTS, nonfinite=True, bound=None):
    """An array of ``shape``: moderate, huge and (if ``nonfinite``) NaN/inf values."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if dtype.kind != "f":
        return draw(hnp.arrays(dtype, shape))
    info = np.finfo(dtype)
    elements = st.floats(-50, 50, width=info.bits) if bound is None else bound(info.bits)
    if nonfinite:
        elements |= st.sampled_from([float(info.max), -float(info.max), np.nan, np.inf, -np.inf])
    return draw(hnp.arrays(dtype, shape, elements=elements))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def policy_dtype(x):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def run(fn, *args):
    """``fn(*args)`` with read-only inputs, failing on any warning or modified input."""
    for a in args:
        a.flags.writeable = False
    before = [a.tobytes() for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(*args)
    assert [a.tobytes() for a in args] == before
    return out


@SETTINGS
@given(data=st.data(), shape=shapes)
def test_elementwise_functions_properties(data, shape):
    x = data.draw(arrays(shape))
    x64 = x.astype(np.float64)
    dtype = policy_dtype(x)

    out = run(identity_function, x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, x64)

    out = run(step_function, x)
    assert out.dtype == np.dtype(int) and out.shape == x.shape
    np.testing.assert_array_equal(out, np.array(x > 0, dtype=int))  # the book's line

    out = run(relu_grad, x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, book_relu_grad(x64))

    out = run(sigmoid_grad, x)
    assert out.dtype == dtype and out.shape == x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        expected = np.array(book_sigmoid_grad(x64))  # absolute error ~1e-16, hence the atol
    np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert np.all((out[~np.isnan(out)] >= 0) & (out[~np.isnan(out)] <= 0.25))


@SETTINGS
@given(data=st.data(), shape=shapes)
def test_sum_squared_error_properties(data, shape):
    y = data.draw(arrays(shape))
    t = data.draw(arrays(shape))
    out = run(sum_squared_error, y, t)
    dtype = policy_dtype(y)
    assert isinstance(out, dtype.type)
    with np.errstate(over="ignore", invalid="ignore"):
        t64 = t.astype(dtype).astype(np.float64)  # t is converted to y's dtype
        expected = 0.5 * np.sum((y.astype(np.float64) - t64) ** 2)
    if np.isnan(expected):
        assert np.isnan(out)
    elif expected <= np.finfo(dtype).max / 2:
        np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype])
    else:  # near or beyond the float range of y's dtype: huge or inf, never NaN
        assert out >= np.finfo(dtype).max / 4


@st.composite
def logits_and_labels(draw, dtypes=FLOATS + INTS, nonfinite=True):
    n_classes = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(n_classes,), (draw(st.integers(1, 4)), n_classes)]))
    x = draw(arrays(shape, dtypes=dtypes, nonfinite=nonfinite))
    labels = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, n_classes - 1)))
    return x, labels


@SETTINGS
@given(case=logits_and_labels(), onehot=st.booleans())
def test_softmax_loss_properties(case, onehot):
    x, labels = case
    t = np.eye(x.shape[-1])[labels] if onehot else labels
    out = run(softmax_loss, x, t)
    dtype = policy_dtype(x)
    assert isinstance(out, dtype.type)
    x64 = np.atleast_2d(x.astype(np.float64))
    if not np.all(np.abs(x64) <= 50):
        return  # NaN, inf and huge values: only that nothing crashed or warned
    # Line by line in float64: log-sum-exp minus the labelled logit, averaged over the batch.
    m = x64.max(axis=1)
    lse = m + np.log(np.sum(np.exp(x64 - m[:, None]), axis=1))
    expected = np.mean(lse - x64[np.arange(len(x64)), np.atleast_1d(labels)])
    np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert out >= 0


@SETTINGS
@given(case=logits_and_labels(dtypes=FLOATS, nonfinite=False))
def test_softmax_loss_agrees_with_cross_entropy_of_softmax(case):
    x, labels = case
    x = x.astype(np.float64)  # |x| <= 50: softmax stays above float64's tiny, no clipping
    np.testing.assert_allclose(
        softmax_loss(x, labels), cross_entropy_error(softmax(x), labels), rtol=1e-12, atol=1e-15
    )


def test_mean_negative_log_takes_labels_or_onehot_rows():
    rng = np.random.default_rng(0)
    log_y = np.log(softmax(rng.normal(size=(5, 4))))
    labels = np.array([0, 3, 1, 1, 2])
    expected = -np.mean(log_y[np.arange(5), labels])
    assert F.mean_negative_log(log_y, labels, None) == pytest.approx(expected, rel=1e-15)
    onehot = np.eye(4)[labels]
    assert F.mean_negative_log(log_y, None, onehot) == pytest.approx(expected, rel=1e-15)
    with pytest.raises(TypeError, match="labels or onehot"):
        F.mean_negative_log(log_y, None, None)
