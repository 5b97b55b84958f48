"""Pure functions of the book's chapters 3-5: activations, softmax, losses, numerical gradients.

These are the book's ``common/functions.py`` (``identity_function``, ``step_function``,
``sigmoid``, ``sigmoid_grad``, ``relu``, ``relu_grad``, ``softmax``, ``sum_squared_error``,
``cross_entropy_error``, ``softmax_loss``) and ``numerical_gradient`` of chapter 4, plus
``log_softmax``. ``mean_squared_error`` is ``sum_squared_error`` under the name the book's
chapter-4 text gives it. Nothing here keeps state; the layers in :mod:`layerwise.layers` call
these functions and cache what their backward pass needs.

Dtype rule for every function: a floating input keeps its dtype (float16 and float32 stay what
they are; float16 works but NumPy computes it slowly and to about 3 digits); integer or bool
input is computed in float64; complex, object and string input is a TypeError. The one
exception is :func:`step_function`, which returns the book's int array of 0s and 1s.

Inputs are never modified (read-only arrays are fine), except that :func:`numerical_gradient`
perturbs its ``x`` in place and restores it. Finite input never warns: a result beyond the float
range is inf, without NumPy's RuntimeWarning; NaN and inf inputs propagate (see
:mod:`layerwise._checks`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ._checks import as_dtype, as_float_array, check_labels, check_last_axis, check_scores, quiet
from .backend import as_numpy, get_array_module, is_cupy_array, is_writeable

__all__ = [
    "cross_entropy_error",
    "identity_function",
    "log_softmax",
    "mean_negative_log",
    "mean_squared_error",
    "numerical_gradient",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_loss",
    "step_function",
    "sum_squared_error",
]


def identity_function(x: npt.ArrayLike) -> np.ndarray:
    """The identity, ``y = x``: the output activation for regression (the book's sections 3.4-3.5).

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``x``
        ``x`` itself when it is already a floating ndarray (no copy, as the book returns ``x``);
        otherwise a new array, in float64 for int or bool input.
    """
    return as_float_array(x, "identity_function")


def step_function(x: npt.ArrayLike) -> np.ndarray:
    """Step function of the perceptron (the book's section 3.2): 1 where ``x > 0``, else 0.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of int, same shape as ``x``
        0s and 1s in NumPy's default integer dtype, as the book's
        ``np.array(x > 0, dtype=int)`` returns: the one function here whose output is not a
        float array. ``x = 0`` and NaN give 0.
    """
    x = as_float_array(x, "step_function")
    return get_array_module(x).array(x > 0, dtype=int)  # the book's line, on x's device


def sigmoid(x: npt.ArrayLike) -> np.ndarray:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, without overflow for any finite ``x``.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``x``
        Values in [0, 1].

    Notes
    -----
    The book's ``1 / (1 + np.exp(-x))`` overflows (with a RuntimeWarning) once ``-x`` passes
    about 709 in float64 or 88 in float32. Here ``exp`` only ever sees ``-|x| <= 0``:

    ``sigmoid(x) = 1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` for ``x < 0``,
    with ``e = exp(-|x|)``,

    which is exact in both tails (no cancellation for large negative ``x``, unlike the
    ``tanh`` form).
    """
    x = as_float_array(x, "sigmoid")
    e = np.exp(-np.abs(x))
    # Numerator 1 where x >= 0 and e where x < 0, as max(e, x >= 0) since e <= 1: branch-free,
    # 3-4x faster than np.where on random signs. A NaN x gives NaN.
    return np.maximum(e, x >= 0) / (1.0 + e)


def sigmoid_grad(x: npt.ArrayLike) -> np.ndarray:
    """Derivative of :func:`sigmoid` at ``x``: ``(1 - sigmoid(x)) * sigmoid(x)``.

    Parameters
    ----------
    x : array_like, any shape
        The sigmoid's input (not its output, unlike ``Sigmoid.backward``, which uses ``out``).

    Returns
    -------
    ndarray, same shape as ``x``
        Values in [0, 0.25]; 0.25 at ``x = 0``.

    Notes
    -----
    Since ``1 - sigmoid(x) = sigmoid(-x)``, the derivative is
    ``sigmoid(|x|) * sigmoid(-|x|) = e / (1 + e)**2`` with ``e = exp(-|x|)``. This form is
    exact in both tails, where the book's ``(1.0 - sigmoid(x)) * sigmoid(x)`` loses digits
    (``1 - sigmoid(x)`` cancels) and gives exactly 0 beyond ``x`` of about 37 in float64 (17
    in float32) instead of ``exp(-x)``, and it never overflows (the book's warns below -709).
    """
    x = as_float_array(x, "sigmoid_grad")
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


def relu(x: npt.ArrayLike) -> np.ndarray:
    """Rectified linear unit, ``max(0, x)``, elementwise.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``x``
    """
    x = as_float_array(x, "relu")
    return np.maximum(x, 0)


def relu_grad(x: npt.ArrayLike) -> np.ndarray:
    """Derivative of :func:`relu` as the book defines it: 1 where ``x >= 0``, else 0.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``x``
        0s and 1s in ``x``'s float dtype (float64 for int or bool input, where the book's
        ``np.zeros_like(x)`` would return an int array). NaN gives 0, as in the book.

    Notes
    -----
    At ``x = 0``, where ReLU has no derivative, this gives 1, as the book's ``relu_grad`` does
    (``grad[x >= 0] = 1``), while :class:`layerwise.layers.Relu` (like the book's ``Relu``
    layer and PyTorch) passes no gradient there, 0. Kept as the book has it; the layers do not
    use this function.
    """
    x = as_float_array(x, "relu_grad")
    return (x >= 0).astype(x.dtype)


def log_softmax(x: npt.ArrayLike) -> np.ndarray:
    """Logarithm of :func:`softmax` over the last axis, computed by log-sum-exp.

    ``log_softmax(x)_k = (x_k - m) - log(1 + sum_{j != argmax} exp(x_j - m))``,
    ``m = max_j x_j``.

    Subtracting the row maximum makes every exponent ``<= 0``, so nothing overflows, and the
    largest term is exactly ``exp(0) = 1``, so the sum is at least 1 and its log never
    underflows to ``-inf``. The result is exact where ``log(softmax(x))`` would give ``-inf``,
    and a near-certain class keeps its tiny loss (``log1p``) instead of rounding it to 0.

    Parameters
    ----------
    x : array_like, shape (..., C)
        Scores (logits). A 1-D input is one sample.

    Returns
    -------
    ndarray, same shape as ``x``
    """
    x = as_float_array(x, "log_softmax")
    check_last_axis(x, "log_softmax")
    x2 = x.reshape(-1, x.shape[-1])
    with quiet():  # a row spanning more than the float range shifts to -inf: the true value
        shifted, _, rest = _shifted_exp(x2, get_array_module(x2).arange(len(x2)))
        return (shifted - np.log1p(rest)[:, np.newaxis]).reshape(x.shape)


def _shifted_exp(x2, rows):
    """Log-sum-exp parts of 2-D scores ``x2`` (N, C), computed around each row's maximum.

    ``rows`` is ``np.arange(N)``. Returns ``shifted = x2 - max``, ``e = exp(shifted)`` and
    ``rest``, the sum of ``e`` over all but the maximum's entry. The maximum contributes exactly
    ``exp(0) = 1``, so ``log(sum_j exp(shifted_j)) = log1p(rest)``, which keeps a tiny total such
    as 1e-22 (``1 + 1e-22`` rounds to 1, and ``log(1)`` would be 0). For callers under ``quiet()``.
    """
    top = np.argmax(x2, axis=1)
    shifted = x2 - x2[rows, top][:, np.newaxis]
    e = np.exp(shifted)
    e[rows, top] = 0
    rest = e.sum(axis=1)
    e[rows, top] = 1
    return shifted, e, rest


def softmax(x: npt.ArrayLike) -> np.ndarray:
    """Softmax over the last axis: ``exp(x_k) / sum_j exp(x_j)``.

    Parameters
    ----------
    x : array_like, shape (..., C)
        Scores (logits). A 1-D input is one sample, a 2-D input a batch of rows.

    Returns
    -------
    ndarray, same shape as ``x``
        Each row is non-negative and sums to 1.

    Notes
    -----
    Shifting by the row maximum does not change the result (the factor ``exp(-m)`` cancels)
    but keeps ``exp`` from overflowing.
    """
    x = as_float_array(x, "softmax")
    check_last_axis(x, "softmax")
    with quiet():  # a row spanning more than the float range shifts to -inf, exp gives 0
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
    """Sum of squared errors, ``0.5 * sum((y - t)**2)`` over every element (the book's 4.2.1).

    Parameters
    ----------
    y : array_like, any shape
        The network's output.
    t : array_like, same shape as ``y``
        The target, e.g. one-hot rows for classification.

    Returns
    -------
    float
        The sum over all elements, not a mean over the batch (the book's definition), as a NumPy
        scalar of ``y``'s float dtype (``t`` is converted to it).

    Raises
    ------
    ValueError
        If ``t``'s shape differs from ``y``'s. The book's version broadcasts, so that label
        indices ``t`` of shape (N,) against ``y`` of shape (N, N) give a number without
        complaint; here label indices must be made one-hot first, ``np.eye(C)[t]``.

    Notes
    -----
    The book's chapter-4 text names this function ``mean_squared_error``, and
    :data:`mean_squared_error` is this same function. Despite that name it is a sum with the
    factor 1/2, not the mean that PyTorch's ``MSELoss`` computes.
    """
    y = as_float_array(y, "sum_squared_error", name="y")
    t = as_float_array(t, "sum_squared_error", name="t")
    if t.shape != y.shape:
        raise ValueError(
            f"sum_squared_error: t must have the shape of y, {y.shape}, got {t.shape}"
            + (
                "; for label indices pass one-hot rows, np.eye(C)[t]"
                if y.ndim and t.shape == y.shape[:-1]
                else ""
            )
        )
    with quiet():  # a difference beyond the float range gives an inf loss, without a warning
        return (0.5 * np.sum((y - as_dtype(t, y.dtype)) ** 2)).astype(y.dtype)  # on y's device


# The book's chapter-4 text defines the same formula under this name.
mean_squared_error = sum_squared_error


def cross_entropy_error(y: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
    """Cross-entropy ``-sum_k t_k log y_k``, averaged over the batch.

    Parameters
    ----------
    y : array_like, shape (N, C) or (C,)
        Probabilities (e.g. the output of :func:`softmax`). A 1-D ``y`` is one sample.
    t : array_like, shape (N,) or () of integer labels in [0, C), or shape like ``y``
        Supervision: label indices, or one-hot / probability rows.

    Returns
    -------
    float
        Mean over the N samples, a NumPy scalar of ``y``'s float dtype.

    Notes
    -----
    The book adds ``1e-7`` inside the log, which floors the loss of a perfect prediction at
    ``1e-7`` and caps a certain miss at ``16.1``. Here ``y`` is clipped from below at the
    smallest positive normal number of its dtype instead, so ``y == 0`` still gives a finite
    loss (about 708 in float64) and every ordinary ``y`` is used exactly. When you have the
    logits, :class:`layerwise.layers.SoftmaxWithLoss` is exact even where ``y`` underflows.
    """
    y = as_float_array(y, "cross_entropy_error", name="y")
    check_scores(y, "cross_entropy_error", name="y")
    labels, onehot = check_labels(t, y.shape, "cross_entropy_error")
    with quiet():  # a negative "probability" gives NaN, without a warning
        log_y = np.log(np.maximum(y, np.finfo(y.dtype).tiny))
    return mean_negative_log(log_y, labels, onehot)


def softmax_loss(x: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
    """Cross-entropy of ``softmax(x)`` against ``t``, computed from the logits ``x``.

    ``-mean_n sum_k t_nk log_softmax(x)_nk``: the book's ``cross_entropy_error(softmax(x), t)``,
    but exact where ``softmax(x)`` underflows to 0 (see :func:`log_softmax`), and without the
    book's ``1e-7`` floor, so a near-certain correct class keeps its tiny loss.

    Parameters
    ----------
    x : array_like, shape (N, C) or (C,)
        Scores (logits). A 1-D ``x`` is one sample.
    t : array_like, shape (N,) or () of integer labels in [0, C), or shape like ``x``
        Label indices, or one-hot / probability rows.

    Returns
    -------
    float
        Mean over the N samples, a NumPy scalar of ``x``'s float dtype.
    """
    x = as_float_array(x, "softmax_loss")
    check_scores(x, "softmax_loss")
    labels, onehot = check_labels(t, x.shape, "softmax_loss")
    return mean_negative_log(log_softmax(x), labels, onehot)


def mean_negative_log(
    log_y: np.ndarray, labels: np.ndarray | None, onehot: np.ndarray | None
) -> np.floating:
    """``-mean_n sum_k t_nk log_y_nk``: the cross-entropy's last step, given log-probabilities.

    The common end of :func:`cross_entropy_error`, :func:`softmax_loss` and
    :class:`layerwise.layers.SoftmaxWithLoss` (PyTorch's ``nll_loss`` with a mean). The
    supervision is taken as already checked (labels in range, shapes agreeing): exactly one of
    ``labels`` and ``onehot`` is given.

    Parameters
    ----------
    log_y : ndarray, shape (N, C) or (C,)
        Log-probabilities; a 1-D ``log_y`` is one row.
    labels : ndarray of int, shape (N,), or None
        Label indices in [0, C); ``None`` when ``onehot`` is given.
    onehot : ndarray, shape like ``log_y``, or None
        One-hot or probability rows; ``None`` when ``labels`` is given.

    Returns
    -------
    float
        Mean over the rows, a scalar of ``log_y``'s dtype (on ``log_y``'s device).
    """
    dtype = log_y.dtype
    log_y = log_y.reshape(-1, log_y.shape[-1])
    n = len(log_y)
    with quiet():  # huge one-hot weights give an inf loss, without a warning
        if labels is not None:
            total = log_y[get_array_module(log_y).arange(n), labels.reshape(n)].sum()
        elif onehot is not None:
            total = np.sum(onehot.reshape(log_y.shape) * log_y)
        else:
            raise TypeError("mean_negative_log: give labels or onehot")
        # astype, not dtype.type: a NumPy scalar stays one, CuPy's 0-d array stays on the GPU
        return (-total / n).astype(dtype)


def numerical_gradient(
    f: Callable[[np.ndarray], npt.ArrayLike], x: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    """Gradient of a scalar function by central differences, for an array of any shape.

    ``df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)`` for every element ``i``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar. It may ignore its argument and read ``x`` through a closure
        (as the book's networks do): ``x`` is modified in place, one element at a time.
    x : ndarray of float, any shape
        The point. Each element is restored exactly afterwards (the saved value is written back,
        not recomputed by adding and subtracting ``h``).
    h : float, default 1e-4
        Step, a positive finite number. 1e-4 suits float64; float32 needs a larger step and
        gives about 3 digits; float16 (spacing 1e-3 near 1) needs ``h`` near 1e-1, or the
        perturbed ``x`` rounds back to ``x`` and the gradient comes out 0.

    Returns
    -------
    ndarray, same shape and dtype as ``x``

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a floating ndarray, or ``f`` returns something
        other than a real scalar.
    ValueError
        If ``x`` is read-only (it must be perturbed in place) or ``h`` is not positive and finite.
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient: f must be callable, got {type(f).__name__}")
    is_array = isinstance(x, np.ndarray) or is_cupy_array(x)  # a GPU network's too
    if not is_array or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            "numerical_gradient: x must be a floating-point ndarray (it is perturbed in place), "
            f"got {type(x).__name__}" + (f" of dtype {x.dtype}" if is_array else "")
        )
    if not is_writeable(x):
        raise ValueError(
            "numerical_gradient: x must be writeable (it is perturbed in place and restored); "
            "pass a copy, x.copy(), with f reading its argument"
        )
    if not isinstance(h, numbers.Real) or not (0 < h < np.inf):
        raise ValueError(f"numerical_gradient: h must be a positive finite number, got {h!r}")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx].copy()  # NumPy's x[idx] is a scalar copy, CuPy's a 0-d view of x
        with quiet():  # x near the float maximum steps to inf, as x + h does in NumPy
            x_plus, x_minus = saved + h, saved - h
        try:
            x[idx] = x_plus
            f_plus = _real_scalar(f(x))
            x[idx] = x_minus
            f_minus = _real_scalar(f(x))
        finally:  # x is the caller's: restore it even when f raises
            x[idx] = saved
        with quiet():  # a slope beyond x's float range is inf, as the quotient gives
            grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def _real_scalar(value):
    """``f``'s result as a float64, or a TypeError naming what ``f`` returned."""
    # A GPU network's loss is a 0-d CuPy array: read on the host.
    scalar_like = isinstance(value, (numbers.Number, np.ndarray)) or is_cupy_array(value)
    arr = as_numpy(value) if scalar_like else None
    if arr is None or arr.shape != () or arr.dtype.kind not in "biuf":
        raise TypeError(
            "numerical_gradient: f(x) must return a real scalar (e.g. a loss), got "
            f"{type(value).__name__}"
            + ("" if arr is None else f" of shape {arr.shape} and dtype {arr.dtype}")
        )
    with quiet():  # a longdouble beyond float64's range becomes inf
        return np.float64(arr)
