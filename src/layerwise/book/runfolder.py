"""Where a book script runs: a run folder beside the clone's files, so the clone stays as it is.

The book's scripts read and write files relative to their chapter folder:
``ch07/train_convnet.py`` writes ``params.pkl`` over the pretrained weights the clone ships,
which ``ch07/visualize_filter.py`` reads back. :func:`prepare` gives a script a folder of its
own to run in instead:

- the run folder of a clone is ``$LAYERWISE_BOOK_RUNS/<clone>`` (default
  ``$XDG_DATA_HOME/layerwise/book/<clone>``, ``~/.local/share/...``), where ``<clone>`` is the
  clone folder's name and a short hash of its path, so two clones never share one;
- the script runs in ``<run folder>/<chapter>``, which holds a copy of every file of the clone's
  chapter folder that is not Python (``params.pkl``, ``sample_weight.pkl``), copied only where the
  run folder has no file of that name, and ``<run folder>/dataset`` the same of the clone's
  ``dataset/`` (``lena_gray.png``; not MNIST, which ``load_mnist`` reads where it lies);
- so what a script writes lands in the run folder, and a later script of the chapter reads it
  there: weights you trained replace the clone's pretrained ones *in the run folder* only.
  Delete a file there to get the clone's copy back.

The sequel's scripts also read files of other chapters (``ch07/generate_text.py`` loads
``../ch06/Rnnlm.pkl``), so for it :func:`prepare` is given every chapter folder of the clone
(``chapters``), and each gets its copies in the run folder the same way.

The script itself and the chapter's modules (``simple_convnet.py``) are run from the clone, as
they are there.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunFolder", "default_root", "in_place", "prepare"]

#: What ``dataset/`` of the clone holds that the run folder does not copy: the book's code,
#: MNIST and the Penn Treebank (the sequel's ``ptb.py`` downloads it there), which layerwise
#: reads from the clone itself (tens of megabytes).
_NOT_COPIED = ("*.py", "mnist.pkl", "*.gz", "*-ubyte", "ptb.*")


def default_root(clone: Path) -> Path:
    """``$LAYERWISE_BOOK_RUNS/<clone>``, else ``$XDG_DATA_HOME/layerwise/book/<clone>``."""
    base = os.environ.get("LAYERWISE_BOOK_RUNS")
    if not base:
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        base = Path(data) / "layerwise" / "book"
    digest = hashlib.sha256(str(clone.resolve()).encode()).hexdigest()[:8]
    return Path(base) / f"{clone.name}-{digest}"


@dataclass
class RunFolder:
    """The folder a script runs in, and what it holds besides the clone's copies.

    Attributes
    ----------
    folder : Path
        The chapter's folder in the run folder: the script's working directory.
    clone_chapter : Path
        The chapter's folder in the clone.
    own : list of Path
        Files of ``folder`` that differ from the clone's file of the same name: written by an
        earlier run, they are what the script reads instead of the clone's.
    shipped : set of Path
        The weights files (``.pkl``, ``.npz``) that hold what the clone ships: the clone's own
        and their unchanged copies in ``folder``.
    watched : Path, optional
        The folder whose files :meth:`written` reports: the whole run folder (``folder``
        when not given).
    """

    folder: Path
    clone_chapter: Path
    own: list[Path] = field(default_factory=list)
    shipped: set[Path] = field(default_factory=set)
    watched: Path | None = None
    _before: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def written(self) -> list[Path]:
        """The files the run made or changed (by size and modification time)."""
        return [
            path
            for path, stamp in _stamps(self.watched or self.folder).items()
            if self._before.get(path) != stamp
        ]


def _stamps(folder: Path) -> dict[Path, tuple[int, int]]:
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _copy_missing(source: Path, target: Path, skip: tuple[str, ...]) -> None:
    """Copy each file of ``source`` (not its subfolders) that ``target`` has no file for."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if not path.is_file() or any(path.match(pattern) for pattern in skip):
            continue
        if not (target / path.name).exists():
            shutil.copy2(path, target / path.name)


def prepare(script: Path, root: Path | None = None, chapters: Sequence[str] = ()) -> RunFolder:
    """Make (or bring up to date) the run folder for ``script``; see the module's docstring.

    Parameters
    ----------
    script : Path
        The script, resolved: ``<clone>/<chapter>/<name>.py``.
    root : Path, optional
        The clone's run folder; default :func:`default_root`.
    chapters : sequence of str
        Other chapter folders of the clone (``"ch06"``) whose files the script may read with
        a path such as ``../ch06/Rnnlm.pkl``: copied the same way.
    """
    chapter = script.parent
    clone = chapter.parent
    root = (default_root(clone) if root is None else Path(root)).resolve()
    names = dict.fromkeys([chapter.name, *chapters])
    for name in names:
        _copy_missing(clone / name, root / name, ("*.py", "__pycache__"))
    if (clone / "dataset").is_dir():
        _copy_missing(clone / "dataset", root / "dataset", _NOT_COPIED)
    run = in_place(chapter)
    run.folder = root / chapter.name
    run.watched = root
    for name in names:
        shipped = {path for path in (clone / name).iterdir() if path.suffix in (".pkl", ".npz")}
        for path in sorted((root / name).iterdir()):
            twin = clone / name / path.name
            if not (path.is_file() and twin.is_file()):
                continue
            if not filecmp.cmp(path, twin, shallow=False):
                run.own.append(path)
            elif twin in shipped:
                run.shipped.add(path)
    run._before = _stamps(root)
    return run


def in_place(chapter: Path) -> RunFolder:
    """The chapter folder of the clone itself as the run folder (``layerwise book --in-place``)."""
    chapter = chapter.resolve()
    weights = {path for path in chapter.iterdir() if path.suffix in (".pkl", ".npz")}
    return RunFolder(chapter, chapter, shipped=weights, _before=_stamps(chapter))
