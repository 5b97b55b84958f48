"""MNIST and Fashion-MNIST in the book's format, read safely from IDX files.

The book's ``load_mnist`` returns ``((x_train, t_train), (x_test, t_test))``; so do
:func:`load_mnist`, :func:`load_fashion_mnist` and :func:`load_sample` here:

==================  ==============================  =====================================
array               ``flatten=True``                ``flatten=False``
==================  ==============================  =====================================
``x_train``         ``(60000, 784)``                ``(60000, 1, 28, 28)``
``x_test``          ``(10000, 784)``                ``(10000, 1, 28, 28)``
==================  ==============================  =====================================

Images are float32 in [0, 1] with ``normalize=True`` (the default), else uint8 in [0, 255].
Labels are uint8 of shape ``(N,)``, or float32 one-hot rows of shape ``(N, 10)`` with
``one_hot_label=True``.

Where the files are looked for, in this order (the first directory holding all four wins):

1. ``data_dir``, if given;
2. ``$LAYERWISE_DATA/<name>``, then ``$LAYERWISE_DATA`` itself;
3. the user cache, ``$XDG_CACHE_HOME/layerwise/<name>`` (default ``~/.cache/layerwise/<name>``);
4. Fashion-MNIST only: ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``);
5. with ``download=True``, the missing files are downloaded into the cache from each mirror
   of :data:`MIRRORS` in turn and kept only if their MD5 matches :data:`MD5`. The environment
   variables ``LAYERWISE_MNIST_MIRRORS`` and ``LAYERWISE_FASHION_MNIST_MIRRORS`` (base URLs
   separated by spaces or commas) replace those mirrors, for a local copy or a proxy; the
   files must still match :data:`MD5`. With ``progress=True`` each download is reported on
   stderr as it starts and ends.

``<name>`` is ``mnist`` or ``fashion-mnist``. Each file may be gzipped (``.gz``) or raw.
:func:`locate` is that search on its own, :func:`find_files` looks in one folder and nowhere
else (the command line's ``--dataset DIR``), and :func:`read_dataset` reads the files either
found.

The shipped sample ``data/fashion_mnist_sample.npz`` holds 5000 training and 1000 test images
of Fashion-MNIST (the first 500 of each class from the training file, the first 100 of each
class from the test file; built by ``tools/make_sample.py``). Fashion-MNIST is
Copyright (c) 2017 Zalando SE and released under the MIT license,
https://github.com/zalandoresearch/fashion-mnist; see ``data/README.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._types import StrPath

#: ``((x_train, t_train), (x_test, t_test))``, as the book's ``load_mnist`` returns.
Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

__all__ = [
    "CLASS_NAMES",
    "DatasetNotFoundError",
    "IDXFormatError",
    "cache_dir",
    "download",
    "find_files",
    "load_fashion_mnist",
    "load_mnist",
    "load_sample",
    "locate",
    "mirrors",
    "read_dataset",
    "read_idx",
]

#: Fashion-MNIST's label names, indexed by label.
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: The four files of both datasets, keyed by their role.
FILES = {
    "train_img": "train-images-idx3-ubyte",
    "train_label": "train-labels-idx1-ubyte",
    "test_img": "t10k-images-idx3-ubyte",
    "test_label": "t10k-labels-idx1-ubyte",
}

#: Download mirrors, tried in order. Several, because the book's loader broke each time a
#: single host began refusing downloads.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

#: The environment variable that replaces ``MIRRORS[name]``, by dataset name.
MIRRORS_VARIABLES = {
    "mnist": "LAYERWISE_MNIST_MIRRORS",
    "fashion-mnist": "LAYERWISE_FASHION_MNIST_MIRRORS",
}

#: Published MD5 checksums of the gzipped files as the mirrors serve them. Debian recompressed
#: its copies (so their .gz checksums differ), but the decompressed files are identical to
#: upstream's: md5 of the raw train images is f4a8712d7a061bf5bd6d2ca38dc4d50a in both.
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

#: The shipped sample of Fashion-MNIST (see ``tools/make_sample.py``).
SAMPLE_PATH = Path(__file__).parent / "data" / "fashion_mnist_sample.npz"

DOWNLOAD_TIMEOUT = 30  # seconds without data before a mirror counts as failed
_MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest file (Fashion train images) is 26 MB
_CHUNK = 2**20

# IDX type codes (third magic byte) -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Deflate expands at most ~1032:1, so a .gz file of n bytes can never hold more than this
# times n bytes: a header promising more is lying, and we say so before reading anything.
_MAX_GZIP_RATIO = 1032


class IDXFormatError(ValueError):
    """A file is not a valid IDX file (bad magic, type, dimensions, length or gzip)."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files were found nowhere and could not be downloaded.

    Attributes
    ----------
    looked : str
        The places looked in and the mirrors tried, one per line, without the advice that
        ends the message (a caller such as the command line gives its own).
    """

    def __init__(self, message: str, looked: str = "") -> None:
        super().__init__(message)
        self.looked = looked


# --------------------------------------------------------------------------- IDX files


def read_idx(path: StrPath) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a NumPy array.

    An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian
    uint32 dimensions, then the values, big-endian, in C order. Gzip is recognised by its
    magic bytes ``1f 8b``, not by the file name.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    numpy.ndarray
        Shape = the header's dimensions; dtype = the header's type (uint8, int8, int16,
        int32, float32 or float64) in native byte order.

    Raises
    ------
    IDXFormatError
        (a ``ValueError``) if the magic number, type code or dimensions are invalid, the
        data is shorter or longer than the dimensions imply, or the gzip stream is
        truncated or corrupt. Memory is never allocated beyond what the file can hold.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if is_gzip else open
    try:
        with opener(path, "rb") as f:
            dtype, dims = _read_idx_header(f, path)
            nbytes = math.prod(dims) * dtype.itemsize
            if is_gzip:
                limit, holds = size * _MAX_GZIP_RATIO, f"a {size:,}-byte gzip file holds at most"
            else:
                limit, holds = size - 4 - 4 * len(dims), "the file holds only"
            if nbytes > limit:  # checked before reading, so a lying header costs nothing
                raise _length_error(path, dims, dtype, nbytes, f"{holds} {limit:,}")
            data = _read_at_most(f, nbytes + 1)  # one byte more, to detect trailing data
    except (OSError, EOFError, zlib.error) as err:
        # gzip signals a truncated stream with EOFError and a corrupt one with
        # BadGzipFile (an OSError) or zlib.error.
        raise IDXFormatError(f"{path}: corrupt or truncated gzip data ({err})") from err
    if len(data) < nbytes:
        raise _length_error(path, dims, dtype, nbytes, f"the file holds only {len(data):,}")
    if len(data) > nbytes:
        raise _length_error(path, dims, dtype, nbytes, "the file holds more (trailing bytes)")
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    # IDX is big-endian; convert so that later arithmetic runs on native numbers.
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_idx_header(f, path):
    """Parse the magic number and dimensions; return ``(big-endian dtype, dims tuple)``."""
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXFormatError(f"{path}: file too short for an IDX header ({len(magic)} bytes)")
    zero1, zero2, code, ndim = magic
    if zero1 or zero2:
        raise IDXFormatError(
            f"{path}: not an IDX file: magic number {magic.hex(' ')} should start with 00 00"
        )
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise IDXFormatError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise IDXFormatError(f"{path}: IDX header declares zero dimensions")
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise IDXFormatError(f"{path}: file ends inside the header ({ndim} dimensions declared)")
    return _IDX_DTYPES[code], struct.unpack(f">{ndim}I", raw)


def _length_error(path, dims, dtype, nbytes, holds):
    return IDXFormatError(
        f"{path}: header dimensions {dims} of {dtype.name} need {nbytes:,} bytes of data, but "
        f"{holds}: the file is truncated or corrupt"
    )


def _read_at_most(f, n):
    """Read up to ``n`` bytes in chunks, so memory grows with the data actually present."""
    data = bytearray()
    while len(data) < n:
        chunk = f.read(min(_CHUNK, n - len(data)))
        if not chunk:
            break
        data += chunk
    return data


# ------------------------------------------------------------------------ finding files


def find_files(directory: StrPath) -> tuple[dict[str, Path], list[str]]:
    """Look for the four files in ``directory`` only.

    Returns
    -------
    found : dict of str to Path
        ``{role: path}`` of the files present (``FILES`` names the roles), raw or ``.gz``.
    missing : list of str
        The names of the files absent.
    """
    directory = Path(directory)
    found, missing = {}, []
    for role, name in FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def cache_dir(name: str) -> Path:
    """The user cache of dataset ``name``: ``$XDG_CACHE_HOME/layerwise/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "layerwise" / name


