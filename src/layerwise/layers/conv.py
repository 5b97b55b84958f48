"""The convolution and pooling layers of the book's chapter 7 (sections 7.4.3 and 7.4.4).

Activations are (N, C, H, W) arrays, as in the book, but the arrays these layers return are
transposed views of channels-last (N, H, W, C) memory. The book's own ``Convolution`` already
returns such a view (``out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)``); here the
next layers make use of it: NumPy's elementwise layers (Relu) keep the layout, and convolution
and pooling read channels-last input without a transposing copy.

Differences from the book's ``common/layers.py``, each with a ``test_regression_*``:

- Sizes that the windows do not tile raise a ValueError naming sizes that do (see
  :func:`layerwise.util.conv_output_size`); the book's drops the last rows and columns.
- ``Pooling`` pads with -inf, so padding never wins; the book's computes the wrong output
  shape for ``pad > 0`` and fails. Its default stride is 2 (the book's 1; the book's networks
  always pass ``stride=2``).
- Where a pooling window holds several equal maxima, the gradient goes to the first in
  row-major order (as in PyTorch and as the book's ``argmax``).
- ``Convolution`` with stride 1, at least half as many input channels as filters and a pad
  smaller than the filter computes without im2col (see :class:`Convolution`), so its ``col``
  and ``col_W`` are then None.
- ``backward(dout, input_grad=False)`` skips the gradient with respect to the input.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import as_dtype, as_float_array, check_dout, check_number, quiet
from ..util import _output_shape, col2im, im2col
from .base import Layer, register_layer


def _channels_last(x, pad, fill, dtype):
    """``x`` (N, C, H, W) as (N, H + 2*pad, W + 2*pad, C), padded with ``fill``, in ``dtype``.

    Without padding or a cast this is a transposed view of ``x`` (no copy).
    """
    xt = x.transpose(0, 2, 3, 1)
    if pad == 0 and xt.dtype == dtype:
        return xt
    N, H, W, C = xt.shape
    xp = np.full((N, H + 2 * pad, W + 2 * pad, C), fill, dtype=dtype)
    xp[:, pad : pad + H, pad : pad + W] = xt  # float64 beyond float32's range becomes inf
    return xp


def _column_sums(a):
    """``np.sum(a, axis=0)`` of a tall (rows, FN) array: the same sums, 3-5x faster.

    For such shapes ``np.sum`` takes 1.7 ms (DeepConvNet's Conv2, 89,938 x 16 float32) and 1.2 ms
    (SimpleConvNet's Conv1, 57,600 x 30, a strided view), einsum 0.3-0.4 ms: SimpleConvNet's
    training step went from 21.6 to 19.6 ms (A/B, one BLAS thread).
    """
    return np.einsum("mf->f", a)


def _framed(a, N, Hf, Wf, FH, FW, top, left):
    """``a`` (N, h, w, K) in a zero frame: flat rows of Wf pixels, Hf rows per image.

    Image n's pixel (y, x) lands on row ``(n*Hf + top + y)*Wf + left + x`` of the returned
    (N*Hf*Wf + (FH-1)*Wf + FW-1, K) array; every other row is zero, so one band of zeros between
    neighbouring images pads both, and the rows after the last image let the last window read.
    """
    flat = np.zeros((N * Hf * Wf + (FH - 1) * Wf + FW - 1, a.shape[-1]), dtype=a.dtype)
    flat[: N * Hf * Wf].reshape(N, Hf, Wf, -1)[:, top:, left:] = a
    return flat


def _taps_in_rows(X, FW):
    """(R, C) -> (R - FW + 1, FW*C): row r is ``X[r], X[r + 1], ..., X[r + FW - 1]`` side by side.

    Over a flat channels-last image, row r then holds the FW taps of one filter row at pixel r,
    so a filter row is one matrix product with K = FW*C: with FW products of K = C the output
    was read and written FW times as often (DeepConvNet's Conv2 forward: 11.0 ms -> 6.9 ms).
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


@register_layer
class Convolution(Layer):
    """2-D convolution (the book's cross-correlation, as in PyTorch's ``conv2d``).

    Forward, with ``xp`` the input zero-padded by ``pad`` on every side:
    ``out[n, f, y, x] = sum_{c, i, j} W[f, c, i, j] * xp[n, c, y*stride + i, x*stride + j]
    + b[f]``, i.e. the book's ``im2col(x) @ W.reshape(FN, -1).T + b``.
    Backward: ``db[f] = sum_{n, y, x} dout[n, f, y, x]``;
    ``dW[f, c, i, j] = sum_{n, y, x} dout[n, f, y, x] * xp[n, c, y*stride + i, x*stride + j]``;
    ``dx`` = the unpadded part of ``dxp[n, c, y*stride + i, x*stride + j] +=
    sum_f dout[n, f, y, x] * W[f, c, i, j]`` (the book's ``col2im(dout2 @ W.reshape(FN, -1))``).

    Parameters
    ----------
    W : ndarray, shape (FN, C, FH, FW)
        FN filters of C channels, FH high and FW wide. Kept by reference (no copy).
    b : ndarray, shape (FN,)
        One bias per filter.
    stride : int >= 1, default 1
    pad : int >= 0, default 0
        Zeros added on every side of each input image.

    Shapes
    ------
    x, dx : (N, C, H, W), with ``(H + 2*pad - FH)`` and ``(W + 2*pad - FW)`` multiples of
    ``stride``. out, dout : (N, FN, OH, OW), ``OH = (H + 2*pad - FH) // stride + 1``, ``OW``
    likewise. dW : (FN, C, FH, FW). db : (FN,).

    How it computes. With stride 1, ``2*C >= FN`` and ``pad`` smaller than the filter: shifted
    products, no im2col. The images, channels last, sit in one zero frame of flat pixel rows
    (``pad`` zero rows and columns before each image's rows and columns, so Wf = W + pad pixels
    a row): filter tap (i, j) at output pixel r then reads frame row ``r + i*Wf + j``.
    ``X3`` puts the FW taps of a filter row side by side (row r holds frame rows r .. r+FW-1),
    so filter row i is one product with a slice of ``X3``, no copy:
    ``out = sum_i X3[i*Wf : i*Wf + M] @ W[:, :, i, :]`` (as (FW*C, FN)). Output pixels whose
    window straddles an image edge hold garbage and are never read: the output is the
    (N, OH, OW) corner of each image's (Hf, Wf) block, as a view. ``dW`` is the same slices of
    ``X3`` against ``dout``; ``dx`` is the full convolution of ``dout`` (padded by FH-1-pad, in
    the same frame) with the filters turned by 180 degrees, the forward's products again.
    Otherwise (stride > 1, or few input channels, as in a network's first layer): the book's
    im2col and col2im.

    Caches ``x`` (in W's dtype); on the im2col path also the book's ``col`` and ``col_W``,
    otherwise (None there) ``X3``.

    The layer computes in ``W``'s dtype: float32 parameters give a float32 forward and backward.
    The output is a transposed view of channels-last (N, OH, OW, FN) memory, ``dx`` one of
    (N, H, W, C) memory on the shifted path.

    Examples
    --------
    >>> import numpy as np
    >>> conv = Convolution(np.ones((1, 1, 2, 2)), np.zeros(1))  # one 2x2 filter, one channel
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv.forward(x)  # the sum of each 2x2 window
    array([[[[ 8., 12.],
             [20., 24.]]]])
    >>> conv.backward(np.ones((1, 1, 2, 2)))  # how many windows hold each pixel
    array([[[[1., 2., 1.],
             [2., 4., 2.],
             [1., 2., 1.]]]])
    """

    param_names = ("W", "b")
    skips_input_grad = True

    def __init__(self, W: npt.ArrayLike, b: npt.ArrayLike, stride: int = 1, pad: int = 0) -> None:
        W = as_float_array(W, "Convolution", name="W")
        b = as_float_array(b, "Convolution", name="b")
        if W.ndim != 4 or W.size == 0:
            raise ValueError(
                "Convolution: W must be 4-D, (FN, C, FH, FW) = (filters, channels, height, "
                f"width), all >= 1, got shape {W.shape}"
            )
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"Convolution: b must have shape ({W.shape[0]},), one bias per filter of W "
                f"{W.shape}, got {b.shape}"
            )
        self.W = W
        self.b = b
        self.stride = check_number(stride, "Convolution", "stride", low=1, integer=True)
        self.pad = check_number(pad, "Convolution", "pad", low=0, integer=True)
        self.x: np.ndarray | None = None
        self.col: np.ndarray | None = None
        self.col_W: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        # the shifted path's input, a row of taps per pixel (_taps_in_rows)
        self._X3: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return {"stride": self.stride, "pad": self.pad}

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        where = "Convolution.forward"
        x = as_float_array(x, where)
        FN, C, FH, FW = self.W.shape
        if x.ndim == 4 and x.shape[1] != C:
            raise ValueError(
                f"{where}: x must have {C} channels, x of shape (N, {C}, H, W), to match W of "
                f"shape {self.W.shape} (FN, C, FH, FW), got x of shape {x.shape}"
            )
        out_h, out_w = _output_shape(x.shape, FH, FW, self.stride, self.pad, where)
        with quiet():  # beyond the float range is inf, as in Affine
            # Each tap's product moves N*Hp*Wp x FN numbers, an im2col tap N*OH*OW x C: with
            # few channels im2col is faster (2x for C = 3, FN = 30, 5x5; measured to 2*C = FN).
            if self.stride == 1 and 2 * C >= FN and self.pad < min(FH, FW):
                return self._shifted_forward(x, out_h, out_w)
            self.x = as_dtype(x, self.W.dtype)
            self.col = im2col(self.x, FH, FW, self.stride, self.pad)
            self.col_W = self.W.reshape(FN, -1).T
            self._X3 = None
            out = self.col @ self.col_W
            out += self.b
        return out.reshape(x.shape[0], out_h, out_w, FN).transpose(0, 3, 1, 2)

    def _shifted_forward(self, x, out_h, out_w):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        p = self.pad
        Hf, Wf = H + p, W + p  # p zero rows and columns before each image's rows and columns
        self.x = as_dtype(x, self.W.dtype)
        self.col = self.col_W = None
        xp = _framed(self.x.transpose(0, 2, 3, 1), N, Hf, Wf, FH, FW, p, p)
        self._X3 = _taps_in_rows(xp, FW)
        # Wr[i][j*C + c, f] = W[f, c, i, j]: filter row i against a row of taps
        Wr = self.W.transpose(2, 3, 1, 0).reshape(FH, FW * C, FN)
        out = _row_products(self._X3, Wr, Wf)
        out += self.b
        return out.reshape(N, Hf, Wf, FN)[:, :out_h, :out_w].transpose(0, 3, 1, 2)

    def backward(self, dout: npt.ArrayLike, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``dW`` and ``db``; return ``dx`` (None when ``input_grad`` is False).

        A network passes ``input_grad=False`` to its first layer: nothing uses the gradient with
        respect to the images.
        """
        if self.x is None:
            raise self._not_ready()
        FN, C, FH, FW = self.W.shape
        out_h, out_w = _output_shape(self.x.shape, FH, FW, self.stride, self.pad, "Convolution")
        dout = check_dout(dout, (len(self.x), FN, out_h, out_w), "Convolution", self.W.dtype)
        with quiet():
            if self._X3 is not None:
                return self._shifted_backward(dout, input_grad)
            assert self.col is not None and self.col_W is not None  # the im2col forward's cache
            dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
            self.db = _column_sums(dout2)
            self.dW = (dout2.T @ self.col).reshape(FN, C, FH, FW)
            if not input_grad:
                return None
            dcol = dout2 @ self.col_W.T
            return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)

    def _shifted_backward(self, dout, input_grad):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = self.x.shape
        Hf, Wf = H + self.pad, W + self.pad
        qh, qw = FH - 1 - self.pad, FW - 1 - self.pad
        # dout padded by FH-1-pad for the full convolution that gives dx, in the forward's frame
        Dp = _framed(dout.transpose(0, 2, 3, 1), N, Hf, Wf, FH, FW, qh, qw)
        X3 = self._X3
        M = N * Hf * Wf
        D = Dp[qh * Wf + qw : qh * Wf + qw + M]  # dout on the forward's output rows, else 0
        self.db = _column_sums(D)
        dW = np.stack([X3[i * Wf : i * Wf + M].T @ D for i in range(FH)])  # (FH, FW*C, FN)
        self.dW = np.ascontiguousarray(dW.reshape(FH, FW, C, FN).transpose(3, 2, 0, 1))
        if not input_grad:
            return None
        # Wflip[i][j*FN + f, c] = W[f, c, FH-1-i, FW-1-j]: the filters turned by 180 degrees
        Wflip = self.W[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(FH, FW * FN, C)
        dx = _row_products(_taps_in_rows(Dp, FW), Wflip, Wf)
        return dx.reshape(N, Hf, Wf, C)[:, :H, :W].transpose(0, 3, 1, 2)

    def __repr__(self):
        FN, C, FH, FW = self.W.shape
        return (
            f"Convolution(in_channels={C}, filters={FN}, filter_size=({FH}, {FW}), "
            f"stride={self.stride}, pad={self.pad}, dtype={self.W.dtype})"
        )


@register_layer
class Pooling(Layer):
    """Max pooling: the largest value of each pool_h x pool_w window, channel by channel.

    Forward, with ``xp`` the input padded by ``pad`` on every side with -inf:
    ``out[n, c, y, x] = max_{i, j} xp[n, c, y*stride + i, x*stride + j]``.
    Backward: ``dx`` is ``dout[n, c, y, x]`` at the window's maximum and 0 elsewhere, summed
    where windows overlap. Where a window holds several equal maxima the gradient goes to the
    first in row-major order (smallest i, then smallest j), as in PyTorch.

    Parameters
    ----------
    pool_h, pool_w : int >= 1
        The window's height and width.
    stride : int >= 1, default 2
        The book's default is 1; its networks pass ``stride=2``, PyTorch's default is the window.
    pad : int >= 0, default 0
        Must be smaller than ``pool_h`` and ``pool_w``, so that every window holds input.

    Shapes
    ------
    x, dx : (N, C, H, W) with ``(H + 2*pad - pool_h)`` and ``(W + 2*pad - pool_w)`` multiples of
    ``stride``. out, dout : (N, C, OH, OW), ``OH = (H + 2*pad - pool_h) // stride + 1``, ``OW``
    likewise.

    Caches ``x`` and the book's ``arg_max``: shape (N*OH*OW*C,), the row-major position
    ``i*pool_w + j`` of each window's maximum, windows ordered (n, y, x, c) (the smallest
    unsigned integer dtype that holds it on the reshape path, the book's intp otherwise).

    How it computes: windows that neither overlap nor leave gaps (``pool_h == pool_w ==
    stride``, the 2x2 stride-2 pooling of the book's networks) are a reshape of the channels-
    last image, compared slot by slot; other windows go through the book's im2col and argmax.

    A floating input keeps its dtype; int or bool input is computed in float64. The output is a
    transposed view of channels-last (N, OH, OW, C) memory. A NaN in a window gives NaN out. A
    border window whose input is all -inf ties with its padding, which then takes the gradient.
    On the reshape path an infinite ``dout`` gives NaN (``inf * 0``) in the window's other
    slots, as in :class:`~layerwise.layers.Relu`.

    Examples
    --------
    >>> import numpy as np
    >>> pool = Pooling(2, 2)  # stride 2
    >>> x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> pool.forward(x)
    array([[[[4., 5.]]]])
    >>> pool.backward(np.array([[[[10.0, 20.0]]]]))  # dout goes to each window's maximum
    array([[[[ 0.,  0., 20.,  0.],
             [ 0., 10.,  0.,  0.]]]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        self.pool_h = check_number(pool_h, "Pooling", "pool_h", low=1, integer=True)
        self.pool_w = check_number(pool_w, "Pooling", "pool_w", low=1, integer=True)
        self.stride = check_number(stride, "Pooling", "stride", low=1, integer=True)
        self.pad = check_number(pad, "Pooling", "pad", low=0, integer=True)
        if self.pad >= min(self.pool_h, self.pool_w):
            raise ValueError(
                f"Pooling: pad must be smaller than the window ({self.pool_h}x{self.pool_w}), "
                f"or a window would hold only padding, got pad={self.pad}"
            )
        self.x: np.ndarray | None = None
        self.arg_max: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return {
            "pool_h": self.pool_h,
            "pool_w": self.pool_w,
            "stride": self.stride,
            "pad": self.pad,
        }

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        where = "Pooling.forward"
        x = as_float_array(x, where)
        ph, pw, s, p = self.pool_h, self.pool_w, self.stride, self.pad
        out_h, out_w = _output_shape(x.shape, ph, pw, s, p, where)
        N, C = x.shape[:2]
        xp = _channels_last(x, p, -np.inf, x.dtype)  # -inf: padding never wins
        if ph == pw == s:
            windows = xp.reshape(N, out_h, ph, out_w, pw, C)
            out = windows[:, :, 0, :, 0].copy()
            arg_max = np.zeros(out.shape, dtype=np.min_scalar_type(ph * pw))
            for k in range(1, ph * pw):
                value = windows[:, :, k // pw, :, k % pw]
                greater = value > out  # strictly greater: the first maximum wins
                # arg_max = k where greater: arithmetic, 3x faster than a masked copyto
                arg_max *= ~greater
                arg_max += greater * arg_max.dtype.type(k)
                np.maximum(out, value, out=out)
        else:
            col = im2col(xp.transpose(0, 3, 1, 2), ph, pw, s).reshape(-1, ph * pw)
            arg_max = np.argmax(col, axis=1)  # the first maximum
            out = np.max(col, axis=1).reshape(N, out_h, out_w, C)
        self.x = x
        self.arg_max = arg_max.reshape(-1)
        return out.transpose(0, 3, 1, 2)

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.x is None or self.arg_max is None:
            raise self._not_ready()
        ph, pw, s, p = self.pool_h, self.pool_w, self.stride, self.pad
        N, C, H, W = self.x.shape
        out_h, out_w = _output_shape(self.x.shape, ph, pw, s, p, "Pooling")
        dout = check_dout(dout, (N, C, out_h, out_w), "Pooling", self.x.dtype)
        dout = dout.transpose(0, 2, 3, 1)  # (N, OH, OW, C), in arg_max's order
        if ph == pw == s:
            dx = np.empty((N, out_h, ph, out_w, pw, C), dtype=self.x.dtype)
            arg_max = self.arg_max.reshape(dout.shape)
            with quiet():  # an infinite dout gives NaN (inf * 0) in the other slots, quietly
                for k in range(ph * pw):  # dout where slot k held the maximum: multiplying
                    # by the bool mask is 4x faster than np.where
                    np.multiply(dout, arg_max == k, out=dx[:, :, k // pw, :, k % pw])
            dx = dx.reshape(N, out_h * ph, out_w * pw, C)
            return dx[:, p : p + H, p : p + W].transpose(0, 3, 1, 2)
        dcol = np.zeros((self.arg_max.size, ph * pw), dtype=self.x.dtype)
        dcol[np.arange(self.arg_max.size), self.arg_max] = dout.reshape(-1)
        shape = (N, C, H + 2 * p, W + 2 * p)
        dxp = col2im(dcol.reshape(N * out_h * out_w, -1), shape, ph, pw, s)
        return dxp[:, :, p : p + H, p : p + W]
