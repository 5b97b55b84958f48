"""What a network is made of, declared before anything is allocated, and the registry of networks.

A network class declares its layers once, as a *plan*: a classmethod ``plan(**arguments)`` that
checks the constructor's arguments and returns a :class:`NetworkPlan`, a list of
:class:`LayerPlan` records (name, layer class, config, the shape of every array and how it
starts) with nothing allocated. Everything else reads the plan:

- the constructor allocates the layers from it (:meth:`NetworkPlan.build`);
- a model file or checkpoint is checked against it: the shapes a description implies are
  computed from the plan and compared with the file's headers before any array is read or
  allocated, so a description promising a layer of 10**11 units is refused for the cost of
  a few small records;
- the command line finds the network by its ``--model`` name (:class:`ModelEntry`).

The module also holds how a network reads what its layers declare (the protocol of
:mod:`layerwise.layers.base`): the book's keys of their arrays (:func:`array_keys`), the live
``params`` view (:class:`Parameters`), the ``train_flg`` a layer takes (:func:`layer_forward`)
and the shapes a sample takes through them (:func:`sample_shapes`).

:func:`register_network` enters a class in :data:`NETWORKS` (model files name it) and, when
given a :class:`ModelEntry`, in :data:`MODELS` (``layerwise train --model NAME``,
``layerwise gradcheck``). A user's network registered there reaches every edge without a file
of the package naming it (docs/own-layer.md, "Your own network").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ._checks import InvalidParameterError, as_float_array, check_number, check_seed, quiet
from .backend import as_array_like, get_array_module
from .layers import (
    LAYERS,
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Pooling,
    SoftmaxWithLoss,
)
from .layers.base import init_scale, initial_weights
from .util import conv_output_size

T = TypeVar("T", bound=type)

__all__ = [
    "MODELS",
    "NETWORKS",
    "LayerPlan",
    "ModelEntry",
    "NetworkPlan",
    "Parameters",
    "affine",
    "array_keys",
    "batchnorm",
    "check_conv_param",
    "check_dtype",
    "check_input_dim",
    "check_input_shape",
    "check_size",
    "conv_side",
    "convolution",
    "described_layers",
    "dropout",
    "layer_forward",
    "pooled_side",
    "pooling",
    "register_network",
    "registered_layer",
    "sample_shapes",
]

#: Network classes by class name: the classes model files and checkpoints are rebuilt from.
NETWORKS: dict[str, Any] = {}

#: What ``layerwise train --model NAME`` builds, by NAME, in the order registered (the book's
#: four are entered by :mod:`layerwise.cli.models`).
MODELS: dict[str, ModelEntry] = {}


@dataclass(frozen=True)
class LayerPlan:
    """One layer of a network, as a record: nothing is allocated until :meth:`NetworkPlan.build`.

    Attributes
    ----------
    name : str
        The layer's name in ``network.layers`` (``'Affine1'``).
    cls : type
        The layer class; it is built as ``cls(**arrays, **config)``.
    config : dict
        The constructor's arguments other than arrays (``layer.get_config()``).
    shapes : dict of str to tuple of int
        The shape of every parameter and buffer, by attribute name (``{'W': (784, 50), ...}``).
    dtype : numpy.dtype
        The dtype of those arrays.
    init : dict of str to (init, fan_in)
        The arrays drawn at random, as :func:`~layerwise.layers.base.initial_weights` draws
        them (and ``Affine.from_sizes``): ``W ~ N(0, std**2)``, ``std = init_scale(init,
        fan_in)``, where init is a number or a rule's name ('he', 'xavier', 'relu', ...).
    fill : dict of str to float
        The value every other array starts at (0 when not named): BatchNorm's ``gamma`` and
        ``running_var`` start at 1.
    seeded : bool
        The layer draws random numbers (Dropout): its constructor takes ``seed=``, drawn from
        the network's generator after every weight, so one seed gives the same weights with
        or without such layers.
    """

    name: str
    cls: type
    config: Mapping[str, Any] = field(default_factory=dict)
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dtype: np.dtype = np.dtype(np.float64)
    init: Mapping[str, tuple[Any, int]] = field(default_factory=dict)
    fill: Mapping[str, float] = field(default_factory=dict)
    seeded: bool = False


@dataclass(frozen=True)
class NetworkPlan:
    """A network's layers as :class:`LayerPlan` records, with what the network adds to them.

    Attributes
    ----------
    cls : type
        The network class (registered in :data:`NETWORKS` under its name).
    arguments : dict
        The checked constructor arguments, JSON-serialisable: with ``"class"`` they are the
        network's description, ``get_config()``, which model files keep.
    layers : list of LayerPlan
    loss : type, default SoftmaxWithLoss
    weight_decay_lambda : float, default 0
    input_shape : tuple of int or None
        The shape of one sample, when the plan knows it.
    """

    cls: type
    arguments: Mapping[str, Any]
    layers: Sequence[LayerPlan]
    loss: type = SoftmaxWithLoss
    weight_decay_lambda: float = 0.0
    input_shape: tuple[int, ...] | None = None

    def config(self) -> dict[str, Any]:
        """The network's description: ``{"class": name, **arguments}``."""
        return {"class": self.cls.__name__, **self.arguments}

    def arrays(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """``{key: (shape, dtype)}`` of every parameter and buffer, keyed as ``state_dict()``.

        Computed from the records alone: nothing is allocated.
        """
        plans = {p.name: p for p in self.layers}
        params, buffers = array_keys((p.name, p.cls) for p in self.layers)
        return {
            key: (tuple(plans[name].shapes[attr]), np.dtype(plans[name].dtype))
            for key, name, attr in [*params, *buffers]
        }

    def build(
        self, seed: Any = None, arrays: Mapping[str, Any] | None = None
    ) -> OrderedDict[str, Any]:
        """The layers, allocated: ``{name: layer}`` in order.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Draws the weights, in the order of the records, and then each seeded layer's seed.
        arrays : dict, optional
            Arrays keyed as ``state_dict()`` (a model file's): the layers take them instead
            of drawing or filling their own.
        """
        owner = self.cls.__name__
        rng = check_seed(seed, owner)
        if arrays is None:
            drawn = [
                {
                    attr: initial_weights(p.shapes[attr], fan_in, init, rng, p.dtype, owner)
                    for attr, (init, fan_in) in p.init.items()
                }
                for p in self.layers
            ]
            for own, p in zip(drawn, self.layers, strict=True):
                for attr, shape in p.shapes.items():
                    if attr not in own:
                        own[attr] = np.full(shape, p.fill.get(attr, 0.0), p.dtype)
        else:
            drawn = [{} for _ in self.layers]
            params, buffers = array_keys((i, p.cls) for i, p in enumerate(self.layers))
            for key, i, attr in [*params, *buffers]:
                drawn[i][attr] = arrays[key]
        layers: OrderedDict[str, Any] = OrderedDict()
        for own, p in zip(drawn, self.layers, strict=True):
            seeded = {"seed": int(rng.integers(2**63))} if p.seeded and arrays is None else {}
            layers[p.name] = p.cls(**own, **p.config, **seeded)
        return layers


def array_keys(
    layers: Iterable[tuple[Any, Any]],
) -> tuple[list[tuple[str, Any, str]], list[tuple[str, Any, str]]]:
    """The book's keys for the layers' parameters and buffers, numbered per name in order.

    An Affine, a BatchNormalization and an Affine give ``W1 b1 gamma1 beta1 W2 b2`` (and the
    buffers ``running_mean1 running_var1``), as the book's ``multi_layer_net_extend.py`` names
    them.

    Parameters
    ----------
    layers : iterable of (name, layer class or layer)

    Returns
    -------
    params, buffers : list of (key, layer name, attribute name)
    """
    counts: dict[str, int] = {}
    found: dict[str, list[tuple[str, Any, str]]] = {"param_names": [], "buffer_names": []}
    for name, layer in layers:
        for kind, keys in found.items():
            for attr in getattr(layer, kind, ()):
                counts[attr] = counts.get(attr, 0) + 1
                keys.append((f"{attr}{counts[attr]}", name, attr))
    return found["param_names"], found["buffer_names"]


class Parameters(MutableMapping):
    """The network's parameters (or buffers) as a dict-like live view of its layers' arrays.

    ``params['W1']`` is ``layers['Affine1'].W`` itself: updating it in place (as optimizers
    do) or assigning a new array to ``params['W1']`` both change what the layer computes
    with. Keys are fixed by the architecture; values must keep their shape and are converted
    to the network's dtype.
    """

    def __init__(self, slots: dict[str, tuple[Any, str]]) -> None:
        self._slots = slots  # key -> (layer, attribute name)

    def slots(self) -> dict[str, tuple[Any, str]]:
        """``{key: (layer, attribute name)}``: where each array lives (``W1``: Affine1's W)."""
        return dict(self._slots)

    def __getitem__(self, key):
        layer, attr = self._slots[key]
        return getattr(layer, attr)

    def __setitem__(self, key, value):
        if key not in self._slots:
            raise KeyError(
                f"params has no entry {key!r} (the architecture fixes the keys: "
                f"{', '.join(self._slots)})"
            )
        layer, attr = self._slots[key]
        current = getattr(layer, attr)
        if value is current:  # `params[k] -= g` assigns the same array back: nothing to do
            return
        value = as_array_like(as_float_array(value, f"params[{key!r}]", name="value"), current)
        if value.shape != current.shape:
            raise ValueError(
                f"params[{key!r}] must keep its shape {current.shape}, got {value.shape}"
            )
        with quiet():  # 1e300 into float32 becomes inf, as NumPy would
            setattr(layer, attr, value.astype(current.dtype, copy=False))

    def __contains__(self, key):
        return key in self._slots

    def __delitem__(self, key):
        raise TypeError("parameters cannot be deleted: the architecture fixes them")

    def __iter__(self):
        return iter(self._slots)

    def __len__(self):
        return len(self._slots)

    def __repr__(self):
        items = ", ".join(
            f"{k!r}: array(shape={self[k].shape}, dtype={self[k].dtype})" for k in self
        )
        return f"Parameters({{{items}}})"


def check_input_shape(input_shape: Any, owner: str) -> tuple[int, ...]:
    """``input_shape`` as a tuple of sizes >= 1: (784,) for flat rows, (1, 28, 28) for images."""
    try:
        shape = tuple(input_shape)
        ok = bool(shape) and all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in shape
        )
    except TypeError:
        ok = False
    if not ok:
        raise InvalidParameterError(
            f"{owner}: input_shape must be the shape of one sample, sizes >= 1 such as (784,) "
            f"or (1, 28, 28), got {input_shape!r}"
        )
    return tuple(int(n) for n in shape)


