# coding: utf-8
# A first-book module asked for in the sequel's clone.
import sys
sys.path.append('..')
from common.multi_layer_net import MultiLayerNet
