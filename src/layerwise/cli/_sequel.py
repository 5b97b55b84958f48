"""The sequel's models on the command line: their options, data sets, runs and model files.

``layerwise train --model rnnlm|better-rnnlm`` trains a language model (chapter 6) on
``--dataset ptb`` or a text file; ``--model seq2seq|peeky-seq2seq|attention-seq2seq`` a
sequence-to-sequence model (chapters 7-8) on ``--dataset addition``, ``date`` or a file of
``question_answer`` lines; ``--model cbow|skip-gram`` word vectors (chapter 4) on ``ptb`` or a
text file, as the language models read it. A run is a run folder as volume 1's are (run.json,
checkpoint.npz at every epoch's end, resumable bit for bit;
:class:`~layerwise.cli._lifecycle.Run` ends it), its model file the sequel's
(:mod:`layerwise.sequel.model_files`), its curve the perplexity, the accuracy or word2vec's mean
loss per epoch (:mod:`layerwise.sequel.training`).
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from .._blas import blas_threads
from ..optimizers import OPTIMIZERS
from ..run_folders import (
    CHECKPOINT,
    MODEL,
    NAMED_DATASETS,
    RUN_JSON,
    RUNS_DIR,
    base_record,
    new_run_folder,
    prepare_folder,
    read_run,
    resume_record,
    write_run,
)
from ..sequel import optimizer as sequel_optimizers
from ..sequel.attention import AttentionSeq2seq
from ..sequel.checkpoints import SequelCheckpoint, sequel_file_kind
from ..sequel.dataset import ptb, read_text, sequence
from ..sequel.model_files import SequelModelFile, model_description, read_model_file, save_model
from ..sequel.rnnlm import BetterRnnlm, Rnnlm
from ..sequel.seq2seq import PeekySeq2seq, Seq2seq
from ..sequel.training import LanguageModelTraining, Seq2seqTraining, Word2vecTraining
from ..sequel.word2vec import CBOW, NEGATIVES, SkipGram
from ._common import SEQUEL_DATASETS, UsageError, flag
from ._lifecycle import Run

#: The sequel's files of the named sequence data sets.
SEQUENCE_FILES = {"addition": "addition.txt", "date": "date.txt"}


@dataclass(frozen=True)
class SequelModel:
    """A ``--model`` of the sequel: its class, kind and the book's training settings."""

    cls: type
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def language_model(self) -> bool:
        return self.cls in (Rnnlm, BetterRnnlm)

    @property
    def word2vec(self) -> bool:
        return self.cls in (CBOW, SkipGram)

    @property
    def reads_words(self) -> bool:
        """Whether it reads a corpus of words (ptb, a text file), not questions."""
        return self.language_model or self.word2vec


# The book's settings: ch06/train_rnnlm.py, ch06/train_better_rnnlm.py, ch07/train_seq2seq.py,
# ch08/train.py, ch04/train.py.
_LM = {"optimizer": "sgd", "lr": 20.0, "batch_size": 20, "time_size": 35, "max_grad": 0.25}
_RNNLM = {**_LM, "dataset": "ptb", "epochs": 4, "wordvec_size": 100, "hidden": [100]}
_BETTER = {**_LM, "dataset": "ptb", "epochs": 40, "wordvec_size": 650, "hidden": [650]}
_S2S = {"optimizer": "adam", "lr": 0.001, "batch_size": 128, "max_grad": 5.0, "wordvec_size": 16}
_ADDITION = {**_S2S, "dataset": "addition", "epochs": 25, "hidden": [128], "reverse": False}
_DATES = {**_S2S, "dataset": "date", "epochs": 10, "hidden": [256], "reverse": True}
_WORD2VEC = {
    "optimizer": "adam", "lr": 0.001, "batch_size": 100, "epochs": 10, "dataset": "ptb",
    "hidden": [100], "window_size": 5,
}  # fmt: skip

