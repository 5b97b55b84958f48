"""The sequel's ``common/base_model.py``: what its models share.

A model holds ``params`` and ``grads``, the lists of all its layers' arrays (the same arrays,
so an optimizer's in-place update reaches the layers), and has ``forward(...)`` returning the
loss and ``backward(dout=1)``. :class:`LayerStack` adds the chapters 5-6 language models' plan:
a list ``layers`` run in order, then a ``loss_layer``. Saving and loading weights (the sequel's
``save_params``/``load_params``, float16 pickles) is left to layerwise's safe files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BaseModel", "LayerStack"]


class BaseModel:
    """``params``/``grads`` lists (None until a subclass builds them), forward and backward."""

    def __init__(self) -> None:
        self.params: Any = None
        self.grads: Any = None

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError

    def backward(self, *args: Any) -> Any:
        raise NotImplementedError


class LayerStack(BaseModel):
    """Layers applied in order, then a loss layer; ``params``/``grads`` gathered from them.

    ``predict(xs)`` gives the last layer's output (scores); ``forward(xs, ts)`` the loss;
    ``backward(dout=1)`` runs every layer's backward in reverse and returns the gradient with
    respect to the first layer's input (None after an embedding).
    """

    def __init__(self, layers: list[Any], loss_layer: Any) -> None:
        super().__init__()
        self.layers = layers
        self.loss_layer = loss_layer
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs: npt.ArrayLike) -> np.ndarray:
        out: Any = xs
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def forward(self, xs: npt.ArrayLike, ts: npt.ArrayLike) -> np.floating:
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self, dout: float = 1) -> Any:
        d = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return d
