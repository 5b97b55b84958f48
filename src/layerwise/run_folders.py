"""Run folders: where one training run keeps its model, run.json, history and checkpoint.

A run folder holds what ``layerwise train`` wrote for one run, and nothing of any other run:

``model.npz``
    the trained network (:func:`layerwise.save`), written when the run finishes;
``checkpoint.npz``
    the Trainer's checkpoint, from which the run can be resumed or extended;
``run.json``
    what the run was and how it ended (:func:`new_record`, :func:`end_record`);
``history.csv``, ``train_loss.csv``
    the accuracies per epoch and the loss per iteration (:func:`write_history`);
``curves.png``, ``filters.png``, ``misclassified.png``, ``confusion.png``
    the pictures of :mod:`layerwise.viz.plots`.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as parent:
...     folder = new_run_folder(Path(parent))
...     path = write_run(folder, {"status": "running"})
...     read_run(folder)["status"], runs_held(folder)
('running', ['run.json'])
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import platform
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._types import StrPath
from ._version import __version__
from .checkpoints import Checkpoint
from .container import write_atomic
from .sequel.checkpoints import SequelCheckpoint, sequel_file_kind

if TYPE_CHECKING:
    from .network import Sequential
    from .optimizers import Optimizer
    from .training import Trainer

#: The folder of runs the command line makes a new run folder in.
RUNS_DIR = "runs"
MODEL = "model.npz"
CHECKPOINT = "checkpoint.npz"
RUN_JSON = "run.json"
#: A folder holding one of these holds a run, which is never replaced without being asked to.
RUN_MARKERS = (MODEL, RUN_JSON, CHECKPOINT)
#: What a run writes into its folder; :func:`prepare_folder` removes these when replacing a run.
RUN_FILES = (
    *RUN_MARKERS,
    "history.csv",
    "train_loss.csv",
    "curves.png",
    "filters.png",
    "misclassified.png",
    "confusion.png",
)
#: The datasets known by name; any other dataset is a folder, shown by its name.
NAMED_DATASETS = ("sample", "fashion-mnist", "mnist")


#: How each status reads after "the run": run.json keeps the one word, messages the phrase.
STATUS_PHRASES = {
    "running": "is running",
    "finished": "finished",
    "interrupted": "was interrupted",
    "diverged": "diverged",
    "failed": "failed",
    "killed": "was killed",
    "stopped": "stopped",
}
#: A run on another machine whose heartbeat is older than this (and than three of its epochs)
#: is taken for stopped: its process cannot be asked.
STALE_SECONDS = 3600.0


class ResumeError(ValueError):
    """A folder holds no run that can be resumed: no checkpoint, or not one of a run."""


class RunFileError(ValueError):
    """A folder's run.json is missing or cannot be read; the message says which, and why."""


# ---------------------------------------------------------------------- folders


def new_run_folder(parent: Path) -> Path:
    """A new, empty folder ``parent/DATE-TIME``, or ``DATE-TIME-2``, ``-3``... if taken.

    ``mkdir`` either creates the folder or fails because it exists, in one step, so of two
    processes racing for a name only one gets it and the other tries the next.

    Parameters
    ----------
    parent : Path
        The folder of runs (created if missing), ``runs`` for the command line.

    Returns
    -------
    Path
        The new folder, which no other run writes into.
    """
    parent.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y%m%d-%H%M%S")
    folder, n = parent / stem, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = parent / f"{stem}-{n}"


def runs_held(folder: Path) -> list[str]:
    """The names of :data:`RUN_MARKERS` in ``folder``: empty unless it holds a run."""
    return [name for name in RUN_MARKERS if (folder / name).exists()]


