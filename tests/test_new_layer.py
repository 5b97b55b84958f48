"""A new activation is its class plus one declaration: defined here, outside the package.

``Tanh`` is written as a learner would write it, registered with ``register_layer``, and then
used through every edge of layerwise: Sequential, the book's MultiLayerNetExtend, model files,
checkpoints, the graph drawing, the torch and ONNX exporters and the command line's choices.
No file of the package names it. The registration is undone after each test, so the rest of
the suite sees only the package's own layers.
"""

import numpy as np
import pytest
from conftest import registered_layer

import layerwise
from layerwise import Affine, Dropout, MultiLayerNetExtend, Sequential, Trainer
from layerwise.interop import ConversionError
from layerwise.layers import ACTIVATIONS, LAYERS, Layer
from layerwise.viz import record


class Tanh(Layer):
    """Hyperbolic tangent.

    Forward: ``out = tanh(x)``. Backward: ``dx = dout * (1 - out**2)``, since
    ``d tanh(x) / dx = 1 - tanh(x)**2``. Shapes: ``x``, ``out``, ``dout`` and ``dx`` alike.
    Caches ``out``.
    """

    activation_name = "tanh"
    init_gain = 1.0  # Xavier, as for sigmoid: tanh is near-linear around 0
    torch_module = "Tanh"
    onnx_op = "Tanh"
    commutes_with_positive_scale = False  # tanh(c x) != c tanh(x)

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out**2)


@pytest.fixture(autouse=True)
def tanh_registered():
    """Register Tanh for one test, then remove it from both registries."""
    with registered_layer(Tanh):
        yield Tanh


def _batch(rng, n=6, features=5, classes=3):
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def _sequential(rng, dtype=np.float64):
    return Sequential(
        Affine(rng.standard_normal((5, 4)).astype(dtype), np.zeros(4, dtype)),
        Tanh(),
        Affine(rng.standard_normal((4, 3)).astype(dtype), np.zeros(3, dtype)),
    )


def _extend(**kwargs):
    return MultiLayerNetExtend(5, [4, 4], 3, activation="tanh", seed=1, **kwargs)


