"""Helpers of the book's ``common/util.py``: smoothing a loss curve, shuffling a dataset, and
``im2col``, ``col2im`` and ``conv_output_size``, which turn convolution into a matrix product
(chapter 7).

Inputs are never modified (read-only arrays are fine); results are new arrays.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import numpy.typing as npt

from ._checks import (
    InvalidParameterError,
    as_array,
    as_dtype,
    as_float_array,
    check_number,
    check_seed,
    quiet,
)
from .backend import get_array_module

__all__ = [
    "col2im",
    "conv_output_size",
    "im2col",
    "shuffle_dataset",
    "smooth_curve",
    "window_output_shape",
]


def smooth_curve(x: npt.ArrayLike) -> np.ndarray:
    """Smooth a curve (e.g. the loss per iteration) by a moving Kaiser-window average.

    The book's ``smooth_curve``: each point becomes the weighted mean of the 11 points centred
    on it, with the weights of a Kaiser window (``np.kaiser(11, 2)``) summing to 1. At the ends
    the curve is extended by its mirror image so that the result has the length of ``x``.

    Parameters
    ----------
    x : array_like, shape (n,)
        The curve, e.g. ``Trainer.train_loss_list`` (a list is fine).

    Returns
    -------
    ndarray, shape (n,)
        The smoothed curve, in ``x``'s float dtype (float64 for int or bool input). It is
        computed in float64 (the window is float64) and then cast, so a float32 result is the
        book's float64 result rounded to float32. A NaN spreads to the 11 points around it.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D.

    Notes
    -----
    For ``n >= 11`` the result is the book's, bit for bit, including its uneven mirroring:
    the start is reflected without repeating ``x[0]`` (``x[10], ..., x[1]``) and the end with
    ``x[-1]`` repeated (``x[-1], ..., x[-10]``).

    For ``n < 11`` the book's code returns a curve of the wrong length (an empty array for
    ``n <= 7``, 3 points for ``n = 8``) and fails for ``n = 0``. Here the window shrinks to the
    largest odd length ``<= n`` (a Kaiser window of that length, still with beta 2), so the
    result always has length ``n``: ``n = 1`` or ``2`` gives ``x`` unchanged and ``n = 0`` an
    empty array.
    """
    x = as_float_array(x, "smooth_curve")
    if x.ndim != 1:
        raise ValueError(
            f"smooth_curve: x must be a 1-D curve of shape (n,), got shape {x.shape}"
            + ("; pass one curve at a time, e.g. x[i]" if x.ndim > 1 else "")
        )
    if len(x) == 0:
        return x.copy()
    window_len = min(11, len(x) - 1 + len(x) % 2)  # odd, so that the window has a centre
    half = window_len // 2
    s = np.r_[x[window_len - 1 : 0 : -1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    with quiet():  # a window holding both inf and -inf gives NaN, without a warning
        y = np.convolve(w / w.sum(), s, mode="valid")
    return as_dtype(y[half : len(y) - half], x.dtype)


def shuffle_dataset(
    x: npt.ArrayLike, t: npt.ArrayLike, *, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle samples and their labels with one random permutation.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        Samples along the first axis, of any rank: (N, D) vectors, (N, C, H, W) images.
    t : array_like, shape (N,) or (N, C)
        Label indices or one-hot rows (any shape (N, ...) is shuffled the same way).
    seed : None, int or numpy.random.Generator, keyword-only
        Anything ``np.random.default_rng`` accepts: the same int gives the same permutation,
        None a fresh one, and a Generator is drawn from (and advanced), so that successive calls
        with one Generator give successive shuffles. NumPy's global random state is never used.

    Returns
    -------
    x, t : ndarray, ndarray
        New arrays with the shapes and dtypes of ``x`` and ``t`` (nothing is converted: this
        moves samples and computes nothing), where ``x[i]`` and ``t[i]`` are the input's
        ``x[p[i]]`` and ``t[p[i]]`` for one permutation ``p``.

    Raises
    ------
    ValueError
        If ``x`` or ``t`` is 0-d, or they hold different numbers of samples.
    InvalidParameterError
        If ``seed`` is not something ``np.random.default_rng`` accepts (a ValueError and a
        TypeError).

    Notes
    -----
    The book's version draws from ``np.random.permutation`` (the global state, so runs repeat
    only after ``np.random.seed``) and handles only 2-D or 4-D ``x``.
    """
    x = as_array(x, "shuffle_dataset", name="x")
    t = as_array(t, "shuffle_dataset", name="t")
    if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
        raise ValueError(
            "shuffle_dataset: x and t must hold the same number of samples N along their first "
            f"axis, shapes (N, ...) and (N,) or (N, C), got x of shape {x.shape} and t of shape "
            f"{t.shape}"
        )
    rng = check_seed(seed, "shuffle_dataset")
    permutation = rng.permutation(len(x))
    return x[permutation], t[permutation]


