"""The `layerwise` command, run as a user would: in a subprocess."""

import csv
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise.datasets import load_sample
from layerwise.files import load, read_training
from layerwise.training import read_checkpoint_meta


def run(*args, timeout=120, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "layerwise", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder of IDX files: 600 training and 200 test images of the sample (fast runs)."""
    folder = tmp_path_factory.mktemp("data") / "tiny"
    folder.mkdir()
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=False, flatten=False)
    every = slice(None, None, 5000 // 600)  # every class, as the sample is sorted by class
    for name, array in [
        ("train-images-idx3-ubyte", x_train[every][:600, 0]),
        ("train-labels-idx1-ubyte", t_train[every][:600]),
        ("t10k-images-idx3-ubyte", x_test[::5, 0]),
        ("t10k-labels-idx1-ubyte", t_test[::5]),
    ]:
        _write_idx(folder / name, array)
    return folder


def test_train_default_writes_model_history_curves_and_run_json(matplotlib, tmp_path):
    out = tmp_path / "run"
    result = run("train", "--out", str(out), "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "epoch   3/3" in result.stdout and "final test accuracy" in result.stdout
    assert {p.name for p in out.iterdir()} >= {
        "model.npz",
        "run.json",
        "checkpoint.npz",
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
    # Regression: the checkpoint named beside model.npz was said to stand in for a model absent.
    named = run("evaluate", str(out / "checkpoint.npz"), "--out", str(tmp_path / "pictures"))
    assert named.returncode == 0, named.stderr
    assert named.stderr.startswith(
        f"layerwise: using the network of the checkpoint {out / 'checkpoint.npz'}, at iteration "
    ), named.stderr
    # Issue 11, item 3: run.json says what the run was and how it ended.
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["model"] == "two-layer"
    assert record["network"] == net.get_config() and record["parameters"] == 39760
    assert record["dataset"]["name"] == "sample"
    assert record["dataset"]["files"] == ["fashion_mnist_sample.npz"]
    assert (record["dataset"]["train"], record["dataset"]["test"]) == (5000, 1000)
    assert record["optimizer"] == {"name": "sgd", "lr": 0.1}
    assert (record["epochs"], record["epochs_done"], record["batch_size"]) == (3, 3, 100)
    assert (record["seed"], record["dtype"], record["threads"]) == (0, "float32", 1)
    assert record["versions"]["layerwise"] == layerwise.__version__
    assert record["versions"]["numpy"] == np.__version__
    assert record["started"] <= record["ended"] and record["ended"][:4].isdigit()
    assert record["test_acc"] == final and record["train_acc"] == float(rows[-1]["train_acc"])
    assert record["options"]["hidden"] == [50] and record["options"]["epochs"] == 3
    # ... and so does the model file's description.
    training = read_training(out / "model.npz")
    assert training["dataset"] == record["dataset"] and training["test_acc"] == final
    # Issue 11, item 7: `evaluate` takes the run folder itself.
    evaluated = run("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"accuracy {final:.4f} on 1000 test images of sample" in evaluated.stdout
    assert "confusion matrix" in evaluated.stdout
    rows = [line for line in evaluated.stdout.splitlines() if line[:4].strip().isdigit()]
    matrix = np.array([[int(v) for v in line.split()[1:]] for line in rows])
    assert matrix.shape == (10, 10) and matrix.sum() == 1000
    assert np.trace(matrix) == round(final * 1000)


def test_train_mlp_with_options(tmp_path, tiny):
    out = tmp_path / "mlp"
    result = run(
        "train",
        "--dataset",
        str(tiny),
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
        "--weight-init-std",
        "Xavier",
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
    assert net.get_config()["weight_init_std"] == "xavier"
    record = json.loads((out / "run.json").read_text())
    assert record["optimizer"] == {"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999}


def test_train_mlp_with_batchnorm_and_dropout(tmp_path, tiny):
    out = tmp_path / "run"
    args = ["--model", "mlp", "--hidden", "40", "30", "--batchnorm", "--dropout", "0.2"]
    args += ["--dataset", str(tiny)]
    result = run("train", *args, "--epochs", "2", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert type(net).__name__ == "MultiLayerNetExtend"
    assert list(net.layers)[:4] == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1"]
    assert net.get_config()["dropout_ration"] == 0.2
    result = run("evaluate", str(out / "model.npz"))
    assert result.returncode == 0 and "accuracy" in result.stdout, result.stderr


def test_train_convnet_with_the_books_settings_and_its_pictures(matplotlib, tmp_path, tiny):
    out = tmp_path / "run"
    args = ["--model", "convnet", "--epochs", "1", "--dataset", str(tiny)]
    result = run("train", *args, "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert type(net).__name__ == "SimpleConvNet" and net.params["W1"].shape == (30, 1, 5, 5)
    assert "filters.png" in result.stdout and (out / "filters.png").stat().st_size > 10_000
    # Issue 11, item 3: evaluate defaults to the dataset the model was trained on.
    evaluated = run("evaluate", str(out / "model.npz"), "--out", str(tmp_path / "pictures"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"on 200 test images of {tiny} (the dataset it was trained on)" in evaluated.stdout
    for name in ("misclassified.png", "confusion.png"):
        assert (tmp_path / "pictures" / name).stat().st_size > 10_000
    # An explicit --dataset still wins.
    evaluated = run("evaluate", str(out), "--dataset", "sample", "--out", str(tmp_path / "p"))
    assert "on 1000 test images of sample" in evaluated.stdout, evaluated.stderr


def test_conv_models_default_to_the_books_optimizer(tmp_path, tiny):
    out = tmp_path / "run"
    args = ["--model", "deep-convnet", "--epochs", "1", "--dataset", str(tiny)]
    result = run("train", *args, "--checkpoint-every", "1000", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert type(load(out / "model.npz")).__name__ == "DeepConvNet"
    options = read_checkpoint_meta(out / "checkpoint.npz")["extra"]["options"]
    assert options["optimizer"] == "adam" and options["lr"] == 0.001 and options["hidden"] == [50]
    record = json.loads((out / "run.json").read_text())
    assert record["optimizer"]["name"] == "adam" and record["dataset"]["folder"] == str(tiny)


def test_gradcheck_reports_every_parameter():
    result = run("gradcheck")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.count("max |backprop - numerical| / largest gradient") == 4 + 6 + 10 + 8 + 16
    )
    assert "gamma1" in result.stdout and "beta2" in result.stdout
    assert "OK" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "argument --epochs: must be a whole number"),
        (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        (["train", "--lr", "-1"], "argument --lr: must be a finite number > 0"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
        # Issue 11, item 5: these were NumPy's or Python's wording, exit 1, or accepted.
        (["train", "--seed", "-1"], "argument --seed: must be a whole number >= 0, got -1"),
        (["train", "--weight-init-std", "-1"], "argument --weight-init-std: must be a number > 0"),
        (["train", "--weight-init-std", "big"], "or one of he, relu, sigmoid, xavier, got 'big'"),
        (["train", "--threads", "-1"], "argument --threads: must be a whole number >= 0"),
        (["train", "--dataset", "no/such/dir"], "argument --dataset: must be sample"),
        (["evaluate", "m.npz", "--dataset", "no/such/dir"], "argument --dataset: must be"),
        (["gradcheck", "--seed", "-1"], "argument --seed: must be a whole number >= 0"),
        # Option combinations are usage errors too, named.
        (["train", "--batchnorm"], "--batchnorm needs --model mlp, convnet or deep-convnet"),
        (["train", "--model", "mlp", "--dropout", "1"], ">= 0 and < 1"),
        (["train", "--model", "mlp", "--dropout", "-0.1"], ">= 0 and < 1"),
        (["train", "--model", "convnet", "--dropout", "0.1"], "--dropout does not apply to"),
        (["train", "--model", "deep-convnet", "--weight-init-std", "0.1"], "He init"),
        (["train", "--model", "convnet", "--hidden", "10", "10"], "takes one --hidden size"),
        (["train", "--hidden", "5", "5"], "--model mlp"),
        (["train", "--activation", "sigmoid"], "--model mlp"),
        (["train", "--weight-init-std", "he"], "--weight-init-std he needs --model mlp"),
        (["train", "--force"], "--force needs --out"),
    ],
)
def test_bad_options_give_usage_naming_the_option_exit_2(tmp_path, args, message):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # a refused run leaves no folder behind


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "{tmp}/missing.npz"], "missing.npz"),
        (["evaluate", "{tmp}/notes.txt"], "not an .npz archive"),
        (["runs", "{tmp}/nowhere"], "no such folder"),
    ],
)
def test_user_errors_are_one_line_not_traceback(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a model")
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_diverging_run_keeps_what_it_did(matplotlib, tmp_path):
    """Issue 11, item 7: a diverging run left an empty folder; now run.json says "diverged"
    and the losses so far are kept (no model.npz: there is no model worth keeping)."""
    out = tmp_path / "x"
    result = run("train", "--lr", "1e9", "--out", str(out), "--quiet")
    assert result.returncode == 1
    assert "smaller learning rate" in result.stderr and "Traceback" not in result.stderr
    assert f"{out / 'run.json'}" in result.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "diverged" and "loss became" in record["message"]
    assert record["epochs_done"] == 0 and record["iterations"] >= 1 and record["test_acc"] is None
    with open(out / "train_loss.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == record["iterations"] and all(np.isfinite(losses))
    assert (out / "history.csv").exists() and (out / "curves.png").exists()
    assert not (out / "model.npz").exists()
    evaluated = run("evaluate", str(out))
    assert evaluated.returncode == 1 and "run.json says the run diverged" in evaluated.stderr


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout == f"layerwise {layerwise.__version__}\n"


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


def _interrupt_and_resume(args, out, signals, rng, after_kill=None):
    """Start ``layerwise ARGS --out OUT``; after each (new) checkpoint and a random delay send
    the next of ``signals``, then resume; let the last resume finish. Returns each signal's
    (name, exit code); the run stops early where it finished before a signal landed (code 0).
    ``after_kill(checkpoint)`` checks the checkpoint a SIGKILL left. The process is ended
    even when an assertion fails."""
    checkpoint = out / "checkpoint.npz"
    outcomes = []
    proc = _start(*args, "--out", str(out))
    try:
        for sig in signals:
            mtime = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
            code, _, err = _kill_during_training(proc, checkpoint, sig, rng, mtime)
            outcomes.append((signal.Signals(sig).name, code))
            if code == 0:
                break  # the run finished before the signal: nothing left to interrupt
            if sig == signal.SIGKILL:
                assert code == -signal.SIGKILL, err
                if after_kill is not None:
                    after_kill(checkpoint)
            else:
                assert code == 128 + sig, err
                assert f"layerwise train --resume {out}" in err
            proc = _start("train", "--resume", str(out), "--quiet")
        else:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    print("kill-and-resume outcomes:", outcomes)
    return outcomes


# The chapter-6 network: Dropout's generators and BatchNorm's running statistics must come
# back from every checkpoint too.
RUN_EXTEND = [*RUN, "--model", "mlp", "--hidden", "60", "40", "--batchnorm", "--dropout", "0.2"]


# The chapter-7 network: its iterations take ~30 ms, so two short epochs leave time to interrupt.
RUN_CONV = [
    *("train", "--model", "convnet", "--epochs", "2", "--hidden", "20", "--eval-samples", "300"),
    *("--checkpoint-every", "7", "--seed", "5", "--quiet"),
]


# Two worker processes (layerwise.parallel): the parent's SIGKILL takes its worker with it.
RUN_WORKERS = [*RUN_EXTEND, "--workers", "2"]


@pytest.mark.signals
@pytest.mark.parametrize(
    "RUN",
    [RUN, RUN_EXTEND, RUN_CONV, RUN_WORKERS],
    ids=["two-layer", "batchnorm-dropout", "convnet", "workers"],
)
def test_kill_and_resume_is_bit_identical(tmp_path, RUN):  # noqa: N803
    """SIGKILL, SIGINT and SIGTERM at random points, resumed each time, equal the clean run."""
    reference = tmp_path / "reference"
    assert run(*RUN, "--out", str(reference)).returncode == 0
    expected = _read_run(reference)

    out = tmp_path / "interrupted"
    rng = random.Random(os.environ.get("PYTEST_SEED", "kill-resume"))
    signals = (signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL)
    outcomes = _interrupt_and_resume(RUN, out, signals, rng)
    assert sum(1 for _, c in outcomes if c != 0) >= 3, outcomes  # most signals interrupted
    state, history, losses = _read_run(out)
    assert losses == expected[2], outcomes
    assert history == expected[1], outcomes
    for key in expected[0]:
        np.testing.assert_array_equal(state[key], expected[0][key])


# ---------------------------------------------------------------- issue 11: data


def test_a_dataset_folder_is_the_only_place_looked_in(tmp_path, tiny):
    """Item 1: with LAYERWISE_DATA (and a cache) holding MNIST, `--dataset emptydir/` trained
    on that data under the name emptydir/. Now the folder lacks the files, and says which."""
    (tmp_path / "env" / "mnist").mkdir(parents=True)
    for path in tiny.iterdir():
        (tmp_path / "env" / "mnist" / path.name).write_bytes(path.read_bytes())
    env = {"LAYERWISE_DATA": str(tmp_path / "env"), "XDG_CACHE_HOME": str(tmp_path / "env")}
    (tmp_path / "empty").mkdir()
    result = run("train", "--dataset", str(tmp_path / "empty"), "--quiet", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout
    files = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    assert f"lacks {files}t10k-labels-idx1-ubyte" in result.stderr
    assert "only place looked in" in result.stderr and "Traceback" not in result.stderr
    partial = tmp_path / "partial"
    partial.mkdir()
    for path in tiny.iterdir():
        if path.name != "t10k-labels-idx1-ubyte":
            (partial / path.name).write_bytes(path.read_bytes())
    result = run("train", "--dataset", str(partial), "--quiet", cwd=tmp_path, env=env)
    assert result.returncode == 1 and "lacks t10k-labels-idx1-ubyte (each" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_dataset_not_found_advice_is_for_the_command_line(tmp_path, name):
    """Item 1: the advice was the library's "pass data_dir=..."."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom layerwise import cli, datasets\n"
        "datasets.MIRRORS.update({'mnist': [], 'fashion-mnist': []})\n"
        "datasets.DEBIAN_FASHION_MNIST_DIR = Path('/nonexistent')\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LAYERWISE_DATA", None)
    result = subprocess.run(
        [sys.executable, "-c", script, "train", "--dataset", name],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr
    assert f"--dataset {name}: not found" in message and "data_dir" not in message
    assert f"DIR/{name}" in message and "LAYERWISE_DATA=DIR" in message
    assert "--dataset DIR" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path / "cache" / "layerwise" / name) in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (name == "fashion-mnist")


