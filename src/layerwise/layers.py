"""The layers of the book's chapter 5, each owning its forward and backward pass.

Every layer has ``forward(...)``, which computes the output and caches what the backward pass
needs, and ``backward(dout)``, which takes the gradient of the loss with respect to the layer's
output and returns the gradient with respect to its input (filling ``dW``/``db`` on the way for
a layer with parameters). The public attribute names are the book's (``mask``, ``out``, ``x``,
``original_x_shape``, ``dW``, ``db``, ``loss``, ``y``, ``t``), so the book's own code runs on them.

Differences from the book's ``common/layers.py``, each with a regression test:

- ``Relu.backward`` returns a new array; the book's zeroes the caller's ``dout`` in place.
- ``Sigmoid`` never overflows (the book's ``1 / (1 + exp(-x))`` warns at x = -710 in float64).
- ``SoftmaxWithLoss`` computes the loss from the logits by log-sum-exp: exact, no ``1e-7`` floor.
- ``SoftmaxWithLoss.backward(dout)`` multiplies by ``dout``; the book's ignores it.
- ``backward`` before ``forward`` raises :class:`BackwardBeforeForwardError`.

Input checks (see :mod:`layerwise._checks`): a wrong shape, a ``dout`` unlike the forward output,
bad labels or an empty batch is a ValueError; a complex, object or string array is a TypeError;
each message names the layer. Inputs are never modified, so read-only arrays are fine.

Dtypes: parameter-free layers keep a floating input's dtype (float16, float32, float64) and
compute integer or bool input in float64; :class:`Affine` computes in its ``W``'s dtype. float16
is supported but slow in NumPy and good to about 3 digits. Finite input never warns: a result
beyond the float range is inf.
"""

import sys

import numpy as np

from ._checks import (
    as_dtype,
    as_float_array,
    as_float_pair,
    check_dout,
    check_features,
    check_labels,
    check_scores,
    quiet,
)
from .functions import _shifted_exp, sigmoid

_getrefcount = getattr(sys, "getrefcount", None)  # CPython; elsewhere results are always fresh


def _spare(previous, shape, dtype):
    """``previous`` if its memory may take a new result of ``shape`` and ``dtype``, else None.

    That is when nothing but the attribute it was read from refers to it: writing a layer's new
    ``dW`` into the old one saves allocating a fresh array every step (for a 1000x1000 ``W``,
    1-3% of a training step, measured). A gradient that anyone still holds -- a ``grads`` dict, a
    variable, a view -- is never overwritten: it gets a fresh array, as in the book.
    """
    if (
        previous is not None
        and _getrefcount is not None
        and _getrefcount(previous) <= _SOLE_REFERENCE
        and previous.shape == shape
        and previous.dtype == dtype
        and previous.flags.writeable
    ):
        return previous
    return None


def _references_seen_by_spare(previous):
    return _getrefcount(previous)  # called exactly like _spare, to calibrate it


class _Holder:
    pass


_holder = _Holder()
_holder.array = np.empty(1)
_SOLE_REFERENCE = _references_seen_by_spare(_holder.array) if _getrefcount else 0
del _holder


class BackwardBeforeForwardError(RuntimeError, ValueError):
    """``backward`` was called before ``forward`` had cached what it needs."""


def _not_ready(layer):
    return BackwardBeforeForwardError(
        f"{type(layer).__name__}.backward was called before forward: call forward(...) first, "
        "it caches what the backward pass needs"
    )


class MulLayer:
    """Multiplication node of a computational graph: ``out = x * y``.

    Backward: ``dx = dout * y``, ``dy = dout * x`` (the gradient of each input is the upstream
    gradient times the *other* input, which is why forward caches both).

    Works on Python numbers and on arrays of one shape (no broadcasting); ``dout`` has that
    shape too. Computes in float (int/bool inputs in float64).
    """

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = as_float_pair(x, y, "MulLayer.forward")
        with quiet():
            return self.x * self.y

    def backward(self, dout):
        if self.x is None:
            raise _not_ready(self)
        dout = check_dout(dout, self.x.shape, "MulLayer", np.result_type(self.x, self.y))
        with quiet():
            dx = dout * self.y
            dy = dout * self.x
        return dx, dy

    def __repr__(self):
        return "MulLayer()"


class AddLayer:
    """Addition node of a computational graph: ``out = x + y``.

    Backward: ``dx = dout``, ``dy = dout`` (addition passes the gradient through unchanged).

    Works on Python numbers and on arrays of one shape (no broadcasting). Caches only the
    output's shape and dtype, to check ``dout`` against (the book's AddLayer keeps nothing).
    """

    def __init__(self):
        self._out = None  # (shape, dtype) of the forward output

    def forward(self, x, y):
        x, y = as_float_pair(x, y, "AddLayer.forward")
        self._out = (x.shape, np.result_type(x, y))
        with quiet():
            return x + y

    def backward(self, dout):
        if self._out is None:
            raise _not_ready(self)
        dout = check_dout(dout, self._out[0], "AddLayer", self._out[1])
        return dout * 1, dout * 1

    def __repr__(self):
        return "AddLayer()"


