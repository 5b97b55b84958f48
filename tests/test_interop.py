"""The bridges of layerwise.interop: to PyTorch and back, and to ONNX run by onnxruntime.

Every network class is trained a little (so BatchNorm's running statistics are neither 0 nor 1
and the scores are not those of a fresh network), then converted; torch's outputs must equal
``predict``'s within 1e-5 (float32) and 1e-10 (float64) relative to the largest score, and
onnxruntime's within 1e-5 on the 10,000 Fashion-MNIST test images, with the same predicted
class on every one. The largest differences seen are printed after the run (``pytest -s`` or
``-v``); none may exceed 1e-5. Without torch, onnx or onnxruntime the module is skipped.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import record_worst
from hypothesis import given
from hypothesis import strategies as st
from test_interop_plan import KINDS, Square, fully_connected_stack

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
    blas_threads,
)
from layerwise.datasets import load_fashion_mnist, load_sample
from layerwise.files import load
from layerwise.functions import softmax
from layerwise.interop import (
    ConversionError,
    from_torch,
    load_onnx,
    save_torch,
    to_onnx,
    to_torch,
)
from layerwise.interop.onnx_bridge import DEFAULT_OPSET, MIN_OPSET
from layerwise.optimizers import Adam

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TOL = {"float32": 1e-5, "float64": 1e-10}


def difference(ours, theirs):
    """``max |ours - theirs|`` relative to the largest score (scores near 0 compare absolutely)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(ours)), 1.0))


def record(key, value):
    record_worst("largest difference of the interop bridges", " / ".join(key), value, 1e-5)


def conv_sequential(dtype, seed):
    """A Sequential the book's classes do not cover: per-position BatchNorm after a convolution,
    a 3x3 stride-1 padded pool and PyTorch's (inverted) Dropout."""
    rng = np.random.default_rng(seed)
    layers = [
        Convolution(0.3 * rng.standard_normal((4, 1, 3, 3)), np.zeros(4), stride=1, pad=1),
        BatchNormalization(np.ones(4 * 28 * 28), np.zeros(4 * 28 * 28)),  # per position
        Relu(),
        Pooling(3, 3, stride=1, pad=1),
        Pooling(2, 2, stride=2),
        Affine(0.05 * rng.standard_normal((4 * 14 * 14, 32)), np.zeros(32)),
        Sigmoid(),
        Dropout(0.3, inverted=True, seed=seed),
        Affine(0.3 * rng.standard_normal((32, 10)), np.zeros(10)),
    ]
    for layer in layers:
        for name in layer.param_names:
            setattr(layer, name, getattr(layer, name).astype(dtype))
        for name in layer.buffer_names:
            setattr(layer, name, getattr(layer, name).astype(dtype))
    net = Sequential(*layers)
    net.input_shape = (1, 28, 28)
    return net


def extend(dtype, **options):
    """MultiLayerNetExtend with BatchNorm and the book's (non-inverted) Dropout."""
    return MultiLayerNetExtend(
        784, [100, 100], 10, use_dropout=True, use_batchnorm=True, dtype=dtype, seed=0, **options
    )


NETWORKS = {
    "TwoLayerNet": lambda dtype: TwoLayerNet(784, 50, 10, dtype=dtype, seed=0),
    "MultiLayerNet": lambda dtype: MultiLayerNet(784, [100, 100], 10, dtype=dtype, seed=0),
    "MultiLayerNetExtend": lambda dtype: extend(dtype, dropout_ration=0.2),
    "MultiLayerNetExtend-sigmoid": lambda dtype: extend(
        dtype, activation="sigmoid", dropout_ration=0.3
    ),
    "SimpleConvNet": lambda dtype: SimpleConvNet(dtype=dtype, seed=0),
    "SimpleConvNet-batchnorm": lambda dtype: SimpleConvNet(use_batchnorm=True, dtype=dtype, seed=0),
    "DeepConvNet": lambda dtype: DeepConvNet(dtype=dtype, seed=0),
    "Sequential": lambda dtype: conv_sequential(dtype, 0),
}
# Adam steps of batch 50: enough to move every array and running statistic off its start.
STEPS = {"DeepConvNet": 4, "SimpleConvNet-batchnorm": 8, "Sequential": 8}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One BLAS and one torch thread: on a shared 2-core machine, the fastest and steadiest."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with blas_threads(1):
        yield
    torch.set_num_threads(threads)


