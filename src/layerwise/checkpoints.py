"""The checkpoint file format: everything a :class:`~layerwise.Trainer` needs to continue.

A checkpoint is a plain ``.npz`` archive (never pickled), written atomically:

- ``'__checkpoint__'``: a 0-d unicode array holding JSON: ``format``, ``version``, ``layerwise``
  (the version of layerwise that wrote it), the network's
  ``get_config()``, the optimizer's class name, the trainer's settings, the position in the run
  (``epoch``, ``iteration``), the shuffling generator's state (``rng``), the random layers'
  generator states (``network_rng``, e.g. Dropout's) and the caller's ``extra`` dict;
- ``'network/<key>'``: the network's parameters and buffers (``network/W1``,
  ``network/running_mean1``);
- ``'optimizer/<key>'``: the optimizer's ``state_dict()``;
- ``'history/train_loss'``, ``'history/train_acc'``, ``'history/test_acc'``;
- ``'trainer/perm'``: the current epoch's order, when the run stopped inside an epoch.

Everything about this format is :class:`Checkpoint`'s: the fields of the description and their
types, writing, and reading in three calls in sequence: the description is read and checked
(:meth:`Checkpoint.read`), then whether it fits the network, optimizer and training set that will
receive it (:meth:`Checkpoint.check_fits`), then every entry's header against them, and only then
the arrays (:meth:`Checkpoint.load` does the three). So a damaged or hostile file can make the
reader allocate no more than its own network, optimizer state, history and permutation. The
container (atomic writing, safe reading, the JSON entry) is :mod:`layerwise.container`'s, shared
with model files.

Examples
--------
>>> import tempfile, pathlib
>>> from layerwise import TwoLayerNet
>>> from layerwise.optimizers import SGD
>>> net, sgd = TwoLayerNet(4, 5, 3, seed=0), SGD(lr=0.1)
>>> checkpoint = Checkpoint.of(net, sgd, epochs=2, mini_batch_size=10, train_size=100, seed=0)
>>> path = checkpoint.write(pathlib.Path(tempfile.mkdtemp()) / "ckpt.npz")
>>> Checkpoint.read(path).iteration
0
>>> sorted(Checkpoint.load(path, TwoLayerNet(4, 5, 3, seed=1), sgd, 100).network_state)
['W1', 'W2', 'b1', 'b2']
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._types import StrPath
from ._version import __version__
from .container import NpzFile, open_npz, read_json_entry, write_npz_atomic
from .files import network_from_entries
from .network import Sequential
from .optimizers import Optimizer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "checkpoint_network",
    "read_checkpoint_meta",
]

CHECKPOINT_FORMAT = "layerwise-checkpoint"
CHECKPOINT_VERSION = 2
META_KEY = "__checkpoint__"
#: A checkpoint's JSON description is a few KB (the permutation is a separate array).
_MAX_META_BYTES = 1 << 22
#: The trainer's settings, kept under "trainer" in the description: name -> may it be None.
TRAINER_SETTINGS = {
    "epochs": False,
    "mini_batch_size": False,
    "train_size": False,
    "seed": True,
    "evaluate_sample_num_per_epoch": True,
}
HISTORY = ("train_loss", "train_acc", "test_acc")


@dataclass
class Checkpoint:
    """Where a training run stands: what a checkpoint file holds, its schema in one place.

    Attributes
    ----------
    network : dict
        The network's ``get_config()``: the architecture the arrays belong to.
    optimizer : str
        The optimizer's class name (``'SGD'``, ``'Adam'``).
    epochs, mini_batch_size, train_size : int
        The trainer's settings: the run's length, its minibatch and training set sizes.
    seed, evaluate_sample_num_per_epoch : int or None
    epoch, iteration : int
        The epochs finished and the iterations done.
    rng : dict
        The shuffling generator's ``bit_generator.state``.
    network_rng : dict
        The random layers' generator states (``network.get_rng_state()``, Dropout's).
    extra : dict
        The caller's JSON-serialisable data (the command line keeps its options there).
    writer : str or None
        The version of layerwise that wrote the file (None for one not yet written, or written
        before checkpoints recorded it).
    network_state, optimizer_state : dict of str to ndarray
        ``state_dict()`` of each; empty when only the description was read (:meth:`read`).
    history : dict of str to list of float
        ``train_loss`` (one per iteration), ``train_acc`` and ``test_acc`` (one per epoch).
    perm : ndarray or None
        The current epoch's order of the training samples, when the run stopped inside one.
    """

    network: dict[str, Any]
    optimizer: str
    epochs: int
    mini_batch_size: int
    train_size: int
    seed: int | None = None
    evaluate_sample_num_per_epoch: int | None = None
    epoch: int = 0
    iteration: int = 0
    rng: dict[str, Any] = field(default_factory=dict)
    network_rng: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    writer: str | None = None
    network_state: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    history: dict[str, list[float]] = field(default_factory=dict, repr=False)
    perm: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        network: Sequential,
        optimizer: Optimizer,
        *,
        epochs: int,
        mini_batch_size: int,
        train_size: int,
        **position: Any,
    ) -> Checkpoint:
        """The checkpoint of ``network`` and ``optimizer`` as they are now.

        Parameters
        ----------
        network : Sequential
            Its architecture, parameters, buffers and random layers' generators are kept.
        optimizer : Optimizer
            Its class name and ``state_dict()`` are kept.
        epochs, mini_batch_size, train_size : int
        **position
            The other fields, by name (``seed``, ``epoch``, ``iteration``, ``rng``, ``history``,
            ``perm``, ``extra``, ...); ``rng`` defaults to a fresh ``default_rng(seed)``'s.
        """
        position.setdefault("rng", np.random.default_rng(position.get("seed")).bit_generator.state)
        return cls(
            network=network.get_config(),
            optimizer=type(optimizer).__name__,
            epochs=epochs,
            mini_batch_size=mini_batch_size,
            train_size=train_size,
            network_rng=network.get_rng_state(),
            network_state=network.state_dict(),
            optimizer_state=optimizer.state_dict(),
            **position,
        )

    @property
    def iter_per_epoch(self) -> int:
        """Iterations in an epoch: ``ceil(train_size / mini_batch_size)``."""
        return math.ceil(self.train_size / self.mini_batch_size)

    @property
    def epochs_begun(self) -> int:
        """The epochs finished or started: a resumed run needs at least this many."""
        return math.ceil(self.iteration / self.iter_per_epoch)

    # ------------------------------------------------------------------ writing

    def description(self) -> dict[str, Any]:
        """The JSON description, as the file's ``'__checkpoint__'`` entry holds it."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "layerwise": __version__,
            "network": self.network,
            "network_rng": self.network_rng,
            "optimizer": self.optimizer,
            "trainer": {name: getattr(self, name) for name in TRAINER_SETTINGS},
            "epoch": self.epoch,
            "iteration": self.iteration,
            "rng": self.rng,
            "extra": self.extra,
        }

    def write(self, path: StrPath) -> Path:
        """Write the checkpoint to ``path`` atomically (a crash leaves the previous file whole).

        Returns
        -------
        Path
            ``path``.
        """
        arrays = {META_KEY: np.array(json.dumps(self.description()))}
        arrays.update({f"network/{k}": v for k, v in self.network_state.items()})
        arrays.update({f"optimizer/{k}": v for k, v in self.optimizer_state.items()})
        history = {k: self.history.get(k, []) for k in HISTORY}
        arrays.update({f"history/{k}": np.asarray(v, np.float64) for k, v in history.items()})
        if self.perm is not None:
            arrays["trainer/perm"] = self.perm
        return write_npz_atomic(path, arrays)

    # ------------------------------------------------------------------ reading

    @classmethod
    def read(cls, path: StrPath) -> Checkpoint:
        """The description of the checkpoint at ``path``, checked; no other array is read.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ModelFileError
            If the file is not a layerwise checkpoint this layerwise reads, or a field of its
            description is missing or of the wrong type.
        """
        with open_npz(path, "checkpoint") as f:
            return cls._from_description(f)

    def check_fits(self, network: Sequential, optimizer: Optimizer, train_size: int) -> None:
        """Raise ValueError unless this checkpoint continues ``network`` and ``optimizer`` on a
        training set of ``train_size`` samples (the same architecture, optimizer class and size).
        """
        if self.train_size != train_size or self.network != network.get_config():
            raise ValueError(
                f"this checkpoint was written for another network or training set (network "
                f"{self.network}, {self.train_size} training samples)"
            )
        if self.optimizer != type(optimizer).__name__:
            raise ValueError(
                f"the checkpoint's optimizer is {self.optimizer}, this trainer's is "
                f"{type(optimizer).__name__}"
            )

    @classmethod
    def load(
        cls, path: StrPath, network: Sequential, optimizer: Optimizer, train_size: int
    ) -> Checkpoint:
        """The checkpoint at ``path``, arrays included, for ``network`` and ``optimizer``.

        Three steps: the description is read and checked; it must fit ``network``,
        ``optimizer`` and ``train_size`` (:meth:`check_fits`); every entry's header must fit
        them too (a ``network/`` entry the shape of the network's ``state_dict()`` entry of
        the same key, a history no longer than the run, the order ``(train_size,)``). Only
        then are the arrays read. Nothing is loaded into ``network`` or ``optimizer``.

        Raises
        ------
        ModelFileError
            A ValueError: the file is damaged or not a layerwise checkpoint, or an entry does
            not fit this network and training set.
        ValueError
            The checkpoint is of another network, optimizer or training set, naming the file.
        """
        with open_npz(path, "checkpoint") as f:
            checkpoint = cls._from_description(f)
            try:
                checkpoint.check_fits(network, optimizer, train_size)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
            checkpoint._check_entries(f, network)
            sections: dict[str, dict[str, np.ndarray]] = {
                s: {} for s in ("network", "optimizer", "history", "trainer")
            }
            for name in f.headers:
                section, _, key = name.partition("/")
                if section in sections:
                    sections[section][key] = f.read(name)
        return replace(
            checkpoint,
            network_state=sections["network"],
            optimizer_state=sections["optimizer"],
            history={k: sections["history"].get(k, np.zeros(0)).tolist() for k in HISTORY},
            perm=sections["trainer"].get("perm"),
        )

    @classmethod
    def _from_description(cls, f: NpzFile) -> Checkpoint:
        meta = _description(f)

        def field_of(where, name, kind, optional=False):
            value = where.get(name)
            if optional and value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, kind):
                shown = "missing" if name not in where else repr(value)[:60]
                what = {int: "an integer", str: "a string", dict: "an object"}[kind]
                raise f.error(f"its description's {name!r} must be {what}, got {shown}")
            if kind is int and value < 0:
                raise f.error(f"its description's {name!r} must be >= 0, got {value}")
            return value

        trainer = field_of(meta, "trainer", dict)
        settings = {k: field_of(trainer, k, int, none) for k, none in TRAINER_SETTINGS.items()}
        if settings["mini_batch_size"] == 0:
            raise f.error("its description's 'mini_batch_size' must be >= 1, got 0")
        writer = meta.get("layerwise")
        return cls(
            network=field_of(meta, "network", dict),
            optimizer=field_of(meta, "optimizer", str),
            **settings,
            epoch=field_of(meta, "epoch", int),
            iteration=field_of(meta, "iteration", int),
            rng=field_of(meta, "rng", dict),
            network_rng=field_of(meta, "network_rng", dict, optional=True) or {},
            extra=field_of(meta, "extra", dict, optional=True) or {},
            writer=writer if isinstance(writer, str) else None,
        )

    def _check_entries(self, f: NpzFile, network: Sequential) -> None:
        """Refuse, from its header alone, every entry that does not fit ``network`` and this
        checkpoint's run (so no array larger than they need is ever allocated)."""
        own = {k: a.shape for k, a in [*network.named_parameters(), *network.named_buffers()]}
        longest = max(self.iteration, self.epoch) + 1
        for name, (shape, _) in f.headers.items():
            section, _, key = name.partition("/")
            if section == "network":
                ok = own.get(key) == shape
            elif section == "optimizer":
                ok = shape == () or shape in own.values()
            elif section == "history":
                ok = key in HISTORY and len(shape) == 1 and shape[0] <= longest
            elif name == "trainer/perm":
                ok = shape == (self.train_size,)
            else:
                ok = name == META_KEY
            if not ok:
                raise f.error(
                    f"entry {name!r} of shape {shape} does not belong in a checkpoint of this "
                    "trainer"
                )
        missing = [k for k in own if f"network/{k}" not in f.headers]
        if missing:
            raise f.error(f"it lacks the network's {missing}")


def read_checkpoint_meta(path: StrPath) -> dict[str, Any]:
    """The JSON description stored in a checkpoint (no array other than it is read).

    :meth:`Checkpoint.read` gives the same as a :class:`Checkpoint`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a layerwise checkpoint this layerwise reads.
    """
    with open_npz(path, "checkpoint") as f:
        return _description(f)


def _description(f: NpzFile) -> dict[str, Any]:
    """The JSON description of an open checkpoint, its format and version checked."""
    return read_json_entry(
        f, META_KEY, CHECKPOINT_FORMAT, (CHECKPOINT_VERSION,), max_bytes=_MAX_META_BYTES
    )


def checkpoint_network(path: StrPath) -> Sequential:
    """The network of a checkpoint, as it was when the checkpoint was written.

    So a run that stopped before writing its model file can still be evaluated or drawn.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a layerwise checkpoint, or its network entries do not fit its
        description.
    """
    with open_npz(path, "checkpoint") as f:
        return network_from_entries(f, Checkpoint._from_description(f).network, prefix="network/")
