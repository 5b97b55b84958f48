"""Model files: exact round trips, refusal of every kind of bad file, atomic writes."""

import io
import json
import math
import os
import pathlib
import signal
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import layerwise
from layerwise import (
    Affine,
    BatchNormalization,
    DeepConvNet,
    Dropout,
    MultiLayerNet,
    MultiLayerNetExtend,
    Relu,
    Sequential,
    Sigmoid,
    SimpleConvNet,
    Trainer,
    TwoLayerNet,
)
from layerwise.checkpoints import Checkpoint, checkpoint_network, read_checkpoint_meta
from layerwise.files import (
    ARCHITECTURE_KEY,
    ModelFileError,
    load,
    network_plan,
    open_npz,
    read_npz,
    save,
    write_npz_atomic,
)


def _sequential():
    rng = np.random.default_rng(3)
    dims = [(6, 5), (5, 4), (4, 3)]
    affines = [
        Affine(rng.standard_normal(d).astype(np.float32), rng.standard_normal(d[1]).astype("f4"))
        for d in dims
    ]
    return Sequential(
        affines[0], Sigmoid(), affines[1], Relu(), affines[2], weight_decay_lambda=0.05
    )


NETWORKS = {
    "two_layer_float64": lambda: TwoLayerNet(6, 5, 3, seed=0),
    "two_layer_float32": lambda: TwoLayerNet(6, 5, 3, weight_init_std=0.3, dtype="float32", seed=0),
    "multi_layer_sigmoid_decay": lambda: MultiLayerNet(
        6,
        [7, 5, 4],
        3,
        activation="sigmoid",
        weight_init_std="xavier",
        weight_decay_lambda=0.1,
        seed=1,
    ),
    "sequential": _sequential,
    "extend_batchnorm_dropout": lambda: MultiLayerNetExtend(
        6,
        [7, 5],
        3,
        weight_decay_lambda=0.01,
        use_dropout=True,
        dropout_ration=0.2,
        use_batchnorm=True,
        dtype="float32",
        seed=2,
    ),
    "sequential_batchnorm_dropout": lambda: Sequential(
        Affine(np.full((6, 4), 0.3), np.zeros(4)),
        BatchNormalization(np.ones(4), np.zeros(4), momentum=0.8),
        Relu(),
        Dropout(0.3, inverted=True, seed=5),
        Affine(np.full((4, 3), -0.2), np.zeros(3)),
    ),
}


def _train_a_little(net, x, t):
    # Trained parameters, not the constructor's: a file that saved the config but not the
    # arrays (or loaded them into the wrong layer) would then give different predictions.
    for _ in range(3):
        grads = net.gradient(x, t)
        for key in net.params:
            net.params[key] -= net.params[key].dtype.type(0.5) * grads[key]


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_round_trip_gives_identical_predictions(tmp_path, make):
    rng = np.random.default_rng(0)
    x, t = rng.uniform(-1, 1, (8, 6)), rng.integers(0, 3, 8)
    net = make()
    before = net.state_dict()
    _train_a_little(net, x, t)
    assert any(not np.array_equal(before[k], net.params[k]) for k in before)

    loaded = load(save(net, tmp_path / "net.npz"))

    assert type(loaded) is type(net)
    assert loaded.get_config() == net.get_config()
    assert list(loaded.params) == list(net.params)
    assert list(loaded.buffers) == list(net.buffers)
    assert list(loaded.layers) == list(net.layers)
    saved, restored = net.state_dict(), loaded.state_dict()
    assert list(saved) == list(restored)
    for key, value in saved.items():
        assert restored[key].dtype == value.dtype
        assert np.array_equal(restored[key], value)
    assert all(loaded.params[k] is not net.params[k] for k in net.params)
    assert np.array_equal(loaded.predict(x, train_flg=False), net.predict(x, train_flg=False))
    assert loaded.predict(x).dtype == net.predict(x).dtype
    loaded.set_rng_state(net.get_rng_state())  # Dropout's masks: a checkpoint's business
    assert not loaded.training  # loaded ready for inference (issue 28); net is new: training
    assert loaded.train().loss(x, t) == net.loss(x, t)  # weight decay included
    loaded.set_rng_state(net.get_rng_state())
    grads, loaded_grads = net.gradient(x, t), loaded.gradient(x, t)
    assert all(np.array_equal(grads[k], loaded_grads[k]) for k in grads)


