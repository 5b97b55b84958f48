"""The book's way of writing the chapter-7 and chapter-8 networks runs on layerwise's layers.

The book's `ch07/simple_convnet.py` and `ch08/deep_convnet.py`, as the one reference copy
`benchmarks/textbook.py` writes them (a `params` dict filled by `weight_init_std * randn(...)`,
layers built from those same arrays, `last_layer`, and `gradient` reading `dW` and `db` off the
layers by name in chapter 7 and by list index in chapter 8), run here on layerwise's layers
(`book_reference.on_layerwise`). NumPy's global generator is seeded before each is built, and
each Dropout has a generator of its own seeded from it, so that a test can replay its masks.

For each network the tests check three things: backpropagation agrees with central
differences, the book-style network computes exactly what layerwise's own network computes from
the same weights (and the same Dropout masks), and a few steps of Adam on the shipped sample
lower the loss.
"""

import numpy as np
import pytest
from book_reference import book as textbook
from book_reference import seeded

from layerwise import (
    DeepConvNet,
    Dropout,
    Relu,
    SimpleConvNet,
    blas_threads,
    numerical_gradient,
)
from layerwise.datasets import load_sample
from layerwise.optimizers import Adam


@pytest.fixture(autouse=True)
def one_blas_thread():
    """These loops run outside the Trainer's one-thread default; on a busy machine extra BLAS
    threads make the small products here many times slower, not faster."""
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def sample():
    return load_sample(normalize=True, flatten=False)


def relative_errors(grad_backprop, grad_numerical):
    """Per key, the largest absolute difference over the largest backprop gradient entry."""
    assert sorted(grad_backprop) == sorted(grad_numerical)
    errors = {}
    for key, grad in grad_backprop.items():
        assert grad.shape == grad_numerical[key].shape, key
        scale = np.max(np.abs(grad))
        assert scale > 0, key  # an all-zero gradient would make the check say nothing
        errors[key] = np.max(np.abs(grad - grad_numerical[key])) / scale
    return errors


def move_biases_off_zero(params, rng):
    """Give every bias a small random value for a gradient check.

    With the book's zero biases, a unit whose inputs are all zero (behind a ReLU that is off
    everywhere it looks) sits exactly on the next ReLU's kink, where central differences
    average the two slopes and disagree with backprop by design.
    """
    for key, param in params.items():
        if key.startswith("b"):
            param[...] = rng.normal(0.0, 0.1, param.shape)


# ------------------------------------------------------------------------- chapter 7


