"""The book's ``common/multi_layer_net_extend.py``: :class:`layerwise.MultiLayerNetExtend`."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from layerwise.book_nets import MultiLayerNetExtend

from .gradient import numerical_gradient
from .layers import *  # noqa: F403 - the book's module star-imports its layers
from .layers import __all__ as _layers

__all__ = ["MultiLayerNetExtend", "OrderedDict", "np", "numerical_gradient", *_layers]
