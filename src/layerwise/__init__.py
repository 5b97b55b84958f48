"""layerwise: the layers of "Deep Learning from Scratch", each owning its forward and backward pass.

>>> import numpy as np
>>> from layerwise import Affine, Relu, SoftmaxWithLoss
"""

from .functions import (
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
)
from .layers import (
    AddLayer,
    Affine,
    BackwardBeforeForwardError,
    MulLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)

__version__ = "0.1.0"

__all__ = [
    "Affine",
    "AddLayer",
    "BackwardBeforeForwardError",
    "MulLayer",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "cross_entropy_error",
    "log_softmax",
    "numerical_gradient",
    "relu",
    "sigmoid",
    "softmax",
]
