"""The book's ``common/functions.py``: :mod:`layerwise.functions` under the same names."""

from __future__ import annotations

import numpy as np

from layerwise.functions import (
    cross_entropy_error,
    identity_function,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_loss,
    step_function,
    sum_squared_error,
)

__all__ = [
    "cross_entropy_error",
    "identity_function",
    "np",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_loss",
    "step_function",
    "sum_squared_error",
]
