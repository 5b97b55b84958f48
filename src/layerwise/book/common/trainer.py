"""The book's ``common/trainer.py``: layerwise's Trainer, ending as the book's does.

``Trainer(network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
optimizer='SGD', optimizer_param={'lr': 0.01}, evaluate_sample_num_per_epoch=None,
verbose=True)``, with ``train()`` and the lists ``train_loss_list``, ``train_acc_list`` and
``test_acc_list``. The network may be layerwise's or one written as the book's (its own
``simple_convnet.py``): see :class:`layerwise.training.BookStyleNetwork`.

Each epoch is one pass over a shuffled training set and prints one line (layerwise's
:class:`~layerwise.training.Trainer`). Between them, as the book's Trainer does, each iteration
prints its ``train loss:`` line when ``verbose``, so that a long epoch shows its progress as it
goes; where layerwise's progress bar is shown instead (stderr a terminal, tqdm installed), the
bar counts the iterations. At the end, the whole test set's accuracy is printed under the
book's banner.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from layerwise import training

from .optimizer import *  # noqa: F403 - the book's trainer star-imports its optimizers
from .optimizer import __all__ as _optimizers

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Trainer", "np", *_optimizers]


class Trainer(training.Trainer):
    """:class:`layerwise.training.Trainer` whose :meth:`train` ends with the book's report.

    The book's Trainer draws its minibatches from NumPy's global generator, so a script that
    calls ``np.random.seed(...)`` repeats its run; here the shuffling is seeded from that same
    global generator (unless ``seed=`` is given), which keeps that property.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("seed") is None:
            kwargs["seed"] = int(np.random.randint(2**31))  # noqa: NPY002 - the book's generator
        super().__init__(*args, **kwargs)
        # The condition under which layerwise's Trainer draws its bar (_surroundings.progress_bar).
        bar = sys.stderr.isatty() and importlib.util.find_spec("tqdm") is not None
        self._loss_lines = self.verbose and not bar

    def train_step(self, x_batch: np.ndarray, t_batch: np.ndarray) -> float:
        """One iteration, and the book's ``train loss:`` line when ``verbose``."""
        loss = super().train_step(x_batch, t_batch)
        if self._loss_lines:
            print("train loss:" + str(loss), flush=True)
        return loss

    def train(self) -> Self:
        super().train()
        if self.verbose:
            test_acc = self.accuracy(self.x_test, self.t_test)
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc), flush=True)
        return self
