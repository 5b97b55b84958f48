"""Tests for layerwise.optimizers: parity with torch.optim, hand-worked examples, checkpoints."""

from __future__ import annotations

import math
from collections.abc import MutableMapping

import numpy as np
import pytest

from layerwise._checks import InvalidParameterError
from layerwise.optimizers import (
    EPS,
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    get_optimizer,
)

STEPS = 10
TOL = 1e-10

# One instance-maker per optimizer, with non-default hyperparameters so a swapped argument shows.
MAKERS = {
    "sgd": lambda: SGD(lr=0.1),
    "momentum": lambda: Momentum(lr=0.1, momentum=0.8),
    "nesterov": lambda: Nesterov(lr=0.1, momentum=0.8),
    "adagrad": lambda: AdaGrad(lr=0.1),
    "rmsprop": lambda: RMSprop(lr=0.01, decay_rate=0.9),
    "adam": lambda: Adam(lr=0.01, beta1=0.8, beta2=0.99),
}
NAMES = list(MAKERS)


def make_problem(dtype=np.float64, seed=0):
    """A small two-layer 'network': initial params and a sequence of STEPS gradient dicts."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    grads = [
        {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()} for _ in range(STEPS)
    ]
    return params, grads


def run_ours(opt, params, grads):
    params = {k: v.copy() for k, v in params.items()}
    for g in grads:
        opt.update(params, g)
    return params


def run_torch(torch, make_opt, params, grads, before_step=None):
    """Feed the same gradients to ``make_opt(torch.optim, tensors)``, an optimizer of torch.optim;
    ``before_step(opt, t)`` may retune it."""
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = make_opt(torch.optim, list(tensors.values()))
    for t, g in enumerate(grads, start=1):
        for k, p in tensors.items():
            p.grad = torch.tensor(g[k])
        if before_step is not None:
            before_step(opt, t)
        opt.step()
    return {k: p.detach().numpy() for k, p in tensors.items()}


def max_diff(a, b):
    """Largest absolute and relative difference over all parameters."""
    abs_diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
    rel_diff = max(float(np.max(np.abs(a[k] - b[k]) / np.maximum(np.abs(b[k]), 1e-300))) for k in a)
    return abs_diff, rel_diff


# --- parity with torch.optim -------------------------------------------------------------------

# ours                                  torch.optim, line for line
PARITY = {
    "sgd": (
        lambda: SGD(lr=0.1),
        lambda optim, ps: optim.SGD(ps, lr=0.1),
    ),
    "momentum": (  # book v = m v - lr g; p += v   <=>   torch b = m b + g; p -= lr b (v = -lr b)
        lambda: Momentum(lr=0.1, momentum=0.8),
        lambda optim, ps: optim.SGD(ps, lr=0.1, momentum=0.8),
    ),
    "nesterov": (  # p += m m v - (1 + m) lr g; v = m v - lr g  <=>  b = m b + g; p -= lr (g + m b)
        lambda: Nesterov(lr=0.1, momentum=0.8),
        lambda optim, ps: optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
    ),
    "adagrad": (  # h += g g; p -= lr g / (sqrt(h) + 1e-7)
        lambda: AdaGrad(lr=0.1),
        lambda optim, ps: optim.Adagrad(ps, lr=0.1, eps=1e-7, initial_accumulator_value=0),
    ),
    "rmsprop": (  # h = rho h + (1 - rho) g g; p -= lr g / (sqrt(h) + 1e-7)
        lambda: RMSprop(lr=0.01, decay_rate=0.9),
        lambda optim, ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7),
    ),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_parity_with_torch(torch, name):
    make_ours, make_torch = PARITY[name]
    params, grads = make_problem()
    ours = run_ours(make_ours(), params, grads)
    theirs = run_torch(torch, make_torch, params, grads)
    abs_diff, rel_diff = max_diff(ours, theirs)
    assert abs_diff <= TOL and rel_diff <= TOL, (abs_diff, rel_diff)
    # The comparison has teeth: the parameters did move a long way from where they started.
    assert max_diff(ours, params)[0] > 0.05


def test_adam_equals_torch_with_step_dependent_eps(torch):
    # The book's step  lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)  is torch's
    # lr m_hat / (sqrt(v_hat) + eps_t)  with  eps_t = eps / sqrt(1 - b2^t).
    params, grads = make_problem()
    ours = run_ours(Adam(lr=0.01, beta1=0.8, beta2=0.99), params, grads)

    def retune(opt, t):
        opt.param_groups[0]["eps"] = EPS / math.sqrt(1 - 0.99**t)

    theirs = run_torch(
        torch,
        lambda optim, ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=EPS),
        params,
        grads,
        retune,
    )
    abs_diff, rel_diff = max_diff(ours, theirs)
    assert abs_diff <= TOL and rel_diff <= TOL, (abs_diff, rel_diff)


def test_adam_close_to_plain_torch_adam_but_not_equal(torch):
    # With a fixed eps the two differ only by the eps placement: tiny against sqrt(v_hat) ~ 1.
    params, grads = make_problem()
    ours = run_ours(Adam(lr=0.01), params, grads)
    theirs = run_torch(torch, lambda optim, ps: optim.Adam(ps, lr=0.01, eps=EPS), params, grads)
    np.testing.assert_allclose(ours["W1"], theirs["W1"], rtol=1e-6, atol=1e-6)
    assert max_diff(ours, theirs)[0] > 1e-9  # ... and the documented difference is real


def quadratic(seed=0, n=6):
    """L(w) = 1/2 w'Aw - b'w with A symmetric positive definite: its gradient and a start."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q @ q.T / n + np.eye(n)
    b = rng.standard_normal(n)
    return (lambda w: a @ w - b), a, b, rng.standard_normal(n)


