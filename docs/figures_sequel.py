"""The figures of the sequel's chapter guides (docs/sequel/), from real runs.

``docs/figures.py`` runs these after volume 1's, into the same folder and the same
``numbers.json`` (each key here starts with ``sequel_``); ``python docs/figures.py OUT NAME ...``
makes only the named ones. Everything is seeded; the seeds are in ``numbers.json``.

The word-level chapters (2, 4, 5-7) train on a real English text that every Python carries: the
Python Language Reference's topics as CPython ships them for ``help()`` (``pydoc_data.topics``),
brought to the PTB's conventions (lower case, numbers as ``N``, a word seen once in the training
part as ``<unk>``, ``<eos>`` after each sentence). It is not the PTB: the PTB cannot be
downloaded on the machines that build this site. Where it can be had, ``LAYERWISE_DOCS_CORPUS=ptb``
trains the same figures on it (``layerwise.sequel.dataset.ptb``, downloaded into the cache, or
from ``$LAYERWISE_DATA``)::

    LAYERWISE_DOCS_CORPUS=ptb python docs/figures.py docs/figures sequel_ch2_count \\
        sequel_ch4_word2vec sequel_ch6_perplexity sequel_ch7_generate

The seq2seq chapters (7, 8) read the sequel's ``addition.txt`` and ``date.txt`` where
``layerwise.sequel.dataset.sequence`` finds them ($LAYERWISE_DATA/sequel, ./dataset, ...), and
otherwise 50,000 lines of the same format made by ``make_addition`` / ``make_dates``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import re
import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from layerwise.sequel.attention import AttentionSeq2seq, plot_attention
from layerwise.sequel.base_model import LayerStack
from layerwise.sequel.dataset import ptb, sequence, spiral
from layerwise.sequel.layers import Affine, Sigmoid, SoftmaxWithLoss
from layerwise.sequel.optimizer import SGD, Adam
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.rnnlm_gen import BetterRnnlmGen
from layerwise.sequel.seq2seq import PeekySeq2seq, Seq2seq, seq2seq_accuracy
from layerwise.sequel.trainer import RnnlmTrainer, Trainer
from layerwise.sequel.util import (
    convert_one_hot,
    create_co_matrix,
    create_contexts_target,
    eval_perplexity,
    most_similar,
    ppmi,
    preprocess,
)
from layerwise.sequel.word2vec import CBOW, SimpleCBOW

DPI = 100
CORPUS = os.environ.get("LAYERWISE_DOCS_CORPUS", "reference")
# The words whose neighbours chapters 2 and 4 list: the PTB's are the book's own queries.
QUERIES = {
    "reference": ["function", "list", "true", "raised", "class"],
    "ptb": ["you", "year", "car", "toyota"],
}
# What one run leaves for a later figure (chapter 7 generates with chapter 6's model).
TRAINED: dict[str, object] = {}


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def quietly(call, *args, **kwargs):
    """``call(*args, **kwargs)`` with what it prints (the sequel's progress lines) dropped."""
    with contextlib.redirect_stdout(io.StringIO()):
        return call(*args, **kwargs)


def table(path, header, rows, note=None):
    """A Markdown table at ``path`` for a page to include, and a line under it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    lines += ["", note] if note else []
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- the corpus


def reference_words():
    """The Python Language Reference's topics as words, in the PTB's conventions."""
    from pydoc_data.topics import topics

    words = []
    text = "\n\n".join(topics[k] for k in sorted(topics))
    for paragraph in re.split(r"\n\s*\n", text.lower()):
        if paragraph.startswith(" "):  # indented: code, grammar rules, examples
            continue
        for sentence in re.split(r"[.;:?!]\s", " ".join(paragraph.split())):
            tokens = re.findall(r"[a-z]+(?:'[a-z]+)?|\d+", sentence)
            if len(tokens) >= 3:  # a heading is no sentence
                words += ["N" if w.isdigit() else w for w in tokens] + ["<eos>"]
    return words


def load_corpus():
    """``(train, val, word_to_id, id_to_word, name)``: word ids of the chosen corpus."""
    if CORPUS == "ptb":
        train, word_to_id, id_to_word = ptb.load_data("train")
        val, _, _ = ptb.load_data("val")
        return train, val, word_to_id, id_to_word, "PTB"
    words = reference_words()
    cut = len(words) * 9 // 10  # the last tenth for validation
    counts = collections.Counter(words[:cut])
    words = [w if counts[w] >= 2 else "<unk>" for w in words]
    word_to_id: dict[str, int] = {}
    for w in words:
        word_to_id.setdefault(w, len(word_to_id))
    ids = np.array([word_to_id[w] for w in words])
    id_to_word = {i: w for w, i in word_to_id.items()}
    python = ".".join(map(str, sys.version_info[:2]))
    return ids[:cut], ids[cut:], word_to_id, id_to_word, f"Python {python} Language Reference"


def neighbours(word_vecs, word_to_id, id_to_word, path, method, top=5):
    """The nearest words of the queries, as a table at ``path``; ``{query: "w (0.87), ..."}``."""
    found = {}
    for query in QUERIES["ptb" if CORPUS == "ptb" else "reference"]:
        if query in word_to_id:
            pairs = quietly(most_similar, query, word_to_id, id_to_word, word_vecs, top=top)
            found[query] = ", ".join(f"{w} ({s:.2f})" for w, s in pairs)
    header = ["query", f"nearest by cosine ({method}, {word_vecs.shape[1]} dims)"]
    table(path, header, [(f"`{q}`", n) for q, n in found.items()])
    return found


# ---------------------------------------------------------------------------- chapter 1


def two_layer_net(input_size, hidden_size, output_size, seed):
    """The sequel's ``ch01/two_layer_net.py``: Affine, Sigmoid, Affine, SoftmaxWithLoss."""
    rng = np.random.default_rng(seed)
    W1 = 0.01 * rng.standard_normal((input_size, hidden_size))
    W2 = 0.01 * rng.standard_normal((hidden_size, output_size))
    layers = [
        Affine(W1, np.zeros(hidden_size)),
        Sigmoid(),
        Affine(W2, np.zeros(output_size)),
    ]
    return LayerStack(layers, SoftmaxWithLoss())


def sequel_ch1_spiral(out, numbers):
    """Section 1.4: the spiral, the loss, the decision regions (ch01/train.py)."""
    x, t = spiral.load_data(seed=1984)
    model = two_layer_net(2, 10, 3, seed=0)
    trainer = Trainer(model, SGD(lr=1.0), seed=0)
    quietly(trainer.fit, x, t, max_epoch=300, batch_size=30, eval_interval=10)
    h = 0.01
    xx, yy = np.meshgrid(np.arange(-1.1, 1.1, h), np.arange(-1.1, 1.1, h))
    regions = model.predict(np.c_[xx.ravel(), yy.ravel()]).argmax(axis=1).reshape(xx.shape)
    accuracy = float((model.predict(x).argmax(axis=1) == t.argmax(axis=1)).mean())
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(np.arange(len(trainer.loss_list)) * 10, trainer.loss_list)
    a.set(xlabel="iterations", ylabel="loss", title="mean loss of each 10 iterations")
    b.contourf(xx, yy, regions, alpha=0.3, cmap="brg")
    for k, marker in enumerate("ox^"):
        b.scatter(*x[t[:, k] == 1].T, s=25, marker=marker, label=f"class {k}")
    b.set(title=f"decision regions (training accuracy {accuracy:.2f})", aspect="equal")
    b.legend(loc="lower right", fontsize=8)
    save(fig, out / "sequel_ch1_spiral.png")
    numbers["sequel_ch1"] = {
        "final_loss": trainer.loss_list[-1],
        "train_accuracy": accuracy,
        "seeds": {"spiral": 1984, "weights": 0, "shuffle": 0},
    }


# ---------------------------------------------------------------------------- chapter 2


def sequel_ch2_count(out, numbers):
    """Section 2.4.3 (co-occurrence, PPMI, SVD of one sentence) and SVD vectors of a corpus."""
    corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    C = create_co_matrix(corpus, len(word_to_id))
    W = ppmi(C)
    U, S, _ = np.linalg.svd(W)
    words = [id_to_word[i] for i in range(len(id_to_word))]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, M, title, fmt in [
        (axes[0], C, "co-occurrence matrix C (window 1)", "{:.0f}"),
        (axes[1], W, "PPMI", "{:.1f}"),
    ]:
        ax.imshow(M, cmap="Blues")
        for (i, j), v in np.ndenumerate(M):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(words)), words, rotation=45, fontsize=8)
        ax.set_yticks(range(len(words)), words, fontsize=8)
        ax.set_title(title)
    axes[2].scatter(U[:, 0], U[:, 1], alpha=0.5)
    for word, i in word_to_id.items():
        axes[2].annotate(
            word, (U[i, 0], U[i, 1]), xytext=(4, 4 - 12 * (word == "i")), textcoords="offset points"
        )
    axes[2].margins(0.2)
    axes[2].set_title("SVD: the first two columns of U")
    save(fig, out / "sequel_ch2_count.png")

    train, _, word_to_id, id_to_word, name = load_corpus()
    start = time.perf_counter()
    C = create_co_matrix(train, len(word_to_id), window_size=2)
    W = ppmi(C)
    try:  # the book's choice for the PTB's 10,000 words, where a full SVD takes long
        from sklearn.utils.extmath import randomized_svd

        U, S, _ = randomized_svd(W, n_components=100, n_iter=5, random_state=0)
    except ImportError:
        U, S, _ = np.linalg.svd(W)
    word_vecs = U[:, :100]
    found = neighbours(
        word_vecs, word_to_id, id_to_word, out / "sequel_ch2_neighbours.md", "PPMI + SVD"
    )
    numbers["sequel_ch2"] = {
        "corpus": name,
        "words": len(train),
        "vocabulary": len(word_to_id),
        "neighbours": found,
        "seconds": round(time.perf_counter() - start, 1),
    }


