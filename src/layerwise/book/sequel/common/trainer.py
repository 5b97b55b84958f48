"""The sequel's ``common/trainer.py``: :mod:`layerwise.sequel.trainer`, shuffling as the book's.

The sequel's ``Trainer`` shuffles with NumPy's global generator, so a script that seeds it (or
calls ``spiral.load_data()``, which does) repeats its run; layerwise's draws from a generator
of its own, which is seeded here from the global one (unless ``seed=`` is given), which keeps
that property.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy

from layerwise.sequel import trainer
from layerwise.sequel.trainer import RnnlmTrainer, remove_duplicate

from .np import *  # noqa: F403 - the sequel's trainer module gives np and GPU
from .np import __all__ as _np
from .util import clip_grads

__all__ = [
    "RnnlmTrainer",
    "Trainer",
    "clip_grads",
    "numpy",
    "remove_duplicate",
    "sys",
    "time",
    *_np,
]


class Trainer(trainer.Trainer):
    """:class:`layerwise.sequel.trainer.Trainer`, its shuffling seeded from NumPy's global
    generator, as the sequel's draws its permutations from it."""

    def __init__(self, model: Any, optimizer: Any, *, seed: Any = None) -> None:
        if seed is None:
            seed = int(numpy.random.randint(2**31))  # noqa: NPY002 - the book's generator
        super().__init__(model, optimizer, seed=seed)
