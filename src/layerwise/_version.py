"""The one place layerwise's version is written.

``pyproject.toml`` reads it for the package metadata, ``layerwise.__version__`` and
``layerwise --version`` show it, and model files and checkpoints record it.
"""

from __future__ import annotations

__version__ = "0.1.0"