def test_nan_parameters_are_kept(tmp_path):
    net = TwoLayerNet(4, 3, 2, seed=0)
    net.params["W1"][0, 0] = np.nan
    net.params["b2"][1] = np.inf
    loaded = load(save(net, tmp_path / "nan.npz"))
    assert np.array_equal(loaded.params["W1"], net.params["W1"], equal_nan=True)
    assert loaded.params["b2"][1] == np.inf


def test_file_format_is_plain_npz_with_json_description(tmp_path):
    net = TwoLayerNet(4, 3, 2, seed=0)
    path = save(net, str(tmp_path / "net.npz"))  # str accepted, Path returned
    assert path == tmp_path / "net.npz"
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(["W1", "b1", "W2", "b2", ARCHITECTURE_KEY])
        entry = npz[ARCHITECTURE_KEY]
        assert entry.dtype.kind == "U" and entry.ndim == 0
        description = json.loads(entry.item())
        assert np.array_equal(npz["W1"], net.params["W1"])
    assert description == {
        "format": "layerwise-model",
        "version": 2,
        "layerwise": layerwise.__version__,
        "network": net.get_config(),
    }


def test_save_writes_exactly_the_path_given(tmp_path):
    path = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "model")
    assert path == tmp_path / "model"
    assert os.listdir(tmp_path) == ["model"]  # no 'model.npz' as np.savez would make
    assert type(load(tmp_path / "model")) is TwoLayerNet


def test_save_refuses_a_network_the_format_cannot_describe(tmp_path):
    class Doubler:
        def forward(self, x):
            return 2 * x

        def backward(self, dout):
            return 2 * dout

    net = Sequential(Affine(np.ones((2, 2)), np.zeros(2)), Doubler())
    with pytest.raises(ModelFileError, match="cannot save Sequential.*'Doubler'"):
        save(net, tmp_path / "net.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- refusals


@pytest.fixture
def good(tmp_path):
    """The arrays of a valid TwoLayerNet(4, 3, 2) file, as a dict to corrupt."""
    return read_npz(save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "good.npz"))


def _write(path, arrays):
    np.savez(path, **arrays)  # allow_pickle=True by default: lets us write hostile files
    return path


def _describe(arrays):
    return json.loads(arrays[ARCHITECTURE_KEY].item())


def _with_description(arrays, description):
    return {**arrays, ARCHITECTURE_KEY: np.array(json.dumps(description))}


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.mark.parametrize("key", ["W1", ARCHITECTURE_KEY])
def test_file_that_would_run_code_when_unpickled_is_refused(tmp_path, good, key):
    marker = tmp_path / "pwned"
    hostile = np.empty(1, dtype=object)
    hostile[0] = _RunsCodeWhenUnpickled(marker)
    path = _write(tmp_path / "hostile.npz", {**good, key: hostile})
    # The file really is hostile: unpickling it runs the code.
    with np.load(path, allow_pickle=True) as npz:
        npz[key]
    assert marker.exists()
    marker.unlink()

    with pytest.raises(ModelFileError, match="pickled Python objects.*refused for safety") as e:
        load(path)
    assert str(path) in str(e.value)
    assert not marker.exists()


