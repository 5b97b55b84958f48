"""Chapter 8 of the sequel: attention against its equations in torch, against the sequel's own
code, and the sequel's pretrained date model."""

from __future__ import annotations

import importlib
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from layerwise.sequel.attention import (
    Attention,
    AttentionSeq2seq,
    AttentionWeight,
    TimeAttention,
    WeightSum,
    plot_attention,
)
from layerwise.sequel.dataset import sequence
from layerwise.sequel.seq2seq import PeekySeq2seq, Seq2seq, seq2seq_accuracy

BOOK = Path("/work/books/dlfs2")
DATA = Path("/work/shared/data/sequel")


def test_time_attention_matches_its_equations_in_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    hs_enc, hs_dec = rng.standard_normal((3, 7, 5)), rng.standard_normal((3, 4, 5))
    dout = rng.standard_normal((3, 4, 5))
    layer = TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    dhs_enc, dhs_dec = layer.backward(dout)

    # The sequel's equations, step by step: s_t = hs . h_t, a_t = softmax(s_t), c_t = a_t hs.
    enc = torch.tensor(hs_enc, requires_grad=True)
    dec = torch.tensor(hs_dec, requires_grad=True)
    contexts = []
    for t in range(dec.shape[1]):
        s = (enc * dec[:, t, None, :]).sum(dim=2)
        a = torch.softmax(s, dim=1)
        contexts.append((enc * a[:, :, None]).sum(dim=1))
    c = torch.stack(contexts, dim=1)
    c.backward(torch.tensor(dout))
    assert np.abs(out - c.detach().numpy()).max() <= 1e-10
    assert np.abs(dhs_enc - enc.grad.numpy()).max() <= 1e-10
    assert np.abs(dhs_dec - dec.grad.numpy()).max() <= 1e-10
    weights = np.stack(layer.attention_weights, axis=1)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, atol=1e-12)


def test_time_attention_is_one_attention_per_step():
    rng = np.random.default_rng(1)
    hs_enc, hs_dec = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 5, 3))
    dout = rng.standard_normal((2, 5, 3))
    layer = TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    dhs_enc, dhs_dec = layer.backward(dout)
    total = np.zeros_like(hs_enc)
    for t in range(5):
        step = Attention()
        np.testing.assert_allclose(step.forward(hs_enc, hs_dec[:, t]), out[:, t], atol=1e-14)
        np.testing.assert_allclose(step.attention_weight, layer.attention_weights[t], atol=1e-14)
        dhs, dh = step.backward(dout[:, t])
        total += dhs
        np.testing.assert_allclose(dh, dhs_dec[:, t], atol=1e-13)
    np.testing.assert_allclose(total, dhs_enc, atol=1e-13)


@pytest.mark.parametrize("layer", [WeightSum(), AttentionWeight(), Attention(), TimeAttention()])
def test_attention_layers_check_shapes_and_keep_float32(layer):
    rng = np.random.default_rng(2)
    hs = rng.standard_normal((2, 4, 3)).astype(np.float32)
    second = {
        "WeightSum": rng.dirichlet(np.ones(4), 2),
        "TimeAttention": rng.standard_normal((2, 5, 3)),
    }.get(type(layer).__name__, rng.standard_normal((2, 3)))
    out = layer.forward(hs, second.astype(np.float32))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.backward(np.ones_like(out)))
    assert layer.params == [] and layer.grads == []
    with pytest.raises(ValueError, match=r"expected hs of shape \(N, T, H\)"):
        layer.forward(hs, second[:1])
    fresh = type(layer)()
    with pytest.raises(Exception, match="before forward"):
        fresh.backward(np.ones_like(out))


def test_the_attention_map_of_a_generation_is_the_teacher_forced_one():
    """Generating step by step and re-reading the generated answer at once attend alike."""
    rng = np.random.default_rng(3)
    model = AttentionSeq2seq(11, 4, 6, seed=0, dtype=np.float64)
    for p in model.params:
        p[...] = rng.normal(0, 0.7, p.shape)
    xs = rng.integers(0, 11, (3, 8))
    ids = model.generate_batch(xs, 2, 5)
    amap = model.decoder.attention_map
    assert amap.shape == (3, 5, 8)
    ts = np.concatenate([np.full((3, 1), 2), ids], axis=1)
    model.forward(xs, ts)
    forced = np.stack(model.decoder.attention.attention_weights, axis=1)
    np.testing.assert_allclose(amap, forced, atol=1e-12)


