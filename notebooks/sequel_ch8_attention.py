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
# # The sequel, chapter 8: attention (Attention / Attention)
#
# `AttentionSeq2seq` trained briefly on dates in the format of the book's `date.txt` (made by
# `sequence.make_dates`; `sequence.load_data("date.txt", data_dir=CLONE)` reads the book's), and
# the attention map of one conversion. Train longer (more dates, more epochs,
# H 256) for the book's sharp map: the guide's figure does.

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import matplotlib.pyplot as plt

from layerwise.sequel.attention import AttentionSeq2seq, plot_attention
from layerwise.sequel.dataset import sequence
from layerwise.sequel.optimizer import Adam
from layerwise.sequel.seq2seq import seq2seq_accuracy
from layerwise.sequel.trainer import Trainer

# %% [markdown]
# ## Dates, reversed questions

# %%
text = sequence.make_dates(6000, seed=0)
(x_train, t_train), (x_test, t_test) = sequence.split_text(text, seed=1984)
char_to_id, id_to_char = sequence.get_vocab()
x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
print(text.splitlines()[0])

# %% [markdown]
# ## AttentionSeq2seq, D 16, H 64, Adam, batch 128, clipped at 5 (section 8.4)

# %%
model = AttentionSeq2seq(len(char_to_id), 16, 64, seed=0)
trainer = Trainer(model, Adam(), seed=0)
trainer.fit(x_train, t_train, max_epoch=4, batch_size=128, max_grad=5.0, eval_interval=None)
print("test accuracy", seq2seq_accuracy(model, x_test, t_test))

# %% [markdown]
# ## The attention map of the first test date (the question drawn forwards)

# %%
model.generate_batch(x_test[:1], t_test[:1, 0], t_test.shape[1] - 1)
amap = model.decoder.attention_map[0][:, ::-1]
question = [id_to_char[int(c)] for c in x_test[0, ::-1]]
answer = [id_to_char[int(c)] for c in t_test[0, 1:]]
plot_attention(amap, question, answer)
plt.show()