def test_object_array_is_refused(tmp_path, good):
    path = _write(tmp_path / "obj.npz", {**good, "b1": np.array([1.0, "x", None], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        load(path)
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        read_npz(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("W2"), r"missing \['W2'\], unexpected \[\]"),
        (lambda a: a.update(W3=np.zeros((2, 2))), r"missing \[\], unexpected \['W3'\]"),
        (lambda a: a.update(W1=a["W1"].T.copy()), r"'W1' has shape \(3, 4\).*needs \(4, 3\)"),
        (lambda a: a.update(b1=np.zeros((1, 3))), r"'b1' has shape \(1, 3\)"),
        (lambda a: a.update(W1=np.ones((4, 3), dtype=int)), "'W1' has dtype int64"),
        (lambda a: a.update(W2=a["W2"] + 1j), "'W2' has dtype complex128"),
        (lambda a: a.update(b2=a["b2"].astype(np.float32)), "'b2' has dtype float32.*float64"),
        (lambda a: a.update(b2=np.array(["ab", "cd"])), "'b2' has dtype <U2"),
    ],
    ids=["missing", "extra", "transposed", "bias-2d", "int", "complex", "float32", "unicode"],
)
def test_arrays_not_matching_the_description_are_refused(tmp_path, good, change, message):
    change(good)
    path = _write(tmp_path / "bad.npz", good)
    with pytest.raises(ModelFileError, match=message) as e:
        load(path)
    assert str(path) in str(e.value)


def _edit_network(**changes):
    def change(description):
        description["network"].update(changes)

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(version=3), r"format version 3; layerwise \S+ reads version 2"),
        (lambda d: d.update(version=1), r"format version 1; layerwise \S+ reads version 2"),
        (lambda d: d.update(version="1"), "format version '1'"),
        (lambda d: d.update(version=True), "format version True"),
        (lambda d: d.pop("version"), "format version None"),
        (lambda d: d.update(format="other"), "not a 'layerwise-model' description"),
        (lambda d: d.pop("network"), "no 'network' object"),
        (_edit_network(**{"class": "ConvNet"}), "unknown network class 'ConvNet'"),
        (_edit_network(**{"class": ["TwoLayerNet"]}), r"unknown network class \['TwoLayerNet'\]"),
        (_edit_network(input_size=10**12), r"'W1' has shape \(4, 3\).*needs \(1000000000000, 3\)"),
        (_edit_network(hidden_size=0), "hidden_size must be a whole number >= 1, got 0"),
        (_edit_network(hidden_size=3.0), "hidden_size must be a whole number >= 1, got 3.0"),
        (_edit_network(output_size=True), "output_size must be a whole number >= 1, got True"),
        (_edit_network(dtype="int8"), "dtype must be float32 or float64"),
        (_edit_network(seed=0), "invalid.*seed"),
        (_edit_network(extra=1), "invalid.*'extra'"),
        (_edit_network(weight_init_std="big"), "description of the TwoLayerNet is invalid"),
    ],
)
def test_bad_descriptions_are_refused(tmp_path, good, change, message):
    description = _describe(good)
    change(description)
    path = _write(tmp_path / "bad.npz", _with_description(good, description))
    with pytest.raises(ModelFileError, match=message):
        load(path)


def _sequential_description():
    def affine(name, fan_in, fan_out):
        arrays = {"W": [fan_in, fan_out], "b": [fan_out]}
        return {"name": name, "type": "Affine", "config": {}, "arrays": arrays}

    return {
        "class": "Sequential",
        "layers": [
            affine("Affine1", 4, 3),
            {"name": "Relu1", "type": "Relu", "config": {}, "arrays": {}},
            affine("Affine2", 3, 2),
        ],
        "loss": "SoftmaxWithLoss",
        "weight_decay_lambda": 0.0,
        "dtype": "float64",
    }


