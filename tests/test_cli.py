"""The `layerwise` command, run as a user would: in a subprocess."""

import csv
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from layerwise.datasets import load_sample
from layerwise.files import load
from layerwise.training import read_checkpoint_meta


def run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "layerwise", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_default_writes_model_history_and_curves(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--out", str(out), "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "epoch   3/3" in result.stdout and "final test accuracy" in result.stdout
    assert {p.name for p in out.iterdir()} >= {
        "model.npz",
        "history.csv",
        "train_loss.csv",
        "curves.png",
    }
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    final = float(rows[-1]["test_acc"])
    assert f"final test accuracy: {final:.4f}" in result.stdout
    # The saved model reproduces the reported accuracy.
    net = load(out / "model.npz")
    _, (x_test, t_test) = load_sample()
    assert net.accuracy(x_test, t_test) == pytest.approx(final)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_mlp_with_options(tmp_path):
    out = tmp_path / "mlp"
    result = run(
        "train",
        "--model",
        "mlp",
        "--hidden",
        "32",
        "16",
        "--activation",
        "sigmoid",
        "--optimizer",
        "Adam",
        "--lr",
        "0.01",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--weight-decay",
        "0.001",
        "--dtype",
        "float64",
        "--seed",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert type(net).__name__ == "MultiLayerNet" and net.dtype == np.float64
    assert net.get_config()["hidden_size_list"] == [32, 16]


def test_train_mlp_with_batchnorm_and_dropout(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "mlp", "--hidden", "40", "30", "--batchnorm", "--dropout", "0.2"]
    result = run("train", *args, "--epochs", "2", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert type(net).__name__ == "MultiLayerNetExtend"
    assert list(net.layers)[:4] == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1"]
    assert net.get_config()["dropout_ration"] == 0.2
    result = run("evaluate", str(out / "model.npz"))
    assert result.returncode == 0 and "accuracy" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batchnorm"], "--batchnorm and --dropout need --model mlp"),
        (["--model", "mlp", "--dropout", "1"], ">= 0 and < 1"),
        (["--model", "mlp", "--dropout", "-0.1"], ">= 0 and < 1"),
    ],
)
def test_batchnorm_and_dropout_options_are_checked(tmp_path, args, message):
    result = run("train", *args, "--out", str(tmp_path / "x"), "--quiet")
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr


def test_train_convnet_with_the_books_settings_and_its_pictures(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "convnet", "--epochs", "1", "--eval-samples", "200"]
    result = run("train", *args, "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert type(net).__name__ == "SimpleConvNet" and net.params["W1"].shape == (30, 1, 5, 5)
    assert "filters.png" in result.stdout and (out / "filters.png").stat().st_size > 10_000
    evaluated = run("evaluate", str(out / "model.npz"), "--out", str(tmp_path / "pictures"))
    assert evaluated.returncode == 0, evaluated.stderr
    for name in ("misclassified.png", "confusion.png"):
        assert (tmp_path / "pictures" / name).stat().st_size > 10_000


def test_conv_models_default_to_the_books_optimizer(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "deep-convnet", "--epochs", "1", "--eval-samples", "100"]
    result = run("train", *args, "--checkpoint-every", "1000", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert type(load(out / "model.npz")).__name__ == "DeepConvNet"
    options = read_checkpoint_meta(out / "checkpoint.npz")["extra"]["options"]
    assert options["optimizer"] == "adam" and options["lr"] == 0.001 and options["hidden"] == [50]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "convnet", "--batchnorm"], "--batchnorm does not apply to --model convnet"),
        (["--model", "deep-convnet", "--weight-init-std", "0.1"], "He init"),
        (["--model", "convnet", "--hidden", "10", "10"], "takes one --hidden size"),
    ],
)
def test_conv_model_option_mistakes_are_named(tmp_path, args, message):
    result = run("train", *args, "--out", str(tmp_path / "x"), "--quiet")
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_evaluate_prints_accuracy_and_confusion_matrix(tmp_path):
    out = tmp_path / "run"
    assert run("train", "--out", str(out), "--epochs", "2", "--quiet").returncode == 0
    result = run("evaluate", str(out / "model.npz"), "--dataset", "sample")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "confusion matrix" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line[:4].strip().isdigit()]
    matrix = np.array([[int(v) for v in line.split()[1:]] for line in rows])
    assert matrix.shape == (10, 10) and matrix.sum() == 1000


