"""The sequel's ``ch04/negative_sampling_layer.py``: word2vec's output side with negative sampling.

Instead of a softmax over the whole vocabulary, the target word is scored against the hidden
vector (a positive example, label 1) and so are ``sample_size`` words drawn from the unigram
distribution raised to the power 0.75 (negative examples, label 0); each score goes through a
sigmoid and the binary cross-entropy (the sequel's section 4.2).

Differences from the sequel's code, each with a regression test:

- :class:`UnigramSampler` draws every row of negatives at once (the sequel calls
  ``np.random.choice`` once per row: most of its CBOW step), from a generator of its own
  (``seed=``), with exactly the distribution of the sequel's CPU path (see
  :meth:`UnigramSampler.get_negative_sample`);
- :class:`NegativeSamplingLoss` scores the target and its negatives in one
  :class:`EmbeddingDot` call on an (N, 1 + sample_size) array of ids, so its ``params`` and
  ``grads`` are ``[W]`` and ``[dW]``, not ``sample_size + 1`` copies of them;
- :class:`EmbeddingDot` takes ids of shape (N,) or (N, K).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_float_array, check_dout, check_number, check_seed
from ..backend import as_array_like, as_numpy
from .base import SequelLayer, check_ids, register_sequel_layer
from .layers import Embedding, SigmoidWithLoss

__all__ = ["EmbeddingDot", "NegativeSamplingLoss", "UnigramSampler"]


@register_sequel_layer
class EmbeddingDot(SequelLayer):
    """Dot products of hidden vectors with embedded words: ``out[n, k] = W[idx[n, k]] . h[n]``.

    Backward: ``dh[n] = sum_k dout[n, k] W[idx[n, k]]``; ``dW[idx[n, k]] += dout[n, k] h[n]``
    (through :class:`Embedding`).

    Parameters
    ----------
    W : ndarray, shape (V, H)
        The output-side word vectors.
    touched_rows_only : bool, default False, keyword-only
        See :class:`~layerwise.sequel.layers.Embedding`: backward zeroes only the rows of ``dW``
        its previous call wrote.

    Shapes
    ------
    h : (N, H). idx : (N,) or (N, K) word ids. out, dout : like idx. dh : (N, H).
    grads[0] (dW) : (V, H). Caches ``(h, target_W)`` as ``cache``.
    """

    param_names = ("W",)

    def __init__(self, W: npt.ArrayLike, *, touched_rows_only: bool = False) -> None:
        self.embed = Embedding(W, touched_rows_only=touched_rows_only)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def get_config(self) -> dict[str, Any]:
        return self.embed.get_config()

    def forward(self, h: npt.ArrayLike, idx: npt.ArrayLike) -> np.ndarray:
        W = self.params[0]
        where = f"{type(self).__name__}.forward"
        h = as_float_array(h, where, name="h").astype(W.dtype, copy=False)
        idx = as_array(idx, where, name="idx")
        if h.ndim != 2 or h.shape[1] != W.shape[1] or idx.ndim not in (1, 2) or len(idx) != len(h):
            raise ValueError(
                f"{where}: expected h of shape (N, {W.shape[1]}) and idx of shape (N,) or (N, K), "
                f"got h {h.shape} and idx {idx.shape}"
            )
        target_W = self.embed.forward(idx)  # (N, H) or (N, K, H)
        self.cache = (h, target_W)
        if idx.ndim == 1:
            return np.einsum("nh,nh->n", target_W, h)
        return (target_W @ h[:, :, None])[:, :, 0]

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.cache is None:
            raise self._not_ready()
        h, target_W = self.cache
        dout = check_dout(dout, target_W.shape[:-1], type(self).__name__, h.dtype)
        if dout.ndim == 1:
            self.embed.backward(dout[:, None] * h)
            return dout[:, None] * target_W
        self.embed.backward_scaled_rows(dout, h)
        return (dout[:, None, :] @ target_W)[:, 0, :]


def alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of the distribution ``p`` (n entries, all > 0; Vose's construction).

    Draw a column ``i`` uniformly from n, keep it with probability ``keep[i]``, else take
    ``alias[i]``: word ``j`` comes out with probability
    ``(keep[j] + sum_{i: alias[i] = j} (1 - keep[i])) / n = p[j]``. Each column holds at most two
    words: a word below the mean ``1 / n`` fills its column's ``keep`` share and a word above it
    the rest, which is taken from that word's excess.

    Returns
    -------
    keep : ndarray of float64, shape (n,)
    alias : ndarray of intp, shape (n,)
    """
    n = len(p)
    q = (p * (n / p.sum())).tolist()  # a Python loop over lists: numpy scalars are slower
    keep, alias = [1.0] * n, list(range(n))
    small = [i for i, v in enumerate(q) if v < 1]
    large = [i for i, v in enumerate(q) if v >= 1]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = q[s], g
        q[g] -= 1 - q[s]
        (small if q[g] < 1 else large).append(g)
    return np.array(keep), np.array(alias, dtype=np.intp)  # leftovers (rounding): keep 1


