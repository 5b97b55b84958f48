"""What every worker computes: its shard of a step, its slice of the update, the shared layout.

Shared by the calling process (worker 0) and the child processes (:mod:`.worker`).
"""

from __future__ import annotations

import atexit
import copy
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import quiet

_ALIGN = 64  # bytes: every array in the shared block starts on a cache line


def shard_bounds(rows: int, shards: int) -> list[tuple[int, int]]:
    """Split ``rows`` into ``shards`` contiguous ranges whose sizes differ by at most one.

    The larger ranges come first, so the first (this process's) is empty only if ``rows`` is 0.
    """
    sizes = [rows // shards + (k < rows % shards) for k in range(shards)]
    edges = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return list(zip(edges[:-1], edges[1:], strict=True))


class SharedLayout:
    """Offsets of the arrays in the one shared-memory block (picklable, for spawn)."""

    def __init__(self) -> None:
        self.size = 0
        self.entries: dict[str, tuple[int, tuple[int, ...], str]] = {}

    def add(self, name: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.size = -(-self.size // _ALIGN) * _ALIGN
        self.entries[name] = (self.size, tuple(shape), np.dtype(dtype).str)
        self.size += int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize

    def views(self, buffer: Any) -> dict[str, np.ndarray]:
        """Each array as a view of ``buffer`` (a SharedMemory's ``buf``).

        ``np.frombuffer`` holds the buffer exported while a view lives (``np.ndarray(buffer=)``
        does not), so the mapping cannot be closed under a view that a layer may have cached
        (Convolution's reshaped weights): closing it then raises BufferError (see
        :class:`SharedBlock`) instead of leaving the view pointing at unmapped memory.
        """
        out = {}
        for name, (offset, shape, dtype) in self.entries.items():
            count = int(np.prod(shape, dtype=np.int64))
            if count == 0:  # nothing to share (a network without buffers)
                out[name] = np.zeros(shape, np.dtype(dtype))
                continue
            flat = np.frombuffer(buffer, np.dtype(dtype), count=count, offset=offset)
            out[name] = flat.reshape(shape)
        return out


class SharedBlock(SharedMemory):
    """A SharedMemory that is closed once no NumPy view of it is left.

    :meth:`close` while a view lives (kept in a layer's cache, say) keeps the block aside and
    tries again at the next :meth:`close_lingering`, and at exit; it never unmaps memory that a
    view still points at.
    """

    _lingering: list[SharedBlock] = []

    def close(self) -> None:
        try:
            super().close()
        except BufferError:
            if self not in SharedBlock._lingering:
                SharedBlock._lingering.append(self)

    @staticmethod
    def close_lingering() -> None:
        for block in list(SharedBlock._lingering):
            SharedBlock._lingering.remove(block)
            block.close()


atexit.register(SharedBlock.close_lingering)


def flat_slots(arrays: dict[str, np.ndarray]) -> tuple[dict[str, tuple[int, int]], int]:
    """``{key: (start, stop)}`` of each array in one flat vector, and the vector's length."""
    slots, start = {}, 0
    for key, array in arrays.items():
        slots[key] = (start, start + array.size)
        start += array.size
    return slots, start


def network_slots(network: Any) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Each parameter's ``(start, stop)`` in the flat gradient row, then each buffer."""
    params, n = flat_slots(dict(network.params.items()))
    buffers, _ = flat_slots(dict(network.buffers.items()))
    return params, {key: (a + n, b + n) for key, (a, b) in buffers.items()}


def shard_step(network, k, shard, train_flg, x, t, views, slots):
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


def slice_optimizer(template, views, param_slots, k, workers):
    """Worker ``k``'s share of the update: ``(optimizer, params, ranges)`` over its slice.

    The slice is the ``k``-th of ``workers`` nearly equal ranges of the flat parameter vector;
    ``params`` holds the pieces of each parameter inside it (1-D views of the shared weights),
    the optimizer's state is the same pieces of the shared state, and ``ranges`` gives each
    piece's place in a gradient row. An element-wise rule updates the pieces exactly as it
    would the whole arrays.
    """
    lo, hi = shard_bounds(views["weights"].size, workers)[k]
    optimizer = copy.copy(template)
    params, ranges = {}, {}
    state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in template.slot_names}
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


def update_slice(piece, scalars, grads):
    """Sum the gradient rows over one slice and apply the optimizer's rule to it.

    ``scalars`` are the optimizer's hyperparameters and counters as the caller's are now
    (``{'lr': 0.001, 'iter': 12}``): the slice's copy takes them before the step.
    """
    optimizer, params, ranges = piece
    for name, value in scalars.items():
        setattr(optimizer, name, value)
    summed = {key: np.sum(grads[:, a:b], axis=0) for key, (a, b) in ranges.items()}
    optimizer.update(params, summed)  # an empty slice still moves the counters on
