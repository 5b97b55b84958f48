# Chapter 6: the optimizers on f(x, y) = x**2 / 20 + y**2, the point kept as two Python floats.
import sys, os
sys.path.append(os.pardir)
from collections import OrderedDict
from common.optimizer import *


def df(x, y):
    return x / 10.0, 2.0 * y


optimizers = OrderedDict()
optimizers["SGD"] = SGD(lr=0.95)
optimizers["Momentum"] = Momentum(lr=0.1)
optimizers["AdaGrad"] = AdaGrad(lr=1.5)
optimizers["Adam"] = Adam(lr=0.3)

params, grads = {}, {}
for key in optimizers:
    optimizer = optimizers[key]
    params['x'], params['y'] = -7.0, 2.0
    for i in range(30):
        grads['x'], grads['y'] = df(params['x'], params['y'])
        optimizer.update(params, grads)
    print(key + " " + type(params['x']).__name__ + " " + repr(params['x']) + " " + repr(params['y']))
