"""Saving and loading networks: one ``.npz`` file, parameters plus a JSON architecture.

A model file is a container of :mod:`layerwise.container` (a plain NumPy ``.npz`` archive)
holding

- one array per parameter and buffer, named exactly as in ``network.state_dict()``: ``'W1'``,
  ``'b1'``, ``'gamma1'``, ``'running_mean1'``, ...
- ``'__architecture__'``: a 0-d unicode array holding the JSON text
  ``{"format": "layerwise-model", "version": 2, "layerwise": layerwise.__version__,
  "network": network.get_config()}`` (the version of layerwise that wrote it), and, when
  the caller gives them, how the network was trained: ``"training": {...}`` (the command line
  stores its run's settings there; :func:`read_training` reads them back).

Networks are rebuilt from the registries (:data:`layerwise.book_nets.NETWORKS` and
:data:`layerwise.layers.LAYERS`), never from a class named in the file by import.

Nothing in it is pickled, so any NumPy can read it with ``np.load(path, allow_pickle=False)``,
and loading one never runs code: a file that would need unpickling is refused. Every other
defect (not a zip, truncated, unknown class or layer, missing, extra or misshapen arrays, wrong
dtype) raises :class:`ModelFileError`, which names the file and the problem. Parameters may be
NaN or infinite: that is an odd but genuine training state, so it is kept, not refused.

Files are written atomically: to a temporary file beside the target, flushed to disk, then
renamed over it, so a crash mid-write leaves the previous file intact.

Examples
--------
>>> import tempfile, pathlib
>>> from layerwise import TwoLayerNet, load, save
>>> net = TwoLayerNet(4, 5, 3, seed=0)
>>> path = save(net, pathlib.Path(tempfile.mkdtemp()) / "net.npz")
>>> type(load(path)).__name__
'TwoLayerNet'
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._types import StrPath
from ._version import __version__
from .book_nets import (
    _DEEP_DEFAULTS,
    NETWORKS,
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    TwoLayerNet,
    _check_conv_param,
    _check_hidden,
    _check_input_dim,
    _conv_size,
    _pooled,
    check_dtype,
    check_size,
)
from .container import (
    ModelFileError,
    open_npz,
    read_json_entry,
    read_npz,
    write_npz_atomic,
)
from .layers import LAYERS, Affine, BatchNormalization, Convolution
from .network import Sequential, array_keys

__all__ = [
    "ARCHITECTURE_KEY",
    "FORMAT_VERSION",
    "ModelFileError",
    "load",
    "network_from_entries",
    "open_npz",
    "read_npz",
    "read_training",
    "save",
    "write_npz_atomic",
]

#: The entry holding the JSON description; parameter names never start with an underscore.
ARCHITECTURE_KEY = "__architecture__"
FORMAT_NAME = "layerwise-model"
FORMAT_VERSION = 2

#: A model file's JSON description is a few hundred bytes; far more is not a description.
_MAX_DESCRIPTION_BYTES = 1 << 20


def save(network: Sequential, path: StrPath, *, training: dict[str, Any] | None = None) -> Path:
    """Save a network's architecture, parameters and buffers to one ``.npz`` file, atomically.

    Parameters
    ----------
    network : Sequential or one of the book's networks (:data:`layerwise.book_nets.NETWORKS`)
    path : str or Path
        Written exactly as given: no ``.npz`` suffix is added (unlike ``np.savez``).
    training : dict, optional, keyword-only
        How the network was trained (dataset, optimizer, epochs, ...): any JSON-serialisable
        dict, stored beside the architecture and returned by :func:`read_training`.
        :func:`load` does not need it.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ModelFileError
        If the network holds something the format cannot describe (an unregistered layer or
        loss type, for instance): it is refused now rather than written as a file that
        :func:`load` would refuse.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from layerwise import TwoLayerNet
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save(TwoLayerNet(4, 5, 3, seed=0), folder / "net.npz", training={"epochs": 3}).name
    'net.npz'
    >>> read_training(folder / "net.npz")
    {'epochs': 3}
    """
    path = Path(path)

    def fail(problem):
        return ModelFileError(f"cannot save {type(network).__name__} to '{path}': {problem}")

    if isinstance(getattr(network, "params", None), list):  # the sequel's models
        raise TypeError(
            f"layerwise.save: {type(network).__name__} is one of the sequel's models (params a "
            "list); write its weights with model.save_params(path), a safe .npz that "
            "model.load_params(path) reads"
        )
    config = network.get_config()
    if NETWORKS.get(config.get("class", "")) is not type(network):
        raise fail(
            f"its class is not registered for model files (register it with "
            f"layerwise.book_nets.register_network); registered: {', '.join(NETWORKS)}"
        )
    for layer in [*network.layers.values(), network.last_layer]:
        if LAYERS.get(type(layer).__name__) is not type(layer):
            raise fail(
                f"its layer type {type(layer).__name__!r} is not registered (register it with "
                f"layerwise.layers.register_layer); registered: {', '.join(LAYERS)}"
            )
    description = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layerwise": __version__,
        "network": config,
    }
    if training is not None:
        if not isinstance(training, dict):
            raise fail(f"training must be a dict, got {type(training).__name__}")
        description["training"] = training
    try:
        text = json.dumps(description)
    except (TypeError, ValueError) as e:
        raise fail(f"its description is not JSON-serialisable ({e})") from e
    arrays = dict(network.state_dict())
    _check_arrays(_expected_arrays(config, fail), _shapes(arrays), fail)
    arrays[ARCHITECTURE_KEY] = np.array(text)
    return write_npz_atomic(path, arrays)


def load(path: StrPath) -> Sequential:
    """Load a network saved by :func:`save`: same class, architecture, parameters and buffers.

    The file is read with ``allow_pickle=False`` and in two steps: its description and every
    array's header are checked (names, shapes, dtypes) before any array is read or any network
    built, so a damaged or hostile file can neither run code nor make layerwise allocate more
    than the arrays it really holds.

    Parameters
    ----------
    path : str or Path
        A model file, or a run folder of ``layerwise train`` (its ``model.npz`` is read).

    Returns
    -------
    Sequential or one of the book's networks
        Its predictions equal the saved network's bit for bit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist, or is a folder without model.npz.
    ModelFileError
        If the file is not a valid layerwise model file; the message says what is wrong.
    """
    path = _in_run_folder(path)
    with open_npz(path, "model file") as f:
        config = _read_description(f).get("network")
        headers = {k: v for k, v in f.headers.items() if k != ARCHITECTURE_KEY}
        return network_from_entries(config, headers, f.read, f.error)


def read_training(path: StrPath) -> dict[str, Any] | None:
    """How the network in a model file was trained: the ``training`` dict given to :func:`save`.

    Only the file's description is read (its header checked first), not its arrays.

    Returns
    -------
    dict or None
        None for a file saved without one (by ``save(network, path)`` or an older layerwise).

    Raises
    ------
    FileNotFoundError, ModelFileError
        As :func:`load`.
    """
    path = _in_run_folder(path)
    with open_npz(path, "model file") as f:
        training = _read_description(f).get("training")
        if training is not None and not isinstance(training, dict):
            raise f.error(f"its description's 'training' entry is not an object: {training!r}")
    return training


def _in_run_folder(path):
    """``path``, or the model.npz of the run folder ``path`` (``layerwise train`` writes one)."""
    path = Path(path)
    if not path.is_dir():
        return path
    if not (path / "model.npz").is_file():
        raise FileNotFoundError(
            f"'{path}' is a folder without model.npz: a run folder holds one once its run "
            "finished (`layerwise runs` shows how it stands)"
        )
    return path / "model.npz"


def network_from_entries(
    config: Any,
    headers: dict[str, tuple[tuple[int, ...], np.dtype]],
    read: Callable[[str], np.ndarray],
    fail: Callable[[str], Exception],
) -> Sequential:
    """The network ``config`` describes, its arrays read with ``read`` once their headers fit.

    What :func:`load` does with a model file's entries, for other files that hold a network
    (checkpoints: :func:`layerwise.checkpoints.checkpoint_network`).

    Parameters
    ----------
    config : dict
        As ``network.get_config()`` returns it.
    headers : dict of str to (shape, dtype)
        Every stored parameter and buffer, keyed as ``state_dict()``.
    read : callable
        ``read(key)`` returns the array of ``key``; called only after every header is checked.
    fail : callable
        ``fail(problem)`` makes the exception to raise.

    Returns
    -------
    Sequential or one of the book's networks
    """
    if not isinstance(config, dict):
        raise fail("its description has no 'network' object")
    expected = _expected_arrays(config, fail)
    _check_arrays(expected, headers, fail)
    arrays = {name: read(name) for name in expected}
    network = _build(config, arrays, fail)
    network.load_state_dict(arrays)
    return network


def _read_description(f):
    return read_json_entry(
        f, ARCHITECTURE_KEY, FORMAT_NAME, (FORMAT_VERSION,), max_bytes=_MAX_DESCRIPTION_BYTES
    )


def _shapes(arrays):
    return {k: (tuple(a.shape), a.dtype) for k, a in arrays.items()}


def _check_arrays(expected, headers, fail):
    """Check the arrays' ``{name: (shape, dtype)}`` against what the description implies."""
    missing = [k for k in expected if k not in headers]
    extra = [k for k in headers if k not in expected]
    if missing or extra:
        raise fail(
            f"its arrays do not match its description: missing {missing}, unexpected {extra}"
        )
    for key, (shape, dtype) in expected.items():
        got_shape, got_dtype = headers[key]
        if got_shape != shape:
            raise fail(f"{key!r} has shape {got_shape}; the description needs {shape}")
        if got_dtype != dtype:
            raise fail(
                f"{key!r} has dtype {got_dtype}; the description says {dtype} "
                "(parameters are float32 or float64, as the network's dtype)"
            )


