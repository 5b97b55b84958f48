"""Resumable training of the sequel's models (layerwise.sequel.training) and its checkpoints
(layerwise.sequel.checkpoints): resumed mid-epoch bit for bit, hostile checkpoints refused."""

import json

import numpy as np
import pytest

from layerwise.container import ModelFileError, read_npz
from layerwise.errors import NonFiniteLossError
from layerwise.sequel.attention import AttentionSeq2seq
from layerwise.sequel.checkpoints import CHECKPOINT_KEY, SequelCheckpoint, sequel_file_kind
from layerwise.sequel.dataset import sequence
from layerwise.sequel.model_files import save_model
from layerwise.sequel.optimizer import SGD, Adam
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from layerwise.sequel.seq2seq import PeekySeq2seq, Seq2seq
from layerwise.sequel.training import LanguageModelTraining, Seq2seqTraining, Word2vecTraining
from layerwise.sequel.word2vec import CBOW, SkipGram

CORPUS = np.random.default_rng(0).integers(0, 20, 1500)
VAL = np.random.default_rng(1).integers(0, 20, 300)
(X, T), (X_TEST, T_TEST) = sequence.split_text(sequence.make_addition(400, seed=0))

LANGUAGE_MODELS = {
    "SimpleRnnlm": lambda: SimpleRnnlm(20, 6, 7, seed=1),
    "Rnnlm": lambda: Rnnlm(20, 6, 7, seed=1),
    "BetterRnnlm": lambda: BetterRnnlm(20, 7, 7, 0.3, seed=1),
}
SEQ2SEQ = {
    "Seq2seq": lambda: Seq2seq(13, 5, 8, seed=2),
    "PeekySeq2seq": lambda: PeekySeq2seq(13, 5, 8, seed=2),
    "AttentionSeq2seq": lambda: AttentionSeq2seq(13, 5, 8, seed=2),
}

WORD2VEC = {
    "CBOW": lambda: CBOW(20, 6, 2, CORPUS, seed=4),
    "SkipGram": lambda: SkipGram(20, 6, 2, CORPUS, seed=4),
}


def _language(name, path=None, every=None):
    return LanguageModelTraining(
        LANGUAGE_MODELS[name](), SGD(lr=5.0), CORPUS, VAL, epochs=3, batch_size=4, time_size=5,
        max_grad=0.25, checkpoint_path=path, checkpoint_every=every, verbose=False,
    )  # fmt: skip


def _seq2seq(name, path=None, every=None):
    return Seq2seqTraining(
        SEQ2SEQ[name](), Adam(lr=0.01), X, T, X_TEST, T_TEST, epochs=3, batch_size=32, seed=3,
        max_grad=5.0, checkpoint_path=path, checkpoint_every=every, verbose=False,
    )  # fmt: skip


def _word2vec(name, path=None, every=None):
    return Word2vecTraining(
        WORD2VEC[name](), Adam(lr=0.01), CORPUS[:400], epochs=3, batch_size=30, seed=5,
        checkpoint_path=path, checkpoint_every=every, verbose=False,
    )  # fmt: skip


class _Stop(Exception):
    pass


def _stopped_at(trainer, iteration):
    """Train until ``iteration`` is reached, as a process killed there would."""
    step = trainer.train_step

    def stop(x, t):
        if trainer.iteration == iteration:
            raise _Stop
        return step(x, t)

    trainer.train_step = stop
    with pytest.raises(_Stop):
        trainer.train()


@pytest.mark.parametrize(
    "make, name, stop",
    [(_language, n, 100) for n in LANGUAGE_MODELS]
    + [(_seq2seq, n, 16) for n in SEQ2SEQ]
    + [(_word2vec, n, 30) for n in WORD2VEC],
)
def test_a_run_resumed_inside_an_epoch_equals_one_never_stopped(tmp_path, make, name, stop):
    # Checkpoints every 7 iterations: the last before `stop` is inside an epoch (recurrent
    # state, dropout generators and time_idx, or the epoch's order and the generator, and
    # word2vec's negative sampler's generator).
    clean = make(name).train()
    path = tmp_path / "checkpoint.npz"
    _stopped_at(make(name, path, every=7), stop)
    assert SequelCheckpoint.read(path).iteration % clean.iter_per_epoch != 0
    resumed = make(name, path)
    resumed.load_checkpoint(path)
    resumed.train()
    assert resumed.train_loss_list == clean.train_loss_list
    assert resumed.curves == clean.curves
    for p, q in zip(resumed.model.params, clean.model.params, strict=True):
        np.testing.assert_array_equal(p, q)


