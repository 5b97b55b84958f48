"""The helpers of the book's common/util.py: smooth_curve, shuffle_dataset, im2col, col2im and
conv_output_size.

``book_smooth_curve`` and ``book_shuffle_dataset`` below, and ``book_im2col`` (from
``benchmarks/textbook.py``), are the book's code as it stands in ``common/util.py``; every
departure from them has a ``test_regression_*``.
"""

import warnings

import numpy as np
import pytest
import textbook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerwise._checks import InvalidParameterError
from layerwise.util import (
    col2im,
    conv_output_size,
    im2col,
    shuffle_dataset,
    smooth_curve,
    window_output_shape,
)

# ---------------------------------------------------------------- the book's code, for comparison


def book_smooth_curve(x):
    window_len = 11
    s = np.r_[x[window_len - 1 : 0 : -1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5 : len(y) - 5]


def book_shuffle_dataset(x, t):
    permutation = np.random.permutation(x.shape[0])  # noqa: NPY002 (the book's global state)
    x = x[permutation, :] if x.ndim == 2 else x[permutation, :, :, :]
    t = t[permutation]
    return x, t


# ---------------------------------------------------------------- smooth_curve


@pytest.mark.parametrize("n", [11, 12, 13, 50, 1000])
def test_smooth_curve_is_the_books_bit_for_bit(n):
    x = np.random.default_rng(n).random(n) * np.linspace(3, 1, n)  # a falling, noisy loss
    out = smooth_curve(x)
    assert out.dtype == np.float64 and out.shape == (n,)
    np.testing.assert_array_equal(out, book_smooth_curve(x))
    # The book smooths Trainer's train_loss_list, a Python list.
    np.testing.assert_array_equal(smooth_curve(list(x)), book_smooth_curve(list(x)))


def test_smooth_curve_dtypes():
    x32 = np.random.default_rng(0).random(30).astype(np.float32)
    out = smooth_curve(x32)
    # Computed in float64 like the book's (its window is float64), then rounded to float32.
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, book_smooth_curve(x32).astype(np.float32))
    ints = np.arange(20)
    assert smooth_curve(ints).dtype == np.float64
    np.testing.assert_array_equal(smooth_curve(ints), book_smooth_curve(ints))
    assert smooth_curve(np.ones(12, bool)).dtype == np.float64


def test_smooth_curve_keeps_constants_and_straight_lines():
    np.testing.assert_allclose(smooth_curve(np.full(20, 2.5)), 2.5, rtol=1e-15)
    # The window is symmetric, so away from the ends a straight line is unchanged.
    line = 3.0 * np.arange(40) - 7.0
    np.testing.assert_allclose(smooth_curve(line)[5:-5], line[5:-5], rtol=1e-13)


def test_smooth_curve_by_hand_for_three_points():
    # n = 3: the window shrinks to 3, weights (k, 1, k) / (1 + 2k) with k = np.kaiser(3, 2)[0]
    # = 1 / I0(2) = 0.4387, and the mirrored ends give c, b | a, b, c | c, b.
    a, b, c = 1.0, 4.0, 2.0
    k = np.kaiser(3, 2)[0]
    expected = [
        (k * b + a + k * b) / (1 + 2 * k),
        (k * a + b + k * c) / (1 + 2 * k),
        (k * b + c + k * c) / (1 + 2 * k),
    ]
    np.testing.assert_allclose(smooth_curve([a, b, c]), expected, rtol=1e-15)


def test_regression_smooth_curve_short_input_keeps_its_length():
    """The book's smooth_curve gives a wrong-length curve for n < 11 and fails for n = 0."""
    for n in range(1, 11):
        x = np.random.default_rng(n).random(n)
        assert len(book_smooth_curve(x)) != n
        out = smooth_curve(x)
        assert out.shape == (n,)
        assert np.all((x.min() <= out) & (out <= x.max()))  # a weighted mean of x's values
    with pytest.raises(ValueError):
        book_smooth_curve(np.zeros(0))
    out = smooth_curve(np.zeros(0, np.float32))
    assert out.shape == (0,) and out.dtype == np.float32
    # One or two points: the window shrinks to one point, which leaves x as it is.
    np.testing.assert_array_equal(smooth_curve([0.3]), [0.3])
    np.testing.assert_array_equal(smooth_curve([0.3, 0.7]), [0.3, 0.7])