def test_book_simple_convnet_gradient_check():
    """ch07/gradient_check.py: backprop and central differences agree on random 10x10 images.

    Three filters on one channel take Convolution's im2col path (the deep check below takes the
    shifted-products path).

    Random pixels, as the book's check uses, and biases off zero: the zero background of real
    images would put ReLU inputs exactly on the kink, where central differences are meaningless.
    """
    rng = np.random.default_rng(0)
    x_batch, t_batch = rng.random((3, 1, 10, 10)), np.array([1, 4, 7])
    network = seeded(
        textbook.SimpleConvNet,
        input_dim=(1, 10, 10),
        conv_param={"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1},
        hidden_size=8,
        output_size=10,
        weight_init_std=0.1,
    )
    move_biases_off_zero(network.params, rng)
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    for key, error in relative_errors(grad_backprop, grad_numerical).items():
        assert error <= 1e-7, (key, error)


@pytest.mark.parametrize(
    "conv_param",
    [
        None,  # the book's 30 filters of 5x5 (im2col)
        {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1},  # the shifted products
        {"filter_num": 6, "filter_size": 4, "pad": 1, "stride": 2},
    ],
    ids=["book", "pad1", "stride2"],
)
def test_book_simple_convnet_computes_what_layerwise_computes(sample, conv_param):
    """With the same weights, the book-style net and layerwise.SimpleConvNet agree exactly."""
    (x_train, t_train), _ = sample
    x, t = x_train[:100], t_train[:100]
    book = seeded(textbook.SimpleConvNet, conv_param=conv_param, weight_init_std=0.05)
    ours = SimpleConvNet(conv_param=conv_param, weight_init_std=0.05, seed=1)
    assert list(ours.layers) == list(book.layers)
    assert {k: v.shape for k, v in ours.params.items()} == {
        k: v.shape for k, v in book.params.items()
    }
    for key in book.params:
        ours.params[key][...] = book.params[key]

    np.testing.assert_allclose(ours.predict(x), book.predict(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.loss(x[:50], t[:50]), book.loss(x[:50], t[:50]), rtol=1e-12)
    grads = book.gradient(x[:50], t[:50])
    our_grads = ours.gradient(x[:50], t[:50])
    assert sorted(our_grads) == sorted(grads)
    for key in grads:
        np.testing.assert_allclose(our_grads[key], grads[key], rtol=1e-12, atol=1e-15)
    assert ours.accuracy(x, t) == book.accuracy(x, t, batch_size=50)


def test_book_simple_convnet_trains_on_sample(sample):
    """ch07/train_convnet.py in miniature: Adam on a few hundred images lowers the loss."""
    (x_train, t_train), (x_test, t_test) = sample
    x_train, t_train = x_train[:300], t_train[:300]
    network = seeded(
        textbook.SimpleConvNet,
        input_dim=(1, 28, 28),
        conv_param={"filter_num": 8, "filter_size": 5, "pad": 0, "stride": 1},
        hidden_size=50,
        output_size=10,
        weight_init_std=0.01,
    )
    # The optimizer updates params in place, so the layers must hold these very arrays.
    assert network.layers["Conv1"].W is network.params["W1"]
    assert network.layers["Affine2"].b is network.params["b3"]
    optimizer = Adam(lr=0.001)
    rng = np.random.default_rng(0)
    train_size, batch_size = x_train.shape[0], 50

    loss_before = network.loss(x_train, t_train)
    acc_before = network.accuracy(x_test[:200], t_test[:200])
    train_loss_list = []
    for _ in range(40):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grads = network.gradient(x_batch, t_batch)
        optimizer.update(network.params, grads)
        train_loss_list.append(network.loss(x_batch, t_batch))

    assert np.all(np.isfinite(train_loss_list))
    assert np.mean(train_loss_list[-10:]) < np.mean(train_loss_list[:10]) - 0.3
    assert network.loss(x_train, t_train) < 0.7 * loss_before
    assert acc_before < 0.2 and network.accuracy(x_test[:200], t_test[:200]) > 0.4


# ------------------------------------------------------------------------- chapter 8


def dropout_states(network):
    """The book-style network's Dropout generators' states, by layerwise's layer names."""
    return {
        "Dropout1": network.layers[17].rng.bit_generator.state,
        "Dropout2": network.layers[19].rng.bit_generator.state,
    }


#: A small DeepConvNet for 12x12 images: 12 -> 12 -> 6, 6 -> 8 (pad 2) -> 4, 4 -> 4 -> 2.
SMALL_CONV_PARAMS = {
    f"conv_param_{i}": {"filter_num": n, "filter_size": 3, "pad": pad, "stride": 1}
    for i, (n, pad) in enumerate([(2, 1), (3, 1), (3, 1), (4, 2), (4, 1), (5, 1)], 1)
}


def test_book_deep_convnet_gradient_check():
    """Backprop and central differences agree when every loss sees the same Dropout masks.

    The book has no gradient check for this network; this one is written as its chapter-7 check
    is, with the masks rewound before every loss. Few filters per channel (2 * C >= FN) take
    Convolution's shifted-products path, and the pad 2 of the fourth convolution is kept.
    """
    rng = np.random.default_rng(0)
    x_batch, t_batch = rng.random((4, 1, 12, 12)), np.array([0, 3, 5, 9])
    network = seeded(
        textbook.DeepConvNet, input_dim=(1, 12, 12), **SMALL_CONV_PARAMS, hidden_size=6
    )
    move_biases_off_zero(network.params, rng)
    dropouts = [layer for layer in network.layers if isinstance(layer, Dropout)]
    assert [network.layers.index(layer) for layer in dropouts] == [17, 19]
    states = [layer.rng.bit_generator.state for layer in dropouts]

    def loss_w(w):
        # The book's check would draw new masks for every evaluation: rewind them instead.
        for layer, state in zip(dropouts, states, strict=True):
            layer.rng.bit_generator.state = state
        return network.loss(x_batch, t_batch)

    # A step of 1e-5, not 1e-4: among this many ReLU and pool units, a step of 1e-4 carries
    # some across a kink (seen for this seed), and the difference then mixes two slopes.
    grad_numerical = {
        key: numerical_gradient(loss_w, param, h=1e-5) for key, param in network.params.items()
    }
    for layer, state in zip(dropouts, states, strict=True):
        layer.rng.bit_generator.state = state
    grad_backprop = network.gradient(x_batch, t_batch)
    # Both branches of every ReLU and of every Dropout were taken, so both were checked.
    for layer in network.layers:
        if isinstance(layer, (Relu, Dropout)):
            assert layer.mask.any() and not layer.mask.all(), network.layers.index(layer)
    for key, error in relative_errors(grad_backprop, grad_numerical).items():
        assert error <= 1e-7, (key, error)


@pytest.mark.parametrize(
    "input_dim, conv_params, hidden_size",
    [((1, 28, 28), {}, 50), ((1, 12, 12), SMALL_CONV_PARAMS, 6)],
    ids=["book", "small"],
)
def test_book_deep_convnet_computes_what_layerwise_computes(
    sample, input_dim, conv_params, hidden_size
):
    """With the same weights and masks, the book-style net and layerwise.DeepConvNet agree
    exactly, step after step, and their Dropout generators move on in lockstep."""
    (x_train, t_train), _ = sample
    side = input_dim[1]
    start = (28 - side) // 2
    x, t = x_train[:100, :, start : start + side, start : start + side], t_train[:100]
    book = seeded(textbook.DeepConvNet, input_dim, **conv_params, hidden_size=hidden_size)
    ours = DeepConvNet(input_dim, **conv_params, hidden_size=hidden_size, seed=1)
    assert {k: v.shape for k, v in ours.params.items()} == {
        k: v.shape for k, v in book.params.items()
    }
    for key in book.params:
        ours.params[key][...] = book.params[key]
    ours.set_rng_state(dropout_states(book))

    np.testing.assert_allclose(
        ours.predict(x, train_flg=False), book.predict(x, train_flg=False), rtol=1e-12, atol=1e-15
    )
    assert ours.accuracy(x, t) == book.accuracy(x, t, batch_size=50)
    # The book's loss always runs Dropout in training mode; layerwise's follows the network's
    # mode, which starts as training.
    assert ours.training
    np.testing.assert_allclose(ours.loss(x[:20], t[:20]), book.loss(x[:20], t[:20]), rtol=1e-12)

    book_optimizer, our_optimizer = Adam(lr=0.001), Adam(lr=0.001)
    for step in range(1, 3):
        x_batch, t_batch = x[20 * step : 20 * step + 20], t[20 * step : 20 * step + 20]
        grads = book.gradient(x_batch, t_batch)
        our_grads = ours.gradient(x_batch, t_batch)
        assert sorted(our_grads) == sorted(grads)
        for key in grads:
            np.testing.assert_allclose(our_grads[key], grads[key], rtol=1e-12, atol=1e-15)
        book_optimizer.update(book.params, grads)
        our_optimizer.update(ours.params, our_grads)
    assert ours.get_rng_state() == dropout_states(book)


def test_book_deep_convnet_trains_on_sample(sample):
    """ch08/train_deepnet.py in miniature: Adam on a few hundred images lowers the loss.

    20x20 middles of the images (a side 8k + 4 keeps every pool even, as 28 does) and few
    filters, for speed; a rate of 0.01 instead of the book's 0.001, to learn in 40 steps.
    """
    (x_train, t_train), (x_test, t_test) = sample
    x_train, t_train = x_train[:300, :, 4:24, 4:24], t_train[:300]
    x_test, t_test = x_test[:200, :, 4:24, 4:24], t_test[:200]
    conv_params = {
        f"conv_param_{i}": {"filter_num": n, "filter_size": 3, "pad": pad, "stride": 1}
        for i, (n, pad) in enumerate([(4, 1), (4, 1), (8, 1), (8, 2), (8, 1), (8, 1)], 1)
    }
    network = seeded(textbook.DeepConvNet, input_dim=(1, 20, 20), **conv_params, hidden_size=32)
    optimizer = Adam(lr=0.01)
    rng = np.random.default_rng(0)
    train_size, batch_size = x_train.shape[0], 50

    def eval_loss():  # without Dropout, which the book's loss always applies
        return network.last_layer.forward(network.predict(x_train, train_flg=False), t_train)

    loss_before = eval_loss()
    acc_before = network.accuracy(x_test, t_test)
    train_loss_list = []
    for _ in range(40):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grads = network.gradient(x_batch, t_batch)
        optimizer.update(network.params, grads)
        train_loss_list.append(network.loss(x_batch, t_batch))

    assert np.all(np.isfinite(train_loss_list))
    assert np.mean(train_loss_list[-10:]) < np.mean(train_loss_list[:10]) - 0.2
    assert eval_loss() < 0.8 * loss_before
    assert acc_before < 0.2 and network.accuracy(x_test, t_test) > 0.4
