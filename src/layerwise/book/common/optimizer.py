"""The book's ``common/optimizer.py``: :mod:`layerwise.optimizers`, and ``np`` as the book's gives.

The book's ``ch06/optimizer_compare_mnist.py`` uses ``np`` after ``from common.optimizer
import *``, so ``np`` is part of what this module gives.

The book's rules assign, ``params[key] -= lr * grads[key]``, so they step whatever that works
on: ``ch06/optimizer_compare_naive.py`` keeps its point as two Python floats,
``params['x'], params['y'] = -7.0, 2.0``. layerwise's rules change arrays in place, so each
class here steps a Python number as a 0-d array and puts the number it becomes back into
``params``; arrays are stepped in place, as layerwise's own optimizers do.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from numbers import Real
from typing import Any

import numpy as np

from layerwise import optimizers

__all__ = ["SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop", "np"]


class _StepsNumbers(optimizers.Optimizer):
    """Mixin: Python numbers in ``params`` are stepped too, as ``params[key] -= ...`` would."""

    def update(self, params: MutableMapping[str, Any], grads: Mapping[str, Any]) -> None:
        numbers = [key for key, value in params.items() if _is_number(value)]
        if not numbers:
            super().update(params, grads)
            return
        # Each number becomes an array of one entry (a 0-d array would turn into a NumPy
        # scalar inside the rules' arithmetic, which cannot be written to in place).
        stepped = {**params, **{key: np.array([params[key]], np.float64) for key in numbers}}
        steps = dict(grads)
        for key in numbers:
            if key in steps and _is_number(steps[key]):
                steps[key] = np.array([steps[key]], np.float64)
        super().update(stepped, steps)
        for key in numbers:
            params[key] = float(stepped[key][0])


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.ndarray))


def _stepping_numbers(rule: type[optimizers.Optimizer]) -> type[optimizers.Optimizer]:
    """``rule`` under its own name and docstring, stepping Python numbers too."""
    namespace = {"__doc__": rule.__doc__, "__module__": __name__, "__qualname__": rule.__name__}
    return type(rule.__name__, (_StepsNumbers, rule), namespace)


SGD = _stepping_numbers(optimizers.SGD)
Momentum = _stepping_numbers(optimizers.Momentum)
Nesterov = _stepping_numbers(optimizers.Nesterov)
AdaGrad = _stepping_numbers(optimizers.AdaGrad)
RMSprop = _stepping_numbers(optimizers.RMSprop)
Adam = _stepping_numbers(optimizers.Adam)
