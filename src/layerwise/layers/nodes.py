"""The nodes of the book's computational graphs (section 5.4): multiplication and addition.

:mod:`layerwise.viz` records them, and every other layer, and draws the book's figures."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._checks import as_float_pair, check_dout, quiet
from .base import Layer, register_layer


@register_layer
class MulLayer(Layer):
    """Multiplication node of a computational graph: ``out = x * y``.

    Backward: ``dx = dout * y``, ``dy = dout * x`` (the gradient of each input is the upstream
    gradient times the *other* input, which is why forward caches both).

    Works on Python numbers and on arrays of one shape (no broadcasting); ``dout`` has that
    shape too. Computes in float (int/bool inputs in float64).
    """

    symbol = "×"  # how the book draws this node (see layerwise.viz)
    input_names = ("x", "y")

    def __init__(self) -> None:
        self.x: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        self.x, self.y = as_float_pair(x, y, "MulLayer.forward")
        with quiet():
            return self.x * self.y

    def backward(self, dout: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self.x is None or self.y is None:
            raise self._not_ready()
        dtype = np.result_type(self.x.dtype, self.y.dtype)
        dout = check_dout(dout, self.x.shape, "MulLayer", dtype)
        with quiet():
            dx = dout * self.y
            dy = dout * self.x
        return dx, dy


@register_layer
class AddLayer(Layer):
    """Addition node of a computational graph: ``out = x + y``.

    Backward: ``dx = dout``, ``dy = dout`` (addition passes the gradient through unchanged).

    Works on Python numbers and on arrays of one shape (no broadcasting). Caches only the
    output's shape and dtype, to check ``dout`` against (the book's AddLayer keeps nothing).
    """

    symbol = "+"
    input_names = ("x", "y")

    def __init__(self) -> None:
        # (shape, dtype) of the forward output
        self._out: tuple[tuple[int, ...], np.dtype] | None = None

    def forward(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        x, y = as_float_pair(x, y, "AddLayer.forward")
        self._out = (x.shape, np.result_type(x.dtype, y.dtype))
        with quiet():
            return x + y

    def backward(self, dout: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        if self._out is None:
            raise self._not_ready()
        dout = check_dout(dout, self._out[0], "AddLayer", self._out[1])
        return dout * 1, dout * 1