def layer_forward(layer: Any, x: Any, train_flg: bool) -> Any:
    """``layer.forward(x)``, passing the book's ``train_flg`` to a layer that declares
    ``takes_train_flg`` (Dropout, BatchNormalization; see :mod:`layerwise.layers.base`)."""
    if getattr(layer, "takes_train_flg", False):
        return layer.forward(x, train_flg=train_flg)
    return layer.forward(x)


def sample_shapes(
    layers: Iterable[Any], input_shape: Sequence[int], dtype: npt.DTypeLike
) -> list[tuple[int, ...]]:
    """The shape of one sample entering each layer, then the shape leaving the last.

    Found by running one zero sample of ``input_shape`` through the layers in inference mode,
    so the shapes are exactly the ones the layers check and compute; a layer that refuses the
    input raises its own ValueError, which names it and the shapes.

    Returns
    -------
    list of tuple of int
        ``len(layers) + 1`` shapes, without the batch axis.
    """
    layers = list(layers)
    x = _array_module_of(layers).zeros((1, *input_shape), dtype)
    shapes = [x.shape[1:]]
    for layer in layers:
        x = layer_forward(layer, x, train_flg=False)
        shapes.append(x.shape[1:])
    return shapes


def _array_module_of(layers: Sequence[Any]) -> Any:
    """NumPy or CuPy: the module of the layers' first parameter or buffer (NumPy if none)."""
    for layer in layers:
        for name in (*getattr(layer, "param_names", ()), *getattr(layer, "buffer_names", ())):
            return get_array_module(getattr(layer, name))
    return np


