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

Networks are rebuilt from the registries (:data:`layerwise.plans.NETWORKS` and
:data:`layerwise.layers.LAYERS`), never from a class named in the file by import. Every
registered network class declares its layers as a plan (:mod:`layerwise.plans`): the shapes a
description implies are computed from the plan, with nothing allocated, and compared with the
file's headers before any array is read. A loaded network comes back in inference mode
(``network.training`` is False), ready to predict.

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

import json
from pathlib import Path
from typing import Any

import numpy as np

from ._types import StrPath
from ._version import __version__
from .container import (
    ModelFileError,
    NpzFile,
    open_npz,
    read_json_entry,
    read_npz,
    write_npz_atomic,
)
from .layers import LAYERS
from .network import Sequential
from .plans import NETWORKS, NetworkPlan

__all__ = [
    "ARCHITECTURE_KEY",
    "FORMAT_VERSION",
    "ModelFileError",
    "check_arrays",
    "load",
    "network_from_arrays",
    "network_from_entries",
    "network_plan",
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
    network : Sequential or one of the book's networks (:data:`layerwise.plans.NETWORKS`)
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
    if not isinstance(network, Sequential):  # None, a dict, a network written as the book's
        raise TypeError(
            "layerwise.save: network must be a layerwise network (Sequential or one of "
            f"layerwise.book_nets), got {type(network).__name__}"
        )
    config = network.get_config()
    if NETWORKS.get(config.get("class", "")) is not type(network):
        raise fail(
            f"its class is not registered for model files (register it with "
            f"layerwise.plans.register_network); registered: {', '.join(NETWORKS)}"
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
    try:  # the description must give back these arrays, or load would refuse the file
        check_arrays(network_plan(config), _shapes(arrays))
    except ModelFileError as e:
        raise fail(str(e)) from e
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
        In inference mode (``training`` False); its predictions equal the saved network's
        bit for bit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist, or is a folder without model.npz.
    ModelFileError
        If the file is not a valid layerwise model file; the message says what is wrong.
    """
    path = _in_run_folder(path)
    with open_npz(path, "model file") as f:
        return network_from_entries(f, _read_description(f).get("network"))


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


def network_from_entries(f: NpzFile, config: Any, prefix: str = "") -> Sequential:
    """The network ``config`` describes, its arrays read from the open file ``f``.

    Three steps in sequence: the plan of the description (:func:`network_plan`), the headers
    of the entries ``prefix + key`` checked against it (:func:`check_arrays`), and only then
    the arrays read and the network built. What :func:`load` does with a model file, for
    other files that hold a network (checkpoints hold it under ``prefix="network/"``).

    Parameters
    ----------
    f : NpzFile
        The open file (:func:`open_npz`); its entries not starting with ``prefix`` (and a
        model file's description) are not the network's.
    config : dict
        The description, as ``network.get_config()`` returns it.
    prefix : str, default ""

    Returns
    -------
    Sequential or one of the book's networks
        In inference mode.

    Raises
    ------
    ModelFileError
        Naming the file: an invalid description, or arrays that do not fit it.
    """
    headers = {
        key[len(prefix) :]: header
        for key, header in f.headers.items()
        if key.startswith(prefix) and key != ARCHITECTURE_KEY
    }
    try:
        plan = network_plan(config)
        check_arrays(plan, headers)
    except ModelFileError as e:
        raise f.error(str(e)) from e
    arrays = {key: f.read(prefix + key) for key in headers}
    try:
        return _build(plan, arrays)
    except ModelFileError as e:
        raise f.error(str(e)) from e


def network_from_arrays(config: Any, arrays: dict[str, np.ndarray]) -> Sequential:
    """The network ``config`` describes, holding ``arrays`` (keyed as ``state_dict()``).

    As :func:`network_from_entries`, for arrays in memory (``layerwise gradcheck`` builds a
    float64 copy of a model this way).

    Raises
    ------
    ModelFileError
        For an invalid description, or arrays that do not fit it.
    """
    plan = network_plan(config)
    check_arrays(plan, _shapes(arrays))
    return _build(plan, arrays)


def network_plan(config: Any) -> NetworkPlan:
    """The plan of a network's description: its registered class's ``plan(**arguments)``.

    Nothing is allocated, so a description promising layers of 10**11 units costs a few
    records; it is refused once :func:`check_arrays` compares it with the arrays at hand.

    Raises
    ------
    ModelFileError
        For an unknown class or arguments its plan refuses (the message says which).
    """
    if not isinstance(config, dict):
        raise ModelFileError("its description has no 'network' object")
    name = config.get("class")
    cls = NETWORKS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(f"unknown network class {name!r}; known: {', '.join(NETWORKS)}")
    arguments = {k: v for k, v in config.items() if k != "class"}
    try:
        return cls.plan(**arguments)
    except (ValueError, TypeError) as e:  # wrong or missing arguments, bad sizes
        raise ModelFileError(f"its description of the {name} is invalid: {e}") from e


def check_arrays(plan: NetworkPlan, headers: dict[str, tuple[Any, np.dtype]]) -> None:
    """Check arrays' ``{key: (shape, dtype)}`` against what ``plan`` holds.

    Raises
    ------
    ModelFileError
        Naming the missing, unexpected or misshapen arrays.
    """
    expected = plan.arrays()
    missing = [k for k in expected if k not in headers]
    extra = [k for k in headers if k not in expected]
    if missing or extra:
        raise ModelFileError(
            f"its arrays do not match its description: missing {missing}, unexpected {extra}"
        )
    for key, (shape, dtype) in expected.items():
        got_shape, got_dtype = headers[key]
        if tuple(got_shape) != shape:
            raise ModelFileError(
                f"{key!r} has shape {tuple(got_shape)}; the description needs {shape}"
            )
        if got_dtype != dtype:
            raise ModelFileError(
                f"{key!r} has dtype {got_dtype}; the description says {dtype} "
                "(parameters are float32 or float64, as the network's dtype)"
            )


def _build(plan, arrays):
    """The network of a checked ``plan``, holding ``arrays``; in inference mode."""
    try:
        network = plan.cls.from_plan(plan, arrays)
    except (ValueError, TypeError) as e:  # sizes at odds with each other, bad layer configs
        raise ModelFileError(f"its description of the {plan.cls.__name__} is invalid: {e}") from e
    return network.eval()


def _read_description(f):
    return read_json_entry(
        f, ARCHITECTURE_KEY, FORMAT_NAME, (FORMAT_VERSION,), max_bytes=_MAX_DESCRIPTION_BYTES
    )


def _shapes(arrays):
    return {k: (tuple(a.shape), a.dtype) for k, a in arrays.items()}