def test_nesterov_trajectory_equals_torch_nesterov_with_gradients_at_each_own_point(torch):
    # Each side takes its gradient where its own parameters are, so a step that went astray
    # would change every later gradient. Torch keeps b = m b + g and steps p -= lr (g + m b);
    # with v = -lr b that is our p += m m v_old - (1 + m) lr g, so p_torch == ours at each step.
    lr, m, steps = 0.1, 0.9, 20
    grad, a, b, w0 = quadratic()

    w = w0.copy()
    opt = Nesterov(lr=lr, momentum=m)

    p = torch.tensor(w0.copy(), requires_grad=True)
    torch_opt = torch.optim.SGD([p], lr=lr, momentum=m, nesterov=True)
    a_t, b_t = torch.tensor(a), torch.tensor(b)

    for _ in range(steps):
        opt.update({"w": w}, {"w": grad(w)})

        p.grad = a_t @ p.detach() - b_t
        torch_opt.step()

        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-12, atol=1e-12)
        buffer = torch_opt.state[p]["momentum_buffer"].numpy()
        np.testing.assert_allclose(-lr * buffer, opt.v["w"], rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(w - w0)) > 0.5  # the comparison has teeth: w went a long way


def test_nesterov_params_are_the_lookahead_point_of_classical_nesterov():
    # Sutskever et al.'s form takes the gradient at theta + m v:
    #   v = m v - lr grad(theta + m v);  theta = theta + v.
    # Bengio et al.'s form stores that look-ahead point, W = theta + m v.
    lr, m = 0.1, 0.9
    grad, _, _, w0 = quadratic(seed=1)
    w, opt = w0.copy(), Nesterov(lr=lr, momentum=m)
    theta, v = w0.copy(), np.zeros_like(w0)
    for _ in range(20):
        opt.update({"w": w}, {"w": grad(w)})
        v = m * v - lr * grad(theta + m * v)
        theta = theta + v
        np.testing.assert_allclose(w, theta + m * v, rtol=1e-12, atol=1e-12)


# --- hand-worked examples for the book-specific rules ------------------------------------------


