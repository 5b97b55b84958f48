"""``layerwise book SCRIPT``: scripts in the book's style run unchanged, from their chapter folder.

``tests/book_scripts`` stands for a reader's clone of the book's repository: chapter folders of
scripts (written for these tests in the book's style) and decoy ``common``/``dataset``
packages that raise if imported. Each test copies it to a temporary folder, puts a small
``dataset/mnist.pkl`` in the book's format there (so the numbers are known), runs a script in a
subprocess and checks what it prints and that the clone gained no file. The scripts run in a
run folder under the test's temporary folder; MNIST's download goes to a closed local port, so
it fails at once, as it does on a machine without internet.
"""

import gzip
import hashlib
import http.server
import math
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from layerwise import MultiLayerNetExtend, Trainer, TwoLayerNet, datasets
from layerwise.book import run_script
from layerwise.book.stand_in import NOTE
from layerwise.datasets import load_sample
from layerwise.training import BookStyleNetwork

SCRIPTS = Path(__file__).parent / "book_scripts"
SRC = Path(__file__).parents[1] / "src"
N_TRAIN, N_TEST = 600, 200


def book_mnist_arrays():
    """The first images of the shipped sample, as the book's ``mnist.pkl`` holds MNIST."""
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=False)
    return {
        "train_img": x_train[:N_TRAIN],
        "train_label": t_train[:N_TRAIN],
        "test_img": x_test[:N_TEST],
        "test_label": t_test[:N_TEST],
    }


@pytest.fixture
def clone(tmp_path):
    """A copy of the scripts with the book's ``dataset/mnist.pkl`` (pickle protocol -1)."""
    root = tmp_path / "deep-learning-from-scratch"
    shutil.copytree(SCRIPTS, root)
    with open(root / "dataset" / "mnist.pkl", "wb") as f:
        pickle.dump(book_mnist_arrays(), f, -1)
    return root


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused_url():
    """A local URL nothing listens on: a download from it fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def runs_of(clone):
    """The clone's run folder under ``LAYERWISE_BOOK_RUNS`` as :func:`run_book` sets it."""
    (folder,) = (clone.parent / "runs").iterdir()
    return folder


