"""Tests of layerwise.datasets: IDX parsing, the loaders' search and download, the sample.

No test touches the internet: the ``isolated`` fixture points every mirror at a file:// URL
that does not exist, and the download tests serve files from a temporary directory or from
an http.server on 127.0.0.1.
"""

import functools
import gzip
import hashlib
import http.server
import importlib.util
import shutil
import struct
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerwise import datasets
from layerwise.datasets import (
    CLASS_NAMES,
    SAMPLE_PATH,
    DatasetNotFoundError,
    IDXFormatError,
    load_fashion_mnist,
    load_mnist,
    load_sample,
    read_idx,
)

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
ROOT = Path(__file__).resolve().parents[1]
CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


# ------------------------------------------------------------------------------ helpers


def idx_bytes(array):
    """Encode ``array`` as IDX, written independently of the code under test."""
    array = np.asarray(array)
    kind = array.dtype.str[1:]
    header = bytes([0, 0, CODES[kind], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def make_dataset(directory, marker, gz=True, n_train=6, n_test=4):
    """Write a tiny MNIST-shaped dataset whose every pixel equals ``marker``."""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.full((n, 28, 28), marker, dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write(directory / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), gz)
        write(directory / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), gz)
    return directory


def marker_of(result):
    (x_train, _), _ = result
    return int(x_train[0, 0])


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real cache, no $LAYERWISE_DATA, no Debian directory, no reachable mirror."""
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")
    nowhere = (tmp_path / "no-mirror").as_uri() + "/"
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [nowhere])
    monkeypatch.setitem(datasets.MIRRORS, "fashion-mnist", [nowhere])
    for variable in datasets.MIRRORS_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


# ---------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("kind", list(CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (0, 4)])
def test_read_idx_round_trips(tmp_path, gz, kind, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(kind)
    result = read_idx(write(tmp_path / "a.idx", idx_bytes(array), gz))
    assert result.dtype == np.dtype(kind) and result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)


@settings(max_examples=200, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.dtype(k) for k in CODES]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
    ),
    gz=st.booleans(),
)
def test_read_idx_round_trips_any_array(tmp_path_factory, array, gz):
    path = write(tmp_path_factory.mktemp("rt") / "a", idx_bytes(array), gz)
    np.testing.assert_array_equal(read_idx(path), array)  # NaN == NaN here


def test_read_idx_detects_gzip_by_magic_bytes_not_name(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    gz_without_suffix = write(tmp_path / "plain-name", idx_bytes(array), gz=True)
    raw_with_suffix = write(tmp_path / "looks.gz", idx_bytes(array), gz=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
BIGGER = idx_bytes((np.arange(3000) % 251).astype(np.uint8).reshape(3, 1000))


def corrupt_gzip_body(data):
    packed = bytearray(gzip.compress(data, mtime=0))
    packed[15:25] = bytes(10)  # inside the deflate stream
    return bytes(packed)


def bad_crc(data):
    packed = bytearray(gzip.compress(data, mtime=0))
    packed[-8] ^= 0xFF  # the CRC32 trailer
    return bytes(packed)


BAD_FILES = {
    "wrong magic": (b"\x01" + GOOD[1:], "magic"),
    "wrong dtype code": (GOOD[:2] + b"\x0a" + GOOD[3:], "type code 0x0A"),
    "zero dimensions": (GOOD[:3] + b"\x00" + GOOD[4:], "zero dimensions"),
    "header cut short": (GOOD[:9], "header"),
    "empty file": (b"", "too short"),
    "data too short": (GOOD[:-1], "only 23"),
    "data too long": (GOOD + b"\x00", "trailing"),
    "dims disagree with length": (GOOD[:4] + struct.pack(">3I", 2, 3, 5) + GOOD[16:], "(2, 3, 5)"),
    "absurd dims": (bytes([0, 0, 8, 2]) + struct.pack(">2I", 2**31, 2**31), "4,611,686"),
    "truncated gzip": (gzip.compress(BIGGER, mtime=0)[:-20], "gzip"),
    "corrupt gzip": (corrupt_gzip_body(BIGGER), "gzip"),
    "gzip CRC mismatch": (bad_crc(GOOD), "gzip"),
    "gzip of wrong magic": (gzip.compress(b"\x01" + GOOD[1:]), "magic"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_read_idx_rejects_bad_files_with_clear_error(tmp_path, name):
    data, fragment = BAD_FILES[name]
    path = write(tmp_path / "bad.idx", data)
    with pytest.raises(IDXFormatError, match="bad.idx") as info:
        read_idx(path)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        bytes([0, 0, 8, 2]) + struct.pack(">2I", 2**31, 2**31) + bytes(1000),
        gzip.compress(bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**16, 2**16, 2**16)),
        # Passes the compression-ratio bound (claims 1 GB from a ~1 MB file of random
        # bytes) but holds ~1 MB: memory must follow the data, not the claim.
        gzip.compress(
            bytes([0, 0, 8, 2])
            + struct.pack(">2I", 2**15, 2**15)
            + np.random.default_rng(0).bytes(2**20)
        ),
    ],
    ids=["raw 2**62 bytes", "gzip 2**51 bytes", "gzip 1 GB plausible"],
)
def test_read_idx_huge_claims_do_not_allocate(tmp_path, data):
    path = write(tmp_path / "huge.idx", data)
    tracemalloc.start()
    try:
        with pytest.raises(IDXFormatError):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak:,} bytes"


# ------------------------------------------------------------------------ fuzzing


@functools.cache
def real_idx_files():
    """Small IDX files made of the first images and labels of Debian's Fashion-MNIST."""
    images = read_idx(DEBIAN / "t10k-images-idx3-ubyte.gz")[:3]
    labels = read_idx(DEBIAN / "t10k-labels-idx1-ubyte.gz")[:40]
    return idx_bytes(images), idx_bytes(labels)


@st.composite
def mutated(draw, gz):
    data = draw(st.sampled_from(real_idx_files()))
    if draw(st.booleans()):
        # Re-label the real bytes as another valid type and shape, so that many fuzzed
        # files are still readable and the accepted-file path is exercised too.
        body = data[4 + 4 * data[3] :]
        kind = draw(st.sampled_from(list(CODES)))
        n = len(body) // np.dtype(kind).itemsize
        dims = draw(st.sampled_from([(n,), (1, n), (n, 1, 1)]))
        data = idx_bytes(np.frombuffer(body[: n * np.dtype(kind).itemsize], kind).reshape(dims))
    data = bytearray(data)
    if gz and draw(st.booleans()):
        data = bytearray(gzip.compress(bytes(data), mtime=0))  # mutate the compressed bytes
        gz = False
    for _ in range(draw(st.integers(0, 3))):
        # Half the edits hit the 16-byte header, where the interesting failures live.
        high = 15 if draw(st.booleans()) else len(data) - 1
        if data:
            data[draw(st.integers(0, min(high, len(data) - 1)))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    if draw(st.booleans()):
        data += draw(st.binary(min_size=1, max_size=8))
    return gzip.compress(bytes(data), mtime=0) if gz else bytes(data)


def check_fuzzed(directory, data):
    path = write(directory / "fuzz.idx", data)
    try:
        array = read_idx(path)
    except ValueError:  # IDXFormatError, the documented error; any other type fails
        return
    # Accepted: the array must be exactly what the (decompressed) header and data say.
    payload = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    ndim = payload[3]
    dims = struct.unpack(f">{ndim}I", payload[4 : 4 + 4 * ndim])
    kind = {code: kind for kind, code in CODES.items()}[payload[2]]
    assert payload[:2] == b"\x00\x00"
    assert array.shape == dims
    assert array.dtype == np.dtype(kind)
    big = array.astype(array.dtype.newbyteorder(">"))
    assert big.tobytes() == payload[4 + 4 * ndim :]


@settings(max_examples=2000, deadline=None)
@given(data=mutated(gz=False))
def test_fuzz_read_idx_raw(tmp_path_factory, data):
    check_fuzzed(tmp_path_factory.getbasetemp(), data)


@settings(max_examples=1500, deadline=None)
@given(data=mutated(gz=True))
def test_fuzz_read_idx_gzip(tmp_path_factory, data):
    check_fuzzed(tmp_path_factory.getbasetemp(), data)


# --------------------------------------------------------------- Debian Fashion-MNIST


def test_debian_fashion_mnist_in_book_format(isolated):
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(data_dir=DEBIAN, download=False)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    assert t_train.shape == (60000,) and t_test.shape == (10000,)
    assert t_train.dtype == np.uint8 and set(np.unique(t_train)) == set(range(10))
    assert t_train[0] == 9 and CLASS_NAMES[t_train[0]] == "Ankle boot"


def test_debian_fashion_mnist_found_by_default_search(isolated, monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", DEBIAN)
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(
        normalize=False, flatten=False, one_hot_label=True, download=False
    )
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    assert t_train.shape == (60000, 10) and t_test.shape == (10000, 10)
    assert t_train.dtype == np.float32
    np.testing.assert_array_equal(t_train.sum(axis=1), 1.0)
    assert t_train[0].argmax() == 9


# ------------------------------------------------------------------ search order


def test_search_order(isolated, monkeypatch):
    data_dir = make_dataset(isolated / "given", 1)
    env = isolated / "env"
    make_dataset(env / "fashion-mnist", 2)
    make_dataset(env, 3, gz=False)
    make_dataset(isolated / "cache" / "layerwise" / "fashion-mnist", 4)
    make_dataset(isolated / "debian", 5)
    monkeypatch.setenv("LAYERWISE_DATA", str(env))

    def loaded(**kw):
        return marker_of(load_fashion_mnist(normalize=False, download=False, **kw))

    assert loaded(data_dir=data_dir) == 1  # data_dir beats everything
    assert loaded() == 2  # then $LAYERWISE_DATA/<name>
    shutil.rmtree(env / "fashion-mnist")
    assert loaded() == 3  # then $LAYERWISE_DATA itself
    monkeypatch.delenv("LAYERWISE_DATA")
    assert loaded() == 4  # then the user cache
    shutil.rmtree(isolated / "cache")
    assert loaded() == 5  # then Debian's directory (Fashion-MNIST only)
    shutil.rmtree(data_dir)
    assert loaded(data_dir=data_dir) == 5  # a data_dir without the files falls through


def test_mnist_uses_its_own_subfolder_and_cache(isolated, monkeypatch):
    make_dataset(isolated / "env" / "mnist", 7)
    make_dataset(isolated / "cache" / "layerwise" / "mnist", 8)
    make_dataset(isolated / "debian", 9)  # never used for MNIST
    monkeypatch.setenv("LAYERWISE_DATA", str(isolated / "env"))
    assert marker_of(load_mnist(normalize=False, download=False)) == 7
    monkeypatch.delenv("LAYERWISE_DATA")
    assert marker_of(load_mnist(normalize=False, download=False)) == 8
    shutil.rmtree(isolated / "cache")
    with pytest.raises(DatasetNotFoundError):
        load_mnist(download=False)


def test_small_dataset_shapes_and_dtypes(isolated):
    data_dir = make_dataset(isolated / "d", 255, gz=False)
    (x, t), (x_test, t_test) = load_mnist(one_hot_label=True, data_dir=data_dir)
    assert x.shape == (6, 784) and x.dtype == np.float32 and x.max() == 1.0
    assert x_test.shape == (4, 784)
    np.testing.assert_array_equal(t, np.eye(10, dtype=np.float32)[np.arange(6)])
    (x, t), _ = load_mnist(normalize=False, flatten=False, data_dir=data_dir)
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.uint8
    assert t.dtype == np.uint8 and t.tolist() == list(range(6))


def test_error_lists_every_place_looked(isolated, monkeypatch):
    monkeypatch.setenv("LAYERWISE_DATA", str(isolated / "env"))
    partial = make_dataset(isolated / "partial", 1)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(data_dir=partial, download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for place in (
        partial,
        isolated / "env" / "fashion-mnist",
        isolated / "env",
        isolated / "cache" / "layerwise" / "fashion-mnist",
        isolated / "debian",
    ):
        assert f"{place}:" in message
    assert "missing t10k-labels-idx1-ubyte" in message
    assert "download=False" in message
    assert "LAYERWISE_DATA" in message and "apt-get install dataset-fashion-mnist" in message


def test_error_lists_every_mirror_tried(isolated, monkeypatch):
    mirrors = [(isolated / f"gone{i}").as_uri() + "/" for i in (1, 2)]
    monkeypatch.setitem(datasets.MIRRORS, "mnist", mirrors)
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist()
    message = str(info.value)
    for mirror in mirrors:
        assert mirror + "train-images-idx3-ubyte.gz" in message
    assert "$LAYERWISE_DATA: not set" in message
    assert "apt-get" not in message  # that advice is for Fashion-MNIST only
    cache = isolated / "cache" / "layerwise" / "mnist"
    assert str(cache) in message
    assert list(cache.iterdir()) == []


def test_bad_file_found_is_reported_not_skipped(isolated):
    data_dir = make_dataset(isolated / "d", 1)
    write(data_dir / "train-labels-idx1-ubyte.gz", idx_bytes(np.arange(5, dtype=np.uint8)), True)
    with pytest.raises(IDXFormatError, match="5 labels .* for 6 images"):
        load_mnist(data_dir=data_dir)


# ------------------------------------------------------------------------- downloads


@pytest.fixture
def served(isolated, monkeypatch):
    """A directory of good .gz files, their MD5s installed in ``datasets.MD5``."""
    source = make_dataset(isolated / "served", 42)
    for path in source.iterdir():
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        monkeypatch.setitem(datasets.MD5["mnist"], path.name, digest)
    return source


def test_download_falls_back_to_second_mirror_and_caches(isolated, served, monkeypatch):
    mirrors = [(isolated / "gone").as_uri() + "/", served.as_uri() + "/"]
    monkeypatch.setitem(datasets.MIRRORS, "mnist", mirrors)
    assert marker_of(load_mnist(normalize=False)) == 42
    cache = isolated / "cache" / "layerwise" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(p.name for p in served.iterdir())
    shutil.rmtree(served)  # now only the cache has the files
    assert marker_of(load_mnist(normalize=False, download=False)) == 42


def test_mirrors_variable_replaces_the_mirrors_and_progress_names_each_file(
    isolated, served, monkeypatch, capsys
):
    gone = (isolated / "gone").as_uri()
    monkeypatch.setenv("LAYERWISE_MNIST_MIRRORS", f" {gone}, {served.as_uri()}/\n")
    assert datasets.mirrors("mnist") == [gone + "/", served.as_uri() + "/"]
    assert datasets.mirrors("fashion-mnist") == datasets.MIRRORS["fashion-mnist"]
    files = datasets.locate("mnist", progress=True)
    assert marker_of(datasets.read_dataset(files, normalize=False)) == 42
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"layerwise: downloading {gone}/train-images-idx3-ubyte.gz ..."
    assert err[1].startswith("layerwise:   failed: ")
    assert err[2] == f"layerwise: downloading {served.as_uri()}/train-images-idx3-ubyte.gz ..."
    assert err[3].startswith("layerwise:   ") and err[3].endswith("MD5 checked")
    assert len(err) == 4 * 4  # each file: the dead mirror tried, then the good one
    load_mnist()  # from the cache now; and without progress=True, silent
    assert capsys.readouterr().err == ""


def test_checksum_mismatch_leaves_nothing(isolated, served, monkeypatch):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [served.as_uri() + "/"])
    monkeypatch.setitem(datasets.MD5["mnist"], "train-images-idx3-ubyte.gz", "0" * 32)
    with pytest.raises(DatasetNotFoundError, match="MD5 checksum mismatch"):
        load_mnist()
    cache = isolated / "cache" / "layerwise" / "mnist"
    assert not (cache / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in cache.iterdir() if "train-images" in p.name]  # no .part either


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(self.path.rsplit("/", 1)[-1])
        if body is None or self.path.startswith("/missing/"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncating server promises the whole file, then hangs up halfway.
        self.wfile.write(body[: len(body) // 2] if self.path.startswith("/cut/") else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(served):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files = {p.name: p.read_bytes() for p in served.iterdir()}
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_download_after_404_mirror(isolated, http_server, monkeypatch):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [http_server + "/missing/", http_server + "/"])
    assert marker_of(load_mnist(normalize=False)) == 42
    assert (isolated / "cache" / "layerwise" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_interrupted_http_transfer_leaves_nothing(isolated, http_server, monkeypatch):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [http_server + "/cut/"])
    with pytest.raises(DatasetNotFoundError, match="interrupted") as info:
        load_mnist()
    assert http_server + "/cut/train-images-idx3-ubyte.gz" in str(info.value)
    assert list((isolated / "cache" / "layerwise" / "mnist").iterdir()) == []


# ---------------------------------------------------------------------------- sample


def test_sample_shapes_dtypes_and_classes():
    assert SAMPLE_PATH.stat().st_size <= 3 * 10**6
    (x_train, t_train), (x_test, t_test) = load_sample()
    assert x_train.shape == (5000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert t_train.dtype == np.uint8 and t_train.shape == (5000,)
    np.testing.assert_array_equal(np.bincount(t_train), [500] * 10)
    np.testing.assert_array_equal(np.bincount(t_test), [100] * 10)
    assert t_train[0] == 9  # the first image of the training file is kept


def test_sample_options():
    (x, t), (x_test, t_test) = load_sample(normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.uint8
    assert t.shape == (5000, 10) and t.dtype == np.float32
    assert t_test.shape == (1000, 10) and x_test.shape == (1000, 1, 28, 28)


def test_sample_is_rebuilt_byte_for_byte_from_debian_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "tools" / "make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    out = tmp_path / "sample.npz"
    make_sample.main(["--source", str(DEBIAN), "--out", str(out)])
    assert out.read_bytes() == SAMPLE_PATH.read_bytes()


# ---------------------------------------------------------------- issue 11: one folder only


def test_find_files_looks_in_that_folder_only(isolated, monkeypatch):
    """The command line's ``--dataset DIR``: nothing else is searched, whatever else holds
    the files (``load_mnist(data_dir=...)`` falls through to them, as documented)."""
    monkeypatch.setenv("LAYERWISE_DATA", str(make_dataset(isolated / "env", 2)))
    make_dataset(isolated / "cache" / "layerwise" / "mnist", 3)
    empty = isolated / "empty"
    empty.mkdir()
    assert datasets.find_files(empty) == ({}, list(datasets.FILES.values()))
    partial = make_dataset(isolated / "partial", 1, gz=False)
    (partial / "t10k-images-idx3-ubyte").unlink()
    found, missing = datasets.find_files(partial)
    assert missing == ["t10k-images-idx3-ubyte"]
    assert found["train_img"] == partial / "train-images-idx3-ubyte"
    assert marker_of(load_mnist(normalize=False, data_dir=empty)) == 2  # the library's fallback


def test_locate_then_read_dataset_is_load_mnist(isolated, monkeypatch):
    make_dataset(isolated / "env" / "mnist", 7)
    monkeypatch.setenv("LAYERWISE_DATA", str(isolated / "env"))
    files = datasets.locate("mnist", download=False)
    assert set(files) == set(datasets.FILES)
    assert {path.parent for path in files.values()} == {isolated / "env" / "mnist"}
    (x, t), (x_test, t_test) = datasets.read_dataset(files, normalize=False)
    expected = load_mnist(normalize=False, download=False)
    for got, want in zip((x, t, x_test, t_test), (*expected[0], *expected[1]), strict=True):
        np.testing.assert_array_equal(got, want)


def test_not_found_error_keeps_the_places_looked_in_apart_from_the_advice(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.locate("fashion-mnist", download=False)
    looked = info.value.looked
    assert looked.startswith("Looked in:\n") and "(download=False)" in looked
    assert str(isolated / "debian") in looked and "data_dir" not in looked
    assert str(info.value).startswith(f"fashion-mnist not found.\n{looked}\n")
    assert "data_dir=" in str(info.value)  # the library's advice, for Python callers
