"""What several commands share: usage errors, option types, the datasets and the model files."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .. import datasets
from .._checks import InvalidParameterError, check_number
from ..backend import array_module, parse_device
from ..checkpoints import Checkpoint, checkpoint_network
from ..files import load, read_training
from ..run_folders import CHECKPOINT, MODEL, NAMED_DATASETS, model_file, read_run, status_phrase
from ..sequel.checkpoints import sequel_file_kind

#: Printed where a picture would have been written.
NO_PICTURES = "matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'"


class UsageError(Exception):
    """The command line asks for something that cannot be done: usage line, message, exit 2."""


def flag(name):
    """The option of a ``dest`` name: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------- option types


def number(integer=False, **limits):
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


positive_int = number(integer=True, low=1)
non_negative_int = number(integer=True, low=0)
positive_float = number(low=0, low_open=True)
non_negative_float = number(low=0)
ratio = number(low=0, high=1, high_open=True)
at_least_one = number(low=1)


def did_you_mean(text, names):
    """`` (did you mean 'x'?)`` for the name closest to a mistyped ``text``, else ``''``.

    Underscores read as hyphens and case is ignored first, so ``fashion_mnist`` finds
    ``fashion-mnist`` and ``ADAM`` finds ``adam``; then difflib's closest match.
    """
    names = [str(name) for name in names]
    plain = {name.lower().replace("_", "-"): name for name in names}
    key = str(text).lower().replace("_", "-")
    close = [plain[key]] if key in plain else difflib.get_close_matches(key, plain, n=1)
    return f" (did you mean {plain.get(close[0], close[0])!r}?)" if close else ""


def choice(names):
    """An argparse type: one of ``names`` (any case), or an error that suggests the closest.

    Used instead of ``choices=``, whose error lists the names but does not point at the one
    meant; the parser shows the names as the option's metavar (:func:`choices_metavar`).
    """
    names = [str(name) for name in names]

    def parse(text):
        for name in names:
            if text.lower() == name.lower():
                return name
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r}{did_you_mean(text, names)}; choose from {', '.join(names)}"
        )

    return parse


def choices_metavar(names):
    """``{a,b,c}``: how argparse shows ``choices=`` in the usage line."""
    return "{" + ",".join(map(str, names)) + "}"


# ---------------------------------------------------------------------- data


def workers(text):
    """``--workers``: a whole number >= 1, or ``auto`` (one per core this process may use)."""
    if text.strip().lower() == "auto":
        return "auto"
    return positive_int(text)


def device(text):
    """``--device``: cpu, cuda or cuda:N, spelt as :func:`layerwise.backend.parse_device` reads."""
    try:
        return str(parse_device(text))
    except InvalidParameterError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("device ")) from None


def check_device(device, workers):
    """Refuse ``--device cuda`` with ``--workers`` > 1, and a GPU that cannot be used.

    Called before anything is written, so a refused run leaves no folder behind.

    Raises
    ------
    UsageError
        For CUDA with several workers (exit status 2).
    DeviceUnavailableError
        For CUDA without CuPy or without a GPU (exit status 1, the message says what to install).
    """
    if device == "cpu":
        return
    if workers != 1:
        raise UsageError(
            f"--device {device} computes each step on the GPU and --workers {workers} splits "
            "it over CPU processes: use one or the other"
        )
    array_module(device)


#: The sequel's datasets known by name; any other is a text file.
SEQUEL_DATASETS = ("ptb", "addition", "date")


def dataset(text):
    """A dataset's name, or a folder or file (made absolute, so the run can be resumed from
    anywhere): a folder of IDX files for volume 1's networks, a text file for the sequel's."""
    if text in NAMED_DATASETS or text in SEQUEL_DATASETS:
        return text
    if Path(text).is_dir() or Path(text).is_file():
        return str(Path(text).resolve())
    names = (*NAMED_DATASETS, *SEQUEL_DATASETS)
    raise argparse.ArgumentTypeError(
        f"must be {', '.join(NAMED_DATASETS)} or a folder of IDX files (volume 1's networks), "
        f"or {', '.join(SEQUEL_DATASETS)} or a text file (the sequel's models); {text!r} is "
        f"none of these{did_you_mean(text, names)}"
    )


def load_dataset(name):
    """The dataset of ``--dataset name``, with uint8 images of shape (N, 784), and its source.

    The images stay uint8 (a quarter of float32's memory); the network scales them by 1/255
    one batch at a time. A folder given to ``--dataset`` is the only place looked in;
    ``mnist`` and ``fashion-mnist`` are looked for as :func:`layerwise.datasets.locate` does.
    Every message about a dataset not found is here, for every command.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test)), source
        ``source`` is what was read, for run.json: ``{"folder": ..., "files": [...]}``.
    """
    if name in SEQUEL_DATASETS or Path(name).is_file():
        raise UsageError(
            f"--dataset {name} is text, for the sequel's models; volume 1's networks read "
            f"{', '.join(NAMED_DATASETS)} or a folder of IDX files"
        )
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


def as_images(x, network):
    """Rows of pixels as the network's input shape: (N, 1, 28, 28) views for conv nets."""
    shape = getattr(network, "input_shape", None)
    if shape is None or x.shape[1:] == tuple(shape):
        return x
    return x.reshape(len(x), *shape)


# ---------------------------------------------------------------------- models


def refuse_sequel(model):
    """A ValueError for a file of the sequel's models, which only some commands take."""
    kind = sequel_file_kind(model)
    if kind is not None:
        raise ValueError(
            f"{model} is a {kind} of the sequel's models, which this command does not take "
            "(layerwise evaluate and generate do); it takes volume 1's networks"
        )


def open_model(path):
    """``(model file, network, its training options)`` of a model .npz or a run folder.

    A run folder without model.npz gives the network of its checkpoint (the model file is
    then the checkpoint), with a note on stderr saying so; so does a checkpoint named.

    Raises
    ------
    ValueError
        For a model or checkpoint of the sequel's models, naming the commands that take them.
    """
    model = model_file(path)
    refuse_sequel(model)
    if model.name == CHECKPOINT:
        checkpoint = Checkpoint.read(model)
        when = f"at iteration {checkpoint.iteration} (epoch {checkpoint.epoch} finished)"
        if (model.parent / MODEL).exists():  # the checkpoint named, beside a model
            note = f"using the network of the checkpoint {model}, {when}"
        else:
            record = read_run(model.parent) or {}
            how = f"the run {status_phrase(record)}" if "status" in record else "no model.npz"
            note = f"{model.parent} holds no {MODEL} ({how}): using the network of its "
            note += f"{CHECKPOINT}, {when}"
        print(f"layerwise: {note}", file=sys.stderr)
        return model, checkpoint_network(model), checkpoint.extra.get("options", {})
    training = read_training(model) or {}
    return model, load(model), training.get("options", {})
