"""The sequel's ``common/util.py``: :mod:`layerwise.sequel.util`, and ``eval_seq2seq``."""

from __future__ import annotations

import os
import sys

from layerwise.sequel.seq2seq import eval_seq2seq
from layerwise.sequel.util import *  # noqa: F403 - the helpers, name for name
from layerwise.sequel.util import __all__ as _util

from .np import *  # noqa: F403 - the sequel's util module gives np and GPU
from .np import __all__ as _np

__all__ = [*_util, "eval_seq2seq", "os", "sys", *_np]
