"""Data-parallel training on N processes: every core computes the gradient of a share of the batch.

NumPy runs its element-wise work on one core, so one process cannot use a whole machine. Here
a minibatch of ``B`` rows is split into ``N`` shards; worker ``k`` computes the gradient of the
loss over its ``n_k`` rows, and the gradient of the whole minibatch is their weighted sum

    dL/dW = sum_k (n_k / B) * dL_k/dW,

because the book's loss is the mean over the rows (and the weight-decay term, the same in every
shard, is weighted back to itself). Nothing about the mathematics changes with ``N``: only the
order of floating-point additions does.

How the work is laid out:

- the calling process is worker 0; ``N - 1`` child processes are the others (so ``workers=2``
  starts one child);
- every parameter lives in one shared-memory block, viewed by each worker's copy of the
  network, so the children always compute with the current weights and nothing is sent per step
  but the shard's bounds; the minibatch itself is written once into shared memory;
- each worker writes ``(n_k / B) * grad`` into its own row of a shared gradient block; then
  every worker sums the rows over its own slice of the flat parameter vector and applies the
  optimizer's element-wise rule to that slice, whose state also lives in shared memory (a
  reduce-scatter), so no process sums or updates more than ``1 / N`` of a large layer;
- Dropout draws the mask of the whole minibatch in every worker and keeps its shard's rows
  (every replica's generator stays in step), so masks, and so a run, do not depend on ``N``;
- BatchNormalization normalises each shard with the shard's own statistics, as PyTorch's
  ``DistributedDataParallel`` does without SyncBatchNorm; its running statistics are the
  shard-weighted average of the workers' updates, identical in every replica and in saved files.
  (The running mean is then the one of the whole batch; the running variance misses the
  spread between shard means.) So with BatchNorm a step depends on ``N``; without it, it does
  not.

Safety: children ignore SIGINT (a Ctrl-C reaches the whole process group; the parent stops
once), die with their parent (``PR_SET_PDEATHSIG`` on Linux, and a check of the parent's pid
every second everywhere), and the shared-memory name is removed as soon as every child has
attached, so even a SIGKILL of the parent leaves nothing in ``/dev/shm``. A child that dies or
raises ends the step with :class:`WorkerError` naming it, never a hang. Both the ``fork`` and
``spawn`` start methods work (macOS and Windows use spawn).
"""

from __future__ import annotations

import copy
import os
import signal
import threading
from contextlib import contextmanager, suppress
from multiprocessing import connection, get_context
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

from .._checks import check_number
from ..network import as_batch
from .shards import (
    SharedLayout,
    network_slots,
    shard_bounds,
    shard_step,
    slice_optimizer,
    update_slice,
)
from .worker import worker_main

__all__ = ["DataParallel", "WorkerError", "available_cores", "resolve_workers"]


class WorkerError(RuntimeError):
    """A worker process died or raised; the message names it and says why.

    ``partial`` is True when it happened while the workers were updating their slices of the
    parameters: the state is then half old, half new, and not worth saving.
    """

    partial = False