def prepare_folder(folder: Path, replace: bool) -> Path:
    """``folder``, created; with ``replace``, without the :data:`RUN_FILES` of the run it held
    (other files stay). Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES if replace else ():
        (folder / name).unlink(missing_ok=True)
    return folder


def model_file(path: StrPath) -> Path:
    """The model file a user names: ``path`` itself, or the model.npz of the run folder ``path``.

    Parameters
    ----------
    path : str or Path
        A model file (.npz, or .onnx from an export), or a run folder.

    Returns
    -------
    Path
        For a run folder without model.npz (a run interrupted, killed, or diverged after a
        sound epoch), its checkpoint.npz: the network as it was at that checkpoint.

    Raises
    ------
    FileNotFoundError
        There is no such file or folder, or ``path`` is a run folder with neither, saying how
        its run.json says it ended.
    """
    model = Path(path)
    if not model.exists():
        raise FileNotFoundError(
            f"{path}: there is no such file or folder (a model file or a run folder is expected)"
        )
    if model.is_dir():
        record = read_run(model) or {}
        if not (model / MODEL).is_file() and (model / CHECKPOINT).is_file():
            return model / CHECKPOINT
        model = model / MODEL
        if not model.is_file():
            how = ""
            if "status" in record:
                how = f" (its run.json says the run {status_phrase(record)})"
            raise FileNotFoundError(f"{model.parent} holds no {MODEL}{how}")
    return model


# ---------------------------------------------------------------------- run.json


def write_run(folder: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` (as :func:`new_record` makes it) as ``folder/run.json``, atomically (a
    reader never sees half of it); returns the path written."""
    text = json.dumps(record, indent=2) + "\n"
    return write_atomic(folder / RUN_JSON, lambda f: f.write(text.encode()))


