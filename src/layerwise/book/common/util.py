"""The book's ``common/util.py``: :mod:`layerwise.util` under the same names."""

from __future__ import annotations

import numpy as np

from layerwise.util import col2im, conv_output_size, im2col, shuffle_dataset, smooth_curve

__all__ = ["col2im", "conv_output_size", "im2col", "np", "shuffle_dataset", "smooth_curve"]
