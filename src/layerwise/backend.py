"""The array-module seam: the same layers on NumPy (CPU) or CuPy (a CUDA GPU).

DeZero, the book series' own framework, runs on a GPU with one idea: every function asks its
input which module made it, ``xp = get_array_module(x)``, and computes with ``xp`` instead of
``np``. NumPy's ufuncs and most of its functions (``np.exp``, ``np.sum``, ``np.argmax``,
``np.einsum``) already hand a CuPy array to CuPy through ``__array_ufunc__`` and
``__array_function__``; only the functions that *create* an array from nothing (``np.zeros``,
``np.arange``, ``np.asarray`` of a list, ``np.random``) cannot know the device, and those take
``xp`` from the arrays they belong with.

CuPy is never imported unless an array is a CuPy array or a device ``"cuda"`` is asked for, so
NumPy stays the only dependency; ``pip install 'layerwise[gpu]'`` adds ``cupy-cuda12x``.

=================================  ==========================================================
:func:`get_array_module`           ``numpy`` or ``cupy``, the module of the arrays given
:func:`as_numpy`                   a host (NumPy) array; a copy only from the GPU
:func:`to_device`                  an array on ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
:func:`device_of`                  the :class:`Device` an array lives on
:func:`parse_device`               ``"cpu"``, ``"cuda"``, ``"cuda:0"`` as a :class:`Device`
:func:`import_cupy`                CuPy with a GPU, or :class:`DeviceUnavailableError` saying
                                   what is missing and how to install it
:func:`is_writeable`               whether an array may be changed in place, on either device
=================================  ==========================================================
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "CUPY_INSTALL",
    "Device",
    "DeviceUnavailableError",
    "array_module",
    "as_array_like",
    "as_numpy",
    "device_of",
    "get_array_module",
    "import_cupy",
    "is_cupy_array",
    "is_writeable",
    "parse_device",
    "to_device",
]

#: What to install for ``device="cuda"`` (the ``gpu`` extra names CuPy built for CUDA 12).
CUPY_INSTALL = "pip install 'layerwise[gpu]' (cupy-cuda12x)"

_DEVICE = re.compile(r"(cpu|cuda)(?::(\d+))?")


class DeviceUnavailableError(RuntimeError):
    """The device asked for cannot be used: CuPy is not installed or sees no CUDA GPU."""


@dataclass(frozen=True)
class Device:
    """Where arrays live: ``Device("cpu")`` or ``Device("cuda", 0)``.

    ``str(device)`` is ``'cpu'`` or ``'cuda:0'``, the spelling :func:`parse_device` reads.
    """

    kind: str
    index: int = 0

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"


CPU = Device("cpu")


def parse_device(device: str | Device) -> Device:
    """``"cpu"``, ``"cuda"`` (GPU 0) or ``"cuda:N"`` as a :class:`Device`.

    Raises
    ------
    InvalidParameterError
        For anything else (a ValueError), naming the choices.
    """
    if isinstance(device, Device):
        return device
    match = _DEVICE.fullmatch(device.strip().lower()) if isinstance(device, str) else None
    if match is None or (match[1] == "cpu" and match[2] is not None):
        from ._checks import InvalidParameterError  # here: _checks imports this module

        raise InvalidParameterError(
            f"device must be 'cpu', 'cuda' or 'cuda:N' (N a GPU number, e.g. 'cuda:0'), "
            f"got {device!r}"
        )
    return CPU if match[1] == "cpu" else Device("cuda", int(match[2] or 0))


def is_cupy_array(a: Any) -> bool:
    """True when ``a`` is a CuPy array; looks at its type's module, so CuPy is not imported."""
    return type(a).__module__.partition(".")[0] == "cupy"


def is_writeable(a: Any) -> bool:
    """Whether the array ``a`` may be changed in place: NumPy's ``flags.writeable``, and always
    for a CuPy array, which has no read-only mode (its ``flags`` hold ``c_contiguous``,
    ``f_contiguous`` and ``owndata`` only)."""
    return is_cupy_array(a) or bool(a.flags.writeable)


