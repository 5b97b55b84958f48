"""layerwise.run_folders in-process; tests/test_cli.py runs them through the command."""

import csv
import json
import os

import numpy as np
import pytest

from layerwise import TwoLayerNet, run_folders
from layerwise.training import Trainer


@pytest.fixture
def trainer():
    """Two epochs of three iterations on 30 random rows, with a checkpoint of its options."""
    rng = np.random.default_rng(0)
    x, t = rng.uniform(size=(30, 4)), rng.integers(0, 3, 30)
    net = TwoLayerNet(4, 5, 3, seed=0)
    options = {"model": "two-layer", "lr": 0.1}
    trainer = Trainer(net, x, t, x, t, 2, 10, verbose=False, seed=0, extra={"options": options})
    trainer.train()
    return trainer


def test_new_run_folders_never_share_a_name(tmp_path):
    folders = [run_folders.new_run_folder(tmp_path / "runs") for _ in range(3)]
    assert len(set(folders)) == 3 and all(not any(f.iterdir()) for f in folders)
    stems = {f.name.rsplit("-", 1)[0] if f.name.count("-") == 2 else f.name for f in folders}
    assert len(stems) <= 2  # DATE-TIME, then -2, -3 within the same second


def test_a_folder_holds_a_run_and_replacing_it_keeps_other_files(tmp_path):
    assert run_folders.runs_held(tmp_path) == []
    for name in ("model.npz", "history.csv", "notes.txt"):
        (tmp_path / name).write_text(name)
    run_folders.write_run(tmp_path, {"status": "finished"})
    assert run_folders.runs_held(tmp_path) == ["model.npz", "run.json"]
    assert run_folders.prepare_folder(tmp_path, replace=False) == tmp_path
    assert run_folders.runs_held(tmp_path) == ["model.npz", "run.json"]
    run_folders.prepare_folder(tmp_path, replace=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_run_json_reads_back_and_a_broken_one_reads_as_none(tmp_path):
    record = {"status": "running", "options": {"hidden": [50]}}
    assert run_folders.write_run(tmp_path, record) == tmp_path / "run.json"
    assert run_folders.read_run(tmp_path) == record
    assert run_folders.read_run(tmp_path / "elsewhere") is None
    for text in ("{not json", "[1, 2]"):
        (tmp_path / "run.json").write_text(text)
        assert run_folders.read_run(tmp_path) is None


def test_model_file_of_a_run_folder_says_how_the_run_ended(tmp_path):
    with pytest.raises(FileNotFoundError, match="m.npz: there is no such file or folder"):
        run_folders.model_file(tmp_path / "m.npz")  # issue 28: was a bare [Errno 2] later
    (tmp_path / "m.npz").write_bytes(b"")
    assert run_folders.model_file(tmp_path / "m.npz") == tmp_path / "m.npz"
    run_folders.write_run(tmp_path, {"status": "diverged"})
    with pytest.raises(FileNotFoundError, match="no model.npz .its run.json says the run diverged"):
        run_folders.model_file(tmp_path)
    (tmp_path / "model.npz").write_bytes(b"")
    assert run_folders.model_file(str(tmp_path)) == tmp_path / "model.npz"


def test_a_record_from_start_to_end(trainer):
    options = {"model": "two-layer", "dataset": "sample", "optimizer": "sgd", "epochs": 2}
    options |= {"batch_size": 10, "seed": 0, "dtype": "float32", "threads": 1, "hidden": [5]}
    source = {"folder": "/data", "files": ["a", "b"]}
    record = run_folders.new_record(
        options, trainer.network, trainer.optimizer, source, (30, 30), "cmd"
    )
    assert record["status"] == "running" and record["optimizer"] == {"name": "sgd", "lr": 0.01}
    assert record["parameters"] == 4 * 5 + 5 + 5 * 3 + 3 and record["options"] is options
    assert record["dataset"] == {"name": "sample", **source, "train": 30, "test": 30}
    json.dumps(record)  # all of it JSON
    run_folders.end_record(record, trainer, "interrupted", 1.25, "stopped")
    assert (record["status"], record["message"], record["seconds"]) == (
        "interrupted",
        "stopped",
        1.25,
    )
    assert (record["epochs_done"], record["iterations"]) == (2, 6)
    assert record["test_acc"] == trainer.test_acc_list[-1]
    run_folders.resume_record(record, {**options, "epochs": 3})
    run_folders.end_record(record, trainer, "finished", 0.5)
    assert "message" not in record and record["seconds"] == 1.75 and len(record["resumed"]) == 1
    assert run_folders.run_title(record) == (
        "two-layer 4-5-3 on sample · sgd lr 0.01 · 2 epochs, batch 10, float32"
    )


@pytest.mark.parametrize("name, shown", [("mnist", "mnist"), ("/data/tiny", "tiny/"), (None, "?")])
def test_dataset_name(name, shown):
    record = {} if name is None else {"dataset": {"name": name}}
    assert run_folders.dataset_name(record) == shown


def test_history_has_a_row_per_epoch_and_every_loss(trainer, tmp_path):
    history, losses = run_folders.write_history(trainer, tmp_path)
    with open(history, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["iterations"] for row in rows] == ["3", "6"]
    assert float(rows[0]["mean_train_loss"]) == np.mean(trainer.train_loss_list[:3])
    with open(losses, newline="") as f:
        assert [float(row["loss"]) for row in csv.DictReader(f)] == trainer.train_loss_list
    assert run_folders.read_test_accuracies(tmp_path) == trainer.test_acc_list
    assert run_folders.read_test_accuracies(tmp_path / "none") == []


def test_resume_point_gives_the_options_and_the_epochs_begun(trainer, tmp_path):
    with pytest.raises(run_folders.ResumeError, match="there is no checkpoint.npz"):
        run_folders.resume_point(tmp_path)
    trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    assert run_folders.resume_point(tmp_path) == ({"model": "two-layer", "lr": 0.1}, 2)
    trainer.extra = {}
    trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    with pytest.raises(run_folders.ResumeError, match="not written by `layerwise train`"):
        run_folders.resume_point(tmp_path)


def test_find_runs_oldest_first_and_the_folders_without_one(tmp_path):
    for name, started in [("b", "2026-01-02T00:00:00+00:00"), ("a", "2026-01-03T00:00:00+00:00")]:
        (tmp_path / name).mkdir()
        run_folders.write_run(tmp_path / name, {"started": started})
    (tmp_path / "c").mkdir()
    run_folders.write_run(tmp_path / "c", {})  # no start time: the folder's
    os.utime(tmp_path / "c", (0, 0))
    (tmp_path / "scratch").mkdir()
    (tmp_path / "notes.txt").write_text("")
    found, others = run_folders.find_runs([tmp_path])
    assert [folder.name for folder, _ in found] == ["c", "b", "a"]
    assert others == [(tmp_path / "scratch", f"{tmp_path / 'scratch'}: no run.json (not a run)")]
    assert run_folders.find_runs([tmp_path / "a"])[0] == [(tmp_path / "a", found[2][1])]
    with pytest.raises(FileNotFoundError, match="there is no such folder"):
        run_folders.find_runs([tmp_path / "nowhere"])


# ---------------------------------------------------------------- issue 21


def test_regression_a_dead_run_is_killed_here_and_stopped_elsewhere_when_its_heartbeat_is_old():
    """Item 3: a run killed without a word read "running" forever."""
    import datetime
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    here = {"status": "running", "pid": int(gone.stdout), "host": socket.gethostname()}
    assert run_folders.shown_status(here) == "killed"
    assert run_folders.status_phrase(here) == "was killed"
    assert run_folders.shown_status({**here, "pid": os.getpid()}) == "running"
    beat = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    elsewhere = {**here, "host": "another-machine", "heartbeat": beat.isoformat()}
    hour = beat.timestamp() + run_folders.STALE_SECONDS
    assert run_folders.shown_status(elsewhere, now=hour - 1) == "running"
    assert run_folders.shown_status(elsewhere, now=hour + 1) == "stopped"
    # Epochs of two hours each: three of them may pass without a heartbeat.
    slow = {**elsewhere, "epochs_done": 2, "seconds": 4 * 3600.0}
    assert run_folders.shown_status(slow, now=hour + 1) == "running"
    assert run_folders.shown_status({**here, "status": "finished"}) == "finished"
    assert run_folders.shown_status({"status": "running"}) == "running"  # an older run.json


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="Linux's /proc tells a zombie")
def test_a_run_whose_process_is_a_zombie_was_killed():
    """An MPI rank killed by MPI_Abort stays a zombie where nothing reaps it (a container's
    init): signal 0 still reaches it, yet it runs no more."""
    import socket
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "pass"])  # ends; not reaped until wait()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        record = {"status": "running", "pid": child.pid, "host": socket.gethostname()}
        assert run_folders.shown_status(record) == "killed"
    finally:
        child.wait()