#: The sequel's models by ``--model`` name, with the book's settings as their defaults.
SEQUEL_MODELS = {
    "rnnlm": SequelModel(Rnnlm, "Rnnlm, chapter 6", _RNNLM),
    "better-rnnlm": SequelModel(
        BetterRnnlm,
        "BetterRnnlm, chapter 6: two LSTM layers, dropout, weight tying",
        {**_BETTER, "dropout": 0.5, "lr_decay": 4.0},
    ),
    "seq2seq": SequelModel(Seq2seq, "Seq2seq, chapter 7", _ADDITION),
    "peeky-seq2seq": SequelModel(PeekySeq2seq, "PeekySeq2seq, chapter 7", _ADDITION),
    "attention-seq2seq": SequelModel(AttentionSeq2seq, "AttentionSeq2seq, chapter 8", _DATES),
    "cbow": SequelModel(CBOW, "CBOW with negative sampling, chapter 4", _WORD2VEC),
    "skip-gram": SequelModel(SkipGram, "SkipGram with negative sampling, chapter 4", _WORD2VEC),
}

#: The options of a run of the sequel's models; None: the model's default, else as here.
SEQUEL_RUN_OPTIONS = {
    "dataset": None,
    "model": None,
    "hidden": None,
    "wordvec_size": None,
    "window_size": None,
    "dropout": None,
    "optimizer": None,
    "lr": None,
    "epochs": None,
    "batch_size": None,
    "time_size": None,
    "max_grad": None,
    "lr_decay": None,
    "reverse": False,
    "dtype": "float32",
    "seed": 0,
    "checkpoint_every": None,
    "eval_samples": None,
    "threads": 1,
}
#: What ``--resume`` may change for them.
SEQUEL_RESUME_MAY_CHANGE = ("epochs", "threads", "checkpoint_every")
#: The options of ``train`` only the sequel's models take, and their "not given".
SEQUEL_ONLY = {
    "wordvec_size": None,
    "window_size": None,
    "time_size": None,
    "max_grad": None,
    "lr_decay": None,
    "reverse": None,
}
#: The options of ``train`` the sequel's models do not take, and their "not given".
VOLUME_ONE_ONLY = {
    "activation": None,
    "weight_decay": None,
    "weight_init_std": None,
    "batchnorm": None,
    "workers": None,
    "device": None,
    "mpi": None,
    "start_method": None,
}


def check_options(args: Any, sequel: bool) -> None:
    """Refuse the options of ``train`` that the chosen model does not take, naming them."""
    foreign = VOLUME_ONE_ONLY if sequel else SEQUEL_ONLY
    for name, not_given in foreign.items():
        value = getattr(args, name)
        if value is not_given or (name == "device" and value == "cpu"):
            continue
        if sequel:
            raise UsageError(
                f"{flag(name)} does not apply to the sequel's models ({', '.join(SEQUEL_MODELS)})"
            )
        raise UsageError(
            f"{flag(name)} applies only to the sequel's models: --model "
            f"{' or '.join(SEQUEL_MODELS)}"
        )


def new_options(args: Any) -> dict[str, Any]:
    """A new run's options: the command line's, then the model's defaults, then the rest."""
    model = SEQUEL_MODELS[args.model]
    opts = {name: getattr(args, name) for name in SEQUEL_RUN_OPTIONS}
    for source in (model.defaults, SEQUEL_RUN_OPTIONS):
        for name, default in source.items():
            if opts.get(name) is None:
                opts[name] = default
    opts["reverse"] = bool(opts["reverse"])
    check_run(opts)
    return opts


