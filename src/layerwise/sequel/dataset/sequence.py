"""The sequel's sequence data sets (chapters 7-8): ``addition.txt`` and ``date.txt``.

Each line of a file is one example, a question and its answer split at the first ``_``, both
padded with spaces to a fixed width::

    16+75  _91                                 (addition: 7 + 5 characters)
    september 27, 1994           _1994-09-27   (dates: 29 + 11 characters)

The answer keeps its ``_``: it is the decoder's start symbol. :func:`load_data` gives
``(x_train, t_train), (x_test, t_test)``, character ids of shape (N, 7) and (N, 5) for the
additions, exactly as the sequel's ``dataset/sequence.py`` makes them: ids numbered in order of
first appearance, question before answer, line by line; the lines shuffled by NumPy's legacy
``RandomState(seed)`` (the sequel seeds the global state; the permutation is the same) and the
last tenth kept for testing. So the sequel's pretrained weights (``ch08/AttentionSeq2seq.pkl``)
index the same characters.

Differences from the sequel's code, each with a regression test:

- the vocabulary is the file's alone: the sequel's grows across calls in one process (load
  ``addition.txt`` then ``date.txt`` and the dates' ids start at 13), ours starts afresh at
  each load (the ids of a fresh process, the ones its weights were trained with), in new dicts,
  so that those an earlier :func:`get_vocab` gave stay as they were;
- a missing file raises :class:`~layerwise.datasets.DatasetNotFoundError` naming the places
  looked in (the sequel prints a line and returns None), a folder :class:`IsADirectoryError`;
- a file that is not UTF-8, lines of different widths or an empty question or answer raise a
  ValueError naming the file (the sequel fails inside NumPy, or gives arrays of width 0), a
  seed that is not None or a whole number in ``[0, 2**32)`` a ValueError naming it;
- a byte-order mark at the file's start is dropped (the sequel reads it as a character of the
  first question, which is then one wider than the others);
- NumPy's global random state is left alone.

The files are the sequel's (its clone's ``dataset/`` folder); :func:`make_addition` and
:func:`make_dates` write examples of the same two formats for tests and users without it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..._checks import check_number
from ..._types import StrPath
from ...datasets import DatasetNotFoundError
from . import read_text

__all__ = ["get_vocab", "load_data", "locate", "make_addition", "make_dates", "split_text"]

char_to_id: dict[str, int] = {}
id_to_char: dict[int, str] = {}


def locate(file_name: StrPath, data_dir: StrPath | None = None) -> Path:
    """Where ``file_name`` is: itself if it names a file, else the first folder holding it.

    Searched, in order: ``data_dir`` and ``data_dir/dataset`` (a clone of the sequel's
    repository), ``$LAYERWISE_DATA/sequel``, ``$LAYERWISE_DATA``, ``./dataset`` and
    ``../dataset`` (the sequel's scripts run from a chapter's folder of its clone).

    Raises
    ------
    DatasetNotFoundError
        Listing every place looked in.
    IsADirectoryError
        For ``file_name`` a folder, found in none of those places.
    """
    path = Path(file_name)
    if path.is_file():
        return path
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / "dataset"]
    env = os.environ.get("LAYERWISE_DATA")
    if env:
        dirs += [Path(env) / "sequel", Path(env)]
    dirs += [Path("dataset"), Path("..") / "dataset"]
    for directory in dirs:
        if (directory / path).is_file():
            return directory / path
    if path.is_dir():
        raise IsADirectoryError(
            f"{file_name} is a folder: name the file of questions in it (addition.txt, date.txt)"
        )
    looked = "\n".join(f"  {d / path}" for d in dirs)
    if not env:
        looked += "\n  $LAYERWISE_DATA: not set"
    raise DatasetNotFoundError(
        f"{file_name} not found. Looked in:\n{looked}\nIt is in the 'dataset' folder of a clone "
        "of oreilly-japan/deep-learning-from-scratch-2: pass data_dir= (the clone or its "
        "dataset folder) or set LAYERWISE_DATA to it, or make examples of the same format "
        "with make_addition() / make_dates()",
        looked,
    )


def _update_vocab(txt: str, char_to_id: dict[str, int], id_to_char: dict[int, str]) -> None:
    for char in txt:
        if char not in char_to_id:
            id_to_char[len(char_to_id)] = char
            char_to_id[char] = len(char_to_id)


def _check_seed(seed: Any, where: str) -> int | None:
    """``seed`` if RandomState takes it as one number: None or a whole number in [0, 2**32)."""
    if seed is None:
        return None
    return check_number(seed, where, "seed", integer=True, low=0, high=2**32, high_open=True)


def split_text(
    text: str, seed: int | None = 1984
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The sequel's split of the lines of ``text``; sets the vocabulary :func:`get_vocab` gives.

    Every line must end with a newline (the sequel drops each line's last character) and hold a
    ``_``; all questions must have one width, at least 1, and all answers another, at least one
    character after the ``_``. Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as in a file the
    sequel reads in text mode (no other line break, unlike :meth:`str.splitlines`).

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : ndarrays of int (the platform's default)
        Questions (N, Tq) and answers (N, Ta) as character ids; the test part is the last
        ``N // 10`` rows after the shuffle.

    Raises
    ------
    ValueError
        For text not in that format, or a seed that is not None or a whole number in
        ``[0, 2**32)`` (what NumPy's ``RandomState`` takes).
    """
    return _split(text, _check_seed(seed, "split_text"), "sequence data")


