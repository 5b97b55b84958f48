"""A worker process: wait for a message, do its shard or slice, answer; exit with the parent."""

from __future__ import annotations

import os
import signal
import sys
import traceback

import numpy as np

from .._blas import blas_threads
from .shards import SharedBlock, network_slots, shard_step, slice_optimizer, update_slice

_POLL_SECONDS = 1.0  # how often an idle child checks that its parent is alive


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone; or another user's process now has
        return False  # that number
    return True


def worker_main(k, conn, shm_name, layout, template, workers, parent_pid):
    """A child's loop: wait for a message, compute its shard, answer; exit with the parent.

    The parent is the process that made the pool, ``parent_pid``. Under fork and spawn it is
    this process's parent, under forkserver the fork server is: so the parent is watched both
    ways, through ``getppid`` (it changes when the process this one was forked from dies;
    Linux's ``PR_SET_PDEATHSIG`` kills it then too) and through ``parent_pid`` itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    die_with_parent()
    forked_from = os.getppid()
    if not _exists(parent_pid):
        return

    def parent_alive() -> bool:
        return os.getppid() == forked_from and _exists(parent_pid)

    try:
        network = conn.recv()[1]  # sent after the start (see DataParallel.start)
    except EOFError:
        return
    shm = SharedBlock(name=shm_name)
    views = layout.views(shm.buf)
    weights, shared_buffers = views["weights"], views["buffers"]
    slots = network_slots(network)
    param_slots, buffer_slots = slots
    n_params = weights.size
    for key, (a, b) in param_slots.items():
        network.params[key] = weights[a:b].reshape(network.params[key].shape)
    buffers = dict(network.buffers.items())
    piece = None if template is None else slice_optimizer(template, views, param_slots, k, workers)
    try:
        conn.send(("ok",))
        with blas_threads(1):
            while True:
                while not conn.poll(_POLL_SECONDS):
                    if not parent_alive():
                        return
                try:
                    message = conn.recv()
                except EOFError:
                    return
                if message is None:
                    return
                try:
                    if message[0] == "update":
                        update_slice(piece, message[1], views["grads"])
                        conn.send(("ok",))
                        continue
                    kind, rows, lo, hi, train_flg = message
                    for key, array in buffers.items():
                        a, b = buffer_slots[key]
                        array.reshape(-1)[:] = shared_buffers[a - n_params : b - n_params]
                    x, t = views["x"][:rows], views["t"][:rows]
                    if kind == "step":
                        shard_step(network, k, (rows, lo, hi), train_flg, x, t, views, slots)
                    else:
                        scores = network.predict(x[lo:hi], False)
                        views["labels"][lo:hi] = np.argmax(scores, axis=1)
                    conn.send(("ok",))
                except Exception:
                    conn.send(("error", traceback.format_exc()))
    finally:
        del views, weights, shared_buffers, piece
        shm.close()
