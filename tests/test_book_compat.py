"""The book's own style of code runs on layerwise's layers unchanged.

The book's chapter-5 `TwoLayerNet` and chapter-6 `MultiLayerNetExtend`, as the one reference
copy `benchmarks/textbook.py` writes them (a params dict, an OrderedDict of layers built from
those same arrays, `lastLayer`, `numerical_gradient` with a closure that ignores its argument,
`backward(dout=1)`), run here on layerwise's layers (`book_reference.on_layerwise`): only the
layer classes differ. The `test_ch06_*` tests run the logic of each chapter-6 script in
miniature (a few hundred images, a hundred iterations), asserting what the book's figure for
that script shows.
"""

import numpy as np
import pytest
from book_reference import book as textbook
from book_reference import seeded

from layerwise import (
    MultiLayerNet,
    MultiLayerNetExtend,
    Trainer,
    blas_threads,
    numerical_gradient,
)
from layerwise.datasets import load_sample
from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum
from layerwise.util import shuffle_dataset, smooth_curve


@pytest.fixture(autouse=True)
def one_blas_thread():
    """The book's scripts run their own loops, outside the Trainer's one-thread default; on a
    busy two-core machine two BLAS threads make these small products 20-30 times slower."""
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def sample():
    return load_sample(normalize=True)


def test_book_gradient_check_runs_on_layerwise():
    """The book's gradient_check.py: backprop and numerical gradients agree (section 5.7.3)."""
    (x_train, t_train), _ = load_sample(normalize=True, one_hot_label=True)
    network = seeded(textbook.TwoLayerNet, input_size=784, hidden_size=50, output_size=10)
    x_batch, t_batch = x_train[:3], t_train[:3]
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    for key in grad_numerical:
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        assert diff < 1e-9, (key, diff)


def test_book_training_loop_runs_on_layerwise():
    """The book's train_neuralnet.py loop, a few hundred iterations on the shipped sample."""
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=True, one_hot_label=True)
    network = seeded(textbook.TwoLayerNet, input_size=784, hidden_size=50, output_size=10)
    rng = np.random.default_rng(0)
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.1
    before = network.accuracy(x_test, t_test)
    for _ in range(300):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]  # in place: the layers see it
    after = network.accuracy(x_test, t_test)
    assert before < 0.3 and after > 0.7


# ------------------------------------------------------------------------- chapter 6


