# Chapter 6: a figure shown with plt.show(), as the chapter's scripts draw theirs.
import sys, os
sys.path.append(os.pardir)
import numpy as np
import matplotlib.pyplot as plt

x = np.arange(0, 6, 0.1)
plt.plot(x, np.sin(x))
plt.title("sin")
plt.show()
print("shown")
