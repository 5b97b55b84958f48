"""The ``layerwise`` command: ``train``, ``evaluate`` and ``gradcheck``.

Models: ``two-layer`` (TwoLayerNet, chapter 5), ``mlp`` (MultiLayerNet, or MultiLayerNetExtend
with ``--batchnorm`` / ``--dropout``, chapter 6), ``convnet`` (SimpleConvNet, chapter 7) and
``deep-convnet`` (DeepConvNet, chapter 8). Conv models see the images as (N, 1, 28, 28).

Every failure a user can cause (bad options, missing data, a bad model file, a diverging run)
ends with a one-line message and a non-zero exit status, never a traceback.
"""

import argparse
import csv
import signal
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets
from ._checks import InvalidParameterError, check_number
from .files import load, save
from .nets import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from .optimizers import OPTIMIZERS
from .pictures import plot_confusion, plot_filters, plot_history, plot_misclassified
from .training import (
    NonFiniteLossError,
    Trainer,
    TrainingInterrupted,
    as_batch,
    predicted_labels,
    read_checkpoint_meta,
)

CHECKPOINT = "checkpoint.npz"
# Options that describe the run; `--resume` reads them back from the checkpoint.
RUN_OPTIONS = (
    "dataset",
    "model",
    "hidden",
    "activation",
    "optimizer",
    "lr",
    "epochs",
    "batch_size",
    "weight_decay",
    "weight_init_std",
    "batchnorm",
    "dropout",
    "dtype",
    "seed",
    "checkpoint_every",
    "eval_samples",
    "threads",
)


class UsageError(Exception):
    """A problem with what the user asked for: reported as one line, exit status 1."""


# ---------------------------------------------------------------------- data


def load_dataset(name):
    """``((x_train, t_train), (x_test, t_test))`` with uint8 images of shape (N, 784).

    The images stay uint8 (a quarter of float32's memory); training converts one batch at a time.
    """
    kwargs = {"normalize": False, "flatten": True}
    if name == "sample":
        return datasets.load_sample(**kwargs)
    if name == "fashion-mnist":
        return datasets.load_fashion_mnist(**kwargs)
    if name == "mnist":
        return datasets.load_mnist(**kwargs)
    directory = Path(name)
    if not directory.is_dir():
        raise UsageError(
            f"--dataset must be sample, fashion-mnist, mnist or a directory of IDX files; "
            f"{name!r} is none of these"
        )
    return datasets.load_mnist(data_dir=directory, download=False, **kwargs)


# ---------------------------------------------------------------------- train


#: Training defaults per model: the book's settings for each chapter's network.
MODEL_DEFAULTS = {
    "two-layer": {"optimizer": "sgd", "lr": 0.1, "hidden": [50]},
    "mlp": {"optimizer": "sgd", "lr": 0.1, "hidden": [100, 100]},
    "convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [100]},
    "deep-convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [50]},
}
CONV_MODELS = ("convnet", "deep-convnet")


def build_network(opts, input_size, output_size):
    dtype = np.dtype(opts["dtype"])
    if opts["model"] in CONV_MODELS:
        return _build_conv_network(opts, input_size, output_size, dtype)
    if opts["model"] == "two-layer":
        if len(opts["hidden"]) != 1:
            raise UsageError("--model two-layer takes one --hidden size (use --model mlp)")
        std = 0.01 if opts["weight_init_std"] is None else float(opts["weight_init_std"])
        if opts["weight_decay"]:
            raise UsageError("--weight-decay needs --model mlp (the book's TwoLayerNet has none)")
        if opts["activation"] != "relu":
            raise UsageError("--activation needs --model mlp (the book's TwoLayerNet uses ReLU)")
        if opts.get("batchnorm") or opts.get("dropout"):
            raise UsageError("--batchnorm and --dropout need --model mlp")
        return TwoLayerNet(
            input_size, opts["hidden"][0], output_size, std, dtype=dtype, seed=opts["seed"]
        )
    std = opts["weight_init_std"] or opts["activation"]
    try:
        std = float(std)
    except ValueError:
        pass
    common = dict(
        activation=opts["activation"],
        weight_init_std=std,
        weight_decay_lambda=opts["weight_decay"],
        dtype=dtype,
        seed=opts["seed"],
    )
    if not (opts.get("batchnorm") or opts.get("dropout")):
        return MultiLayerNet(input_size, opts["hidden"], output_size, **common)
    return MultiLayerNetExtend(
        input_size,
        opts["hidden"],
        output_size,
        use_dropout=bool(opts.get("dropout")),
        dropout_ration=opts.get("dropout") or 0.5,
        use_batchnorm=bool(opts.get("batchnorm")),
        **common,
    )


