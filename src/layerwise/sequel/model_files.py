"""Model files of the sequel's models: what to rebuild, the parameters and the vocabulary.

:meth:`~layerwise.sequel.weights.SequelParams.save_params` writes a model's arrays only, as
the sequel does: loading them needs a model of the right class and sizes built first. A model
file also says which model it is, so :func:`load_model` rebuilds it from the file alone. It is
the container's ``.npz`` (:mod:`layerwise.container`: written atomically, read without
unpickling) holding

- ``'__sequel_model__'``: a JSON description: ``format``, ``version``, ``layerwise`` (the
  version that wrote it), ``class`` (one of :data:`MODEL_CLASSES`), ``config`` (the
  constructor's sizes: ``vocab_size``, ``wordvec_size``, ``hidden_size``, and BetterRnnlm's
  ``dropout_ratio``; CBOW's and SkipGram's ``vocab_size``, ``hidden_size``, ``window_size``),
  ``dtype``, and optionally ``sequence`` (a seq2seq model's question and
  answer widths and whether it reads questions reversed) and ``training`` (any JSON object:
  the command line keeps its options there);
- ``'params/0'`` ... : ``params`` in the sequel's order (a tied weight at each of its
  positions, as the sequel's weight files hold it);
- ``'vocab'``, optionally: the V words (language models, word2vec) or characters (seq2seq) in id
  order.

A CBOW or SkipGram read back has the word vectors (``word_vecs``, ``W_in``) and ``W_out``, but
not the corpus its sampler drew negatives in proportion to: the file's model samples every word
alike. Training goes on from a checkpoint, whose trainer rebuilds the model on the corpus.

Reading is the container's plain sequence: the description is read and checked (a known class,
whole sizes >= 1, float32 or float64), the shapes of ``params`` are computed from the sizes alone
(:func:`param_shapes`) and compared with every entry's header, and only then is a model built
and the arrays read into it, one at a time. So a file declaring a vocabulary of 10**12 words
makes layerwise allocate nothing, a compressed entry is refused unread (the entries are stored:
an array cannot be larger than the file), and loading holds the model and one array at most;
every refusal is a :class:`~layerwise.container.ModelFileError` naming the file.

Examples
--------
>>> import tempfile, pathlib
>>> from layerwise.sequel.rnnlm import Rnnlm
>>> path = pathlib.Path(tempfile.mkdtemp()) / "lm.npz"
>>> path = save_model(Rnnlm(3, 4, 5, seed=0), path, vocab=["a", "b", "<eos>"])
>>> model = load_model(path)
>>> type(model).__name__, [p.shape for p in model.params][:3]
('Rnnlm', [(3, 4), (4, 20), (5, 20)])
>>> read_model_file(path).vocab
['a', 'b', '<eos>']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import InvalidParameterError, check_number
from .._types import StrPath
from .._version import __version__
from ..container import NpzFile, open_npz, read_json_entry, write_npz_atomic
from .attention import AttentionSeq2seq
from .rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from .seq2seq import PeekySeq2seq, Seq2seq
from .word2vec import CBOW, SkipGram

__all__ = [
    "MODEL_CLASSES",
    "SequelModelFile",
    "is_sequel_model_file",
    "load_model",
    "model_description",
    "model_from_entries",
    "param_shapes",
    "read_model_file",
    "save_model",
]

FORMAT, VERSION = "layerwise-sequel-model", 1
DESCRIPTION_KEY = "__sequel_model__"
VOCAB_KEY = "vocab"
_MAX_DESCRIPTION_BYTES = 1 << 20
_DTYPES = ("float32", "float64")  # what the models are built in
_SIZES = ("vocab_size", "wordvec_size", "hidden_size")
_WORD2VEC = ("vocab_size", "hidden_size", "window_size")
_SEQUENCE = {"question_width": int, "answer_width": int, "reversed": bool}


def _lstm(D: int, H: int) -> list[tuple[int, ...]]:
    """A TimeLSTM's Wx (D, 4H), Wh (H, 4H), b (4H,)."""
    return [(D, 4 * H), (H, 4 * H), (4 * H,)]


def _language_model(gates: int, layers: int) -> Callable[..., list[tuple[int, ...]]]:
    def shapes(V: int, D: int, H: int) -> list[tuple[int, ...]]:
        recurrent = [(D, gates * H), (H, gates * H), (gates * H,)]
        for _ in range(layers - 1):
            recurrent += [(H, gates * H), (H, gates * H), (gates * H,)]
        return [(V, D), *recurrent, (H, V), (V,)]

    return shapes


