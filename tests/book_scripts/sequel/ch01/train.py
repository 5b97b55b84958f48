# coding: utf-8
# Chapter 1: the spiral, trained with the sequel's Trainer.
import sys
sys.path.append('..')
from common.optimizer import SGD
from common.trainer import Trainer
from dataset import spiral
from two_layer_net import TwoLayerNet

x, t = spiral.load_data()
print('x', x.shape, x.dtype)
print('t', t.shape, t.dtype)
model = TwoLayerNet(input_size=2, hidden_size=10, output_size=3)
print('W1[0, 0]', repr(float(model.params[0][0, 0])))
trainer = Trainer(model, SGD(lr=1.0))
trainer.fit(x, t, max_epoch=60, batch_size=30, eval_interval=10)
print('loss', trainer.loss_list[0], trainer.loss_list[-1])
