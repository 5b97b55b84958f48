"""layerwise.viz.record_unrolled and ``layerwise graph --model``: a recurrent model's training
step unrolled over a few time steps, as the sequel's figures of chapters 5-8 draw it.

The structure is checked node by node (one node per layer per step, one weights node feeding
the T steps, the state arrows between steps); the values on the arrows against independent
references: PyTorch's autograd on the same Rnnlm written line for line, and the gradients the
model's own time layers were given (captured by wrapping them in the test).
"""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from layerwise.cli import main
from layerwise.sequel.attention import AttentionSeq2seq
from layerwise.sequel.base_model import LayerStack
from layerwise.sequel.model_files import save_model
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.seq2seq import PeekySeq2seq, Seq2seq
from layerwise.sequel.time_layers import (
    TimeAffine,
    TimeBiLSTM,
    TimeEmbedding,
    TimeSoftmaxWithLoss,
)
from layerwise.sequel.word2vec import CBOW, SkipGram
from layerwise.viz import UnrolledGraph, record_unrolled

T = 3
V, D, H = 7, 3, 4


def language_data(rng, n=2, length=T):
    ids = rng.integers(0, V, (n, length + 1))
    return ids[:, :-1], ids[:, 1:]


def seq2seq_data(rng, n=2):
    return rng.integers(0, V, (n, T)), rng.integers(0, V, (n, T + 1))


def layers_at(graph, step, part=""):
    return [n.name for n in graph.nodes if n.step == step and n.kind == "layer" and n.part == part]


def node(graph, name, step, part=""):
    (found,) = [n for n in graph.nodes if (n.name, n.step, n.part) == (name, step, part)]
    return found


def arrows(graph, tail=None, head=None, name=None, kind=None):
    return [
        a
        for a in graph.arrows
        if (tail is None or a.tail is tail)
        and (head is None or a.head is head)
        and (name is None or a.name == name)
        and (kind is None or a.kind == kind)
    ]


def gradient_at(graph, tail, name):
    """The gradient reaching an output: the sum of what came back along its arrows."""
    grads = [a.grad for a in arrows(graph, tail=tail, name=name) if a.grad is not None]
    return sum(grads[1:], grads[0])


def capture_backward(monkeypatch, layer):
    """Wrap one layer object's backward (the test's own wrapping) to keep what it was given."""
    seen = []
    original = layer.backward

    def noted(dout, *rest):
        seen.append(np.array(dout, copy=True))
        return original(dout, *rest)

    monkeypatch.setattr(layer, "backward", noted)
    return seen


# ---------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("cls", "cell", "size"),
    [(SimpleRnnlm, "RNN", (V, D, H)), (Rnnlm, "LSTM", (V, D, H)), (BetterRnnlm, "LSTM", (V, H, H))],
)
def test_language_model_has_one_node_per_layer_per_step(cls, cell, size):
    model = cls(*size, seed=0, dtype=np.float64)
    graph = record_unrolled(model, *language_data(np.random.default_rng(0)), steps=T)
    expected = {
        SimpleRnnlm: ["Embedding", "RNN", "Affine", "Softmax with Loss"],
        Rnnlm: ["Embedding", "LSTM", "Affine", "Softmax with Loss"],
        BetterRnnlm: ["Embedding", "Dropout", "LSTM", "Dropout", "LSTM", "Dropout", "Affine"]
        + ["Softmax with Loss"],
    }[cls]
    for t in range(1, T + 1):
        assert layers_at(graph, t) == expected
    assert layers_at(graph, T + 1) == []
    # the losses of the T steps averaged into L, whose gradient is 1 (the book's start)
    (mean,) = [n for n in graph.nodes if n.name == "mean"]
    assert [a.name for a in arrows(graph, head=mean)] == ["L1", "L2", "L3"]
    assert [a.backward.value for a in arrows(graph, head=mean)] == pytest.approx([1 / T] * T)
    (out,) = arrows(graph, tail=mean)
    assert (out.name, out.head.name, out.backward.value) == ("L", "L", 1.0)
    assert out.forward.value == pytest.approx(graph.loss)


