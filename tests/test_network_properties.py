"""Property-based tests of the networks: predict, loss, gradient, accuracy.

Each generated call gives a correct result or a documented, named error, and nothing else: the
rule is written out in ``property_cases.py``, which holds what the suites share.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from property_cases import (
    ERROR,
    FEW,
    MANY,
    arrays,
    call,
    is_real,
    maybe_readonly,
    snapshot,
    valid_supervision,
)

from layerwise import (
    Affine,
    MultiLayerNet,
    Relu,
    Sequential,
    TwoLayerNet,
)

# ---------------------------------------------------------------- networks


def make_net(kind, d, c, dtype):
    if kind == "TwoLayerNet":
        return TwoLayerNet(d, 3, c, weight_init_std=0.5, dtype=dtype, seed=0)
    if kind == "MultiLayerNet":
        return MultiLayerNet(
            d, [3, 2], c, activation="sigmoid", weight_decay_lambda=0.1, dtype=dtype, seed=0
        )
    rng = np.random.default_rng(0)
    return Sequential(
        Affine(rng.standard_normal((d, 3)).astype(dtype), np.zeros(3, dtype)),
        Relu(),
        Affine(rng.standard_normal((3, c)).astype(dtype), np.zeros(c, dtype)),
    )


LAYER_NAMES = ["Affine", "Relu", "Sigmoid", "SoftmaxWithLoss"]


@st.composite
def network_case(draw, supervision="any"):
    kind = draw(st.sampled_from(["TwoLayerNet", "MultiLayerNet", "Sequential"]))
    d, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    net = make_net(kind, d, c, draw(st.sampled_from([np.float32, np.float64])))
    n = draw(st.integers(0, 4))
    x = draw(arrays(draw(st.sampled_from([(n, d), (n, d), (n, d), (n, d + 1), (d,)]))))
    if supervision == "labels":
        t = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    elif supervision == "onehot":
        t = np.eye(c)[draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))]
    else:
        n_t = n if draw(st.integers(0, 4)) else draw(st.integers(0, 4))
        t = draw(
            st.one_of(
                hnp.arrays(np.int64, (n_t,), elements=st.integers(0, c - 1)),
                hnp.arrays(np.int64, (n_t,), elements=st.integers(-1, c)),
                arrays((n_t, c)),
                arrays((n_t,)),
            )
        )
    maybe_readonly(draw, x, t)
    return net, x, t


def n_classes(net):
    return net.parameters()[-1].shape[0]  # the last bias


def valid_network_input(net, x, t):
    d = net.params["W1"].shape[0]
    shape_ok = is_real(x) and x.ndim == 2 and x.shape[1] == d and x.shape[0] >= 1
    return shape_ok and valid_supervision(np.zeros((x.shape[0], n_classes(net))), t)


def check_network_call(net, method, x, t, counter):
    names = [type(net).__name__, *LAYER_NAMES]
    params_before = [snapshot(p) for p in net.params.values()]
    result = call(getattr(net, method), x, t, inputs=[x, t], names=names, counter=counter)
    if "gradient" not in method:
        assert [snapshot(p) for p in net.params.values()] == params_before
    return result


@MANY
@given(case=network_case(supervision="labels"))
def test_network_predict_loss_gradient(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    scores = call(
        net.predict, x, inputs=[x], names=[type(net).__name__, *LAYER_NAMES], counter="network"
    )
    if scores is not ERROR:
        assert scores.shape == (x.shape[0], n_classes(net)) and scores.dtype == net.dtype
    for method in ("loss", "gradient", "loss_and_gradient"):
        result = check_network_call(net, method, x, t, counter="network")
        if result is ERROR:
            assert not valid, method
            continue
        assert valid, method
        if method == "loss_and_gradient":
            loss, result = result
            np.testing.assert_array_equal(loss, net.loss(x, t))  # NaN equals NaN here
        if method == "loss":
            assert np.shape(result) == () and np.asarray(result).dtype == net.dtype
        else:
            assert result.keys() == net.params.keys()
            for key, grad in result.items():
                assert grad.shape == net.params[key].shape and grad.dtype == net.dtype


@MANY
@given(case=network_case(supervision="onehot"))
def test_network_accuracy_valid_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    acc = check_network_call(net, "accuracy", x, t, counter="network")
    if acc is ERROR:
        assert not valid
        return
    assert valid and 0.0 <= acc <= 1.0


@FEW
@given(case=network_case())
def test_network_loss_and_gradient_any_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    for method in ("loss", "gradient"):
        result = check_network_call(net, method, x, t, counter="network")
        assert (result is not ERROR) == valid, method


# -- regressions of network.py problems this suite found (fixed in network.py)


@FEW
@given(case=network_case())
def test_network_accuracy_validates_supervision(case):
    net, x, t = case
    valid = valid_network_input(net, x, t)
    acc = check_network_call(net, "accuracy", x, t, counter="network")
    assert (acc is not ERROR) == valid


@pytest.mark.parametrize("batch_size", [0, -1])
def test_network_accuracy_validates_batch_size(batch_size):
    net = make_net("TwoLayerNet", 3, 2, np.float64)
    x, t = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="batch_size"):
        net.accuracy(x, t, batch_size=batch_size)


def test_network_ragged_input_names_the_network():
    net = make_net("TwoLayerNet", 2, 2, np.float64)
    with pytest.raises(ValueError, match="TwoLayerNet"):
        net.loss([[1.0, 2.0], [3.0]], np.array([0, 1]))


@pytest.mark.parametrize("where", ["setitem", "load_state_dict", "weight_decay"])
def test_network_huge_finite_parameters_do_not_warn(where):
    net = MultiLayerNet(2, [3], 2, weight_decay_lambda=0.1, dtype=np.float32, seed=0)
    huge = {k: np.full(v.shape, 1e300) for k, v in net.params.items()}
    x, t = np.ones((2, 2)), np.array([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if where == "setitem":
            net.params["W1"] = huge["W1"]
        elif where == "load_state_dict":
            net.load_state_dict(huge)
        else:
            net.params["W1"][...] = np.float32(3e38)
            net.loss(x, t)


@pytest.mark.parametrize(
    "build",
    [
        lambda: TwoLayerNet(0, 3, 2),
        lambda: TwoLayerNet(2, -1, 2),
        lambda: TwoLayerNet(2, 2.5, 2),
        lambda: TwoLayerNet(2, 3, 2, weight_init_std=float("nan")),
        lambda: MultiLayerNet(2, [3], 2, weight_decay_lambda=float("nan")),
        lambda: MultiLayerNet(2, [3], 2, weight_decay_lambda="a"),
        lambda: MultiLayerNet(2, "ab", 2),
        lambda: Sequential(3),
    ],
    ids=[
        "zero",
        "negative",
        "fraction",
        "nan-std",
        "nan-lambda",
        "str-lambda",
        "str-hidden",
        "non-layer",
    ],
)
def test_network_constructors_validate(build):
    with pytest.raises((ValueError, TypeError), match="TwoLayerNet|MultiLayerNet|Sequential"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: MultiLayerNet(2, [3], 2, activation=["relu"]),
        lambda: Sequential(Relu(), loss=3),
    ],
    ids=["list-activation", "non-layer-loss"],
)
def test_network_constructors_validate_activation_and_loss(build):
    with pytest.raises((ValueError, TypeError), match="MultiLayerNet|Sequential"):
        build()
