# Chapter 7: the chapter's params.pkl read back, as visualize_filter.py does.
import sys, os
sys.path.append(os.pardir)
import pickle

with open("params.pkl", 'rb') as f:
    params = pickle.load(f)
print("W1[0, 0]:" + str(params['W1'][0, 0]))