def test_smooth_curve_refuses_anything_but_one_curve():
    with pytest.raises(ValueError, match=r"smooth_curve: x must be a 1-D curve.*\(2, 11\)"):
        smooth_curve(np.zeros((2, 11)))
    with pytest.raises(ValueError, match=r"smooth_curve: .*shape \(\)"):
        smooth_curve(1.0)
    with pytest.raises(TypeError, match="smooth_curve"):
        smooth_curve(np.ones(12, complex))


def test_smooth_curve_nan_spreads_to_its_window_only_and_does_not_warn():
    x = np.zeros(30)
    x.flags.writeable = False
    x_nan = x.copy()
    x_nan[15] = np.nan
    x_inf = x.copy()
    x_inf[[14, 16]] = [np.inf, -np.inf]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(np.flatnonzero(np.isnan(smooth_curve(x_nan))), range(10, 21))
        assert np.isnan(smooth_curve(x_inf)[15])  # inf and -inf in one window
        assert smooth_curve(x).flags.writeable


# ---------------------------------------------------------------- shuffle_dataset


def test_shuffle_dataset_moves_samples_and_labels_together():
    n = 50
    x = np.arange(n * 6).reshape(n, 2, 3)  # x[i] holds 6i .. 6i + 5
    t = np.arange(n)
    x_out, t_out = shuffle_dataset(x, t, seed=0)
    np.testing.assert_array_equal(x_out, x[t_out])
    np.testing.assert_array_equal(np.sort(t_out), t)
    assert not np.array_equal(t_out, t)
    assert x_out.dtype == x.dtype and t_out.dtype == t.dtype