def described_layers(layers: Any, dtype: Any) -> list[LayerPlan]:
    """The records of a Sequential's description: ``[{"name", "type", "config", "arrays"}]``.

    Each layer's type must be registered (:data:`layerwise.layers.LAYERS`), its arrays those
    its class declares, each shape a list of sizes.

    Raises
    ------
    InvalidParameterError
        Naming the layer and what is wrong with its description.
    """
    if dtype not in ("float32", "float64"):
        raise InvalidParameterError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if not isinstance(layers, list) or not layers:
        raise InvalidParameterError("its Sequential description needs a non-empty list of layers")
    counts: dict[str, int] = {}
    plans = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or not {"type", "config", "arrays"} <= set(spec):
            raise InvalidParameterError(
                f"layer {i} must be an object with 'type', 'config' and 'arrays', got {spec!r}"
            )
        layer = registered_layer(spec["type"], f"layer {i}")
        arrays, config = spec["arrays"], spec["config"]
        if not isinstance(arrays, dict) or not isinstance(config, dict):
            raise InvalidParameterError(
                f"layer {i} ({spec['type']}) cannot be described by {spec!r}"
            )
        names = (*getattr(layer, "param_names", ()), *getattr(layer, "buffer_names", ()))
        if set(arrays) != set(names):
            raise InvalidParameterError(
                f"layer {i} ({spec['type']}) needs arrays {list(names)}, got {list(arrays)}"
            )
        shapes = {a: _shape(arrays[a], f"layer {i} {a}") for a in names}
        counts[layer.__name__] = counts.get(layer.__name__, 0) + 1
        name = spec.get("name", f"{layer.__name__}{counts[layer.__name__]}")
        plans.append(LayerPlan(name, layer, config, shapes, np.dtype(dtype)))
    if len({p.name for p in plans}) != len(plans):
        raise InvalidParameterError("its layers' names are not unique")
    return plans


