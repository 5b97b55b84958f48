"""Saving and loading networks: one ``.npz`` file, parameters plus a JSON architecture.

A model file is a plain NumPy ``.npz`` archive (a zip of ``.npy`` files) holding

- one array per parameter, named exactly as in ``network.state_dict()``: ``'W1'``, ``'b1'``, ...
- ``'__architecture__'``: a 0-d unicode array holding the JSON text
  ``{"format": "layerwise-model", "version": 1, "network": network.get_config()}``.

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
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .layers import Affine
from .network import LAYER_TYPES, LOSS_TYPES, MultiLayerNet, Sequential, TwoLayerNet

__all__ = [
    "ARCHITECTURE_KEY",
    "FORMAT_VERSION",
    "ModelFileError",
    "load",
    "read_npz",
    "save",
    "write_npz_atomic",
]

#: The entry holding the JSON description; parameter names never start with an underscore.
ARCHITECTURE_KEY = "__architecture__"
FORMAT_NAME = "layerwise-model"
FORMAT_VERSION = 1

_NETWORKS = {"Sequential": Sequential, "TwoLayerNet": TwoLayerNet, "MultiLayerNet": MultiLayerNet}
# The keys each class's description must have, besides "class".
_CONFIG_KEYS = {
    "Sequential": {"layers", "loss", "weight_decay_lambda", "dtype"},
    "TwoLayerNet": {"input_size", "hidden_size", "output_size", "weight_init_std", "dtype"},
    "MultiLayerNet": {
        "input_size",
        "hidden_size_list",
        "output_size",
        "activation",
        "weight_init_std",
        "weight_decay_lambda",
        "dtype",
    },
}
#: A model file's JSON description is a few hundred bytes; far more is not a description.
_MAX_DESCRIPTION_BYTES = 1 << 20
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive


class ModelFileError(ValueError):
    """A model or checkpoint file is damaged, unsafe, or not what it claims to be."""


# ---------------------------------------------------------------------- npz files


def write_npz_atomic(path, arrays):
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
    path = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # overwriting keeps the file's permissions
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
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


def read_npz(path, what="checkpoint", vet=None, only=None):
    """Read the arrays of an ``.npz`` file into memory, never unpickling.

    Every entry's ``.npy`` header is read and checked first; only then is any array data read.

    Parameters
    ----------
    path : str or Path
    what : str, default "checkpoint"
        What the file is, for error messages ("cannot load checkpoint 'run/ckpt.npz': ...").
    vet : callable, optional
        ``vet(headers, read)``, called after every header has been checked and before the
        arrays are read: ``headers`` maps each entry's name to its ``(shape, dtype)`` and
        ``read(name)`` reads one entry (e.g. a small description). It raises to refuse the file,
        so arrays larger than the caller expects are refused before their memory is allocated.
    only : collection of str, optional
        Read just these entries (all headers are still checked).

    Returns
    -------
    dict of str to ndarray
        In the archive's order. The file is closed on return.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not an ``.npz`` archive, is truncated or damaged, holds something other
        than ``.npy`` arrays, or holds object arrays (which would be unpickled: refused for
        safety, since unpickling can run arbitrary code).
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(4) not in _ZIP_SIGNATURES:
            raise _error(path, what, "it is not an .npz archive (no zip signature at its start)")
        f.seek(0)
        with _damage_reported(path, what):
            npz = np.load(f, allow_pickle=False)
        with npz:
            with _damage_reported(path, what):
                headers = {name: _read_header(npz, name, path, what) for name in npz.files}
            arrays = {}

            def read(name):
                if name not in arrays:
                    with _damage_reported(path, what):
                        arrays[name] = npz[name]
                return arrays[name]

            if vet is not None:
                vet(headers, read)  # its refusals reach the caller as they are
            return {name: read(name) for name in headers if only is None or name in only}


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


