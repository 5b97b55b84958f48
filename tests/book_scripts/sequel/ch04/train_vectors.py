# coding: utf-8
# Chapter 4: word vectors from pairs and non-pairs, saved as the sequel's train.py saves them.
import sys
sys.path.append('..')
from common import config
from common.np import *
import pickle
from common.layers import Embedding
from common.optimizer import Adam
from common.util import preprocess, create_contexts_target, to_cpu
from ch04.word_layer import EmbeddingDotLoss

text = 'You say goodbye and I say hello.'
corpus, word_to_id, id_to_word = preprocess(text)
contexts, target = create_contexts_target(corpus, window_size=1)
V, H = len(word_to_id), 5
np.random.seed(0)
W_in = 0.1 * np.random.randn(V, H).astype('f')
W_out = 0.1 * np.random.randn(V, H).astype('f')
in_layer = Embedding(W_in)
loss_layer = EmbeddingDotLoss(W_out)
params, grads = in_layer.params + loss_layer.params, in_layer.grads + loss_layer.grads
optimizer = Adam(lr=0.05)
wrong = (contexts[:, 0] + 3) % V
losses = []
for epoch in range(100):
    loss = 0
    for words, label in ((contexts[:, 0], 1), (wrong, 0)):
        h = in_layer.forward(target)
        loss += loss_layer.forward(h, words, np.full(len(target), label))
        in_layer.backward(loss_layer.backward())
        optimizer.update(params, grads)
    losses.append(float(loss))
print('loss', losses[0], losses[-1])

params = {}
params['word_vecs'] = to_cpu(W_in).astype(np.float16)
params['word_to_id'] = word_to_id
params['id_to_word'] = id_to_word
with open('vectors.pkl', 'wb') as f:
    pickle.dump(params, f, -1)
print('GPU', config.GPU)