# ---------------------------------------------------------------------------- chapters 3-4


def sequel_ch3_simple_cbow(out, numbers):
    """Chapter 3's train.py: SimpleCBOW on one sentence, Adam, 1000 epochs, batch 3."""
    corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    contexts, target = create_contexts_target(corpus, window_size=1)
    V = len(word_to_id)
    contexts, target = convert_one_hot(contexts, V), convert_one_hot(target, V)
    model = SimpleCBOW(V, 5, seed=0)
    trainer = Trainer(model, Adam(), seed=0)
    # Two batches an epoch: the sequel's default eval_interval 20 gives one point an epoch.
    quietly(trainer.fit, contexts, target, max_epoch=1000, batch_size=3, eval_interval=20)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(trainer.loss_list)
    a.set(xlabel="epochs", ylabel="loss", title="SimpleCBOW, hidden 5, Adam")
    vecs = model.word_vecs
    b.imshow(vecs, cmap="coolwarm", aspect="auto")
    b.set_yticks(range(len(id_to_word)), [id_to_word[i] for i in range(len(id_to_word))])
    b.set(title="its word vectors W_in (one row a word)", xlabel="dimension")
    save(fig, out / "sequel_ch3_simple_cbow.png")
    numbers["sequel_ch3"] = {
        "final_loss": trainer.loss_list[-1],
        "seeds": {"model": 0, "shuffle": 0},
    }


