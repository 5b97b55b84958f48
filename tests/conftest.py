import importlib
import sys
from pathlib import Path

import numpy as np
from hypothesis import settings

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def bench_module(name):
    """Import ``benchmarks/<name>.py`` (benchmarks/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def max_relative_error(a, b):
    """Largest elementwise ``|a - b| / max(1e-8, |a| + |b|)``: the gradient-check measure."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


# Derandomized: CI and every developer run the same generated cases, so a failure reproduces.
settings.register_profile("layerwise", derandomize=True, deadline=None)
settings.load_profile("layerwise")