def get_array_module(*arrays: Any) -> ModuleType:
    """``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy`` (DeZero's ``xp``).

    NumPy arrays, scalars, lists and None all give ``numpy`` without importing CuPy.
    """
    for a in arrays:
        if type(a) is not np.ndarray and is_cupy_array(a):
            return import_cupy()
    return np


def as_numpy(a: Any) -> np.ndarray:
    """``a`` as a NumPy array on the host: itself when it is one, a copy from a GPU array."""
    if type(a) is np.ndarray:
        return a
    if is_cupy_array(a):
        return a.get()
    return np.asarray(a)


def device_of(a: Any) -> Device:
    """The :class:`Device` of an array: ``cuda:N`` for a CuPy array, else ``cpu``."""
    if type(a) is not np.ndarray and is_cupy_array(a):
        return Device("cuda", int(a.device.id))
    return CPU


def to_device(a: Any, device: str | Device) -> Any:
    """``a`` on ``device``; ``a`` itself when it is there already (no copy).

    Parameters
    ----------
    a : array_like
    device : str or Device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    numpy.ndarray for ``"cpu"``, cupy.ndarray for ``"cuda"``; same shape and dtype.

    Raises
    ------
    DeviceUnavailableError
        For ``"cuda"`` without CuPy or without a GPU.
    """
    if device is CPU and type(a) is np.ndarray:  # the Trainer's every batch on the CPU
        return a
    device = parse_device(device)
    if device.kind == "cpu":
        return as_numpy(a)
    if device_of(a) == device:
        return a
    cupy = import_cupy(device)
    with cupy.cuda.Device(device.index):
        return cupy.array(a, copy=True) if is_cupy_array(a) else cupy.asarray(a)


def array_module(device: str | Device) -> ModuleType:
    """The module that makes arrays on ``device``: ``numpy`` or (imported now) ``cupy``."""
    device = parse_device(device)
    return np if device.kind == "cpu" else import_cupy(device)


def as_array_like(a: Any, like: Any) -> Any:
    """``a`` on ``like``'s device: copied to the GPU when ``like`` is a CuPy array and ``a`` is
    not, copied to the host when ``a`` is a CuPy array and ``like`` is not; else ``a`` itself
    (a list stays a list, for the layers' own checks to convert)."""
    if type(a) is type(like) or not (is_cupy_array(a) or is_cupy_array(like)):
        return a
    return to_device(a, device_of(like))


def import_cupy(device: str | Device | None = None) -> ModuleType:
    """Import CuPy and check that it sees a CUDA GPU (``device``'s number, when given).

    Raises
    ------
    DeviceUnavailableError
        Saying what is missing: CuPy itself (and how to install it), or a GPU that CuPy sees.
    """
    return _checked_cupy(0 if device is None else parse_device(device).index)


@functools.lru_cache
def _checked_cupy(index: int) -> ModuleType:
    # Cached: the Trainer and the layers ask for every batch. A failure is not cached (it
    # raises), so installing CuPy or plugging a GPU in needs no restart of a notebook.
    try:
        cupy = importlib.import_module("cupy")  # by name: CuPy is optional, mypy need not see it
    except ImportError as err:
        raise DeviceUnavailableError(f"CuPy is not installed: {CUPY_INSTALL}") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDARuntimeError: no driver, no device, a broken install
        raise DeviceUnavailableError(
            f"CuPy found no CUDA GPU: {err}. Check nvidia-smi and that the CuPy package "
            "matches the CUDA version (cupy-cuda12x for CUDA 12)."
        ) from err
    if index >= count:
        raise DeviceUnavailableError(
            f"CuPy found no CUDA GPU number {index}: it sees {count} GPU(s)"
            + (f", cuda:0 to cuda:{count - 1}" if count else "")
        )
    return cupy
