"""The book's ``save_params`` / ``load_params`` on layerwise's networks; its pickles read safely.

The book's chapter-7 and chapter-8 networks write their weights with ``pickle.dump(params, f)``;
``load_params`` must read such files without ever letting the pickle run code.
"""

import os
import pickle
import zipfile

import numpy as np
import pytest

from layerwise import DeepConvNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from layerwise.book_weights import RefusedPickleError, load_pickled_arrays
from layerwise.container import ModelFileError

SMALL_CONV = {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}


def book_pickle(path, params, protocol=pickle.DEFAULT_PROTOCOL):
    """Write ``params`` the way the book's ``save_params`` does."""
    params_copy = {}
    for key, val in params.items():
        params_copy[key] = val
    with open(path, "wb") as f:
        pickle.dump(params_copy, f, protocol)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_load_params_reads_the_books_pickle_with_the_same_predictions(tmp_path, protocol):
    trained = SimpleConvNet((1, 10, 10), SMALL_CONV, hidden_size=7, output_size=4, seed=0)
    book_pickle(tmp_path / "params.pkl", trained.params, protocol)
    fresh = SimpleConvNet((1, 10, 10), SMALL_CONV, hidden_size=7, output_size=4, seed=1)
    x = np.random.default_rng(2).random((5, 1, 10, 10))
    assert not np.allclose(fresh.predict(x), trained.predict(x))
    weights_before = fresh.params["W1"]
    fresh.load_params(tmp_path / "params.pkl")
    np.testing.assert_array_equal(fresh.predict(x), trained.predict(x))
    assert fresh.params["W1"] is weights_before  # in place: the layers keep their arrays


def test_load_params_reads_a_pickle_into_a_float32_network(tmp_path):
    trained = TwoLayerNet(6, 5, 3, seed=0)  # float64, as the book's networks
    book_pickle(tmp_path / "params.pkl", trained.params)
    net = TwoLayerNet(6, 5, 3, dtype=np.float32, seed=1)
    net.load_params(tmp_path / "params.pkl")
    assert net.params["W1"].dtype == np.float32
    np.testing.assert_allclose(net.params["W2"], trained.params["W2"], rtol=1e-6)


def test_save_params_writes_a_safe_npz_whatever_the_name(tmp_path):
    net = DeepConvNet((1, 12, 12), hidden_size=8, output_size=3, use_batchnorm=True, seed=0)
    net.buffers["running_mean1"][...] = 0.25
    path = net.save_params(tmp_path / "deep_convnet_params.pkl")
    assert path == tmp_path / "deep_convnet_params.pkl"
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:  # plain arrays: no unpickling needed
        assert "W1" in z.files and "running_mean1" in z.files
    other = DeepConvNet((1, 12, 12), hidden_size=8, output_size=3, use_batchnorm=True, seed=5)
    other.load_params(path)
    x = np.random.default_rng(0).random((4, 1, 12, 12))
    np.testing.assert_array_equal(
        other.predict(x, train_flg=False), net.predict(x, train_flg=False)
    )
    assert np.all(other.buffers["running_mean1"] == 0.25)


def test_save_params_default_file_name_is_the_books(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    TwoLayerNet(4, 3, 2, seed=0).save_params()
    assert os.listdir(tmp_path) == ["params.pkl"]
    net = TwoLayerNet(4, 3, 2, seed=1)
    net.load_params()
    np.testing.assert_array_equal(net.params["W1"], TwoLayerNet(4, 3, 2, seed=0).params["W1"])


class WritesMarker:
    """A pickled object whose unpickling would run ``os.system``: what a hostile file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    evil = {"W1": WritesMarker(marker), "b1": np.zeros(3)}
    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump(evil, f)
    net = TwoLayerNet(4, 3, 2, seed=0)
    before = net.state_dict()
    with pytest.raises(RefusedPickleError, match=r"asks for (posix|nt|os)\.system"):
        net.load_params(tmp_path / "params.pkl")
    assert not marker.exists()
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_pickle_calling_builtins_is_refused_by_name(tmp_path):
    class Evaluates:
        def __reduce__(self):
            return (eval, ("1 + 1",))

    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump({"W1": Evaluates()}, f)
    with pytest.raises(RefusedPickleError, match=r"builtins\.eval, which a weights file never"):
        load_pickled_arrays(tmp_path / "params.pkl")


def test_a_pickle_of_other_objects_is_refused_by_name(tmp_path):
    from collections import Counter

    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump({"W1": Counter("abc")}, f)
    with pytest.raises(RefusedPickleError, match=r"collections\.Counter"):
        TwoLayerNet(4, 3, 2).load_params(tmp_path / "params.pkl")


@pytest.mark.parametrize(
    "content, message",
    [
        ([np.zeros(3)], "holds a list"),
        ({"W1": [1.0, 2.0]}, "entry 'W1' is a list"),
        ({1: np.zeros(3)}, "entry 1 is a ndarray"),
        ({"W1": np.array([1, 2], dtype=object)}, "dtype object"),
    ],
)
def test_a_pickle_that_is_not_a_dict_of_numeric_arrays_is_refused(tmp_path, content, message):
    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump(content, f)
    with pytest.raises(RefusedPickleError, match=message):
        load_pickled_arrays(tmp_path / "params.pkl")


def test_load_params_names_the_arrays_that_do_not_fit(tmp_path):
    book_pickle(tmp_path / "params.pkl", TwoLayerNet(4, 3, 2, seed=0).params)
    net = MultiLayerNetExtend(4, [5], 2, use_batchnorm=True, seed=0)
    with pytest.raises(ModelFileError, match=r"missing gamma1, beta1.*W1 \(4, 3\)") as info:
        net.load_params(tmp_path / "params.pkl")
    assert "MultiLayerNetExtend" in str(info.value)


def test_a_damaged_pickle_is_a_clear_error(tmp_path):
    book_pickle(tmp_path / "params.pkl", TwoLayerNet(4, 3, 2, seed=0).params)
    data = (tmp_path / "params.pkl").read_bytes()
    (tmp_path / "params.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable pickle"):
        TwoLayerNet(4, 3, 2).load_params(tmp_path / "params.pkl")
