"""The sequel, "Deep Learning from Scratch 2" (natural language processing), on layerwise.

Its layers keep the sequel's protocol: ``params`` and ``grads`` are lists, and ``backward``
writes each gradient in place into ``grads`` (see :mod:`layerwise.sequel.base`). The modules
mirror the sequel's ``common/`` package, so that its scripts map onto them:

=============================  ==========================================================
module                         the sequel's
=============================  ==========================================================
``layerwise.sequel.layers``    ``common/layers.py``: MatMul, Affine, Softmax,
                               SoftmaxWithLoss, Sigmoid, SigmoidWithLoss, Dropout, Embedding
``.time_layers``               ``common/time_layers.py``: RNN, TimeRNN, LSTM, TimeLSTM,
                               GRU, TimeGRU, TimeEmbedding, TimeAffine, TimeSoftmaxWithLoss,
                               TimeDropout, TimeBiLSTM, TimeSigmoidWithLoss
``.negative_sampling``         ``ch04/negative_sampling_layer.py``: EmbeddingDot,
                               UnigramSampler, NegativeSamplingLoss
``.functions``                 ``common/functions.py``
``.util``                      ``common/util.py``: text, co-occurrence, PPMI, clip_grads,
                               eval_perplexity
``.optimizer``                 ``common/optimizer.py``: SGD ... Adam on lists
``.word2vec``                  ``ch03``/``ch04``: SimpleCBOW, SimpleSkipGram, CBOW, SkipGram
``.rnnlm_gen``, ``.seq2seq``   ``ch07``: RnnlmGen, BetterRnnlmGen, Encoder, Decoder, Seq2seq,
                               PeekyDecoder, PeekySeq2seq, eval_seq2seq
``.attention``                 ``ch08``: WeightSum, AttentionWeight, Attention, TimeAttention,
                               AttentionEncoder, AttentionDecoder, AttentionSeq2seq
``.dataset.sequence``          ``dataset/sequence.py``: load_data, get_vocab
=============================  ==========================================================

The design, the differences from the sequel's code and the LSTM gate order against PyTorch's
are in ``docs/sequel.md``.
"""

from __future__ import annotations

from .attention import Attention, AttentionWeight, TimeAttention, WeightSum
from .base import SEQUEL_LAYERS, SequelLayer, register_sequel_layer
from .layers import (
    Affine,
    Dropout,
    Embedding,
    MatMul,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
)
from .negative_sampling import EmbeddingDot, NegativeSamplingLoss, UnigramSampler
from .time_layers import (
    GRU,
    LSTM,
    RNN,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSigmoidWithLoss,
    TimeSoftmaxWithLoss,
)

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "SEQUEL_LAYERS",
    "Affine",
    "Attention",
    "AttentionWeight",
    "Dropout",
    "Embedding",
    "EmbeddingDot",
    "MatMul",
    "NegativeSamplingLoss",
    "SequelLayer",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
    "TimeAffine",
    "TimeAttention",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSigmoidWithLoss",
    "TimeSoftmaxWithLoss",
    "UnigramSampler",
    "WeightSum",
    "register_sequel_layer",
]
