"""Property-based tests of layerwise.sequel: generated shapes, states, labels and corpora.

Each property holds for every generated case: a stateful layer run on a sequence in two pieces
gives the sequence run whole; the time layers keep the parameters' dtype and never modify their
input; backward returns arrays of the input's shape and passes a gradient check at generated
shapes; TimeSoftmaxWithLoss agrees with its formula for any pattern of ignored labels;
TimeEmbedding's gradient is the one-hot product; the sampler's rows are distinct and avoid the
target; ``remove_duplicate`` keeps exactly one of each shared array with the summed gradient;
the counting functions equal their definitions.
"""

from __future__ import annotations

import numpy as np
from conftest import record_count, record_worst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerwise import numerical_gradient
from layerwise.sequel import (
    Affine,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    UnigramSampler,
)
from layerwise.sequel.trainer import remove_duplicate
from layerwise.sequel.util import create_co_matrix, create_contexts_target

FEW = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
MANY = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
CELLS = {TimeRNN: 1, TimeLSTM: 4, TimeGRU: 3}
sizes = st.integers(1, 4)


def make(cls, D, H, dtype, seed):
    rng = np.random.default_rng(seed)
    g = CELLS[cls]
    shapes = ((D, g * H), (H, g * H), (g * H,))
    return [rng.normal(0, 0.6, s).astype(dtype) for s in shapes]


@MANY
@given(
    cls=st.sampled_from(list(CELLS)),
    N=sizes,
    D=sizes,
    H=sizes,
    pieces=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_a_sequence_in_pieces_is_the_sequence_whole(cls, N, D, H, pieces, dtype, seed):
    params = make(cls, D, H, dtype, seed)
    xs = np.random.default_rng(seed + 1).normal(size=(N, sum(pieces), D)).astype(dtype)
    keep = xs.copy()
    whole = cls(*params).forward(xs)
    layer = cls(*params, stateful=True)
    cuts = np.cumsum([0, *pieces])
    parts = [layer.forward(xs[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=tol, atol=tol)
    assert whole.dtype == dtype and whole.shape == (N, sum(pieces), H)
    dxs = layer.backward(np.ones_like(parts[-1]))
    assert dxs.shape == (N, pieces[-1], D) and dxs.dtype == dtype and layer.dh.shape == (N, H)
    np.testing.assert_array_equal(xs, keep)
    record_count("sequel properties", "stateful pieces")


@FEW
@given(
    cls=st.sampled_from(list(CELLS)),
    N=sizes,
    T=sizes,
    D=sizes,
    H=sizes,
    stateful=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_time_layers_pass_a_gradient_check_at_any_shape(cls, N, T, D, H, stateful, seed):
    rng = np.random.default_rng(seed)
    layer = cls(*make(cls, D, H, np.float64, seed), stateful=stateful)
    h0 = rng.normal(size=(N, H))
    xs, dout = rng.normal(size=(N, T, D)), rng.uniform(0.5, 1.5, (N, T, layer.hidden_size))
    # An LSTM's carried c is part of its state too; set both (a plain layer ignores them).
    state = {"h": h0, "c": rng.normal(size=(N, H))} if cls is TimeLSTM else {"h": h0}

    def loss(_=None):
        for name, value in state.items():
            setattr(layer, name, value)
        return float(np.sum(dout * layer.forward(xs)))

    loss()
    dxs = layer.backward(dout)
    grads = [g.copy() for g in layer.grads]
    checks = [(xs, dxs), *zip(layer.params, grads, strict=True)]
    if stateful:
        checks.append((h0, layer.dh.copy()))
    for x, analytic in checks:
        n = (4 * numerical_gradient(loss, x, 5e-4) - numerical_gradient(loss, x, 1e-3)) / 3
        # Normwise: at generated shapes an entry may cancel to 1e-6 of the largest, where
        # differences resolve 1e-12 absolute (the fixed cases check entry by entry).
        scale = max(float(np.max(np.abs(analytic) + np.abs(n))), 1e-300)  # dWh is 0 at T = 1
        error = float(np.max(np.abs(analytic - n))) / scale
        record_worst("sequel properties: gradient check", cls.__name__, error, 1e-8)


@MANY
@given(
    N=sizes,
    T=sizes,
    V=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.1, 1.0, 50.0]),
    dout=st.floats(0.1, 3.0),
)
def test_time_softmax_with_loss_is_its_formula_for_any_ignored_labels(N, T, V, seed, scale, dout):
    rng = np.random.default_rng(seed)
    xs = scale * rng.normal(size=(N, T, V))
    ts = rng.integers(-1, V, (N, T))
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dxs = layer.backward(dout)
    mask = ts != -1
    log_y = xs - xs.max(-1, keepdims=True)
    log_y -= np.log(np.exp(log_y).sum(-1, keepdims=True))
    if mask.any():
        picked = np.take_along_axis(log_y, np.maximum(ts, 0)[..., None], -1)[..., 0]
        assert np.isclose(loss, -picked[mask].mean(), rtol=1e-12, atol=1e-12)
        ref = (np.exp(log_y) - np.eye(V)[np.maximum(ts, 0)]) * dout / mask.sum()
        np.testing.assert_allclose(dxs[mask], ref[mask], rtol=1e-10, atol=1e-14)
    else:
        assert np.isnan(loss)
    assert np.all(dxs[~mask] == 0)
    record_count("sequel properties", "TimeSoftmaxWithLoss")


@MANY
@given(N=sizes, T=sizes, V=st.integers(1, 6), D=sizes, seed=st.integers(0, 2**16))
def test_embedding_gradient_is_the_one_hot_product(N, T, V, D, seed):
    rng = np.random.default_rng(seed)
    layer = TimeEmbedding(rng.normal(size=(V, D)))
    xs = rng.integers(0, V, (N, T))
    out = layer.forward(xs)
    np.testing.assert_array_equal(out, layer.params[0][xs])
    dout = rng.normal(size=out.shape)
    layer.backward(dout)
    onehot = np.eye(V)[xs.reshape(-1)]
    np.testing.assert_allclose(
        layer.grads[0], onehot.T @ dout.reshape(-1, D), rtol=1e-13, atol=1e-14
    )


@MANY
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    D=sizes,
    H=sizes,
    seed=st.integers(0, 2**16),
)
def test_affine_on_any_leading_axes_is_the_flattened_product(lead, D, H, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(D, H)), rng.normal(size=H)
    x, dout = rng.normal(size=(*lead, D)), rng.normal(size=(*lead, H))
    layer = Affine(W, b)
    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-13, atol=1e-14)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, dout @ W.T, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(layer.grads[0], x.reshape(-1, D).T @ dout.reshape(-1, H), rtol=1e-12)
    np.testing.assert_allclose(layer.grads[1], dout.reshape(-1, H).sum(0), rtol=1e-12, atol=1e-14)


