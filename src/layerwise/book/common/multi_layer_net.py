"""The book's ``common/multi_layer_net.py``: :class:`layerwise.MultiLayerNet`."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from layerwise.book_nets import MultiLayerNet

from .gradient import numerical_gradient
from .layers import *  # noqa: F403 - the book's module star-imports its layers
from .layers import __all__ as _layers

__all__ = ["MultiLayerNet", "OrderedDict", "np", "numerical_gradient", *_layers]
