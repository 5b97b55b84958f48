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

On a GPU (CuPy), the layers compute with their parameters' array module. :class:`OnDevice`
gives layers and models ``to(device)``: since the arrays are shared by identity, a move must
replace every occurrence of an array with the same moved array, which :func:`move_arrays` does.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_float_array
from ..backend import Device, array_module, device_of, is_cupy_array, parse_device, to_device
from ..layers.base import BackwardBeforeForwardError, backward_before_forward

T = TypeVar("T", bound=type)

__all__ = [
    "SEQUEL_LAYERS",
    "OnDevice",
    "SequelLayer",
    "is_transposed_view",
    "move_arrays",
    "register_sequel_layer",
]

#: The sequel's layer classes by name, for the gradient-check harness and, later, model files.
SEQUEL_LAYERS: dict[str, type] = {}


def register_sequel_layer(cls: T) -> T:
    """Class decorator: enter ``cls`` in :data:`SEQUEL_LAYERS` under its class name."""
    name = cls.__name__
    if SEQUEL_LAYERS.get(name, cls) is not cls:
        raise ValueError(f"register_sequel_layer: another class is registered as {name!r}")
    SEQUEL_LAYERS[name] = cls
    return cls


def _address(a: Any) -> int:
    """Where ``a``'s first element lives: its device pointer, or its host address."""
    return int(a.data.ptr) if is_cupy_array(a) else int(a.ctypes.data)


def is_transposed_view(a: Any, b: Any) -> bool:
    """True when ``b`` is ``a.T``: a 2-D array's memory, from the same first element, read
    transposed (weight tying: BetterRnnlm's affine ``W`` is its embedding's ``W.T``)."""
    return (
        a.ndim == 2
        and b.shape == a.shape[::-1]
        and b.strides == a.strides[::-1]
        and _address(a) == _address(b)
    )


def move_arrays(obj: Any, device: str | Device) -> None:
    """Move every array ``obj`` holds to ``device``, in place, keeping shared arrays shared.

    The sequel's layers and models share arrays by identity (a model's ``params`` are its
    layers', a tied weight is one array in two layers, or its transpose), so a move replaces
    each attribute and each list entry with the moved array and gives every occurrence of one
    array the same moved array, and a transposed view of a moved array the moved array's
    ``.T``. Layers, models and lists are walked through; an object whose class sets
    ``stays_on_host`` (the word2vec sampler, which draws on the host) is left where it is.

    Raises
    ------
    DeviceUnavailableError
        For ``'cuda'`` without CuPy or a GPU, before anything moves.
    """
    device = parse_device(device)
    array_module(device)  # CuPy and a GPU are checked before the first array moves
    moved: dict[tuple[Any, ...], Any] = {}
    originals: list[Any] = []  # alive until the walk ends, so no address is reused
    walked: set[int] = set()

    def array(a: Any) -> Any:
        if device_of(a) == device:
            return a
        key = (_address(a), a.shape, a.strides, a.dtype.str)
        if key not in moved:
            originals.append(a)
            base = a.base
            if (type(base) is np.ndarray or is_cupy_array(base)) and is_transposed_view(base, a):
                moved[key] = array(base).T
            else:
                moved[key] = to_device(a, device)
        return moved[key]

    def visit(value: Any) -> Any:
        if type(value) is np.ndarray or is_cupy_array(value):
            return array(value)
        if isinstance(value, list):
            value[:] = [visit(v) for v in value]  # in place: other objects hold this list
        elif isinstance(value, tuple):
            return tuple(visit(v) for v in value)
        elif isinstance(value, dict):
            for k, v in value.items():
                value[k] = visit(v)
        elif _holds_arrays(value) and id(value) not in walked:
            walked.add(id(value))
            for k, v in vars(value).items():
                vars(value)[k] = visit(v)
        return value

    walked.add(id(obj))
    for k, v in vars(obj).items():
        vars(obj)[k] = visit(v)


def _holds_arrays(value: Any) -> bool:
    """A layer or model to walk into: layerwise's, or anything with ``params``."""
    if isinstance(value, type) or not hasattr(value, "__dict__"):
        return False
    if getattr(value, "stays_on_host", False):
        return False
    return type(value).__module__.startswith("layerwise.") or hasattr(value, "params")


class OnDevice:
    """``to(device)``, ``to_gpu()``, ``to_cpu()`` and ``device`` for a layer or a model.

    ``to`` moves every array the object holds (:func:`move_arrays`) and returns it, as
    PyTorch's ``Module.to`` and volume 1's ``Sequential.to`` do.
    """

    params: list[Any]

    def to(self, device: str | Device) -> Any:
        """Move the parameters, gradients and carried states to ``device``; return ``self``.

        ``device``: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        """
        move_arrays(self, device)
        return self

    def to_gpu(self) -> Any:
        """``to('cuda')``: DeZero's name."""
        return self.to("cuda")

    def to_cpu(self) -> Any:
        """``to('cpu')``: DeZero's name."""
        return self.to("cpu")

    @property
    def device(self) -> str:
        """Where the parameters live: ``'cpu'`` or ``'cuda:N'``."""
        return str(device_of(self.params[0])) if self.params else "cpu"


class SequelLayer(OnDevice):
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


def check_ids(ids: Any, vocab_size: int | None, where: str) -> np.ndarray:
    """Word ids as an array of ``np.intp`` with every id in [0, vocab_size), or >= 0 where
    ``vocab_size`` is None (a corpus that defines the vocabulary).

    Any integer dtype is taken; the ids come back as ``intp`` (free for int64 ids on a 64-bit
    machine), so that arithmetic on them stays integer: NumPy promotes uint64 mixed with int64
    to float64, which then cannot index.
    """
    ids = as_array(ids, where, name="ids")  # on its device
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{where}: word ids must be integers, got dtype {ids.dtype}")
    if not ids.size:
        return ids.astype(np.intp, copy=False)
    low, high = ids.min(), ids.max()
    if vocab_size is None:
        if low < 0:
            raise ValueError(f"{where}: word ids must be >= 0, got {low}")
        if high > np.iinfo(np.intp).max:  # uint64 ids that would wrap round in intp
            raise ValueError(f"{where}: word ids must be <= {np.iinfo(np.intp).max}, got {high}")
    elif low < 0 or high >= vocab_size:
        raise ValueError(
            f"{where}: word ids must lie in [0, {vocab_size}) for a vocabulary of {vocab_size}, "
            f"got values from {low} to {high}"
        )
    return ids.astype(np.intp, copy=False)
