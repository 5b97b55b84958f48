"""Saving and loading networks: one ``.npz`` file, parameters plus a JSON architecture.

A model file is a plain NumPy ``.npz`` archive (a zip of ``.npy`` files) holding

- one array per parameter and buffer, named exactly as in ``network.state_dict()``: ``'W1'``,
  ``'b1'``, ``'gamma1'``, ``'running_mean1'``, ...
- ``'__architecture__'``: a 0-d unicode array holding the JSON text
  ``{"format": "layerwise-model", "version": 2, "layerwise": layerwise.__version__,
  "network": network.get_config()}`` (the version of layerwise that wrote it), and, when
  the caller gives them, how the network was trained: ``"training": {...}`` (the command line
  stores its run's settings there; :func:`read_training` reads them back).

Networks are rebuilt from the registries (:data:`layerwise.nets.NETWORKS` and
:data:`layerwise.layers.LAYERS`), never from a class named in the file by import. Version 1
files (layerwise 0.1, before buffers) are still read.

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
>>> from layerwise.network import TwoLayerNet
>>> net = TwoLayerNet(4, 5, 3, seed=0)
>>> path = save(net, pathlib.Path(tempfile.mkdtemp()) / "net.npz")
>>> type(load(path)).__name__
'TwoLayerNet'
"""

import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from ._types import StrPath
from ._version import __version__
from .layers import LAYERS
from .nets import NETWORKS, full, shapes_only
from .network import Sequential

__all__ = [
    "ARCHITECTURE_KEY",
    "FORMAT_VERSION",
    "ModelFileError",
    "load",
    "open_npz",
    "read_npz",
    "read_training",
    "save",
    "write_atomic",
    "write_npz_atomic",
]

#: The entry holding the JSON description; parameter names never start with an underscore.
ARCHITECTURE_KEY = "__architecture__"
FORMAT_NAME = "layerwise-model"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)

#: A model file's JSON description is a few hundred bytes; far more is not a description.
_MAX_DESCRIPTION_BYTES = 1 << 20
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive


class ModelFileError(ValueError):
    """A model or checkpoint file is damaged, unsafe, or not what it claims to be."""


# ---------------------------------------------------------------------- npz files


def write_npz_atomic(path: StrPath, arrays: Mapping[str, npt.ArrayLike]) -> Path:
    """Write ``arrays`` to ``path`` as an ``.npz`` archive, atomically.

    The archive goes to a temporary file in the same directory, is flushed and fsync'ed, and is
    then renamed over ``path`` (``os.replace`` is atomic), and the directory is fsync'ed where
    the system allows. A failure at any point leaves a previous ``path`` untouched and removes
    the temporary file. Nothing is pickled.

    Parameters
    ----------
    path : str or Path
        Written exactly as given: no ``.npz`` suffix is added.
    arrays : dict of str to array_like
        Numeric, boolean or unicode arrays of any shape, including 0-d.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If an array has dtype object (it would need pickling).
    """
    return write_atomic(path, lambda f: _write_npz(f, arrays))


