"""The sequel's layers: the list protocol, states, dtypes, the sampler, errors, and a
``test_regression_*`` for every difference from the sequel's ``common/`` code."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from layerwise.functions import numerical_gradient
from layerwise.layers import BackwardBeforeForwardError
from layerwise.sequel import (
    SEQUEL_LAYERS,
    Affine,
    Embedding,
    MatMul,
    NegativeSamplingLoss,
    SigmoidWithLoss,
    Softmax,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    UnigramSampler,
)
from layerwise.sequel.functions import exp_and_log_at, softmax_and_log_at
from layerwise.sequel.negative_sampling import alias_table

RECURRENT = [(TimeRNN, 1), (TimeLSTM, 4), (TimeGRU, 3)]


def cell(rng, gates, D=3, H=4, dtype=np.float64):
    return [
        (0.5 * rng.standard_normal(s)).astype(dtype)
        for s in ((D, gates * H), (H, gates * H), (gates * H,))
    ]


# ------------------------------------------------------------------------ the list protocol


@pytest.mark.parametrize(("cls", "gates"), RECURRENT)
def test_backward_writes_into_the_same_grads_arrays(cls, gates):
    rng = np.random.default_rng(0)
    layer = cls(*cell(rng, gates))
    held = list(layer.grads)
    for _ in range(2):
        hs = layer.forward(rng.standard_normal((2, 5, 3)))
        layer.backward(np.ones_like(hs))
        assert all(a is b for a, b in zip(held, layer.grads, strict=True))
    assert layer.Wx is layer.params[0] and layer.dWh is layer.grads[1]
    assert np.any(layer.dWx != 0)


def test_embedding_of_a_transposed_weight_fills_its_gradient():
    # The gradient of a non-contiguous W is not C-ordered: the flat fast path cannot write there.
    W = np.arange(12.0).reshape(3, 4).T  # (4, 3), a view in column-major order
    layer = Embedding(W)
    layer.forward(np.array([1, 1, 3]))
    layer.backward(np.ones((3, 3)))
    np.testing.assert_array_equal(layer.grads[0], [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]])


def test_embedding_zeroing_only_touched_rows_gives_the_dense_gradient():
    # touched_rows_only zeroes the rows the previous backward wrote, not all of dW; the ids
    # array is refilled in place by the caller, so the layer must remember a copy of them.
    rng = np.random.default_rng(4)
    W = rng.standard_normal((20, 3))
    dense, touched = Embedding(W), Embedding(W, touched_rows_only=True)
    assert touched.get_config() == {"touched_rows_only": True} and dense.get_config() == {}
    ids = np.empty((4, 5), int)
    for _ in range(6):
        ids[...] = rng.integers(0, 20, ids.shape)
        dout = rng.standard_normal((4, 5, 3))
        for layer in (dense, touched):
            layer.forward(ids)
            layer.backward(dout)
        np.testing.assert_array_equal(touched.grads[0], dense.grads[0])


@pytest.mark.parametrize("touched_rows_only", [False, True])
def test_embedding_backward_of_scaled_rows_is_the_backward_of_their_product(touched_rows_only):
    # backward_scaled_rows(scale, rows) = backward(scale[:, :, None] * rows[:, None, :]),
    # computed as one product by the distinct ids; ids repeat within and across rows.
    rng = np.random.default_rng(6)
    W = rng.standard_normal((6, 3))
    formed, scaled = Embedding(W), Embedding(W, touched_rows_only=touched_rows_only)
    for _ in range(3):
        ids = rng.integers(0, 6, (4, 5))
        scale, rows = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
        formed.forward(ids)
        formed.backward(scale[:, :, None] * rows[:, None, :])
        scaled.forward(ids)
        scaled.backward_scaled_rows(scale, rows)
        np.testing.assert_allclose(scaled.grads[0], formed.grads[0], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="scale of their shape"):
        scaled.backward_scaled_rows(scale[:, :2], rows)


def test_affine_with_many_rows_adds_the_bias_inside_the_product():
    # More rows than 2 D: the forward is [x, 1] [W; b], one product; the same numbers (to
    # rounding) and the same backward as x W + b.
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, dout = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    layer = Affine(W, b)
    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dout), dout @ W.T, rtol=1e-13)
    np.testing.assert_allclose(layer.grads[0], x.reshape(-1, 3).T @ dout.reshape(-1, 4))
    np.testing.assert_allclose(layer.grads[1], dout.sum(axis=(0, 1)))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        layer.forward(np.ones((10, 2)))


def test_tied_weights_stay_tied_through_in_place_updates():
    # BetterRnnlm's tying: TimeAffine(embed_W.T, b) holds a view of the embedding's array.
    rng = np.random.default_rng(1)
    embed = TimeEmbedding(rng.standard_normal((6, 3)))
    affine = TimeAffine(embed.params[0].T, np.zeros(6))
    assert np.shares_memory(affine.params[0], embed.params[0])
    embed.params[0] -= 0.1  # what an optimizer does
    np.testing.assert_array_equal(affine.params[0], embed.params[0].T)


@pytest.mark.parametrize("name", sorted(SEQUEL_LAYERS))
def test_every_layer_has_params_and_grads_lists_of_matching_shapes(name):
    cls = SEQUEL_LAYERS[name]
    if name in ("NegativeSamplingLoss", "TimeBiLSTM") or not getattr(cls, "param_names", ()):
        layer = None
    else:
        rng = np.random.default_rng(2)
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}.get(name.removeprefix("Time"))
        if gates:
            args = cell(rng, gates)
        elif cls.param_names == ("W", "b"):
            args = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
        else:
            args = [rng.standard_normal((5, 3))]
        layer = cls(*args)
        rebuilt = type(layer)(*layer.params, **layer.get_config())
        assert [p is q for p, q in zip(rebuilt.params, layer.params, strict=True)] == [True] * len(
            args
        )
        assert repr(layer).startswith(name + "(")
    if layer is not None:
        assert isinstance(layer.params, list) and isinstance(layer.grads, list)
        assert [g.shape for g in layer.grads] == [p.shape for p in layer.params]


# --------------------------------------------------------------------------------- states


@pytest.mark.parametrize(("cls", "gates"), RECURRENT)
def test_a_stateful_layer_continues_the_sequence(cls, gates):
    rng = np.random.default_rng(3)
    params = cell(rng, gates)
    xs = rng.standard_normal((2, 7, 3))
    whole = cls(*params).forward(xs)
    layer = cls(*params, stateful=True)
    first, second = layer.forward(xs[:, :3]), layer.forward(xs[:, 3:])
    np.testing.assert_allclose(
        np.concatenate([first, second], axis=1), whole, rtol=1e-13, atol=1e-15
    )
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(xs[:, 3:]), cls(*params).forward(xs[:, 3:]))


def test_a_layer_that_is_not_stateful_starts_from_zeros_even_after_set_state():
    # As the sequel's: `if not self.stateful or self.h is None: self.h = zeros`.
    rng = np.random.default_rng(4)
    params = cell(rng, 4)
    xs = rng.standard_normal((2, 3, 3))
    layer = TimeLSTM(*params)
    layer.set_state(np.ones((2, 4)), np.ones((2, 4)))
    np.testing.assert_array_equal(layer.forward(xs), TimeLSTM(*params).forward(xs))


def test_set_state_is_the_decoders_starting_point():
    rng = np.random.default_rng(5)
    params = cell(rng, 1)
    xs, h = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 4))
    layer = TimeRNN(*params, stateful=True)
    layer.set_state(h)
    hs = layer.forward(xs)
    Wx, Wh, b = params
    np.testing.assert_allclose(hs[:, 0], np.tanh(xs[:, 0] @ Wx + h @ Wh + b), rtol=1e-14)


def test_regression_a_stateful_layer_refuses_a_batch_of_another_size():
    # The sequel broadcasts a (1, H) state over any batch, or fails deep inside np.dot.
    rng = np.random.default_rng(6)
    layer = TimeLSTM(*cell(rng, 4), stateful=True)
    layer.forward(rng.standard_normal((2, 3, 3)))
    with pytest.raises(
        ValueError, match=r"TimeLSTM.forward \(stateful\): expected h of shape \(5, 4\)"
    ):
        layer.forward(rng.standard_normal((5, 3, 3)))


# --------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(("cls", "gates"), RECURRENT)
def test_regression_time_layers_keep_the_parameters_dtype(cls, gates):
    # The sequel allocates hs and dxs with np.empty(..., dtype='f'): float64 weights give a
    # float32 output, and no float64 gradient check can pass on it.
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        layer = cls(*cell(rng, gates, dtype=dtype))
        hs = layer.forward(rng.standard_normal((2, 3, 3)))
        dxs = layer.backward(np.ones_like(hs))
        assert hs.dtype == dxs.dtype == layer.h.dtype == dtype
        assert {g.dtype for g in layer.grads} == {np.dtype(dtype)}
    embed = TimeEmbedding(np.ones((4, 2), np.float64))
    assert embed.forward(np.array([[0, 3]])).dtype == np.float64


def test_float32_time_layers_agree_with_float64():
    rng = np.random.default_rng(8)
    params = cell(rng, 4)
    xs = rng.standard_normal((2, 5, 3))
    lo = TimeLSTM(*(p.astype(np.float32) for p in params)).forward(xs)
    hi = TimeLSTM(*params).forward(xs)
    np.testing.assert_allclose(lo, hi, atol=1e-6)


# -------------------------------------------------------------- differences from the sequel


def test_regression_affine_and_matmul_take_three_dimensional_input():
    # The sequel's Affine.backward computes np.dot(x.T, dout): wrong for (N, T, D).
    rng = np.random.default_rng(9)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, dout = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    for layer in (Affine(W, b), MatMul(W)):
        layer.forward(x)
        dx = layer.backward(dout)
        np.testing.assert_allclose(layer.grads[0], x.reshape(-1, 3).T @ dout.reshape(-1, 4))
        np.testing.assert_allclose(dx, dout @ W.T)


def test_regression_softmax_works_over_the_last_axis_of_any_shape():
    x = np.random.default_rng(10).standard_normal((2, 3, 4))
    y = Softmax().forward(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    np.testing.assert_allclose(y[1, 2], np.exp(x[1, 2]) / np.exp(x[1, 2]).sum())


def test_regression_time_softmax_with_loss_is_finite_where_softmax_underflows():
    # The sequel takes log(softmax(x)): log(0) = -inf once the label's score is 800 below.
    xs = np.zeros((1, 2, 3))
    xs[0, :, 0] = 800.0
    loss = TimeSoftmaxWithLoss().forward(xs, np.array([[1, 2]]))
    assert loss == pytest.approx(800.0 + np.log1p(2 * np.exp(-800.0)))


def test_regression_time_softmax_with_loss_backward_twice_gives_the_same_gradient():
    # The sequel's backward writes into its cached softmax (dx = ys; dx[...] -= 1).
    rng = np.random.default_rng(11)
    layer = TimeSoftmaxWithLoss()
    layer.forward(rng.standard_normal((2, 3, 5)), np.array([[0, 1, -1], [4, 4, 2]]))
    first = layer.backward()
    np.testing.assert_array_equal(layer.backward(), first)
    assert np.all(first[0, 2] == 0)  # the ignored step


def test_time_softmax_with_loss_of_nothing_labelled_is_nan_as_in_pytorch():
    layer = TimeSoftmaxWithLoss()
    assert np.isnan(layer.forward(np.zeros((1, 2, 3)), np.full((1, 2), -1)))
    np.testing.assert_array_equal(layer.backward(), 0)


@pytest.mark.parametrize("shape", [(50, 3000), (7, 40000), (3, 5)])
def test_softmax_in_blocks_of_rows_equals_the_whole_array_at_once(shape):
    # softmax_and_log_at works on blocks of about 256 KB: 10 rows of 3000, 1 row of 40000.
    rng = np.random.default_rng(14)
    x = 5 * rng.standard_normal(shape)
    t = rng.integers(0, shape[1], shape[0])
    y, log_y_t = softmax_and_log_at(x, t)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(log_y_t, np.log(ref[np.arange(shape[0]), t]), rtol=1e-13)


def test_exp_and_log_at_is_the_softmax_before_its_division():
    rng = np.random.default_rng(15)
    x = 5 * rng.standard_normal((9, 70))
    t = rng.integers(0, 70, 9)
    e, s, log_y_t = exp_and_log_at(x, t)
    y, log_ref = softmax_and_log_at(x, t)
    np.testing.assert_allclose(e / s[:, None], y, rtol=1e-15)
    np.testing.assert_allclose(s, np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1), rtol=1e-14)
    np.testing.assert_array_equal(log_y_t, log_ref)
    assert np.all(e.max(axis=1) == 1)  # the row maximum shifted to 0


def test_exp_and_log_at_can_write_over_its_input_block_by_block():
    rng = np.random.default_rng(16)
    x = 5 * rng.standard_normal((300, 500))  # blocks of 65 rows: the labels read before each
    t = rng.integers(0, 500, 300)
    ref = exp_and_log_at(x, t)
    e, s, log_y_t = exp_and_log_at(x, t, out=x)
    assert e is x
    for got, want in zip((e, s, log_y_t), ref, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"out must have x's shape \(300, 500\) and dtype"):
        exp_and_log_at(x, t, out=np.empty((300, 500), np.float32))


def test_time_softmax_with_loss_overwriting_its_scores_gives_the_same_loss_and_gradient():
    rng = np.random.default_rng(17)
    xs = rng.standard_normal((2, 3, 5)).astype(np.float32)
    ts = np.array([[0, 1, -1], [4, 4, 2]])
    layer = TimeSoftmaxWithLoss()
    loss, dx = layer.forward(xs, ts), layer.backward(0.5)
    scores = xs.copy()
    owner = TimeSoftmaxWithLoss()
    assert owner.forward(scores, ts, overwrite_xs=True) == loss
    assert not np.array_equal(scores, xs)  # the softmax is written there
    got = owner.backward(0.5)
    np.testing.assert_array_equal(got, dx)
    assert np.shares_memory(got, scores)  # and then the gradient
    with pytest.raises(BackwardBeforeForwardError):  # the one backward spent the cache
        owner.backward()
    # Scores that cannot be written are left alone, and the gradient is the same.
    scores = xs.copy()
    scores.flags.writeable = False
    assert owner.forward(scores, ts, overwrite_xs=True) == loss
    np.testing.assert_array_equal(scores, xs)
    np.testing.assert_array_equal(owner.backward(0.5), dx)


# ------------------------------------------------------------ TimeLSTM's static input


def static_case(rng, N=3, T=4, S=2, D=3, H=4):
    W = cell(rng, 4, D=S + D, H=H)
    return W, rng.standard_normal((N, S)), rng.standard_normal((N, T, D))


def test_time_lstm_static_input_is_its_concatenation_at_every_step():
    rng = np.random.default_rng(16)
    W, static, xs = static_case(rng)
    N, T, _ = xs.shape
    concat = np.concatenate([np.broadcast_to(static[:, None], (N, T, 2)), xs], axis=2)
    ours, ref = TimeLSTM(*W, stateful=True), TimeLSTM(*[w.copy() for w in W], stateful=True)
    for _ in range(2):  # the carried state too
        hs = ours.forward(xs, static=static)
        np.testing.assert_allclose(hs, ref.forward(concat), rtol=1e-13, atol=1e-15)
        dhs = rng.standard_normal(hs.shape)
        dxs, dref = ours.backward(dhs), ref.backward(dhs)
        np.testing.assert_allclose(dxs, dref[:, :, 2:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.dstatic, dref[:, :, :2].sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(ours.dh, ref.dh, rtol=1e-12, atol=1e-14)
        for a, b in zip(ours.grads, ref.grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_time_lstm_static_input_gradients_are_the_numerical_ones():
    rng = np.random.default_rng(17)
    W, static, xs = static_case(rng)
    layer = TimeLSTM(*W)
    weights = rng.standard_normal((3, 4, 4))  # loss = sum(weights * hs)

    def loss(_=None):
        return float(np.sum(weights * layer.forward(xs, static=static)))

    loss()
    layer.backward(weights)
    analytic = [layer.dstatic.copy(), *(g.copy() for g in layer.grads)]
    for got, at in zip(analytic, [static, *layer.params], strict=True):
        np.testing.assert_allclose(got, numerical_gradient(loss, at), rtol=1e-7, atol=1e-9)


def test_time_lstm_refuses_a_static_input_that_does_not_fit():
    rng = np.random.default_rng(18)
    W, static, xs = static_case(rng)
    layer = TimeLSTM(*W)
    with pytest.raises(ValueError, match=r"static of shape \(N, S\) with 0 < S < 5"):
        layer.forward(xs, static=np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"expected xs of shape \(N, T, 3\)"):
        layer.forward(xs[:, :, :2], static=static)
    with pytest.raises(ValueError, match="static has 2 rows, xs 3 sequences"):
        layer.forward(xs, static=static[:2])


def test_regression_sigmoid_with_loss_is_exact_in_the_tail():
    # The sequel's -log(y + 1e-7) stops at 16.1 whatever the score.
    layer = SigmoidWithLoss()
    assert layer.forward(np.array([-40.0]), np.array([1])) == pytest.approx(40.0, rel=1e-15)


def global_state():
    return np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is what is tested)


def test_regression_time_dropout_draws_from_its_own_seeded_generator():
    xs = np.ones((2, 3, 4))
    a, b = TimeDropout(0.5, seed=3), TimeDropout(0.5, seed=3)
    state = global_state()
    np.testing.assert_array_equal(a.forward(xs), b.forward(xs))
    np.testing.assert_array_equal(global_state(), state)  # the global state untouched
    assert set(np.unique(a.forward(xs))) <= {0.0, 2.0}  # inverted: kept entries scaled by 2
    a.train_flg = False
    np.testing.assert_array_equal(a.forward(xs), xs)


# -------------------------------------------------------------------------------- sampler


def exact_pair_probabilities(p, target):
    """P(first, second) of two draws without replacement, the target excluded (the sequel)."""
    q = p.copy()
    q[target] = 0
    q /= q.sum()
    out = {}
    for a, b in itertools.permutations(np.flatnonzero(q), 2):
        out[(a, b)] = q[a] * q[b] / (1 - q[a])
    return out


@pytest.mark.parametrize("corpus", [[0, 1, 1, 2, 2, 2, 3, 3, 3, 3], [0, 1, 2] + [3] * 400])
def test_sampler_has_the_sequels_distribution(corpus):
    # The second corpus puts 98% of the mass on word 3, so most rows exhaust the rejection
    # rounds and draw from their renormalised distribution: both paths are checked.
    sampler = UnigramSampler(np.array(corpus), 0.75, 2, seed=0)
    n = 40_000
    target = np.tile([0, 3], n // 2)
    neg = sampler.get_negative_sample(target)
    assert neg.shape == (n, 2)
    assert np.all(neg != target[:, None]) and np.all(neg[:, 0] != neg[:, 1])
    for t in (0, 3):
        rows = neg[target == t]
        for pair, prob in exact_pair_probabilities(sampler.word_p, t).items():
            seen = np.mean((rows[:, 0] == pair[0]) & (rows[:, 1] == pair[1]))
            se = np.sqrt(prob * (1 - prob) / len(rows))
            assert abs(seen - prob) <= 5 * se + 1e-12, (t, pair, seen, prob)


@pytest.mark.parametrize("seed", range(4))
def test_alias_table_gives_back_the_distribution(seed):
    # Column i is kept with probability keep[i], else it is alias[i]; each word's total share
    # of the n columns, divided by n, must be its probability.
    rng = np.random.default_rng(seed)
    p = rng.random(50) ** 4 + 1e-9
    p /= p.sum()
    keep, alias = alias_table(p)
    share = keep.copy()
    np.add.at(share, alias, 1 - keep)
    np.testing.assert_allclose(share / len(p), p, rtol=1e-9, atol=1e-15)
    assert np.all((keep >= 0) & (keep <= 1))


def test_regression_sampler_is_reproducible_from_its_seed_and_leaves_the_global_state_alone():
    corpus = np.arange(50) % 7
    state = global_state()
    a = UnigramSampler(corpus, 0.75, 3, seed=9).get_negative_sample(np.arange(100) % 7)
    b = UnigramSampler(corpus, 0.75, 3, seed=9).get_negative_sample(np.arange(100) % 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(global_state(), state)


def test_regression_sampler_counts_every_id_up_to_the_largest():
    # The sequel sizes the vocabulary by len(Counter(corpus)): with id 1 missing it has two
    # words, so word 3 (half the corpus) is never drawn.
    sampler = UnigramSampler(np.array([0, 2, 3, 3]), 1.0, 1, seed=0)
    np.testing.assert_allclose(sampler.word_p, [0.25, 0, 0.25, 0.5])
    negatives = sampler.get_negative_sample(np.zeros(2000, int))
    assert set(np.unique(negatives)) == {2, 3}


def test_regression_negative_sampling_lists_its_weight_once():
    # The sequel's NegativeSamplingLoss holds sample_size + 1 EmbeddingDot layers, each listing W.
    W = np.zeros((5, 2))
    layer = NegativeSamplingLoss(W, np.arange(5), sample_size=3)
    assert len(layer.params) == len(layer.grads) == 1 and layer.params[0] is W


def test_regression_unsigned_word_ids_work_as_signed_ones():
    """uint64 ids mixed with the layers' int64 arithmetic promoted to float64: Embedding's
    backward failed ("arrays used as indices must be of integer type") and NegativeSamplingLoss
    concatenated target and negatives into float ids."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 3))
    for dtype in (np.uint8, np.uint32, np.uint64, np.int32):
        for make, ids in ((Embedding, np.array([1, 2, 2])), (TimeEmbedding, np.array([[1, 5]]))):
            a, b = make(W.copy()), make(W.copy())
            np.testing.assert_array_equal(a.forward(ids.astype(dtype)), b.forward(ids))
            a.backward(np.ones((*ids.shape, 3)))
            b.backward(np.ones((*ids.shape, 3)))
            np.testing.assert_array_equal(a.grads[0], b.grads[0])
        a = NegativeSamplingLoss(W.copy(), np.arange(6), 0.75, 2, seed=0)
        b = NegativeSamplingLoss(W.copy(), np.arange(6), 0.75, 2, seed=0)
        h = rng.standard_normal((2, 3))
        assert a.forward(h, np.array([1, 4], dtype)) == b.forward(h, np.array([1, 4]))
        np.testing.assert_array_equal(a.backward(), b.backward())
        xs = rng.standard_normal((2, 3, 6))
        ts = np.array([[0, 5, 1], [2, 2, 3]])
        a, b = TimeSoftmaxWithLoss(), TimeSoftmaxWithLoss()
        assert a.forward(xs, ts.astype(dtype)) == b.forward(xs, ts)
        np.testing.assert_array_equal(a.backward(), b.backward())


