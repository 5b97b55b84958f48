"""The sequel's language models, trainers and spiral data: whole-model gradient checks in
float64, the trainers' batches against the sequel's loops, a little training, and a regression
test per difference."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import record_worst

from layerwise import numerical_gradient
from layerwise.layers import BackwardBeforeForwardError
from layerwise.sequel.base_model import LayerStack
from layerwise.sequel.dataset import spiral
from layerwise.sequel.layers import Affine, MatMul, Sigmoid, SoftmaxWithLoss
from layerwise.sequel.optimizer import SGD, Adam
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.trainer import RnnlmTrainer, Trainer, remove_duplicate
from layerwise.sequel.util import eval_perplexity
from layerwise.sequel.word2vec import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram

V = 7


def tiny_corpus(n=400, seed=0):
    """A corpus with structure to learn: word w is mostly followed by w + 1."""
    rng = np.random.default_rng(seed)
    words = [0]
    for _ in range(n - 1):
        words.append((words[-1] + 1) % V if rng.random() < 0.9 else int(rng.integers(V)))
    return np.array(words)


def normwise_error(a, n):
    """``max |a - n| / max(|a| + |n|)`` over one array.

    The layers are checked entry by entry (tests/test_sequel_gradcheck.py); through a whole model
    some entries are 1e-9 of the largest, where central differences resolve only ~1e-13
    absolute, so a model is checked against the scale of each gradient array.
    """
    return float(np.max(np.abs(a - n)) / np.max(np.abs(a) + np.abs(n)))


def models():
    kw = {"seed": 0, "dtype": np.float64}
    return [
        ("SimpleRnnlm", SimpleRnnlm(V, 4, 5, **kw)),
        ("Rnnlm", Rnnlm(V, 4, 5, **kw)),
        ("BetterRnnlm", BetterRnnlm(V, 4, 4, dropout_ratio=0.3, **kw)),
    ]


@pytest.mark.parametrize(("name", "model"), models(), ids=[n for n, _ in models()])
def test_model_gradients_match_central_differences(name, model):
    rng = np.random.default_rng(1)
    xs, ts = rng.integers(0, V, (2, 5)), rng.integers(0, V, (2, 5))
    # Weights of order 1 (the sequel's embedding of 0.01 leaves gradients of 1e-9 on the LSTM,
    # below what central differences resolve in relative terms), biases not 0.
    for p in {id(p): p for p in model.params}.values():
        p[...] = rng.normal(0, 0.5, p.shape)

    def loss(_=None):
        model.reset_state()
        for i, layer in enumerate(getattr(model, "drop_layers", [])):
            layer.rng = np.random.default_rng(10 + i)  # the same masks every time
        return model.forward(xs, ts)

    loss()
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == len(model.params) - (name == "BetterRnnlm")  # the tied weight
    grads = [g.copy() for g in grads]
    for p, g in zip(params, grads, strict=True):
        n = (4 * numerical_gradient(loss, p, 5e-4) - numerical_gradient(loss, p, 1e-3)) / 3
        record_worst("sequel model gradient check", name, normwise_error(g, n), 1e-8)


@pytest.mark.parametrize("make", [SimpleRnnlm, Rnnlm, BetterRnnlm], ids=lambda m: m.__name__)
def test_language_models_loss_writing_over_its_scores_computes_the_same_step(make):
    # Their loss writes its softmax and gradient over the scores, their own temporary: the
    # step is the one the layers compute without it, bit for bit, and the model's backward
    # runs once per forward, as PyTorch's does once per graph.
    xs = tiny_corpus(20, seed=3).reshape(4, 5)
    ts = (xs + 1) % V
    plain, owner = make(V, 4, 4, seed=0), make(V, 4, 4, seed=0)
    plain.scores_are_temporary = False
    assert owner.scores_are_temporary
    for _ in range(2):  # the second step from the carried state (and the next dropout masks)
        assert owner.forward(xs, ts) == plain.forward(xs, ts)
        owner.backward()
        plain.backward()
        for g, want in zip(owner.grads, plain.grads, strict=True):
            np.testing.assert_array_equal(g, want)
    plain.backward()  # repeatable without the overwrite
    with pytest.raises(BackwardBeforeForwardError, match="TimeSoftmaxWithLoss"):
        owner.backward()


def test_regression_a_second_backward_says_it_already_ran_for_this_forward():
    # Rnnlm's second backward after one forward said "backward was called before forward".
    model = Rnnlm(10, 4, 4, seed=0)
    model.forward(np.array([[1, 2]]), np.array([[2, 3]]))
    model.backward()
    with pytest.raises(BackwardBeforeForwardError, match="backward already ran for this forward"):
        model.backward()


def test_models_default_to_float32_and_list_params_in_the_sequels_order():
    model = BetterRnnlm(11, 6, 6, seed=0)
    shapes = [p.shape for p in model.params]
    assert shapes == [(11, 6), (6, 24), (6, 24), (24,), (6, 24), (6, 24), (24,), (6, 11), (11,)]
    assert model.params[7].base is model.params[0]  # weight tying: a view, not a copy
    assert {p.dtype for p in model.params} == {np.dtype(np.float32)}
    assert [p.shape for p in Rnnlm(11, 3, 5, seed=0).params] == [
        (11, 3),
        (3, 20),
        (5, 20),
        (20,),
        (5, 11),
        (11,),
    ]
    with pytest.raises(ValueError, match="weight tying needs wordvec_size == hidden_size"):
        BetterRnnlm(11, 6, 8)


def test_better_rnnlm_predicts_without_dropout_by_default():
    model = BetterRnnlm(V, 4, 4, seed=0)
    xs = np.array([[1, 2, 3]])
    a = model.predict(xs)
    model.reset_state()
    np.testing.assert_array_equal(model.predict(xs), a)
    model.reset_state()
    assert not np.array_equal(model.predict(xs, train_flg=True), a)


def sequel_get_batch(x, t, batch_size, time_size, time_idx):
    batch_x = np.empty((batch_size, time_size), dtype="i")
    batch_t = np.empty((batch_size, time_size), dtype="i")
    jump = len(x) // batch_size
    offsets = [i * jump for i in range(batch_size)]
    for time in range(time_size):
        for i, offset in enumerate(offsets):
            batch_x[i, time] = x[(offset + time_idx) % len(x)]
            batch_t[i, time] = t[(offset + time_idx) % len(x)]
        time_idx += 1
    return batch_x, batch_t


def test_rnnlm_trainer_batches_are_the_sequels():
    corpus = tiny_corpus(101)
    trainer = RnnlmTrainer(None, None)
    trainer.time_idx = 0
    for step in range(4):
        ours = trainer.get_batch(corpus[:-1], corpus[1:], 3, 7)
        ref = sequel_get_batch(corpus[:-1], corpus[1:], 3, 7, 7 * step)
        np.testing.assert_array_equal(ours[0], ref[0])
        np.testing.assert_array_equal(ours[1], ref[1])


def test_rnnlm_learns_with_the_rnnlm_trainer(capsys):
    corpus = tiny_corpus()
    model = Rnnlm(V, 8, 8, seed=0)
    trainer = RnnlmTrainer(model, SGD(lr=1.0))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=20, batch_size=4, time_size=5, max_grad=0.5)
    assert trainer.ppl_list[0] > 6 and trainer.ppl_list[-1] < 2.5, trainer.ppl_list
    assert "| epoch 1 |  iter 1 / 19 | time 0[s] | perplexity" in capsys.readouterr().out
    assert model.lstm_layer.h is not None  # the state carried between batches
    model.reset_state()
    assert eval_perplexity(model, corpus, batch_size=4, time_size=5) < 2.5


def test_better_rnnlm_learns_with_tied_weights():
    corpus = tiny_corpus()
    model = BetterRnnlm(V, 8, 8, dropout_ratio=0.1, seed=0)
    trainer = RnnlmTrainer(model, SGD(lr=1.0))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=25, batch_size=4, time_size=5, max_grad=0.5)
    assert trainer.ppl_list[-1] < 0.6 * trainer.ppl_list[0], trainer.ppl_list
    np.testing.assert_array_equal(model.layers[-1].params[0], model.layers[0].params[0].T)


class TwoLayerNet:
    """The sequel's ch01/two_layer_net.py, as it writes it (on layerwise.sequel.layers)."""

    def __init__(self, input_size, hidden_size, output_size, rng):
        I, H, O = input_size, hidden_size, output_size
        W1, b1 = 0.01 * rng.standard_normal((I, H)), np.zeros(H)
        W2, b2 = 0.01 * rng.standard_normal((H, O)), np.zeros(O)
        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.loss_layer = SoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x, t):
        return self.loss_layer.forward(self.predict(x), t)

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