# ---------------------------------------------------------------------- the arrays described


def _expected_arrays(config, fail):
    """``{key: (shape, dtype)}`` of the arrays ``config`` describes, computed without building.

    A Sequential's description lists its layers' array shapes; a book network's shapes follow
    from its sizes (:data:`_BOOK_LAYERS`). Either way no array is allocated, so a description
    promising a layer of 10**11 units is refused by comparing shapes with the file's headers.
    A network class registered by a user is built to learn its shapes: its constructor
    allocates what the description asks for.
    """
    cls, args = _network_class(config, fail)
    name = config["class"]
    if name == "Sequential":
        layers, dtype = _sequential_layers(args, fail)
    elif cls in _BOOK_LAYERS:
        try:
            # Bound as the constructor binds them: defaults apply, unknown arguments are named.
            bound = inspect.signature(cls).bind(**args)
            bound.apply_defaults()
            layers = _BOOK_LAYERS[cls](bound.arguments, name)
            dtype = check_dtype(bound.arguments["dtype"], name)
        except (ValueError, TypeError) as e:  # wrong or missing arguments, bad sizes
            raise fail(f"its description of the {name} is invalid: {e}") from e
    else:
        network = _build(config, {}, fail)
        return _shapes(dict([*network.named_parameters(), *network.named_buffers()]))
    params, buffers = array_keys((i, cls) for i, (cls, _) in enumerate(layers))
    return {key: (layers[i][1][attr], np.dtype(dtype)) for key, i, attr in [*params, *buffers]}


