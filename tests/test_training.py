"""The Trainer: shuffled epochs, seeded reproducibility, learning, divergence, checkpoints."""

import io
import math
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from layerwise import MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from layerwise.datasets import load_sample
from layerwise.training import (
    DivergedError,
    NonFiniteLossError,
    Trainer,
    as_batch,
    read_checkpoint_meta,
)


@pytest.fixture(scope="module")
def sample():
    return load_sample(normalize=False)


NETWORKS = {
    "two-layer": lambda seed: TwoLayerNet(784, 30, 10, dtype=np.float32, seed=seed),
    # Dropout's generators and BatchNorm's running statistics must survive a checkpoint too.
    "extend": lambda seed: MultiLayerNetExtend(
        784,
        [30, 20],
        10,
        use_batchnorm=True,
        use_dropout=True,
        dropout_ration=0.2,
        dtype=np.float32,
        seed=seed,
    ),
    # Images as (N, 1, 28, 28) views of the uint8 rows.
    "convnet": lambda seed: SimpleConvNet(
        conv_param={"filter_num": 6, "filter_size": 5, "pad": 0, "stride": 1},
        hidden_size=20,
        dtype=np.float32,
        seed=seed,
    ),
}


def _trainer(sample, seed=0, epochs=2, network="two-layer", **kwargs):
    (x_train, t_train), (x_test, t_test) = sample
    net = NETWORKS[network](seed)
    if network == "convnet":
        x_train, x_test = x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)
    kwargs.setdefault("optimizer_param", {"lr": 0.1})
    return Trainer(
        net,
        x_train[:1000],
        t_train[:1000],
        x_test,
        t_test,
        epochs=epochs,
        verbose=False,
        seed=seed,
        **kwargs,
    )


def test_training_on_the_sample_learns_well_above_chance(sample):
    trainer = _trainer(sample, epochs=8, optimizer_param={"lr": 0.3}).train()
    assert trainer.test_acc_list[-1] > 0.65  # chance is 0.1
    assert trainer.train_loss_list[-1] < trainer.train_loss_list[0] / 2
    assert len(trainer.train_loss_list) == 8 * 10 and len(trainer.test_acc_list) == 8


def test_seeded_runs_are_identical_bit_for_bit(sample):
    a = _trainer(sample, seed=4).train()
    b = _trainer(sample, seed=4).train()
    c = _trainer(sample, seed=5).train()
    assert a.train_loss_list == b.train_loss_list
    assert a.test_acc_list == b.test_acc_list
    for key in a.network.params:
        np.testing.assert_array_equal(a.network.params[key], b.network.params[key])
    assert a.train_loss_list != c.train_loss_list


class RecordingNet(TwoLayerNet):
    """Records which rows each training step saw (row i of x holds the value i / 255)."""

    def __init__(self):
        super().__init__(1, 4, 3, seed=0)
        self.seen = []

    def loss_and_gradient(self, x, t):
        self.seen.append(np.rint(x[:, 0] * 255).astype(int))
        return super().loss_and_gradient(x, t)


def test_each_epoch_is_a_shuffled_pass_without_replacement():
    x = np.arange(250, dtype=np.uint8).reshape(-1, 1)
    t = np.arange(250) % 3
    net = RecordingNet()
    trainer = Trainer(net, x, t, x, t, epochs=3, mini_batch_size=100, verbose=False, seed=1)
    trainer.train()
    # 250 samples in batches of 100: 3 iterations per epoch, the last one of 50.
    assert [len(b) for b in net.seen] == [100, 100, 50] * 3
    epochs = [np.concatenate(net.seen[i : i + 3]) for i in (0, 3, 6)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(250))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    assert len(trainer.test_acc_list) == 3


