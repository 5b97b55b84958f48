"""Behaviour of the layers: the book's attributes, the fixed textbook defects, dtypes, errors."""

import numpy as np
import pytest

from layerwise import (
    AddLayer,
    Affine,
    BackwardBeforeForwardError,
    MulLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    TwoLayerNet,
)

# ---------------------------------------------------------------- regressions of textbook defects


def test_regression_relu_backward_does_not_mutate_dout():
    """The book's Relu.backward does `dout[self.mask] = 0`, zeroing the caller's array."""
    relu = Relu()
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    relu.forward(x)
    dout = np.ones((2, 2))
    dx = relu.backward(dout)
    np.testing.assert_array_equal(dout, np.ones((2, 2)))
    np.testing.assert_array_equal(dx, [[0.0, 1.0], [1.0, 0.0]])
    assert dx is not dout


def test_regression_relu_forward_does_not_mutate_x():
    relu = Relu()
    x = np.array([-1.0, 0.0, 2.0])
    out = relu.forward(x)
    np.testing.assert_array_equal(x, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(out, [0.0, 0.0, 2.0])


@pytest.mark.parametrize(
    "dtype, big", [(np.float64, 1000.0), (np.float32, 100.0), (np.float64, 710.0)]
)
def test_regression_sigmoid_no_overflow(dtype, big):
    """The book's 1/(1+exp(-x)) overflows (RuntimeWarning) at x = -710 (float64), -89 (float32).

    Warnings are errors in this test suite, so an overflow fails the test.
    """
    x = np.array([-big, -30.0, 0.0, 30.0, big], dtype=dtype)
    out = Sigmoid().forward(x)
    assert out.dtype == dtype
    expected = [
        np.exp(-big) / (1 + np.exp(-big)) if dtype == np.float64 else 0.0,
        9.357622968839299e-14,
        0.5,
        1.0,
        1.0,
    ]
    # exp(-100) in float32 underflows: the true value 3.7e-44 is subnormal; allow 0 or it.
    np.testing.assert_allclose(out, np.asarray(expected, dtype), rtol=1e-6, atol=1e-43)
    assert np.all(np.isfinite(out))


def test_sigmoid_negative_tail_is_relatively_exact():
    x = np.array([-20.0, -35.0, -700.0])
    out = Sigmoid().forward(x)
    np.testing.assert_allclose(out, np.exp(x) / (1 + np.exp(x)), rtol=1e-14)


@pytest.mark.parametrize(
    "logits, label, expected",
    [([50.0, 0.0], 0, 1.9287498479639178e-22), ([0.0, 50.0], 0, 50.0), ([1e4, 0.0], 1, 1e4)],
)
def test_regression_loss_is_exact_not_floored(logits, label, expected):
    """The book's -log(y + 1e-7) gives 1e-7 and 16.1 for the first two; log-sum-exp is exact."""
    loss = SoftmaxWithLoss().forward(np.array(logits), label)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)


