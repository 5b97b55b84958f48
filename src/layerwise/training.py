"""The training loop: the book's ``Trainer`` (chapter 6), shuffled, checkpointed and interruptible.

Data flows one way: dataset -> minibatch -> network (loss and gradients) -> optimizer.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._blas import blas_threads
from ._checks import InvalidParameterError, check_number, quiet
from ._types import StrPath
from .backend import Device, as_numpy, parse_device, to_device
from .checkpoints import Checkpoint, read_checkpoint_meta
from .network import Sequential, as_batch  # as_batch here too: layerwise.training.as_batch
from .optimizers import Optimizer, get_optimizer
from .parallel import DataParallel, WorkerError, resolve_workers
from .parallel.mpi import MPIDataParallel

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
    "predicted_labels",
    "read_checkpoint_meta",
]


class DivergedError(FloatingPointError):
    """Training diverged (:meth:`Trainer.check_divergence` gives the rule); the history is kept."""


class NonFiniteLossError(DivergedError):
    """The loss became NaN or infinite; the parameters are left as they were before that step."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training at an iteration boundary (after a final checkpoint)."""

    def __init__(self, message: str, signum: int, checkpoint: Path | None = None) -> None:
        super().__init__(message)
        self.signum = signum
        self.checkpoint = checkpoint


