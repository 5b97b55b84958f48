"""Networks: gradient checks, params/layers coherence, the PyTorch-style API, the book's names."""

import numpy as np
import pytest
from conftest import max_relative_error

import layerwise
from layerwise import (
    Affine,
    BatchNormalization,
    MultiLayerNet,
    MultiLayerNetExtend,
    Relu,
    Sequential,
    Sigmoid,
    TwoLayerNet,
)


def _batch(rng, n, d, c):
    # Features in [0.1, 1) like pixel intensities: no input is accidentally ~0, so no entry of
    # dW is accidentally ~0 either (the check is relative per element).
    return rng.uniform(0.1, 1.0, (n, d)), rng.integers(0, c, n)


def _check_network(net, x, t):
    grads = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    assert grads.keys() == numerical.keys() == net.params.keys()
    errors = {k: max_relative_error(grads[k], numerical[k]) for k in grads}
    for key, err in errors.items():
        print(f"network gradient check {type(net).__name__} {key}: {err:.2e}")
    assert max(errors.values()) <= 1e-7, errors


def test_two_layer_net_gradient_check():
    rng = np.random.default_rng(0)
    net = TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1)
    x, t = _batch(rng, 5, 12, 4)
    _check_network(net, x, t)


def test_two_layer_net_gradient_check_book_setting():
    """The book's gradient_check.py: TwoLayerNet(784, 50, 10), 3 samples, init std 0.01."""
    rng = np.random.default_rng(1)
    net = TwoLayerNet(784, 50, 10, seed=2)
    x, t = _batch(rng, 3, 784, 10)
    grads, numerical = net.gradient(x, t), net.numerical_gradient(x[:, :], t)
    # Averaged absolute difference, the book's own measure (it prints about 1e-10 .. 1e-13).
    for key in grads:
        assert np.mean(np.abs(grads[key] - numerical[key])) < 1e-9, key


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_multi_layer_net_with_weight_decay_gradient_check(activation):
    rng = np.random.default_rng(2)
    net = MultiLayerNet(10, [8, 6], 3, activation=activation, weight_decay_lambda=0.1, seed=3)
    x, t = _batch(rng, 6, 10, 3)
    _check_network(net, x, t)


def test_weight_decay_enters_loss_and_gradient():
    rng = np.random.default_rng(3)
    x, t = _batch(rng, 4, 5, 3)
    plain = MultiLayerNet(5, [4], 3, seed=0)
    decayed = MultiLayerNet(5, [4], 3, weight_decay_lambda=0.5, seed=0)
    penalty = 0.5 * 0.5 * sum(np.sum(decayed.params[k] ** 2) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty, rel=1e-14)
    g0, g1 = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g1["W1"], g0["W1"] + 0.5 * plain.params["W1"], rtol=1e-14)
    np.testing.assert_array_equal(g1["b1"], g0["b1"])  # biases are not decayed


# ---------------------------------------------------------------- the book's names


def test_two_layer_net_has_the_books_structure():
    net = TwoLayerNet(784, 50, 10)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.params["W1"].shape == (784, 50) and net.params["b2"].shape == (10,)
    assert type(net.lastLayer).__name__ == "SoftmaxWithLoss"
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.05)
    np.testing.assert_array_equal(net.params["b1"], 0)


def test_multi_layer_net_structure_and_init():
    net = MultiLayerNet(784, [100, 100], 10, activation="sigmoid", weight_init_std="xavier")
    assert list(net.layers) == [
        "Affine1",
        "Activation_function1",
        "Affine2",
        "Activation_function2",
        "Affine3",
    ]  # the book's multi_layer_net.py names
    assert net.params["W2"].std() == pytest.approx(np.sqrt(1 / 100), rel=0.05)
    he = MultiLayerNet(784, [100], 10, weight_init_std="he")
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    fixed = MultiLayerNet(784, [100], 10, weight_init_std=0.05)
    assert fixed.params["W1"].std() == pytest.approx(0.05, rel=0.05)