def check_run(opts: dict[str, Any]) -> None:
    """Refuse option values the model and data set cannot take (before anything is written)."""
    model = SEQUEL_MODELS[opts["model"]]
    check_dataset(opts["dataset"], model.reads_words, f"--model {opts['model']}")
    if len(opts["hidden"]) != 1:
        raise UsageError(f"--model {opts['model']} takes one --hidden size")
    if not model.language_model and opts["time_size"] is not None:
        raise UsageError(f"--time-size applies to the language models, not --model {opts['model']}")
    if model.cls is BetterRnnlm and opts["wordvec_size"] != opts["hidden"][0]:
        raise UsageError(
            f"--model better-rnnlm ties its weights: --wordvec-size ({opts['wordvec_size']}) "
            f"must equal --hidden ({opts['hidden'][0]})"
        )
    if model.cls is not BetterRnnlm and opts["dropout"]:
        raise UsageError(f"--dropout does not apply to --model {opts['model']} (better-rnnlm)")
    if not model.language_model and opts["lr_decay"] is not None:
        raise UsageError(f"--lr-decay applies to the language models, not --model {opts['model']}")
    if model.reads_words and opts["eval_samples"]:
        raise UsageError("--eval-samples applies to the seq2seq models (their test questions)")
    if model.reads_words and opts["reverse"]:
        raise UsageError("--reverse applies to the seq2seq models (it reverses the questions)")
    if model.word2vec and opts["wordvec_size"] is not None:
        raise UsageError(
            f"--wordvec-size does not apply to --model {opts['model']}: its word vectors are "
            "--hidden long"
        )
    if not model.word2vec and opts["window_size"] is not None:
        raise UsageError(
            f"--window-size applies to --model cbow and skip-gram, not --model {opts['model']}"
        )


# ---------------------------------------------------------------------- data


def check_dataset(name: str, language_model: bool, who: str) -> None:
    """Refuse a ``--dataset`` that ``who`` (a language model or not) cannot read, naming what
    it reads."""
    reads = "ptb or a text file" if language_model else "addition, date or a file of questions"
    if name in NAMED_DATASETS or Path(name).is_dir():
        raise UsageError(f"--dataset {name}: the sequel's models read text; {who} reads {reads}")
    if (name == "ptb" and not language_model) or (name in SEQUENCE_FILES and language_model):
        kind = "language models" if name == "ptb" else "seq2seq models"
        raise UsageError(f"--dataset {name} is for the {kind}; {who} reads {reads}")


@dataclass
class TextData:
    """A data set of the sequel, as a run reads it.

    Language models: ``train`` and ``test`` are corpora of word ids (L,), ``val`` the text
    measured after each epoch. Seq2seq: ``train`` and ``test`` are (questions, answers) pairs.
    ``vocab``: the word or character of each id. ``source``: what was read, for run.json.
    """

    train: Any
    val: Any
    test: Any
    vocab: list[str]
    source: dict[str, Any]


def _words(text: str) -> list[str]:
    """Each line's words (split at whitespace), then ``<eos>``: the PTB's tokenisation, also
    for lines that do not end in a space as the PTB's do."""
    return [word for line in text.splitlines() for word in [*line.split(), "<eos>"]]


def load_text_data(name: str, language_model: bool, reverse: bool = False) -> TextData:
    """The data set of ``--dataset name`` for a language model or a seq2seq model.

    ``ptb``: the PTB's train, valid and test files (found as :func:`layerwise.sequel.dataset.
    ptb.load_data` finds them, downloaded when it can). A text file for a language model: its
    words, the vocabulary in order of first appearance; the last tenth is the validation and
    test text. ``addition``, ``date`` or a file for seq2seq: split as the sequel's
    ``dataset/sequence.py`` splits it (:func:`find_sequence_file` says where they are looked
    for), questions reversed with ``reverse``.

    Raises
    ------
    DatasetNotFoundError
        One line: what was looked for, where, and what to do.
    ValueError
        One line: the file is not UTF-8 text, or not in its format.
    UsageError
        A file of questions whose test part (its last tenth) is empty; a file of words that
        holds none; a NUL character in either.
    """
    if language_model:
        return _ptb() if name == "ptb" else _word_file(Path(name))
    path = find_sequence_file(name)
    try:
        (x_train, t_train), (x_test, t_test) = sequence.load_data(path)
    except ValueError as err:
        raise _refused(name, path, err) from None
    if not len(x_test):  # the sequel's split keeps N // 10 rows for testing
        lines = len(x_train)
        raise UsageError(
            f"--dataset {name}: its test part, the last tenth of its {lines} "
            f"line{'s' * (lines != 1)}, is empty: give at least 10 lines"
        )
    _, id_to_char = sequence.get_vocab()
    _no_nul(name, id_to_char.values())
    if reverse:  # the sequel's x_train[:, ::-1]: the question read from its end
        x_train, x_test = x_train[:, ::-1].copy(), x_test[:, ::-1].copy()
    vocab = [id_to_char[i] for i in range(len(id_to_char))]
    source = {"folder": str(path.parent.resolve()), "files": [path.name]}
    return TextData((x_train, t_train), None, (x_test, t_test), vocab, source)