def as_input(x, net):
    return x.reshape(len(x), *net.input_shape)


@pytest.fixture(scope="module")
def trained():
    """``{(name, dtype): network}``: trained in float64 on the sample, the float32 twin a copy."""
    (x, t), _ = load_sample()
    nets = {}
    for name, make in NETWORKS.items():
        net = make(np.float64)
        optimizer = Adam(lr=0.003)
        for i in range(STEPS.get(name, 12)):
            batch = slice(50 * i, 50 * i + 50)
            optimizer.update(net.params, net.gradient(as_input(x[batch], net), t[batch]))
        net32 = make(np.float32)
        net32.load_state_dict(net.state_dict())
        nets[name, "float64"], nets[name, "float32"] = net.eval(), net32.eval()
    return nets


@pytest.fixture(scope="module")
def sample_test():
    _, (x, t) = load_sample()
    return x[::5], t[::5]  # 200 images, 20 per class


def test_training_moved_the_running_statistics(trained):
    net = trained["MultiLayerNetExtend", "float64"]
    assert not np.allclose(net.buffers["running_mean1"], 0)
    assert not np.allclose(net.buffers["running_var1"], 1)


# ---------------------------------------------------------------------- to_torch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_to_torch_equals_predict(trained, sample_test, name, dtype):
    net = trained[name, dtype]
    x = as_input(sample_test[0].astype(dtype), net)
    module = to_torch(net).eval()
    assert all(p.dtype == getattr(torch, dtype) for p in module.parameters())
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    err = difference(net.predict(x, train_flg=False), theirs)
    record((name, "torch", dtype), err)
    assert err <= TOL[dtype], f"{name} {dtype}: {err:.2e}"


def replay(masks):
    """A stand-in for a Dropout's generator whose next ``random`` draws give these masks."""

    class Replay:
        def random(self, shape):
            keep = masks.pop(0)
            assert keep.shape == shape
            return keep.astype(np.float64)  # 1.0 > p keeps, 0.0 > p drops

    return Replay()


@pytest.mark.parametrize(
    "name", ["MultiLayerNetExtend", "MultiLayerNetExtend-sigmoid", "DeepConvNet", "Sequential"]
)
def test_to_torch_equals_the_book_while_training(trained, sample_test, name):
    """torch in training mode, its Dropout masks replayed into layerwise: the same outputs.

    So folding the book's factor 1 - p makes torch's inverted Dropout the book's in training
    too, and BatchNorm normalises each batch the same way.
    """
    net = trained[name, "float64"]
    x = as_input(sample_test[0][:64].astype(np.float64), net)
    module = to_torch(net).train()
    masks = []

    def keep_mask(mod, inputs, out):
        # An input that is 0 gives 0 whether kept or not: either mask entry is right.
        masks.append(((out != 0) | (inputs[0] == 0)).numpy())

    dropouts = [m for m in module if isinstance(m, torch.nn.Dropout)]
    hooks = [m.register_forward_hook(keep_mask) for m in dropouts]
    torch.manual_seed(0)
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    for hook in hooks:
        hook.remove()
    assert masks and all(0 < m.mean() < 1 for m in masks)
    layers = [layer for layer in net.layers.values() if isinstance(layer, Dropout)]
    rngs = [layer.rng for layer in layers]
    for layer in layers:
        layer.rng = replay(masks)
    state = net.state_dict()
    try:
        ours = net.predict(x, train_flg=True)
    finally:
        for layer, rng in zip(layers, rngs, strict=True):
            layer.rng = rng
        net.load_state_dict(state)  # the running statistics as they were
    err = difference(ours, theirs)
    record((name, "torch training", "float64"), err)
    assert err <= 1e-10