class UnigramSampler:
    """Negative examples drawn from the unigram distribution raised to ``power``.

    ``P(w) = count(w)**power / sum_v count(v)**power`` (the sequel's section 4.2.6; 0.75 lifts
    rare words a little).

    Parameters
    ----------
    corpus : array_like of int, shape (L,)
        Word ids; the vocabulary is ``0 .. max(corpus)``.
    power : float > 0
    sample_size : int >= 1
        Negatives per target.
    seed : None, int or numpy.random.Generator, keyword-only
        The sampler's generator ``rng`` (the sequel draws from NumPy's global state).

    The sampler works on the host, whatever device the model is on: targets given on a GPU are
    copied to the host (N ids) and :class:`NegativeSamplingLoss` copies the negatives to its
    weights' device (N S ids). The same seed then draws the same negatives on either device,
    and the rejection rounds need no device-to-host synchronisation.

    Attributes
    ----------
    vocab_size : int
    word_p : ndarray of float64, shape (vocab_size,)
    rng : numpy.random.Generator
    """

    stays_on_host = True  # moving a model (``to("cuda")``) leaves the sampler here

    def __init__(
        self, corpus: npt.ArrayLike, power: float, sample_size: int, *, seed: Any = None
    ) -> None:
        corpus = check_ids(as_numpy(corpus), None, "UnigramSampler")
        if corpus.ndim != 1 or corpus.size == 0:
            raise ValueError(
                f"UnigramSampler: corpus must be 1-D and non-empty, got {corpus.shape}"
            )
        power = check_number(power, "UnigramSampler", "power", low=0, low_open=True)
        self.sample_size = check_number(
            sample_size, "UnigramSampler", "sample_size", low=1, integer=True
        )
        p = np.bincount(corpus).astype(np.float64) ** power
        self.word_p = p / p.sum()
        self.vocab_size = len(self.word_p)
        if np.count_nonzero(self.word_p) <= self.sample_size:
            raise ValueError(
                f"UnigramSampler: {self.sample_size} distinct negatives per target need at least "
                f"{self.sample_size + 1} words in the corpus, got {np.count_nonzero(self.word_p)}"
            )
        self._words = np.flatnonzero(self.word_p)  # words of probability 0 are never drawn
        self._keep, self._alias = alias_table(self.word_p[self._words])
        self.rng = check_seed(seed, "UnigramSampler")

    def _draw(self, n: int) -> np.ndarray:
        # Walker's alias method: a uniform column, kept or sent to its alias. Two independent
        # reads a word, where a binary search over the cumulative sums makes about 14 dependent
        # ones, each a cache miss inside a training step (CBOW's step 7-18% faster).
        col = self.rng.integers(0, len(self._keep), n)
        kept = self.rng.random(n) < self._keep[col]
        return self._words[np.where(kept, col, self._alias[col])]

    def get_negative_sample(self, target: npt.ArrayLike) -> np.ndarray:
        """``sample_size`` distinct words per target, none equal to it.

        Row ``n`` has the distribution of the sequel's ``np.random.choice(V, size, replace=False,
        p)`` with ``p[target[n]] = 0``: draw by draw, each word with probability ``P(w)``
        renormalised over the words not yet taken. Column by column for all rows at once, a word
        drawn from ``P`` is kept where it is not taken and drawn again where it is (rejection
        leaves exactly ``P`` renormalised over the rest); rows still unlucky after a few rounds
        draw from their renormalised distribution directly. The first draw of every column is
        independent of the others, so all are made at once, and the rows where none is
        rejected skip the loop.

        Parameters
        ----------
        target : array_like of int, shape (N,)

        Returns
        -------
        ndarray of intp, shape (N, sample_size)
        """
        target = as_numpy(target)  # N ids from a GPU: the sampler draws on the host
        target = check_ids(target, self.vocab_size, "UnigramSampler.get_negative_sample")
        target = target.reshape(-1)
        n, size = len(target), self.sample_size
        taken = np.empty((n, size + 1), np.intp)
        taken[:, 0] = target
        taken[:, 1:] = self._draw(n * size).reshape(n, size)  # every column's first draw
        # A row whose first draws are distinct and miss its target keeps them all; only the
        # others (a few percent) go through the rejection, column by column.
        ordered = np.sort(taken, axis=1)
        clash = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        rows = taken[clash]
        for k in range(1, size + 1):
            col = rows[:, k]  # a view: redrawn words land in rows
            redo = np.flatnonzero((col[:, None] == rows[:, :k]).any(axis=1))
            for _ in range(8):
                if redo.size == 0:
                    break
                col[redo] = self._draw(redo.size)
                redo = redo[(col[redo, None] == rows[redo, :k]).any(axis=1)]
            if redo.size:
                col[redo] = self._draw_excluding(rows[redo, :k])
        taken[clash] = rows
        return taken[:, 1:]

    def _draw_excluding(self, excluded: np.ndarray) -> np.ndarray:
        """One word per row of ``excluded`` (m, k), from ``P`` renormalised without them."""
        p = np.tile(self.word_p, (len(excluded), 1))
        np.put_along_axis(p, excluded, 0.0, axis=1)
        cdf = np.cumsum(p, axis=1)
        u = self.rng.random(len(excluded)) * cdf[:, -1]
        return (cdf <= u[:, None]).sum(axis=1)

    def __repr__(self) -> str:
        return f"UnigramSampler(vocab_size={self.vocab_size}, sample_size={self.sample_size})"


