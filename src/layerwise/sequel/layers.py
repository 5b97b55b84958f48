"""The sequel's ``common/layers.py``: layers with ``params``/``grads`` lists.

=====================  =======================================================  ==========
layer                  forward                                                  the sequel
=====================  =======================================================  ==========
:class:`MatMul`        ``out = x W``                                            1.3.4
:class:`Affine`        ``out = x W + b``                                        1.3.4
:class:`Softmax`       ``y = softmax(x)``                                       1.3.5
:class:`SoftmaxWithLoss`  softmax and cross-entropy                             1.3.5
:class:`Sigmoid`       ``y = 1 / (1 + exp(-x))``                                1.3.4
:class:`SigmoidWithLoss`  sigmoid and binary cross-entropy                      4.2.4
:class:`Dropout`       the book's (volume 1) dropout                            6.4
:class:`Embedding`     ``out = W[idx]``                                         4.1.2
=====================  =======================================================  ==========

Every layer keeps the sequel's attributes (``params``, ``grads``, ``x``, ``out``, ``y``, ``t``,
``mask``, ``idx``) and writes its gradients in place into ``grads``. Differences from the
sequel's code, each with a regression test in ``tests/test_sequel_layers.py``:

- ``Affine`` and ``MatMul`` take ``(..., D)`` inputs (the sequel's backward is wrong for
  anything but 2-D: ``x.T`` of a 3-D array is not the transposed batch);
- ``Softmax`` works over the last axis of any shape (the sequel's over 1-D and 2-D only);
- the losses are computed from the logits, exactly (the sequel adds ``1e-7`` inside ``log``);
- layers with parameters compute in their parameters' dtype, the others keep a floating
  input's dtype (the sequel's time layers return float32 whatever they are given);
- random layers draw from their own seedable ``numpy.random.Generator`` (``seed=``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_dtype, as_float_array, check_dout, quiet
from ..backend import as_array_like, get_array_module
from ..layers import Dropout as _Dropout
from ..layers import Sigmoid as _Sigmoid
from ..layers import SoftmaxWithLoss as _SoftmaxWithLoss
from .base import SequelLayer, check_ids, register_sequel_layer
from .functions import sigmoid, softmax

__all__ = [
    "Affine",
    "Dropout",
    "Embedding",
    "MatMul",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
]


def _features(x: Any, W: np.ndarray, where: str) -> np.ndarray:
    """``x`` of shape (..., D) in W's dtype, D = W.shape[0]; else a ValueError."""
    x = as_float_array(x, where)
    if x.ndim < 1 or x.shape[-1] != W.shape[0] or x.size == 0:
        raise ValueError(
            f"{where}: expected a non-empty x of shape (..., {W.shape[0]}) to match W "
            f"{W.shape}, got {x.shape}"
        )
    return as_dtype(x, W.dtype)


@register_sequel_layer
class MatMul(SequelLayer):
    """Matrix product without bias: ``out = x W``.

    Backward: ``dx = dout W^T``, ``dW = x^T dout`` (summed over every leading axis).

    Parameters
    ----------
    W : ndarray, shape (D, H)

    Shapes
    ------
    x : (..., D). out, dout : (..., H). dx : like x. grads[0] (dW) : (D, H).

    Caches ``x`` (in W's dtype).

    Examples
    --------
    >>> import numpy as np
    >>> layer = MatMul(np.arange(6.0).reshape(3, 2))
    >>> layer.forward(np.array([[1.0, 0.0, 1.0]]))
    array([[4., 6.]])
    >>> layer.backward(np.array([[1.0, 1.0]]))
    array([[1., 5., 9.]])
    >>> layer.grads[0]
    array([[1., 1.],
           [0., 0.],
           [1., 1.]])
    """

    param_names: tuple[str, ...] = ("W",)

    def __init__(self, W: npt.ArrayLike) -> None:
        self._set_params(W)
        if self.params[0].ndim != 2:
            raise ValueError(f"{type(self).__name__}: W must be 2-D, got {self.params[0].shape}")
        self.x: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        W = self.params[0]
        self.x = _features(x, W, f"{type(self).__name__}.forward")
        with quiet():  # one (N T, D) by (D, H) product: a 3-D x @ W is a slower batch of them
            return (self.x.reshape(-1, W.shape[0]) @ W).reshape(*self.x.shape[:-1], W.shape[1])

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.x is None:
            raise self._not_ready()
        W = self.params[0]
        where = type(self).__name__
        dout = check_dout(dout, (*self.x.shape[:-1], W.shape[1]), where, W.dtype)
        x2 = self.x.reshape(-1, W.shape[0])
        d2 = dout.reshape(-1, W.shape[1])
        with quiet():
            np.matmul(x2.T, d2, out=self.grads[0])
            self._bias_grad(d2)
            return (d2 @ W.T).reshape(self.x.shape)

    def _bias_grad(self, d2: np.ndarray) -> None:
        """Affine's ``db``; MatMul has none."""


