"""The book's ``common/optimizer.py``: :mod:`layerwise.optimizers`, and ``np`` as the book's gives.

The book's ``ch06/optimizer_compare_mnist.py`` uses ``np`` after ``from common.optimizer
import *``, so ``np`` is part of what this module gives.
"""

from __future__ import annotations

import numpy as np

from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop", "np"]
