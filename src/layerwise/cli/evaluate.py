"""``layerwise evaluate``: the accuracy and confusion matrix of a saved model on a test set;
the perplexity of the sequel's language models, the accuracy and wrong answers of its seq2seq
models."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets, interop
from ..backend import CUPY_INSTALL
from ..run_folders import model_file
from ..sequel.checkpoints import sequel_file_kind
from ..sequel.util import eval_perplexity, most_similar
from ..training import predicted_labels
from ..viz.plots import plot_confusion, plot_misclassified
from ._common import (
    NO_PICTURES,
    UsageError,
    as_images,
    check_device,
    dataset,
    device,
    load_dataset,
    non_negative_int,
    open_model,
    workers,
)
from ._sequel import check_dataset, load_text_data, open_sequel_model
from .export import ONNX_DATASET_KEY
from .train import RUN_OPTIONS


def add_parser(sub):
    p = sub.add_parser(
        "evaluate",
        help="accuracy and confusion matrix of a saved model; perplexity of a language model; "
        "accuracy and wrong answers of a seq2seq model; nearest words of a word2vec model",
    )
    p.add_argument(
        "model",
        help="a model .npz written by `layerwise train`, or the run folder holding it, or an "
        ".onnx model written by `layerwise export` (run by onnxruntime)",
    )
    p.add_argument(
        "--dataset",
        type=dataset,
        help="whose test set: sample, fashion-mnist, mnist, DIR; ptb, addition, date, FILE for "
        "the sequel's models (default: the dataset the model was trained on, else "
        f"{RUN_OPTIONS['dataset']})",
    )
    p.add_argument(
        "--wrong",
        type=non_negative_int,
        metavar="N",
        help=f"seq2seq models: list the first N wrong answers (default {DEFAULT_WRONG})",
    )
    p.add_argument(
        "--query",
        nargs="+",
        metavar="WORD",
        help="cbow, skip-gram models: print the words nearest these in cosine similarity "
        f"(default: those of {', '.join(BOOK_QUERIES)} in the vocabulary, as the sequel's "
        "ch04/eval.py, else its first four words)",
    )
    p.add_argument(
        "--out", help="where misclassified.png and confusion.png go (default: beside MODEL)"
    )
    p.add_argument(
        "--workers",
        type=workers,
        default=1,
        metavar="N|auto",
        help="processes sharing the predictions of a layerwise model (default 1; auto: one per "
        "core)",
    )
    p.add_argument(
        "--device",
        type=device,
        default="cpu",
        metavar="cpu|cuda|cuda:N",
        help=f"where a layerwise model computes (default cpu); cuda needs CuPy: {CUPY_INSTALL}",
    )
    p.set_defaults(func=run, parser=p)


def run(args):
    if Path(args.model).suffix == ".onnx" and args.device != "cpu":
        raise UsageError(f"--device {args.device}: an .onnx model is run by onnxruntime on the CPU")
    check_device(args.device, args.workers)  # before the model: a device refused costs nothing
    model = model_file(args.model)
    if sequel_file_kind(model) is not None:
        if args.workers != 1 or args.device != "cpu" or args.out:
            raise UsageError("--workers, --device and --out do not apply to the sequel's models")
        return _evaluate_sequel(model, args.dataset, args.wrong, args.query)
    if args.query:
        raise UsageError("--query applies to word2vec models (cbow, skip-gram)")
    if args.wrong is not None:
        raise UsageError(
            "--wrong applies to the seq2seq models (seq2seq, peeky-seq2seq, attention-seq2seq)"
        )
    if model.suffix == ".onnx":  # exported by `layerwise export --onnx`: run by onnxruntime
        network = interop.load_onnx(model)
        trained_on = network.metadata.get(ONNX_DATASET_KEY)
    else:
        model, network, options = open_model(args.model)
        network.to(args.device)
        trained_on = options.get("dataset")
    name = args.dataset or trained_on or RUN_OPTIONS["dataset"]
    _, (x_test, t_test) = load_dataset(name)[0]
    x_test = as_images(x_test, network)
    classes = int(network.predict(x_test[:1], train_flg=False).shape[1])
    if model.suffix == ".onnx":  # onnxruntime uses the cores itself
        predicted = predicted_labels(network, x_test)
    else:
        predicted = predicted_labels(network, x_test, workers=args.workers)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (t_test, predicted), 1)
    accuracy = np.trace(confusion) / confusion.sum()
    note = ""
    if args.dataset is None:
        note = " (the dataset it was trained on)"
        if not trained_on:
            note = " (the model file does not say what it was trained on: choose with --dataset)"
    print(f"{model}: accuracy {accuracy:.4f} on {confusion.sum()} test images of {name}{note}")
    print("confusion matrix (rows: true label, columns: predicted)")
    width = max(5, len(str(confusion.max())) + 1)
    print("     " + "".join(f"{j:>{width}}" for j in range(classes)))
    for i, row in enumerate(confusion):
        print(f"{i:>4} " + "".join(f"{v:>{width}}" for v in row))
    names = None
    if name in ("sample", "fashion-mnist") and classes == len(datasets.CLASS_NAMES):
        names = datasets.CLASS_NAMES
        print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
    out = Path(args.out) if args.out else model.parent
    out.mkdir(parents=True, exist_ok=True)
    pictures = [out / "misclassified.png", out / "confusion.png"]
    if plot_misclassified(x_test, t_test, predicted, pictures[0], names) and plot_confusion(
        confusion, pictures[1], names
    ):
        print("wrote " + ", ".join(map(str, pictures)))
    else:
        print(NO_PICTURES)
    return 0


def _ids(texts: Any, vocab: list[str], known: dict[str, int], what: str) -> np.ndarray:
    """``texts``' ids (data set's ``vocab``) as the model's (``known``), or a ValueError
    naming ``what`` ("test words") the model does not know."""
    unknown = sorted({vocab[i] for i in np.unique(texts)} - set(known))
    if unknown:
        raise ValueError(
            f"{len(unknown)} of the {what} are not in the model's vocabulary, e.g. "
            f"{unknown[:5]}; was it trained on another data set?"
        )
    table = np.array([known.get(w, -1) for w in vocab])
    return table[np.asarray(texts)]


#: The words the sequel's ch04/eval.py asks for the neighbours of.
BOOK_QUERIES = ("you", "year", "car", "toyota")
#: The wrong answers of a seq2seq model listed unless --wrong says.
DEFAULT_WRONG = 10
#: The options of ``evaluate`` that some of the sequel's models take: which each kind takes.
TAKES = {
    "word2vec model": ("--query",),
    "language model": ("--dataset",),
    "seq2seq model": ("--dataset", "--wrong"),
}


def _nearest_words(loaded: Any, queries: list[str] | None) -> int:
    """Print the five words nearest each query in the model's word vectors (cosine)."""
    vocab = loaded.vocab
    if queries is None:
        queries = [w for w in BOOK_QUERIES if w in loaded.word_to_id] or vocab[:4]
    unknown = [w for w in queries if w not in loaded.word_to_id]
    if unknown:
        raise UsageError(f"--query: {', '.join(unknown)} not in the model's {len(vocab)} words")
    id_to_word = dict(enumerate(vocab))
    for query in queries:
        most_similar(query, loaded.word_to_id, id_to_word, loaded.model.word_vecs, top=5)
    return 0