def test_chapter_one_trains_on_the_spiral_with_the_trainer(capsys):
    x, t = spiral.load_data()
    model = TwoLayerNet(2, 10, 3, np.random.default_rng(0))
    trainer = Trainer(model, SGD(lr=1.0), seed=0)
    trainer.fit(x, t, max_epoch=300, batch_size=30, eval_interval=10)
    assert trainer.loss_list[0] > 1.0 and trainer.loss_list[-1] < 0.3, trainer.loss_list[-3:]
    assert capsys.readouterr().out.startswith("| epoch 1 |  iter 1 / 10 | time 0[s] | loss 1.")
    accuracy = np.mean(model.predict(x).argmax(1) == t.argmax(1))
    assert accuracy > 0.9


def test_trainers_plot_their_curves(monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.setattr(plt, "show", lambda: None)
    trainer = Trainer(None, None)
    trainer.loss_list, trainer.eval_interval = [3.0, 2.0, 1.0], 20
    trainer.plot(ylim=(0, 4))
    line = plt.gca().get_lines()[-1]
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.0])
    assert plt.gca().get_xlabel() == "iterations (x20)" and plt.gca().get_ylim() == (0, 4)
    plt.close("all")


def test_regression_spiral_is_the_sequels_and_leaves_the_global_state_alone():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is what is tested)
    x, t = spiral.load_data()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    assert x.shape == (300, 2) and t.shape == (300, 3) and t.dtype == np.int32
    # Values printed by the sequel's dataset/spiral.py (np.random.seed(1984)).
    assert tuple(x[1]) == (-0.00097698643152699, 0.009952160444476976)
    assert tuple(x[150]) == (-0.13912045724684738, 0.48025565938927584)
    assert tuple(x[299]) == (-0.5974310265949212, 0.7894150799558737)
    np.testing.assert_array_equal(t.argmax(1), np.repeat([0, 1, 2], 100))