def load_run(folder: StrPath) -> dict[str, Any]:
    """The run.json of ``folder`` as a dict.

    Raises
    ------
    RunFileError
        There is no run.json, or it cannot be read: the message says why (not JSON, with the
        line and column; not an object; a read error).
    """
    path = Path(folder) / RUN_JSON
    try:
        with open(path, "rb") as f:
            record = json.loads(f.read().decode())
    except FileNotFoundError:
        raise RunFileError(f"{folder}: no {RUN_JSON} (not a run)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunFileError(f"{path} is unreadable: {err}") from None
    except ValueError as err:
        raise RunFileError(f"{path} is unreadable: it is not JSON ({err})") from None
    if not isinstance(record, dict):
        kind = type(record).__name__
        raise RunFileError(f"{path} is unreadable: it holds a {kind}, not an object")
    return record


def read_run(folder: StrPath) -> dict[str, Any] | None:
    """The run.json of ``folder`` as a dict, or None when it has none or one not readable
    (:func:`load_run` says why)."""
    try:
        return load_run(folder)
    except RunFileError:
        return None


def status_phrase(record: dict[str, Any]) -> str:
    """How the run of the run.json ``record`` stands, to follow "the run": ``was interrupted``,
    ``is running``; a run that died without a word as :func:`shown_status` tells it."""
    status = shown_status(record)
    return STATUS_PHRASES.get(status, status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    # A zombie (ended, not yet reaped: an MPI rank whose launcher died, in a container whose
    # init does not reap) still answers signal 0; Linux's /proc says it is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def shown_status(record: dict[str, Any], now: float | None = None) -> str:
    """The status of a run as it is now: run.json's, or ``killed``/``stopped`` for a dead one.

    A run that died without a word (SIGKILL, a power cut) leaves run.json ``running``. On the
    machine that ran it, the run is ``killed`` when its process id is no longer alive; on
    another machine it is ``stopped`` when its heartbeat (written at every epoch's end) is
    older than :data:`STALE_SECONDS` and than three of its epochs.

    Parameters
    ----------
    record : dict
        A run.json.
    now : float, optional
        The time, in seconds since the epoch (default: now).

    Returns
    -------
    str
    """
    status = str(record.get("status", "?"))
    if status != "running":
        return status
    pid, host = record.get("pid"), record.get("host")
    if not isinstance(pid, int) or not isinstance(host, str):
        return status  # written before run.json had them: nothing to tell by
    if host == socket.gethostname():
        return status if _alive(pid) else "killed"
    try:
        beat = datetime.datetime.fromisoformat(record["heartbeat"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return status
    done = record.get("epochs_done") or 0
    per_epoch = float(record.get("seconds") or 0.0) / done if done else 0.0
    now = time.time() if now is None else now
    return "stopped" if now - beat > max(STALE_SECONDS, 3 * per_epoch) else status


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def new_record(
    options: dict[str, Any],
    network: Sequential,
    optimizer: Optimizer,
    source: dict[str, Any],
    sizes: tuple[int, int],
    command: str,
) -> dict[str, Any]:
    """What run.json says about a run before it starts (status ``running``).

    Parameters
    ----------
    options : dict
        Every option of the run (``model``, ``dataset``, ``optimizer``, ``epochs``,
        ``batch_size``, ``seed``, ``dtype``, ``threads``, ...), kept whole as ``options``.
    network : Sequential
        Its architecture is recorded (``network.get_config()``) and its parameters counted.
    optimizer : Optimizer
        Its hyperparameters are recorded under the book's names (lr, momentum, ...).
    source : dict
        The folder and files the dataset was read from.
    sizes : (int, int)
        The numbers of training and test samples.
    command : str
        The command line, as a shell would read it.

    Returns
    -------
    dict
        With the versions of layerwise, NumPy and Python, the start time, and the fields
        :func:`end_record` fills in (``ended``, ``seconds``, ``epochs_done``, ``iterations``,
        ``train_acc``, ``test_acc``) still empty.
    """
    parameters = int(sum(p.size for p in network.parameters()))
    return base_record(options, network.get_config(), parameters, optimizer, source, sizes, command)


def base_record(
    options: dict[str, Any],
    architecture: dict[str, Any],
    parameters: int,
    optimizer: Any,
    source: dict[str, Any],
    sizes: tuple[int, int],
    command: str,
    scores: tuple[str, ...] = ("train_acc", "test_acc"),
) -> dict[str, Any]:
    """:func:`new_record` of any model: its ``architecture`` (a JSON object) and ``parameters``
    (their count) given, and the ``scores`` its run.json reports at each epoch's end (None
    until the first)."""
    hyper = {k: float(v) for k, v in optimizer.hyperparameters.items()}  # lr, momentum, ...
    return {
        "format": "layerwise-run",
        "version": 1,
        "status": "running",
        "model": options["model"],
        "network": architecture,
        "parameters": parameters,
        "dataset": {"name": options["dataset"], **source, "train": sizes[0], "test": sizes[1]},
        "optimizer": {"name": options["optimizer"], **hyper},
        "epochs": options["epochs"],
        "batch_size": options["batch_size"],
        "seed": options["seed"],
        "dtype": options["dtype"],
        "threads": options["threads"],
        "options": options,
        "versions": {
            "layerwise": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "command": command,
        # What lets `layerwise runs` tell a killed run from a running one.
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "heartbeat": _now(),
        "started": _now(),
        "ended": None,
        "seconds": 0.0,
        "epochs_done": 0,
        "iterations": 0,
        **dict.fromkeys(scores),
    }


def end_record(
    record: dict[str, Any],
    trainer: Trainer,
    status: str,
    seconds: float,
    message: str | None = None,
    *,
    scores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``record`` updated with how the run ended.

    Parameters
    ----------
    record : dict
        As :func:`new_record` made it (or a resumed run's); updated in place.
    trainer : Trainer
        ``train_acc`` and ``test_acc`` are its accuracies at the end of the last finished epoch.
    status : {'finished', 'interrupted', 'diverged', 'failed'}
    seconds : float
        How long this part of the run trained; added to the seconds of earlier parts.
    message : str, optional
        Why it stopped, for an unfinished run.
    scores : dict, optional, keyword-only
        What the run measured at its last epoch's end (default: the Trainer's ``train_acc``
        and ``test_acc``).
    """
    seconds = round(record.get("seconds", 0.0) + seconds, 3)
    record.update(_progress(trainer, scores), status=status, ended=_now(), seconds=seconds)
    record["epochs"] = trainer.epochs
    record.pop("message", None)
    if message:
        record["message"] = message
    return record


def write_progress(
    folder: Path,
    record: dict[str, Any],
    trainer: Trainer,
    seconds: float,
    *,
    scores: dict[str, Any] | None = None,
) -> Path:
    """Write run.json of a run still training: how far it got, and a new heartbeat.

    Parameters
    ----------
    folder : Path
    record : dict
        The run's record, status ``running``; its progress fields and heartbeat are updated in
        place (its ``seconds`` stay those of earlier parts, which :func:`end_record` adds to).
    trainer : Trainer
    seconds : float
        How long this part of the run has trained so far.
    scores : dict, optional, keyword-only
        As :func:`end_record` takes them.

    Returns
    -------
    Path
        The run.json written.
    """
    record.update(_progress(trainer, scores))
    return write_run(folder, {**record, "seconds": round(record["seconds"] + seconds, 3)})


def _progress(trainer, scores=None):
    """How far the run got, and a new heartbeat: what run.json says at each epoch's end."""
    if scores is None:
        scores = {
            "train_acc": trainer.train_acc_list[-1] if trainer.train_acc_list else None,
            "test_acc": trainer.test_acc_list[-1] if trainer.test_acc_list else None,
        }
    return {
        "heartbeat": _now(),
        "epochs_done": trainer.epoch,
        "iterations": trainer.iteration,
        **scores,
    }


def resume_record(record: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``record`` of a run being resumed with ``options``: running again, the time noted.

    Parameters
    ----------
    record : dict
        The run's run.json; updated in place.
    options : dict
        The run's options, with what resuming may change (epochs, threads, ...).

    Returns
    -------
    dict
        ``record``, its ``resumed`` list one time longer.
    """
    record.update(status="running", epochs=options["epochs"], threads=options["threads"])
    record.update(pid=os.getpid(), host=socket.gethostname(), heartbeat=_now())
    record["options"] = options
    record.setdefault("resumed", []).append(_now())
    return record


def dataset_name(record: dict[str, Any]) -> str:
    """The dataset of the run.json ``record``: ``sample``, ``mnist``, ``fashion-mnist``, a
    dataset folder's name as ``tiny/``, the sequel's ``ptb``, ``addition``, ``date`` or a text
    file's name, or ``?`` when the record does not say."""
    dataset = record.get("dataset", {})
    name = str(dataset.get("name", "?"))
    if name in (*NAMED_DATASETS, "ptb", "addition", "date", "?"):
        return name
    if dataset.get("files") == [Path(name).name]:  # a text file, for the sequel's models
        return Path(name).name
    return Path(name).name + "/"


def run_title(record: dict[str, Any]) -> str:
    """The run of the run.json ``record`` in one line, as the title of its curves:
    ``two-layer 784-50-10 on sample · sgd lr 0.1 · 20 epochs, batch 100, float32``, and a second
    line saying when an unfinished run stopped."""
    network, hidden = record["network"], record["options"]["hidden"]
    if "input_size" in network:
        shape = "-".join(map(str, [network["input_size"], *hidden, network["output_size"]]))
    else:
        shape = f"(hidden {' '.join(map(str, hidden))})"
    optimizer = record["optimizer"]
    title = (
        f"{record['model']} {shape} on {dataset_name(record)} · {optimizer['name']} "
        f"lr {optimizer['lr']:g} · {record['epochs']} epochs, batch {record['batch_size']}, "
        f"{record['dtype']}"
    )
    if record["status"] in ("diverged", "interrupted"):
        title += f"\n{record['status']} after {record['iterations']} iterations"
    return title


# ---------------------------------------------------------------------- history


def write_history(trainer: Trainer, folder: Path) -> list[Path]:
    """Write the Trainer's history as ``history.csv`` and ``train_loss.csv`` in ``folder``.

    ``history.csv`` has one row per finished epoch: the iterations so far, the mean training
    loss of that epoch's iterations, and the training and test accuracies. ``train_loss.csv``
    has the loss of every iteration. Losses are written with ``repr``, so they read back equal.
    Returns the two files written.
    """
    history, losses = folder / "history.csv", folder / "train_loss.csv"
    with open(history, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iterations", "mean_train_loss", "train_acc", "test_acc"])
        ipe = trainer.iter_per_epoch
        for epoch, (train_acc, test_acc) in enumerate(
            zip(trainer.train_acc_list, trainer.test_acc_list, strict=True), start=1
        ):
            mean = float(np.mean(trainer.train_loss_list[(epoch - 1) * ipe : epoch * ipe]))
            writer.writerow([epoch, epoch * ipe, repr(mean), train_acc, test_acc])
    with open(losses, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "loss"])
        writer.writerows((i, repr(loss)) for i, loss in enumerate(trainer.train_loss_list, 1))
    return [history, losses]


def read_test_accuracies(folder: Path) -> list[float]:
    """The test accuracy after each epoch, from ``folder/history.csv``; empty if unreadable."""
    try:
        with open(folder / "history.csv", newline="") as f:
            return [float(row["test_acc"]) for row in csv.DictReader(f)]
    except (OSError, KeyError, ValueError):
        return []


# ---------------------------------------------------------------------- resume


def resume_point(folder: Path) -> tuple[dict[str, Any], int]:
    """What the run in ``folder`` was started with, and how far it got, from its checkpoint.

    Parameters
    ----------
    folder : Path
        A run folder holding checkpoint.npz, written by ``layerwise train`` (of volume 1's
        networks or of the sequel's models).

    Returns
    -------
    options : dict
        The options the run was started with (``extra["options"]`` of the checkpoint).
    begun : int
        The epochs finished or started: a resumed run needs at least this many epochs.

    Raises
    ------
    ResumeError
        There is no such folder, no checkpoint.npz in it, or one that does not hold a run's
        options.
    ValueError
        The checkpoint cannot be read (see :meth:`layerwise.checkpoints.Checkpoint.read`).
    """
    if not folder.is_dir():
        what = "a file, not a run folder" if folder.exists() else "there is no such folder"
        raise ResumeError(what)
    if not (folder / CHECKPOINT).is_file():
        raise ResumeError(f"there is no {CHECKPOINT} in that folder")
    checkpoint = read_any_checkpoint(folder / CHECKPOINT)
    options = checkpoint.extra.get("options")
    if not isinstance(options, dict):
        raise ResumeError(f"its {CHECKPOINT} was not written by `layerwise train`")
    return options, checkpoint.epochs_begun


def read_any_checkpoint(path: StrPath) -> Checkpoint | SequelCheckpoint:
    """The checkpoint at ``path``, of volume 1's Trainer or of a sequel model's training.

    Both give ``epoch``, ``iteration``, ``epochs_begun`` and ``extra``. Raises as
    :meth:`Checkpoint.read` does.
    """
    if sequel_file_kind(path) == "checkpoint":
        return SequelCheckpoint.read(path)
    return Checkpoint.read(path)


# ---------------------------------------------------------------------- listing


def find_runs(
    folders: Iterable[StrPath],
) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """Every run in ``folders``, oldest first, and the folders there that hold none.

    Parameters
    ----------
    folders : iterable of str or Path
        Each a run folder or a folder of run folders.

    Returns
    -------
    runs : list of (Path, dict)
        ``(folder, run.json)`` of every run, in the order they were started.
    others : list of (Path, str)
        The folders without a readable run.json, and why (:func:`load_run`'s message).

    Raises
    ------
    FileNotFoundError
        One of ``folders`` is not a folder.
    """
    runs: list[tuple[Path, dict[str, Any]]] = []
    others: list[tuple[Path, str]] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: there is no such folder")
        candidates = [folder] if (folder / RUN_JSON).exists() else sorted(folder.iterdir())
        for candidate in candidates:
            if not candidate.is_dir():
                continue
            try:
                runs.append((candidate, load_run(candidate)))
            except RunFileError as err:
                others.append((candidate, str(err)))

    def started(run: tuple[Path, dict[str, Any]]) -> float:
        try:
            return datetime.datetime.fromisoformat(run[1]["started"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return run[0].stat().st_mtime

    return sorted(runs, key=started), others