def _search_dirs(name, data_dir):
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    env = os.environ.get("LAYERWISE_DATA")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs.append(cache_dir(name))
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST_DIR)
    return dirs


def download(url: str, target: Path, md5: str) -> None:
    """Download ``url`` to ``target`` atomically, keeping it only if its MD5 is ``md5``.

    The bytes go to a temporary file beside ``target`` that is renamed (``os.replace``,
    atomic) only once complete and verified, so an interrupted or corrupt transfer never
    leaves a file that a later run would trust.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        # MD5 guards against corruption here, not attackers: fine, and what is published.
        digest, received = hashlib.md5(usedforsecurity=False), 0
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,
        ):
            expected = response.headers.get("Content-Length")
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > _MAX_DOWNLOAD_BYTES:
                    raise OSError(f"over {_MAX_DOWNLOAD_BYTES:,} bytes: not a dataset file")
                digest.update(chunk)
                out.write(chunk)
        if expected is not None and received != int(expected):
            raise OSError(f"transfer interrupted: got {received:,} of {int(expected):,} bytes")
        if digest.hexdigest() != md5:
            raise OSError(
                f"MD5 checksum mismatch: got {digest.hexdigest()}, expected {md5}; "
                "the download was discarded"
            )
        os.replace(tmp, target)
    except http.client.IncompleteRead as err:
        raise OSError(f"transfer interrupted after {len(err.partial):,} bytes") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def mirrors(name: str) -> list[str]:
    """The base URLs dataset ``name`` is downloaded from, in order.

    ``$LAYERWISE_MNIST_MIRRORS`` (``$LAYERWISE_FASHION_MNIST_MIRRORS`` for Fashion-MNIST), base
    URLs separated by spaces or commas, if set; else :data:`MIRRORS`. A URL without a final
    ``/`` gets one: the file names are appended to it.
    """
    variable = os.environ.get(MIRRORS_VARIABLES[name], "")
    urls = variable.replace(",", " ").split() or MIRRORS[name]
    return [url if url.endswith("/") else url + "/" for url in urls]


def _download_missing(name, directory, progress=False):
    """Fetch the files ``directory`` lacks; return ``(ok, notes)`` listing every failure."""
    directory.mkdir(parents=True, exist_ok=True)
    notes = []
    for filename in FILES.values():
        if (directory / filename).is_file() or (directory / f"{filename}.gz").is_file():
            continue
        gz = f"{filename}.gz"
        for mirror in mirrors(name):
            url = mirror + gz
            _report(progress, f"downloading {url} ...")
            start = time.perf_counter()
            try:
                download(url, directory / gz, MD5[name][gz])
            except (OSError, ValueError, http.client.HTTPException) as err:
                # URLError, timeouts and our own checks are OSErrors; ValueError is an
                # unusable URL. Either way: note why, and try the next mirror.
                notes.append(f"{url}: {err}")
                _report(progress, f"  failed: {err}")
                continue
            size = (directory / gz).stat().st_size
            seconds = time.perf_counter() - start
            _report(progress, f"  {size / 1e6:.1f} MB in {seconds:.1f} s, MD5 checked")
            break
        else:
            return False, notes  # every mirror failed; the other files would too
    return True, notes


def _report(progress, message):
    if progress:
        print(f"layerwise: {message}", file=sys.stderr, flush=True)


def locate(
    name: str,
    data_dir: StrPath | None = None,
    *,
    download: bool = True,
    progress: bool = False,
) -> dict[str, Path]:
    """The four files of dataset ``name`` as ``{role: path}``, found in the search order.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}
    data_dir, download
        As for :func:`load_mnist`.
    progress : bool, default False
        Say on stderr which file is downloaded from where, and how it went.

    Raises
    ------
    DatasetNotFoundError
        Listing every place looked in and every mirror tried, then how to get the files.
    """
    looked = []
    for directory in _search_dirs(name, data_dir):
        found, missing = find_files(directory)
        if not missing:
            return found
        why = "does not exist" if not directory.is_dir() else "missing " + ", ".join(missing)
        looked.append(f"  {directory}: {why}")
    if not os.environ.get("LAYERWISE_DATA"):
        looked.append("  $LAYERWISE_DATA: not set")
    tried = []
    if download:
        cache = cache_dir(name)
        try:
            ok, tried = _download_missing(name, cache, progress)
        except OSError as err:  # e.g. the cache directory cannot be created
            ok, tried = False, [f"cannot write to {cache}: {err}"]
        if ok:
            return find_files(cache)[0]
    how = (
        f"Put the four files ({', '.join(FILES.values())}, each .gz or raw) in a directory "
        "and pass data_dir=... or set LAYERWISE_DATA to it"
    )
    if name == "fashion-mnist":
        how += ", or install Debian's package: apt-get install dataset-fashion-mnist"
    mirrors = "\n".join(f"  {t}" for t in tried) if download else "  (download=False)"
    looked = "Looked in:\n" + "\n".join(looked) + f"\nDownloads into {cache_dir(name)}:\n{mirrors}"
    raise DatasetNotFoundError(f"{name} not found.\n{looked}\n{how}.", looked)


# ------------------------------------------------------------------------------ loaders


def _to_book_format(x, t, normalize, flatten, one_hot_label):
    """Turn uint8 images ``(N, 28, 28)`` and uint8 labels ``(N,)`` into the book's arrays."""
    if normalize:
        # float32 halves memory against float64 and is what every layer computes in.
        x = x.astype(np.float32) / np.float32(255.0)
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)
    if one_hot_label:
        t = np.eye(10, dtype=np.float32)[t]
    return x, t