def sequel_ch4_word2vec(out, numbers):
    """Chapter 4's train.py in small: CBOW with negative sampling on the corpus."""
    train, _, word_to_id, id_to_word, name = load_corpus()
    window, hidden, batch, epochs = 5, 100, 100, 10
    contexts, target = create_contexts_target(train, window)
    model = CBOW(len(word_to_id), hidden, window, train, seed=0)
    trainer = Trainer(model, Adam(), seed=0)
    start = time.perf_counter()
    quietly(trainer.fit, contexts, target, max_epoch=epochs, batch_size=batch, eval_interval=20)
    seconds = time.perf_counter() - start
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(np.arange(len(trainer.loss_list)) * 20, trainer.loss_list)
    ax.set(
        xlabel="iterations",
        ylabel="loss (mean of 20 iterations)",
        title=f"CBOW + negative sampling, {len(train):,} words of the {name}",
    )
    save(fig, out / "sequel_ch4_loss.png")
    found = neighbours(
        model.word_vecs, word_to_id, id_to_word, out / "sequel_ch4_neighbours.md", "CBOW"
    )
    numbers["sequel_ch4"] = {
        "corpus": name,
        "window": window,
        "hidden": hidden,
        "batch": batch,
        "epochs": epochs,
        "final_loss": trainer.loss_list[-1],
        "neighbours": found,
        "seconds": round(seconds, 1),
        "seeds": {"model and sampler": 0, "shuffle": 0},
    }