def _seq2seq(lstm_in: Callable[[int, int], int], affine_in: int) -> Callable[..., Any]:
    """The encoder's four arrays, then the decoder's six (its LSTM reads ``lstm_in(D, H)``
    columns, its affine layer ``affine_in * H``)."""

    def shapes(V: int, D: int, H: int) -> list[tuple[int, ...]]:
        encoder = [(V, D), *_lstm(D, H)]
        return [*encoder, (V, D), *_lstm(lstm_in(D, H), H), (affine_in * H, V), (V,)]

    return shapes


def _word2vec(V: int, H: int, window_size: int) -> list[tuple[int, ...]]:
    """CBOW's and SkipGram's ``W_in`` and ``W_out``, both (V, H)."""
    return [(V, H), (V, H)]


def _uniform_corpus(config: Mapping[str, Any]) -> dict[str, Any]:
    """word2vec's constructor takes a corpus for its sampler; a file holds none (see above)."""
    return {"corpus": np.arange(config["vocab_size"])}


@dataclass(frozen=True)
class ModelClass:
    """What a model file needs of one of the sequel's model classes.

    Attributes
    ----------
    cls : type
    shapes : callable
        ``shapes(V, D, H)``: the shapes of ``params``, computed without building anything.
    vocabulary : {'words', 'chars'}
        What its ids stand for: words for the language models, characters for seq2seq.
    sizes : tuple of str
        The constructor's sizes, in the order ``shapes`` takes them.
    rebuild : callable or None
        ``rebuild(config)``: the constructor's other arguments when rebuilt from a file.
    """

    cls: type
    shapes: Callable[..., list[tuple[int, ...]]]
    vocabulary: str
    sizes: tuple[str, ...] = ("vocab_size", "wordvec_size", "hidden_size")
    rebuild: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None

    @property
    def is_seq2seq(self) -> bool:
        return self.vocabulary == "chars"

    @property
    def is_word2vec(self) -> bool:
        """Word vectors (CBOW, SkipGram): sized by ``window_size``, not by ``wordvec_size``."""
        return self.sizes == _WORD2VEC


#: The classes a model file may name, by class name.
MODEL_CLASSES: dict[str, ModelClass] = {
    "SimpleRnnlm": ModelClass(SimpleRnnlm, _language_model(1, 1), "words"),
    "Rnnlm": ModelClass(Rnnlm, _language_model(4, 1), "words"),
    "BetterRnnlm": ModelClass(BetterRnnlm, _language_model(4, 2), "words"),
    "Seq2seq": ModelClass(Seq2seq, _seq2seq(lambda D, H: D, 1), "chars"),
    "PeekySeq2seq": ModelClass(PeekySeq2seq, _seq2seq(lambda D, H: H + D, 2), "chars"),
    "AttentionSeq2seq": ModelClass(AttentionSeq2seq, _seq2seq(lambda D, H: D, 2), "chars"),
    "CBOW": ModelClass(CBOW, _word2vec, "words", _WORD2VEC, _uniform_corpus),
    "SkipGram": ModelClass(SkipGram, _word2vec, "words", _WORD2VEC, _uniform_corpus),
}


