# coding: utf-8
# Chapter 7: chapter 6's model and the weights it saved, read from ../ch06.
import sys
sys.path.append('..')
import numpy as np
from ch06.tiny_rnnlm import TinyRnnlm
from dataset import ptb

corpus, word_to_id, id_to_word = ptb.load_data('train')
model = TinyRnnlm(len(word_to_id))
model.load_params('../ch06/TinyRnnlm.pkl')
print('embed[0, 0]', repr(float(model.params[0][0, 0])))
x = word_to_id['the']
words = ['the']
for _ in range(4):
    score = model.predict(np.array(x).reshape(1, 1))
    x = int(np.argmax(score.flatten()))
    words.append(id_to_word[x])
print(' '.join(words))