def _layer(i, part, **changes):
    return lambda c: c["layers"][i][part].update(changes)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: None, None),  # the unchanged description loads: the others are the changes
        (
            lambda c: c["layers"].insert(1, {"type": "Conv", "config": {}, "arrays": {}}),
            "layer 1 has unknown type 'Conv'",
        ),
        (lambda c: c["layers"].append("Relu"), "layer 3 must be an object with 'type'"),
        (_layer(1, "config", alpha=1), "description of the Sequential is invalid.*alpha"),
        (lambda c: c["layers"][0]["arrays"].pop("W"), r"layer 0 \(Affine\) needs arrays"),
        (
            _layer(0, "arrays", W=[10**12, 3]),
            r"'W1' has shape \(4, 3\).*needs \(1000000000000, 3\)",
        ),
        (_layer(2, "arrays", b=[-2]), "layer 2 b must have a shape given as a list of sizes"),
        (_layer(2, "arrays", b=[5]), r"'b2' has shape \(2,\); the description needs \(5,\)"),
        (lambda c: c["layers"][2].update(name="Affine1"), "names are not unique"),
        (lambda c: c.update(layers=[]), "non-empty list of layers"),
        (lambda c: c.update(loss="MSE"), "loss has unknown type 'MSE'"),
        (lambda c: c.update(loss={"a": 1}), "loss has unknown type"),
        (lambda c: c["layers"][1].update(type=["Relu"]), r"unknown type \['Relu'\]"),
        (lambda c: c.update(weight_decay_lambda=-1), "description of the Sequential is invalid"),
        (lambda c: c.update(dtype="int8"), "dtype must be 'float32' or 'float64'"),
    ],
)
def test_bad_sequential_descriptions_are_refused(tmp_path, good, change, message):
    config = _sequential_description()
    change(config)
    description = {"format": "layerwise-model", "version": 2, "network": config}
    path = _write(tmp_path / "seq.npz", _with_description(good, description))
    if message is None:
        assert type(load(path)) is Sequential
    else:
        with pytest.raises(ModelFileError, match=message):
            load(path)


def test_a_sequential_description_at_odds_with_itself_is_refused(tmp_path, good):
    # Shapes that match the file's arrays but not each other: the layer itself says why.
    config = _sequential_description()
    config["layers"][2]["arrays"]["b"] = [5]
    description = {"format": "layerwise-model", "version": 2, "network": config}
    arrays = {**good, "b2": np.zeros(5)}
    path = _write(tmp_path / "seq.npz", _with_description(arrays, description))
    with pytest.raises(ModelFileError, match=r"invalid: Affine: b must have shape \(2,\)"):
        load(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimpleConvNet(
            input_dim=(2, 9, 13),
            conv_param={"filter_num": 3, "filter_size": 3, "pad": 2, "stride": 2},
            hidden_size=4,
            output_size=3,
            use_batchnorm=True,
        ),
        lambda: DeepConvNet(
            input_dim=(3, 8, 16),
            conv_param_2={"filter_num": 5, "filter_size": 1, "pad": 0, "stride": 1},
            conv_param_4={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
            hidden_size=6,
            output_size=2,
            use_batchnorm=True,
            dtype="float32",
        ),
        lambda: MultiLayerNetExtend(3, [4, 5, 2], 2, use_batchnorm=True, use_dropout=True),
        lambda: MultiLayerNet(3, [], 2),
    ],
    ids=["simple-conv", "deep-conv", "extend", "no-hidden"],
)
def test_the_shapes_computed_from_a_description_are_the_networks(tmp_path, make):
    # load compares the headers with shapes computed from the description's sizes, not with a
    # network built from it: those must be the shapes the constructor gives, key for key.
    net = make()
    description = _describe(read_npz(save(net, tmp_path / "net.npz")))
    assert network_plan(description["network"]).arrays() == {
        k: (a.shape, a.dtype) for k, a in net.state_dict().items()
    }


