"""The book's chapter 7-8 networks: structure, keys, gradient checks, files, the book's sizes."""

import tracemalloc

import numpy as np
import pytest

from layerwise import Convolution, DeepConvNet, Pooling, SimpleConvNet
from layerwise.files import ModelFileError, load, read_npz, save


def _scale_relative_errors(grads, numerical):
    # Relative to the largest gradient entry of the network (see test_network.py).
    scale = max(float(np.max(np.abs(g))) for g in grads.values())
    return {k: float(np.max(np.abs(grads[k] - numerical[k]))) / scale for k in grads}


def _small_deep(**kwargs):
    # The book's architecture with few filters, so a numerical gradient takes seconds.
    params = {
        f"conv_param_{i}": {
            "filter_num": n,
            "filter_size": 3,
            "pad": 2 if i == 4 else 1,
            "stride": 1,
        }
        for i, n in enumerate([2, 2, 3, 3, 4, 4], 1)
    }
    return DeepConvNet(input_dim=(1, 12, 12), **params, hidden_size=6, output_size=3, **kwargs)


def _images(rng, n, shape):
    return rng.uniform(0.1, 1.0, (n, *shape)), rng.integers(0, 3, n)


def test_simple_conv_net_has_the_books_structure():
    net = SimpleConvNet(seed=0)
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert net.params["W1"].shape == (30, 1, 5, 5)
    assert net.params["W2"].shape == (30 * 12 * 12, 100)  # the book's pool_output_size
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.05)
    assert isinstance(net.layers["Conv1"], Convolution) and isinstance(net.layers["Pool1"], Pooling)
    assert net.last_layer is net.lastLayer


def test_deep_conv_net_has_the_books_structure_and_he_initialisation():
    net = DeepConvNet(seed=0)
    assert [k for k in net.layers if k.startswith(("Conv", "Pool", "Affine", "Dropout"))] == [
        *("Conv1", "Conv2", "Pool1", "Conv3", "Conv4", "Pool2", "Conv5", "Conv6", "Pool3"),
        *("Affine1", "Dropout1", "Affine2", "Dropout2"),
    ]
    assert list(net.params) == [f"{p}{i}" for i in range(1, 9) for p in "Wb"]
    # The book's pre_node_nums: 1*3*3, 16*3*3, 16*3*3, 32*3*3, 32*3*3, 64*3*3, 64*4*4, 50
    fan_in = [9, 144, 144, 288, 288, 576, 1024, 50]
    assert net.params["W7"].shape == (64 * 4 * 4, 50)
    for i, n in enumerate(fan_in, 1):
        assert net.params[f"W{i}"].std() == pytest.approx(np.sqrt(2 / n), rel=0.25), i
    assert net.layers["Dropout1"].dropout_ratio == 0.5


def test_non_square_images_and_sizes_that_do_not_tile_are_floored():
    net = SimpleConvNet(
        input_dim=(3, 16, 20),
        conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
        seed=0,
    )
    assert net.params["W2"].shape == (4 * 8 * 10, 100)
    x = np.zeros((2, 3, 16, 20))
    assert net.predict(x).shape == (2, 10)
    # 5x5 filters give 25x25, pooled to 12x12 (floored, as the book's Pooling and PyTorch do;
    # the book's SimpleConvNet sizes W2 for 12.5 x 12.5 and then fails)
    odd = SimpleConvNet(input_dim=(1, 29, 29), seed=0)
    assert odd.params["W2"].shape == (30 * 12 * 12, 100)
    assert odd.predict(np.zeros((2, 1, 29, 29))).shape == (2, 10)
    # ResNet's downsampling: 3x3, stride 2, pad 1 on 28x28 gives 14x14, pooled to 7x7
    strided = {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 2}
    net = SimpleConvNet(conv_param=strided, seed=0)
    assert net.params["W2"].shape == (4 * 7 * 7, 100)
    assert net.predict(np.zeros((2, 1, 28, 28))).shape == (2, 10)
    with pytest.raises(ValueError, match="SimpleConvNet: conv_param: .*filter size 5 is larger"):
        SimpleConvNet(input_dim=(1, 3, 3))
    with pytest.raises(ValueError, match="input_dim must be"):
        SimpleConvNet(input_dim=(28, 28))
    with pytest.raises(ValueError, match="conv_param must be a dict"):
        SimpleConvNet(conv_param={"filter_num": 30})
    assert DeepConvNet(input_dim=(1, 6, 6), seed=0).params["W7"].shape == (64, 50)  # 6-3-2-1
    with pytest.raises(ValueError, match="DeepConvNet.*Pool1"):
        DeepConvNet(input_dim=(1, 1, 1))