def registered_layer(name: Any, what: str) -> type:
    """The layer class registered as ``name`` (:data:`layerwise.layers.LAYERS`)."""
    # A name from JSON may be a list or an object, which cannot even be looked up in a dict.
    cls = LAYERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidParameterError(f"{what} has unknown type {name!r}; known: {', '.join(LAYERS)}")
    return cls


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise InvalidParameterError(
            f"{what} must have a shape given as a list of sizes, got {value!r}"
        )
    return tuple(value)


# ---------------------------------------------------------------------- the book's layers


def check_size(value: Any, owner: str, name: str) -> int:
    """A layer size: a whole number >= 1."""
    return check_number(value, owner, name, low=1, integer=True)


def check_dtype(dtype: Any, owner: str) -> np.dtype:
    """float32 or float64, as a ``numpy.dtype``."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise InvalidParameterError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def affine(
    name: str, fan_in: int, fan_out: int, init: Any, dtype: np.dtype, owner: str
) -> LayerPlan:
    """An Affine of ``W`` (fan_in, fan_out) drawn as ``Affine.from_sizes(init=init)``, b 0."""
    init_scale(init, fan_in, owner)  # a bad rule or std is refused here, before any allocation
    return LayerPlan(
        name, Affine, {}, {"W": (fan_in, fan_out), "b": (fan_out,)}, dtype, {"W": (init, fan_in)}
    )


def convolution(
    name: str, channels: int, conv: Mapping[str, int], init: Any, dtype: np.dtype, owner: str
) -> LayerPlan:
    """A Convolution of ``conv`` (a checked conv_param) over ``channels``; b 0.

    The fan-in of one output value is ``channels * FH * FW``, as ``Convolution.from_sizes``.
    """
    fn, fs = conv["filter_num"], conv["filter_size"]
    fan_in = channels * fs * fs
    init_scale(init, fan_in, owner)
    config = {"stride": conv["stride"], "pad": conv["pad"]}
    shapes = {"W": (fn, channels, fs, fs), "b": (fn,)}
    return LayerPlan(name, Convolution, config, shapes, dtype, {"W": (init, fan_in)})


def batchnorm(name: str, n: int, dtype: np.dtype) -> LayerPlan:
    """BatchNormalization over n features or channels: gamma 1, beta 0, running mean 0, var 1."""
    shapes = dict.fromkeys(("gamma", "beta", "running_mean", "running_var"), (n,))
    fill = {"gamma": 1.0, "running_var": 1.0}
    return LayerPlan(name, BatchNormalization, {}, shapes, dtype, fill=fill)


def dropout(name: str, ratio: float) -> LayerPlan:
    """The book's Dropout of ``ratio``, seeded from the network's generator."""
    return LayerPlan(name, Dropout, {"dropout_ratio": ratio}, seeded=True)


def conv_side(size: int, filter_size: int, stride: int, pad: int, owner: str, what: str) -> int:
    """The output side of a convolution (floored); a clear error when the filter does not fit."""
    try:
        return conv_output_size(size, filter_size, stride, pad)
    except ValueError as err:
        raise InvalidParameterError(f"{owner}: {what}: {err}") from None


def check_conv_param(param: Any, owner: str, name: str) -> dict[str, int]:
    """The book's ``conv_param``: ``{'filter_num', 'filter_size', 'pad', 'stride'}``, checked."""
    if not isinstance(param, dict) or set(param) != {"filter_num", "filter_size", "pad", "stride"}:
        raise InvalidParameterError(
            f"{owner}: {name} must be a dict with 'filter_num', 'filter_size', 'pad' and "
            f"'stride', got {param!r}"
        )
    return {
        "filter_num": check_size(param["filter_num"], owner, f"{name}['filter_num']"),
        "filter_size": check_size(param["filter_size"], owner, f"{name}['filter_size']"),
        "pad": check_number(param["pad"], owner, f"{name}['pad']", low=0, integer=True),
        "stride": check_size(param["stride"], owner, f"{name}['stride']"),
    }


