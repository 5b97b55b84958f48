# coding: utf-8
# Chapter 7: the addition data set, and eval_seq2seq on a model that knows every answer.
import sys
sys.path.append('..')
import numpy as np
from dataset import sequence
from common.util import eval_seq2seq
from answerer import Answerer

(x_train, t_train), (x_test, t_test) = sequence.load_data('addition.txt', seed=1984)
print('next draw', np.random.randint(1000))
char_to_id, id_to_char = sequence.get_vocab()
print(x_train.shape, t_train.shape)
print(x_test.shape, t_test.shape)
print(''.join([id_to_char[c] for c in x_train[0]]) + '|' + ''.join([id_to_char[c] for c in t_train[0]]))


model = Answerer(x_test, t_test)
correct_num = 0
for i in range(len(x_test)):
    correct_num += eval_seq2seq(model, x_test[[i]], t_test[[i]], id_to_char, i < 1, False)
print('val acc %.3f%%' % (100 * correct_num / len(x_test)))
