# Chapter 3: a forward pass with fixed weights, the functions of common.functions.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from common.functions import sigmoid, softmax


def get_data():
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=False)
    return x_test, t_test


def init_network():
    rng = np.random.default_rng(0)
    network = {}
    network['W1'] = rng.standard_normal((784, 50)) * 0.01
    network['b1'] = np.zeros(50)
    network['W2'] = rng.standard_normal((50, 10)) * 0.01
    network['b2'] = np.zeros(10)
    return network


def predict(network, x):
    a1 = np.dot(x, network['W1']) + network['b1']
    z1 = sigmoid(a1)
    a2 = np.dot(z1, network['W2']) + network['b2']
    return softmax(a2)


x, t = get_data()
network = init_network()
accuracy_cnt = 0
for i in range(len(x)):
    y = predict(network, x[i])
    p = np.argmax(y)
    if p == t[i]:
        accuracy_cnt += 1

print("images:" + str(len(x)) + " " + str(x.dtype) + " " + str(x.shape))
print("Accuracy:" + str(float(accuracy_cnt) / len(x)))