@register_sequel_layer
class Affine(MatMul):
    """Fully connected layer: ``out = x W + b``.

    Backward: ``dx = dout W^T``, ``dW = x^T dout``, ``db = sum(dout)`` over every leading axis.

    Parameters
    ----------
    W : ndarray, shape (D, H)
    b : ndarray, shape (H,)

    Shapes
    ------
    x : (..., D), e.g. (N, D) or (N, T, D). out, dout : (..., H). dx : like x.
    grads : [dW (D, H), db (H,)].

    Examples
    --------
    >>> import numpy as np
    >>> layer = Affine(np.ones((2, 3)), np.array([0.0, 1.0, 2.0]))
    >>> layer.forward(np.array([[1.0, 2.0]]))
    array([[3., 4., 5.]])
    >>> layer.backward(np.ones((1, 3)))
    array([[3., 3.]])
    >>> layer.grads[1]
    array([1., 1., 1.])
    """

    param_names = ("W", "b")

    def __init__(self, W: npt.ArrayLike, b: npt.ArrayLike) -> None:
        self._set_params(W, b)
        W, b = self.params
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"{type(self).__name__}: W must be 2-D (D, H) and b of shape (H,), got W "
                f"{W.shape} and b {b.shape}"
            )
        self.x = None

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        W, b = self.params
        D, H = W.shape
        x = _features(x, W, f"{type(self).__name__}.forward")
        if x.size // D <= 2 * D:  # rows of x
            out = super().forward(x)
            out += b  # in place: the output keeps W's dtype
            return out
        # Many rows: [x, 1] [W; b] puts the bias inside the product, so the (M, H) output is
        # written once; the copy of W is the smaller pass when M > 2 D (Rnnlm's 700 x 10000
        # scores from D 100: 30% off the forward).
        self.x = x
        xp = get_array_module(W)
        # concatenate, not x1[..., :D] = x: CuPy would copy a host x over without a word
        x1 = xp.concatenate([x, xp.ones((*x.shape[:-1], 1), W.dtype)], axis=-1)
        with quiet():
            return (x1.reshape(-1, D + 1) @ xp.concatenate([W, b[None]])).reshape(*x.shape[:-1], H)

    def _bias_grad(self, d2: np.ndarray) -> None:
        np.sum(d2, axis=0, out=self.grads[1])


@register_sequel_layer
class Softmax(SequelLayer):
    """Softmax over the last axis, as a layer.

    Forward: ``y_k = exp(x_k) / sum_j exp(x_j)``.
    Backward: ``dx = y * dout - y * sum(y * dout)`` (the sum over the last axis): the
    vector-Jacobian product of ``dy_k/dx_j = y_k (delta_kj - y_j)``.

    Shapes
    ------
    x, out, dout, dx : (..., C). Caches ``out``.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.out is None:
            raise self._not_ready()
        y = self.out
        dout = check_dout(dout, y.shape, "Softmax", y.dtype)
        dx = y * dout
        dx -= y * dx.sum(axis=-1, keepdims=True)
        return dx


class _EmptyLists:
    """The sequel's empty ``params``/``grads`` on a volume-1 layer without parameters."""

    params: list[np.ndarray]
    grads: list[np.ndarray]

    def __init__(self) -> None:
        super().__init__()
        self.params, self.grads = [], []


@register_sequel_layer
class SoftmaxWithLoss(_EmptyLists, _SoftmaxWithLoss):
    """Volume 1's :class:`~layerwise.layers.SoftmaxWithLoss` with empty ``params``/``grads``.

    The loss is the mean cross-entropy over the batch, computed from the logits (exact, no
    ``1e-7``); ``t`` holds label indices or one-hot rows. See the volume-1 class for the maths.
    """


@register_sequel_layer
class Sigmoid(_EmptyLists, _Sigmoid):
    """Volume 1's :class:`~layerwise.layers.Sigmoid` (no overflow) with empty lists."""


