"""The sequel's ``common/np.py``: ``np`` is NumPy, or CuPy once ``common.config.GPU`` is True.

The switch is read when this module is first imported, as in the sequel: a script sets
``config.GPU = True`` before its first ``from common.np import *`` (or any module that
imports it). CuPy comes through layerwise's device seam (:func:`layerwise.backend.import_cupy`),
which checks that it sees a GPU; where it cannot be had, :class:`BookScriptError` says what
to install, in one line.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy

from layerwise.backend import DeviceUnavailableError, import_cupy
from layerwise.book.books import BookScriptError

from .config import GPU

__all__ = ["GPU", "np"]

np: ModuleType = numpy
if GPU:
    try:
        np = import_cupy()
    except DeviceUnavailableError as err:
        raise BookScriptError(
            f"common.config.GPU = True asks for CuPy and a CUDA GPU (the sequel's GPU mode): "
            f"{err}; or leave config.GPU False to run on NumPy"
        ) from None
    # The sequel's memory pool and its banner.
    np.cuda.set_allocator(np.cuda.MemoryPool().malloc)
    print("\033[92m" + "-" * 60 + "\033[0m", file=sys.stdout)
    print(" " * 23 + "\033[92mGPU Mode (cupy)\033[0m")
    print("\033[92m" + "-" * 60 + "\033[0m\n")
