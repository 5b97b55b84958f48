"""The sequel's ``common/config.py``: its GPU switch.

A script sets ``config.GPU = True`` before it imports ``common.np``; then ``np`` is CuPy
(layerwise's device seam, :func:`layerwise.backend.import_cupy`), or, where CuPy or a GPU is
missing, the run stops with one line saying what to install.
"""

from __future__ import annotations

__all__ = ["GPU"]

GPU = False