def _ptb() -> TextData:
    try:
        corpus, _, id_to_word = ptb.load_data("train")
        val, _, _ = ptb.load_data("val")
        test, _, _ = ptb.load_data("test")
    except datasets.DatasetNotFoundError as err:
        raise datasets.DatasetNotFoundError(
            f"--dataset ptb: the Penn Treebank was not found and could not be downloaded "
            f"({err.looked}). Put {', '.join(ptb.FILES.values())} in a folder DIR/ptb and set "
            "LAYERWISE_DATA=DIR, or train on a text file: --dataset FILE"
        ) from None
    vocab = [id_to_word[i] for i in range(len(id_to_word))]
    source = {"folder": "ptb", "files": list(ptb.FILES.values())}
    return TextData(corpus, val, test, vocab, source)


def _refused(name: str, path: Path, err: ValueError) -> ValueError:
    """The error of ``--dataset name`` whose file ``path`` was refused with ``err``, which
    begins with the file's name: said once where ``name`` is that file."""
    reason = str(err)
    if name not in SEQUENCE_FILES:
        reason = reason.removeprefix(f"{path}: ")
    return ValueError(f"--dataset {name}: {reason}")


def _no_nul(name: str, words: Any) -> None:
    """Refuse a data set whose words or characters hold NUL: the model file could not keep
    them (NumPy's strings drop a trailing NUL), so the run would fail at its end."""
    for word in words:
        if "\x00" in word:
            raise UsageError(
                f"--dataset {name}: it holds the NUL character ({word!r}), which a model file "
                "cannot keep: is it text?"
            )


def _word_file(path: Path) -> TextData:
    try:
        text = read_text(path)
    except ValueError as err:
        raise _refused(str(path), path, err) from None
    words = _words(text)
    _no_nul(str(path), words)
    if all(word == "<eos>" for word in words):  # each line's end, also of a blank line
        what = "only whitespace" if text else "it is empty"
        raise UsageError(f"--dataset {path}: the file holds no words ({what})")
    word_to_id: dict[str, int] = {}
    for word in words:
        word_to_id.setdefault(word, len(word_to_id))
    ids = np.array([word_to_id[w] for w in words], dtype=np.int64)
    split = len(ids) - len(ids) // 10
    source = {"folder": str(path.parent), "files": [path.name]}
    return TextData(ids[:split], ids[split:], ids[split:], list(word_to_id), source)


def find_sequence_file(name: str) -> Path:
    """The file of ``--dataset addition|date|FILE``.

    A path is itself. ``addition`` and ``date`` (the sequel's ``addition.txt``, ``date.txt``)
    are looked for in ``$LAYERWISE_DATA/sequel``, ``$LAYERWISE_DATA``, ``./dataset`` and
    ``../dataset`` (a chapter folder of the sequel's clone), then the cache
    ``$XDG_CACHE_HOME/layerwise/sequel``.
    """
    if name not in SEQUENCE_FILES:
        return Path(name)
    file_name = SEQUENCE_FILES[name]
    try:
        return sequence.locate(file_name)
    except datasets.DatasetNotFoundError as err:
        cached = datasets.cache_dir("sequel") / file_name
        if cached.is_file():
            return cached
        looked = ", ".join(line.strip() for line in err.looked.splitlines())
        raise datasets.DatasetNotFoundError(
            f"--dataset {name}: {file_name} not found (looked in {looked}, {cached}). It is in "
            "the dataset folder of a clone of oreilly-japan/deep-learning-from-scratch-2: "
            f"name it, --dataset CLONE/dataset/{file_name}, or copy it to $LAYERWISE_DATA/sequel "
            f"or {cached.parent}"
        ) from None


