"""The book's layers, each owning its forward and backward pass, one module per chapter section.

=====================  ==========================================  ==========================
module                 layers                                      the book
=====================  ==========================================  ==========================
``nodes``              :class:`MulLayer`, :class:`AddLayer`        5.4 computational graphs
``activations``        :class:`Relu`, :class:`Sigmoid`             5.5
``affine``             :class:`Affine`                             5.6
``loss``               :class:`SoftmaxWithLoss`                    5.6.3
``regularization``     :class:`BatchNormalization`                 6.3
``regularization``     :class:`Dropout`                            6.4.3
``conv``               :class:`Convolution`, :class:`Pooling`      7.4
=====================  ==========================================  ==========================

Every layer follows the protocol of :mod:`layerwise.layers.base`. The public attribute names
are the book's (``mask``, ``out``, ``x``, ``original_x_shape``, ``W``, ``dW``, ``b``, ``db``,
``loss``, ``y``, ``t``), so the book's own code runs on them.

Differences from the book's ``common/layers.py``, each with a regression test:

- ``Relu.backward`` returns a new array; the book's zeroes the caller's ``dout`` in place.
- ``Sigmoid`` never overflows (the book's ``1 / (1 + exp(-x))`` warns at x = -710 in float64).
- ``SoftmaxWithLoss`` computes the loss from the logits by log-sum-exp: exact, no ``1e-7`` floor.
- ``SoftmaxWithLoss.backward(dout)`` multiplies by ``dout``; the book's ignores it.
- ``backward`` before ``forward`` raises :class:`BackwardBeforeForwardError`.

Input checks (see :mod:`layerwise._checks`): a wrong shape, a ``dout`` unlike the forward output,
bad labels or an empty batch is a ValueError; a complex, object or string array is a TypeError;
each message names the layer. Inputs are never modified, so read-only arrays are fine.

Dtypes: parameter-free layers keep a floating input's dtype (float16, float32, float64) and
compute integer or bool input in float64; layers with parameters compute in their parameters'
dtype. float16 is supported but slow in NumPy and good to about 3 digits. Finite input never
warns: a result beyond the float range is inf.
"""

from __future__ import annotations

from .activations import Relu, Sigmoid
from .affine import Affine
from .base import ACTIVATIONS, LAYERS, BackwardBeforeForwardError, Layer, register_layer
from .conv import Convolution, Pooling
from .loss import SoftmaxWithLoss
from .nodes import AddLayer, MulLayer
from .regularization import BatchNormalization, Dropout

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "AddLayer",
    "Affine",
    "BackwardBeforeForwardError",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "Layer",
    "MulLayer",
    "Pooling",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "register_layer",
]
