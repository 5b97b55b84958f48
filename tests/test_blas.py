"""layerwise.blas_threads: the OpenBLAS limit by threadpoolctl, and without it by ctypes."""

import sys

import numpy as np
import pytest

from layerwise import blas_threads
from layerwise._blas import _openblas_handles

# threadpoolctl is the reference the ctypes fallback is checked against.
threadpool_info = pytest.importorskip("threadpoolctl").threadpool_info
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _openblas_threads():
    """Threads of every OpenBLAS in the process, as threadpoolctl (the reference) sees them."""
    return [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"]


def test_numpy_openblas_is_found_through_its_loaded_library():
    np.ones((2, 2)) @ np.ones((2, 2))
    handles = _openblas_handles()
    # NumPy 2's wheels name their symbols scipy_openblas_*64_; older wheels and distribution
    # builds of NumPy link an OpenBLAS whose symbols carry no prefix: both are looked for.
    assert len(handles) >= 1
    assert [get() for get, _ in handles] == _openblas_threads()


def test_without_threadpoolctl_the_limit_is_set_by_ctypes_and_restored(monkeypatch):
    before = _openblas_threads()
    wanted = 2 if before == [1] * len(before) else 1  # a limit that differs from the setting
    # A None entry in sys.modules makes `import threadpoolctl` raise ImportError, as when it is
    # not installed (it is an optional dependency).
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with blas_threads(wanted):
        inside = [get() for get, _ in _openblas_handles()]
        assert np.ones((3, 3)) @ np.ones((3, 3)) == pytest.approx(np.full((3, 3), 3.0))
    monkeypatch.undo()
    assert inside and set(inside) == {wanted}
    assert _openblas_threads() == before


def test_none_leaves_the_setting_alone():
    before = _openblas_threads()
    with blas_threads(None):
        assert _openblas_threads() == before
