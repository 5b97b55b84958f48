"""The sequel's language models exported: ``to_torch`` (nn.Embedding, nn.LSTM with its gates
reordered, nn.RNN, nn.Linear, nn.Dropout) and ``to_onnx`` of one step (the ONNX LSTM and RNN
operators) run in onnxruntime, each against ``predict`` over two calls carrying the state;
and what is refused, with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from test_sequel_weights import trained

from layerwise.interop import ConversionError, to_onnx, to_torch
from layerwise.sequel.base_model import BaseModel, LayerStack
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.time_layers import (
    TimeAffine,
    TimeEmbedding,
    TimeGRU,
    TimeSoftmaxWithLoss,
)
from layerwise.sequel.word2vec import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram

V, H = 11, 6
MODELS = [SimpleRnnlm, Rnnlm, BetterRnnlm]


def two_batches(seed=1):
    """Two batches of word ids of one batch size and different lengths."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, size=(3, 5)), rng.integers(0, V, size=(3, 4))


def briefly_trained(cls, dtype):
    model = trained(cls)
    # The sequel's embedding starts at N(0, 1) / 100; larger, so that every layer (through
    # BetterRnnlm's tied weight too) moves the scores far above rounding.
    model.params[0][...] *= 30
    if dtype == np.float64:  # the same weights, in float64
        wide = cls(V, H, H, seed=0, dtype=np.float64)
        for p, q in zip(wide.params, model.params, strict=True):
            p[...] = q
        model = wide
    return model


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-10)])
@pytest.mark.parametrize("cls", MODELS)
def test_to_torch_equals_predict_with_the_state_carried(cls, dtype, tol):
    torch = pytest.importorskip("torch")
    model = briefly_trained(cls, dtype)
    module = to_torch(model)
    assert not module.training
    assert next(module.parameters()).dtype == getattr(torch, np.dtype(dtype).name)
    xs1, xs2 = two_batches()
    with torch.no_grad():
        scores1, state = module(torch.from_numpy(xs1))
        scores2, state = module(torch.from_numpy(xs2), state)
    # The model's stateful layers carry h (and c) from the first call to the second.
    np.testing.assert_allclose(scores1.numpy(), model.predict(xs1), rtol=0, atol=tol)
    np.testing.assert_allclose(scores2.numpy(), model.predict(xs2), rtol=0, atol=tol)
    recurrent = [layer for layer in model.layers if hasattr(layer, "state_names")]
    assert len(state) == len(recurrent)
    for layer, s in zip(recurrent, state, strict=True):
        s = s if isinstance(s, tuple) else (s,)
        for name, value in zip(layer.state_names, s, strict=True):  # torch: (1, N, H)
            np.testing.assert_allclose(value[0].numpy(), getattr(layer, name), atol=tol)


def test_to_torch_names_modules_and_keeps_the_tying():
    torch = pytest.importorskip("torch")
    model = briefly_trained(BetterRnnlm, np.float32)
    module = to_torch(model)
    layers = module.layers
    assert list(layers) == [
        "TimeEmbedding1",
        "TimeDropout1",
        "TimeLSTM1",
        "TimeDropout2",
        "TimeLSTM2",
        "TimeDropout3",
        "TimeAffine1",
    ]
    assert isinstance(layers["TimeLSTM1"], torch.nn.LSTM)
    assert layers["TimeDropout1"].p == 0.5
    assert layers["TimeAffine1"].weight is layers["TimeEmbedding1"].weight  # one Parameter
    # PyTorch's gate blocks i, f, g, o are the sequel's blocks 2, 0, 1, 3 (f, g, i, o).
    Wx = model.lstm_layers[0].params[0]
    f, g, i, o = np.split(Wx, 4, axis=1)
    torch_W = layers["TimeLSTM1"].weight_ih_l0.detach().numpy()
    np.testing.assert_array_equal(torch_W, np.concatenate([i, f, g, o], axis=1).T)


def test_to_torch_of_rnnlm_is_plain_modules():
    torch = pytest.importorskip("torch")
    module = to_torch(Rnnlm(V, 4, H, seed=0))
    kinds = [type(m) for m in module.layers.values()]
    assert kinds == [torch.nn.Embedding, torch.nn.LSTM, torch.nn.Linear]
    assert module.layers["TimeAffine1"].weight is not module.layers["TimeEmbedding1"].weight


class GruLm(LayerStack):
    def __init__(self):
        rng = np.random.default_rng(0)
        layers = [
            TimeEmbedding(rng.normal(size=(V, H)).astype(np.float32)),
            TimeGRU(*(rng.normal(size=s).astype(np.float32) for s in [(H, 3 * H)] * 2 + [3 * H])),
            TimeAffine(rng.normal(size=(H, V)).astype(np.float32), np.zeros(V, np.float32)),
        ]
        super().__init__(layers, TimeSoftmaxWithLoss())


class EncoderDecoder(BaseModel):
    """A model whose layers do not run in one chain, as the seq2seq models."""

    def __init__(self):
        super().__init__()
        self.params, self.grads = [], []


