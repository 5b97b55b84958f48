"""layerwise: the layers of "Deep Learning from Scratch", each owning its forward and backward pass.

>>> import numpy as np
>>> from layerwise import Affine, Relu, SoftmaxWithLoss
"""

from __future__ import annotations

from . import datasets, optimizers, util, viz
from ._blas import blas_threads
from ._checks import InvalidParameterError
from ._version import __version__ as __version__
from .book_nets import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from .files import ModelFileError, load, save
from .functions import (
    cross_entropy_error,
    log_softmax,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
    softmax_loss,
)
from .layers import (
    AddLayer,
    Affine,
    BackwardBeforeForwardError,
    BatchNormalization,
    Convolution,
    Dropout,
    MulLayer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from .network import Parameters, Sequential
from .training import NonFiniteLossError, Trainer, TrainingInterrupted

__all__ = [
    "datasets",
    "optimizers",
    "util",
    "viz",
    "Affine",
    "BatchNormalization",
    "Dropout",
    "InvalidParameterError",
    "MultiLayerNetExtend",
    "Convolution",
    "DeepConvNet",
    "Pooling",
    "SimpleConvNet",
    "blas_threads",
    "AddLayer",
    "BackwardBeforeForwardError",
    "ModelFileError",
    "MulLayer",
    "MultiLayerNet",
    "NonFiniteLossError",
    "Parameters",
    "Sequential",
    "Trainer",
    "TrainingInterrupted",
    "TwoLayerNet",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "cross_entropy_error",
    "load",
    "log_softmax",
    "numerical_gradient",
    "relu",
    "save",
    "sigmoid",
    "softmax",
    "softmax_loss",
]
