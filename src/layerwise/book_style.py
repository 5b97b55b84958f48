"""A network written as the book's, seen through what the Trainer asks of a network."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .network import as_batch

__all__ = ["BookStyleNetwork", "as_rows", "not_layerwise", "trainable"]

_EVAL_ROWS = 1000  # rows per chunk when evaluating accuracy


def as_rows(x: Any) -> np.ndarray:
    """Samples as an array: arrays (memory-mapped ones too) as they are, lists converted."""
    return x if isinstance(x, np.ndarray) else np.asarray(x)


class BookStyleNetwork:
    """A network written as the book's, seen through what the Trainer asks of a network.

    The book's networks (its chapter-5 ``TwoLayerNet``, chapter-7 ``SimpleConvNet``, ...) have
    ``params``, ``gradient(x, t)``, ``loss(x, t)`` and ``accuracy(x, t)``, and no training mode:
    their Dropout takes ``train_flg`` from the call. This gives them ``loss_and_gradient``,
    ``dtype``, ``train`` (calling the network's own ``train`` only where it has one) and a
    chunked ``accuracy``. Integer labels given as an (N, 1) column (the book's
    ``ch07/gradient_check.py`` passes one) are passed on as (N,).

    Parameters
    ----------
    network : object
        With ``params`` (a dict of name -> ndarray), ``gradient``, ``loss`` and ``accuracy``.
    """

    def __init__(self, network: Any) -> None:
        if isinstance(getattr(network, "params", None), list):  # the sequel's models
            raise TypeError(
                f"Trainer: {type(network).__name__} is one of the sequel's models (params a "
                "list, forward(xs, ts) the loss); train it with layerwise.sequel.trainer's "
                "Trainer or RnnlmTrainer, as the sequel does. This Trainer, its workers and its "
                "checkpoints need a network with a params dict, gradient, loss and accuracy"
            )
        missing = [a for a in ("params", "gradient", "loss", "accuracy") if not hasattr(network, a)]
        if missing:
            raise TypeError(
                f"Trainer: the network ({type(network).__name__}) has no {', '.join(missing)}; a "
                "network needs params, gradient(x, t), loss(x, t) and accuracy(x, t), as the "
                "book's networks have"
            )
        self.network = network

    @property
    def params(self) -> Any:
        return self.network.params

    @property
    def dtype(self) -> np.dtype:
        """The first parameter's dtype (the book's networks are float64)."""
        first = next(iter(self.params.values()), None)
        return np.dtype(np.float64) if first is None else first.dtype

    def train(self, mode: bool = True) -> BookStyleNetwork:
        switch = getattr(self.network, "train", None)
        if callable(switch):
            switch(mode)
        return self

    def loss_and_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Any, dict[str, Any]]:
        """``(loss, grads)`` before any update; the book's ``gradient`` keeps its loss to itself,
        so the loss takes a second forward pass, as in the book's own Trainer."""
        t = _label_column_as_rows(t)
        grads = self.network.gradient(x, t)
        return self.network.loss(x, t), grads

    def accuracy(self, x: npt.ArrayLike, t: npt.ArrayLike, batch_size: int = _EVAL_ROWS) -> float:
        """The book's ``accuracy``, ``batch_size`` rows at a time, uint8 images scaled by 1/255."""
        x, t = as_rows(x), _label_column_as_rows(np.asarray(t))
        correct = 0.0
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            x_chunk = as_batch(x[rows], self.dtype)
            correct += float(self.network.accuracy(x_chunk, t[rows])) * len(x_chunk)
        return correct / len(x)


def _label_column_as_rows(t: np.ndarray) -> np.ndarray:
    """Integer labels of shape (N, 1) as (N,); anything else unchanged."""
    if t.ndim == 2 and t.shape[1] == 1 and t.dtype.kind in "iu":
        return t.reshape(-1)
    return t


def trainable(network: Any) -> Any:
    """``network`` itself when it is layerwise's, else a :class:`BookStyleNetwork` over it."""
    return network if hasattr(network, "loss_and_gradient") else BookStyleNetwork(network)




def not_layerwise(network: Any, owner: str) -> TypeError:
    """The error for a network written as the book's where a layerwise one is needed."""
    return TypeError(
        f"{owner}: checkpoints and workers need a layerwise network (Sequential or "
        f"layerwise.book_nets); {type(network).__name__} has the book's params, gradient, loss "
        "and accuracy only"
    )
