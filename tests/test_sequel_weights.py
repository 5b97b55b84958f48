"""The sequel's weight files: layerwise's own ``save_params`` file, the sequel's float16
pickles read without running anything, word vectors, and what is refused and why."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from layerwise.book_weights import RefusedPickleError
from layerwise.container import ModelFileError
from layerwise.sequel.optimizer import SGD
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm
from layerwise.sequel.trainer import remove_duplicate
from layerwise.sequel.weights import load_pickled_params, load_word_vectors, save_word_vectors

V, D, H = 11, 6, 6
XS = np.random.default_rng(5).integers(0, V, size=(3, 4))


def trained(cls, seed=0, steps=3):
    """A model a few SGD steps away from its initialisation (biases no longer zero)."""
    model = cls(V, D, H, seed=seed)
    rng = np.random.default_rng(seed)
    optimizer = SGD(lr=0.5)
    for _ in range(steps):
        xs, ts = rng.integers(0, V, size=(2, 2, 5))
        model.forward(xs, ts)
        model.backward()
        optimizer.update(*remove_duplicate(model.params, model.grads))
    model.reset_state()
    return model


def book_save_params(model, path, protocol):
    """The sequel's ``BaseModel.save_params``, line for line (with a chosen protocol)."""
    params = [p.astype(np.float16) for p in model.params]
    with open(path, "wb") as f:
        pickle.dump(params, f, protocol)