def test_evaluation_leaves_the_carried_state_as_it_was():
    trainer = _language("Rnnlm")
    trainer.epochs = 1
    trainer.train()
    before = trainer.model.state_dict()
    trainer._evaluate([1.0])
    after = trainer.model.state_dict()
    assert before.keys() == after.keys() and "layers/1/h" in before
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_curves_are_the_perplexity_and_the_accuracy():
    lm = _language("Rnnlm")
    lm.epochs = 1
    lm.train()
    losses = lm.train_loss_list
    assert lm.curves["train_perplexity"] == [pytest.approx(np.exp(np.mean(losses)))]
    s2s = _seq2seq("Seq2seq")
    s2s.epochs = 1
    s2s.train()
    assert s2s.curves["mean_train_loss"] == [pytest.approx(np.mean(s2s.train_loss_list))]
    assert 0.0 <= s2s.curves["test_acc"][0] <= 1.0


def test_a_nan_loss_stops_with_the_parameters_untouched():
    trainer = _language("Rnnlm")
    trainer.model.params[0][...] = np.nan
    before = [p.copy() for p in trainer.model.params]
    with pytest.raises(NonFiniteLossError, match="the loss became nan at iteration 1"):
        trainer.train()
    for p, q in zip(trainer.model.params, before, strict=True):
        np.testing.assert_array_equal(p, q)


def test_a_checkpoint_of_another_run_is_refused_naming_the_difference(tmp_path):
    path = tmp_path / "checkpoint.npz"
    trainer = _language("Rnnlm", path)
    trainer.epochs = 1
    trainer.train()
    other = LanguageModelTraining(
        Rnnlm(20, 6, 9, seed=1), SGD(lr=5.0), CORPUS, VAL, epochs=3, batch_size=4, time_size=6
    )
    with pytest.raises(ValueError, match=r"another run: config .*'hidden_size': 7.*time_size 5"):
        other.load_checkpoint(path)
    with pytest.raises(ValueError, match="fewer"):
        _language("Rnnlm").load_checkpoint(path, epochs=0)
    assert sequel_file_kind(path) == "checkpoint"
    assert sequel_file_kind(save_model(trainer.model, tmp_path / "m.npz")) == "model"
    assert sequel_file_kind(tmp_path / "none") is None


@pytest.fixture
def checkpoint(tmp_path):
    """The arrays of a BetterRnnlm checkpoint written inside an epoch, as a dict to corrupt."""
    path = tmp_path / "good.npz"
    _stopped_at(_language("BetterRnnlm", path, every=7), 10)
    return read_npz(path)


def _write(path, arrays):
    np.savez(path, **arrays)  # allow_pickle: lets us write hostile files
    return path


def _edit(arrays, edit):
    description = json.loads(arrays[CHECKPOINT_KEY].item())
    edit(description)
    return {**arrays, CHECKPOINT_KEY: np.array(json.dumps(description))}