def test_regression_negative_sampling_refuses_a_corpus_beyond_its_weight():
    """The corpus's ids were never checked against W's rows: the sampler drew negatives that
    Embedding refused at random in a later forward, naming ids the caller never passed."""
    with pytest.raises(
        ValueError,
        match=r"^NegativeSamplingLoss: the corpus holds word ids up to 9, but W has 5 rows "
        r"\(a vocabulary of 5\): every id must be a row of W$",
    ):
        NegativeSamplingLoss(np.ones((5, 3)), np.arange(10))
    NegativeSamplingLoss(np.ones((5, 3)), np.arange(5), sample_size=3)  # ids 0 .. 4: fits


def test_sampler_refuses_more_negatives_than_words():
    with pytest.raises(ValueError, match="need at least 4 words"):
        UnigramSampler(np.array([0, 1, 2]), 0.75, 3)


def test_sampler_refuses_a_negative_id_in_its_corpus():
    with pytest.raises(ValueError, match=r"^UnigramSampler: word ids must be >= 0, got -1$"):
        UnigramSampler(np.array([0, -1, 2, 3]), 0.75, 1)


# --------------------------------------------------------------------------------- errors


def test_regression_time_bilstm_backward_checks_dout_itself():
    # A wrong dout was blamed on a TimeLSTM and half its width ("expected (2, 5, 4), got
    # (2, 5, 2)" for a (2, 5, 6) dout meant to be (2, 5, 8)), and so was backward before forward.
    rng = np.random.default_rng(30)
    layer = TimeBiLSTM(*cell(rng, 4), *cell(rng, 4))
    with pytest.raises(BackwardBeforeForwardError, match=r"^TimeBiLSTM\.backward was called"):
        layer.backward(np.ones((2, 5, 8)))
    layer.forward(rng.standard_normal((2, 5, 3)))
    with pytest.raises(
        ValueError,
        match=r"^TimeBiLSTM\.backward: dout must have the shape of the forward output, "
        r"\(2, 5, 8\), got \(2, 5, 6\)$",
    ):
        layer.backward(np.ones((2, 5, 6)))
    assert layer.backward(np.ones((2, 5, 8))).shape == (2, 5, 3)