class Relu:
    """Rectified linear unit.

    Forward: ``out = max(0, x)``. Backward: ``dx = dout`` where ``x > 0``, else ``0`` (the
    gradient at exactly ``x = 0`` is taken as 0, as in the book and in PyTorch).

    Shapes: ``x``, ``out``, ``dout`` and ``dx`` all have the same shape (any).

    Caches where ``x > 0`` (a bool array), so that ``backward`` is one multiplication. The book's
    attribute ``mask`` (bool, True where ``x <= 0``) is derived from it on request.

    A NaN ``x`` gives NaN out and a zero gradient. An infinite ``dout`` where ``x <= 0`` gives NaN
    (``inf * 0``) with NumPy's warning, where the book's masking gives 0: the multiplication is
    what makes backward fast.
    """

    def __init__(self):
        self._keep = None
        self._dtype = None

    @property
    def mask(self):
        """bool ndarray, True where the forward input was ``<= 0`` (None before forward)."""
        return None if self._keep is None else ~self._keep

    def forward(self, x):
        x = as_float_array(x, "Relu.forward")  # no full-array check: only dtype and shape
        # dx = dout * (x > 0): a multiplication by the bool array, 10-25x faster than the book's
        # `dout[mask] = 0` fancy indexing, and it needs no copy. The bool array (a quarter of a
        # float32 one) is private, so its memory is reused from call to call.
        keep = self._keep
        if keep is None or keep.shape != x.shape:
            keep = np.empty(x.shape, bool)
        self._keep, self._dtype = np.greater(x, 0, out=keep), x.dtype
        return np.maximum(x, 0)

    def backward(self, dout):
        if self._keep is None:
            raise _not_ready(self)
        dout = check_dout(dout, self._keep.shape, "Relu")
        # A dout of a wider dtype is multiplied first and cast after: a float32 3e38 where
        # x <= 0 gives 0, not 0 * inf. Free when the dtypes agree.
        return as_dtype(dout * self._keep, self._dtype)

    def __repr__(self):
        return "Relu()"


class Sigmoid:
    """Logistic sigmoid.

    Forward: ``out = 1 / (1 + exp(-x))``, computed without overflow (see
    :func:`layerwise.functions.sigmoid`). Backward: ``dx = dout * out * (1 - out)``.

    Shapes: ``x``, ``out``, ``dout`` and ``dx`` all have the same shape (any). Caches ``out``.

    An infinite ``dout`` where ``out`` is exactly 0 or 1 gives NaN (``inf * 0``) with NumPy's
    warning, as in :class:`Relu`.
    """

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(as_float_array(x, "Sigmoid.forward"))
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise _not_ready(self)
        dout = check_dout(dout, self.out.shape, "Sigmoid")
        return as_dtype(dout * (1.0 - self.out) * self.out, self.out.dtype)

    def __repr__(self):
        return "Sigmoid()"


class Affine:
    """Fully connected layer: ``out = x W + b``.

    Forward: ``out = x2 @ W + b`` where ``x2 = x.reshape(N, -1)``.
    Backward: ``dx = dout @ W.T`` (reshaped back to ``x``'s shape), ``dW = x2.T @ dout``,
    ``db = sum(dout, axis=0)``.

    Parameters
    ----------
    W : ndarray, shape (D, M)
        Weights. The layer keeps a reference (no copy), so in-place updates are seen.
    b : ndarray, shape (M,)
        Biases.

    Shapes
    ------
    x : (N, D) or (N, d1, d2, ...) with d1 * d2 * ... = D.
    out, dout : (N, M). dx : like x. dW : (D, M). db : (M,).

    Caches ``x`` (the 2-D input, in W's dtype) and ``original_x_shape``. ``backward`` writes
    the new ``dW`` into the previous one's memory when nothing else refers to that array; a
    gradient you keep (in a variable, a ``grads`` dict, a view) is never changed.

    The layer computes in ``W``'s dtype: an input of another dtype is converted, so float32
    parameters give a float32 forward and backward. A product beyond the float range is inf,
    without a warning.
    """

    param_names = ("W", "b")

    def __init__(self, W, b):
        W = as_float_array(W, "Affine", name="W")
        b = as_float_array(b, "Affine", name="b")
        if W.ndim != 2:
            raise ValueError(f"Affine: W must be 2-D (in_features, out_features), got {W.shape}")
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine: b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}"
            )
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        x = as_float_array(x, "Affine.forward")
        x2 = check_features(x, self.W.shape[0], "Affine.forward")
        self.original_x_shape = x.shape
        with quiet():  # float64 beyond float32's range casts to inf; x W may overflow to inf
            self.x = x2 if x2.dtype == self.W.dtype else x2.astype(self.W.dtype)
            out = self.x @ self.W
            out += self.b
        return out

    def backward(self, dout, input_grad=True):
        """Fill ``dW`` and ``db``; return ``dx`` (None when ``input_grad`` is False).

        A network passes ``input_grad=False`` to its first layer: nothing uses the gradient with
        respect to the data, and skipping its matrix product saves up to a third of the step.
        """
        if self.x is None:
            raise _not_ready(self)
        dout = check_dout(dout, (self.x.shape[0], self.W.shape[1]), "Affine", self.W.dtype)
        with quiet():
            # dW = x^T dout, written into the previous dW's memory when nobody else holds it.
            self.dW = np.matmul(self.x.T, dout, out=_spare(self.dW, self.W.shape, self.W.dtype))
            self.db = dout.sum(axis=0)
            if not input_grad:
                return None
            return (dout @ self.W.T).reshape(self.original_x_shape)

    def __repr__(self):
        return (
            f"Affine(in_features={self.W.shape[0]}, out_features={self.W.shape[1]}, "
            f"dtype={self.W.dtype})"
        )