# ---------------------------------------------------------------- convolution as a matrix product


def _output_size(size, filter_size, stride, pad, where, axis):
    """``floor((size + 2*pad - filter_size) / stride) + 1``, or a ValueError naming ``where``.

    Floored, as the book's im2col and PyTorch compute it: where the windows do not tile the
    padded input, the last rows or columns that no window reaches are left out (their gradient
    is 0).
    """
    span = size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(
            f"{where}: the filter {axis} {filter_size} is larger than the padded input {axis} "
            f"{size} + 2*{pad} = {size + 2 * pad}; use a smaller filter, more padding or a "
            "larger input"
        )
    return span // stride + 1


def _check_window(filter_h, filter_w, stride, pad, where):
    """The window's sizes as ints: filters >= 1, stride >= 1, pad >= 0."""
    filter_h = check_number(filter_h, where, "filter_h", low=1, integer=True)
    filter_w = check_number(filter_w, where, "filter_w", low=1, integer=True)
    stride = check_number(stride, where, "stride", low=1, integer=True)
    pad = check_number(pad, where, "pad", low=0, integer=True)
    return filter_h, filter_w, stride, pad


def window_output_shape(
    shape: tuple[int, ...],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
    where: str = "window_output_shape",
    channels: int = 1,
) -> tuple[int, int]:
    """The output height and width of a convolution or pooling over images of ``shape``.

    :func:`conv_output_size` along both axes, with the shape checked first.

    Parameters
    ----------
    shape : tuple of int, (N, C, H, W)
        The images' shape.
    filter_h, filter_w : int
        The window's height and width.
    stride, pad : int
        As for :func:`conv_output_size`.
    where : str
        The name the errors start with (the layer or function being called).
    channels : int
        The channels the caller expects, used only for the hint of an error on flat rows.

    Returns
    -------
    (out_h, out_w) : tuple of int

    Raises
    ------
    ValueError
        ``shape`` is not four sizes >= 1 (with a hint on how to make images of flat rows), or
        the window is larger than the padded image.
    """
    if len(shape) != 4 or 0 in shape:
        raise ValueError(
            f"{where}: expected images of shape (N, C, H, W), all sizes >= 1, got shape "
            f"{tuple(shape)}" + _image_hint(shape, channels)
        )
    out_h = _output_size(shape[2], filter_h, stride, pad, where, "height")
    out_w = _output_size(shape[3], filter_w, stride, pad, where, "width")
    return out_h, out_w


