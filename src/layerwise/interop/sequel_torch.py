"""The sequel's language models to PyTorch: :func:`sequel_to_torch`, reached by ``to_torch``.

========================================  ==================================================
``layerwise.sequel``                      ``torch.nn`` (``batch_first=True``)
========================================  ==================================================
``TimeEmbedding(W)``                      ``Embedding`` (``weight = W``)
``TimeLSTM(Wx, Wh, b)``                   ``LSTM``: gate blocks f, g, i, o reordered to
                                          PyTorch's i, f, g, o; ``weight_ih_l0 = Wx.T``,
                                          ``weight_hh_l0 = Wh.T``, ``bias_ih_l0 = b``,
                                          ``bias_hh_l0 = 0``
``TimeRNN(Wx, Wh, b)``                    ``RNN`` (tanh), the same without reordering
``TimeAffine(W, b)``                      ``Linear`` (``weight = W.T``); BetterRnnlm's tied
                                          ``W = embed W.T`` becomes the Embedding's very
                                          ``weight`` Parameter, so the tying survives
``TimeDropout(p)``                        ``Dropout(p)`` (both inverted dropout)
========================================  ==================================================

The models are those whose ``layers`` run in one chain (SimpleRnnlm, Rnnlm, BetterRnnlm); the
loss layer is left out, so the module returns the scores, as ``predict`` does. Anything else
(TimeGRU, whose equations are not ``nn.GRU``'s, TimeBiLSTM, a seq2seq or word2vec model) is
refused at export with the reason.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from typing import Any

import numpy as np

from ..sequel.base import OnDevice
from ..sequel.time_layers import TimeAffine, TimeDropout, TimeEmbedding, TimeLSTM, TimeRNN
from .plan import ConversionError, import_extra

__all__ = ["is_sequel_model", "lstm_gates_as", "sequel_layers", "sequel_to_torch"]

#: Which block of the sequel's (f, g, i, o) stacking each position of another order takes.
_GATE_BLOCKS = {"torch": [2, 0, 1, 3], "onnx": [2, 3, 0, 1]}  # i, f, g, o and i, o, f, c

_REFUSED_WHY = {
    "TimeGRU": "the sequel's GRU multiplies the reset gate into h_prev before the product "
    "with Wh and weighs the candidate by z; nn.GRU and the ONNX GRU do neither (docs/sequel.md)",
    "TimeBiLSTM": "no bidirectional export is written yet",
}


def is_sequel_model(network: Any) -> bool:
    """Whether ``network`` is one of the sequel's models or layers (``params`` a list, not a dict).

    The word2vec models count too, though they are no
    :class:`~layerwise.sequel.base_model.BaseModel`: :func:`sequel_layers` refuses them with
    the reason, where volume 1's planner failed on their missing ``layers`` dict.
    """
    return isinstance(network, OnDevice)


def lstm_gates_as(order: str, W: np.ndarray) -> np.ndarray:
    """``W`` (..., 4H), blocks in the sequel's f, g, i, o, with its blocks in ``order``'s order.

    ``order`` is ``'torch'`` (i, f, g, o) or ``'onnx'`` (i, o, f, c, c the sequel's g).
    """
    blocks = np.split(W, 4, axis=-1)
    return np.concatenate([blocks[k] for k in _GATE_BLOCKS[order]], axis=-1)


def sequel_layers(model: Any, target: str) -> list[tuple[str, Any]]:
    """``(name, layer)`` for each of the model's layers, checked to convert to ``target``.

    Raises
    ------
    ConversionError
        A model that is not one chain of layers, or a layer with no counterpart, named with
        the reason.
    """
    owner = type(model).__name__
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        example = (
            "a word2vec model, whose product is its word vectors, model.word_vecs"
            if hasattr(model, "word_vecs")
            else "an encoder and a decoder, say"
        )
        raise ConversionError(
            f"{owner} cannot be exported to {target}: only the sequel's language models, "
            f"whose layers run in one chain (model.layers: SimpleRnnlm, Rnnlm, BetterRnnlm), "
            f"convert; this model has no such chain ({example})"
        )
    named: list[tuple[str, Any]] = []
    counts: dict[str, int] = {}
    for layer in layers:
        kind = type(layer).__name__
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind}{counts[kind]}"
        if type(layer) not in _CONVERSIONS:
            why = _REFUSED_WHY.get(kind, f"there is no {target} counterpart written for it")
            raise ConversionError(
                f"{owner} cannot be exported to {target}: layer {name} ({kind}) does not "
                f"convert: {why}. Converted: TimeEmbedding, TimeRNN, TimeLSTM, TimeAffine, "
                "TimeDropout"
            )
        named.append((name, layer))
    if not named or type(named[0][1]) is not TimeEmbedding:
        raise ConversionError(
            f"{owner} cannot be exported to {target}: its first layer must be a TimeEmbedding "
            "(the exported model reads word ids)"
        )
    return named


def _embedding(nn, layer, dtype):
    (W,) = layer.params
    return nn.Embedding(*W.shape, dtype=dtype), {"weight": W}


def _recurrent(nn, layer, dtype):
    Wx, Wh, b = layer.params
    if type(layer) is TimeLSTM:
        module = nn.LSTM(Wx.shape[0], Wh.shape[0], batch_first=True, dtype=dtype)
        Wx, Wh, b = (lstm_gates_as("torch", a) for a in (Wx, Wh, b))
    else:
        module = nn.RNN(Wx.shape[0], Wh.shape[0], batch_first=True, dtype=dtype)
    # One bias suffices: the two enter only as their sum.
    arrays = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": b}
    return module, {**arrays, "bias_hh_l0": np.zeros_like(b)}


def _linear(nn, layer, dtype):
    W, b = layer.params
    return nn.Linear(*W.shape, dtype=dtype), {"weight": W.T, "bias": b}


def _dropout(nn, layer, dtype):
    return nn.Dropout(layer.dropout_ratio), {}


_CONVERSIONS = {
    TimeEmbedding: _embedding,
    TimeLSTM: _recurrent,
    TimeRNN: _recurrent,
    TimeAffine: _linear,
    TimeDropout: _dropout,
}


@cache
def _module_class(torch):
    """The torch module class; made on first use, since torch is an optional extra."""

    class SequelLanguageModel(torch.nn.Module):
        """A sequel language model: ``forward(xs, state=None)`` gives ``(scores, state)``.

        ``xs`` (N, T) int64 word ids; ``scores`` (N, T, V); ``state`` a list with, per
        recurrent layer in order, ``(h, c)`` for an LSTM and ``h`` for an RNN, each
        (1, N, H) as ``nn.LSTM``/``nn.RNN`` take them. Passing the returned state to the next
        call carries it, as the sequel's stateful layers do; ``None`` starts from zeros.
        """

        def __init__(self, modules):
            super().__init__()
            self.layers = torch.nn.ModuleDict(modules)

        def forward(self, xs, state=None):
            new_state, k = [], 0
            for module in self.layers.values():
                if isinstance(module, (torch.nn.LSTM, torch.nn.RNN)):
                    xs, s = module(xs, None if state is None else state[k])
                    new_state.append(s)
                    k += 1
                else:
                    xs = module(xs)
            return xs, new_state

    return SequelLanguageModel


def sequel_to_torch(model: Any) -> Any:
    """A torch module computing what ``model.predict`` computes, in the model's dtype.

    Parameters
    ----------
    model : SimpleRnnlm, Rnnlm or BetterRnnlm
        Or any sequel model whose ``layers`` run in one chain of the layers converted (see
        the module's table).

    Returns
    -------
    torch.nn.Module
        ``forward(xs, state=None) -> (scores, state)`` (see ``SequelLanguageModel``), its
        modules named after the layers (``TimeEmbedding1``, ``TimeLSTM1``, ...), in eval
        mode, float32 or float64 as the model. Its scores equal ``model.predict(xs)`` (from a
        reset state) to rounding, and so do later calls given the returned state.

    Raises
    ------
    ConversionError
        What does not convert, named, with the reason.
    MissingExtraError
        torch is not installed.
    """
    torch = import_extra("torch", "torch", "to_torch")
    named = sequel_layers(model, "torch")
    dtype = getattr(torch, np.dtype(model.params[0].dtype).name)
    modules: OrderedDict[str, Any] = OrderedDict()
    embedding = None
    with torch.no_grad():
        for name, layer in named:
            module, arrays = _CONVERSIONS[type(layer)](torch.nn, layer, dtype)
            for attr, value in arrays.items():
                getattr(module, attr).copy_(torch.from_numpy(np.ascontiguousarray(value)))
            if type(layer) is TimeEmbedding:
                embedding = (layer.params[0], module)
            elif type(layer) is TimeAffine and embedding is not None:
                W, (embed_W, embed_module) = layer.params[0], embedding
                if np.shares_memory(W, embed_W) and np.array_equal(W, embed_W.T):
                    module.weight = embed_module.weight  # tied, as in the model
            modules[name] = module
    return _module_class(torch)(modules).train(False)
