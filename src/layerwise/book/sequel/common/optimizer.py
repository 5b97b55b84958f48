"""The sequel's ``common/optimizer.py``: :mod:`layerwise.sequel.optimizer` (on lists)."""

from __future__ import annotations

import sys

from layerwise.sequel.optimizer import *  # noqa: F403 - the optimizers, name for name
from layerwise.sequel.optimizer import __all__ as _optimizers

from .np import *  # noqa: F403 - the sequel's optimizer module gives np and GPU
from .np import __all__ as _np

__all__ = [*_optimizers, "sys", *_np]