def test_regression_nesterov_uses_the_previous_velocity():
    # The book's code as published in 2016 updated v first and then added m*m times the *new* v;
    # its repository fixed the order in 2021 (Bengio et al.: W moves with the previous v).
    # lr = 0.1, m = 0.9, w = 1.0;  w += m*m*v - (1+m)*lr*g;  then v = m*v - lr*g
    # step 1, g = 1.0:  w += 0.81*0      - 1.9*0.1*1.0 = -0.19;    w = 0.81
    #                   v  = 0.9*0 - 0.1*1.0 = -0.1
    #                   (the 2016 order: v = -0.1 first, w += 0.81*(-0.1) - 0.19, w = 0.729)
    # step 2, g = 0.5:  w += 0.81*(-0.1) - 1.9*0.1*0.5 = -0.081 - 0.095 = -0.176;  w = 0.634
    #                   v  = 0.9*(-0.1) - 0.1*0.5 = -0.14
    opt = Nesterov(lr=0.1, momentum=0.9)
    params = {"w": np.array([1.0])}
    opt.update(params, {"w": np.array([1.0])})
    np.testing.assert_allclose(params["w"], [0.81], rtol=1e-14)
    np.testing.assert_allclose(opt.v["w"], [-0.1], rtol=1e-14)
    opt.update(params, {"w": np.array([0.5])})
    np.testing.assert_allclose(params["w"], [0.634], rtol=1e-14)
    np.testing.assert_allclose(opt.v["w"], [-0.14], rtol=1e-14)


def test_adam_hand_worked():
    # lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, w = 1.0
    # step 1, g = 1:   m = 0 + 0.1*(1 - 0) = 0.1;  v = 0 + 0.001*(1 - 0) = 0.001
    #   lr_t = 0.1 * sqrt(1 - 0.999) / (1 - 0.9) = sqrt(0.001) = 0.0316227766016838
    #   step = lr_t * 0.1 / (sqrt(0.001) + 1e-7) = 0.0999996837732340
    #   w = 0.900000316226766
    #   (torch's Adam would step 0.1 * 1 / (1 + 1e-7) = 0.09999999, giving w = 0.90000001:
    #    the book's eps sits on the uncorrected sqrt(v) and so weighs 31.6 times more here.)
    # step 2, g = -2:  m = 0.1 + 0.1*(-2 - 0.1) = -0.11;  v = 0.001 + 0.001*(4 - 0.001) = 0.004999
    #   lr_t = 0.1 * sqrt(1 - 0.998001) / (1 - 0.81) = 0.0235316725327454
    #   step = lr_t * (-0.11) / (sqrt(0.004999) + 1e-7) = -0.0366103009236222
    #   w = 0.936610617150388
    opt = Adam(lr=0.1)
    params = {"w": np.array([1.0])}
    opt.update(params, {"w": np.array([1.0])})
    assert opt.iter == 1
    np.testing.assert_allclose(opt.m["w"], [0.1], rtol=1e-14)
    np.testing.assert_allclose(opt.v["w"], [0.001], rtol=1e-14)
    np.testing.assert_allclose(params["w"], [0.900000316226766], rtol=1e-14)
    opt.update(params, {"w": np.array([-2.0])})
    assert opt.iter == 2
    np.testing.assert_allclose(opt.m["w"], [-0.11], rtol=1e-14)
    np.testing.assert_allclose(opt.v["w"], [0.004999], rtol=1e-14)
    np.testing.assert_allclose(params["w"], [0.936610617150388], rtol=1e-14)


# --- in place, dtype, custom mappings -----------------------------------------------------------


class RecordingParams(MutableMapping):
    """A params mapping whose __setitem__ has a side effect, like a network's parameter view."""

    def __init__(self, arrays):
        self._arrays = dict(arrays)
        self.assignments = 0

    def __getitem__(self, key):
        return self._arrays[key]

    def __setitem__(self, key, value):
        self.assignments += 1
        self._arrays[key] = value

    def __delitem__(self, key):
        del self._arrays[key]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_in_place_keeps_dtype(name, dtype):
    params, grads = make_problem(dtype)
    ids = {k: id(v) for k, v in params.items()}
    before = {k: v.copy() for k, v in params.items()}
    mapping = RecordingParams(params)
    opt = MAKERS[name]()
    for g in grads[:3]:
        opt.update(mapping, g)
    assert mapping.assignments == 0  # never rebinds params[k]
    for k, p in mapping.items():
        assert id(p) == ids[k]
        assert p.dtype == dtype
        assert not np.array_equal(p, before[k])
    for key, value in opt.state_dict().items():
        if "/" in key:
            assert value.dtype == dtype, key