def test_to_torch_maps_each_layer_and_keeps_the_book_names(trained):
    net = trained["MultiLayerNetExtend", "float64"]
    module = to_torch(net)
    assert not module.training  # as the network (eval'ed); a new network trains, as torch's
    assert to_torch(TwoLayerNet(4, 3, 2)).training
    names = [name for name, _ in module.named_children()]
    assert names[:5] == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1", "Affine2"]
    bn = module.BatchNorm1
    assert isinstance(bn, torch.nn.BatchNorm1d)
    assert bn.momentum == pytest.approx(0.1) and bn.eps == 1e-6
    # Dropout1's 1 - 0.2 went into BatchNorm1's gamma and beta (the nearest before it).
    layer = net.layers["BatchNorm1"]
    assert np.allclose(bn.weight.detach().numpy(), 0.8 * layer.gamma)
    assert np.allclose(bn.running_var.numpy(), layer.running_var)
    np.testing.assert_array_equal(module.Affine1.weight.detach().numpy(), net.params["W1"].T)


def test_to_torch_flattens_before_the_affine_of_a_conv_net(trained):
    module = to_torch(trained["SimpleConvNet", "float32"])
    kinds = [type(m).__name__ for m in module]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in to_torch(trained["TwoLayerNet", "float32"])] == [
        "Linear",
        "ReLU",
        "Linear",
    ]
    per_position = [type(m).__name__ for m in to_torch(trained["Sequential", "float32"])][:4]
    assert per_position == ["Conv2d", "Flatten", "BatchNorm1d", "Unflatten"]
    assert isinstance(
        to_torch(trained["SimpleConvNet-batchnorm", "float32"])[1], torch.nn.BatchNorm2d
    )


def test_to_torch_does_not_change_the_network(trained, sample_test):
    net = trained["DeepConvNet", "float64"]
    before = net.state_dict()
    to_torch(net)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "network, words",
    [
        (
            Sequential(Affine(np.ones((3, 4)), np.zeros(4)), Sigmoid(), Dropout(0.5)),
            ["Dropout1", "the book's Dropout", "Sigmoid", "inverted=True"],
        ),
        (Sequential(Affine(np.ones((3, 4)), np.zeros(4)), Square()), ["Square", "no conversion"]),
        (
            Sequential(Convolution(np.ones((2, 1, 3, 3)), np.zeros(2)), Relu()),
            ["input_shape", "Conv"],
        ),
        (Sequential(Dropout(0.5), Affine(np.ones((3, 4)), np.zeros(4))), None),  # exact
    ],
)
def test_to_torch_refuses_what_has_no_exact_twin(network, words):
    if words is None:  # the factor goes into the Affine after it: no refusal
        x = np.arange(6.0).reshape(2, 3)
        with torch.no_grad():
            theirs = to_torch(network, input_shape=(3,)).eval()(torch.from_numpy(x)).numpy()
        assert difference(network.predict(x, train_flg=False), theirs) <= 1e-15
        return
    with pytest.raises(ConversionError) as info:
        to_torch(network)
    for word in words:
        assert word in str(info.value)


def test_to_torch_refuses_padding_torch_cannot_pool():
    net = Sequential(Pooling(3, 3, stride=1, pad=2), Affine(np.ones((2 * 8 * 8, 2)), np.zeros(2)))
    with pytest.raises(ConversionError, match="Pooling1.*half the window"):
        to_torch(net, input_shape=(2, 6, 6))


def test_wrong_input_shape_is_a_conversion_error(trained):
    with pytest.raises(ConversionError, match=r"does not take input of shape \(N, 1, 27, 27\)"):
        to_torch(trained["SimpleConvNet", "float32"], input_shape=(1, 27, 27))


