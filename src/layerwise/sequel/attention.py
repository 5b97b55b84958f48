"""Attention (the sequel's chapter 8: ``ch08/attention_layer.py``, ``ch08/attention_seq2seq.py``).

At each decoder step with hidden state ``h`` (N, H), attention weighs the encoder's states
``hs`` (N, T, H) by their similarity to ``h`` and sums them into a context vector ``c``::

    s_t = hs_t . h            (AttentionWeight: scores, (N, T))
    a   = softmax(s)          (over the T encoder steps)
    c   = sum_t a_t hs_t      (WeightSum, (N, H))

Backward, with ``dc`` given::

    da_t  = hs_t . dc                    dhs_t = a_t dc + ds_t h      (both paths)
    ds    = a * (da - sum_t a_t da_t)    dh    = sum_t ds_t hs_t

:class:`TimeAttention` does this for every decoder step at once, as three batched matrix
products, ``S = Hd Hs^T`` (N, Td, Te), ``A = softmax(S)``, ``C = A Hs`` (the sequel runs one
:class:`Attention` per step). Its ``attention_weights`` is the sequel's list of Td arrays
(N, Te), the rows of ``A``; :func:`plot_attention` draws them.

:class:`AttentionSeq2seq` is the sequel's: an encoder that returns all its states, a decoder
whose affine layer reads ``[c_t, h_t]`` (N, T, 2H). Its ``generate_batch`` keeps the weights of
each generated step in ``decoder.attention_map`` (N, sample_size, Te): the picture of which
input characters each output character looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_float_array, check_dout
from .._types import StrPath
from ..backend import as_numpy, get_array_module
from ..functions import softmax
from ..layers.base import backward_before_forward
from .base import SequelLayer, register_sequel_layer
from .seq2seq import Encoder, Seq2seq, _Decoding

__all__ = [
    "Attention",
    "AttentionDecoder",
    "AttentionEncoder",
    "AttentionSeq2seq",
    "AttentionWeight",
    "TimeAttention",
    "WeightSum",
    "plot_attention",
]


def _states(hs: Any, h: Any, where: str, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Check ``hs`` (N, T, H) and ``h`` of ``layout`` ((N, H), (N, Td, H) or, the weights,
    (N, T)); one float dtype for both."""
    hs = as_float_array(hs, where, name="hs")
    h = as_float_array(h, where, name="h")
    last = hs.shape[1] if layout == "(N, T)" else hs.shape[-1]
    if (
        hs.ndim != 3
        or h.ndim != layout.count(",") + 1
        or h.shape[0] != hs.shape[0]
        or (h.shape[-1] != last)
    ):
        name = "a" if layout == "(N, T)" else "h"
        raise ValueError(
            f"{where}: expected hs of shape (N, T, H) and {name} of shape {layout}, the same N "
            f"and {layout[-2]}, got {hs.shape} and {h.shape}"
        )
    dtype = np.result_type(hs, h)
    return hs.astype(dtype, copy=False), h.astype(dtype, copy=False)


def _softmax_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    """``ds = a * (da - sum(a * da))`` over the last axis: the softmax's Jacobian times ``da``."""
    return a * (da - np.sum(a * da, axis=-1, keepdims=True))


