# coding: utf-8
# Chapter 6: a language model on the PTB, saved with save_params.
import sys
sys.path.append('..')
from common.optimizer import SGD
from common.trainer import RnnlmTrainer
from common.util import eval_perplexity
from dataset import ptb
from tiny_rnnlm import TinyRnnlm
import numpy as np

# Seeded: about one unseeded start in twelve leaves 'N' followed by a word other than '<unk>'.
np.random.seed(0)

corpus, word_to_id, id_to_word = ptb.load_data('train')
corpus_test, _, _ = ptb.load_data('test')
vocab_size = len(word_to_id)
print('corpus', len(corpus), 'vocabulary', vocab_size)
model = TinyRnnlm(vocab_size)
trainer = RnnlmTrainer(model, SGD(lr=5.0))
trainer.fit(corpus[:-1], corpus[1:], max_epoch=20, batch_size=4, time_size=5, max_grad=0.5,
            eval_interval=1000)
model.reset_state()
print('test perplexity: ', eval_perplexity(model, corpus_test, batch_size=2, time_size=5))
model.save_params()
