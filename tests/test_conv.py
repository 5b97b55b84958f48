"""Convolution and Pooling: the book's layers, dtypes, layouts and errors.

``BookConvolution`` and ``BookPooling`` are the book's ``common/layers.py`` layers over the
book's ``im2col``/``col2im`` (``common/util.py``), as ``benchmarks/textbook.py`` writes them out in
the book's style; every departure from them has a ``test_regression_*``.

The gradient checks, over the same sizes, are test_layers_gradcheck's.
"""

import warnings

import numpy as np
import pytest
import textbook
from test_layers_gradcheck import CONV_CASES, POOL_CASES, conv_case, distinct_values

from layerwise.layers import LAYERS, BackwardBeforeForwardError, Convolution, Pooling, Relu
from layerwise.util import im2col

# ---------------------------------------------------------------- the book's code, for comparison

# benchmarks/textbook.py writes out the book's common/ code; the benchmark's yardstick is the
# reference here, so a test failing on it would also flag a yardstick that is not the book's.
book_im2col, book_col2im = textbook.im2col, textbook.col2im
BookConvolution, BookPooling = textbook.Convolution, textbook.Pooling


# ---------------------------------------------------------------- cases

# The sizes that choose each path (CONV_CASES, POOL_CASES) are the gradient check's.
CONV_IDS = [f"{s}-{f}-s{st}-p{p}" for s, f, st, p in CONV_CASES]
POOL_IDS = [f"{s}-{ph}x{pw}-s{st}-p{p}" for s, ph, pw, st, p in POOL_CASES]


def channels_last(x):
    """The same values in channels-last memory, as an (N, C, H, W) view: what layers hand on."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- the book's layers


@pytest.mark.parametrize("shape, filters, stride, pad", CONV_CASES, ids=CONV_IDS)
def test_convolution_is_the_books(shape, filters, stride, pad):
    x, W, b = conv_case(shape, filters, seed=3)
    ours, book = Convolution(W, b, stride, pad), BookConvolution(W, b, stride, pad)
    out = ours.forward(x)
    np.testing.assert_allclose(out, book.forward(x), rtol=1e-12, atol=1e-12)
    dout = np.random.default_rng(4).standard_normal(out.shape)
    np.testing.assert_allclose(ours.backward(dout), book.backward(dout), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.dW, book.dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.db, book.db, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours.x, x)
    if ours.col is not None:  # the im2col path keeps the book's matrices
        np.testing.assert_array_equal(ours.col, book.col)
        np.testing.assert_array_equal(ours.col_W, book.col_W)


@pytest.mark.parametrize("shape, ph, pw, stride, pad", POOL_CASES, ids=POOL_IDS)
def test_pooling_is_the_books(shape, ph, pw, stride, pad):
    x = np.random.default_rng(5).standard_normal(shape)
    # The book's Pooling fails for pad > 0 (see the regression test): give it the padded input.
    x_book = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=-np.inf)
    ours, book = Pooling(ph, pw, stride, pad), BookPooling(ph, pw, stride)
    out = ours.forward(x)
    np.testing.assert_array_equal(out, book.forward(x_book))
    np.testing.assert_array_equal(ours.arg_max, book.arg_max)
    dout = np.random.default_rng(6).standard_normal(out.shape)
    dx_book = book.backward(dout)[:, :, pad : pad + shape[2], pad : pad + shape[3]]
    np.testing.assert_array_equal(ours.backward(dout), dx_book)


def test_a_small_network_is_the_books_and_keeps_channels_last():
    """conv - relu - conv - pool - conv(stride 2), as a network chains them, forward and back."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 10, 10))
    params = [
        (rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4), 1, 1),
        (rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5), 1, 1),
        (rng.standard_normal((3, 5, 3, 3)), rng.standard_normal(3), 2, 1),
    ]
    ours = [Convolution(*params[0]), Relu(), Convolution(*params[1]), Pooling(2, 2, 2)]
    ours.append(Convolution(*params[2]))
    book = [BookConvolution(*params[0]), Relu(), BookConvolution(*params[1])]
    book += [BookPooling(2, 2, 2), BookConvolution(*params[2])]
    a = b = x
    for mine, theirs in zip(ours, book, strict=True):
        a, b = mine.forward(a), theirs.forward(b)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        assert a.transpose(0, 2, 3, 1).strides[-1] == a.itemsize  # channels-last memory
    da = db = np.random.default_rng(8).standard_normal(a.shape)
    for mine, theirs in zip(ours[::-1], book[::-1], strict=True):
        da, db = mine.backward(da), theirs.backward(db)
        np.testing.assert_allclose(da, db, rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(ours[::2], book[::2], strict=True):
        if isinstance(mine, Convolution):
            np.testing.assert_allclose(mine.dW, theirs.dW, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(mine.db, theirs.db, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- ties: the first maximum


@pytest.mark.parametrize(
    "ph, pw, stride, pad", [(2, 2, 2, 0), (3, 3, 3, 0), (3, 3, 1, 0), (2, 2, 1, 1)]
)
def test_pooling_ties_send_the_gradient_to_the_first_maximum(ph, pw, stride, pad):
    """Equal maxima in a window: the first in row-major order (top row first) gets dout."""
    x = np.zeros((1, 1, 6, 6))
    layer = Pooling(ph, pw, stride, pad)
    out = layer.forward(x)
    dout = np.arange(1.0, out.size + 1).reshape(out.shape)
    dx = layer.backward(dout)
    expected = np.zeros((6 + 2 * pad, 6 + 2 * pad))
    for y, x_ in np.ndindex(out.shape[2:]):
        # the first element of each window that is not padding
        top, left = y * stride, x_ * stride
        top, left = max(top, pad), max(left, pad)
        expected[top, left] += dout[0, 0, y, x_]
    np.testing.assert_array_equal(dx[0, 0], expected[pad : pad + 6, pad : pad + 6])


def test_pooling_tie_between_later_elements():
    # One 2x2 window [[1, 5], [5, 2]]: the maximum 5 is at positions 1 and 2; 1 is first.
    x = np.array([[[[1.0, 5.0], [5.0, 2.0]]]])
    for layer in (Pooling(2, 2, 2), Pooling(2, 2, 1)):  # the reshape path and im2col's
        layer.forward(x)
        assert layer.arg_max.tolist() == [1]
        np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0, 1], [0, 0]])