def available_cores() -> int:
    """The number of CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | str, owner: str = "workers") -> int:
    """``workers`` as a positive int: ``'auto'`` is :func:`available_cores`."""
    if isinstance(workers, str):
        if workers.strip().lower() == "auto":
            return available_cores()
        raise ValueError(f"{owner}: workers must be a positive int or 'auto', got {workers!r}")
    return int(check_number(workers, owner, "workers", low=1, integer=True))


def _check_random_layers(network: Any) -> None:
    for name, layer in network.random_layers().items():
        if not hasattr(layer, "shard"):
            raise TypeError(
                f"DataParallel: layer {name!r} ({type(layer).__name__}) draws random numbers "
                "but has no 'shard' attribute, so workers would draw correlated masks; give it "
                "one as Dropout does (draw for the whole batch, keep rows start:stop)"
            )


class DataParallel:
    """``workers`` processes computing one network's gradients, each on a share of the batch.

    Use it as a context manager; :class:`~layerwise.training.Trainer` does so when given
    ``workers > 1``. While it is open the network's parameters live in shared memory (the same
    array objects are restored, with the trained values, on exit).

    Parameters
    ----------
    network : Sequential
        Any layerwise network (its ``params``, ``buffers``, ``loss_and_gradient``, ``predict``).
    workers : int
        Processes in all, the calling one included (>= 2).
    sample_shape : tuple of int
        The shape of one input row (``(784,)``, ``(1, 28, 28)``).
    label_shape : tuple of int
        The shape of one label: ``()`` for class indices, ``(C,)`` for one-hot rows.
    label_dtype : dtype
    max_rows : int
        The largest batch that :meth:`step` or :meth:`predicted_labels` will be given at once.
    optimizer : Optimizer, optional
        The optimizer :meth:`update` will be given. An element-wise one (every layerwise
        optimizer: ``elementwise = True``) keeps its state in shared memory while the pool is
        open, and each worker updates its slice of the parameters; any other object with
        ``update(params, grads)`` is applied here to the summed gradients.
    start_method : {'fork', 'spawn', 'forkserver'}, optional
        multiprocessing's start method; the platform's default when None.

    Examples
    --------
    >>> import numpy as np
    >>> from layerwise import TwoLayerNet, optimizers
    >>> net = TwoLayerNet(4, 8, 3, seed=0)
    >>> x, t = np.random.default_rng(0).random((10, 4)), np.arange(10) % 3
    >>> sgd = optimizers.SGD(lr=0.1)
    >>> with DataParallel(net, 2, (4,), (), t.dtype, max_rows=10, optimizer=sgd) as pool:
    ...     loss = pool.step(x, t)
    ...     pool.update(sgd)
    >>> bool(np.isfinite(loss))
    True
    """

    def __init__(
        self,
        network: Any,
        workers: int,
        sample_shape: tuple[int, ...],
        label_shape: tuple[int, ...],
        label_dtype: Any,
        max_rows: int,
        *,
        optimizer: Any = None,
        start_method: str | None = None,
    ) -> None:
        if isinstance(getattr(network, "params", None), list):  # the sequel's models
            raise TypeError(
                f"DataParallel: {type(network).__name__} is one of the sequel's models (params "
                "a list, recurrent state carried between batches); data-parallel training takes "
                "volume 1's networks only"
            )
        self.network = network
        self.workers = resolve_workers(workers, "DataParallel")
        if self.workers < 2:
            raise ValueError("DataParallel: needs workers >= 2 (one worker is the plain network)")
        _check_random_layers(network)
        self.max_rows = int(max_rows)
        self.start_method = start_method
        self._params = dict(network.params.items())
        self._buffers = dict(network.buffers.items())
        self._slots = network_slots(network)
        self._n_params = sum(array.size for array in self._params.values())
        n_buffers = sum(array.size for array in self._buffers.values())
        dtype = network.dtype
        layout = SharedLayout()
        layout.add("weights", (self._n_params,), dtype)
        layout.add("buffers", (n_buffers,), dtype)
        layout.add("grads", (self.workers, self._n_params + n_buffers), dtype)
        layout.add("losses", (self.workers,), np.float64)
        layout.add("x", (self.max_rows, *sample_shape), dtype)
        layout.add("t", (self.max_rows, *label_shape), label_dtype)
        layout.add("labels", (self.max_rows,), np.intp)
        self.optimizer = optimizer
        self._state_slots: tuple[str, ...] = ()
        if getattr(optimizer, "elementwise", False):
            self._state_slots = tuple(optimizer._slots)
        for slot in self._state_slots:
            layout.add(f"state/{slot}", (self._n_params,), dtype)
        self._layout = layout
        self._shm: SharedMemory | None = None
        self._views: dict[str, np.ndarray] = {}
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        self._own_state: dict[str, dict[str, np.ndarray]] = {}  # restored on close
        self._slice: tuple[Any, dict[str, np.ndarray], dict[str, tuple[int, int]]] | None = None
        self._ready = False  # step() has left gradients for update()

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> DataParallel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Move the parameters into shared memory and start the child processes."""
        shm = SharedMemory(create=True, size=max(self._layout.size, 1))
        self._shm = shm
        try:
            self._views = self._layout.views(shm.buf)
            weights = self._views["weights"]
            for key, array in self._params.items():
                a, b = self._slots[0][key]
                weights[a:b] = array.reshape(-1)
                self.network.params[key] = weights[a:b].reshape(array.shape)
            self._publish_buffers()
            self._share_optimizer_state()
            ctx = get_context(self.start_method)
            with _sigint_ignored():  # inherited: a child started by spawn ignores Ctrl-C at once
                self._start_children(ctx, shm.name)
            self._collect(what="while starting")
        except BaseException:
            self.close()
            raise
        # Every child has mapped the block: its name can go, so nothing is left in /dev/shm
        # whatever happens to this process from now on.
        shm.unlink()

    def _start_children(self, ctx: Any, shm_name: str) -> None:
        for k in range(1, self.workers):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main,
                args=(
                    k,
                    child_end,
                    shm_name,
                    self._layout,
                    self.network,
                    self._template(),
                    self.workers,
                    os.getpid(),
                ),  # fmt: skip
                name=f"layerwise-worker-{k}",
                daemon=True,
            )
            proc.start()
            child_end.close()
            self._procs.append(proc)
            self._conns.append(parent_end)

    def close(self) -> None:
        """Stop the children and put the parameters back into the network's own arrays."""
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []
        if self._views:
            for key, array in self._params.items():
                np.copyto(array, self.network.params[key])
                self.network.params[key] = array
            for slot, arrays in self._own_state.items():
                state = getattr(self.optimizer, slot)
                for key, array in arrays.items():
                    np.copyto(array, state[key])
                    state[key] = array
        self._views, self._own_state, self._slice = {}, {}, None
        for layer in self.network.random_layers().values():
            layer.shard = None
        if self._shm is not None:
            shm, self._shm = self._shm, None
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
            try:
                shm.close()
            except BufferError:  # a caller still holds a view; the mapping goes with it
                pass

    # ------------------------------------------------------------------ training

    def step(self, x: np.ndarray, t: np.ndarray, train_flg: bool = True) -> float:
        """Loss of the minibatch ``(x, t)``; its gradient is then ready for :meth:`update`.

        Parameters
        ----------
        x : ndarray, shape (B, *sample_shape)
            In the network's dtype (or uint8 images, scaled by 1/255 here).
        t : ndarray, shape (B,) or (B, C)
        train_flg : bool, default True

        Returns
        -------
        float
            The mean loss over the ``B`` rows (plus weight decay), as ``network.loss`` gives.
        """
        rows = len(x)
        if not 0 < rows <= self.max_rows:
            raise ValueError(f"DataParallel.step: a batch of 1 to {self.max_rows} rows, got {rows}")
        x = as_batch(np.asarray(x), self.network.dtype)
        self._views["x"][:rows] = x
        self._views["t"][:rows] = t
        bounds = shard_bounds(rows, self.workers)
        busy = list(range(1, self.workers))  # all: an empty shard still draws Dropout's masks
        self._send({k: ("step", rows, *bounds[k], train_flg) for k in busy})
        try:
            shard_step(
                self.network, 0, (rows, *bounds[0]), train_flg, x, t, self._views, self._slots
            )
        except BaseException:
            with suppress(WorkerError):  # the children finish their shards; the error is ours
                self._collect(busy)
            raise
        self._collect(busy)
        self._ready = True
        return float(np.sum(self._views["losses"]))

    def update(self, optimizer: Any = None) -> None:
        """Sum the workers' gradients and apply the optimizer's step.

        With the element-wise optimizer the pool was built with, every worker sums the
        gradient rows over its slice of the flat parameter vector and updates that slice (a
        reduce-scatter: no process sums or updates more than its share). Any other optimizer
        gets the summed gradients here, in one call.

        Raises
        ------
        WorkerError
            A worker died or raised while updating its slice; ``error.partial`` is True: some
            slices are updated and others not, so this state should not be saved.
        """
        if not self._ready:
            raise RuntimeError("DataParallel.update: call step() first")
        self._ready = False
        optimizer = self.optimizer if optimizer is None else optimizer
        grads = self._views["grads"]
        if self._state_slots and optimizer is self.optimizer:
            counters = {name: getattr(optimizer, name) for name in optimizer._counters}
            children = list(range(1, self.workers))
            self._send({k: ("update", counters) for k in children}, "while updating")
            try:
                update_slice(self._own_slice(), counters, grads)
            except BaseException:
                with suppress(WorkerError):
                    self._collect(children, "while updating")
                raise
            self._collect(children, "while updating")
            for name in counters:  # Adam's step count moves on as in one process
                setattr(optimizer, name, getattr(self._own_slice()[0], name))
        else:
            summed = np.sum(grads[:, : self._n_params], axis=0)
            whole = {
                key: summed[a:b].reshape(self._params[key].shape)
                for key, (a, b) in self._slots[0].items()
            }
            optimizer.update(self.network.params, whole)
        if self._buffers:
            n = self._n_params
            mean = self._views["buffers"]
            np.sum(grads[:, n:], axis=0, out=mean)
            for key, array in self._buffers.items():
                a, b = self._slots[1][key]
                np.copyto(array, mean[a - n : b - n].reshape(array.shape))

    def _share_optimizer_state(self) -> None:
        """Move the optimizer's per-parameter state into shared memory (its arrays kept aside)."""
        if not self._state_slots:
            return
        params = dict(self.network.params.items())
        for slot in self._state_slots:
            state = self.optimizer._state(slot, params)  # zeros where it has none, as step 1 would
            shared = self._views[f"state/{slot}"]
            self._own_state[slot] = dict(state)
            for key, (a, b) in self._slots[0].items():
                shared[a:b] = state[key].reshape(-1)
                state[key] = shared[a:b].reshape(params[key].shape)

    def _template(self) -> Any:
        """A state-less copy of the optimizer for the children (their state is the shared one)."""
        if not self._state_slots:
            return None
        template = copy.copy(self.optimizer)
        for slot in self._state_slots:
            setattr(template, slot, None)
        return template

    def _own_slice(self) -> tuple[Any, dict[str, np.ndarray], dict[str, tuple[int, int]]]:
        if self._slice is None:
            self._slice = slice_optimizer(
                self._template(), self._views, self._slots[0], 0, self.workers
            )
        return self._slice

    # ------------------------------------------------------------------ inference

    def predicted_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The class scored highest for every row of ``x``, in inference mode, split over workers.

        Returns
        -------
        ndarray of intp, shape (N,)
        """
        batch_size = min(int(batch_size), self.max_rows)
        out = np.empty(len(x), np.intp)
        labels = self._views["labels"]
        for start in range(0, len(x), batch_size):
            chunk = as_batch(np.asarray(x[start : start + batch_size]), self.network.dtype)
            rows = len(chunk)
            self._views["x"][:rows] = chunk
            bounds = shard_bounds(rows, self.workers)
            busy = [k for k in range(1, self.workers) if bounds[k][1] > bounds[k][0]]
            self._send({k: ("predict", rows, *bounds[k], False) for k in busy}, "while predicting")
            try:
                lo, hi = bounds[0]
                if hi > lo:
                    labels[lo:hi] = np.argmax(self.network.predict(chunk[lo:hi], False), axis=1)
            except BaseException:
                with suppress(WorkerError):
                    self._collect(busy)
                raise
            self._collect(busy, "while predicting")
            out[start : start + rows] = labels[:rows]
        return out

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> float:
        """The fraction of rows of ``x`` whose predicted class is ``t``'s (labels or one-hot)."""
        t = np.asarray(t)
        if t.ndim == 2:
            t = np.argmax(t, axis=1)
        return float(np.mean(self.predicted_labels(x, batch_size) == t))

    # ------------------------------------------------------------------ messages

    def _publish_buffers(self) -> None:
        shared = self._views["buffers"]
        for key, array in self._buffers.items():
            a, b = self._slots[1][key]
            shared[a - self._n_params : b - self._n_params] = array.reshape(-1)

    def _send(self, messages: dict[int, tuple], what: str = "during a step") -> None:
        """Send each child ``k`` its message; one that is gone raises (after the others answer)."""
        failure, sent = None, []
        for k, message in messages.items():
            try:
                self._conns[k - 1].send(message)
                sent.append(k)
            except OSError:
                failure = failure or self._failure(k, None, what)
        if failure is not None:
            with suppress(WorkerError):
                self._collect(sent, what)
            raise failure

    def _collect(self, ks: list[int] | None = None, what: str = "during a step") -> None:
        """Wait for an answer from children ``ks`` (all by default); a dead or failed one raises.

        Every child asked is waited for, so none is left mid-message; then the first failure is
        raised. A child that ended without answering is seen through its process sentinel.
        """
        waiting = {k: self._conns[k - 1] for k in (range(1, self.workers) if ks is None else ks)}
        failure = None
        while waiting:
            owners: dict[Any, int] = {}
            for k, conn in waiting.items():
                owners[conn] = k
                owners[self._procs[k - 1].sentinel] = k
            for obj in connection.wait(list(owners)):
                k = owners[obj]
                if k not in waiting:
                    continue
                conn = waiting[k]
                if obj is conn or conn.poll():
                    del waiting[k]
                    try:
                        answer = conn.recv()
                    except (EOFError, OSError):
                        answer = None
                    if answer is None or answer[0] == "error":
                        failure = failure or self._failure(k, answer, what)
                else:
                    del waiting[k]
                    failure = failure or self._failure(k, None, what)
        if failure is not None:
            failure.partial = what == "while updating"
            raise failure

    def _failure(self, k: int, answer: Any, what: str) -> WorkerError:
        proc = self._procs[k - 1]
        if answer is not None:
            return WorkerError(f"worker {k} (pid {proc.pid}) raised an error {what}:\n{answer[1]}")
        proc.join(timeout=1)
        code = proc.exitcode
        if code is not None and code < 0:
            why = f"was killed by {signal.Signals(-code).name}"
            if -code == signal.SIGKILL:
                why += " (out of memory, or killed by a user)"
        else:
            why = f"exited with code {code}"
        return WorkerError(f"worker {k} (pid {proc.pid}) {why} {what}")


@contextmanager
def _sigint_ignored():
    """Ignore SIGINT in the body (main thread only; elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
