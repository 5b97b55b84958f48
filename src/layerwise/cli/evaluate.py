"""``layerwise evaluate``: the accuracy and confusion matrix of a saved model on a test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import datasets, interop
from ..backend import CUPY_INSTALL
from ..run_folders import model_file
from ..sequel.checkpoints import sequel_file_kind
from ..training import predicted_labels
from ..viz.plots import plot_confusion, plot_misclassified
from . import _sequel
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
from .export import ONNX_DATASET_KEY
from .train import RUN_OPTIONS


def add_parser(sub):
    p = sub.add_parser(
        "evaluate",
        help="accuracy and confusion matrix of a saved model; perplexity of a language model; "
        "accuracy and wrong answers of a seq2seq model",
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
        default=10,
        metavar="N",
        help="seq2seq models: list the first N wrong answers (default 10)",
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
        return _sequel.evaluate(model, args.dataset, args.wrong)
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