def _image_hint(shape, channels):
    """How to make images of ``channels`` channels from an array of ``shape``, or ''."""
    if len(shape) == 2 and shape[1] % channels == 0:
        # Flat rows (N, 784) are square images flattened: (N, C, side, side).
        side = math.isqrt(shape[1] // channels)
        if side * side * channels == shape[1]:
            return f"; flat rows are images: use x.reshape(-1, {channels}, {side}, {side})"
    if len(shape) < 4:
        return "; for one image use x[None], for one channel x[:, None]"
    return ""


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """The output size of a convolution or pooling along one axis.

    ``floor((input_size + 2*pad - filter_size) / stride) + 1``, the book's formula (section
    7.2.4) floored, as the book's ``im2col`` and PyTorch's ``conv2d`` and ``max_pool2d``
    compute it: where the windows do not tile the padded input, the last rows that no window
    reaches are left out. A 3x3 filter with stride 2 and pad 1 gives 16 on 32 and 14 on 28.

    Returns
    -------
    int
        The book's returns a float (12.5 for ``conv_output_size(28, 5, 2)``); here 12.

    Raises
    ------
    ValueError
        If the filter does not fit into the padded input.
    InvalidParameterError
        If a size is not a whole number, ``input_size``, ``filter_size`` or ``stride`` < 1, or
        ``pad`` < 0.
    """
    where = "conv_output_size"
    input_size = check_number(input_size, where, "input_size", low=1, integer=True)
    filter_size = check_number(filter_size, where, "filter_size", low=1, integer=True)
    stride = check_number(stride, where, "stride", low=1, integer=True)
    pad = check_number(pad, where, "pad", low=0, integer=True)
    return _output_size(input_size, filter_size, stride, pad, where, "size")


def im2col(
    input_data: npt.ArrayLike, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """Unfold images into a matrix with one filter window per row (the book's section 7.4.3).

    Row ``(n, y, x)`` of the result holds the window of image ``n`` whose top-left corner is at
    ``(y*stride, x*stride)`` of the zero-padded image, flattened in the order (channel, filter
    row, filter column). A convolution is then ``im2col(x) @ W.reshape(FN, -1).T``.

    Parameters
    ----------
    input_data : array_like, shape (N, C, H, W)
        Images, in any memory layout (e.g. a transposed view of channels-last memory).
    filter_h, filter_w : int
        The window's height and width.
    stride : int, default 1
    pad : int, default 0
        Zeros added on every side of each image.

    Returns
    -------
    col : ndarray, shape (N*out_h*out_w, C*filter_h*filter_w)
        The book's layout: ``col[(n*out_h + y)*out_w + x, (c*filter_h + i)*filter_w + j]`` is
        the padded ``input_data[n, c, y*stride + i, x*stride + j]``. A new array in the
        input's float dtype (the book's is always float64; int or bool input gives float64).

    Raises
    ------
    ValueError
        If ``input_data`` is not 4-D or has an empty axis, or a window does not fit into the
        padded image. Windows that do not tile it leave out the last rows and columns (see
        :func:`conv_output_size`).
    """
    where = "im2col"
    x = as_float_array(input_data, where, name="input_data")
    filter_h, filter_w, stride, pad = _check_window(filter_h, filter_w, stride, pad, where)
    out_h, out_w = window_output_shape(x.shape, filter_h, filter_w, stride, pad, where)
    N = x.shape[0]
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)]) if pad else x
    # Every window as a view of img, shape (N, C, out_h, out_w, filter_h, filter_w): window
    # (y, x) starts stride rows and columns further on, and its pixel (i, j) one row and one
    # column further. The reshape below is the only copy (the book fills a zeroed array, then
    # copies it again to transpose). as_strided, which NumPy and CuPy both have; the view is
    # only read.
    sN, sC, sH, sW = img.strides
    windows = get_array_module(img).lib.stride_tricks.as_strided(
        img,
        (N, x.shape[1], out_h, out_w, filter_h, filter_w),
        (sN, sC, sH * stride, sW * stride, sH, sW),
    )
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * out_h * out_w, -1)


def col2im(
    col: npt.ArrayLike,
    input_shape: tuple[int, int, int, int],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> np.ndarray:
    """Fold a matrix of windows back into images, adding where windows overlap.

    The adjoint of :func:`im2col` (not its inverse): ``sum(im2col(x) * col) ==
    sum(x * col2im(col))`` for every ``x`` and ``col``. It turns the gradient with respect to
    the columns into the gradient with respect to the images.

    Parameters
    ----------
    col : array_like, shape (N*out_h*out_w, C*filter_h*filter_w)
        In :func:`im2col`'s layout.
    input_shape : tuple of 4 ints
        (N, C, H, W), the shape of the images the columns came from.
    filter_h, filter_w, stride, pad : int
        As given to :func:`im2col`.

    Returns
    -------
    ndarray, shape ``input_shape``
        A new array (perhaps a view of a padded one, as the book's) in ``col``'s float dtype.
        The padding's share is dropped.

    Raises
    ------
    ValueError
        If ``input_shape`` is not 4 sizes >= 1 that the window fits, or ``col`` does not have
        the shape those windows give. Pixels that no window reaches get 0.
    """
    where = "col2im"
    col = as_float_array(col, where, name="col")
    filter_h, filter_w, stride, pad = _check_window(filter_h, filter_w, stride, pad, where)
    try:
        shape = tuple(operator.index(s) for s in input_shape)
    except TypeError as err:
        raise InvalidParameterError(
            f"{where}: input_shape must be a tuple of whole numbers (N, C, H, W), "
            f"got {input_shape!r}"
        ) from err
    out_h, out_w = window_output_shape(shape, filter_h, filter_w, stride, pad, where)
    N, C, H, W = shape
    rows, columns = N * out_h * out_w, C * filter_h * filter_w
    if col.shape != (rows, columns):
        raise ValueError(
            f"{where}: col must have shape (N*out_h*out_w, C*filter_h*filter_w) = ({rows}, "
            f"{columns}) for input_shape {shape} with a {filter_h}x{filter_w} filter, stride "
            f"{stride} and pad {pad}, got {col.shape}"
        )
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = get_array_module(col).zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    with quiet():  # inf + -inf where windows overlap is NaN, without a warning
        for y in range(filter_h):
            y_max = y + stride * out_h
            for x in range(filter_w):
                x_max = x + stride * out_w
                img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]
