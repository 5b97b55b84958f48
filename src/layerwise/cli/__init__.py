"""The ``layerwise`` command: train, evaluate, runs, gradcheck, graph and export.

Models: ``two-layer`` (TwoLayerNet, chapter 5), ``mlp`` (MultiLayerNet, or MultiLayerNetExtend
with ``--batchnorm`` / ``--dropout``, chapter 6), ``convnet`` (SimpleConvNet, chapter 7) and
``deep-convnet`` (DeepConvNet, chapter 8). Conv models see the images as (N, 1, 28, 28).

Every run gets a folder that no other run writes into: ``runs/DATE-TIME`` (``-2``, ``-3``, ...
when that name is taken, even by a process started in the same second), or the ``--out`` folder,
which is refused when it already holds a run unless ``--force`` is given. ``run.json`` there
records what the run was and how it ended (:func:`new_record`); the model file's description
carries the same settings, so ``evaluate`` knows which dataset a model was trained on.

Exit status: 0 done; 2 a usage error (a bad option value or combination, named, after the usage
line); 1 any other failure a user can cause (data not found, a bad model file, a diverging run),
a short message and never a traceback; 128 + the signal's number when interrupted.
"""

import argparse
import csv
import datetime
import inspect
import itertools
import json
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__, datasets, interop
from .._checks import InvalidParameterError, check_number
from ..files import load, read_training, save, write_atomic
from ..graph import apple_graph, record_step
from ..nets import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from ..optimizers import OPTIMIZERS
from ..pictures import plot_confusion, plot_filters, plot_history, plot_misclassified, plot_runs
from ..training import (
    NonFiniteLossError,
    Trainer,
    TrainingInterrupted,
    predicted_labels,
    read_checkpoint_meta,
)

CHECKPOINT = "checkpoint.npz"
RUN_JSON = "run.json"
#: A folder holding one of these holds a run, which is never replaced without ``--force``.
RUN_MARKERS = ("model.npz", RUN_JSON, CHECKPOINT)
#: What ``train`` and ``evaluate`` write into a run folder; ``--force`` removes these first.
RUN_FILES = (
    *RUN_MARKERS,
    "history.csv",
    "train_loss.csv",
    "curves.png",
    "filters.png",
    "misclassified.png",
    "confusion.png",
)

#: The options of ``train`` that describe a run, with their defaults. The parser leaves an
#: option None when the command line does not name it and these are filled in afterwards, so
#: that ``--resume`` can tell what was asked for from what was left to its default.
RUN_OPTIONS = {
    "dataset": "sample",
    "model": "two-layer",
    "hidden": None,  # None: the model's (MODEL_DEFAULTS)
    "activation": "relu",
    "optimizer": None,
    "lr": None,
    "epochs": 20,
    "batch_size": 100,
    "weight_decay": 0.0,
    "weight_init_std": None,  # None: the model's own
    "batchnorm": False,
    "dropout": 0.0,
    "dtype": "float32",
    "seed": 0,
    "checkpoint_every": None,
    "eval_samples": None,
    "threads": 1,
}
#: What ``--resume`` may change, since none of them changes what the run computes.
RESUME_MAY_CHANGE = ("epochs", "threads", "checkpoint_every")

#: Training defaults per model: the book's settings for each chapter's network.
MODEL_DEFAULTS = {
    "two-layer": {"optimizer": "sgd", "lr": 0.1, "hidden": [50]},
    "mlp": {"optimizer": "sgd", "lr": 0.1, "hidden": [100, 100]},
    "convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [100]},
    "deep-convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [50]},
}
CONV_MODELS = ("convnet", "deep-convnet")
DATASETS = ("sample", "fashion-mnist", "mnist")
INIT_NAMES = ("relu", "he", "sigmoid", "xavier")


class UsageError(Exception):
    """The command line asks for something that cannot be done: usage line, message, exit 2."""


def _flag(name):
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------- data


def load_dataset(name):
    """The dataset of ``--dataset name``, with uint8 images of shape (N, 784), and its source.

    The images stay uint8 (a quarter of float32's memory); the network scales them by 1/255
    one batch at a time. A folder given to ``--dataset`` is the only place looked in;
    ``mnist`` and ``fashion-mnist`` are looked for as :func:`layerwise.datasets.locate` does.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test)), source
        ``source`` is what was read, for run.json: ``{"folder": ..., "files": [...]}``.
    """
    if name == "sample":
        path = datasets.SAMPLE_PATH
        source = {"folder": str(path.parent), "files": [path.name]}
        return datasets.load_sample(normalize=False), source
    if name in ("mnist", "fashion-mnist"):
        try:
            files = datasets.locate(name)
        except datasets.DatasetNotFoundError as err:
            raise datasets.DatasetNotFoundError(
                f"--dataset {name}: not found.\n{err.looked}\n{_where_to_put(name)}"
            ) from None
    else:
        if not Path(name).is_dir():
            raise datasets.DatasetNotFoundError(f"--dataset {name}: there is no such folder")
        files, missing = datasets.find_files(name)
        if missing:
            raise datasets.DatasetNotFoundError(
                f"--dataset {name}: the folder lacks {', '.join(missing)} (each raw or .gz); "
                "a folder given to --dataset is the only place looked in"
            )
    source = {
        "folder": str(files["train_img"].parent.resolve()),
        "files": [path.name for path in files.values()],
    }
    return datasets.read_dataset(files, normalize=False), source


