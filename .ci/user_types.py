"""A user's code, type-checked by ``.ci/run`` against the installed wheel (never run).

The wheel's ``py.typed`` must reach the user's type checker: without it mypy refuses the
import, and every ``assert_type`` below fails if the hint it checks is missing or wrong.
"""

from pathlib import Path
from typing import assert_type

import numpy as np

import layerwise
from layerwise.datasets import load_sample

(x_train, t_train), (x_test, t_test) = load_sample()
net = layerwise.TwoLayerNet(784, 50, 10, seed=0)
assert_type(net.predict(x_test), np.ndarray)
assert_type(net.accuracy(x_test, t_test), float)
assert_type(net.gradient(x_train[:5], t_train[:5]), dict[str, np.ndarray])
assert_type(layerwise.relu([-1.0, 2.0]), np.ndarray)
assert_type(layerwise.softmax_loss(x_test[:5], t_test[:5]), np.floating)
trainer = layerwise.Trainer(net, x_train, t_train, x_test, t_test, epochs=1)
assert_type(trainer.train(), layerwise.Trainer)
assert_type(layerwise.save(net, "model.npz"), Path)
assert_type(layerwise.load("model.npz"), layerwise.Sequential)
assert_type(layerwise.__version__, str)