def test_a_description_promising_huge_layers_is_refused_without_allocating(tmp_path):
    # The description says hidden layers of 10**11 units; the arrays are small. The shapes the
    # description implies are computed from its sizes and compared with the headers before any
    # network is built, so nothing is allocated.
    net = MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, use_dropout=True, seed=0)
    arrays = read_npz(save(net, tmp_path / "net.npz"))
    description = _describe(arrays)
    description["network"]["hidden_size_list"] = [10**11]
    path = _write(tmp_path / "huge.npz", _with_description(arrays, description))
    tracemalloc.start()
    try:
        with pytest.raises(
            ModelFileError, match=r"'W1' has shape \(4, 3\).*needs \(4, 100000000000\)"
        ):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.parametrize(
    "entry, message",
    [
        (None, "no '__architecture__' entry"),
        (np.array("{not json"), "not valid JSON"),
        (np.array("[" * 100_000), "not valid JSON"),
        (np.array('["a list"]'), "not a 'layerwise-model' description"),
        (np.array(["{}", "{}"]), "must be a 0-d unicode array"),
        (np.array(b"{}"), "must be a 0-d unicode array"),
        (np.frombuffer(b"{}", dtype=np.uint8), "must be a 0-d unicode array"),
    ],
    ids=["missing", "malformed", "deep", "list", "1-d", "bytes", "uint8"],
)
def test_bad_architecture_entries_are_refused(tmp_path, good, entry, message):
    good.pop(ARCHITECTURE_KEY)
    if entry is not None:
        good[ARCHITECTURE_KEY] = entry
    with pytest.raises(ModelFileError, match=message):
        load(_write(tmp_path / "bad.npz", good))


def test_truncated_files_are_refused(tmp_path):
    data = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz").read_bytes()
    cut_path = tmp_path / "cut.npz"
    for cut in [0, 1, 3, 4, 10, 50, len(data) // 3, len(data) // 2, len(data) - 22, len(data) - 1]:
        cut_path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="cut.npz") as e:
            load(cut_path)
        assert "not an .npz archive" in str(e.value) or "truncated or damaged" in str(e.value)


def test_corrupted_bytes_never_escape_as_other_errors(tmp_path):
    data = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz").read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "flipped.npz"
    for _ in range(300):
        flipped = bytearray(data)
        for i in rng.integers(0, len(data), 3):
            flipped[i] = rng.integers(0, 256)
        path.write_bytes(bytes(flipped))
        try:
            load(path)  # a flip in an unchecked field (a timestamp) may leave a valid file
        except ModelFileError:
            pass


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 100, np.random.default_rng(0).bytes(4096), b"PK\x03\x04" + bytes(200)],
    ids=["empty", "zeros", "random", "zip-signature-only"],
)
def test_files_that_are_not_npz_archives_are_refused(tmp_path, content):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"cannot load model file '.*junk.npz'"):
        load(path)


def test_npy_and_pickle_files_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        load(tmp_path / "a.npy")
    (tmp_path / "p.pkl").write_bytes(b"\x80\x04\x95" + bytes(20))
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        load(tmp_path / "p.pkl")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_npy_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(bytes(96))
    path = _zip(tmp_path / "huge.npz", {"W1.npy": buffer.getvalue()})
    with pytest.raises(ModelFileError, match=r"'W1' is damaged.*\(1000000000000, 1000000\)"):
        read_npz(path)


def test_zip_members_that_are_not_npy_arrays_are_refused(tmp_path):
    path = _zip(tmp_path / "odd.npz", {"W1.npy": _npy_bytes(np.zeros(2)), "notes.txt": b"hi"})
    with pytest.raises(ModelFileError, match="'notes.txt' is not a NumPy .npy array"):
        read_npz(path)


def test_missing_file_raises_file_not_found_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load(tmp_path / "nowhere.npz")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# ---------------------------------------------------------------------- atomic writes


def _crash_mid_write(monkeypatch, exception):
    real = np.lib.format.write_array
    calls = []

    def write_then_crash(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is written whole, the second half-way
            fp.write(b"\x93NUMPY partial")
            raise exception
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)