def test_regression_a_second_backward_after_overwrite_xs_says_backward_already_ran():
    # It said "backward was called before forward", after a forward and a backward.
    layer = TimeSoftmaxWithLoss()
    layer.forward(np.zeros((1, 2, 3)), np.array([[0, 2]]), overwrite_xs=True)
    layer.backward()
    with pytest.raises(
        BackwardBeforeForwardError,
        match=r"^TimeSoftmaxWithLoss\.backward: backward already ran for this forward, which "
        r"let it write the gradient over the scores \(overwrite_xs=True",
    ):
        layer.backward()
    layer.forward(np.zeros((1, 2, 3)), np.array([[0, 2]]), overwrite_xs=True)
    layer.backward()  # a new forward, a new backward
    with pytest.raises(BackwardBeforeForwardError, match="was called before forward"):
        TimeSoftmaxWithLoss().backward()


def test_errors_name_the_layer_and_the_shapes():
    rng = np.random.default_rng(12)
    layer = TimeLSTM(*cell(rng, 4))
    with pytest.raises(ValueError, match=r"TimeLSTM.forward: expected xs of shape \(N, T, 3\)"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(BackwardBeforeForwardError, match="TimeLSTM.backward"):
        layer.backward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"TimeLSTM: expected Wx \(D, 4H\)"):
        TimeLSTM(np.zeros((3, 8)), np.zeros((4, 16)), np.zeros(16))
    with pytest.raises(ValueError, match=r"Embedding.forward: word ids must lie in \[0, 5\)"):
        Embedding(np.zeros((5, 2))).forward(np.array([5]))
    with pytest.raises(TypeError, match="word ids must be integers"):
        Embedding(np.zeros((5, 2))).forward(np.array([1.0]))
    with pytest.raises(ValueError, match=r"TimeSoftmaxWithLoss.forward: .*\[0, 3\)"):
        TimeSoftmaxWithLoss().forward(np.zeros((1, 2, 3)), np.array([[0, 3]]))


@pytest.mark.parametrize(("N", "T"), [(2, 4), (1, 4), (2, 1), (1, 1)])
def test_inputs_and_upstream_gradients_are_never_modified(N, T):
    # With N = 1 or T = 1 the time-major view of dhs is contiguous: backward once worked in it.
    rng = np.random.default_rng(13)
    for cls, gates in RECURRENT:
        layer = cls(*cell(rng, gates))
        xs = rng.standard_normal((N, T, 3))
        dhs = rng.standard_normal((N, T, 4))
        keep = xs.copy(), dhs.copy()
        layer.forward(xs)
        layer.backward(dhs)
        np.testing.assert_array_equal(xs, keep[0])
        np.testing.assert_array_equal(dhs, keep[1])