def test_regression_backward_honours_dout():
    """The book's SoftmaxWithLoss.backward ignores dout; dx must scale with it."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    t = np.array([0, 3, 1])
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx1 = layer.backward()
    dx2 = layer.backward(2.5)
    np.testing.assert_allclose(dx2, 2.5 * dx1, rtol=1e-15)
    expected = (layer.y - np.eye(4)[t]) / 3
    np.testing.assert_allclose(dx1, expected, rtol=1e-15)


# ---------------------------------------------------------------- the book's attributes


def test_relu_mask_attribute_is_the_books():
    relu = Relu()
    assert relu.mask is None
    relu.forward(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(relu.mask, [True, True, False])
    assert relu.mask.dtype == bool


def test_relu_gradient_at_zero_is_zero():
    relu = Relu()
    relu.forward(np.zeros(3))
    np.testing.assert_array_equal(relu.backward(np.ones(3)), np.zeros(3))


def test_sigmoid_out_attribute_and_backward():
    s = Sigmoid()
    out = s.forward(np.array([0.0, 2.0]))
    assert s.out is out
    np.testing.assert_allclose(s.backward(np.ones(2)), out * (1 - out))


def test_affine_attributes_and_nd_input():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((12, 5))
    b = rng.standard_normal(5)
    x = rng.standard_normal((2, 3, 2, 2))
    layer = Affine(W, b)
    assert layer.W is W and layer.b is b
    out = layer.forward(x)
    np.testing.assert_allclose(out, x.reshape(2, 12) @ W + b)
    assert layer.original_x_shape == (2, 3, 2, 2)
    assert layer.x.shape == (2, 12)
    dout = rng.standard_normal((2, 5))
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    np.testing.assert_allclose(layer.dW, x.reshape(2, 12).T @ dout)
    np.testing.assert_allclose(layer.db, dout.sum(axis=0))
    assert layer.backward(dout, input_grad=False) is None


def test_softmax_with_loss_attributes():
    layer = SoftmaxWithLoss()
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    t = np.array([2, 0])
    loss = layer.forward(x, t)
    assert layer.loss == loss
    np.testing.assert_allclose(layer.y.sum(axis=1), 1.0)
    np.testing.assert_array_equal(layer.t, t)


def test_softmax_with_loss_index_and_onehot_agree():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    a, b = SoftmaxWithLoss(), SoftmaxWithLoss()
    np.testing.assert_allclose(a.forward(x, t), b.forward(x, np.eye(4)[t]), rtol=1e-15)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-15)


def test_softmax_with_loss_single_sample():
    layer = SoftmaxWithLoss()
    x = np.array([1.0, 2.0, 0.5])
    loss = layer.forward(x, 1)
    y = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(loss, -np.log(y[1]), rtol=1e-14)
    dx = layer.backward()
    assert dx.shape == (3,)
    np.testing.assert_allclose(dx, y - np.eye(3)[1], rtol=1e-14)


# ---------------------------------------------------------------- dtypes


def _run_layer(layer, x, dtype):
    if isinstance(layer, SoftmaxWithLoss):
        loss = layer.forward(x, np.zeros(x.shape[0], dtype=int))
        assert isinstance(loss, np.floating) and loss.dtype == dtype
        return layer.backward()
    out = layer.forward(x)
    assert out.dtype == dtype
    return layer.backward(np.ones_like(out))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [Relu, Sigmoid, SoftmaxWithLoss], ids=lambda c: c.__name__)
def test_parameter_free_layers_keep_float_dtype(make, dtype):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    dx = _run_layer(make(), x, dtype)
    assert dx.dtype == dtype


@pytest.mark.parametrize("make", [Relu, Sigmoid, SoftmaxWithLoss], ids=lambda c: c.__name__)
def test_integer_input_is_computed_in_float64(make):
    dx = _run_layer(make(), np.array([[1, -2, 3], [0, 1, 2]]), np.float64)
    assert dx.dtype == np.float64


@pytest.mark.parametrize("wdtype", [np.float32, np.float64])
@pytest.mark.parametrize("xdtype", [np.float32, np.float64, np.uint8])
def test_affine_computes_in_its_weights_dtype(wdtype, xdtype):
    rng = np.random.default_rng(0)
    layer = Affine(rng.standard_normal((6, 3)).astype(wdtype), np.zeros(3, wdtype))
    out = layer.forward((rng.random((2, 6)) * 10).astype(xdtype))
    assert out.dtype == wdtype
    dx = layer.backward(np.ones((2, 3)))
    assert dx.dtype == wdtype and layer.dW.dtype == wdtype and layer.db.dtype == wdtype


# ---------------------------------------------------------------- clear errors


@pytest.mark.parametrize(
    "layer",
    [
        Relu(),
        Sigmoid(),
        Affine(np.ones((2, 2)), np.zeros(2)),
        SoftmaxWithLoss(),
        MulLayer(),
        AddLayer(),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_backward_before_forward_is_a_clear_error(layer):
    with pytest.raises(BackwardBeforeForwardError, match="before forward"):
        layer.backward(np.ones((2, 2)))


def test_affine_feature_mismatch_names_shapes():
    layer = Affine(np.ones((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, 4\).*\(2, 5\)"):
        layer.forward(np.ones((2, 5)))


def test_affine_rejects_one_dimensional_input():
    layer = Affine(np.ones((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        layer.forward(np.ones(4))


def test_affine_bias_shape_checked():
    with pytest.raises(ValueError, match="b must have shape"):
        Affine(np.ones((4, 3)), np.zeros(4))


@pytest.mark.parametrize(
    "t, match",
    [
        (np.array([0.0, 1.0]), "integer dtype"),
        (np.array([0, 3]), r"\[0, 3\)"),
        (np.array([-1, 0]), r"\[0, 3\)"),
        (np.array([0, 1, 2]), "shape"),
        (np.ones((2, 4)), "shape"),
    ],
)
def test_softmax_with_loss_validates_labels(t, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxWithLoss().forward(np.zeros((2, 3)), t)


def test_backward_dout_shape_checked():
    relu = Relu()
    relu.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Relu.backward.*\(2, 3\).*\(3, 2\)"):
        relu.backward(np.ones((3, 2)))
    loss = SoftmaxWithLoss()
    loss.forward(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="scalar"):
        loss.backward(np.ones(2))


# ---------------------------------------------------------------- the chapter's apple example


def test_apple_shopping_graph():
    """Book, section 5.4: 2 apples at 100 yen with 10% tax cost 220; the gradients follow."""
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    assert price == pytest.approx(220.0)
    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert (dapple, dapple_num, dtax) == pytest.approx((2.2, 110.0, 200.0))


def test_apple_and_orange_graph():
    """Book, section 5.4.2: 2 apples (100) and 3 oranges (150), 10% tax: 715."""
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    total = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
    price = mul_tax.forward(total, 1.1)
    assert price == pytest.approx(715.0)
    dall, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dall)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    assert (dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx(
        (110.0, 2.2, 3.3, 165.0, 650.0)
    )


# --- gradients the caller holds are never overwritten ------------------------------------------


def _affine_step(layer, scale):
    x = np.arange(12.0).reshape(4, 3)
    layer.forward(x)
    layer.backward(np.full((4, 2), scale))


@pytest.mark.parametrize("hold", ["variable", "dict", "view"])
def test_affine_never_overwrites_a_dw_someone_holds(hold):
    layer = Affine(np.ones((3, 2)), np.zeros(2))
    _affine_step(layer, 1.0)
    kept = {"variable": lambda g: g, "dict": lambda g: {"W": g}, "view": lambda g: g[1:]}[hold](
        layer.dW
    )
    before = np.array(kept["W"] if hold == "dict" else kept, copy=True)
    _affine_step(layer, 5.0)
    after = kept["W"] if hold == "dict" else kept
    np.testing.assert_array_equal(after, before)  # the held gradient did not change
    assert not np.shares_memory(layer.dW, after)


def test_network_gradients_held_by_the_caller_stay_as_returned():
    net = TwoLayerNet(4, 5, 3, seed=0)
    x, t = np.random.default_rng(0).random((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    first = net.gradient(x, t)
    snapshot = {k: v.copy() for k, v in first.items()}
    second = net.gradient(x[::-1], t[::-1] * 0)
    for k in first:
        np.testing.assert_array_equal(first[k], snapshot[k])
        assert not np.shares_memory(first[k], second[k])


def test_relu_and_softmax_across_calls_of_other_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    relu, last = Relu(), SoftmaxWithLoss()
    for shape, dtype in [((4, 3), np.float64), ((2, 5), np.float64), ((4, 3), np.float32)] * 2:
        x = rng.standard_normal(shape).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(relu.forward(x), np.maximum(x, 0))
        np.testing.assert_array_equal(relu.mask, x <= 0)
        np.testing.assert_array_equal(relu.backward(dout), np.where(x > 0, dout, 0))
        t = rng.integers(0, shape[1], shape[0])
        loss = last.forward(x, t)
        y = np.exp(x - x.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(loss, -np.mean(np.log(y[np.arange(shape[0]), t])), rtol=1e-5)
        expected = (y - np.eye(shape[1])[t]) / shape[0]
        np.testing.assert_allclose(last.backward(), expected, rtol=1e-5, atol=1e-7)