def _where_to_put(name):
    """What to do when ``--dataset mnist`` or ``fashion-mnist`` is found nowhere."""
    advice = (
        f"To use it, put its four files ({', '.join(datasets.FILES.values())}; each raw or "
        f".gz) in a folder DIR/{name} and set the environment variable LAYERWISE_DATA=DIR "
        f"(or put them in the cache folder above), or name their folder: --dataset DIR"
    )
    if name == "fashion-mnist":
        advice += "; or install Debian's package: apt-get install dataset-fashion-mnist"
    return advice + "."


# ---------------------------------------------------------------------- the network


def build_network(opts, input_size, output_size):
    dtype = np.dtype(opts["dtype"])
    if opts["model"] in CONV_MODELS:
        return _build_conv_network(opts, input_size, output_size, dtype)
    if opts["model"] == "two-layer":
        if len(opts["hidden"]) != 1:
            raise UsageError("--model two-layer takes one --hidden size (use --model mlp)")
        if opts["weight_decay"]:
            raise UsageError("--weight-decay needs --model mlp (the book's TwoLayerNet has none)")
        if opts["activation"] != "relu":
            raise UsageError("--activation needs --model mlp (the book's TwoLayerNet uses ReLU)")
        if opts.get("batchnorm") or opts.get("dropout"):
            raise UsageError("--batchnorm and --dropout need --model mlp")
        std = _std_number(opts, default=0.01)
        return TwoLayerNet(
            input_size, opts["hidden"][0], output_size, std, dtype=dtype, seed=opts["seed"]
        )
    common = dict(
        activation=opts["activation"],
        weight_init_std=opts["weight_init_std"] or opts["activation"],
        weight_decay_lambda=opts["weight_decay"],
        dtype=dtype,
        seed=opts["seed"],
    )
    if not (opts.get("batchnorm") or opts.get("dropout")):
        return MultiLayerNet(input_size, opts["hidden"], output_size, **common)
    return MultiLayerNetExtend(
        input_size,
        opts["hidden"],
        output_size,
        use_dropout=bool(opts.get("dropout")),
        dropout_ration=opts.get("dropout") or 0.5,
        use_batchnorm=bool(opts.get("batchnorm")),
        **common,
    )


def _std_number(opts, default):
    std = opts["weight_init_std"]
    if isinstance(std, str):
        raise UsageError(
            f"--weight-init-std {std} needs --model mlp; the book's {opts['model']} network "
            "takes a number"
        )
    return default if std is None else std


def _build_conv_network(opts, input_size, output_size, dtype):
    model = opts["model"]
    for option, value, default in [
        ("--activation", opts["activation"], "relu"),
        ("--weight-decay", opts["weight_decay"], 0.0),
        ("--batchnorm", opts.get("batchnorm"), False),
        ("--dropout", opts.get("dropout"), 0.0),
    ]:
        if value != default:
            raise UsageError(f"{option} does not apply to --model {model} (the book's network)")
    if len(opts["hidden"]) != 1:
        raise UsageError(f"--model {model} takes one --hidden size (its Affine layer)")
    side = int(round(np.sqrt(input_size)))
    if side * side != input_size:
        raise UsageError(f"--model {model} needs square images; these have {input_size} pixels")
    common = {
        "input_dim": (1, side, side),
        "hidden_size": opts["hidden"][0],
        "output_size": output_size,
        "dtype": dtype,
        "seed": opts["seed"],
    }
    if model == "deep-convnet":
        if opts["weight_init_std"] is not None:
            raise UsageError("--weight-init-std does not apply to --model deep-convnet (He init)")
        return DeepConvNet(**common)
    return SimpleConvNet(weight_init_std=_std_number(opts, default=0.01), **common)


def as_images(x, network):
    """Rows of pixels as the network's input shape: (N, 1, 28, 28) views for conv nets."""
    shape = getattr(network, "input_shape", None)
    if shape is None or x.shape[1:] == tuple(shape):
        return x
    return x.reshape(len(x), *shape)


# ---------------------------------------------------------------------- run folders


def new_run_folder(parent):
    """A new, empty folder ``parent/DATE-TIME``, or ``DATE-TIME-2``, ``-3``... if taken.

    ``mkdir`` either creates the folder or fails because it exists, in one step, so of two
    processes racing for a name only one gets it and the other tries the next.
    """
    parent.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        folder = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def check_out_folder(out, force):
    """``--out``: a folder that holds a run is refused, unless ``--force`` replaces that run."""
    held = [name for name in RUN_MARKERS if (out / name).exists()]
    if held and not force:
        raise UsageError(
            f"--out {out} already holds a run ({', '.join(held)}); choose another --out, "
            f"replace that run with --force, or continue it with --resume {out}"
        )