def build_model(opts: dict[str, Any], vocab_size: int, corpus: Any = None) -> Any:
    """The model of a run's options (its sizes, dtype and seed); word2vec's sampler counts the
    words of ``corpus``."""
    model = SEQUEL_MODELS[opts["model"]]
    if model.word2vec:
        return model.cls(
            vocab_size, opts["hidden"][0], opts["window_size"], corpus, seed=opts["seed"],
            dtype=opts["dtype"],
        )  # fmt: skip
    sizes = (vocab_size, opts["wordvec_size"], opts["hidden"][0])
    extra = {"dropout_ratio": opts["dropout"]} if model.cls is BetterRnnlm else {}
    return model.cls(*sizes, **extra, seed=opts["seed"], dtype=opts["dtype"])


# ---------------------------------------------------------------------- the run


class SequelFiles:
    """What a run of the sequel's models writes and reports (see :class:`~._lifecycle.Run`)."""

    def scores(self, trainer: Any) -> dict[str, Any]:
        return {name: values[-1] if values else None for name, values in trainer.curves.items()}

    def final_line(self, trainer: Any) -> str:
        name, values = list(trainer.curves.items())[-1]
        return f"final {name.replace('_', ' ')}: {values[-1]:.4f}"

    def write_finished(self, trainer: Any, out: Path, record: dict[str, Any], _: Any) -> Any:
        training = {k: v for k, v in record.items() if k in ("model", "dataset", "options")}
        save_model(trainer.model, out / MODEL, **{**trainer.model_file, "training": training})
        written = [out / MODEL, write_run(out, record), *write_curves(trainer, out)]
        plotted = plot_curves(trainer, out / "curves.png", title(record))
        return written + [out / "curves.png"] * plotted, plotted

    def write_unfinished(self, trainer: Any, out: Path, record: dict[str, Any]) -> list[Path]:
        written = [out / RUN_JSON, *write_curves(trainer, out)]
        if trainer.train_loss_list and plot_curves(trainer, out / "curves.png", title(record)):
            written.append(out / "curves.png")
        write_run(out, record)
        return written


def write_curves(trainer: Any, folder: Path) -> list[Path]:
    """``history.csv`` (per epoch: iterations and each curve) and ``train_loss.csv`` (the loss
    of every iteration), the values written with ``repr`` so that they read back equal."""
    history, losses = folder / "history.csv", folder / "train_loss.csv"
    with open(history, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iterations", *trainer.curves])
        for epoch, values in enumerate(zip(*trainer.curves.values(), strict=True), start=1):
            writer.writerow([epoch, epoch * trainer.iter_per_epoch, *map(repr, values)])
    with open(losses, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "loss"])
        writer.writerows((i, repr(loss)) for i, loss in enumerate(trainer.train_loss_list, 1))
    return [history, losses]


