"""The output layer of the book's section 5.6.3: softmax and cross-entropy as one layer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_float_array, check_dout, check_labels, check_scores, quiet
from ..backend import get_array_module
from ..functions import log_softmax, mean_negative_log
from .base import Layer, register_layer


@register_layer
class SoftmaxWithLoss(Layer):
    """Softmax followed by the cross-entropy loss, as one layer.

    Forward: ``y = softmax(x)``, ``loss = -(1/N) sum_n sum_k t_nk log y_nk``, with ``log y``
    computed from the logits by log-sum-exp (:func:`~layerwise.functions.log_softmax`: exact,
    no ``1e-7``), and ``y = exp(log y)``.
    Backward: ``dx = dout * (y - T) / N`` where ``T`` is ``t`` as one-hot rows.

    Shapes
    ------
    x : (N, C) logits, or (C,) for one sample (then N = 1).
    t : (N,) / () integer labels in [0, C), also as an (N, 1) column, or one-hot /
    probability rows of x's shape.
    y : like x. loss : scalar of x's float dtype. dout : scalar (default 1.0). dx : like x.

    Caches ``y``, ``t`` and ``loss``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = SoftmaxWithLoss()
    >>> loss = layer.forward(np.array([[2.0, 0.0, 0.0]]), np.array([0]))  # label 0
    >>> round(float(loss), 4)  # -log(e**2 / (e**2 + 2))
    0.2395
    >>> layer.backward().round(4)  # (y - t) / N
    array([[-0.213 ,  0.1065,  0.1065]])
    """

    input_names = ("x", "t")

    def __init__(self) -> None:
        self.loss: np.floating | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: npt.ArrayLike, t: npt.ArrayLike) -> np.floating:
        x = as_float_array(x, "SoftmaxWithLoss.forward")
        check_scores(x, "SoftmaxWithLoss.forward")
        labels, onehot = check_labels(t, x.shape, "SoftmaxWithLoss.forward")
        self.t = as_array(t, "SoftmaxWithLoss.forward", name="t")
        log_y = log_softmax(x)  # log y from the logits: exact where y underflows to 0
        self.y = np.exp(log_y)
        self.loss = loss = mean_negative_log(log_y, labels, onehot)  # the cross-entropy
        return loss

    def backward(self, dout: npt.ArrayLike = 1.0) -> np.ndarray:
        if self.y is None or self.t is None:
            raise self._not_ready()
        # dout is the gradient of the final loss with respect to this loss: a scalar, usually 1
        dout = float(check_dout(dout, (), "SoftmaxWithLoss"))
        y = self.y.reshape(-1, self.y.shape[-1])  # one sample is a batch of one
        batch_size = len(y)
        with quiet():  # huge one-hot weights or dout give inf, an infinite dout NaN, quietly
            if self.t.shape == self.y.shape:  # one-hot (or probability) rows
                dx = y - self.t.reshape(y.shape).astype(y.dtype, copy=False)
            else:  # label indices: subtracting the one-hot row is subtracting 1 at the label
                dx = y.copy()
                rows = get_array_module(dx).arange(batch_size)
                dx[rows, self.t.reshape(batch_size)] -= 1
            dx *= dout / batch_size
        return dx.reshape(self.y.shape)
