"""The same data-parallel step over MPI: one process per rank, on one machine or many.

Started by ``mpiexec -n N python -m layerwise train --mpi ...`` (or any script that gives
:class:`~layerwise.training.Trainer` ``workers="mpi"``). Every rank holds a whole replica of the
network and reads the same data in the same seeded order; rank ``r`` computes shard ``r`` of each
minibatch with :func:`~layerwise.parallel.shards.shard_step`, the step the worker processes of
:class:`~layerwise.parallel.DataParallel` compute, into one flat row

    [ (n_r / B) * dL_r/dW  for every parameter | (n_r / B) * running statistics | (n_r / B) L_r ],

and one ``Allreduce`` (sum) of that row gives every rank the gradient of the whole minibatch,
the shard-averaged running statistics and the minibatch's loss. Every rank then applies the full
optimizer step to the same numbers, so the replicas stay identical without sending a weight.
Dropout and BatchNorm behave as with ``workers=N``: masks do not depend on the number of ranks,
BatchNorm normalises each shard with its own statistics.

An exception on one rank alone (not a stop or a divergence, which every rank reaches at the
same iteration) would leave the others waiting in the next collective: leaving the stepper with
one prints the rank's whole message and ends every rank with ``MPI_Abort`` (:func:`abort`).

mpi4py is imported here only, and only when a run asks for MPI.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any, NoReturn

import numpy as np

from ..errors import DivergedError, MissingExtraError
from ..network import as_batch
from .processes import check_random_layers
from .shards import network_slots, shard_bounds, shard_step
from .steppers import Stepper

__all__ = ["MPI_INSTALL", "MPIDataParallel", "abort", "world"]

#: What to install for ``--mpi`` (mpich's wheel brings the MPI library and ``mpiexec``).
MPI_INSTALL = 'pip install "layerwise[mpi]" mpich'


def world() -> Any:
    """mpi4py's ``MPI.COMM_WORLD``: every process ``mpiexec`` started.

    Raises
    ------
    MissingExtraError
        When mpi4py is not installed (an ImportError), saying what to install.
    """
    try:
        from mpi4py import MPI
    except ImportError:
        raise MissingExtraError(
            f"MPI training needs mpi4py and an MPI library, which are not installed: "
            f"{MPI_INSTALL}; then run: mpiexec -n N python -m layerwise train --mpi ..."
        ) from None
    comm = MPI.COMM_WORLD
    if not _unlinked:
        _unlinked.append(True)
        comm.Barrier()  # every rank has finished MPI_Init: each has mapped its node's segment
        unlink_shared_segments()
    return comm


_unlinked: list[bool] = []


def unlink_shared_segments() -> None:
    """Remove the names of the shared-memory segments MPICH mapped into this process.

    MPICH's ranks on one machine share a segment ``/dev/shm/mpich_shm_*`` that it removes in
    ``MPI_Finalize``; a job that ends otherwise (``MPI_Abort``, a rank killed) leaves it behind,
    2 MB each time. Once every rank has mapped it the name is not needed (the memory stays
    until the last rank unmaps it), so it goes at once, as layerwise's own workers' block
    does. Linux only (``/proc/self/maps``); elsewhere nothing is done.
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = {
                line.split(None, 5)[-1].strip().removesuffix(" (deleted)")
                for line in maps
                if "/dev/shm/mpich_shm_" in line
            }
    except OSError:
        return
    for path in paths:
        try:
            os.unlink(path)
        except OSError:  # removed by another rank already
            pass


def _unread(fd: int) -> int:
    """Bytes written to the pipe ``fd`` and not yet read at its other end (0 if not a pipe)."""
    try:
        import array
        import fcntl
        import termios

        count = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, count)
        return int(count[0])
    except (ImportError, OSError, ValueError):
        return 0


def write_whole(text: str, stream: Any = None, wait: float = 5.0) -> None:
    """Write ``text`` to ``stream`` (stderr) and wait, at most ``wait`` s, until it has been read.

    ``mpiexec`` forwards each rank's output through a pipe, and ``MPI_Abort`` ends the process
    that forwards it: a message still in the pipe then never reaches the user. So the message is
    written in one piece, and the pipe watched until the forwarder has read it.
    """
    stream = sys.stderr if stream is None else stream
    try:
        stream.flush()
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured): write and go
        stream.write(text)
        return
    data = text.encode(errors="replace")
    while data:
        data = data[os.write(fd, data) :]
    deadline = time.monotonic() + wait
    while _unread(fd) and time.monotonic() < deadline:
        time.sleep(0.01)


