"""The examples in the docstrings run and print what they show.

Every module of the installed (or ``src/``) package is searched, ``layerwise.__main__`` aside
(importing it runs the command line); each docstring with examples is one test. The examples
use NumPy alone, so they run wherever the package does.
"""

import doctest
import importlib
import pkgutil

import pytest

import layerwise

MODULES = ["layerwise"] + sorted(
    name
    for _, name, _ in pkgutil.walk_packages(layerwise.__path__, "layerwise.")
    if name.rsplit(".", 1)[-1] != "__main__"
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def examples():
    """``pytest.param`` for each docstring with examples, by module."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    params = []
    for name in MODULES:
        # Only the docstrings of objects defined in the module, not of those it imports.
        for test in finder.find(importlib.import_module(name)):
            if test.examples:
                params.append(pytest.param(test, id=test.name))
    return params


@pytest.mark.parametrize("test", examples())
def test_docstring_examples(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)


def test_every_module_is_searched():
    assert "layerwise.layers.affine" in MODULES and "layerwise.optimizers" in MODULES
    assert not any(name.endswith("__main__") for name in MODULES)
