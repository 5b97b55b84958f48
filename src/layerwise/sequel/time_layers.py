"""The sequel's ``common/time_layers.py``: recurrent layers and their time-series versions.

A time layer takes a whole sequence, ``xs`` of shape (N, T, D) (batch, time, features), and
runs its cell T times. The sequel builds one cell object per step and multiplies the input
projection ``x_t Wx`` step by step; here the cells' maths is written once, as functions over
time-major arrays (T, N, ...), and

- the input projection of all T steps is one matrix product, ``X Wx + b`` of
  (T N, D) by (D, G H), before the loop; only ``h_{t-1} Wh`` stays inside it;
- backward collects each step's pre-activation gradient in one (T, N, G H) array and forms
  ``dWx``, ``dWh``, ``db`` and ``dxs`` after the loop with one product each;
- the single-step layers (:class:`RNN`, :class:`LSTM`, :class:`GRU`) run the same functions
  with T = 1.

Stateful layers (``stateful=True``) carry ``h`` (and LSTM's ``c``) from one ``forward`` to the
next (truncated BPTT: backward stops at the start of the current sequence); ``set_state`` /
``reset_state`` set or forget it; after ``backward``, ``dh`` is the gradient with respect to the
state the sequence started from. As in the sequel, a layer that is not stateful starts every
sequence from zeros, even after ``set_state``.

Differences from the sequel's code, each with a regression test:

- outputs and gradients keep the parameters' dtype (the sequel's are float32 whatever they
  are given, ``np.empty(..., dtype='f')``), so float64 layers pass gradient checks;
- ``TimeSoftmaxWithLoss`` computes ``log y`` from the logits (finite where ``y`` underflows),
  and its backward does not overwrite a cached array that a second call would read;
- ``TimeDropout`` draws from a generator of its own (``seed=``);
- a stateful layer given a batch of another size raises instead of broadcasting the state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_dtype, as_float_array, check_dout, quiet
from ..backend import as_array_like, get_array_module
from ..layers import Dropout as _Dropout
from ..layers.base import BackwardBeforeForwardError
from .base import SequelLayer, check_ids, check_ndim, register_sequel_layer
from .functions import exp_and_log_at, gate_sigmoid
from .layers import Affine, Embedding, SigmoidWithLoss

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "TimeAffine",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSigmoidWithLoss",
    "TimeSoftmaxWithLoss",
]

Array = np.ndarray


def _shifted(h0: Array, hs: Array) -> Array:
    """``[h0, hs[0], ..., hs[T-2]]``: the state each step started from, (T, N, H)."""
    return np.concatenate([h0[None], hs[:-1]])


def _flat(a: Array) -> Array:
    return a.reshape(-1, a.shape[-1])


def _input_projection(X: Array, Wx: Array, b: Array) -> Array:
    """``x_t Wx + b`` for every step at once: (T, N, G H), the buffer the loop completes."""
    T, N, _ = X.shape
    out = (_flat(X) @ Wx).reshape(T, N, -1)
    out += b
    return out


def _contiguous_T(W: Array) -> Array:
    """``W.T`` as a C-contiguous copy, for the backward loops' per-step ``da W^T``.

    OpenBLAS multiplies a few rows by a weight stored row-major up to 2.3x faster than by a
    transposed view of it (N 20, H 100 to 650, one thread); the copy costs about one step.
    """
    return get_array_module(W).ascontiguousarray(W.T)


def _input_grads(X: Array, dA: Array, Wx: Array, grads: list[Array]) -> Array:
    """Fill ``dWx`` and ``db`` from the pre-activation gradients; return ``dX`` (T, N, D)."""
    np.matmul(_flat(X).T, _flat(dA), out=grads[0])
    np.sum(dA, axis=(0, 1), out=grads[2])
    return (_flat(dA) @ Wx.T).reshape(X.shape)


def _static_grads(static: Array, dA: Array, Wx_static: Array, dWx_static: Array) -> Array:
    """The gradients through a static input (the same ``s`` (N, S) at every step).

    Its pre-activation term ``s Wx_s + b`` (N, G H) is shared by the T steps, so its gradient
    is ``dC = sum_t da_t``: ``dWx_s = s^T dC`` is written into ``dWx_static`` (S, G H), and
    ``ds = dC Wx_s^T`` is returned (N, S). (``db``, the sum of ``dA`` over t and n, is
    :func:`_input_grads`'s already.)
    """
    dC = dA.sum(axis=0)
    np.matmul(static.T, dC, out=dWx_static)
    return dC @ Wx_static.T


# ------------------------------------------------------------------------- the cells' maths
# X: inputs (T, N, D), time-major; h0 (and c0): the state before the first step (N, H).


def rnn_forward(X: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> tuple[Array]:
    """``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``; returns ``(hs,)``, hs (T, N, H)."""
    hs = _input_projection(X, Wx, b)
    h = h0
    for t in range(len(hs)):
        hs[t] += h @ Wh
        h = np.tanh(hs[t], out=hs[t])
    return (hs,)


def rnn_backward(
    dH: Array, X: Array, h0: Array, cache: tuple[Array], params: list[Array], grads: list[Array]
) -> tuple[Array, Array]:
    """``da_t = (dh_t + da_{t+1} Wh^T) (1 - h_t^2)``; returns (dX, dh0). Overwrites dH."""
    (hs,) = cache
    Wx, Wh, _ = params
    WhT = _contiguous_T(Wh)
    dh = np.zeros_like(h0)
    for t in reversed(range(len(dH))):
        da = dH[t]  # becomes the pre-activation gradient, in place
        da += dh
        da *= 1 - hs[t] ** 2
        dh = da @ WhT
    np.matmul(_flat(_shifted(h0, hs)).T, _flat(dH), out=grads[1])
    return _input_grads(X, dH, Wx, grads), dh


def lstm_forward(
    X: Array, h0: Array, c0: Array, Wx: Array, Wh: Array, b: Array
) -> tuple[Array, Array, Array]:
    """The sequel's LSTM, gates in the order f, g, i, o along the last axis.

    ``a = x_t Wx + h_{t-1} Wh + b``, ``f, i, o = sigmoid(a_f, a_i, a_o)``, ``g = tanh(a_g)``,
    ``c_t = f c_{t-1} + g i``, ``h_t = o tanh(c_t)``. Returns the activated gates (T, N, 4H),
    cs and hs (T, N, H).

    The sigmoids are :func:`gate_sigmoid`'s ``(1 + tanh(a / 2)) / 2``, the same numbers
    computed on whole rows: with ``m`` = 1/2 on the f, i and o columns and 1 on g's,
    ``tanh(a m) m + (m on f, i, o; 0 on g)`` activates the four gates in four contiguous
    passes over (N, 4H) instead of nine calls on column blocks (10-25% less forward time).
    """
    H = Wh.shape[0]
    gates = _input_projection(X, Wx, b)
    xp = get_array_module(gates)
    cs = xp.empty((*gates.shape[:2], H), gates.dtype)
    hs = np.empty_like(cs)
    m = xp.full(4 * H, 0.5, gates.dtype)
    m[H : 2 * H] = 1
    m_add = m.copy()
    m_add[H : 2 * H] = 0
    h, c = h0, c0
    for t in range(len(gates)):
        a = gates[t]
        a += h @ Wh
        a *= m
        np.tanh(a, out=a)
        a *= m
        a += m_add
        c = np.multiply(a[:, :H], c, out=cs[t])
        c += a[:, H : 2 * H] * a[:, 2 * H : 3 * H]
        h = np.tanh(c, out=hs[t])
        h *= a[:, 3 * H :]
    return gates, cs, hs


def lstm_backward(
    dH: Array,
    X: Array,
    h0: Array,
    c0: Array,
    cache: tuple[Array, Array, Array],
    params: list[Array],
    grads: list[Array],
    dc: Array | None = None,
    keep_dA: bool = False,
) -> Any:
    """Backward of :func:`lstm_forward`; returns (dX, dh0, dc0). Overwrites dH.

    With ``ds = dc_t + dh_t o (1 - tanh(c_t)^2)``: ``dc_{t-1} = ds f``, and the
    pre-activation gradients ``da_f = ds c_{t-1} f (1 - f)``, ``da_g = ds i (1 - g^2)``,
    ``da_i = ds g i (1 - i)``, ``da_o = dh_t tanh(c_t) o (1 - o)``; ``dh_{t-1} = da Wh^T``.
    ``dc`` is the gradient arriving at the last cell state (the single-step LSTM's). With
    ``keep_dA``, the pre-activation gradients (T, N, 4H) are returned fourth.

    Each step's factors (``tanh(c_t)``, the gates' slopes) are formed in (N, H) and (N, 4H)
    buffers reused from step to step, which stay in cache; only the pre-activation gradients
    are kept for all T steps, for one product each for ``dWx``, ``dWh`` and ``dX``.
    ``da Wh^T`` reads :func:`_contiguous_T`'s copy of ``Wh``.
    """
    gates, cs, hs = cache
    Wx, Wh, _ = params
    N, H = h0.shape
    WhT = _contiguous_T(Wh)
    dA = np.empty_like(gates)
    dh = np.zeros_like(h0)
    ds = np.empty_like(h0)  # tanh(c_t), then its slope, then ds
    dc_prev = np.empty_like(h0)
    slope = get_array_module(gates).empty((N, 4 * H), gates.dtype)
    dc = np.zeros_like(c0) if dc is None else dc
    for t in reversed(range(len(dH))):
        g = gates[t]
        dht = dH[t]
        dht += dh
        da = dA[t]
        tanh_c = np.tanh(cs[t], out=ds)
        np.multiply(dht, tanh_c, out=da[:, 3 * H :])
        np.multiply(tanh_c, tanh_c, out=ds)
        np.subtract(1, ds, out=ds)
        ds *= g[:, 3 * H :]
        ds *= dht
        ds += dc
        np.multiply(ds, cs[t - 1] if t else c0, out=da[:, :H])
        np.multiply(ds, g[:, 2 * H : 3 * H], out=da[:, H : 2 * H])
        np.multiply(ds, g[:, H : 2 * H], out=da[:, 2 * H : 3 * H])
        dc = np.multiply(ds, g[:, :H], out=dc_prev)
        # the activations' slopes: s (1 - s) for the sigmoids, 1 - g^2 for tanh
        np.subtract(1, g, out=slope)
        slope *= g
        np.multiply(g[:, H : 2 * H], g[:, H : 2 * H], out=slope[:, H : 2 * H])
        np.subtract(1, slope[:, H : 2 * H], out=slope[:, H : 2 * H])
        da *= slope
        dh = np.matmul(da, WhT, out=dh)
    np.matmul(_flat(_shifted(h0, hs)).T, _flat(dA), out=grads[1])
    dX = _input_grads(X, dA, Wx, grads)
    return (dX, dh, dc, dA) if keep_dA else (dX, dh, dc)


def gru_forward(X: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> tuple[Array, Array, Array]:
    """The sequel's GRU, gates in the order z, r, h~ along the last axis.

    ``z = sigmoid(x Wx_z + h_{t-1} Wh_z + b_z)``, ``r = sigmoid(x Wx_r + h_{t-1} Wh_r + b_r)``,
    ``h~ = tanh(x Wx_h + (r h_{t-1}) Wh_h + b_h)``, ``h_t = (1 - z) h_{t-1} + z h~``.
    Returns the activated gates (T, N, 3H), ``r h_{t-1}`` (T, N, H) and hs (T, N, H).
    """
    H = Wh.shape[0]
    gates = _input_projection(X, Wx, b)
    rh = get_array_module(gates).empty((*gates.shape[:2], H), gates.dtype)
    hs = np.empty_like(rh)
    h = h0
    for t in range(len(gates)):
        zr, hh = gates[t, :, : 2 * H], gates[t, :, 2 * H :]
        zr += h @ Wh[:, : 2 * H]
        gate_sigmoid(zr, out=zr)
        np.multiply(zr[:, H:], h, out=rh[t])
        hh += rh[t] @ Wh[:, 2 * H :]
        np.tanh(hh, out=hh)
        h = np.subtract(hh, h, out=hs[t])
        h *= zr[:, :H]
        h += hs[t - 1] if t else h0
    return gates, rh, hs


def gru_backward(
    dH: Array,
    X: Array,
    h0: Array,
    cache: tuple[Array, Array, Array],
    params: list[Array],
    grads: list[Array],
) -> tuple[Array, Array]:
    """Backward of :func:`gru_forward`; returns (dX, dh0). Overwrites dH.

    ``da_h = dh_t z (1 - h~^2)``, ``d(rh) = da_h Wh_h^T``, ``da_z = dh_t (h~ - h_{t-1}) z (1 - z)``,
    ``da_r = d(rh) h_{t-1} r (1 - r)``,
    ``dh_{t-1} = dh_t (1 - z) + r d(rh) + [da_z, da_r] [Wh_z, Wh_r]^T``.
    """
    gates, rh, hs = cache
    Wx, Wh, _ = params
    H = Wh.shape[0]
    h_prev = _shifted(h0, hs)
    Wh_zr_T, Wh_h_T = _contiguous_T(Wh[:, : 2 * H]), _contiguous_T(Wh[:, 2 * H :])
    dA = np.empty_like(gates)
    dh = np.zeros_like(h0)
    for t in reversed(range(len(dH))):
        z, r, hh = gates[t, :, :H], gates[t, :, H : 2 * H], gates[t, :, 2 * H :]
        dht = dH[t]
        dht += dh
        da = dA[t]
        np.multiply(dht * z, 1 - hh**2, out=da[:, 2 * H :])
        drh = da[:, 2 * H :] @ Wh_h_T
        np.multiply(dht * (hh - h_prev[t]), z * (1 - z), out=da[:, :H])
        np.multiply(drh * h_prev[t], r * (1 - r), out=da[:, H : 2 * H])
        dh = dht * (1 - z)
        dh += r * drh
        dh += da[:, : 2 * H] @ Wh_zr_T
    np.matmul(_flat(h_prev).T, _flat(dA[..., : 2 * H]), out=grads[1][:, : 2 * H])
    np.matmul(_flat(rh).T, _flat(dA[..., 2 * H :]), out=grads[1][:, 2 * H :])
    return _input_grads(X, dA, Wx, grads), dh


# ------------------------------------------------------------------------------- the layers


class _Cell(SequelLayer):
    """Parameters ``Wx`` (D, G H), ``Wh`` (H, G H), ``b`` (G H,) of a cell with G gates."""

    param_names = ("Wx", "Wh", "b")
    n_gates = 1

    def __init__(self, Wx: npt.ArrayLike, Wh: npt.ArrayLike, b: npt.ArrayLike) -> None:
        self._set_params(Wx, Wh, b)
        Wx, Wh, b = self.params
        H = Wh.shape[0] if Wh.ndim == 2 else -1
        GH = self.n_gates * H
        if Wx.ndim != 2 or Wx.shape[1] != GH or Wh.shape != (H, GH) or b.shape != (GH,):
            raise ValueError(
                f"{type(self).__name__}: expected Wx (D, {self.n_gates}H), Wh (H, "
                f"{self.n_gates}H) and b ({self.n_gates}H,), got Wx {Wx.shape}, Wh {Wh.shape} "
                f"and b {b.shape}"
            )
        self.cache: Any = None

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    def _inputs(self, x: Any, where: str) -> np.ndarray:
        """One step's x (N, D) as a time-major sequence of one step, (1, N, D)."""
        Wx = self.params[0]
        x = as_float_array(x, where)
        if x.ndim != 2 or x.shape[1] != Wx.shape[0] or x.size == 0:
            raise ValueError(f"{where}: expected x of shape (N, {Wx.shape[0]}), got {x.shape}")
        return as_dtype(x, Wx.dtype)[None]

    def _state(self, h: Any, n: int, where: str, name: str = "h_prev") -> np.ndarray:
        h = as_dtype(as_float_array(h, where, name=name), self.params[0].dtype)
        if h.shape != (n, self.hidden_size):
            raise ValueError(
                f"{where}: expected {name} of shape ({n}, {self.hidden_size}), got {h.shape}"
            )
        return h

    def _douts(self, dout: Any, shape: tuple[int, ...]) -> np.ndarray:
        """``dout`` in the parameters' dtype, as a time-major copy (backward overwrites it)."""
        where = type(self).__name__
        dout = check_dout(dout, shape, where, self.params[0].dtype)
        # Always a copy: for N = 1 or T = 1 the swapped view is contiguous already, and
        # ascontiguousarray would hand back the caller's array for backward to overwrite.
        xp = get_array_module(dout)
        return xp.array(dout[None] if len(shape) == 2 else dout.swapaxes(0, 1), order="C")


class _OneStateCell(_Cell):
    """RNN and GRU: one step of a cell whose only state is ``h``."""

    _run: Any  # the cell's forward and backward functions, over time-major arrays
    _run_backward: Any

    def forward(self, x: npt.ArrayLike, h_prev: npt.ArrayLike) -> np.ndarray:
        where = f"{type(self).__name__}.forward"
        X = self._inputs(x, where)
        h_prev = self._state(h_prev, X.shape[1], where)
        cache = self._run(X, h_prev, *self.params)
        self.cache = (X, h_prev, cache)
        return cache[-1][0]

    def backward(self, dh_next: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise self._not_ready()
        X, h_prev, cache = self.cache
        dH = self._douts(dh_next, h_prev.shape)
        dX, dh_prev = self._run_backward(dH, X, h_prev, cache, self.params, self.grads)
        return dX[0], dh_prev


@register_sequel_layer
class RNN(_OneStateCell):
    """One step of the simple recurrent layer: ``h_next = tanh(h_prev Wh + x Wx + b)``.

    Backward: ``dt = dh_next (1 - h_next^2)``, ``dWx = x^T dt``, ``dWh = h_prev^T dt``,
    ``db = sum_n dt``, ``dx = dt Wx^T``, ``dh_prev = dt Wh^T``.

    Parameters
    ----------
    Wx : (D, H). Wh : (H, H). b : (H,).

    Shapes
    ------
    x : (N, D). h_prev, h_next, dh_next, dh_prev : (N, H). dx : (N, D).
    Caches ``(x, h_prev, h_next)`` as ``cache``.
    """

    _run = staticmethod(rnn_forward)
    _run_backward = staticmethod(rnn_backward)


@register_sequel_layer
class LSTM(_Cell):
    """One step of the LSTM, gates f, g, i, o side by side in ``Wx``, ``Wh`` and ``b``.

    Forward: ``A = x Wx + h_prev Wh + b`` split in four (N, H) blocks,
    ``f = sigmoid(A_f)``, ``g = tanh(A_g)``, ``i = sigmoid(A_i)``, ``o = sigmoid(A_o)``,
    ``c_next = f c_prev + g i``, ``h_next = o tanh(c_next)``.
    Backward: see :func:`lstm_backward`.

    PyTorch's ``nn.LSTM`` orders the gates i, f, g, o and has two biases: its
    ``weight_ih_l0`` is ``Wx.T`` with the blocks reordered, ``weight_hh_l0`` likewise from
    ``Wh``, and ``bias_ih_l0 + bias_hh_l0`` is ``b`` reordered (see ``docs/sequel.md``).

    Parameters
    ----------
    Wx : (D, 4H). Wh : (H, 4H). b : (4H,).

    Shapes
    ------
    x : (N, D). h_prev, c_prev, h_next, c_next and their gradients : (N, H). dx : (N, D).
    """

    n_gates = 4

    def forward(
        self, x: npt.ArrayLike, h_prev: npt.ArrayLike, c_prev: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        where = f"{type(self).__name__}.forward"
        X = self._inputs(x, where)
        h_prev = self._state(h_prev, X.shape[1], where)
        c_prev = self._state(c_prev, X.shape[1], where, "c_prev")
        cache = lstm_forward(X, h_prev, c_prev, *self.params)
        self.cache = (X, h_prev, c_prev, cache)
        return cache[2][0], cache[1][0]

    def backward(
        self, dh_next: npt.ArrayLike, dc_next: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.cache is None:
            raise self._not_ready()
        X, h_prev, c_prev, cache = self.cache
        dH = self._douts(dh_next, h_prev.shape)
        dc = self._douts(dc_next, c_prev.shape)[0]
        dX, dh, dc = lstm_backward(dH, X, h_prev, c_prev, cache, self.params, self.grads, dc)
        return dX[0], dh, dc


@register_sequel_layer
class GRU(_OneStateCell):
    """One step of the sequel's GRU, gates z, r, h~ side by side (see :func:`gru_forward`).

    Not PyTorch's ``nn.GRU``: the reset gate multiplies ``h_prev`` before the product with
    ``Wh_h`` (PyTorch multiplies after it, ``r (h Wh_h + b_hh)``), and ``z`` weighs the new
    candidate (PyTorch's ``h = (1 - z) n + z h_prev`` weighs the old state).

    Parameters
    ----------
    Wx : (D, 3H). Wh : (H, 3H). b : (3H,).

    Shapes
    ------
    x : (N, D). h_prev, h_next and their gradients : (N, H). dx : (N, D).
    """

    n_gates = 3

    _run = staticmethod(gru_forward)
    _run_backward = staticmethod(gru_backward)


class _TimeCell(_Cell):
    """A cell run over (N, T, D) sequences, with the sequel's state protocol.

    ``state_names`` lists the carried arrays (``h``; ``h`` and ``c`` for TimeLSTM), which a
    model's ``state_dict`` saves so that training resumes exactly.
    """

    state_names: tuple[str, ...] = ("h",)

    def __init__(
        self, Wx: npt.ArrayLike, Wh: npt.ArrayLike, b: npt.ArrayLike, stateful: bool = False
    ) -> None:
        super().__init__(Wx, Wh, b)
        self.stateful = bool(stateful)
        self.h: np.ndarray | None = None
        self.dh: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return {"stateful": self.stateful}

    def _sequence(self, xs: Any, skip: int = 0) -> np.ndarray:
        """xs (N, T, D) as a time-major copy (T, N, D) in the parameters' dtype; D is Wx's
        rows less the ``skip`` that a static input takes."""
        where = f"{type(self).__name__}.forward"
        Wx = self.params[0]
        D = Wx.shape[0] - skip
        xs = as_float_array(xs, where, name="xs")
        if xs.ndim != 3 or xs.shape[2] != D or xs.size == 0:
            raise ValueError(
                f"{where}: expected xs of shape (N, T, {D}) (batch, time, features), "
                f"got {xs.shape}"
            )
        return get_array_module(xs).ascontiguousarray(xs.swapaxes(0, 1), dtype=Wx.dtype)

    def _start(self, state: np.ndarray | None, n: int, name: str) -> np.ndarray:
        """The state a sequence starts from: the carried one when stateful, else zeros."""
        if not self.stateful or state is None:
            return np.zeros_like(self.params[0], shape=(n, self.hidden_size))
        return self._state(state, n, f"{type(self).__name__}.forward (stateful)", name)

    def set_state(self, h: npt.ArrayLike) -> None:
        self.h = h  # type: ignore[assignment]  # checked at the next forward

    def reset_state(self) -> None:
        self.h = None

    @staticmethod
    def _batch_major(a: np.ndarray) -> np.ndarray:
        return get_array_module(a).ascontiguousarray(a.swapaxes(0, 1))


class _OneStateTimeCell(_TimeCell):
    """TimeRNN and TimeGRU: a cell whose only state is ``h``, over (N, T, D) sequences."""

    _run: Any
    _run_backward: Any

    def forward(self, xs: npt.ArrayLike) -> np.ndarray:
        X = self._sequence(xs)
        h0 = self._start(self.h, X.shape[1], "h")
        cache = self._run(X, h0, *self.params)
        self.cache = (X, h0, cache)
        self.h = cache[-1][-1].copy()
        return self._batch_major(cache[-1])

    def backward(self, dhs: npt.ArrayLike) -> np.ndarray:
        if self.cache is None:
            raise self._not_ready()
        X, h0, cache = self.cache
        hs = cache[-1]
        dH = self._douts(dhs, (hs.shape[1], hs.shape[0], hs.shape[2]))
        dX, self.dh = self._run_backward(dH, X, h0, cache, self.params, self.grads)
        return self._batch_major(dX)


@register_sequel_layer
class TimeRNN(_OneStateTimeCell):
    """T steps of :class:`RNN` over a batch of sequences.

    Shapes
    ------
    xs : (N, T, D). hs, dhs : (N, T, H). dxs : (N, T, D). h, dh : (N, H).
    grads : [dWx (D, H), dWh (H, H), db (H,)], summed over the T steps.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = TimeRNN(rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.zeros(4))
    >>> hs = layer.forward(rng.normal(size=(2, 5, 3)))
    >>> hs.shape, layer.h.shape
    ((2, 5, 4), (2, 4))
    >>> layer.backward(np.ones_like(hs)).shape
    (2, 5, 3)
    """

    _run = staticmethod(rnn_forward)
    _run_backward = staticmethod(rnn_backward)


@register_sequel_layer
class TimeLSTM(_TimeCell):
    """T steps of :class:`LSTM` over a batch of sequences, with ``h`` and ``c`` as state.

    Shapes
    ------
    xs : (N, T, D). hs, dhs : (N, T, H). dxs : (N, T, D). h, c, dh : (N, H).
    grads : [dWx (D, 4H), dWh (H, 4H), db (4H,)], summed over the T steps.
    With a static input (see :meth:`forward`): static, dstatic : (N, S), xs (N, T, D - S).
    """

    n_gates = 4
    state_names = ("h", "c")

    def __init__(
        self, Wx: npt.ArrayLike, Wh: npt.ArrayLike, b: npt.ArrayLike, stateful: bool = False
    ) -> None:
        super().__init__(Wx, Wh, b, stateful)
        self.c: np.ndarray | None = None
        self.static: np.ndarray | None = None
        self.dstatic: np.ndarray | None = None

    def forward(self, xs: npt.ArrayLike, static: npt.ArrayLike | None = None) -> np.ndarray:
        """hs (N, T, H) for xs (N, T, D).

        ``static`` (N, S), optional: features that are the same at every step, read before
        ``xs``'s, so that step t's input is ``[static, xs[:, t]]`` and ``Wx`` has S + D rows
        (the peeky decoder's ``[h, embed(x_t)]``, section 7.4). The same ``hs`` as
        ``forward(concatenate([broadcast(static), xs], axis=2))``, with ``static Wx[:S] + b``
        multiplied once per sequence instead of at each of the T steps; backward then leaves
        the static input's gradient (N, S) in ``dstatic`` and returns the gradient of xs alone.
        """
        Wx, Wh, b = self.params
        if static is None:
            X = self._sequence(xs)
            self.static = None
        else:
            static = self._static(static)
            S = static.shape[1]
            X = self._sequence(xs, skip=S)
            if len(static) != X.shape[1]:
                raise ValueError(
                    f"{type(self).__name__}.forward: static has {len(static)} rows, xs "
                    f"{X.shape[1]} sequences"
                )
            b = static @ Wx[:S] + b  # the static input's share of every step's pre-activation
            Wx = Wx[S:]
            self.static = static
        h0 = self._start(self.h, X.shape[1], "h")
        c0 = self._start(self.c, X.shape[1], "c")
        cache = lstm_forward(X, h0, c0, Wx, Wh, b)
        self.cache = (X, h0, c0, cache)
        self.h, self.c = cache[2][-1].copy(), cache[1][-1].copy()
        return self._batch_major(cache[2])

    def backward(self, dhs: npt.ArrayLike) -> np.ndarray:
        if self.cache is None:
            raise self._not_ready()
        X, h0, c0, cache = self.cache
        hs = cache[2]
        dH = self._douts(dhs, (hs.shape[1], hs.shape[0], hs.shape[2]))
        if self.static is None:
            dX, self.dh, _ = lstm_backward(dH, X, h0, c0, cache, self.params, self.grads)
            return self._batch_major(dX)
        S = self.static.shape[1]
        (Wx, Wh, b), (dWx, dWh, db) = self.params, self.grads
        dX, self.dh, _, dA = lstm_backward(
            dH, X, h0, c0, cache, [Wx[S:], Wh, b], [dWx[S:], dWh, db], keep_dA=True
        )
        self.dstatic = _static_grads(self.static, dA, Wx[:S], dWx[:S])
        return self._batch_major(dX)

    def _static(self, static: Any) -> np.ndarray:
        where = f"{type(self).__name__}.forward"
        static = as_dtype(as_float_array(static, where, name="static"), self.params[0].dtype)
        if static.ndim != 2 or not 0 < static.shape[1] < self.params[0].shape[0]:
            raise ValueError(
                f"{where}: expected static of shape (N, S) with 0 < S < {self.params[0].shape[0]} "
                f"(Wx's rows), got {static.shape}"
            )
        return static

    def set_state(self, h: npt.ArrayLike, c: npt.ArrayLike | None = None) -> None:
        self.h, self.c = h, c  # type: ignore[assignment]  # checked at the next forward

    def reset_state(self) -> None:
        self.h, self.c = None, None


@register_sequel_layer
class TimeGRU(_OneStateTimeCell):
    """T steps of :class:`GRU` over a batch of sequences.

    Shapes
    ------
    xs : (N, T, D). hs, dhs : (N, T, H). dxs : (N, T, D). h, dh : (N, H).
    grads : [dWx (D, 3H), dWh (H, 3H), db (3H,)], summed over the T steps.
    """

    n_gates = 3

    _run = staticmethod(gru_forward)
    _run_backward = staticmethod(gru_backward)


@register_sequel_layer
class TimeEmbedding(Embedding):
    """:class:`Embedding` of (N, T) word ids: ``out[n, t] = W[xs[n, t]]``, shape (N, T, D).

    One fancy index forward and one scatter-add backward for all T steps (the sequel builds T
    Embedding layers).
    """

    def forward(self, xs: npt.ArrayLike) -> np.ndarray:
        xs = as_array(xs, f"{type(self).__name__}.forward", name="xs")
        check_ndim(xs, 2, f"{type(self).__name__}.forward", "(N, T) of word ids")
        return super().forward(xs)


@register_sequel_layer
class TimeAffine(Affine):
    """:class:`Affine` on (N, T, D) sequences: ``out[n, t] = xs[n, t] W + b``, (N, T, H).

    One product of (N T, D) by (D, H) forward and for each gradient backward.
    """

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_float_array(x, f"{type(self).__name__}.forward")
        check_ndim(x, 3, f"{type(self).__name__}.forward", f"(N, T, {self.params[0].shape[0]})")
        return super().forward(x)


@register_sequel_layer
class TimeSoftmaxWithLoss(SequelLayer):
    """Softmax and cross-entropy at every time step, averaged over the labelled steps.

    Forward: ``loss = -(1/M) sum_{(n,t): ts[n,t] != -1} log softmax(xs[n,t])[ts[n,t]]``, ``M``
    the number of labelled steps (PyTorch's ``cross_entropy(..., ignore_index=-1)``), with
    ``log y`` from the logits (see :func:`~layerwise.sequel.functions.exp_and_log_at`).
    Backward: ``dxs[n,t] = dout (y[n,t] - onehot(ts[n,t])) / M`` where labelled, 0 where not;
    ``y = e / s`` is formed there, in the same pass as the scaling by ``dout / M``.

    Shapes
    ------
    xs : (N, T, V) scores. ts : (N, T) ids in [0, V) or ``ignore_label`` (-1), or one-hot
    (N, T, V). loss : scalar. dxs : (N, T, V). Caches ``(ts, e, s, mask, (N, T, V), owned)``,
    the softmax unnormalised (``e``, (N T, V)), its row sums (``s``, (N T,)), and whether
    ``e`` lies in the scores' memory (``overwrite_xs``).

    A batch in which every label is ignored has loss NaN, as in PyTorch, and gradient 0.

    ``forward(xs, ts, overwrite_xs=True)`` lets the layer write its softmax over ``xs`` and its
    backward's gradient over that in turn, as SciPy's ``overwrite_a``: for a caller whose
    scores are a temporary of its own (the language models' ``forward``). A language model's
    scores (700 x 10000 floats, 28 MB) then cross memory four times fewer: 10% off an
    ``Rnnlm`` step. The one backward such a forward allows then consumes the cache; a second
    raises, as PyTorch's does after its graph is freed.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.cache: tuple[Any, ...] | None = None
        self.ignore_label = -1
        self._spent = False  # the one backward of an overwrite_xs forward has run

    def forward(
        self, xs: npt.ArrayLike, ts: npt.ArrayLike, *, overwrite_xs: bool = False
    ) -> np.floating:
        where = f"{type(self).__name__}.forward"
        xs = as_float_array(xs, where, name="xs")
        check_ndim(xs, 3, where, "(N, T, V)")
        N, T, V = xs.shape
        ts = as_array_like(as_array(ts, where, name="ts"), xs)  # labels on the scores' device
        if ts.shape == xs.shape:  # one-hot labels
            ts = ts.argmax(axis=2)
        if ts.shape != (N, T):
            raise ValueError(
                f"{where}: ts must be ids of shape {(N, T)} or one-hot {xs.shape}, got {ts.shape}"
            )
        mask = (ts != self.ignore_label).reshape(N * T)
        t = np.where(mask, ts.reshape(N * T), 0)
        t = check_ids(t, V, where)
        scores = xs.reshape(N * T, V)
        owned = overwrite_xs and getattr(scores.flags, "writeable", True)
        with quiet():
            e, s, log_y = exp_and_log_at(scores, t, out=scores if owned else None)
            n_labelled = mask.sum()
            loss = -log_y[mask].sum() / n_labelled.astype(xs.dtype)
        self.cache = (t, e, s, mask, (N, T, V), owned)
        self._spent = False
        return loss

    def backward(self, dout: npt.ArrayLike = 1.0) -> np.ndarray:
        if self.cache is None:
            raise self._already_ran() if self._spent else self._not_ready()
        t, e, s, mask, (N, T, V), owned = self.cache
        dout = float(check_dout(dout, (), type(self).__name__))
        # nothing labelled: dx = 0; the count stays where mask is (no read-back per step)
        scale = (dout / np.maximum(mask.sum(), 1)).astype(e.dtype)
        # (y - onehot) * scale as e * (scale / s), then -scale at the labels: one pass over e,
        # written over it where it lies in the caller's scores (and the cache is then spent)
        dx = np.multiply(e, (scale / s)[:, None], out=e if owned else None)
        if owned:
            self.cache, self._spent = None, True
        dx[get_array_module(e).arange(N * T), t] -= scale
        if not mask.all():
            dx[~mask] = 0
        return dx.reshape(N, T, V)

    def _already_ran(self) -> BackwardBeforeForwardError:
        return BackwardBeforeForwardError(
            f"{type(self).__name__}.backward: backward already ran for this forward, which let "
            "it write the gradient over the scores (overwrite_xs=True, as the language models' "
            "forward does): call forward again before the next backward"
        )


@register_sequel_layer
class TimeDropout(_Dropout):
    """Inverted dropout on sequences: ``out = xs * mask / (1 - dropout_ratio)`` while training.

    The mode is the attribute ``train_flg`` (True by default), as in the sequel, whose models
    set it on every TimeDropout layer; ``forward(xs)`` takes no flag. Volume 1's
    :class:`~layerwise.layers.Dropout` with ``inverted=True`` does the work (its own
    generator, ``seed=``); inference returns ``xs`` unchanged.
    """

    params: list[np.ndarray]
    grads: list[np.ndarray]
    takes_train_flg = False

    def __init__(self, dropout_ratio: float = 0.5, *, seed: Any = None) -> None:
        super().__init__(dropout_ratio, inverted=True, seed=seed)
        self.params, self.grads = [], []
        self.train_flg = True

    def get_config(self) -> dict[str, Any]:
        return {"dropout_ratio": self.dropout_ratio}

    def forward(self, xs: npt.ArrayLike, train_flg: bool | None = None) -> np.ndarray:
        return super().forward(xs, self.train_flg if train_flg is None else train_flg)


@register_sequel_layer
class TimeBiLSTM(SequelLayer):
    """Two :class:`TimeLSTM` layers, one reading the sequence forwards and one backwards.

    ``out = [hs_fwd, reverse(hs_bwd(reverse(xs)))]`` concatenated on the last axis;
    ``dxs`` is the sum of the two layers' input gradients.

    Shapes
    ------
    xs : (N, T, D). out, dout : (N, T, 2H). dxs : (N, T, D).
    params, grads : the forward layer's three, then the backward layer's.
    """

    param_names = ("Wx1", "Wh1", "b1", "Wx2", "Wh2", "b2")

    def __init__(
        self,
        Wx1: npt.ArrayLike,
        Wh1: npt.ArrayLike,
        b1: npt.ArrayLike,
        Wx2: npt.ArrayLike,
        Wh2: npt.ArrayLike,
        b2: npt.ArrayLike,
        stateful: bool = False,
    ) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads
        self.out_shape: tuple[int, int, int] | None = None

    def get_config(self) -> dict[str, Any]:
        return {"stateful": self.forward_lstm.stateful}

    def forward(self, xs: npt.ArrayLike) -> np.ndarray:
        xs = as_array(xs, f"{type(self).__name__}.forward", name="xs")
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(xs[:, ::-1])
        out = np.concatenate((o1, o2[:, ::-1]), axis=2)
        self.out_shape = out.shape
        return out

    def backward(self, dhs: npt.ArrayLike) -> np.ndarray:
        if self.out_shape is None:
            raise self._not_ready()
        # checked whole here, so that a wrong one is not blamed on a TimeLSTM and half its width
        dhs = check_dout(dhs, self.out_shape, type(self).__name__, self.params[0].dtype)
        H = self.forward_lstm.hidden_size
        dxs = self.forward_lstm.backward(dhs[:, :, :H])
        dxs += self.backward_lstm.backward(dhs[:, ::-1, H:])[:, ::-1]
        return dxs


@register_sequel_layer
class TimeSigmoidWithLoss(SigmoidWithLoss):
    """:class:`SigmoidWithLoss` on (N, T) scores and labels: the mean over all N T entries.

    The sequel averages over the batch at each step and then over the T steps: the same.
    """

    def forward(self, xs: npt.ArrayLike, ts: npt.ArrayLike) -> np.floating:
        xs = as_float_array(xs, f"{type(self).__name__}.forward", name="xs")
        check_ndim(xs, 2, f"{type(self).__name__}.forward", "(N, T)")
        return super().forward(xs, ts)
