"""Text generation with the chapter-6 language models (the sequel's ``ch07/rnnlm_gen.py``).

A trained language model gives, after each word, the softmax of its scores: a distribution of
the next word. Generating is drawing from it and feeding the drawn word back::

    p = softmax(score(x_t)),   x_{t+1} ~ p   (ids in ``skip_ids`` drawn again)

The model's LSTM is stateful, so each step carries the state of the text so far; call
``reset_state()`` before a new text (and after training with another batch size: a stateful
layer refuses a batch of another size). :meth:`~RnnlmGen.get_state` and
:meth:`~RnnlmGen.set_state` save and restore that state, to generate several continuations of
one beginning.

Difference from the sequel's code: the words are drawn from a generator of our own,
``generate(..., seed=)`` (an int, a ``numpy.random.Generator`` or None); the same seed from
the same state gives the same text. The sequel draws from NumPy's global state. And
``skip_ids`` must hold integer ids (the sequel's ``sampled not in skip_ids`` takes anything:
``[2.0]`` skips word 2, ``[2.7]`` nothing, and ``3`` fails only once a word is drawn).
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .._checks import check_number, check_seed
from ..backend import as_numpy, is_cupy_array
from .functions import softmax
from .rnnlm import BetterRnnlm, Rnnlm

__all__ = ["BetterRnnlmGen", "RnnlmGen"]


class _Generating:
    """``generate`` and ``draws`` for a language model with ``predict`` (N, T) -> scores
    (N, T, V) and ``params`` led by the (V, D) embedding."""

    predict: Any
    params: list[np.ndarray]

    def generate(
        self,
        start_id: int,
        skip_ids: Iterable[int] | None = None,
        sample_size: int = 100,
        *,
        seed: Any = None,
    ) -> list[int]:
        """``sample_size`` word ids, the first ``start_id``, each next one drawn from the model.

        Parameters
        ----------
        start_id : int
            The first word's id, in [0, V).
        skip_ids : iterable of int, optional
            Ids never emitted (the sequel skips ``<unk>`` and ``N``), in a list, tuple, set or
            integer array; ids outside [0, V) are never drawn anyway. Each step draws from the
            softmax with their share taken out, which is drawing again from the same step
            until another word comes. (The sequel draws again after predicting again from the
            same word, which moves the state on as if that word had been read twice.)
        sample_size : int
            Length of the list returned, ``start_id`` included: at least 1.
        seed : int, numpy.random.Generator or None
            The draws' generator.
        """
        where = f"{type(self).__name__}.generate"
        words = self._draws(start_id, skip_ids, seed, where)
        # the list's length, start_id included (the sequel's gives [start_id] for 0 or less)
        sample_size = check_number(sample_size, where, "sample_size", low=1, integer=True)
        return list(itertools.islice(words, sample_size))

    def draws(
        self, start_id: int, skip_ids: Iterable[int] | None = None, *, seed: Any = None
    ) -> Iterator[int]:
        """``start_id``, then word ids drawn one after another without end: what
        :meth:`generate` lists, one at a time, for text shown as it is written. The arguments
        are :meth:`generate`'s, checked at once."""
        return self._draws(start_id, skip_ids, seed, f"{type(self).__name__}.draws")

    def _draws(
        self, start_id: int, skip_ids: Iterable[int] | None, seed: Any, where: str
    ) -> Iterator[int]:
        V = self.params[0].shape[0]  # the embedding's rows
        x = check_number(start_id, where, "start_id", low=0, high=V, high_open=True, integer=True)
        rng = check_seed(seed, where)
        skip = sorted(set(_word_ids(skip_ids, where)) & set(range(V)))
        if len(skip) == V:
            raise ValueError(f"generate: skip_ids leave none of the {V} words to draw")
        return self._drawn(x, skip, rng)

    def _drawn(self, x: int, skip: list[int], rng: np.random.Generator) -> Iterator[int]:
        yield x
        for step in itertools.count(1):
            score = self.predict(np.array([[x]]))
            p = softmax(score.reshape(-1).astype(np.float64))  # float64: the sum is 1 to 1e-16
            p = as_numpy(p)  # V probabilities to the host, where the seeded generator draws
            if skip:
                p[skip] = 0
                kept = p.sum()
                if not kept > 0:
                    raise ValueError(
                        "generate: every word but the skipped ones has probability 0 after "
                        f"{x} (step {step})"
                    )
                p /= kept
            x = int(rng.choice(len(p), p=p))
            yield x


def _word_ids(ids: Iterable[Any] | None, where: str) -> list[int]:
    """``skip_ids`` as a list of ints: None is none; any iterable of integers (an integer array
    of any shape too); anything else a TypeError naming it (a float is not truncated)."""
    if ids is None:
        return []
    if isinstance(ids, np.ndarray) or is_cupy_array(ids):
        ids = as_numpy(ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise TypeError(f"{where}: skip_ids must hold integer word ids, got dtype {ids.dtype}")
        return ids.reshape(-1).tolist()
    if not isinstance(ids, Iterable) or isinstance(ids, (str, bytes)):
        raise TypeError(
            f"{where}: skip_ids must be an iterable of integer word ids (a list, tuple, set or "
            f"array), got {type(ids).__name__} {ids!r}"
        )
    ids = list(ids)
    bad = [i for i in ids if not isinstance(i, numbers.Integral) or isinstance(i, bool)]
    if bad:
        raise TypeError(f"{where}: skip_ids must hold integer word ids, got {bad[0]!r}")
    return [int(i) for i in ids]


class RnnlmGen(_Generating, Rnnlm):
    """:class:`~layerwise.sequel.rnnlm.Rnnlm` that writes text; the constructor is Rnnlm's.

    Examples
    --------
    >>> model = RnnlmGen(vocab_size=7, wordvec_size=4, hidden_size=4, seed=0)
    >>> text = model.generate(0, skip_ids=[6], sample_size=10, seed=1)
    >>> len(text), 6 in text
    (10, False)
    """

    def get_state(self) -> tuple[Any, Any]:
        """``(h, c)`` of the LSTM (None before the first step)."""
        return self.lstm_layer.h, self.lstm_layer.c

    def set_state(self, state: tuple[Any, Any]) -> None:
        self.lstm_layer.set_state(*state)


class BetterRnnlmGen(_Generating, BetterRnnlm):
    """:class:`~layerwise.sequel.rnnlm.BetterRnnlm` that writes text (dropout off)."""

    def get_state(self) -> list[tuple[Any, Any]]:
        """``[(h, c), (h, c)]``, one pair per LSTM layer."""
        return [(layer.h, layer.c) for layer in self.lstm_layers]

    def set_state(self, states: list[tuple[Any, Any]]) -> None:
        for layer, state in zip(self.lstm_layers, states, strict=True):
            layer.set_state(*state)