def test_uint8_batches_are_scaled_like_normalize():
    x = np.array([[0, 255, 51]], dtype=np.uint8)
    batch = as_batch(x, np.dtype(np.float32))
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch, [[0.0, 1.0, 0.2]], rtol=1e-7)
    floats = np.ones((2, 2), dtype=np.float32)
    assert as_batch(floats, np.dtype(np.float32)) is floats


def test_non_finite_loss_stops_cleanly(sample):
    trainer = _trainer(sample, optimizer_param={"lr": 1e30})
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    with pytest.raises(NonFiniteLossError, match=r"iteration \d+.*smaller learning rate"):
        trainer.train()
    # The step that produced the bad loss did not update: parameters stay finite.
    for key, value in trainer.network.params.items():
        assert np.all(np.isfinite(value)), key
    assert trainer.iteration >= 1
    assert any(not np.array_equal(before[k], v) for k, v in trainer.network.params.items())


def test_optimizer_by_name_or_instance_and_bad_arguments(sample):
    from layerwise.optimizers import Adam

    assert type(_trainer(sample, optimizer="adam", optimizer_param={}).optimizer) is Adam
    opt = Adam(lr=0.01)
    assert _trainer(sample, optimizer=opt, optimizer_param=None).optimizer is opt
    with pytest.raises(ValueError, match="unknown optimizer"):
        _trainer(sample, optimizer="lbfgs")
    (x, t), _ = sample
    with pytest.raises(ValueError, match="same length"):
        Trainer(TwoLayerNet(784, 5, 10), x[:10], t[:9], x[:10], t[:10])
    with pytest.raises(ValueError, match="checkpoint_path"):
        _trainer(sample, checkpoint_every=5)


@pytest.mark.parametrize(
    "optimizer, network",
    [
        ("sgd", "two-layer"),
        ("momentum", "two-layer"),
        ("adam", "two-layer"),
        ("adam", "extend"),
        ("adam", "convnet"),
    ],
)
def test_checkpoint_resume_is_bit_identical(sample, tmp_path, optimizer, network):
    params = {"lr": 0.01} if optimizer == "adam" else {"lr": 0.1}
    kwargs = {"optimizer": optimizer, "optimizer_param": params, "network": network}
    reference = _trainer(sample, epochs=3, **kwargs).train()

    path = tmp_path / "ckpt.npz"
    first = _trainer(sample, epochs=3, checkpoint_every=13, checkpoint_path=path, **kwargs)
    # Stop after 13 iterations by cutting the run short: train 1 epoch's worth, then checkpoint.
    first.epochs = 1
    first.max_iter = first.iter_per_epoch
    first.train()
    first.epochs = 3
    first.save_checkpoint(path)

    resumed = _trainer(sample, seed=0, epochs=3, **kwargs)
    resumed.load_checkpoint(path)
    assert resumed.iteration == 10 and resumed.epoch == 1
    resumed.train()
    assert resumed.train_loss_list == reference.train_loss_list
    assert resumed.test_acc_list == reference.test_acc_list
    expected = reference.network.state_dict()  # parameters and BatchNorm's running statistics
    for key, value in resumed.network.state_dict().items():
        np.testing.assert_array_equal(value, expected[key])
    assert resumed.network.get_rng_state() == reference.network.get_rng_state()


@pytest.mark.parametrize("network", ["two-layer", "extend", "convnet"])
def test_checkpoint_mid_epoch_resume_is_bit_identical(sample, tmp_path, network):
    reference = _trainer(sample, epochs=2, network=network).train()
    path = tmp_path / "ckpt.npz"
    interrupted = _trainer(
        sample, epochs=2, checkpoint_every=7, checkpoint_path=path, network=network
    )

    class Stop(Exception):
        pass

    original = interrupted.train_step

    def step(x, t):
        if interrupted.iteration == 14:  # mid second epoch; the checkpoint at 14 was written
            raise Stop
        return original(x, t)

    interrupted.train_step = step
    with pytest.raises(Stop):
        interrupted.train()
    resumed = _trainer(sample, epochs=2, network=network).load_checkpoint(path)
    assert resumed.iteration == 14
    resumed.train()
    assert resumed.train_loss_list == reference.train_loss_list
    expected = reference.network.state_dict()
    for key, value in resumed.network.state_dict().items():
        np.testing.assert_array_equal(value, expected[key])