@pytest.mark.parametrize("use_batchnorm, use_dropout", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize(
    "make_optimizer", [lambda: SGD(lr=0.1), lambda: Adam(lr=0.001)], ids=["SGD", "Adam"]
)
def test_book_multi_layer_net_extend_trains_like_layerwise(
    sample, make_optimizer, use_batchnorm, use_dropout
):
    """The book's MultiLayerNetExtend, built from layerwise's layers, and layerwise's own
    network compute the same gradients, step for step, from the same weights and masks."""
    (x_train, t_train), _ = sample
    options = dict(
        weight_decay_lambda=0.01,
        use_dropout=use_dropout,
        dropout_ration=0.2,
        use_batchnorm=use_batchnorm,
    )
    book = seeded(textbook.MultiLayerNetExtend, 784, [40, 30], 10, **options)
    ours = MultiLayerNetExtend(784, [40, 30], 10, **options)
    assert list(ours.layers) == list(book.layers)
    # The same keys; the book's dict lists all W, b before gamma1 (made with the layers).
    assert sorted(ours.params) == sorted(book.params)
    for key in book.params:
        ours.params[key][...] = book.params[key]
    # The same masks: both networks' Dropout generators start from the same state.
    ours.set_rng_state(
        {
            name: book.layers[name].rng.bit_generator.state
            for name in book.layers
            if "Dropout" in name
        }
    )
    book_optimizer, our_optimizer = make_optimizer(), make_optimizer()
    x_eval, t_eval = x_train[:500], t_train[:500]
    loss_before = book.loss(x_eval, t_eval)

    rng = np.random.default_rng(0)
    for _ in range(30):
        batch_mask = rng.choice(len(x_train), 50)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grads = book.gradient(x_batch, t_batch)
        our_grads = ours.gradient(x_batch, t_batch)
        assert sorted(our_grads) == sorted(grads)
        for key in grads:
            np.testing.assert_allclose(our_grads[key], grads[key], rtol=1e-12, atol=1e-15)
        book_optimizer.update(book.params, grads)
        our_optimizer.update(ours.params, our_grads)

    assert book.loss(x_eval, t_eval) < 0.8 * loss_before
    np.testing.assert_allclose(
        ours.loss(x_eval, t_eval, train_flg=False), book.loss(x_eval, t_eval)
    )
    assert ours.accuracy(x_eval, t_eval) == book.accuracy(x_eval, t_eval)
    for name, layer in book.layers.items():  # the running statistics moved alike
        if "BatchNorm" in name:
            i = name[len("BatchNorm") :]
            np.testing.assert_allclose(ours.buffers["running_mean" + i], layer.running_mean)
            np.testing.assert_allclose(ours.buffers["running_var" + i], layer.running_var)


def test_book_multi_layer_net_extend_gradient_check(sample):
    """gradient_check of chapter 6, on the book-style net with BatchNorm and weight decay."""
    (x_train, t_train), _ = sample
    network = seeded(
        textbook.MultiLayerNetExtend, 784, [6, 5], 10, weight_decay_lambda=0.1, use_batchnorm=True
    )
    x_batch, t_batch = x_train[:4], t_train[:4]
    grad_backprop = network.gradient(x_batch, t_batch)
    # W2 reaches the loss through BatchNorm2's dx; b1's gradient is 0 (BatchNorm1 subtracts
    # the mean of Affine1's output, which b1 only shifts). W1 would cost 4704 loss evaluations.
    for key in ("W2", "b1", "gamma1", "beta2", "W3", "b3"):
        # train_flg=True, as the book's numerical_gradient: with BatchNorm, inference mode
        # would be another function than the one gradient() differentiates.
        grad_numerical = numerical_gradient(
            lambda _: network.loss(x_batch, t_batch, train_flg=True), network.params[key]
        )
        np.testing.assert_allclose(grad_backprop[key], grad_numerical, rtol=1e-5, atol=1e-7)


def test_ch06_batch_norm_test(sample):
    """batch_norm_test.py (figure 6-19): with BatchNorm a deep net learns from weight scales at
    which the same net without it stays at chance."""
    (x_train, t_train), _ = sample
    x_train, t_train = x_train[:500], t_train[:500]
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.01
    iter_per_epoch, max_epochs = train_size // batch_size, 20

    def __train(weight_init_std):
        bn_network = MultiLayerNetExtend(
            784, [100] * 5, 10, weight_init_std=weight_init_std, use_batchnorm=True, seed=0
        )
        network = MultiLayerNetExtend(784, [100] * 5, 10, weight_init_std=weight_init_std, seed=0)
        optimizer = SGD(lr=learning_rate)
        rng = np.random.default_rng(0)
        train_acc_list, bn_train_acc_list = [], []
        for i in range(max_epochs * iter_per_epoch):
            batch_mask = rng.choice(train_size, batch_size)
            x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
            for _network in (bn_network, network):
                grads = _network.gradient(x_batch, t_batch)
                optimizer.update(_network.params, grads)
            if (i + 1) % iter_per_epoch == 0:
                train_acc_list.append(network.accuracy(x_train, t_train))
                bn_train_acc_list.append(bn_network.accuracy(x_train, t_train))
        return train_acc_list, bn_train_acc_list

    for weight_init_std in (1.0, 0.01):  # too large and too small for the plain net
        train_acc_list, bn_train_acc_list = __train(weight_init_std)
        assert len(train_acc_list) == len(bn_train_acc_list) == max_epochs
        assert max(train_acc_list) < 0.2, weight_init_std  # chance is 0.1
        assert bn_train_acc_list[-1] > 0.3, weight_init_std
        assert np.mean(bn_train_acc_list) > np.mean(train_acc_list) + 0.1


def test_ch06_overfit_dropout(sample):
    """overfit_dropout.py: the Trainer on 300 images with Dropout(0.2) after every ReLU.

    Dropout makes the training set harder to fit: the training loss stays higher than the same
    net's without it. (The book's point, a smaller train-test gap, needs its 301 epochs.)
    """
    (x_train, t_train), (x_test, t_test) = sample
    x_train, t_train = x_train[:300], t_train[:300]
    results = {}
    for use_dropout in (False, True):
        network = MultiLayerNetExtend(
            input_size=784,
            hidden_size_list=[100, 100, 100, 100, 100, 100],
            output_size=10,
            use_dropout=use_dropout,
            dropout_ration=0.2,
            seed=0,
        )
        trainer = Trainer(
            network,
            x_train,
            t_train,
            x_test,
            t_test,
            epochs=20,
            mini_batch_size=100,
            optimizer="sgd",
            optimizer_param={"lr": 0.1},  # the book's 0.01 needs its 301 epochs
            verbose=False,
            seed=0,
        )
        trainer.train()
        assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 20
        assert len(trainer.train_loss_list) == 20 * 3
        assert np.all(np.isfinite(trainer.train_loss_list))
        assert trainer.train_acc_list[-1] > 0.4 and trainer.test_acc_list[-1] > 0.3
        results[use_dropout] = np.mean(trainer.train_loss_list[-6:])
    assert results[True] > results[False]


def test_ch06_overfit_weight_decay(sample):
    """overfit_weight_decay.py: a 7-layer net on 300 images; weight decay 0.1 keeps the
    weights smaller than the same training without it."""
    (x_train, t_train), (x_test, t_test) = sample
    x_train, t_train = x_train[:300], t_train[:300]
    train_size, batch_size = x_train.shape[0], 100
    iter_per_epoch, max_epochs = train_size // batch_size, 30
    squared_norms = {}
    for weight_decay_lambda in (0, 0.1):
        network = MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=weight_decay_lambda, seed=0)
        optimizer = SGD(lr=0.01)
        rng = np.random.default_rng(0)
        train_acc_list, test_acc_list = [], []
        for i in range(max_epochs * iter_per_epoch):
            batch_mask = rng.choice(train_size, batch_size)
            grads = network.gradient(x_train[batch_mask], t_train[batch_mask])
            optimizer.update(network.params, grads)
            if (i + 1) % iter_per_epoch == 0:
                train_acc_list.append(network.accuracy(x_train, t_train))
                test_acc_list.append(network.accuracy(x_test, t_test))
        assert len(train_acc_list) == len(test_acc_list) == max_epochs
        assert train_acc_list[-1] > train_acc_list[0]
        assert np.isfinite(network.loss(x_train, t_train))
        squared_norms[weight_decay_lambda] = sum(
            np.sum(network.params[f"W{idx}"] ** 2) for idx in range(1, 8)
        )
    assert squared_norms[0.1] < 0.9 * squared_norms[0]