def write_weights(path, seed):
    """Weights of the book's ``sample_weight.pkl`` kind: a pickled dict of arrays."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    with open(path, "wb") as f:
        pickle.dump({k: rng.standard_normal(shape) * 0.1 for k, shape in shapes.items()}, f)


def run_book(clone, script, *args, env=None, options=(), module="layerwise"):
    """``python -m layerwise book [OPTIONS] SCRIPT ARGS`` in the clone, which must not change."""
    before = files_in(clone)
    environment = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "XDG_CACHE_HOME": str(clone.parent / "cache"),  # no MNIST in a real cache
        "LAYERWISE_BOOK_RUNS": str(clone.parent / "runs"),
        "LAYERWISE_MNIST_MIRRORS": refused_url(),
        "MPLBACKEND": "Agg",  # no display, whatever the machine has
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        **(env or {}),
    }
    environment.pop("LAYERWISE_DATA", None)
    environment.pop("LAYERWISE_BOOK_LIMIT", None)
    command = [sys.executable, "-m", module]
    if module == "layerwise":
        command.append("book")
    result = subprocess.run(
        [*command, *options, script, *args],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert files_in(clone) == before, "the clone gained or lost files"
    return result


def test_ch03_load_mnist_reads_the_books_pickle_and_functions_star_import(clone):
    result = run_book(clone, "ch03/neuralnet_mnist.py")
    assert result.returncode == 0, result.stderr
    assert f"images:{N_TEST} float32 ({N_TEST}, 784)" in result.stdout
    assert "MNIST not found" not in result.stderr  # the clone's mnist.pkl was used
    assert "Accuracy:" in result.stdout


def test_ch05_gradient_check_and_training_of_a_book_style_net(clone):
    result = run_book(clone, "ch05/gradient_check.py")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    for key in ("W1", "b1", "W2", "b2"):
        assert float(lines[key]) < 1e-8, (key, lines[key])  # the book's own figure: ~1e-10
    assert float(lines["train acc"]) > 0.6  # 300 steps on 600 Fashion-MNIST images


def test_ch06_optimizer_star_import_brings_np(clone):
    result = run_book(clone, "ch06/optimizer_compare.py")
    assert result.returncode == 0, result.stderr
    losses = {}
    for line in result.stdout.splitlines():
        name, rest = line.split(":")
        first, last = (float(part.split()[-1]) for part in rest.split(","))
        losses[name] = (first, last)
    assert set(losses) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    for name, (first, last) in losses.items():
        assert last < first, name
    # What the book's figure shows: the adaptive methods fall faster than plain SGD.
    assert losses["Adam"][1] < losses["SGD"][1]


def test_ch07_gradient_check_with_a_label_column(clone):
    result = run_book(clone, "ch07/gradient_check.py")
    assert result.returncode == 0, result.stderr
    errors = dict(line.split() for line in result.stdout.splitlines())
    assert sorted(errors) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert all(float(e) < 1e-7 for e in errors.values()), errors


def test_ch07_books_trainer_trains_the_chapters_own_network(clone, tmp_path):
    target = tmp_path / "params.pkl"  # outside the clone, so that it stays as it was
    result = run_book(clone, "ch07/train_convnet.py", str(target))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    epochs = [i for i, line in enumerate(lines) if line.startswith("epoch")]
    assert len(epochs) == 3
    # Issue 28: long work shows progress as it goes: the book's "train loss:" line for each
    # iteration, before the line of its epoch.
    losses = [i for i, line in enumerate(lines) if line.startswith("train loss:")]
    per_epoch = -(-N_TRAIN // 50)
    assert len(losses) == 3 * per_epoch
    assert all(losses[per_epoch * (e + 1) - 1] < epochs[e] for e in range(3))
    assert "=============== Final Test Accuracy ===============" in result.stdout
    final = float(result.stdout.split("test acc:")[1].split()[0])
    assert final > 0.5  # 3 epochs on 600 images of 10 classes
    iterations = 3 * -(-N_TRAIN // 50)
    assert f"train_loss_list:{iterations}" in result.stdout
    assert "test_acc_list:3" in result.stdout
    # The chapter's own save_params pickled its weights: layerwise's load_params reads them.
    with open(target, "rb") as f:
        assert sorted(pickle.load(f)) == ["W1", "W2", "W3", "b1", "b2", "b3"]


def test_regression_the_clone_is_never_written_the_run_folder_is(clone):
    # Issue 28: ch07/train_convnet.py overwrote the clone's pretrained ch07/params.pkl.
    shipped = clone / "ch07" / "params.pkl"
    with open(shipped, "wb") as f:
        pickle.dump({"W1": np.ones((2, 3))}, f)
    before = shipped.read_bytes()
    result = run_book(clone, "ch07/save_weights.py", "2")
    assert result.returncode == 0, result.stderr
    assert shipped.read_bytes() == before
    mine = runs_of(clone) / "ch07" / "params.pkl"
    assert f"running in {mine.parent}" in result.stderr
    assert f"the script wrote {mine}" in result.stderr
    # A later script of the chapter reads the learner's weights, and is told so.
    result = run_book(clone, "ch07/read_weights.py")
    assert result.stdout == "W1[0, 0]:2.0\n"
    assert "params.pkl there was written by an earlier run" in result.stderr
    # Deleted from the run folder, the clone's own is copied back.
    mine.unlink()
    assert run_book(clone, "ch07/read_weights.py").stdout == "W1[0, 0]:1.0\n"
    # --in-place is the learner's choice to write into the clone.
    result = run_book(clone, "ch07/save_weights.py", "3", options=["--in-place"])
    assert result.returncode == 0 and "running in" not in result.stderr
    with open(shipped, "rb") as f:
        assert pickle.load(f)["W1"][0, 0] == 3.0


def test_run_folder_option_and_bad_threads(clone, tmp_path):
    result = run_book(
        clone, "ch07/save_weights.py", "4", options=["--run-folder", str(tmp_path / "mine")]
    )
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "mine" / "ch07" / "params.pkl", "rb") as f:
        assert pickle.load(f)["W1"][0, 0] == 4.0
    result = run_book(clone, "ch07/save_weights.py", "4", options=["--threads", "-1"])
    assert result.returncode == 2 and "--threads must be 0" in result.stderr


def test_without_a_display_the_figures_are_saved_in_the_run_folder(clone):
    pytest.importorskip("matplotlib")
    result = run_book(clone, "ch06/show_figure.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "shown\n"
    picture = runs_of(clone) / "ch06" / "show_figure-figure1.png"
    assert f"figure 1 saved as {picture}" in result.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ch08_load_params_reads_a_pickle_of_the_books_kind(clone, tmp_path):
    net = MultiLayerNetExtend(784, [40], 10, seed=3)
    arrays = book_mnist_arrays()
    x_train = arrays["train_img"].astype(np.float32) / np.float32(255.0)
    for _ in range(40):  # some training, so that the weights are worth loading
        for key, grad in net.gradient(x_train, arrays["train_label"]).items():
            net.params[key] -= 0.5 * grad
    x, t = arrays["test_img"].astype(np.float32) / np.float32(255.0), arrays["test_label"]
    expected = net.accuracy(x, t)
    with open(tmp_path / "deep_convnet_params.pkl", "wb") as f:
        pickle.dump({key: value for key, value in net.params.items()}, f)
    result = run_book(clone, "ch08/check_params.py", str(tmp_path / "deep_convnet_params.pkl"))
    assert result.returncode == 0, result.stderr
    assert "loaded W1, b1, W2, b2" in result.stdout
    assert f"test acc:{expected} " in result.stdout
    assert expected > 0.5


def test_regression_without_mnist_fashion_mnist_stands_in_and_each_accuracy_says_so(clone):
    # Issue 28: a learner got chance accuracies of the book's MNIST weights on Fashion-MNIST
    # with one notice at the start. The download is tried (and fails: a closed port), the
    # stand-in said why, and every accuracy line of MNIST-trained weights marked.
    (clone / "dataset" / "mnist.pkl").unlink()
    write_weights(clone / "ch03" / "sample_weight.pkl", seed=1)
    result = run_book(clone, "ch03/neuralnet_weights.py", options=["--limit", "60"])
    assert result.returncode == 0, result.stderr
    assert "layerwise: downloading http://127.0.0.1:" in result.stderr
    assert "train-images-idx3-ubyte.gz" in result.stderr
    notices = [line for line in result.stderr.splitlines() if "MNIST could not be" in line]
    assert len(notices) == 1 and "Fashion-MNIST" in notices[0], result.stderr
    note = NOTE.format(weights="sample_weight.pkl", stand_in="Fashion-MNIST")
    calculating, accuracy, bare, images = result.stdout.splitlines()
    assert calculating == "calculating accuracy ..."  # no number: no accuracy
    assert accuracy.startswith("Accuracy:") and accuracy.endswith(note)
    assert bare.endswith(note) and float(bare.removesuffix(note)) < 1
    assert images.startswith("images:") and note not in images
    # Weights of the learner's own (an earlier run wrote them in the run folder) are not
    # the book's: their accuracy is what it is, unmarked.
    write_weights(runs_of(clone) / "ch03" / "sample_weight.pkl", seed=2)
    result = run_book(clone, "ch03/neuralnet_weights.py", options=["--limit", "60"])
    assert result.returncode == 0, result.stderr
    assert "sample_weight.pkl there was written by an earlier run" in result.stderr
    assert "meaningless" not in result.stdout
    # The failed download was remembered: not tried again for an hour, and said so.
    assert "downloading" not in result.stderr
    failed = clone.parent / "cache" / "layerwise" / "mnist" / "download-failed.txt"
    assert "MNIST could not be downloaded 0 minutes ago" in result.stderr
    assert f"once you delete {failed}" in result.stderr
    failed.unlink()
    result = run_book(clone, "ch03/neuralnet_weights.py", options=["--limit", "60"])
    assert "layerwise: downloading http://127.0.0.1:" in result.stderr


def test_without_mnist_and_weights_the_stand_in_is_said_once(clone):
    (clone / "dataset" / "mnist.pkl").unlink()
    result = run_book(clone, "ch03/neuralnet_mnist.py", options=["--limit", "30"])
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "MNIST could not be" in line]
    assert len(notices) == 1 and "Fashion-MNIST" in notices[0]
    n_train, n_test = 5000, 1000  # the shipped sample, or Debian's Fashion-MNIST
    if datasets.DEBIAN_FASHION_MNIST_DIR.is_dir():
        n_train, n_test = 60000, 10000
    n = 30 * n_test // n_train
    assert f"images:{n} float32 ({n}, 784)" in result.stdout
    assert "meaningless" not in result.stdout  # the script's weights are its own


def idx_gz(array):
    """``array`` as a gzipped IDX file (uint8)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_server(tmp_path, monkeypatch):
    """A local mirror of MNIST-format files (the shipped sample's first images), their MD5s
    installed as MNIST's; yields its URL and ends the server after the test."""
    arrays = book_mnist_arrays()
    served = tmp_path / "served"
    served.mkdir()
    for role, name in datasets.FILES.items():
        array = arrays[role]
        body = idx_gz(array.reshape(-1, 28, 28) if role.endswith("img") else array)
        (served / f"{name}.gz").write_bytes(body)
        monkeypatch.setitem(datasets.MD5["mnist"], f"{name}.gz", hashlib.md5(body).hexdigest())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=served))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_load_mnist_downloads_mnist_through_the_mirrors_into_the_cache(
    clone, tmp_path, mnist_server, monkeypatch, capsys
):
    # Issue 28: under layerwise book, load_mnist never downloaded. Now it does, as the book's
    # does: from LAYERWISE_MNIST_MIRRORS (a 404 first, then the files), MD5-checked, cached.
    (clone / "dataset" / "mnist.pkl").unlink()
    write_weights(clone / "ch03" / "sample_weight.pkl", seed=1)
    monkeypatch.setenv("LAYERWISE_MNIST_MIRRORS", f"{mnist_server}/gone/, {mnist_server}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LAYERWISE_BOOK_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.delenv("LAYERWISE_BOOK_LIMIT", raising=False)
    run_script(clone / "ch03" / "neuralnet_weights.py")
    out, err = capsys.readouterr()
    assert f"images:{N_TEST}" in out  # the served files, not a stand-in
    assert "meaningless" not in out and "could not be" not in err
    assert f"downloading {mnist_server}/gone/train-images-idx3-ubyte.gz" in err
    assert "404" in err
    assert err.count("MD5 checked") == 4
    cache = tmp_path / "cache" / "layerwise" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f"{name}.gz" for name in datasets.FILES.values()
    )
    run_script(clone / "ch03" / "neuralnet_weights.py")  # from the cache: nothing downloaded
    out, err = capsys.readouterr()
    assert f"images:{N_TEST}" in out and "downloading" not in err


