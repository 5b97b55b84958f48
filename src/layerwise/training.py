"""The training loop: the book's ``Trainer`` (chapter 6), shuffled, checkpointed and interruptible.

Data flows one way: dataset -> minibatch -> network (loss and gradients) -> optimizer.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._blas import blas_threads
from ._checks import InvalidParameterError, check_flag, check_number, check_seed
from ._surroundings import StopRequest, progress_bar, stop_signals
from ._types import StrPath
from .backend import Device, to_device
from .book_style import BookStyleNetwork, as_rows, not_layerwise, trainable
from .checkpoints import Checkpoint, read_checkpoint_meta
from .errors import DivergedError, NonFiniteLossError, TrainingInterrupted, WorkerError
from .network import Sequential, as_batch  # as_batch here too: layerwise.training.as_batch
from .optimizers import Optimizer, get_optimizer
from .parallel.steppers import OneProcess, Stepper, Steppers

_EVAL_ROWS = 1000  # rows per chunk when evaluating accuracy

#: Samples or labels, one per row: an ndarray (memory-mapped ones too) or a list of rows.
Rows = np.ndarray | Sequence[Any]

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the stub packages give it to 3.10 too
    from typing_extensions import Self

__all__ = [
    "BookStyleNetwork",
    "DivergedError",
    "NonFiniteLossError",
    "Trainer",
    "TrainingInterrupted",
    "as_batch",
    "check_loss_divergence",
    "predicted_labels",
    "read_checkpoint_meta",
]


def check_loss_divergence(start: float, mean: float, classes: int, where: str, lr: Any) -> None:
    """Raise :class:`DivergedError` if an epoch's mean loss shows a diverged run.

    The rule: ``mean`` is more than 10 times ``start`` and more than ``3 ln(classes)``. An
    untrained model's loss is about ``ln(classes)``, the cross-entropy of a uniform guess, and
    training lowers it; a loss grown tenfold and three times worse than guessing means the
    steps are too large. :meth:`Trainer.check_divergence` and the sequel's command-line
    training (:mod:`layerwise.sequel.training`) both apply it.

    Parameters
    ----------
    start : float
        The loss of the run's first iteration (not its first epoch, so that a run that blew up
        in its first epoch is caught too).
    mean : float
        The epoch's mean training loss.
    classes : int
        The classes (or words, or characters) the loss chooses among.
    where : str
        Which epoch, for the message: ``"at the end of epoch 3"``.
    lr
        The learning rate, for the message's advice.
    """
    if mean > 10 * start and mean > 3 * math.log(classes):
        raise DivergedError(
            f"the run diverged: {where} the mean training loss is {mean:.4g}, more than 10 "
            f"times the first iteration's {start:.4g} and more than 3 ln({classes}) = "
            f"{3 * math.log(classes):.3g}. Try a smaller learning rate than {lr}."
        )


def predicted_labels(
    network: Sequential,
    x: np.ndarray,
    batch_size: int = _EVAL_ROWS,
    *,
    workers: int | str = 1,
    start_method: str | None = None,
) -> np.ndarray:
    """The class the network scores highest for every row of ``x``, in inference mode.

    Parameters
    ----------
    network : Sequential
    x : ndarray, shape (N, ...)
        float, or uint8 images (``network.predict`` scales them by 1/255 one chunk at a time,
        like training batches, so a whole dataset never needs a float copy).
    batch_size : int, default 1000
    workers : int or 'auto', keyword-only, default 1
        Split every chunk over this many processes (:class:`layerwise.parallel.DataParallel`);
        worth it for tens of thousands of rows, since starting the workers costs a moment.
        A network on a GPU is refused more than one.
    start_method : str, optional, keyword-only
        multiprocessing's start method for the workers (:data:`layerwise.parallel.START_METHOD`
        when None).

    Returns
    -------
    ndarray of intp, shape (N,)
    """
    steppers = Steppers(
        network, workers=workers, start_method=start_method, owner="predicted_labels"
    )
    x = as_rows(x)
    if steppers.workers == 1 or len(x) == 0:
        return OneProcess(network).predicted_labels(x, batch_size)
    with steppers.open(network, sample_shape=x.shape[1:], max_rows=batch_size) as stepper:
        return stepper.predicted_labels(x, batch_size)


class Trainer:
    """Train a network with minibatch gradient descent, as the book's ``common/trainer.py``.

    Parameters
    ----------
    network : Sequential, or any object with the book's network methods
        A layerwise network, or a network written as the book's (its ``params`` dict,
        ``gradient(x, t)``, ``loss(x, t)`` and ``accuracy(x, t)``; see :class:`BookStyleNetwork`),
        which trains without checkpoints or workers.
    x_train : ndarray, shape (N, ...)
        float (used as is) or uint8 (scaled by 1/255 one batch at a time).
    t_train : ndarray, shape (N,) labels or (N, C) one-hot
    x_test, t_test : ndarray
        Evaluated at the end of every epoch.
    epochs : int, default 20
    mini_batch_size : int, default 100
    optimizer : str or Optimizer, default 'SGD'
        A name from :data:`layerwise.optimizers.OPTIMIZERS` (any case) or an instance.
    optimizer_param : dict, default {'lr': 0.01}
        Constructor arguments when ``optimizer`` is a name.
    evaluate_sample_num_per_epoch : int, optional
        Evaluate accuracy on the first this-many samples only (all when None).
    verbose : bool, default True
        A tqdm progress bar on a terminal (if tqdm is installed), else one line per epoch.
    seed : int, optional, keyword-only
        Seeds the shuffling: same seed, same run, bit for bit.
    checkpoint_every : int, optional, keyword-only
        Write a checkpoint every this-many iterations (needs ``checkpoint_path``).
    checkpoint_path : str or Path, optional, keyword-only
        Where checkpoints go: written at the end of every epoch (so a killed run loses at most
        the epoch it was in), every ``checkpoint_every`` iterations, and when training is
        interrupted by SIGINT/SIGTERM.
    extra : dict, optional, keyword-only
        JSON-serialisable data stored in every checkpoint (the command line keeps its options
        there).
    threads : int or None, keyword-only, default 1
        BLAS threads while training. One is fastest for the book's small matrix products and
        does not collapse when another process loads the other cores; None keeps NumPy's
        setting (worth trying for hidden layers of a thousand units and large batches).
    workers : int, 'auto' or 'mpi', keyword-only, default 1
        Processes computing each step, this one included: every minibatch is split into
        ``workers`` shards whose gradients are summed (:mod:`layerwise.parallel`), and the
        end-of-epoch evaluation is split the same way. ``'auto'`` uses the cores this process
        may run on that are idle (:func:`layerwise.parallel.auto_workers`; the epoch line says
        how many). The step is the gradient of the whole minibatch whatever the number;
        only BatchNormalization's batch statistics become per-shard (see
        :mod:`layerwise.parallel`). ``'mpi'``: the same step over the ranks of
        ``MPI.COMM_WORLD`` (:mod:`layerwise.parallel.mpi`; run under ``mpiexec``, every rank
        building this Trainer alike); rank 0 alone prints and writes checkpoints.
    start_method : {'fork', 'spawn', 'forkserver'}, optional, keyword-only
        How worker processes start; :data:`layerwise.parallel.START_METHOD` when None
        ('forkserver' on Linux and macOS, 'spawn' on Windows, on every Python version). With
        'spawn' and 'forkserver' a script must train under ``if __name__ == "__main__":``.
    on_epoch_end : callable, optional, keyword-only
        ``on_epoch_end(trainer)`` after every finished epoch and its checkpoint (the command
        line records the run's progress in run.json there).
    device : {'cpu', 'cuda', 'cuda:N'}, optional, keyword-only
        Where to train: the network is moved there (:meth:`Sequential.to`). None (the default)
        trains where the network is, 'cpu' unless it was moved. The data set stays on the host;
        each minibatch is gathered there and copied to the device (uint8 images before their
        scaling to float, a quarter of the bytes), so the shuffling and the batches are those of
        a CPU run. 'cuda' needs a layerwise network and ``workers=1``.

    Attributes
    ----------
    train_loss_list : list of float
        The minibatch loss of every iteration.
    train_acc_list, test_acc_list : list of float
        Accuracies at the end of every epoch.
    epoch, iteration : int
        Completed epochs and iterations.
    rank : int
        This process's MPI rank with ``workers='mpi'``, else 0; only rank 0 prints and writes.

    Notes
    -----
    Unlike the book's ``Trainer``: each epoch is one pass over a fresh permutation of the
    training set (sampling without replacement; the last batch of an epoch may be smaller),
    every epoch ends with an evaluation, the loss is the one of the step itself (no second
    forward pass), a NaN or infinite loss stops training before the parameters are updated, and
    a run that diverges stops at the end of the epoch (:meth:`check_divergence`).

    Examples
    --------
    >>> from layerwise import TwoLayerNet
    >>> from layerwise.datasets import load_sample
    >>> (x_train, t_train), (x_test, t_test) = load_sample()
    >>> net = TwoLayerNet(784, 50, 10, seed=0)
    >>> trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=2, optimizer="adam",
    ...                   optimizer_param={"lr": 0.001}, verbose=False, seed=0)
    >>> _ = trainer.train()
    >>> trainer.epoch, len(trainer.test_acc_list)
    (2, 2)
    >>> trainer.test_acc_list[-1] > 0.5
    True
    """

    def __init__(
        self,
        network: Sequential,
        x_train: Rows,
        t_train: Rows,
        x_test: Rows,
        t_test: Rows,
        epochs: int = 20,
        mini_batch_size: int = 100,
        optimizer: str | Optimizer = "SGD",
        optimizer_param: dict[str, float] | None = None,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        *,
        seed: int | None = None,
        checkpoint_every: int | None = None,
        checkpoint_path: StrPath | None = None,
        extra: dict[str, Any] | None = None,
        threads: int | None = 1,
        workers: int | str = 1,
        start_method: str | None = None,
        on_epoch_end: Callable[[Trainer], object] | None = None,
        device: str | Device | None = None,
    ) -> None:
        for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
            if len(x) == 0 or len(x) != len(t):
                raise ValueError(
                    f"Trainer: x_{name} and t_{name} must be non-empty and of the same length, "
                    f"got {len(x)} and {len(t)}"
                )
        epochs = check_number(epochs, "Trainer", "epochs", low=1, integer=True)
        mini_batch_size = check_number(
            mini_batch_size, "Trainer", "mini_batch_size", low=1, integer=True
        )
        if evaluate_sample_num_per_epoch is not None:  # x[:0] is empty, x[:-1] all but one
            evaluate_sample_num_per_epoch = check_number(
                evaluate_sample_num_per_epoch,
                "Trainer",
                "evaluate_sample_num_per_epoch",
                low=1,
                integer=True,
            )
        verbose = check_flag(verbose, "Trainer", "verbose")
        if isinstance(optimizer, Optimizer) and optimizer_param is not None:
            raise InvalidParameterError(
                f"Trainer: optimizer_param is for an optimizer given by name; {optimizer!r} was "
                "given built, so set its hyperparameters when you build it"
            )
        if checkpoint_every is not None:
            check_number(checkpoint_every, "Trainer", "checkpoint_every", low=1, integer=True)
            if checkpoint_path is None:
                raise ValueError("Trainer: checkpoint_every needs checkpoint_path")
        self.network = network
        self._model = trainable(network)
        if self._model is not network and checkpoint_path is not None:
            raise not_layerwise(network, "Trainer")
        # How the steps are computed; every refusal about workers, devices and MPI is there.
        self._steppers = Steppers(
            network,
            layerwise=self._model is network,
            workers=workers,
            device=device,
            start_method=start_method,
        )
        self.mpi, self.workers = self._steppers.mpi, self._steppers.workers
        self.start_method = self._steppers.start_method
        self.rank = self._steppers.rank  # this process's MPI rank: only rank 0 prints and writes
        self._device = self._steppers.device
        if self._model is network:
            network.to(self._device)
        # Arrays (memory-mapped ones included) are kept as they are; lists become arrays.
        self.x_train, self.t_train = as_rows(x_train), np.asarray(t_train)
        self.x_test, self.t_test = as_rows(x_test), np.asarray(t_test)
        self.epochs = int(epochs)
        self.batch_size = int(mini_batch_size)
        if isinstance(optimizer, Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = get_optimizer(optimizer, **(optimizer_param or {"lr": 0.01}))
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.verbose = verbose and self.rank == 0
        self.seed = seed
        self.checkpoint_every = checkpoint_every
        self.checkpoint_path = checkpoint_path
        self.extra = dict(extra or {})
        self.threads = threads
        self.on_epoch_end = on_epoch_end
        self._stepper: Stepper | None = None  # while training

        self.iter_per_epoch = math.ceil(len(x_train) / self.batch_size)
        self.max_iter = self.epochs * self.iter_per_epoch
        self.rng = check_seed(seed, "Trainer")
        self.epoch = 0
        self.iteration = 0
        self._perm: np.ndarray | None = None  # this epoch's order; None between epochs
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self._stop = StopRequest()  # while training: the signal that asked to stop

    @property
    def device(self) -> str:
        """Where the network trains: ``'cpu'`` or ``'cuda:N'``."""
        return str(self._device)

    # ------------------------------------------------------------------ the loop

    def get_batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training rows ``idx`` as ``(x_batch, t_batch)``, images scaled by :func:`as_batch`.

        ``take`` gathers rows about twice as fast as fancy indexing ``x[idx]`` (same result);
        the rows are then copied to the training device (on the CPU: nothing happens).
        """
        x = to_device(self.x_train.take(idx, axis=0), self._device)
        t = to_device(self.t_train.take(idx, axis=0), self._device)
        return as_batch(x, self._model.dtype), t

    def train_step(self, x_batch: np.ndarray, t_batch: np.ndarray) -> float:
        """One iteration: loss and gradients, a finiteness check, then the optimizer's update."""
        stepper = self._stepper or OneProcess(self._model, self.optimizer)
        loss = stepper.step(x_batch, t_batch)
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the loss became {loss} at iteration {self.iteration + 1} (epoch "
                f"{self.epoch + 1}); the parameters were not updated. Try a smaller learning "
                f"rate than {getattr(self.optimizer, 'lr', '?')}."
            )
        stepper.update()
        return loss

    def train(self) -> Self:
        """Run the remaining epochs; returns ``self`` (the history is in the ``*_list`` attributes).

        Raises
        ------
        NonFiniteLossError
            When the loss becomes NaN or infinite.
        DivergedError
            When an epoch ends diverged (:meth:`check_divergence`); no checkpoint of it is
            written, so the last one is of the last sound epoch.
        TrainingInterrupted
            On SIGINT/SIGTERM, after writing a checkpoint (when ``checkpoint_path`` is set).
        """
        self._model.train()  # Dropout and BatchNorm train; evaluation is in inference mode
        with progress_bar(self) as bar, stop_signals() as stop, blas_threads(self.threads):
            self._stop = stop
            try:
                with self._open_stepper() as stepper:
                    self._stepper = stepper
                    while self.epoch < self.epochs:
                        self._train_epoch(stepper, bar)
                        self.check_divergence()
                        self._checkpoint()
                        if self.on_epoch_end is not None:
                            self.on_epoch_end(self)
            except WorkerError as error:  # the workers are gone: the state is this process's
                raise self._worker_failed(error) from None
            finally:
                self._stepper, self._stop = None, StopRequest()
        return self

    def _train_epoch(self, stepper: Stepper, bar: Any) -> None:
        """The rest of this epoch's iterations, then its evaluation; then ``epoch`` moves on.

        Until the evaluation is done the epoch counts as unfinished: a checkpoint written when
        a worker dies during it resumes at the evaluation, with the step counts of the
        finished iterations.
        """
        if self._perm is None:
            self._perm = self.rng.permutation(len(self.x_train))
        if bar is not None:  # an epoch of a conv net takes minutes: a bar per epoch
            bar.reset(total=self.iter_per_epoch)
            bar.update(self.iteration - self.epoch * self.iter_per_epoch)  # resumed
            bar.set_description(f"epoch {self.epoch + 1}/{self.epochs}", refresh=False)
        start_time = time.perf_counter()
        while self.iteration < (self.epoch + 1) * self.iter_per_epoch:
            stop = stepper.agreed_stop(self._stop.signum)  # MPI: every rank stops at one step
            if stop is not None:
                raise self._interrupted(stop)
            i = self.iteration - self.epoch * self.iter_per_epoch
            idx = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
            loss = self.train_step(*self.get_batch(idx))
            self.train_loss_list.append(loss)
            self.iteration += 1
            if bar is not None:
                bar.update(1)
                if self.iteration % 20 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            # The epoch's last iteration is checkpointed once its epoch passed the divergence
            # check.
            if (
                self.checkpoint_every
                and self.iteration % self.checkpoint_every == 0
                and self.iteration % self.iter_per_epoch
            ):
                self._checkpoint()
        self._end_of_epoch(stepper, bar, time.perf_counter() - start_time)

    def check_divergence(self) -> None:
        """Raise :class:`DivergedError` if the epoch just finished shows a diverged run.

        A run has diverged when either holds at the end of an epoch:

        - its mean training loss is more than 10 times the loss of the run's first iteration
          and more than ``3 ln(C)`` (C classes): :func:`check_loss_divergence`.
        - its test accuracy is back at chance (at most ``1.5 / C``) after an earlier epoch
          reached at least ``3 / C``: the network had learned and has forgotten it.

        A NaN or infinite loss is caught earlier, at the step (:class:`NonFiniteLossError`).
        """
        if not self.train_loss_list or not self.test_acc_list:
            return
        t = self.t_train
        classes = t.shape[1] if t.ndim == 2 else int(max(t.max(), self.t_test.max())) + 1
        classes = max(classes, 2)
        mean = float(np.mean(self.train_loss_list[-self.iter_per_epoch :]))
        where = f"at the end of epoch {self.epoch}"
        lr = getattr(self.optimizer, "lr", "?")
        check_loss_divergence(self.train_loss_list[0], mean, classes, where, lr)
        best, last = max(self.test_acc_list[:-1], default=0.0), self.test_acc_list[-1]
        if best >= 3 / classes and last <= 1.5 / classes:
            raise DivergedError(
                f"the run diverged: {where} the test accuracy fell to {last:.4f}, chance for "
                f"{classes} classes, after reaching {best:.4f}. Try a smaller learning rate "
                f"than {lr}."
            )

    def _open_stepper(self) -> Stepper:
        t = self.t_train
        return self._steppers.open(
            self._model,
            self.optimizer,
            sample_shape=self.x_train.shape[1:],
            label_shape=t.shape[1:],
            label_dtype=t.dtype,
            max_rows=max(self.batch_size, _EVAL_ROWS),
            stop_requested=lambda: self._stop.signum is not None,
        )

    def _worker_failed(self, error):
        """A worker died or raised: the parameters are those of the last finished step."""
        if error.partial:  # some slices of the parameters are updated, others not
            return WorkerError(f"{error}; the parameters were half updated, so no checkpoint "
                               "was written (the last one written is intact)")  # fmt: skip
        if self._stop.signum is not None:  # Ctrl-C reached a worker first: an interrupt
            return self._interrupted(self._stop.signum)
        if self.checkpoint_path is None:
            return WorkerError(f"{error} (no checkpoint_path was set)")
        path = self.save_checkpoint(self.checkpoint_path)
        return WorkerError(f"{error}; checkpoint of iteration {self.iteration} written to {path}")

    def _end_of_epoch(self, stepper, bar, seconds):
        """Evaluate, then count the epoch as done and say so."""
        n = self.evaluate_sample_num_per_epoch
        train_acc = self.accuracy(self.x_train[:n], self.t_train[:n])
        test_acc = self.accuracy(self.x_test[:n], self.t_test[:n])
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        self._perm = None
        self.epoch += 1
        losses = self.train_loss_list[-self.iter_per_epoch :]
        n, processes = stepper.workers, "rank" if self.mpi else "worker"
        by = f", {n} {processes}{'s' * (n > 1)}" if n > 1 or self._steppers.auto else ""
        line = (
            f"epoch {self.epoch:>3}/{self.epochs}  loss {np.mean(losses):.4f}  "
            f"train acc {train_acc:.4f}  test acc {test_acc:.4f}  ({seconds:.2f} s{by})"
        )
        if bar is not None:
            bar.set_postfix(loss=f"{losses[-1]:.4f}", test_acc=f"{test_acc:.4f}")
            bar.write(line)
        elif self.verbose:
            print(line, flush=True)

    def accuracy(self, x: npt.ArrayLike, t: npt.ArrayLike, batch_size: int = _EVAL_ROWS) -> float:
        """Accuracy of the network on ``(x, t)``: ``network.accuracy``, as the book's Trainer.

        It runs ``batch_size`` rows at a time in inference mode and scales uint8 images by
        1/255 chunk by chunk, so evaluating the full training set needs no float copy of it.
        While training on several workers, the chunks are split over them.
        """
        if self._stepper is not None:
            return self._stepper.accuracy(as_rows(x), np.asarray(t), batch_size)
        return self._model.accuracy(x, t, batch_size)

    def _checkpoint(self) -> Path | None:
        """Write a checkpoint to ``checkpoint_path`` if set; under MPI, rank 0 alone writes it."""
        if self.checkpoint_path is None or self.rank != 0:
            return None
        return self.save_checkpoint(self.checkpoint_path)

    def _interrupted(self, signum):
        path = self._checkpoint()
        name = signal.Signals(signum).name
        where = f"; checkpoint written to {path}" if path else " (no checkpoint_path was set)"
        return TrainingInterrupted(
            f"training stopped by {name} at iteration {self.iteration} (epoch {self.epoch + 1})"
            + where,
            signum,
            path,
        )

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, path: StrPath) -> Path:
        """Write everything needed to continue bit for bit, atomically, to ``path`` (.npz).

        The network's parameters, buffers, architecture and random layers' generators, the
        optimizer's state, the shuffling generator's state and this epoch's order, the position
        in the run, and the history (see :class:`layerwise.checkpoints.Checkpoint`).
        """
        checkpoint = Checkpoint.of(
            self.network,
            self.optimizer,
            epochs=self.epochs,
            mini_batch_size=self.batch_size,
            train_size=len(self.x_train),
            seed=self.seed,
            evaluate_sample_num_per_epoch=self.evaluate_sample_num_per_epoch,
            epoch=self.epoch,
            iteration=self.iteration,
            rng=self.rng.bit_generator.state,
            extra=self.extra,
            history={
                "train_loss": self.train_loss_list,
                "train_acc": self.train_acc_list,
                "test_acc": self.test_acc_list,
            },
            perm=self._perm,
        )
        return checkpoint.write(path)

    def load_checkpoint(self, path: StrPath, *, epochs: int | None = None) -> Self:
        """Restore the state written by :meth:`save_checkpoint` into this trainer.

        The trainer must have been built with the same network architecture, optimizer and
        training set size; :meth:`Checkpoint.read <layerwise.checkpoints.Checkpoint.read>`
        reads what they were.

        Parameters
        ----------
        path : str or Path
        epochs : int, optional, keyword-only
            Train to this many epochs instead of the checkpoint's: a finished or interrupted
            run is extended (or ends sooner), at least to the epoch it is in. The learning rate
            is constant and each epoch draws its order from the same generator, so a run of 20
            epochs extended to 30 equals, bit for bit, a run of 30.
        """
        checkpoint = Checkpoint.load(path, self.network, self.optimizer, len(self.x_train))
        if epochs is not None:  # checked before anything changes
            where, low = "Trainer.load_checkpoint", max(1, checkpoint.epochs_begun)
            epochs = check_number(epochs, where, "epochs", low=low, integer=True)
        self.network.load_state_dict(checkpoint.network_state)
        self.network.set_rng_state(checkpoint.network_rng)
        self.optimizer.load_state_dict(checkpoint.optimizer_state)
        self.rng.bit_generator.state = checkpoint.rng
        self.epoch, self.iteration = checkpoint.epoch, checkpoint.iteration
        self.batch_size = checkpoint.mini_batch_size
        self.iter_per_epoch = checkpoint.iter_per_epoch
        self.epochs = checkpoint.epochs if epochs is None else epochs
        self.max_iter = self.epochs * self.iter_per_epoch
        self.seed = checkpoint.seed
        self.evaluate_sample_num_per_epoch = checkpoint.evaluate_sample_num_per_epoch
        self._perm = checkpoint.perm
        self.train_loss_list = checkpoint.history["train_loss"]
        self.train_acc_list = checkpoint.history["train_acc"]
        self.test_acc_list = checkpoint.history["test_acc"]
        self.extra = checkpoint.extra
        return self
