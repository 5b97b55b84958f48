"""The sequel's ``dataset`` package: :mod:`~layerwise.sequel.dataset.spiral` (chapter 1),
:mod:`~layerwise.sequel.dataset.ptb` (the Penn Treebank, chapters 2-6) and
:mod:`~layerwise.sequel.dataset.sequence` (additions and dates, chapters 7-8)."""

from __future__ import annotations

from pathlib import Path

from ..._types import StrPath

__all__ = ["read_text"]


def read_text(path: StrPath) -> str:
    """The text of the UTF-8 file ``path``, read as the sequel's ``open(path)`` reads it.

    Text mode: ``\\r\\n`` and ``\\r`` become ``\\n``. A byte-order mark at the start is an
    encoding mark, not a character, and is dropped (the sequel's ``open`` keeps it as the
    first question's first character, whose width then differs from the others').

    Raises
    ------
    ValueError
        For bytes that are not UTF-8, naming the file, the first such byte and its offset.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from None
    return text.removeprefix("\ufeff")
