"""Limit the BLAS thread pool that NumPy's matrix products use, without extra dependencies.

Why: the book's workloads are small matrix products (batch 100, 784x50). On a small machine a
second BLAS thread makes them slower, and when another process keeps the other core busy the
threads spin waiting for each other and a step takes 10-100x longer. Training therefore runs
with one BLAS thread unless asked otherwise.

threadpoolctl is used when it is installed (it knows every BLAS); otherwise OpenBLAS, which
NumPy's wheels ship, is found among the loaded libraries and called through ctypes. If
neither works the limit is silently not applied: it changes speed only, never results.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def _openblas_handles():
    """ctypes handles of the OpenBLAS libraries loaded in this process (Linux only)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps") as maps:
            paths = {
                line.split(maxsplit=5)[-1].strip()
                for line in maps
                if "openblas" in line.lower() and ".so" in line
            }
    except OSError:
        return []
    handles = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            get = getattr(lib, f"{prefix}openblas_get_num_threads64_", None) or getattr(
                lib, f"{prefix}openblas_get_num_threads", None
            )
            set_ = getattr(lib, f"{prefix}openblas_set_num_threads64_", None) or getattr(
                lib, f"{prefix}openblas_set_num_threads", None
            )
            if get is not None and set_ is not None:
                handles.append((get, set_))
                break
    return handles


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the body with at most ``n`` BLAS threads; ``None`` leaves the setting alone."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
        return
    handles = _openblas_handles()
    previous = [get() for get, _ in handles]
    for _, set_ in handles:
        set_(n)
    try:
        yield
    finally:
        for (_, set_), count in zip(handles, previous, strict=True):
            set_(count)
