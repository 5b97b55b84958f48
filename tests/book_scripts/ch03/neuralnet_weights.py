# Chapter 3: inference with weights from the chapter's own sample_weight.pkl, as the book does.
import sys, os
sys.path.append(os.pardir)
import pickle
import numpy as np
from dataset.mnist import load_mnist
from common.functions import sigmoid, softmax


def get_data():
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=False)
    return x_test, t_test


def init_network():
    with open("sample_weight.pkl", 'rb') as f:
        network = pickle.load(f)
    return network


def predict(network, x):
    a1 = np.dot(x, network['W1']) + network['b1']
    z1 = sigmoid(a1)
    a2 = np.dot(z1, network['W2']) + network['b2']
    return softmax(a2)


x, t = get_data()
network = init_network()
print("calculating accuracy ...")
y = predict(network, x)
accuracy = np.sum(np.argmax(y, axis=1) == t) / len(x)
print("Accuracy:" + str(accuracy))
print(accuracy)
print("images:" + str(len(x)))
