"""Run the book's own chapter scripts on layerwise: ``layerwise book ch07/train_convnet.py``.

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
Nothing is written into the clone: not even ``__pycache__``.

``LAYERWISE_BOOK_LIMIT=N`` (the command line's ``--limit N``) keeps the first N training and
N test images of whatever ``load_mnist`` loads, for a quick run.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from .._types import StrPath

__all__ = ["ANSWERED", "BookFinder", "run_script", "running_script"]

_HERE = Path(__file__).parent

#: The book's module names that the hook answers: ``common``, ``dataset`` and these submodules.
ANSWERED = frozenset(
    {
        "common",
        "common.functions",
        "common.gradient",
        "common.layers",
        "common.multi_layer_net",
        "common.multi_layer_net_extend",
        "common.optimizer",
        "common.trainer",
        "common.util",
        "dataset",
        "dataset.mnist",
    }
)

_script: Path | None = None


def running_script() -> Path | None:
    """The script :func:`run_script` is running (None outside a run)."""
    return _script


class BookFinder(importlib.abc.MetaPathFinder):
    """Finds the names of :data:`ANSWERED` in this package, under the book's names.

    ``common.layers`` is this package's ``common/layers.py`` executed as a module named
    ``common.layers``, so its relative imports (``from .functions import *``) are answered by
    this finder too.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ANSWERED:
            return None
        where = _HERE.joinpath(*fullname.split("."))
        if where.is_dir():
            return importlib.util.spec_from_file_location(
                fullname, where / "__init__.py", submodule_search_locations=[str(where)]
            )
        return importlib.util.spec_from_file_location(fullname, where.with_suffix(".py"))


def _answered(name: str) -> bool:
    return name.split(".")[0] in ("common", "dataset")


@contextmanager
def _book_imports(script: Path, argv: Sequence[str]) -> Iterator[None]:
    """The interpreter as ``python SCRIPT ARGV`` run in the script's folder sets it up, plus
    the finder; everything restored afterwards (the modules the run imported from the clone
    are forgotten, so that a second run imports them afresh)."""
    global _script
    folder = script.parent
    saved_modules = {name: sys.modules.pop(name) for name in list(sys.modules) if _answered(name)}
    saved = (list(sys.argv), list(sys.path), os.getcwd(), sys.dont_write_bytecode, _script)
    finder = BookFinder()
    sys.meta_path.insert(0, finder)
    sys.argv = [str(script), *argv]
    sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True  # no __pycache__ in the clone
    os.chdir(folder)
    _script = script
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.argv[:], sys.path[:] = saved[0], saved[1]
        os.chdir(saved[2])
        sys.dont_write_bytecode, _script = saved[3], saved[4]
        clone = folder.parent
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if _answered(name) or (file and Path(file).resolve().is_relative_to(clone)):
                del sys.modules[name]
        sys.modules.update(saved_modules)


def run_script(path: StrPath, argv: Sequence[str] = ()) -> None:
    """Run one of the book's scripts as ``python SCRIPT ARGV`` from its chapter folder would,
    with ``common.*`` and ``dataset.mnist`` answered by layerwise.

    Parameters
    ----------
    path : str or Path
        The script, e.g. ``ch07/train_convnet.py`` in a clone of the book's repository.
    argv : sequence of str
        Its arguments (``sys.argv[1:]`` while it runs).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    BaseException
        Whatever the script raises, ``SystemExit`` included.
    """
    script = Path(path).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"no script {path} (looked for {script})")
    with _book_imports(script, argv):
        runpy.run_path(str(script), run_name="__main__")
