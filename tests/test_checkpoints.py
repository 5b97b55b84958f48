"""layerwise.checkpoints: the `Checkpoint` type owns the file's schema (issue 26 item 4).

Resuming through the Trainer is tested in test_training.py, through the command line (and from a
checkpoint written before this type existed, tests/data/old_checkpoint) in test_cli.py.
"""

import json

import numpy as np
import pytest

from layerwise import MultiLayerNetExtend, Trainer, TwoLayerNet
from layerwise.checkpoints import Checkpoint, read_checkpoint_meta
from layerwise.container import ModelFileError, read_npz
from layerwise.optimizers import SGD, Adam


def _trainer(path, optimizer="Adam", epochs=2):
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(30, 6)), rng.integers(0, 3, 30)
    net = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, use_dropout=True, seed=1)
    return Trainer(
        net,
        x,
        t,
        x[:10],
        t[:10],
        epochs=epochs,
        mini_batch_size=7,
        optimizer=optimizer,
        optimizer_param={"lr": 0.01},
        verbose=False,
        seed=4,
        checkpoint_path=path,
        extra={"note": "kept"},
    )


def test_a_trainers_checkpoint_reads_back_field_for_field(tmp_path):
    path = tmp_path / "c.npz"
    trainer = _trainer(path).train()
    checkpoint = Checkpoint.read(path)
    assert (checkpoint.epochs, checkpoint.mini_batch_size, checkpoint.train_size) == (2, 7, 30)
    assert (checkpoint.epoch, checkpoint.iteration, checkpoint.iter_per_epoch) == (2, 10, 5)
    assert checkpoint.seed == 4 and checkpoint.optimizer == "Adam"
    assert checkpoint.network == trainer.network.get_config()
    assert checkpoint.extra == {"note": "kept"} and checkpoint.epochs_begun == 2
    assert checkpoint.network_state == {}  # read() reads the description alone
    loaded = Checkpoint.load(path, trainer.network, trainer.optimizer, 30)
    assert loaded.history["train_loss"] == trainer.train_loss_list
    assert loaded.history["test_acc"] == trainer.test_acc_list
    for key, value in trainer.network.state_dict().items():
        np.testing.assert_array_equal(loaded.network_state[key], value)
    for key, value in trainer.optimizer.state_dict().items():
        np.testing.assert_array_equal(loaded.optimizer_state[key], value)
    assert loaded.rng == trainer.rng.bit_generator.state
    assert loaded.network_rng == trainer.network.get_rng_state() and loaded.perm is None


def test_write_then_load_is_the_same_checkpoint(tmp_path):
    net, sgd = TwoLayerNet(4, 5, 3, seed=0), SGD(lr=0.1)
    history = {"train_loss": [2.0, 1.5], "train_acc": [0.5], "test_acc": [0.25]}
    perm = np.random.default_rng(0).permutation(9)
    checkpoint = Checkpoint.of(
        net,
        sgd,
        epochs=3,
        mini_batch_size=4,
        train_size=9,
        epoch=1,
        iteration=4,
        history=history,
        perm=perm,
        extra={"a": [1, 2]},
    )
    loaded = Checkpoint.load(checkpoint.write(tmp_path / "c.npz"), net, sgd, 9)
    assert loaded.writer is not None
    assert loaded.description() == checkpoint.description() and loaded.history == history
    np.testing.assert_array_equal(loaded.perm, perm)
    assert read_checkpoint_meta(tmp_path / "c.npz") == checkpoint.description()


def _rewritten(path, tmp_path, change):
    arrays = read_npz(path)
    description = json.loads(arrays["__checkpoint__"].item())
    change(description)
    out = tmp_path / "changed.npz"
    np.savez(out, **{**arrays, "__checkpoint__": np.array(json.dumps(description))})
    return out


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("trainer"), "'trainer' must be an object, got missing"),
        (lambda d: d.update(trainer=5), "'trainer' must be an object, got 5"),
        (lambda d: d["trainer"].update(train_size="30"), "'train_size' must be an integer"),
        (lambda d: d["trainer"].update(mini_batch_size=0), "'mini_batch_size' must be >= 1"),
        (lambda d: d.update(iteration=-3), "'iteration' must be >= 0, got -3"),
        (lambda d: d.update(epoch=True), "'epoch' must be an integer, got True"),
        (lambda d: d.update(optimizer=["Adam"]), "'optimizer' must be a string"),
        (lambda d: d.pop("rng"), "'rng' must be an object, got missing"),
        (lambda d: d.update(extra="x"), "'extra' must be an object, got 'x'"),
    ],
)
def test_regression_a_description_of_the_wrong_shape_is_refused_by_name(tmp_path, change, message):
    """Its fields were read where they were used: a checkpoint whose "trainer" was 5 raised
    "TypeError: 'int' object is not subscriptable" from inside Trainer.load_checkpoint."""
    path = tmp_path / "c.npz"
    _trainer(path, epochs=1).train()
    bad = _rewritten(path, tmp_path, change)
    with pytest.raises(ModelFileError, match=f"cannot load checkpoint .*{message}"):
        Checkpoint.read(bad)
    with pytest.raises(ModelFileError, match=message):
        _trainer(None, epochs=1).load_checkpoint(bad)


def test_it_must_fit_before_any_array_is_read(tmp_path):
    path = tmp_path / "c.npz"
    _trainer(path, epochs=1).train()
    checkpoint = Checkpoint.read(path)
    other = MultiLayerNetExtend(6, [4], 3, use_batchnorm=True, use_dropout=True)
    with pytest.raises(ValueError, match="written for another network or training set"):
        checkpoint.check_fits(other, Adam(), 30)
    with pytest.raises(ValueError, match="another network or training set .*30 training"):
        checkpoint.check_fits(_trainer(None).network, Adam(), 31)
    with pytest.raises(
        ValueError, match="the checkpoint's optimizer is Adam, this trainer's is SGD"
    ):
        checkpoint.check_fits(_trainer(None).network, SGD(), 30)
    with pytest.raises(ValueError, match=f"{path}: the checkpoint's optimizer is Adam"):
        _trainer(None, optimizer="SGD").load_checkpoint(path)
