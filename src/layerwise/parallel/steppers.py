"""One step protocol for every way of computing a step, and the one factory that builds them.

A *stepper* is what the Trainer's loop calls, whatever computes the step:

- ``step(x, t) -> float``: the loss of the minibatch, its gradient kept for ``update``;
- ``update()``: the optimizer's step;
- ``accuracy(x, t, batch_size) -> float`` and ``predicted_labels(x, batch_size)``: inference,
  split the same way as the steps;
- ``agreed_stop(signum) -> int | None``: the stop signal every process agrees on (MPI ranks
  must all stop at one iteration);
- ``workers``: the number of processes computing a step; and a context manager.

:class:`OneProcess` is the book's step in this process, on its CPU or its device;
:class:`~.processes.DataParallel` splits it over N worker processes and
:class:`~.mpi.MPIDataParallel` over MPI ranks. :class:`Steppers` checks what a run asked for
(workers, device, MPI, start method: every refusal is here) and opens the stepper.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import sys
from typing import Any

import numpy as np

from .._checks import InvalidParameterError, check_number, quiet
from ..backend import Device, as_numpy, parse_device
from ..book_style import not_layerwise

__all__ = [
    "START_METHOD",
    "OneProcess",
    "Stepper",
    "Steppers",
    "auto_workers",
    "available_cores",
    "resolve_start_method",
    "resolve_workers",
]

#: The start method of worker processes when none is given, the same on every Python version:
#: 'forkserver' where the platform has it (Linux, macOS; Python 3.14's default on Linux), else
#: 'spawn' (Windows). Both start each worker from a process without threads, which 'fork' of a
#: process with threads (a progress bar's, BLAS's) does not.
START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)


#: Worker processes are named ``layerwise-worker-K``.
WORKER_NAME = "layerwise-worker-"
#: The exit status of a worker that found itself re-running a script without the main guard.
UNGUARDED_EXIT = 75


def refuse_in_bootstrapping(owner: str) -> None:
    """End a worker that is importing the user's script and finds it training at import.

    spawn and forkserver start a worker by importing the script that started training, as
    module ``__mp_main__``; a script without ``if __name__ == "__main__":`` then builds its
    Trainer again, in the worker. Say so, and exit with :data:`UNGUARDED_EXIT` (the parent
    names the fix too), before the worker trains or starts workers of its own.
    """
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            sys.stderr.write(
                f"layerwise: {owner} was called while a worker process imported the script "
                f"{frame.f_globals.get('__file__', '')!r}: put the code that trains under "
                '`if __name__ == "__main__":` (spawn and forkserver import the script in every '
                "worker)\n"
            )
            sys.stderr.flush()
            raise SystemExit(UNGUARDED_EXIT)
        frame = frame.f_back


class Stepper:
    """What the Trainer asks of whatever computes its steps (the module's docstring lists it).

    A base class that says the protocol; :class:`OneProcess`, :class:`~.processes.DataParallel`
    and :class:`~.mpi.MPIDataParallel` implement it.
    """

    #: Processes computing each step.
    workers: int = 1

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss of the minibatch ``(x, t)``; its gradient is kept for :meth:`update`."""
        raise NotImplementedError

    def update(self) -> None:
        """Apply the optimizer's step to the gradient of the last :meth:`step`."""
        raise NotImplementedError

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> float:
        """The fraction of rows whose highest-scored class is ``t``'s, in inference mode."""
        raise NotImplementedError

    def predicted_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The highest-scored class of every row, in inference mode."""
        raise NotImplementedError

    def agreed_stop(self, signum: int | None) -> int | None:
        """The stop signal every process computing the steps agrees on (None: go on)."""
        return signum

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def available_cores() -> int:
    """The number of CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def auto_workers(cores: int | None = None, load: float | None = None) -> int:
    """What ``workers='auto'`` means: the cores this process may use that are idle, at least 1.

    ``N = min(cores, max(1, floor(cores - load + 1)))`` with ``load`` the 1-minute load average
    (runnable processes, this one included once it has run a while): on an idle machine every
    core, with other work running one fewer per busy core, and 1 when the machine is fully
    loaded. A worker that has to share its core makes every step wait for it (the step is as
    slow as its slowest shard), so a loaded machine gets no more workers than it has idle cores.

    Parameters
    ----------
    cores : int, optional
        :func:`available_cores` when None.
    load : float, optional
        ``os.getloadavg()[0]`` when None (0 where the platform has no load average).
    """
    cores = available_cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows
            load = 0.0
    return int(min(cores, max(1, np.floor(cores - float(load) + 1))))


def resolve_workers(workers: int | str, owner: str = "workers") -> int:
    """``workers`` as a positive int: ``'auto'`` is :func:`auto_workers`."""
    if isinstance(workers, str):
        if workers.strip().lower() == "auto":
            return auto_workers()
        raise ValueError(f"{owner}: workers must be a positive int or 'auto', got {workers!r}")
    return int(check_number(workers, owner, "workers", low=1, integer=True))


def resolve_start_method(start_method: str | None, owner: str = "workers") -> str:
    """``start_method`` checked against the platform's, :data:`START_METHOD` when None."""
    if start_method is None:
        return START_METHOD
    methods = multiprocessing.get_all_start_methods()
    if start_method not in methods:
        raise ValueError(
            f"{owner}: start_method must be one of {', '.join(methods)} on this platform, "
            f"got {start_method!r}"
        )
    return start_method


def is_mpi(workers: object) -> bool:
    return isinstance(workers, str) and workers.strip().lower() == "mpi"


class OneProcess(Stepper):
    """The book's step in this process: ``loss_and_gradient``, then ``optimizer.update``.

    On the CPU or on the device the network is on (the batches come there already).
    """

    def __init__(self, model: Any, optimizer: Any = None) -> None:
        self.model, self.optimizer = model, optimizer
        self._grads: Any = None

    def __enter__(self) -> OneProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._grads = None

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        with quiet():  # once for the whole pass: the layers' own quiet() then costs nothing
            loss, self._grads = self.model.loss_and_gradient(x, t)
        return float(loss)

    def update(self) -> None:
        if self._grads is None:
            raise RuntimeError("OneProcess.update: call step() first")
        grads, self._grads = self._grads, None
        self.optimizer.update(self.model.params, grads)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> float:
        return float(self.model.accuracy(x, t, batch_size))

    def predicted_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        chunks = [
            as_numpy(np.argmax(self.model.predict(x[start : start + batch_size], False), 1))
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.intp)

class Steppers:
    """Checks how a run computes its steps, once, and opens its :class:`Stepper`.

    Every refusal about workers, devices and MPI is here, raised when the Trainer is built
    (before anything trains or is written).

    Parameters
    ----------
    network : object
        The network as given (a layerwise one, or one written as the book's).
    layerwise : bool
        Whether it is a layerwise network (which alone can be shared by workers or moved).
    workers : int, 'auto' or 'mpi'
    device : str or Device, optional
        None: where the network is.
    start_method : {'fork', 'spawn', 'forkserver'}, optional
        :data:`START_METHOD` when None.
    owner : str
        Who asks, for the messages.

    Attributes
    ----------
    workers : int
        Processes per step (1 under MPI: the ranks are mpiexec's).
    mpi : bool
    auto : bool
        Whether ``workers`` was ``'auto'`` (the epoch line then says what it chose).
    rank : int
        This process's MPI rank, else 0.
    device : Device
    start_method : str
    """

    def __init__(
        self,
        network: Any,
        *,
        layerwise: bool = True,
        workers: int | str = 1,
        device: str | Device | None = None,
        start_method: str | None = None,
        owner: str = "Trainer",
    ) -> None:
        self.mpi = is_mpi(workers)
        self.auto = isinstance(workers, str) and workers.strip().lower() == "auto"
        self.workers = 1 if self.mpi else resolve_workers(workers, owner)
        if self.workers > 1:
            refuse_in_bootstrapping(owner)
        self.start_method = resolve_start_method(start_method, owner)
        self.rank = 0
        if not layerwise and (self.workers != 1 or self.mpi):
            raise not_layerwise(network, owner)
        if device is None:
            device = getattr(network, "device", "cpu") if layerwise else "cpu"
        self.device = parse_device(device)
        if self.device.kind != "cpu":
            if not layerwise:
                raise TypeError(
                    f"{owner}: device={str(self.device)!r} needs a layerwise network (Sequential "
                    f"or layerwise.book_nets), which can move to a GPU; "
                    f"{type(network).__name__} trains on the CPU"
                )
            if self.workers != 1 or self.mpi:
                shown = "'mpi'" if self.mpi else self.workers
                raise InvalidParameterError(
                    f"{owner}: workers={shown} splits each step over CPU processes; with "
                    f"device={str(self.device)!r} the GPU computes the whole step: use workers=1"
                )
        if self.mpi:
            from .mpi import world

            self.rank = world().Get_rank()

    def open(
        self,
        model: Any,
        optimizer: Any = None,
        *,
        sample_shape: tuple[int, ...] = (),
        label_shape: tuple[int, ...] = (),
        label_dtype: Any = np.intp,
        max_rows: int = 1000,
        stop_requested: Any = None,
    ) -> Stepper:
        """The stepper, to be used as a context manager (workers start on entering it).

        ``sample_shape``, ``label_shape``, ``label_dtype`` and ``max_rows`` size the shared
        memory of worker processes; ``stop_requested()`` says that SIGINT/SIGTERM arrived, so
        that a wait for a worker that does not answer ends at once.
        """
        if self.mpi:
            from .mpi import MPIDataParallel

            return MPIDataParallel(model, optimizer=optimizer)
        if self.workers == 1:
            return OneProcess(model, optimizer)
        from .processes import DataParallel

        return DataParallel(
            model,
            self.workers,
            sample_shape,
            label_shape,
            label_dtype,
            max_rows,
            optimizer=optimizer,
            start_method=self.start_method,
            stop_requested=stop_requested,
        )

