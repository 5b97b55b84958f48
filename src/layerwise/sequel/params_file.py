"""The sequel's ``save_params`` / ``load_params``: a model's ``params`` list to a file and back.

The sequel pickles its models' ``params`` lists, every array cast to float16
(``ch08/AttentionSeq2seq.pkl``, ``ch06/Rnnlm.pkl``), and reads them with ``pickle.load``, which
runs whatever the file asks for. Here:

- ``load_params`` reads the sequel's pickles with the weights-only unpickler
  (:func:`layerwise.book_weights.load_pickled_list`: only NumPy arrays can be built, anything
  else is refused before it runs), or layerwise's own files;
- ``save_params`` writes layerwise's file, an ``.npz`` archive of plain arrays (entries ``"0"``,
  ``"1"``, ...) at the parameters' own precision, written atomically, whatever the file's name;
  ``load_params`` tells the two apart by their first bytes.

Both copy into the model's arrays in place (the layers hold these very arrays), after checking
that the file has as many arrays as ``params`` and of the same shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._types import StrPath
from ..book_weights import load_pickled_list
from ..container import ModelFileError, read_npz, write_npz_atomic

__all__ = ["SequelParams"]

_ZIP_SIGNATURE = b"PK"


class SequelParams:
    """``save_params`` and ``load_params`` for a model with a ``params`` list (a mixin)."""

    params: Any

    def _default_name(self, file_name: StrPath | None) -> Path:
        return Path(file_name if file_name is not None else f"{type(self).__name__}.pkl")

    def save_params(self, file_name: StrPath | None = None) -> Path:
        """Write ``params`` to ``file_name`` (default ``<ClassName>.pkl``, the sequel's name).

        The file is an ``.npz`` archive whatever its name (no pickle), at full precision (the
        sequel rounds to float16). Returns the path written.
        """
        path = self._default_name(file_name)
        return write_npz_atomic(path, {str(i): p for i, p in enumerate(self.params)})

    def load_params(self, file_name: StrPath | None = None) -> None:
        """Copy the arrays of ``file_name`` into ``params``, in order, in place.

        Parameters
        ----------
        file_name : str or Path, optional
            A file from :meth:`save_params`, or one of the sequel's pickles (a list of arrays,
            float16); default ``<ClassName>.pkl``. Values are cast to each parameter's dtype.

        Raises
        ------
        RefusedPickleError
            If a pickle asks for anything but NumPy arrays (nothing in it is run).
        ModelFileError
            If the file's arrays are not this model's: another count, or other shapes.
        FileNotFoundError
            If there is no such file.
        """
        path = self._default_name(file_name)
        with open(path, "rb") as f:
            is_npz = f.read(2) == _ZIP_SIGNATURE
        if is_npz:
            stored = read_npz(path, "parameter file")
            names = [str(i) for i in range(len(stored))]
            if sorted(stored) != sorted(names):
                raise ModelFileError(
                    f"cannot load '{path}': its entries {sorted(stored)[:5]} are not those "
                    "save_params writes ('0', '1', ...)"
                )
            arrays = [stored[name] for name in names]
        else:
            arrays = load_pickled_list(path)
        owner = type(self).__name__
        if len(arrays) != len(self.params):
            raise ModelFileError(
                f"cannot load '{path}' into {owner}: it holds {len(arrays)} arrays, the model "
                f"has {len(self.params)} parameters"
            )
        shapes = [
            f"params[{i}] {a.shape} (the model's is {p.shape})"
            for i, (a, p) in enumerate(zip(arrays, self.params, strict=True))
            if a.shape != p.shape
        ]
        if shapes:
            raise ModelFileError(
                f"cannot load '{path}' into {owner}: other shapes: {'; '.join(shapes)} (was it "
                "saved from a model of other sizes?)"
            )
        for p, a in zip(self.params, arrays, strict=True):
            np.copyto(p, a, casting="unsafe")  # float16 files into float32 models, as the sequel
