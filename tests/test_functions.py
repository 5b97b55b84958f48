"""The pure functions: values against hand-computed references, dtypes, numerical_gradient."""

import numpy as np
import pytest

from layerwise import (
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
)


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
