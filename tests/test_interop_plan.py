"""The maths of ``layerwise.interop.plan``, checked with NumPy alone.

Both bridges (torch and ONNX) translate the same list of steps, so the choices that make a
conversion exact are made in the plan: where a flatten goes, how the book's per-position
BatchNorm becomes flatten / per-feature / unflatten, and how the book's Dropout factor
``1 - p`` is folded into a neighbouring layer. Here the steps are run by a small interpreter
written with PyTorch's semantics (inverted Dropout is the identity at inference, BatchNorm uses
its running statistics, max pooling pads with -inf) and must give ``predict``'s scores in
inference mode to 1e-12; what the plan refuses, it refuses by name. No torch is needed, so these
tests run wherever NumPy does (``test_interop.py`` then checks the bridges themselves).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerwise import (
    Affine,
    BatchNormalization,
    Convolution,
    DeepConvNet,
    Dropout,
    MultiLayerNet,
    MultiLayerNetExtend,
    Pooling,
    Relu,
    Sequential,
    Sigmoid,
    SimpleConvNet,
    TwoLayerNet,
)
from layerwise.interop import ConversionError
from layerwise.interop.plan import plan
from layerwise.layers import Layer

# ---------------------------------------------------------------- the interpreter


def windows(x, kh, kw, stride, pad, fill):
    """(N, C, OH, OW, kh, kw) windows of ``x`` padded with ``fill``: the sliding windows of
    convolution and pooling, written without layerwise's im2col."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def run_step(step, x):
    a, attrs = step.arrays, step.attrs
    if step.op == "linear":
        return x @ a["W"] + a["b"]
    if step.op == "conv":
        fn, c, fh, fw = a["W"].shape
        win = windows(x, fh, fw, attrs["stride"], attrs["pad"], 0.0)
        return np.einsum("nchwij,fcij->nfhw", win, a["W"]) + a["b"][:, None, None]
    if step.op == "maxpool":
        kh, kw = attrs["kernel"]
        return windows(x, kh, kw, attrs["stride"], attrs["pad"], -np.inf).max(axis=(4, 5))
    if step.op == "activation":
        return {"Relu": lambda v: np.maximum(v, 0), "Sigmoid": lambda v: 1 / (1 + np.exp(-v))}[
            attrs["kind"]
        ](x)
    if step.op == "batchnorm":
        shape = (-1, 1, 1) if x.ndim == 4 else (-1,)
        mean, var = a["running_mean"].reshape(shape), a["running_var"].reshape(shape)
        gamma, beta = a["gamma"].reshape(shape), a["beta"].reshape(shape)
        return gamma * (x - mean) / np.sqrt(var + attrs["eps"]) + beta
    if step.op == "dropout":
        assert attrs["factor"] == 1.0  # folded: inverted, the identity at inference
        return x
    if step.op == "flatten":
        return x.reshape(len(x), -1)
    if step.op == "unflatten":
        return x.reshape(len(x), *attrs["shape"])
    raise AssertionError(f"unknown step {step.op}")


def run_plan(network, x, input_shape=None):
    steps, shape, _ = plan(network, input_shape, target="NumPy")
    x = x.reshape(len(x), *shape)
    for step in steps:
        x = run_step(step, x)
    return x


def difference(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(ours)), 1.0))


# ---------------------------------------------------------------- every network class


def moved(net, rng):
    """Every array and running statistic moved off its start (a fresh BatchNorm is the identity
    and fresh biases are 0: either would hide a misplaced factor)."""
    for key, value in net.state_dict().items():
        value += 0.1 * rng.standard_normal(value.shape)
        if "var" in key:
            np.abs(value, out=value)
            value += 0.5
    return net