def test_regression_optimizers_step_python_floats_as_the_books_do(clone):
    # Issue 28: ch06/optimizer_compare_naive.py keeps its point as two floats; the book's
    # params[key] -= ... steps them, layerwise's in-place rules raised TypeError.
    result = run_book(clone, "ch06/optimizer_compare_floats.py")
    assert result.returncode == 0, result.stderr
    got = {}
    for line in result.stdout.splitlines():
        name, kind, x, y = line.split()
        assert kind == "float", line
        got[name] = (float(x), float(y))
    # The book's rules, written out on Python floats.
    steps = {"SGD": 30, "Momentum": 30, "AdaGrad": 30, "Adam": 30}
    expected = {}
    for name in steps:
        p = {"x": -7.0, "y": 2.0}
        state = {"m": {"x": 0.0, "y": 0.0}, "v": {"x": 0.0, "y": 0.0}}
        for t in range(1, 31):
            g = {"x": p["x"] / 10.0, "y": 2.0 * p["y"]}
            for k in p:
                if name == "SGD":
                    p[k] -= 0.95 * g[k]
                elif name == "Momentum":
                    state["v"][k] = 0.9 * state["v"][k] - 0.1 * g[k]
                    p[k] += state["v"][k]
                elif name == "AdaGrad":
                    state["v"][k] += g[k] * g[k]
                    p[k] -= 1.5 * g[k] / (math.sqrt(state["v"][k]) + 1e-7)
                else:
                    lr_t = 0.3 * math.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
                    state["m"][k] += (1 - 0.9) * (g[k] - state["m"][k])
                    state["v"][k] += (1 - 0.999) * (g[k] ** 2 - state["v"][k])
                    p[k] -= lr_t * state["m"][k] / (math.sqrt(state["v"][k]) + 1e-7)
        expected[name] = (p["x"], p["y"])
    assert got.keys() == expected.keys()
    for name in got:
        assert got[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), name
    assert got["SGD"] == pytest.approx((-7.0 * 0.905**30, 2.0 * (-0.9) ** 30))  # closed form