def _as_rows(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


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
    start_method : str, optional, keyword-only
        multiprocessing's start method for the workers.

    Returns
    -------
    ndarray of intp, shape (N,)
    """
    workers = resolve_workers(workers, "predicted_labels")
    if workers > 1 and len(x) > 0:
        x = _as_rows(x)
        with DataParallel(
            network, workers, x.shape[1:], (), np.intp, batch_size, start_method=start_method
        ) as pool:
            return pool.predicted_labels(x, batch_size)
    chunks = [
        as_numpy(np.argmax(network.predict(x[start : start + batch_size], train_flg=False), 1))
        for start in range(0, len(x), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.intp)


class BookStyleNetwork:
    """A network written as the book's, seen through what the Trainer asks of a network.

    The book's networks (its chapter-5 ``TwoLayerNet``, chapter-7 ``SimpleConvNet``, ...) have
    ``params``, ``gradient(x, t)``, ``loss(x, t)`` and ``accuracy(x, t)``, and no training mode:
    their Dropout takes ``train_flg`` from the call. This gives them ``loss_and_gradient``,
    ``dtype``, ``train`` (calling the network's own ``train`` only where it has one) and a
    chunked ``accuracy``. Integer labels given as an (N, 1) column (the book's
    ``ch07/gradient_check.py`` passes one) are passed on as (N,).

    Parameters
    ----------
    network : object
        With ``params`` (a dict of name -> ndarray), ``gradient``, ``loss`` and ``accuracy``.
    """

    def __init__(self, network: Any) -> None:
        if isinstance(getattr(network, "params", None), list):  # the sequel's models
            raise TypeError(
                f"Trainer: {type(network).__name__} is one of the sequel's models (params a "
                "list, forward(xs, ts) the loss); train it with layerwise.sequel.trainer's "
                "Trainer or RnnlmTrainer, as the sequel does. This Trainer, its workers and its "
                "checkpoints need a network with a params dict, gradient, loss and accuracy"
            )
        missing = [a for a in ("params", "gradient", "loss", "accuracy") if not hasattr(network, a)]
        if missing:
            raise TypeError(
                f"Trainer: the network ({type(network).__name__}) has no {', '.join(missing)}; a "
                "network needs params, gradient(x, t), loss(x, t) and accuracy(x, t), as the "
                "book's networks have"
            )
        self.network = network

    @property
    def params(self) -> Any:
        return self.network.params

    @property
    def dtype(self) -> np.dtype:
        """The first parameter's dtype (the book's networks are float64)."""
        first = next(iter(self.params.values()), None)
        return np.dtype(np.float64) if first is None else first.dtype

    def train(self, mode: bool = True) -> BookStyleNetwork:
        switch = getattr(self.network, "train", None)
        if callable(switch):
            switch(mode)
        return self

    def loss_and_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Any, dict[str, Any]]:
        """``(loss, grads)`` before any update; the book's ``gradient`` keeps its loss to itself,
        so the loss takes a second forward pass, as in the book's own Trainer."""
        t = _label_column_as_rows(t)
        grads = self.network.gradient(x, t)
        return self.network.loss(x, t), grads

    def accuracy(self, x: npt.ArrayLike, t: npt.ArrayLike, batch_size: int = _EVAL_ROWS) -> float:
        """The book's ``accuracy``, ``batch_size`` rows at a time, uint8 images scaled by 1/255."""
        x, t = _as_rows(x), _label_column_as_rows(np.asarray(t))
        correct = 0.0
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            x_chunk = as_batch(x[rows], self.dtype)
            correct += float(self.network.accuracy(x_chunk, t[rows])) * len(x_chunk)
        return correct / len(x)


def _label_column_as_rows(t: np.ndarray) -> np.ndarray:
    """Integer labels of shape (N, 1) as (N,); anything else unchanged."""
    if t.ndim == 2 and t.shape[1] == 1 and t.dtype.kind in "iu":
        return t.reshape(-1)
    return t


def _trainable(network: Any) -> Any:
    """``network`` itself when it is layerwise's, else a :class:`BookStyleNetwork` over it."""
    return network if hasattr(network, "loss_and_gradient") else BookStyleNetwork(network)


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
        end-of-epoch evaluation is split the same way. ``'auto'`` uses every core this process
        may run on. The step is the gradient of the whole minibatch whatever the number;
        only BatchNormalization's batch statistics become per-shard (see
        :mod:`layerwise.parallel`). ``'mpi'``: the same step over the ranks of
        ``MPI.COMM_WORLD`` (:mod:`layerwise.parallel.mpi`; run under ``mpiexec``, every rank
        building this Trainer alike); rank 0 alone prints and writes checkpoints.
    start_method : {'fork', 'spawn', 'forkserver'}, optional, keyword-only
        How worker processes start (multiprocessing's platform default when None).
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
        if checkpoint_every is not None:
            check_number(checkpoint_every, "Trainer", "checkpoint_every", low=1, integer=True)
            if checkpoint_path is None:
                raise ValueError("Trainer: checkpoint_every needs checkpoint_path")
        self.network = network
        self._model = _trainable(network)
        self.mpi = isinstance(workers, str) and workers.strip().lower() == "mpi"
        self.rank = 0  # this process's MPI rank: only rank 0 prints and writes
        if self.mpi:
            from .parallel.mpi import world

            self.rank = world().Get_rank()
        if self._model is not network and (checkpoint_path is not None or workers != 1):
            raise TypeError(
                f"Trainer: checkpoints and workers need a layerwise network (Sequential or "
                f"layerwise.book_nets); {type(network).__name__} has the book's params, "
                "gradient, loss and accuracy only"
            )
        # Arrays (memory-mapped ones included) are kept as they are; lists become arrays.
        self.x_train, self.t_train = _as_rows(x_train), np.asarray(t_train)
        self.x_test, self.t_test = _as_rows(x_test), np.asarray(t_test)
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
        self.workers = 1 if self.mpi else resolve_workers(workers, "Trainer")
        self.start_method = start_method
        self.on_epoch_end = on_epoch_end
        self._pool: DataParallel | MPIDataParallel | None = None
        self._device = self._check_device(device)

        self.iter_per_epoch = math.ceil(len(x_train) / self.batch_size)
        self.max_iter = self.epochs * self.iter_per_epoch
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self.iteration = 0
        self._perm: np.ndarray | None = None  # this epoch's order; None between epochs
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self._stop_signal: int | None = None

    @property
    def device(self) -> str:
        """Where the network trains: ``'cpu'`` or ``'cuda:N'``."""
        return str(self._device)

    def _check_device(self, device):
        """The :class:`Device` to train on; the network is moved there."""
        if device is None:
            return parse_device(getattr(self.network, "device", "cpu"))
        device = parse_device(device)
        if device.kind != "cpu":
            if self._model is not self.network:
                raise TypeError(
                    f"Trainer: device={str(device)!r} needs a layerwise network (Sequential or "
                    f"layerwise.book_nets), which can move to a GPU; {type(self.network).__name__} "
                    "trains on the CPU"
                )
            if self.workers != 1 or self.mpi:
                workers = "'mpi'" if self.mpi else self.workers
                raise InvalidParameterError(
                    f"Trainer: workers={workers} splits each step over CPU processes; "
                    f"with device={str(device)!r} the GPU computes the whole step: use workers=1"
                )
        if self._model is self.network:
            self.network.to(device)
        return device

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
        pool = self._pool
        if pool is not None:
            loss = pool.step(x_batch, t_batch)
        else:
            with quiet():  # once for the whole pass: the layers' own quiet() then costs nothing
                loss, grads = self._model.loss_and_gradient(x_batch, t_batch)
            loss = float(loss)
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the loss became {loss} at iteration {self.iteration + 1} (epoch "
                f"{self.epoch + 1}); the parameters were not updated. Try a smaller learning "
                f"rate than {getattr(self.optimizer, 'lr', '?')}."
            )
        if pool is not None:
            pool.update()
        else:
            self.optimizer.update(self._model.params, grads)
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
        with (
            _progress(self) as bar,
            _stop_signals(self),
            blas_threads(self.threads),
            self._workers(),
        ):
            while self.epoch < self.epochs:
                if self._perm is None:
                    self._perm = self.rng.permutation(len(self.x_train))
                if bar is not None:  # an epoch of a conv net takes minutes: a bar per epoch
                    bar.reset(total=self.iter_per_epoch)
                    bar.update(self.iteration - self.epoch * self.iter_per_epoch)  # resumed
                    bar.set_description(f"epoch {self.epoch + 1}/{self.epochs}", refresh=False)
                start_time = time.perf_counter()
                while self.iteration < (self.epoch + 1) * self.iter_per_epoch:
                    stop = self._stop_signal
                    if isinstance(self._pool, MPIDataParallel):  # all ranks stop at one iteration
                        # Kept apart from _stop_signal, which the handler may set meanwhile.
                        stop = self._pool.agreed_stop(stop)
                    if stop is not None:
                        raise self._interrupted(stop)
                    i = self.iteration - self.epoch * self.iter_per_epoch
                    idx = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
                    try:
                        loss = self.train_step(*self.get_batch(idx))
                    except WorkerError as error:
                        raise self._worker_failed(error) from None
                    self.train_loss_list.append(loss)
                    self.iteration += 1
                    if bar is not None:
                        bar.update(1)
                        if self.iteration % 20 == 0:
                            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                    # The epoch's last iteration is checkpointed below, once its epoch passed
                    # the divergence check.
                    if (
                        self.checkpoint_every
                        and self.iteration % self.checkpoint_every == 0
                        and self.iteration % self.iter_per_epoch
                    ):
                        self._checkpoint()
                self._perm = None
                self.epoch += 1
                self._end_of_epoch(bar, time.perf_counter() - start_time)
                self.check_divergence()
                self._checkpoint()
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self)
        return self

    def check_divergence(self) -> None:
        """Raise :class:`DivergedError` if the epoch just finished shows a diverged run.

        A run has diverged when either holds at the end of an epoch:

        - its mean training loss is more than 10 times the loss of the run's first iteration
          and more than ``3 ln(C)`` (C classes). An untrained network's loss is about
          ``ln(C)``, the cross-entropy of a uniform guess, and training lowers it; a loss
          that has grown tenfold and is three times worse than guessing means the steps are
          too large. (Compared with the first iteration, not the first epoch, so that a run
          that blew up in its first epoch is caught too.)
        - its test accuracy is back at chance (at most ``1.5 / C``) after an earlier epoch
          reached at least ``3 / C``: the network had learned and has forgotten it.

        A NaN or infinite loss is caught earlier, at the step (:class:`NonFiniteLossError`).
        """
        if not self.train_loss_list or not self.test_acc_list:
            return
        t = self.t_train
        classes = t.shape[1] if t.ndim == 2 else int(max(t.max(), self.t_test.max())) + 1
        classes = max(classes, 2)
        start = self.train_loss_list[0]
        mean = float(np.mean(self.train_loss_list[-self.iter_per_epoch :]))
        where = f"at the end of epoch {self.epoch}"
        lr = f"Try a smaller learning rate than {getattr(self.optimizer, 'lr', '?')}."
        if mean > 10 * start and mean > 3 * math.log(classes):
            raise DivergedError(
                f"the run diverged: {where} the mean training loss is {mean:.4g}, more than 10 "
                f"times the first iteration's {start:.4g} and more than 3 ln({classes}) = "
                f"{3 * math.log(classes):.3g}. {lr}"
            )
        best, last = max(self.test_acc_list[:-1], default=0.0), self.test_acc_list[-1]
        if best >= 3 / classes and last <= 1.5 / classes:
            raise DivergedError(
                f"the run diverged: {where} the test accuracy fell to {last:.4f}, chance for "
                f"{classes} classes, after reaching {best:.4f}. {lr}"
            )

    @contextmanager
    def _workers(self):
        """The worker processes (or MPI ranks) of this run, while it trains (none for 1 worker)."""
        if self.workers == 1 and not self.mpi:
            yield
            return
        t = self.t_train
        pool: DataParallel | MPIDataParallel
        if self.mpi:
            pool = MPIDataParallel(self.network, optimizer=self.optimizer)
        else:
            pool = DataParallel(
                self.network,
                self.workers,
                self.x_train.shape[1:],
                t.shape[1:],
                t.dtype,
                max_rows=max(self.batch_size, _EVAL_ROWS),
                optimizer=self.optimizer,
                start_method=self.start_method,
            )
        with pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None

    def _worker_failed(self, error):
        """A worker died or raised: the parameters are those of the last finished step."""
        if error.partial:  # some slices of the parameters are updated, others not
            return WorkerError(f"{error}; the parameters were half updated, so no checkpoint "
                               "was written (the last one written is intact)")  # fmt: skip
        if self._stop_signal is not None:  # Ctrl-C reached a worker first: an interrupt
            return self._interrupted(self._stop_signal)
        if self.checkpoint_path is None:
            return WorkerError(f"{error} (no checkpoint_path was set)")
        path = self.save_checkpoint(self.checkpoint_path)
        return WorkerError(f"{error}; checkpoint of iteration {self.iteration} written to {path}")

    def _end_of_epoch(self, bar, seconds):
        n = self.evaluate_sample_num_per_epoch
        train_acc = self.accuracy(self.x_train[:n], self.t_train[:n])
        test_acc = self.accuracy(self.x_test[:n], self.t_test[:n])
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        losses = self.train_loss_list[-self.iter_per_epoch :]
        line = (
            f"epoch {self.epoch:>3}/{self.epochs}  loss {np.mean(losses):.4f}  "
            f"train acc {train_acc:.4f}  test acc {test_acc:.4f}  ({seconds:.2f} s)"
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
        if self._pool is not None:
            return self._pool.accuracy(np.asarray(x), np.asarray(t), batch_size)
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


# ---------------------------------------------------------------------- progress and signals


@contextmanager
def _progress(trainer):
    """A tqdm bar over each epoch's iterations on a terminal (None elsewhere or without tqdm)."""
    bar = None
    if trainer.verbose and sys.stderr.isatty():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=trainer.iter_per_epoch, unit="it", leave=True)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def _stop_signals(trainer):
    """Turn SIGINT/SIGTERM into a stop at the next iteration boundary (main thread only).

    The first signal sets ``trainer._stop_signal``; the loop then writes a checkpoint and raises
    :class:`TrainingInterrupted`. A second signal stops at once.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer._stop_signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        trainer._stop_signal = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        trainer._stop_signal = None