def check_input_dim(input_dim: Any, owner: str) -> tuple[int, ...]:
    """The book's ``input_dim``: (channels, height, width), sizes >= 1."""
    if (
        isinstance(input_dim, (str, bytes))
        or not hasattr(input_dim, "__len__")
        or len(input_dim) != 3
    ):
        raise InvalidParameterError(
            f"{owner}: input_dim must be (channels, height, width), got {input_dim!r}"
        )
    return tuple(check_size(n, owner, "input_dim entries") for n in input_dim)


def pooled_side(size: int, owner: str, what: str) -> int:
    """The side after a 2x2 pool with stride 2, as the book's networks use: an odd last row
    and column are left out, as the book's Pooling and PyTorch's MaxPool2d do."""
    return conv_side(size, 2, 2, 0, owner, what)


def pooling(name: str) -> LayerPlan:
    """The book's networks' Pooling: 2x2 windows, stride 2."""
    return LayerPlan(name, Pooling, {"pool_h": 2, "pool_w": 2, "stride": 2})


# ---------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ModelEntry:
    """What ``layerwise train --model NAME`` and ``layerwise gradcheck`` need of a network.

    Attributes
    ----------
    name : str
        The ``--model`` name (``'two-layer'``).
    summary : str
        One line for ``--help``: the class and where the book has it.
    build : callable
        ``build(options, input_size, classes)`` returns the network: ``options`` is the dict
        of ``train``'s options (``options["hidden"]``, ``["dtype"]``, ``["seed"]``, ...),
        ``input_size`` the number of pixels of one image (784), ``classes`` the number of
        labels. It raises :class:`~layerwise.InvalidParameterError` for options that do not
        fit; the command line shows it as a usage error.
    options : tuple of str
        The network's options of ``train`` it reads (``'hidden'``, ``'activation'``,
        ``'weight_decay'``, ``'weight_init_std'``, ``'batchnorm'``, ``'dropout'``): any other
        of them given on the command line is refused, naming the models that take it.
    defaults : dict
        The book's training settings for this network, used where the command line gives
        none: ``optimizer``, ``lr``, ``hidden`` (options of ``train``).
    examples : callable, optional
        ``examples(seed)`` returns ``{description: network}``, small networks for
        ``layerwise gradcheck`` to check.
    images : bool, default False
        The network takes images as (N, C, H, W): its first filters are drawn after training.
    """

    name: str
    summary: str
    build: Callable[[Mapping[str, Any], int, int], Any]
    options: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    examples: Callable[[int], Mapping[str, Any]] | None = None
    images: bool = False


def register_network(cls: T | None = None, /, *, model: ModelEntry | None = None) -> Any:
    """Make a network class known to model files (and, with ``model``, to the command line).

    Use as ``@register_network`` or ``@register_network(model=ModelEntry(...))``. The class's
    ``plan(**arguments)`` returns its :class:`NetworkPlan`, and ``cls(**arguments, seed=s)``
    builds it (see :class:`~layerwise.network.PlannedNetwork`).

    Raises
    ------
    ValueError
        If another class is registered under the same class name or model name.
    """
    if cls is None:
        return lambda c: register_network(c, model=model)
    name = cls.__name__
    if NETWORKS.get(name, cls) is not cls:
        raise ValueError(f"register_network: another network class is registered as {name!r}")
    if model is not None and MODELS.get(model.name, model) is not model:
        raise ValueError(f"register_network: another network is registered as --model {model.name}")
    NETWORKS[name] = cls
    if model is not None:
        MODELS[model.name] = model
    return cls