def test_regression_convolution_takes_a_scalar_bias_as_the_book_does(clone):
    # Issue 28: ch07/apply_filter.py passes b = 0; layerwise wanted shape (1,).
    result = run_book(clone, "ch07/apply_filter_scalar.py")
    assert result.returncode == 0, result.stderr
    rng = np.random.default_rng(7)
    img, w = rng.random((12, 10)), rng.standard_normal((3, 3))
    windows = np.lib.stride_tricks.sliding_window_view(img, (3, 3))  # (10, 8, 3, 3)
    correlation = np.einsum("yxij,ij->yx", windows, w)
    for line, b in zip(result.stdout.splitlines(), (0, 0.5), strict=True):
        bias, shape, values = line.split(" ", 2)
        assert float(bias) == b and shape == "1x1x10x8"
        np.testing.assert_allclose(eval(values), (correlation + b).ravel(), rtol=1e-12)  # noqa: S307 - a list literal the script printed


def test_regression_limit_evaluates_no_more_per_step_than_the_full_set(clone):
    # Issue 28: --limit kept N test images for N training images, so the book's loop of a
    # fixed number of steps, which evaluates both sets each "epoch" of N / 100 steps,
    # evaluated more images per step with --limit than without (and ran slower).
    full = run_book(clone, "ch05/train_loop.py", "60")
    limited = run_book(clone, "ch05/train_loop.py", "60", options=["--limit", "100"])
    assert full.returncode == 0 and limited.returncode == 0, full.stderr + limited.stderr
    assert f"train:{N_TRAIN} test:{N_TEST}" in full.stdout
    assert f"train:100 test:{100 * N_TEST // N_TRAIN}" in limited.stdout
    per_step = [float(r.stdout.split("evaluated per step:")[1]) for r in (full, limited)]
    assert per_step[1] <= per_step[0], per_step


