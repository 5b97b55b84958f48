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
# # The sequel, chapter 6: gated RNNs (ゲート付きRNN / Gated RNN)
#
# Gradient clipping, the LSTM, and `Rnnlm` against `BetterRnnlm` (two LSTM layers, dropout,
# tied weights) on a real English text every Python carries (the Python Language Reference;
# the book's PTB: `layerwise.sequel.dataset.ptb.load_data`). Small and short here: the guide's
# figure trains them for 10 epochs.

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
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm
from layerwise.sequel.trainer import RnnlmTrainer
from layerwise.sequel.util import clip_grads, eval_perplexity, preprocess

# %% [markdown]
# ## Clipping (section 6.1.4): all the gradients scaled together, in place

# %%
grads = [np.full(2, 30.0), np.full(2, 40.0)]
clip_grads(grads, 5.0)
print(grads, np.sqrt(sum((g**2).sum() for g in grads)))

# %% [markdown]
# ## The Language Reference's prose, a training part and a validation tenth

# %%
prose = [p for p in "\n\n".join(topics.values()).split("\n\n") if not p.startswith(" ")]
text = " ".join(re.findall(r"[a-z]+|\.", " ".join(prose).lower()))
corpus, word_to_id, id_to_word = preprocess(text)
cut = len(corpus) * 9 // 10
train, val = corpus[:cut], corpus[cut:]
print(len(train), "training words,", len(val), "validation words,", len(word_to_id), "distinct")

# %% [markdown]
# ## Rnnlm and BetterRnnlm, D = H = 50, SGD 20, batch 20 x 35, clipped at 0.25, 3 epochs
# (sections 6.4-6.5; the book's `train_rnnlm.py` with a smaller model)

# %%
curves = {}
for name, model in [
    ("Rnnlm", Rnnlm(len(word_to_id), 50, 50, seed=0)),
    ("BetterRnnlm", BetterRnnlm(len(word_to_id), 50, 50, seed=0)),
]:
    trainer = RnnlmTrainer(model, SGD(lr=20.0))
    trainer.fit(train[:-1], train[1:], max_epoch=3, max_grad=0.25, eval_interval=10)
    curves[name] = trainer.ppl_list
    model.reset_state()
    print(name, "validation perplexity", eval_perplexity(model, val))

# %%
for name, curve in curves.items():
    plt.plot(curve, label=name)
plt.xlabel("iterations (x10, as the sequel's trainer.plot())")
plt.ylabel("training perplexity (mean of 10 iterations)")
plt.ylim(0, 1000)
plt.legend()
plt.show()
