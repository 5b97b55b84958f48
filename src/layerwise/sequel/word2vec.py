"""word2vec, the sequel's chapters 3 and 4: SimpleCBOW, SimpleSkipGram, CBOW, SkipGram.

Each model has the sequel's constructor, ``forward(contexts, target)`` returning the loss,
``backward(dout=1)``, ``params``/``grads`` lists and ``word_vecs`` (the input-side matrix,
``W_in``: row w is word w's vector). Weights are ``0.01 * N(0, 1)`` as in the sequel, drawn from
``seed=`` (keyword-only, where the sequel draws from NumPy's global state) and stored in
``dtype=`` (float32 by default, as the sequel's ``astype('f')``, or float64); the sizes must be
whole numbers, at least 1.

- :class:`SimpleCBOW`, :class:`SimpleSkipGram` (chapter 3): one-hot inputs, ``MatMul`` layers and
  a softmax over the vocabulary; window 1. Their ``params`` are the sequel's lists
  (``SimpleCBOW``: ``[W_in, W_in, W_out]``, the same array twice, one gradient each).
- :class:`CBOW`, :class:`SkipGram` (chapter 4): word ids, ``Embedding`` and
  :class:`~layerwise.sequel.negative_sampling.NegativeSamplingLoss`. The sequel gives CBOW one
  Embedding per context position and SkipGram one loss layer per position, all sharing one
  array; here one layer reads every position at once, so ``params`` is ``[W_in, W_out]`` (the
  sequel lists W_in 2 window_size times and W_out 6 or 12 times, which its Trainer's
  ``remove_duplicate`` adds back together). Their ``forward`` checks that contexts are
  (N, 2 window_size) and target (N,): the sequel reads the first 2 window_size columns of
  wider contexts and raises an IndexError for narrower ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, check_number, check_seed
from ..backend import as_numpy, get_array_module
from ..plans import check_dtype
from .base import OnDevice, check_ids
from .layers import Embedding, MatMul, SoftmaxWithLoss
from .negative_sampling import NegativeSamplingLoss
from .rnnlm import check_sizes

__all__ = ["CBOW", "SimpleCBOW", "SimpleSkipGram", "SkipGram"]

#: The negative samples CBOW and SkipGram draw per target word, as the sequel's (section 4.2.6):
#: a corpus needs at least one distinct word more.
NEGATIVES = 5


def _init(shape: tuple[int, int], rng: np.random.Generator, dtype: npt.DTypeLike) -> np.ndarray:
    return (0.01 * rng.standard_normal(shape)).astype(dtype)


def _collect(model: Any, layers: list[Any]) -> None:
    model.params, model.grads = [], []
    for layer in layers:
        model.params += layer.params
        model.grads += layer.grads


class _FullSoftmax(OnDevice):
    """SimpleCBOW's and SimpleSkipGram's weights: ``W_in`` (V, H) and ``W_out`` (H, V)."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        V, H = check_sizes(where, vocab_size=vocab_size, hidden_size=hidden_size)
        dtype = check_dtype(dtype, where)
        rng = check_seed(seed, where)
        W_in, W_out = _init((V, H), rng, dtype), _init((H, V), rng, dtype)
        self._build(W_in, W_out)
        self.word_vecs = W_in

    def _build(self, W_in: np.ndarray, W_out: np.ndarray) -> None:
        raise NotImplementedError


class SimpleCBOW(_FullSoftmax):
    """CBOW with a full softmax (section 3.4): ``h = (c_0 W_in + c_1 W_in) / 2``, ``s = h W_out``.

    Parameters
    ----------
    vocab_size, hidden_size : int
        V and H. ``W_in`` (V, H), ``W_out`` (H, V).

    Shapes
    ------
    contexts : (N, 2, V) one-hot. target : (N, V) one-hot or (N,) ids. loss : scalar.
    """

    def _build(self, W_in: np.ndarray, W_out: np.ndarray) -> None:
        self.in_layer0 = MatMul(W_in)
        self.in_layer1 = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer = SoftmaxWithLoss()
        _collect(self, [self.in_layer0, self.in_layer1, self.out_layer])

    def forward(self, contexts: npt.ArrayLike, target: npt.ArrayLike) -> np.floating:
        contexts = as_array(contexts, f"{type(self).__name__}.forward", name="contexts")
        h = self.in_layer0.forward(contexts[:, 0])
        h += self.in_layer1.forward(contexts[:, 1])
        h *= 0.5
        return self.loss_layer.forward(self.out_layer.forward(h), target)

    def backward(self, dout: float = 1) -> None:
        da = self.out_layer.backward(self.loss_layer.backward(dout))
        da *= 0.5
        self.in_layer1.backward(da)
        self.in_layer0.backward(da)