# ---------------------------------------------------------------- dtypes, layouts, inputs


@pytest.mark.parametrize("shape, filters, stride, pad", CONV_CASES, ids=CONV_IDS)
def test_convolution_float32(shape, filters, stride, pad):
    x, W, b = conv_case(shape, filters, seed=9)
    ref = Convolution(W, b, stride, pad)
    out64 = ref.forward(x)
    dout = np.random.default_rng(10).standard_normal(out64.shape)
    dx64 = ref.backward(dout)
    layer = Convolution(W.astype(np.float32), b.astype(np.float32), stride, pad)
    for x_in in (x, x.astype(np.float32), channels_last(x.astype(np.float32))):
        out = layer.forward(x_in)  # a float64 x is computed in the parameters' float32
        dx = layer.backward(dout)  # as is a float64 dout
        for ours, ref_ in ((out, out64), (dx, dx64), (layer.dW, ref.dW), (layer.db, ref.db)):
            assert ours.dtype == np.float32
            np.testing.assert_allclose(ours, ref_, rtol=1e-4, atol=1e-4)
    assert layer.forward(x.astype(np.int64)).dtype == np.float32


def test_pooling_dtypes():
    x = distinct_values((2, 3, 4, 4))
    for dtype in (np.float16, np.float32, np.float64):
        for layer in (Pooling(2, 2), Pooling(3, 3, 1, 1)):
            out = layer.forward(x.astype(dtype))
            assert out.dtype == dtype
            assert layer.backward(np.ones(out.shape)).dtype == dtype
    layer = Pooling(2, 2)
    assert layer.forward(np.arange(16).reshape(1, 1, 4, 4)).dtype == np.float64
    assert layer.forward(np.ones((1, 1, 2, 2), bool)).tolist() == [[[[1.0]]]]