@pytest.mark.parametrize(
    "model, reason",
    [
        (GruLm(), r"layer TimeGRU1 \(TimeGRU\) does not convert: the sequel's GRU multiplies"),
        (EncoderDecoder(), r"EncoderDecoder .* only the sequel's language models"),
    ],
)
@pytest.mark.parametrize("target", ["torch", "ONNX"])
def test_what_does_not_convert_is_refused_with_the_reason(tmp_path, model, reason, target):
    pytest.importorskip(target.lower())
    path = tmp_path / "m.onnx"
    with pytest.raises(ConversionError, match=reason) as info:
        to_torch(model) if target == "torch" else to_onnx(model, path)
    assert f"cannot be exported to {target}" in str(info.value)
    assert not path.exists()


WORD2VEC = [
    lambda: SimpleCBOW(V, H),
    lambda: SimpleSkipGram(V, H),
    lambda: CBOW(V, H, 1, np.arange(V).repeat(2)),
    lambda: SkipGram(V, H, 1, np.arange(V).repeat(2)),
]


@pytest.mark.parametrize("make", WORD2VEC, ids=["SimpleCBOW", "SimpleSkipGram", "CBOW", "SkipGram"])
@pytest.mark.parametrize("target", ["torch", "ONNX"])
def test_regression_word2vec_models_are_refused_with_the_reason(tmp_path, make, target):
    """They fell into volume 1's planner: AttributeError "'CBOW' object has no attribute
    'layers'"."""
    pytest.importorskip(target.lower())
    model = make()
    path = tmp_path / "w.onnx"
    with pytest.raises(ConversionError) as info:
        to_torch(model) if target == "torch" else to_onnx(model, path)
    assert str(info.value) == (
        f"{type(model).__name__} cannot be exported to {target}: only the sequel's language "
        "models, whose layers run in one chain (model.layers: SimpleRnnlm, Rnnlm, BetterRnnlm), "
        "convert; this model has no such chain (a word2vec model, whose product is its word "
        "vectors, model.word_vecs)"
    )
    assert not path.exists()


def run_onnx(path, xs, state):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outputs = session.run(None, {"xs": xs, **dict(zip(names[1:], state, strict=True))})
    return outputs[0], outputs[1:], names


@pytest.mark.parametrize("cls", MODELS)
def test_to_onnx_step_runs_in_onnxruntime_with_the_state_carried(tmp_path, cls):
    pytest.importorskip("onnx")
    model = briefly_trained(cls, np.float32)
    path = to_onnx(model, tmp_path / f"{cls.__name__}.onnx")
    xs1, xs2 = two_batches()
    n_layers = 2 if cls is BetterRnnlm else 1
    n_state = n_layers * (1 if cls is SimpleRnnlm else 2)
    zeros = [np.zeros((1, len(xs1), H), np.float32)] * n_state
    scores1, state, names = run_onnx(path, xs1, zeros)
    scores2, state, _ = run_onnx(path, xs2, state)
    assert names[:3] == (["xs", "h0_1", "c0_1"] if cls is not SimpleRnnlm else ["xs", "h0_1"])
    np.testing.assert_allclose(scores1, model.predict(xs1), rtol=0, atol=1e-5)
    np.testing.assert_allclose(scores2, model.predict(xs2), rtol=0, atol=1e-5)
    carried = [
        getattr(layer, name) for layer in model.layers for name in getattr(layer, "state_names", ())
    ]
    assert len(state) == len(carried) == n_state
    for ours, theirs in zip(carried, state, strict=True):  # ONNX: (1, N, H)
        np.testing.assert_allclose(theirs[0], ours, rtol=0, atol=1e-5)


def test_to_onnx_softmax_and_refusals(tmp_path):
    pytest.importorskip("onnx")
    model = briefly_trained(Rnnlm, np.float32)
    path = to_onnx(model, tmp_path / "p.onnx", softmax=True)
    xs, _ = two_batches()
    zeros = [np.zeros((1, len(xs), H), np.float32)] * 2
    probs, _, _ = run_onnx(path, xs, zeros)
    scores = model.predict(xs)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    with pytest.raises(ConversionError, match="give no input_shape"):
        to_onnx(model, tmp_path / "q.onnx", input_shape=(5,))
    assert not (tmp_path / "q.onnx").exists()
    # regression: softmax="no" was taken as true and wrote probabilities
    with pytest.raises(TypeError, match="to_onnx: softmax must be True or False, got 'no'"):
        to_onnx(model, tmp_path / "r.onnx", softmax="no")
    assert not (tmp_path / "r.onnx").exists()


def test_the_onnx_step_reads_a_negative_id_from_the_end_where_predict_refuses_it(tmp_path):
    """The known difference docs/export.md states: ONNX's Gather counts -1 from the end."""
    pytest.importorskip("onnx")
    model = briefly_trained(Rnnlm, np.float32)
    path = to_onnx(model, tmp_path / "m.onnx")
    zeros = [np.zeros((1, 1, H), np.float32)] * 2
    wrapped, _, _ = run_onnx(path, np.array([[-1]]), zeros)
    last, _, _ = run_onnx(path, np.array([[V - 1]]), zeros)
    np.testing.assert_array_equal(wrapped, last)
    with pytest.raises(ValueError, match=r"word ids must lie in \[0, 11\)"):
        model.predict(np.array([[-1]]))