def make_out_folder(out, force):
    """The ``--out`` folder, created; with ``--force``, without the files of the run it held."""
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES if force else ():
        (out / name).unlink(missing_ok=True)
    return out


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically (see :func:`layerwise.files.write_atomic`)."""
    text = json.dumps(data, indent=2) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))


def read_run(folder):
    """The run.json of ``folder`` as a dict, or None when it has none (or one not readable)."""
    try:
        with open(Path(folder) / RUN_JSON) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def new_record(opts, network, optimizer, source, sizes, command):
    """What run.json says about a run, before it starts (status ``running``).

    The model and its architecture (``network.get_config()``), the dataset and the folder and
    files it was read from, the optimizer and its hyperparameters, epochs, batch size, seed,
    dtype, BLAS threads, every option (``options``, which ``--resume`` reads back), the
    versions of layerwise, NumPy and Python, and the command line. :func:`end_record` adds
    how it ended.
    """
    names = inspect.signature(type(optimizer)).parameters  # the book's: lr, momentum, ...
    return {
        "format": "layerwise-run",
        "version": 1,
        "status": "running",
        "model": opts["model"],
        "network": network.get_config(),
        "parameters": int(sum(p.size for p in network.parameters())),
        "dataset": {"name": opts["dataset"], **source, "train": sizes[0], "test": sizes[1]},
        "optimizer": {"name": opts["optimizer"], **{k: getattr(optimizer, k) for k in names}},
        "epochs": opts["epochs"],
        "batch_size": opts["batch_size"],
        "seed": opts["seed"],
        "dtype": opts["dtype"],
        "threads": opts["threads"],
        "options": opts,
        "versions": {
            "layerwise": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "command": command,
        "started": _now(),
        "ended": None,
        "seconds": 0.0,
        "epochs_done": 0,
        "iterations": 0,
        "train_acc": None,
        "test_acc": None,
    }


def end_record(record, trainer, status, seconds, message=None):
    """``record`` updated with how the run ended: ``finished``, ``interrupted`` or ``diverged``.

    ``train_acc`` and ``test_acc`` are the accuracies at the end of the last finished epoch.
    """
    record.update(
        status=status,
        ended=_now(),
        seconds=round(record.get("seconds", 0.0) + seconds, 3),
        epochs=trainer.epochs,
        epochs_done=trainer.epoch,
        iterations=trainer.iteration,
        train_acc=trainer.train_acc_list[-1] if trainer.train_acc_list else None,
        test_acc=trainer.test_acc_list[-1] if trainer.test_acc_list else None,
    )
    record.pop("message", None)
    if message:
        record["message"] = message
    return record


def run_title(record):
    """``two-layer 784-50-10 on sample · sgd lr 0.1 · 20 epochs, batch 100, float32``."""
    dataset = _dataset_name(record)
    network, hidden = record["network"], record["options"]["hidden"]
    if "input_size" in network:
        shape = "-".join(map(str, [network["input_size"], *hidden, network["output_size"]]))
    else:
        shape = f"(hidden {' '.join(map(str, hidden))})"
    optimizer = record["optimizer"]
    title = (
        f"{record['model']} {shape} on {dataset} · {optimizer['name']} lr {optimizer['lr']:g} · "
        f"{record['epochs']} epochs, batch {record['batch_size']}, {record['dtype']}"
    )
    if record["status"] in ("diverged", "interrupted"):
        title += f"\n{record['status']} after {record['iterations']} iterations"
    return title


def write_history(trainer, out):
    with open(out / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iterations", "mean_train_loss", "train_acc", "test_acc"])
        ipe = trainer.iter_per_epoch
        for epoch, (train_acc, test_acc) in enumerate(
            zip(trainer.train_acc_list, trainer.test_acc_list, strict=True), start=1
        ):
            losses = trainer.train_loss_list[(epoch - 1) * ipe : epoch * ipe]
            writer.writerow([epoch, epoch * ipe, repr(float(np.mean(losses))), train_acc, test_acc])
    with open(out / "train_loss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "loss"])
        writer.writerows((i, repr(loss)) for i, loss in enumerate(trainer.train_loss_list, 1))


# ---------------------------------------------------------------------- train


def train_options(args):
    """The run's options: those the command line names, then the defaults."""
    opts = {name: getattr(args, name) for name in RUN_OPTIONS}
    for name, default in RUN_OPTIONS.items():
        if opts[name] is None:
            opts[name] = default
    for name, default in MODEL_DEFAULTS[opts["model"]].items():
        if opts[name] is None:
            opts[name] = default
    return opts


