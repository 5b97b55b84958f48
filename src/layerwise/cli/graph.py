"""``layerwise graph``: a computational graph, the book's apple figures or a model's one step.

Volume 1's models are drawn as one step of layers (:func:`~layerwise.viz.record_step`); the
sequel's recurrent models as one training step unrolled over ``--steps`` time steps
(:func:`~layerwise.viz.record_unrolled`), either a tiny model built here (``--model``) or a
sequel model file, on random word ids of its vocabulary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..sequel.attention import AttentionSeq2seq
from ..sequel.model_files import is_sequel_model_file, read_model_file
from ..sequel.rnnlm import BetterRnnlm, Rnnlm, SimpleRnnlm
from ..sequel.seq2seq import PeekySeq2seq, Seq2seq
from ..viz import apple_graph, record_step, record_unrolled
from ._common import (
    UsageError,
    as_images,
    dataset,
    did_you_mean,
    load_dataset,
    number,
    open_model,
    positive_int,
)
from .train import RUN_OPTIONS

APPLES = ("apple", "apple-orange")  # the book's two shopping figures of chapter 5

#: The sequel's recurrent models ``--model`` builds, by name.
SEQUEL_MODELS = {
    "simple-rnnlm": SimpleRnnlm,
    "rnnlm": Rnnlm,
    "better-rnnlm": BetterRnnlm,
    "seq2seq": Seq2seq,
    "peeky-seq2seq": PeekySeq2seq,
    "attention-seq2seq": AttentionSeq2seq,
}

#: ``--model``'s sizes: vocabulary, word vectors, hidden state; small enough to read the
#: shapes on the picture. Float64, so the drawing is checked against the model to 1e-9.
TINY = {"vocab_size": 8, "wordvec_size": 4, "hidden_size": 4}
BATCH = 2  # sequences drawn at once (N)
#: The most time steps ``--steps`` draws: a drawing of 50 is some 14,000 points (5 m) wide, far
#: past what can be read, and every step more only repeats the one before.
MAX_STEPS = 50


def add_parser(sub):
    p = sub.add_parser(
        "graph",
        help="draw a computational graph: the book's apple figures, a model's step, or a "
        "recurrent model's step unrolled in time",
    )
    p.add_argument(
        "what",
        metavar="WHAT",
        nargs="?",
        help="apple, apple-orange (the book's figures), a model .npz / run folder (one "
        "training step on a batch of its dataset), or a sequel model file (one step unrolled "
        "over --steps time steps, on random word ids)",
    )
    p.add_argument(
        "--model",
        choices=SEQUEL_MODELS,
        metavar="MODEL",
        help="instead of WHAT: a tiny model of the sequel (V=8, D=H=4), one training step "
        f"unrolled over --steps time steps: {', '.join(SEQUEL_MODELS)}",
    )
    p.add_argument(
        "--steps",
        type=number(integer=True, low=1, high=MAX_STEPS),
        metavar="T",
        help=f"for a recurrent model: the time steps drawn, 1 to {MAX_STEPS} (default 3)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="FILE.dot/.gv (DOT text), .svg or .png (need Graphviz); default: DOT on stdout",
    )
    p.add_argument("--dataset", type=dataset, help="for a model: default the one it was trained on")
    p.add_argument(
        "--batch-size", type=positive_int, help="for a model: default its training batch size"
    )
    p.set_defaults(func=run, parser=p)


def run(args):
    recurrent = args.model is not None or _sequel_file(args.what)
    if args.model is not None and args.what is not None:
        raise UsageError(f"give WHAT ({args.what!r}) or --model, not both")
    if args.what is None and args.model is None:
        raise UsageError(
            "say what to draw: apple, apple-orange, a model file or run folder, or --model "
            f"{{{','.join(SEQUEL_MODELS)}}}"
        )
    if recurrent:
        for name in ("dataset", "batch_size"):
            if getattr(args, name) is not None:
                raise UsageError(
                    f"--{name.replace('_', '-')} is for volume 1's models; a recurrent model is "
                    "drawn on random word ids"
                )
        figure: Any = _unrolled(args)
    elif args.steps is not None:
        raise UsageError("--steps is for the sequel's recurrent models (--model or their files)")
    elif args.what in APPLES:
        figure = apple_graph(oranges=args.what == "apple-orange")
    elif not Path(args.what).exists():
        raise UsageError(
            f"argument WHAT: there is no file or folder {args.what!r}; WHAT is apple, "
            f"apple-orange, or a model .npz or run folder{did_you_mean(args.what, APPLES)}"
        )
    else:
        model, network, options = open_model(args.what)
        name = args.dataset or options.get("dataset") or RUN_OPTIONS["dataset"]
        batch_size = args.batch_size or options.get("batch_size") or RUN_OPTIONS["batch_size"]
        (x_train, t_train), _ = load_dataset(name)[0]
        x = as_images(x_train[:batch_size], network)
        title = (
            f"{type(network).__name__} ({model}): one step on {len(x)} training images of "
            f"{Path(name).name}"
        )
        figure = record_step(network.train(), x, t_train[:batch_size], title=title)
    if args.out is None:
        sys.stdout.write(figure.to_dot())
    else:
        print(f"wrote {figure.save(args.out)}")
    return 0


def _model_path(what: str | None) -> Path | None:
    """The model file WHAT names: the file itself, or a run folder's model.npz."""
    if what is None or what in APPLES:
        return None
    path = Path(what)
    return path / "model.npz" if path.is_dir() else path


def _sequel_file(what: str | None) -> bool:
    """Whether WHAT is a sequel model file (or a run folder holding one)."""
    path = _model_path(what)
    return path is not None and path.is_file() and is_sequel_model_file(path)


def _unrolled(args):
    """A recurrent model's training step, unrolled over --steps steps on random word ids."""
    if args.model is not None:
        cls = SEQUEL_MODELS[args.model]
        model = cls(**TINY, seed=0, dtype=np.float64)
        where = f"a tiny {cls.__name__}"
    else:
        path = _model_path(args.what)
        loaded = read_model_file(path)
        if loaded.is_word2vec:
            raise UsageError(
                f"{path} is a word2vec model ({loaded.class_name}), which has no time steps to "
                "unroll: layerwise graph draws the sequel's recurrent models, "
                f"{', '.join(SEQUEL_MODELS)} (their model files or --model)"
            )
        model = loaded.model
        where = f"{type(model).__name__} ({path})"
    steps = args.steps or 3
    vocab = len(model.params[0])  # every sequel model starts with its embedding (V, D)
    rng = np.random.default_rng(0)
    xs = rng.integers(0, vocab, (BATCH, steps))
    if hasattr(model, "encoder"):
        ts = rng.integers(0, vocab, (BATCH, steps + 1))
        parts = "; the encoder on the left, the decoder on the right"
    else:
        ts = rng.integers(0, vocab, (BATCH, steps))
        parts = ""
    title = (
        f"{where}: one training step unrolled over {steps} time steps, on {BATCH} sequences "
        f"of random word ids{parts}"
    )
    return record_unrolled(model, xs, ts, steps=steps, title=title)