# ---------------------------------------------------------------------- from_torch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_round_trip_to_torch_and_back(trained, sample_test, name, dtype):
    net = trained[name, dtype]
    x = as_input(sample_test[0].astype(dtype), net)
    back = from_torch(to_torch(net), input_shape=net.input_shape).eval()
    assert back.dtype == dtype and back.input_shape == tuple(net.input_shape)
    err = difference(net.predict(x, train_flg=False), back.predict(x))
    record((name, "to_torch -> from_torch", dtype), err)
    assert err <= TOL[dtype]
    # and once more to torch: the same module as the first time
    again = to_torch(back)
    for (k1, v1), (k2, v2) in zip(
        to_torch(net).state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert k1.split(".")[-1] == k2.split(".")[-1]
        np.testing.assert_allclose(v1.numpy(), v2.numpy(), rtol=1e-6)


def hand_written_module(dtype):
    """A torch.nn.Sequential written by hand, with the options from_torch maps one by one."""
    torch.manual_seed(0)
    nn = torch.nn
    module = nn.Sequential(
        nn.Conv2d(1, 6, (3, 5), stride=1, padding=2),  # 30 x 28 out
        nn.BatchNorm2d(6, momentum=0.2, eps=1e-4),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=1, padding=1),
        nn.Conv2d(6, 8, 2, stride=2, bias=False),
        nn.Sigmoid(),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(8 * 15 * 14, 20),
        nn.BatchNorm1d(20, affine=False),
        nn.ReLU(),
        nn.Linear(20, 10, bias=False),
    ).to(dtype)
    with torch.no_grad():  # running statistics that are not 0 and 1
        for bn in (module[1], module[9]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    return module


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_torch_equals_torch_in_eval_and_training(sample_test, dtype):
    module = hand_written_module(getattr(torch, dtype))
    x = sample_test[0][:50].astype(dtype).reshape(50, 1, 28, 28)
    net = from_torch(module, seed=0)
    kinds = [type(layer).__name__ for layer in net.layers.values()]
    assert kinds == [
        "Convolution", "BatchNormalization", "Relu", "Pooling", "Convolution", "Sigmoid",
        "Dropout", "Affine", "BatchNormalization", "Relu", "Affine",
    ]  # fmt: skip
    assert net.layers["Dropout1"].inverted and net.layers["Dropout1"].dropout_ratio == 0.25
    assert net.layers["BatchNormalization1"].momentum == pytest.approx(0.8)
    with torch.no_grad():
        theirs = module.eval()(torch.from_numpy(x)).numpy()
    err = difference(net.predict(x, train_flg=False), theirs)
    record(("hand-written torch.nn.Sequential", "from_torch", dtype), err)
    assert err <= TOL[dtype]
    # Training mode without Dropout: batch statistics, and the same running statistics after.
    module[7].p = 0.0
    net.layers["Dropout1"].dropout_ratio = 0.0
    with torch.no_grad():
        theirs = module.train()(torch.from_numpy(x)).numpy()
    ours = net.predict(x, train_flg=True)
    # In float32 the batch statistics round differently (torch sums in one pass, layerwise in
    # two), and normalising by a small batch deviation magnifies that: exactness shows in
    # float64.
    rtol = {"float32": 1e-3, "float64": 1e-10}[dtype]
    assert difference(ours, theirs) <= rtol
    for torch_bn, name in [(module[1], "BatchNormalization1"), (module[9], "BatchNormalization2")]:
        layer = net.layers[name]
        np.testing.assert_allclose(layer.running_mean, torch_bn.running_mean.numpy(), rtol=rtol)
        np.testing.assert_allclose(layer.running_var, torch_bn.running_var.numpy(), rtol=rtol)


nn = torch.nn


@pytest.mark.parametrize(
    "module, words",
    [
        (nn.Linear(3, 2), ["torch.nn.Sequential", "Linear"]),
        (nn.Sequential(nn.Linear(3, 2), nn.Tanh()), ["'1'", "Tanh", "no layerwise counterpart"]),
        (nn.Sequential(nn.Sequential(nn.Linear(3, 2))), ["Sequential", "no layerwise counterpart"]),
        (nn.Sequential(nn.AvgPool2d(2)), ["AvgPool2d"]),
        (nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), ["groups"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2)), ["dilation"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding="same")), ["padding as a number"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3, stride=(1, 2))), ["stride is the same on both sides"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding_mode="reflect")), ["padding_mode"]),
        (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), ["ceil_mode"]),
        (nn.Sequential(nn.BatchNorm1d(3, momentum=None)), ["exponential average"]),
        (nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)), ["running statistics"]),
        (nn.Sequential(nn.Dropout(1.0)), ["ratio below 1"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), ["Flatten must be followed by a Linear"]),
        (nn.Sequential(nn.Flatten(), nn.ReLU()), ["Flatten must be followed by a Linear"]),
        (nn.Sequential(nn.Flatten(), nn.Conv2d(1, 2, 3)), ["cannot follow a Flatten"]),
        (nn.Sequential(nn.Flatten(0)), ["only Flatten() (from dim 1)"]),
        (nn.Sequential(nn.Unflatten(1, (1, 2, 2))), ["only after a Flatten"]),
        (
            nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4), nn.Unflatten(1, (1, 2, 2))),
            ["pass input_shape"],
        ),
        (
            nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2).double()),
            ["must all be float32 or all float64"],
        ),
        (nn.Sequential(nn.Linear(3, 2).half()), ["float16"]),
        (nn.Sequential(), ["no layers"]),
    ],
)
def test_from_torch_refuses_by_name(module, words):
    with pytest.raises(ConversionError) as info:
        from_torch(module)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("side", [28, 32])