def test_float32_state_and_float32_result_match_float64_closely():
    params, grads = make_problem(np.float32)
    ours32 = run_ours(Adam(lr=0.01), params, grads)
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    grads64 = [{k: v.astype(np.float64) for k, v in g.items()} for g in grads]
    ours64 = run_ours(Adam(lr=0.01), params64, grads64)
    for k in params:
        np.testing.assert_allclose(ours32[k], ours64[k], rtol=1e-5, atol=1e-6)


# --- state_dict / load_state_dict ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_is_bit_identical(name, tmp_path):
    params, grads = make_problem()
    straight = run_ours(MAKERS[name](), params, grads)

    first = MAKERS[name]()
    resumed = run_ours(first, params, grads[:4])
    path = tmp_path / "opt.npz"
    np.savez(path, **first.state_dict())
    for g in grads[4:6]:  # the live optimizer moves on; the saved snapshot must not
        first.update({k: v.copy() for k, v in resumed.items()}, g)

    second = type(first)()  # default hyperparameters, all overwritten by the load
    with np.load(path, allow_pickle=False) as saved:
        second.load_state_dict(saved)
    assert repr(second) == repr(MAKERS[name]())
    for g in grads[4:]:
        second.update(resumed, g)
    for k in params:
        assert np.array_equal(resumed[k], straight[k]), k


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_flat_str_to_ndarray(name):
    params, grads = make_problem()
    opt = MAKERS[name]()
    fresh = opt.state_dict()
    assert set(fresh) == set(opt.hyperparameter_names) | set(opt.counter_names)
    run_ours(opt, params, grads[:2])
    state = opt.state_dict()
    assert all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items())
    assert state["lr"].shape == () and state["lr"].dtype == np.float64
    expected = {f"{slot}/{k}" for slot in opt.slot_names for k in params}
    assert set(state) == set(fresh) | expected
    # A fresh optimizer loaded from a fresh state stays fresh (slots None until update).
    other = MAKERS[name]()
    other.load_state_dict(fresh)
    assert all(getattr(other, slot) is None for slot in other.slot_names)


def test_state_dict_keys_examples():
    params, grads = make_problem()
    opt = Adam()
    run_ours(opt, params, grads[:3])
    state = opt.state_dict()
    assert state["iter"] == 3 and state["iter"].dtype == np.int64
    assert {"lr", "beta1", "beta2", "iter", "m/W1", "v/b2"} <= set(state)
    mom = Momentum(lr=0.05, momentum=0.5)
    run_ours(mom, params, grads[:1])
    assert {"lr", "momentum", "v/W1", "v/b1"} <= set(mom.state_dict())
    assert float(mom.state_dict()["momentum"]) == 0.5


def test_state_dict_is_a_copy():
    params, grads = make_problem()
    opt = Momentum()
    run_ours(opt, params, grads[:1])
    state = opt.state_dict()
    state["v/W1"][...] = 123.0
    assert not np.any(opt.v["W1"] == 123.0)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"lr": np.array(0.1)}, "missing key"),
        ({"lr": np.array(0.1), "momentum": np.array(0.9), "iter": np.array(1)}, "unknown key"),
        ({"lr": np.array(0.1), "momentum": np.array(0.9), "h/W1": np.zeros(2)}, "unknown key"),
        ({"lr": np.array(0.1), "momentum": np.array(0.9), "v": np.zeros(2)}, "unknown key"),
        ({"lr": np.array(-0.1), "momentum": np.array(0.9)}, "lr"),
        ({"lr": np.array(0.1), "momentum": np.array(1.5)}, "momentum"),
    ],
)
def test_load_state_dict_rejects_bad_state(state, message):
    opt = Momentum(lr=0.3, momentum=0.7)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert (opt.lr, opt.momentum, opt.v) == (0.3, 0.7, None)  # untouched


