"""Checkpoints of the sequel's models in training: everything a run continues from, bit for bit.

A checkpoint is the container's ``.npz`` (:mod:`layerwise.container`: written atomically, read
without unpickling) holding

- ``'__sequel_checkpoint__'``: a JSON description: ``format``, ``version``, ``layerwise``,
  ``model`` (the model file's description, :mod:`~layerwise.sequel.model_files`), ``optimizer``
  (its class name), ``settings`` (the trainer's: ``kind``, ``epochs``, ``batch_size``,
  ``time_size``, ``train_size``, ``max_grad``, ``seed``), the position (``epoch``,
  ``iteration``; a language model's batch offset ``time_idx``; a seq2seq trainer's shuffling
  generator ``rng``; word2vec's too, and its negative sampler's ``sampler_rng``), the dropout
  layers' generators (``model_rng``) and the caller's ``extra``;
- ``'model/params/<i>'``, ``'model/vocab'``: the model, as a model file holds it;
- ``'state/layers/<j>/<name>'``: each recurrent layer's carried state (``h``, ``c``);
- ``'optimizer/<key>'``: the optimizer's ``state_dict()``;
- ``'history/<name>'``: the loss of every iteration and each curve's value per epoch;
- ``'trainer/perm'``: a seq2seq or word2vec epoch's order of the training rows, when it stopped
  inside one.

:meth:`SequelCheckpoint.read` reads it in the container's plain sequence: the description is
checked, the model's entries are checked against the sizes it declares
(:func:`~layerwise.sequel.model_files.model_from_entries`), every other entry's header against
the model and the run (a state (batch_size, H), an optimizer slot the shape of a parameter, a
history no longer than the run, the order (train_size,)), and only then are arrays read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._types import StrPath
from .._version import __version__
from ..container import NpzFile, open_npz, read_json_entry, write_npz_atomic
from .model_files import DESCRIPTION_KEY, SequelModelFile, model_from_entries

__all__ = ["CHECKPOINT_KEY", "SequelCheckpoint", "sequel_file_kind"]

FORMAT, VERSION = "layerwise-sequel-checkpoint", 1
CHECKPOINT_KEY = "__sequel_checkpoint__"
_MAX_DESCRIPTION_BYTES = 1 << 22
#: The trainer's settings: name -> may it be None.
SETTINGS = {
    "epochs": False,
    "batch_size": False,
    "time_size": True,
    "train_size": False,
    "seed": True,
}
KINDS = ("language-model", "seq2seq", "word2vec")


def sequel_file_kind(path: StrPath) -> str | None:
    """``'model'``, ``'checkpoint'`` or None: which of the sequel's files ``path`` is, from its
    entries' names alone (None for anything else, volume 1's files and damaged ones included)."""
    try:
        with open_npz(path, "file") as f:
            names = set(f.headers)
    except (OSError, ValueError):
        return None
    if CHECKPOINT_KEY in names:
        return "checkpoint"
    return "model" if DESCRIPTION_KEY in names else None


@dataclass
class SequelCheckpoint:
    """Where a run of one of the sequel's models stands: its checkpoint file's contents.

    Attributes
    ----------
    description : dict
        The JSON description (see the module).
    model : SequelModelFile or None
        The model rebuilt from the file (:meth:`read`); None in one not yet written.
    arrays : dict of str to ndarray
        To write: ``model/...`` (from :func:`~layerwise.sequel.model_files.model_description`),
        ``state/...``, ``optimizer/...``, ``history/...``, ``trainer/perm``; after
        :meth:`read`, every entry but the model's.
    """

    description: dict[str, Any]
    arrays: dict[str, Any] = field(default_factory=dict, repr=False)
    model: SequelModelFile | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ the description

    @property
    def epoch(self) -> int:
        return int(self.description["epoch"])

    @property
    def iteration(self) -> int:
        return int(self.description["iteration"])

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.description["settings"])

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.description.get("extra") or {})

    @property
    def iter_per_epoch(self) -> int:
        return int(self.description["iter_per_epoch"])

    @property
    def epochs_begun(self) -> int:
        """The epochs finished or started: a resumed run needs at least this many."""
        return -(-self.iteration // self.iter_per_epoch)

    def section(self, name: str) -> dict[str, np.ndarray]:
        """The arrays ``name/<key>`` as ``{key: array}`` (``state``, ``optimizer``, ...)."""
        prefix = name + "/"
        return {k[len(prefix) :]: v for k, v in self.arrays.items() if k.startswith(prefix)}

    # ------------------------------------------------------------------ writing

    def write(self, path: StrPath) -> Path:
        """Write the checkpoint to ``path`` atomically (a crash leaves the previous file whole)."""
        description = {
            "format": FORMAT,
            "version": VERSION,
            "layerwise": __version__,
            **self.description,
        }
        arrays = {CHECKPOINT_KEY: np.array(json.dumps(description)), **self.arrays}
        return write_npz_atomic(path, arrays)

    # ------------------------------------------------------------------ reading

    @classmethod
    def read(cls, path: StrPath) -> SequelCheckpoint:
        """The checkpoint at ``path``, every entry checked from its header before it is read.

        Raises
        ------
        FileNotFoundError
        ModelFileError
            Naming the file and the problem: not a sequel checkpoint, a field of its
            description missing or of the wrong type, a model entry not of the sizes the
            description declares, any other entry that does not fit the model and the run.
        """
        with open_npz(path, "checkpoint") as f:
            description = read_json_entry(
                f, CHECKPOINT_KEY, FORMAT, (VERSION,), _MAX_DESCRIPTION_BYTES
            )
            _check_description(f, description)
            model = model_from_entries(f, description["model"], prefix="model/")
            _check_entries(f, description, model)
            arrays = {
                name: f.read(name)
                for name in f.headers
                if name != CHECKPOINT_KEY and not name.startswith("model/")
            }
        return cls(description, arrays, model)


def _check_description(f: NpzFile, description: dict[str, Any]) -> None:
    def fail(name: str, what: str, value: Any) -> Exception:
        return f.error(f"its description's {name!r} must be {what}, got {str(value)[:60]!r}")

    def whole(where: dict[str, Any], name: str, optional: bool = False) -> None:
        value = where.get(name)
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(name, "a whole number >= 0", value)

    for name in ("model", "settings"):
        if not isinstance(description.get(name), dict):
            raise fail(name, "an object", description.get(name))
    for name in ("extra", "model_rng", "rng", "sampler_rng"):
        if not isinstance(description.get(name, {}), dict):
            raise fail(name, "an object", description.get(name))
    if not isinstance(description.get("optimizer"), str):
        raise fail("optimizer", "a string", description.get("optimizer"))
    settings = description["settings"]
    if settings.get("kind") not in KINDS:
        raise fail("kind", f"one of {', '.join(KINDS)}", settings.get("kind"))
    for name, optional in SETTINGS.items():
        whole(settings, name, optional)
    # the generators a word2vec run goes on from: the shuffling one and the negative sampler's
    needed = ("rng", "sampler_rng") if settings["kind"] == "word2vec" else ()
    for name in needed:
        if not description.get(name):
            raise fail(name, "a generator's state (a word2vec run's)", description.get(name))
    for name in ("epoch", "iteration", "iter_per_epoch"):
        whole(description, name)
    whole(description, "time_idx", optional=True)
    if description["iter_per_epoch"] < 1 or settings["batch_size"] < 1:
        raise f.error("its description's 'iter_per_epoch' and 'batch_size' must be >= 1")


def _check_entries(f: NpzFile, description: dict[str, Any], model: SequelModelFile) -> None:
    """Refuse, from its header alone, every entry that does not fit the model and the run."""
    settings = description["settings"]
    params = {tuple(p.shape) for p in model.model.params}
    state = (settings["batch_size"], model.config["hidden_size"])
    longest = description["iteration"] + description["epoch"] + 1
    for name, (shape, dtype) in f.headers.items():
        section, _, key = name.partition("/")
        if name == CHECKPOINT_KEY or section == "model":
            continue  # checked by read_json_entry and model_from_entries
        if section == "state":
            ok = key.startswith("layers/") and shape == state and dtype.kind == "f"
        elif section == "optimizer":
            ok = shape == () or shape in params
        elif section == "history":
            ok = len(shape) == 1 and shape[0] <= longest and dtype.kind == "f"
        elif name == "trainer/perm":
            ok = shape == (settings["train_size"],) and dtype.kind in "iu"
        else:
            ok = False
        if not ok:
            raise f.error(
                f"entry {name!r} of shape {shape} and dtype {dtype} does not belong in a "
                "checkpoint of this model and run"
            )