class SimpleSkipGram(_FullSoftmax):
    """skip-gram with a full softmax (section 3.5): predict both neighbours from the word.

    ``h = target W_in``, scores ``s = h W_out``, loss = the cross-entropy of ``s`` against the
    left context plus that against the right one.

    Shapes
    ------
    contexts : (N, 2, V) one-hot. target : (N, V) one-hot. loss : scalar.
    """

    def _build(self, W_in: np.ndarray, W_out: np.ndarray) -> None:
        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer1 = SoftmaxWithLoss()
        self.loss_layer2 = SoftmaxWithLoss()
        _collect(self, [self.in_layer, self.out_layer])

    def forward(self, contexts: npt.ArrayLike, target: npt.ArrayLike) -> np.floating:
        contexts = as_array(contexts, f"{type(self).__name__}.forward", name="contexts")
        s = self.out_layer.forward(self.in_layer.forward(target))
        return self.loss_layer1.forward(s, contexts[:, 0]) + self.loss_layer2.forward(
            s, contexts[:, 1]
        )

    def backward(self, dout: float = 1) -> None:
        ds = self.loss_layer1.backward(dout) + self.loss_layer2.backward(dout)
        self.in_layer.backward(self.out_layer.backward(ds))


class _NegativeSampling(OnDevice):
    """CBOW's and SkipGram's weights and layers: ``W_in`` and ``W_out``, both (V, H)."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: npt.ArrayLike,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        V, H = check_sizes(where, vocab_size=vocab_size, hidden_size=hidden_size)
        dtype = check_dtype(dtype, where)
        rng = check_seed(seed, where)
        self.window_size = check_number(
            window_size, type(self).__name__, "window_size", low=1, integer=True
        )
        corpus = check_ids(as_numpy(corpus), None, where)
        if corpus.size and corpus.max() >= V:  # the sequel fails, at random, in a later forward
            raise ValueError(
                f"{where}: the corpus holds word ids up to {corpus.max()}, but vocab_size is "
                f"{V} (W_in and W_out have {V} rows): every id must be below vocab_size"
            )
        W_in, W_out = _init((V, H), rng, dtype), _init((V, H), rng, dtype)
        # No array is listed twice and nothing adds into the gradients, so backward need
        # only zero the rows it wrote last time (a dense (V, H) zeroing took half the step).
        self.in_layer = Embedding(W_in, touched_rows_only=True)
        self.ns_loss = NegativeSamplingLoss(
            W_out, corpus, power=0.75, sample_size=NEGATIVES, seed=rng, touched_rows_only=True
        )
        _collect(self, [self.in_layer, self.ns_loss])
        self.word_vecs = W_in

    def _examples(self, contexts: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
        """contexts (N, 2 window_size) and target (N,), N >= 1, as arrays; else a ValueError
        (a wrong width scaled the loss or failed in backward, after a forward that worked)."""
        where = f"{type(self).__name__}.forward"
        contexts = as_array(contexts, where, name="contexts")
        target = as_array(target, where, name="target")
        width = 2 * self.window_size
        if contexts.ndim != 2 or contexts.shape[1] != width or target.shape != contexts.shape[:1]:
            raise ValueError(
                f"{where}: expected contexts of shape (N, {width}) (2 window_size = {width} word "
                f"ids per target) and target (N,), got contexts {contexts.shape} and target "
                f"{target.shape}"
            )
        if not len(target):
            raise ValueError(f"{where}: expected at least one example, got N = 0")
        return contexts, target


class CBOW(_NegativeSampling):
    """CBOW with negative sampling (section 4.3): the mean of the context words' vectors.

    ``h = (1 / 2w) sum_j W_in[contexts[:, j]]``, then
    :class:`~layerwise.sequel.negative_sampling.NegativeSamplingLoss` of ``h`` and the target
    against ``W_out`` (V, H).

    Parameters
    ----------
    vocab_size, hidden_size, window_size : int
    corpus : array_like of int
        For the sampler's unigram distribution; ids below ``vocab_size``.
    seed : keyword-only
        Seeds the weights and the sampler.

    Shapes
    ------
    contexts : (N, 2 window_size) ids. target : (N,) ids. loss : scalar.
    """

    def forward(self, contexts: npt.ArrayLike, target: npt.ArrayLike) -> np.floating:
        contexts, target = self._examples(contexts, target)
        h = self.in_layer.forward(contexts).mean(axis=1)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: float = 1) -> None:
        dh = self.ns_loss.backward(dout)
        n_context = 2 * self.window_size
        scale = get_array_module(dh).full((len(dh), n_context), 1 / n_context, dh.dtype)
        self.in_layer.backward_scaled_rows(scale, dh)


class SkipGram(_NegativeSampling):
    """skip-gram with negative sampling (section 4.3): predict each context word from the word.

    ``h = W_in[target]``; the loss is the sum over the 2 ``window_size`` context positions of
    :class:`~layerwise.sequel.negative_sampling.NegativeSamplingLoss` of ``h`` and that position's
    word, each drawing its own negatives. All positions are scored in one call, on ``h`` repeated
    once per position.

    Shapes
    ------
    contexts : (N, 2 window_size) ids. target : (N,) ids. loss : scalar.
    """

    def forward(self, contexts: npt.ArrayLike, target: npt.ArrayLike) -> np.floating:
        contexts, target = self._examples(contexts, target)
        h = self.in_layer.forward(target)
        n_context = contexts.shape[1]
        # The loss layer averages over its N 2w rows; the sequel sums 2w means over N.
        loss = self.ns_loss.forward(np.repeat(h, n_context, axis=0), contexts.reshape(-1))
        return loss * n_context

    def backward(self, dout: float = 1) -> None:
        n_context = 2 * self.window_size
        dh = self.ns_loss.backward(dout * n_context)
        self.in_layer.backward(dh.reshape(-1, n_context, dh.shape[1]).sum(axis=1))