def test_regression_the_script_runs_with_one_blas_thread(clone):
    # Issue 28: the book's own loops ran with NumPy's default BLAS threads; on a busy 2-core
    # machine ch05/train_neuralnet.py --limit 1000 took 482 s (82 s of CPU) against 242 s
    # (21 s of CPU) with one thread. layerwise book runs scripts with one, as the Trainer.
    pytest.importorskip("threadpoolctl")
    (clone / "ch05" / "threads.py").write_text(
        "import numpy, threadpoolctl\n"
        "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info()))\n"
    )
    assert run_book(clone, "ch05/threads.py").stdout.strip() == "1"


def test_a_hostile_mnist_pkl_is_refused_and_runs_nothing(clone):
    marker = clone.parent / "marker"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(clone / "dataset" / "mnist.pkl", "wb") as f:
        pickle.dump({"train_img": Hostile()}, f)
    result = run_book(clone, "ch03/neuralnet_mnist.py")
    assert result.returncode == 1
    assert "refused to load" in result.stderr and "system" in result.stderr
    assert not marker.exists()


def test_python_dash_m_layerwise_book_and_the_scripts_exit_status(clone):
    (clone / "ch06" / "fails.py").write_text(
        "import sys\nprint('ran', sys.argv[1:])\nsys.exit(3)\n"
    )
    result = run_book(clone, "ch06/fails.py", "a", "--b", module="layerwise.book")
    assert result.returncode == 3
    assert "ran ['a', '--b']" in result.stdout


@pytest.mark.parametrize(
    "code, status, said",
    [
        ('"fatal: something"', 1, "fatal: something"),
        ("2.5", 1, "2.5"),
        ("None", 0, None),
        ("4", 4, None),
    ],
)
def test_regression_sys_exit_with_a_message_prints_it_as_python_does(clone, code, status, said):
    # python prints SystemExit's code on stderr unless it is None or an integer, and exits 1;
    # layerwise book gave the status only, and "fatal: something" was lost.
    (clone / "ch06" / "exits.py").write_text(f"print('ran')\nraise SystemExit({code})\n")
    result = run_book(clone, "ch06/exits.py")
    assert result.returncode == status
    assert result.stdout == "ran\n"
    script_said = [line for line in result.stderr.splitlines() if not line.startswith("layerwise")]
    assert script_said == ([] if said is None else [said])


