"""The sequel's ``common/optimizer.py``: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam.

The sequel's rules are volume 1's (the same formulas, defaults and names; see
:mod:`layerwise.optimizers`); what changes is the call: ``update(params, grads)`` with two
*lists* of arrays, position ``i`` of one the gradient of position ``i`` of the other. Each class
here is volume 1's with that call added: a list is read as the dict ``{"0": params[0], "1":
params[1], ...}``, so the same checks (nothing changes when a gradient is missing or of the
wrong shape), the in-place updates and ``state_dict``/``load_state_dict`` (slots keyed
``"v/0"``, ``"v/1"``, ...) serve both books; a dict is passed through unchanged.

One difference: the sequel's ``Nesterov`` is the printed volume 1's (``v`` updated first, then
``W`` moved with the new ``v``), which is not Nesterov's method; layerwise's steps in the
corrected order of volume 1's repository, the trajectory of ``torch.optim.SGD(nesterov=True)``
(a regression test in ``tests/test_sequel_word2vec.py``). The state ``v``, ``h``, ``m`` is a dict
keyed by position, not the sequel's list.

Examples
--------
>>> import numpy as np
>>> params, grads = [np.ones(2), np.zeros(1)], [np.full(2, 0.5), np.ones(1)]
>>> SGD(lr=0.1).update(params, grads)
>>> params[0], params[1]
(array([0.95, 0.95]), array([-0.1]))
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

import numpy as np

from .. import optimizers

__all__ = ["AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop", "SGD"]


def _as_dict(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if isinstance(arrays, Mapping):
        return dict(arrays)
    return {str(i): a for i, a in enumerate(arrays)}


class _ListUpdate(optimizers.Optimizer):
    """``update(params, grads)`` for the sequel's lists as well as volume 1's dicts."""

    def update(
        self,
        params: Sequence[np.ndarray] | MutableMapping[str, np.ndarray],
        grads: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    ) -> None:
        if not isinstance(params, Mapping) and len(params) != len(grads):
            raise ValueError(
                f"{type(self).__name__}.update: params has {len(params)} arrays but grads has "
                f"{len(grads)}; they must be parallel lists"
            )
        # The dict holds the very arrays of the list, so the in-place steps reach the model.
        super().update(_as_dict(params), _as_dict(grads))


class SGD(_ListUpdate, optimizers.SGD):
    """Volume 1's :class:`~layerwise.optimizers.SGD`, taking lists too."""


class Momentum(_ListUpdate, optimizers.Momentum):
    """Volume 1's :class:`~layerwise.optimizers.Momentum`, taking lists too."""


class Nesterov(_ListUpdate, optimizers.Nesterov):
    """Volume 1's :class:`~layerwise.optimizers.Nesterov` (the repository's order), lists too."""


class AdaGrad(_ListUpdate, optimizers.AdaGrad):
    """Volume 1's :class:`~layerwise.optimizers.AdaGrad`, taking lists too."""


class RMSprop(_ListUpdate, optimizers.RMSprop):
    """Volume 1's :class:`~layerwise.optimizers.RMSprop`, taking lists too."""


class Adam(_ListUpdate, optimizers.Adam):
    """Volume 1's :class:`~layerwise.optimizers.Adam`, taking lists too."""
