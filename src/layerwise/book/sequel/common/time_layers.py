"""The sequel's ``common/time_layers.py``: :mod:`layerwise.sequel.time_layers`.

A star-import gives what the sequel's gives: the time layers, everything of
``common.layers`` (``np`` included), ``softmax`` and ``sigmoid``. The sequel's
``Simple_TimeAffine`` and ``Simple_TimeSoftmaxWithLoss``, step-by-step loops of the same
maths, are :class:`~layerwise.sequel.time_layers.TimeAffine` and
:class:`~layerwise.sequel.time_layers.TimeSoftmaxWithLoss`.
"""

from __future__ import annotations

from layerwise.sequel.time_layers import *  # noqa: F403 - the time layers, name for name
from layerwise.sequel.time_layers import TimeAffine, TimeSoftmaxWithLoss
from layerwise.sequel.time_layers import __all__ as _time_layers

from .functions import sigmoid
from .layers import *  # noqa: F403 - the sequel's time_layers star-imports its layers
from .layers import __all__ as _layers

Simple_TimeAffine = TimeAffine  # noqa: N816 - the sequel's name
Simple_TimeSoftmaxWithLoss = TimeSoftmaxWithLoss  # noqa: N816 - the sequel's name

__all__ = [
    *_time_layers,
    "Simple_TimeAffine",
    "Simple_TimeSoftmaxWithLoss",
    "sigmoid",
    *_layers,
]