def param_shapes(class_name: str, config: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The shapes of ``params`` of ``class_name(**config)``, from the sizes alone.

    >>> param_shapes("Rnnlm", {"vocab_size": 10, "wordvec_size": 3, "hidden_size": 2})
    [(10, 3), (3, 8), (2, 8), (8,), (2, 10), (10,)]
    """
    kind = MODEL_CLASSES[class_name]
    return kind.shapes(*(config[k] for k in kind.sizes))


def _class_of(model: Any) -> str:
    """The name in :data:`MODEL_CLASSES` of ``model``'s class, or of the nearest base there
    (RnnlmGen is saved as Rnnlm: the same constructor and arrays)."""
    for cls in type(model).__mro__:
        entry = MODEL_CLASSES.get(cls.__name__)
        if entry is not None and entry.cls is cls:
            return cls.__name__
    raise TypeError(
        f"save_model: {type(model).__name__} is not one of the sequel's models a model file "
        f"describes ({', '.join(MODEL_CLASSES)})"
    )


def model_description(
    model: Any,
    *,
    vocab: Sequence[str] | Mapping[int, str] | None = None,
    sequence: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The description and arrays :func:`save_model` writes (checkpoints embed them too).

    Returns
    -------
    description : dict
        JSON-serialisable.
    arrays : dict of str to ndarray
        ``params/<i>`` (the model's own arrays, not copies) and ``vocab`` when given.

    Raises
    ------
    TypeError, ValueError
        For a model that is not one of :data:`MODEL_CLASSES`, or arguments that :func:`load_model`
        would refuse in the file (each named).
    """
    name = _class_of(model)
    params = list(model.params)
    V, D = params[0].shape
    config: dict[str, Any]
    if MODEL_CLASSES[name].is_word2vec:
        config = {"vocab_size": V, "hidden_size": D, "window_size": model.window_size}
    else:
        config = {"vocab_size": V, "wordvec_size": D, "hidden_size": params[2].shape[0]}
    if name == "BetterRnnlm":
        config["dropout_ratio"] = float(model.drop_layers[0].dropout_ratio)
    description: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "layerwise": __version__,
        "class": name,
        "config": config,
        "dtype": str(params[0].dtype),
    }
    arrays: dict[str, Any] = {f"params/{i}": p for i, p in enumerate(params)}
    problems = _config_problems(description)
    expected = param_shapes(name, config) if not problems else []
    problems += [
        f"params[{i}] has shape {p.shape}, expected {s}"
        for i, (p, s) in enumerate(zip(params, expected, strict=False))
        if p.shape != s
    ]
    if isinstance(vocab, Mapping) and sorted(vocab) != list(range(len(vocab))):
        problems.append(f"the vocabulary's ids are not 0 .. {len(vocab) - 1}")
    elif vocab is not None:
        words = [vocab[i] for i in range(len(vocab))] if isinstance(vocab, Mapping) else vocab
        arrays[VOCAB_KEY] = np.array(list(words), dtype=str)
        problems += _vocab_problems(list(words), MODEL_CLASSES[name].vocabulary, V)
    if sequence is not None:
        description["sequence"] = dict(sequence)
        problems += _sequence_problems(description["sequence"], name)
    if training is not None:
        description["training"] = dict(training)
    if problems:
        raise ValueError(f"save_model: cannot describe this {name}: " + "; ".join(problems))
    json.dumps(description)  # a TypeError now, not a half-written file, if not serialisable
    return description, arrays


def save_model(
    model: Any,
    path: StrPath,
    *,
    vocab: Sequence[str] | Mapping[int, str] | None = None,
    sequence: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write one of the sequel's models to ``path``, atomically, as :func:`load_model` reads it.

    Parameters
    ----------
    model : SimpleRnnlm, Rnnlm, BetterRnnlm, Seq2seq, PeekySeq2seq, AttentionSeq2seq, CBOW or
        SkipGram
        Or a subclass of one with its constructor (RnnlmGen, written as Rnnlm).
    path : str or Path
        Written exactly as given (no suffix added).
    vocab : list of str, or dict of int to str, optional, keyword-only
        ``id_to_word`` (language models) or ``id_to_char`` (seq2seq): the V distinct words or
        single characters in id order.
    sequence : dict, optional, keyword-only
        Seq2seq models only: ``question_width`` and ``answer_width`` (the answer's start symbol
        included), as the data set pads them, and ``reversed`` (bool): whether questions are
        read reversed.
    training : dict, optional, keyword-only
        How it was trained: any JSON object, kept as is.

    Returns
    -------
    Path

    Raises
    ------
    TypeError
        A model of another class, or ``training`` not JSON-serialisable.
    ValueError
        A vocabulary of the wrong length, repeated entries, an entry ending in ``'\\x00'``
        (NumPy's text arrays drop trailing NULs), or bad ``sequence``, named.
    """
    description, arrays = model_description(
        model, vocab=vocab, sequence=sequence, training=training
    )
    arrays[DESCRIPTION_KEY] = np.array(json.dumps(description))
    return write_npz_atomic(path, arrays)


@dataclass
class SequelModelFile:
    """What a model file holds: the model rebuilt, its vocabulary and what else it records.

    Attributes
    ----------
    path : Path
    model : one of :data:`MODEL_CLASSES`
        Built in the file's dtype, the file's arrays copied into its ``params``.
    class_name : str
    config : dict
        The constructor's sizes.
    vocab : list of str or None
        The word or character of each id.
    sequence : dict or None
        ``question_width``, ``answer_width``, ``reversed`` (seq2seq models that recorded them).
    training : dict or None
    """

    path: Path
    model: Any
    class_name: str
    config: dict[str, Any]
    vocab: list[str] | None
    sequence: dict[str, Any] | None
    training: dict[str, Any] | None

    @property
    def is_seq2seq(self) -> bool:
        return MODEL_CLASSES[self.class_name].is_seq2seq

    @property
    def is_word2vec(self) -> bool:
        return MODEL_CLASSES[self.class_name].is_word2vec

    @property
    def word_to_id(self) -> dict[str, int]:
        """The inverse of :attr:`vocab` (empty when the file has none)."""
        return {w: i for i, w in enumerate(self.vocab or [])}


def is_sequel_model_file(path: StrPath) -> bool:
    """Whether ``path`` is an ``.npz`` whose entries include a sequel model's description
    (from the headers alone; False for anything else, a damaged file included)."""
    try:
        with open_npz(path, "model file") as f:
            return DESCRIPTION_KEY in f.headers
    except (OSError, ValueError):
        return False


def read_model_file(path: StrPath) -> SequelModelFile:
    """The model of a file :func:`save_model` wrote, with its vocabulary and records.

    Parameters
    ----------
    path : str or Path
        A model file, or a run folder of ``layerwise train`` (its ``model.npz`` is read).

    Raises
    ------
    FileNotFoundError
        No such file, or a folder without model.npz.
    ModelFileError
        Anything wrong with the file, named: not an ``.npz``, pickled objects, no or bad JSON
        description, an unknown class, sizes that are not whole numbers >= 1, arrays missing,
        unexpected, of other shapes (judged from their headers, before anything is allocated)
        or dtypes, compressed entries, sizes the model's constructor refuses (a CBOW of fewer
        than 6 words), a vocabulary of the wrong length, repeated entries, tied weights given
        two values, a named pipe or device in place of a file.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "model.npz").is_file():
            raise FileNotFoundError(
                f"'{path}' is a folder without model.npz: a run folder holds one once its run "
                "finished (its checkpoint.npz: layerwise.sequel.checkpoints.SequelCheckpoint)"
            )
        path = path / "model.npz"
    with open_npz(path, "sequel model file") as f:
        description = read_json_entry(
            f, DESCRIPTION_KEY, FORMAT, (VERSION,), _MAX_DESCRIPTION_BYTES
        )
        return model_from_entries(f, description)