def test_load_state_dict_rejects_mismatched_slots_and_counter():
    base = {"lr": np.array(0.1), "beta1": np.array(0.9), "beta2": np.array(0.999)}
    with pytest.raises(ValueError, match="different parameters"):
        Adam().load_state_dict({**base, "iter": np.array(1), "m/W1": np.zeros(2)})
    with pytest.raises(ValueError, match="iter"):
        Adam().load_state_dict({**base, "iter": np.array(1.5)})


def test_loaded_state_with_wrong_shape_is_reported_at_update():
    opt = Momentum()
    opt.load_state_dict({"lr": np.array(0.1), "momentum": np.array(0.9), "v/W1": np.zeros(2)})
    with pytest.raises(ValueError, match=r"v\['W1'\].*\(2,\).*\(3,\)"):
        opt.update({"W1": np.zeros(3)}, {"W1": np.zeros(3)})


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_missing_gradient_names_the_key_and_changes_nothing(name):
    params, grads = make_problem()
    before = {k: v.copy() for k, v in params.items()}
    g = dict(grads[0])
    del g["b2"]
    with pytest.raises(KeyError, match="b2"):
        MAKERS[name]().update(params, g)
    for k in params:
        assert np.array_equal(params[k], before[k])


@pytest.mark.parametrize("name", NAMES)
def test_gradient_shape_mismatch_names_key_and_shapes(name):
    params, grads = make_problem()
    g = {**grads[0], "W2": np.zeros((2, 3))}
    with pytest.raises(ValueError, match=r"'W2'.*\(2, 3\).*\(3, 2\)"):
        MAKERS[name]().update(params, g)


def test_extra_gradient_is_rejected():
    params, grads = make_problem()
    with pytest.raises(ValueError, match="W3"):
        SGD().update(params, {**grads[0], "W3": np.zeros(1)})


def test_non_array_parameter_is_rejected():
    with pytest.raises(TypeError, match="in place"):
        SGD().update({"w": 1.0}, {"w": np.array(1.0)})


