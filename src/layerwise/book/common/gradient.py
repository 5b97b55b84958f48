"""The book's ``common/gradient.py``: central differences for arrays of any shape."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from layerwise.functions import numerical_gradient

__all__ = ["np", "numerical_gradient", "numerical_gradient_2d"]


def numerical_gradient_2d(f: Callable[[np.ndarray], npt.ArrayLike], X: np.ndarray) -> np.ndarray:  # noqa: N803 - the book's name
    """The book's chapter-4 helper: the gradient of ``f`` at each row of ``X`` (or at ``X``).

    Each row ``x`` gets ``df/dx`` with ``f`` called on that row alone, as in the book.
    """
    if X.ndim == 1:
        return numerical_gradient(f, X)
    return np.array([numerical_gradient(f, x) for x in X])