def test_shuffle_dataset_seeds():
    x, t = np.random.default_rng(0).random((40, 3)), np.arange(40)
    first = shuffle_dataset(x, t, seed=7)
    again = shuffle_dataset(x, t, seed=7)
    other = shuffle_dataset(x, t, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    # A Generator is advanced: successive shuffles differ and repeat with a fresh copy.
    rng = np.random.default_rng(3)
    one, two = shuffle_dataset(x, t, seed=rng)[1], shuffle_dataset(x, t, seed=rng)[1]
    assert not np.array_equal(one, two)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(shuffle_dataset(x, t, seed=rng)[1], one)
    np.testing.assert_array_equal(shuffle_dataset(x, t, seed=rng)[1], two)
    assert np.array_equal(np.sort(shuffle_dataset(x, t)[1]), t)  # seed None: a fresh order


def test_shuffle_dataset_returns_copies_of_read_only_inputs():
    x = np.arange(24, dtype=np.uint8).reshape(4, 1, 2, 3)
    t = np.eye(4, dtype=np.float32)[[3, 1, 0, 2]]
    x.flags.writeable = t.flags.writeable = False
    x_before, t_before = x.copy(), t.copy()
    x_out, t_out = shuffle_dataset(x, t, seed=1)
    assert x_out.dtype == np.uint8 and t_out.dtype == np.float32
    assert x_out.shape == x.shape and t_out.shape == t.shape
    x_out[...] = 0
    t_out[...] = 0
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(t, t_before)


def test_shuffle_dataset_errors_name_it():
    with pytest.raises(ValueError, match=r"shuffle_dataset: .*\(5, 3\).*\(4,\)"):
        shuffle_dataset(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="shuffle_dataset"):
        shuffle_dataset(np.float64(1.0), np.zeros(1))
    for seed in (-1, 1.5, "abc"):
        with pytest.raises(InvalidParameterError, match="shuffle_dataset: seed"):
            shuffle_dataset(np.zeros(3), np.zeros(3), seed=seed)
    with pytest.raises(TypeError, match="positional"):
        shuffle_dataset(np.zeros(3), np.zeros(3), 0)  # seed is keyword-only


def test_regression_shuffle_dataset_leaves_the_global_random_state_alone():
    """The book's version draws from np.random's global state, so it is seeded only globally."""
    x, t = np.zeros((10, 2)), np.arange(10)

    def global_state():  # the key and the position in it: a draw may move either alone
        _, key, pos, *_ = np.random.get_state()  # noqa: NPY002 (the global state is tested)
        return key.copy(), pos

    key, pos = global_state()
    shuffle_dataset(x, t, seed=0)
    shuffle_dataset(x, t)
    np.testing.assert_array_equal(global_state()[0], key)
    assert global_state()[1] == pos
    book_shuffle_dataset(x, t)
    key_after, pos_after = global_state()
    assert pos_after != pos or not np.array_equal(key_after, key)


def test_regression_shuffle_dataset_any_rank():
    """The book's version handles 2-D and 4-D x only: 1-D and 3-D x raise IndexError."""
    t = np.arange(6)
    for shape in [(6,), (6, 4, 5), (6, 1, 2, 3, 2)]:
        x = np.arange(np.prod(shape)).reshape(shape)
        if len(shape) in (1, 3):
            with pytest.raises(IndexError):
                book_shuffle_dataset(x, t)
        x_out, t_out = shuffle_dataset(x, t, seed=2)
        np.testing.assert_array_equal(x_out, x[t_out])


# ---------------------------------------------------------------- properties

SETTINGS = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
DTYPES = (np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_)


@st.composite
def arrays(draw, shape, nonfinite=True):
    """An array of ``shape``: moderate, huge and (if ``nonfinite``) NaN/inf values."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype.kind != "f":
        return draw(hnp.arrays(dtype, shape))
    info = np.finfo(dtype)
    elements = st.floats(-50, 50, width=info.bits)
    if nonfinite:
        elements |= st.sampled_from([float(info.max), -float(info.max), np.nan, np.inf, -np.inf])
    return draw(hnp.arrays(dtype, shape, elements=elements))


def run(fn, *args, **kwargs):
    """``fn(*args)`` with read-only inputs, failing on any warning or modified input."""
    for a in args:
        a.flags.writeable = False
    before = [a.tobytes() for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(*args, **kwargs)
    assert [a.tobytes() for a in args] == before
    return out


@SETTINGS
@given(data=st.data(), n=st.integers(0, 40), nonfinite=st.booleans())
def test_smooth_curve_properties(data, n, nonfinite):
    x = data.draw(arrays((n,), nonfinite=nonfinite))
    out = run(smooth_curve, x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    assert out.shape == (n,) and out.dtype == dtype
    if n >= 11:
        with np.errstate(over="ignore", invalid="ignore"):
            expected = book_smooth_curve(x).astype(dtype)
        np.testing.assert_array_equal(out, expected)
    finite = x.astype(np.float64)
    if n and np.all(np.abs(finite) <= 50):
        # Each point is a weighted mean of x's values (positive weights summing to 1).
        lo, hi = finite.min(), finite.max()
        assert np.all((lo - 1e-9 * (1 + abs(lo)) <= out) & (out <= hi + 1e-9 * (1 + abs(hi))))


@SETTINGS
@given(
    data=st.data(),
    x_shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    t_extra=st.sampled_from([(), (3,)]),
    seed=st.integers(0, 2**32),
)
def test_shuffle_dataset_properties(data, x_shape, t_extra, seed):
    n = x_shape[0]
    x = data.draw(arrays(x_shape))
    t = data.draw(arrays((n, *t_extra)))
    x_out, t_out = run(shuffle_dataset, x, t, seed=seed)
    assert (x_out.shape, x_out.dtype, t_out.shape, t_out.dtype) == (
        x.shape,
        x.dtype,
        t.shape,
        t.dtype,
    )
    # The permutation depends only on N and the seed: shuffling the indices recovers it.
    order = shuffle_dataset(np.arange(n), np.arange(n), seed=seed)[1]
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    assert x_out.tobytes() == x[order].tobytes() and t_out.tobytes() == t[order].tobytes()
    # Samples and labels of different lengths are refused, naming the function.
    with pytest.raises(ValueError, match="shuffle_dataset"):
        shuffle_dataset(x, t[:-1] if n else np.zeros(1), seed=seed)


# ---------------------------------------------------------------- im2col, col2im, conv_output_size


# The book's im2col (common/util.py) as benchmarks/textbook.py writes it out: always float64,
# floor division for the sizes.
book_im2col = textbook.im2col


def loop_im2col(x, fh, fw, stride, pad):
    """im2col by its definition, one element at a time."""
    N, C, H, W = x.shape
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), x.dtype)
    xp[:, :, pad : pad + H, pad : pad + W] = x
    col = np.zeros((N * oh * ow, C * fh * fw), x.dtype)
    for n, y, x_, c, i, j in np.ndindex(N, oh, ow, C, fh, fw):
        col[(n * oh + y) * ow + x_, (c * fh + i) * fw + j] = xp[
            n, c, y * stride + i, x_ * stride + j
        ]
    return col


def loop_col2im(col, shape, fh, fw, stride, pad):
    """col2im by its definition: each column entry added back where im2col took it from."""
    N, C, H, W = shape
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), col.dtype)
    for n, y, x_, c, i, j in np.ndindex(N, oh, ow, C, fh, fw):
        xp[n, c, y * stride + i, x_ * stride + j] += col[
            (n * oh + y) * ow + x_, (c * fh + i) * fw + j
        ]
    return xp[:, :, pad : pad + H, pad : pad + W]


# (N, C, H, W), filter_h, filter_w, stride, pad: every size tiles.
IM2COL_CASES = [
    ((2, 3, 5, 5), 3, 3, 1, 0),
    ((2, 3, 5, 5), 3, 3, 1, 1),
    ((1, 1, 6, 8), 5, 3, 1, 2),  # batch 1, one channel, rectangular filter, non-square image
    ((2, 2, 7, 9), 3, 3, 2, 1),
    ((3, 4, 6, 4), 2, 2, 2, 0),
    ((1, 2, 8, 5), 4, 3, 2, 2),
    ((2, 1, 4, 7), 1, 1, 3, 0),
    ((1, 3, 3, 3), 3, 3, 1, 0),  # one window covers the image
]


@pytest.mark.parametrize("shape, fh, fw, stride, pad", IM2COL_CASES)
def test_im2col_and_col2im_against_loops_and_the_book(shape, fh, fw, stride, pad):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    col = im2col(x, fh, fw, stride, pad)
    np.testing.assert_array_equal(col, loop_im2col(x, fh, fw, stride, pad))
    np.testing.assert_array_equal(col, book_im2col(x, fh, fw, stride, pad))
    # The same from channels-last memory, as the layers hand their outputs on.
    x_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(im2col(x_last, fh, fw, stride, pad), col)
    c = rng.standard_normal(col.shape)
    img = col2im(c, shape, fh, fw, stride, pad)
    assert img.shape == shape and img.dtype == np.float64
    # The same sums in another order: equal to rounding.
    np.testing.assert_allclose(img, loop_col2im(c, shape, fh, fw, stride, pad), atol=1e-14)


@pytest.mark.parametrize("shape, fh, fw, stride, pad", IM2COL_CASES)
def test_col2im_is_the_adjoint_of_im2col(shape, fh, fw, stride, pad):
    rng = np.random.default_rng(len(shape) + fh * fw + stride + pad)
    x = rng.standard_normal(shape)
    c = rng.standard_normal(im2col(x, fh, fw, stride, pad).shape)
    lhs = np.sum(im2col(x, fh, fw, stride, pad) * c)
    rhs = np.sum(x * col2im(c, shape, fh, fw, stride, pad))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_im2col_by_hand():
    # One 3x3 image, 2x2 windows, stride 1: four windows, read row by row.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(
        im2col(x, 2, 2), [[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]]
    )
    # col2im adds each entry back where it came from: the centre is in all four windows.
    np.testing.assert_array_equal(
        col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2)[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    )


def test_regression_im2col_and_col2im_keep_the_dtype():
    """The book's im2col and col2im always allocate float64."""
    x = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    assert book_im2col(x, 3, 3, 1, 1).dtype == np.float64
    for dtype in (np.float16, np.float32, np.float64):
        col = im2col(x.astype(dtype), 3, 3, 1, 1)
        assert col.dtype == dtype
        assert col2im(col, x.shape, 3, 3, 1, 1).dtype == dtype
    assert im2col(np.ones((1, 1, 2, 2), np.int8), 2, 2).dtype == np.float64
    assert im2col(np.ones((1, 1, 2, 2), bool), 2, 2).tolist() == [[1.0, 1.0, 1.0, 1.0]]


def test_im2col_and_col2im_leave_read_only_inputs_alone():
    x = np.random.default_rng(1).random((2, 2, 5, 5))
    x.flags.writeable = False
    col = run(lambda x: im2col(x, 3, 3, stride=2, pad=1), x)
    img = run(lambda col: col2im(col, x.shape, 3, 3, stride=2, pad=1), col)
    assert img.shape == x.shape


def test_conv_output_size():
    assert conv_output_size(28, 5) == 24 and type(conv_output_size(28, 5)) is int
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(7, 3, 2, 1) == 4
    assert conv_output_size(4, 4) == 1
    assert conv_output_size(np.int64(9), 3, stride=np.int32(3)) == 3


def test_regression_conv_output_size_is_the_floored_int():
    """The book's conv_output_size returns (28 - 5) / 2 + 1 = 12.5 where windows do not tile;
    its im2col and PyTorch floor it to 12."""
    book = (28 + 2 * 0 - 5) / 2 + 1
    assert book == 12.5
    assert conv_output_size(28, 5, 2) == 12 and type(conv_output_size(28, 5, 2)) is int
    # ResNet's downsampling, its 1x1 shortcut and its 7x7 stem, as PyTorch sizes them
    assert conv_output_size(32, 3, 2, 1) == 16 and conv_output_size(28, 3, 2, 1) == 14
    assert conv_output_size(32, 1, 2) == 16 and conv_output_size(224, 7, 2, 3) == 112
    assert conv_output_size(5, 2, 2, 1) == 3
    with pytest.raises(ValueError, match=r"conv_output_size: the filter size 7 is larger"):
        conv_output_size(5, 7)
    assert conv_output_size(5, 7, pad=1) == 1


@pytest.mark.parametrize(
    "args", [(0, 3), (5, 0), (5, 3, 0), (5, 3, 1, -1), (5.5, 3), (5, 3, True), ("5", 3)]
)
def test_conv_output_size_refuses_bad_numbers(args):
    with pytest.raises(InvalidParameterError, match="conv_output_size"):
        conv_output_size(*args)


def test_im2col_and_col2im_errors_name_them():
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(
        ValueError, match=r"im2col: expected images of shape \(N, C, H, W\).*x\[None\]"
    ):
        im2col(x[0], 3, 3)
    with pytest.raises(ValueError, match=r"im2col: .*\(0, 3, 5, 5\)"):
        im2col(x[:0], 3, 3)
    with pytest.raises(ValueError, match="im2col: the filter width 6 is larger"):
        im2col(x, 3, 6)
    assert im2col(x, 2, 1, stride=2).shape == (2 * 2 * 3, 3 * 2)  # floor(3 / 2) + 1 = 2
    with pytest.raises(ValueError, match=r"im2col: .*use x\.reshape\(-1, 1, 28, 28\)"):
        im2col(np.zeros((2, 784)), 3, 3)
    with pytest.raises(InvalidParameterError, match="im2col: stride"):
        im2col(x, 3, 3, stride=0)
    with pytest.raises(TypeError, match="im2col"):
        im2col(x.astype(complex), 3, 3)
    col = im2col(x, 3, 3, pad=1)
    with pytest.raises(ValueError, match=r"col2im: col must have shape .*\(50, 27\).*\(50, 26\)"):
        col2im(col[:, :-1], x.shape, 3, 3, pad=1)
    with pytest.raises(ValueError, match=r"col2im: expected images"):
        col2im(col, (2, 3, 5), 3, 3, pad=1)
    with pytest.raises(InvalidParameterError, match="col2im: input_shape"):
        col2im(col, (2, 3, 5, 5.0), 3, 3, pad=1)
    with pytest.raises(ValueError, match=r"col2im: col must have shape .*\(18, 27\)"):
        col2im(col, (2, 3, 5, 6), 3, 3, stride=2, pad=1)


@SETTINGS
@given(
    data=st.data(),
    shape=st.tuples(*(st.integers(1, 3),) * 2, *(st.integers(1, 7),) * 2),
    fh=st.integers(1, 4),
    fw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
)
def test_im2col_and_col2im_properties(data, shape, fh, fw, stride, pad):
    x = data.draw(arrays(shape))
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    spans = [size + 2 * pad - f for size, f in zip(shape[2:], (fh, fw), strict=True)]
    if min(spans) < 0:
        with pytest.raises(ValueError, match="im2col"):
            im2col(x, fh, fw, stride, pad)
        return
    col = run(lambda x: im2col(x, fh, fw, stride, pad), x)
    assert col.dtype == dtype
    assert col.tobytes() == loop_im2col(x.astype(dtype), fh, fw, stride, pad).tobytes()
    img = run(lambda col: col2im(col, shape, fh, fw, stride, pad), col)
    assert img.shape == shape and img.dtype == dtype


def test_window_output_shape_is_conv_output_size_on_both_axes():
    assert window_output_shape((2, 3, 28, 32), 5, 3, 2, 1) == (
        conv_output_size(28, 5, 2, 1),
        conv_output_size(32, 3, 2, 1),
    )
    with pytest.raises(ValueError, match=r"^Pool: expected images .* x.reshape\(-1, 1, 28, 28\)"):
        window_output_shape((4, 784), 2, 2, where="Pool")
    with pytest.raises(ValueError, match="window_output_shape: .*larger"):
        window_output_shape((1, 1, 4, 4), 7, 1)
