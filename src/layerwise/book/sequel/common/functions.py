"""The sequel's ``common/functions.py``: :mod:`layerwise.sequel.functions` under its names."""

from __future__ import annotations

from layerwise.sequel.functions import cross_entropy_error, relu, sigmoid, softmax

from .np import *  # noqa: F403 - the sequel's functions module gives np and GPU
from .np import __all__ as _np

__all__ = ["cross_entropy_error", "relu", "sigmoid", "softmax", *_np]