def test_same_seed_same_network_bit_for_bit():
    a = MultiLayerNet(20, [10, 10], 5, seed=7)
    b = MultiLayerNet(20, [10, 10], 5, seed=7)
    c = MultiLayerNet(20, [10, 10], 5, seed=8)
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_float32_network_is_the_float64_one_rounded():
    a = TwoLayerNet(6, 4, 3, seed=1)
    b = TwoLayerNet(6, 4, 3, seed=1, dtype=np.float32)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(b.params["W1"], a.params["W1"].astype(np.float32))
    x, t = _batch(np.random.default_rng(0), 3, 6, 3)
    assert b.loss(x, t).dtype == np.float32
    assert all(g.dtype == np.float32 for g in b.gradient(x, t).values())


# ---------------------------------------------------------------- params and layers never diverge


def test_params_in_place_update_is_seen_by_layer():
    net = TwoLayerNet(4, 3, 2, seed=0)
    net.params["W1"] -= 1.0
    np.testing.assert_array_equal(net.layers["Affine1"].W, net.params["W1"])
    net.params["b2"][:] = 5.0
    np.testing.assert_array_equal(net.layers["Affine2"].b, 5.0)


def test_params_replacement_is_seen_by_layer():
    """The book's `params['W1'] = new` detaches the layer silently; here the layer follows."""
    net = TwoLayerNet(4, 3, 2, seed=0)
    new = np.ones((4, 3))
    net.params["W1"] = new
    assert net.layers["Affine1"].W is new
    x = np.ones((1, 4))
    np.testing.assert_allclose(net.layers["Affine1"].forward(x), [[4.0, 4.0, 4.0]])


def test_params_replacement_keeps_shape_and_dtype():
    net = TwoLayerNet(4, 3, 2, seed=0, dtype=np.float32)
    net.params["W1"] = np.zeros((4, 3))  # float64 in, converted to the network's float32
    assert net.layers["Affine1"].W.dtype == np.float32
    with pytest.raises(ValueError, match=r"keep its shape \(4, 3\)"):
        net.params["W1"] = np.zeros((3, 4))
    with pytest.raises(KeyError, match="W3"):
        net.params["W3"] = np.zeros(2)


def test_optimizer_update_through_params_trains_the_layers():
    from layerwise.optimizers import SGD

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (50, 8))
    t = np.argmax(x[:, :3], axis=1)  # a learnable rule
    net = TwoLayerNet(8, 16, 3, weight_init_std=0.3, seed=0)
    first = net.loss(x, t)
    opt = SGD(lr=0.5)
    for _ in range(300):
        opt.update(net.params, net.gradient(x, t))
    assert net.loss(x, t) < 0.5 * first


# ---------------------------------------------------------------- PyTorch-style API


def test_accuracy_batched_for_any_n_and_one_hot():
    rng = np.random.default_rng(4)
    net = TwoLayerNet(5, 4, 3, weight_init_std=1.0, seed=0)
    x, t = _batch(rng, 1003, 5, 3)
    expected = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert net.accuracy(x, t, batch_size=100) == pytest.approx(expected)
    assert net.accuracy(x, np.eye(3)[t], batch_size=7) == pytest.approx(expected)


