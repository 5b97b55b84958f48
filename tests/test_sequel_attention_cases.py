"""The attention layers' examples for the sequel's gradient-check harness.

``tests/test_sequel_gradcheck.py`` turns each ``(name, layer, args, n_grad)`` into a ``Case``;
kept apart from ``test_sequel_attention.py``, which imports that harness's ``numgrad``.
"""

from __future__ import annotations

import numpy as np

from layerwise.sequel import attention as A


def attention_cases() -> list[tuple]:
    rng = np.random.default_rng(2027)

    def x(*shape):
        return rng.standard_normal(shape)

    return [
        ("WeightSum", A.WeightSum(), (x(2, 5, 3), rng.dirichlet(np.ones(5), size=2)), 2),
        ("AttentionWeight", A.AttentionWeight(), (x(2, 5, 3), x(2, 3)), 2),
        ("Attention", A.Attention(), (x(2, 5, 3), x(2, 3)), 2),
        ("TimeAttention", A.TimeAttention(), (x(2, 5, 3), x(2, 4, 3)), 2),
        ("TimeAttention-one-step", A.TimeAttention(), (x(3, 6, 2), x(3, 1, 2)), 2),
    ]