def _split(
    text: str, seed: int | None, source: str
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """:func:`split_text`, its errors beginning with ``source``."""
    # newline=None: the universal newlines of the sequel's open(file_path, 'r')
    lines = list(io.StringIO(text, newline=None))
    if not lines:
        raise ValueError(f"{source}: no lines")
    questions, answers = [], []
    for number, line in enumerate(lines, 1):
        cut = line.find("_")
        if cut < 0 or not line.endswith("\n"):
            raise ValueError(
                f"{source}: line {number} {line!r} is not 'question_answer' ending in a newline"
            )
        questions.append(line[:cut])
        answers.append(line[cut:-1])
    for name, rows in (("questions", questions), ("answers", answers)):
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise ValueError(
                f"{source}: the {name} must be padded to one width, got widths {sorted(widths)}"
            )
    if not questions[0]:
        raise ValueError(f"{source}: the questions are empty (each line begins with its '_')")
    if answers[0] == "_":
        raise ValueError(f"{source}: the answers are empty (each line ends with its '_')")
    # New dicts, not the old ones cleared: what an earlier get_vocab() gave stays as it was.
    global char_to_id, id_to_char
    new_char_to_id: dict[str, int] = {}
    new_id_to_char: dict[int, str] = {}
    for q, a in zip(questions, answers, strict=True):
        _update_vocab(q, new_char_to_id, new_id_to_char)
        _update_vocab(a, new_char_to_id, new_id_to_char)
    char_to_id, id_to_char = new_char_to_id, new_id_to_char
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=int)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=int)
    # The sequel: np.random.seed(seed); np.random.shuffle(indices). The same legacy stream,
    # from a RandomState of our own.
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    return (x[:split_at], t[:split_at]), (x[split_at:], t[split_at:])


def load_data(
    file_name: StrPath = "addition.txt", seed: int | None = 1984, *, data_dir: StrPath | None = None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, t_train), (x_test, t_test)`` of the sequel's ``addition.txt`` or ``date.txt``.

    Parameters
    ----------
    file_name : str or Path
        A file's path, or a name looked for as :func:`locate` says.
    seed : int or None
        The shuffle's seed (the sequel's 1984); None shuffles unpredictably.
    data_dir : str or Path, optional
        A clone of the sequel's repository, or its ``dataset`` folder.

    Returns
    -------
    As :func:`split_text`: 45,000 training and 5,000 test rows for the sequel's files.

    Raises
    ------
    DatasetNotFoundError, IsADirectoryError
        As :func:`locate`.
    ValueError
        As :func:`split_text`, naming the file; for a file that is not UTF-8 text, naming the
        first byte that is not and its offset.
    """
    seed = _check_seed(seed, "load_data")
    path = locate(file_name, data_dir)
    return _split(read_text(path), seed, str(path))


def get_vocab() -> tuple[dict[str, int], dict[int, str]]:
    """``char_to_id, id_to_char`` of the last :func:`load_data` (or :func:`split_text`).

    Each load makes new dicts: those returned before stay the vocabulary of their own load.
    """
    return char_to_id, id_to_char


def make_addition(n: int, seed: Any = None, digits: int = 3) -> str:
    """``n`` lines of additions in the sequel's format: ``'16+75  _91  \\n'``.

    Each operand has 1 to ``digits`` digits (the number of digits drawn uniformly, then the
    number); the question is padded to ``2 digits + 1`` characters, the answer, with its
    ``_``, to ``digits + 2``.
    """
    rng = np.random.default_rng(seed)
    width = rng.integers(1, digits + 1, size=(n, 2))
    a, b = (rng.integers(0, 10 ** width[:, k]) for k in range(2))
    return "".join(
        f"{f'{p}+{q}':<{2 * digits + 1}}{f'_{p + q}':<{digits + 2}}\n"
        for p, q in zip(a.tolist(), b.tolist(), strict=True)
    )


_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def make_dates(n: int, seed: Any = None) -> str:
    """``n`` lines of dates in the sequel's format: ``'JUN 17, 2013{16 spaces}_2013-06-17\\n'``.

    The written forms are the commonest of ``date.txt``: ``m/d/yy``, ``Month d, yyyy`` with the
    month in full or in three letters, in lower, title or upper case, optionally after the
    weekday; dates from 1970-01-01 to 2029-12-31. Questions are padded to 29 characters.
    """
    rng = np.random.default_rng(seed)
    start, stop = np.datetime64("1970-01-01"), np.datetime64("2030-01-01")
    days = rng.integers(0, int((stop - start).astype(int)), size=n)
    lines = []
    for day, form, case in zip(
        days.tolist(), rng.integers(0, 4, n).tolist(), rng.integers(0, 3, n).tolist(), strict=True
    ):
        date = start + np.timedelta64(day, "D")
        iso = str(date)
        y, m, d = (int(p) for p in iso.split("-"))
        month = _MONTHS[m - 1]
        if form == 0:
            question = f"{m}/{d}/{y % 100:02d}"
        else:
            question = f"{month if form == 1 else month[:3]} {d}, {y}"
            if form == 3:
                weekday = _DAYS[int((date - np.datetime64("1970-01-05")).astype(int)) % 7]
                question = f"{weekday}, {question}"
            question = (str.lower, str.title, str.upper)[case](question)
        lines.append(f"{question:<29}_{iso}\n")
    return "".join(lines)
