"""Without a display, each ``plt.show()`` of a book script saves its figures as PNG files.

With a display, ``plt.show()`` opens a window for every open figure and waits until they are
closed; what the script draws next goes into a new figure. With a backend that opens no window
(``Agg``, as on a server), ``show()`` does nothing, and a script that draws, shows, then draws
again (the sequel's ``ch01/train_custom_loop.py``: the loss curve, then the decision regions)
would draw its second picture over the first. So while a script runs, ``plt.show()`` under
such a backend saves every open figure as ``<folder>/<script>-figure<N>.png`` (N counting from
1 over the run), names it on stderr and closes it, as closing the windows would; what is still
open when the script ends is saved the same way.

``matplotlib.pyplot`` is patched where the script imports it (an import hook that runs after
pyplot's own module code) or at once if it was imported before; its own ``show`` is put back
when the run ends.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["NO_WINDOW", "Figures", "saving_figures"]

#: matplotlib's backends that open no window: their figures are saved instead.
NO_WINDOW = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})

_PYPLOT = "matplotlib.pyplot"


class Figures:
    """Where one run's figures go, and how many it has saved so far."""

    def __init__(self, folder: Path, stem: str, say: Callable[[str], None]) -> None:
        self.folder = folder
        self.stem = stem
        self.say = say
        self.count = 0
        self.saved: list[Path] = []

    def save(self, plt: ModuleType) -> None:
        """Save and close every open figure, if the backend opens no window."""
        if plt.get_backend().lower() not in NO_WINDOW or not plt.get_fignums():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for number in plt.get_fignums():
            self.count += 1
            target = self.folder / f"{self.stem}-figure{self.count}.png"
            plt.figure(number).savefig(target)
            self.saved.append(target)
            self.say(f"no display: figure {self.count} saved as {target}")
        plt.close("all")


class _PatchAfterExec(importlib.abc.Loader):
    """pyplot's own loader, then ``patch(module)``."""

    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ... as pyplot's loader
        return getattr(self._loader, name)


class _PyplotFinder(importlib.abc.MetaPathFinder):
    """Finds ``matplotlib.pyplot`` as the other finders do, and patches it once executed."""

    def __init__(self, patch: Callable[[ModuleType], None]) -> None:
        self._patch = patch

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _PYPLOT:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                spec.loader = _PatchAfterExec(spec.loader, self._patch)
                return spec
        return None


@contextmanager
def saving_figures(figures: Figures) -> Iterator[None]:
    """While active, ``plt.show()`` saves and closes the figures (see the module's docstring);
    at the end, what is still open is saved."""
    patched: list[tuple[ModuleType, Any]] = []

    def patch(plt: ModuleType) -> None:
        own_show = plt.show

        def show(*args: Any, **kwargs: Any) -> Any:
            if plt.get_backend().lower() in NO_WINDOW:
                return figures.save(plt)
            return own_show(*args, **kwargs)

        setattr(plt, "show", show)  # noqa: B010 - a module attribute mypy cannot see
        patched.append((plt, own_show))

    finder = None
    if _PYPLOT in sys.modules:
        patch(sys.modules[_PYPLOT])
    else:
        finder = _PyplotFinder(patch)
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
        for plt, own_show in patched:
            setattr(plt, "show", own_show)  # noqa: B010 - as above
        plt = sys.modules.get(_PYPLOT)
        if plt is not None:
            figures.save(plt)