def write_atomic(path: StrPath, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file atomically: ``write(f)`` fills a temporary file, which then replaces ``path``.

    The temporary file lies in the same directory; it is flushed and fsync'ed, given the
    permissions of the file it replaces, and renamed over ``path`` (``os.replace`` is atomic),
    and the directory is fsync'ed where the system allows. A failure at any point leaves a
    previous ``path`` untouched and removes the temporary file.

    Parameters
    ----------
    path : str or Path
    write : callable
        ``write(f)`` with ``f`` a binary file open for writing.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # overwriting keeps the file's permissions
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(path.parent)
    return path


def _write_npz(f, arrays):
    # What np.savez does, minus pickling, and with no clash between the array names and the
    # keyword arguments of np.savez (an array named 'file' cannot be passed to it).
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"write_npz_atomic: array names must be non-empty str, got {name!r}"
                )
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _fsync_directory(directory):
    # Makes the rename itself durable on POSIX; Windows cannot open a directory, which is fine.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class NpzFile:
    """An ``.npz`` archive opened for reading: every header checked, no array read yet.

    Reading is two plain steps: look at :attr:`headers` (each entry's shape and dtype, from
    its ``.npy`` header alone) and refuse what does not belong, then :meth:`read` the arrays.
    So an entry larger than the caller expects is refused before its memory is allocated.
    Nothing is ever unpickled.

    Use :func:`open_npz`, as a context manager.

    Attributes
    ----------
    headers : dict of str to (tuple, numpy.dtype)
        Entry name to ``(shape, dtype)``, in the archive's order.
    """

    def __init__(self, path, what):
        self.path, self.what = Path(path), what
        self._file = open(self.path, "rb")
        try:
            if self._file.read(4) not in _ZIP_SIGNATURES:
                raise _error(
                    self.path, what, "it is not an .npz archive (no zip signature at its start)"
                )
            self._file.seek(0)
            with _damage_reported(self.path, what):
                self._npz = np.load(self._file, allow_pickle=False)
            with _damage_reported(self.path, what):
                self.headers = {
                    name: _read_header(self._npz, name, self.path, what) for name in self._npz.files
                }
        except BaseException:
            self.close()
            raise

    def read(self, name):
        """The array of entry ``name`` (its header was checked when the file was opened)."""
        with _damage_reported(self.path, self.what):
            return self._npz[name]

    def close(self):
        npz = getattr(self, "_npz", None)
        if npz is not None:
            npz.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_npz(path: StrPath, what: str = "checkpoint") -> NpzFile:
    """Open an ``.npz`` file and check every entry's header; see :class:`NpzFile`.

    Parameters
    ----------
    path : str or Path
    what : str, default "checkpoint"
        What the file is, for error messages ("cannot load checkpoint 'run/ckpt.npz': ...").

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not an ``.npz`` archive, is truncated or damaged, holds something other
        than ``.npy`` arrays, or holds object arrays (which would be unpickled: refused for
        safety, since unpickling can run arbitrary code).
    """
    return NpzFile(path, what)


