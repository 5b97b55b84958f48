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
# # Chapter 5: backpropagation (誤差逆伝播法 / 误差反向传播法)
#
# The apples' computational graph with `MulLayer`, the layers of a network, the gradient check
# and a first training of `TwoLayerNet` on the Fashion-MNIST sample shipped with layerwise.

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

from layerwise import MulLayer, Trainer, TwoLayerNet
from layerwise.datasets import load_sample

# %% [markdown]
# ## The apples (section 5.4)

# %%
mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
price = mul_tax_layer.forward(mul_apple_layer.forward(100, 2), 1.1)
dapple_price, dtax = mul_tax_layer.backward(1)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)
print(round(price), dapple, round(dapple_num), dtax)

# %% [markdown]
# ## The gradient check (section 5.7.3), in float64

# %%
(x_train, t_train), (x_test, t_test) = load_sample()
network = TwoLayerNet(784, 10, 10, seed=0, dtype=np.float64)
grad_numerical = network.numerical_gradient(x_train[:3], t_train[:3])
grad_backprop = network.gradient(x_train[:3], t_train[:3])
for key in grad_numerical:
    print(key, np.average(np.abs(grad_backprop[key] - grad_numerical[key])))

# %% [markdown]
# ## Training (section 5.7.4)

# %%
network = TwoLayerNet(784, 50, 10, seed=0)
trainer = Trainer(
    network,
    x_train,
    t_train,
    x_test,
    t_test,
    epochs=5,
    optimizer="SGD",
    optimizer_param={"lr": 0.1},
    verbose=False,
)
trainer.train()

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(trainer.train_loss_list)
ax1.set(xlabel="iteration", ylabel="loss")
ax2.plot(trainer.train_acc_list, label="train")
ax2.plot(trainer.test_acc_list, label="test")
ax2.set(xlabel="epoch", ylabel="accuracy")
ax2.legend()
plt.show()
