# coding: utf-8
# Chapter 4's kind of layer: the dot of a hidden vector with a word's embedding, then a sigmoid.
import sys
sys.path.append('..')
from common.np import *  # import numpy as np
from common.layers import Embedding, SigmoidWithLoss


class EmbeddingDotLoss:
    def __init__(self, W):
        self.embed = Embedding(W)
        self.loss_layer = SigmoidWithLoss()
        self.params, self.grads = self.embed.params, self.embed.grads
        self.cache = None

    def forward(self, h, idx, label):
        target_W = self.embed.forward(idx)
        score = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return self.loss_layer.forward(score, label)

    def backward(self, dout=1):
        h, target_W = self.cache
        dscore = self.loss_layer.backward(dout).reshape(-1, 1)
        self.embed.backward(dscore * h)
        return dscore * target_W