def plot_curves(trainer: Any, path: Path, heading: str) -> bool:
    """The loss per iteration and the curves per epoch (perplexity, accuracy), side by side;
    False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_loss, ax_curve) = plt.subplots(1, 2, figsize=(10, 4.2))
    ax_loss.plot(np.arange(1, len(trainer.train_loss_list) + 1), trainer.train_loss_list, lw=0.6)
    ax_loss.set(xlabel="iteration", ylabel="loss", title="loss of each minibatch")
    # the mean loss is the left panel's already, unless it is the only curve (word2vec's)
    curves = {k: v for k, v in trainer.curves.items() if k != "mean_train_loss"} or trainer.curves
    for name, values in curves.items():
        ax_curve.plot(
            np.arange(1, len(values) + 1), values, marker="o", label=name.replace("_", " ")
        )
    kinds = {"val_perplexity": "perplexity", "test_acc": "accuracy"}
    kind = next((kinds[k] for k in kinds if k in curves), "mean loss")
    ax_curve.set(xlabel="epoch", ylabel=kind, title=f"{kind} per epoch")
    ax_curve.legend()
    for ax in (ax_loss, ax_curve):
        ax.grid(alpha=0.3)
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def title(record: dict[str, Any]) -> str:
    """``rnnlm V 10000, D 100, H 100 on ptb · sgd lr 20 · 4 epochs, batch 20, float32``."""
    sizes = _size_names(record["network"]["config"])
    dataset = record["dataset"]["name"]
    dataset = dataset if dataset in SEQUEL_DATASETS else Path(dataset).name
    optimizer = record["optimizer"]
    line = (
        f"{record['model']} {sizes} on {dataset} · {optimizer['name']} lr {optimizer['lr']:g} · "
        f"{record['epochs']} epochs, batch {record['batch_size']}, {record['dtype']}"
    )
    if record["status"] in ("diverged", "interrupted"):
        line += f"\n{record['status']} after {record['iterations']} iterations"
    return line


def train(args: Any, out: Path | None, opts: dict[str, Any], resuming: bool) -> int:
    """Train the sequel's model of ``opts`` into ``out`` (a new folder in runs/ if None)."""
    model_info = SEQUEL_MODELS[opts["model"]]
    data = load_text_data(opts["dataset"], model_info.reads_words, opts["reverse"])
    if model_info.language_model:
        _check_lengths(data, opts)
    elif model_info.word2vec:
        _check_examples(data, opts)
    model = build_model(opts, len(data.vocab), data.train)
    optimizer = getattr(sequel_optimizers, OPTIMIZERS[opts["optimizer"]].__name__)(lr=opts["lr"])
    common = {
        "epochs": opts["epochs"],
        "batch_size": opts["batch_size"],
        "max_grad": opts["max_grad"],
        "checkpoint_every": opts["checkpoint_every"],
        "extra": {"options": opts},
        "verbose": not args.quiet,
    }
    if model_info.language_model:
        trainer: Any = LanguageModelTraining(
            model, optimizer, data.train, data.val, time_size=opts["time_size"],
            lr_decay=opts["lr_decay"], seed=opts["seed"], model_file={"vocab": data.vocab},
            **common,
        )  # fmt: skip
        sizes = (len(data.train), len(data.val))
    elif model_info.word2vec:
        trainer = Word2vecTraining(
            model, optimizer, data.train, seed=opts["seed"], model_file={"vocab": data.vocab},
            **common,
        )
        sizes = (trainer.train_size, len(data.val))
    else:
        (x_train, t_train), (x_test, t_test) = data.train, data.test
        shape = {
            "question_width": x_train.shape[1],
            "answer_width": t_train.shape[1],
            "reversed": opts["reverse"],
        }
        trainer = Seq2seqTraining(
            model, optimizer, x_train, t_train, x_test, t_test, seed=opts["seed"],
            eval_samples=opts["eval_samples"],
            model_file={"vocab": data.vocab, "sequence": shape}, **common,
        )  # fmt: skip
        sizes = (len(x_train), len(x_test))
    # Only now, so that a run refused above leaves nothing behind.
    if out is None:
        out = new_run_folder(Path(RUNS_DIR))
    elif not resuming:
        out = prepare_folder(out, replace=args.force)
    trainer.checkpoint_path = out / CHECKPOINT
    with Run(files=SequelFiles()) as this:
        record = read_run(out) if resuming else None
        if resuming:
            trainer.load_checkpoint(out / CHECKPOINT, epochs=opts["epochs"])
        if record is None:
            description = {k: model_description(model)[0][k] for k in ("class", "config")}
            parameters = sum(p.size for p in _distinct(model.params))
            record = base_record(
                opts, description, parameters, optimizer, data.source, sizes,
                args.command_line, scores=tuple(trainer.curves),
            )  # fmt: skip
        if resuming:
            resume_record(record, opts)
            state = "already complete" if trainer.epoch == trainer.epochs else "resuming"
            print(f"{out}: {state} at iteration {trainer.iteration}/{trainer.max_iter}")
        else:
            print(
                f"training {opts['model']} ({type(model).__name__}, {_sizes(model)}) on "
                f"{opts['dataset']} ({sizes[0]} train / {sizes[1]} "
                f"{_second_part(model_info)}) -> {out}"
            )
        this.begin(trainer, out, record)
        with blas_threads(None if opts["threads"] == 0 else opts["threads"]):
            trainer.train()
    return this.exit_status