def test_rnnlm_weights_are_one_node_feeding_every_step_and_h_c_flow_between_steps():
    model = Rnnlm(V, D, H, seed=0, dtype=np.float64)
    graph = record_unrolled(model, *language_data(np.random.default_rng(1)), steps=T)
    weights = [n for n in graph.nodes if n.kind == "weights"]
    assert [n.name for n in weights] == ["Embedding", "LSTM", "Affine"]
    for w in weights:
        fed = arrows(graph, tail=w, kind="weights")
        assert [(a.head.name, a.head.step) for a in fed] == [(w.name, t) for t in (1, 2, 3)]
        # one set of arrays: the model's own, shared by the T per-step layers
        for a in fed:
            assert all(p is q for p, q in zip(a.head.layer.params, w.layer.params, strict=True))
    lstm = weights[1]
    assert lstm.layer is model.lstm_layer and set(lstm.grads) == {"dWx", "dWh", "db"}
    # h and c go right from each step to the next; h also up to the affine layer
    for t in (1, 2):
        here, there = node(graph, "LSTM", t), node(graph, "LSTM", t + 1)
        assert [a.name for a in arrows(graph, here, there, kind="state")] == [f"h{t}", f"c{t}"]
        assert all(a.backward is not None for a in arrows(graph, here, there))
        assert [a.head.name for a in arrows(graph, tail=here, name=f"h{t}")] == ["LSTM", "Affine"]
    # the first step starts from the carried state (zeros here), the last hands it on
    start = arrows(graph, head=node(graph, "LSTM", 1), kind="state")
    assert [(a.name, a.tail.name) for a in start] == [("h0", "h0, c0"), ("c0", "h0, c0")]
    last = node(graph, "LSTM", 3)
    carried = [a for a in arrows(graph, tail=last) if a.head.kind == "output"]
    assert [(a.name, a.head.name, a.backward) for a in carried] == [
        ("h3", "next batch", None),
        ("c3", "next batch", None),
    ]
    text = str(graph)
    assert text.startswith(f"loss {graph.loss:.6g}") and "LSTM@1 -> LSTM@2" in text
    assert repr(graph).startswith("<UnrolledGraph: ") and isinstance(graph, UnrolledGraph)


def test_better_rnnlm_tied_weight_is_named_and_its_gradients_match():
    model = BetterRnnlm(V, H, H, dropout_ratio=0.5, seed=3, dtype=np.float64)
    graph = record_unrolled(model, *language_data(np.random.default_rng(2)), steps=T)
    affine = [n for n in graph.nodes if n.kind == "weights" and n.name == "Affine"]
    assert affine[0].note == "W = Embedding's W^T (tied)"
    # the dropout nodes use the masks the model drew: some units of each step are zero
    dropped = [a for a in graph.arrows if a.tail.name == "Dropout"]
    assert len(dropped) == 3 * T and any((a.value == 0).any() for a in dropped)