def read_dataset(
    files: Mapping[str, StrPath],
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
) -> Dataset:
    """``((x_train, t_train), (x_test, t_test))`` from the four files of :func:`locate`.

    Parameters
    ----------
    files : dict of str to path
        ``{role: path}`` for the four roles of ``FILES``.
    normalize, flatten, one_hot_label
        As for :func:`load_mnist`.

    Raises
    ------
    IDXFormatError
        If a file is not a valid image or label file of 28x28 images and labels 0..9.
    """
    arrays = {role: read_idx(path) for role, path in files.items()}
    for split in ("train", "test"):
        x, t = arrays[f"{split}_img"], arrays[f"{split}_label"]
        if x.dtype != np.uint8 or x.shape[1:] != (28, 28) or t.dtype != np.uint8 or t.ndim != 1:
            raise IDXFormatError(
                f"{files[f'{split}_img']}, {files[f'{split}_label']}: expected uint8 images "
                f"(N, 28, 28) and uint8 labels (N,), got {x.dtype} {x.shape} and "
                f"{t.dtype} {t.shape}"
            )
        if len(x) != len(t) or (t.size and t.max() > 9):
            raise IDXFormatError(
                f"{files[f'{split}_label']}: {len(t)} labels (max {t.max(initial=0)}) for "
                f"{len(x)} images; expected one label in 0..9 per image"
            )
    return tuple(
        _to_book_format(arrays[f"{s}_img"], arrays[f"{s}_label"], normalize, flatten, one_hot_label)
        for s in ("train", "test")
    )


