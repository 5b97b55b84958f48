"""The sequel's ``dataset/ptb.py``: the Penn Treebank, by :mod:`layerwise.sequel.dataset.ptb`.

``load_data('train' | 'val' | 'test')`` gives ``(corpus, word_to_id, id_to_word)`` with the
sequel's ids; ``load_vocab()`` the two maps. The three text files are looked for in

1. the clone's ``dataset/`` folder (where the sequel's own ``ptb.py`` downloads them);
2. ``$LAYERWISE_DATA/ptb``, then ``$LAYERWISE_DATA``;
3. layerwise's cache, ``~/.cache/layerwise/ptb``;

and else downloaded into that cache, each file from the first mirror that serves it
(``$LAYERWISE_PTB_MIRRORS``, base URLs separated by spaces or commas, replaces the list), kept
only if its MD5 is the published one, each download named on stderr; a failed download is not
tried again for an hour. Where none of that works (no internet), the run stops with one line:
PTB could not be had, and how to provide it. A bad ``data_type`` is
:func:`layerwise.sequel.dataset.ptb.load_data`'s ValueError. Nothing is written into the clone,
and no pickle is read (the sequel caches its vocabulary as ``ptb.vocab.pkl``).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import time
from pathlib import Path

import numpy as np

from layerwise import datasets
from layerwise.book.books import BookScriptError, dataset_folders
from layerwise.book.dataset.mnist import FAILED_DOWNLOAD, RETRY_AFTER
from layerwise.sequel.dataset import ptb

__all__ = ["dataset_dir", "key_file", "load_data", "load_vocab", "np", "url_base"]

#: The file of each split, the sequel's module-level names (``url_base``, ``dataset_dir``) too.
key_file = {"train": "ptb.train.txt", "test": "ptb.test.txt", "valid": "ptb.valid.txt"}
url_base = ptb.MIRRORS[0]
dataset_dir = str(dataset_folders()[0])

#: The environment variable that replaces :data:`layerwise.sequel.dataset.ptb.MIRRORS`.
MIRRORS_VARIABLE = "LAYERWISE_PTB_MIRRORS"


def load_vocab() -> tuple[dict[str, int], dict[int, str]]:
    """``(word_to_id, id_to_word)`` of the training file, ids in order of first appearance."""
    _ensure_files()
    return ptb.load_vocab(dataset_folders()[0], download=False)


def load_data(data_type: str = "train") -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """``(corpus, word_to_id, id_to_word)`` of one split: ``'train'``, ``'val'`` or ``'test'``."""
    _ensure_files()
    return ptb.load_data(data_type, dataset_folders()[0], download=False)


def _ensure_files() -> None:
    """Download into the cache what is found nowhere; or stop the run with one line.

    A failed download is remembered in the cache and not tried again for an hour, as MNIST's
    (:data:`layerwise.book.dataset.mnist.FAILED_DOWNLOAD`): without internet each script
    would otherwise wait on every mirror again (up to 30 s each where the connection hangs).
    """
    folder = dataset_folders()[0]
    places = _places(folder)
    missing = [n for n in ptb.FILES.values() if not any((p / n).is_file() for p in places)]
    if not missing:
        return
    cache = datasets.cache_dir("ptb")
    failed = cache / FAILED_DOWNLOAD
    if failed.is_file() and time.time() - failed.stat().st_mtime < RETRY_AFTER:
        minutes = (time.time() - failed.stat().st_mtime) / 60
        why = (
            f"the download failed {minutes:.0f} minutes ago ({failed.read_text().strip()}; "
            f"tried again an hour after, or once you delete {failed})"
        )
        raise BookScriptError(_cannot(missing, places, why))
    for name in missing:
        failure = _download(name, cache)
        if failure is not None:
            with contextlib.suppress(OSError):  # remembering is a courtesy, not a need
                failed.write_text(failure + "\n")
            raise BookScriptError(_cannot(missing, places, f"the download failed ({failure})"))
    failed.unlink(missing_ok=True)


def _download(name: str, cache: Path) -> str | None:
    """``name`` from the first mirror that serves it, into ``cache``; else the first failure."""
    failures = []
    for url in _mirrors():
        print(f"layerwise: downloading {url}{name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            cache.mkdir(parents=True, exist_ok=True)
            datasets.download(url + name, cache / name, ptb.MD5[name])
        except (OSError, ValueError, http.client.HTTPException) as err:
            print(f"layerwise:   failed: {err}", file=sys.stderr, flush=True)
            failures.append(f"{url}{name}: {err}")
            continue
        seconds = time.perf_counter() - start
        print(f"layerwise:   done in {seconds:.1f} s, MD5 checked", file=sys.stderr)
        return None
    return failures[0]


def _places(folder: Path) -> list[Path]:
    """Where :mod:`layerwise.sequel.dataset.ptb` looks, given the clone's folder, in order."""
    env = os.environ.get("LAYERWISE_DATA")
    return [folder, *([Path(env) / "ptb", Path(env)] if env else []), datasets.cache_dir("ptb")]


def _mirrors() -> list[str]:
    urls = os.environ.get(MIRRORS_VARIABLE, "").replace(",", " ").split() or ptb.MIRRORS
    return [url if url.endswith("/") else url + "/" for url in urls]


def _cannot(missing: list[str], places: list[Path], why: str) -> str:
    return (
        f"PTB could not be had: {', '.join(missing)} found in none of "
        f"{', '.join(map(str, places))}, and {why}. Put "
        "ptb.train.txt, ptb.valid.txt and ptb.test.txt (github.com/tomsercu/lstm, data/) in a "
        f"folder and set LAYERWISE_DATA to it, or set {MIRRORS_VARIABLE} to a mirror serving them"
    )