@register_sequel_layer
class NegativeSamplingLoss(SequelLayer):
    """Binary cross-entropy of the target (label 1) and ``sample_size`` negatives (label 0).

    Forward, for the hidden vectors ``h`` (N, H), the targets ``t`` and negatives
    ``neg`` (N, S) from :attr:`sampler`:
    ``s = [W[t] . h, W[neg_1] . h, ..., W[neg_S] . h]`` (N, S + 1) and
    ``loss = (1/N) sum_n [log(1 + exp(-s_n0)) + sum_{k>=1} log(1 + exp(s_nk))]``, the sequel's
    sum over the S + 1 examples of each one's mean over the batch.
    Backward: ``ds_nk = dout (sigmoid(s_nk) - label_k) / N``, then :class:`EmbeddingDot`'s.

    Parameters
    ----------
    W : ndarray, shape (V, H)
    corpus : array_like of int
        Word ids the unigram distribution is counted from, each a row of ``W`` (< V).
    power : float, default 0.75
    sample_size : int, default 5
    seed : keyword-only
        Seeds the sampler's generator.
    touched_rows_only : bool, default False, keyword-only
        See :class:`~layerwise.sequel.layers.Embedding`.

    Shapes
    ------
    h : (N, H). target : (N,). loss : scalar. dh : (N, H). grads[0] (dW) : (V, H).
    The last negatives drawn are kept as ``negative_sample`` (N, S).
    """

    param_names = ("W",)

    def __init__(
        self,
        W: npt.ArrayLike,
        corpus: npt.ArrayLike,
        power: float = 0.75,
        sample_size: int = 5,
        *,
        seed: Any = None,
        touched_rows_only: bool = False,
    ) -> None:
        self.sampler = UnigramSampler(corpus, power, sample_size, seed=seed)
        self.sample_size = self.sampler.sample_size
        self.embed_dot = EmbeddingDot(W, touched_rows_only=touched_rows_only)
        V = len(self.embed_dot.params[0])
        if self.sampler.vocab_size > V:  # the sequel fails, at random, in a later forward
            raise ValueError(
                f"{type(self).__name__}: the corpus holds word ids up to "
                f"{self.sampler.vocab_size - 1}, but W has {V} rows (a vocabulary of {V}): "
                "every id must be a row of W"
            )
        self.loss_layer = SigmoidWithLoss()
        self.params, self.grads = self.embed_dot.params, self.embed_dot.grads
        self.negative_sample: np.ndarray | None = None

    def forward(self, h: npt.ArrayLike, target: npt.ArrayLike) -> np.floating:
        W = self.params[0]
        target = as_array(target, f"{type(self).__name__}.forward", name="target")
        self.negative_sample = as_array_like(self.sampler.get_negative_sample(target), W)
        # checked by the sampler; as intp, for uint64 ids would make the concatenation float
        target = as_array_like(target, W).astype(np.intp, copy=False)
        idx = np.concatenate([target.reshape(-1, 1), self.negative_sample], axis=1)
        score = self.embed_dot.forward(h, idx)
        label = np.zeros_like(score)
        label[:, 0] = 1
        # SigmoidWithLoss averages over N (S + 1) entries; the sequel's loss sums S + 1 means.
        return self.loss_layer.forward(score, label) * (self.sample_size + 1)

    def backward(self, dout: npt.ArrayLike = 1.0) -> np.ndarray:
        if self.negative_sample is None:
            raise self._not_ready()
        dout = float(check_dout(dout, (), type(self).__name__))
        dscore = self.loss_layer.backward(dout * (self.sample_size + 1))
        return self.embed_dot.backward(dscore)