def read_npz(path: StrPath, what: str = "checkpoint") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read with :func:`open_npz` (so never unpickled).

    Returns
    -------
    dict of str to ndarray
        In the archive's order. The file is closed on return.
    """
    with open_npz(path, what) as f:
        return {name: f.read(name) for name in f.headers}


@contextmanager
def _damage_reported(path, what):
    """Turn what NumPy and zipfile raise on a damaged file into a ModelFileError that says so."""
    try:
        yield
    except ModelFileError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise _pickle_error(path, what, "") from e
        raise _error(path, what, f"it is damaged ({e})") from e
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise _error(path, what, f"it is truncated or damaged ({type(e).__name__}: {e})") from e


def _read_header(npz, name, path, what):
    """``(shape, dtype)`` of entry ``name``, from its ``.npy`` header alone."""
    member = name + ".npy"
    if member not in npz.zip.namelist():
        raise _error(path, what, f"entry {name!r} is not a NumPy .npy array")
    # Refuse object arrays before NumPy sees them, and a header whose shape needs more bytes
    # than the entry holds before anything is allocated.
    info = npz.zip.getinfo(member)
    with npz.zip.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise _error(path, what, f"entry {name!r} has unsupported .npy version {version}")
        data_size = info.file_size - fp.tell()
    if dtype.hasobject:
        raise _pickle_error(path, what, f" (entry {name!r})")
    needed = math.prod(shape) * dtype.itemsize
    if needed != data_size:
        raise _error(
            path,
            what,
            f"entry {name!r} is damaged: its header declares shape {shape} of {dtype} "
            f"({needed} bytes) but it holds {data_size} bytes of data",
        )
    return shape, dtype


def _error(path, what, problem):
    return ModelFileError(f"cannot load {what} '{path}': {problem}")


def _pickle_error(path, what, where):
    return _error(
        path,
        what,
        f"it contains pickled Python objects{where}, and is refused for safety: unpickling "
        "can run arbitrary code. layerwise files hold only plain numeric arrays; only "
        "unpickle a file you made yourself, with np.load(path, allow_pickle=True).",
    )


# ---------------------------------------------------------------------- networks


def save(network: Sequential, path: StrPath, *, training: dict[str, Any] | None = None) -> Path:
    """Save a network's architecture, parameters and buffers to one ``.npz`` file, atomically.

    Parameters
    ----------
    network : Sequential or one of the book's networks (:data:`layerwise.nets.NETWORKS`)
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
    """
    path = Path(path)

    def fail(problem):
        return ModelFileError(f"cannot save {type(network).__name__} to '{path}': {problem}")

    config = network.get_config()
    if NETWORKS.get(config.get("class", "")) is not type(network):
        raise fail(
            f"its class is not registered for model files (register it with "
            f"layerwise.nets.register_network); registered: {', '.join(NETWORKS)}"
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
    array's header are checked (names, shapes, dtypes) before any array is read, so a damaged
    or hostile file can neither run code nor make layerwise allocate more than the arrays it
    really holds.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Sequential or one of the book's networks
        Its predictions equal the saved network's bit for bit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a valid layerwise model file; the message says what is wrong.
    """
    path = Path(path)

    def fail(problem):
        return _error(path, "model file", problem)

    with open_npz(path, "model file") as f:
        config = _read_description(f, fail)
        expected = _expected_arrays(config, fail)
        _check_arrays(expected, {k: v for k, v in f.headers.items() if k != ARCHITECTURE_KEY}, fail)
        arrays = {name: f.read(name) for name in expected}
    network = _build(config, fail)
    network.load_state_dict(arrays)
    return network


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
    path = Path(path)

    def fail(problem):
        return _error(path, "model file", problem)

    with open_npz(path, "model file") as f:
        training = _read_description_json(f, fail).get("training")
    if training is not None and not isinstance(training, dict):
        raise fail(f"its description's 'training' entry is not an object: {training!r}")
    return training


def _shapes(arrays):
    return {k: (tuple(a.shape), a.dtype) for k, a in arrays.items()}


def _read_description(f, fail):
    """The ``'network'`` object of the file's JSON description (header checked first)."""
    description = _read_description_json(f, fail)
    config = description.get("network")
    if not isinstance(config, dict):
        raise fail("its description has no 'network' object")
    if description["version"] == 1 and config.get("class") == "Sequential":
        config = _sequential_from_version_1(config)
    return config


def _read_description_json(f, fail):
    """The file's JSON description as a dict, its header, format and version checked."""
    header = f.headers.get(ARCHITECTURE_KEY)
    if header is None:
        raise fail(
            f"it has no {ARCHITECTURE_KEY!r} entry, so it does not describe a network "
            "(was it written by layerwise.save?)"
        )
    shape, dtype = header
    if dtype.kind != "U" or shape != () or dtype.itemsize > _MAX_DESCRIPTION_BYTES:
        raise fail(
            f"{ARCHITECTURE_KEY!r} must be a 0-d unicode array of at most "
            f"{_MAX_DESCRIPTION_BYTES} bytes, got {dtype} {shape}"
        )
    try:
        description = json.loads(f.read(ARCHITECTURE_KEY).item())
    except (json.JSONDecodeError, RecursionError) as e:
        raise fail(f"its description is not valid JSON ({e})") from e
    if not isinstance(description, dict) or description.get("format") != FORMAT_NAME:
        raise fail(f"its description is not a {FORMAT_NAME!r} description")
    version = description.get("version")
    if isinstance(version, bool) or version not in _READABLE_VERSIONS:
        writer = description.get("layerwise")
        raise fail(unreadable_version("format", version, _READABLE_VERSIONS, writer))
    return description


