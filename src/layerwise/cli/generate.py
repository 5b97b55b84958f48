"""``layerwise generate``: text from a language model, or a seq2seq model's answer.

A language model (rnnlm, better-rnnlm) writes ``--length`` words after ``--start`` (the sequel's
chapter 7: each next word drawn from the softmax of the model's scores, ``<unk>``, ``N`` and ``$``
never drawn, ``<eos>`` printed as a full stop and a line break); the same ``--seed`` gives the
same text. A seq2seq model answers ``--input``, greedily, padded and reversed as its training
data were.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..run_folders import model_file
from ..sequel.checkpoints import sequel_file_kind
from ..sequel.rnnlm import BetterRnnlm
from ..sequel.rnnlm_gen import BetterRnnlmGen, RnnlmGen
from ._common import UsageError, did_you_mean, non_negative_int, positive_int
from ._sequel import open_sequel_model

#: Words the sequel's ch07/generate_text.py never draws.
SKIPPED = ("N", "<unk>", "$")
DEFAULT_LENGTH = 100


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="text from a language model, or a seq2seq model's answer to --input",
    )
    p.add_argument(
        "model", help="a model .npz of the sequel's models written by `layerwise train`, or its "
        "run folder"
    )  # fmt: skip
    p.add_argument(
        "--start",
        metavar="WORDS",
        help="language models: the text to continue, one word or several (default, and for "
        "one of spaces only: <eos>, a new sentence)",
    )
    p.add_argument(
        "--length",
        type=positive_int,
        metavar="N",
        help=f"language models: the words to write, the start's last included (default "
        f"{DEFAULT_LENGTH})",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        help="language models: the draws' seed, a number >= 0: the same seed, the same text "
        "(default: a fresh text each time)",
    )
    p.add_argument(
        "--input",
        metavar="TEXT",
        help="seq2seq models: the question to answer, as the data set writes one ('16+75', "
        "'september 27, 1994')",
    )
    p.set_defaults(func=run, parser=p)


def run(args: Any) -> int:
    path = model_file(args.model)
    if sequel_file_kind(path) is None:
        raise UsageError(
            f"{path} is not a model of the sequel's: generate takes a language model or a "
            "seq2seq model written by `layerwise train --model rnnlm` (better-rnnlm, seq2seq, "
            "peeky-seq2seq, attention-seq2seq)"
        )
    loaded, _ = open_sequel_model(path)
    if loaded.vocab is None:
        raise ValueError(f"{path}: the model file holds no vocabulary, so no text can be written")
    if loaded.is_word2vec:
        raise UsageError(
            f"{path} is a word2vec model ({loaded.class_name}): it writes no text; `layerwise "
            "evaluate` prints its nearest words"
        )
    if loaded.is_seq2seq:
        given = [f"--{n}" for n in ("start", "length", "seed") if getattr(args, n) is not None]
        if given or args.input is None:
            raise UsageError(
                f"{path} is a seq2seq model ({loaded.class_name}): give it --input TEXT"
                + (f"; {', '.join(given)} apply to language models" if given else "")
            )
        print(_answer(loaded, args.input))
    else:
        if args.input is not None:
            raise UsageError(
                f"{path} is a language model ({loaded.class_name}): --input is for seq2seq "
                "models; give --start WORDS"
            )
        pieces = _text(loaded, args.start or "", args.length or DEFAULT_LENGTH, args.seed)
        written = False
        try:
            for piece in pieces:  # each word as it is drawn: Ctrl-C keeps what was shown
                print(piece, end="", flush=True)
                written = True
        except KeyboardInterrupt:
            if written:
                print()  # the line cut short, ended before the note on stderr
            raise
        print()
    return 0


def _text(loaded: Any, start: str, length: int, seed: int | None) -> Iterator[str]:
    """``length`` words continuing ``start`` (no words: ``<eos>``), drawn with ``seed``, in
    pieces as they are drawn (:func:`_shown`); ``start`` is checked at once."""
    word_to_id = loaded.word_to_id
    words = start.split() or ["<eos>"]  # "" and " " alike: a new sentence
    for word in words:
        if word not in word_to_id:
            raise UsageError(
                f"--start: {word!r} is not in the model's vocabulary of {len(word_to_id)} words"
                f"{did_you_mean(word, word_to_id)}"
            )
    model = loaded.model
    gen_class = BetterRnnlmGen if isinstance(model, BetterRnnlm) else RnnlmGen
    gen = gen_class(**loaded.config, dtype=model.params[0].dtype)
    for p, q in zip(gen.params, model.params, strict=True):
        p[...] = q
    for word in words[:-1]:  # the start's first words set the state, as ch07 primes it
        gen.predict(np.array([[word_to_id[word]]]))
    skip = [word_to_id[w] for w in SKIPPED if w in word_to_id]
    ids = gen.draws(word_to_id[words[-1]], skip_ids=skip, seed=seed)
    drawn = (loaded.vocab[i] for i in itertools.islice(ids, length))
    return _shown(itertools.chain(words[:-1], drawn))


def _shown(words: Iterable[str]) -> Iterator[str]:
    """``words`` (no whitespace in a word, as in a vocabulary) as the sequel prints them, a
    piece per word as it comes: joined by spaces, ``" <eos>"`` a full stop and a line break,
    then the text and each line stripped::

        text = " ".join(words).replace(" <eos>", ".\\n").replace("<eos>", "")
        "\\n".join(line.strip() for line in text.strip().splitlines())

    A word's trailing whitespace is held back until the next word shows whether it is inside
    a line (kept), between lines (the line breaks only) or at the end (dropped).
    """
    held, begun = "", False
    for i, word in enumerate(words):
        piece = (f" {word}" if i else word).replace(" <eos>", ".\n").replace("<eos>", "")
        shown = []
        for run in re.findall(r"\s+|\S+", piece):
            if run.isspace():
                held += run
                continue
            breaks = len(f".{held}.".splitlines()) - 1
            shown += [("\n" * breaks or held) if begun else "", run]
            held, begun = "", True
        if shown:
            yield "".join(shown)


def _answer(loaded: Any, question: str) -> str:
    """The model's answer to ``question``, padded and reversed as its training data were."""
    sequence = loaded.sequence
    if sequence is None:
        raise ValueError(
            f"{loaded.path}: the model file does not say how wide its questions are (written by "
            "save_model without sequence=): it cannot pad --input"
        )
    width = sequence["question_width"]
    char_to_id = loaded.word_to_id
    if not question.strip():
        raise UsageError(
            f"--input {question!r} is empty: give a question, as the data set writes one"
        )
    # Where every training question was full width, nothing was padded: no space to pad with.
    pads = " " in char_to_id
    if len(question) > width or "_" in question:
        raise UsageError(
            f"--input {question!r}: a question of this model has {'at most' if pads else 'exactly'}"
            f" {width} characters and no '_'"
        )
    unknown = sorted(set(question) - set(char_to_id))
    if unknown or "_" not in char_to_id:
        raise UsageError(
            f"--input {question!r}: the model does not know the characters {unknown}; it knows "
            f"{''.join(sorted(char_to_id))!r}"
        )
    if len(question) < width and not pads:
        raise UsageError(
            f"--input {question!r}: a question of this model has exactly {width} characters "
            "(its training questions were all that wide, so it knows no space to pad with)"
        )
    padded = question.ljust(width)
    if sequence["reversed"]:
        padded = padded[::-1]
    x = np.array([[char_to_id[c] for c in padded]])
    ids = loaded.model.generate_batch(x, char_to_id["_"], sequence["answer_width"] - 1)[0]
    return "".join(loaded.vocab[i] for i in ids).strip()
