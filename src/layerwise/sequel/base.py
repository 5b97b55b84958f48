"""The sequel's layer protocol: parameters and gradients as two parallel lists.

"Deep Learning from Scratch 2" (the sequel) gives every layer two lists:

- ``params``: the trained arrays, ``[W]`` for ``MatMul``, ``[Wx, Wh, b]`` for ``TimeLSTM``;
- ``grads``: arrays of the same shapes, which ``backward`` overwrites in place
  (``grads[0][...] = dW``), never rebinds.

Because the arrays are shared by identity, a model gathers its layers' lists once
(``params += layer.params``), its optimizer updates them in place through ``update(params,
grads)``, ``clip_grads`` scales ``grads`` in place, and two layers may hold one array (weight
tying, ``TimeAffine(embed_W.T, b)``). Volume 1 keeps ``W``/``dW`` as attributes and rebinds
``dW`` every backward: the two protocols cannot be one class without one of them breaking,
hence the namespace :mod:`layerwise.sequel`.

:class:`SequelLayer` adds to the sequel's protocol what volume 1's edges read:
``param_names`` (so ``layer.Wx`` is ``layer.params[0]`` and ``layer.dWx`` is
``layer.grads[0]``), ``get_config()`` (``type(layer)(*layer.params, **layer.get_config())``
rebuilds it) and the error for ``backward`` before ``forward``. :data:`SEQUEL_LAYERS` registers
them by name, apart from volume 1's registry (the sequel reuses the names ``Affine``,
``Sigmoid``, ``SoftmaxWithLoss``, ``Dropout`` for classes of another protocol).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .._checks import as_float_array
from ..layers.base import BackwardBeforeForwardError, backward_before_forward

T = TypeVar("T", bound=type)

__all__ = ["SEQUEL_LAYERS", "SequelLayer", "register_sequel_layer"]

#: The sequel's layer classes by name, for the gradient-check harness and, later, model files.
SEQUEL_LAYERS: dict[str, type] = {}


def register_sequel_layer(cls: T) -> T:
    """Class decorator: enter ``cls`` in :data:`SEQUEL_LAYERS` under its class name."""
    name = cls.__name__
    if SEQUEL_LAYERS.get(name, cls) is not cls:
        raise ValueError(f"register_sequel_layer: another class is registered as {name!r}")
    SEQUEL_LAYERS[name] = cls
    return cls


class SequelLayer:
    """Base class: ``params``/``grads`` lists, named views of them, config and ``repr``.

    A subclass sets ``param_names`` and calls :meth:`_set_params` from its constructor. The
    arrays are kept by reference (a float array is not copied), so weights shared between
    layers stay shared.
    """

    param_names: tuple[str, ...] = ()
    takes_train_flg: bool = False
    params: list[np.ndarray]
    grads: list[np.ndarray]

    def _set_params(self, *arrays: npt.ArrayLike) -> None:
        owner = type(self).__name__
        self.params = [
            as_float_array(a, owner, name=n) for a, n in zip(arrays, self.param_names, strict=True)
        ]
        self.grads = [np.zeros_like(p) for p in self.params]

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: ``Wx`` is params[0], ``dWx`` grads[0].
        names = type(self).param_names
        store = self.__dict__
        if name in names and "params" in store:
            return store["params"][names.index(name)]
        if name[:1] == "d" and name[1:] in names and "grads" in store:
            return store["grads"][names.index(name[1:])]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments other than the parameters (JSON-serialisable)."""
        return {}

    def _not_ready(self) -> BackwardBeforeForwardError:
        return backward_before_forward(self)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{n}={p.shape}" for n, p in zip(self.param_names, self.params, strict=True)
        )
        config = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        dtype = f"dtype={self.params[0].dtype}" if self.params else ""
        return f"{type(self).__name__}({', '.join(s for s in (shapes, config, dtype) if s)})"


def check_ndim(x: np.ndarray, ndim: int, where: str, layout: str) -> None:
    """Raise a ValueError naming the layout unless ``x`` has ``ndim`` non-empty axes."""
    if x.ndim != ndim or x.size == 0:
        raise ValueError(f"{where}: expected a non-empty array of shape {layout}, got {x.shape}")


def check_ids(ids: Any, vocab_size: int, where: str) -> np.ndarray:
    """Word ids as an integer array with every id in [0, vocab_size)."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{where}: word ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{where}: word ids must lie in [0, {vocab_size}) for a vocabulary of {vocab_size}, "
            f"got values from {ids.min()} to {ids.max()}"
        )
    return ids