def load_model(path: StrPath) -> Any:
    """The model a file :func:`save_model` wrote, rebuilt (class, sizes, dtype, parameters).

    ``read_model_file(path).model``: ``path`` a model file or a run folder; see
    :func:`read_model_file` for what is refused.
    """
    return read_model_file(path).model


def model_from_entries(
    f: NpzFile, description: Mapping[str, Any], prefix: str = ""
) -> SequelModelFile:
    """The model an open file describes: ``description`` checked, then the entries under
    ``prefix`` (``params/<i>``, ``vocab``) checked from their headers, then read.

    Entries outside ``prefix`` are the caller's (a checkpoint's optimizer state); with no
    prefix, the file must hold nothing but the model and its description.
    """
    problems = _config_problems(description)
    if problems:
        raise f.error("its description is not a sequel model's: " + "; ".join(problems))
    name, config, dtype = description["class"], description["config"], description["dtype"]
    kind = MODEL_CLASSES[name]
    expected = param_shapes(name, config)
    keys = [f"{prefix}params/{i}" for i in range(len(expected))]
    ours = {k for k in f.headers if k.startswith(prefix) and k != DESCRIPTION_KEY}
    if not prefix:
        ours = set(f.headers) - {DESCRIPTION_KEY}
    vocab_key = prefix + VOCAB_KEY
    missing = [k for k in keys if k not in ours]
    unexpected = sorted(ours - set(keys) - {vocab_key})
    if missing or unexpected:
        raise f.error(
            f"its entries are not those of a {name}: missing {missing}, unexpected {unexpected}"
        )
    for key, shape in zip(keys, expected, strict=True):
        got_shape, got_dtype = f.headers[key]
        if got_shape != shape or got_dtype != np.dtype(dtype):
            raise f.error(
                f"entry {key!r} has shape {got_shape} and dtype {got_dtype}; the description's "
                f"{name}({_call(config)}) in {dtype} needs {shape} and {dtype}"
            )
    vocab = None
    if vocab_key in ours:
        shape, vdtype = f.headers[vocab_key]
        if vdtype.kind != "U" or shape != (config["vocab_size"],):
            raise f.error(
                f"its {vocab_key!r} entry must be {config['vocab_size']} strings (vocab_size), "
                f"got {vdtype} {shape}"
            )
        vocab = f.read(vocab_key).tolist()
        problems = _vocab_problems(vocab, kind.vocabulary, config["vocab_size"])
        if problems:
            raise f.error("its vocabulary " + "; ".join(problems))
    sequence = description.get("sequence")
    if sequence is not None:
        problems = _sequence_problems(sequence, name)
        if problems:
            raise f.error("its 'sequence' " + "; ".join(problems))
    training = description.get("training")
    if training is not None and not isinstance(training, dict):
        raise f.error(f"its 'training' must be a JSON object, got {type(training).__name__}")
    # Checked: the model is as large as the arrays the file really holds.
    try:
        model = kind.cls(**config, **(kind.rebuild(config) if kind.rebuild else {}), dtype=dtype)
    except ValueError as e:  # sizes the constructor refuses (a CBOW of under 6 words)
        raise f.error(f"its {name}({_call(config)}) cannot be built: {e}") from e
    # One array at a time, dropped once copied: the peak is the model and one array.
    params = model.params
    for i, (p, key) in enumerate(zip(params, keys, strict=True)):
        a = f.read(key)
        # A tied weight (BetterRnnlm's affine W is embed W.T) is written at both positions,
        # so the file must give both the same value.
        tied = [j for j in range(i) if np.shares_memory(params[j], p)]
        if tied and not np.array_equal(p, a, equal_nan=True):
            ties = ", ".join(f"params/{j} and params/{i}" for j in tied)
            raise f.error(
                f"{ties} are one array in a {name} (tied weights), but the file gives them "
                "different values"
            )
        p[...] = a
        del a
    return SequelModelFile(
        f.path, model, name, dict(config), vocab, None if sequence is None else dict(sequence),
        training,
    )  # fmt: skip


