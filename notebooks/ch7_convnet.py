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
# # Chapter 7: convolutional networks (畳み込みニューラルネットワーク / 卷积神经网络)
#
# im2col, then SimpleConvNet trained for one epoch of the sample, and its first layer's filters
# before and after (figure 7-24).

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

from layerwise import SimpleConvNet, Trainer
from layerwise.datasets import load_sample
from layerwise.util import im2col

# %%
x = np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)
print(im2col(x, 3, 3))

# %%
(x_train, t_train), (x_test, t_test) = load_sample(normalize=False, flatten=False)
net = SimpleConvNet(seed=0)
before = net.params["W1"].copy()
trainer = Trainer(
    net,
    x_train[:2000],
    t_train[:2000],
    x_test,
    t_test,
    epochs=1,
    optimizer="Adam",
    optimizer_param={"lr": 0.001},
    verbose=False,
)
trainer.train()
print("test accuracy", trainer.test_acc_list[-1])

# %%
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for row, weights, title in [(0, before, "before"), (1, net.params["W1"], "after")]:
    for i, ax in enumerate(axes[row]):
        ax.imshow(weights[i, 0], cmap="gray_r")
        ax.set_axis_off()
    axes[row][0].set_title(title, loc="left")
plt.show()
