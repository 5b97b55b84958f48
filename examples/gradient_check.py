"""Book section 5.7.3: check backpropagation against numerical gradients on TwoLayerNet.

Runs on the shipped Fashion-MNIST sample, so it needs no download. The book prints the mean
absolute difference per parameter. This also prints the measure `layerwise gradcheck` uses and
passes below 1e-7: the largest difference over the parameter divided by the largest gradient entry
of the whole network. An entry-by-entry relative error would divide by gradients near zero (a W1
row for pixels that are almost 0 in these images) and report their rounding noise instead.
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

scale = max(float(np.max(np.abs(g))) for g in grad_backprop.values())
worst = 0.0
for key in grad_numerical:
    a, b = grad_backprop[key], grad_numerical[key]
    diff = np.average(np.abs(a - b))
    err = float(np.max(np.abs(a - b))) / scale
    worst = max(worst, err)
    measure = "max |backprop - numerical| / largest gradient"
    print(f"{key}: mean |difference| {diff:.3e}, {measure} {err:.2e}")
ok = worst <= 1e-7
verdict = "OK" if ok else "FAILED"
print(f"worst {worst:.2e}: {verdict} (threshold 1e-7, float64, as layerwise gradcheck)")