def test_simple_conv_net_gradient_check():
    rng = np.random.default_rng(0)
    x, t = _images(rng, 3, (2, 8, 10))
    net = SimpleConvNet(
        input_dim=(2, 8, 10),
        conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        hidden_size=5,
        output_size=3,
        weight_init_std=0.3,
        seed=1,
    )
    numerical = net.numerical_gradient(x, t, h=1e-5)
    errors = _scale_relative_errors(net.gradient(x, t), numerical)
    print("SimpleConvNet gradient check", {k: f"{e:.1e}" for k, e in errors.items()})
    assert max(errors.values()) <= 1e-7, errors


def test_deep_conv_net_gradient_check_with_its_dropout():
    rng = np.random.default_rng(1)
    net = _small_deep(seed=4)
    x, t = rng.uniform(-1, 1, (4, 1, 12, 12)), rng.integers(0, 3, 4)
    numerical = net.numerical_gradient(x, t, h=1e-5)  # first: it rewinds Dropout's generators
    grads = net.gradient(x, t)
    assert all(np.abs(g).max() > 1e-3 for g in grads.values())  # no layer is dead: not vacuous
    errors = _scale_relative_errors(grads, numerical)
    print("DeepConvNet gradient check", {k: f"{e:.1e}" for k, e in errors.items()})
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize(
    "make", [lambda: SimpleConvNet(input_dim=(1, 12, 12), seed=3, dtype=np.float32), _small_deep]
)
def test_save_and_load_give_the_same_network(tmp_path, make):
    net = make()
    x, t = _images(np.random.default_rng(2), 4, net.input_shape)
    for _ in range(2):  # trained parameters, not the constructor's
        grads = net.gradient(x, t)
        for key in net.params:
            net.params[key] -= net.params[key].dtype.type(0.1) * grads[key]
    loaded = load(save(net, tmp_path / "net.npz"))
    assert type(loaded) is type(net) and loaded.get_config() == net.get_config()
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    np.testing.assert_array_equal(
        loaded.predict(x, train_flg=False), net.predict(x, train_flg=False)
    )


def test_a_description_promising_huge_filters_is_refused_without_allocating(tmp_path):
    import json

    arrays = read_npz(save(_small_deep(seed=0), tmp_path / "net.npz"))
    description = json.loads(arrays["__architecture__"].item())
    description["network"]["conv_param_6"]["filter_num"] = 10**9
    arrays["__architecture__"] = np.array(json.dumps(description))
    path = tmp_path / "huge.npz"
    np.savez(path, **arrays)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"'W6' has shape .*needs \(1000000000, 4, 3, 3\)"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_accuracy_counts_every_sample_in_inference_mode():
    # The book's accuracy drops the remainder of the last batch and still divides by N.
    net = _small_deep(seed=4)
    x, t = _images(np.random.default_rng(3), 7, (1, 12, 12))
    expected = np.mean(np.argmax(net.predict(x, train_flg=False), axis=1) == t)
    assert net.accuracy(x, t, batch_size=3) == expected


@pytest.mark.parametrize("make", ["simple", "deep"])
def test_batchnorm_after_each_convolution(tmp_path, make):
    # Not in the book: per-channel BatchNorm between each convolution and its ReLU.
    rng = np.random.default_rng(5)
    if make == "simple":
        net = SimpleConvNet(
            input_dim=(2, 8, 8),
            conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
            hidden_size=5,
            output_size=3,
            weight_init_std=0.3,
            use_batchnorm=True,
            seed=1,
        )
        assert list(net.layers)[:3] == ["Conv1", "BatchNorm1", "Relu1"]
        assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "W3", "b3"]
        x = rng.uniform(-1, 1, (4, 2, 8, 8))
    else:
        net = _small_deep(seed=4, use_batchnorm=True)
        assert [k for k in net.layers if k.startswith("BatchNorm")] == [
            f"BatchNorm{i}" for i in range(1, 7)
        ]
        x = rng.uniform(-1, 1, (4, 1, 12, 12))
    assert net.params["gamma1"].shape == (net.params["W1"].shape[0],)  # per channel
    t = rng.integers(0, 3, len(x))
    numerical = net.numerical_gradient(x, t, h=1e-5)
    grads = net.gradient(x, t)
    errors = _scale_relative_errors(grads, numerical)
    assert max(errors.values()) <= 1e-7, errors
    loaded = load(save(net, tmp_path / "bn.npz"))
    assert loaded.get_config()["use_batchnorm"] is True
    for key, value in net.state_dict().items():  # running statistics included
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