def test_regression_remove_duplicate_merges_by_identity_not_by_equal_values():
    # The sequel merges any two 2-D arrays whose values are equal after a transpose: two
    # zero-initialised (3, 3) weights of different layers would be trained as one.
    a, b = MatMul(np.zeros((3, 3))), MatMul(np.zeros((3, 3)))
    a.grads[0][...], b.grads[0][...] = 1.0, 2.0
    params, grads = remove_duplicate(a.params + b.params, a.grads + b.grads)
    assert len(params) == 2
    W = np.arange(6.0).reshape(2, 3)
    tied = [W, np.ones(1), W.T, W]
    gW, gT = np.ones((2, 3)), np.full((3, 2), 2.0)
    params, grads = remove_duplicate(tied, [gW, np.zeros(1), gT, np.full((2, 3), 4.0)])
    assert len(params) == 2 and params[0] is W
    np.testing.assert_array_equal(grads[0], np.full((2, 3), 7.0))  # 1 + 2 (transposed) + 4


def test_regression_trainers_refuse_what_would_train_nothing_or_pair_the_wrong_targets():
    # The sequel's loops take it all: data shorter than a batch trains nothing without a word,
    # eval_interval 0 divides by zero, x and t of different lengths fail or misalign.
    x, t = np.zeros((30, 2)), np.zeros(30, int)
    net = LayerStack([Affine(np.zeros((2, 3)), np.zeros(3))], SoftmaxWithLoss())
    trainer = Trainer(net, SGD())
    cases = [
        (dict(x=x, t=t[:10]), "Trainer.fit: x and t must be as long, got 30 and 10 samples"),
        (dict(x=x, t=t, batch_size=31), "30 samples make no batch of batch_size 31 (31 samples)"),
        (dict(x=x, t=t, eval_interval=0), "eval_interval must be a whole number >= 1, got 0"),
        (dict(x=x, t=t, max_epoch=-1), "max_epoch must be a whole number >= 0, got -1"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            trainer.fit(**kwargs)
    corpus = tiny_corpus(100)
    lm = RnnlmTrainer(Rnnlm(V, 4, 4, seed=0), SGD())
    with pytest.raises(ValueError, match=re.escape("got 99 and 98 words")):
        lm.fit(corpus[:-1], corpus[2:], batch_size=2, time_size=5)
    message = "99 words make no batch of batch_size 10 x time_size 10 (100 words)"
    with pytest.raises(ValueError, match=re.escape(message)):
        lm.fit(corpus[:-1], corpus[1:], batch_size=10, time_size=10)
    assert trainer.loss_list == [] and lm.ppl_list is None  # nothing ran


def test_regression_trainer_shuffles_from_its_seed():
    x, t = spiral.load_data()
    losses = []
    for _ in range(2):
        model = TwoLayerNet(2, 5, 3, np.random.default_rng(0))
        trainer = Trainer(model, Adam(), seed=3)
        trainer.fit(x, t, max_epoch=2, batch_size=30, eval_interval=None)
        losses.append(model.forward(x, t))
    assert losses[0] == losses[1]


def test_training_resumes_bit_identical_from_a_saved_state(tmp_path):
    # State, dropout generators, optimizer and the trainer's place in the corpus, saved through
    # a safe .npz and JSON, then loaded into a model built from another seed.
    import json

    corpus = tiny_corpus()
    xs, ts = corpus[:-1], corpus[1:]

    def steps(model, optimizer, trainer, n):
        for _ in range(n):
            x, t = trainer.get_batch(xs, ts, 4, 5)
            model.forward(x, t)
            model.backward()
            optimizer.update(*remove_duplicate(model.params, model.grads))

    def fresh(seed):
        model = BetterRnnlm(V, 6, 6, dropout_ratio=0.3, seed=seed)
        trainer = RnnlmTrainer(model, Adam(0.01))
        trainer.time_idx = 0
        return model, trainer.optimizer, trainer

    straight = fresh(0)
    steps(*straight, 6)

    first = fresh(0)
    steps(*first, 3)
    model, optimizer, trainer = first
    np.savez(tmp_path / "model.npz", **model.state_dict())
    np.savez(tmp_path / "optimizer.npz", **optimizer.state_dict())
    (tmp_path / "meta.json").write_text(
        json.dumps({"rng": model.rng_states(), "time_idx": trainer.time_idx})
    )

    model, optimizer, trainer = resumed = fresh(99)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as f:
        model.load_state_dict(f)
    with np.load(tmp_path / "optimizer.npz", allow_pickle=False) as f:
        optimizer.load_state_dict(f)
    meta = json.loads((tmp_path / "meta.json").read_text())
    model.set_rng_states(meta["rng"])
    trainer.time_idx = meta["time_idx"]
    assert model.layers[-1].params[0].base is model.layers[0].params[0]  # still tied
    steps(*resumed, 3)
    for a, b in zip(straight[0].params, model.params, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight[0].lstm_layers[1].c, model.lstm_layers[1].c)


def test_load_state_dict_checks_everything_before_changing_anything():
    model = Rnnlm(V, 4, 5, seed=0)
    state = model.state_dict()
    before = [p.copy() for p in model.params]
    other = Rnnlm(V, 4, 6, seed=1).state_dict()
    bad = {**other, "extra": np.zeros(1)}
    with pytest.raises(
        ValueError, match=r"unknown extra; params/1 has shape \(4, 24\), expected \(4, 20\)"
    ):
        model.load_state_dict(bad)
    for a, b in zip(before, model.params, strict=True):
        np.testing.assert_array_equal(a, b)
    model.forward(np.zeros((2, 3), int), np.zeros((2, 3), int))
    assert "layers/1/h" in model.state_dict() and "layers/1/h" not in state
    model.load_state_dict(state)  # no carried state saved: the layer starts from zeros again
    assert model.lstm_layer.h is None


def test_regression_load_state_dict_refuses_tied_conflicts_and_carried_states_of_wrong_shape():
    """A tied weight given two values kept the later one without a word (load_params refuses
    it), and a carried state of the wrong shape was taken and failed only at the next forward."""
    model = BetterRnnlm(V, 4, 4, seed=0)
    model.forward(np.zeros((2, 3), int), np.zeros((2, 3), int))
    before = model.state_dict()
    tied = {**before, "params/0": before["params/0"] + 1}
    with pytest.raises(
        ValueError,
        match=r"^BetterRnnlm\.load_state_dict: params/0 and params/7 are one array in this model "
        r"\(tied weights\), but the state gives them different values; nothing was changed$",
    ):
        model.load_state_dict(tied)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    H = model.lstm_layers[0].hidden_size
    for bad, why in (
        ({"layers/2/h": np.zeros(7)}, r"layers/2/h has shape \(7,\) and dtype float64, expected"),
        (
            {"layers/2/h": np.zeros((2, H + 1))},
            rf"layers/2/h has shape \(2, 5\) and dtype float64, expected a float \(N, {H}\)",
        ),
        ({"layers/2/c": np.zeros((3, H))}, r"layers/2/c has 3 rows, layers/2/h 2: expected one N"),
        ({"layers/4/h": np.zeros((2, H), int)}, r"layers/4/h has shape \(2, 4\) and dtype int"),
    ):
        with pytest.raises(ValueError, match=f"^BetterRnnlm\\.load_state_dict: {why}"):
            model.load_state_dict({**before, **bad})
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[key])
    model.load_state_dict(before)  # its own state loads


@pytest.mark.parametrize(
    "make",
    [
        lambda *s, **k: SimpleRnnlm(*s, **k),
        lambda *s, **k: Rnnlm(*s, **k),
        lambda *s, **k: BetterRnnlm(*s, **k),
        lambda V, D, H, **k: SimpleCBOW(V, H, **k),
        lambda V, D, H, **k: SimpleSkipGram(V, H, **k),
        lambda V, D, H, **k: CBOW(V, H, 1, np.arange(20) % max(int(V), 7), **k),
        lambda V, D, H, **k: SkipGram(V, H, 1, np.arange(20) % max(int(V), 7), **k),
    ],
    ids=["SimpleRnnlm", "Rnnlm", "BetterRnnlm", "SimpleCBOW", "SimpleSkipGram", "CBOW", "SkipGram"],
)
def test_regression_the_models_refuse_sizes_below_one_and_dtypes_not_float(make):
    """0 drew empty weights with a divide-by-zero warning, -1 and 4.5 failed inside NumPy, and
    dtype=int truncated the drawn weights to whole numbers (the embedding's all 0), then
    stored as float64."""
    name = type(make(9, 8, 8, seed=0)).__name__
    must = f"^{name}: {{}} must be a whole number >= 1, got {{}}$"
    with pytest.raises(ValueError, match=must.format("vocab_size", 0)):
        make(0, 8, 8)
    with pytest.raises(ValueError, match=must.format("hidden_size", -1)):
        make(9, 8, -1)
    for dtype in (int, np.float16):
        with pytest.raises(ValueError, match=f"^{name}: dtype must be float32 or float64, got"):
            make(9, 8, 8, dtype=dtype)
    for seed in (-1, 1.5, "a"):  # NumPy's SeedSequence errors came out, naming no model
        with pytest.raises(ValueError, match=f"^{name}: seed must be None, a non-negative"):
            make(9, 8, 8, seed=seed)
    same = make(np.int64(9), 8, 8, seed=0)
    for p, q in zip(same.params, make(9, 8, 8, seed=0).params, strict=True):
        np.testing.assert_array_equal(p, q)  # NumPy integers draw the same weights


@pytest.mark.parametrize(
    "make",
    [
        lambda: Rnnlm(10, 4, 4, seed=0),
        lambda: BetterRnnlm(10, 4, 4, seed=0),
        lambda: CBOW(10, 4, 1, np.arange(10), seed=0),
        lambda: SkipGram(10, 4, 1, np.arange(10), seed=0),
    ],
    ids=["Rnnlm", "BetterRnnlm", "CBOW", "SkipGram"],
)
def test_regression_the_models_take_unsigned_word_ids(make):
    """uint64 ids failed: Rnnlm's backward in the embedding's scatter ("arrays used as indices
    must be of integer type"), CBOW's forward on float ids (target and negatives concatenated:
    uint64 with int64 promotes to float64). Now the same loss and gradients as int64 ids."""
    a, b = make(), make()
    if isinstance(a, (CBOW, SkipGram)):
        xs, ts = np.array([[1, 2], [4, 6]]), np.array([3, 5])
    else:
        xs, ts = np.array([[1, 2, 9]]), np.array([[2, 3, 0]])
    assert a.forward(xs.astype(np.uint64), ts.astype(np.uint64)) == b.forward(xs, ts)
    a.backward()
    b.backward()
    for p, q in zip(a.grads, b.grads, strict=True):
        np.testing.assert_array_equal(p, q)