class Hostile:
    """Unpickling this runs ``os.system``: what a malicious weights file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("cls", [Rnnlm, BetterRnnlm])
def test_book_pickle_loads_and_predicts_the_same(tmp_path, cls, protocol):
    source = trained(cls)
    path = tmp_path / f"{cls.__name__}.pkl"
    book_save_params(source, path, protocol)
    # The sequel's load_params: params[i][...] = pickled[i].astype('f')
    for p in source.params:
        p[...] = p.astype(np.float16)
    model = cls(V, D, H, seed=99)
    model.load_params(path)
    for ours, theirs in zip(model.params, source.params, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(model.predict(XS), source.predict(XS))


def test_book_pickle_default_name_is_the_class_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = trained(Rnnlm)
    book_save_params(source, "Rnnlm.pkl", pickle.DEFAULT_PROTOCOL)
    model = Rnnlm(V, D, H, seed=1)
    model.load_params()
    np.testing.assert_array_equal(model.params[1], source.params[1].astype(np.float16))


@pytest.mark.parametrize("cls", [Rnnlm, BetterRnnlm])
def test_save_params_writes_npz_that_loads_exactly(tmp_path, monkeypatch, cls):
    monkeypatch.chdir(tmp_path)
    source = trained(cls)
    written = source.save_params()  # the sequel's default name, layerwise's content
    assert written.name == f"{cls.__name__}.pkl"
    assert written.read_bytes()[:2] == b"PK"  # a zip archive, never a pickle
    with np.load(written, allow_pickle=False) as f:  # plain arrays, in the model's dtype
        assert f["params/1"].dtype == np.float32
    model = cls(V, D, H, seed=7)
    model.load_params()
    for ours, theirs in zip(model.params, source.params, strict=True):
        np.testing.assert_array_equal(ours, theirs)  # exact: no float16 rounding
    np.testing.assert_array_equal(model.predict(XS), source.predict(XS))


@pytest.mark.parametrize("from_book", [False, True])
def test_weight_tying_survives_load(tmp_path, from_book):
    source = trained(BetterRnnlm)
    path = tmp_path / "w.pkl"
    if from_book:
        book_save_params(source, path, 4)
    else:
        source.save_params(path)
    model = BetterRnnlm(V, D, H, seed=3)
    embed_W, affine_W = model.layers[0].params[0], model.layers[-1].params[0]
    model.load_params(path)
    assert model.layers[0].params[0] is embed_W and model.layers[-1].params[0] is affine_W
    assert np.shares_memory(embed_W, affine_W)  # still one array
    embed_W[0, 0] = 123.0
    assert affine_W[0, 0] == 123.0


def test_tied_weights_given_two_values_are_refused_and_nothing_changes(tmp_path):
    source = trained(BetterRnnlm)
    params = [p.copy() for p in source.params]
    params[-2] = params[-2] + 1.0  # affine W no longer the embedding's transpose
    path = tmp_path / "untied.pkl"
    with open(path, "wb") as f:
        pickle.dump(params, f)
    model = BetterRnnlm(V, D, H, seed=3)
    before = [p.copy() for p in model.params]
    with pytest.raises(ModelFileError, match=r"params\[0\] and params\[7\] are one array.*tied"):
        model.load_params(path)
    for p, b in zip(model.params, before, strict=True):
        np.testing.assert_array_equal(p, b)


@pytest.mark.parametrize("protocol", [2, 5])
def test_hostile_pickle_is_refused_by_name_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "marker"
    path = tmp_path / "Rnnlm.pkl"
    source = trained(Rnnlm)
    with open(path, "wb") as f:
        pickle.dump([*source.params[:2], Hostile(marker)], f, protocol)
    model = Rnnlm(V, D, H, seed=1)
    before = [p.copy() for p in model.params]
    with pytest.raises(RefusedPickleError, match=r"(posix|os|nt)\.system.*nothing was run"):
        model.load_params(path)
    with pytest.raises(RefusedPickleError, match=r"system"):
        load_word_vectors(path)
    assert not marker.exists()
    for p, b in zip(model.params, before, strict=True):
        np.testing.assert_array_equal(p, b)


def test_wrong_count_and_shapes_are_named(tmp_path):
    source = trained(Rnnlm)
    path = tmp_path / "short.pkl"
    with open(path, "wb") as f:
        pickle.dump([p.astype(np.float16) for p in source.params[:5]], f)
    model = Rnnlm(V, D, H, seed=1)
    with pytest.raises(ModelFileError, match=r"the file has 5 arrays, Rnnlm has 6 params"):
        model.load_params(path)
    other = Rnnlm(V + 1, D, H, seed=1)
    other.save_params(path)
    before = [p.copy() for p in model.params]
    with pytest.raises(ModelFileError) as info:
        model.load_params(path)
    message = str(info.value)
    assert f"array 0 has shape ({V + 1}, {D}), params[0] is ({V}, {D})" in message
    assert f"array 4 has shape ({H}, {V + 1})" in message and "array 5" in message
    for p, b in zip(model.params, before, strict=True):
        np.testing.assert_array_equal(p, b)


@pytest.mark.parametrize(
    "content, what",
    [
        ({"W": np.ones(2)}, "dict"),
        ([np.ones(2), "text"], "item 1 is a str"),
        ([np.array([object()], dtype=object)], None),  # needs a global that is refused
    ],
)
def test_pickles_that_are_not_a_list_of_arrays_are_refused(tmp_path, content, what):
    path = tmp_path / "x.pkl"
    with open(path, "wb") as f:
        pickle.dump(content, f)
    with pytest.raises(RefusedPickleError, match=what or "asks for"):
        load_pickled_params(path)


def test_missing_and_damaged_files(tmp_path):
    model = Rnnlm(V, D, H, seed=1)
    with pytest.raises(FileNotFoundError, match="nothing.pkl"):
        model.load_params(tmp_path / "nothing.pkl")
    path = tmp_path / "cut.pkl"
    book_save_params(model, path, 4)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ModelFileError, match="not a readable pickle"):
        model.load_params(path)


def cbow_params(rng):
    words = ["you", "say", "goodbye", "and", "i", "hello", "."]
    word_to_id = {w: i for i, w in enumerate(words)}
    id_to_word = {i: w for w, i in word_to_id.items()}
    return rng.normal(size=(len(words), 5)).astype(np.float16), word_to_id, id_to_word


@pytest.mark.parametrize("protocol", [2, -1])
def test_cbow_params_pickle_reads_without_running(tmp_path, protocol):
    word_vecs, word_to_id, id_to_word = cbow_params(np.random.default_rng(0))
    # ch04/train.py, line for line
    params = {}
    params["word_vecs"] = word_vecs.astype(np.float16)
    params["word_to_id"] = word_to_id
    params["id_to_word"] = id_to_word
    with open(tmp_path / "cbow_params.pkl", "wb") as f:
        pickle.dump(params, f, protocol)
    got = load_word_vectors(tmp_path / "cbow_params.pkl")
    np.testing.assert_array_equal(got["word_vecs"], word_vecs)
    assert got["word_to_id"] == word_to_id and got["id_to_word"] == id_to_word
    # and layerwise's safe file of the same
    path = save_word_vectors(tmp_path / "vecs.pkl", **got)
    assert path.read_bytes()[:2] == b"PK"
    again = load_word_vectors(path)
    np.testing.assert_array_equal(again["word_vecs"], word_vecs)
    assert again["word_to_id"] == word_to_id and again["id_to_word"] == id_to_word


def test_cbow_params_with_other_content_is_refused(tmp_path):
    word_vecs, word_to_id, id_to_word = cbow_params(np.random.default_rng(0))
    path = tmp_path / "cbow_params.pkl"
    for params, match in [
        ({"word_vecs": word_vecs}, "not the dict of 'word_vecs'"),
        ({"word_vecs": word_vecs, "word_to_id": {1: 2}, "id_to_word": id_to_word}, "maps 1"),
        (
            {"word_vecs": word_vecs[:3], "word_to_id": word_to_id, "id_to_word": id_to_word},
            "3 rows",
        ),
    ]:
        with open(path, "wb") as f:
            pickle.dump(params, f)
        with pytest.raises(ModelFileError, match=match):
            load_word_vectors(path)


def test_volume_one_machinery_refuses_sequel_models_with_the_reason(tmp_path):
    import layerwise
    from layerwise.parallel import DataParallel
    from layerwise.training import Trainer

    model = Rnnlm(V, D, H, seed=1)
    xs = np.zeros((8, 5), np.int64)
    with pytest.raises(TypeError, match=r"Rnnlm is one of the sequel's models.*model.save_params"):
        layerwise.save(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    for workers in (1, 2):
        with pytest.raises(TypeError, match=r"Rnnlm is one of the sequel's models.*RnnlmTrainer"):
            Trainer(model, xs, xs, xs, xs, workers=workers)
    with pytest.raises(TypeError, match=r"DataParallel: Rnnlm is one of the sequel's models"):
        DataParallel(model, 2, (5,), (5,), np.int64, 8)


def test_npz_files_that_are_not_sequel_weights_are_refused(tmp_path):
    import layerwise

    path = tmp_path / "net.npz"
    layerwise.save(layerwise.TwoLayerNet(4, 3, 2, seed=0), path)  # volume 1's model file
    model = Rnnlm(V, D, H, seed=1)
    with pytest.raises(ModelFileError, match="no '__sequel_params__' entry"):
        model.load_params(path)
    with pytest.raises(ModelFileError, match="not \\['word_vecs', 'words'\\]"):
        load_word_vectors(path)