@pytest.mark.parametrize("exception", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_the_previous_file_and_leaves_no_temp_file(
    tmp_path, monkeypatch, exception
):
    path = save(TwoLayerNet(4, 3, 2, seed=0), tmp_path / "net.npz")
    previous = path.read_bytes()
    _crash_mid_write(monkeypatch, exception)
    with pytest.raises(type(exception)):
        save(TwoLayerNet(4, 3, 2, seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["net.npz"]
    assert type(load(path)) is TwoLayerNet


def test_crash_mid_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    _crash_mid_write(monkeypatch, OSError("disk full"))
    with pytest.raises(OSError, match="disk full"):
        write_npz_atomic(tmp_path / "new.npz", {"a": np.zeros(2), "b": np.ones(2)})
    assert os.listdir(tmp_path) == []


def test_failed_rename_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = write_npz_atomic(tmp_path / "ckpt.npz", {"step": np.array(1)})

    def refuse(src, dst):
        raise PermissionError("replace refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_npz_atomic(path, {"step": np.array(2)})
    monkeypatch.undo()
    assert read_npz(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_data_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_npz_atomic(tmp_path / "x.npz", {"a": np.zeros(3)})
    assert events[:2] == ["fsync", "replace"]
    if sys.platform != "win32":
        assert events == ["fsync", "replace", "fsync"]  # then the directory


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_overwriting_keeps_the_file_permissions(tmp_path):
    path = write_npz_atomic(tmp_path / "x.npz", {"a": np.zeros(3)})
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    write_npz_atomic(path, {"a": np.ones(3)})
    assert path.stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------------- write_npz_atomic / read_npz


def test_write_and_read_npz_round_trip(tmp_path):
    arrays = {
        "step": np.array(12345, dtype=np.int64),
        "lr": np.array(0.01, dtype=np.float32),
        "optimizer": np.array("Adam"),
        "classes": np.array(["T-shirt", "Trouser", "Pullover"]),
        "W": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "file": np.array([1, 2], dtype=np.uint8),  # a name np.savez could not take
        "allow_pickle": np.array(0.5),
    }
    path = write_npz_atomic(str(tmp_path / "ckpt.npz"), arrays)
    assert path == tmp_path / "ckpt.npz"
    loaded = read_npz(path)
    assert list(loaded) == list(arrays)
    for key, value in arrays.items():
        assert isinstance(loaded[key], np.ndarray)
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        assert np.array_equal(loaded[key], value)
    assert loaded["optimizer"].item() == "Adam"
    with np.load(path, allow_pickle=False) as npz:  # any NumPy reads it, without pickle
        assert sorted(npz.files) == sorted(arrays)


def test_read_npz_closes_the_file(tmp_path):
    psutil = pytest.importorskip("psutil")
    path = write_npz_atomic(tmp_path / "ckpt.npz", {"a": np.zeros(3)})
    read_npz(path)
    assert str(path) not in [f.path for f in psutil.Process().open_files()]


def test_read_npz_names_what_it_reads(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="cannot load checkpoint '.*c.npz'"):
        read_npz(tmp_path / "c.npz")
    with pytest.raises(ModelFileError, match="cannot load optimizer state '.*c.npz'"):
        read_npz(tmp_path / "c.npz", what="optimizer state")


def test_write_npz_atomic_refuses_object_arrays_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle"):
        write_npz_atomic(tmp_path / "x.npz", {"a": np.array([{}, []], dtype=object)})
    assert os.listdir(tmp_path) == []


def test_read_npz_always_asks_numpy_not_to_unpickle(tmp_path, monkeypatch):
    # The .npy header check already refuses object arrays; this is the second lock.
    path = write_npz_atomic(tmp_path / "ckpt.npz", {"a": np.zeros(3)})
    real_load, calls = np.load, []

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    read_npz(path)
    assert calls == [False]


def _deflated_zeros_member(zf, name, descr, shape):
    """A real, honest .npy entry of zeros, deflated: 200 MB of it take a few hundred KB on disk."""
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    info = zipfile.ZipInfo(name + ".npy")
    info.compress_type = zipfile.ZIP_DEFLATED  # the file's other entries are stored, as ours
    with zf.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        remaining = math.prod(shape) * np.dtype(descr).itemsize
        chunk = bytes(1 << 20)
        while remaining:
            member.write(chunk[: min(remaining, len(chunk))])
            remaining -= min(remaining, len(chunk))


def test_honest_but_oversized_entry_is_refused_before_it_is_read(tmp_path, good):
    # A zip bomb that does not lie: W1 really holds 200 MB of zeros. The description says W1 is
    # (4, 3), so load refuses the file from the headers alone, without allocating the 200 MB.
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in good.items():
            if name != "W1":
                with zf.open(name + ".npy", "w") as member:
                    np.lib.format.write_array(member, array)
        _deflated_zeros_member(zf, "W1", "<f8", (5000, 5000))
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"'W1' has shape \(5000, 5000\).*needs \(4, 3\)"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_oversized_description_entry_is_refused_before_it_is_read(tmp_path, good):
    path = tmp_path / "big-description.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in good.items():
            if name != ARCHITECTURE_KEY:
                with zf.open(name + ".npy", "w") as member:
                    np.lib.format.write_array(member, array)
        _deflated_zeros_member(zf, ARCHITECTURE_KEY, "<U2000000", ())
    with pytest.raises(ModelFileError, match="0-d unicode array of at most 1048576 bytes"):
        load(path)


def test_open_npz_gives_every_header_before_any_data(tmp_path):
    path = write_npz_atomic(tmp_path / "a.npz", {"small": np.arange(3), "big": np.zeros((50, 2))})
    with open_npz(path) as f:
        assert f.headers == {"small": ((3,), np.dtype(int)), "big": ((50, 2), np.dtype(float))}
        assert f.read("small").tolist() == [0, 1, 2]
    assert list(read_npz(path)) == ["small", "big"]


# ---------------------------------------------------------------- training settings (issue 11)


def test_training_settings_are_kept_beside_the_architecture(tmp_path):
    from layerwise.files import read_training

    net = TwoLayerNet(4, 5, 3, seed=0)
    settings = {"dataset": "fashion-mnist", "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 20}
    path = save(net, tmp_path / "net.npz", training=settings)
    assert read_training(path) == settings
    loaded = load(path)  # load needs only the architecture
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    with np.load(path, allow_pickle=False) as z:
        description = json.loads(z["__architecture__"].item())
    assert description["training"] == settings and description["version"] == 2
    assert read_training(save(net, tmp_path / "plain.npz")) is None


def test_training_settings_must_be_a_json_object(tmp_path):
    from layerwise.files import read_training

    net = TwoLayerNet(4, 5, 3, seed=0)
    with pytest.raises(ModelFileError, match="training must be a dict"):
        save(net, tmp_path / "a.npz", training=["epochs", 3])
    with pytest.raises(ModelFileError, match="not JSON-serialisable"):
        save(net, tmp_path / "b.npz", training={"when": object()})
    arrays = dict(net.state_dict())
    description = {"format": "layerwise-model", "version": 2, "network": net.get_config()}
    arrays["__architecture__"] = np.array(json.dumps({**description, "training": 3}))
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(ModelFileError, match="'training' entry is not an object"):
        read_training(tmp_path / "c.npz")
    assert type(load(tmp_path / "c.npz")).__name__ == "TwoLayerNet"


def test_a_sequentials_input_shape_is_kept_in_the_model_file(tmp_path):
    """Issue 20: a user's conv Sequential lost its input_shape on saving."""
    from layerwise.layers import Convolution, Pooling

    rng = np.random.default_rng(0)
    net = Sequential(
        Convolution.from_sizes(1, 3, 3, stride=2, pad=1, rng=rng),
        Relu(),
        Pooling(2, 2),
        Affine.from_sizes(3 * 4 * 4, 5, rng=rng),
        input_shape=(1, 15, 15),  # 15 -> 8 -> 4: sizes that do not tile
    )
    back = load(save(net, tmp_path / "conv.npz"))
    assert back.input_shape == (1, 15, 15)
    x = rng.standard_normal((2, 1, 15, 15))
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
    # A network without one is saved without one, as before, and loads with None.
    plain = load(save(_sequential(), tmp_path / "plain.npz"))
    assert plain.input_shape is None
    assert "input_shape" not in plain.get_config()
    # A description with a broken input_shape is refused by name.
    for bad in ([1, "28"], "28", [0, 28]):
        config = json.loads(str(np.load(tmp_path / "conv.npz")[ARCHITECTURE_KEY]))
        config["network"]["input_shape"] = bad
        arrays = dict(np.load(tmp_path / "conv.npz"))
        arrays[ARCHITECTURE_KEY] = np.array(json.dumps(config))
        path = _write(tmp_path / "bad.npz", arrays)
        with pytest.raises(ModelFileError, match="input_shape"):
            load(path)


# ---------------------------------------------------------------------- files of earlier versions

DATA = pathlib.Path(__file__).parent / "data"


def test_files_written_before_networks_declared_their_plans_still_load():
    # Written by layerwise at fcae149 (tests/data/make_v2_files.py), when files.py worked out
    # each book network's shapes itself; now the shapes come from each network's plan.
    expected = np.load(DATA / "v2_expected.npz")
    two = load(DATA / "v2_two_layer_net.npz")
    assert type(two) is TwoLayerNet and not two.training
    np.testing.assert_array_equal(two.predict(expected["x"]), expected["two_layer"])
    conv = load(DATA / "v2_simple_conv_net_batchnorm.npz")
    assert type(conv) is SimpleConvNet and "BatchNorm1" in conv.layers
    assert conv.dtype == np.float32
    np.testing.assert_array_equal(conv.predict(expected["x_img"]), expected["simple_conv"])

    checkpoint = DATA / "v2_checkpoint_extend.npz"
    assert type(checkpoint_network(checkpoint)) is MultiLayerNetExtend
    x, t = expected["x"], expected["t"]
    net = MultiLayerNetExtend(
        6, [5], 3, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, seed=3
    )
    trainer = Trainer(net, x, t, x[:10], t[:10], epochs=2, mini_batch_size=5, verbose=False)
    trainer.load_checkpoint(checkpoint).train()  # the second epoch, as the old run trained it
    assert trainer.train_loss_list == expected["resumed_loss"].tolist()
    np.testing.assert_array_equal(trainer.network.params["W1"], expected["resumed_W1"])


# ---------------------------------------------------------------------- regressions


def test_regression_a_compressed_entry_is_refused_unread(tmp_path, good):
    # The reader inflated whatever the zip held, though layerwise writes only stored entries:
    # a small file of deflated zeros matching its description unpacked to gigabytes.
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **good)
    with pytest.raises(ModelFileError, match=f"entry '{ARCHITECTURE_KEY}' is compressed") as e:
        load(path)
    assert str(path) in str(e.value)
    with open_npz(path, "model file") as f:  # the headers alone are still read
        assert f.headers["W1"] == ((4, 3), np.dtype(np.float64))
        with pytest.raises(ModelFileError, match="entry 'W1' is compressed"):
            f.read("W1")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_regression_a_named_pipe_is_refused_at_once(tmp_path):
    # Opening a FIFO blocks until something writes to it: load hung for ever.
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)

    def blocked(signum, frame):
        raise TimeoutError("blocked for 5 s")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(5)
    try:
        for read in (load, read_npz, Checkpoint.read, read_checkpoint_meta):
            with pytest.raises(ModelFileError, match=f"'{path}': it is not a regular file"):
                read(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not pathlib.Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_regression_a_folder_where_no_file_can_be_created_names_the_file_asked_for():
    # /proc is a folder, but no file can be created in it: the error named the temporary
    # file ('/proc/.x.npz.llfiv3za.tmp').
    with pytest.raises(OSError) as e:
        save(TwoLayerNet(4, 3, 2, seed=0), "/proc/x.npz")
    assert e.value.filename == "/proc/x.npz" and ".tmp" not in str(e.value)


@pytest.mark.parametrize("network", [None, {"W1": np.ones(2)}])
def test_regression_saving_what_is_not_a_network_names_it(tmp_path, network):
    """AttributeError: 'NoneType' object has no attribute 'get_config' came out; no file."""
    with pytest.raises(TypeError, match="layerwise.save: network must be a layerwise network"):
        save(network, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
