"""What surrounds the training loop: a progress bar, and SIGINT/SIGTERM turned into a stop."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["StopRequest", "progress_bar", "stop_signals"]


@contextmanager
def progress_bar(trainer: Any) -> Iterator[Any]:
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


class StopRequest:
    """The first SIGINT or SIGTERM received while training: ``signum``, None before one."""

    def __init__(self) -> None:
        self.signum: int | None = None


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a stop at the next iteration boundary (main thread only).

    The first signal sets the request's ``signum``; the loop then writes a checkpoint and
    raises :class:`~layerwise.errors.TrainingInterrupted`. A second signal stops at once.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        request.signum = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
