"""The sequel's ``common/trainer.py``: ``Trainer`` (minibatches) and ``RnnlmTrainer``
(truncated BPTT over a corpus), with ``plot()``, and ``remove_duplicate``.

Each ``fit`` step is the sequel's: ``loss = model.forward(x, t)``, ``model.backward()``,
shared weights merged by :func:`remove_duplicate`, ``clip_grads`` when ``max_grad`` is given,
``optimizer.update(params, grads)``; every ``eval_interval`` iterations a line is printed and the
mean loss (``Trainer``) or perplexity (``RnnlmTrainer``) since the last line is kept in
``loss_list`` / ``ppl_list``. Differences, each with a regression test in
``tests/test_sequel_models.py``:

- ``Trainer`` shuffles with a generator of its own (``seed=``), not NumPy's global state;
- :func:`remove_duplicate` finds a transposed shared weight by memory (a transposed view of the
  same array), not by equal values, so two distinct arrays that happen to hold the same numbers
  (zeros at the start, say) are never merged;
- ``RnnlmTrainer.get_batch`` reads the whole batch in one indexing step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, check_number, check_seed
from ..backend import as_array_like, get_array_module
from .base import is_transposed_view
from .util import clip_grads

__all__ = ["RnnlmTrainer", "Trainer", "remove_duplicate"]


def remove_duplicate(
    params: Sequence[np.ndarray], grads: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Merge shared weights: each array once, with the sum of its gradients.

    An array listed twice (``params[i] is params[j]``) keeps the first position and
    ``grads[i] + grads[j]``; a transposed view (``params[j]`` is ``params[i].T``, weight tying)
    adds ``grads[j].T``. As in the sequel, the first gradient array is added to in place
    (backward overwrites it at the next step).

    Returns
    -------
    params, grads : new lists, the merged arrays removed.
    """
    params, grads = list(params), list(grads)
    i = 0
    while i < len(params):
        j = i + 1
        while j < len(params):
            if params[j] is params[i]:
                grads[i] += grads[j]
            elif is_transposed_view(params[i], params[j]):
                grads[i] += grads[j].T
            else:
                j += 1
                continue
            del params[j], grads[j]
        i += 1
    return params, grads


def _step(model: Any, optimizer: Any, x: Any, t: Any, max_grad: float | None) -> Any:
    loss = model.forward(x, t)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)
    return loss  # on the model's device: read back only at eval_interval


def _check_fit(
    where: str,
    x: np.ndarray,
    t: np.ndarray,
    names: tuple[str, str, str],
    max_epoch: int,
    eval_interval: int | None,
    sizes: dict[str, int],
) -> int:
    """Check ``fit``'s arguments; return the steps per epoch, ``len(x) // prod(sizes)``.

    The sequel's loops take any of them: data shorter than one batch trains nothing without a
    word, an ``eval_interval`` of 0 divides by zero, an ``x`` and ``t`` of different lengths
    fail in an index or pair the wrong targets.
    """
    x_name, t_name, what = names
    if len(x) != len(t):
        raise ValueError(
            f"{where}: {x_name} and {t_name} must be as long, got {len(x)} and {len(t)} {what}"
        )
    check_number(max_epoch, where, "max_epoch", low=0, integer=True)
    if eval_interval is not None:
        check_number(eval_interval, where, "eval_interval", low=1, integer=True)
    per_step = 1
    for name, size in sizes.items():
        per_step *= check_number(size, where, name, low=1, integer=True)
    if len(x) < per_step:
        made = " x ".join(f"{name} {size}" for name, size in sizes.items())
        raise ValueError(
            f"{where}: {len(x)} {what} make no batch of {made} ({per_step} {what}): give "
            "more data or smaller sizes"
        )
    return len(x) // per_step


def _loop(
    trainer: Any,
    epoch: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
    max_iters: int,
    max_epoch: int,
    max_grad: float | None,
    curve: list[float],
    label: str,
    measure: Callable[[float], Any],
) -> None:
    """The sequel's loop: a step per batch; every ``eval_interval`` steps a line and a point
    on ``curve``, ``measure`` of the mean loss since the last (the loss itself, or exp)."""
    total_loss: Any = 0.0
    loss_count = 0
    start_time = time.time()
    interval = trainer.eval_interval
    for _ in range(max_epoch):
        for iters, (x, t) in enumerate(epoch()):
            loss = _step(trainer.model, trainer.optimizer, x, t, max_grad)
            total_loss = np.add(total_loss, loss, dtype=np.float64)
            loss_count += 1
            if interval is not None and iters % interval == 0:
                value = float(measure(total_loss / loss_count))
                print(
                    f"| epoch {trainer.current_epoch + 1} |  iter {iters + 1} / {max_iters} | "
                    f"time {int(time.time() - start_time)}[s] | {label} {value:.2f}"
                )
                curve.append(value)
                total_loss, loss_count = 0.0, 0
        trainer.current_epoch += 1


