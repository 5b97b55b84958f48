"""Type aliases shared by the annotations of several modules."""

from __future__ import annotations

import os

#: A file or folder as layerwise's functions take it: a ``str`` or a ``pathlib.Path``.
StrPath = str | os.PathLike[str]