def abort(comm: Any, error: BaseException, code: int = 1) -> NoReturn:
    """End every rank of ``comm``'s job because of ``error`` on this one, saying so whole.

    Prints ``layerwise: rank R of N failed:`` and the traceback (:func:`write_whole`), then
    ``comm.Abort(code)``: no rank is left waiting in a collective for this one.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    write_whole(f"layerwise: rank {rank} of {size} failed:\n{''.join(lines)}")
    unlink_shared_segments()  # any made since MPI_Init
    comm.Abort(code)
    raise SystemExit(code)  # not reached: Abort ends this process


class MPIDataParallel(Stepper):
    """The ranks of an MPI communicator computing one network's gradients, a shard each.

    The interface the Trainer uses of :class:`~layerwise.parallel.DataParallel`: :meth:`step`,
    :meth:`update`, :meth:`predicted_labels`, :meth:`accuracy`, and a context manager.

    Parameters
    ----------
    network : Sequential
        The same network (same architecture, same initial weights) on every rank.
    optimizer : Optimizer, optional
        What :meth:`update` applies when given none; any object with ``update(params, grads)``.
    comm : mpi4py.MPI.Comm, optional
        ``MPI.COMM_WORLD`` when None.
    """

    def __init__(self, network: Any, *, optimizer: Any = None, comm: Any = None) -> None:
        self.comm = world() if comm is None else comm  # world() says what to install
        from mpi4py import MPI

        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.workers = self.size
        self.network = network
        self.optimizer = optimizer
        self._sum, self._max = MPI.SUM, MPI.MAX
        check_random_layers(network)  # each rank keeps its rows of the whole batch's masks
        self._slots = network_slots(network)
        width = sum(array.size for array in [*network.params.values(), *network.buffers.values()])
        # One row: the weighted gradients and buffers, then the weighted loss (in the network's
        # dtype: the loss is computed in it anyway). shard_step writes row k of views["grads"].
        self._mine = np.zeros((1, width + 1), network.dtype)
        self._summed = np.zeros(width + 1, network.dtype)
        self._loss = np.zeros(1, np.float64)
        self._ready = False

    def __enter__(self) -> MPIDataParallel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
        error = exc[1] if len(exc) > 1 else None
        # Every rank reaches a stop (agreed_stop) and a divergence (the same loss everywhere)
        # at the same iteration; anything else happened on this rank alone: end the job.
        if isinstance(error, Exception) and not isinstance(error, DivergedError):
            abort(self.comm, error)

    def close(self) -> None:
        """Nothing to stop: the ranks are mpiexec's. Random layers go back to whole batches."""
        for layer in self.network.random_layers().values():
            layer.shard = None

    def step(self, x: np.ndarray, t: np.ndarray, train_flg: bool = True) -> float:
        """Loss of the minibatch ``(x, t)`` (the same on every rank); its gradient is then ready.

        Parameters
        ----------
        x : ndarray, shape (B, ...)
            The whole minibatch, the same on every rank (this rank computes its shard).
        t : ndarray, shape (B,) or (B, C)
        train_flg : bool, default True

        Returns
        -------
        float
            The mean loss over the ``B`` rows (plus weight decay), as ``network.loss`` gives.
        """
        rows = len(x)
        x = as_batch(np.asarray(x), self.network.dtype)
        views = {"grads": self._mine, "losses": self._loss}
        shard = (rows, *shard_bounds(rows, self.size)[self.rank])
        shard_step(self.network, 0, shard, train_flg, x, t, views, self._slots)
        self._mine[0, -1] = self._loss[0]
        # Sum over ranks: sum_r (n_r / B) g_r is the gradient of the whole minibatch.
        self.comm.Allreduce(self._mine[0], self._summed, op=self._sum)
        self._ready = True
        return float(self._summed[-1])

    def update(self, optimizer: Any = None) -> None:
        """Apply the optimizer to the summed gradients and set the averaged running statistics.

        Every rank does the same, on the same numbers, so the replicas stay equal.
        """
        if not self._ready:
            raise RuntimeError("MPIDataParallel.update: call step() first")
        self._ready = False
        optimizer = self.optimizer if optimizer is None else optimizer
        params, summed = self.network.params, self._summed
        grads = {
            key: summed[a:b].reshape(params[key].shape) for key, (a, b) in self._slots[0].items()
        }
        optimizer.update(params, grads)
        for key, array in self.network.buffers.items():
            a, b = self._slots[1][key]
            array[...] = summed[a:b].reshape(array.shape)

    def agreed_stop(self, signum: int | None) -> int | None:
        """The stop signal any rank has received (the largest number), or None: all stop together.

        mpiexec passes a Ctrl-C on to every rank, but not at the same instant; agreeing at each
        iteration's start makes every rank stop at the same one instead of one waiting forever
        in the next step's ``Allreduce``.
        """
        mine = np.array([signum or 0], np.int64)
        agreed = np.zeros(1, np.int64)
        self.comm.Allreduce(mine, agreed, op=self._max)
        return int(agreed[0]) or None

    def predicted_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The class scored highest for every row of ``x``; each rank predicts a share.

        Returns
        -------
        ndarray of int64, shape (N,)
            The same on every rank.
        """
        bounds = shard_bounds(len(x), self.size)
        lo, hi = bounds[self.rank]
        mine = np.zeros(hi - lo, np.int64)
        for start in range(lo, hi, batch_size):
            chunk = as_batch(np.asarray(x[start : min(start + batch_size, hi)]), self.network.dtype)
            scores = self.network.predict(chunk, False)
            mine[start - lo : start - lo + len(chunk)] = np.argmax(np.asarray(scores), axis=1)
        out = np.zeros(len(x), np.int64)
        counts = [b - a for a, b in bounds]
        self.comm.Allgatherv(mine, [out, counts])
        return out

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> float:
        """The fraction of rows of ``x`` whose predicted class is ``t``'s (labels or one-hot)."""
        t = np.asarray(t)
        labels = np.argmax(t, axis=1) if t.ndim == 2 else t
        return float(np.mean(self.predicted_labels(x, batch_size) == labels))
