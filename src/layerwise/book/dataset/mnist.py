"""The book's ``dataset/mnist.py``: ``load_mnist``, downloading MNIST as the book's does.

Where MNIST is looked for, in this order:

1. ``$LAYERWISE_DATA/mnist`` or ``$LAYERWISE_DATA`` (the four IDX files, raw or ``.gz``);
2. the book's ``dataset/`` folder of the clone the script is in (its ``mnist.pkl``, read by
   :func:`layerwise.book_weights.load_pickled_arrays`, which runs nothing the pickle asks
   for; or the ``.gz`` files the book downloads there);
3. layerwise's cache (``~/.cache/layerwise/mnist``);
4. downloaded into that cache by :func:`layerwise.datasets.locate`: each file from the first
   mirror that serves it (``$LAYERWISE_MNIST_MIRRORS`` replaces the list), kept only if its MD5
   is MNIST's, each download reported on stderr. Once there, later runs read it from the cache.
   A failed download is not tried again for an hour (delete ``download-failed.txt`` in that
   cache folder to try at once).

Only if that fails too, Fashion-MNIST (:func:`layerwise.datasets.load_fashion_mnist`, not
downloaded) or else the sample shipped with layerwise stands in, with a notice on stderr that
says why; a script that then tests weights trained on MNIST has each accuracy it prints marked
as meaningless (:mod:`layerwise.book.stand_in`).

``LAYERWISE_BOOK_LIMIT=N`` keeps the first N training images and as many test images as the
full set has per training image (a sixth of N for MNIST, whole hundreds from 100 on, at least
one): a script that evaluates on both sets every epoch then evaluates no more images per step
than on the full set.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from layerwise.book import stand_in
from layerwise.book.books import dataset_folders
from layerwise.book_weights import RefusedPickleError, load_pickled_arrays
from layerwise.datasets import (
    Dataset,
    DatasetNotFoundError,
    cache_dir,
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

#: A failed download is remembered in MNIST's cache folder under this name, and not tried again
#: for ``RETRY_AFTER`` seconds: without internet each script would otherwise wait for every
#: mirror (up to 30 s each when the connection hangs) before the stand-in.
FAILED_DOWNLOAD = "download-failed.txt"
RETRY_AFTER = 3600


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
    dataset, failure = _mnist(normalize, flatten, one_hot_label)
    if dataset is None:
        dataset = _stand_in(normalize, flatten, one_hot_label, failure)
    limit = os.environ.get("LAYERWISE_BOOK_LIMIT")
    if limit:
        dataset = limited(dataset, int(limit))
    return dataset


def limited(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` training images, and the test images in the full set's proportion.

    Keeping the proportion keeps the cost of a script's own evaluation per training step: the
    book's ``train_neuralnet.py`` evaluates both sets once an epoch of ``n / batch_size``
    steps, so with as many test as training images it would evaluate more per step than on
    the full set (200 images per step against 117 for MNIST). From 100 on, the count is rounded
    down to whole hundreds: ``ch08/misclassified_mnist.py`` evaluates in batches of 100 and
    compares all the labels with the predictions of whole batches.
    """
    (x_train, t_train), (x_test, t_test) = dataset
    n_test = max(1, n * len(x_test) // len(x_train))
    if n_test >= 100:
        n_test -= n_test % 100
    return (x_train[:n], t_train[:n]), (x_test[:n_test], t_test[:n_test])


def _mnist(normalize, flatten, one_hot_label):
    """``(dataset, None)``, or ``(None, why)`` if MNIST is nowhere and cannot be downloaded."""
    env = os.environ.get("LAYERWISE_DATA")
    folders = [Path(env) / "mnist", Path(env)] if env else []
    for folder in [*folders, *dataset_folders()]:
        pickled = folder / "mnist.pkl"
        if folder.name == "dataset" and pickled.is_file():
            return _from_book_pickle(pickled, normalize, flatten, one_hot_label), None
        files, missing = find_files(folder)
        if not missing:
            return read_dataset(files, normalize, flatten, one_hot_label), None
    failed = cache_dir("mnist") / FAILED_DOWNLOAD
    recently = failed.is_file() and time.time() - failed.stat().st_mtime < RETRY_AFTER
    try:
        files = locate("mnist", download=not recently, progress=True)
    except DatasetNotFoundError as error:
        if recently:
            minutes = (time.time() - failed.stat().st_mtime) / 60
            return None, (
                f"could not be downloaded {minutes:.0f} minutes ago ({failed.read_text().strip()}; "
                f"tried again an hour after, or once you delete {failed})"
            )
        reason = _first_failure(error)
        with contextlib.suppress(OSError):  # remembering is a courtesy, not a need
            failed.write_text(reason + "\n")
        return None, f"could not be downloaded: {reason}"
    failed.unlink(missing_ok=True)
    return read_dataset(files, normalize, flatten, one_hot_label), None


def _first_failure(error):
    """The first mirror's failure in ``error``'s list, as a short reason."""
    for line in error.looked.splitlines():
        if "://" in line and ": " in line.strip():
            return line.strip().split(": ", 1)[1]
    return "no mirror answered"


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


def _stand_in(normalize, flatten, one_hot_label, failure):
    """Fashion-MNIST if it is on this machine, else layerwise's sample; says which, and why."""
    try:
        dataset = load_fashion_mnist(normalize, flatten, one_hot_label, download=False)
        what, short = "Fashion-MNIST", "Fashion-MNIST"
    except DatasetNotFoundError:
        dataset = load_sample(normalize, flatten, one_hot_label)
        what = "layerwise's Fashion-MNIST sample (5000 training, 1000 test images)"
        short = "Fashion-MNIST"
    print(
        f"layerwise book: MNIST {failure}; using {what} instead (set LAYERWISE_DATA to a "
        "folder of MNIST's four files, or put the book's dataset/mnist.pkl in the clone). "
        "Weights trained on MNIST score at chance on it.",
        file=sys.stderr,
        flush=True,
    )
    stand_in.use_stand_in(short)
    return dataset