# ---------------------------------------------------------------------------- chapters 5-6


def sequel_ch6_perplexity(out, numbers):
    """Chapters 5 and 6 side by side: validation perplexity of RNN, LSTM, BetterRnnlm."""
    train, val, word_to_id, _, name = load_corpus()
    V, epochs = len(word_to_id), 10
    runs = {
        "SimpleRnnlm (RNN), lr 2": (SimpleRnnlm(V, 100, 100, seed=0), 2.0),
        "Rnnlm (LSTM), lr 20": (Rnnlm(V, 100, 100, seed=0), 20.0),
        "BetterRnnlm (2 LSTM, dropout 0.5, tied), lr 20": (BetterRnnlm(V, 100, 100, seed=0), 20.0),
    }
    curves, seconds = {}, {}
    for label, (model, lr) in runs.items():
        trainer = RnnlmTrainer(model, SGD(lr=lr))
        start = time.perf_counter()
        curves[label] = []
        for _ in range(epochs):
            trainer.fit(
                train[:-1],
                train[1:],
                max_epoch=1,
                batch_size=20,
                time_size=35,
                max_grad=0.25,
                eval_interval=None,
            )
            model.reset_state()
            curves[label].append(quietly(eval_perplexity, model, val, batch_size=10))
            model.reset_state()
        seconds[label] = round(time.perf_counter() - start, 1)
    TRAINED["better_rnnlm"] = runs["BetterRnnlm (2 LSTM, dropout 0.5, tied), lr 20"][0]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, curve in curves.items():
        ax.plot(range(1, epochs + 1), curve, marker="o", label=label)
    ax.set(
        xlabel="epoch",
        ylabel="validation perplexity",
        ylim=(0, 400),
    )
    ax.set_title(
        f"language models on the {name}\nD = H = 100, batch 20 x 35 steps, clipped at 0.25",
        fontsize=10,
    )
    ax.legend()
    save(fig, out / "sequel_ch6_perplexity.png")
    table(
        out / "sequel_ch6_perplexity.md",
        ["model", "best validation perplexity (epoch)", "after the last epoch", "seconds"],
        [
            (label, f"{min(c):.1f} ({int(np.argmin(c)) + 1})", f"{c[-1]:.1f}", seconds[label])
            for label, c in curves.items()
        ],
    )
    numbers["sequel_ch6"] = {
        "corpus": name,
        "train_words": len(train),
        "val_words": len(val),
        "vocabulary": V,
        "validation_perplexity": curves,
        "seconds": seconds,
        "seeds": {"weights and dropout": 0},
    }