def test_attention_seq2seq_reads_every_encoder_state_at_every_decoder_step():
    model = AttentionSeq2seq(V, D, H, seed=0, dtype=np.float64)
    graph = record_unrolled(model, *seq2seq_data(np.random.default_rng(3)), steps=T)
    for t in range(1, T + 1):
        assert layers_at(graph, t, "encoder") == ["Embedding", "LSTM"]
        assert layers_at(graph, t, "decoder") == [
            "Embedding",
            "LSTM",
            "Attention",
            "Affine",
            "Softmax with Loss",
        ]
    (hs,) = [n for n in graph.nodes if n.name == "hs"]
    assert [(a.tail.name, a.tail.step, a.tail.part) for a in arrows(graph, head=hs)] == [
        ("LSTM", t, "encoder") for t in (1, 2, 3)
    ]
    assert [(a.head.name, a.head.step) for a in arrows(graph, tail=hs)] == [
        ("Attention", t) for t in (1, 2, 3)
    ]
    # the decoder starts from the encoder's last h (and c = 0)
    first = node(graph, "LSTM", 1, "decoder")
    start = arrows(graph, head=first, kind="state")
    assert [(a.name, a.tail.name, a.tail.part) for a in start] == [
        ("h3", "LSTM", "encoder"),
        ("c0", "c0", "decoder"),
    ]
    weights = [(n.part, n.name) for n in graph.nodes if n.kind == "weights"]
    assert weights == [
        ("encoder", "Embedding"),
        ("encoder", "LSTM"),
        ("decoder", "Embedding"),
        ("decoder", "LSTM"),
        ("decoder", "Affine"),
    ]


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq])
def test_seq2seq_hands_the_encoder_state_to_the_decoder(cls):
    model = cls(V, D, H, seed=1, dtype=np.float64)
    graph = record_unrolled(model, *seq2seq_data(np.random.default_rng(4)), steps=T)
    last = node(graph, "LSTM", T, "encoder")
    heads = [(a.head.name, a.head.step, a.head.part) for a in arrows(graph, tail=last, name="h3")]
    if cls is Seq2seq:
        assert heads == [("LSTM", 1, "decoder")]
    else:  # peeky: also into the LSTM's and the affine layer's input at every step
        assert heads.count(("concat", 1, "decoder")) == 2 and len(heads) == 1 + 2 * T
    # the gradient of the decoder's start state is the decoder's own dh
    (handed,) = arrows(graph, tail=last, head=node(graph, "LSTM", 1, "decoder"))
    np.testing.assert_allclose(handed.grad, model.decoder.lstm.dh, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------- values


def test_rnnlm_gradients_on_the_arrows_match_pytorch(torch):
    import torch.nn.functional as F

    model = Rnnlm(V, D, H, seed=5, dtype=np.float64)
    xs, ts = language_data(np.random.default_rng(5))
    graph = record_unrolled(model, xs, ts, steps=T)

    # PyTorch, line for line: the sequel's LSTM (gates f, g, i, o), mean cross-entropy
    W_embed, Wx, Wh, b, W, b_out = (torch.tensor(p, requires_grad=True) for p in model.params)
    h = torch.zeros(len(xs), H, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(len(xs), H, dtype=torch.float64, requires_grad=True)
    h0, c0, hs, c_prevs, losses = h, c, [], [], []
    for t in range(T):
        # c_{t-1} as this step's own input: its gradient is dc_next, the arrow's (the c_t
        # that h_t = o tanh(c_t) reads inside the cell is another path)
        c_prev = c if t == 0 else c.clone()
        c_prev.retain_grad()
        a = W_embed[torch.tensor(xs[:, t])] @ Wx + h @ Wh + b
        f, g = torch.sigmoid(a[:, :H]), torch.tanh(a[:, H : 2 * H])
        i, o = torch.sigmoid(a[:, 2 * H : 3 * H]), torch.sigmoid(a[:, 3 * H :])
        c = f * c_prev + g * i
        h = o * torch.tanh(c)
        h.retain_grad()
        hs.append(h), c_prevs.append(c_prev)
        losses.append(F.cross_entropy(h @ W + b_out, torch.tensor(ts[:, t])))
    loss = sum(losses) / T
    loss.backward()

    assert graph.loss == pytest.approx(loss.item(), rel=1e-12)
    for t in range(1, T + 1):
        lstm = node(graph, "LSTM", t)
        # dh_t: what came down from the affine layer plus dh_next from step t + 1
        np.testing.assert_allclose(gradient_at(graph, lstm, f"h{t}"), hs[t - 1].grad, rtol=1e-9)
        if t < T:  # dc_next; the last c goes to the next batch and gets nothing back
            dc_next = gradient_at(graph, lstm, f"c{t}")
            np.testing.assert_allclose(dc_next, c_prevs[t].grad, rtol=1e-9)
    (dh0,) = arrows(graph, name="h0")
    (dc0,) = arrows(graph, name="c0")
    np.testing.assert_allclose(dh0.grad, h0.grad, rtol=1e-9)
    np.testing.assert_allclose(dc0.grad, c0.grad, rtol=1e-9)
    for ours, theirs in zip(model.grads, (W_embed, Wx, Wh, b, W, b_out), strict=True):
        np.testing.assert_allclose(ours, theirs.grad, rtol=1e-9, atol=1e-15)


def test_upward_gradients_are_those_the_models_own_time_layers_received(monkeypatch):
    """What comes back down each step's arrow into the recurrent layer equals the slice of
    dhs that the model's own TimeLSTM was given in its backward (captured by a wrapper)."""
    model = Rnnlm(V, D, H, seed=6, dtype=np.float64)
    seen = capture_backward(monkeypatch, model.lstm_layer)
    graph = record_unrolled(model, *language_data(np.random.default_rng(6)), steps=T)
    (dhs,) = seen
    for t in range(1, T + 1):
        (up,) = arrows(graph, tail=node(graph, "LSTM", t), head=node(graph, "Affine", t))
        np.testing.assert_allclose(up.grad, dhs[:, t - 1], rtol=1e-10, atol=1e-15)

    model = AttentionSeq2seq(V, D, H, seed=6, dtype=np.float64)
    seen = capture_backward(monkeypatch, model.encoder.lstm)
    graph = record_unrolled(model, *seq2seq_data(np.random.default_rng(7)), steps=T)
    (dhs,) = seen  # attention's gradient, plus the decoder's dh at the last state
    for t in range(1, T + 1):
        lstm = node(graph, "LSTM", t, "encoder")
        out = [a.grad for a in arrows(graph, tail=lstm, name=f"h{t}") if a.head.name != "LSTM"]
        if t == T:
            out.append(model.decoder.lstm.dh)
        np.testing.assert_allclose(sum(out), dhs[:, t - 1], rtol=1e-10, atol=1e-15)


def test_the_model_is_left_as_found_apart_from_its_gradients():
    rng = np.random.default_rng(8)
    model = BetterRnnlm(V, H, H, seed=8, dtype=np.float64)
    twin = BetterRnnlm(V, H, H, seed=8, dtype=np.float64)
    xs, ts = language_data(rng)
    for m in (model, twin):  # a carried state to start from
        m.forward(xs, ts)
    before = [p.copy() for p in model.params]
    graph = record_unrolled(model, xs, ts, steps=T)
    assert all(np.array_equal(p, q) for p, q in zip(model.params, before, strict=True))
    # the carried state and the dropout generators as before: the next step is the twin's
    assert model.forward(xs, ts) == twin.forward(xs, ts)
    # and the drawing started from the carried state, not from zeros
    first_lstm_start = arrows(graph, name="h0")[0]
    assert np.abs(first_lstm_start.value).max() > 0


def test_a_drawing_that_is_not_the_models_maths_is_refused(monkeypatch):
    model = Rnnlm(V, D, H, seed=9, dtype=np.float64)
    original = model.backward

    def wrong_backward(dout=1):
        out = original(dout)
        model.grads[2] *= 2  # dWh: not what the steps add up to
        return out

    monkeypatch.setattr(model, "backward", wrong_backward)
    with pytest.raises(RuntimeError, match=r"do not reproduce Rnnlm's own step: gradient of "):
        record_unrolled(model, *language_data(np.random.default_rng(9)), steps=T)


def test_steps_cut_the_sequences_and_float32_models_are_drawn():
    model = Rnnlm(V, D, H, seed=10)  # float32: checked to float32's tolerance
    graph = record_unrolled(model, *language_data(np.random.default_rng(10), length=5), steps=2)
    assert layers_at(graph, 2) and not layers_at(graph, 3)
    assert [a.name for a in arrows(graph, kind="state") if a.tail.kind == "layer"] == ["h1", "c1"]


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("steps", [0, -1, 2.0, True, None])
def test_steps_must_be_a_whole_number_of_at_least_one(steps):
    model = Rnnlm(V, D, H, seed=0)
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1, got"):
        record_unrolled(model, *language_data(np.random.default_rng(0)), steps=steps)


def test_models_and_layers_it_cannot_unroll_are_named():
    from layerwise import TwoLayerNet

    with pytest.raises(TypeError, match=r"cannot unroll a TwoLayerNet; it draws the sequel's"):
        record_unrolled(TwoLayerNet(4, 3, 2), np.zeros((2, 3)), np.zeros((2, 3)))
    rng = np.random.default_rng(0)
    lstm = lambda: (rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), np.zeros(4 * H))  # noqa: E731
    stack = LayerStack(
        [
            TimeEmbedding(rng.normal(size=(V, D))),
            TimeBiLSTM(*lstm(), *lstm()),
            TimeAffine(rng.normal(size=(2 * H, V)), np.zeros(V)),
        ],
        TimeSoftmaxWithLoss(),
    )
    with pytest.raises(TypeError, match=r"cannot unroll TimeBiLSTM"):
        record_unrolled(stack, *language_data(rng))


def test_sequences_of_the_wrong_shape_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Rnnlm expects word ids xs and next words ts"):
        record_unrolled(Rnnlm(V, D, H), rng.integers(0, V, (2, 3)), rng.integers(0, V, (3, 3)))
    with pytest.raises(ValueError, match=r"Seq2seq expects questions xs \(N, Tq\) and answers"):
        record_unrolled(Seq2seq(V, D, H), rng.integers(0, V, (2, 3)), rng.integers(0, V, (2, 1)))


@pytest.mark.parametrize("cls", [Rnnlm, Seq2seq])
@pytest.mark.parametrize("shape", [(3,), ()])
def test_regression_sequences_of_one_or_no_axis_are_refused_as_the_wrong_shape(cls, shape):
    """A 1-D xs (one sequence without its batch axis) raised an IndexError from xs[:, :steps]."""
    xs = np.zeros(shape, dtype=int)
    with pytest.raises(ValueError, match=rf"{cls.__name__} expects .* got {re.escape(str(shape))}"):
        record_unrolled(cls(V, D, H), xs, xs, steps=2)


@pytest.mark.parametrize("cls", [Rnnlm, AttentionSeq2seq])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_regression_parameters_of_nan_or_inf_are_refused_naming_the_first(cls, bad):
    """They failed the drawing's check, "the unrolled steps do not reproduce Rnnlm's own step:
    loss nan", a RuntimeError that blamed the drawing for the model's weights."""
    model = cls(V, D, H, seed=0)
    model.params[2][1, 0] = bad
    model.params[4][0] = bad
    rng = np.random.default_rng(0)
    xs = rng.integers(0, V, (2, 3))
    with pytest.raises(ValueError) as error:
        record_unrolled(model, xs, xs, steps=2)
    assert str(error.value) == (
        f"record_unrolled: {cls.__name__}'s parameters hold NaN or Inf, the first params[2] "
        f"{model.params[2].shape}: a step of it has no loss or gradients to draw"
    )
    assert not any(grad.any() for grad in model.grads)  # refused before the step


# ---------------------------------------------------------------------- the drawing


def _svg(graph):
    svg = graph.pipe("svg").decode()
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = {"node": [], "edge": []}
    for g in root.iter(f"{ns}g"):
        if g.get("class") in groups:
            texts = [(t.text, t.get("fill", "black")) for t in g.iter(f"{ns}text")]
            groups[g.get("class")].append((g.find(f"{ns}title").text, texts))
    return groups


@pytest.mark.parametrize("cls", [Rnnlm, AttentionSeq2seq, PeekySeq2seq])
def test_graphviz_renders_every_node_and_arrow(dot, cls, tmp_path):
    model = cls(V, D, H, seed=0, dtype=np.float64)
    data = language_data if cls is Rnnlm else seq2seq_data
    graph = record_unrolled(model, *data(np.random.default_rng(0)), steps=T, title="unrolled")
    groups = _svg(graph)
    assert len(groups["node"]) == len(graph.nodes)
    assert len(groups["edge"]) >= len(graph.arrows)  # and the invisible ordering arrows
    texts = {text for _, texts in groups["edge"] for text in texts}
    assert ("dh1", "red") in texts and ("h1", "black") in texts and ("1", "red") in texts
    if cls is Rnnlm:
        assert ("dc2", "red") in texts and ("c2", "black") in texts
    node_texts = {text for _, texts in groups["node"] for text, _ in texts}
    assert "Softmax with Loss" in node_texts and "unrolled" not in node_texts
    png = graph.save(tmp_path / "unrolled.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    dot_text = graph.save(tmp_path / "unrolled.dot").read_text()
    assert dot_text == graph.to_dot() and dot_text.startswith("digraph unrolled {")


def test_dot_text_keeps_each_time_layer_on_one_row():
    graph = record_unrolled(
        Rnnlm(V, D, H, seed=0), *language_data(np.random.default_rng(0)), steps=T
    )
    dot = graph.to_dot()
    ids = {id(n): f"n{i}" for i, n in enumerate(graph.nodes)}
    rows = [set(r.split()) for r in re.findall(r"\{ rank=same; ([^;]*); \}", dot)]
    for name in ("Embedding", "LSTM", "Affine", "Softmax with Loss"):
        steps = {ids[id(node(graph, name, t))] for t in (1, 2, 3)}
        assert any(steps <= row for row in rows), name


# ---------------------------------------------------------------------- the command line


def test_cli_draws_a_tiny_model_unrolled(capsys, tmp_path):
    assert main(["graph", "--model", "rnnlm", "--steps", "2"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph unrolled {")
    assert dot.count('label="LSTM"') == 2 and "a tiny Rnnlm: one training step unrolled" in dot


def test_cli_renders_a_tiny_model_unrolled_to_svg(dot, capsys, tmp_path):
    out = tmp_path / "att.svg"
    assert main(["graph", "--model", "attention-seq2seq", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert out.read_text().count(">Attention<") == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "rnnlm", "--steps", "0"], "argument --steps: must be a whole number >= 1"),
        (["--model", "lstm"], "argument --model: invalid choice: 'lstm'"),
        (["apple", "--model", "rnnlm"], "give WHAT ('apple') or --model, not both"),
        ([], "say what to draw: apple, apple-orange, a model file or run folder, or --model"),
        (["apple", "--steps", "2"], "--steps is for the sequel's recurrent models"),
        (["--model", "seq2seq", "--dataset", "sample"], "--dataset is for volume 1's models"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(["graph", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_draws_a_sequel_model_file(capsys, tmp_path):
    path = save_model(Rnnlm(9, 3, 4, seed=0), tmp_path / "lm.npz")
    assert main(["graph", str(path), "--steps", "2"]) == 0
    dot = capsys.readouterr().out
    assert "Rnnlm (" in dot and "Embedding: W (9, 3)" in dot and dot.count('label="LSTM"') == 2


def test_regression_cli_draws_at_most_50_steps(capsys):
    """--steps 200000 had no cap: 1 GB after 20 s and still recording."""
    assert main(["graph", "--model", "rnnlm", "--steps", "50"]) == 0
    assert capsys.readouterr().out.count('label="LSTM"') == 50
    with pytest.raises(SystemExit) as exit_:
        main(["graph", "--model", "rnnlm", "--steps", "51"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "layerwise graph: error: argument --steps: must be a whole number >= 1 and <= 50, got 51"
    )


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_regression_cli_says_which_models_it_unrolls_for_a_word2vec_file(capsys, tmp_path, cls):
    """It said "record_unrolled: cannot unroll a CBOW", naming a function of the library."""
    path = save_model(cls(9, 4, 2, np.arange(9), seed=0), tmp_path / "w2v.npz")
    with pytest.raises(SystemExit) as exit_:
        main(["graph", str(path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"layerwise graph: error: {path} is a word2vec model ({cls.__name__}), which has no time "
        "steps to unroll: layerwise graph draws the sequel's recurrent models, simple-rnnlm, "
        "rnnlm, better-rnnlm, seq2seq, peeky-seq2seq, attention-seq2seq (their model files or "
        "--model)"
    )


def test_regression_cli_refuses_a_model_file_of_nan_weights_in_one_line(capsys, tmp_path):
    """It died with the traceback of the drawing's RuntimeError ("loss nan")."""
    model = Rnnlm(9, 3, 4, seed=0)
    model.params[0][5, 1] = np.nan
    path = save_model(model, tmp_path / "nan.npz")
    assert main(["graph", str(path)]) == 1
    assert capsys.readouterr().err == (
        "layerwise: error: record_unrolled: Rnnlm's parameters hold NaN or Inf, the first "
        "params[0] (9, 3): a step of it has no loss or gradients to draw\n"
    )
