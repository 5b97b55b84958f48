"""The one file container of layerwise: ``.npz`` archives written atomically and read safely.

Model files (:mod:`layerwise.files`) and checkpoints (:mod:`layerwise.checkpoints`) are both a
plain NumPy ``.npz`` archive (a zip of ``.npy`` files) holding numeric arrays and one JSON
entry that describes them. This module holds what the two share:

- :func:`write_atomic` and :func:`write_npz_atomic`: a temporary file beside the target,
  flushed to disk, then renamed over it, so a crash mid-write leaves the previous file intact;
- :func:`open_npz`: every entry's ``.npy`` header (shape and dtype) is read and checked before
  any array is, so the caller can refuse an entry larger than it expects before its memory is
  allocated; object arrays are refused, nothing is ever unpickled, and a compressed entry is
  refused unread (what is written here is stored, and a stored entry holds no more than the
  file's size);
- :func:`read_json_entry`: the JSON description, its size, format and version checked.

Every defect of a file (not a zip, truncated, damaged, pickled, a bad description) raises
:class:`ModelFileError`, which names the file and the problem.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "arrays.npz"
>>> path = write_npz_atomic(path, {"W": np.ones((2, 3)), "step": np.array(7)})
>>> with open_npz(path, "example") as f:
...     print(f.headers["W"])  # read from the header alone
...     print(f.read("step"))
((2, 3), dtype('float64'))
7
"""

from __future__ import annotations

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
from .backend import as_numpy

__all__ = [
    "ModelFileError",
    "NpzFile",
    "open_npz",
    "read_json_entry",
    "read_npz",
    "unreadable_version",
    "write_atomic",
    "write_npz_atomic",
]

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive


class ModelFileError(ValueError):
    """A model or checkpoint file is damaged, unsafe, or not what it claims to be."""


# ---------------------------------------------------------------------- writing


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

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> write_atomic(path, lambda f: f.write(b"hello")).read_text()
    'hello'
    """
    path = Path(path)
    # Else mkstemp's or os.replace's error would name the temporary file.
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write '{path}': there is no folder '{path.parent}' (create it first)"
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot write '{path}': it is a folder; name a file, such as a new one inside it"
        )
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # overwriting keeps the file's permissions
    except FileNotFoundError:
        mode = 0o644
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # a folder where no file can be created (read-only, /proc)
        raise OSError(e.errno, e.strerror, str(path)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename == tmp:
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    _fsync_directory(path.parent)
    return path


def write_npz_atomic(path: StrPath, arrays: Mapping[str, npt.ArrayLike]) -> Path:
    """Write ``arrays`` to ``path`` as an ``.npz`` archive, atomically (see :func:`write_atomic`).

    Nothing is pickled.

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
                # as_numpy: a GPU network's arrays are written from the host, as a CPU run's
                np.lib.format.write_array(member, as_numpy(value), allow_pickle=False)


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


# ---------------------------------------------------------------------- reading


