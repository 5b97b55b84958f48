"""The sequel's model files (layerwise.sequel.model_files): round trips and hostile files."""

import json
import os
import signal
import tracemalloc
import zipfile

import numpy as np
import pytest

from layerwise.container import ModelFileError, read_npz
from layerwise.sequel.model_files import (
    DESCRIPTION_KEY,
    MODEL_CLASSES,
    is_sequel_model_file,
    load_model,
    param_shapes,
    read_model_file,
    save_model,
)
from layerwise.sequel.rnnlm import Rnnlm
from layerwise.sequel.rnnlm_gen import BetterRnnlmGen

CHARS = list("0123456789+ _")
WORDS = [f"w{i}" for i in range(13)]


WORD2VEC = ("CBOW", "SkipGram")


def _make(name, dtype=np.float32, seed=0):
    entry = MODEL_CLASSES[name]
    if name in WORD2VEC:  # window 2; the corpus a file's model is rebuilt on: each word once
        return entry.cls(13, 5, 2, np.arange(13), seed=seed, dtype=dtype)
    extra = {"dropout_ratio": 0.25} if name == "BetterRnnlm" else {}
    D = 6 if name == "BetterRnnlm" else 5
    return entry.cls(13, D, 6, seed=seed, dtype=dtype, **extra)


def _inputs(name):
    rng = np.random.default_rng(1)
    if MODEL_CLASSES[name].is_seq2seq:
        return rng.integers(0, 13, (3, 7)), rng.integers(0, 13, (3, 5))
    if name in WORD2VEC:
        return rng.integers(0, 13, (3, 4)), rng.integers(0, 13, 3)
    return rng.integers(0, 13, (2, 4)), rng.integers(0, 13, (2, 4))