def save(network, path):
    """Save a network's architecture and parameters to one ``.npz`` file, atomically.

    Parameters
    ----------
    network : Sequential, TwoLayerNet or MultiLayerNet
    path : str or Path
        Written exactly as given: no ``.npz`` suffix is added (unlike ``np.savez``).

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
    description = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "network": network.get_config(),
    }
    arrays = dict(network.state_dict())

    def fail(problem):
        return ModelFileError(f"cannot save {type(network).__name__} to '{path}': {problem}")

    _check_arrays(description["network"], {k: (a.shape, a.dtype) for k, a in arrays.items()}, fail)
    arrays[ARCHITECTURE_KEY] = np.array(json.dumps(description))
    return write_npz_atomic(path, arrays)


def load(path):
    """Load a network saved by :func:`save`: same class, architecture and parameters.

    The file is read with ``allow_pickle=False`` and checked completely (description, array
    names, shapes and dtypes) before any network is built, so a damaged or hostile file can
    neither run code nor make layerwise allocate more than the arrays it holds.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Sequential, TwoLayerNet or MultiLayerNet
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

    described = {}

    def vet(headers, read):
        # The description comes first: it says what every other entry must be, so an entry
        # promising more than that is refused before its memory is allocated.
        entry = headers.get(ARCHITECTURE_KEY)
        if entry is not None and (
            entry[1].kind != "U" or entry[0] != () or entry[1].itemsize > _MAX_DESCRIPTION_BYTES
        ):
            raise fail(
                f"{ARCHITECTURE_KEY!r} must be a 0-d unicode array of at most "
                f"{_MAX_DESCRIPTION_BYTES} bytes, got {entry[1]} {entry[0]}"
            )
        config = _read_description(None if entry is None else read(ARCHITECTURE_KEY), fail)
        _check_arrays(config, {k: v for k, v in headers.items() if k != ARCHITECTURE_KEY}, fail)
        described["config"] = config

    arrays = read_npz(path, what="model file", vet=vet)
    del arrays[ARCHITECTURE_KEY]
    config = described["config"]
    try:
        network = _build(config, arrays)
    except (ValueError, TypeError) as e:
        raise fail(f"its description of the {config['class']} is invalid: {e}") from e
    network.load_state_dict(arrays)
    return network


def _read_description(entry, fail):
    if entry is None:
        raise fail(
            f"it has no {ARCHITECTURE_KEY!r} entry, so it does not describe a network "
            "(was it written by layerwise.save?)"
        )
    if entry.dtype.kind != "U" or entry.ndim != 0:
        raise fail(
            f"{ARCHITECTURE_KEY!r} must be a 0-d unicode array, got {entry.dtype} {entry.shape}"
        )
    try:
        description = json.loads(entry.item())
    except (json.JSONDecodeError, RecursionError) as e:
        raise fail(f"its description is not valid JSON ({e})") from e
    if not isinstance(description, dict) or description.get("format") != FORMAT_NAME:
        raise fail(f"its description is not a {FORMAT_NAME!r} description")
    version = description.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise fail(
            f"it has format version {version!r}; this layerwise reads version {FORMAT_VERSION} "
            "(a newer layerwise may have written it)"
        )
    config = description.get("network")
    if not isinstance(config, dict):
        raise fail("its description has no 'network' object")
    return config


def _check_arrays(config, headers, fail):
    """Check the arrays' ``{name: (shape, dtype)}`` against what ``config`` describes."""
    expected, dtype = _describe(config, fail)
    missing = [k for k in expected if k not in headers]
    extra = [k for k in headers if k not in expected]
    if missing or extra:
        raise fail(
            f"its arrays do not match its {config['class']} description: "
            f"missing {missing}, unexpected {extra}"
        )
    for key, shape in expected.items():
        got_shape, got_dtype = headers[key]
        if got_shape != shape:
            raise fail(f"{key!r} has shape {got_shape}; the description needs {shape}")
        if got_dtype != dtype:
            raise fail(
                f"{key!r} has dtype {got_dtype}; the description says {dtype} "
                "(parameters are float32 or float64, as the network's dtype)"
            )