def test_from_torch_of_a_strided_conv_net_runs_and_equals_torch(side):
    """Exact, or refused: it used to convert a stride-2 net whose predict then failed."""
    torch.manual_seed(0)
    half = side // 2  # 3x3, stride 2, pad 1: floor((side - 1) / 2) + 1
    module = (
        nn.Sequential(
            nn.Conv2d(1, 4, 3, stride=2, padding=1),  # ResNet's downsampling
            nn.ReLU(),
            nn.Conv2d(4, 6, 1, stride=2),  # its 1x1 shortcut
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Flatten(),
            nn.Linear(6 * ((half // 2 - 1) // 2 + 1) ** 2, 10),
        )
        .double()
        .eval()
    )
    x = np.random.default_rng(0).standard_normal((3, 1, side, side))
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    for input_shape in (None, (1, side, side)):
        net = from_torch(module, input_shape=input_shape)
        assert difference(net.predict(x, train_flg=False), theirs) <= 1e-10


@pytest.mark.parametrize(
    "module, input_shape, words",
    [
        # torch's Linear acts on the last axis of images; the Affine on the flattened image
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 3)), None, ["'1'", "Flatten"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 3)), (1, 6, 6), ["'1'", "Flatten"]),
        (nn.Sequential(nn.Linear(6, 3)), (1, 2, 6), ["'0'", "Flatten"]),
        # padding as large as the window: torch builds it, then refuses to run it
        (nn.Sequential(nn.MaxPool2d(2, padding=2)), None, ["'0'", "pad must be smaller"]),
    ],
)
def test_from_torch_refuses_what_would_not_run(module, input_shape, words):
    with pytest.raises(ConversionError) as info:
        from_torch(module, input_shape=input_shape)
    for word in words:
        assert word in str(info.value)


def test_from_torch_checks_that_an_unflatten_restores_the_flattened_shape():
    nn_ = torch.nn
    wrong = nn_.Sequential(nn_.Flatten(), nn_.BatchNorm1d(8), nn_.Unflatten(1, (2, 2, 2)))
    with pytest.raises(ConversionError, match=r"restore the shape \(1, 2, 4\)"):
        from_torch(wrong, input_shape=(1, 2, 4))
    right = nn_.Sequential(
        nn_.Flatten(), nn_.BatchNorm1d(8), nn_.Unflatten(1, (2, 2, 2)), nn_.Conv2d(2, 1, 1)
    )
    net = from_torch(right, input_shape=(2, 2, 2))
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2)).astype(np.float32)
    with torch.no_grad():
        theirs = right.eval()(torch.from_numpy(x)).numpy()
    assert difference(net.predict(x, train_flg=False), theirs) <= 1e-5


# ---------------------------------------------------------------------- properties


@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    p=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_to_torch_is_exact_or_refuses_property(kinds, p, seed):
    """Any stack of fully connected layers converts exactly (eval and training) or is refused,
    and only when a book Dropout with p > 0 meets a Sigmoid on both sides."""
    net, x = fully_connected_stack(kinds, p, seed)
    try:
        module = to_torch(net)
    except ConversionError as err:
        assert p > 0 and "sigmoid" in kinds and "book dropout" in kinds
        assert "the book's Dropout" in str(err)
        return
    with torch.no_grad():
        theirs = module.eval()(torch.from_numpy(x)).numpy()
    assert difference(net.predict(x, train_flg=False), theirs) <= 1e-10