def _load(name, normalize, flatten, one_hot_label, data_dir, download):
    files = locate(name, data_dir, download=download)
    return read_dataset(files, normalize, flatten, one_hot_label)


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: StrPath | None = None,
    download: bool = True,
) -> Dataset:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``, like the book.

    Parameters
    ----------
    normalize : bool, default True
        Images as float32 in [0, 1]; if False, uint8 in [0, 255].
    flatten : bool, default True
        Images of shape ``(N, 784)``; if False, ``(N, 1, 28, 28)`` (for convolutions).
    one_hot_label : bool, default False
        Labels as float32 one-hot rows ``(N, 10)``; if False, uint8 ``(N,)``.
    data_dir : str or os.PathLike, optional
        Directory to look in first.
    download : bool, default True
        If the files are not found locally, download them into the user cache from
        :data:`MIRRORS` (or ``$LAYERWISE_MNIST_MIRRORS``, see :func:`mirrors`), verified
        against :data:`MD5`.

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuple of numpy.ndarray
        60000 training and 10000 test images (N = 60000 or 10000) with their labels.

    Raises
    ------
    DatasetNotFoundError
        (a ``FileNotFoundError``) listing every directory looked in, every mirror tried and
        why it failed, and how to get the files.
    IDXFormatError
        (a ``ValueError``) if a file found is not a valid image or label file.

    Notes
    -----
    Search order: ``data_dir``; ``$LAYERWISE_DATA/mnist``; ``$LAYERWISE_DATA``; the user
    cache ``$XDG_CACHE_HOME/layerwise/mnist`` (default ``~/.cache/layerwise/mnist``); then
    download into that cache. MNIST and Fashion-MNIST use the same file names, so keep each
    in its own subfolder of ``$LAYERWISE_DATA``.
    """
    return _load("mnist", normalize, flatten, one_hot_label, data_dir, download)


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: StrPath | None = None,
    download: bool = True,
) -> Dataset:
    """Load Fashion-MNIST as ``((x_train, t_train), (x_test, t_test))``, like the book.

    Same parameters, shapes, dtypes and errors as :func:`load_mnist`; label ``i`` names
    ``CLASS_NAMES[i]``.

    Search order: ``data_dir``; ``$LAYERWISE_DATA/fashion-mnist``; ``$LAYERWISE_DATA``; the
    user cache ``$XDG_CACHE_HOME/layerwise/fashion-mnist``; Debian's package directory
    :data:`DEBIAN_FASHION_MNIST_DIR` (after the cache, so that files a user placed win);
    then download into the cache.
    """
    return _load("fashion-mnist", normalize, flatten, one_hot_label, data_dir, download)


def load_sample(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False
) -> Dataset:
    """Load the small Fashion-MNIST sample shipped with layerwise; no files or network needed.

    5000 training images (500 per class) and 1000 test images (100 per class), in the
    order they appear in the original files. See :func:`load_mnist` for the parameters;
    the shapes are ``(5000, 784)`` and ``(1000, 784)`` (or ``(N, 1, 28, 28)`` unflattened).

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuple of numpy.ndarray
    """
    with np.load(SAMPLE_PATH, allow_pickle=False) as z:
        return tuple(
            _to_book_format(z[f"x_{s}"], z[f"t_{s}"], normalize, flatten, one_hot_label)
            for s in ("train", "test")
        )
