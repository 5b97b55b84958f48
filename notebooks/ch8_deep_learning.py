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
# # Chapter 8: deep learning (ディープラーニング / 深度学习)
#
# DeepConvNet, trained briefly on part of the sample, and the test images it gets wrong
# (figure 8-6). Train longer (`epochs`, all 5000 images) for a better network.

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import matplotlib.pyplot as plt

from layerwise import DeepConvNet, Trainer
from layerwise.datasets import CLASS_NAMES, load_sample
from layerwise.training import predicted_labels

(x_train, t_train), (x_test, t_test) = load_sample(normalize=False, flatten=False)
net = DeepConvNet(seed=0)
print(list(net.layers))

# %%
trainer = Trainer(
    net,
    x_train[:500],
    t_train[:500],
    x_test[:200],
    t_test[:200],
    epochs=1,
    optimizer="Adam",
    optimizer_param={"lr": 0.001},
    verbose=False,
)
trainer.train()
predicted = predicted_labels(net, x_test[:200])
wrong = (predicted != t_test[:200]).nonzero()[0][:10]

# %%
fig, axes = plt.subplots(2, 5, figsize=(10, 4.5))
for ax, i in zip(axes.flat, wrong, strict=False):
    ax.imshow(x_test[i, 0], cmap="gray_r")
    ax.set_title(f"{CLASS_NAMES[t_test[i]]}\n→ {CLASS_NAMES[predicted[i]]}", fontsize=8)
for ax in axes.flat:
    ax.set_axis_off()
plt.show()