def test_state_dict_round_trip_and_copies():
    a = TwoLayerNet(5, 4, 3, seed=0)
    b = TwoLayerNet(5, 4, 3, seed=1)
    state = a.state_dict()
    assert list(state) == ["W1", "b1", "W2", "b2"]
    state["W1"][0, 0] = 99.0  # a copy: the network is untouched
    assert a.params["W1"][0, 0] != 99.0
    w1 = b.params["W1"]
    b.load_state_dict(a.state_dict())
    assert b.params["W1"] is w1  # loaded in place
    x = np.ones((2, 5))
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_load_state_dict_errors():
    net = TwoLayerNet(5, 4, 3)
    state = net.state_dict()
    del state["b2"]
    with pytest.raises(KeyError, match="b2"):
        net.load_state_dict(state)
    state = net.state_dict()
    state["W1"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        net.load_state_dict(state)


def test_parameters_named_parameters_train_eval():
    net = MultiLayerNet(5, [4], 3)
    assert [n for n, _ in net.named_parameters()] == ["W1", "b1", "W2", "b2"]
    assert net.parameters()[0] is net.params["W1"]
    assert net.eval() is net and net.training is False
    assert net.train().training is True


def test_summary_and_repr():
    net = TwoLayerNet(784, 50, 10)
    text = net.summary()
    assert "Affine1" in text and "(N, 50)" in text and "39,250" in text and "39,760" in text
    assert "Affine(in_features=784, out_features=50" in repr(net)


def test_sequential_general_composition():
    rng = np.random.default_rng(5)
    net = Sequential(
        Affine(rng.standard_normal((6, 5)), np.zeros(5)),
        Sigmoid(),
        Affine(rng.standard_normal((5, 4)), np.full(4, 0.5)),  # biased: every ReLU is active
        Relu(),
        Affine(rng.standard_normal((4, 3)), np.zeros(3)),
    )
    assert list(net.layers) == ["Affine1", "Sigmoid1", "Affine2", "Relu1", "Affine3"]
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    x, t = rng.uniform(0.1, 1, (4, 6)), np.array([0, 1, 2, 1])
    _check_network(net, x, t)


def test_batch_mismatch_is_a_clear_error():
    net = TwoLayerNet(5, 4, 3)
    with pytest.raises(ValueError, match=r"same length N.*\(4, 5\).*\(3,\)"):
        net.loss(np.ones((4, 5)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="non-empty"):
        net.accuracy(np.ones((0, 5)), np.array([], dtype=int))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="activation"):
        MultiLayerNet(5, [4], 3, activation="tanh")
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(5, [4], 3, weight_init_std="kaiming")
    with pytest.raises(ValueError, match="dtype"):
        TwoLayerNet(5, 4, 3, dtype=np.float16)


# ---------------------------------------------------------------------- the layer protocol


def _extend(**kwargs):
    kwargs = {"use_batchnorm": True, "use_dropout": True, "dropout_ration": 0.2, **kwargs}
    return MultiLayerNetExtend(6, [5, 4], 3, weight_decay_lambda=0.1, seed=3, **kwargs)


def _scale_relative_errors(grads, numerical):
    # Relative to the largest gradient entry: a bias followed by BatchNorm has a true gradient
    # of exactly 0, where an entry-by-entry ratio would compare rounding noise with noise.
    scale = max(float(np.max(np.abs(g))) for g in grads.values())
    return {k: float(np.max(np.abs(grads[k] - numerical[k]))) / scale for k in grads}


def test_keys_are_numbered_per_name_as_in_the_book():
    # The book's multi_layer_net_extend.py: W1 b1 gamma1 beta1 W2 b2, not gamma2 beta2 W3.
    net = Sequential(
        Affine(np.ones((3, 4)), np.zeros(4)),
        BatchNormalization(np.ones(4), np.zeros(4)),
        Relu(),
        Affine(np.ones((4, 2)), np.zeros(2)),
    )
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    assert list(net.buffers) == ["running_mean1", "running_var1"]
    assert list(net.state_dict()) == [*net.params, *net.buffers]
    assert net.buffers["running_var1"] is net.layers["BatchNormalization1"].running_var


def test_multi_layer_net_extend_has_the_books_names():
    net = _extend()
    assert list(net.layers) == [
        "Affine1",
        "BatchNorm1",
        "Activation_function1",
        "Dropout1",
        "Affine2",
        "BatchNorm2",
        "Activation_function2",
        "Dropout2",
        "Affine3",
    ]
    assert list(net.params) == [
        *("W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"),
    ]
    assert net.last_layer is net.lastLayer
    assert net.hidden_size_list == [5, 4] and net.use_dropout and net.use_batchnorm
    np.testing.assert_array_equal(net.params["gamma1"], np.ones(5))
    np.testing.assert_array_equal(net.buffers["running_var2"], np.ones(4))


def test_multi_layer_net_extend_without_extras_is_a_multi_layer_net():
    # Same seed, same weights: the Dropout generators are seeded after all weights are drawn.
    plain = MultiLayerNet(6, [5, 4], 3, seed=3)
    extended = MultiLayerNetExtend(6, [5, 4], 3, seed=3, use_dropout=True)
    for key, value in plain.params.items():
        np.testing.assert_array_equal(extended.params[key], value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"use_dropout": False},
        {"use_batchnorm": False},
        {"activation": "sigmoid", "weight_init_std": "xavier"},
    ],
    ids=["batchnorm+dropout", "batchnorm", "dropout", "sigmoid"],
)
def test_multi_layer_net_extend_gradient_check(kwargs):
    # Batchnorm, dropout and weight decay together, in training mode, on a batch of 6.
    net = _extend(**kwargs)
    x, t = _batch(np.random.default_rng(1), 6, 6, 3)
    numerical = net.numerical_gradient(x, t, h=1e-5)  # first: it rewinds Dropout's generator
    grads = net.gradient(x, t)
    errors = _scale_relative_errors(grads, numerical)
    print("MultiLayerNetExtend", kwargs, {k: f"{e:.1e}" for k, e in errors.items()})
    assert max(errors.values()) <= 1e-7, errors