def resumed_options(args):
    """The options of the run in ``--resume DIR``, with what ``--resume`` may change.

    Any other option the command line names must agree with the run's: a different value
    would make the resumed run a different one, and is refused, naming the option.
    """
    out = Path(args.resume)
    if not (out / CHECKPOINT).is_file():
        raise UsageError(f"--resume {out}: there is no {CHECKPOINT} in that folder")
    for name in ("out", "force"):
        if getattr(args, name):
            raise UsageError(
                f"{_flag(name)} cannot be combined with --resume: the run stays in {out}"
            )
    meta = read_checkpoint_meta(out / CHECKPOINT)
    saved = meta.get("extra", {}).get("options")
    if not isinstance(saved, dict):
        raise UsageError(f"--resume {out}: its {CHECKPOINT} was not written by `layerwise train`")
    opts = {**RUN_OPTIONS, **saved}
    for name in RUN_OPTIONS:
        given = getattr(args, name)
        if given is None or name in RESUME_MAY_CHANGE or given == opts.get(name):
            continue
        raise UsageError(
            f"{_flag(name)} {_shown(given)} would change the run in {out}, which has "
            f"{_flag(name)} {_shown(opts.get(name))}; --resume continues a run as it was "
            f"started and takes only {', '.join(map(_flag, RESUME_MAY_CHANGE))} and --quiet"
        )
    for name in RESUME_MAY_CHANGE:
        if getattr(args, name) is not None:
            opts[name] = getattr(args, name)
    ipe = -(-meta["trainer"]["train_size"] // meta["trainer"]["mini_batch_size"])
    begun = -(-meta["iteration"] // ipe)  # epochs finished or started
    if opts["epochs"] < begun:
        raise UsageError(
            f"--epochs {opts['epochs']}: the run in {out} has already reached epoch {begun}; "
            f"--resume --epochs N continues it to N >= {begun} epochs"
        )
    return out, opts


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def cap_threads(threads):
    """More BLAS threads than cores only slows the book's small products down: warn and cap."""
    cores = os.cpu_count()
    if cores and threads > cores:
        print(
            f"layerwise: warning: --threads {threads} is more than the {cores} cores of this "
            f"machine; using {cores}",
            file=sys.stderr,
        )
        return cores
    return threads


def cmd_train(args):
    if args.force and not args.out:
        raise UsageError("--force needs --out (the folder whose run it replaces)")
    if args.resume is not None:
        out, opts = resumed_options(args)
    else:
        opts = train_options(args)
        if args.out is not None:
            check_out_folder(Path(args.out), args.force)
    opts["threads"] = cap_threads(opts["threads"])
    arrays, source = load_dataset(opts["dataset"])
    (x_train, t_train), (x_test, t_test) = arrays
    network = build_network(opts, x_train.shape[1], int(max(t_train.max(), t_test.max())) + 1)
    x_train, x_test = as_images(x_train, network), as_images(x_test, network)
    first_filters = network.params["W1"].copy()  # as built from the seed: the run's start
    # Only now, so that a run refused above leaves nothing behind.
    if args.resume is None and args.out is None:
        out = new_run_folder(Path("runs"))
    elif args.resume is None:
        out = make_out_folder(Path(args.out), args.force)
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=opts["epochs"],
        mini_batch_size=opts["batch_size"],
        optimizer=opts["optimizer"],
        optimizer_param={"lr": opts["lr"]},
        evaluate_sample_num_per_epoch=opts["eval_samples"],
        verbose=not args.quiet,
        seed=opts["seed"],
        checkpoint_every=opts["checkpoint_every"],
        checkpoint_path=out / CHECKPOINT,
        extra={"options": opts},
        threads=None if opts["threads"] == 0 else opts["threads"],
    )
    sizes = (len(x_train), len(x_test))
    record = read_run(out) if args.resume is not None else None
    if record is None:
        record = new_record(opts, network, trainer.optimizer, source, sizes, args.command_line)
    if args.resume is not None:
        trainer.load_checkpoint(out / CHECKPOINT, epochs=opts["epochs"])
        trainer.extra = {"options": opts}
        record.update(status="running", epochs=opts["epochs"], threads=opts["threads"])
        record["options"] = opts
        record.setdefault("resumed", []).append(_now())
        state = "already complete" if trainer.epoch == trainer.epochs else "resuming"
        print(f"{out}: {state} at iteration {trainer.iteration}/{trainer.max_iter}")
    else:
        folder = (
            f" from {source['folder']}" if opts["dataset"] in ("mnist", "fashion-mnist") else ""
        )
        print(
            f"training {opts['model']} {network.summary().splitlines()[-1].split(': ')[1]} on "
            f"{opts['dataset']}{folder} ({sizes[0]} train / {sizes[1]} test) -> {out}"
        )
    write_json(out / RUN_JSON, record)
    start = time.perf_counter()
    try:
        trainer.train()
    except TrainingInterrupted as err:
        end_record(record, trainer, "interrupted", time.perf_counter() - start, str(err))
        _write_unfinished(trainer, out, record)
        print(f"\n{err}\nresume with: layerwise train --resume {out}", file=sys.stderr)
        return 128 + err.signum
    except NonFiniteLossError as err:
        end_record(record, trainer, "diverged", time.perf_counter() - start, str(err))
        written = _write_unfinished(trainer, out, record)
        print(f"layerwise: training stopped: {err}", file=sys.stderr)
        print(f"what the run did is in {', '.join(map(str, written))}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    end_record(record, trainer, "finished", seconds)
    written, plotted = _write_finished(trainer, out, record, first_filters)
    print(f"final test accuracy: {trainer.test_acc_list[-1]:.4f}  ({seconds:.1f} s)")
    print("wrote " + ", ".join(map(str, written)))
    if not plotted:
        print("matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'")
    return 0


def _write_finished(trainer, out, record, first_filters):
    """A finished run's files: checkpoint, model, run.json, history and pictures."""
    if not trainer.checkpoint_every:  # with it, train() wrote the last one
        trainer.save_checkpoint(out / CHECKPOINT)  # so `--resume --epochs N` can extend the run
    network = trainer.network
    training = {k: v for k, v in record.items() if k not in ("format", "version", "network")}
    save(network, out / "model.npz", training=training)
    write_history(trainer, out)
    write_json(out / RUN_JSON, record)
    written = [out / name for name in ("model.npz", RUN_JSON, "history.csv", "train_loss.csv")]
    plotted = plot_history(trainer, out / "curves.png", run_title(record))
    if plotted:
        written.append(out / "curves.png")
    if plotted and record["model"] in CONV_MODELS:
        panels = {"before training": first_filters, "after training": network.params["W1"]}
        plot_filters(panels, out / "filters.png")
        written.append(out / "filters.png")
    return written, plotted


def _write_unfinished(trainer, out, record):
    """What an interrupted or diverged run did so far: its history, curves and run.json."""
    write_history(trainer, out)
    written = [out / RUN_JSON, out / "history.csv", out / "train_loss.csv"]
    if trainer.train_loss_list and plot_history(trainer, out / "curves.png", run_title(record)):
        written.append(out / "curves.png")
    write_json(out / RUN_JSON, record)
    return written


# ---------------------------------------------------------------------- evaluate


def model_file(name):
    """MODEL of ``evaluate``, ``export`` and ``graph``: a model file, or the run folder holding
    model.npz."""
    model = Path(name)
    if model.is_dir():  # a run folder
        record = read_run(model) or {}
        model = model / "model.npz"
        if not model.is_file():
            how = f" (its run.json says the run {record['status']})" if "status" in record else ""
            raise FileNotFoundError(f"{model.parent} holds no model.npz{how}")
    return model


def open_model(path):
    """``(model file, network, its training options)`` of a model .npz or a run folder."""
    model = model_file(path)
    training = read_training(model) or {}
    return model, load(model), training.get("options", {})


def cmd_evaluate(args):
    model = model_file(args.model)
    if model.suffix == ".onnx":  # exported by `layerwise export --onnx`: run by onnxruntime
        network = interop.load_onnx(model)
        trained_on = network.metadata.get(ONNX_DATASET_KEY)
    else:
        model, network, options = open_model(model)
        trained_on = options.get("dataset")
    dataset = args.dataset or trained_on or "sample"
    _, (x_test, t_test) = load_dataset(dataset)[0]
    x_test = as_images(x_test, network)
    classes = int(network.predict(x_test[:1], train_flg=False).shape[1])
    predicted = predicted_labels(network, x_test)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (t_test, predicted), 1)
    accuracy = np.trace(confusion) / confusion.sum()
    note = ""
    if args.dataset is None:
        note = " (the dataset it was trained on)"
        if not trained_on:
            note = " (the model file does not say what it was trained on: choose with --dataset)"
    print(f"{model}: accuracy {accuracy:.4f} on {confusion.sum()} test images of {dataset}{note}")
    print("confusion matrix (rows: true label, columns: predicted)")
    width = max(5, len(str(confusion.max())) + 1)
    print("     " + "".join(f"{j:>{width}}" for j in range(classes)))
    for i, row in enumerate(confusion):
        print(f"{i:>4} " + "".join(f"{v:>{width}}" for v in row))
    names = None
    if dataset in ("sample", "fashion-mnist") and classes == len(datasets.CLASS_NAMES):
        names = datasets.CLASS_NAMES
        print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
    out = Path(args.out) if args.out else model.parent
    out.mkdir(parents=True, exist_ok=True)
    pictures = [out / "misclassified.png", out / "confusion.png"]
    if plot_misclassified(x_test, t_test, predicted, pictures[0], names) and plot_confusion(
        confusion, pictures[1], names
    ):
        print("wrote " + ", ".join(map(str, pictures)))
    else:
        print("matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'")
    return 0


# ---------------------------------------------------------------------- export

#: The ONNX metadata entry where ``export`` records the dataset the model was trained on.
ONNX_DATASET_KEY = "layerwise.dataset"


def cmd_export(args):
    if args.torch is None and args.onnx is None:
        raise UsageError("say what to write: --torch OUT.pt, --onnx OUT.onnx, or both")
    if args.softmax and args.onnx is None:
        raise UsageError("--softmax applies to --onnx (a torch state_dict holds weights only)")
    model = model_file(args.model)
    network = load(model)
    if args.torch is not None:
        module = interop.save_torch(network, args.torch)
        print(f"wrote {args.torch}: the state_dict of this module (to_torch of the model)")
        print(module)
        print(
            f"load it with: module = layerwise.interop.to_torch(layerwise.load({str(model)!r})); "
            f"module.load_state_dict(torch.load({str(args.torch)!r}, weights_only=True))"
        )
    if args.onnx is not None:
        dataset = (read_training(model) or {}).get("options", {}).get("dataset")
        metadata = {ONNX_DATASET_KEY: dataset} if dataset else {}
        interop.to_onnx(network, args.onnx, softmax=args.softmax, metadata=metadata)
        shape = ", ".join(map(str, interop.OnnxModel(args.onnx).input_shape))
        what = "probabilities" if args.softmax else "logits"
        print(f"wrote {args.onnx}: float32 input (N, {shape}) -> {what} (N, classes)")
        print(
            f"check it with: layerwise evaluate {args.onnx}"
            + (f" --dataset {dataset}" if dataset else "")
        )
    return 0


# ---------------------------------------------------------------------- runs


def find_runs(folders):
    """``(runs, others)``: ``(folder, record)`` of every run, oldest first, and the folders
    without a readable run.json. Each of ``folders`` is a run folder or a folder of them."""
    runs, others = [], []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: there is no such folder")
        candidates = [folder] if (folder / RUN_JSON).exists() else sorted(folder.iterdir())
        for candidate in candidates:
            if not candidate.is_dir():
                continue
            record = read_run(candidate)
            if record is None:
                others.append(candidate)
            else:
                runs.append((candidate, record))

    def started(run):
        try:
            return datetime.datetime.fromisoformat(run[1]["started"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return run[0].stat().st_mtime

    return sorted(runs, key=started), others


def _dataset_name(record):
    """``sample``, ``mnist``, ``fashion-mnist``, or a folder's name as ``tiny/``."""
    name = str(record.get("dataset", {}).get("name", "?"))
    return name if name in (*DATASETS, "?") else Path(name).name + "/"


def run_row(folder, record):
    """One line of the ``runs`` table."""
    optimizer = record.get("optimizer", {})
    epochs = f"{record.get('epochs_done', '?')}"
    if record.get("epochs_done") != record.get("epochs"):
        epochs += f"/{record.get('epochs', '?')}"
    test_acc = record.get("test_acc")
    seconds = record.get("seconds")
    return [
        str(folder),
        str(record.get("model", "?")),
        _dataset_name(record),
        str(optimizer.get("name", "?")),
        f"{optimizer['lr']:g}" if isinstance(optimizer.get("lr"), (int, float)) else "?",
        epochs,
        "-" if test_acc is None else f"{test_acc:.4f}",
        "-" if not seconds else f"{seconds:.1f} s",
        str(record.get("status", "?")),
    ]


def cmd_runs(args):
    runs, others = find_runs(args.dirs)
    header = ["folder", "model", "dataset", "optimizer", "lr", "epochs", "test acc", "time"]
    rows = [[*header, "status"], *(run_row(folder, record) for folder, record in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) + 1)]
    right = {4, 5, 6, 7}  # numbers
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    if not runs:
        print(f"(no runs in {', '.join(args.dirs)})")
    for folder in others:
        print(f"{folder}: no {RUN_JSON} (not a run, or one from before layerwise kept them)")
    if args.plot:
        out = Path(args.out) if args.out else Path(args.dirs[0]) / "runs.png"
        if plot_run_curves(runs, out):
            print(f"wrote {out}")
        else:
            print("matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'")
    return 0


def plot_run_curves(runs, out):
    """The runs' test accuracy per epoch (history.csv) in one picture, labelled from run.json."""
    datasets_ = {_dataset_name(record) for _, record in runs}
    curves = []
    for folder, record in runs:
        accuracies = _test_accuracies(folder)
        if accuracies:
            optimizer = record.get("optimizer", {})
            label = f"{folder.name}: {record.get('model')}, {optimizer.get('name')} "
            label += f"lr {optimizer['lr']:g}" if "lr" in optimizer else "lr ?"
            if len(datasets_) > 1:
                label += f", {_dataset_name(record)}"
            curves.append((label, accuracies))
    if not curves:
        raise FileNotFoundError("no run has a finished epoch to plot (history.csv)")
    on = f" on {datasets_.pop()}" if len(datasets_) == 1 else ""
    return plot_runs(curves, out, f"test accuracy per epoch{on}")


def _test_accuracies(folder):
    try:
        with open(folder / "history.csv", newline="") as f:
            return [float(row["test_acc"]) for row in csv.DictReader(f)]
    except (OSError, KeyError, ValueError):
        return []


# ---------------------------------------------------------------------- gradcheck


def cmd_gradcheck(args):
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0.1, 1.0, (3, 20))
    t = rng.integers(0, 4, 3)
    nets = {
        "TwoLayerNet(20, 10, 4)": TwoLayerNet(20, 10, 4, 0.5, seed=args.seed),
        "MultiLayerNet(20, [10, 8], 4, weight_decay_lambda=0.1)": MultiLayerNet(
            20, [10, 8], 4, weight_decay_lambda=0.1, seed=args.seed
        ),
        "MultiLayerNetExtend(20, [10, 8], 4, weight_decay_lambda=0.1, use_dropout=True, "
        "use_batchnorm=True)": MultiLayerNetExtend(
            20,
            [10, 8],
            4,
            weight_decay_lambda=0.1,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            seed=args.seed,
        ),
    }
    worst = 0.0
    for name, net in nets.items():
        print(name)
        # Numerical first: it rewinds Dropout's generator after each evaluation, so the
        # backpropagation that follows draws the very masks the numerical gradient saw.
        # h = 1e-5: BatchNorm over a batch of 3 is curved enough that 1e-4 leaves 1e-6 of
        # truncation error.
        numerical = net.numerical_gradient(x, t, h=1e-5)
        grads = net.gradient(x, t)
        # Relative to the largest gradient entry of the network: a bias followed by BatchNorm
        # has a true gradient of exactly 0, where an entry-by-entry ratio would compare noise.
        scale = max(float(np.max(np.abs(g))) for g in grads.values())
        for key in grads:
            err = float(np.max(np.abs(grads[key] - numerical[key]))) / scale
            worst = max(worst, err)
            print(f"  {key:<6} max |backprop - numerical| / largest gradient {err:.2e}")
    ok = worst <= 1e-7
    print(f"worst {worst:.2e}: {'OK' if ok else 'FAILED'} (threshold 1e-7, float64)")
    return 0 if ok else 1


# ---------------------------------------------------------------------- graph


def cmd_graph(args):
    if args.what in ("apple", "apple-orange"):
        figure = apple_graph(oranges=args.what == "apple-orange")
    else:
        model, network, options = open_model(args.what)
        dataset = args.dataset or options.get("dataset") or "sample"
        batch_size = args.batch_size or options.get("batch_size") or 100
        (x_train, t_train), _ = load_dataset(dataset)[0]
        x = as_images(x_train[:batch_size], network)
        title = (
            f"{type(network).__name__} ({model}): one step on {len(x)} training images of "
            f"{Path(dataset).name}"
        )
        figure = record_step(network.train(), x, t_train[:batch_size], title=title)
    if args.out is None:
        sys.stdout.write(figure.to_dot())
    else:
        print(f"wrote {figure.save(args.out)}")
    return 0


# ---------------------------------------------------------------------- parser


def make_parser():
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Train and check the networks of 'Deep Learning from Scratch'.",
    )
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # Every option of `train` defaults to None here and to RUN_OPTIONS afterwards (see there).
    train = sub.add_parser(
        "train",
        usage="%(prog)s [options]",
        help="train a network; write the model, run.json, history and curves",
    )
    train.add_argument(
        "--dataset",
        type=_dataset,
        help="sample (shipped, default), fashion-mnist, mnist, or a folder of IDX files "
        "(the only place looked in)",
    )
    train.add_argument(
        "--model",
        choices=list(MODEL_DEFAULTS),
        help="two-layer: TwoLayerNet (chapter 5, default), mlp: MultiLayerNet (chapter 6), "
        "convnet: SimpleConvNet (chapter 7), deep-convnet: DeepConvNet (chapter 8)",
    )
    train.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        help="hidden layer sizes (default: 50 for two-layer, 100 100 for mlp, 100 for convnet, "
        "50 for deep-convnet)",
    )
    train.add_argument("--activation", choices=["relu", "sigmoid"], help="mlp only (default relu)")
    train.add_argument(
        "--optimizer",
        type=str.lower,
        choices=list(OPTIMIZERS),
        help="default sgd (adam for the conv models, as the book trains them)",
    )
    train.add_argument(
        "--lr", type=_positive_float, help="learning rate (default 0.1; 0.001 for the conv models)"
    )
    train.add_argument("--epochs", type=_positive_int, help="default 20")
    train.add_argument("--batch-size", type=_positive_int, help="default 100")
    train.add_argument(
        "--weight-decay",
        type=_non_negative_float,
        help="L2 weight decay lambda, mlp only (default 0)",
    )
    train.add_argument(
        "--weight-init-std",
        type=_weight_init_std,
        help="a number > 0, or relu/he, sigmoid/xavier for mlp (default: 0.01 for two-layer "
        "and convnet, the activation's for mlp)",
    )
    train.add_argument(
        "--batchnorm",
        action="store_true",
        default=None,
        help="mlp only: BatchNormalization after each hidden Affine (MultiLayerNetExtend)",
    )
    train.add_argument(
        "--dropout",
        type=_dropout_ratio,
        metavar="RATIO",
        help="mlp only: Dropout of this ratio after each hidden activation (default 0: none)",
    )
    train.add_argument("--dtype", choices=["float32", "float64"], help="default float32")
    train.add_argument(
        "--seed", type=_non_negative_int, help="default 0 (a number >= 0): same seed, same run"
    )
    train.add_argument(
        "--eval-samples",
        type=_positive_int,
        help="evaluate on the first N train/test samples each epoch (default all)",
    )
    train.add_argument(
        "--out",
        help="the run's folder (default: a new runs/DATE-TIME); one that holds a run is refused",
    )
    train.add_argument(
        "--force", action="store_true", help="with --out: replace the run that folder holds"
    )
    train.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        metavar="N",
        help="also write OUT/checkpoint.npz every N iterations (it is always written at the end)",
    )
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its checkpoint, with its options; add --epochs N "
        "to extend it to N epochs",
    )
    train.add_argument(
        "--threads",
        type=_non_negative_int,
        help="BLAS threads (default 1, fastest for these sizes; 0: NumPy's default; at most "
        "the number of cores)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    train.set_defaults(func=cmd_train, parser=train)

    evaluate = sub.add_parser("evaluate", help="accuracy and confusion matrix of a saved model")
    evaluate.add_argument(
        "model",
        help="a model .npz written by `layerwise train`, or the run folder holding it, or an "
        ".onnx model written by `layerwise export` (run by onnxruntime)",
    )
    evaluate.add_argument(
        "--dataset",
        type=_dataset,
        help="whose test set: sample, fashion-mnist, mnist, DIR (default: the dataset the "
        "model was trained on, else sample)",
    )
    evaluate.add_argument(
        "--out",
        default=None,
        help="where misclassified.png and confusion.png go (default: beside MODEL)",
    )
    evaluate.set_defaults(func=cmd_evaluate, parser=evaluate)

    export = sub.add_parser(
        "export", help="write a saved model as a PyTorch state_dict and/or an ONNX model"
    )
    export.add_argument("model", help="a model .npz, or the run folder holding it")
    export.add_argument("--torch", metavar="OUT.pt", help="the state_dict of to_torch's module")
    export.add_argument("--onnx", metavar="OUT.onnx", help="an ONNX model (float32, logits)")
    export.add_argument(
        "--softmax", action="store_true", help="with --onnx: output probabilities, not logits"
    )
    export.set_defaults(func=cmd_export, parser=export)

    runs = sub.add_parser("runs", help="list the runs in runs/ (or DIR) as a table")
    runs.add_argument(
        "dirs",
        nargs="*",
        default=["runs"],
        metavar="DIR",
        help="folders of runs, or run folders (default: runs)",
    )
    runs.add_argument(
        "--plot", action="store_true", help="draw their test accuracy per epoch in one picture"
    )
    runs.add_argument(
        "--out", metavar="FILE", help="with --plot: the picture (default DIR/runs.png)"
    )
    runs.set_defaults(func=cmd_runs, parser=runs)

    gradcheck = sub.add_parser("gradcheck", help="compare backprop with numerical gradients")
    gradcheck.add_argument("--seed", type=_non_negative_int, default=0)
    gradcheck.set_defaults(func=cmd_gradcheck, parser=gradcheck)

    graph = sub.add_parser(
        "graph", help="draw a computational graph: the book's apple figures or a model's step"
    )
    graph.add_argument(
        "what",
        metavar="WHAT",
        help="apple, apple-orange (the book's figures), or a model .npz / run folder (one "
        "training step on a batch of its dataset)",
    )
    graph.add_argument(
        "--out",
        metavar="FILE",
        help="FILE.dot/.gv (DOT text), .svg or .png (need Graphviz); default: DOT on stdout",
    )
    graph.add_argument(
        "--dataset", type=_dataset, help="for a model: default the one it was trained on"
    )
    graph.add_argument(
        "--batch-size", type=_positive_int, help="for a model: default its training batch size"
    )
    graph.set_defaults(func=cmd_graph, parser=graph)
    return parser


def _number(integer=False, **limits):
    """An argparse type: the option's text as a number that :func:`check_number` accepts."""

    def parse(text):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'a whole number' if integer else 'a number'}, got {text!r}"
            ) from None
        try:
            return check_number(value, "option", "value", integer=integer, **limits)
        except InvalidParameterError as err:
            raise argparse.ArgumentTypeError(str(err).split("value ", 1)[1]) from None

    return parse


