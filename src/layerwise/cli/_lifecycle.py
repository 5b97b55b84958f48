"""How a ``layerwise train`` run ends: one place that maps each ending to its record and exit."""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ..backend import as_numpy
from ..files import save
from ..parallel import WorkerError
from ..parallel.mpi import abort
from ..run_folders import (
    CHECKPOINT,
    MODEL,
    RUN_JSON,
    end_record,
    read_any_checkpoint,
    run_title,
    write_history,
    write_progress,
    write_run,
)
from ..training import DivergedError, TrainingInterrupted
from ..viz.plots import plot_filters, plot_history
from ._common import NO_PICTURES
from .models import CONV_MODELS


@dataclass
class Ending:
    """How a run ended: run.json's ``status`` and ``message``, and the exit status."""

    status: str
    message: str | None
    exit_status: int
    advice: str | None = None  #: printed after the message
    abort_ranks: bool = False  #: under MPI, end every rank (one may be waiting for this one)
    raised: bool = False  #: not one of the ways training stops: raised on, for main() to report


class Run:
    """One ``layerwise train`` run from its first line to its exit status.

    ``with Run(comm) as this: ...`` around the run; :meth:`begin` once its folder, record and
    trainer exist. Leaving the block, however it is left, records how the run ended in run.json,
    writes what the run did, tells the user and sets :attr:`exit_status`. Each way a run ends
    has its status, message and exit status in one place, :meth:`ending`:

    ===========================================  ===========  =======  =============================
    how training ends                            status       exit     also
    ===========================================  ===========  =======  =============================
    it finished                                  finished     0        model, history, pictures
    Ctrl-C or SIGTERM (``TrainingInterrupted``)  interrupted  128 + N  the resume command
    a second Ctrl-C, stopping it at once         interrupted  130      the last good checkpoint
    the loss diverged (``DivergedError``)        diverged     1        the files it wrote
    a worker process died (``WorkerError``)      failed       1        the resume command
    anything else raised                         failed       1        raised on: main() says it
    ===========================================  ===========  =======  =============================

    What a run writes and reports is its ``files``' (:class:`NetworkFiles` for volume 1's
    networks, the default; the sequel's models have theirs): the scores run.json keeps, the
    files of a finished and of an unfinished run, and the final line.

    Under MPI (``comm``), rank 0 alone records, writes and prints; every rank reaches the same end
    and exits with the same status. A rank on which anything else is raised, before or during
    training, names itself, prints its traceback and aborts every rank with status 1 (the others
    may be waiting for it in a collective); unless rank 0 recorded ``failed``, run.json stays
    ``running`` and ``layerwise runs`` shows the run killed.
    """

    def __init__(self, comm=None, files=None):
        self.comm = comm
        self.files = NetworkFiles() if files is None else files
        self.lead = comm is None or comm.Get_rank() == 0
        self.exit_status = 0
        self.trainer = None  # set by begin()

    def begin(self, trainer, out, record=None, first_filters=None):
        """Training starts: ``record`` (rank 0's run.json) written, its progress kept."""
        self.trainer, self.out, self.record = trainer, out, record
        self.first_filters = first_filters
        self.start = time.perf_counter()
        if record is not None:
            write_run(out, record)
            trainer.on_epoch_end = self._progress

    def _progress(self, trainer):  # at each epoch's end: how far it got, and the heartbeat
        seconds = time.perf_counter() - self.start
        write_progress(self.out, self.record, trainer, seconds, scores=self.files.scores(trainer))

    def __enter__(self):
        return self

    def __exit__(self, kind, err, traceback_):
        if self.trainer is None:  # it never began: main() reports what was raised
            if err is not None and self.comm is not None:
                self._rank_failed(err)
            return False
        ending = self.ending(err)
        if self.record is not None:
            self._record(ending)
        if ending.raised:
            if self.comm is not None:
                self._rank_failed(err)
            return False
        if ending.abort_ranks and self.comm is not None:
            self.comm.Abort(ending.exit_status)
        self.exit_status = ending.exit_status
        return True

    def ending(self, err):
        """How the run ends when ``err`` (None: training finished) ended it: the one table."""
        trainer, out = self.trainer, self.out
        if err is None:
            return Ending("finished", None, 0)
        if isinstance(err, TrainingInterrupted):
            return Ending("interrupted", str(err), 128 + err.signum, _resume_advice(out))
        if isinstance(err, KeyboardInterrupt):
            # A second Ctrl-C (or SIGTERM) stops at once, maybe in the middle of writing the
            # checkpoint; that write is atomic, so the file on disk is the last whole one.
            message = (
                f"training stopped at once by a second interrupt at iteration "
                f"{trainer.iteration} (epoch {trainer.epoch + 1}); {_last_checkpoint(out, trainer)}"
            )
            advice = _resume_advice(out)
            return Ending("interrupted", message, 128 + signal.SIGINT, advice, abort_ranks=True)
        if isinstance(err, DivergedError):
            return Ending("diverged", str(err), 1)
        if isinstance(err, WorkerError):
            return Ending("failed", str(err), 1, _resume_advice(out) if trainer.iteration else None)
        return Ending("failed", f"{type(err).__name__}: {err}", 1, raised=True)

    def _record(self, ending):
        """Rank 0: run.json says how the run ended, its files are written, the user is told."""
        trainer, out, record = self.trainer, self.out, self.record
        seconds = time.perf_counter() - self.start
        scores = self.files.scores(trainer)
        if ending.status == "finished":
            end_record(record, trainer, "finished", seconds, scores=scores)
            written, plotted = self.files.write_finished(trainer, out, record, self.first_filters)
            print(f"{self.files.final_line(trainer)}  ({seconds:.1f} s)")
            print("wrote " + ", ".join(map(str, written)))
            if not plotted:
                print(NO_PICTURES)
            return
        with _signals_ignored():  # the record is written whatever the number of Ctrl-Cs
            end_record(record, trainer, ending.status, seconds, ending.message, scores=scores)
            if ending.raised:  # whatever failed may fail again: run.json alone, if it can be
                try:
                    write_run(out, record)
                except OSError:
                    pass  # the error that ended the run is the one main() reports
                return
            written = self.files.write_unfinished(trainer, out, record)
            if ending.status == "interrupted":  # after the progress bar's line
                print(f"\n{ending.message}", file=sys.stderr)
            else:
                print(f"layerwise: training stopped: {ending.message}", file=sys.stderr)
            if ending.status == "diverged":
                print(f"what the run did is in {', '.join(map(str, written))}", file=sys.stderr)
            if ending.advice:
                print(ending.advice, file=sys.stderr)

    def _rank_failed(self, err):
        """Under MPI: this rank names itself and ends every rank (some may wait for it), its
        message written whole before the abort (:func:`layerwise.parallel.mpi.abort`)."""
        abort(self.comm, err)