@pytest.mark.parametrize("name", list(MODEL_CLASSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_rebuilds_the_model_bit_for_bit(tmp_path, name, dtype):
    model = _make(name, dtype)
    seq2seq = MODEL_CLASSES[name].is_seq2seq
    sequence = {"question_width": 7, "answer_width": 5, "reversed": True} if seq2seq else None
    path = save_model(
        model, tmp_path / "m.npz", vocab=CHARS if seq2seq else WORDS, sequence=sequence,
        training={"epochs": 3},
    )  # fmt: skip
    loaded = read_model_file(path)
    assert type(loaded.model) is type(model) and loaded.class_name == name
    assert loaded.vocab == (CHARS if seq2seq else WORDS)
    assert loaded.sequence == sequence and loaded.training == {"epochs": 3}
    for p, q in zip(model.params, loaded.model.params, strict=True):
        assert p.dtype == q.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(p, q)
    xs, ts = _inputs(name)
    if name == "BetterRnnlm":  # dropout off: the same loss bit for bit
        assert model.forward(xs, ts, train_flg=False) == loaded.model.forward(xs, ts, False)
    elif name in WORD2VEC:  # the same negatives drawn: the same loss bit for bit
        assert loaded.config["window_size"] == 2
        np.testing.assert_array_equal(loaded.model.word_vecs, model.word_vecs)
        state = model.ns_loss.sampler.rng.bit_generator.state
        loaded.model.ns_loss.sampler.rng.bit_generator.state = state
        assert model.forward(xs, ts) == loaded.model.forward(xs, ts)
    else:
        assert model.forward(xs, ts) == loaded.model.forward(xs, ts)
    assert is_sequel_model_file(path)


@pytest.mark.parametrize("name", list(MODEL_CLASSES))
def test_the_shapes_computed_from_the_sizes_are_the_models(name):
    model = _make(name)
    config = {"vocab_size": 13, "wordvec_size": model.params[0].shape[1], "hidden_size": 6}
    if name in WORD2VEC:
        config = {"vocab_size": 13, "hidden_size": 5, "window_size": 2}
    if name == "BetterRnnlm":
        config["dropout_ratio"] = 0.25
    assert param_shapes(name, config) == [p.shape for p in model.params]


def test_a_tied_model_keeps_its_tie_and_a_subclass_is_saved_as_its_base(tmp_path):
    model = BetterRnnlmGen(13, 6, 6, seed=0)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert type(loaded).__name__ == "BetterRnnlm"
    assert np.shares_memory(loaded.params[0], loaded.params[7])  # embed W and affine W = W.T
    assert loaded.drop_layers[0].dropout_ratio == 0.5


def test_save_refuses_what_load_would_refuse(tmp_path):
    with pytest.raises(TypeError, match="not one of the sequel's models"):
        save_model(object(), tmp_path / "m.npz")
    with pytest.raises(ValueError, match="has 3 entries, the model's vocab_size is 13"):
        save_model(_make("Rnnlm"), tmp_path / "m.npz", vocab=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"the vocabulary's ids are not 0 \.\. 1"):
        save_model(_make("Rnnlm"), tmp_path / "m.npz", vocab={0: "a", 2: "b"})
    with pytest.raises(ValueError, match="single characters"):
        save_model(_make("Seq2seq"), tmp_path / "m.npz", vocab=WORDS)
    with pytest.raises(ValueError, match="for seq2seq models, not a Rnnlm"):
        save_model(_make("Rnnlm"), tmp_path / "m.npz", sequence={"reversed": True})
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------- hostile files


@pytest.fixture
def good(tmp_path):
    """The arrays of a valid BetterRnnlm file with a vocabulary, as a dict to corrupt."""
    return read_npz(save_model(_make("BetterRnnlm"), tmp_path / "good.npz", vocab=WORDS))


def _write(path, arrays):
    np.savez(path, **arrays)  # allow_pickle=True by default: lets us write hostile files
    return path


def _edited(arrays, edit):
    description = json.loads(arrays[DESCRIPTION_KEY].item())
    edit(description)
    return {**arrays, DESCRIPTION_KEY: np.array(json.dumps(description))}


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.mark.parametrize("key", ["params/0", "vocab", DESCRIPTION_KEY])
def test_a_file_that_would_run_code_when_unpickled_is_refused(tmp_path, good, key):
    marker = tmp_path / "pwned"
    hostile = np.empty(1, dtype=object)
    hostile[0] = _RunsCodeWhenUnpickled(marker)
    path = _write(tmp_path / "hostile.npz", {**good, key: hostile})
    with np.load(path, allow_pickle=True) as npz:  # the file really runs code when unpickled
        npz[key]
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ModelFileError, match="pickled Python objects.*refused for safety") as e:
        load_model(path)
    assert str(path) in str(e.value) and not marker.exists()
    assert not is_sequel_model_file(path)


def _set(section, **values):
    def edit(description):
        (description[section] if section else description).update(values)

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set(None, **{"class": "os.system"}), "'class' is 'os.system', not one of the sequel"),
        (_set(None, **{"class": ["Rnnlm"]}), "not one of the sequel's models"),
        (_set(None, dtype="object"), "'dtype' is 'object'"),
        (_set(None, config=[1, 2]), "'config' is not a JSON object"),
        (_set("config", vocab_size="13"), "vocab_size must be a whole number"),
        (_set("config", vocab_size=13.0), "vocab_size must be a whole number"),
        (_set("config", hidden_size=True), "hidden_size must be a whole number"),
        (_set("config", wordvec_size=0), "wordvec_size must be a whole number >= 1"),
        (_set("config", dropout_ratio=1.5), "dropout_ratio"),
        (_set("config", layers=3), r"'config' has .*'layers'"),
        (_set("config", wordvec_size=5), "wordvec_size must equal hidden_size"),
        (_set(None, version=99), "version 99.*upgrade layerwise"),
        (_set(None, format="layerwise-model"), "not a 'layerwise-sequel-model' description"),
        (_set(None, training=[1]), "'training' must be a JSON object"),
        (_set(None, sequence={"reversed": True}), "'sequence' is for seq2seq models"),
    ],
    ids=[
        "unknown-class", "class-list", "dtype", "config-list", "size-str", "size-float",
        "size-bool", "size-0", "dropout", "extra-size", "untied", "version", "format",
        "training", "sequence",
    ],
)  # fmt: skip
def test_bad_descriptions_are_refused_by_name(tmp_path, good, edit, message):
    path = _write(tmp_path / "bad.npz", _edited(good, edit))
    with pytest.raises(ModelFileError, match=message) as e:
        load_model(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize(
    "entry, message",
    [
        (None, f"no '{DESCRIPTION_KEY}' entry"),
        (np.array("{not json"), "not valid JSON"),
        (np.array("[" * 100_000), "not valid JSON"),
        (np.array(["{}", "{}"]), "must be a 0-d unicode array"),
        (np.frombuffer(b"{}", dtype=np.uint8), "must be a 0-d unicode array"),
    ],
    ids=["missing", "malformed", "deep", "1-d", "uint8"],
)
def test_bad_description_entries_are_refused(tmp_path, good, entry, message):
    good.pop(DESCRIPTION_KEY)
    if entry is not None:
        good[DESCRIPTION_KEY] = entry
    with pytest.raises(ModelFileError, match=message):
        load_model(_write(tmp_path / "bad.npz", good))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("params/3"), r"missing \['params/3'\], unexpected \[\]"),
        (lambda a: a.update({"params/9": np.zeros(2, np.float32)}), r"unexpected \['params/9'\]"),
        (lambda a: a.update(extra=np.zeros(2)), r"unexpected \['extra'\]"),
        (lambda a: a.update({"params/1": a["params/1"].T.copy()}), r"'params/1' has shape \(24,"),
        (lambda a: a.update({"params/2": a["params/2"].astype(np.float64)}), "dtype float64"),
        (lambda a: a.update({"params/3": np.arange(24)}), "dtype int64"),
        (lambda a: a.update({"params/7": a["params/7"] + 1}), "params/0 and params/7 are one"),
        (lambda a: a.update(vocab=np.array(WORDS[:5])), r"must be 13 strings.*\(5,\)"),
        (lambda a: a.update(vocab=np.arange(13)), "must be 13 strings"),
        (lambda a: a.update(vocab=np.array(WORDS[:12] + ["w0"])), r"repeats \['w0'\]"),
    ],
    ids=[
        "missing", "extra-param", "extra-entry", "transposed", "float64", "int", "untied",
        "vocab-short", "vocab-int", "vocab-repeated",
    ],
)  # fmt: skip
def test_arrays_not_matching_the_description_are_refused(tmp_path, good, change, message):
    change(good)
    path = _write(tmp_path / "bad.npz", good)
    with pytest.raises(ModelFileError, match=message) as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_a_description_promising_a_huge_model_is_refused_without_allocating(tmp_path, good):
    # 10**11 words of 10**5 dimensions: the shapes are computed from the sizes and compared
    # with the headers before any model is built.
    huge = _set("config", vocab_size=10**11, wordvec_size=10**5, hidden_size=10**5)
    path = _write(tmp_path / "huge.npz", _edited(good, huge))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"'params/0' has shape \(13, 6\)"):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_a_seq2seq_vocabulary_must_be_characters(tmp_path):
    arrays = read_npz(save_model(_make("Seq2seq"), tmp_path / "s.npz", vocab=CHARS))
    arrays["vocab"] = np.array(WORDS)
    with pytest.raises(ModelFileError, match="single characters"):
        load_model(_write(tmp_path / "bad.npz", arrays))


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"\x80\x04K\x01."])
def test_files_that_are_not_npz_archives_are_refused(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        load_model(path)


def test_truncated_files_are_refused(tmp_path):
    path = save_model(_make("AttentionSeq2seq"), tmp_path / "m.npz")
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            load_model(path)


def test_a_missing_file_is_file_not_found_and_a_run_folder_gives_its_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "none.npz")
    with pytest.raises(FileNotFoundError, match="a folder without model.npz"):
        load_model(tmp_path)
    save_model(_make("Rnnlm"), tmp_path / "model.npz")
    assert type(load_model(tmp_path)).__name__ == "Rnnlm"