def test_a_missing_script_is_a_usage_error(clone):
    result = run_book(clone, "ch09/nothing.py")
    assert result.returncode == 2
    assert "no script ch09/nothing.py" in result.stderr


# ---------------------------------------------------------------------- in this process


def test_run_script_installs_the_finder_for_the_run_only(clone, capsys, monkeypatch):
    monkeypatch.setenv("LAYERWISE_BOOK_LIMIT", "20")
    monkeypatch.setenv("LAYERWISE_BOOK_RUNS", str(clone.parent / "runs"))
    meta_path, path, cwd = list(sys.meta_path), list(sys.path), os.getcwd()
    (clone / "ch06" / "where.py").write_text(
        "import os, common.layers as layers\n"
        "from common.layers import *\n"
        "print(os.path.basename(os.getcwd()), layers.__name__, np.__name__, Pooling(2, 2).stride)\n"
    )
    run_script(clone / "ch06" / "where.py")
    assert capsys.readouterr().out == "ch06 common.layers numpy 1\n"
    assert sys.meta_path == meta_path and sys.path == path and os.getcwd() == cwd
    assert "common" not in sys.modules and "common.layers" not in sys.modules
    with pytest.raises(ImportError):
        import common.layers  # noqa: F401 - outside a run, nothing answers the book's names


class BookStyleTwoLayerNet:
    """Only what the book's networks have: params, gradient, loss, accuracy."""

    def __init__(self):
        self.net = TwoLayerNet(784, 20, 10, seed=0)
        self.params = self.net.params

    def gradient(self, x, t):
        return self.net.gradient(x, t, train_flg=True)

    def loss(self, x, t):
        return self.net.loss(x, t)

    def accuracy(self, x, t):
        return self.net.accuracy(x, t)


def test_trainer_trains_a_network_that_has_only_the_books_methods():
    (x_train, t_train), (x_test, t_test) = load_sample()
    network = BookStyleTwoLayerNet()
    assert not hasattr(network, "train")
    trainer = Trainer(network, x_train[:500], t_train[:500, None], x_test[:200], t_test[:200],
                      epochs=2, optimizer="adam", optimizer_param={"lr": 0.005},
                      verbose=False, seed=0)  # fmt: skip
    trainer.train()
    assert len(trainer.train_loss_list) == 10 and len(trainer.test_acc_list) == 2
    assert trainer.train_loss_list[-1] < trainer.train_loss_list[0]
    assert trainer.test_acc_list[-1] == network.net.accuracy(x_test[:200], t_test[:200])


def test_trainer_names_what_a_network_lacks():
    with pytest.raises(TypeError, match=r"\(object\) has no params, gradient, loss, accuracy"):
        Trainer(object(), np.zeros((2, 3)), np.zeros(2), np.zeros((2, 3)), np.zeros(2))
    x, t = np.zeros((4, 784)), np.zeros(4, int)
    with pytest.raises(TypeError, match="checkpoints and workers need a layerwise network"):
        Trainer(BookStyleTwoLayerNet(), x, t, x, t, checkpoint_path="ckpt.npz")


def test_book_style_accuracy_takes_a_label_column_and_uint8_images():
    (x_test, t_test) = load_sample(normalize=False)[1]
    network = BookStyleTwoLayerNet()
    adapter = BookStyleNetwork(network)
    expected = network.net.accuracy(x_test.astype(np.float64) / 255.0, t_test)
    assert adapter.accuracy(x_test, t_test[:, None], batch_size=300) == pytest.approx(expected)


def test_limit_keeps_the_test_sets_proportion_in_whole_hundreds():
    from layerwise.book.dataset.mnist import limited

    x_train, x_test = np.zeros((60000, 1)), np.ones((10000, 1))
    dataset = (x_train, np.zeros(60000)), (x_test, np.ones(10000))
    for n, n_test in [(1000, 100), (1300, 200), (600, 100), (599, 99), (60, 10), (1, 1)]:
        (x, t), (xt, tt) = limited(dataset, n)
        assert (len(x), len(t), len(xt), len(tt)) == (n, n, n_test, n_test), n
