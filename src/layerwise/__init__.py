"""layerwise: the layers of "Deep Learning from Scratch", each owning its forward and backward pass.

>>> import numpy as np
>>> from layerwise import Affine, Relu, SoftmaxWithLoss
"""

from . import datasets, optimizers
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
from .network import MultiLayerNet, Parameters, Sequential, TwoLayerNet

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "optimizers",
    "Affine",
    "AddLayer",
    "BackwardBeforeForwardError",
    "MulLayer",
    "MultiLayerNet",
    "Parameters",
    "Sequential",
    "TwoLayerNet",
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