def test_trainer_trains_in_training_mode_and_evaluates_in_inference_mode(sample):
    trainer = _trainer(sample, epochs=1, network="extend")
    modes = []
    step = trainer.train_step

    def recording_step(x, t):
        modes.append(trainer.network.training)
        return step(x, t)

    trainer.train_step = recording_step
    trainer.network.eval()  # train() puts it back in training mode
    trainer.train()
    assert set(modes) == {True}
    (_, _), (x_test, t_test) = sample
    # The epoch's test accuracy is the inference-mode one (Dropout off, running statistics).
    assert trainer.test_acc_list[-1] == trainer.accuracy(x_test, t_test)
    assert trainer.test_acc_list[-1] == trainer.network.accuracy(
        as_batch(x_test, np.dtype(np.float32)), t_test
    )


def test_checkpoint_of_another_network_is_refused(sample, tmp_path):
    path = tmp_path / "ckpt.npz"
    _trainer(sample, epochs=1, checkpoint_every=5, checkpoint_path=path).train()
    (x_train, t_train), (x_test, t_test) = sample
    other = Trainer(MultiLayerNet(784, [20], 10), x_train[:1000], t_train[:1000], x_test, t_test)
    with pytest.raises(ValueError, match="another network"):
        other.load_checkpoint(path)


def test_get_batch_takes_the_rows_and_scales_them(sample):
    trainer = _trainer(sample)
    idx = np.array([5, 0, 999, 5])
    x, t = trainer.get_batch(idx)
    assert x.dtype == np.float32 and x.shape == (4, 784)
    np.testing.assert_array_equal(x, as_batch(trainer.x_train[idx], np.dtype(np.float32)))
    np.testing.assert_array_equal(t, trainer.t_train[idx])
    x[:] = 0  # a fresh array: the training set is untouched
    assert trainer.x_train[idx].any()


def test_predicted_labels_in_chunks_equal_one_prediction(sample):
    from layerwise.training import predicted_labels

    (x_train, _), _ = sample
    net = TwoLayerNet(784, 30, 10, dtype=np.float32, seed=0)
    x = x_train[:2345]
    floats = as_batch(x, np.dtype(np.float32))
    expected = np.argmax(net.predict(floats), axis=1)
    np.testing.assert_array_equal(predicted_labels(net, x, batch_size=1000), expected)
    np.testing.assert_array_equal(predicted_labels(net, floats, batch_size=7), expected)
    assert predicted_labels(net, x[:0]).shape == (0,)


def test_trainer_accuracy_counts_correct_rows(sample):
    trainer = _trainer(sample)
    x, t = trainer.x_test[:300], trainer.t_test[:300]
    pred = np.argmax(trainer.network.predict(as_batch(x, np.dtype(np.float32))), axis=1)
    assert trainer.accuracy(x, t, batch_size=128) == np.mean(pred == t)
    onehot = np.eye(10)[t]
    assert trainer.accuracy(x, onehot) == trainer.accuracy(x, t)


