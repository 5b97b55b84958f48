# coding: utf-8
# The sequel's GPU switch.
import sys
sys.path.append('..')
from common import config
config.GPU = True
from common.np import *
print('array module', np.__name__)
