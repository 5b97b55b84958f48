"""Activation layers of the book's section 5.5: ReLU and sigmoid."""

from __future__ import annotations

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

    Examples
    --------
    >>> import numpy as np
    >>> relu = Relu()
    >>> relu.forward(np.array([[1.0, -0.5], [-2.0, 3.0]]))
    array([[1., 0.],
           [0., 3.]])
    >>> relu.backward(np.array([[5.0, 5.0], [5.0, 5.0]]))  # dout where x > 0
    array([[5., 0.],
           [0., 5.]])
    """

    activation_name = "relu"
    init_gain = 2.0  # He: std sqrt(2 / fan_in) keeps the variance of ReLU outputs
    torch_module = "ReLU"
    onnx_op = "Relu"
    commutes_with_positive_scale = True  # max(0, c x) = c max(0, x) for c > 0

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

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid = Sigmoid()
    >>> sigmoid.forward(np.array([0.0, 2.0])).round(4)
    array([0.5   , 0.8808])
    >>> sigmoid.backward(np.ones(2)).round(4)  # out * (1 - out)
    array([0.25 , 0.105])
    """

    activation_name = "sigmoid"
    init_gain = 1.0  # Xavier: std sqrt(1 / fan_in)
    torch_module = "Sigmoid"
    onnx_op = "Sigmoid"
    commutes_with_positive_scale = False

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
