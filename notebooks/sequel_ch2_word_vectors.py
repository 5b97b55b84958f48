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
# # The sequel, chapter 2: words as vectors (自然言語と単語の分散表現 / 自然语言和单词的分布式表示)
#
# Counting: a co-occurrence matrix, PPMI and SVD, first on the book's sentence, then on a real
# English text every Python carries, the Python Language Reference (`pydoc_data.topics`; the PTB
# of the book cannot be downloaded everywhere: `layerwise.sequel.dataset.ptb.load_data("train")`
# reads it where it can).

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

from layerwise.sequel.util import create_co_matrix, most_similar, ppmi, preprocess

# %% [markdown]
# ## The book's sentence (sections 2.3-2.4)

# %%
corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
C = create_co_matrix(corpus, len(word_to_id))
W = ppmi(C)
U, S, V = np.linalg.svd(W)
print(C)
print(np.round(W, 2))

# %% [markdown]
# ## A real text: the Language Reference's prose, lower case, words and full stops

# %%
prose = [p for p in "\n\n".join(topics.values()).split("\n\n") if not p.startswith(" ")]
text = " ".join(re.findall(r"[a-z]+|\.", " ".join(prose).lower()))
corpus, word_to_id, id_to_word = preprocess(text)
print(len(corpus), "words,", len(word_to_id), "distinct")
W_big = ppmi(create_co_matrix(corpus, len(word_to_id), window_size=2))
U_big, _, _ = np.linalg.svd(W_big)
word_vecs = U_big[:, :100]
for query in ["true", "raised", "list"]:
    most_similar(query, word_to_id, id_to_word, word_vecs, top=4)

# %% [markdown]
# ## The sentence's words by the first two SVD columns (section 2.4.3)

# %%
_, small_to_id, _ = preprocess("You say goodbye and I say hello.")
for word, word_id in small_to_id.items():
    plt.annotate(word, (U[word_id, 0], U[word_id, 1]))
plt.scatter(U[:, 0], U[:, 1], alpha=0.5)
plt.show()
