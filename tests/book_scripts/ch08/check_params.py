# Chapter 8: weights from a file of the book's kind, read with load_params; then accuracy.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from common.multi_layer_net_extend import MultiLayerNetExtend

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)

network = MultiLayerNetExtend(input_size=784, hidden_size_list=[40], output_size=10,
                              use_batchnorm=False)
before = network.accuracy(x_test, t_test)
network.load_params(sys.argv[1])
after = network.accuracy(x_test, t_test)
print("loaded " + ", ".join(network.params.keys()))
print("test acc:" + str(after) + " (before loading:" + str(before) + ")")
