"""The sequel's language models: SimpleRnnlm (chapter 5), Rnnlm and BetterRnnlm (chapter 6).

Each reads word ids ``xs`` (N, T) and predicts the next word at every step: embedding, a
stateful recurrent layer (its state carried from one batch to the next, truncated BPTT),
an affine layer to V scores per step, and :class:`~layerwise.sequel.TimeSoftmaxWithLoss`.
The constructors are the sequel's, with its initialisation (embedding ``N(0, 1) / 100``,
weights ``N(0, 1) / sqrt(fan_in)``, biases 0) drawn from ``seed=`` (keyword-only; the sequel
draws from NumPy's global state) in ``dtype=`` (float32 by default, the sequel's ``'f'``;
float64 for gradient checks; nothing else). Each size must be a whole number, at least 1.
``params`` lists the arrays in the sequel's order, so its weight files map position by position.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import check_number, check_seed
from ..plans import check_dtype
from .base_model import LayerStack
from .time_layers import (
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)

__all__ = ["BetterRnnlm", "Rnnlm", "SimpleRnnlm"]


def check_sizes(where: str, **sizes: Any) -> tuple[int, ...]:
    """The sizes named (``vocab_size=V, ...``), each a whole number >= 1, in the order given
    (0 would draw empty weights and scale them by ``1 / sqrt(0)``)."""
    return tuple(check_number(v, where, name, low=1, integer=True) for name, v in sizes.items())


class InitialWeights:
    """The sequel's initial weights, drawn in float64 from one generator and cast (the
    language models here and the seq2seq models draw theirs through it).

    ``dtype`` must be float32 or float64 (an integer type would cast the drawn weights to
    whole numbers, mostly 0); ``owner`` names the model in the error.
    """

    def __init__(self, seed: Any, dtype: npt.DTypeLike, owner: str) -> None:
        self.dtype = check_dtype(dtype, owner)
        self.rng = check_seed(seed, owner)

    def normal(self, rows: int, cols: int, scale: float) -> np.ndarray:
        return (self.rng.standard_normal((rows, cols)) * scale).astype(self.dtype)

    def recurrent(self, D: int, H: int, gates: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``Wx`` (D, gates H), ``Wh`` (H, gates H) scaled by 1 / sqrt(fan_in), ``b`` zeros."""
        return (
            self.normal(D, gates * H, 1 / np.sqrt(D)),
            self.normal(H, gates * H, 1 / np.sqrt(H)),
            np.zeros(gates * H, self.dtype),
        )


class _OneLayerRnnlm(LayerStack):
    """TimeEmbedding, one stateful recurrent layer ``cell`` of ``gates`` gates, TimeAffine."""

    scores_are_temporary = True  # the TimeAffine's fresh output: the loss writes over it

    def __init__(
        self, cell: Any, gates: int, V: int, D: int, H: int, seed: Any, dtype: npt.DTypeLike
    ) -> None:
        V, D, H = check_sizes(type(self).__name__, vocab_size=V, wordvec_size=D, hidden_size=H)
        w = InitialWeights(seed, dtype, type(self).__name__)
        layers = [
            TimeEmbedding(w.normal(V, D, 0.01)),
            cell(*w.recurrent(D, H, gates), stateful=True),
            TimeAffine(w.normal(H, V, 1 / np.sqrt(H)), np.zeros(V, w.dtype)),
        ]
        super().__init__(layers, TimeSoftmaxWithLoss())

    def reset_state(self) -> None:
        self.layers[1].reset_state()


class SimpleRnnlm(_OneLayerRnnlm):
    """TimeEmbedding, TimeRNN (stateful), TimeAffine, TimeSoftmaxWithLoss (section 5.5).

    Parameters
    ----------
    vocab_size, wordvec_size, hidden_size : int
        V, D, H. ``params``: embed W (V, D), Wx (D, H), Wh (H, H), b (H,), affine W (H, V),
        b (V,).
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__(TimeRNN, 1, vocab_size, wordvec_size, hidden_size, seed, dtype)
        self.rnn_layer = self.layers[1]


class Rnnlm(_OneLayerRnnlm):
    """SimpleRnnlm with a TimeLSTM (section 6.5): the sequel's defaults V 10000, D = H = 100.

    ``params``: embed W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,), affine W (H, V), b (V,).
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__(TimeLSTM, 4, vocab_size, wordvec_size, hidden_size, seed, dtype)
        self.lstm_layer = self.layers[1]


class BetterRnnlm(LayerStack):
    """Two LSTM layers, dropout after the embedding and each LSTM, weight tying (section 6.5).

    The affine layer's weight is ``embed_W.T``, a view of the embedding's array (Press & Wolf,
    2017), so ``wordvec_size`` must equal ``hidden_size``; ``params`` holds both (the sequel's
    order: embed W, the two LSTMs' Wx, Wh, b, affine W = embed W.T, affine b), and an optimizer
    must see their gradients added (:func:`~layerwise.sequel.trainer.remove_duplicate`).

    ``forward(xs, ts, train_flg=True)`` and ``predict(xs, train_flg=False)`` set the dropout
    layers' mode, as in the sequel.
    """

    scores_are_temporary = True  # the TimeAffine's fresh output: the loss writes over it

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        V, D, H = check_sizes(
            "BetterRnnlm", vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size
        )
        if D != H:
            raise ValueError(
                f"BetterRnnlm: weight tying needs wordvec_size == hidden_size, got {D} and {H}"
            )
        w = InitialWeights(seed, dtype, "BetterRnnlm")
        embed_W = w.normal(V, D, 0.01)
        self.lstm_layers = [
            TimeLSTM(*w.recurrent(D, H, 4), stateful=True),
            TimeLSTM(*w.recurrent(H, H, 4), stateful=True),
        ]
        self.drop_layers = [TimeDropout(dropout_ratio, seed=w.rng) for _ in range(3)]
        layers = [
            TimeEmbedding(embed_W),
            self.drop_layers[0],
            self.lstm_layers[0],
            self.drop_layers[1],
            self.lstm_layers[1],
            self.drop_layers[2],
            TimeAffine(embed_W.T, np.zeros(V, w.dtype)),  # weight tying
        ]
        super().__init__(layers, TimeSoftmaxWithLoss())

    def predict(self, xs: npt.ArrayLike, train_flg: bool = False) -> np.ndarray:
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        return super().predict(xs)

    def forward(self, xs: npt.ArrayLike, ts: npt.ArrayLike, train_flg: bool = True) -> np.floating:
        return self._loss(self.predict(xs, train_flg), ts)

    def reset_state(self) -> None:
        for layer in self.lstm_layers:
            layer.reset_state()
