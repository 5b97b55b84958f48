"""The sequel's ``dataset/sequence.py``: ``addition.txt`` and ``date.txt`` of the clone.

``load_data(file_name='addition.txt', seed=1984)`` reads the file from the clone's
``dataset/`` folder (then ``$LAYERWISE_DATA``) with
:func:`layerwise.sequel.dataset.sequence.load_data`: the same ids and the same split as the
sequel's. As the sequel's does, it leaves NumPy's global generator seeded and past the
shuffle, and :func:`get_vocab` (and the module's ``char_to_id``, ``id_to_char``) give the
vocabulary of the last file loaded. A file found nowhere stops the run with one line naming
where it was looked for (the sequel prints ``No file`` and returns None).
"""

from __future__ import annotations

from typing import Any

import numpy

from layerwise.book.books import BookScriptError, dataset_folders
from layerwise.datasets import DatasetNotFoundError
from layerwise.sequel.dataset import sequence
from layerwise.sequel.dataset.sequence import char_to_id, get_vocab, id_to_char

__all__ = ["char_to_id", "get_vocab", "id_to_char", "load_data", "numpy"]


def load_data(file_name: str = "addition.txt", seed: int | None = 1984) -> Any:
    """``(x_train, t_train), (x_test, t_test)``: character ids, the last tenth for testing."""
    folder = dataset_folders()[0]
    try:
        (x_train, t_train), (x_test, t_test) = sequence.load_data(file_name, seed, data_dir=folder)
    except DatasetNotFoundError as err:
        looked = ", ".join(line.strip() for line in err.looked.splitlines() if line.strip())
        raise BookScriptError(
            f"dataset.sequence: no file {file_name} (looked for {looked}); the sequel's "
            "repository has addition.txt and date.txt in its dataset folder"
        ) from None
    if seed is not None:
        numpy.random.seed(seed)  # noqa: NPY002 - the book's generator, as the book leaves it
    numpy.random.shuffle(numpy.arange(len(x_train) + len(x_test)))  # noqa: NPY002
    return (x_train, t_train), (x_test, t_test)
