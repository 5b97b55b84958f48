# coding: utf-8
# Chapter 8 reuses chapter 7's module, as the sequel's ch08/train.py does.
import sys
sys.path.append('..')
from dataset import sequence
from ch07.answer_all import accuracy

(x_train, t_train), (x_test, t_test) = sequence.load_data('addition.txt')
char_to_id, id_to_char = sequence.get_vocab()
print('accuracy', accuracy(x_test, t_test, id_to_char))
