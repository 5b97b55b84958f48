"""The sequel's ``dataset/spiral.py``: :func:`layerwise.sequel.dataset.spiral.load_data`.

The sequel's ``load_data`` seeds NumPy's global generator and draws its 300 noise values from
it; its ``ch01/train.py`` then draws the network's initial weights from the same generator.
layerwise's leaves the global generator alone; here it is left as the sequel's leaves it, so
that a script's weights (and so its run) are the book's.
"""

from __future__ import annotations

import numpy as np

from layerwise.sequel.dataset import spiral

__all__ = ["load_data", "np"]


def load_data(seed: int = 1984) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (300, 2) and one-hot ``t`` (300, 3): the sequel's points for ``seed``."""
    x, t = spiral.load_data(seed)
    np.random.seed(seed)  # noqa: NPY002 - the book's generator, as the book leaves it
    np.random.randn(len(x))  # noqa: NPY002 - past the noise of the points
    return x, t