def test_plot_attention_writes_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(4)
    amap = rng.dirichlet(np.ones(6), size=4)
    figure = plot_attention(amap, list("abcdef"), list("wxyz"), path=tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcdef")
    assert ax.yaxis_inverted()
    with pytest.raises(ValueError, match=r"\(4, 5\), got \(4, 6\)"):
        plot_attention(amap, list("abcde"), list("wxyz"))
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------- the sequel's own code


@contextmanager
def the_sequels_code():
    """Import the sequel's modules from its clone, and forget them afterwards (its package
    names, ``common``, ``dataset``, would shadow others)."""
    if not (BOOK / "ch08" / "attention_seq2seq.py").is_file():
        pytest.skip("the sequel's clone is not on this machine")
    before = set(sys.modules)
    sys.path.insert(0, str(BOOK))
    try:
        yield importlib
    finally:
        sys.path.remove(str(BOOK))
        for name in set(sys.modules) - before:  # ch07's modules import each other top-level
            where = getattr(sys.modules[name], "__file__", None) or ""
            if name.split(".")[0] in {"common", "dataset", "ch07", "ch08"} or where.startswith(
                str(BOOK)
            ):
                del sys.modules[name]


def _book_model(importlib_, name):
    module = {
        "Seq2seq": "ch07.seq2seq",
        "PeekySeq2seq": "ch07.peeky_seq2seq",
        "AttentionSeq2seq": "ch08.attention_seq2seq",
    }[name]
    if name == "PeekySeq2seq":  # it imports its sibling as a top-level module
        sys.path.insert(0, str(BOOK / "ch07"))
        try:
            return importlib_.import_module(module).PeekySeq2seq
        finally:
            sys.path.remove(str(BOOK / "ch07"))
    return getattr(importlib_.import_module(module), name)


@pytest.mark.parametrize(
    "ours", [Seq2seq, PeekySeq2seq, AttentionSeq2seq], ids=lambda c: c.__name__
)
def test_same_weights_same_loss_gradients_and_answers_as_the_sequels_code(ours):
    rng = np.random.default_rng(5)
    model = ours(13, 8, 16, seed=0)
    for p in model.params:
        p[...] = rng.normal(0, 0.3, p.shape)
    xs, ts = rng.integers(0, 13, (6, 7)), rng.integers(0, 13, (6, 5))
    with the_sequels_code() as imp:
        book = _book_model(imp, ours.__name__)(13, 8, 16)
        for theirs, mine in zip(book.params, model.params, strict=True):
            theirs[...] = mine
        book_loss = book.forward(xs, ts)
        book.backward()
        book_answers = [book.generate(xs[[i]], 1, 4) for i in range(6)]
    loss = model.forward(xs, ts)
    model.backward()
    assert abs(loss - book_loss) <= 1e-5 * abs(book_loss)
    for g, h in zip(model.grads, book.grads, strict=True):
        assert np.abs(g - h).max() <= 1e-4 * max(np.abs(h).max(), 1e-6)
    assert model.generate_batch(xs, 1, 4).tolist() == [[int(i) for i in a] for a in book_answers]


def test_the_sequels_pretrained_date_model_converts_its_test_dates():
    """``ch08/AttentionSeq2seq.pkl`` (float16, vocabulary 59, D 16, H 256) read without
    unpickling anything but arrays: the book reports 99.9% on the date test split."""
    pkl, data = BOOK / "ch08" / "AttentionSeq2seq.pkl", DATA / "date.txt"
    if not (pkl.is_file() and data.is_file()):
        pytest.skip("the sequel's weights or date.txt are not on this machine")
    (_, _), (x_test, t_test) = sequence.load_data(data)
    char_to_id, id_to_char = sequence.get_vocab()
    model = AttentionSeq2seq(len(char_to_id), 16, 256)
    model.load_params(pkl)
    x_test = x_test[:, ::-1]  # the book trained on reversed questions
    accuracy = seq2seq_accuracy(model, x_test[:1000], t_test[:1000])
    assert accuracy >= 0.99
    guess = model.generate(x_test[[0]], int(t_test[0, 0]), t_test.shape[1] - 1)
    assert "".join(id_to_char[i] for i in guess) == "".join(id_to_char[i] for i in t_test[0, 1:])
    # The sequel's own AttentionSeq2seq with the same (float16-rounded) weights gives, question
    # by question, the answers layerwise's gives all at once.
    with the_sequels_code() as imp:
        book = _book_model(imp, "AttentionSeq2seq")(len(char_to_id), 16, 256)
        for theirs, mine in zip(book.params, model.params, strict=True):
            theirs[...] = mine
        start = int(t_test[0, 0])  # '_'
        book_answers = [[int(i) for i in book.generate(x_test[[k]], start, 10)] for k in range(40)]
    assert model.generate_batch(x_test[:40], start, 10).tolist() == book_answers


def test_regression_backward_checks_dout_against_the_forward_output():
    # A dout of another shape failed inside matmul, or (N 1 for 2) was broadcast into a wrong
    # gradient without a word; a scalar raised an IndexError.
    rng = np.random.default_rng(6)
    hs, h, a = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 4)), np.full((2, 5), 0.2)
    cases = [
        (TimeAttention(), (hs, rng.standard_normal((2, 3, 4))), [np.ones((2, 3, 5))], (2, 3, 4)),
        (Attention(), (hs, h), [np.ones((2, 5)), 1.0, np.ones((1, 4))], (2, 4)),
        (WeightSum(), (hs, a), [np.ones((1, 4)), 1.0], (2, 4)),
        (AttentionWeight(), (hs, h), [np.ones((2, 4)), np.ones((1, 5))], (2, 5)),
    ]
    for layer, args, bads, shape in cases:
        out = layer.forward(*args)
        message = f"{type(layer).__name__}.backward: dout must have the shape of the forward"
        for bad in bads:
            with pytest.raises(ValueError, match=re.escape(f"{message} output, {shape}, got")):
                layer.backward(bad)
        assert [g.shape for g in layer.backward(np.ones_like(out))] == [a.shape for a in args]
