"""Sequence to sequence (the sequel's chapter 7: ``ch07/seq2seq.py``, ``ch07/peeky_seq2seq.py``).

An :class:`Encoder` reads the question ``xs`` (N, T) and keeps only its LSTM's last hidden state
``h`` (N, H); a :class:`Decoder` starts its LSTM from ``h`` and, given the answer shifted right
(``ts[:, :-1]``, which starts with the start symbol ``_``), predicts the answer ``ts[:, 1:]``
(teacher forcing). The loss is :class:`~layerwise.sequel.TimeSoftmaxWithLoss`; the gradient
reaches the encoder through the decoder's ``dh``, the gradient of its starting state.

:class:`PeekyDecoder` also gives ``h`` to every step ("peeking"): it is concatenated to the
LSTM's input (``[h, embed(x_t)]``, (N, T, H + D)) and to the affine layer's input
(``[h, h_t]``, (N, T, 2H)); ``h``'s gradient is then ``dh`` plus these steps' gradients summed.

The sequel reverses the questions (``x[:, ::-1]``, Sutskever et al. 2014): the first characters
of the question then sit close to the first of the answer. Do it before training and pass the
same reversed questions to :func:`eval_seq2seq` with ``is_reverse=True`` (it only affects what
is printed).

Generation is greedy: from the start symbol, the arg max of the scores is fed back
``sample_size`` times. ``generate(xs, start_id, sample_size)`` is the sequel's (one question, a
list of ids); ``generate_batch`` decodes N questions at once, (N, sample_size), row for row the
same ids, and :func:`seq2seq_accuracy` counts a test set's exact answers with it.

The constructors are the sequel's, ``(vocab_size, wordvec_size, hidden_size)``, with its
initialisation (embeddings ``N(0, 1) / 100``, weights ``N(0, 1) / sqrt(fan_in)``, biases 0)
drawn from ``seed=`` in ``dtype=`` (keyword-only; float32 by default, float64 for gradient
checks). ``params`` lists the arrays in the sequel's order, so its weight files load
(:meth:`~layerwise.sequel.weights.SequelParams.load_params`). Each size must be a whole
number, at least 1, and ``dtype`` float32 or float64, as in the language models.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_array, as_float_array, check_dout, check_number, check_seed
from ..backend import as_numpy, get_array_module
from ..layers.base import backward_before_forward
from ..plans import check_dtype
from .base_model import BaseModel
from .rnnlm import InitialWeights, check_sizes
from .time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = [
    "Decoder",
    "Encoder",
    "PeekyDecoder",
    "PeekySeq2seq",
    "Seq2seq",
    "eval_seq2seq",
    "seq2seq_accuracy",
]


def _start_ids(start_id: Any, n: int, vocab_size: int, where: str) -> np.ndarray:
    """``start_id`` as n ids (n,) on the host: one id for every row, or one per row.

    An id is a Python or NumPy integer in [0, vocab_size); a float is refused rather than
    truncated, and a bool rather than read as 0 or 1.
    """
    if isinstance(start_id, numbers.Integral) and not isinstance(start_id, bool):
        value = int(start_id)  # a Python int of any size, compared exactly
        if not 0 <= value < vocab_size:
            raise ValueError(
                f"{where}: start_id must be an id in [0, {vocab_size}) for a vocabulary of "
                f"{vocab_size}, got {value}"
            )
        return np.full(n, value, dtype=int)
    ids = as_numpy(as_array(start_id, where, name="start_id"))
    if ids.dtype.kind not in "iu":
        got = f"an array of dtype {ids.dtype}" if ids.ndim else repr(start_id)
        raise TypeError(
            f"{where}: start_id must be an integer id, or an integer array of one id per row, "
            f"got {got}"
        )
    if ids.ndim > 1 or (ids.ndim == 1 and len(ids) != n):
        raise ValueError(
            f"{where}: start_id must be one id, or one id per row, shape ({n},), got shape "
            f"{ids.shape}"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{where}: start_id must hold ids in [0, {vocab_size}) for a vocabulary of "
            f"{vocab_size}, got values from {ids.min()} to {ids.max()}"
        )
    return np.broadcast_to(ids.astype(int), (n,))


class Encoder:
    """TimeEmbedding and a TimeLSTM (not stateful); the output is the last hidden state.

    ``params``: embed W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,).

    Shapes
    ------
    xs : (N, T) ids. forward returns h (N, H); backward takes dh (N, H), returns None.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        V, D, H = check_sizes(
            type(self).__name__,
            vocab_size=vocab_size,
            wordvec_size=wordvec_size,
            hidden_size=hidden_size,
        )
        w = InitialWeights(seed, dtype, type(self).__name__)
        self.embed = TimeEmbedding(w.normal(V, D, 0.01))
        self.lstm = TimeLSTM(*w.recurrent(D, H, 4), stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads
        self.hs: np.ndarray | None = None

    def forward(self, xs: npt.ArrayLike) -> np.ndarray:
        self.hs = self.lstm.forward(self.embed.forward(xs))
        return self.hs[:, -1, :]

    def backward(self, dh: npt.ArrayLike) -> None:
        if self.hs is None:
            raise backward_before_forward(self)
        N, _, H = self.hs.shape
        dh = check_dout(dh, (N, H), type(self).__name__, self.hs.dtype)
        dhs = np.zeros_like(self.hs)
        dhs[:, -1, :] = dh  # only the last state was used
        self.embed.backward(self.lstm.backward(dhs))


class _Decoding:
    """Embedding, a stateful LSTM and an affine layer; greedy generation over a batch.

    A subclass gives ``_begin(state)`` (set the LSTM's start, keep what the steps need) and
    ``_step(x)``: ids (N, 1) to scores (N, 1, V); ``state_name`` and ``state_ndim`` say what
    the encoder hands it: ``h`` (N, H) or ``enc_hs`` (N, Te, H).
    """

    state_name = "h"
    state_ndim = 2

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        V, D, H = check_sizes(
            type(self).__name__,
            vocab_size=vocab_size,
            wordvec_size=wordvec_size,
            hidden_size=hidden_size,
        )
        lstm_in, affine_in = self._input_sizes(D, H)
        w = InitialWeights(seed, dtype, type(self).__name__)
        # The sequel draws each array in this order, scaled by its own fan-in.
        self.embed = TimeEmbedding(w.normal(V, D, 0.01))
        self.lstm = TimeLSTM(
            w.normal(lstm_in, 4 * H, 1 / np.sqrt(lstm_in)),
            w.normal(H, 4 * H, 1 / np.sqrt(H)),
            np.zeros(4 * H, w.dtype),
            stateful=True,
        )
        self.affine = TimeAffine(
            w.normal(affine_in, V, 1 / np.sqrt(affine_in)), np.zeros(V, w.dtype)
        )
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    @staticmethod
    def _input_sizes(D: int, H: int) -> tuple[int, int]:
        """The LSTM's and the affine layer's input widths."""
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        return self.embed.params[0].shape[0]

    def _start_state(self, state: Any, n: int | None, where: str) -> np.ndarray:
        """The encoder's output as a float array of shape (N, H) or (N, Te, H), N >= 1 (and
        ``n``, xs's rows, where given)."""
        H, name = self.lstm.hidden_size, self.state_name
        N = "N" if n is None else n
        shape = f"({N}, {H})" if self.state_ndim == 2 else f"({N}, Te, {H})"
        shape += "" if n is None else f" for xs's {n} rows"
        if state is None:  # the sequel's Decoder started from zeros, its PeekyDecoder failed
            raise TypeError(
                f"{where}: expected {name}, the encoder's output of shape {shape}, got None"
            )
        state = as_float_array(state, where, name=name)
        if (
            state.ndim != self.state_ndim
            or state.shape[-1] != H
            or 0 in state.shape
            or (n is not None and len(state) != n)
        ):
            raise ValueError(
                f"{where}: expected a non-empty {name} of shape {shape}, got {state.shape}"
            )
        return state

    def _inputs(self, xs: Any, state: Any, where: str) -> tuple[Any, np.ndarray]:
        """forward's ``xs`` and checked start state, of as many rows as ``xs``."""
        xs = as_array(xs, where, name="xs")
        n = len(xs) if xs.ndim == 2 else None  # otherwise TimeEmbedding says what xs must be
        return xs, self._start_state(state, n, where)

    def _begin(self, state: np.ndarray) -> None:
        raise NotImplementedError

    def _step(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def generate_batch(self, state: Any, start_id: Any, sample_size: int) -> np.ndarray:
        """Greedy decoding of N sequences at once: ids of shape (N, sample_size).

        ``start_id``: one id for all rows, or one per row (N,).
        """
        where = f"{type(self).__name__}.generate_batch"
        sample_size = check_number(sample_size, where, "sample_size", low=0, integer=True)
        state = self._start_state(state, None, where)
        n = len(state)
        x = _start_ids(start_id, n, self.vocab_size, where).reshape(n, 1)
        self._begin(state)
        sampled = get_array_module(state).empty((n, sample_size), dtype=int)  # on the device
        for t in range(sample_size):
            x = self._step(x).argmax(axis=-1)
            sampled[:, t] = x[:, 0]
        return sampled

    def generate(self, state: Any, start_id: int, sample_size: int) -> list[int]:
        """The sequel's: one sequence's ``sample_size`` ids, as a list of int."""
        return _one_row(self.generate_batch(state, start_id, sample_size), "generate")


def _one_row(sampled: np.ndarray, where: str) -> list[int]:
    if len(sampled) != 1:
        raise ValueError(
            f"{where}: expected one sequence (a batch of 1), got {len(sampled)}; "
            "generate_batch decodes several at once"
        )
    return sampled[0].tolist()


class Decoder(_Decoding):
    """TimeEmbedding, a stateful TimeLSTM started from the encoder's ``h``, TimeAffine.

    ``params``: embed W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,), affine W (H, V), b (V,).

    Shapes
    ------
    forward(xs (N, T) ids, h (N, H)) returns scores (N, T, V); backward(dscore) returns dh
    (N, H), the gradient of the starting state.
    """

    @staticmethod
    def _input_sizes(D: int, H: int) -> tuple[int, int]:
        return D, H

    def forward(self, xs: npt.ArrayLike, h: npt.ArrayLike) -> np.ndarray:
        xs, h = self._inputs(xs, h, "Decoder.forward")
        self.lstm.set_state(h)
        return self.affine.forward(self.lstm.forward(self.embed.forward(xs)))

    def backward(self, dscore: npt.ArrayLike) -> np.ndarray:
        self.embed.backward(self.lstm.backward(self.affine.backward(dscore)))
        return self.lstm.dh  # type: ignore[return-value]

    def _begin(self, h: np.ndarray) -> None:
        self.lstm.set_state(h)

    def _step(self, x: np.ndarray) -> np.ndarray:
        return self.affine.forward(self.lstm.forward(self.embed.forward(x)))


class PeekyDecoder(_Decoding):
    """Decoder whose every step sees the encoder's ``h``: ``[h, embed(x_t)]`` into the LSTM,
    ``[h, h_t]`` into the affine layer.

    ``params``: embed W (V, D), Wx (H + D, 4H), Wh (H, 4H), b (4H,), affine W (2H, V), b (V,).

    Backward: ``dh = lstm.dh + sum_t (dh_affine_t + dh_lstm_t)``, the first H columns of the
    affine and LSTM input gradients. ``h`` is the LSTM's static input (see
    :meth:`TimeLSTM.forward`): ``h Wx[:H]`` is formed once per sequence, not at every step.
    """

    cache: int | None = None

    @staticmethod
    def _input_sizes(D: int, H: int) -> tuple[int, int]:
        return H + D, 2 * H

    def _peek(self, h: np.ndarray, xs: Any) -> np.ndarray:
        # [h, embed(x_t)] into the LSTM: h is its static input, multiplied by Wx once per
        # sequence instead of at every step (the sequel concatenates it T times)
        out = self.lstm.forward(self.embed.forward(xs), static=h)
        hs = np.broadcast_to(h[:, None, :], (*out.shape[:2], h.shape[1]))
        return self.affine.forward(np.concatenate((hs, out), axis=2))

    def forward(self, xs: npt.ArrayLike, h: npt.ArrayLike) -> np.ndarray:
        xs, h = self._inputs(xs, h, "PeekyDecoder.forward")
        self.lstm.set_state(h)
        self.cache = h.shape[1]
        return self._peek(h, xs)

    def backward(self, dscore: npt.ArrayLike) -> np.ndarray:
        if self.cache is None:
            raise backward_before_forward(self)
        H = self.cache
        dout = self.affine.backward(dscore)
        self.embed.backward(self.lstm.backward(dout[:, :, H:]))
        return self.lstm.dh + dout[:, :, :H].sum(axis=1) + self.lstm.dstatic

    def _begin(self, h: np.ndarray) -> None:
        self.lstm.set_state(h)
        self.peeky_h = h

    def _step(self, x: np.ndarray) -> np.ndarray:
        return self._peek(self.peeky_h, x)


class Seq2seq(BaseModel):
    """:class:`Encoder`, :class:`Decoder` and TimeSoftmaxWithLoss (section 7.3).

    ``forward(xs, ts)``: the loss of predicting ``ts[:, 1:]`` from ``xs`` (N, Tq) and
    ``ts[:, :-1]`` (N, Ta - 1), mean over N and the steps. ``backward(dout=1)``.
    ``params``: the encoder's four arrays, then the decoder's six.

    Examples
    --------
    >>> import numpy as np
    >>> model = Seq2seq(vocab_size=13, wordvec_size=4, hidden_size=8, seed=0)
    >>> xs, ts = np.array([[1, 2, 0, 3]]), np.array([[6, 5, 4]])
    >>> loss = model.forward(xs, ts)
    >>> model.backward() is None, len(model.params)
    (True, 10)
    >>> len(model.generate(xs, start_id=6, sample_size=4))
    4
    """

    encoder_class: Any = Encoder
    decoder_class: Any = Decoder

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        seed: Any = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        sizes = check_sizes(
            type(self).__name__,
            vocab_size=vocab_size,
            wordvec_size=wordvec_size,
            hidden_size=hidden_size,
        )
        check_dtype(dtype, type(self).__name__)  # named as the model, before the encoder's check
        # one stream: the encoder's arrays, then the decoder's
        rng = check_seed(seed, type(self).__name__)
        self.encoder = self.encoder_class(*sizes, seed=rng, dtype=dtype)
        self.decoder = self.decoder_class(*sizes, seed=rng, dtype=dtype)
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def forward(self, xs: npt.ArrayLike, ts: npt.ArrayLike) -> np.floating:
        where = f"{type(self).__name__}.forward"
        xs, ts = as_array(xs, where, name="xs"), as_array(ts, where, name="ts")
        if ts.ndim != 2 or ts.shape[1] < 2:
            raise ValueError(
                f"{where}: expected ts of shape (N, T) with T >= 2 (the start symbol, then the "
                f"answer), got {ts.shape}"
            )
        if xs.ndim == 2 and len(xs) != len(ts):  # xs of another rank: the encoder says so
            raise ValueError(
                f"{where}: xs and ts must have the same number of rows (one answer per "
                f"question), got xs of shape {xs.shape} and ts of shape {ts.shape}"
            )
        decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]
        score = self.decoder.forward(decoder_xs, self.encoder.forward(xs))
        return self.softmax.forward(score, decoder_ts)

    def backward(self, dout: float = 1) -> None:
        self.encoder.backward(self.decoder.backward(self.softmax.backward(dout)))

    def generate_batch(self, xs: npt.ArrayLike, start_id: Any, sample_size: int) -> np.ndarray:
        """Greedy answers to N questions ``xs`` (N, T): ids (N, sample_size)."""
        where = f"{type(self).__name__}.generate_batch"
        sample_size = check_number(sample_size, where, "sample_size", low=0, integer=True)
        state = self.encoder.forward(xs)
        start_id = _start_ids(start_id, len(state), self.decoder.vocab_size, where)
        return self.decoder.generate_batch(state, start_id, sample_size)

    def generate(self, xs: npt.ArrayLike, start_id: int, sample_size: int) -> list[int]:
        """The sequel's: the answer to one question ``xs`` (1, T), a list of ``sample_size`` ids."""
        return _one_row(self.generate_batch(xs, start_id, sample_size), "generate")


class PeekySeq2seq(Seq2seq):
    """:class:`Seq2seq` with a :class:`PeekyDecoder` (section 7.4)."""

    decoder_class = PeekyDecoder


def eval_seq2seq(
    model: Any,
    question: npt.ArrayLike,
    correct: npt.ArrayLike,
    id_to_char: dict[int, str],
    verbose: bool = False,
    is_reverse: bool = False,
) -> int:
    """1 if ``model`` answers ``question`` (1, Tq) exactly ``correct`` (1, Ta), else 0.

    The sequel's ``common/util.py`` function: ``correct[0]`` is the start symbol, the rest the
    answer; with ``verbose`` the question (reversed back when ``is_reverse``), the answer and
    the guess are printed, the guess marked right or wrong.
    """
    correct = as_numpy(correct).reshape(-1)
    if not correct.size:
        raise ValueError(
            "eval_seq2seq: correct must hold the start symbol, then the answer; got an empty array"
        )
    guess = model.generate(question, int(correct[0]), len(correct) - 1)
    text = _chars(as_numpy(question).reshape(-1), id_to_char, "the question")
    answer = _chars(correct[1:], id_to_char, "the correct answer")
    guessed = _chars(guess, id_to_char, "the model's answer")
    if verbose:
        colors = {"ok": "\033[92m", "fail": "\033[91m", "close": "\033[0m"}
        print("Q", text[::-1] if is_reverse else text)
        print("T", answer)
        ok = answer == guessed
        if os.name == "nt":
            mark = "O" if ok else "X"
        else:
            mark = colors["ok"] + "☑" if ok else colors["fail"] + "☒"
            mark += colors["close"]
        print(mark + " " + guessed)
        print("---")
    return int(answer == guessed)


def _chars(ids: Any, id_to_char: dict[int, str], what: str) -> str:
    """``ids`` as text; an id that ``id_to_char`` lacks is a ValueError naming it."""
    try:
        return "".join(id_to_char[int(i)] for i in ids)
    except KeyError as err:
        raise ValueError(
            f"eval_seq2seq: id {err.args[0]!r} in {what} is not in id_to_char "
            f"({len(id_to_char)} ids)"
        ) from err


def seq2seq_accuracy(
    model: Any, x: npt.ArrayLike, t: npt.ArrayLike, *, batch_size: int = 1000
) -> float:
    """The fraction of questions ``x`` (N, Tq) answered exactly ``t[:, 1:]`` (N, Ta).

    :func:`eval_seq2seq` over every row, counted, but decoded ``batch_size`` questions at a
    time (``generate_batch``); ``t[:, 0]`` is each row's start symbol.
    """
    where = "seq2seq_accuracy"
    batch_size = check_number(batch_size, where, "batch_size", low=1, integer=True)
    x, t = as_array(x, where), as_numpy(as_array(t, where, name="t"))
    if x.ndim != 2 or t.ndim != 2 or t.shape[1] < 2 or len(x) != len(t):
        raise ValueError(
            f"{where}: expected questions x (N, Tq) and answers t (N, Ta) with Ta >= 2 (each "
            f"row's start symbol, then its answer), the same N, got x of shape {x.shape} and t "
            f"of shape {t.shape}"
        )
    if not len(x):
        raise ValueError(f"{where}: x and t have 0 rows: there are no questions to score")
    correct = 0
    for start in range(0, len(x), batch_size):
        tb = t[start : start + batch_size]
        guess = model.generate_batch(x[start : start + batch_size], tb[:, 0], tb.shape[1] - 1)
        guess = as_numpy(guess)  # N answers to compare with t on the host
        correct += int(np.all(guess == tb[:, 1:], axis=1).sum())
    return correct / len(x)