_positive_int = _number(integer=True, low=1)
_non_negative_int = _number(integer=True, low=0)
_positive_float = _number(low=0, low_open=True)
_non_negative_float = _number(low=0)
_dropout_ratio = _number(low=0, high=1, high_open=True)


def _weight_init_std(text):
    """A standard deviation > 0, or the name of an initialisation (MultiLayerNet's)."""
    if text.lower() in INIT_NAMES:
        return text.lower()
    try:
        return _positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a number > 0 or one of {', '.join(INIT_NAMES)}, got {text!r}"
        ) from None


def _dataset(text):
    """A dataset's name, or a folder (made absolute, so the run can be resumed from anywhere)."""
    if text in DATASETS:
        return text
    if Path(text).is_dir():
        return str(Path(text).resolve())
    raise argparse.ArgumentTypeError(
        f"must be {', '.join(DATASETS)} or a folder of IDX files; {text!r} is none of these"
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["layerwise", *argv])
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is handled below and not at exit
        return status
    except UsageError as err:
        args.parser.error(str(err))  # the usage line, the message, exit status 2
    except BrokenPipeError:
        # Whoever read the output stopped (`layerwise runs | head -3`): nothing to report. Point
        # stdout at /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, interop.MissingExtraError) as err:
        # Data not found, bad model or checkpoint files, a folder that cannot be written, an
        # optional package (torch, onnx) that export or evaluate needs.
        print(f"layerwise: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerwise: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
