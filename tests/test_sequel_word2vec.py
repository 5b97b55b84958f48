"""word2vec models and the sequel's list optimizers: gradient checks of whole models in float64,
the sequel's update rules written here line for line, and a little training."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import max_relative_error, record_worst

from layerwise import numerical_gradient
from layerwise.sequel import optimizer as opt
from layerwise.sequel.util import (
    clip_grads,
    convert_one_hot,
    create_contexts_target,
    preprocess,
)
from layerwise.sequel.word2vec import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram

TEXT = "You say goodbye and I say hello. You say hello and I say goodbye."


def data(window_size=1, one_hot=False):
    corpus, word_to_id, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size)
    if one_hot:
        V = len(word_to_id)
        return corpus, V, convert_one_hot(contexts, V), convert_one_hot(target, V)
    return corpus, len(word_to_id), contexts, target


def models():
    corpus, V, c1, t1 = data(one_hot=True)
    corpus, V, c2, t2 = data(window_size=2)
    return [
        ("SimpleCBOW", SimpleCBOW(V, 3, seed=0, dtype=np.float64), c1, t1),
        ("SimpleSkipGram", SimpleSkipGram(V, 3, seed=0, dtype=np.float64), c1, t1),
        ("CBOW", CBOW(V, 3, 2, corpus, seed=0, dtype=np.float64), c2, t2),
        ("SkipGram", SkipGram(V, 3, 2, corpus, seed=0, dtype=np.float64), c2, t2),
    ]


def replay(model):
    """Reseed the negative sampler, so that every forward draws the same negatives."""
    ns = getattr(model, "ns_loss", None)
    if ns is not None:
        ns.sampler.rng = np.random.default_rng(1)


@pytest.mark.parametrize(
    ("name", "model", "contexts", "target"), models(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_model_gradients_match_central_differences(name, model, contexts, target):
    # Larger weights than 0.01, so that the loss is not flat.
    for p in {id(p): p for p in model.params}.values():
        p[...] = np.random.default_rng(len(p)).normal(0, 0.5, p.shape)
    replay(model)
    model.forward(contexts, target)
    model.backward(1.0)
    # The same array may stand in params twice (SimpleCBOW's W_in): its gradient is the sum.
    total = {}
    for p, g in zip(model.params, model.grads, strict=True):
        total[id(p)] = total.get(id(p), 0) + g

    def loss(_):
        replay(model)
        return model.forward(contexts, target)

    for p in {id(p): p for p in model.params}.values():
        n = numerical_gradient(loss, p, h=1e-5)
        record_worst(
            "sequel word2vec gradient check", name, max_relative_error(total[id(p)], n), 1e-7
        )


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_negative_sampling_models_learn(cls):
    corpus, V, contexts, target = data()
    model = cls(V, 5, 1, corpus, seed=0)
    adam = opt.Adam(0.01)
    losses = []
    for _ in range(300):
        losses.append(float(model.forward(contexts, target)))
        model.backward()
        adam.update(model.params, model.grads)
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    assert model.word_vecs is model.params[0] and model.word_vecs.dtype == np.float32


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_zeroing_only_touched_rows_gives_the_dense_gradients_through_training(cls):
    # CBOW and SkipGram zero only the rows of dW that their last backward wrote. A twin whose
    # layers zero all of dW, given the same batches and negatives, must get the same gradients
    # at every step of the sequel's loop (clip_grads scaling them in place, then Adam).
    corpus, word_to_id, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, 1)
    models = [cls(len(word_to_id), 4, 1, corpus, seed=3) for _ in range(2)]
    dense = models[1]
    dense.in_layer.touched_rows_only = dense.ns_loss.embed_dot.embed.touched_rows_only = False
    optimizers = [opt.Adam(0.01), opt.Adam(0.01)]
    order = np.random.default_rng(0)
    for _ in range(8):
        batch = order.choice(len(target), 3, replace=False)
        for model, adam in zip(models, optimizers, strict=True):
            model.forward(contexts[batch], target[batch])
            model.backward()
            clip_grads(model.grads, 0.05)
            adam.update(model.params, model.grads)
        for a, b in zip(models[0].grads, dense.grads, strict=True):
            np.testing.assert_array_equal(a, b)


def test_models_are_reproducible_from_their_seed():
    corpus, V, contexts, target = data()
    a, b = CBOW(V, 5, 1, corpus, seed=4), CBOW(V, 5, 1, corpus, seed=4)
    assert a.forward(contexts, target) == b.forward(contexts, target)


# ----------------------------------------------------------------------------- optimizers


def sequel_rules(name, hyper):
    """The sequel's common/optimizer.py update rules on lists, as it writes them."""
    state = {"v": None, "h": None, "m": None, "iter": 0}

    def update(params, grads):
        lr = hyper["lr"]
        if name == "SGD":
            for i in range(len(params)):
                params[i] -= lr * grads[i]
        elif name in ("Momentum", "Nesterov"):
            mom = hyper["momentum"]
            if state["v"] is None:
                state["v"] = [np.zeros_like(p) for p in params]
            v = state["v"]
            for i in range(len(params)):
                if name == "Momentum":
                    v[i] = mom * v[i] - lr * grads[i]
                    params[i] += v[i]
                elif hyper.get("corrected"):  # volume 1's repository: W first, with the old v
                    params[i] += mom * mom * v[i]
                    params[i] -= (1 + mom) * lr * grads[i]
                    v[i] *= mom
                    v[i] -= lr * grads[i]
                else:  # the sequel's: v first, then W with the new v
                    v[i] *= mom
                    v[i] -= lr * grads[i]
                    params[i] += mom * mom * v[i]
                    params[i] -= (1 + mom) * lr * grads[i]
        elif name in ("AdaGrad", "RMSprop"):
            if state["h"] is None:
                state["h"] = [np.zeros_like(p) for p in params]
            h = state["h"]
            for i in range(len(params)):
                if name == "AdaGrad":
                    h[i] += grads[i] * grads[i]
                else:
                    h[i] *= hyper["decay_rate"]
                    h[i] += (1 - hyper["decay_rate"]) * grads[i] * grads[i]
                params[i] -= lr * grads[i] / (np.sqrt(h[i]) + 1e-7)
        else:
            b1, b2 = hyper["beta1"], hyper["beta2"]
            if state["m"] is None:
                state["m"] = [np.zeros_like(p) for p in params]
                state["v"] = [np.zeros_like(p) for p in params]
            state["iter"] += 1
            lr_t = lr * np.sqrt(1.0 - b2 ** state["iter"]) / (1.0 - b1 ** state["iter"])
            m, v = state["m"], state["v"]
            for i in range(len(params)):
                m[i] += (1 - b1) * (grads[i] - m[i])
                v[i] += (1 - b2) * (grads[i] ** 2 - v[i])
                params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + 1e-7)

    return update


