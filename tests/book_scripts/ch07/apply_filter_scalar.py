# Chapter 7: one filter applied to an image, with a scalar bias as the book's apply_filter.py.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from common.layers import Convolution

rng = np.random.default_rng(7)
img = rng.random((1, 1, 12, 10))
w = rng.standard_normal((1, 1, 3, 3))
for b in (0, 0.5):
    out = Convolution(w, b).forward(img)
    print(str(b) + " " + "x".join(map(str, out.shape)) + " " + repr(out.ravel().tolist()))