class NpzFile:
    """An ``.npz`` archive opened for reading: every header checked, no array read yet.

    Reading is two plain steps: look at :attr:`headers` (each entry's shape and dtype, from
    its ``.npy`` header alone) and refuse what does not belong, then :meth:`read` the arrays.
    So an entry larger than the caller expects is refused before its memory is allocated.
    Nothing is ever unpickled.

    Use :func:`open_npz`, as a context manager.

    Attributes
    ----------
    path : Path
    what : str
        What the file is ("model file", "checkpoint"), for error messages.
    headers : dict of str to (tuple, numpy.dtype)
        Entry name to ``(shape, dtype)``, in the archive's order.
    """

    def __init__(self, path: StrPath, what: str) -> None:
        self.path, self.what = Path(path), what
        # Opening a named pipe blocks until something writes to it; a folder is left to
        # open(), which raises IsADirectoryError.
        mode = os.stat(self.path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise self.error("it is not a regular file (a named pipe, a device or a socket)")
        self._file = open(self.path, "rb")
        try:
            if self._file.read(4) not in _ZIP_SIGNATURES:
                raise self.error("it is not an .npz archive (no zip signature at its start)")
            self._file.seek(0)
            with self._damage_reported():
                self._npz = np.load(self._file, allow_pickle=False)
                self.headers = {name: self._read_header(name) for name in self._npz.files}
        except BaseException:
            self.close()
            raise

    def read(self, name: str) -> np.ndarray:
        """The array of entry ``name`` (its header was checked when the file was opened).

        A compressed entry is refused unread: layerwise writes its entries stored, and a
        stored entry cannot hold more than the file's own size, a compressed one can.
        """
        info = self._npz.zip.getinfo(name + ".npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.error(
                f"entry {name!r} is compressed; layerwise writes and reads only uncompressed "
                "entries (a compressed one can unpack to far more than the file's size)"
            )
        with self._damage_reported():
            return self._npz[name]

    def error(self, problem: str) -> ModelFileError:
        """``ModelFileError("cannot load <what> '<path>': <problem>")``, for the caller to raise."""
        return ModelFileError(f"cannot load {self.what} '{self.path}': {problem}")

    def close(self) -> None:
        npz = getattr(self, "_npz", None)
        if npz is not None:
            npz.close()
        self._file.close()

    def __enter__(self) -> NpzFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _damage_reported(self):
        """Turn what NumPy and zipfile raise on a damaged file into a ModelFileError."""
        try:
            yield
        except ModelFileError:
            raise
        except ValueError as e:
            if "allow_pickle" in str(e):
                raise self._pickle_error("") from e
            raise self.error(f"it is damaged ({e})") from e
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
            raise self.error(f"it is truncated or damaged ({type(e).__name__}: {e})") from e

    def _read_header(self, name):
        """``(shape, dtype)`` of entry ``name``, from its ``.npy`` header alone."""
        member = name + ".npy"
        if member not in self._npz.zip.namelist():
            raise self.error(f"entry {name!r} is not a NumPy .npy array")
        # Refuse object arrays before NumPy sees them, and a header whose shape needs more
        # bytes than the entry holds before anything is allocated.
        info = self._npz.zip.getinfo(member)
        with self._npz.zip.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise self.error(f"entry {name!r} has unsupported .npy version {version}")
            data_size = info.file_size - fp.tell()
        if dtype.hasobject:
            raise self._pickle_error(f" (entry {name!r})")
        needed = math.prod(shape) * dtype.itemsize
        if needed != data_size:
            raise self.error(
                f"entry {name!r} is damaged: its header declares shape {shape} of {dtype} "
                f"({needed} bytes) but it holds {data_size} bytes of data"
            )
        return shape, dtype

    def _pickle_error(self, where):
        return self.error(
            f"it contains pickled Python objects{where}, and is refused for safety: unpickling "
            "can run arbitrary code. layerwise files hold only plain numeric arrays; only "
            "unpickle a file you made yourself, with np.load(path, allow_pickle=True)."
        )


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
        If the file is not a regular file (a named pipe, whose opening would wait for a writer),
        not an ``.npz`` archive, is truncated or damaged, holds something other than ``.npy``
        arrays, or holds object arrays (which would be unpickled: refused for safety, since
        unpickling can run arbitrary code). A compressed entry is refused by
        :meth:`NpzFile.read`.
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


# ---------------------------------------------------------------------- the JSON description


def read_json_entry(
    f: NpzFile, key: str, format_name: str, versions: tuple[int, ...], max_bytes: int
) -> dict[str, Any]:
    """The JSON description in entry ``key`` of an open file, checked before it is trusted.

    The entry must be a 0-d unicode array of at most ``max_bytes`` (judged from its header,
    before it is read), hold a JSON object whose ``"format"`` is ``format_name`` and whose
    ``"version"`` is one of ``versions``.

    Parameters
    ----------
    f : NpzFile
    key : str
        ``'__architecture__'`` in model files, ``'__checkpoint__'`` in checkpoints.
    format_name : str
    versions : tuple of int
        The versions this layerwise reads.
    max_bytes : int

    Returns
    -------
    dict

    Raises
    ------
    ModelFileError
        Naming the file and what is wrong; for an unreadable version, also the layerwise that
        wrote the file and whether upgrading helps (:func:`unreadable_version`).
    """

    def not_ours(problem):
        return f.error(f"it is not a layerwise {f.what}: {problem}")

    header = f.headers.get(key)
    if header is None:
        raise not_ours(f"it has no {key!r} entry")
    shape, dtype = header
    if dtype.kind != "U" or shape != () or dtype.itemsize > max_bytes:
        raise not_ours(
            f"its {key!r} entry must be a 0-d unicode array of at most {max_bytes} bytes "
            f"(JSON text), got {dtype} {shape}"
        )
    try:
        description = json.loads(f.read(key).item())
    except (json.JSONDecodeError, RecursionError) as e:
        raise not_ours(f"its {key!r} entry is not valid JSON ({e})") from e
    if not isinstance(description, dict) or description.get("format") != format_name:
        raise not_ours(f"its {key!r} entry is not a {format_name!r} description")
    version = description.get("version")
    if isinstance(version, bool) or version not in versions:
        writer = description.get("layerwise")
        raise f.error(unreadable_version(f"{f.what} format", version, versions, writer))
    return description


def unreadable_version(
    what: str, version: object, readable: tuple[int, ...], writer: object
) -> str:
    """Why a file of ``what`` version ``version`` cannot be read, and what helps.

    ``readable`` are the versions this layerwise reads; ``writer`` is the layerwise version
    recorded in the file (None in files written before layerwise recorded it). A format newer
    than this layerwise knows is the common case, and upgrading is the cure.

    Examples
    --------
    >>> unreadable_version("checkpoint format", 1, (2,), None)  # doctest: +ELLIPSIS
    'it has checkpoint format version 1; layerwise ... reads version 2'
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