def _evaluate_sequel(
    path: Path, dataset_name: str | None, wrong: int | None, queries: list[str] | None = None
) -> int:
    """``layerwise evaluate`` of a sequel model: the perplexity of a language model on the
    test text, a seq2seq model's accuracy and a table of its first ``wrong`` wrong answers,
    a word2vec model's nearest words to ``queries``."""
    loaded, options = open_sequel_model(path)
    model, known = loaded.model, loaded.word_to_id
    if loaded.vocab is None:
        raise ValueError(f"{path}: the model file holds no vocabulary, so no text can be read")
    kind = "word2vec model" if loaded.is_word2vec else "language model"
    kind = "seq2seq model" if loaded.is_seq2seq else kind
    given = {"--dataset": dataset_name, "--wrong": wrong, "--query": queries}
    foreign = [n for n, value in given.items() if value is not None and n not in TAKES[kind]]
    if foreign:
        raise UsageError(
            f"{path} is a {kind} ({loaded.class_name}): {', '.join(foreign)} "
            f"{'does' if len(foreign) == 1 else 'do'} not apply to it; it takes "
            f"{', '.join(TAKES[kind])}"
        )
    if loaded.is_word2vec:
        return _nearest_words(loaded, queries)
    trained_on = options.get("dataset")
    name = dataset_name or trained_on
    if name is None:
        raise UsageError(f"{path} does not say what it was trained on: choose with --dataset")
    note = " (the dataset it was trained on)" if dataset_name is None else ""
    check_dataset(name, not loaded.is_seq2seq, str(path))
    sequence_info = loaded.sequence or {}
    data = load_text_data(name, not loaded.is_seq2seq, sequence_info.get("reversed", False))
    if not loaded.is_seq2seq:
        corpus = _ids(data.test, data.vocab, known, "test words")
        if len(corpus) < 2:  # a word to read and the next one to predict
            part = "test text" if name == "ptb" else "test text (the file's last tenth)"
            raise ValueError(
                f"--dataset {name}: its {part} has {len(corpus)} word"
                f"{'s' * (len(corpus) != 1)}; a perplexity needs at least 2"
            )
        time_size = min(35, len(corpus) - 1)  # the sequel's eval_perplexity: 10 rows of 35
        batch_size = max(1, min(10, (len(corpus) - 1) // max(time_size, 1)))
        model.reset_state()
        with contextlib.redirect_stdout(io.StringIO()):  # its progress line
            perplexity = eval_perplexity(model, corpus, batch_size, time_size)
        print(f"{path}: perplexity {perplexity:.2f} on {len(corpus)} test words of {name}{note}")
        return 0
    x_test, t_test = data.test
    if loaded.sequence is not None:  # the widths it was trained on
        trained = (loaded.sequence["question_width"], loaded.sequence["answer_width"])
        if (x_test.shape[1], t_test.shape[1]) != trained:
            raise UsageError(
                f"--dataset {name}: its questions are {x_test.shape[1]} characters wide and its "
                f"answers {t_test.shape[1]} (the '_' included); {path} was trained on "
                f"questions of {trained[0]} and answers of {trained[1]}"
            )
    x = _ids(x_test, data.vocab, known, "test questions' characters")
    t = _ids(t_test, data.vocab, known, "test answers' characters")
    guesses = np.concatenate([
        model.generate_batch(x[i : i + 1000], t[i : i + 1000, 0], t.shape[1] - 1)
        for i in range(0, len(x), 1000)
    ])  # fmt: skip
    right = np.all(guesses == t[:, 1:], axis=1)
    print(
        f"{path}: accuracy {right.mean():.4f} ({int(right.sum())} of {len(x)} test questions of "
        f"{name} answered exactly){note}"
    )
    vocab = loaded.vocab
    reverse = sequence_info.get("reversed", False)

    def text(ids: np.ndarray, backwards: bool = False) -> str:
        chars = "".join(vocab[i] for i in ids)
        return (chars[::-1] if backwards else chars).strip()

    rows = [
        (text(x[i], reverse), text(t[i, 1:]), text(guesses[i]))
        for i in np.flatnonzero(~right)[: DEFAULT_WRONG if wrong is None else wrong]
    ]
    if rows:
        print(f"the first {len(rows)} wrong answers:")
        widths = [
            max(len(r[k]) for r in [("question", "answer", "guess"), *rows]) for k in range(3)
        ]
        for row in [("question", "answer", "guess"), *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
