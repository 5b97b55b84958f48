"""While a book script runs, its own ``pickle.load`` builds NumPy arrays and nothing else.

The books' scripts unpickle the clone's files themselves: ``ch03/neuralnet_mnist.py`` reads
``sample_weight.pkl``, the sequel's ``ch04/eval.py`` reads ``cbow_params.pkl`` (a dict of word
vectors and two word maps) with ``pickle.load``. Unpickling can run whatever the file's author
chose, and a clone is someone else's files. Every unpickler, Python's and C's, raises the audit
event ``pickle.find_class`` before it looks up a class or function the pickle names; an audit
hook that raises stops the lookup. So while :func:`weights_only` is active, a pickle may name
only what NumPy arrays are rebuilt from
(:data:`~layerwise.book_weights.ALLOWED_GLOBALS`, as layerwise's own weights-only unpickler);
anything else is a :class:`~layerwise.book_weights.RefusedPickleError` naming it, raised before
it is imported. Dicts, lists, strings and numbers need no lookup and load as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from layerwise.book_weights import ALLOWED_GLOBALS, RefusedPickleError

__all__ = ["weights_only"]

_active = 0
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _active and event == "pickle.find_class" and tuple(args) not in ALLOWED_GLOBALS:
        module, name = args
        raise RefusedPickleError(
            f"refused to unpickle: the pickle asks for {module}.{name}, which a file of "
            "weights never needs (while a book script runs, pickles may hold only NumPy "
            "arrays, dicts, lists, strings and numbers); nothing was run"
        )


@contextmanager
def weights_only() -> Iterator[None]:
    """Refuse, while active, every global a pickle names but those of NumPy arrays."""
    global _active, _hooked
    if not _hooked:  # an audit hook cannot be removed: one for the process, idle between runs
        sys.addaudithook(_audit)
        _hooked = True
    _active += 1
    try:
        yield
    finally:
        _active -= 1
