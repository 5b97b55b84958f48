# Chapter 7: the chapter's weights written where the book writes them, params.pkl beside the script.
import sys, os
sys.path.append(os.pardir)
import pickle
import numpy as np

params = {'W1': np.full((2, 3), float(sys.argv[1]))}
with open("params.pkl", 'wb') as f:
    pickle.dump(params, f)
print("Saved Network Parameters!")