RULES = {
    "SGD": {"lr": 0.1},
    "Momentum": {"lr": 0.1, "momentum": 0.8},
    "Nesterov": {"lr": 0.1, "momentum": 0.8},
    "AdaGrad": {"lr": 0.1},
    "RMSprop": {"lr": 0.1, "decay_rate": 0.9},
    "Adam": {"lr": 0.1, "beta1": 0.8, "beta2": 0.9},
}


def run_both(name, hyper, rule):
    rng = np.random.default_rng(0)
    ours = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    theirs = [p.copy() for p in ours]
    held = list(ours)
    optimizer, reference = getattr(opt, name)(**hyper), sequel_rules(name, rule)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in ours]
        optimizer.update(ours, grads)
        reference(theirs, grads)
    assert all(a is b for a, b in zip(held, ours, strict=True))  # updated in place
    return ours, theirs


@pytest.mark.parametrize("name", sorted(set(RULES) - {"Nesterov"}))
def test_list_optimizers_follow_the_sequels_rules(name):
    ours, theirs = run_both(name, RULES[name], RULES[name])
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_regression_nesterov_steps_in_the_corrected_order():
    # The sequel's Nesterov is the printed volume 1's: v first, then W with the new v, which is
    # not Nesterov's method; layerwise keeps the order of volume 1's repository (see
    # layerwise.optimizers.Nesterov), equal to torch.optim.SGD(nesterov=True).
    hyper = RULES["Nesterov"]
    ours, corrected = run_both("Nesterov", hyper, {**hyper, "corrected": True})
    for a, b in zip(ours, corrected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    _, sequels = run_both("Nesterov", hyper, hyper)
    assert not np.allclose(ours[0], sequels[0])


def test_regression_optimizer_state_is_a_dict_keyed_by_position():
    params = {"W": np.ones(2)}
    adam = opt.Adam()
    adam.update(params, {"W": np.ones(2)})
    lists = [np.ones(2)]
    other = opt.Adam()
    other.update(lists, [np.ones(2)])
    np.testing.assert_array_equal(params["W"], lists[0])
    state = other.state_dict()
    assert set(state) == {"lr", "beta1", "beta2", "iter", "m/0", "v/0"}
    again = opt.Adam()
    again.load_state_dict(state)
    resumed = [lists[0].copy()]
    again.update(resumed, [np.full(2, 0.5)])
    other.update(lists, [np.full(2, 0.5)])
    np.testing.assert_array_equal(resumed[0], lists[0])


def test_list_optimizers_refuse_lists_of_different_lengths():
    with pytest.raises(ValueError, match="params has 2 arrays but grads has 1"):
        opt.SGD().update([np.ones(1), np.ones(1)], [np.ones(1)])


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_regression_negative_sampling_models_refuse_a_corpus_beyond_vocab_size(cls):
    """The corpus was never checked against vocab_size: the model was built, and its sampler's
    negatives (ids up to 19 for a vocabulary of 10) failed at random in a later forward, in a
    message about ids the caller never passed."""
    corpus = np.random.default_rng(0).integers(0, 20, 200)
    with pytest.raises(
        ValueError,
        match=rf"^{cls.__name__}: the corpus holds word ids up to 19, but vocab_size is 10 "
        r"\(W_in and W_out have 10 rows\): every id must be below vocab_size$",
    ):
        cls(10, 6, 1, corpus, seed=0)
    cls(20, 6, 1, corpus, seed=0)


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_regression_negative_sampling_models_check_the_contexts_width(cls):
    """contexts were never checked against 2 window_size: SkipGram's forward raised an IndexError
    for (N,) contexts; contexts of width 4 for a window of 1 gave a loss scaled by 4, then
    backward failed; CBOW with width 2 for a window of 2 ran forward and failed in backward.
    (The sequel reads the first 2 window_size columns and raises an IndexError for fewer.)"""
    target = np.array([3, 4])
    for window_size, contexts in (
        (1, np.array([1, 2])),
        (1, np.array([[1, 2, 5, 6], [2, 3, 6, 7]])),
        (2, np.array([[1, 2], [2, 3]])),
        (1, np.array([[1, 2], [2, 3], [4, 5]])),  # three rows for two targets
    ):
        model = cls(10, 4, window_size, np.arange(10), seed=0)
        with pytest.raises(
            ValueError,
            match=rf"^{cls.__name__}\.forward: expected contexts of shape \(N, {2 * window_size}\)"
            rf" .* got contexts {re.escape(str(contexts.shape))} and target \(2,\)$",
        ):
            model.forward(contexts, target)
    model = cls(10, 4, 1, np.arange(10), seed=0)
    with pytest.raises(ValueError, match="^.*forward: expected at least one example, got N = 0$"):
        model.forward(np.zeros((0, 2), int), np.zeros(0, int))
    model.forward(np.array([[1, 5], [2, 6]]), target)
    model.backward()
