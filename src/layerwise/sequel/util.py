"""The sequel's ``common/util.py``: text, counting-based word vectors, and training helpers.

Chapter 2 (counting): :func:`preprocess`, :func:`create_co_matrix`, :func:`cos_similarity`,
:func:`most_similar`, :func:`ppmi`; chapter 3 (word2vec's data): :func:`create_contexts_target`,
:func:`convert_one_hot`; chapter 4: :func:`analogy`, :func:`normalize`; chapters 5-6:
:func:`clip_grads`, :func:`eval_perplexity`; :func:`to_cpu`, :func:`to_gpu` through
:mod:`layerwise.backend`.

The sequel loops over every word (``create_co_matrix``, ``create_contexts_target``) or every
entry of the matrix (``ppmi``: minutes on PTB's 10,000 words); here each is a handful of NumPy
calls with the same result. Differences, each with a regression test in
``tests/test_sequel_util.py``:

- ``normalize`` returns a new array (the sequel's divides its argument in place);
- ``ppmi`` gives 0 for a word that never occurs (the sequel's ``0/0`` warns and gives NaN);
- ``most_similar`` and ``analogy`` print as the sequel's do and also return the
  ``(word, similarity)`` pairs they print;
- ``eval_perplexity`` raises for a corpus shorter than one batch (the sequel divides by zero);
- ``convert_one_hot`` refuses an id outside [0, vocab_size) or not an integer (the sequel
  raises an IndexError for ``vocab_size``, sets the last column for -1, truncates 0.5 to 0);
- ``cos_similarity``, ``most_similar`` and ``normalize`` take integer input as float64 (the
  sequel squares :func:`create_co_matrix`'s int32 counts in int32, which wraps round);
- ``create_contexts_target`` of a corpus of 2 window_size words or fewer gives contexts of
  shape (0, 2 window_size) in the corpus's dtype (the sequel's ``np.array([])``, (0,) float64).
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import InvalidParameterError, as_array, as_float_array, check_number, quiet
from ..backend import as_numpy, get_array_module, to_device
from .base import check_ids

__all__ = [
    "analogy",
    "clip_grads",
    "convert_one_hot",
    "cos_similarity",
    "create_co_matrix",
    "create_contexts_target",
    "eval_perplexity",
    "most_similar",
    "normalize",
    "ppmi",
    "preprocess",
    "to_cpu",
    "to_gpu",
]


def preprocess(text: str) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """Split a text into word ids, as the sequel's section 2.3.1.

    Lower-cases the text, makes each ``.`` a word of its own and splits at spaces; ids are given
    in order of first appearance.

    Returns
    -------
    corpus : ndarray of int, shape (L,)
    word_to_id, id_to_word : dict

    Examples
    --------
    >>> corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    >>> corpus
    array([0, 1, 2, 3, 4, 1, 5, 6])
    >>> id_to_word[6]
    '.'
    """
    words = text.lower().replace(".", " .").split(" ")
    word_to_id: dict[str, int] = {}
    for word in words:
        word_to_id.setdefault(word, len(word_to_id))
    id_to_word = {i: w for w, i in word_to_id.items()}
    return np.array([word_to_id[w] for w in words]), word_to_id, id_to_word


def create_co_matrix(corpus: npt.ArrayLike, vocab_size: int, window_size: int = 1) -> np.ndarray:
    """Co-occurrence counts: ``C[w, c]`` is how often word c stands within ``window_size`` of w.

    Returns
    -------
    ndarray of int32, shape (vocab_size, vocab_size)
        Symmetric.
    """
    corpus = np.asarray(corpus)
    window_size = check_number(window_size, "create_co_matrix", "window_size", low=1, integer=True)
    C = np.zeros((vocab_size, vocab_size), dtype=np.int32)
    for i in range(1, window_size + 1):
        # Each pair of words i apart counts once for each of the two.
        np.add.at(C, (corpus[:-i], corpus[i:]), 1)
        np.add.at(C, (corpus[i:], corpus[:-i]), 1)
    return C


def cos_similarity(x: npt.ArrayLike, y: npt.ArrayLike, eps: float = 1e-8) -> np.floating:
    """``x . y / ((|x| + eps) (|y| + eps))``: the cosine of two vectors, 0 for a zero vector.

    Integer vectors (rows of :func:`create_co_matrix`'s int32 counts) are taken as float64
    first: the sequel's ``x ** 2`` in int32 wraps round past 46341.
    """
    x, y = as_float_array(x, "cos_similarity"), as_float_array(y, "cos_similarity", name="y")
    nx = x / (np.sqrt(np.sum(x**2)) + eps)
    ny = y / (np.sqrt(np.sum(y**2)) + eps)
    return np.dot(nx, ny)


def _similarities(word_matrix: np.ndarray, query_vec: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """:func:`cos_similarity` of every row of ``word_matrix`` with ``query_vec``, at once."""
    rows = word_matrix / (np.sqrt(np.sum(word_matrix**2, axis=1, keepdims=True)) + eps)
    return rows @ (query_vec / (np.sqrt(np.sum(query_vec**2)) + eps))


def _print_top(
    similarity: np.ndarray, id_to_word: Mapping[int, str], skip: Sequence[str], top: int
) -> list[tuple[str, float]]:
    out = []
    for i in (-1 * similarity).argsort():  # the sequel's order, ties included
        if np.isnan(similarity[i]) or id_to_word[int(i)] in skip:
            continue
        out.append((id_to_word[int(i)], float(similarity[i])))
        print(f" {out[-1][0]}: {similarity[i]}")
        if len(out) >= top:
            break
    return out


def most_similar(
    query: str,
    word_to_id: Mapping[str, int],
    id_to_word: Mapping[int, str],
    word_matrix: np.ndarray,
    top: int = 5,
) -> list[tuple[str, float]] | None:
    """Print the ``top`` words of largest cosine similarity to ``query``, and return them.

    Returns
    -------
    list of (word, similarity), most similar first; None (after a message) for an unknown word.
    """
    if query not in word_to_id:
        print(f"{query} is not found")
        return None
    print("\n[query] " + query)
    # integer counts as float64: their squares would wrap round in int32
    word_matrix = as_float_array(word_matrix, "most_similar", name="word_matrix")
    # computed where the vectors are; the V similarities come to the host to be ranked
    similarity = as_numpy(_similarities(word_matrix, word_matrix[word_to_id[query]]))
    return _print_top(similarity, id_to_word, (query,), top)


def convert_one_hot(corpus: npt.ArrayLike, vocab_size: int) -> np.ndarray:
    """Word ids (any shape) as one-hot vectors, int32 of shape ``(*corpus.shape, vocab_size)``.

    Every id must be an integer in [0, vocab_size) (the sequel's raises an IndexError for
    ``vocab_size``, sets the last column for -1 and truncates a float id).
    """
    vocab_size = check_number(vocab_size, "convert_one_hot", "vocab_size", low=1, integer=True)
    corpus = check_ids(corpus, vocab_size, "convert_one_hot")
    return (corpus[..., None] == np.arange(vocab_size)).astype(np.int32)


def ppmi(C: npt.ArrayLike, verbose: bool = False, eps: float = 1e-8) -> np.ndarray:
    """Positive pointwise mutual information of a co-occurrence matrix.

    ``PPMI(x, y) = max(0, log2(C[x, y] N / (S[x] S[y]) + eps))``, with ``N`` the sum of C and
    ``S`` its column sums (the sequel's section 2.4.1).

    Returns
    -------
    ndarray of float32, C's shape
        0 for a word that never occurs.
    """
    C = np.asarray(C)
    S = np.sum(C, axis=0).astype(np.float64)
    with quiet():  # a word that never occurs gives 0/0; fmax turns its NaN into 0
        pmi = np.log2(C * (np.sum(C) / np.outer(S, S)) + eps)
    if verbose:
        print("100.0% done")
    return np.fmax(pmi, 0).astype(np.float32)


def create_contexts_target(
    corpus: npt.ArrayLike, window_size: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """word2vec's examples: each word with the ``window_size`` words on each side of it.

    Returns
    -------
    contexts : ndarray, shape (max(L - 2 window_size, 0), 2 window_size)
        Left words then right words, nearest last on the left and first on the right.
    target : ndarray, shape (max(L - 2 window_size, 0),)
        Both of the corpus's dtype; no rows for a corpus of 2 window_size words or fewer.

    Examples
    --------
    >>> contexts, target = create_contexts_target(np.array([0, 1, 2, 3, 4, 1, 5, 6]))
    >>> contexts[:2], target[:2]
    (array([[0, 2],
           [1, 3]]), array([1, 2]))
    """
    corpus = as_array(corpus, "create_contexts_target", name="corpus")
    w = check_number(window_size, "create_contexts_target", "window_size", low=1, integer=True)
    if corpus.ndim != 1:
        raise ValueError(
            f"create_contexts_target: corpus must be 1-D word ids (L,), got shape {corpus.shape}"
        )
    if len(corpus) <= 2 * w:  # no word has w neighbours on each side (sliding_window_view fails)
        return corpus[:0].reshape(0, 2 * w), corpus[:0].copy()
    windows = np.lib.stride_tricks.sliding_window_view(corpus, 2 * w + 1)
    return np.delete(windows, w, axis=1), windows[:, w].copy()


def normalize(x: npt.ArrayLike) -> np.ndarray:
    """Each row of a matrix (or a vector) divided by its length; a new array.

    A row of zeros stays zeros, as in scikit-learn's ``normalize`` (the sequel's gives NaN
    with a warning: 0 / 0). Integers are taken as float64 (the sequel's ``x ** 2`` wraps round
    in int32); a float array keeps its dtype.
    """
    x = as_float_array(x, "normalize")
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / np.where(norm == 0, 1, norm)


def analogy(
    a: str,
    b: str,
    c: str,
    word_to_id: Mapping[str, int],
    id_to_word: Mapping[int, str],
    word_matrix: np.ndarray,
    top: int = 5,
    answer: str | None = None,
) -> list[tuple[str, float]] | None:
    """Solve ``a : b = c : ?`` with ``normalize(b - a + c)``; print and return the ``top`` words.

    The score of each word is the dot product of its row of ``word_matrix`` with the normalised
    query (the sequel's: rows are expected normalised). ``answer``, if given, has its score
    printed first.
    """
    for word in (a, b, c):
        if word not in word_to_id:
            print(f"{word} is not found")
            return None
    print(f"\n[analogy] {a}:{b} = {c}:?")
    vec = {w: word_matrix[word_to_id[w]] for w in (a, b, c)}
    query_vec = normalize(vec[b] - vec[a] + vec[c])
    similarity = as_numpy(np.dot(word_matrix, query_vec))  # ranked on the host
    if answer is not None:
        print(f"==>{answer}:{np.dot(word_matrix[word_to_id[answer]], query_vec)}")
    return _print_top(similarity, id_to_word, (a, b, c), top)


def to_cpu(x: Any) -> np.ndarray:
    """``x`` as a NumPy array on the host (itself when it is one; a copy from a CuPy array)."""
    return as_numpy(x)


def to_gpu(x: Any) -> Any:
    """``x`` on the GPU as a CuPy array (itself when it is one).

    Raises :class:`~layerwise.backend.DeviceUnavailableError`, saying what to install, where
    CuPy or a GPU is missing.
    """
    return to_device(x, "cuda")


def clip_grads(grads: Sequence[np.ndarray], max_norm: float) -> None:
    """Scale every gradient in place by ``max_norm / (|g| + 1e-6)`` when that is below 1.

    ``|g|`` is the L2 norm of all the gradients together, as one vector (the sequel's
    section 5.5.3: gradient clipping against exploding gradients). ``max_norm`` must be at
    least 0 (a negative one, which the sequel takes, turns every gradient round); every
    gradient a floating-point array, as an optimizer's parameters are.
    """
    number = max_norm
    if isinstance(number, np.ndarray) and number.ndim == 0:
        number = number.item()
    if not isinstance(number, numbers.Real) or isinstance(number, bool):
        check_number(max_norm, "clip_grads", "max_norm", low=0)  # raises, naming what came
    if not number >= 0:  # NaN too; inf never clips, as in the sequel
        raise InvalidParameterError(f"clip_grads: max_norm must be >= 0, got {max_norm!r}")
    for i, grad in enumerate(grads):  # scaled in place: a fraction cannot be stored in an int
        if getattr(grad, "dtype", np.dtype(object)).kind != "f":
            raise TypeError(
                f"clip_grads: grads[{i}] must be a floating-point array (scaled in place), got "
                f"{getattr(grad, 'dtype', type(grad).__name__)}"
            )
    # summed where the gradients are; one number comes back to the host, for the test below
    total_norm = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            grad *= rate


def eval_perplexity(
    model: Any, corpus: npt.ArrayLike, batch_size: int = 10, time_size: int = 35
) -> float:
    """Perplexity, ``exp(mean loss)``, of a language model over a corpus of word ids.

    The corpus is read as the sequel's does: ``batch_size`` rows starting ``(L - 1) //
    batch_size`` words apart, ``time_size`` words at a time, the targets one word ahead;
    ``model.forward(xs, ts, train_flg=False)`` (or ``model.forward(xs, ts)`` for a model
    without the flag) gives each batch's mean loss. Progress is printed as in the sequel.
    """
    corpus = as_array(corpus, "eval_perplexity", name="corpus")
    batch_size = check_number(batch_size, "eval_perplexity", "batch_size", low=1, integer=True)
    time_size = check_number(time_size, "eval_perplexity", "time_size", low=1, integer=True)
    size = len(corpus)
    max_iters = (size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(
            f"eval_perplexity: a corpus of {size} words is shorter than one batch of "
            f"{batch_size} x {time_size} words (plus one); pass a smaller batch_size or time_size"
        )
    print("evaluating perplexity ...")
    jump = (size - 1) // batch_size
    xp = get_array_module(corpus)  # the positions index the corpus where it is
    starts = xp.arange(batch_size)[:, None] * jump + xp.arange(time_size)
    total_loss = 0.0
    for iters in range(max_iters):
        positions = starts + iters * time_size
        xs, ts = corpus[positions % size], corpus[(positions + 1) % size]
        try:
            loss = model.forward(xs, ts, train_flg=False)
        except TypeError:  # a model whose forward has no train_flg, as the sequel allows
            loss = model.forward(xs, ts)
        total_loss = np.add(total_loss, loss, dtype=np.float64)  # on the loss's device
        sys.stdout.write(f"\r{iters} / {max_iters}")
        sys.stdout.flush()
    print("")
    return float(np.exp(total_loss / max_iters))
