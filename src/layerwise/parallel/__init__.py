"""Data-parallel training: every core (or MPI rank) computes the gradient of a share of the batch.

- :mod:`.steppers`: the one step protocol (``step``, ``update``, ``accuracy``, ``agreed_stop``)
  and :class:`Steppers`, the factory that checks workers, devices and MPI and opens a stepper;
  :class:`OneProcess` is the book's step in this process (on its CPU or device);
- :mod:`.processes`: :class:`DataParallel`, N worker processes sharing the parameters in shared
  memory (the mathematics and the safety are described there);
- :mod:`.mpi`: :class:`~.mpi.MPIDataParallel`, the same step over the ranks of an MPI job;
- :mod:`.children`: the worker processes, asked and waited for within a bound;
- :mod:`.shards` and :mod:`.worker`: what every worker computes, and a worker's loop.
"""

from __future__ import annotations

from ..errors import WorkerError
from .children import ANSWER_FACTOR, ANSWER_SECONDS, INTERRUPT_SECONDS
from .processes import DataParallel
from .steppers import (
    START_METHOD,
    OneProcess,
    Stepper,
    Steppers,
    auto_workers,
    available_cores,
    resolve_start_method,
    resolve_workers,
)

__all__ = [
    "ANSWER_FACTOR",
    "ANSWER_SECONDS",
    "INTERRUPT_SECONDS",
    "START_METHOD",
    "DataParallel",
    "OneProcess",
    "Stepper",
    "Steppers",
    "WorkerError",
    "auto_workers",
    "available_cores",
    "resolve_start_method",
    "resolve_workers",
]
