"""Book section 5.7.3: check backpropagation against numerical gradients on TwoLayerNet.

Runs on the shipped Fashion-MNIST sample, so it needs no download. The book prints the mean
absolute difference per parameter; this also prints the largest relative error.
"""

import numpy as np

from layerwise import TwoLayerNet
from layerwise.datasets import load_sample

(x_train, t_train), _ = load_sample(normalize=True, one_hot_label=True)
# float64, as in the book: central differences in float32 give only about three digits.
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=0)

x_batch = x_train[:3].astype(np.float64)
t_batch = t_train[:3]

grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)

for key in grad_numerical:
    a, b = grad_backprop[key], grad_numerical[key]
    diff = np.average(np.abs(a - b))
    rel = np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))
    print(f"{key}: mean |difference| {diff:.3e}, max relative error {rel:.3e}")
