"""Resumable training of the sequel's models: epochs, curves, checkpoints, Ctrl-C.

The sequel's :class:`~layerwise.sequel.trainer.RnnlmTrainer` and
:class:`~layerwise.sequel.trainer.Trainer` run its scripts; these run ``layerwise train``. Each
step is the sequel's (loss, backward, shared weights merged, gradients clipped to ``max_grad``,
``optimizer.update(params, grads)``); what they add is what a run that can be stopped and
continued needs:

- a position that says exactly where the run stands: the epoch and iteration, and for a
  language model the batch offset ``time_idx`` (truncated BPTT reads row i of the batch from
  ``i * (L // batch_size) + time_idx``), for seq2seq and word2vec the shuffling generator and
  the epoch's order of the rows, for word2vec also its negative sampler's generator;
- a checkpoint (:class:`~layerwise.sequel.checkpoints.SequelCheckpoint`) at every epoch's end,
  every ``checkpoint_every`` iterations and when SIGINT or SIGTERM stops the run, holding the
  parameters, the optimizer's state, the recurrent layers' carried state and the dropout
  generators beside the position; :meth:`load_checkpoint` restores all of it, so a resumed run
  computes the same floating-point numbers as one never stopped;
- a curve per epoch: a language model's training and validation perplexity
  (``exp`` of the mean loss; the validation text read as
  :func:`~layerwise.sequel.util.eval_perplexity` reads it, dropout off), a seq2seq model's mean
  training loss and test accuracy (exact answers, greedy decoding), word2vec's mean training
  loss.

Evaluation does not disturb training: the carried state is set aside and put back around it,
and it draws from no generator.
"""

from __future__ import annotations

import contextlib
import io
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import quiet
from .._surroundings import progress_bar, stop_signals
from .._types import StrPath
from ..errors import NonFiniteLossError, TrainingInterrupted
from ..training import check_loss_divergence
from .checkpoints import SequelCheckpoint
from .model_files import model_description
from .seq2seq import seq2seq_accuracy
from .trainer import remove_duplicate
from .util import clip_grads, create_contexts_target, eval_perplexity

__all__ = ["LanguageModelTraining", "Seq2seqTraining", "Word2vecTraining"]


