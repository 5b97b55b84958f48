# Chapter 5: the book's training loop, a fixed number of steps, both sets evaluated each epoch.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
iters_num = int(sys.argv[1])
train_size = x_train.shape[0]
batch_size = 100
iter_per_epoch = max(train_size / batch_size, 1)
W = np.zeros((784, 10))

evaluated = 0
for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    W -= 0.01 * x_train[batch_mask].T @ np.ones((batch_size, 10))
    if i % iter_per_epoch == 0:
        for x in (x_train, x_test):
            (x @ W).argmax(axis=1)
            evaluated += len(x)
print("train:" + str(len(x_train)) + " test:" + str(len(x_test)))
print("evaluated per step:" + str(evaluated / iters_num))
