"""Book section 5.7.4: train TwoLayerNet (784-50-10) by backpropagation.

10,000 iterations of minibatch SGD (batch 100, learning rate 0.1), with the training and test
accuracy printed once per epoch, as in the book's train_neuralnet.py. It uses Fashion-MNIST
(Debian's dataset-fashion-mnist, a local copy or a download) by default; `--mnist` uses MNIST,
`--sample` the small sample shipped with layerwise (no files needed).

    python examples/train_neuralnet.py [--mnist | --sample] [--seed N] [--dtype float64]
"""

import argparse

import numpy as np

from layerwise import TwoLayerNet, blas_threads
from layerwise.datasets import load_fashion_mnist, load_mnist, load_sample
from layerwise.optimizers import SGD
from layerwise.training import as_batch

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
source = parser.add_mutually_exclusive_group()
source.add_argument("--mnist", action="store_true")
source.add_argument("--sample", action="store_true")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
parser.add_argument("--iters", type=int, default=10_000)
args = parser.parse_args()

load = load_mnist if args.mnist else load_sample if args.sample else load_fashion_mnist
# uint8 images: a quarter of float32's memory; each batch is scaled to [0, 1] when used.
(x_train, t_train), (x_test, t_test) = load(normalize=False)
dtype = np.dtype(args.dtype)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, dtype=dtype, seed=args.seed)
optimizer = SGD(lr=0.1)
rng = np.random.default_rng(args.seed)

iters_num = args.iters
train_size = x_train.shape[0]
batch_size = 100
iter_per_epoch = max(train_size // batch_size, 1)

train_loss_list, train_acc_list, test_acc_list = [], [], []


def accuracy(x, t):
    correct = 0
    for i in range(0, len(x), 1000):  # in chunks: no float copy of the whole set
        y = network.predict(as_batch(x[i : i + 1000], dtype))
        correct += int(np.sum(np.argmax(y, axis=1) == t[i : i + 1000]))
    return correct / len(x)


# One BLAS thread is fastest for these small matrix products (see docs/performance.md).
with blas_threads(1):
    for i in range(iters_num):
        # A fresh permutation each epoch: every sample once per epoch (the book samples with
        # replacement using np.random.choice).
        if i % iter_per_epoch == 0:
            order = rng.permutation(train_size)
        batch_mask = order[
            (i % iter_per_epoch) * batch_size : (i % iter_per_epoch + 1) * batch_size
        ]
        x_batch = as_batch(x_train[batch_mask], dtype)
        t_batch = t_train[batch_mask]

        loss, grad = network.loss_and_gradient(x_batch, t_batch)
        optimizer.update(network.params, grad)
        train_loss_list.append(float(loss))

        if (i + 1) % iter_per_epoch == 0 or i + 1 == iters_num:
            train_acc = accuracy(x_train, t_train)
            test_acc = accuracy(x_test, t_test)
            train_acc_list.append(train_acc)
            test_acc_list.append(test_acc)
            print(
                f"iteration {i + 1:>6}  loss {loss:.4f}  train acc {train_acc:.4f}  "
                f"test acc {test_acc:.4f}"
            )

print(f"final test accuracy: {test_acc_list[-1]:.4f}")