def _rewrite_with_entry(src, dst, name, descr, shape):
    """``src``'s checkpoint with entry ``name`` replaced by honest, deflated zeros of ``shape``
    (the other entries stored, as layerwise writes them)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            if info.filename != name + ".npy":
                new.writestr(info.filename, old.read(info))
        bomb = zipfile.ZipInfo(name + ".npy")
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with new.open(bomb, "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": descr, "fortran_order": False, "shape": shape}
            )
            remaining = math.prod(shape) * np.dtype(descr).itemsize
            while remaining:
                member.write(bytes(min(remaining, 1 << 20)))
                remaining -= min(remaining, 1 << 20)
    return dst


@pytest.mark.parametrize(
    "name, shape",
    [
        ("history/train_loss", (25_000_000,)),
        ("trainer/perm", (25_000_000,)),
        ("network/W1", (5000, 5000)),
    ],
)
def test_checkpoint_entries_larger_than_this_trainer_needs_are_refused_unread(
    sample, tmp_path, name, shape
):
    path = tmp_path / "ckpt.npz"
    _trainer(sample, epochs=1, checkpoint_every=5, checkpoint_path=path).train()
    bomb = _rewrite_with_entry(path, tmp_path / "bomb.npz", name, "<f8", shape)
    assert bomb.stat().st_size < 3_000_000
    trainer = _trainer(sample, epochs=1)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"entry '{name}' of shape .* does not belong"):
            trainer.load_checkpoint(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    # The description alone is still readable, without reading the big entry either.
    assert read_checkpoint_meta(bomb)["iteration"] == 10


def test_checkpoint_description_must_be_a_small_text_entry(sample, tmp_path):
    path = tmp_path / "ckpt.npz"
    _trainer(sample, epochs=1, checkpoint_every=5, checkpoint_path=path).train()
    bad = _rewrite_with_entry(path, tmp_path / "bad.npz", "__checkpoint__", "<f8", (10,))
    with pytest.raises(ValueError, match="not a layerwise checkpoint"):
        read_checkpoint_meta(bad)
    with pytest.raises(ValueError, match="not a layerwise checkpoint"):
        _trainer(sample, epochs=1).load_checkpoint(bad)


def test_lists_of_rows_are_accepted_like_arrays():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 4), dtype=np.uint8)
    t = rng.integers(0, 3, 30)
    as_lists = Trainer(
        TwoLayerNet(4, 5, 3, seed=0), x.tolist(), t.tolist(), x.tolist(), t.tolist(),
        epochs=2, mini_batch_size=8, verbose=False, seed=0,
    ).train()  # fmt: skip
    as_arrays = Trainer(
        TwoLayerNet(4, 5, 3, seed=0), x.astype(np.float64), t, x.astype(np.float64), t,
        epochs=2, mini_batch_size=8, verbose=False, seed=0,
    ).train()  # fmt: skip
    assert as_lists.train_loss_list == as_arrays.train_loss_list


def test_progress_bar_counts_each_epochs_iterations(sample, monkeypatch):
    # An epoch of a conv net takes minutes: on a terminal the bar restarts every epoch and says
    # which one it is.
    pytest.importorskip("tqdm")  # without it there is no bar at all

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    trainer = _trainer(sample, epochs=2)
    trainer.verbose = True
    trainer.train()
    text = terminal.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert f"{trainer.iter_per_epoch}/{trainer.iter_per_epoch}" in text
    assert f"{2 * trainer.iter_per_epoch}/" not in text  # never a bar over the whole run


def test_regression_network_accuracy_equals_trainers_on_uint8_images(sample):
    """Issue 11, item 6: after training on ``load_sample(normalize=False)``, the network's own
    ``accuracy`` and ``predicted_labels`` agree with what the Trainer reported (before, the
    network read the uint8 images unscaled: 0.623 against the Trainer's 0.661)."""
    from layerwise.training import predicted_labels

    trainer = _trainer(sample, epochs=1)
    trainer.train()
    (x_train, t_train), (x_test, t_test) = sample
    assert x_test.dtype == np.uint8
    assert trainer.network.accuracy(x_test, t_test) == trainer.test_acc_list[-1]
    assert trainer.network.accuracy(x_train[:1000], t_train[:1000]) == trainer.train_acc_list[-1]
    accuracy = np.mean(predicted_labels(trainer.network, x_test) == t_test)
    assert accuracy == trainer.test_acc_list[-1]


def test_as_batch_is_still_importable_from_training():
    import layerwise.network
    import layerwise.training

    assert layerwise.training.as_batch is layerwise.network.as_batch


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_extending_a_finished_run_equals_a_longer_run(sample, tmp_path, optimizer):
    """Issue 11, item 4: ``load_checkpoint(path, epochs=3)`` continues a finished 2-epoch run to
    3 epochs, bit for bit the run that was started with 3 (constant learning rate, one shuffling
    generator, the optimizer's state in the checkpoint)."""
    kwargs = {"optimizer": optimizer, "optimizer_param": {"lr": 0.01}}
    reference = _trainer(sample, epochs=3, **kwargs).train()
    path = tmp_path / "ckpt.npz"
    _trainer(sample, epochs=2, checkpoint_every=1000, checkpoint_path=path, **kwargs).train()
    extended = _trainer(sample, epochs=2, **kwargs).load_checkpoint(path, epochs=3)
    assert (extended.epoch, extended.epochs) == (2, 3)
    assert extended.max_iter == 3 * extended.iter_per_epoch
    extended.train()
    assert extended.train_loss_list == reference.train_loss_list
    assert extended.test_acc_list == reference.test_acc_list
    for key, value in extended.network.state_dict().items():
        np.testing.assert_array_equal(value, reference.network.state_dict()[key])


def test_a_run_cannot_be_cut_below_the_epoch_it_is_in(sample, tmp_path):
    path = tmp_path / "ckpt.npz"
    _trainer(sample, epochs=2, checkpoint_every=1000, checkpoint_path=path).train()
    trainer = _trainer(sample, epochs=2)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    with pytest.raises(ValueError, match="epochs must be a whole number >= 2, got 1"):
        trainer.load_checkpoint(path, epochs=1)
    assert trainer.iteration == 0  # nothing was restored
    for key, value in trainer.network.params.items():
        np.testing.assert_array_equal(value, before[key])


# ---------------------------------------------------------------- issue 21: divergence


def test_regression_a_run_whose_loss_explodes_diverges_at_the_epochs_end(sample):
    """Issue 21, item 1: lr 1e6 reached losses of 1e25, finite, and ended "finished"."""
    trainer = _trainer(sample, epochs=3, optimizer_param={"lr": 1e6})
    with pytest.raises(DivergedError, match="end of epoch 1 the mean training loss") as caught:
        trainer.train()
    assert not isinstance(caught.value, NonFiniteLossError)
    assert trainer.epoch == 1 and len(trainer.test_acc_list) == 1  # what was done is kept
    mean = np.mean(trainer.train_loss_list)
    assert np.isfinite(mean) and mean > 10 * trainer.train_loss_list[0] > 10 * np.log(10) / 2


def test_divergence_rule_loss_and_accuracy_at_chance(sample):
    """The rule of Trainer.check_divergence, on hand-made histories of 10 classes."""
    trainer = _trainer(sample, epochs=3)
    trainer.iter_per_epoch = 2

    def verdict(losses, accuracies):
        trainer.train_loss_list, trainer.test_acc_list = list(losses), list(accuracies)
        trainer.epoch = len(accuracies)
        try:
            trainer.check_divergence()
        except DivergedError as err:
            return str(err)
        return None

    ln10 = np.log(10)
    assert verdict([2.3, 2.0], [0.5]) is None  # learning
    assert verdict([2.3, 2.0, 26.0, 24.0], [0.5, 0.4]) is not None  # 25 > 10 x 2.3, > 3 ln 10
    assert verdict([2.3, 2.0, 20.0, 21.0], [0.5, 0.4]) is None  # 20.5 < 23: a bad epoch only
    # A start far below ln(C) (a run started from a trained model): 10x the start is not enough.
    assert verdict([0.1, 0.1, 2.0, 2.0], [0.9, 0.9]) is None and 2.0 < 3 * ln10
    # Accuracy back at chance (<= 1.5 / 10) after reaching >= 3 / 10.
    assert "fell to 0.1000" in verdict([2.3, 2.0, 2.0, 2.1], [0.31, 0.10])
    assert verdict([2.3, 2.0, 2.0, 2.1], [0.29, 0.10]) is None  # it had not learned
    assert verdict([2.3, 2.0, 2.0, 2.1], [0.31, 0.16]) is None  # worse, not chance


def test_regression_a_checkpoint_is_written_at_every_epochs_end(sample, tmp_path):
    """Issue 21, item 2: with checkpoint_path and no checkpoint_every, nothing was written
    until an interrupt, so a SIGKILL lost every finished epoch."""
    path = tmp_path / "ckpt.npz"
    seen = []

    def at_epoch_end(trainer):
        seen.append((trainer.epoch, read_checkpoint_meta(path)["iteration"]))

    trainer = _trainer(sample, epochs=3, checkpoint_path=path, on_epoch_end=at_epoch_end)
    trainer.train()
    ipe = trainer.iter_per_epoch
    assert seen == [(1, ipe), (2, 2 * ipe), (3, 3 * ipe)]
    # Resumed from the second epoch's checkpoint, the third epoch is the same.
    second = _trainer(sample, epochs=2, checkpoint_path=tmp_path / "b.npz")
    second.train()
    resumed = _trainer(sample, epochs=3).load_checkpoint(tmp_path / "b.npz", epochs=3).train()
    assert resumed.train_loss_list == trainer.train_loss_list


def test_a_diverged_epoch_is_not_checkpointed(sample, tmp_path):
    path = tmp_path / "ckpt.npz"
    trainer = _trainer(sample, epochs=3, checkpoint_path=path, optimizer_param={"lr": 0.1})
    trainer.train()
    before = read_checkpoint_meta(path)["iteration"]
    trainer.load_checkpoint(path, epochs=4)
    trainer.optimizer.lr = 1e6
    with pytest.raises(DivergedError):
        trainer.train()
    assert read_checkpoint_meta(path)["iteration"] == before  # the last sound epoch's


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_regression_evaluate_sample_num_per_epoch_is_checked_before_training(n):
    """-1 evaluated on x[:-1] (all but the last sample) without a word; 0 trained an epoch,
    then failed in the network's accuracy; 2.5 ended in a bare 'slice indices must be
    integers'. Each is now refused by the constructor, naming the argument."""
    x, t = np.zeros((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="Trainer: evaluate_sample_num_per_epoch must be"):
        Trainer(TwoLayerNet(4, 3, 3, seed=0), x, t, x, t, evaluate_sample_num_per_epoch=n)


def test_regression_trainer_refuses_a_flag_or_optimizer_param_it_would_misread():
    """verbose="no" printed (a non-empty string is true); optimizer_param given with a built
    optimizer was dropped without a word (its lr was not the one asked for)."""
    from layerwise.optimizers import Adam

    x, t = np.zeros((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    net = TwoLayerNet(4, 3, 3, seed=0)
    with pytest.raises(ValueError, match="Trainer: verbose must be True or False, got 'no'"):
        Trainer(net, x, t, x, t, verbose="no")
    with pytest.raises(ValueError, match="Trainer: optimizer_param is for an optimizer given"):
        Trainer(net, x, t, x, t, optimizer=Adam(), optimizer_param={"lr": 5.0})


@pytest.mark.parametrize("seed", [-1, "a", 1.5])
def test_regression_a_seed_numpy_refuses_is_refused_naming_the_owner(seed):
    """NumPy's own words came out: 'expected non-negative integer', 'SeedSequence expects int
    or sequence of ints for entropy not a'."""
    x, t = np.zeros((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="TwoLayerNet: seed must be None, a non-negative"):
        TwoLayerNet(4, 3, 3, seed=seed)
    with pytest.raises(ValueError, match="Trainer: seed must be None, a non-negative"):
        Trainer(TwoLayerNet(4, 3, 3, seed=0), x, t, x, t, seed=seed)