NETWORKS = {
    "TwoLayerNet": lambda: TwoLayerNet(12, 7, 3, seed=0),
    "MultiLayerNet-sigmoid": lambda: MultiLayerNet(12, [7, 6], 3, activation="sigmoid", seed=0),
    "MultiLayerNetExtend": lambda: MultiLayerNetExtend(
        12, [7, 6], 3, use_dropout=True, dropout_ration=0.3, use_batchnorm=True, seed=0
    ),
    # Sigmoid before each Dropout: the factor goes into the next Affine's W.
    "MultiLayerNetExtend-sigmoid": lambda: MultiLayerNetExtend(
        12, [7, 6], 3, activation="sigmoid", use_dropout=True, dropout_ration=0.2, seed=0
    ),
    "SimpleConvNet-batchnorm": lambda: SimpleConvNet(
        (1, 10, 10),
        {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        hidden_size=8,
        output_size=3,
        use_batchnorm=True,
        seed=0,
    ),
    "DeepConvNet": lambda: DeepConvNet((1, 8, 8), hidden_size=6, output_size=3, seed=0),
    "Sequential-per-position-batchnorm": lambda: Sequential(
        Convolution(np.ones((2, 1, 3, 3)), np.zeros(2), pad=1),
        BatchNormalization(np.ones(2 * 6 * 6), np.zeros(2 * 6 * 6)),
        Relu(),
        Pooling(3, 3, stride=1, pad=1),
        Pooling(2, 2, stride=2),
        Dropout(0.4),
        Affine(np.ones((2 * 3 * 3, 4)), np.zeros(4)),
        input_shape=(1, 6, 6),
    ),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_the_steps_compute_predict_in_inference_mode(name):
    rng = np.random.default_rng(1)
    net = moved(NETWORKS[name](), rng)
    shape = getattr(net, "input_shape", None) or (net.params["W1"].shape[0],)
    x = rng.standard_normal((5, *shape))
    expected = net.predict(x, train_flg=False)
    assert difference(expected, run_plan(net, x)) <= 1e-12


def test_planning_never_changes_the_network():
    net = moved(NETWORKS["MultiLayerNetExtend"](), np.random.default_rng(2))
    before = {k: v.copy() for k, v in net.state_dict().items()}
    plan(net, target="NumPy")
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_a_flatten_comes_before_an_affine_of_images_and_per_position_batchnorm_is_flat():
    net = NETWORKS["Sequential-per-position-batchnorm"]()
    ops = [step.op for step in plan(net, target="NumPy")[0]]
    assert ops[:5] == ["conv", "flatten", "batchnorm", "unflatten", "activation"]
    assert ops[-2:] == ["flatten", "linear"]


def test_the_book_dropout_factor_goes_into_the_affine_before_it_across_relu():
    net = Sequential(
        Affine(np.ones((2, 3)), np.full(3, 2.0)), Relu(), Dropout(0.25), input_shape=(2,)
    )
    steps = plan(net, target="NumPy")[0]
    linear = steps[0]
    np.testing.assert_array_equal(linear.arrays["W"], np.full((2, 3), 0.75))
    np.testing.assert_array_equal(linear.arrays["b"], np.full(3, 1.5))
    assert steps[-1].attrs["factor"] == 1.0


# ---------------------------------------------------------------- refusals


class Square(Layer):
    """A layer no bridge knows (and not registered): refused by name."""

    def forward(self, x):
        return x * x

    def backward(self, dout):
        return dout


@pytest.mark.parametrize(
    "network, words",
    [
        (
            Sequential(Affine(np.ones((3, 4)), np.zeros(4)), Sigmoid(), Dropout(0.5)),
            ["Dropout1", "the book's Dropout", "Sigmoid1 (Sigmoid)", "network's end"],
        ),
        (Sequential(Affine(np.ones((3, 4)), np.zeros(4)), Square()), ["Square", "no conversion"]),
        (Sequential(Convolution(np.ones((2, 1, 3, 3)), np.zeros(2)), Relu()), ["input_shape"]),
    ],
)
def test_what_has_no_exact_counterpart_is_refused_by_name(network, words):
    with pytest.raises(ConversionError) as info:
        plan(network, target="NumPy")
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------- any fully connected stack

KINDS = ["relu", "sigmoid", "batchnorm", "book dropout", "inverted dropout", "affine"]


def fully_connected_stack(kinds, p, seed):
    """An Affine(4, 5) followed by ``kinds`` (5 units wide; Dropouts of ratio ``p``), and a
    batch of 6 inputs: the stacks both this module and ``test_interop.py`` generate."""
    rng = np.random.default_rng(seed)
    width = 5
    layers = [Affine(rng.standard_normal((4, width)), rng.standard_normal(width))]
    for kind in kinds:
        if kind == "affine":
            layers.append(Affine(rng.standard_normal((width, width)), rng.standard_normal(width)))
        elif kind == "batchnorm":
            layers.append(
                BatchNormalization(
                    rng.uniform(0.5, 2, width),
                    rng.standard_normal(width),
                    running_mean=rng.standard_normal(width),
                    running_var=rng.uniform(0.5, 2, width),
                )
            )
        elif kind.endswith("dropout"):
            layers.append(Dropout(p, inverted=kind == "inverted dropout", seed=seed))
        else:
            layers.append(Relu() if kind == "relu" else Sigmoid())
    return Sequential(*layers), rng.standard_normal((6, 4))


@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    p=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_any_stack_plans_exactly_or_is_refused(kinds, p, seed):
    """The factor of a book Dropout finds a home, exactly, unless a Sigmoid (or an end) lies on
    both sides of it before any Affine or BatchNorm."""
    net, x = fully_connected_stack(kinds, p, seed)
    try:
        ours = run_plan(net, x)
    except ConversionError as err:
        assert p > 0 and "sigmoid" in kinds and "book dropout" in kinds
        assert "the book's Dropout" in str(err)
        return
    assert difference(net.predict(x, train_flg=False), ours) <= 1e-12