def _sequential_layers(args, fail):
    """``[(layer class, {attribute: shape})]`` and the dtype of a Sequential's description."""
    expected = {"layers", "loss", "weight_decay_lambda", "dtype"}
    if not expected <= set(args) <= expected | {"input_shape"}:
        raise fail(
            f"its Sequential description has entries {sorted(args)}; expected {sorted(expected)}"
            " and perhaps 'input_shape'"
        )
    if "input_shape" in args:
        _shape(args["input_shape"], fail, "input_shape")
    if args["dtype"] not in ("float32", "float64"):
        raise fail(f"dtype must be 'float32' or 'float64', got {args['dtype']!r}")
    specs = args["layers"]
    if not isinstance(specs, list) or not specs:
        raise fail("its Sequential description needs a non-empty list of layers")
    layers = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or not {"type", "config", "arrays"} <= set(spec):
            raise fail(
                f"layer {i} must be an object with 'type', 'config' and 'arrays', got {spec!r}"
            )
        cls = _registered(spec["type"], fail, f"layer {i}")
        arrays, config = spec["arrays"], spec["config"]
        if not isinstance(arrays, dict) or not isinstance(config, dict):
            raise fail(f"layer {i} ({spec['type']}) cannot be described by {spec!r}")
        names = (*cls.param_names, *cls.buffer_names)
        if set(arrays) != set(names):
            raise fail(f"layer {i} ({spec['type']}) needs arrays {list(names)}, got {list(arrays)}")
        layers.append((cls, {a: _shape(arrays[a], fail, f"layer {i} {a}") for a in names}))
    _registered(args["loss"], fail, "loss")
    return layers, args["dtype"]


def _affine(fan_in, fan_out):
    return Affine, {"W": (fan_in, fan_out), "b": (fan_out,)}


def _convolution(channels, conv):
    fn, fs = conv["filter_num"], conv["filter_size"]
    return Convolution, {"W": (fn, channels, fs, fs), "b": (fn,)}


def _batchnorm(n):
    return BatchNormalization, dict.fromkeys(("gamma", "beta", "running_mean", "running_var"), (n,))


def _two_layer_net(a, owner):
    i, h, o = (check_size(a[k], owner, k) for k in ("input_size", "hidden_size", "output_size"))
    return [_affine(i, h), _affine(h, o)]


def _multi_layer_net(a, owner):
    hidden = _check_hidden(a["hidden_size_list"], owner)
    sizes = [check_size(a["input_size"], owner, "input_size"), *hidden]
    sizes.append(check_size(a["output_size"], owner, "output_size"))
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers.append(_affine(fan_in, fan_out))
        if a.get("use_batchnorm"):
            layers.append(_batchnorm(fan_out))
    return [*layers, _affine(sizes[-2], sizes[-1])]