def test_gradcheck_reports_every_parameter():
    result = run("gradcheck")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("max |backprop - numerical| / largest gradient") == 4 + 6 + 10
    assert "gamma1" in result.stdout and "beta2" in result.stdout
    assert "OK" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "must be a whole number"),
        (["train", "--optimizer", "lbfgs"], "invalid choice"),
        (["train", "--lr", "-1"], "must be a finite number > 0"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_give_usage_not_traceback(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "no/such/dir", "--out", "{tmp}/x"], "--dataset must be"),
        (["train", "--dataset", "{tmp}", "--out", "{tmp}/x"], "mnist"),
        (["evaluate", "{tmp}/missing.npz"], "missing.npz"),
        (["train", "--resume", "{tmp}"], "no checkpoint.npz"),
        (["train", "--hidden", "5", "5", "--out", "{tmp}/x"], "--model mlp"),
        (["train", "--activation", "sigmoid", "--out", "{tmp}/x"], "--model mlp"),
    ],
)
def test_user_errors_are_one_line_not_traceback(tmp_path, args, message):
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_diverging_run_stops_with_advice(tmp_path):
    result = run("train", "--lr", "1e30", "--out", str(tmp_path / "x"), "--quiet")
    assert result.returncode == 1
    assert "smaller learning rate" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- interrupted training

# float64 and 100 hidden units make each iteration slow enough (~1 ms) that the signals,
# sent at random moments, land while the run is still training.
RUN = [
    "train",
    "--epochs",
    "40",
    "--hidden",
    "100",
    "--dtype",
    "float64",
    "--checkpoint-every",
    "17",
    "--seed",
    "5",
    "--quiet",
]


def _read_run(directory):
    model = load(directory / "model.npz")
    return (
        model.state_dict(),
        (directory / "history.csv").read_text(),
        (directory / "train_loss.csv").read_text(),
    )


def _start(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "layerwise", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_during_training(proc, checkpoint, sig, rng, after_mtime=None):
    """Wait until a (new) checkpoint exists, then send `sig` after a random delay."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists() and checkpoint.stat().st_mtime_ns != after_mtime:
            break
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.4))
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


# The chapter-6 network: Dropout's generators and BatchNorm's running statistics must come
# back from every checkpoint too.
RUN_EXTEND = [*RUN, "--model", "mlp", "--hidden", "60", "40", "--batchnorm", "--dropout", "0.2"]


# The chapter-7 network: its iterations take ~30 ms, so two short epochs leave time to interrupt.
RUN_CONV = [
    *("train", "--model", "convnet", "--epochs", "2", "--hidden", "20", "--eval-samples", "300"),
    *("--checkpoint-every", "7", "--seed", "5", "--quiet"),
]


@pytest.mark.parametrize(
    "RUN", [RUN, RUN_EXTEND, RUN_CONV], ids=["two-layer", "batchnorm-dropout", "convnet"]
)
def test_kill_and_resume_is_bit_identical(tmp_path, RUN):  # noqa: N803
    """SIGKILL, SIGINT and SIGTERM at random points, resumed each time, equal the clean run."""
    reference = tmp_path / "reference"
    assert run(*RUN, "--out", str(reference)).returncode == 0
    expected = _read_run(reference)

    out = tmp_path / "interrupted"
    checkpoint = out / "checkpoint.npz"
    rng = random.Random(os.environ.get("PYTEST_SEED", "kill-resume"))
    outcomes = []
    proc = _start(*RUN, "--out", str(out))
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
        mtime = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        code, _, err = _kill_during_training(proc, checkpoint, sig, rng, mtime)
        outcomes.append((signal.Signals(sig).name, code))
        if code == 0:
            break  # the run finished before the signal: nothing left to interrupt
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code == 128 + sig, err
            assert f"layerwise train --resume {out}" in err
        proc = _start("train", "--resume", str(out), "--quiet")
    else:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    print("kill-and-resume outcomes:", outcomes)
    assert sum(1 for _, c in outcomes if c != 0) >= 3, outcomes  # most signals interrupted
    state, history, losses = _read_run(out)
    assert losses == expected[2], outcomes
    assert history == expected[1], outcomes
    for key in expected[0]:
        np.testing.assert_array_equal(state[key], expected[0][key])