@contextmanager
def _signals_ignored():
    """SIGINT and SIGTERM ignored while a stopped run's record is written, then as they were."""
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _last_checkpoint(out, trainer):
    """Which checkpoint a run stopped at once can resume from, said for the user."""
    path = out / CHECKPOINT
    try:
        checkpoint = read_any_checkpoint(path)
    except (OSError, ValueError):
        return f"there is no checkpoint to resume from ({path} could not be read)"
    iteration = checkpoint.iteration
    if iteration == trainer.iteration:
        return f"checkpoint of iteration {iteration} written to {path}"
    return (
        f"no checkpoint of iteration {trainer.iteration} was kept (a write the interrupt cut "
        f"short leaves none); the last good checkpoint is {path}, of iteration {iteration} "
        f"(epoch {checkpoint.epoch + 1}), so resuming does iterations {iteration + 1}-"
        f"{trainer.iteration} again"
    )


def _resume_advice(out):
    if (out / CHECKPOINT).is_file():
        return f"resume with: layerwise train --resume {out}"
    return f"nothing to resume from: no {CHECKPOINT} in {out}; start the run again"


class NetworkFiles:
    """What a run of volume 1's networks writes and reports (the Trainer's accuracies)."""

    def scores(self, trainer):
        """run.json's scores at an epoch's end: the last train and test accuracies."""
        last = {"train_acc": trainer.train_acc_list, "test_acc": trainer.test_acc_list}
        return {name: values[-1] if values else None for name, values in last.items()}

    def final_line(self, trainer):
        return f"final test accuracy: {trainer.test_acc_list[-1]:.4f}"

    def write_finished(self, trainer, out, record, first_filters):
        return _write_finished(trainer, out, record, first_filters)

    def write_unfinished(self, trainer, out, record):
        return _write_unfinished(trainer, out, record)


def _write_finished(trainer, out, record, first_filters):
    """A finished run's files: model, run.json, history and pictures (train() wrote the
    checkpoint at the last epoch's end, so that `--resume --epochs N` can extend the run)."""
    network = trainer.network
    training = {k: v for k, v in record.items() if k not in ("format", "version", "network")}
    save(network, out / MODEL, training=training)
    history = write_history(trainer, out)
    written = [out / MODEL, write_run(out, record), *history]
    plotted = plot_history(trainer, out / "curves.png", run_title(record))
    if plotted:
        written.append(out / "curves.png")
    if plotted and record["model"] in CONV_MODELS:
        after = as_numpy(network.params["W1"])  # the host's copy of a GPU network's filters
        panels = {"before training": first_filters, "after training": after}
        plot_filters(panels, out / "filters.png")
        written.append(out / "filters.png")
    return written, plotted


def _write_unfinished(trainer, out, record):
    """What an interrupted or diverged run did so far: its history, curves and run.json."""
    written = [out / RUN_JSON, *write_history(trainer, out)]
    if trainer.train_loss_list and plot_history(trainer, out / "curves.png", run_title(record)):
        written.append(out / "curves.png")
    write_run(out, record)
    return written
