"""layerwise: the layers of "Deep Learning from Scratch", each owning its forward and backward pass.

>>> import numpy as np
>>> from layerwise import Affine, Relu, SoftmaxWithLoss
"""

from . import datasets, optimizers
from ._blas import blas_threads
from .files import ModelFileError, load, save
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
from .training import NonFiniteLossError, Trainer, TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "optimizers",
    "Affine",
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
]