# ---------------------------------------------------------------------- regressions


def test_regression_a_compressed_entry_is_refused_unread(tmp_path, good):
    # layerwise writes its entries stored; a deflated one can unpack to far more than the
    # file's size (300 KB of deflated zeros describing Rnnlm(1_500_000, 50, 1) peaked at
    # 1.76 GB), so it is refused before it is read, naming the file and the entry.
    path = tmp_path / "deflated.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in good.items():
            info = zipfile.ZipInfo(name + ".npy")
            if name == "params/0":
                info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as member:
                np.lib.format.write_array(member, array)
    with pytest.raises(ModelFileError, match="entry 'params/0' is compressed") as e:
        load_model(path)
    assert str(path) in str(e.value)
    np.savez_compressed(tmp_path / "all.npz", **good)
    with pytest.raises(ModelFileError, match=f"entry '{DESCRIPTION_KEY}' is compressed"):
        read_model_file(tmp_path / "all.npz")


def test_regression_loading_holds_the_model_and_one_array_not_every_array(tmp_path):
    # The arrays were all read before any was copied into the model: 5.7 times the model's
    # size at the peak. Now each is dropped once copied; what remains is the constructor's
    # float64 draw of the largest weight before its cast (about 3 times).
    model = Rnnlm(20_000, 50, 1, seed=0)
    path = save_model(model, tmp_path / "m.npz")
    size = sum(p.nbytes for p in model.params)
    tracemalloc.start()
    try:
        loaded = load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * size
    for p, q in zip(model.params, loaded.params, strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    "name, vocab, position",
    [
        ("Rnnlm", ["a", "b\x00", "c"], 1),  # read back as 'b'
        ("Rnnlm", ["a", "a\x00", "b"], 1),  # read back as a repeated 'a'
        ("Seq2seq", ["a", "b", "\x00"], 2),  # read back as '', not a character
    ],
    ids=["changed", "repeated", "empty-char"],
)
def test_regression_save_refuses_a_word_ending_in_nul(tmp_path, name, vocab, position):
    # NumPy's str arrays drop trailing NULs: such a vocabulary was saved, then read back
    # changed without a word or refused on loading.
    model = MODEL_CLASSES[name].cls(3, 4, 5, seed=0)
    with pytest.raises(ValueError, match=rf"vocab\[{position}\] .* ends in '\\x00'"):
        save_model(model, tmp_path / "m.npz", vocab=vocab)
    assert not (tmp_path / "m.npz").exists()