# ---------------------------------------------------------------- issue 11: run folders


def _folder_of(result):
    return result.stdout.split(" -> ")[1].splitlines()[0]


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, tiny):
    """Item 2: two runs started in one second both wrote runs/DATE-TIME."""
    taken = tmp_path / "runs"
    now = time.time()
    stamps = [time.strftime("%Y%m%d-%H%M%S", time.localtime(now + s)) for s in range(-1, 30)]
    for stamp in stamps:  # a run of the same second is already there, whenever these start
        (taken / stamp).mkdir(parents=True)
        (taken / stamp / "notes.txt").write_text(stamp)
    args = ["-m", "layerwise", "train", "--epochs", "1", "--dataset", str(tiny), "--quiet"]
    procs = [
        subprocess.Popen([sys.executable, *args], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [subprocess.CompletedProcess(p.args, p.wait(60), p.stdout.read()) for p in procs]
    for p in procs:
        p.stdout.close()
    assert [r.returncode for r in results] == [0, 0]
    folders = sorted(_folder_of(r) for r in results)
    assert folders[0] != folders[1]
    for folder in folders:
        stamp, suffix = folder.removeprefix("runs/").rsplit("-", 1)
        assert stamp in stamps and suffix in ("2", "3")
        assert (tmp_path / folder / "model.npz").exists()
    for stamp in stamps:  # the folders that were there are untouched
        assert [p.name for p in (taken / stamp).iterdir()] == ["notes.txt"]


def test_an_out_folder_holding_a_run_is_refused_unless_forced(tmp_path, tiny):
    """Item 2: `--out runs/full` silently replaced a finished run."""
    out = tmp_path / "full"
    common = ["--epochs", "1", "--dataset", str(tiny), "--out", str(out), "--quiet"]
    assert run("train", *common).returncode == 0
    model = (out / "model.npz").read_bytes()
    result = run("train", *common, "--seed", "1")
    assert result.returncode == 2 and "usage:" in result.stderr
    assert f"--out {out} already holds a run" in result.stderr
    assert "--force" in result.stderr and f"--resume {out}" in result.stderr
    assert (out / "model.npz").read_bytes() == model
    result = run("train", *common, "--seed", "1", "--force")
    assert result.returncode == 0, result.stderr
    assert (out / "model.npz").read_bytes() != model
    assert json.loads((out / "run.json").read_text())["seed"] == 1


def test_runs_lists_the_runs_oldest_first_and_plots_them(matplotlib, tmp_path, tiny, monkeypatch):
    """Item 3: `layerwise runs` shows what each run was; `--plot` compares them."""
    for name, optimizer, lr in [("b-sgd", "sgd", "0.1"), ("a-adam", "adam", "0.001")]:
        args = ["--optimizer", optimizer, "--lr", lr, "--epochs", "2", "--dataset", str(tiny)]
        result = run("train", *args, "--out", str(tmp_path / "runs" / name), "--quiet")
        assert result.returncode == 0, result.stderr
    (tmp_path / "runs" / "scratch").mkdir()
    result = run("runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        *("folder", "model", "dataset", "optimizer", "lr", "epochs", "test", "acc", "time"),
        "status",
    ]
    sgd, adam = lines[1].split(), lines[2].split()  # in the order they were started
    assert sgd[:6] == ["runs/b-sgd", "two-layer", "tiny/", "sgd", "0.1", "2"]
    assert adam[:6] == ["runs/a-adam", "two-layer", "tiny/", "adam", "0.001", "2"]
    record = json.loads((tmp_path / "runs" / "a-adam" / "run.json").read_text())
    assert adam[6] == f"{record['test_acc']:.4f}" and adam[-1] == "finished"
    assert lines[3] == "runs/scratch: no run.json (not a run)"
    picture = tmp_path / "compare.png"
    result = run("runs", "runs/a-adam", "runs/b-sgd", "--plot", "--out", str(picture), cwd=tmp_path)
    assert result.returncode == 0 and f"wrote {picture}" in result.stdout, result.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Labelled from run.json, as the book's chapter-6 comparisons of optimizers.
    from layerwise.cli.runs import plot_run_curves
    from layerwise.run_folders import find_runs

    runs, _ = find_runs([tmp_path / "runs"])
    fig = _drawn(monkeypatch, lambda: plot_run_curves(runs, tmp_path / "r.png"))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["b-sgd: two-layer, sgd lr 0.1", "a-adam: two-layer, adam lr 0.001"]
    assert fig.axes[0].get_title() == "test accuracy per epoch on tiny/"


# ---------------------------------------------------------------- issue 11: --resume


def test_resume_extends_a_finished_run_bit_for_bit(tmp_path, tiny):
    """Item 4: `--resume DIR --epochs 3` stopped where the run had stopped (and a run without
    --checkpoint-every had no checkpoint to resume at all). Now 2 + 1 epochs equal 3."""
    common = ["--optimizer", "adam", "--lr", "0.001", "--dataset", str(tiny), "--quiet"]
    assert run("train", *common, "--epochs", "3", "--out", str(tmp_path / "three")).returncode == 0
    short = tmp_path / "short"
    assert run("train", *common, "--epochs", "2", "--out", str(short)).returncode == 0
    result = run("train", "--resume", str(short), "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "resuming at iteration 12/18" in result.stdout and "epoch   3/3" in result.stdout
    state, history, losses = _read_run(short)
    expected = _read_run(tmp_path / "three")
    assert (history, losses) == expected[1:]
    for key, value in expected[0].items():
        np.testing.assert_array_equal(state[key], value)
    record = json.loads((short / "run.json").read_text())
    assert (record["status"], record["epochs"], record["epochs_done"]) == ("finished", 3, 3)
    assert len(record["resumed"]) == 1 and read_training(short / "model.npz")["epochs"] == 3


def test_resume_refuses_options_that_would_change_the_run(tmp_path, tiny):
    """Item 4: options given with --resume were ignored without a word."""
    out = tmp_path / "run"
    args = ["--dataset", str(tiny), "--epochs", "2", "--lr", "0.05", "--out", str(out)]
    assert run("train", *args, "--quiet").returncode == 0
    for given, message in [
        (["--lr", "0.1"], f"--lr 0.1 would change the run in {out}, which has --lr 0.05"),
        (["--hidden", "20"], "--hidden 20 would change the run"),
        (["--dataset", "sample"], "--dataset sample would change the run"),
        (["--epochs", "1"], "has already reached epoch 2"),
        (["--out", str(tmp_path / "b")], "--out cannot be combined with --resume"),
    ]:
        result = run("train", "--resume", str(out), *given)
        assert result.returncode == 2 and "usage:" in result.stderr, result.stderr
        assert message in result.stderr
    # Options that agree with the run, and --threads, are fine.
    result = run("train", "--resume", str(out), "--lr", "0.05", "--threads", "1", "--quiet")
    assert result.returncode == 0 and "already complete" in result.stdout, result.stderr
    result = run("train", "--resume", str(tmp_path))
    assert result.returncode == 2 and "there is no checkpoint.npz" in result.stderr


#: A run stopped by Ctrl-C mid-epoch, written by layerwise before `Checkpoint` owned the format
#: (issue 26 item 4): tests/data/old_checkpoint/make.py at commit fcae149.
OLD_RUN = Path(__file__).parent / "data" / "old_checkpoint"
OLD_RUN_OPTIONS = [
    *("--model", "mlp", "--hidden", "8", "--batchnorm", "--dropout", "0.2"),
    *("--optimizer", "adam", "--lr", "0.01", "--epochs", "2", "--batch-size", "50", "--seed", "3"),
]


def test_a_checkpoint_written_by_an_earlier_layerwise_resumes_to_the_same_run(tmp_path):
    """Issue 26: checkpoints written before this change still load. The old run (BatchNorm,
    Dropout's generator, Adam's state, the epoch's order: stopped at iteration 7 of 200) ends
    where an uninterrupted run of the same options ends, bit for bit."""
    old = tmp_path / "old"
    shutil.copytree(OLD_RUN, old, ignore=shutil.ignore_patterns("*.py"))
    result = run("train", "--resume", str(old), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "resuming at iteration 7/200" in result.stdout
    fresh = tmp_path / "fresh"
    result = run("train", *OLD_RUN_OPTIONS, "--quiet", "--out", str(fresh))
    assert result.returncode == 0, result.stderr
    (state, *curves), (expected, *expected_curves) = _read_run(old), _read_run(fresh)
    assert curves == expected_curves
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)


# ---------------------------------------------------------------- issue 11: threads


def test_more_threads_than_cores_warns_and_caps(tmp_path, tiny):
    """Item 5: `--threads 16` on 2 cores ran ten times slower without a word."""
    out = tmp_path / "run"
    args = ["--threads", "10000", "--epochs", "1", "--dataset", str(tiny), "--out", str(out)]
    result = run("train", *args, "--quiet")
    assert result.returncode == 0, result.stderr
    cores = os.cpu_count()
    assert f"--threads 10000 is more than the {cores} cores of this machine" in result.stderr
    assert json.loads((out / "run.json").read_text())["threads"] == cores


# ---------------------------------------------------------------- issue 11: curves.png


class _History:
    def __init__(self, epochs, iter_per_epoch=50):
        rng = np.random.default_rng(0)
        self.iter_per_epoch = iter_per_epoch
        self.train_loss_list = list(2 * np.exp(-np.arange(epochs * iter_per_epoch) / 200) + 0.3)
        self.train_loss_list = [v + rng.uniform(0, 0.1) for v in self.train_loss_list]
        self.train_acc_list = list(np.linspace(0.84, 0.90, epochs))
        self.test_acc_list = list(np.linspace(0.82, 0.87, epochs))


def _drawn(monkeypatch, draw):
    """The figure `draw()` saves, kept open to be looked at."""
    figure = pytest.importorskip("matplotlib.figure")
    figures = []
    monkeypatch.setattr(figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    assert draw()
    return figures[0]


@pytest.mark.parametrize("epochs", [3, 20])
def test_curves_say_which_run_and_show_the_accuracies_spread(tmp_path, monkeypatch, epochs):
    """Item 8: no title, a fixed 0-1 accuracy axis, an unexplained window, epoch 1 unlabelled."""
    from layerwise.viz.plots import plot_history

    title = "two-layer 784-50-10 on sample · sgd lr 0.1"
    fig = _drawn(monkeypatch, lambda: plot_history(_History(epochs), tmp_path / "c.png", title))
    assert fig.get_suptitle() == title
    ax_loss, ax_acc = fig.axes
    low, high = ax_acc.get_ylim()
    assert 0.78 <= low < 0.82 and 0.87 < high <= 0.91  # the data 0.82-0.90 and a margin
    assert list(ax_acc.get_xticks())[: min(epochs, 3)] == [1, 2, 3][: min(epochs, 3)]
    assert all(float(t).is_integer() for t in ax_acc.get_xticks())
    legend = [t.get_text() for t in ax_loss.get_legend().get_texts()]
    window = min(epochs * 50 // 20, 50)
    assert f"moving average: mean of {window} iterations" in legend


def test_accuracy_axis_and_epoch_ticks():
    from layerwise.viz.plots import accuracy_limits, epoch_ticks

    assert accuracy_limits([0.5, 1.0]) == (0.45, 1.0)  # never beyond 1
    low, high = accuracy_limits([0.9, 0.9])  # one value: still a readable range
    assert high - low == pytest.approx(0.05)
    assert epoch_ticks(3) == [1, 2, 3] and epoch_ticks(20) == list(range(1, 21))
    assert epoch_ticks(40) == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    assert epoch_ticks(100)[:3] == [1, 10, 20]


def test_a_closed_pipe_is_not_an_error_message():
    """`layerwise runs | head -3` printed "layerwise: error: [Errno 32] Broken pipe"."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerwise", "gradcheck"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and err == ""


def test_workers_train_the_model_of_one_worker(tmp_path):
    """--workers N: the gradient of the whole minibatch, so the model of --workers 1."""
    args = ["train", "--epochs", "2", "--dtype", "float64", "--model", "mlp", "--dropout", "0.2"]
    models = {}
    for n in ("1", "2", "auto"):
        result = run(*args, "--workers", n, "--out", str(tmp_path / n), "--quiet")
        assert result.returncode == 0, result.stderr
        models[n] = load(tmp_path / n / "model.npz").state_dict()
    for n in ("2", "auto"):
        for key, value in models["1"].items():
            np.testing.assert_allclose(models[n][key], value, rtol=1e-9, atol=1e-12)
    evaluated = {n: run("evaluate", str(tmp_path / "1"), "--workers", n) for n in ("1", "2")}
    assert evaluated["1"].returncode == 0, evaluated["1"].stderr
    assert evaluated["1"].stdout == evaluated["2"].stdout


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_bad_workers_are_a_usage_error(tmp_path, bad):
    result = run("train", "--workers", bad, cwd=tmp_path)
    assert result.returncode == 2 and "--workers" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- issue 21: runs never misreport


def test_regression_a_run_whose_loss_explodes_is_recorded_diverged_exit_1(tmp_path):
    """Item 1: --lr 1e6 reached losses of 1e25 (finite) and ended "finished", exit 0."""
    out = tmp_path / "x"
    result = run("train", "--lr", "1e6", "--epochs", "3", "--out", str(out), "--quiet")
    assert result.returncode == 1, result.stdout
    assert "the run diverged: at the end of epoch 1" in result.stderr
    assert "Traceback" not in result.stderr and "final test accuracy" not in result.stdout
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "diverged" and "more than 10 times" in record["message"]
    assert record["epochs_done"] == 1 and (out / "history.csv").exists()
    assert not (out / "model.npz").exists() and not (out / "checkpoint.npz").exists()


def _wait_for(condition, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_regression_a_killed_run_keeps_its_epochs_and_runs_says_killed(tmp_path, tiny):
    """Items 2, 3 and 6: a SIGKILL after two epochs left only run.json, which said "running"
    forever; now each epoch ends with a checkpoint and run.json's progress, `runs` sees the
    process is gone, the run resumes from its last epoch and can be evaluated meanwhile."""
    out = tmp_path / "killed"
    args = ["train", "--dataset", str(tiny), "--epochs", "3000", "--out", str(out), "--quiet"]
    proc = _start(*args)
    try:
        progressed = _wait_for(
            lambda: (_load_json(out / "run.json") or {}).get("epochs_done", 0) >= 2, proc
        )
        assert progressed, proc.stderr.read() if proc.poll() is not None else "no progress"
        record = json.loads((out / "run.json").read_text())
        assert record["pid"] == proc.pid and record["host"] and record["heartbeat"]
        listed = run("runs", str(out))
        assert listed.stdout.splitlines()[1].split()[-1] == "running"
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    record = json.loads((out / "run.json").read_text())
    done = record["epochs_done"]
    assert record["status"] == "running" and done >= 2
    meta = read_checkpoint_meta(out / "checkpoint.npz")
    assert meta["epoch"] >= done  # a checkpoint at least as far as run.json says
    listed = run("runs", str(out))
    assert listed.stdout.splitlines()[1].endswith(f"killed after epoch {done}"), listed.stdout
    evaluated = run("evaluate", str(out), "--out", str(tmp_path / "pictures"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "using the network of its checkpoint.npz" in evaluated.stderr
    assert "the run was killed" in evaluated.stderr
    resumed = run("train", "--resume", str(out), "--epochs", str(meta["epoch"] + 1), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    ipe = 6  # 600 training images in batches of 100
    assert f"resuming at iteration {meta['epoch'] * ipe}/" in resumed.stdout


def _load_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _train_in_process(monkeypatch, tiny, out, *, cut_checkpoint):
    """`layerwise train` in this process, Ctrl-C'd twice during epoch 2 (6 iterations each):
    at once during a step, or (cut_checkpoint) the second one while the interrupt's checkpoint
    is being written."""
    from layerwise import training
    from layerwise.checkpoints import Checkpoint
    from layerwise.cli import main

    interrupted = []
    step, write = training.Trainer.train_step, Checkpoint.write

    def train_step(self, x, t):
        if self.iteration == 8 and not interrupted:
            interrupted.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # the first: stop at the next boundary
            if not cut_checkpoint:
                os.kill(os.getpid(), signal.SIGINT)  # the second: stop at once
        return step(self, x, t)

    def write_checkpoint(*args, **kwargs):
        if interrupted and cut_checkpoint:
            os.kill(os.getpid(), signal.SIGINT)  # lands before the file is replaced
        return write(*args, **kwargs)

    monkeypatch.setattr(training.Trainer, "train_step", train_step)
    monkeypatch.setattr(Checkpoint, "write", write_checkpoint)
    return main(["train", "--dataset", str(tiny), "--epochs", "3", "--out", str(out), "--quiet"])


@pytest.mark.parametrize("cut_checkpoint", [False, True], ids=["during-a-step", "during-the-write"])
def test_regression_a_double_ctrl_c_is_recorded_and_says_how_to_resume(
    monkeypatch, capsys, tmp_path, tiny, cut_checkpoint
):
    """Item 4: a second Ctrl-C printed only "layerwise: interrupted" and left run.json
    "running"; now the record says interrupted, which checkpoint is the last good one, and
    how to resume."""
    out = tmp_path / "run"
    status = _train_in_process(monkeypatch, tiny, out, cut_checkpoint=cut_checkpoint)
    err = capsys.readouterr().err
    assert status == 128 + signal.SIGINT
    assert f"resume with: layerwise train --resume {out}" in err
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "interrupted", record
    assert "second interrupt" in record["message"]
    assert "the last good checkpoint is" in err and "of iteration 6 (epoch 2)" in err
    assert read_checkpoint_meta(out / "checkpoint.npz")["iteration"] == 6
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # the cut write left none
    monkeypatch.undo()
    resumed = run("train", "--resume", str(out), "--quiet")
    assert resumed.returncode == 0 and "resuming at iteration 6/18" in resumed.stdout


def test_messages_name_the_users_things(tmp_path, tiny):
    """Item 5: a corrupt run.json read as "no run.json"; "the run interrupted"."""
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text('{"status": "finished",')
    listed = run("runs", str(tmp_path))
    assert f"{tmp_path / 'broken' / 'run.json'} is unreadable: it is not JSON" in listed.stdout
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "run.json").write_text('{"status": "interrupted"}')
    evaluated = run("evaluate", str(tmp_path / "stopped"))
    assert "its run.json says the run was interrupted" in evaluated.stderr


@pytest.mark.parametrize(
    "args, suggestion",
    [
        (["train", "--dataset", "fashion_mnist"], "did you mean 'fashion-mnist'?"),
        (["train", "--model", "convnett"], "did you mean 'convnet'?"),
        (["train", "--optimizer", "adma"], "did you mean 'adam'?"),
        (["train", "--model", "mlp", "--activation", "reLu6"], "did you mean 'relu'?"),
        (["train", "--dtype", "float46"], "did you mean 'float64'?"),
        (["trian"], "did you mean 'train'?"),
        (["evaluate", "m.npz", "--dataset", "MNIST_"], "did you mean 'mnist'?"),
    ],
)
def test_regression_every_choice_suggests_the_name_meant(tmp_path, args, suggestion):
    """Item 6: `--dataset fashion_mnist` was refused without pointing at fashion-mnist."""
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2 and "usage:" in result.stderr
    assert suggestion in result.stderr, result.stderr


def test_choices_still_take_any_case_and_show_in_help():
    from layerwise.cli._common import choice

    assert choice(["sgd", "adam"])("ADAM") == "adam"
    # Volume 1's networks, then the sequel's models.
    assert "{two-layer,mlp,convnet,deep-convnet,rnnlm," in run("train", "--help").stdout


def test_regression_the_conv_nets_take_batchnorm(tmp_path, tiny):
    """Item 6: `--model convnet --batchnorm` was refused though the classes take it."""
    out = tmp_path / "bn"
    result = run(
        *("train", "--model", "convnet", "--batchnorm", "--hidden", "10", "--epochs", "1"),
        *("--dataset", str(tiny), "--out", str(out), "--quiet"),
    )
    assert result.returncode == 0, result.stderr
    net = load(out / "model.npz")
    assert net.get_config()["use_batchnorm"] and {"gamma1", "beta1"} <= set(net.params)
    from layerwise.cli.models import build_network
    from layerwise.cli.train import new_options

    opts = new_options(
        layerwise.cli.build_parser().parse_args(["train", "--model", "deep-convnet", "--batchnorm"])
    )
    deep = build_network(opts, 784, 10)
    assert all(f"gamma{i}" in deep.params for i in range(1, 7))


def test_regression_gradcheck_covers_the_conv_nets_and_a_saved_model(tmp_path, tiny):
    """Item 6: gradcheck knew only the chapter 5-6 networks, and no saved model."""
    result = run("gradcheck")
    assert result.returncode == 0, result.stderr
    assert "SimpleConvNet(" in result.stdout and "DeepConvNet(" in result.stdout
    assert result.stdout.count("largest gradient") == 4 + 6 + 10 + 8 + 16
    out = tmp_path / "run"
    trained = run("train", "--dataset", str(tiny), "--epochs", "1", "--out", str(out), "--quiet")
    assert trained.returncode == 0, trained.stderr
    checked = run("gradcheck", str(out), "--entries", "5")
    assert checked.returncode == 0, checked.stderr
    assert f"{out / 'model.npz'}: TwoLayerNet, 5 entries" in checked.stdout
    assert checked.stdout.count("largest gradient") == 4 and "OK" in checked.stdout


def test_gradcheck_of_a_model_finds_a_wrong_backward(monkeypatch, capsys, tmp_path):
    """The sampled check is a real check: a backward pass off by 1% fails it."""
    from layerwise.cli import main
    from layerwise.layers import Affine

    layerwise.save(layerwise.TwoLayerNet(784, 8, 10, seed=0), tmp_path / "m.npz")
    backward = Affine.backward

    def wrong(self, dout, **kwargs):
        dx = backward(self, dout, **kwargs)
        self.dW *= 1.01
        return dx

    monkeypatch.setattr(Affine, "backward", wrong)
    assert main(["gradcheck", str(tmp_path / "m.npz")]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("page", ["README.md", "docs/command-line.md"])
def test_the_command_tables_list_every_command(page):
    # README's short table and the site's full one: a new command must be in both.
    from pathlib import Path

    from layerwise.cli import COMMANDS

    text = (Path(__file__).parents[1] / page).read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| `layerwise ")]
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[1]
        assert any(line.startswith(f"| `layerwise {name}") for line in table), (page, name)


def test_the_command_line_page_names_every_option_of_every_command():
    # The site's command-line page fell behind the commands once (--opset, --entries, --limit
    # and --seed were missing): every option a parser accepts is named in that command's row of
    # the table or on the page.
    import argparse
    from pathlib import Path

    from layerwise.cli import build_parser

    text = (Path(__file__).parents[1] / "docs" / "command-line.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1].split()[1]: line for line in text.splitlines()
            if line.startswith("| `layerwise ")}  # fmt: skip
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, parser in commands.choices.items():
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in rows[name]:
                    if name != "train" or f"`{option}" not in text:
                        missing.append(f"layerwise {name} {option}")
    assert not missing, missing


def test_a_users_conv_sequential_is_evaluated_drawn_and_exported(tmp_path):
    """A Sequential keeps its input_shape in the model file (issue 20): without it the commands
    could not turn the dataset's rows into images, and export asked for an option it lacks."""
    from layerwise.layers import Affine, Convolution, Pooling, Relu

    rng = np.random.default_rng(0)
    net = layerwise.Sequential(
        Convolution.from_sizes(1, 4, 3, stride=2, pad=1, rng=rng),  # 28 -> 14
        Relu(),
        Pooling(2, 2),  # 14 -> 7
        Affine.from_sizes(4 * 7 * 7, 10, rng=rng),
        input_shape=(1, 28, 28),
    )
    path = layerwise.save(net, tmp_path / "conv.npz")
    assert load(path).input_shape == (1, 28, 28)
    result = run("evaluate", str(path), "--dataset", "sample", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    result = run("graph", str(path), "--dataset", "sample", "--batch-size", "4")
    assert result.returncode == 0, result.stderr
    assert "digraph" in result.stdout and "Convolution1" in result.stdout
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    result = run("export", str(path), "--onnx", str(tmp_path / "conv.onnx"))
    assert result.returncode == 0, result.stderr
    assert "float32 input (N, 1, 28, 28)" in result.stdout


# ---------------------------------------------------------------- issue 26: one run lifecycle


def test_run_maps_each_way_a_run_ends_to_its_status_and_exit_status(tmp_path):
    """Item 3: four `except` blocks each repeated the record, the message and the exit status;
    `Run.ending` is now the one table."""
    from types import SimpleNamespace

    from layerwise.cli._lifecycle import Run
    from layerwise.parallel import WorkerError
    from layerwise.training import DivergedError, TrainingInterrupted

    this = Run()
    this.begin(SimpleNamespace(iteration=3, epoch=0), tmp_path)  # rank 0 of no MPI, no record
    cases = [
        (None, "finished", 0, False),
        (TrainingInterrupted("stopped by SIGTERM", signal.SIGTERM), "interrupted", 143, False),
        (KeyboardInterrupt(), "interrupted", 130, False),
        (DivergedError("the loss grew 100-fold"), "diverged", 1, False),
        (WorkerError("worker 1 of 2 died"), "failed", 1, False),
        (OSError("the disk is full"), "failed", 1, True),
    ]
    for err, status, exit_status, raised in cases:
        ending = this.ending(err)
        assert (ending.status, ending.exit_status, ending.raised) == (status, exit_status, raised)
    assert this.ending(KeyboardInterrupt()).abort_ranks  # under MPI the others may wait for it
    assert "second interrupt at iteration 3 (epoch 1)" in this.ending(KeyboardInterrupt()).message
    assert this.ending(OSError("the disk is full")).message == "OSError: the disk is full"
    with pytest.raises(ValueError, match="before it began"):  # nothing to record: raised on
        with Run():
            raise ValueError("before it began")


def test_regression_a_run_that_raises_is_recorded_failed(monkeypatch, capsys, tmp_path, tiny):
    """Item 3: an error other than a diverging loss or a worker's (a disk that fills up) left
    run.json "running", so `layerwise runs` called a run that had ended with a message killed."""
    from layerwise import training
    from layerwise.cli import main

    step = training.Trainer.train_step

    def train_step(self, x, t):
        if self.iteration == 8:
            raise OSError(28, "No space left on device")
        return step(self, x, t)

    monkeypatch.setattr(training.Trainer, "train_step", train_step)
    out = tmp_path / "run"
    status = main(["train", "--dataset", str(tiny), "--epochs", "3", "--out", str(out), "--quiet"])
    assert status == 1
    assert "layerwise: error: [Errno 28] No space left on device" in capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    assert (record["status"], record["iterations"], record["epochs_done"]) == ("failed", 8, 1)
    assert record["message"] == "OSError: [Errno 28] No space left on device"
    listed = run("runs", str(tmp_path))
    assert listed.stdout.splitlines()[1].endswith("failed"), listed.stdout


# ---------------------------------------------------------------- issue 28: messages


@pytest.mark.parametrize(
    "args, status, says, not_said",
    [
        (["train", "--dropout", "0.5"], 2, "--dropout needs --model mlp", "--batchnorm"),
        (["train", "--batchnorm"], 2, "--batchnorm needs --model mlp", "--dropout"),
        (
            ["graph", "nosuch"],
            2,
            "there is no file or folder 'nosuch'; WHAT is apple, apple-orange, or a model .npz",
            "Errno",
        ),
        (["graph", "aple"], 2, "(did you mean 'apple'?)", "Errno"),
        (["evaluate", "nosuch.npz"], 1, "nosuch.npz: there is no such file or folder", "Errno"),
        (["train", "--resume", "nowhere"], 2, "--resume nowhere: there is no such folder", "npz"),
    ],
)
def test_regression_messages_name_what_was_given(tmp_path, args, status, says, not_said):
    """Issue 28: `--dropout 0.5` on the two-layer model blamed --batchnorm; `graph nosuch` and
    a missing model said a bare "[Errno 2]"; `--resume` of a folder that does not exist said
    "there is no checkpoint.npz in that folder"."""
    result = run(*args, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert says in result.stderr and not_said not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_regression_writing_to_a_folder_says_it_is_one(tmp_path):
    """Issue 28: `export ... --onnx EXISTING_FOLDER` said `[Errno 21] Is a directory:
    '.../.work.qnghaqut.tmp' -> ...`, naming a temporary file the user never made."""
    with pytest.raises(IsADirectoryError, match=f"cannot write '{tmp_path}': it is a folder"):
        layerwise.save(layerwise.TwoLayerNet(4, 3, 2), tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
    pytest.importorskip("onnx")
    out = tmp_path / "run"
    assert run("train", "--epochs", "1", "--quiet", "--out", str(out)).returncode == 0
    result = run("export", str(out), "--onnx", str(tmp_path))
    assert result.returncode == 1
    assert f"cannot write '{tmp_path}': it is a folder" in result.stderr
    assert ".tmp" not in result.stderr and "Errno" not in result.stderr