def test_numerical_gradient_sees_one_mask_and_leaves_the_generators_as_found():
    net = _extend(use_batchnorm=False)
    x, t = _batch(np.random.default_rng(2), 4, 6, 3)
    before = net.get_rng_state()
    net.numerical_gradient(x, t)
    assert net.get_rng_state() == before
    first = net.loss(x, t)
    net.set_rng_state(before)
    assert net.loss(x, t) == first  # the same masks again
    assert net.loss(x, t) != first  # and new ones after


def test_training_mode_and_the_books_train_flg():
    net = _extend(dropout_ration=0.5)
    x, t = _batch(np.random.default_rng(3), 8, 6, 3)
    inference = net.predict(x, train_flg=False)
    np.testing.assert_array_equal(net.eval().predict(x), inference)
    assert net.eval().loss(x, t) == net.loss(x, t, train_flg=False)
    # predict infers unless told, as the book's predict(x, train_flg=False), in either mode;
    # loss and the gradients follow the mode (train_flg=None), so the book's loops train.
    np.testing.assert_array_equal(net.train().predict(x), inference)
    assert not np.array_equal(net.predict(x, train_flg=True), inference)  # Dropout drew masks
    net.set_rng_state(net.get_rng_state())
    assert net.loss(x, t) != net.loss(x, t, train_flg=False)
    # accuracy always runs in inference mode, whatever the network's mode
    net.train()
    expected = np.mean(np.argmax(inference, axis=1) == t)
    assert net.accuracy(x, t) == expected
    assert net.training  # and leaves the mode alone


def test_regression_predict_twice_gives_one_answer(tmp_path):
    """Issue 28: a new network with Dropout, or one loaded from a file, started in training
    mode and predict followed it, so predicting twice gave two answers; the book's predict
    infers (train_flg=False). Now predict infers unless told, and a loaded network comes back
    in inference mode."""
    net = _extend(dropout_ration=0.5, use_batchnorm=True)
    x, _ = _batch(np.random.default_rng(5), 8, 6, 3)
    assert net.training  # new: the book's own loops call network.gradient(x, t) to train
    np.testing.assert_array_equal(net.predict(x), net.predict(x))
    np.testing.assert_array_equal(net(x), net.predict(x, train_flg=False))
    loaded = layerwise.load(layerwise.save(net, tmp_path / "net.npz"))
    assert not loaded.training
    np.testing.assert_array_equal(loaded.predict(x), loaded.predict(x))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_batchnorm_running_statistics_follow_training_only():
    net = _extend(use_dropout=False)
    x, t = _batch(np.random.default_rng(4), 8, 6, 3)
    before = {k: v.copy() for k, v in net.buffers.items()}
    net.predict(x, train_flg=False)
    net.accuracy(x, t)
    assert all(np.array_equal(net.buffers[k], v) for k, v in before.items())
    net.gradient(x, t)
    assert not np.array_equal(net.buffers["running_mean1"], before["running_mean1"])