STATE = "state/layers/2/h"  # the first LSTM's h: (batch_size, H) = (4, 7)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update({STATE: np.zeros((5, 7), np.float32)}), "state/layers/2/h"),
        (lambda a: a.update({STATE: np.zeros((10**5, 7), np.float32)}), r"\(100000, 7\)"),
        (lambda a: a.update({"history/train_loss": np.zeros(10_000)}), "history/train_loss"),
        (lambda a: a.update({"trainer/perm": np.arange(5)}), "trainer/perm"),
        (lambda a: a.update({"optimizer/v/0": np.zeros((3, 3))}), "optimizer/v/0"),
        (lambda a: a.update(extra=np.zeros(3)), "'extra'"),
        (lambda a: a.update({"model/params/0": np.zeros((21, 7), np.float32)}), "'model/params/0'"),
        (lambda a: a.update({STATE: np.array([print], dtype=object)}), "pickled"),
        (lambda a: a.update(_edit(a, lambda d: d.update(epoch=-1))), "'epoch' must be a whole"),
        (lambda a: a.update(_edit(a, lambda d: d["settings"].update(kind="gan"))), "'kind'"),
        (lambda a: a.update(_edit(a, lambda d: d.update(optimizer=3))), "'optimizer'"),
        (lambda a: a.update(_edit(a, lambda d: d["model"].update({"class": "exec"}))), "'exec'"),
        (lambda a: a.pop(CHECKPOINT_KEY), f"no '{CHECKPOINT_KEY}' entry"),
    ],
    ids=[
        "state-batch", "state-huge", "history-long", "perm", "optimizer", "extra", "params",
        "object", "epoch", "kind", "optimizer-name", "class", "missing",
    ],
)  # fmt: skip
def test_hostile_checkpoints_are_refused_by_name(tmp_path, checkpoint, change, message):
    change(checkpoint)
    path = _write(tmp_path / "bad.npz", checkpoint)
    with pytest.raises(ModelFileError, match=message) as e:
        SequelCheckpoint.read(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("name", list(LANGUAGE_MODELS) + list(SEQ2SEQ))
def test_the_steps_are_the_sequels_trainers_steps(name):
    # The sequel's RnnlmTrainer and Trainer (layerwise's copies, same batches, same shuffle from
    # the seed) reach the same parameters bit for bit: the epochs' evaluation changes nothing.
    from layerwise.sequel.trainer import RnnlmTrainer, Trainer

    if name in LANGUAGE_MODELS:
        ours = _language(name).train()
        model = LANGUAGE_MODELS[name]()
        RnnlmTrainer(model, SGD(lr=5.0)).fit(
            CORPUS[:-1], CORPUS[1:], max_epoch=3, batch_size=4, time_size=5, max_grad=0.25,
            eval_interval=None,
        )  # fmt: skip
    else:
        ours = _seq2seq(name).train()
        model = SEQ2SEQ[name]()
        Trainer(model, Adam(lr=0.01), seed=3).fit(
            X, T, max_epoch=3, batch_size=32, max_grad=5.0, eval_interval=None
        )
    for p, q in zip(ours.model.params, model.params, strict=True):
        np.testing.assert_array_equal(p, q)


def test_lr_decay_divides_the_rate_after_every_epoch_no_better_than_the_best(tmp_path):
    # The sequel's ch06/train_better_rnnlm.py: `if best_ppl > ppl: best_ppl = ppl else: lr /= 4`.
    def trainer(epochs, path=None):
        return LanguageModelTraining(
            Rnnlm(20, 6, 7, seed=0), SGD(lr=20.0), CORPUS, VAL, epochs=epochs, batch_size=4,
            time_size=5, lr_decay=4.0, checkpoint_path=path, verbose=False,
        )  # fmt: skip

    done = trainer(6).train()
    lr, best, decays = 20.0, float("inf"), 0
    for ppl in done.curves["val_perplexity"]:
        if best > ppl:
            best = ppl
        else:
            lr, decays = lr / 4.0, decays + 1
    assert decays >= 1  # the run exercises the rule
    assert done.optimizer.lr == lr
    # the lowered rate is the optimizer's state: a run resumed from a checkpoint goes on with it
    halfway = trainer(3, tmp_path / "c.npz").train()
    resumed = trainer(6)
    resumed.load_checkpoint(tmp_path / "c.npz", epochs=6)
    assert resumed.optimizer.lr == halfway.optimizer.lr
    resumed.train()
    assert resumed.curves == done.curves and resumed.optimizer.lr == lr
    for p, q in zip(resumed.model.params, done.model.params, strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name", ["rng", "sampler_rng"])
def test_a_word2vec_checkpoint_without_a_generator_is_refused_by_name(tmp_path, name):
    path = tmp_path / "good.npz"
    _stopped_at(_word2vec("CBOW", path, every=7), 10)
    arrays = _edit(read_npz(path), lambda d: d.pop(name))
    with pytest.raises(ModelFileError, match=f"'{name}' must be a generator's state"):
        SequelCheckpoint.read(_write(tmp_path / "bad.npz", arrays))
