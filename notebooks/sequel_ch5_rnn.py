# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The sequel, chapter 5: recurrent networks (リカレントニューラルネットワーク（RNN） / RNN)
#
# `TimeRNN` carrying its state from batch to batch, and `SimpleRnnlm` trained with truncated
# backpropagation through time on the first 1000 words of a real text (the book's
# `ch05/train.py` takes the PTB's first 1000; here the Python Language Reference's).

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import re
from pydoc_data.topics import topics

import matplotlib.pyplot as plt
import numpy as np

from layerwise.sequel.optimizer import SGD
from layerwise.sequel.rnnlm import SimpleRnnlm
from layerwise.sequel.time_layers import TimeRNN
from layerwise.sequel.trainer import RnnlmTrainer
from layerwise.sequel.util import preprocess

# %% [markdown]
# ## A sequence read in two pieces is read as one (section 5.3)

# %%
rng = np.random.default_rng(0)
Wx, Wh, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.zeros(4)
xs = rng.normal(size=(2, 6, 3))
pieces = TimeRNN(Wx, Wh, b, stateful=True)
in_two = np.concatenate([pieces.forward(xs[:, :4]), pieces.forward(xs[:, 4:])], axis=1)
print(np.allclose(in_two, TimeRNN(Wx, Wh, b).forward(xs)))

# %% [markdown]
# ## SimpleRnnlm on 1000 words (section 5.5: batch 10, 5 steps, SGD 0.1, 100 epochs)

# %%
prose = [p for p in "\n\n".join(topics.values()).split("\n\n") if not p.startswith(" ")]
text = " ".join(re.findall(r"[a-z]+|\.", " ".join(prose).lower()))
corpus, word_to_id, id_to_word = preprocess(text)
corpus = corpus[:1000]
vocab_size = int(corpus.max()) + 1
model = SimpleRnnlm(vocab_size, 100, 100, seed=0)
trainer = RnnlmTrainer(model, SGD(lr=0.1))
trainer.fit(corpus[:-1], corpus[1:], max_epoch=100, batch_size=10, time_size=5, eval_interval=20)

# %%
plt.plot(trainer.ppl_list)
plt.xlabel("every 20 iterations (one epoch)")
plt.ylabel("training perplexity")
plt.show()
