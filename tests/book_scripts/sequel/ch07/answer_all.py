# coding: utf-8
# Imports its neighbour by its bare name, as the sequel's ch07/peeky_seq2seq.py does.
import sys
sys.path.append('..')
from common.util import eval_seq2seq
from answerer import Answerer


def accuracy(x, t, id_to_char):
    model = Answerer(x, t)
    return sum(eval_seq2seq(model, x[[i]], t[[i]], id_to_char) for i in range(len(x))) / len(x)