@MANY
@given(
    corpus=st.lists(st.integers(0, 9), min_size=1, max_size=60),
    size=st.integers(1, 5),
    power=st.sampled_from([0.5, 0.75, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_sampled_rows_are_distinct_and_avoid_the_target(corpus, size, power, seed):
    corpus = np.array(corpus)
    if len(np.unique(corpus)) <= size:
        return  # refused, tested elsewhere
    sampler = UnigramSampler(corpus, power, size, seed=seed)
    target = np.random.default_rng(seed).choice(corpus, 30)
    neg = sampler.get_negative_sample(target)
    assert neg.shape == (30, size)
    assert np.all(neg != target[:, None])
    assert all(len(set(row)) == size for row in neg.tolist())
    assert np.all(sampler.word_p[neg] > 0)
    record_count("sequel properties", "sampler")


@MANY
@given(
    layout=st.lists(st.sampled_from(["new", "same", "transposed"]), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_remove_duplicate_keeps_each_array_once_with_summed_gradients(layout, seed):
    rng = np.random.default_rng(seed)
    params, grads, owners = [], [], []
    for kind in layout:
        if kind == "new" or not params:
            p = rng.normal(size=(2, 3))
            params.append(p)
            owners.append((len(params) - 1, False))
        else:
            first = params[owners[-1][0]] if owners else params[0]
            params.append(first if kind == "same" else first.T)
            owners.append(
                (next(i for i, q in enumerate(params) if q is first), kind == "transposed")
            )
        grads.append(rng.normal(size=params[-1].shape))
    expected = {}
    for (i, transposed), g in zip(owners, grads, strict=True):
        key = id(params[i])
        expected[key] = expected.get(key, 0) + (g.T if transposed else g)
    before = [g.copy() for g in grads]
    merged_p, merged_g = remove_duplicate(params, [g.copy() for g in before])
    assert [id(p) for p in merged_p] == list(dict.fromkeys(id(params[i]) for i, _ in owners))
    for p, g in zip(merged_p, merged_g, strict=True):
        np.testing.assert_allclose(g, expected[id(p)], rtol=1e-13)


@MANY
@given(
    corpus=st.lists(st.integers(0, 5), min_size=3, max_size=40),
    window=st.integers(1, 3),
)
def test_co_matrix_and_contexts_are_their_definitions(corpus, window):
    corpus = np.array(corpus)
    C = create_co_matrix(corpus, 6, window)
    ref = np.zeros((6, 6), int)
    for i, w in enumerate(corpus):
        for j, c in enumerate(corpus):
            if 0 < abs(i - j) <= window:
                ref[w, c] += 1
    np.testing.assert_array_equal(C, ref)
    if len(corpus) > 2 * window:
        contexts, target = create_contexts_target(corpus, window)
        for k, t in enumerate(target):
            i = k + window
            assert t == corpus[i]
            np.testing.assert_array_equal(
                contexts[k],
                np.concatenate([corpus[i - window : i], corpus[i + 1 : i + window + 1]]),
            )
