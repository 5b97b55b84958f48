"""The sequel's ``common/base_model.py``: :class:`layerwise.sequel.base_model.BaseModel`.

Its ``save_params`` writes layerwise's safe file (an ``.npz`` of plain arrays, whatever the
name, so ``Rnnlm.pkl`` is one), and its ``load_params`` reads that or the sequel's own
pickles (``ch06/Rnnlm.pkl``, ``ch08/AttentionSeq2seq.pkl``: lists of float16 arrays) without
unpickling anything but arrays (:mod:`layerwise.sequel.weights`).
"""

from __future__ import annotations

import os
import pickle
import sys

from layerwise.sequel.base_model import BaseModel

from .np import *  # noqa: F403 - the sequel's base_model module gives np and GPU
from .np import __all__ as _np
from .util import to_cpu, to_gpu

__all__ = ["BaseModel", "os", "pickle", "sys", "to_cpu", "to_gpu", *_np]
