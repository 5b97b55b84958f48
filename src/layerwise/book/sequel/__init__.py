"""The sequel's ``common`` and ``dataset`` packages, answered by :mod:`layerwise.sequel`.

``layerwise book SCRIPT`` in a clone of the sequel's repository (recognised by
:mod:`layerwise.book.books`) imports ``common.time_layers`` as this package's
``common/time_layers.py``, and so on; see :mod:`layerwise.book` and ``docs/book-scripts.md``.
Each module gives, on a star-import, what the sequel's module of that name gives.
"""

from __future__ import annotations
