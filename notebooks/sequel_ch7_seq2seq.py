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
# # The sequel, chapter 7: generating text with RNNs (RNNによる文章生成 / 基于RNN生成文本)
#
# Drawing text from a language model, and a peeky seq2seq with reversed questions learning to
# add, on additions in the format of the book's `addition.txt` made by `sequence.make_addition`
# (`sequence.load_data("addition.txt", data_dir=CLONE)` reads the book's own file).

# %%
from __future__ import annotations  # (every module of the project starts so)

# Installs layerwise when it is not importable (Colab, a fresh kernel); does nothing otherwise.
import importlib.util

if importlib.util.find_spec("layerwise") is None:
    # %pip install layerwise matplotlib
    pass

# %%
import matplotlib.pyplot as plt

from layerwise.sequel.dataset import sequence
from layerwise.sequel.optimizer import Adam
from layerwise.sequel.rnnlm_gen import RnnlmGen
from layerwise.sequel.seq2seq import PeekySeq2seq, eval_seq2seq, seq2seq_accuracy
from layerwise.sequel.trainer import Trainer

# %% [markdown]
# ## Generation (section 7.1): the same seed, the same draws

# %%
model = RnnlmGen(vocab_size=10, wordvec_size=8, hidden_size=8, seed=0)
for _ in range(2):
    model.reset_state()
    print(model.generate(0, skip_ids=[9], sample_size=12, seed=3))

# %% [markdown]
# ## Additions, reversed questions (sections 7.3-7.4)

# %%
text = sequence.make_addition(12000, seed=0)
(x_train, t_train), (x_test, t_test) = sequence.split_text(text, seed=1984)
char_to_id, id_to_char = sequence.get_vocab()
x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
print(x_train.shape, t_train.shape, sorted(char_to_id))

# %% [markdown]
# ## PeekySeq2seq, D 16, H 128, Adam, batch 128, clipped at 5: accuracy after each epoch

# %%
seq2seq = PeekySeq2seq(len(char_to_id), 16, 128, seed=0)
trainer = Trainer(seq2seq, Adam(), seed=0)
accuracy = []
for _ in range(6):
    trainer.fit(x_train, t_train, max_epoch=1, batch_size=128, max_grad=5.0, eval_interval=None)
    accuracy.append(seq2seq_accuracy(seq2seq, x_test, t_test))
for i in range(3):
    eval_seq2seq(seq2seq, x_test[[i]], t_test[[i]], id_to_char, verbose=True, is_reverse=True)

# %%
plt.plot(range(1, len(accuracy) + 1), accuracy, marker="o")
plt.xlabel("epoch")
plt.ylabel("test accuracy")
plt.show()