def _assert_close_gradients(net, x, t):
    # Numerical first: it rewinds Dropout's generator, so both see the same masks.
    numerical = net.numerical_gradient(x, t)
    grads = net.gradient(x, t)
    for key, value in grads.items():
        np.testing.assert_allclose(value, numerical[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_registration_enters_both_registries_and_is_undone():
    assert LAYERS["Tanh"] is Tanh and ACTIVATIONS["tanh"] is Tanh

    class Softsign(Tanh):  # a second activation, registered and unregistered here
        activation_name = "softsign"

    with registered_layer(Softsign):
        assert LAYERS["Softsign"] is Softsign and ACTIVATIONS["softsign"] is Softsign
        assert MultiLayerNetExtend(5, [4], 3, activation="softsign", seed=0)
    assert "Softsign" not in LAYERS and "softsign" not in ACTIVATIONS
    with pytest.raises(ValueError, match="softsign"):
        MultiLayerNetExtend(5, [4], 3, activation="softsign", seed=0)
    # Tanh itself stays registered until this test ends (the fixture), then is gone too:
    # test_registries_hold_only_the_package_layers_between_tests checks that.


def test_registries_hold_only_the_package_layers_between_tests():
    """Runs without Tanh's fixture effect leaking: the package's own registrations only."""
    package = {name for name, cls in LAYERS.items() if cls.__module__.startswith("layerwise.")}
    assert set(LAYERS) - package == {"Tanh"}  # this module's fixture, and nothing else
    assert {c.__name__ for c in ACTIVATIONS.values()} - package == {"Tanh"}


def test_tanh_layer_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = Tanh()
    np.testing.assert_array_equal(layer.forward(x), np.tanh(x))
    dx = layer.backward(dout)
    numerical = layerwise.numerical_gradient(lambda v: np.sum(np.tanh(v) * dout), x.copy())
    np.testing.assert_allclose(dx, numerical, rtol=1e-6, atol=1e-9)


def test_sequential_forward_and_gradient_check():
    rng = np.random.default_rng(1)
    net = _sequential(rng)
    x, t = _batch(rng)
    a1 = net.layers["Affine1"]
    expected = np.tanh(x @ a1.W + a1.b) @ net.layers["Affine2"].W
    np.testing.assert_allclose(net.predict(x), expected, rtol=1e-12)
    assert list(net.layers) == ["Affine1", "Tanh1", "Affine2"]
    _assert_close_gradients(net, x, t)


def test_multilayernetextend_builds_tanh_with_its_init_gain():
    net = _extend(weight_init_std="tanh", use_batchnorm=True, use_dropout=True)
    assert [type(layer).__name__ for layer in net.layers.values()] == [
        "Affine",
        "BatchNormalization",
        "Tanh",
        "Dropout",
    ] * 2 + ["Affine"]
    xavier = _extend(weight_init_std="xavier", use_batchnorm=True, use_dropout=True)
    for key, value in net.params.items():  # init_gain 1.0 is Xavier's std sqrt(1 / fan_in)
        np.testing.assert_array_equal(value, xavier.params[key])
    x, t = _batch(np.random.default_rng(2), n=8)
    _assert_close_gradients(net, x, t)


def test_model_files_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    x, _ = _batch(rng)
    for net in (_sequential(rng), _extend(use_batchnorm=True)):
        path = layerwise.save(net, tmp_path / f"{type(net).__name__}.npz")
        loaded = layerwise.load(path)
        assert type(loaded) is type(net)
        assert [type(layer) for layer in loaded.layers.values()].count(Tanh) >= 1
        np.testing.assert_array_equal(
            loaded.predict(x, train_flg=False), net.predict(x, train_flg=False)
        )


def test_checkpoint_resume_is_bit_identical(tmp_path):
    rng = np.random.default_rng(4)
    x_train, t_train = _batch(rng, n=60)
    x_test, t_test = _batch(rng, n=20)

    def trainer(epochs):
        net = _extend(use_dropout=True, dropout_ration=0.2)
        data = (x_train, t_train, x_test, t_test)
        return Trainer(net, *data, epochs=epochs, mini_batch_size=20, verbose=False, seed=0)

    reference = trainer(2).train()
    path = tmp_path / "ckpt.npz"
    first = trainer(1)
    first.train()
    first.epochs = 2  # the run it belongs to
    first.save_checkpoint(path)
    resumed = trainer(2).load_checkpoint(path)
    assert resumed.epoch == 1
    resumed.train()
    assert resumed.train_loss_list == reference.train_loss_list
    for key, value in resumed.network.state_dict().items():
        np.testing.assert_array_equal(value, reference.network.state_dict()[key])


def test_graph_drawing_records_tanh():
    rng = np.random.default_rng(5)
    net = _sequential(rng)
    x, t = _batch(rng)
    with record() as graph:
        net.loss_and_gradient(x, t)
    names = [node.name for node in graph.nodes]
    assert names == ["Affine1", "Tanh1", "Affine2", "SoftmaxWithLoss1"]
    tanh = graph.nodes[1]
    assert tanh.dout is not None and tanh.dinputs[0].shape == (6, 4)
    assert "Tanh1" in graph.to_dot()


def test_to_torch_and_back():
    torch = pytest.importorskip("torch")
    from layerwise.interop import from_torch, to_torch

    rng = np.random.default_rng(6)
    net = _sequential(rng)
    x, _ = _batch(rng)
    module = to_torch(net).eval()
    assert isinstance(module.Tanh1, torch.nn.Tanh)
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(theirs, net.predict(x, train_flg=False), rtol=1e-12, atol=1e-14)
    back = from_torch(module)
    assert [type(layer) for layer in back.layers.values()] == [Affine, Tanh, Affine]
    np.testing.assert_allclose(back.predict(x), net.predict(x), rtol=1e-12, atol=1e-14)


def test_to_torch_refuses_a_book_dropout_behind_tanh():
    pytest.importorskip("torch")
    from layerwise.interop import to_torch

    rng = np.random.default_rng(7)
    net = Sequential(Affine(rng.standard_normal((5, 4)), np.zeros(4)), Tanh(), Dropout(0.5))
    with pytest.raises(ConversionError, match=r"Tanh1 .*inverted=True"):
        to_torch(net, input_shape=(5,))


def test_to_onnx_runs_in_onnxruntime(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from layerwise.interop import load_onnx, to_onnx

    rng = np.random.default_rng(8)
    net = _extend(use_batchnorm=True).eval()
    x, _ = _batch(rng)
    path = to_onnx(net, tmp_path / "tanh.onnx")
    assert "Tanh" in [node.op_type for node in onnx.load(path).graph.node]
    ours = net.predict(x.astype(np.float32), train_flg=False)
    np.testing.assert_allclose(load_onnx(path).predict(x), ours, rtol=1e-5, atol=1e-6)


def test_command_line_offers_the_activation(capsys):
    from layerwise import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    assert "relu,sigmoid,tanh" in capsys.readouterr().out
    args = cli.build_parser().parse_args(
        ["train", "--model", "mlp", "--activation", "tanh", "--weight-init-std", "tanh"]
    )
    assert args.activation == "tanh" and args.weight_init_std == "tanh"
