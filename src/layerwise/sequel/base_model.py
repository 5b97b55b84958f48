"""The sequel's ``common/base_model.py``: what its models share.

A model holds ``params`` and ``grads``, the lists of all its layers' arrays (the same arrays,
so an optimizer's in-place update reaches the layers), and has ``forward(...)`` returning the
loss and ``backward(dout=1)``. :class:`LayerStack` adds the chapters 5-6 language models' plan:
a list ``layers`` run in order, then a ``loss_layer``, and what resuming training exactly needs:
``state_dict()``/``load_state_dict()`` (the parameters and each recurrent layer's carried state,
as arrays for a safe ``.npz``) and ``rng_states()``/``set_rng_states()`` (the dropout layers'
generators, JSON). ``save_params``/``load_params`` come from :class:`~.weights.SequelParams`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..backend import as_array_like
from .base import OnDevice
from .weights import SequelParams, copy_into_params

__all__ = ["BaseModel", "LayerStack"]


class BaseModel(OnDevice, SequelParams):
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

    A subclass whose ``predict`` returns an array that nothing else holds (a last
    :class:`~layerwise.sequel.time_layers.TimeAffine`'s fresh output) sets
    ``scores_are_temporary``: its loss layer, a
    :class:`~layerwise.sequel.time_layers.TimeSoftmaxWithLoss`, then writes its softmax and
    gradient over the scores (``overwrite_xs``), and ``backward`` runs once per ``forward``.
    """

    scores_are_temporary = False

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
        return self._loss(self.predict(xs), ts)

    def _loss(self, scores: np.ndarray, ts: npt.ArrayLike) -> np.floating:
        if self.scores_are_temporary:
            return self.loss_layer.forward(scores, ts, overwrite_xs=True)
        return self.loss_layer.forward(scores, ts)

    def backward(self, dout: float = 1) -> Any:
        d = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return d

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of what training continues from, as ``{key: array}``.

        ``params/<i>`` for every position of ``params`` (a tied weight appears at both of its
        positions) and ``layers/<j>/<name>`` for each carried state a layer declares in
        ``state_names`` and holds (``h``, ``c``; absent after ``reset_state``).
        """
        state = {f"params/{i}": p.copy() for i, p in enumerate(self.params)}
        for j, layer in enumerate(self.layers):
            for name in getattr(layer, "state_names", ()):
                value = getattr(layer, name)
                if value is not None:
                    state[f"layers/{j}/{name}"] = np.copy(value)  # on its device
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned (a dict or an ``np.load`` result).

        Parameters are written in place (``p[...] = value``), so tied weights, the optimizer's
        and the trainer's references stay valid. Everything is checked before anything
        changes: a missing or unknown key, a wrong shape (a carried state must be (N, H), a
        layer's states of one N) is a ValueError listing them all; so is a weight the model
        ties (BetterRnnlm's embedding and affine) given two different values, as
        :meth:`load_params` refuses it.
        """
        keys = set(state.keys())
        expected = {f"params/{i}" for i in range(len(self.params))}
        states = {
            f"layers/{j}/{name}": (layer, name)
            for j, layer in enumerate(self.layers)
            for name in getattr(layer, "state_names", ())
        }
        problems = [f"missing {k}" for k in sorted(expected - keys)]
        problems += [f"unknown {k}" for k in sorted(keys - expected - set(states))]
        for i, p in enumerate(self.params):
            key = f"params/{i}"
            if key in keys and np.shape(state[key]) != p.shape:
                problems.append(f"{key} has shape {np.shape(state[key])}, expected {p.shape}")
        problems += _state_problems(state, states)
        if problems:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: "
                + "; ".join(problems)
                + ". Was this state saved from a model of other sizes?"
            )
        values = [state[f"params/{i}"] for i in range(len(self.params))]
        ties = copy_into_params(self.params, values)  # from a file: host to the params' device
        if ties:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: "
                + ", ".join(f"params/{i} and params/{j}" for i, j in ties)
                + " are one array in this model (tied weights), but the state gives them "
                "different values; nothing was changed"
            )
        like = self.params[0] if self.params else None
        for key, (layer, name) in states.items():
            value = as_array_like(np.copy(state[key]), like) if key in keys else None
            setattr(layer, name, value)

    def rng_states(self) -> dict[str, Any]:
        """``{layer index: bit_generator.state}`` of every layer with a generator ``rng``."""
        return {
            str(j): layer.rng.bit_generator.state
            for j, layer in enumerate(self.layers)
            if getattr(layer, "rng", None) is not None
        }

    def set_rng_states(self, states: Mapping[str, Any]) -> None:
        """Restore what :meth:`rng_states` returned."""
        for j, value in states.items():
            self.layers[int(j)].rng.bit_generator.state = value


def _state_problems(state: Mapping[str, Any], states: dict[str, tuple[Any, str]]) -> list[str]:
    """What is wrong with the carried states ``state`` gives: each must be a float (N, H) for
    its layer's hidden size H, and a layer's states (h and c) must have one N."""
    problems = []
    first: dict[int, tuple[str, int]] = {}  # per layer, its first state's key and rows
    for key, (layer, _name) in states.items():
        if key not in state:
            continue
        value = state[key]
        H = getattr(layer, "hidden_size", None)
        shape = np.shape(value)
        dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
        width_ok = len(shape) == 2 and shape[0] > 0 and (H is None or shape[1] == H)
        if not width_ok or dtype.kind != "f":
            problems.append(
                f"{key} has shape {shape} and dtype {dtype}, expected a float (N, {H or 'H'})"
            )
            continue
        other, n = first.setdefault(id(layer), (key, shape[0]))
        if n != shape[0]:
            problems.append(f"{key} has {shape[0]} rows, {other} {n}: expected one N")
    return problems