@given(
    kinds=st.lists(
        st.sampled_from(["Linear", "ReLU", "Sigmoid", "BatchNorm1d", "Dropout", "Tanh", "GELU"]),
        min_size=1,
        max_size=5,
    ),
    seed=st.integers(0, 2**16),
)
def test_from_torch_is_exact_or_refuses_by_name_property(kinds, seed):
    torch.manual_seed(seed)
    nn_ = torch.nn
    make = {
        "Linear": lambda: nn_.Linear(4, 4),
        "BatchNorm1d": lambda: nn_.BatchNorm1d(4),
        "Dropout": lambda: nn_.Dropout(0.3),
    }
    module = nn_.Sequential(*(make.get(k, getattr(nn_, k))() for k in kinds)).double().eval()
    unsupported = [k for k in kinds if k in ("Tanh", "GELU")]
    try:
        net = from_torch(module)
    except ConversionError as err:
        assert unsupported and unsupported[0] in str(err)
        return
    assert not unsupported
    x = np.random.default_rng(seed).standard_normal((5, 4))
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    assert difference(net.eval().predict(x), theirs) <= 1e-10


# ---------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def fashion_test():
    _, (x, t) = load_fashion_mnist(normalize=False)  # uint8: predict scales by 1/255
    return x, t


@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnx_equals_predict_on_fashion_mnist(trained, fashion_test, tmp_path, name):
    net = trained[name, "float32"]
    path = to_onnx(net, tmp_path / f"{name}.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == DEFAULT_OPSET
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    x, t = fashion_test
    x = as_input(x, net)
    ours = np.concatenate(
        [net.predict(x[i : i + 2000], train_flg=False) for i in range(0, len(x), 2000)]
    )
    theirs = load_onnx(path).predict(x)
    err = difference(ours, theirs)
    record((name, "ONNX (onnxruntime)", "float32"), err)
    assert len(x) == 10_000
    assert err <= 1e-5, f"{name}: {err:.2e}"
    np.testing.assert_array_equal(np.argmax(theirs, axis=1), np.argmax(ours, axis=1))
    assert len(np.unique(np.argmax(ours, axis=1))) >= 5  # scores that tell classes apart


@pytest.mark.parametrize("name", ["TwoLayerNet", "SimpleConvNet-batchnorm", "Sequential"])
def test_onnx_of_a_float64_network(trained, sample_test, tmp_path, name):
    net = trained[name, "float64"]
    x = as_input(sample_test[0].astype(np.float32), net)
    theirs = load_onnx(to_onnx(net, tmp_path / "m.onnx")).predict(x)
    err = difference(net.predict(x.astype(np.float64), train_flg=False), theirs)
    record((name, "ONNX (onnxruntime)", "float64 network"), err)
    assert err <= 1e-5


def test_onnx_softmax_and_oldest_opset(trained, sample_test, tmp_path):
    net = trained["Sequential", "float32"]  # per-position BatchNorm: a Reshape node
    x = as_input(sample_test[0].astype(np.float32), net)
    path = to_onnx(net, tmp_path / "p.onnx", softmax=True, opset=MIN_OPSET)
    assert onnx.load(path).opset_import[0].version == MIN_OPSET
    model = load_onnx(path)
    probabilities = model.predict(x)
    assert model.session.get_outputs()[0].name == "probabilities"
    assert difference(softmax(net.predict(x, train_flg=False)), probabilities) <= 1e-6
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(ConversionError, match="opset must be from 13"):
        to_onnx(net, tmp_path / "old.onnx", opset=12)


def test_default_onnx_is_read_by_onnxruntime_1_18(trained, tmp_path):
    """onnx 1.23 wrote IR 14 / opset 28 by default, which onnxruntime 1.30 refuses; onnxruntime
    1.18 reads opset <= 21 and IR <= 10. CI runs such a file in onnxruntime 1.18.1 itself
    (.ci/old_onnxruntime.py)."""
    net = trained["SimpleConvNet", "float32"]
    model = onnx.load(to_onnx(net, tmp_path / "default.onnx"))
    assert model.opset_import[0].version <= 21 and model.ir_version <= 10
    newest = onnx.defs.onnx_opset_version()
    chosen = onnx.load(to_onnx(net, tmp_path / "newest.onnx", opset=newest))
    assert chosen.opset_import[0].version == newest
    assert chosen.ir_version == onnx.helper.find_min_ir_version_for(chosen.opset_import)
    with pytest.raises(ConversionError, match=f"opset must be from 13 to {newest}"):
        to_onnx(net, tmp_path / "future.onnx", opset=newest + 1)


def test_onnx_records_the_network_and_refuses_bad_input(trained, tmp_path):
    net = trained["TwoLayerNet", "float32"]
    model = load_onnx(to_onnx(net, tmp_path / "m.onnx", metadata={"layerwise.dataset": "x"}))
    assert model.metadata["layerwise.dataset"] == "x"
    assert '"class": "TwoLayerNet"' in model.metadata["layerwise.network"]
    assert model.input_shape == (784,)
    with pytest.raises(ValueError, match=r"takes input of shape \(N, 784\)"):
        model.predict(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="inference only"):
        model.predict(np.zeros((2, 784), np.float32), train_flg=True)
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ConversionError, match="cannot load ONNX model"):
        load_onnx(tmp_path / "bad.onnx")
    with pytest.raises(FileNotFoundError):
        load_onnx(tmp_path / "missing.onnx")