# ---------------------------------------------------------------------------- chapter 7


def sequel_ch7_generate(out, numbers):
    """Section 7.1: text drawn from chapter 6's BetterRnnlm (three seeds)."""
    if "better_rnnlm" not in TRAINED:
        sequel_ch6_perplexity(out, numbers)
    trained = TRAINED["better_rnnlm"]
    _, _, word_to_id, id_to_word, name = load_corpus()
    model = BetterRnnlmGen(len(word_to_id), 100, 100, seed=0)
    for mine, theirs in zip(model.params, trained.params, strict=True):
        mine[...] = theirs  # as save_params then load_params would
    skip_ids = [word_to_id[w] for w in ("<unk>", "N") if w in word_to_id]
    start = "the"
    texts = {}
    for seed in range(3):
        model.reset_state()
        ids = model.generate(word_to_id[start], skip_ids, sample_size=60, seed=seed)
        text = " ".join(id_to_word[i] for i in ids)
        text = re.sub(r"( <eos>)+", ".", text)  # an empty sentence is no sentence
        texts[seed] = text
    lines = [f"Drawn from chapter 6's BetterRnnlm, trained on the {name}, from `{start}`:", ""]
    lines += [f"- seed {seed}: *{text}*" for seed, text in texts.items()]
    (out / "sequel_ch7_generated.md").write_text("\n".join(lines) + "\n")
    numbers["sequel_ch7_generated"] = texts


def sequence_data(file_name, make):
    """The sequel's file where found, else 50,000 generated lines; split as the sequel does."""
    try:
        (x, t), (x_test, t_test) = sequence.load_data(file_name)
        source = f"the sequel's {file_name}"
    except FileNotFoundError:
        (x, t), (x_test, t_test) = sequence.split_text(make(50000, seed=0), seed=1984)
        source = f"50,000 lines made by `sequence.{make.__name__}(50000, seed=0)`"
    char_to_id, id_to_char = sequence.get_vocab()
    return x, t, x_test, t_test, char_to_id, id_to_char, source


def train_seq2seq(model, x, t, x_test, t_test, epochs):
    """Adam, batch 128, gradients clipped at 5 (the sequel's ch07/ch08 settings)."""
    trainer = Trainer(model, Adam(), seed=0)
    accuracy = []
    for _ in range(epochs):
        quietly(trainer.fit, x, t, max_epoch=1, batch_size=128, max_grad=5.0, eval_interval=None)
        accuracy.append(seq2seq_accuracy(model, x_test, t_test))
    return accuracy