class _Training:
    """The loop both kinds share; a subclass gives the batches, the evaluation and the position.

    Attributes
    ----------
    epoch, iteration : int
        Epochs finished, iterations done.
    train_loss_list : list of float
        The loss of every iteration.
    curves : dict of str to list of float
        :attr:`curve_names`, one value per finished epoch.
    on_epoch_end : callable or None
        Called with the trainer after each epoch's checkpoint.
    """

    kind: str
    curve_names: tuple[str, ...]

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        *,
        epochs: int,
        batch_size: int,
        train_size: int,
        iter_per_epoch: int,
        max_grad: float | None = None,
        seed: int | None = None,
        time_size: int | None = None,
        checkpoint_path: StrPath | None = None,
        checkpoint_every: int | None = None,
        model_file: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        verbose: bool = True,
    ) -> None:
        if iter_per_epoch < 1:
            raise ValueError(
                f"{type(self).__name__}: the training data make no whole batch of "
                f"{batch_size}{'' if time_size is None else f' x {time_size}'}; give less "
                "per batch or more data"
            )
        self.model, self.optimizer = model, optimizer
        self.epochs, self.batch_size, self.time_size = epochs, batch_size, time_size
        self.train_size, self.iter_per_epoch = train_size, iter_per_epoch
        self.max_grad, self.seed = max_grad, seed
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.checkpoint_every = checkpoint_every
        self.model_file = dict(model_file or {})  # save_model's vocab, sequence, training
        self.extra = dict(extra or {})
        self.verbose = verbose
        self.on_epoch_end: Callable[[Any], Any] | None = None
        self.epoch = self.iteration = 0
        self.train_loss_list: list[float] = []
        self.curves: dict[str, list[float]] = {name: [] for name in self.curve_names}

    @property
    def max_iter(self) -> int:
        return self.epochs * self.iter_per_epoch

    # ------------------------------------------------------------------ the loop

    def train_step(self, x: np.ndarray, t: np.ndarray) -> float:
        """One step of the sequel's trainers; the parameters are left alone on a NaN loss."""
        loss = float(self.model.forward(x, t))
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the loss became {loss} at iteration {self.iteration + 1} (epoch "
                f"{self.epoch + 1}); the parameters were not updated. Try a smaller learning "
                f"rate than {self.optimizer.lr} or a smaller max_grad."
            )
        self.model.backward()
        params, grads = remove_duplicate(self.model.params, self.model.grads)
        if self.max_grad is not None:
            clip_grads(grads, self.max_grad)
        self.optimizer.update(params, grads)
        return loss

    def train(self) -> _Training:
        """Run the remaining epochs; returns ``self``.

        Raises
        ------
        NonFiniteLossError
            When the loss becomes NaN or infinite.
        DivergedError
            When an epoch ends diverged (:meth:`check_divergence`).
        TrainingInterrupted
            On SIGINT/SIGTERM, after writing a checkpoint of the last finished iteration.
        """
        # quiet(): a diverging run overflows to inf without warnings, and is stopped by name.
        with progress_bar(self) as bar, stop_signals() as stop, quiet():
            while self.epoch < self.epochs:
                start = time.perf_counter()
                self._train_epoch(stop, bar)
                self._end_of_epoch(time.perf_counter() - start, bar)
                self._checkpoint()
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self)
        return self

    def _train_epoch(self, stop: Any, bar: Any) -> None:
        """The rest of this epoch's iterations; a signal (``stop.signum``) ends them."""
        self._begin_epoch()
        if bar is not None:  # a PTB epoch takes minutes: a bar per epoch, on a terminal
            bar.reset(total=self.iter_per_epoch)
            bar.update(self.iteration - self.epoch * self.iter_per_epoch)  # resumed
            bar.set_description(f"epoch {self.epoch + 1}/{self.epochs}", refresh=False)
        every = self.checkpoint_every
        while self.iteration < (self.epoch + 1) * self.iter_per_epoch:
            if stop.signum is not None:
                raise self._interrupted(stop.signum)
            self.train_loss_list.append(self.train_step(*self._next_batch()))
            self.iteration += 1
            if bar is not None:
                bar.update(1)
            # An epoch's last iteration is checkpointed once the epoch is measured.
            if every and self.iteration % every == 0 and self.iteration % self.iter_per_epoch:
                self._checkpoint()

    def _end_of_epoch(self, seconds: float, bar: Any) -> None:
        """Check the epoch did not diverge, measure its curves, count it done and say so."""
        losses = self.train_loss_list[-self.iter_per_epoch :]
        self.check_divergence(losses)
        for name, value in zip(self.curve_names, self._evaluate(losses), strict=True):
            self.curves[name].append(value)
        self._epoch_done()
        self.epoch += 1
        shown = "  ".join(f"{n.replace('_', ' ')} {v[-1]:.4f}" for n, v in self.curves.items())
        line = f"epoch {self.epoch:>3}/{self.epochs}  {shown}  ({seconds:.2f} s)"
        if bar is not None:
            bar.write(line)
        elif self.verbose:
            print(line, flush=True)

    def check_divergence(self, losses: list[float]) -> None:
        """Raise :class:`DivergedError` if the epoch whose ``losses`` these are diverged.

        Volume 1's rule (:func:`layerwise.training.check_loss_divergence`), with V, the words or
        characters, as the classes. The epoch is then not checkpointed.
        """
        V = self.model.params[0].shape[0]
        mean = float(np.mean(losses))
        where = f"in epoch {self.epoch + 1}"
        check_loss_divergence(self.train_loss_list[0], mean, V, where, self.optimizer.lr)

    def _interrupted(self, signum: int) -> TrainingInterrupted:
        path = self._checkpoint()
        where = f"; checkpoint written to {path}" if path else " (no checkpoint_path was set)"
        return TrainingInterrupted(
            f"training stopped by {signal.Signals(signum).name} at iteration {self.iteration} "
            f"(epoch {self.epoch + 1})" + where,
            signum,
            path,
        )

    # ------------------------------------------------------------------ what a kind gives

    def _begin_epoch(self) -> None:
        """Before an epoch's first (or resumed) iteration."""

    def _epoch_done(self) -> None:
        """After an epoch's evaluation."""

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _evaluate(self, losses: list[float]) -> list[float]:
        """The values of :attr:`curve_names` at the end of an epoch whose losses these were."""
        raise NotImplementedError

    def _position(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The kind's part of a checkpoint: JSON fields and arrays."""
        raise NotImplementedError

    def _restore(self, checkpoint: SequelCheckpoint) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint(self) -> Path | None:
        if self.checkpoint_path is None:
            return None
        return self.save_checkpoint(self.checkpoint_path)

    def save_checkpoint(self, path: StrPath) -> Path:
        """Write everything the run continues from, atomically, to ``path``."""
        model, arrays = model_description(self.model, **self.model_file)
        fields, own = self._position()
        description = {
            "model": model,
            "optimizer": type(self.optimizer).__name__,
            "settings": {
                "kind": self.kind,
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "time_size": self.time_size,
                "train_size": self.train_size,
                "seed": self.seed,
                "max_grad": self.max_grad,
            },
            "iter_per_epoch": self.iter_per_epoch,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "extra": self.extra,
            **fields,
        }
        entries = {f"model/{k}": v for k, v in arrays.items()}
        entries.update({f"optimizer/{k}": v for k, v in self.optimizer.state_dict().items()})
        history = {"train_loss": self.train_loss_list, **self.curves}
        entries.update({f"history/{k}": np.asarray(v, np.float64) for k, v in history.items()})
        entries.update(own)
        return SequelCheckpoint(description, entries).write(path)

    def load_checkpoint(self, path: StrPath, epochs: int | None = None) -> None:
        """Continue from the checkpoint at ``path`` (written by a trainer of this model, kind,
        settings and optimizer); ``epochs`` extends or keeps the run's length.

        Raises
        ------
        ValueError
            The checkpoint is of another model, kind, optimizer or settings (named), or
            ``epochs`` is fewer than the run has begun. Nothing has changed then.
        """
        checkpoint = SequelCheckpoint.read(path)
        assert checkpoint.model is not None
        mine, _ = model_description(self.model)
        theirs = checkpoint.description["model"]
        settings = checkpoint.settings
        problems = [
            f"{key} {theirs.get(key)!r}, this trainer's {mine[key]!r}"
            for key in ("class", "config", "dtype")
            if theirs.get(key) != mine[key]
        ]
        if checkpoint.description["optimizer"] != type(self.optimizer).__name__:
            problems.append(f"optimizer {checkpoint.description['optimizer']}")
        for name in ("kind", "batch_size", "time_size", "train_size", "seed", "max_grad"):
            if settings.get(name) != getattr(self, name):
                problems.append(
                    f"{name} {settings.get(name)!r}, this trainer's {getattr(self, name)!r}"
                )
        if checkpoint.iter_per_epoch != self.iter_per_epoch:
            problems.append(f"{checkpoint.iter_per_epoch} iterations per epoch")
        if problems:
            raise ValueError(f"{path}: the checkpoint is of another run: " + "; ".join(problems))
        epochs = settings["epochs"] if epochs is None else epochs
        if epochs < checkpoint.epochs_begun:
            raise ValueError(
                f"{path}: the run has begun epoch {checkpoint.epochs_begun}; epochs={epochs} "
                "is fewer"
            )
        self.optimizer.load_state_dict(checkpoint.section("optimizer"))
        for p, q in zip(self.model.params, checkpoint.model.model.params, strict=True):
            p[...] = q  # in place: the layers and tied views hold these arrays
        history = checkpoint.section("history")
        self.train_loss_list = history.pop("train_loss", np.zeros(0)).tolist()
        self.curves = {name: history.get(name, np.zeros(0)).tolist() for name in self.curve_names}
        self.epoch, self.iteration, self.epochs = checkpoint.epoch, checkpoint.iteration, epochs
        self._restore(checkpoint)


class LanguageModelTraining(_Training):
    """Truncated BPTT over a corpus, as the sequel's RnnlmTrainer reads it; perplexity per epoch.

    Parameters
    ----------
    model : SimpleRnnlm, Rnnlm or BetterRnnlm
    optimizer : one of :mod:`layerwise.sequel.optimizer`'s
    corpus : ndarray of int, shape (L,)
        The training text as word ids: inputs ``corpus[:-1]``, targets ``corpus[1:]``.
    val_corpus : ndarray of int
        The text whose perplexity is measured after each epoch.
    epochs, batch_size, time_size : int
        An epoch is ``(L - 1) // (batch_size * time_size)`` iterations.
    max_grad : float, optional
        Clip the gradients' norm to it.
    lr_decay : float, optional
        Divide the optimizer's ``lr`` by it after an epoch whose validation perplexity is no
        lower than the lowest before it, as the sequel's ``ch06/train_better_rnnlm.py`` does
        with 4. The learning rate is part of the optimizer's state, so a resumed run goes on
        with the lowered one.
    **kwargs
        ``checkpoint_path``, ``checkpoint_every``, ``model_file`` (``save_model``'s ``vocab``,
        ``training``), ``extra``, ``verbose``.
    """

    kind = "language-model"
    curve_names = ("train_perplexity", "val_perplexity")

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        corpus: np.ndarray,
        val_corpus: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        time_size: int,
        lr_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.xs, self.ts = np.asarray(corpus)[:-1], np.asarray(corpus)[1:]
        self.val_corpus = np.asarray(val_corpus)
        super().__init__(
            model, optimizer, epochs=epochs, batch_size=batch_size, time_size=time_size,
            train_size=len(self.xs), iter_per_epoch=len(self.xs) // (batch_size * time_size),
            **kwargs,
        )  # fmt: skip
        self.time_steps = time_size  # self.time_size, an int here
        self.time_idx = 0
        self.lr_decay = lr_decay

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        jump = len(self.xs) // self.batch_size
        rows = np.arange(self.batch_size)[:, None] * jump
        positions = (rows + self.time_idx + np.arange(self.time_steps)) % len(self.xs)
        self.time_idx += self.time_steps
        return self.xs[positions], self.ts[positions]

    def _carried(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.model.state_dict().items() if k.startswith("layers/")}

    def _set_carried(self, states: dict[str, np.ndarray]) -> None:
        params = {f"params/{i}": p for i, p in enumerate(self.model.params)}
        self.model.load_state_dict({**params, **states})

    def _evaluate(self, losses: list[float]) -> list[float]:
        carried = self._carried()
        self.model.reset_state()
        with contextlib.redirect_stdout(io.StringIO()):  # eval_perplexity prints its progress
            val = eval_perplexity(self.model, self.val_corpus, self.batch_size, self.time_steps)
        self._set_carried(carried)
        earlier = self.curves["val_perplexity"]  # this epoch's is appended by the caller
        if self.lr_decay is not None and earlier and val >= min(earlier):
            self.optimizer.lr /= self.lr_decay
        return [float(np.exp(np.mean(losses))), val]

    def _position(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        states = {f"state/{k}": v for k, v in self._carried().items()}
        return {"time_idx": self.time_idx, "model_rng": self.model.rng_states()}, states

    def _restore(self, checkpoint: SequelCheckpoint) -> None:
        self.time_idx = int(checkpoint.description.get("time_idx") or 0)
        self._set_carried(checkpoint.section("state"))
        self.model.set_rng_states(checkpoint.description.get("model_rng", {}))


class _ShuffledTraining(_Training):
    """Minibatches of the rows of ``(x_train, t_train)``, in a new order each epoch, as the
    sequel's Trainer takes them; the generator and the epoch's order are part of a checkpoint."""

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        x_train: np.ndarray,
        t_train: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        **kwargs: Any,
    ) -> None:
        self.x_train, self.t_train = np.asarray(x_train), np.asarray(t_train)
        super().__init__(
            model, optimizer, epochs=epochs, batch_size=batch_size, seed=seed,
            train_size=len(self.x_train), iter_per_epoch=len(self.x_train) // batch_size,
            **kwargs,
        )  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self._perm: np.ndarray | None = None  # this epoch's order; None between epochs

    def _begin_epoch(self) -> None:
        if self._perm is None:
            self._perm = self.rng.permutation(len(self.x_train))

    def _epoch_done(self) -> None:
        self._perm = None

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        assert self._perm is not None
        i = self.iteration - self.epoch * self.iter_per_epoch
        idx = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
        return self.x_train[idx], self.t_train[idx]

    def _position(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        perm = {} if self._perm is None else {"trainer/perm": self._perm}
        return {"rng": self.rng.bit_generator.state}, perm

    def _restore(self, checkpoint: SequelCheckpoint) -> None:
        self.rng.bit_generator.state = checkpoint.description["rng"]
        self._perm = checkpoint.arrays.get("trainer/perm")


class Seq2seqTraining(_ShuffledTraining):
    """Minibatches of questions and answers, shuffled each epoch; test accuracy per epoch.

    Parameters
    ----------
    model : Seq2seq, PeekySeq2seq or AttentionSeq2seq
    optimizer : one of :mod:`layerwise.sequel.optimizer`'s
    x_train, t_train, x_test, t_test : ndarray of int
        Questions (N, Tq) and answers (N, Ta) as character ids, each answer starting with
        the start symbol.
    epochs, batch_size : int
        An epoch is ``N // batch_size`` iterations (the sequel's Trainer drops the rest).
    seed : int
        The shuffling generator's.
    eval_samples : int, optional
        Measure the accuracy on the first ones of the test set only.
    **kwargs
        ``max_grad``, ``checkpoint_path``, ``checkpoint_every``, ``model_file``, ``extra``,
        ``verbose``.
    """

    kind = "seq2seq"
    curve_names = ("mean_train_loss", "test_acc")

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        x_train: np.ndarray,
        t_train: np.ndarray,
        x_test: np.ndarray,
        t_test: np.ndarray,
        *,
        eval_samples: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.x_test, self.t_test = x_test[:eval_samples], t_test[:eval_samples]
        super().__init__(model, optimizer, x_train, t_train, **kwargs)

    def _evaluate(self, losses: list[float]) -> list[float]:
        return [float(np.mean(losses)), seq2seq_accuracy(self.model, self.x_test, self.t_test)]


class Word2vecTraining(_ShuffledTraining):
    """CBOW or SkipGram on a corpus, as the sequel's ch04/train.py trains them; the mean loss
    per epoch.

    The examples are :func:`~layerwise.sequel.util.create_contexts_target`'s: each word of the
    corpus (but the ``window_size`` at either end) with the words around it, shuffled each
    epoch. Beside the shuffling generator, a checkpoint holds the negative sampler's generator
    (``model.ns_loss.sampler.rng``), which draws each step's negatives.

    Parameters
    ----------
    model : CBOW or SkipGram
        Built on ``corpus`` (its sampler's unigram counts).
    optimizer : one of :mod:`layerwise.sequel.optimizer`'s
    corpus : ndarray of int, shape (L,)
    epochs, batch_size : int
        An epoch is ``(L - 2 window_size) // batch_size`` iterations.
    seed : int
        The shuffling generator's.
    **kwargs
        ``max_grad``, ``checkpoint_path``, ``checkpoint_every``, ``model_file``, ``extra``,
        ``verbose``.
    """

    kind = "word2vec"
    curve_names = ("mean_train_loss",)

    def __init__(self, model: Any, optimizer: Any, corpus: np.ndarray, **kwargs: Any) -> None:
        contexts, target = create_contexts_target(corpus, model.window_size)
        super().__init__(model, optimizer, contexts, target, **kwargs)

    def _evaluate(self, losses: list[float]) -> list[float]:
        return [float(np.mean(losses))]

    def _position(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fields, arrays = super()._position()
        return {**fields, "sampler_rng": self.model.ns_loss.sampler.rng.bit_generator.state}, arrays

    def _restore(self, checkpoint: SequelCheckpoint) -> None:
        super()._restore(checkpoint)
        self.model.ns_loss.sampler.rng.bit_generator.state = checkpoint.description["sampler_rng"]
