"""The fully connected layer of the book's section 5.6."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._checks import as_float_array, check_dout, check_features, quiet
from .base import Layer, register_layer


@register_layer
class Affine(Layer):
    """Fully connected layer: ``out = x W + b``.

    Forward: ``out = x2 @ W + b`` where ``x2 = x.reshape(N, -1)``.
    Backward: ``dx = dout @ W.T`` (reshaped back to ``x``'s shape), ``dW = x2.T @ dout``,
    ``db = sum(dout, axis=0)``.

    Parameters
    ----------
    W : ndarray, shape (D, M)
        Weights. The layer keeps a reference (no copy), so in-place updates are seen.
    b : ndarray, shape (M,)
        Biases.

    Shapes
    ------
    x : (N, D) or (N, d1, d2, ...) with d1 * d2 * ... = D.
    out, dout : (N, M). dx : like x. dW : (D, M). db : (M,).

    Caches ``x`` (the 2-D input, in W's dtype) and ``original_x_shape``.

    The layer computes in ``W``'s dtype: an input of another dtype is converted, so float32
    parameters give a float32 forward and backward. A product beyond the float range is inf,
    without a warning.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Affine(np.ones((3, 2)), np.array([0.0, 1.0]))
    >>> layer.forward(np.array([[1.0, 2.0, 3.0]]))
    array([[6., 7.]])
    >>> layer.backward(np.array([[1.0, 2.0]]))  # dx = dout @ W.T
    array([[3., 3., 3.]])
    >>> layer.dW  # x.T @ dout
    array([[1., 2.],
           [2., 4.],
           [3., 6.]])
    >>> layer.db
    array([1., 2.])
    """

    param_names = ("W", "b")
    skips_input_grad = True

    def __init__(self, W: npt.ArrayLike, b: npt.ArrayLike) -> None:
        W = as_float_array(W, "Affine", name="W")
        b = as_float_array(b, "Affine", name="b")
        if W.ndim != 2:
            raise ValueError(f"Affine: W must be 2-D (in_features, out_features), got {W.shape}")
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine: b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}"
            )
        self.W = W
        self.b = b
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        x = as_float_array(x, "Affine.forward")
        x2 = check_features(x, self.W.shape[0], "Affine.forward")
        self.original_x_shape = x.shape
        with quiet():  # float64 beyond float32's range casts to inf; x W may overflow to inf
            self.x = x2.astype(self.W.dtype, copy=False)
            out = self.x @ self.W
            out += self.b  # in place: the output keeps W's dtype whatever b's is
        return out

    def backward(self, dout: npt.ArrayLike, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``dW`` and ``db``; return ``dx`` (None when ``input_grad`` is False).

        A network passes ``input_grad=False`` to its first layer: nothing uses the gradient with
        respect to the data, and skipping its matrix product saves up to a third of the step.
        """
        if self.x is None:
            raise self._not_ready()
        dout = check_dout(dout, (self.x.shape[0], self.W.shape[1]), "Affine", self.W.dtype)
        with quiet():
            self.dW = self.x.T @ dout
            self.db = np.sum(dout, axis=0)
            if not input_grad:
                return None
            return (dout @ self.W.T).reshape(self.original_x_shape)

    def __repr__(self):
        return (
            f"Affine(in_features={self.W.shape[0]}, out_features={self.W.shape[1]}, "
            f"dtype={self.W.dtype})"
        )
