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
import sys
import threading
import traceback
from contextlib import contextmanager, suppress
from multiprocessing import connection, get_context
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
import numpy.typing as npt

from ._blas import blas_threads
from ._checks import check_number, quiet
from .network import as_batch

__all__ = ["DataParallel", "WorkerError", "available_cores", "resolve_workers"]

_ALIGN = 64  # bytes: every array in the shared block starts on a cache line
_POLL_SECONDS = 1.0  # how often an idle child checks that its parent is alive


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


def _shard_bounds(rows: int, shards: int) -> list[tuple[int, int]]:
    """Split ``rows`` into ``shards`` contiguous ranges whose sizes differ by at most one.

    The larger ranges come first, so the first (this process's) is empty only if ``rows`` is 0.
    """
    sizes = [rows // shards + (k < rows % shards) for k in range(shards)]
    edges = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return list(zip(edges[:-1], edges[1:], strict=True))


class _Layout:
    """Offsets of the arrays in the one shared-memory block (picklable, for spawn)."""

    def __init__(self) -> None:
        self.size = 0
        self.entries: dict[str, tuple[int, tuple[int, ...], str]] = {}

    def add(self, name: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.size = -(-self.size // _ALIGN) * _ALIGN
        self.entries[name] = (self.size, tuple(shape), np.dtype(dtype).str)
        self.size += int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize

    def views(self, buffer: Any) -> dict[str, np.ndarray]:
        return {
            name: np.ndarray(shape, dtype=np.dtype(dtype), buffer=buffer, offset=offset)
            for name, (offset, shape, dtype) in self.entries.items()
        }


def _flat_slots(arrays: dict[str, np.ndarray]) -> tuple[dict[str, tuple[int, int]], int]:
    """``{key: (start, stop)}`` of each array in one flat vector, and the vector's length."""
    slots, start = {}, 0
    for key, array in arrays.items():
        slots[key] = (start, start + array.size)
        start += array.size
    return slots, start


def _network_slots(network: Any) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Each parameter's ``(start, stop)`` in the flat gradient row, then each buffer."""
    params, n = _flat_slots(dict(network.params.items()))
    buffers, _ = _flat_slots(dict(network.buffers.items()))
    return params, {key: (a + n, b + n) for key, (a, b) in buffers.items()}


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
        self.network = network
        self.workers = resolve_workers(workers, "DataParallel")
        if self.workers < 2:
            raise ValueError("DataParallel: needs workers >= 2 (one worker is the plain network)")
        _check_random_layers(network)
        self.max_rows = int(max_rows)
        self.start_method = start_method
        self._params = dict(network.params.items())
        self._buffers = dict(network.buffers.items())
        self._slots = _network_slots(network)
        self._n_params = sum(array.size for array in self._params.values())
        n_buffers = sum(array.size for array in self._buffers.values())
        dtype = network.dtype
        layout = _Layout()
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
                target=_worker_main,
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
        bounds = _shard_bounds(rows, self.workers)
        busy = list(range(1, self.workers))  # all: an empty shard still draws Dropout's masks
        self._send({k: ("step", rows, *bounds[k], train_flg) for k in busy})
        try:
            _shard_step(
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
                _update_slice(self._own_slice(), counters, grads)
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
            self._slice = _slice_optimizer(
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
            bounds = _shard_bounds(rows, self.workers)
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


def _shard_step(network, k, shard, train_flg, x, t, views, slots):
    """Worker ``k``'s share of a step: ``n_k / B`` times its loss and gradients into shared rows.

    ``shard`` is ``(B, start, stop)``; ``slots`` gives each parameter's and buffer's range in
    the flat gradient row (buffers follow the parameters: their weighted sum is the average of
    the workers' running statistics).
    """
    rows, lo, hi = shard
    weight = (hi - lo) / rows
    if hi == lo:  # fewer rows than workers: compute row 0 with weight 0, so that Dropout's
        lo, hi = 0, 1  # generator moves on as in every other replica
    random_layers = network.random_layers().values()
    for layer in random_layers:
        layer.shard = (rows, lo, hi)
    try:
        with quiet():
            loss, grads = network.loss_and_gradient(x[lo:hi], t[lo:hi], train_flg)
    finally:
        for layer in random_layers:
            layer.shard = None
    row = views["grads"][k]
    param_slots, buffer_slots = slots
    for key, grad in grads.items():
        a, b = param_slots[key]
        np.multiply(grad.reshape(-1), weight, out=row[a:b], casting="unsafe")
    for key, array in network.buffers.items():
        a, b = buffer_slots[key]
        np.multiply(array.reshape(-1), weight, out=row[a:b], casting="unsafe")
    views["losses"][k] = float(loss) * weight


def _slice_optimizer(template, views, param_slots, k, workers):
    """Worker ``k``'s share of the update: ``(optimizer, params, ranges)`` over its slice.

    The slice is the ``k``-th of ``workers`` nearly equal ranges of the flat parameter vector;
    ``params`` holds the pieces of each parameter inside it (1-D views of the shared weights),
    the optimizer's state is the same pieces of the shared state, and ``ranges`` gives each
    piece's place in a gradient row. An element-wise rule updates the pieces exactly as it
    would the whole arrays.
    """
    lo, hi = _shard_bounds(views["weights"].size, workers)[k]
    optimizer = copy.copy(template)
    params, ranges = {}, {}
    state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in template._slots}
    for key, (a, b) in param_slots.items():
        start, stop = max(a, lo), min(b, hi)
        if start < stop:
            ranges[key] = (start, stop)
            params[key] = views["weights"][start:stop]
            for slot in state:
                state[slot][key] = views[f"state/{slot}"][start:stop]
    for slot, arrays in state.items():
        setattr(optimizer, slot, arrays)
    return optimizer, params, ranges


def _update_slice(piece, counters, grads):
    """Sum the gradient rows over one slice and apply the optimizer's rule to it."""
    optimizer, params, ranges = piece
    for name, value in counters.items():
        setattr(optimizer, name, value)
    summed = {key: np.sum(grads[:, a:b], axis=0) for key, (a, b) in ranges.items()}
    optimizer.update(params, summed)  # an empty slice still moves the counters on


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


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def _worker_main(k, conn, shm_name, layout, network, template, workers, parent_pid):
    """A child's loop: wait for a message, compute its shard, answer; exit with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    _die_with_parent()
    if os.getppid() != parent_pid:
        return
    shm = SharedMemory(name=shm_name)
    views = layout.views(shm.buf)
    weights, shared_buffers = views["weights"], views["buffers"]
    slots = _network_slots(network)
    param_slots, buffer_slots = slots
    n_params = weights.size
    for key, (a, b) in param_slots.items():
        network.params[key] = weights[a:b].reshape(network.params[key].shape)
    buffers = dict(network.buffers.items())
    piece = None if template is None else _slice_optimizer(template, views, param_slots, k, workers)
    try:
        conn.send(("ok",))
        with blas_threads(1):
            while True:
                while not conn.poll(_POLL_SECONDS):
                    if os.getppid() != parent_pid:
                        return
                try:
                    message = conn.recv()
                except EOFError:
                    return
                if message is None:
                    return
                try:
                    if message[0] == "update":
                        _update_slice(piece, message[1], views["grads"])
                        conn.send(("ok",))
                        continue
                    kind, rows, lo, hi, train_flg = message
                    for key, array in buffers.items():
                        a, b = buffer_slots[key]
                        array.reshape(-1)[:] = shared_buffers[a - n_params : b - n_params]
                    x, t = views["x"][:rows], views["t"][:rows]
                    if kind == "step":
                        _shard_step(network, k, (rows, lo, hi), train_flg, x, t, views, slots)
                    else:
                        scores = network.predict(x[lo:hi], False)
                        views["labels"][lo:hi] = np.argmax(scores, axis=1)
                    conn.send(("ok",))
                except Exception:
                    conn.send(("error", traceback.format_exc()))
    finally:
        del views, weights, shared_buffers, piece
        try:
            shm.close()
        except BufferError:
            pass