def _build_conv_network(opts, input_size, output_size, dtype):
    model = opts["model"]
    for option, value, default in [
        ("--activation", opts["activation"], "relu"),
        ("--weight-decay", opts["weight_decay"], 0.0),
        ("--batchnorm", opts.get("batchnorm"), False),
        ("--dropout", opts.get("dropout"), 0.0),
    ]:
        if value != default:
            raise UsageError(f"{option} does not apply to --model {model} (the book's network)")
    if len(opts["hidden"]) != 1:
        raise UsageError(f"--model {model} takes one --hidden size (its Affine layer)")
    side = int(round(np.sqrt(input_size)))
    if side * side != input_size:
        raise UsageError(f"--model {model} needs square images; these have {input_size} pixels")
    common = {
        "input_dim": (1, side, side),
        "hidden_size": opts["hidden"][0],
        "output_size": output_size,
        "dtype": dtype,
        "seed": opts["seed"],
    }
    if model == "deep-convnet":
        if opts["weight_init_std"] is not None:
            raise UsageError("--weight-init-std does not apply to --model deep-convnet (He init)")
        return DeepConvNet(**common)
    std = 0.01 if opts["weight_init_std"] is None else float(opts["weight_init_std"])
    return SimpleConvNet(weight_init_std=std, **common)


def as_images(x, network):
    """Rows of pixels as the network's input shape: (N, 1, 28, 28) views for conv nets."""
    shape = getattr(network, "input_shape", None)
    if shape is None or x.shape[1:] == tuple(shape):
        return x
    return x.reshape(len(x), *shape)