def unreadable_version(
    what: str, version: object, readable: tuple[int, ...], writer: object
) -> str:
    """Why a file of ``what`` version ``version`` cannot be read, and what helps.

    ``readable`` are the versions this layerwise reads; ``writer`` is the layerwise version
    recorded in the file (None in files written before layerwise recorded it). A format newer
    than this layerwise knows is the common case, and upgrading is the cure.
    """
    plural = "s" if len(readable) > 1 else ""
    problem = (
        f"it has {what} version {version!r}; layerwise {__version__} reads version{plural} "
        f"{', '.join(map(str, readable))}"
    )
    if isinstance(writer, str) and len(writer) <= 40:  # a version, not whatever a file holds
        problem += f"; it was written by layerwise {writer}"
    if isinstance(version, int) and not isinstance(version, bool) and version > max(readable):
        problem += " (upgrade layerwise to read it: pip install --upgrade layerwise)"
    return problem


def _sequential_from_version_1(config):
    """A version-1 Sequential description (Affine sizes inline) in today's layer form."""
    layers = []
    for spec in config.get("layers") if isinstance(config.get("layers"), list) else []:
        if isinstance(spec, dict) and spec.get("type") == "Affine":
            fan_in, fan_out = spec.get("in_features"), spec.get("out_features")
            spec = {
                "type": "Affine",
                "config": {},
                "arrays": {"W": [fan_in, fan_out], "b": [fan_out]},
            }
        elif isinstance(spec, dict) and set(spec) == {"type"}:
            spec = {"type": spec["type"], "config": {}, "arrays": {}}
        layers.append(spec)
    return {**config, "layers": layers}


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


def _expected_arrays(config, fail):
    """``{key: (shape, dtype)}`` of the arrays ``config`` describes, without allocating them.

    The network is built from its description with zero-stride placeholder arrays
    (:func:`layerwise.nets.shapes_only`), which checks every entry of the description on the
    way and costs no memory however large the layers it describes.
    """
    with shapes_only():
        skeleton = _build(config, fail)
    return _shapes(dict([*skeleton.named_parameters(), *skeleton.named_buffers()]))


def _build(config, fail):
    """A network of the described architecture (parameters to be filled by the caller)."""
    name = config.get("class")
    cls = NETWORKS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise fail(f"unknown network class {name!r}; known: {', '.join(NETWORKS)}")
    args = {k: v for k, v in config.items() if k != "class"}
    try:
        if name != "Sequential":
            # The constructor draws weights of the checked shapes; load_state_dict overwrites them.
            return cls(**args, seed=0)
        return _build_sequential(args, fail)
    except (ValueError, TypeError) as e:  # wrong or missing arguments, bad sizes
        raise fail(f"its description of the {name} is invalid: {e}") from e


def _build_sequential(args, fail):
    expected = {"layers", "loss", "weight_decay_lambda", "dtype"}
    if set(args) != expected:
        raise fail(
            f"its Sequential description has entries {sorted(args)}; expected {sorted(expected)}"
        )
    if args["dtype"] not in ("float32", "float64"):
        raise fail(f"dtype must be 'float32' or 'float64', got {args['dtype']!r}")
    dtype = np.dtype(args["dtype"])
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
        placeholders = {a: full(_shape(arrays[a], fail, f"layer {i} {a}"), 0, dtype) for a in names}
        layers.append((spec.get("name"), cls(**placeholders, **config)))
    loss = _registered(args["loss"], fail, "loss")()
    if all(isinstance(name, str) for name, _ in layers):
        if len({name for name, _ in layers}) != len(layers):
            raise fail("its layers' names are not unique")
        return NETWORKS["Sequential"](
            dict(layers), loss=loss, weight_decay_lambda=args["weight_decay_lambda"]
        )
    return NETWORKS["Sequential"](
        *(layer for _, layer in layers), loss=loss, weight_decay_lambda=args["weight_decay_lambda"]
    )


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