def _plot(values: list[float], eval_interval: int | None, ylabel: str, ylim: Any) -> None:
    import matplotlib.pyplot as plt

    if ylim is not None:
        plt.ylim(*ylim)
    plt.plot(np.arange(len(values)), values, label="train")
    plt.xlabel(f"iterations (x{eval_interval})")
    plt.ylabel(ylabel)
    plt.show()


class Trainer:
    """Minibatch training of a model on ``(x, t)``, shuffled every epoch (the sequel's 1.4.4).

    Parameters
    ----------
    model : object with ``forward(x, t)``, ``backward()``, ``params`` and ``grads``
    optimizer : object with ``update(params, grads)`` taking lists
    seed : None, int or numpy.random.Generator, keyword-only
        The shuffling's generator.
    """

    def __init__(self, model: Any, optimizer: Any, *, seed: Any = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self.rng = check_seed(seed, type(self).__name__)

    def fit(
        self,
        x: npt.ArrayLike,
        t: npt.ArrayLike,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
    ) -> None:
        x, t = as_array(x, "Trainer.fit"), as_array(t, "Trainer.fit", name="t")
        sizes = {"batch_size": batch_size}
        names = ("x", "t", "samples")
        max_iters = _check_fit("Trainer.fit", x, t, names, max_epoch, eval_interval, sizes)

        def epoch() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            idx = as_array_like(self.rng.permutation(len(x)), x)  # drawn on the host
            xs, ts = x[idx], t[idx]
            for iters in range(max_iters):
                batch = slice(iters * batch_size, (iters + 1) * batch_size)
                yield xs[batch], ts[batch]

        self.eval_interval = eval_interval
        _loop(self, epoch, max_iters, max_epoch, max_grad, self.loss_list, "loss", float)

    def plot(self, ylim: Any = None) -> None:
        """Draw ``loss_list`` with matplotlib (``plt.show()``, as the sequel's)."""
        _plot(self.loss_list, self.eval_interval, "loss", ylim)


class RnnlmTrainer:
    """Truncated BPTT over a corpus (the sequel's 5.5.3): ``batch_size`` rows read in parallel.

    Row i reads the corpus from offset ``i * (L // batch_size)``, ``time_size`` words per
    step, continuing where the last step stopped (``time_idx``), so a stateful model's state
    carries over from one batch to the next.
    """

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        self.time_idx: int | None = None
        self.ppl_list: list[float] | None = None
        self.eval_interval: int | None = None
        self.current_epoch = 0

    def get_batch(
        self, x: np.ndarray, t: np.ndarray, batch_size: int, time_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The next (batch_size, time_size) inputs and targets; advances ``time_idx``."""
        if self.time_idx is None:
            self.time_idx = 0
        jump = len(x) // batch_size
        xp = get_array_module(x)  # the positions index the corpus where it is
        positions = xp.arange(batch_size)[:, None] * jump + self.time_idx + xp.arange(time_size)
        positions %= len(x)
        self.time_idx += time_size
        return x[positions], t[positions]

    def fit(
        self,
        xs: npt.ArrayLike,
        ts: npt.ArrayLike,
        max_epoch: int = 10,
        batch_size: int = 20,
        time_size: int = 35,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
    ) -> None:
        where = "RnnlmTrainer.fit"
        xs, ts = as_array(xs, where, "xs"), as_array(ts, where, "ts")
        sizes = {"batch_size": batch_size, "time_size": time_size}
        names = ("xs", "ts", "words")
        max_iters = _check_fit(where, xs, ts, names, max_epoch, eval_interval, sizes)
        self.time_idx = 0
        self.ppl_list = []

        def epoch() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for _ in range(max_iters):
                yield self.get_batch(xs, ts, batch_size, time_size)

        self.eval_interval = eval_interval
        _loop(self, epoch, max_iters, max_epoch, max_grad, self.ppl_list, "perplexity", np.exp)

    def plot(self, ylim: Any = None) -> None:
        """Draw ``ppl_list`` with matplotlib (``plt.show()``, as the sequel's)."""
        _plot(self.ppl_list or [], self.eval_interval, "perplexity", ylim)