def _check_lengths(data: TextData, opts: dict[str, Any]) -> None:
    need = opts["batch_size"] * opts["time_size"] + 1
    for what, corpus in (("training", data.train), ("validation", data.val)):
        if len(corpus) < need:
            raise UsageError(
                f"--dataset {opts['dataset']}: its {what} text has {len(corpus)} words, fewer "
                f"than one batch of --batch-size {opts['batch_size']} x --time-size "
                f"{opts['time_size']} (+1) needs: give smaller sizes or more text"
            )


def _check_examples(data: TextData, opts: dict[str, Any]) -> None:
    distinct = len(np.unique(data.train))
    if distinct <= NEGATIVES:
        raise UsageError(
            f"--dataset {opts['dataset']}: its training text has {distinct} distinct word"
            f"{'s' * (distinct != 1)} (<eos>, the end of a line, included), too few for "
            f"{NEGATIVES} negative samples per word: give a text of at least {NEGATIVES + 1}"
        )
    examples = len(data.train) - 2 * opts["window_size"]
    if examples < opts["batch_size"]:
        raise UsageError(
            f"--dataset {opts['dataset']}: its training text makes {max(examples, 0)} examples "
            f"of --window-size {opts['window_size']}, fewer than one batch of --batch-size "
            f"{opts['batch_size']}: give smaller sizes or more text"
        )


def _second_part(model: SequelModel) -> str:
    """What the second of the run's sizes counts."""
    if model.word2vec:
        return "words held out"
    return "validation words" if model.language_model else "test"


def _distinct(params: list[np.ndarray]) -> list[np.ndarray]:
    """Each array once (a tied weight's transposed view is not another array)."""
    out: list[np.ndarray] = []
    for p in params:
        if not any(np.shares_memory(p, q) for q in out):
            out.append(p)
    return out


def _sizes(model: Any) -> str:
    """``V 10000, D 100, H 100``: the sequel's names of the sizes."""
    return _size_names(model_description(model)[0]["config"])


def _size_names(config: dict[str, Any]) -> str:
    """``V 10000, D 100, H 100`` or word2vec's ``V 10000, H 100, window 5``."""
    names = {"vocab_size": "V", "wordvec_size": "D", "hidden_size": "H", "window_size": "window"}
    return ", ".join(f"{names[k]} {config[k]}" for k in names if k in config)


# ---------------------------------------------------------------------- evaluate, generate


def open_sequel_model(path: Path) -> tuple[SequelModelFile, dict[str, Any]]:
    """``(model file, the run's options)`` of a sequel model file or checkpoint at ``path``.

    A checkpoint (a run folder without model.npz, or a checkpoint named) gives its model as it
    was then, with a note on stderr, as :func:`~._common.open_model` does for volume 1's
    networks.
    """
    if sequel_file_kind(path) == "checkpoint":
        checkpoint = SequelCheckpoint.read(path)
        assert checkpoint.model is not None
        when = f"at iteration {checkpoint.iteration} (epoch {checkpoint.epoch} finished)"
        if path.name == CHECKPOINT and not (path.parent / MODEL).exists():
            note = f"{path.parent} holds no {MODEL}: using the model of its {path.name}, {when}"
        else:  # named by the user
            note = f"using the model of the checkpoint {path}, {when}"
        print(f"layerwise: {note}", file=sys.stderr)
        return checkpoint.model, checkpoint.extra.get("options", {})
    model_file = read_model_file(path)
    return model_file, (model_file.training or {}).get("options", {})
