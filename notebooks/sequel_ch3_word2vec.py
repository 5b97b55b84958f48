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
# # The sequel, chapter 3: word2vec (word2vec / word2vec)
#
# The simple CBOW model with a full softmax, trained on the book's sentence (`ch03/train.py`).

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import contextlib
import io

import matplotlib.pyplot as plt

from layerwise.sequel.optimizer import Adam
from layerwise.sequel.trainer import Trainer
from layerwise.sequel.util import convert_one_hot, create_contexts_target, preprocess
from layerwise.sequel.word2vec import SimpleCBOW, SimpleSkipGram

# %% [markdown]
# ## Contexts and targets as one-hot rows (section 3.3)

# %%
corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
vocab_size = len(word_to_id)
contexts, target = create_contexts_target(corpus, window_size=1)
print(contexts, target)
contexts, target = convert_one_hot(contexts, vocab_size), convert_one_hot(target, vocab_size)

# %% [markdown]
# ## CBOW and skip-gram, 1000 epochs of Adam (sections 3.4-3.5)

# %%
losses = {}
for model_class in (SimpleCBOW, SimpleSkipGram):
    model = model_class(vocab_size, 5, seed=0)
    trainer = Trainer(model, Adam(), seed=0)
    with contextlib.redirect_stdout(io.StringIO()):  # the sequel's line per epoch, left out
        trainer.fit(contexts, target, max_epoch=1000, batch_size=3, eval_interval=20)
    losses[model_class.__name__] = trainer.loss_list
    for word_id, word in id_to_word.items():
        print(f"{model_class.__name__:>14} {word:>8}", model.word_vecs[word_id].round(2))

# %%
for name, loss in losses.items():
    plt.plot(loss, label=name)
plt.xlabel("epochs")
plt.ylabel("loss")
plt.legend()
plt.show()
