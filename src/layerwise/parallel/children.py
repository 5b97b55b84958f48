"""The worker processes of a pool: started, asked, waited for within a bound, and ended.

:class:`Children` knows nothing of networks: it sends each child ``k`` (1 to N-1) a message
through its pipe and waits for the answers, and turns every way a child can fail into a
:class:`~layerwise.errors.WorkerError` naming it: it raised (its traceback), it died (its exit
status or signal), it did not answer within the bound (stopped, swapped out, debugged), or the
wait was cut short by Ctrl-C. It never waits without a bound.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing import connection
from typing import Any

from ..errors import WorkerError
from .steppers import UNGUARDED_EXIT, WORKER_NAME

__all__ = ["ANSWER_FACTOR", "ANSWER_SECONDS", "INTERRUPT_SECONDS", "STARTUP_SECONDS", "Children"]

#: A worker that has not answered within ``max(ANSWER_SECONDS, ANSWER_FACTOR * the longest
#: answer so far)`` seconds (a step's) ends the run: a stopped, swapped-out or debugged process.
ANSWER_SECONDS = 60.0
ANSWER_FACTOR = 20.0
#: Starting the workers may take long on a loaded machine (spawn imports NumPy in each one).
STARTUP_SECONDS = 600.0
#: After SIGINT/SIGTERM, the wait for a worker ends within this many seconds.
INTERRUPT_SECONDS = 1.0
_TICK = 0.1  # seconds between looks at the clock and the stop flag while waiting
_GUARD = (
    ". With start_method 'spawn' or 'forkserver' every worker first imports the script that "
    "started training; a script that trains when imported must do so under "
    '`if __name__ == "__main__":` (see the worker\'s message above)'
)


class Children:
    """Child processes ``1 .. N-1`` and a pipe to each.

    Parameters
    ----------
    stop_requested : callable
        ``stop_requested()`` is True once SIGINT/SIGTERM arrived: a wait then ends within
        :data:`INTERRUPT_SECONDS`.
    """

    def __init__(self, stop_requested: Callable[[], bool]) -> None:
        self.stop_requested = stop_requested
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.longest = 0.0  # seconds: the longest wait for answers so far
        self.broken: str | None = None  # why the children cannot be used any more

    def start(self, ctx: Any, count: int, target: Callable[..., None], args: Callable) -> None:
        """Start children ``1 .. count`` running ``target(k, pipe end, *args(k))``.

        SIGINT is ignored meanwhile, so a child started by spawn ignores Ctrl-C from its start
        (the parent stops once, for all).
        """
        with _sigint_ignored():
            for k in range(1, count + 1):
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(
                    target=target, args=(k, child_end, *args(k)), name=f"{WORKER_NAME}{k}",
                    daemon=True,
                )  # fmt: skip
                try:
                    proc.start()
                except (OSError, EOFError) as error:  # the fork server died (it imports the script)
                    raise WorkerError(
                        f"worker {k} could not be started ({type(error).__name__}: {error})"
                        f"{_GUARD}"
                    ) from None
                child_end.close()
                self.procs.append(proc)
                self.conns.append(parent_end)

    def ks(self) -> list[int]:
        """Every child's number."""
        return list(range(1, len(self.procs) + 1))

    def check_usable(self) -> None:
        if self.broken is not None:
            raise WorkerError(f"DataParallel: the pool cannot be used after: {self.broken}")

    def bound(self) -> float:
        """Seconds a child may take to answer: ``max(ANSWER_SECONDS, ANSWER_FACTOR * longest)``."""
        return max(ANSWER_SECONDS, ANSWER_FACTOR * self.longest)

    def close(self) -> None:
        """Ask every child to end; kill those that do not within 5 s (at once if broken)."""
        for conn in self.conns:
            with suppress(OSError):
                conn.send(None)
        # A healthy child ends on None at once; one that stopped answering is killed at once
        # (SIGKILL ends a stopped process too).
        deadline = time.monotonic() + (0.0 if self.broken else 5.0)
        for proc in self.procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns:
            conn.close()
        self.procs, self.conns = [], []

    def send(self, messages: dict[int, Any], what: str = "during a step") -> None:
        """Send each child ``k`` its message; one that is gone raises (after the others answer)."""
        failure, sent = None, []
        for k, message in messages.items():
            try:
                self.conns[k - 1].send(message)
                sent.append(k)
            except OSError:
                failure = failure or self._failure(k, None, what)
        if failure is not None:
            with suppress(WorkerError):
                self.collect(sent, what)
            raise failure

    def collect(self, ks: list[int] | None = None, what: str = "during a step") -> None:
        """Wait for an answer from children ``ks`` (all by default); a dead or failed one raises.

        Every child asked is waited for, so none is left mid-message; then the first failure is
        raised. A child that ended without answering is seen through its process sentinel; one
        that does not answer within :meth:`bound` (:data:`STARTUP_SECONDS` while starting), or
        within :data:`INTERRUPT_SECONDS` of SIGINT/SIGTERM, raises too, and the children are
        then :attr:`broken` (killed on :meth:`close`). ``partial`` is set on an error while
        updating.
        """
        waiting = {k: self.conns[k - 1] for k in (self.ks() if ks is None else ks)}
        failure = None
        start = time.monotonic()
        bound = STARTUP_SECONDS if what == "while starting" else self.bound()
        stopped_at = None
        while waiting:
            owners: dict[Any, int] = {}
            for k, conn in waiting.items():
                owners[conn] = k
                owners[self.procs[k - 1].sentinel] = k
            ready = connection.wait(list(owners), timeout=_TICK)
            if not ready:
                now = time.monotonic()
                if stopped_at is None and self.stop_requested():
                    stopped_at = now
                interrupted = stopped_at is not None and now - stopped_at >= INTERRUPT_SECONDS
                if interrupted or now - start > bound:
                    silent = self._silent(min(waiting), now - start, what, interrupted)
                    failure = failure or silent
                    self.broken = str(silent)
                    break
                continue
            for obj in ready:
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
        if what != "while starting":
            self.longest = max(self.longest, time.monotonic() - start)

    def _silent(self, k: int, seconds: float, what: str, interrupted: bool) -> WorkerError:
        """A child that has not answered: after an interrupt, or past the bound."""
        proc = self.procs[k - 1]
        if interrupted:
            error = WorkerError(
                f"worker {k} (pid {proc.pid}) had not answered {what} {INTERRUPT_SECONDS:g} s "
                "after the interrupt"
            )
            error.interrupted = True
            return error
        why = ""
        with suppress(OSError, IndexError):  # Linux: state T is stopped (SIGSTOP, a debugger)
            with open(f"/proc/{proc.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "Tt":
                    why = "; it is stopped (SIGSTOP or a debugger)"
        return WorkerError(
            f"worker {k} (pid {proc.pid}) did not answer {what} within {seconds:.0f} s (the "
            f"bound is max({ANSWER_SECONDS:g} s, {ANSWER_FACTOR:g} x the longest step so far)"
            f"{why})"
        )

    def _failure(self, k: int, answer: Any, what: str) -> WorkerError:
        """A child that answered with an error, or ended without answering."""
        proc = self.procs[k - 1]
        if answer is not None:
            return WorkerError(f"worker {k} (pid {proc.pid}) raised an error {what}:\n{answer[1]}")
        proc.join(timeout=1)
        code = proc.exitcode
        if code == UNGUARDED_EXIT or (what == "while starting" and code == 1):
            why = f"exited with code {code} {what}{_GUARD}"
            return WorkerError(f"worker {k} (pid {proc.pid}) {why}")
        if code is not None and code < 0:
            why = f"was killed by {signal.Signals(-code).name}"
            if -code == signal.SIGKILL:
                why += " (out of memory, or killed by a user)"
        else:
            why = f"exited with code {code}"
        return WorkerError(f"worker {k} (pid {proc.pid}) {why} {what}")


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in the body (main thread only; elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