def _describe(config, fail):
    """The parameter shapes and dtype a description implies, checking its every entry."""
    cls = config.get("class")
    if not _known(cls, _NETWORKS):
        raise fail(f"unknown network class {cls!r}; known: {', '.join(_NETWORKS)}")
    keys = set(config) - {"class"}
    if keys != _CONFIG_KEYS[cls]:
        raise fail(
            f"its {cls} description has entries {sorted(keys)}; "
            f"expected {sorted(_CONFIG_KEYS[cls])}"
        )
    if config["dtype"] not in ("float32", "float64"):
        raise fail(f"dtype must be 'float32' or 'float64', got {config['dtype']!r}")

    def size(value, what):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(f"{what} must be a positive integer, got {value!r}")
        return value

    if cls == "Sequential":
        sizes = []  # (in_features, out_features) of each Affine
        if not isinstance(config["layers"], list) or not config["layers"]:
            raise fail("its Sequential description needs a non-empty list of layers")
        for i, spec in enumerate(config["layers"]):
            kind = spec.get("type") if isinstance(spec, dict) else None
            if not _known(kind, LAYER_TYPES):
                raise fail(f"layer {i} has unknown type {kind!r}; known: {', '.join(LAYER_TYPES)}")
            wanted = {"type", "in_features", "out_features"} if kind == "Affine" else {"type"}
            # A parameterised layer other than Affine would need its own entries in the format.
            has_params = kind != "Affine" and getattr(LAYER_TYPES[kind], "param_names", ())
            if set(spec) != wanted or has_params:
                raise fail(f"layer {i} ({kind}) cannot be described by {spec!r}")
            if kind == "Affine":
                sizes.append(
                    (
                        size(spec["in_features"], f"layer {i} in_features"),
                        size(spec["out_features"], f"layer {i} out_features"),
                    )
                )
        if not _known(config["loss"], LOSS_TYPES):
            raise fail(f"unknown loss {config['loss']!r}; known: {', '.join(LOSS_TYPES)}")
    else:
        hidden = [config["hidden_size"]] if cls == "TwoLayerNet" else config["hidden_size_list"]
        if not isinstance(hidden, list):
            raise fail(f"hidden_size_list must be a list, got {hidden!r}")
        dims = [config["input_size"], *hidden, config["output_size"]]
        dims = [size(d, f"{cls} layer size") for d in dims]
        sizes = list(zip(dims[:-1], dims[1:], strict=True))
    expected = {}
    for i, (fan_in, fan_out) in enumerate(sizes, start=1):
        expected[f"W{i}"] = (fan_in, fan_out)
        expected[f"b{i}"] = (fan_out,)
    return expected, np.dtype(config["dtype"])


def _known(name, registry):
    # A name from JSON may be a list or an object, which cannot even be looked up in a dict.
    return isinstance(name, str) and name in registry


def _build(config, arrays):
    """A network of the described architecture; its parameters are then filled from arrays."""
    args = {k: v for k, v in config.items() if k != "class"}
    if config["class"] != "Sequential":
        # The constructor draws weights of the checked shapes; load_state_dict overwrites them.
        return _NETWORKS[config["class"]](**args, seed=0)
    layers = []
    n_affine = 0
    for spec in config["layers"]:
        if spec["type"] == "Affine":
            n_affine += 1
            W, b = arrays[f"W{n_affine}"], arrays[f"b{n_affine}"]
            layers.append(Affine(np.zeros(W.shape, W.dtype), np.zeros(b.shape, b.dtype)))
        else:
            layers.append(LAYER_TYPES[spec["type"]]())
    return Sequential(
        *layers,
        loss=LOSS_TYPES[config["loss"]](),
        weight_decay_lambda=config["weight_decay_lambda"],
    )
