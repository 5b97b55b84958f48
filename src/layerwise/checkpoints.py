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

Reading is two steps: every entry's header is checked against the network, optimizer and
training set that will receive it, then the arrays are read. So a damaged or hostile file can
make the reader allocate no more than its own network, optimizer state, history and permutation.
The container (atomic writing, safe reading, the JSON entry) is :mod:`layerwise.container`'s,
shared with model files.

Examples
--------
>>> import tempfile, pathlib
>>> from layerwise import TwoLayerNet
>>> from layerwise.optimizers import SGD
>>> net = TwoLayerNet(4, 5, 3, seed=0)
>>> history = {"train_loss": [2.3], "train_acc": [0.1], "test_acc": [0.1]}
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ckpt.npz"
>>> path = write_checkpoint(path, {"epoch": 1, "iteration": 5}, net, SGD(lr=0.1), history)
>>> read_checkpoint_meta(path)["iteration"]
5
>>> meta, sections = read_checkpoint(path, TwoLayerNet(4, 5, 3, seed=1), train_size=100)
>>> sorted(sections["network"])
['W1', 'W2', 'b1', 'b2']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._types import StrPath
from ._version import __version__
from .container import open_npz, read_json_entry, write_npz_atomic
from .files import network_from_entries
from .network import Sequential
from .optimizers import Optimizer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "checkpoint_network",
    "read_checkpoint",
    "read_checkpoint_meta",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "layerwise-checkpoint"
CHECKPOINT_VERSION = 2
META_KEY = "__checkpoint__"
#: A checkpoint's JSON description is a few KB (the permutation is a separate array).
_MAX_META_BYTES = 1 << 22


def write_checkpoint(
    path: StrPath,
    meta: dict[str, Any],
    network: Sequential,
    optimizer: Optimizer,
    history: Mapping[str, Sequence[float]],
    perm: np.ndarray | None = None,
) -> Path:
    """Write a checkpoint to ``path`` atomically; returns the path.

    Parameters
    ----------
    path : str or Path
    meta : dict
        JSON-serialisable description (format, version and the writing layerwise's version
        are added here).
    network : Sequential
        Its ``state_dict()`` is stored under ``network/``.
    optimizer : Optimizer
        Its ``state_dict()`` is stored under ``optimizer/``.
    history : dict of str to list of float
        ``train_loss``, ``train_acc``, ``test_acc``.
    perm : ndarray, optional
        The current epoch's order of the training samples.
    """
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "layerwise": __version__,
        **meta,
    }
    arrays = {META_KEY: np.array(json.dumps(meta))}
    arrays.update({f"network/{k}": v for k, v in network.state_dict().items()})
    arrays.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
    arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in history.items()})
    if perm is not None:
        arrays["trainer/perm"] = perm
    return write_npz_atomic(path, arrays)


def read_checkpoint_meta(path: StrPath) -> dict[str, Any]:
    """The JSON description stored in a checkpoint (no array other than it is read).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a layerwise checkpoint this layerwise reads.
    """
    with open_npz(path, "checkpoint") as f:
        return _meta(f)


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
        return network_from_entries(f, _meta(f).get("network"), prefix="network/")


def read_checkpoint(
    path: StrPath,
    network: Sequential,
    train_size: int,
    check: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Read a checkpoint for ``network`` and a training set of ``train_size`` samples.

    Parameters
    ----------
    path : str or Path
    network : Sequential
        The network that will receive it: every ``network/`` entry must have the shape of its
        ``state_dict()`` entry of the same key.
    train_size : int
    check : callable, optional
        ``check(meta)`` raises ValueError when the description does not fit the caller (another
        network or optimizer); called before any array is read.

    Returns
    -------
    meta : dict
    sections : dict of str to dict of str to ndarray
        ``'network'``, ``'optimizer'``, ``'history'``, ``'trainer'``, each keyed without its
        prefix.

    Raises
    ------
    ModelFileError
        A ValueError: if the file is damaged or not a layerwise checkpoint, or an entry does
        not fit this network and training set.
    ValueError
        Whatever ``check`` raises.
    """
    with open_npz(path, "checkpoint") as f:
        meta = _meta(f)
        if check is not None:
            check(meta)
        own = {k: a.shape for k, a in [*network.named_parameters(), *network.named_buffers()]}
        longest = max(int(meta.get("iteration", 0)), int(meta.get("epoch", 0))) + 1
        for name, (shape, _) in f.headers.items():
            section, _, key = name.partition("/")
            if section == "network":
                ok = own.get(key) == shape
            elif section == "optimizer":
                ok = shape == () or shape in own.values()
            elif section == "history":
                ok = len(shape) == 1 and shape[0] <= longest
            elif name == "trainer/perm":
                ok = shape == (train_size,)
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
        sections: dict[str, dict[str, np.ndarray]] = {
            "network": {},
            "optimizer": {},
            "history": {},
            "trainer": {},
        }
        for name in f.headers:
            section, _, key = name.partition("/")
            if section in sections:
                sections[section][key] = f.read(name)
    return meta, sections


def _meta(f):
    return read_json_entry(
        f, META_KEY, CHECKPOINT_FORMAT, (CHECKPOINT_VERSION,), max_bytes=_MAX_META_BYTES
    )