def test_regression_an_unreadable_run_json_says_why(tmp_path):
    """Item 5: a corrupt run.json was reported as missing."""
    with pytest.raises(run_folders.RunFileError, match="no run.json"):
        run_folders.load_run(tmp_path)
    (tmp_path / "run.json").write_text("{oops")
    with pytest.raises(
        run_folders.RunFileError, match=r"run.json is unreadable: it is not JSON \("
    ):
        run_folders.load_run(tmp_path)
    (tmp_path / "run.json").write_text("[]")
    with pytest.raises(run_folders.RunFileError, match="it holds a list, not an object"):
        run_folders.load_run(tmp_path)
    _, others = run_folders.find_runs([tmp_path])
    assert others == [
        (tmp_path, f"{tmp_path / 'run.json'} is unreadable: it holds a list, not an object")
    ]


def test_regression_save_into_a_missing_folder_names_the_folder(tmp_path):
    """Item 5: the error named a temporary file, `.m.npz.6va35icm.tmp`."""
    from layerwise import save

    with pytest.raises(FileNotFoundError) as caught:
        save(TwoLayerNet(4, 5, 3, seed=0), tmp_path / "no" / "such" / "m.npz")
    assert f"there is no folder '{tmp_path / 'no' / 'such'}'" in str(caught.value)
    assert ".tmp" not in str(caught.value)


def test_regression_load_accepts_a_run_folder(tmp_path):
    """Item 5: `layerwise.load(run_folder)` raised IsADirectoryError."""
    from layerwise import load, save
    from layerwise.files import read_training

    net = TwoLayerNet(4, 5, 3, seed=0)
    with pytest.raises(FileNotFoundError, match="is a folder without model.npz"):
        load(tmp_path)
    save(net, tmp_path / "model.npz", training={"epochs": 1})
    assert load(tmp_path).get_config() == net.get_config()
    assert read_training(tmp_path) == {"epochs": 1}


def test_the_network_of_a_checkpoint_is_the_trainers(trainer, tmp_path):
    from layerwise.checkpoints import checkpoint_network

    trainer.train()
    path = trainer.save_checkpoint(tmp_path / "c.npz")
    network = checkpoint_network(path)
    for key, value in trainer.network.state_dict().items():
        np.testing.assert_array_equal(network.state_dict()[key], value)
