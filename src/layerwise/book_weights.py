"""The book's API for weights: ``save_params`` / ``load_params``, and reading its pickles safely.

The book's chapter-7 and chapter-8 networks save their ``params`` dict with ``pickle.dump`` and
read it back with ``pickle.load`` (``ch07/params.pkl``, ``ch08/deep_convnet_params.pkl``).
Unpickling a file can run any code its author chose, so layerwise never calls ``pickle.load``:
:func:`load_pickled_arrays` unpickles with a :class:`pickle.Unpickler` whose ``find_class``
hands out only what rebuilding NumPy arrays needs (as ``torch.load(weights_only=True)`` does)
and refuses every other name before anything is built, so nothing the file asks for ever runs.

:class:`BookParams` gives the book's networks the two methods: ``save_params`` writes
layerwise's own model file (an ``.npz`` of plain arrays, :func:`layerwise.save`), whatever the
file's name; ``load_params`` reads such a file or one of the book's pickles.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ._types import StrPath
from .backend import as_array_like
from .container import ModelFileError
from .files import load, save

__all__ = [
    "ArraysOnlyUnpickler",
    "BookParams",
    "RefusedPickleError",
    "load_pickled_arrays",
    "unpickle_weights",
]

#: ``(module, name)`` of every global a pickle of NumPy arrays refers to: the array and dtype
#: classes, ``_reconstruct`` (protocols 0-4), ``_frombuffer`` (protocol 5) and ``scalar``
#: (NumPy scalars), under NumPy 2's module names and NumPy 1's; and ``_codecs.encode``, with
#: which protocol 2 writes the bytes of an array (it turns a str into bytes, nothing more).
ALLOWED_GLOBALS = frozenset(
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),
    )
) | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

_ZIP_SIGNATURE = b"PK"  # an .npz file is a zip archive; a pickle starts with b"\x80" or "("


class RefusedPickleError(ModelFileError):
    """A pickle asked for something that a file of weights never needs; nothing was run."""


class ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays, dicts, lists, strings, integers and floats.

    Builtin containers and those numbers come from the pickle's own opcodes; every class or
    function (``complex`` too) comes through ``find_class``, which is where anything that runs
    code must pass.
    """

    def __init__(self, file: Any, where: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of arrays
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise RefusedPickleError(
            f"refused to load {self.where}: the pickle asks for {module}.{name}, which a "
            "weights file never needs (only NumPy arrays are allowed); nothing was run"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickleError(f"refused to load {self.where}: it refers to outside objects")


def load_pickled_arrays(path: StrPath) -> dict[str, np.ndarray]:
    """A pickled ``dict`` of ``str -> numpy.ndarray`` (the book's weight files), safely.

    Parameters
    ----------
    path : str or Path
        A file written by ``pickle.dump(params, f)`` as the book's ``save_params`` does.

    Returns
    -------
    dict of str to ndarray
        Numeric arrays (bool, integer, float or complex dtype).

    Raises
    ------
    RefusedPickleError
        If the pickle refers to any class or function other than those NumPy arrays are built
        from (``os.system``, ``builtins.eval``, a user's class, ...): it is refused by name
        before anything runs. Also if it holds something other than a dict of str to numeric
        arrays.
    ModelFileError
        If the file is not a readable pickle (truncated, damaged).
    """
    obj, where = unpickle_weights(path)
    if not isinstance(obj, dict):
        raise RefusedPickleError(
            f"refused to load {where}: it holds a {type(obj).__name__}, not a dict of "
            "parameter names to NumPy arrays"
        )
    for key, value in obj.items():
        if not isinstance(key, str):
            raise RefusedPickleError(
                f"refused to load {where}: entry {key!r} is a {type(value).__name__}; a "
                "weights file maps parameter names (str) to NumPy arrays"
            )
        _check_numeric(value, key, where)
    return obj


def unpickle_weights(path: StrPath) -> tuple[Any, str]:
    """What the pickle at ``path`` holds, built by :class:`ArraysOnlyUnpickler`, and the path
    quoted for messages; a damaged file is a :class:`ModelFileError`, a forbidden global a
    :class:`RefusedPickleError` (nothing run). The caller checks what was built."""
    path = Path(path)
    where = f"'{path}'"
    try:
        data = path.read_bytes()
        return ArraysOnlyUnpickler(io.BytesIO(data), where).load(), where
    except RefusedPickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as err:
        raise ModelFileError(f"cannot load {where}: not a readable pickle ({err})") from err


def _check_numeric(value: Any, key: Any, where: str) -> None:
    if type(value) is not np.ndarray:
        raise RefusedPickleError(
            f"refused to load {where}: entry {key!r} is a {type(value).__name__}, not a NumPy array"
        )
    if value.dtype.kind not in "biufc":  # object arrays could hold anything
        raise RefusedPickleError(
            f"refused to load {where}: entry {key!r} has dtype {value.dtype}, not numbers"
        )


class BookParams:
    """``save_params`` and ``load_params``, the book's names, for networks with ``params``.

    A mixin for :class:`~layerwise.network.Sequential` subclasses registered as model files
    (the book's networks in :mod:`layerwise.book_nets`).
    """

    params: Any

    def save_params(self, file_name: StrPath = "params.pkl") -> Path:
        """Write the network to ``file_name`` as a layerwise model file (:func:`layerwise.save`).

        The file is an ``.npz`` archive of plain arrays whatever its name, so the book's
        ``network.save_params("params.pkl")`` gives a file that loads without unpickling.
        Parameters and buffers (BatchNorm's running statistics) are all saved.

        Returns
        -------
        Path
            The file written.
        """
        return save(self, file_name)  # type: ignore[arg-type]

    def load_params(self, file_name: StrPath = "params.pkl") -> None:
        """Copy the weights in ``file_name`` into this network's parameters, in place.

        Parameters
        ----------
        file_name : str or Path
            A layerwise model file (from :meth:`save_params` or :func:`layerwise.save`), or one
            of the book's pickles of ``{'W1': array, 'b1': array, ...}`` (such as
            ``ch07/params.pkl``), read by :func:`load_pickled_arrays`: nothing in it runs.

        Raises
        ------
        RefusedPickleError
            If a pickle asks for anything but NumPy arrays.
        ModelFileError
            If the file's arrays are not this network's: the message lists the missing and
            unexpected names and the shapes that differ.
        """
        path = Path(file_name)
        with open(path, "rb") as f:
            is_npz = f.read(2) == _ZIP_SIGNATURE
        if is_npz:
            state = load(path).state_dict()
            own = self.state_dict()  # type: ignore[attr-defined]
        else:
            state = load_pickled_arrays(path)
            own = dict(self.params)  # the book pickles the params alone
        _check_same_arrays(own, state, path, type(self).__name__)
        if is_npz:
            self.load_state_dict(state)  # type: ignore[attr-defined]
        else:
            for key, value in state.items():  # in place: the layers hold these very arrays
                target = self.params[key]  # on the network's device
                np.copyto(target, as_array_like(value, target), casting="same_kind")


def _check_same_arrays(own, given, path, owner):
    """A ModelFileError unless ``given`` has exactly ``own``'s names and shapes."""
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    shapes = [
        f"{k} {given[k].shape} (the network's is {own[k].shape})"
        for k in own
        if k in given and given[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
            f"other shapes: {'; '.join(shapes)}" if shapes else "",
        ]
        raise ModelFileError(
            f"cannot load '{path}' into {owner}: its arrays are not this network's ("
            + ", ".join(p for p in problems if p)
            + ")"
        )
