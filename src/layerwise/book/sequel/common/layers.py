"""The sequel's ``common/layers.py``: :mod:`layerwise.sequel.layers` under the same names.

A star-import gives, as the sequel's does, ``np``, ``GPU``, ``softmax`` and
``cross_entropy_error`` besides the layers.
"""

from __future__ import annotations

from layerwise.sequel.layers import *  # noqa: F403 - the layers, name for name
from layerwise.sequel.layers import __all__ as _layers

from .functions import cross_entropy_error, softmax
from .np import *  # noqa: F403 - the sequel's layers module gives np and GPU
from .np import __all__ as _np

__all__ = [*_layers, "cross_entropy_error", "softmax", *_np]
