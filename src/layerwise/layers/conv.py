"""The convolution and pooling layers of the book's chapter 7 (sections 7.4.3 and 7.4.4).

Both compute as the book's ``common/layers.py`` does: :func:`~layerwise.util.im2col` unfolds
every window into a row, a convolution is then one matrix product and its input gradient a
:func:`~layerwise.util.col2im`; pooling takes the argmax of each window's row. For the sizes of
the book's networks (stride-1 convolutions with many channels, 2x2 stride-2 pooling) the same
functions are computed with fewer copies by the kernels of :mod:`layerwise.layers._conv_fast`,
which ``tests/test_conv_fast.py`` checks against the book's form.

Activations are (N, C, H, W) arrays, as in the book, but the arrays these layers return are
transposed views of channels-last (N, H, W, C) memory. The book's own ``Convolution`` already
returns such a view (``out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)``); here the
next layers make use of it: NumPy's elementwise layers (Relu) keep the layout, and convolution
and pooling read channels-last input without a transposing copy.

Output sizes are floored, as in the book's im2col and PyTorch (see
:func:`layerwise.util.conv_output_size`): where the windows do not tile the padded input, the
last rows and columns that no window reaches are left out and get a zero gradient.

Differences from the book's ``common/layers.py``, each with a ``test_regression_*``:

- ``Pooling`` pads with -inf, so padding never wins; the book's computes the wrong output
  shape for ``pad > 0`` and fails. Its default stride is 2 (the book's 1; the book's networks
  always pass ``stride=2``).
- Where a pooling window holds several equal maxima, the gradient goes to the first in
  row-major order (as in PyTorch and as the book's ``argmax``).
- Where ``Convolution`` takes the fast path (stride 1, at least half as many input channels as
  filters, a pad smaller than the filter) no im2col matrix is built: ``col`` and ``col_W`` are
  then None.
- ``backward(dout, input_grad=False)`` skips the gradient with respect to the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import (
    InvalidParameterError,
    as_dtype,
    as_float_array,
    check_dout,
    check_number,
    quiet,
)
from ..backend import get_array_module
from ..util import col2im, im2col, window_output_shape
from . import _conv_fast as fast
from .base import Layer, initial_weights, register_layer


@register_layer
class Convolution(Layer):
    """2-D convolution (the book's cross-correlation, as in PyTorch's ``conv2d``).

    Forward, with ``col = im2col(x)`` (one row per output pixel, one column per filter tap
    ``(c, i, j)``) and ``col_W = W.reshape(FN, -1).T``::

        out = col @ col_W + b

    i.e. ``out[n, f, y, x] = sum_{c, i, j} W[f, c, i, j] * x_pad[n, c, y*stride + i, x*stride + j]
    + b[f]`` with ``x_pad`` the input zero-padded by ``pad`` on every side. Backward, with
    ``dout`` as rows (N*OH*OW, FN)::

        db = sum(dout, axis=0)
        dW = (dout.T @ col).reshape(FN, C, FH, FW)
        dx = col2im(dout @ col_W.T)

    Parameters
    ----------
    W : ndarray, shape (FN, C, FH, FW)
        FN filters of C channels, FH high and FW wide. Kept by reference (no copy).
    b : ndarray, shape (FN,), or a scalar
        One bias per filter; a scalar is the same bias for every filter (stored as (FN,)).
    stride : int >= 1, default 1
    pad : int >= 0, default 0
        Zeros added on every side of each input image.

    Shapes
    ------
    x, dx : (N, C, H, W). out, dout : (N, FN, OH, OW), ``OH = (H + 2*pad - FH) // stride + 1``
    (floored, as in PyTorch), ``OW`` likewise. col : (N*OH*OW, C*FH*FW). col_W : (C*FH*FW, FN).
    dW : (FN, C, FH, FW). db : (FN,).

    Caches the book's ``x`` (in W's dtype), ``col`` and ``col_W``. With stride 1, ``2*C >= FN``
    and ``pad`` smaller than the filter, :func:`layerwise.layers._conv_fast.conv_forward`
    computes the same ``out`` without the im2col matrix (``col`` and ``col_W`` are then None).

    The layer computes in ``W``'s dtype: float32 parameters give a float32 forward and backward.
    The output is a transposed view of channels-last (N, OH, OW, FN) memory.

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
        if W.ndim == 4 and b.ndim == 0:  # a scalar bias, as in the book: the same for each filter
            b = b.reshape(1).repeat(W.shape[0])
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
        self._X3: np.ndarray | None = None  # the fast path's cache, instead of col

    @classmethod
    def from_sizes(
        cls,
        in_channels: int,
        filters: int,
        filter_size: int | tuple[int, int],
        stride: int = 1,
        pad: int = 0,
        *,
        rng: Any = None,
        init: str | float = "he",
        dtype: npt.DTypeLike = np.float64,
    ) -> Convolution:
        """A Convolution of fresh filters, as ``torch.nn.Conv2d(in_channels, filters, ...)``.

        Parameters
        ----------
        in_channels, filters : int >= 1
            C and FN: W has shape (FN, C, FH, FW), b (FN,).
        filter_size : int or (FH, FW)
        stride, pad : int
        rng : numpy.random.Generator, int or None, keyword-only
            Where the weights are drawn from (a seed gives a fresh Generator).
        init : 'he', 'xavier', an activation's name, or a float, keyword-only, default 'he'
            ``W ~ N(0, std**2)`` with ``std = sqrt(2 / (C*FH*FW))`` (He, for ReLU; the fan-in
            of one output is C*FH*FW), ``sqrt(1 / (C*FH*FW))`` (Xavier), or the number given.
        dtype : float32 or float64, keyword-only

        Returns
        -------
        Convolution
            b is 0.

        Examples
        --------
        >>> conv = Convolution.from_sizes(1, 16, 3, stride=1, pad=1, rng=0)
        >>> conv.W.shape, conv.stride, conv.pad
        ((16, 1, 3, 3), 1, 1)
        """
        where = "Convolution.from_sizes"
        C = check_number(in_channels, where, "in_channels", low=1, integer=True)
        FN = check_number(filters, where, "filters", low=1, integer=True)
        sides = (filter_size, filter_size) if np.ndim(filter_size) == 0 else tuple(filter_size)  # type: ignore[arg-type]
        if len(sides) != 2:
            raise InvalidParameterError(
                f"{where}: filter_size must be a size or (FH, FW), got {filter_size!r}"
            )
        FH, FW = (check_number(n, where, "filter_size", low=1, integer=True) for n in sides)
        W = initial_weights((FN, C, FH, FW), C * FH * FW, init, rng, dtype, where)
        return cls(W, np.zeros(FN, W.dtype), stride, pad)

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
        out_h, out_w = window_output_shape(x.shape, FH, FW, self.stride, self.pad, where, C)
        with quiet():  # beyond the float range is inf, as in Affine
            self.x = as_dtype(x, self.W.dtype)
            xp = get_array_module(self.W)
            if fast.conv_fast_path(self.W.shape, self.stride, self.pad, xp):
                self.col = self.col_W = None
                out, self._X3 = fast.conv_forward(self.x, self.W, self.b, self.pad)
                return out
            self._X3 = None
            self.col = im2col(self.x, FH, FW, self.stride, self.pad)
            self.col_W = self.W.reshape(FN, -1).T
            out = self.col @ self.col_W
            out += self.b
        return out.reshape(x.shape[0], out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout: npt.ArrayLike, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``dW`` and ``db``; return ``dx`` (None when ``input_grad`` is False).

        A network passes ``input_grad=False`` to its first layer: nothing uses the gradient with
        respect to the images.
        """
        if self.x is None:
            raise self._not_ready()
        FN, C, FH, FW = self.W.shape
        out_h, out_w = window_output_shape(
            self.x.shape, FH, FW, self.stride, self.pad, "Convolution"
        )
        dout = check_dout(dout, (len(self.x), FN, out_h, out_w), "Convolution", self.W.dtype)
        with quiet():
            if self._X3 is not None:
                dx, self.dW, self.db = fast.conv_backward(
                    dout, self._X3, self.W, self.x.shape, self.pad, input_grad
                )
                return dx
            assert self.col is not None and self.col_W is not None  # the im2col forward's cache
            dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
            self.db = np.einsum("mf->f", dout)  # sum(dout, axis=0), 3x faster on tall arrays
            self.dW = (dout.T @ self.col).reshape(FN, C, FH, FW)
            if not input_grad:
                return None
            dcol = dout @ self.col_W.T
            return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)

    def __repr__(self):
        FN, C, FH, FW = self.W.shape
        return (
            f"Convolution(in_channels={C}, filters={FN}, filter_size=({FH}, {FW}), "
            f"stride={self.stride}, pad={self.pad}, dtype={self.W.dtype})"
        )


@register_layer
class Pooling(Layer):
    """Max pooling: the largest value of each pool_h x pool_w window, channel by channel.

    Forward, with ``col = im2col(x_pad).reshape(-1, pool_h*pool_w)`` (one row per window and
    channel) and ``x_pad`` the input padded by ``pad`` on every side with -inf::

        arg_max = argmax(col, axis=1)
        out = max(col, axis=1)

    i.e. ``out[n, c, y, x] = max_{i, j} x_pad[n, c, y*stride + i, x*stride + j]``. Backward: each
    ``dout`` goes to its window's maximum, ``dcol[r, arg_max[r]] = dout[r]`` and 0 elsewhere,
    and ``dx = col2im(dcol)`` adds them up where windows overlap. Where a window holds several
    equal maxima the gradient goes to the first in row-major order (smallest i, then smallest
    j), as in PyTorch.

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
    x, dx : (N, C, H, W). out, dout : (N, C, OH, OW), ``OH = (H + 2*pad - pool_h) // stride + 1``
    (floored, as in PyTorch), ``OW`` likewise.

    Caches ``x`` and the book's ``arg_max``: shape (N*OH*OW*C,), the row-major position
    ``i*pool_w + j`` of each window's maximum, windows ordered (n, y, x, c). Windows that
    neither overlap nor leave gaps (``pool_h == pool_w == stride``, the 2x2 stride-2 pooling
    of the book's networks) are computed by :func:`layerwise.layers._conv_fast.pool_forward`
    without im2col; ``arg_max`` is then of the smallest unsigned dtype that holds it.

    A floating input keeps its dtype; int or bool input is computed in float64. The output is a
    transposed view of channels-last (N, OH, OW, C) memory. A NaN in a window gives NaN out. A
    border window whose input is all -inf ties with its padding, which then takes the gradient.
    Where ``pool_h == pool_w == stride`` an infinite ``dout`` gives NaN (``inf * 0``) in the
    window's other slots, as in :class:`~layerwise.layers.Relu`.

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
        out_h, out_w = window_output_shape(x.shape, ph, pw, s, p, where)
        self.x = x
        if fast.pool_fast_path(ph, pw, s, get_array_module(x)):
            out, self.arg_max = fast.pool_forward(x, s, p)
            return out
        N, C = x.shape[:2]
        x_pad = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=-np.inf) if p else x
        col = im2col(x_pad, ph, pw, s).reshape(-1, ph * pw)  # -inf padding never wins
        self.arg_max = np.argmax(col, axis=1)  # the first maximum
        out = np.max(col, axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.x is None or self.arg_max is None:
            raise self._not_ready()
        ph, pw, s, p = self.pool_h, self.pool_w, self.stride, self.pad
        N, C, H, W = self.x.shape
        out_h, out_w = window_output_shape(self.x.shape, ph, pw, s, p, "Pooling")
        dout = check_dout(dout, (N, C, out_h, out_w), "Pooling", self.x.dtype)
        xp = get_array_module(self.x)
        if fast.pool_fast_path(ph, pw, s, xp):
            with quiet():  # an infinite dout gives NaN (inf * 0) in the other slots, quietly
                return fast.pool_backward(dout, self.arg_max, self.x.shape, s, p)
        dout = dout.transpose(0, 2, 3, 1)  # (N, OH, OW, C), in arg_max's order
        dmax = xp.zeros((dout.size, ph * pw), dtype=self.x.dtype)
        dmax[xp.arange(self.arg_max.size), self.arg_max] = dout.reshape(-1)
        dcol = dmax.reshape(N * out_h * out_w, -1)
        return col2im(dcol, self.x.shape, ph, pw, s, p)
