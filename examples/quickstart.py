"""Forward and backward through Affine -> Relu -> Affine -> SoftmaxWithLoss on a small batch."""

import numpy as np

from layerwise import Affine, Relu, SoftmaxWithLoss

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3))  # a batch of 4 samples with 3 features
t = np.array([0, 2, 1, 2])  # their labels among 3 classes

affine1 = Affine(0.1 * rng.standard_normal((3, 5)), np.zeros(5))
relu = Relu()
affine2 = Affine(0.1 * rng.standard_normal((5, 3)), np.zeros(3))
last = SoftmaxWithLoss()

loss = last.forward(affine2.forward(relu.forward(affine1.forward(x))), t)
dout = affine2.backward(last.backward())
affine1.backward(relu.backward(dout))

print(f"loss = {loss:.4f}")
print("dW1 shape:", affine1.dW.shape)
