"""The fully connected layer of the book's section 5.6."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_float_array, check_dout, check_features, check_number, quiet
from .base import Layer, initial_weights, register_layer


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

    @classmethod
    def from_sizes(
        cls,
        in_features: int,
        out_features: int,
        *,
        rng: Any = None,
        init: str | float = "he",
        dtype: npt.DTypeLike = np.float64,
    ) -> Affine:
        """An Affine layer of fresh weights, as ``torch.nn.Linear(in_features, out_features)``.

        Parameters
        ----------
        in_features, out_features : int >= 1
            D and M: W has shape (D, M), b (M,).
        rng : numpy.random.Generator, int or None, keyword-only
            Where the weights are drawn from (a seed gives a fresh Generator).
        init : 'he', 'xavier', an activation's name, or a float, keyword-only, default 'he'
            ``W ~ N(0, std**2)`` with ``std = sqrt(2 / D)`` (He, for ReLU), ``sqrt(1 / D)``
            (Xavier, for sigmoid), or the number given (the book's ``weight_init_std``).
        dtype : float32 or float64, keyword-only

        Returns
        -------
        Affine
            b is 0.

        Examples
        --------
        >>> layer = Affine.from_sizes(784, 100, rng=0)
        >>> layer.W.shape, layer.b.shape, round(float(layer.W.std()), 2)  # sqrt(2 / 784) = 0.0505
        ((784, 100), (100,), 0.05)
        """
        D = check_number(in_features, "Affine.from_sizes", "in_features", low=1, integer=True)
        M = check_number(out_features, "Affine.from_sizes", "out_features", low=1, integer=True)
        W = initial_weights((D, M), D, init, rng, dtype, "Affine.from_sizes")
        return cls(W, np.zeros(M, W.dtype))

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
