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
# # The sequel, chapter 4: speeding up word2vec (word2vecの高速化 / word2vec的高速化)
#
# The embedding layer, negative sampling, and CBOW trained on a real English text every Python
# carries (the Python Language Reference, `pydoc_data.topics`; the book uses the PTB, which
# `layerwise.sequel.dataset.ptb.load_data` reads where it can be had).

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

from layerwise.sequel.layers import Embedding
from layerwise.sequel.negative_sampling import UnigramSampler
from layerwise.sequel.optimizer import Adam
from layerwise.sequel.trainer import Trainer
from layerwise.sequel.util import create_contexts_target, most_similar, preprocess
from layerwise.sequel.word2vec import CBOW

# %% [markdown]
# ## Embedding: a row lookup, and gradients added where an id repeats (section 4.1)

# %%
embed = Embedding(np.arange(12.0).reshape(4, 3))
print(embed.forward(np.array([1, 3, 1])))
embed.backward(np.ones((3, 3)))
print(embed.grads[0])

# %% [markdown]
# ## Negatives drawn from the unigram distribution to the power 0.75 (section 4.2.6)

# %%
sampler = UnigramSampler(np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 3]), 0.75, 2, seed=0)
print(sampler.get_negative_sample(np.array([0, 3])))

# %% [markdown]
# ## CBOW with negative sampling on the Language Reference's prose (section 4.3)

# %%
prose = [p for p in "\n\n".join(topics.values()).split("\n\n") if not p.startswith(" ")]
text = " ".join(re.findall(r"[a-z]+|\.", " ".join(prose).lower()))
corpus, word_to_id, id_to_word = preprocess(text)
contexts, target = create_contexts_target(corpus, window_size=5)
model = CBOW(len(word_to_id), 100, 5, corpus, seed=0)
trainer = Trainer(model, Adam(), seed=0)
trainer.fit(contexts, target, max_epoch=3, batch_size=100, eval_interval=100)
for query in ["raised", "class"]:
    most_similar(query, word_to_id, id_to_word, model.word_vecs, top=4)

# %%
plt.plot(np.arange(len(trainer.loss_list)) * 100, trainer.loss_list)
plt.xlabel("iterations")
plt.ylabel("loss")
plt.show()