class SoftmaxWithLoss:
    """Softmax followed by the cross-entropy loss, as one layer.

    Forward: ``y = softmax(x)``, ``loss = -(1/N) sum_n sum_k t_nk log y_nk``, with
    ``log y = log_softmax(x)`` computed from the logits by log-sum-exp (exact; no ``1e-7``).
    Backward: ``dx = dout * (y - T) / N`` where ``T`` is ``t`` as one-hot rows.

    Shapes
    ------
    x : (N, C) logits, or (C,) for one sample (then N = 1).
    t : (N,) / () integer labels in [0, C), or one-hot / probability rows of x's shape.
    y : like x. loss : scalar of x's float dtype. dout : scalar (default 1.0). dx : like x.

    Caches ``y``, ``t`` and ``loss``.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None
        self._rows = None
        self._labels = None
        self._onehot = None

    def forward(self, x, t):
        x = as_float_array(x, "SoftmaxWithLoss.forward")
        check_scores(x, "SoftmaxWithLoss.forward")
        labels, onehot = check_labels(t, x.shape, "SoftmaxWithLoss.forward")
        self.t = t if isinstance(t, np.ndarray) else np.asarray(t)
        x2 = x if x.ndim == 2 else x[np.newaxis]  # one sample is a batch of one
        n = len(x2)
        if self._rows is None or len(self._rows) != n:  # row numbers 0..N-1, kept between calls
            self._rows = np.arange(n)
        rows = self._rows
        with quiet():  # huge logits or one-hot weights give an inf loss, without warnings
            # log-sum-exp around the row maximum m: lse = log(sum_j exp(x_j - m)) = log1p(rest),
            # exact even for a loss of 1e-22 (see functions._shifted_exp).
            shifted, e, rest = _shifted_exp(x2, rows)
            lse = np.log1p(rest)
            e /= (1 + rest)[:, np.newaxis]  # e becomes y = softmax(x), in place
            self.y = e if x.ndim == 2 else e[0]
            # The loss of sample n is -log y[n, t_n] = lse_n - shifted[n, t_n]; with one-hot
            # (or probability) rows it is sum_k t_nk (lse_n - shifted_nk).
            if labels is not None:
                self._labels = labels if labels.ndim == 1 else labels.reshape(n)
                self._onehot = None
                total = (lse - shifted[rows, self._labels]).sum()
            else:
                self._labels = None
                self._onehot = onehot.astype(x.dtype, copy=False).reshape(x2.shape)
                total = np.sum(self._onehot * (lse[:, np.newaxis] - shifted))
            self.loss = x.dtype.type(total / n)
        return self.loss

    def backward(self, dout=1.0):
        if self.y is None:
            raise _not_ready(self)
        # dout is the gradient of the final loss with respect to this loss: a scalar, usually 1
        if type(dout) is not float:  # a Python float (the default 1.0) needs no conversion
            dout = check_dout(dout, (), "SoftmaxWithLoss")
        dx = self.y.copy()
        dx2 = dx.reshape(-1, dx.shape[-1])  # a view of dx: one sample is a batch of one
        with quiet():  # huge one-hot weights or dout give inf, an infinite dout NaN, quietly
            if self._labels is not None:
                dx2[self._rows, self._labels] -= 1
            else:
                dx2 -= self._onehot
            dx2 *= float(dout) / len(dx2)  # a Python float: cheaper than a 0-d array, exact
        return dx

    def __repr__(self):
        return "SoftmaxWithLoss()"
