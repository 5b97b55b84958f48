"""The sequel's weight files: ``save_params`` / ``load_params``, and its pickles read safely.

The sequel's ``BaseModel.save_params`` pickles its ``params`` list cast to float16
(``Rnnlm.pkl``, ``BetterRnnlm.pkl``, ``AttentionSeq2seq.pkl``), and chapter 4 pickles a dict of
word vectors and two word maps (``cbow_params.pkl``). Unpickling can run any code the file's
author chose, so layerwise never calls ``pickle.load``: volume 1's weights-only unpickler
(:mod:`layerwise.book_weights`) builds NumPy arrays from exactly the globals
:data:`~layerwise.book_weights.ALLOWED_GLOBALS` lists, lists, dicts, strings and numbers from
the pickle's own opcodes, and refuses every other name before anything is built.

:class:`SequelParams` gives the sequel's models the two methods. ``save_params`` writes
layerwise's own file, an ``.npz`` of plain arrays and a JSON description, whatever the file's
name, in the model's dtype (the sequel's float16 rounds each weight to about 3 digits);
``load_params`` reads such a file or one of the sequel's pickles, position by position.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any

import numpy as np

from .._types import StrPath
from .._version import __version__
from ..backend import as_array_like, as_numpy, get_array_module

# The weights-only unpickler of volume 1's pickles (it builds lists and dicts too); used as is.
from ..book_weights import RefusedPickleError, unpickle_weights
from ..container import ModelFileError, open_npz, read_json_entry, write_npz_atomic

__all__ = [
    "SequelParams",
    "load_pickled_params",
    "load_word_vectors",
    "save_word_vectors",
]

FORMAT, VERSION = "layerwise-sequel-params", 1
_DESCRIPTION = "__sequel_params__"
_WORDS = "words"  # save_word_vectors: id_to_word in id order, a unicode array
_ZIP_SIGNATURE = b"PK"  # an .npz file is a zip archive; a pickle starts with b"\x80" or "("
_MAX_JSON_BYTES = 1 << 20


def _is_numeric_array(value: Any) -> bool:
    return type(value) is np.ndarray and value.dtype.kind in "biuf"  # object arrays: never


def load_pickled_params(path: StrPath) -> list[np.ndarray]:
    """The sequel's pickled ``params`` list (``Rnnlm.pkl``, ...), safely.

    Parameters
    ----------
    path : str or Path
        Written by the sequel's ``BaseModel.save_params``: ``pickle.dump([p.astype(np.float16)
        for p in params], f)``, any pickle protocol.

    Returns
    -------
    list of ndarray
        In the file's dtype (float16 for the sequel's files).

    Raises
    ------
    RefusedPickleError
        If the pickle refers to anything other than what NumPy arrays are built from
        (``os.system``, a user's class, ...), refused by name before anything runs; or if it
        holds something other than a list of numeric arrays.
    ModelFileError
        If the file is not a readable pickle.
    """
    path = Path(path)
    obj, _ = unpickle_weights(path)
    if not isinstance(obj, (list, tuple)):
        raise RefusedPickleError(
            f"refused to load '{path}': it holds a {type(obj).__name__}, not the list of "
            "NumPy arrays the sequel's save_params writes"
        )
    for i, value in enumerate(obj):
        if not _is_numeric_array(value):
            what = f"dtype {value.dtype}" if type(value) is np.ndarray else type(value).__name__
            raise RefusedPickleError(
                f"refused to load '{path}': item {i} is a {what}, not a numeric NumPy array"
            )
    return list(obj)


def load_word_vectors(path: StrPath) -> dict[str, Any]:
    """Word vectors and their word maps: chapter 4's ``cbow_params.pkl``, or a safe ``.npz``.

    Parameters
    ----------
    path : str or Path
        The sequel's pickle of ``{'word_vecs': (V, D) array, 'word_to_id': {str: int},
        'id_to_word': {int: str}}`` (``ch04/train.py``), read without running anything; or
        the ``.npz`` that :func:`save_word_vectors` writes.

    Returns
    -------
    dict
        ``word_vecs`` (V, D) ndarray, ``word_to_id`` dict of str to int, ``id_to_word`` dict
        of int to str, the two maps each other's inverse over ids ``0 .. V-1``.

    Raises
    ------
    RefusedPickleError
        A pickle that asks for anything but NumPy arrays, or holds anything but those three
        entries.
    ModelFileError
        A damaged file, or maps that do not match the vectors.
    """
    path = Path(path)
    if _is_npz(path):
        with open_npz(path, "word vectors file") as f:
            if set(f.headers) != {"word_vecs", _WORDS}:
                raise f.error(f"it holds {sorted(f.headers)}, not ['word_vecs', 'words']")
            if f.headers[_WORDS][1].kind != "U" or len(f.headers[_WORDS][0]) != 1:
                raise f.error("its 'words' entry is not a 1-d array of str")
            vecs, words = f.read("word_vecs"), f.read(_WORDS).tolist()
        id_to_word = dict(enumerate(words))
        word_to_id = {w: i for i, w in id_to_word.items()}
    else:
        obj, _ = unpickle_weights(path)
        if not isinstance(obj, dict) or set(obj) != {"word_vecs", "word_to_id", "id_to_word"}:
            held = sorted(map(repr, obj)) if isinstance(obj, dict) else type(obj).__name__
            raise RefusedPickleError(
                f"refused to load '{path}': it holds {held}, not the dict of 'word_vecs', "
                "'word_to_id' and 'id_to_word' that chapter 4's train.py writes"
            )
        vecs = obj["word_vecs"]
        word_to_id = _word_map(obj["word_to_id"], str, _Id, path, "word_to_id")
        id_to_word = _word_map(obj["id_to_word"], _Id, str, path, "id_to_word")
    _check_word_vectors(vecs, word_to_id, id_to_word, path)
    return {"word_vecs": vecs, "word_to_id": word_to_id, "id_to_word": id_to_word}


class _Id:
    """An id in a word map: an int (a NumPy integer read as one), never a bool."""


def _word_map(obj, key_type, value_type, path, name):
    def convert(x, kind):
        if kind is str:
            return x if type(x) is str else None
        ok = isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))
        return int(x) if ok else None

    if not isinstance(obj, dict):
        raise RefusedPickleError(f"refused to load '{path}': {name} is a {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        k, v = convert(key, key_type), convert(value, value_type)
        if k is None or v is None:
            raise RefusedPickleError(
                f"refused to load '{path}': {name} maps {key!r} to {value!r}; it must map "
                + ("words (str) to ids (int)" if key_type is str else "ids (int) to words (str)")
            )
        out[k] = v
    return out


def _check_word_vectors(vecs, word_to_id, id_to_word, path):
    if not _is_numeric_array(vecs) or vecs.ndim != 2:
        what = f"{vecs.dtype} {vecs.shape}" if type(vecs) is np.ndarray else type(vecs).__name__
        raise ModelFileError(f"cannot load '{path}': word_vecs is {what}, not a (V, D) array")
    V = vecs.shape[0]
    inverse = len(word_to_id) == V and all(word_to_id.get(w) == i for i, w in id_to_word.items())
    if sorted(id_to_word) != list(range(V)) or not inverse:
        raise ModelFileError(
            f"cannot load '{path}': word_vecs has {V} rows, but the word maps are not "
            f"each other's inverse over ids 0..{V - 1} ({len(word_to_id)} words, "
            f"{len(id_to_word)} ids)"
        )


def save_word_vectors(
    path: StrPath, word_vecs: Any, word_to_id: dict[str, int], id_to_word: dict[int, str]
) -> Path:
    """Write word vectors and their word maps as a safe ``.npz`` (atomically), whatever the name.

    What chapter 4's ``train.py`` pickles, as plain arrays: ``word_vecs`` (V, D) in its
    dtype and ``words``, the V words in id order. :func:`load_word_vectors` reads it back.
    """
    path = Path(path)
    vecs = as_numpy(word_vecs)  # a file holds host arrays
    _check_word_vectors(vecs, word_to_id, id_to_word, path)
    words = np.array([id_to_word[i] for i in range(vecs.shape[0])], dtype=str)
    return write_npz_atomic(path, {"word_vecs": vecs, _WORDS: words})


def _is_npz(path: Path) -> bool:
    if not path.is_file():
        raise FileNotFoundError(f"No file: '{path}'")
    with open(path, "rb") as f:
        return f.read(2) == _ZIP_SIGNATURE


class SequelParams:
    """``save_params`` and ``load_params``, the sequel's ``BaseModel`` methods, on ``params``.

    A mixin for models whose ``params`` is the list of all their arrays in a fixed order
    (:class:`~layerwise.sequel.base_model.BaseModel`); position ``i`` of a file is
    ``params[i]``, as in the sequel.
    """

    params: Any

    def _default_file(self, file_name: StrPath | None) -> Path:
        return Path(f"{type(self).__name__}.pkl" if file_name is None else file_name)

    def save_params(self, file_name: StrPath | None = None) -> Path:
        """Write ``params`` to ``file_name`` (default ``'<ClassName>.pkl'``), atomically.

        The file is an ``.npz`` archive of plain arrays whatever its name (``params/0``, ...,
        in the model's dtype, and a JSON description with the model's class name), so it
        loads without unpickling. A tied weight (BetterRnnlm's affine ``W``, a view of the
        embedding's) is written at each of its positions, as the sequel does.

        Returns
        -------
        Path
            The file written.
        """
        path = self._default_file(file_name)
        description = {
            "format": FORMAT,
            "version": VERSION,
            "layerwise": __version__,
            "model": type(self).__name__,
            "count": len(self.params),
        }
        arrays: dict[str, Any] = {_DESCRIPTION: np.array(json.dumps(description))}
        arrays.update({f"params/{i}": p for i, p in enumerate(self.params)})
        return write_npz_atomic(path, arrays)

    def load_params(self, file_name: StrPath | None = None) -> None:
        """Copy the arrays of ``file_name`` (default ``'<ClassName>.pkl'``) into ``params``.

        Parameters
        ----------
        file_name : str or Path, optional
            A file from :meth:`save_params`, or one of the sequel's pickles (a list of arrays,
            float16 in its files; cast to the model's dtype as the sequel's ``astype('f')``),
            read by :func:`load_pickled_params`: nothing in it runs.

        Raises
        ------
        FileNotFoundError
            No such file.
        RefusedPickleError
            A pickle that asks for anything but NumPy arrays.
        ModelFileError
            The file's arrays are not this model's (their count, a shape, a non-float dtype;
            all named), or a weight this model ties (BetterRnnlm's embedding and affine) has
            two different values in the file. Nothing is changed then.
        """
        path = self._default_file(file_name)
        owner = type(self).__name__
        if _is_npz(path):
            with open_npz(path, "sequel weights file") as f:
                read_json_entry(f, _DESCRIPTION, FORMAT, (VERSION,), _MAX_JSON_BYTES)
                names = [f"params/{i}" for i in range(len(f.headers) - 1)]
                if set(names) != set(f.headers) - {_DESCRIPTION}:
                    raise f.error(f"its entries are not params/0 .. params/{len(names) - 1}")
                _check_arrays(self.params, [f.headers[n] for n in names], path, owner)
                arrays = [f.read(n) for n in names]  # checked before anything is read
        else:
            arrays = load_pickled_params(path)
            _check_arrays(self.params, [(a.shape, a.dtype) for a in arrays], path, owner)
        ties = copy_into_params(self.params, arrays)
        if ties:
            ties = [f"params[{i}] and params[{j}]" for i, j in ties]
            raise ModelFileError(
                f"cannot load '{path}' into {owner}: {', '.join(ties)} are one array in this "
                "model (tied weights), but the file gives them different values; nothing "
                "was changed"
            )


def copy_into_params(params: list[Any], arrays: list[Any]) -> list[tuple[int, int]]:
    """Write ``arrays[i]`` into ``params[i]`` in place, unless tied positions disagree.

    In place, because the layers, the optimizer and tied views hold these very arrays. Where
    two positions are one array (BetterRnnlm's embedding ``W`` and its affine's ``W.T``), the
    later write wins: each position is read back against what it was given, and where one
    differs every parameter is put back as it was.

    Returns
    -------
    list of (i, j)
        The positions ``i`` whose value was overwritten by a tied position ``j`` (nothing was
        changed then); empty when everything was written.
    """
    backup = [p.copy() for p in params]
    for p, a in zip(params, arrays, strict=True):
        p[...] = as_array_like(a, p)
    differ = [
        i
        for i, (p, a) in enumerate(zip(params, arrays, strict=True))
        if not np.array_equal(as_numpy(p), as_numpy(a).astype(p.dtype), equal_nan=True)
    ]
    if not differ:
        return []
    for p, b in zip(params, backup, strict=True):
        p[...] = b
    return [
        (i, j)
        for i in differ
        for j in range(len(params))
        if j != i and get_array_module(params[i]).shares_memory(params[i], params[j])
    ]


def _check_arrays(params, headers, path, owner):
    """A ModelFileError naming every difference between ``params`` and the file's arrays."""
    problems = []
    if len(headers) != len(params):
        problems.append(f"the file has {len(headers)} arrays, {owner} has {len(params)} params")
    for i, ((shape, dtype), p) in enumerate(zip(headers, params, strict=False)):
        if tuple(shape) != p.shape:
            problems.append(f"array {i} has shape {tuple(shape)}, params[{i}] is {p.shape}")
        if np.dtype(dtype).kind != "f":
            problems.append(f"array {i} has dtype {dtype}, not floating point")
    if problems:
        raise ModelFileError(
            f"cannot load '{path}' into {owner}: "
            + "; ".join(problems)
            + ". Was it saved from a model of other sizes?"
        )