def test_any_layer_that_follows_the_protocol_composes():
    # A learner's own layer: no base class, no registration. Sequential reads what it
    # declares (param_names, takes_train_flg), never its class.
    class Scale:
        param_names = ("a",)
        takes_train_flg = True

        def __init__(self, n):
            self.a = np.full(n, 2.0)
            self.da = None

        def forward(self, x, train_flg=True):
            self.x, self.train_flg = x, train_flg
            return x * self.a

        def backward(self, dout):
            self.da = np.sum(dout * self.x, axis=0)
            return dout * self.a

    rng = np.random.default_rng(6)
    scale = Scale(4)
    net = Sequential(
        Affine(rng.standard_normal((5, 4)), np.zeros(4)),
        scale,
        Relu(),
        Affine(rng.standard_normal((4, 3)), np.zeros(3)),
    )
    assert list(net.params) == ["W1", "b1", "a1", "W2", "b2"]
    x, t = _batch(rng, 4, 5, 3)
    net.predict(x, train_flg=False)
    assert scale.train_flg is False
    _check_network(net, x, t)


def test_summary_runs_a_sample_through_any_layers():
    text = _extend().summary()
    assert "BatchNorm1 (BatchNormalization)" in text and "(N, 5)" in text and "(N, 3)" in text
    assert "Dropout2 (Dropout)" in text
    plain = Sequential(Affine(np.ones((3, 2)), np.zeros(2)))
    assert "?" in plain.summary() and "(N, 2)" in plain.summary(input_shape=(3,))


# ---------------------------------------------------------------- uint8 images (issue 11, item 6)


def test_regression_uint8_images_are_scaled_in_predict_loss_accuracy_and_gradient():
    """uint8 images mean 0..255 scaled by 1/255 everywhere, not only in the Trainer.

    Before, ``predict`` fed 0..255 straight into the first Affine, so ``network.accuracy`` on
    ``load_sample(normalize=False)`` disagreed with the Trainer's (0.623 against 0.661).
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 12), dtype=np.uint8)
    t = rng.integers(0, 4, 7)
    for dtype in (np.float32, np.float64):
        net = TwoLayerNet(12, 8, 4, weight_init_std=0.5, dtype=dtype, seed=1)
        scaled = images.astype(dtype) * dtype(1 / 255)
        np.testing.assert_array_equal(net.predict(images), net.predict(scaled))
        assert net.predict(images).dtype == dtype
        assert net.loss(images, t) == net.loss(scaled, t)
        assert net.accuracy(images, t, batch_size=3) == net.accuracy(scaled, t)
        for key, grad in net.gradient(images, t).items():
            np.testing.assert_array_equal(grad, net.gradient(scaled, t)[key])
    assert images.dtype == np.uint8 and images.max() > 1  # the input itself is untouched


def test_integer_input_other_than_uint8_is_not_rescaled():
    net = TwoLayerNet(3, 4, 2, weight_init_std=0.5, dtype=np.float64, seed=0)
    x = np.array([[0, 255, 51]])
    np.testing.assert_array_equal(net.predict(x), net.predict(x.astype(np.float64)))


# ---------------------------------------------------------------- issue 20: what users bring


def test_pytorch_habits_call_len_index_and_iterate():
    rng = np.random.default_rng(0)
    net = Sequential(Affine.from_sizes(4, 3, rng=rng), Relu(), Affine.from_sizes(3, 2, rng=rng))
    x = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(net(x), net.predict(x))
    np.testing.assert_array_equal(net(x, train_flg=False), net.predict(x, train_flg=False))
    assert len(net) == 3
    assert net[0] is net.layers["Affine1"] and net[-1] is net.layers["Affine2"]
    assert net["Relu1"] is net.layers["Relu1"]
    assert list(net) == list(net.layers.values())
    with pytest.raises(IndexError, match=r"3 layers \(Affine1, Relu1, Affine2\).*got 3"):
        net[3]


@pytest.mark.parametrize(
    "init, fan_std", [("he", lambda n: np.sqrt(2 / n)), ("xavier", lambda n: np.sqrt(1 / n))]
)
def test_layers_from_sizes_draw_he_or_xavier_weights(init, fan_std):
    from layerwise.layers import Convolution

    layer = Affine.from_sizes(784, 100, rng=np.random.default_rng(0), init=init)
    assert layer.W.shape == (784, 100) and layer.W.dtype == np.float64
    assert np.all(layer.b == 0) and layer.b.shape == (100,)
    assert layer.W.std() == pytest.approx(fan_std(784), rel=0.02)
    conv = Convolution.from_sizes(8, 16, 3, stride=2, pad=1, rng=1, init=init, dtype="float32")
    assert conv.W.shape == (16, 8, 3, 3) and conv.W.dtype == np.float32
    assert (conv.stride, conv.pad) == (2, 1) and np.all(conv.b == 0)
    assert conv.W.std() == pytest.approx(fan_std(8 * 9), rel=0.1)  # fan-in C*FH*FW
    assert Convolution.from_sizes(2, 3, (5, 1), rng=0).W.shape == (3, 2, 5, 1)
    # A number is the book's weight_init_std; the same seed gives the same weights.
    fixed = Affine.from_sizes(50, 20, rng=3, init=0.01)
    assert fixed.W.std() == pytest.approx(0.01, rel=0.1)
    np.testing.assert_array_equal(fixed.W, Affine.from_sizes(50, 20, rng=3, init=0.01).W)
    with pytest.raises(ValueError, match="Affine.from_sizes: weight_init_std must be one of"):
        Affine.from_sizes(5, 3, init="uniform")
    with pytest.raises(ValueError, match="Convolution.from_sizes: filters must be"):
        Convolution.from_sizes(1, 0, 3)


def test_summary_says_the_sizes_and_which_layer_does_not_fit():
    from layerwise.layers import Convolution, Pooling

    rng = np.random.default_rng(0)
    layers = [Convolution.from_sizes(1, 16, 3, pad=1, rng=rng), Relu(), Pooling(2, 2)]
    net = Sequential(*layers, Affine.from_sizes(16 * 14 * 14, 10, rng=rng), input_shape=(1, 28, 28))
    text = net.summary()
    assert "(N, 16, 14, 14)" in text and "3,136" in text  # what the Affine takes: 16*14*14
    wrong = Sequential(*layers, Affine.from_sizes(100, 10, rng=rng), input_shape=(1, 28, 28))
    last = wrong.summary().splitlines()[-1]
    assert last.startswith("Affine1 does not take (N, 16, 14, 14)") and "(N, 100)" in last


def test_integer_labels_as_an_n_by_1_column():
    """The book's ch07/gradient_check.py passes labels of shape (N, 1)."""
    rng = np.random.default_rng(0)
    net = TwoLayerNet(6, 5, 3, seed=0)
    x, t = _batch(rng, 7, 6, 3)
    column = t.reshape(-1, 1)
    assert net.loss(x, column) == net.loss(x, t)
    assert net.accuracy(x, column) == net.accuracy(x, t)
    grads, by_column = net.gradient(x, t), net.gradient(x, column)
    for key in grads:
        np.testing.assert_array_equal(by_column[key], grads[key])
    _check_network(net, x, column)
    # A float column is still refused: labels are whole numbers.
    with pytest.raises(ValueError, match="integer dtype"):
        net.loss(x, column.astype(float))


