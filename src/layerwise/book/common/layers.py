"""The book's ``common/layers.py``: layerwise's layers under the book's names and signatures.

A star-import gives, as the book's does, ``np``, the functions of ``common.functions``,
``im2col`` and ``col2im`` besides the layers. Two layers differ from layerwise's own:

- :class:`Pooling` has the book's default ``stride=1`` (layerwise's is 2);
- :class:`SoftmaxWithLoss` takes integer labels as an (N, 1) column too, as the book's
  ``ch07/gradient_check.py`` passes them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from layerwise import layers
from layerwise.layers import Affine, BatchNormalization, Convolution, Dropout, Relu, Sigmoid

from .functions import *  # noqa: F403 - the book's layers module gives its functions too
from .functions import __all__ as _functions
from .util import col2im, im2col

__all__ = [
    "Affine",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "Pooling",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "col2im",
    "im2col",
    *_functions,
]


class Pooling(layers.Pooling):
    """:class:`layerwise.layers.Pooling` with the book's signature: ``stride`` defaults to 1."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)


class SoftmaxWithLoss(layers.SoftmaxWithLoss):
    """:class:`layerwise.layers.SoftmaxWithLoss`; integer labels (N, 1) count as (N,)."""

    def forward(self, x: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
        t = np.asarray(t)
        if t.ndim == 2 and t.shape[1] == 1 and t.dtype.kind in "iu":
            t = t.reshape(-1)
        return super().forward(x, t)
