"""N worker processes computing each step: every core computes the gradient of a share of the batch.

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
raises ends the step with :class:`WorkerError` naming it, and so does one that does not answer
within a bound (:data:`~.children.ANSWER_SECONDS`, or :data:`~.children.ANSWER_FACTOR` times the
longest step so far: a stopped or swapped-out process), or within
:data:`~.children.INTERRUPT_SECONDS` of a Ctrl-C (:mod:`.children`). The ``fork``,
``spawn`` and ``forkserver`` start methods all work; the default is
:data:`~.steppers.START_METHOD`, the same on every Python version.

A failed step leaves this process as it was before the step: the parameters (only the update
changes them), the random layers' generators and the running statistics, so a checkpoint
written then resumes bit for bit.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from contextlib import suppress
from multiprocessing import get_context
from typing import Any

import numpy as np

from ..errors import WorkerError
from ..network import as_batch
from .children import Children
from .shards import (
    SharedBlock,
    SharedLayout,
    network_slots,
    shard_bounds,
    shard_step,
    slice_optimizer,
    update_slice,
)
from .steppers import Stepper, resolve_start_method, resolve_workers
from .worker import worker_main

__all__ = ["DataParallel"]


def check_random_layers(network: Any) -> None:
    for name, layer in network.random_layers().items():
        if not hasattr(layer, "shard"):
            raise TypeError(
                f"DataParallel: layer {name!r} ({type(layer).__name__}) draws random numbers "
                "but has no 'shard' attribute, so workers would draw correlated masks; give it "
                "one as Dropout does (draw for the whole batch, keep rows start:stop)"
            )


class DataParallel(Stepper):
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
        multiprocessing's start method; :data:`~.steppers.START_METHOD` when None.
    stop_requested : callable, optional
        ``stop_requested()`` is True once SIGINT/SIGTERM arrived (the Trainer's flag): a wait
        for a worker then ends within :data:`~.children.INTERRUPT_SECONDS`.

    Notes
    -----
    ``network.params[key] = array`` while the pool is open is followed: the new values are
    copied into the shared memory at the next step, and the array itself gets the trained
    values back on exit. The same holds for the optimizer's state (``optimizer.v[key] = ...``,
    ``optimizer.load_state_dict(...)``) and its hyperparameters (``optimizer.lr = ...``),
    which go to every worker with each update.

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
        stop_requested: Callable[[], bool] | None = None,
    ) -> None:
        self.network = network
        self.workers = resolve_workers(workers, "DataParallel")
        if self.workers < 2:
            raise ValueError("DataParallel: needs workers >= 2 (one worker is the plain network)")
        if isinstance(getattr(network, "params", None), list):  # the sequel's models
            raise TypeError(
                f"DataParallel: {type(network).__name__} is one of the sequel's models (params "
                "a list, recurrent state carried between batches); data-parallel training takes "
                "volume 1's networks only"
            )
        check_random_layers(network)
        self.max_rows = int(max_rows)
        self.start_method = resolve_start_method(start_method, "DataParallel")
        self._children = Children(stop_requested or (lambda: False))
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
        self._sliced = bool(getattr(optimizer, "elementwise", False))  # each worker a slice
        self._state_slots: tuple[str, ...] = ()
        if getattr(optimizer, "elementwise", False):
            self._state_slots = tuple(optimizer.slot_names)
        for slot in self._state_slots:
            layout.add(f"state/{slot}", (self._n_params,), dtype)
        self._layout = layout
        self._shm: SharedBlock | None = None
        self._views: dict[str, np.ndarray] = {}
        self._shared: dict[str, np.ndarray] = {}  # each parameter's view of the shared block
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
        SharedBlock.close_lingering()
        shm = SharedBlock(create=True, size=max(self._layout.size, 1))
        self._shm = shm
        try:
            self._views = self._layout.views(shm.buf)
            weights = self._views["weights"]
            for key, array in self._params.items():
                a, b = self._slots[0][key]
                weights[a:b] = array.reshape(-1)
                self._shared[key] = weights[a:b].reshape(array.shape)
                self.network.params[key] = self._shared[key]
            self._publish_buffers()
            self._share_optimizer_state()
            children, parent = self._children, os.getpid()
            children.start(
                get_context(self.start_method),
                self.workers - 1,
                worker_main,
                lambda k: (shm.name, self._layout, self._template(), self.workers, parent),
            )
            # The network goes through the pipe, not the start arguments: multiprocessing
            # writes those while holding the pipe's other end, and so blocks forever when a
            # child dies before reading them (a script without the __main__ guard).
            children.send({k: ("network", self.network) for k in children.ks()}, "while starting")
            children.collect(what="while starting")
        except BaseException:
            self.close()
            raise
        # Every child has mapped the block: its name can go, so nothing is left in /dev/shm
        # whatever happens to this process from now on.
        shm.unlink()

    def close(self) -> None:
        """Stop the children and put the parameters back into the network's own arrays."""
        self._children.close()
        if self._views:
            with suppress(ValueError):  # an assignment of the wrong shape is dropped
                self._follow_params()
            for key, array in self._params.items():
                np.copyto(array, self._shared[key])
                self.network.params[key] = array
            for slot, arrays in self._own_state.items():
                state = getattr(self.optimizer, slot)
                for key, array in arrays.items() if state is not None else ():
                    np.copyto(array, state[key])
                    state[key] = array
        self._views, self._shared, self._own_state, self._slice = {}, {}, {}, None
        for layer in self.network.random_layers().values():
            layer.shard = None
        if self._shm is not None:
            shm, self._shm = self._shm, None
            with suppress(FileNotFoundError):
                shm.unlink()
            shm.close()  # or later, once no view of it is left (SharedBlock)

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
        self._children.check_usable()
        self._follow_params()
        x = as_batch(np.asarray(x), self.network.dtype)
        self._views["x"][:rows] = x
        self._views["t"][:rows] = t
        bounds = shard_bounds(rows, self.workers)
        busy = self._children.ks()  # all: an empty shard still draws Dropout's masks
        rng_state = self.network.get_rng_state()  # the step's start, restored if it fails
        try:
            self._children.send({k: ("step", rows, *bounds[k], train_flg) for k in busy})
            try:
                shard = (rows, *bounds[0])
                shard_step(self.network, 0, shard, train_flg, x, t, self._views, self._slots)
            except BaseException:
                with suppress(WorkerError):  # the children finish their shards; ours is raised
                    self._children.collect(busy)
                raise
            self._children.collect(busy)
        except BaseException:
            # This process drew the step's masks and moved its running statistics: put both
            # back, so that the state is the last finished step's (and a checkpoint resumes it).
            self.network.set_rng_state(rng_state)
            self._restore_buffers()
            raise
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
        if self._sliced and optimizer is self.optimizer:
            self._follow_state()
            # Every hyperparameter goes with every update, so that a learning rate changed
            # between steps (a schedule, a callback, a resume) is the one every worker uses.
            scalars = {**optimizer.hyperparameters, **optimizer.counters}
            children = self._children.ks()
            self._children.send({k: ("update", scalars) for k in children}, "while updating")
            try:
                update_slice(self._own_slice(), scalars, grads)
            except BaseException:
                with suppress(WorkerError):
                    self._children.collect(children, "while updating")
                raise
            self._children.collect(children, "while updating")
            for name in optimizer.counter_names:  # Adam's step count moves on as in one process
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
        for slot in self._state_slots:
            self._own_state[slot] = {}
        self._follow_state()

    def _follow_state(self) -> None:
        """Put the optimizer's per-parameter state into shared memory where it is not there.

        At the start, and after a user replaced a state array or dict (``load_state_dict``):
        the values are copied in, and the array replaced gets them back on exit.
        """
        for slot in self._state_slots:
            state = self.optimizer.slot(slot, self._shared)  # zeros where none, as step 1 would
            shared = self._views[f"state/{slot}"]
            for key, (a, b) in self._slots[0].items():
                view = shared[a:b].reshape(self._shared[key].shape)
                if state[key] is not view:
                    np.copyto(view, state[key])
                    self._own_state[slot][key] = state[key]
                    state[key] = view

    def _follow_params(self) -> None:
        """Copy a parameter assigned while the pool is open (``params[key] = new``) into shared
        memory, where the workers see it; the network gets the shared view back."""
        for key, view in self._shared.items():
            current = self.network.params[key]
            if current is view:
                continue
            if getattr(current, "shape", None) != view.shape or not isinstance(current, np.ndarray):
                self.network.params[key] = view
                raise ValueError(
                    f"DataParallel: network.params[{key!r}] was replaced by a "
                    f"{type(current).__name__} of shape {getattr(current, 'shape', None)} while "
                    f"the workers train it; a parameter keeps its shape {view.shape} (assign a "
                    "NumPy array of that shape, or close the pool first)"
                )
            np.copyto(view, current)
            if current.dtype == view.dtype:
                self._params[key] = current  # the array the network gets back on exit
            self.network.params[key] = view

    def _restore_buffers(self) -> None:
        """The running statistics as the last finished step left them (kept in shared memory)."""
        shared = self._views["buffers"]
        for key, array in self._buffers.items():
            a, b = self._slots[1][key]
            np.copyto(array, shared[a - self._n_params : b - self._n_params].reshape(array.shape))

    def _template(self) -> Any:
        """A state-less copy of the optimizer for the children (their state is the shared one)."""
        if not self._sliced:
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
        self._children.check_usable()
        self._follow_params()
        out = np.empty(len(x), np.intp)
        labels = self._views["labels"]
        for start in range(0, len(x), batch_size):
            chunk = as_batch(np.asarray(x[start : start + batch_size]), self.network.dtype)
            rows = len(chunk)
            self._views["x"][:rows] = chunk
            bounds = shard_bounds(rows, self.workers)
            busy = [k for k in self._children.ks() if bounds[k][1] > bounds[k][0]]
            messages = {k: ("predict", rows, *bounds[k], False) for k in busy}
            self._children.send(messages, "while predicting")
            try:
                lo, hi = bounds[0]
                if hi > lo:
                    labels[lo:hi] = np.argmax(self.network.predict(chunk[lo:hi], False), axis=1)
            except BaseException:
                with suppress(WorkerError):
                    self._children.collect(busy)
                raise
            self._children.collect(busy, "while predicting")
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