@pytest.mark.parametrize("shape, filters, stride, pad", CONV_CASES, ids=CONV_IDS)
def test_convolution_any_memory_layout_and_read_only_inputs(shape, filters, stride, pad):
    x, W, b = conv_case(shape, filters, seed=11)
    ref = Convolution(W.copy(), b.copy(), stride, pad)
    out = ref.forward(x)
    dout = np.random.default_rng(12).standard_normal(out.shape)
    dx = ref.backward(dout)
    for a in (x, W, b, dout):
        a.flags.writeable = False
    before = [a.copy() for a in (x, W, b, dout)]
    layer = Convolution(W, b, stride, pad)
    for x_in, d_in in ((x, dout), (channels_last(x), channels_last(dout)), (x[..., ::-1], dout)):
        out2 = layer.forward(x_in)
        dx2 = layer.backward(d_in)
        if x_in.strides[-1] < 0:  # a reversed view: other values, checked against the book's
            book = BookConvolution(W, b, stride, pad)
            np.testing.assert_allclose(out2, book.forward(x_in), atol=1e-12)
            np.testing.assert_allclose(dx2, book.backward(d_in), atol=1e-12)
            continue
        np.testing.assert_allclose(out2, out, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(dx2, dx, rtol=1e-13, atol=1e-13)
    for a, old in zip((x, W, b, dout), before, strict=True):
        np.testing.assert_array_equal(a, old)


@pytest.mark.parametrize("shape, ph, pw, stride, pad", POOL_CASES, ids=POOL_IDS)
def test_pooling_any_memory_layout_and_read_only_inputs(shape, ph, pw, stride, pad):
    x = distinct_values(shape, seed=13)
    layer = Pooling(ph, pw, stride, pad)
    out = layer.forward(x)
    dout = np.random.default_rng(14).standard_normal(out.shape)
    dx = layer.backward(dout)
    x.flags.writeable = dout.flags.writeable = False
    before = (x.copy(), dout.copy())
    for x_in, d_in in ((x, dout), (channels_last(x), channels_last(dout))):
        np.testing.assert_array_equal(layer.forward(x_in), out)
        np.testing.assert_array_equal(layer.backward(d_in), dx)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(dout, before[1])


def test_outputs_are_views_of_channels_last_memory():
    x, W, b = conv_case((2, 3, 6, 6), (4, 3, 3))
    for layer in (Convolution(W, b, pad=1), Convolution(W, b, stride=3), Pooling(2, 2)):
        out = layer.forward(x)
        assert out.transpose(0, 2, 3, 1).strides[-1] == out.itemsize
        assert np.maximum(out, 0).transpose(0, 2, 3, 1).flags.c_contiguous  # as Relu hands on


def test_non_finite_values_pass_through_without_warnings():
    x, W, b = conv_case((2, 3, 6, 6), (2, 3, 3))
    x[0, 0, 2, 2], x[1, 1, 0, 0], x[1, 2, 3, 3] = np.nan, np.inf, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layer in (Convolution(W, b, pad=1), Convolution(W, b, stride=3), Pooling(2, 2)):
            out = layer.forward(x)
            assert np.isnan(out).any() and np.isfinite(out).any()
            layer.backward(np.full(out.shape, np.inf))
        huge = np.full((1, 3, 3, 3), 1e308)
        assert np.all(Convolution(np.abs(W), b).forward(huge) == np.inf)


# ---------------------------------------------------------------- the layer protocol


def test_get_config_round_trip_through_the_registry():
    x, W, b = conv_case((2, 3, 7, 9), (2, 3, 3))
    for layer in (Convolution(W, b, stride=2, pad=1), Pooling(3, 3, stride=2, pad=1)):
        name = type(layer).__name__
        assert LAYERS[name] is type(layer)
        arrays = {key: getattr(layer, key) for key in layer.param_names}
        again = LAYERS[name](**arrays, **layer.get_config())
        np.testing.assert_array_equal(again.forward(x), layer.forward(x))
    assert Convolution(W, b, stride=2, pad=1).get_config() == {"stride": 2, "pad": 1}
    assert Pooling(3, 2).get_config() == {"pool_h": 3, "pool_w": 2, "stride": 2, "pad": 0}
    assert Convolution.param_names == ("W", "b") and Pooling.param_names == ()
    assert repr(Pooling(3, 2)) == "Pooling(pool_h=3, pool_w=2, stride=2, pad=0)"
    assert "Convolution(in_channels=3, filters=2" in repr(Convolution(W, b))


@pytest.mark.parametrize("shape, filters, stride, pad", CONV_CASES, ids=CONV_IDS)
def test_input_grad_false_returns_none_and_still_fills_dW_and_db(shape, filters, stride, pad):
    x, W, b = conv_case(shape, filters, seed=15)
    layer = Convolution(W, b, stride, pad)
    dout = np.random.default_rng(16).standard_normal(layer.forward(x).shape)
    layer.backward(dout)
    dW, db = layer.dW, layer.db
    assert layer.backward(dout, input_grad=False) is None
    np.testing.assert_array_equal(layer.dW, dW)
    np.testing.assert_array_equal(layer.db, db)


def test_backward_before_forward():
    with pytest.raises(BackwardBeforeForwardError, match="Convolution.backward"):
        Convolution(np.ones((1, 1, 2, 2)), np.zeros(1)).backward(np.ones((1, 1, 1, 1)))
    with pytest.raises(BackwardBeforeForwardError, match="Pooling.backward"):
        Pooling(2, 2).backward(np.ones((1, 1, 1, 1)))


# ---------------------------------------------------------------- errors a learner reads


def test_convolution_errors_name_the_layer_and_the_shapes():
    W, b = np.ones((4, 3, 3, 3)), np.zeros(4)
    layer = Convolution(W, b, stride=2, pad=1)
    with pytest.raises(ValueError, match=r"Convolution.forward: expected images .*\(3, 7, 7\)"):
        layer.forward(np.ones((3, 7, 7)))
    with pytest.raises(
        ValueError, match=r"Convolution.forward: x must have 3 channels.*\(2, 1, 7, 7\)"
    ):
        layer.forward(np.ones((2, 1, 7, 7)))
    with pytest.raises(ValueError, match="Convolution.forward: the filter height 3 is larger"):
        Convolution(W, b).forward(np.ones((2, 3, 2, 5)))
    assert layer.forward(np.ones((2, 3, 7, 8))).shape == (2, 4, 4, 4)  # floor(7 / 2) + 1
    # Flat rows of 3*28*28 pixels are images: the hint says how to make them so.
    with pytest.raises(ValueError, match=r"use x\.reshape\(-1, 3, 28, 28\)"):
        layer.forward(np.ones((2, 3 * 28 * 28)))
    with pytest.raises(ValueError, match=r"Convolution.forward: .*\(0, 3, 7, 7\)"):
        layer.forward(np.ones((0, 3, 7, 7)))
    with pytest.raises(TypeError, match="Convolution.forward"):
        layer.forward(np.ones((2, 3, 7, 7), complex))
    layer.forward(np.ones((2, 3, 7, 7)))
    with pytest.raises(ValueError, match=r"Convolution.backward: dout must have .*\(2, 4, 4, 4\)"):
        layer.backward(np.ones((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"Convolution: W must be 4-D.*\(4, 27\)"):
        Convolution(W.reshape(4, -1), b)
    with pytest.raises(ValueError, match=r"Convolution: b must have shape \(4,\)"):
        Convolution(W, np.zeros(3))
    for bad in ({"stride": 0}, {"stride": 1.5}, {"pad": -1}, {"pad": "1"}):
        with pytest.raises(ValueError, match="Convolution: (stride|pad) must be a whole number"):
            Convolution(W, b, **bad)


def test_pooling_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"Pooling: pad must be smaller than the window \(3x2\)"):
        Pooling(3, 2, pad=2)
    for bad in ({"pool_h": 0}, {"pool_w": 2.5}, {"stride": 0}, {"pad": -1}):
        with pytest.raises(ValueError, match="Pooling: .* must be a whole number"):
            Pooling(**{"pool_h": 2, "pool_w": 2, **bad})
    layer = Pooling(2, 2)
    with pytest.raises(ValueError, match=r"Pooling.forward: expected images .*\(4, 4\)"):
        layer.forward(np.ones((4, 4)))
    assert layer.forward(np.ones((1, 1, 5, 4))).shape == (1, 1, 2, 2)  # row 4 in no window
    layer.forward(np.ones((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"Pooling.backward: dout must have .*\(1, 2, 2, 2\)"):
        layer.backward(np.ones((1, 2, 4, 4)))


# ---------------------------------------------------------------- differences from the book


def test_sizes_that_do_not_tile_are_floored_as_in_the_book():
    """The book's layers (and PyTorch) drop the last row and column that no window reaches."""
    x, W, b = conv_case((1, 3, 8, 8), (2, 3, 3))
    book = BookConvolution(W, b, stride=2).forward(x)
    assert book.shape == (1, 2, 3, 3)  # row 7 unused
    ours = Convolution(W, b, stride=2)
    np.testing.assert_allclose(ours.forward(x), book, rtol=1e-13, atol=1e-13)
    dx = ours.backward(np.ones(book.shape))
    assert np.all(dx[..., 7, :] == 0) and np.all(dx[..., :, 7] == 0)
    book = BookPooling(3, 3, stride=2).forward(x)
    assert book.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(Pooling(3, 3, stride=2).forward(x), book)
    # The 2x2 stride-2 pooling of the book's networks (its fast path) on odd sides.
    x = x[:, :, :7, :5]
    np.testing.assert_array_equal(Pooling(2, 2).forward(x), BookPooling(2, 2, 2).forward(x))


def test_regression_pooling_with_padding():
    """The book's Pooling computes the output size without pad, so pad > 0 fails."""
    x = distinct_values((1, 1, 4, 4))
    with pytest.raises(ValueError):
        BookPooling(2, 2, stride=2, pad=1).forward(x)
    out = Pooling(2, 2, stride=2, pad=1).forward(x)
    # Windows of the padded 6x6 image: padding (-inf) never wins.
    v = x[0, 0]
    expected = [
        [v[0, 0], v[0, 1:3].max(), v[0, 3]],
        [v[1:3, 0].max(), v[1:3, 1:3].max(), v[1:3, 3].max()],
        [v[3, 0], v[3, 1:3].max(), v[3, 3]],
    ]
    np.testing.assert_array_equal(out[0, 0], expected)
    # All-negative input: a zero padding would have won everywhere at the border.
    assert np.all(Pooling(3, 3, stride=1, pad=1).forward(-np.ones((1, 1, 3, 3))) == -1)


def test_regression_pooling_default_stride_is_two():
    """The book's default stride is 1; its networks always pass stride=2."""
    x = distinct_values((1, 1, 4, 4))
    assert Pooling(2, 2).stride == 2 and Pooling(2, 2).forward(x).shape == (1, 1, 2, 2)
    assert BookPooling(2, 2).forward(x).shape == (1, 1, 3, 3)


def test_regression_shifted_path_has_no_col():
    """With stride 1, 2*C >= FN and pad < filter no im2col matrix is built: col, col_W None."""
    x, W, b = conv_case((2, 3, 5, 5), (6, 3, 3))
    layer = Convolution(W, b, pad=1)
    layer.forward(x)
    assert layer.col is None and layer.col_W is None
    one_channel = Convolution(W[:, :1], b)
    one_channel.forward(x[:, :1])
    np.testing.assert_array_equal(one_channel.col, im2col(x[:, :1], 3, 3))
    np.testing.assert_array_equal(one_channel.col_W, W[:, :1].reshape(6, -1).T)


def test_regression_first_maximum_as_torch():
    """Ties: the first maximum gets the gradient, as PyTorch's max_pool2d (not split, not last)."""
    torch = pytest.importorskip("torch")
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0]]]])
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    layer = Pooling(2, 2)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 2))), xt.grad.numpy())
