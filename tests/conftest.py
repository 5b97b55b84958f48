"""What the tests share: the gradient-check measure and the figures they measure.

``benchmarks/`` and ``.ci/`` are on the import path through pyproject.toml's pytest
``pythonpath``, so tests import ``textbook`` (the book's code written out), ``workloads`` or
``check_wheel`` as those scripts import each other.
"""

import shutil
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import settings

from layerwise.layers import ACTIVATIONS, LAYERS, register_layer


def max_relative_error(a, b):
    """Largest elementwise ``|a - b| / max(1e-8, |a| + |b|)``: the gradient-check measure."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


# Optional packages and tools: a test that needs one takes it as a fixture, and is skipped
# (with the reason) where it is missing, so the suite runs with NumPy, pytest and hypothesis alone.


def gpu_available():
    """True where CuPy is installed and sees a CUDA GPU (never on CI)."""
    from layerwise.backend import DeviceUnavailableError, import_cupy

    try:
        import_cupy()
    except DeviceUnavailableError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped, with the reason, where there is no CuPy and GPU."""
    marked = [item for item in items if item.get_closest_marker("gpu") is not None]
    if marked and not gpu_available():
        skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture
def torch():
    """PyTorch, for the tests that compare with it."""
    return pytest.importorskip("torch")


@pytest.fixture
def matplotlib():
    """matplotlib, for the tests of the pictures."""
    return pytest.importorskip("matplotlib")


@pytest.fixture
def graphviz():
    """The Python binding of Graphviz, for the tests of the graph drawing."""
    return pytest.importorskip("graphviz")


@pytest.fixture
def dot(graphviz):
    """The binding and Graphviz's `dot` program, for the tests that render SVG or PNG."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` program is not installed")
    return graphviz


# ---------------------------------------------------------------- registries

# The registries a test may enter a class into; each is restored after every test.
REGISTRIES = {"LAYERS": LAYERS, "ACTIVATIONS": ACTIVATIONS}


@contextmanager
def registered_layer(cls):
    """Register a test's own layer class for the duration of a ``with`` block, then remove it
    from every registry it entered (``LAYERS``, and ``ACTIVATIONS`` for an activation)."""
    before = {name: dict(registry) for name, registry in REGISTRIES.items()}
    register_layer(cls)
    try:
        yield cls
    finally:
        for name, registry in REGISTRIES.items():
            registry.clear()
            registry.update(before[name])


@pytest.fixture(autouse=True)
def registries_restored():
    """Whatever a test registers is gone after it: no test depends on another's registrations,
    whatever the order they run in."""
    before = {name: dict(registry) for name, registry in REGISTRIES.items()}
    yield
    for name, registry in REGISTRIES.items():
        if registry != before[name]:
            registry.clear()
            registry.update(before[name])


# ---------------------------------------------------------------- figures measured

# Figures that tests measure on the way (the worst gradient-check error, the largest difference
# from PyTorch, the number of generated cases), by report and by name. Each test records what it
# measured and asserts on it itself; the table is printed after the run (with -s or -v), so no
# test has to run last to report.
FIGURES: dict[str, dict[str, float]] = {}


def record_worst(report, name, value, tol=None):
    """Keep the largest ``value`` seen under ``name``; fail when it exceeds ``tol``."""
    figures = FIGURES.setdefault(report, {})
    figures[name] = max(figures.get(name, 0.0), value)
    if tol is not None:
        assert value <= tol, f"{name}: error {value:.3e} > {tol}"


def record_count(report, name, n=1):
    """Add ``n`` to the count kept under ``name``."""
    figures = FIGURES.setdefault(report, {})
    figures[name] = figures.get(name, 0) + n


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES or (config.get_verbosity() <= 0 and config.getoption("capture") != "no"):
        return
    for report, figures in sorted(FIGURES.items()):
        terminalreporter.section(report, sep="-")
        width = max(len(name) for name in figures)
        for name, value in sorted(figures.items()):
            shown = f"{value:d}" if isinstance(value, int) else f"{value:.2e}"
            terminalreporter.write_line(f"{name:<{width}s}  {shown}")


# Derandomized: CI and every developer run the same generated cases, so a failure reproduces.
settings.register_profile("layerwise", derandomize=True, deadline=None)
settings.load_profile("layerwise")