def sequel_ch7_addition(out, numbers):
    """Section 7.4 in one figure: plain, reversed, and reversed peeky seq2seq."""
    x, t, x_test, t_test, char_to_id, id_to_char, source = sequence_data(
        "addition.txt", sequence.make_addition
    )
    V, epochs = len(char_to_id), 8
    runs = [
        ("Seq2seq", Seq2seq, False),
        ("Seq2seq, reversed input", Seq2seq, True),
        ("PeekySeq2seq, reversed input", PeekySeq2seq, True),
    ]
    curves, seconds = {}, {}
    for label, cls, reverse in runs:
        model = cls(V, 16, 128, seed=0)
        xr, xr_test = (x[:, ::-1], x_test[:, ::-1]) if reverse else (x, x_test)
        start = time.perf_counter()
        curves[label] = train_seq2seq(model, xr, t, xr_test, t_test, epochs)
        seconds[label] = round(time.perf_counter() - start, 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves.items():
        ax.plot(range(1, epochs + 1), [100 * a for a in curve], marker="o", label=label)
    ax.set(
        xlabel="epoch",
        ylabel="test accuracy (%)",
        ylim=(0, 100),
        title="additions, D 16, H 128, Adam, batch 128",
    )
    ax.legend()
    save(fig, out / "sequel_ch7_addition.png")
    # A few of the last model's answers, as the sequel's eval_seq2seq prints them.
    guesses = model.generate_batch(xr_test[:8], t_test[:8, 0], t_test.shape[1] - 1)
    rows = []
    for q, right, guess in zip(x_test[:8], t_test[:8, 1:], guesses, strict=True):
        text = "".join(id_to_char[int(c)] for c in q).strip()
        answer = "".join(id_to_char[int(c)] for c in right).strip()
        said = "".join(id_to_char[int(c)] for c in guess).strip()
        rows.append((f"`{text}`", answer, said, "yes" if said == answer else "**no**"))
    note = (
        f"Data: {source}, {len(x):,} training and {len(x_test):,} test questions; "
        f"the answers of the peeky model after epoch {epochs} to the first 8 of them."
    )
    table(
        out / "sequel_ch7_answers.md",
        ["question", "answer", "PeekySeq2seq says", "right"],
        rows,
        note,
    )
    numbers["sequel_ch7_addition"] = {
        "data": source,
        "train": len(x),
        "test": len(x_test),
        "test_accuracy": curves,
        "seconds": seconds,
        "seeds": {"weights": 0, "shuffle": 0, "split": 1984},
    }


# ---------------------------------------------------------------------------- chapter 8


def sequel_ch8_attention(out, numbers):
    """Chapter 8: the attention map of a date conversion, from a model trained here."""
    x, t, x_test, t_test, char_to_id, id_to_char, source = sequence_data(
        "date.txt", sequence.make_dates
    )
    x, x_test = x[:, ::-1], x_test[:, ::-1]
    V, hidden, epochs = len(char_to_id), 128, 3
    model = AttentionSeq2seq(V, 16, hidden, seed=0)
    start = time.perf_counter()
    accuracy = train_seq2seq(model, x, t, x_test, t_test, epochs)
    seconds = round(time.perf_counter() - start, 1)
    rows = [0, 1, 2]
    model.generate_batch(x_test[rows], t_test[rows, 0], t_test.shape[1] - 1)
    questions = ["".join(id_to_char[int(c)] for c in x_test[row, ::-1]) for row in rows]
    width = max(len(q.rstrip()) for q in questions) + 2  # the padding beyond left out
    fig, axes = plt.subplots(1, len(rows), figsize=(15, 4.2))
    for ax, row, amap in zip(axes, rows, model.decoder.attention_map, strict=True):
        question = [id_to_char[int(c)] for c in x_test[row, ::-1]][:width]  # drawn forwards
        answer = [id_to_char[int(c)] for c in t_test[row, 1:]]
        plot_attention(amap[:, ::-1][:, :width], question, answer, ax=ax)
        ax.set_title("".join(question).strip(), fontsize=10)
    fig.suptitle(
        f"AttentionSeq2seq(V {V}, D 16, H {hidden}) after {epochs} epochs: "
        f"test accuracy {100 * accuracy[-1]:.2f}%"
    )
    save(fig, out / "sequel_ch8_attention.png")
    note = (
        f"Data: {source}, {len(x):,} training and {len(x_test):,} test dates; "
        f"{seconds:.0f} s of training and testing."
    )
    rows = [(e + 1, f"{100 * a:.2f}%") for e, a in enumerate(accuracy)]
    table(out / "sequel_ch8_accuracy.md", ["epoch", "test accuracy"], rows, note)
    numbers["sequel_ch8"] = {
        "data": source,
        "hidden": hidden,
        "test_accuracy": accuracy,
        "seconds": seconds,
        "seeds": {"weights": 0, "shuffle": 0, "split": 1984},
    }


FIGURES = [
    sequel_ch1_spiral,
    sequel_ch2_count,
    sequel_ch3_simple_cbow,
    sequel_ch4_word2vec,
    sequel_ch6_perplexity,
    sequel_ch7_generate,
    sequel_ch7_addition,
    sequel_ch8_attention,
]