@register_sequel_layer
class Dropout(_Dropout):
    """Volume 1's :class:`~layerwise.layers.Dropout` (the book's, not inverted) with lists.

    ``forward(x, train_flg=True)`` as in the sequel's ``common/layers.py``; ``seed=`` seeds the
    layer's own generator.
    """

    params: list[np.ndarray]
    grads: list[np.ndarray]

    def __init__(
        self, dropout_ratio: float = 0.5, *, inverted: bool = False, seed: Any = None
    ) -> None:
        super().__init__(dropout_ratio, inverted=inverted, seed=seed)
        self.params, self.grads = [], []


@register_sequel_layer
class SigmoidWithLoss(SequelLayer):
    """Sigmoid followed by the binary cross-entropy, averaged over every entry.

    Forward: ``y = sigmoid(x)``,
    ``loss = mean(-t log y - (1 - t) log(1 - y)) = mean(log(1 + exp(x)) - t x)``, the right
    side computed with ``logaddexp`` (exact for any finite ``x``, where the sequel's
    ``log(y + 1e-7)`` caps each term at 16.1).
    Backward: ``dx = dout * (y - t) / n``, ``n`` the number of entries.

    Shapes
    ------
    x : (N,) scores (any shape). t : like x, labels 0 or 1 (or probabilities).
    loss : scalar. dx : like x. Caches ``y``, ``t`` and ``loss``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = SigmoidWithLoss()
    >>> round(float(layer.forward(np.array([0.0, 0.0]), np.array([1, 0]))), 4)  # log 2
    0.6931
    >>> layer.backward()  # (y - t) / 2
    array([-0.25,  0.25])
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.loss: np.floating | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
        where = f"{type(self).__name__}.forward"
        x = as_float_array(x, where)
        t = as_array_like(as_array(t, where, name="t"), x)  # labels on the scores' device
        if t.shape != x.shape or x.size == 0:
            raise ValueError(
                f"{where}: t must have the shape of the scores x, {x.shape} (non-empty), got "
                f"{t.shape}"
            )
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{where}: t must be 0/1 labels, got dtype {t.dtype}")
        self.t = t
        self.y = sigmoid(x)
        with quiet():
            self.loss = loss = np.mean(np.logaddexp(0, x) - t * x)
        return loss

    def backward(self, dout: npt.ArrayLike = 1.0) -> np.ndarray:
        if self.y is None or self.t is None:
            raise self._not_ready()
        dout = float(check_dout(dout, (), type(self).__name__))
        dx = self.y - self.t
        dx *= dout / self.y.size
        return as_dtype(dx, self.y.dtype)


def scatter_rows(
    dW: np.ndarray, ids: np.ndarray, rows: np.ndarray, zero: np.ndarray | None = None
) -> None:
    """``dW[...] = 0`` then ``dW[ids[i]] += rows[i]`` for every i: the embedding's backward.

    With ``zero`` (word ids), only the rows ``dW[zero]`` are zeroed first: exact when every
    other row of ``dW`` already is 0.

    ``np.add.at`` handles repeated ids (a plain ``dW[ids] += rows`` keeps only one of them). It
    runs on the flat view with one index per entry: NumPy's ``ufunc.at`` is about twice as fast
    on a 1-D target as on rows of a 2-D one.
    """
    if zero is None:
        dW[...] = 0
    else:
        dW[zero] = 0
    V, D = dW.shape
    rows = rows.reshape(-1, D)
    if not dW.flags.c_contiguous:  # no flat view to write through (a transposed weight's)
        np.add.at(dW, ids.reshape(-1), rows)
        return
    flat = ids.reshape(-1, 1) * D + get_array_module(dW).arange(D)
    np.add.at(dW.reshape(V * D), flat.reshape(-1), rows.reshape(-1))


def scatter_scaled_rows(
    dW: np.ndarray, ids: np.ndarray, scale: np.ndarray, rows: np.ndarray, zero: Any = None
) -> np.ndarray:
    """``dW[...] = 0`` then ``dW[ids[n, k]] += scale[n, k] rows[n]`` for every n, k.

    :func:`scatter_rows` of ``scale[:, :, None] * rows[:, None, :]`` without forming that
    (N, K, D) array: with ``u`` the distinct ids and ``C[j, n]`` the sum of ``scale[n, k]`` over
    the k where ``ids[n, k] == u[j]``, ``dW[u] = C rows``, one (U, N) by (N, D) product instead
    of N K row additions (15% off CBOW's step). ``zero`` as in :func:`scatter_rows`.

    Returns
    -------
    u : ndarray of int, the rows written.
    """
    if zero is None:
        dW[...] = 0
    else:
        dW[zero] = 0
    N, K = ids.shape
    xp = get_array_module(dW)
    u, inv = xp.unique(ids, return_inverse=True)
    C = xp.zeros(len(u) * N, dW.dtype)  # (U, N), filled through its flat view (one index)
    np.add.at(C, (inv.reshape(N, K) * N + xp.arange(N)[:, None]).reshape(-1), scale.reshape(-1))
    dW[u] = C.reshape(len(u), N) @ rows
    return u


@register_sequel_layer
class Embedding(SequelLayer):
    """Rows of a weight matrix picked by word id: ``out = W[idx]``.

    Backward: ``dW = 0``, then ``dW[idx[n]] += dout[n]`` for every n, so an id that occurs
    twice gets both rows of ``dout``; there is no gradient for the ids (returns None).

    Parameters
    ----------
    W : ndarray, shape (V, D)
        One row per word of a vocabulary of V words.
    touched_rows_only : bool, default False, keyword-only
        Backward zeroes only the rows of ``dW`` that its previous call wrote, not all V rows, so
        a step costs what its ids touch instead of V D (zeroing a 10000 x 100 float32 ``dW``
        took half of CBOW's step). The same ``dW``, as long as nothing but this layer writes
        non-zeros into ``grads[0]`` between its backward calls: scaling it (``clip_grads``) or
        reading it (the optimizers) is fine; adding into it (``remove_duplicate`` merging a tied
        weight's gradient) is not. ``CBOW`` and ``SkipGram``, whose lists hold no shared array,
        use it.

    Shapes
    ------
    idx : integer array of any shape (N,) or (N, T), ids in [0, V). out, dout : (*idx.shape, D).
    grads[0] (dW) : (V, D). Caches ``idx`` (and, with ``touched_rows_only``, the ids written last
    as ``touched``).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Embedding(np.arange(6.0).reshape(3, 2))
    >>> layer.forward(np.array([2, 0, 2]))
    array([[4., 5.],
           [0., 1.],
           [4., 5.]])
    >>> layer.backward(np.ones((3, 2)))
    >>> layer.grads[0]  # word 2 twice
    array([[1., 1.],
           [0., 0.],
           [2., 2.]])
    """

    param_names = ("W",)

    def __init__(self, W: npt.ArrayLike, *, touched_rows_only: bool = False) -> None:
        self._set_params(W)
        if self.params[0].ndim != 2:
            raise ValueError(f"{type(self).__name__}: W must be 2-D (V, D), got {self.W.shape}")
        self.idx: np.ndarray | None = None
        self.touched_rows_only = bool(touched_rows_only)
        self.touched: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return {"touched_rows_only": True} if self.touched_rows_only else {}

    def forward(self, idx: npt.ArrayLike) -> np.ndarray:
        W = self.params[0]
        # ids given on the host go to W's device once (CuPy would copy them at each use)
        self.idx = as_array_like(check_ids(idx, len(W), f"{type(self).__name__}.forward"), W)
        return W[self.idx]

    def backward(self, dout: npt.ArrayLike) -> None:
        if self.idx is None:
            raise self._not_ready()
        W = self.params[0]
        dout = check_dout(dout, (*self.idx.shape, W.shape[1]), type(self).__name__, W.dtype)
        scatter_rows(self.grads[0], self.idx, dout, zero=self.touched)
        if self.touched_rows_only:  # a copy: the caller may refill its array of ids
            self.touched = self.idx.copy()
        return None

    def backward_scaled_rows(self, scale: npt.ArrayLike, rows: npt.ArrayLike) -> None:
        """``backward(scale[:, :, None] * rows[:, None, :])`` for ids of shape (N, K).

        The gradient where each of a row's K words is the same vector times a number (CBOW's
        mean of its context words, :class:`EmbeddingDot`'s scores), through
        :func:`scatter_scaled_rows`. scale : (N, K). rows : (N, D).
        """
        if self.idx is None:
            raise self._not_ready()
        W = self.params[0]
        where = f"{type(self).__name__}.backward_scaled_rows"
        scale = as_dtype(as_array(scale, where, name="scale"), W.dtype)
        rows = as_dtype(as_array(rows, where, name="rows"), W.dtype)
        N, D = len(self.idx), W.shape[1]
        if self.idx.ndim != 2 or scale.shape != self.idx.shape or rows.shape != (N, D):
            raise ValueError(
                f"{where}: expected ids (N, K), scale of their shape and rows (N, {D}), "
                f"got ids {self.idx.shape}, scale {scale.shape} and rows {rows.shape}"
            )
        touched = scatter_scaled_rows(self.grads[0], self.idx, scale, rows, zero=self.touched)
        if self.touched_rows_only:
            self.touched = touched
