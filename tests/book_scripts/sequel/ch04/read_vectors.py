# coding: utf-8
# Chapter 4: word vectors read back with pickle, as the sequel's eval.py reads them.
import sys
sys.path.append('..')
import pickle
from common.util import most_similar

pkl_file = sys.argv[1] if len(sys.argv) > 1 else 'vectors.pkl'
with open(pkl_file, 'rb') as f:
    params = pickle.load(f)
word_vecs = params['word_vecs']
print('vectors', word_vecs.dtype, word_vecs.shape)
most_similar('you', params['word_to_id'], params['id_to_word'], word_vecs, top=2)
