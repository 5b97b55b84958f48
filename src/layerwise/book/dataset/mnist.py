"""The book's ``dataset/mnist.py``: ``load_mnist``, from files already on this machine.

Where MNIST is looked for, in this order (nothing is downloaded):

1. ``$LAYERWISE_DATA/mnist`` or ``$LAYERWISE_DATA`` (the four IDX files, raw or ``.gz``);
2. the book's ``dataset/`` folder of the clone the script is in (its ``mnist.pkl``, read by
   :func:`layerwise.book_weights.load_pickled_arrays`, which runs nothing the pickle asks
   for; or the ``.gz`` files the book downloads there);
3. layerwise's cache (``~/.cache/layerwise/mnist``).

Without MNIST, Fashion-MNIST (:func:`layerwise.datasets.load_fashion_mnist`, no download) or
else the sample shipped with layerwise stands in, with a one-line notice on stderr.
``LAYERWISE_BOOK_LIMIT=N`` keeps the first N training and N test images.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from layerwise.book_weights import RefusedPickleError, load_pickled_arrays
from layerwise.datasets import (
    Dataset,
    DatasetNotFoundError,
    find_files,
    load_fashion_mnist,
    load_sample,
    locate,
    read_dataset,
)

__all__ = ["img_dim", "img_size", "load_mnist", "np"]

img_dim = (1, 28, 28)
img_size = 784

_BOOK_KEYS = ("train_img", "train_label", "test_img", "test_label")


def load_mnist(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False
) -> Dataset:
    """``((x_train, t_train), (x_test, t_test))``, as the book's ``load_mnist`` returns.

    Parameters
    ----------
    normalize : bool, default True
        Images as float32 in [0, 1]; else uint8 in [0, 255].
    flatten : bool, default True
        Images (N, 784); else (N, 1, 28, 28).
    one_hot_label : bool, default False
        Labels as one-hot rows (N, 10); else uint8 (N,).
    """
    dataset = _mnist(normalize, flatten, one_hot_label)
    if dataset is None:
        dataset = _stand_in(normalize, flatten, one_hot_label)
    limit = os.environ.get("LAYERWISE_BOOK_LIMIT")
    if limit:
        n = int(limit)
        (x_train, t_train), (x_test, t_test) = dataset
        dataset = (x_train[:n], t_train[:n]), (x_test[:n], t_test[:n])
    return dataset


def _book_folders():
    """The clone's ``dataset/`` folder: beside the running script's chapter folder."""
    from layerwise.book import running_script

    script = running_script()
    folders = [Path.cwd().parent / "dataset"]
    if script is not None:
        folders.insert(0, script.parent.parent / "dataset")
    return list(dict.fromkeys(folders))


def _mnist(normalize, flatten, one_hot_label):
    env = os.environ.get("LAYERWISE_DATA")
    folders = [Path(env) / "mnist", Path(env)] if env else []
    for folder in [*folders, *_book_folders()]:
        pickled = folder / "mnist.pkl"
        if folder.name == "dataset" and pickled.is_file():
            return _from_book_pickle(pickled, normalize, flatten, one_hot_label)
        files, missing = find_files(folder)
        if not missing:
            return read_dataset(files, normalize, flatten, one_hot_label)
    try:
        files = locate("mnist", download=False)  # the cache
    except DatasetNotFoundError:
        return None
    return read_dataset(files, normalize, flatten, one_hot_label)


def _from_book_pickle(path, normalize, flatten, one_hot_label):
    """The book's ``mnist.pkl`` (a dict of uint8 arrays), checked, in the book's format."""
    arrays = load_pickled_arrays(path)
    if sorted(arrays) != sorted(_BOOK_KEYS):
        raise RefusedPickleError(f"{path}: expected the entries {', '.join(_BOOK_KEYS)}")
    splits = []
    for split in ("train", "test"):
        x, t = arrays[f"{split}_img"], arrays[f"{split}_label"]
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 784 or t.shape != (len(x),):
            raise RefusedPickleError(
                f"{path}: expected uint8 images (N, 784) and N labels, got {x.dtype} {x.shape} "
                f"and {t.shape}"
            )
        splits.append(_book_format(x, t, normalize, flatten, one_hot_label))
    return tuple(splits)


def _book_format(x, t, normalize, flatten, one_hot_label):
    if normalize:
        x = x.astype(np.float32) / np.float32(255.0)
    x = x.reshape(len(x), 784) if flatten else x.reshape(len(x), 1, 28, 28)
    if one_hot_label:
        t = np.eye(10, dtype=np.float32)[t]
    return x, t


def _stand_in(normalize, flatten, one_hot_label):
    """Fashion-MNIST if it is on this machine, else layerwise's sample; says which."""
    try:
        dataset = load_fashion_mnist(normalize, flatten, one_hot_label, download=False)
        what = "Fashion-MNIST"
    except DatasetNotFoundError:
        dataset = load_sample(normalize, flatten, one_hot_label)
        what = "layerwise's Fashion-MNIST sample (5000 training, 1000 test images)"
    print(
        f"layerwise book: MNIST not found (set LAYERWISE_DATA, or put the book's "
        f"dataset/mnist.pkl in the clone); using {what} instead",
        file=sys.stderr,
        flush=True,
    )
    return dataset
