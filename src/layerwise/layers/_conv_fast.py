"""Fast kernels for :class:`~layerwise.layers.Convolution` and :class:`~layerwise.layers.Pooling`.

The layers in :mod:`layerwise.layers.conv` compute as the book does: im2col, one matrix product,
col2im; pooling by argmax over im2col's columns. For the sizes of the book's networks the same
functions can be computed with fewer copies. This module holds those kernels, one pair per layer,
and the one rule per layer that says when they apply:

- :func:`conv_fast_path`, :func:`conv_forward`, :func:`conv_backward`: stride-1 convolution as
  "filter-row products" over the images framed as flat pixel rows;
- :func:`pool_fast_path`, :func:`pool_forward`, :func:`pool_backward`: pooling windows that tile
  the image exactly (2x2, stride 2), as a reshape compared slot by slot.

``tests/test_conv_fast.py`` runs both paths on the same inputs and checks that the outputs and
every gradient agree to rounding.

Why the convolution is the same function
----------------------------------------
The book's forward is ``out = im2col(x) @ W.reshape(FN, -1).T + b``: output pixel ``(n, y, x)``
is ``sum_{c, i, j} W[f, c, i, j] * x_pad[n, c, y + i, x + j] + b[f]`` with ``x_pad`` the zero-padded
input. Write the images channels last, one after another, as flat rows of ``Wf`` pixels in a
zero frame (:func:`_framed`), so that pixel ``(y, x)`` of image ``n`` is frame row
``r = (n*Hf + pad + y)*Wf + pad + x``. Then tap ``(i, j)`` of the window whose corner is frame
row ``r`` is frame row ``r + i*Wf + j``, and the sum over taps is a sum of shifted products::

    out[r] = sum_i sum_j frame[r + i*Wf + j] @ W[:, :, i, j].T

im2col copies every window (FH*FW copies of the input); here each tap is a slice of the frame, so
the only copy is ``X3`` (:func:`_taps_in_rows`), which puts the FW taps of one filter row side
by side, making each filter row a single product with K = FW*C::

    out[r] = sum_i X3[r + i*Wf] @ Wr[i],   Wr[i][j*C + c, f] = W[f, c, i, j]

The frame is ``Hf = H + pad`` rows by ``Wf = W + pad`` columns per image: ``pad`` zero rows and
columns before each image's, and the band after one image pads the next one's start. Output rows
whose window reaches past an image's edge hold a mixture of neighbours and are never read: the
output is the ``(OH, OW)`` corner of each image's ``(Hf, Wf)`` block. That corner fits when
``pad < FH`` (then ``OH = H + 2*pad - FH + 1 <= Hf``), and likewise for the width; what a kept
window reads past its image's last row or column is the next image's band of zeros.

The backward pass uses the same frame. ``db[f] = sum_r dout[r, f]`` and
``dW[f, c, i, j] = sum_r dout[r, f] * frame[r + i*Wf + j, c]``, i.e. ``X3[r + i*Wf].T @ dout``
per filter row, with ``dout`` zero on the rows the forward did not keep. The book's
``col2im(dout @ W.reshape(FN, -1))`` adds each output's share back to the pixels its window
read; pixel ``p`` receives ``sum_{i, j} dout[p - i*Wf - j] @ W[:, :, i, j]``, the full
convolution of ``dout`` (padded by ``FH-1-pad``) with the filters turned by 180 degrees: the
forward's products again, over the framed ``dout``.

The rule (:func:`conv_fast_path`): stride 1 (with a larger stride the products would compute every
position and keep one in ``stride**2``), a pad smaller than the filter (so that the output fits
each image's block), and ``2*C >= FN``: each tap's product moves about ``N*Hf*Wf x FN`` numbers,
an im2col tap ``N*OH*OW x C``, so with few input channels (a network's first layer) im2col is
faster.

Why the pooling is the same function
------------------------------------
When ``pool_h == pool_w == stride`` the windows neither overlap nor leave gaps, so the padded
channels-last image, cut to the ``OH*pool`` rows and ``OW*pool`` columns that whole windows
cover (the floored output size), reshaped to ``(N, OH, ph, OW, pw, C)`` holds window
``(y, x)``'s slot ``k = i*pw + j`` at ``[:, y, i, x, j]``. The maximum is a running ``np.maximum``
over the slots; ``arg_max`` takes ``k`` where slot ``k`` is strictly greater than the running
maximum, so the first maximum in row-major order wins, as the book's ``np.argmax`` over im2col's
columns. The backward pass puts ``dout`` in the slot that held the maximum and 0 in the others;
no two windows share a pixel, so nothing is added up (col2im's sums are single terms)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "conv_backward",
    "conv_fast_path",
    "conv_forward",
    "pool_backward",
    "pool_fast_path",
    "pool_forward",
]


# ---------------------------------------------------------------- convolution


def conv_fast_path(W_shape: tuple[int, ...], stride: int, pad: int, xp: ModuleType = np) -> bool:
    """True when :func:`conv_forward` computes ``Convolution`` for filters of ``W_shape``.

    Stride 1, ``pad`` smaller than the filter, and at least half as many input channels as
    filters (see the module docstring for why), with NumPy arrays (``xp``, the module of the
    layer's arrays). On CuPy the book's im2col and one matrix product are used: a GPU at the
    book's sizes is bound by kernel launches, and one large product beats FH smaller ones.
    """
    FN, C, FH, FW = W_shape
    return xp is np and stride == 1 and pad < min(FH, FW) and 2 * C >= FN


def conv_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """The book's stride-1 ``im2col(x) @ W.reshape(FN, -1).T + b`` by filter-row products.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), in ``W``'s dtype
    W : ndarray, shape (FN, C, FH, FW)
    b : ndarray, shape (FN,)
    pad : int, smaller than FH and FW

    Returns
    -------
    out : ndarray, shape (N, FN, OH, OW)
        A transposed view of channels-last memory, as the book's ``Convolution`` returns.
    X3 : ndarray, shape (frame rows - FW + 1, FW*C)
        The rows of taps, the cache :func:`conv_backward` needs for ``dW``.
    """
    FN, C, FH, FW = W.shape
    N, _, H, Wd = x.shape
    Hf, Wf = H + pad, Wd + pad
    OH, OW = H + 2 * pad - FH + 1, Wd + 2 * pad - FW + 1
    X3 = _taps_in_rows(_framed(x.transpose(0, 2, 3, 1), Hf, Wf, FH, FW, pad, pad), FW)
    Wr = W.transpose(2, 3, 1, 0).reshape(FH, FW * C, FN)  # Wr[i][j*C + c, f] = W[f, c, i, j]
    out = _row_products(X3, Wr, Wf)
    out += b
    return out.reshape(N, Hf, Wf, FN)[:, :OH, :OW].transpose(0, 3, 1, 2), X3


def conv_backward(
    dout: np.ndarray,
    X3: np.ndarray,
    W: np.ndarray,
    x_shape: tuple[int, int, int, int],
    pad: int,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dx, dW, db)`` of :func:`conv_forward`, as the book's backward computes them.

    Parameters
    ----------
    dout : ndarray, shape (N, FN, OH, OW), in ``W``'s dtype
    X3 : ndarray
        The cache :func:`conv_forward` returned.
    W : ndarray, shape (FN, C, FH, FW)
    x_shape : (N, C, H, W)
    pad : int
    input_grad : bool, default True
        False skips ``dx`` (returned as None).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None
        A transposed view of channels-last memory.
    dW : ndarray, shape (FN, C, FH, FW)
    db : ndarray, shape (FN,)
    """
    FN, C, FH, FW = W.shape
    N, _, H, Wd = x_shape
    Hf, Wf = H + pad, Wd + pad
    qh, qw = FH - 1 - pad, FW - 1 - pad
    # dout padded by FH-1-pad for the full convolution that gives dx, in the forward's frame
    Dp = _framed(dout.transpose(0, 2, 3, 1), Hf, Wf, FH, FW, qh, qw)
    M = N * Hf * Wf
    D = Dp[qh * Wf + qw : qh * Wf + qw + M]  # dout on the forward's output rows, else 0
    db = np.einsum("mf->f", D)  # a column sum, 3-5x faster than np.sum(axis=0) on tall arrays
    dW = np.stack([X3[i * Wf : i * Wf + M].T @ D for i in range(FH)])  # (FH, FW*C, FN)
    dW = np.ascontiguousarray(dW.reshape(FH, FW, C, FN).transpose(3, 2, 0, 1))
    if not input_grad:
        return None, dW, db
    # Wflip[i][j*FN + f, c] = W[f, c, FH-1-i, FW-1-j]: the filters turned by 180 degrees
    Wflip = W[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(FH, FW * FN, C)
    dx = _row_products(_taps_in_rows(Dp, FW), Wflip, Wf)
    return dx.reshape(N, Hf, Wf, C)[:, :H, :Wd].transpose(0, 3, 1, 2), dW, db


def _framed(a, Hf, Wf, FH, FW, top, left):
    """``a`` (N, h, w, K) in a zero frame: flat rows of Wf pixels, Hf rows per image.

    Image n's pixel (y, x) lands on row ``(n*Hf + top + y)*Wf + left + x`` of the returned
    (N*Hf*Wf + (FH-1)*Wf + FW-1, K) array; every other row is zero, so one band of zeros between
    neighbouring images pads both, and the rows after the last image let the last window read.
    """
    N = len(a)
    flat = np.zeros((N * Hf * Wf + (FH - 1) * Wf + FW - 1, a.shape[-1]), dtype=a.dtype)
    flat[: N * Hf * Wf].reshape(N, Hf, Wf, -1)[:, top:, left:] = a
    return flat


def _taps_in_rows(X, FW):
    """(R, C) -> (R - FW + 1, FW*C): row r is ``X[r], X[r + 1], ..., X[r + FW - 1]`` side by side.

    Over a framed image, row r then holds the FW taps of one filter row at pixel r, so a filter
    row is one product with K = FW*C; FW products with K = C would read and write the output FW
    times.
    """
    C = X.shape[1]
    return np.ascontiguousarray(sliding_window_view(X.reshape(-1), FW * C)[::C])


def _row_products(X3, Wr, Wf):
    """``out = sum_i X3[i*Wf : i*Wf + M] @ Wr[i]``, (M, K) with M = len(X3) - (FH-1)*Wf.

    X3 (rows, FW*C) from :func:`_taps_in_rows` over a frame Wf pixels wide; Wr (FH, FW*C, K).
    Filter row i reads the rows i*Wf further on: a slice, no copy.
    """
    FH = len(Wr)
    M = len(X3) - (FH - 1) * Wf
    out = np.matmul(X3[:M], Wr[0])
    for i in range(1, FH):
        out += X3[i * Wf : i * Wf + M] @ Wr[i]
    return out


# ---------------------------------------------------------------- pooling


def pool_fast_path(pool_h: int, pool_w: int, stride: int, xp: ModuleType = np) -> bool:
    """True when :func:`pool_forward` computes ``Pooling``: windows that tile without overlap.

    NumPy arrays only (``xp``): on CuPy, im2col's ``argmax`` over each window's row is one
    kernel where the slot-by-slot comparison here launches several per slot.
    """
    return xp is np and pool_h == pool_w == stride


def pool_forward(x: np.ndarray, pool: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over ``pool x pool`` windows with stride ``pool``, and the book's ``arg_max``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), floating
    pool : int
        The window's height, width and stride.
    pad : int
        -inf added on every side, so that padding never wins.

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW)
        A transposed view of channels-last memory, in ``x``'s dtype.
    arg_max : ndarray, shape (N*OH*OW*C,)
        The book's ``arg_max`` (slot ``i*pool + j`` of each window's first maximum, windows in
        the order (n, y, x, c)), in the smallest unsigned dtype that holds it.
    """
    N, C, H, W = x.shape
    OH, OW = (H + 2 * pad) // pool, (W + 2 * pad) // pool
    # Rows and columns past the last whole window are left out (the floored output size);
    # splitting the axes of the cropped view copies nothing.
    padded = _channels_last(x, pad, -np.inf)[:, : OH * pool, : OW * pool]
    windows = padded.reshape(N, OH, pool, OW, pool, C)
    out = windows[:, :, 0, :, 0].copy()
    arg_max = np.zeros(out.shape, dtype=np.min_scalar_type(pool * pool))
    for k in range(1, pool * pool):
        value = windows[:, :, k // pool, :, k % pool]
        greater = value > out  # strictly greater: the first maximum wins
        # arg_max = k where greater, by arithmetic: a masked copyto branches per element
        arg_max *= ~greater
        arg_max += greater * arg_max.dtype.type(k)
        np.maximum(out, value, out=out)
    return out.transpose(0, 3, 1, 2), arg_max.reshape(-1)


def pool_backward(
    dout: np.ndarray, arg_max: np.ndarray, x_shape: tuple[int, int, int, int], pool: int, pad: int
) -> np.ndarray:
    """``dx`` of :func:`pool_forward`: ``dout`` at each window's maximum, 0 elsewhere.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW), in the input's dtype
    arg_max : ndarray, shape (N*OH*OW*C,), from :func:`pool_forward`
    x_shape : (N, C, H, W)
    pool, pad : int, as given to :func:`pool_forward`

    Returns
    -------
    ndarray, shape (N, C, H, W)
        A transposed view of channels-last memory. An infinite ``dout`` gives NaN (``inf * 0``)
        in the window's other slots, as :class:`~layerwise.layers.Relu` does; call it under
        ``quiet()`` to silence NumPy's warning.
    """
    N, C, H, W = x_shape
    dout = dout.transpose(0, 2, 3, 1)  # (N, OH, OW, C), in arg_max's order
    OH, OW = dout.shape[1:3]
    dx = np.empty((N, OH, pool, OW, pool, C), dtype=dout.dtype)
    arg_max = arg_max.reshape(dout.shape)
    for k in range(pool * pool):
        # dout where slot k held the maximum: multiplying by the mask, not np.where's branch
        np.multiply(dout, arg_max == k, out=dx[:, :, k // pool, :, k % pool])
    dx = dx.reshape(N, OH * pool, OW * pool, C)
    if OH * pool < H + 2 * pad or OW * pool < W + 2 * pad:  # rows no window reached get 0
        whole = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=dx.dtype)
        whole[:, : OH * pool, : OW * pool] = dx
        dx = whole
    return dx[:, pad : pad + H, pad : pad + W].transpose(0, 3, 1, 2)


def _channels_last(x, pad, fill):
    """``x`` (N, C, H, W) as (N, H + 2*pad, W + 2*pad, C), padded with ``fill``.

    Without padding this is a transposed view of ``x`` (no copy): a layer's output already is
    channels-last memory.
    """
    xt = x.transpose(0, 2, 3, 1)
    if pad == 0:
        return xt
    N, H, W, C = xt.shape
    x_pad = np.full((N, H + 2 * pad, W + 2 * pad, C), fill, dtype=x.dtype)
    x_pad[:, pad : pad + H, pad : pad + W] = xt
    return x_pad
