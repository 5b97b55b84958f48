# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The sequel, chapter 1: neural networks, a review (ニューラルネットワークの復習 / 神经网络的复习)
#
# Layers whose parameters and gradients are lists, a two-layer network assembled from them, and
# its training on the spiral with the sequel's `Trainer` (the book's `ch01/train.py`).

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import matplotlib.pyplot as plt
import numpy as np

from layerwise.sequel.base_model import LayerStack
from layerwise.sequel.dataset import spiral
from layerwise.sequel.layers import Affine, Sigmoid, SoftmaxWithLoss
from layerwise.sequel.optimizer import SGD
from layerwise.sequel.trainer import Trainer

# %% [markdown]
# ## The spiral (section 1.4.1)

# %%
x, t = spiral.load_data(seed=1984)
print(x.shape, t.shape)

# %% [markdown]
# ## A two-layer network, the sequel's `ch01/two_layer_net.py` (section 1.4.2)

# %%
rng = np.random.default_rng(0)
hidden = 10
layers = [
    Affine(0.01 * rng.standard_normal((2, hidden)), np.zeros(hidden)),
    Sigmoid(),
    Affine(0.01 * rng.standard_normal((hidden, 3)), np.zeros(3)),
]
model = LayerStack(layers, SoftmaxWithLoss())
print(len(model.params), [p.shape for p in model.params])

# %% [markdown]
# ## Training with the `Trainer` (section 1.4.4): SGD, learning rate 1, batch 30, 300 epochs

# %%
trainer = Trainer(model, SGD(lr=1.0), seed=0)
trainer.fit(x, t, max_epoch=300, batch_size=30, eval_interval=None)

xx, yy = np.meshgrid(np.linspace(-1.1, 1.1, 200), np.linspace(-1.1, 1.1, 200))
regions = model.predict(np.c_[xx.ravel(), yy.ravel()]).argmax(axis=1).reshape(xx.shape)
plt.contourf(xx, yy, regions, alpha=0.3)
plt.scatter(x[:, 0], x[:, 1], c=t.argmax(axis=1), s=12)
plt.gca().set_aspect("equal")
plt.show()
