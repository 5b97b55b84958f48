"""``layerwise book SCRIPT``: scripts in the book's style run unchanged, from their chapter folder.

``tests/book_scripts`` stands for a reader's clone of the book's repository: chapter folders of
scripts (written for these tests in the book's style) and decoy ``common``/``dataset``
packages that raise if imported. Each test copies it to a temporary folder, puts a small
``dataset/mnist.pkl`` in the book's format there (so the numbers are known), runs a script in a
subprocess and checks what it prints and that the clone gained no file.
"""

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from layerwise import MultiLayerNetExtend, Trainer, TwoLayerNet
from layerwise.book import run_script
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


def run_book(clone, script, *args, env=None, options=(), module="layerwise"):
    """``python -m layerwise book [OPTIONS] SCRIPT ARGS`` in the clone, which must not change."""
    before = files_in(clone)
    environment = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "XDG_CACHE_HOME": str(clone.parent / "cache"),  # no MNIST in a real cache
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
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 3
    assert "=============== Final Test Accuracy ===============" in result.stdout
    final = float(result.stdout.split("test acc:")[1].split()[0])
    assert final > 0.5  # 3 epochs on 600 images of 10 classes
    iterations = 3 * -(-N_TRAIN // 50)
    assert f"train_loss_list:{iterations}" in result.stdout
    assert "test_acc_list:3" in result.stdout
    # The chapter's own save_params pickled its weights: layerwise's load_params reads them.
    with open(target, "rb") as f:
        assert sorted(pickle.load(f)) == ["W1", "W2", "W3", "b1", "b2", "b3"]


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


def test_without_mnist_fashion_mnist_stands_in_with_a_notice(clone):
    (clone / "dataset" / "mnist.pkl").unlink()
    result = run_book(clone, "ch03/neuralnet_mnist.py", options=["--limit", "30"])
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "MNIST not found" in line]
    assert len(notices) == 1 and "Fashion-MNIST" in notices[0]
    assert "images:30 float32 (30, 784)" in result.stdout


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


def test_a_missing_script_is_a_usage_error(clone):
    result = run_book(clone, "ch09/nothing.py")
    assert result.returncode == 2
    assert "no script ch09/nothing.py" in result.stderr


# ---------------------------------------------------------------------- in this process


def test_run_script_installs_the_finder_for_the_run_only(clone, capsys, monkeypatch):
    monkeypatch.setenv("LAYERWISE_BOOK_LIMIT", "20")
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
