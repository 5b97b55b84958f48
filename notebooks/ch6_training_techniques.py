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
# # Chapter 6: training techniques (学習に関するテクニック / 与学习相关的技巧)
#
# The update rules compared on the same minibatches (figure 6-9), BatchNorm and Dropout.

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

from layerwise import MultiLayerNet, MultiLayerNetExtend
from layerwise.datasets import load_sample
from layerwise.optimizers import get_optimizer
from layerwise.util import smooth_curve

(x_train, t_train), (x_test, t_test) = load_sample()

# %% [markdown]
# ## BatchNorm and Dropout are layers of MultiLayerNetExtend

# %%
net = MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True, use_dropout=True, seed=0)
print(list(net.layers))

# %% [markdown]
# ## SGD, Momentum, AdaGrad and Adam (figure 6-9)

# %%
settings = {"SGD": 0.01, "Momentum": 0.01, "AdaGrad": 0.01, "Adam": 0.001}
for name, lr in settings.items():
    network = MultiLayerNet(784, [100, 100, 100, 100], 10, seed=0)
    optimizer = get_optimizer(name, lr=lr)
    rng = np.random.default_rng(0)  # the same minibatches for each
    losses = []
    for _ in range(200):
        idx = rng.choice(len(x_train), 128, replace=False)
        loss, grads = network.loss_and_gradient(x_train[idx], t_train[idx])
        optimizer.update(network.params, grads)
        losses.append(float(loss))
    plt.plot(smooth_curve(losses), label=name)
plt.xlabel("iterations")
plt.ylabel("loss")
plt.legend()
plt.show()
