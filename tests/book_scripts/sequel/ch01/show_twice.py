# coding: utf-8
# Draw, show, draw again, show again: two pictures, as ch01/train_custom_loop.py makes.
import sys
sys.path.append('..')
import matplotlib.pyplot as plt
from dataset import spiral

x, t = spiral.load_data()
plt.plot([3, 2, 1])
plt.show()
print('open after the first show:', len(plt.get_fignums()))
plt.scatter(x[:, 0], x[:, 1])
plt.show()
plt.plot([1, 2])  # never shown: saved when the script ends