def _call(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def _config_problems(description: Mapping[str, Any]) -> list[str]:
    """What is wrong with a description's ``class``, ``config`` and ``dtype`` (empty: none)."""
    name = description.get("class")
    if not isinstance(name, str) or name not in MODEL_CLASSES:
        return [
            f"'class' is {str(name)[:60]!r}, not one of the sequel's models "
            f"({', '.join(MODEL_CLASSES)})"
        ]
    problems = []
    dtype = description.get("dtype")
    if dtype not in _DTYPES:
        problems.append(f"'dtype' is {str(dtype)[:40]!r}, not one of {', '.join(_DTYPES)}")
    config = description.get("config")
    if not isinstance(config, dict):
        return [*problems, "'config' is not a JSON object"]
    sizes = MODEL_CLASSES[name].sizes
    wanted = [*sizes, *(["dropout_ratio"] if name == "BetterRnnlm" else [])]
    if sorted(config) != sorted(wanted):
        return [*problems, f"'config' has {sorted(config)}, a {name} takes {wanted}"]
    for key in sizes:
        try:
            check_number(config[key], name, key, low=1, integer=True)
        except InvalidParameterError as err:
            problems.append(str(err))
    if name == "BetterRnnlm":
        try:
            check_number(config["dropout_ratio"], name, "dropout_ratio", low=0, high=1,
                         high_open=True)  # fmt: skip
        except InvalidParameterError as err:
            problems.append(str(err))
        if not problems and config["wordvec_size"] != config["hidden_size"]:
            problems.append("BetterRnnlm ties its weights: wordvec_size must equal hidden_size")
    return problems


def _vocab_problems(words: list[Any], vocabulary: str, V: int) -> list[str]:
    problems = []
    if len(words) != V:
        problems.append(f"has {len(words)} entries, the model's vocab_size is {V}")
    if not all(isinstance(w, str) for w in words):
        problems.append("must hold only str")
        return problems
    # NumPy's str arrays drop trailing NULs: "b\x00" would read back as "b".
    nul = [i for i, w in enumerate(words) if w.endswith("\x00")]
    if nul:
        problems.append(
            f"vocab[{nul[0]}] ({words[nul[0]]!r}) ends in '\\x00', which a model file cannot "
            "keep (NumPy drops trailing NULs from text)"
        )
    if len(set(words)) != len(words):
        repeated = sorted({w for w in words if words.count(w) > 1})[:3]
        problems.append(f"repeats {repeated}")
    elif vocabulary == "chars" and any(len(w) != 1 for w in words):
        problems.append("must hold single characters (a seq2seq model reads characters)")
    return problems


def _sequence_problems(sequence: Any, name: str) -> list[str]:
    if not MODEL_CLASSES[name].is_seq2seq:
        return [f"is for seq2seq models, not a {name}"]
    if not isinstance(sequence, dict) or sorted(sequence) != sorted(_SEQUENCE):
        return [f"must be an object of {sorted(_SEQUENCE)}"]
    problems = []
    if not isinstance(sequence["reversed"], bool):
        problems.append("'reversed' must be true or false")
    for key in ("question_width", "answer_width"):
        try:
            check_number(sequence[key], "sequence", key, low=1 if key[0] == "q" else 2,
                         integer=True)  # fmt: skip
        except InvalidParameterError as err:
            problems.append(str(err))
    return problems
