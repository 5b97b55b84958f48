"""The sequel's spiral data set (chapter 1): three interleaved spiral arms in the plane."""

from __future__ import annotations

import numpy as np

__all__ = ["load_data"]


def load_data(seed: int = 1984) -> tuple[np.ndarray, np.ndarray]:
    """300 points of three classes, exactly the sequel's for the same ``seed``.

    Point i of class j (i < 100) lies at radius ``r = i / 100`` and angle
    ``theta = 4 j + 4 r + 0.2 e`` with ``e ~ N(0, 1)``: ``x = (r sin theta, r cos theta)``. The
    noise is NumPy's legacy ``RandomState(seed)`` stream, drawn in the sequel's order, so the
    points are the book's bit for bit; NumPy's global state is left alone (the sequel calls
    ``np.random.seed``).

    Returns
    -------
    x : ndarray of float64, shape (300, 2)
    t : ndarray of int32, shape (300, 3), one-hot
    """
    n, n_class = 100, 3
    noise = np.random.RandomState(seed).randn(n_class, n)
    rate = np.arange(n) / n
    theta = 4.0 * np.arange(n_class)[:, None] + 4.0 * rate + noise * 0.2
    x = np.stack([rate * np.sin(theta), rate * np.cos(theta)], axis=-1).reshape(-1, 2)
    t = np.repeat(np.eye(n_class, dtype=np.int32), n, axis=0)
    return x, t