def _simple_conv_net(a, owner):
    channels, *sides = _check_input_dim(a["input_dim"], owner)
    given = a["conv_param"]
    default = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
    conv = _check_conv_param(default if given is None else given, owner, "conv_param")
    fs, stride, pad = conv["filter_size"], conv["stride"], conv["pad"]
    sides = [_conv_size(side, fs, stride, pad, owner, "conv_param") for side in sides]
    what = f"the 2x2 pool after the {sides[0]}x{sides[1]} convolution output"
    pooled = conv["filter_num"] * math.prod(_pooled(side, owner, what) for side in sides)
    hidden = check_size(a["hidden_size"], owner, "hidden_size")
    output = check_size(a["output_size"], owner, "output_size")
    layers = [_convolution(channels, conv)]
    if a["use_batchnorm"]:
        layers.append(_batchnorm(conv["filter_num"]))
    return [*layers, _affine(pooled, hidden), _affine(hidden, output)]


def _deep_conv_net(a, owner):
    channels, h, w = _check_input_dim(a["input_dim"], owner)
    layers = []
    for i, default in enumerate(_DEEP_DEFAULTS, 1):
        given = a[f"conv_param_{i}"]
        conv = dict(default) if given is None else given
        conv = _check_conv_param(conv, owner, f"conv_param_{i}")
        fs, stride, pad = conv["filter_size"], conv["stride"], conv["pad"]
        h = _conv_size(h, fs, stride, pad, owner, f"conv_param_{i}")
        w = _conv_size(w, fs, stride, pad, owner, f"conv_param_{i}")
        layers.append(_convolution(channels, conv))
        if a["use_batchnorm"]:
            layers.append(_batchnorm(conv["filter_num"]))
        channels = conv["filter_num"]
        if i % 2 == 0:
            what = f"Pool{i // 2} (2x2, stride 2) on {h}x{w} images"
            h, w = _pooled(h, owner, what), _pooled(w, owner, what)
    hidden = check_size(a["hidden_size"], owner, "hidden_size")
    output = check_size(a["output_size"], owner, "output_size")
    return [*layers, _affine(channels * h * w, hidden), _affine(hidden, output)]


#: The layers with arrays that each book network's constructor arguments imply, in order, as
#: ``[(layer class, {attribute: shape})]``: what the constructor would allocate, computed from
#: its sizes alone.
_BOOK_LAYERS = {
    TwoLayerNet: _two_layer_net,
    MultiLayerNet: _multi_layer_net,
    MultiLayerNetExtend: _multi_layer_net,
    SimpleConvNet: _simple_conv_net,
    DeepConvNet: _deep_conv_net,
}


# ---------------------------------------------------------------------- building


def _network_class(config, fail):
    """The registered class ``config`` names, and its constructor arguments."""
    name = config.get("class")
    cls = NETWORKS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise fail(f"unknown network class {name!r}; known: {', '.join(NETWORKS)}")
    return cls, {k: v for k, v in config.items() if k != "class"}


def _build(config, arrays, fail):
    """The described network; a Sequential's layers take their ``arrays`` (keyed as saved).

    A book network draws weights of the checked shapes, which the caller overwrites with
    ``load_state_dict``.
    """
    cls, args = _network_class(config, fail)
    try:
        if config["class"] != "Sequential":
            return cls(**args, seed=0)
        return _build_sequential(args, arrays, fail)
    except ModelFileError:
        raise
    except (ValueError, TypeError) as e:  # wrong or missing arguments, bad sizes
        raise fail(f"its description of the {config['class']} is invalid: {e}") from e


def _build_sequential(args, arrays, fail):
    layers, _ = _sequential_layers(args, fail)
    params, buffers = array_keys((i, cls) for i, (cls, _) in enumerate(layers))
    given: list[dict[str, Any]] = [{} for _ in layers]
    for key, i, attr in [*params, *buffers]:
        given[i][attr] = arrays[key]
    built = [
        (spec.get("name"), cls(**own, **spec["config"]))
        for spec, (cls, _), own in zip(args["layers"], layers, given, strict=True)
    ]
    options = {
        "loss": LAYERS[args["loss"]](),
        "weight_decay_lambda": args["weight_decay_lambda"],
        "input_shape": args.get("input_shape"),
    }
    if all(isinstance(name, str) for name, _ in built):
        if len({name for name, _ in built}) != len(built):
            raise fail("its layers' names are not unique")
        return Sequential(dict(built), **options)
    return Sequential(*(layer for _, layer in built), **options)


def _registered(name, fail, what):
    # A name from JSON may be a list or an object, which cannot even be looked up in a dict.
    cls = LAYERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise fail(f"{what} has unknown type {name!r}; known: {', '.join(LAYERS)}")
    return cls


def _shape(value, fail, what):
    if not isinstance(value, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise fail(f"{what} must have a shape given as a list of sizes, got {value!r}")
    return tuple(value)
