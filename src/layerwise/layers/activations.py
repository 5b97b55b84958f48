"""Activation layers of the book's section 5.5: ReLU and sigmoid."""

import numpy as np
import numpy.typing as npt

from .._checks import as_dtype, as_float_array, check_dout
from ..functions import sigmoid
from .base import Layer, register_layer


@register_layer
class Relu(Layer):
    """Rectified linear unit.

    Forward: ``out = max(0, x)``. Backward: ``dx = dout`` where ``x > 0``, else ``0`` (the
    gradient at exactly ``x = 0`` is taken as 0, as in the book and in PyTorch).

    Shapes: ``x``, ``out``, ``dout`` and ``dx`` all have the same shape (any).

    Caches where ``x > 0`` (a bool array), so that ``backward`` is one multiplication. The book's
    attribute ``mask`` (bool, True where ``x <= 0``) is derived from it on request.

    A NaN ``x`` gives NaN out and a zero gradient. An infinite ``dout`` where ``x <= 0`` gives NaN
    (``inf * 0``) with NumPy's warning, where the book's masking gives 0: the multiplication is
    what makes backward fast.
    """

    def __init__(self) -> None:
        self._keep = None

    @property
    def mask(self) -> np.ndarray | None:
        """bool ndarray, True where the forward input was ``<= 0`` (None before forward)."""
        return None if self._keep is None else ~self._keep

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_float_array(x, "Relu.forward")
        # Cache x > 0, so that dx = dout * (x > 0) is one multiplication: the book's
        # `dout[mask] = 0` is a boolean-index scatter and np.where a branch per element.
        self._keep = x > 0
        self._dtype = x.dtype
        return np.maximum(x, 0)

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self._keep is None:
            raise self._not_ready()
        dout = check_dout(dout, self._keep.shape, "Relu")
        # A dout of a wider dtype is multiplied first and cast after: a float32 3e38 where
        # x <= 0 gives 0, not 0 * inf.
        return as_dtype(dout * self._keep, self._dtype)


@register_layer
class Sigmoid(Layer):
    """Logistic sigmoid.

    Forward: ``out = 1 / (1 + exp(-x))``, computed without overflow (see
    :func:`layerwise.functions.sigmoid`). Backward: ``dx = dout * out * (1 - out)``.

    Shapes: ``x``, ``out``, ``dout`` and ``dx`` all have the same shape (any). Caches ``out``.

    An infinite ``dout`` where ``out`` is exactly 0 or 1 gives NaN (``inf * 0``) with NumPy's
    warning, as in :class:`Relu`.
    """

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        self.out = sigmoid(as_float_array(x, "Sigmoid.forward"))
        return self.out

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.out is None:
            raise self._not_ready()
        dout = check_dout(dout, self.out.shape, "Sigmoid")
        return as_dtype(dout * (1.0 - self.out) * self.out, self.out.dtype)