def test_flat_rows_given_to_a_conv_net_get_the_reshape_hint():
    from layerwise import SimpleConvNet

    with pytest.raises(ValueError, match=r"use x\.reshape\(-1, 1, 28, 28\)"):
        SimpleConvNet(seed=0).predict(np.zeros((2, 784)))


def test_regression_a_flag_that_is_not_a_bool_is_refused():
    """predict(x, train_flg="no") ran Dropout and BatchNormalization in training mode, and
    MultiLayerNetExtend(use_dropout="no") built Dropout layers: a non-empty string is true."""
    net = MultiLayerNetExtend(3, [4], 2, use_dropout=True, use_batchnorm=True, seed=0)
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="MultiLayerNetExtend.predict: train_flg must be True"):
        net.predict(x, train_flg="no")
    with pytest.raises(ValueError, match="MultiLayerNetExtend.predict: train_flg must be True"):
        net.loss(x, np.array([0, 1]), train_flg="no")
    for flag in ("use_dropout", "use_batchnorm"):
        with pytest.raises(ValueError, match=f"MultiLayerNetExtend: {flag} must be True or False"):
            MultiLayerNetExtend(3, [4], 2, **{flag: "no"})
    assert net.predict(x, train_flg=np.bool_(False)).shape == (2, 2)  # NumPy's bool is one
