"""Run the books' own chapter scripts on layerwise: ``layerwise book ch07/train_convnet.py``.

A reader of "Deep Learning from Scratch" has the book's repository cloned; its scripts import
``common.*`` and ``dataset.mnist`` after ``sys.path.append(os.pardir)``. :func:`run_script` runs
one script from its chapter folder with an import hook (a :data:`sys.meta_path` finder, put first
for that run only) that answers those names with the small modules of this package:

======================================  ==================================================
the book's module                       answered by
======================================  ==================================================
``common.layers``                       layerwise's layers, under the book's names
``common.functions``                    :mod:`layerwise.functions`
``common.gradient``                     :func:`layerwise.functions.numerical_gradient`
``common.optimizer``                    :mod:`layerwise.optimizers` (and ``np``)
``common.trainer``                      :class:`layerwise.training.Trainer`
``common.util``                         :mod:`layerwise.util`
``common.multi_layer_net[_extend]``     :mod:`layerwise.book_nets`
``dataset.mnist``                       ``load_mnist``: MNIST where its files are, safely
======================================  ==================================================

A star-import gives what the book's module gives (``from common.optimizer import *`` brings
``np``). The chapter's own modules (``simple_convnet.py``, ``deep_convnet.py``) stay the book's.

A clone of the sequel's repository ("Deep Learning from Scratch 2"), recognised by its files
(:mod:`layerwise.book.books`: its ``common/time_layers.py``), has its ``common.*`` (layers,
time_layers, functions, optimizer, trainer, util, base_model, np, config) and ``dataset.*``
(spiral, ptb, sequence) answered by :mod:`layerwise.sequel` through the modules of
``sequel/``; its chapter folders are answered as packages (``from ch06.rnnlm import Rnnlm``),
and a bare module name found nowhere else is taken from the one chapter that has it
(:class:`ChapterFallback`). ``config.GPU = True`` goes through :mod:`layerwise.backend`. What
cannot be had (CuPy, the Penn Treebank offline) is a :class:`BookScriptError` of one line.
While a script runs, its own ``pickle.load`` builds arrays and nothing else
(:mod:`layerwise.book.safe_pickles`).

Nothing is written into the clone, not even ``__pycache__``: the script runs in a run folder
(:mod:`layerwise.book.runfolder`) that holds copies of the chapter's data files (for the
sequel, of every chapter's: ``../ch06/Rnnlm.pkl``), so what it
writes (``params.pkl``) lands there and later scripts of the chapter read it there. With
``in_place=True`` (``--in-place``) it runs in the clone's chapter folder itself, as
``python SCRIPT`` would, and may overwrite what the clone ships.

Without a display (matplotlib's backend is not interactive), each ``plt.show()`` saves the
figures it would open as PNG files in the run folder, names them and closes them, as closing
their windows would (:mod:`layerwise.book.figures`); what is open at the end is saved too.

``LAYERWISE_BOOK_LIMIT=N`` (the command line's ``--limit N``) keeps the first N training images
of whatever ``load_mnist`` loads, and the test images in the full set's proportion
(:func:`layerwise.book.dataset.mnist.limited`), for a quick run.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import runpy
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from .._blas import blas_threads
from .._types import StrPath
from . import runfolder, safe_pickles, stand_in
from .books import FIRST, SEQUEL, BookScriptError, Recognised, recognise
from .figures import Figures, saving_figures

__all__ = [
    "ANSWERED",
    "BookFinder",
    "BookScriptError",
    "recognise",
    "run_script",
    "running_script",
]

#: The first book's module names that the hook answers (:data:`SEQUEL.answered
#: <layerwise.book.books.SEQUEL>` are the sequel's).
ANSWERED = FIRST.answered

#: A chapter folder of a clone: ``ch01`` ... ``ch08``.
_CHAPTER = re.compile(r"ch\d+")

_script: Path | None = None


def running_script() -> Path | None:
    """The script :func:`run_script` is running (None outside a run)."""
    return _script


class BookFinder(importlib.abc.MetaPathFinder):
    """Finds the book's ``common.*`` and ``dataset.*`` in this package, under the book's names,
    and the clone's chapter folders as packages.

    ``common.layers`` is this package's ``common/layers.py`` (the sequel's:
    ``sequel/common/layers.py``) executed as a module named ``common.layers``, so its relative
    imports (``from .functions import *``) are answered by this finder too. A ``common.*`` or
    ``dataset.*`` name the book's modules do not include is a ModuleNotFoundError that says
    which book the clone was taken for and what is answered.

    ``ch06`` is the clone's chapter folder, a namespace package: the sequel's modules import
    each other across chapters (``ch07/rnnlm_gen.py``: ``from ch06.rnnlm import Rnnlm``),
    which its scripts reach through ``sys.path.append('..')``; in a run folder ``..`` is the
    run folder, which holds no Python.
    """

    def __init__(self, recognised: Recognised | None = None) -> None:
        # Without a clone (the finder made on its own): the first book's names, no chapters.
        self.recognised = recognised or Recognised(Path("."), FIRST, None)
        self._chapters = recognised is not None

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        book = self.recognised.book
        top = fullname.partition(".")[0]
        if fullname not in book.answered:
            if top in ("common", "dataset"):
                raise ModuleNotFoundError(self._not_answered(fullname), name=fullname)
            chapter = self.recognised.clone / fullname
            if self._chapters and _CHAPTER.fullmatch(fullname) and chapter.is_dir():
                spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                spec.submodule_search_locations = [str(chapter)]
                return spec
            return None
        where = book.modules.joinpath(*fullname.split("."))
        if where.is_dir():
            return importlib.util.spec_from_file_location(
                fullname, where / "__init__.py", submodule_search_locations=[str(where)]
            )
        return importlib.util.spec_from_file_location(fullname, where.with_suffix(".py"))

    def _not_answered(self, fullname: str) -> str:
        book = self.recognised.book
        other = SEQUEL if book is FIRST else FIRST
        message = (
            f"No module named {fullname!r}: this clone was taken for "
            f"{self.recognised.describe()}, whose modules layerwise answers are "
            f"{book.listing()}"
        )
        if fullname in other.answered:
            message += f"; {fullname} is {other.name}'s"
        return message


class ChapterFallback(importlib.abc.MetaPathFinder):
    """Last on :data:`sys.meta_path`: a top-level module no other finder found, taken from the
    one chapter folder of the clone that has it, said on stderr.

    A chapter module imported from another chapter may import its own neighbours by their bare
    names: the sequel's ``ch07/peeky_seq2seq.py`` says ``from seq2seq import Seq2seq``, which
    only works when the script runs from ``ch07``, so its ``ch08/train.py`` (``from
    ch07.peeky_seq2seq import PeekySeq2seq``) stops there under plain ``python``. Where exactly
    one chapter folder has ``seq2seq.py``, that is the module meant.
    """

    def __init__(self, clone: Path) -> None:
        self.clone = clone

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if "." in fullname or _answered(fullname):
            return None
        found = sorted(self.clone.glob(f"ch*/{fullname}.py"))
        found = [where for where in found if _CHAPTER.fullmatch(where.parent.name)]
        if len(found) != 1:
            return None
        _say(
            f"no module named {fullname!r} beside the script: taking "
            f"{found[0].relative_to(self.clone)}, the one chapter that has it (as python run "
            f"from {found[0].parent.name} would)"
        )
        return importlib.util.spec_from_file_location(fullname, found[0])


def _answered(name: str) -> bool:
    top = name.partition(".")[0]
    return top in ("common", "dataset") or _CHAPTER.fullmatch(top) is not None


@contextmanager
def _book_imports(
    script: Path, argv: Sequence[str], cwd: Path, recognised: Recognised | None = None
) -> Iterator[None]:
    """The interpreter as ``python SCRIPT ARGV`` run in ``cwd`` sets it up, plus the finder;
    the script's folder first on ``sys.path``; everything restored afterwards (the modules the
    run imported from the clone are forgotten, so that a second run imports them afresh)."""
    global _script
    folder = script.parent
    saved_modules = {name: sys.modules.pop(name) for name in list(sys.modules) if _answered(name)}
    saved = (list(sys.argv), list(sys.path), os.getcwd(), sys.dont_write_bytecode, _script)
    finder = BookFinder(recognised)
    sys.meta_path.insert(0, finder)
    fallback = ChapterFallback(folder.parent) if recognised is not None else None
    if fallback is not None:
        sys.meta_path.append(fallback)
    sys.argv = [str(script), *argv]
    sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True  # no __pycache__ in the clone
    os.chdir(cwd)
    _script = script
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        if fallback is not None:
            sys.meta_path.remove(fallback)
        sys.argv[:], sys.path[:] = saved[0], saved[1]
        os.chdir(saved[2])
        sys.dont_write_bytecode, _script = saved[3], saved[4]
        clone = folder.parent
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if _answered(name) or (file and Path(file).resolve().is_relative_to(clone)):
                del sys.modules[name]
        sys.modules.update(saved_modules)


def run_script(
    path: StrPath,
    argv: Sequence[str] = (),
    *,
    in_place: bool = False,
    run_folder: StrPath | None = None,
    threads: int | None = 1,
) -> Path:
    """Run one of the books' scripts as ``python SCRIPT ARGV`` from its chapter folder would,
    with ``common.*`` and ``dataset.*`` answered by layerwise, in a run folder.

    Which book the clone is (the first or the sequel) is told from its files and said on
    stderr (:func:`layerwise.book.books.recognise`).

    Parameters
    ----------
    path : str or Path
        The script, e.g. ``ch07/train_convnet.py`` in a clone of the book's repository.
    argv : sequence of str
        Its arguments (``sys.argv[1:]`` while it runs).
    in_place : bool, default False
        Run in the clone's chapter folder, where the script may overwrite the clone's files.
        A script whose folder has no ``common/`` or ``dataset/`` beside it (not in a clone of
        the book) always runs in its own folder.
    run_folder : str or Path, optional
        The clone's run folder (default :func:`layerwise.book.runfolder.default_root`); the
        script runs in its subfolder named as the chapter.
    threads : int or None, default 1
        BLAS threads while the script runs (None: NumPy's default). One, as layerwise's
        Trainer uses, because the book's matrices are small: with two threads on a machine
        whose other core is busy, ``ch05/train_neuralnet.py`` took minutes instead of seconds
        (the threads wait for each other; see :mod:`layerwise._blas`).

    Returns
    -------
    Path
        The folder the script ran in.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    BookScriptError
        What the script asked for cannot be had (CuPy for ``config.GPU = True``, PTB offline):
        one line saying what to do.
    BaseException
        Whatever the script raises, ``SystemExit`` included.
    """
    script = Path(path).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"no script {path} (looked for {script})")
    # A script outside the book's layout (no common/ or dataset/ beside its folder) is the
    # reader's own: it runs where it is, as python would.
    clone = script.parent.parent
    in_clone = any((clone / name).is_dir() for name in ("common", "dataset"))
    recognised = recognise(clone) if in_clone else None
    if recognised is not None:
        _say(f"a clone of {recognised.describe()}")
    if in_place or recognised is None:
        run = runfolder.in_place(script.parent)
    else:
        # The sequel's scripts read other chapters' files (../ch06/Rnnlm.pkl): all are copied.
        chapters = ()
        if recognised.book is SEQUEL:
            chapters = tuple(p.name for p in sorted(clone.iterdir()) if _CHAPTER.fullmatch(p.name))
        run = runfolder.prepare(script, None if run_folder is None else Path(run_folder), chapters)
        _say(f"running in {run.folder} (what the script writes goes there, not into the clone)")
        for own in run.own:
            _say(
                f"{os.path.relpath(own, run.folder)} there was written by an earlier run: the "
                "script reads it, not the clone's (delete it to use the clone's)"
            )
    pictures = run.folder
    if run.folder == run.clone_chapter:  # the pictures are layerwise's: not into the clone
        pictures = runfolder.default_root(clone) / script.parent.name
    figures = Figures(pictures, script.stem, _say)
    try:
        with (
            _book_imports(script, argv, run.folder, recognised),
            stand_in.watching(run.shipped),
            safe_pickles.weights_only(),
            blas_threads(threads),
            saving_figures(figures),
        ):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        if run.folder != run.clone_chapter:
            for written in run.written():
                if written not in figures.saved:
                    _say(f"the script wrote {written}")
    return run.folder


def _say(message: str) -> None:
    print(f"layerwise book: {message}", file=sys.stderr, flush=True)