@pytest.mark.parametrize(
    ("cls", "kwargs", "argument"),
    [
        (SGD, {"lr": 0}, "lr"),
        (SGD, {"lr": -0.1}, "lr"),
        (SGD, {"lr": float("nan")}, "lr"),
        (SGD, {"lr": "0.1"}, "lr"),
        (SGD, {"lr": True}, "lr"),
        (Momentum, {"momentum": 1.0}, "momentum"),
        (Momentum, {"momentum": -0.1}, "momentum"),
        (Nesterov, {"lr": None}, "lr"),
        (AdaGrad, {"lr": -1}, "lr"),
        (RMSprop, {"decay_rate": 1.0}, "decay_rate"),
        (Adam, {"beta1": 1.0}, "beta1"),
        (Adam, {"beta2": -0.5}, "beta2"),
        (Adam, {"beta2": [0.9]}, "beta2"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, argument):
    # One error type for every bad hyperparameter: both a ValueError and a TypeError.
    with pytest.raises(InvalidParameterError, match=rf"{cls.__name__}: {argument}") as info:
        cls(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_numpy_scalar_hyperparameters_are_accepted():
    opt = Momentum(lr=np.float32(0.5), momentum=np.float64(0.25))
    assert opt.lr == 0.5 and opt.momentum == 0.25


# --- defaults, repr, registry -------------------------------------------------------------------


def test_book_defaults_and_attributes():
    assert SGD().lr == 0.01
    m = Momentum()
    assert (m.lr, m.momentum, m.v) == (0.01, 0.9, None)
    n = Nesterov()
    assert (n.lr, n.momentum, n.v) == (0.01, 0.9, None)
    assert (AdaGrad().lr, AdaGrad().h) == (0.01, None)
    r = RMSprop()
    assert (r.lr, r.decay_rate, r.h) == (0.01, 0.99, None)
    a = Adam()
    assert (a.lr, a.beta1, a.beta2, a.iter, a.m, a.v) == (0.001, 0.9, 0.999, 0, None, None)
    assert EPS == 1e-7


@pytest.mark.parametrize(
    ("opt", "text"),
    [
        (SGD(), "SGD(lr=0.01)"),
        (Momentum(), "Momentum(lr=0.01, momentum=0.9)"),
        (Nesterov(lr=0.1), "Nesterov(lr=0.1, momentum=0.9)"),
        (AdaGrad(), "AdaGrad(lr=0.01)"),
        (RMSprop(), "RMSprop(lr=0.01, decay_rate=0.99)"),
        (Adam(), "Adam(lr=0.001, beta1=0.9, beta2=0.999)"),
    ],
)
def test_repr(opt, text):
    assert repr(opt) == text


def test_registry_and_get_optimizer():
    assert OPTIMIZERS == {
        "sgd": SGD,
        "momentum": Momentum,
        "nesterov": Nesterov,
        "adagrad": AdaGrad,
        "rmsprop": RMSprop,
        "adam": Adam,
    }
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())
    opt = get_optimizer("AdaGrad", lr=0.5)
    assert isinstance(opt, AdaGrad) and opt.lr == 0.5
    assert isinstance(get_optimizer("ADAM"), Adam)
    with pytest.raises(ValueError, match="sgd, momentum, nesterov, adagrad, rmsprop, adam"):
        get_optimizer("adadelta")
    with pytest.raises(ValueError, match="RMSprop: lr"):
        get_optimizer("rmsprop", lr=0)


# --- SGD on any array layout ------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_sgd_updates_any_layout_in_place(layout):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((30, 100)).astype(np.float32)
    p = {"C": base[:, :50].copy(), "F": np.asfortranarray(base[:, :50]), "strided": base[:, ::2]}[
        layout
    ]
    g = rng.standard_normal(p.shape).astype(np.float32)
    expected = p - np.float32(0.05) * g
    SGD(lr=0.05).update({"W": p}, {"W": g})
    np.testing.assert_array_equal(p, expected)
    if layout == "strided":  # the view was written through: the base changed, every other column
        np.testing.assert_array_equal(base[:, ::2], expected)


def test_sgd_with_a_float64_gradient_keeps_float32():
    rng = np.random.default_rng(1)
    p = rng.standard_normal(1000).astype(np.float32)
    g = rng.standard_normal(1000)  # float64
    expected = p.copy()
    expected -= 0.1 * g  # NumPy's same-kind cast back into float32
    SGD(lr=0.1).update({"w": p}, {"w": g})
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p, expected)


# ---------------------------------------------------------------------- the public protocol


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_counters_and_slots_are_a_public_protocol(name):
    """What checkpoints and data-parallel training read: names, values, per-parameter state."""
    params, grads = make_problem()
    opt = MAKERS[name]()
    assert list(opt.hyperparameters) == list(opt.hyperparameter_names)
    assert opt.hyperparameters["lr"] == opt.lr
    opt.update(params, grads[0])
    assert set(opt.counters) == set(opt.counter_names)
    for slot in opt.slot_names:
        state = opt.slot(slot, params)
        assert state is getattr(opt, slot)  # the optimizer's own dict, changed in place
        assert {key: value.shape for key, value in state.items()} == {
            key: value.shape for key, value in params.items()
        }
    saved = opt.state_dict()
    assert {k for k in saved if "/" not in k} == {*opt.hyperparameter_names, *opt.counter_names}


def test_a_subclass_with_the_old_private_names_still_works():
    class Halving(SGD):
        _hyperparameters = ("lr", "factor")

        def __init__(self, lr=0.1, factor=0.5):
            super().__init__(lr)
            self.factor = factor

    opt = Halving()
    assert opt.hyperparameter_names == ("lr", "factor")
    assert opt.hyperparameters == {"lr": 0.1, "factor": 0.5}
    assert "factor" in opt.state_dict()


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_regression_an_integer_parameter_is_refused_by_name_and_left_alone(name):
    """NumPy's bare UFuncTypeError ("Cannot cast ufunc 'subtract' output from dtype('float64')
    to dtype('int64')") came out, naming neither the optimizer nor the parameter."""
    params = {"W": np.ones(3), "b": np.ones(3, dtype=np.int64)}
    with pytest.raises(TypeError, match=r"\.update: params\['b'\] has dtype int64"):
        get_optimizer(name).update(params, {"W": np.ones(3), "b": np.ones(3)})
    assert np.array_equal(params["W"], np.ones(3))  # checked before the first update