def write_history(trainer, out):
    with open(out / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iterations", "mean_train_loss", "train_acc", "test_acc"])
        ipe = trainer.iter_per_epoch
        for epoch, (train_acc, test_acc) in enumerate(
            zip(trainer.train_acc_list, trainer.test_acc_list, strict=True), start=1
        ):
            losses = trainer.train_loss_list[(epoch - 1) * ipe : epoch * ipe]
            writer.writerow([epoch, epoch * ipe, repr(float(np.mean(losses))), train_acc, test_acc])
    with open(out / "train_loss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "loss"])
        writer.writerows((i, repr(loss)) for i, loss in enumerate(trainer.train_loss_list, 1))


def cmd_train(args):
    if args.resume is not None:
        out = Path(args.resume)
        checkpoint = out / CHECKPOINT
        if not checkpoint.is_file():
            raise UsageError(f"--resume {out}: there is no {CHECKPOINT} in that directory")
        opts = read_checkpoint_meta(checkpoint)["extra"]["options"]
    else:
        opts = {name: getattr(args, name) for name in RUN_OPTIONS}
        out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        if (out / CHECKPOINT).exists():
            raise UsageError(
                f"{out} already holds a run's checkpoint: continue it with "
                f"`layerwise train --resume {out}` or choose another --out"
            )
    (x_train, t_train), (x_test, t_test) = load_dataset(opts["dataset"])
    network = build_network(opts, x_train.shape[1], int(max(t_train.max(), t_test.max())) + 1)
    x_train, x_test = as_images(x_train, network), as_images(x_test, network)
    first_filters = network.params["W1"].copy()  # as built from the seed: the run's start
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=opts["epochs"],
        mini_batch_size=opts["batch_size"],
        optimizer=opts["optimizer"],
        optimizer_param={"lr": opts["lr"]},
        evaluate_sample_num_per_epoch=opts["eval_samples"],
        verbose=not args.quiet,
        seed=opts["seed"],
        checkpoint_every=opts["checkpoint_every"],
        checkpoint_path=out / CHECKPOINT,
        extra={"options": opts},
        threads=None if opts["threads"] == 0 else opts["threads"],
    )
    out.mkdir(parents=True, exist_ok=True)
    if args.resume is not None:
        trainer.load_checkpoint(out / CHECKPOINT)
        state = "already complete" if trainer.epoch == trainer.epochs else "resuming"
        print(f"{out}: {state} at iteration {trainer.iteration}/{trainer.max_iter}")
    else:
        print(
            f"training {opts['model']} {network.summary().splitlines()[-1].split(': ')[1]} on "
            f"{opts['dataset']} ({len(x_train)} train / {len(x_test)} test) -> {out}"
        )
    start = time.perf_counter()
    try:
        trainer.train()
    except TrainingInterrupted as err:
        print(f"\n{err}\nresume with: layerwise train --resume {out}", file=sys.stderr)
        return 128 + err.signum
    except NonFiniteLossError as err:
        print(f"layerwise: training stopped: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    save(network, out / "model.npz")
    write_history(trainer, out)
    written = [out / "model.npz", out / "history.csv", out / "train_loss.csv"]
    plotted = plot_history(trainer, out / "curves.png")
    if plotted:
        written.append(out / "curves.png")
    if plotted and opts["model"] in CONV_MODELS:
        panels = {"before training": first_filters, "after training": network.params["W1"]}
        plot_filters(panels, out / "filters.png")
        written.append(out / "filters.png")
    print(f"final test accuracy: {trainer.test_acc_list[-1]:.4f}  ({seconds:.1f} s)")
    print("wrote " + ", ".join(map(str, written)))
    if not plotted:
        print("matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'")
    return 0


# ---------------------------------------------------------------------- evaluate


def cmd_evaluate(args):
    network = load(args.model)
    _, (x_test, t_test) = load_dataset(args.dataset)
    x_test = as_images(x_test, network)
    classes = int(network.predict(as_batch(x_test[:1], network.dtype), train_flg=False).shape[1])
    predicted = predicted_labels(network, x_test)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (t_test, predicted), 1)
    accuracy = np.trace(confusion) / confusion.sum()
    print(
        f"{args.model}: accuracy {accuracy:.4f} on {confusion.sum()} test images of {args.dataset}"
    )
    print("confusion matrix (rows: true label, columns: predicted)")
    width = max(5, len(str(confusion.max())) + 1)
    print("     " + "".join(f"{j:>{width}}" for j in range(classes)))
    for i, row in enumerate(confusion):
        print(f"{i:>4} " + "".join(f"{v:>{width}}" for v in row))
    names = None
    if args.dataset in ("sample", "fashion-mnist") and classes == len(datasets.CLASS_NAMES):
        names = datasets.CLASS_NAMES
        print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
    out = Path(args.out) if args.out else Path(args.model).parent
    out.mkdir(parents=True, exist_ok=True)
    pictures = [out / "misclassified.png", out / "confusion.png"]
    if plot_misclassified(x_test, t_test, predicted, pictures[0], names) and plot_confusion(
        confusion, pictures[1], names
    ):
        print("wrote " + ", ".join(map(str, pictures)))
    else:
        print("matplotlib is not installed, so no pictures: pip install 'layerwise[plot]'")
    return 0


# ---------------------------------------------------------------------- gradcheck


def cmd_gradcheck(args):
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0.1, 1.0, (3, 20))
    t = rng.integers(0, 4, 3)
    nets = {
        "TwoLayerNet(20, 10, 4)": TwoLayerNet(20, 10, 4, 0.5, seed=args.seed),
        "MultiLayerNet(20, [10, 8], 4, weight_decay_lambda=0.1)": MultiLayerNet(
            20, [10, 8], 4, weight_decay_lambda=0.1, seed=args.seed
        ),
        "MultiLayerNetExtend(20, [10, 8], 4, weight_decay_lambda=0.1, use_dropout=True, "
        "use_batchnorm=True)": MultiLayerNetExtend(
            20,
            [10, 8],
            4,
            weight_decay_lambda=0.1,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            seed=args.seed,
        ),
    }
    worst = 0.0
    for name, net in nets.items():
        print(name)
        # Numerical first: it rewinds Dropout's generator after each evaluation, so the
        # backpropagation that follows draws the very masks the numerical gradient saw.
        # h = 1e-5: BatchNorm over a batch of 3 is curved enough that 1e-4 leaves 1e-6 of
        # truncation error.
        numerical = net.numerical_gradient(x, t, h=1e-5)
        grads = net.gradient(x, t)
        # Relative to the largest gradient entry of the network: a bias followed by BatchNorm
        # has a true gradient of exactly 0, where an entry-by-entry ratio would compare noise.
        scale = max(float(np.max(np.abs(g))) for g in grads.values())
        for key in grads:
            err = float(np.max(np.abs(grads[key] - numerical[key]))) / scale
            worst = max(worst, err)
            print(f"  {key:<6} max |backprop - numerical| / largest gradient {err:.2e}")
    ok = worst <= 1e-7
    print(f"worst {worst:.2e}: {'OK' if ok else 'FAILED'} (threshold 1e-7, float64)")
    return 0 if ok else 1


