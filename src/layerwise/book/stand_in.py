"""When Fashion-MNIST stands in for MNIST: the accuracy of MNIST-trained weights says so.

Some of the book's scripts test weights the book trained on MNIST (``ch03/sample_weight.pkl``,
``ch08/deep_convnet_params.pkl``). On Fashion-MNIST their accuracy is that of chance, and a
notice at the start of the run is easily missed, so while a script runs this module

- hears which files it opens (an audit hook, :func:`sys.addaudithook`, on the ``open`` event):
  a file the clone ships (see :attr:`RunFolder.shipped <layerwise.book.runfolder.RunFolder>`)
  read while :func:`use_stand_in` has been called counts as weights trained on MNIST, unless
  the run wrote it first;
- and, once both happened, ends each line of the script's output that gives an accuracy (a line
  with "acc" and a number, or a bare number) with a note that it is meaningless.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

__all__ = ["NOTE", "use_stand_in", "watching"]

NOTE = "   <- meaningless: {weights} trained on MNIST, tested on {stand_in}"

_ACCURACY = re.compile(r"acc.*\d", re.IGNORECASE)
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


class _Watch:
    """What one run has done so far: the stand-in loaded, the shipped files read."""

    def __init__(self, shipped: set[Path]) -> None:
        self.shipped = set(shipped)
        self.stand_in: str | None = None
        self.read: list[str] = []

    def opened(self, path: Any, mode: Any, flags: Any) -> None:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor
        where = Path(os.path.abspath(os.fsdecode(path)))
        if where not in self.shipped:
            return
        writes = (
            ("w" in mode or "a" in mode or "+" in mode or "x" in mode)
            if mode
            else (flags & os.O_ACCMODE != os.O_RDONLY)
        )
        if writes:  # the run's own file from now on
            self.shipped.discard(where)
        elif where.name not in self.read:
            self.read.append(where.name)

    def note(self) -> str | None:
        if self.stand_in is None or not self.read:
            return None
        return NOTE.format(weights=" and ".join(self.read), stand_in=self.stand_in)


_watch: _Watch | None = None
_hooked = False


def _audit(event: str, args: tuple) -> None:
    # An audit hook must never raise: the exception would be the open call's.
    if event == "open" and _watch is not None:
        with suppress(Exception):
            _watch.opened(*args)


class _Annotated:
    """The script's stdout, each accuracy line ended with the note while one is due."""

    def __init__(self, stream: TextIO, watch: _Watch) -> None:
        self._stream = stream
        self._watch = watch
        self._line = ""

    def write(self, text: str) -> int:
        note = self._watch.note()
        if note is None and not self._line:
            return self._stream.write(text)
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            due = note and (_ACCURACY.search(line) or _NUMBER.fullmatch(line))
            self._stream.write(f"{line}{note}\n" if due else f"{line}\n")
        return len(text)

    def close_line(self) -> None:
        if self._line:
            self._stream.write(self._line)
            self._line = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def use_stand_in(what: str) -> None:
    """Tell the running script's watch that ``what`` stands in for MNIST."""
    if _watch is not None:
        _watch.stand_in = what


@contextmanager
def watching(shipped: set[Path]) -> Iterator[None]:
    """Watch one run: ``shipped`` are the absolute paths of the files the clone ships."""
    global _watch, _hooked
    if not _hooked:  # an audit hook cannot be removed: one for the process, idle between runs
        sys.addaudithook(_audit)
        _hooked = True
    saved_watch, saved_stdout = _watch, sys.stdout
    _watch = _Watch(shipped)
    stdout = _Annotated(sys.stdout, _watch)
    sys.stdout = stdout
    try:
        yield
    finally:
        stdout.close_line()
        sys.stdout, _watch = saved_stdout, saved_watch
