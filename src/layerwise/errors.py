"""The errors layerwise raises about a run and its machinery, in one place.

Each is also importable from where it is raised (``layerwise.training.DivergedError``,
``layerwise.parallel.WorkerError``, ``layerwise.interop.MissingExtraError``), so older imports
keep working.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConversionError",
    "DivergedError",
    "MissingExtraError",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "WorkerError",
]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says what to install."""


class ConversionError(ValueError):
    """A network or module has no exact counterpart in the other framework; the message says why."""


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


class WorkerError(RuntimeError):
    """A worker process died, raised or stopped answering; the message names it and says why.

    ``partial`` is True when it happened while the workers were updating their slices of the
    parameters: the state is then half old, half new, and not worth saving. Otherwise the
    network, its random generators and its running statistics are those of the last finished
    step. ``interrupted`` is True when the wait was cut short by SIGINT/SIGTERM.
    """

    partial = False
    interrupted = False