@pytest.mark.parametrize("softmax_", ["no", "", 1, 0, None])
def test_regression_onnx_softmax_must_be_true_or_false(tmp_path, softmax_):
    """softmax="no" was taken as true (any non-empty string is) and wrote probabilities."""
    net = TwoLayerNet(784, 8, 10, seed=0)
    with pytest.raises(TypeError, match=f"softmax must be True or False, got {softmax_!r}"):
        to_onnx(net, tmp_path / "m.onnx", softmax=softmax_)
    assert not (tmp_path / "m.onnx").exists()
    path = to_onnx(net, tmp_path / "p.onnx", softmax=np.True_)
    assert load_onnx(path).session.get_outputs()[0].name == "probabilities"


# ---------------------------------------------------------------------- files and the CLI


def run(*args, cwd, code=None):
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "layerwise", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def export_page_example():
    """The five-line example of the site's "Export to PyTorch and ONNX" page (docs/export.md)."""
    page = (Path(__file__).parent.parent / "docs" / "export.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", page, re.S).group(1)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A SimpleConvNet trained one epoch by `layerwise train` on the sample."""
    cwd = tmp_path_factory.mktemp("cli")
    result = run(
        "train", "--model", "convnet", "--epochs", "1", "--eval-samples", "100",
        "--out", "runs/r", "--quiet", cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cwd


def test_save_torch_file_loads_with_weights_only(trained, tmp_path):
    net = trained["DeepConvNet", "float32"]
    save_torch(net, tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    module = to_torch(DeepConvNet(dtype=np.float32, seed=1))  # other weights, same architecture
    module.load_state_dict(state)
    x = np.random.default_rng(0).random((4, 1, 28, 28), np.float32)
    with torch.no_grad():
        theirs = module.eval()(torch.from_numpy(x)).numpy()
    assert difference(net.predict(x, train_flg=False), theirs) <= 1e-5


def test_cli_export_torch_and_the_export_page_example(run_folder):
    result = run("export", "runs/r", "--torch", "model.pt", cwd=run_folder)
    assert result.returncode == 0, result.stderr
    assert "wrote model.pt" in result.stdout and "(Conv1): Conv2d(1, 30" in result.stdout
    code = export_page_example()
    assert len(code.strip().splitlines()) == 5
    check = code + (
        "\nimport numpy as np\n"
        "x = np.random.default_rng(0).random((3, 1, 28, 28), np.float32)\n"
        "ours = layerwise.load('runs/r/model.npz').predict(x, train_flg=False)\n"
        "theirs = module(torch.from_numpy(x)).detach().numpy()\n"
        "assert not module.training\n"
        "print(float(np.max(np.abs(ours - theirs))))\n"
    )
    result = run(cwd=run_folder, code=check)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) <= 1e-5


def accuracy_lines(stdout):
    """The accuracy line without the model's name, and the confusion matrix."""
    lines = stdout.splitlines()
    return [lines[0].split(": ", 1)[1], *lines[1:13]]