def _train_losses(network, optimizer, x_train, t_train, max_iterations, batch_size=128):
    """The loop of weight_init_compare.py and optimizer_compare_mnist.py: the loss of each step."""
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(max_iterations):
        batch_mask = rng.choice(x_train.shape[0], batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grads = network.gradient(x_batch, t_batch)
        optimizer.update(network.params, grads)
        losses.append(float(network.loss(x_batch, t_batch)))
    return losses


def test_ch06_weight_init_compare(sample):
    """weight_init_compare.py (figure 6-15): std 0.01 does not learn; He learns fastest."""
    (x_train, t_train), _ = sample
    weight_init_types = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}
    smoothed = {}
    for key, weight_type in weight_init_types.items():
        network = MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=weight_type, seed=0)
        losses = _train_losses(network, SGD(lr=0.01), x_train, t_train, 100)
        assert np.all(np.isfinite(losses))
        smoothed[key] = smooth_curve(losses)
        assert smoothed[key].shape == (100,)
    assert abs(smoothed["std=0.01"][-1] - np.log(10)) < 0.02  # still guessing uniformly
    assert smoothed["He"][-1] < smoothed["Xavier"][-1] < smoothed["std=0.01"][-1] - 0.1


def test_ch06_optimizer_compare_mnist(sample):
    """optimizer_compare_mnist.py (figure 6-9): every optimizer lowers the loss; SGD least."""
    (x_train, t_train), _ = sample
    optimizers = {"SGD": SGD(), "Momentum": Momentum(), "AdaGrad": AdaGrad(), "Adam": Adam()}
    final = {}
    for key, optimizer in optimizers.items():
        network = MultiLayerNet(784, [100, 100, 100, 100], 10, seed=0)  # the same start
        curve = smooth_curve(_train_losses(network, optimizer, x_train, t_train, 100))
        assert np.all(np.isfinite(curve)) and curve.shape == (100,)
        assert curve[-1] < 0.6 * curve[0], key
        final[key] = curve[-1]
    assert max(final, key=final.get) == "SGD"


def test_ch06_hyperparameter_optimization(sample):
    """hyperparameter_optimization.py: shuffle, hold out 20 % for validation, then a random
    search of the learning rate and weight decay, each trial trained by the Trainer."""
    (x_train, t_train), _ = sample
    x_train, t_train = x_train[:500], t_train[:500]
    x_shuffled, t_shuffled = shuffle_dataset(x_train, t_train, seed=0)
    validation_num = int(x_train.shape[0] * 0.20)
    x_val, t_val = x_shuffled[:validation_num], t_shuffled[:validation_num]
    x_train_part, t_train_part = x_shuffled[validation_num:], t_shuffled[validation_num:]
    assert len(x_val) == 100 and len(x_train_part) == 400
    # Together the two parts are the original samples, each once.
    rows = sorted(map(bytes, np.concatenate([x_val, x_train_part])))
    assert rows == sorted(map(bytes, x_train))

    def __train(lr, weight_decay, epochs=3):
        network = MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=weight_decay, seed=0)
        trainer = Trainer(
            network,
            x_train_part,
            t_train_part,
            x_val,
            t_val,
            epochs=epochs,
            mini_batch_size=100,
            optimizer="sgd",
            optimizer_param={"lr": lr},
            verbose=False,
            seed=0,
        )
        trainer.train()
        return trainer.test_acc_list, trainer.train_acc_list

    rng = np.random.default_rng(0)
    results_val, results_train = {}, {}
    for _ in range(3):
        weight_decay = 10 ** rng.uniform(-8, -4)
        lr = 10 ** rng.uniform(-6, -2)
        val_acc_list, train_acc_list = __train(lr, weight_decay)
        key = f"lr:{lr}, weight decay:{weight_decay}"
        results_val[key], results_train[key] = val_acc_list, train_acc_list
        assert 1e-6 <= lr <= 1e-2 and 1e-8 <= weight_decay <= 1e-4
        assert len(val_acc_list) == len(train_acc_list) == 3
        assert all(0.0 <= acc <= 1.0 for acc in val_acc_list + train_acc_list)

    ranked = sorted(results_val.items(), key=lambda item: item[1][-1], reverse=True)
    assert len(ranked) == 3
    assert [v[-1] for _, v in ranked] == sorted((v[-1] for v in results_val.values()), reverse=True)