# ---------------------------------------------------------------------- parser


def make_parser():
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Train and check the networks of 'Deep Learning from Scratch'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a network and write the model, history and curves")
    train.add_argument(
        "--dataset",
        default="sample",
        help="sample (shipped, default), fashion-mnist, mnist, or a directory of IDX files",
    )
    train.add_argument(
        "--model",
        choices=list(MODEL_DEFAULTS),
        default="two-layer",
        help="TwoLayerNet (chapter 5, default), MultiLayerNet (chapter 6), SimpleConvNet "
        "(chapter 7) or DeepConvNet (chapter 8)",
    )
    train.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=None,
        help="hidden layer sizes (default: 50 for two-layer, 100 100 for mlp, 100 for convnet, "
        "50 for deep-convnet)",
    )
    train.add_argument(
        "--activation", choices=["relu", "sigmoid"], default="relu", help="mlp only (default relu)"
    )
    train.add_argument(
        "--optimizer",
        type=str.lower,
        choices=list(OPTIMIZERS),
        default=None,
        help="default sgd (adam for the conv models, as the book trains them)",
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default 0.1; 0.001 for the conv models)",
    )
    train.add_argument("--epochs", type=_positive_int, default=20, help="default 20")
    train.add_argument("--batch-size", type=_positive_int, default=100, help="default 100")
    train.add_argument(
        "--weight-decay",
        type=_non_negative_float,
        default=0.0,
        help="L2 weight decay lambda, mlp only (default 0)",
    )
    train.add_argument(
        "--weight-init-std",
        default=None,
        help="a number, or relu/he, sigmoid/xavier (default: 0.01 for two-layer, "
        "the activation's for mlp)",
    )
    train.add_argument(
        "--batchnorm",
        action="store_true",
        help="mlp only: BatchNormalization after each hidden Affine (MultiLayerNetExtend)",
    )
    train.add_argument(
        "--dropout",
        type=_dropout_ratio,
        default=0.0,
        metavar="RATIO",
        help="mlp only: Dropout of this ratio after each hidden activation (default 0: none)",
    )
    train.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32", help="default float32"
    )
    train.add_argument("--seed", type=int, default=0, help="default 0: same seed, same run")
    train.add_argument(
        "--eval-samples",
        type=_positive_int,
        default=None,
        help="evaluate on the first N train/test samples each epoch (default all)",
    )
    train.add_argument("--out", default=None, help="output directory (default runs/DATE-TIME)")
    train.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="write OUT/checkpoint.npz every N iterations",
    )
    train.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the run in DIR from its checkpoint (its options are read "
        "from the checkpoint)",
    )
    train.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (default 1, fastest for these sizes; 0: NumPy's default)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="accuracy and confusion matrix of a saved model")
    evaluate.add_argument("model", help="a model .npz written by `layerwise train`")
    evaluate.add_argument(
        "--dataset",
        default="sample",
        help="whose test set: sample (default), fashion-mnist, mnist, DIR",
    )
    evaluate.add_argument(
        "--out",
        default=None,
        help="where misclassified.png and confusion.png go (default: beside MODEL)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    gradcheck = sub.add_parser("gradcheck", help="compare backprop with numerical gradients")
    gradcheck.add_argument("--seed", type=int, default=0)
    gradcheck.set_defaults(func=cmd_gradcheck)
    return parser


def _number(integer=False, **limits):
    """An argparse type: the option's text as a number that :func:`check_number` accepts."""

    def parse(text):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'a whole number' if integer else 'a number'}, got {text!r}"
            ) from None
        try:
            return check_number(value, "option", "value", integer=integer, **limits)
        except InvalidParameterError as err:
            raise argparse.ArgumentTypeError(str(err).split("value ", 1)[1]) from None

    return parse


_positive_int = _number(integer=True, low=1)
_positive_float = _number(low=0, low_open=True)
_non_negative_float = _number(low=0)
_dropout_ratio = _number(low=0, high=1, high_open=True)


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        for name, value in MODEL_DEFAULTS[args.model].items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    try:
        return args.func(args)
    except (UsageError, ValueError, TypeError, OSError) as err:
        # Data not found, bad model or checkpoint files, bad option combinations.
        print(f"layerwise: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerwise: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