@register_sequel_layer
class WeightSum(SequelLayer):
    """``c = sum_t a_t hs_t``: the encoder states weighted by the attention weights.

    Shapes
    ------
    hs, dhs : (N, T, H). a, da : (N, T). c, dc : (N, H). No parameters. Caches hs and a.
    Backward: ``dhs = a dc``, ``da_t = hs_t . dc``.
    """

    def __init__(self) -> None:
        self._set_params()
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, hs: npt.ArrayLike, a: npt.ArrayLike) -> np.ndarray:
        hs, a = _states(hs, a, "WeightSum.forward", "(N, T)")
        self.cache = (hs, a)
        return (a[:, None, :] @ hs)[:, 0]

    def backward(self, dc: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise self._not_ready()
        hs, a = self.cache
        dc = check_dout(dc, (hs.shape[0], hs.shape[2]), "WeightSum", hs.dtype)
        return a[:, :, None] * dc[:, None, :], (hs @ dc[:, :, None])[:, :, 0]


@register_sequel_layer
class AttentionWeight(SequelLayer):
    """``a = softmax(s)``, ``s_t = hs_t . h``: how much each encoder state resembles ``h``.

    Shapes
    ------
    hs, dhs : (N, T, H). h, dh : (N, H). a, da : (N, T). No parameters. Caches hs, h and a.
    Backward: ``ds = a (da - sum a da)``, ``dhs = ds h``, ``dh = sum_t ds_t hs_t``.
    """

    def __init__(self) -> None:
        self._set_params()
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, hs: npt.ArrayLike, h: npt.ArrayLike) -> np.ndarray:
        hs, h = _states(hs, h, "AttentionWeight.forward", "(N, H)")
        a = softmax((hs @ h[:, :, None])[:, :, 0])
        self.cache = (hs, h, a)
        return a

    def backward(self, da: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise self._not_ready()
        hs, h, a = self.cache
        da = check_dout(da, a.shape, "AttentionWeight", hs.dtype)
        ds = _softmax_backward(a, da)
        return ds[:, :, None] * h[:, None, :], (ds[:, None, :] @ hs)[:, 0]


@register_sequel_layer
class Attention(SequelLayer):
    """:class:`AttentionWeight` then :class:`WeightSum`: the context ``c`` (N, H) for one ``h``.

    ``backward(dc)`` returns ``(dhs, dh)``, ``dhs`` the sum of both paths' gradients.
    ``attention_weight``: the last forward's ``a`` (N, T).
    """

    def __init__(self) -> None:
        self._set_params()
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight: np.ndarray | None = None

    def forward(self, hs: npt.ArrayLike, h: npt.ArrayLike) -> np.ndarray:
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a)

    def backward(self, dc: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.weight_sum_layer.cache is None:
            raise self._not_ready()
        hs = self.weight_sum_layer.cache[0]
        dc = check_dout(dc, (hs.shape[0], hs.shape[2]), "Attention", hs.dtype)
        dhs0, da = self.weight_sum_layer.backward(dc)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


@register_sequel_layer
class TimeAttention(SequelLayer):
    """:class:`Attention` at every decoder step, as three batched products.

    ``S = Hd Hs^T`` (N, Td, Te), ``A = softmax(S)`` over Te, ``C = A Hs`` (N, Td, H).
    Backward: ``dA = dC Hs^T``, ``dS = A (dA - sum A dA)``, ``dHs = A^T dC + dS^T Hd``,
    ``dHd = dS Hs``.

    Shapes
    ------
    hs_enc, dhs_enc : (N, Te, H). hs_dec, dhs_dec, out, dout : (N, Td, H). No parameters.
    ``attention_weights``: a list of Td arrays (N, Te), the sequel's layout.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = TimeAttention()
    >>> out = layer.forward(rng.normal(size=(2, 7, 4)), rng.normal(size=(2, 3, 4)))
    >>> out.shape, len(layer.attention_weights), layer.attention_weights[0].shape
    ((2, 3, 4), 3, (2, 7))
    >>> [g.shape for g in layer.backward(np.ones_like(out))]
    [(2, 7, 4), (2, 3, 4)]
    """

    def __init__(self) -> None:
        self._set_params()
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.attention_weights: list[np.ndarray] | None = None

    def forward(self, hs_enc: npt.ArrayLike, hs_dec: npt.ArrayLike) -> np.ndarray:
        hs_enc, hs_dec = _states(hs_enc, hs_dec, "TimeAttention.forward", "(N, Td, H)")
        A = softmax(hs_dec @ hs_enc.transpose(0, 2, 1))
        self.cache = (hs_enc, hs_dec, A)
        self.attention_weights = [A[:, t] for t in range(A.shape[1])]
        return A @ hs_enc

    def backward(self, dout: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise self._not_ready()
        hs_enc, hs_dec, A = self.cache
        dC = check_dout(dout, hs_dec.shape, "TimeAttention", hs_enc.dtype)
        dS = _softmax_backward(A, dC @ hs_enc.transpose(0, 2, 1))
        dhs_enc = A.transpose(0, 2, 1) @ dC + dS.transpose(0, 2, 1) @ hs_dec
        return dhs_enc, dS @ hs_enc


class AttentionEncoder(Encoder):
    """:class:`~layerwise.sequel.seq2seq.Encoder` returning every state ``hs`` (N, T, H)."""

    def forward(self, xs: npt.ArrayLike) -> np.ndarray:
        self.hs = self.lstm.forward(self.embed.forward(xs))
        return self.hs

    def backward(self, dhs: npt.ArrayLike) -> None:
        if self.hs is None:
            raise backward_before_forward(self)
        dhs = check_dout(dhs, self.hs.shape, type(self).__name__, self.hs.dtype)
        self.embed.backward(self.lstm.backward(dhs))


class AttentionDecoder(_Decoding):
    """TimeEmbedding, a stateful TimeLSTM started from ``enc_hs[:, -1]``, TimeAttention over
    the encoder's states, TimeAffine of ``[c_t, h_t]``.

    ``params``: embed W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,), affine W (2H, V), b (V,).

    Shapes
    ------
    forward(xs (N, T) ids, enc_hs (N, Te, H)) returns scores (N, T, V); backward(dscore)
    returns denc_hs (N, Te, H), the attention's gradient plus ``lstm.dh`` at the last step.
    """

    state_name = "enc_hs"
    state_ndim = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attention = TimeAttention()
        self.attention_map: np.ndarray | None = None

    @staticmethod
    def _input_sizes(D: int, H: int) -> tuple[int, int]:
        return D, 2 * H

    def _attend(self, xs: Any, enc_hs: np.ndarray) -> np.ndarray:
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        c = self.attention.forward(enc_hs, dec_hs)
        return self.affine.forward(np.concatenate((c, dec_hs), axis=2))

    def forward(self, xs: npt.ArrayLike, enc_hs: npt.ArrayLike) -> np.ndarray:
        xs, enc_hs = self._inputs(xs, enc_hs, "AttentionDecoder.forward")
        self.lstm.set_state(enc_hs[:, -1])
        return self._attend(xs, enc_hs)

    def backward(self, dscore: npt.ArrayLike) -> np.ndarray:
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        denc_hs, ddec_hs = self.attention.backward(dout[:, :, :H])
        self.embed.backward(self.lstm.backward(ddec_hs + dout[:, :, H:]))
        denc_hs[:, -1] += self.lstm.dh  # the LSTM started from the encoder's last state
        return denc_hs

    def _begin(self, enc_hs: np.ndarray) -> None:
        self.lstm.set_state(enc_hs[:, -1])
        self.enc_hs = enc_hs
        self._weights: list[np.ndarray] = []

    def _step(self, x: np.ndarray) -> np.ndarray:
        score = self._attend(x, self.enc_hs)
        self._weights.append(self.attention.attention_weights[0])  # type: ignore[index]
        return score

    def generate_batch(self, enc_hs: Any, start_id: Any, sample_size: int) -> np.ndarray:
        """Greedy decoding, ids (N, sample_size); ``attention_map`` (N, sample_size, Te)."""
        sampled = super().generate_batch(enc_hs, start_id, sample_size)
        if self._weights:
            self.attention_map = np.stack(self._weights, axis=1)
        else:  # no step: no row of weights over the Te encoder states
            N, Te = self.enc_hs.shape[:2]
            self.attention_map = get_array_module(self.enc_hs).empty((N, 0, Te), self.enc_hs.dtype)
        return sampled


class AttentionSeq2seq(Seq2seq):
    """:class:`AttentionEncoder`, :class:`AttentionDecoder`, TimeSoftmaxWithLoss (section 8.2).

    The sequel's date model is ``AttentionSeq2seq(59, 16, 256)`` (``ch08/AttentionSeq2seq.pkl``).
    """

    encoder_class = AttentionEncoder
    decoder_class = AttentionDecoder


def plot_attention(
    attention_map: npt.ArrayLike,
    row_labels: list[str],
    column_labels: list[str],
    *,
    ax: Any = None,
    path: StrPath | None = None,
) -> Any:
    """Draw an attention map as the sequel's ``ch08/visualize_attention.py`` does.

    Parameters
    ----------
    attention_map : array, shape (Td, Te)
        Row i: the weights output step i gave the Te input steps (in [0, 1], white = 1).
    row_labels : list of str, length Te
        The input's characters, along the x axis (the sequel's name).
    column_labels : list of str, length Td
        The output's characters, down the y axis.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    path : str or Path, optional
        Save the figure there (PNG, ...).

    Returns
    -------
    matplotlib Figure. Needs matplotlib (``pip install matplotlib``).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # an optional extra
        raise ImportError("plot_attention needs matplotlib: pip install matplotlib") from err
    amap = as_numpy(attention_map).astype(float)  # drawn from the host
    if amap.ndim != 2 or amap.shape != (len(column_labels), len(row_labels)):
        raise ValueError(
            f"plot_attention: expected a map of shape (len(column_labels), len(row_labels)) = "
            f"({len(column_labels)}, {len(row_labels)}), got {amap.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(0.3 * amap.shape[1] + 1.5, 0.3 * amap.shape[0] + 1.2))
    ax.pcolor(amap, cmap="Greys_r", vmin=0.0, vmax=1.0)
    ax.patch.set_facecolor("black")
    ax.set_xticks(np.arange(amap.shape[1]) + 0.5)
    ax.set_yticks(np.arange(amap.shape[0]) + 0.5)
    ax.invert_yaxis()
    ax.set_xticklabels(row_labels)
    ax.set_yticklabels(column_labels)
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    figure: Any = ax.figure
    if path is not None:
        figure.savefig(Path(path), bbox_inches="tight", dpi=120)
    return figure