def test_cli_export_onnx_and_evaluate_it_gives_the_same_accuracy(run_folder):
    result = run("export", "runs/r/model.npz", "--onnx", "model.onnx", cwd=run_folder)
    assert result.returncode == 0, result.stderr
    assert "float32 input (N, 1, 28, 28) -> logits" in result.stdout
    assert "layerwise evaluate model.onnx --dataset sample" in result.stdout
    onnx.checker.check_model(onnx.load(run_folder / "model.onnx"), full_check=True)
    for dataset in ([], ["--dataset", "fashion-mnist"]):
        original = run("evaluate", "runs/r", *dataset, "--out", "a", cwd=run_folder)
        exported = run("evaluate", "model.onnx", *dataset, "--out", "b", cwd=run_folder)
        assert original.returncode == exported.returncode == 0, exported.stderr
        assert accuracy_lines(exported.stdout) == accuracy_lines(original.stdout)
        size = "10000" if dataset else "1000"
        assert f"on {size} test images" in exported.stdout
    assert (run_folder / "b" / "confusion.png").is_file()
    assert (run_folder / "b" / "misclassified.png").is_file()


def test_cli_export_opset(run_folder):
    default = run("export", "runs/r", "--onnx", "d.onnx", cwd=run_folder)
    chosen = run("export", "runs/r", "--onnx", "o.onnx", "--opset", "15", cwd=run_folder)
    assert default.returncode == chosen.returncode == 0, chosen.stderr
    assert onnx.load(run_folder / "d.onnx").opset_import[0].version == DEFAULT_OPSET
    model = onnx.load(run_folder / "o.onnx")
    assert model.opset_import[0].version == 15 and model.ir_version == 8
    x = np.random.default_rng(0).random((3, 1, 28, 28), np.float32)
    ours = load(run_folder / "runs/r/model.npz").predict(x, train_flg=False)
    assert difference(ours, load_onnx(run_folder / "o.onnx").predict(x)) <= 1e-5


def test_cli_export_softmax(run_folder):
    result = run("export", "runs/r", "--onnx", "p.onnx", "--softmax", cwd=run_folder)
    assert result.returncode == 0, result.stderr
    assert "-> probabilities" in result.stdout
    x = np.random.default_rng(0).random((3, 1, 28, 28), np.float32)
    np.testing.assert_allclose(load_onnx(run_folder / "p.onnx").predict(x).sum(axis=1), 1, 1e-6)


@pytest.mark.parametrize(
    "args, status, words",
    [
        (["export", "runs/r"], 2, ["--torch OUT.pt, --onnx OUT.onnx"]),
        (["export", "runs/r", "--torch", "m.pt", "--softmax"], 2, ["--softmax applies to --onnx"]),
        (["export", "runs/r", "--torch", "m.pt", "--opset", "17"], 2, ["--opset applies"]),
        (["export", "runs/r", "--onnx", "m.onnx", "--opset", "12"], 1, ["opset must be from 13"]),
        (["export", "junk.npz", "--onnx", "m.onnx"], 1, ["cannot load model file", "junk.npz"]),
        (["export", "missing.npz", "--torch", "m.pt"], 1, ["missing.npz"]),
        (["evaluate", "junk.onnx"], 1, ["cannot load ONNX model", "junk.onnx"]),
    ],
)
def test_cli_export_and_evaluate_errors(run_folder, args, status, words):
    (run_folder / "junk.npz").write_bytes(b"PK\x03\x04 not a layerwise file")
    (run_folder / "junk.onnx").write_bytes(b"\x08\x07 not a model")
    result = run(*args, cwd=run_folder)
    assert result.returncode == status
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize(
    "missing, args, extra",
    [
        ("torch", ["export", "runs/r", "--torch", "m.pt"], "torch"),
        ("onnx", ["export", "runs/r", "--onnx", "m.onnx"], "onnx"),
        ("onnxruntime", ["evaluate", "p.onnx"], "onnx"),
    ],
)
def test_a_missing_extra_is_named_with_its_pip_install(run_folder, missing, args, extra):
    """Without the optional package (hidden here), a message naming the extra, exit 1."""
    run("export", "runs/r", "--onnx", "p.onnx", cwd=run_folder)
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from layerwise.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    result = run(cwd=run_folder, code=code)
    assert result.returncode == 1
    assert f'pip install "layerwise[{extra}]"' in result.stderr
    assert "Traceback" not in result.stderr