def test_regression_a_float16_description_is_refused_as_a_bad_description(tmp_path, good):
    # It passed the description check, then the constructor's bare InvalidParameterError
    # ("Rnnlm: dtype must be float32 or float64") did not name the file.
    path = _write(tmp_path / "f16.npz", _edited(good, _set(None, dtype="float16")))
    with pytest.raises(ModelFileError, match="'dtype' is 'float16', not one of float32") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_regression_sizes_the_constructor_refuses_are_a_model_file_error(tmp_path):
    # A CBOW of 3 words cannot draw 5 distinct negatives: the UnigramSampler's plain
    # ValueError did not name the file.
    arrays = read_npz(save_model(_make("CBOW"), tmp_path / "c.npz"))
    arrays = _edited(arrays, _set("config", vocab_size=3))
    arrays.update({k: v[:3] for k, v in arrays.items() if k.startswith("params/")})
    path = _write(tmp_path / "small.npz", arrays)
    with pytest.raises(ModelFileError, match=r"its CBOW\(vocab_size=3, .*\) cannot be built") as e:
        load_model(path)
    assert str(path) in str(e.value) and "at least 6 words" in str(e.value)
    assert isinstance(e.value.__cause__, ValueError)


def _within(seconds, call):
    """``call()``, failing instead of hanging if it blocks for ``seconds``."""

    def blocked(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(seconds)
    try:
        return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_regression_a_named_pipe_is_refused_at_once(tmp_path):
    # Opening a FIFO blocks until something writes to it: loading hung for ever.
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    for read in (load_model, read_model_file):
        with pytest.raises(ModelFileError, match="not a regular file") as e:
            _within(5, lambda read=read: read(path))
        assert str(path) in str(e.value)
    assert _within(5, lambda: is_sequel_model_file(path)) is False
