"""The book's own style of code runs on layerwise's layers unchanged.

`BookTwoLayerNet` below is written the way the book's chapter-5 `two_layer_net.py` is: a params
dict, an OrderedDict of layers built from those same arrays, `lastLayer`, `numerical_gradient`
with a closure that ignores its argument, `backward(dout=1)`. Only the import line differs.
"""

from collections import OrderedDict

import numpy as np

from layerwise import Affine, Relu, SoftmaxWithLoss, numerical_gradient
from layerwise.datasets import load_sample


class BookTwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        rng = np.random.default_rng(0)
        self.params = {}
        self.params["W1"] = weight_init_std * rng.standard_normal((input_size, hidden_size))
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * rng.standard_normal((hidden_size, output_size))
        self.params["b2"] = np.zeros(output_size)

        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        def loss_W(W):
            return self.loss(x, t)

        grads = {}
        for key in ("W1", "b1", "W2", "b2"):
            grads[key] = numerical_gradient(loss_W, self.params[key])
        return grads

    def gradient(self, x, t):
        self.loss(x, t)
        dout = 1
        dout = self.lastLayer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W2"], grads["b2"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads


def test_book_gradient_check_runs_on_layerwise():
    """The book's gradient_check.py: backprop and numerical gradients agree (section 5.7.3)."""
    (x_train, t_train), _ = load_sample(normalize=True, one_hot_label=True)
    network = BookTwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    x_batch, t_batch = x_train[:3], t_train[:3]
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    for key in grad_numerical:
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        assert diff < 1e-9, (key, diff)


def test_book_training_loop_runs_on_layerwise():
    """The book's train_neuralnet.py loop, a few hundred iterations on the shipped sample."""
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=True, one_hot_label=True)
    network = BookTwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    rng = np.random.default_rng(0)
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.1
    before = network.accuracy(x_test, t_test)
    for _ in range(300):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]  # in place: the layers see it
    after = network.accuracy(x_test, t_test)
    assert before < 0.3 and after > 0.7
