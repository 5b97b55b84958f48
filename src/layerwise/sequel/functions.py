"""The sequel's ``common/functions.py``: ``sigmoid``, ``relu``, ``softmax``,
``cross_entropy_error``, the same functions as volume 1's (:mod:`layerwise.functions`).

Volume 1's versions are already what the sequel needs, and more exact: ``sigmoid`` never
overflows, ``softmax`` works over the last axis of any shape (the sequel's over 1-D and 2-D
inputs only), ``cross_entropy_error`` takes label indices or one-hot rows. Two functions are
added for the recurrent layers, where speed matters: :func:`gate_sigmoid` and
:func:`softmax_and_log_at` (with :func:`exp_and_log_at`, its unnormalised form).
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..functions import cross_entropy_error, log_softmax, relu, sigmoid, softmax

__all__ = [
    "cross_entropy_error",
    "exp_and_log_at",
    "gate_sigmoid",
    "log_softmax",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_and_log_at",
]


def gate_sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``sigmoid(a) = (1 + tanh(a / 2)) / 2``, the gates' sigmoid of the recurrent layers.

    One transcendental call and no overflow for any finite ``a`` (``tanh`` saturates at +-1);
    three passes over the array against :func:`sigmoid`'s five. It loses relative (never
    absolute) precision where ``sigmoid(a)`` is below about 1e-8, which a gate does not need.

    Parameters
    ----------
    a : ndarray of float, any shape
    out : ndarray like ``a``, optional
        Where to write the result (may be ``a`` itself).
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def exp_and_log_at(
    x: np.ndarray, t: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The softmax of ``x`` (M, C) left unnormalised, its row sums, and ``log y[m, t[m]]``.

    ``e = exp(x - m)`` with ``m`` the row maximum, ``s = sum_j e_j``, so that
    ``softmax(x) = e / s``, and ``log y_t = (x_t - m) - log s``: every exponent is at most 0 and
    the sum at least 1, so nothing overflows and ``log y_t`` is finite where ``y_t`` underflows
    to 0 (the sequel's ``log(softmax(x))`` gives ``-inf`` there).

    Its four steps (max, shift, exp, sum) run on blocks of rows of about 256 KB, which stay in
    the CPU's cache from the first step to the last: a language model's scores (700 x 10000
    floats) then cross memory twice instead of six times. The row sums are a product with a
    vector of ones, and the division by them is left to the caller, who can fold it into a
    pass it makes anyway (:class:`~layerwise.sequel.time_layers.TimeSoftmaxWithLoss` into its
    backward's scaling): 25% off the loss's forward at those sizes.

    Parameters
    ----------
    x : ndarray of float, shape (M, C)
    t : ndarray of int, shape (M,), entries in [0, C)
    out : ndarray, shape (M, C), x's dtype, optional
        Where ``e`` is written; ``x`` itself may be given, and is then overwritten block by
        block (each block's maximum and labelled entries are read before it is).

    Returns
    -------
    e : ndarray, shape (M, C), x's dtype (``out`` where given)
    s : ndarray, shape (M,)
    log_y_t : ndarray, shape (M,)
    """
    xp = get_array_module(x)
    if out is not None and (out.shape != x.shape or out.dtype != x.dtype):
        raise ValueError(
            f"exp_and_log_at: out must have x's shape {x.shape} and dtype {x.dtype}, got "
            f"{out.shape} {out.dtype}"
        )
    e = xp.empty_like(x) if out is None else out
    s = xp.empty(len(x), x.dtype)
    log_y_t = xp.empty(len(x), x.dtype)
    ones = xp.ones(x.shape[1], x.dtype)
    rows = max(1, (1 << 18) // max(1, x.shape[1] * x.itemsize))
    for start in range(0, len(x), rows):
        block, eb = x[start : start + rows], e[start : start + rows]
        np.subtract(block, block.max(axis=1, keepdims=True), out=eb)
        log_y_t[start : start + rows] = eb[xp.arange(len(eb)), t[start : start + rows]]
        np.exp(eb, out=eb)
        np.matmul(eb, ones, out=s[start : start + rows])
    log_y_t -= np.log(s)
    return e, s, log_y_t


def softmax_and_log_at(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, log_y_t)``: ``y = softmax(x)`` over the last axis, ``log y[m, t[m]]``.

    :func:`exp_and_log_at`'s ``e / s`` and ``log_y_t``, for float ``x`` (M, C) and ids ``t``
    (M,) in [0, C); ``y`` (M, C) has x's dtype.
    """
    y, s, log_y_t = exp_and_log_at(x, t)
    y /= s[:, None]
    return y, log_y_t
