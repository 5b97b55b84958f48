"""Accuracy figures on the full Fashion-MNIST (issue 3 and chapter 6), from one command.

    python benchmarks/accuracy.py [--quick] [--only KEY ...] [--dataset sample] [--out DIR]

Runs (``--only`` takes these keys; the default is all of them):

``chapter5``
    The book's chapter-5 setting: TwoLayerNet 784-50-10, 10,000 iterations, batch 100, SGD lr 0.1
    (the Trainer: shuffled epochs, so 17 epochs of 600 iterations = 10,200), 3 seeds.
``mlp_adam``
    A MultiLayerNet with Adam: 784-512-512-10, ReLU, He init, lr 0.001, batch 100, 20 epochs.
``extend_adam``
    The same layers as MultiLayerNetExtend with BatchNorm after each hidden Affine and Dropout
    0.2 after each ReLU (the book's Dropout), Adam lr 0.001, batch 100, float32, 3 seeds; test
    accuracy and seconds of every epoch, and the first epoch that reaches 0.90. 25 epochs
    (``--extend-epochs``): every seed has reached 0.90 by epoch 22; the mean test accuracy then
    stays at 0.900 +/- 0.003 up to epoch 40 (measured 2026-12-01).
``batchnorm``
    The book's ``batch_norm_test.py`` (section 6.3.2, figure 6-19): the first 1000 training
    images, 784-[100]*5-10 ReLU nets with and without BatchNorm, SGD lr 0.01, batch 100 drawn
    with replacement, 20 epochs of 10 iterations, for the 16 weight scales
    ``np.logspace(0, -4, 16)``; training accuracy before training and after every epoch, for
    3 seeds. Draws the figure (``batch_norm_test.png``) when matplotlib is installed.
``convnet``, ``deep_convnet``
    SimpleConvNet (chapter 7) and DeepConvNet (chapter 8) as the book trains them: Adam lr
    0.001, batch 100, 20 epochs, float32; test accuracy on the full test set and seconds of
    every epoch (``accuracy_conv.py``, which also runs them alone).
``cli``
    The wall time of the default ``layerwise train`` (the shipped sample), as a subprocess.

Every run uses one BLAS thread. Prints markdown tables and merges the results into
``DIR/accuracy.json`` (default ``benchmarks/results``), so ``--only`` refreshes some entries and
keeps the others.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from layerwise import MultiLayerNet, MultiLayerNetExtend, Trainer, TwoLayerNet, blas_threads
from layerwise.datasets import load_fashion_mnist, load_sample
from layerwise.optimizers import SGD
from layerwise.training import as_batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_conv  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ["chapter5", "mlp_adam", "extend_adam", "batchnorm", "convnet", "deep_convnet", "cli"]
TARGET = 0.90  # the extended network's test accuracy goal
BN_SCALES = np.logspace(0, -4, num=16)  # the book's weight_scale_list
BN_EPOCHS_SHOWN = (1, 2, 5, 10, 20)


def train(network, data, epochs, optimizer, lr, seed):
    (x_train, t_train), (x_test, t_test) = data
    start = time.perf_counter()
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=epochs,
        mini_batch_size=100,
        optimizer=optimizer,
        optimizer_param={"lr": lr},
        verbose=False,
        seed=seed,
    ).train()
    return trainer.test_acc_list[-1], max(trainer.test_acc_list), time.perf_counter() - start


# ---------------------------------------------------------------------------- the runs


def run_chapter5(data, quick):
    seeds = [0] if quick else [0, 1, 2]
    runs = [
        train(
            TwoLayerNet(784, 50, 10, dtype=np.float32, seed=s),
            data,
            1 if quick else 17,
            "sgd",
            0.1,
            s,
        )
        for s in seeds
    ]
    finals = [r[0] for r in runs]
    result = {"seeds": seeds, "test_acc": finals, "seconds": [r[2] for r in runs]}
    row = (
        "TwoLayerNet 784-50-10, SGD 0.1, 10,200 it (ch. 5)",
        f"{np.mean(finals):.4f} +/- {np.std(finals):.4f} ({len(seeds)} seeds)",
        f"{np.mean([r[2] for r in runs]):.1f} s",
    )
    return result, [row], []


def run_mlp_adam(data, quick):
    final, best, seconds = train(
        MultiLayerNet(784, [512, 512], 10, dtype=np.float32, seed=0),
        data,
        1 if quick else 20,
        "adam",
        0.001,
        0,
    )
    result = {"test_acc": final, "best_epoch_test_acc": best, "seconds": seconds}
    row = (
        "MultiLayerNet 784-512-512-10, Adam 0.001, 20 epochs",
        f"{final:.4f} (best epoch {best:.4f})",
        f"{seconds:.1f} s",
    )
    return result, [row], []


def run_extend_adam(data, quick, epochs=25, hidden=(512, 512), seeds=None):
    """MultiLayerNetExtend with BatchNorm and Dropout 0.2, Adam: accuracy and time per epoch.

    Training accuracy is measured on the first 10,000 training images (the whole test set
    has 10,000), which keeps the evaluation a small part of an epoch's time.
    """
    (x_train, t_train), (x_test, t_test) = data
    epochs = 1 if quick else epochs
    seeds = ([0] if quick else [0, 1, 2]) if seeds is None else list(seeds)
    runs = []
    for seed in seeds:
        network = MultiLayerNetExtend(
            784,
            list(hidden),
            10,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            dtype=np.float32,
            seed=seed,
        )
        trainer = Trainer(
            network,
            x_train,
            t_train,
            x_test,
            t_test,
            epochs=epochs,
            mini_batch_size=100,
            optimizer="adam",
            optimizer_param={"lr": 0.001},
            evaluate_sample_num_per_epoch=10_000,
            verbose=False,
            seed=seed,
        )
        seconds = accuracy_conv.train_by_epoch(trainer)
        test_acc = trainer.test_acc_list
        runs.append(
            {
                "seed": seed,
                "train_acc_first_10000": trainer.train_acc_list,
                "test_acc": test_acc,
                "seconds_per_epoch": seconds,
                "first_epoch_reaching_target": next(
                    (e for e, acc in enumerate(test_acc, 1) if acc >= TARGET), None
                ),
            }
        )
    test = np.array([r["test_acc"] for r in runs])  # (seeds, epochs)
    train_acc = np.array([r["train_acc_first_10000"] for r in runs])
    seconds = np.array([r["seconds_per_epoch"] for r in runs])
    mean = test.mean(axis=0)
    reached = next((e for e, acc in enumerate(mean, 1) if acc >= TARGET), None)
    result = {
        "hidden_size_list": list(hidden),
        "epochs": epochs,
        "seeds": seeds,
        "runs": runs,
        "final_test_acc_mean": float(mean[-1]),
        "final_test_acc_std": float(test[:, -1].std()),
        "first_epoch_mean_reaching_target": reached,
        "median_seconds_per_epoch": float(np.median(seconds)),
        "target": TARGET,
    }
    sizes = "-".join(str(n) for n in (784, *hidden, 10))
    firsts = ", ".join(str(r["first_epoch_reaching_target"] or "-") for r in runs)
    row = (
        f"MultiLayerNetExtend {sizes}, BatchNorm + Dropout 0.2, Adam 0.001, {epochs} epochs",
        f"{mean[-1]:.4f} +/- {test[:, -1].std():.4f} ({len(seeds)} seeds; first epoch >= "
        f"{TARGET:.2f}: {firsts}; mean >= {TARGET:.2f} from epoch {reached or '-'})",
        f"{seconds.sum(axis=1).mean():.1f} s ({np.median(seconds):.1f} s/epoch)",
    )
    lines = [
        "",
        f"MultiLayerNetExtend {sizes} (BatchNorm, Dropout 0.2, Adam 0.001), epoch by epoch:",
        "",
        "| epoch | "
        + " | ".join(f"test acc seed {s}" for s in seeds)
        + " | mean test acc | mean train acc (first 10,000) | seconds (median) |",
        "|---" * (len(seeds) + 4) + "|",
    ]
    for e in range(epochs):
        cells = " | ".join(f"{acc:.4f}" for acc in test[:, e])
        lines.append(
            f"| {e + 1} | {cells} | {mean[e]:.4f} | {train_acc[:, e].mean():.4f} | "
            f"{np.median(seconds[:, e]):.1f} |"
        )
    return result, [row], lines


def batch_norm_test(x_train, t_train, weight_init_std, max_epochs=20, seed=0, hidden=(100,) * 5):
    """The book's batch_norm_test.py for one weight scale: nets trained on the same batches.

    Three nets start from the same weights (one seed): with BatchNorm, with BatchNorm whose
    running variance starts at 0 as in the book's layer (layerwise's starts at 1, as
    PyTorch's), and without BatchNorm. One SGD (lr 0.01) updates them on the same minibatches
    of 100 drawn with replacement (``rng.choice``, as the book's ``np.random.choice``); their
    training accuracy (inference mode, so BatchNorm uses its running statistics) is measured
    before training and after each epoch of ``len(x_train) / 100`` iterations.

    Returns
    -------
    dict
        ``'bn'``, ``'bn_book'``, ``'plain'``: lists of ``max_epochs + 1`` accuracies.
    """
    x_train = as_batch(x_train, np.dtype(np.float64))
    rng = np.random.default_rng(seed)
    train_size, batch_size = len(x_train), 100
    iter_per_epoch = max(train_size // batch_size, 1)
    networks = {
        name: MultiLayerNetExtend(
            784,
            list(hidden),
            10,
            weight_init_std=weight_init_std,
            use_batchnorm=use_bn,
            seed=seed,
        )
        for name, use_bn in (("bn", True), ("bn_book", True), ("plain", False))
    }
    for key, buffer in networks["bn_book"].buffers.items():
        if key.startswith("running_var"):
            buffer[...] = 0
    optimizer = SGD(lr=0.01)
    acc = {name: [net.accuracy(x_train, t_train)] for name, net in networks.items()}
    for i in range(max_epochs * iter_per_epoch):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        for network in networks.values():
            grads = network.gradient(x_batch, t_batch)
            optimizer.update(network.params, grads)
        if (i + 1) % iter_per_epoch == 0:
            for name, network in networks.items():
                acc[name].append(network.accuracy(x_train, t_train))
    return acc


def run_batchnorm(data, quick, scales=None, seeds=None, max_epochs=None, figure=None):
    (x_train, t_train), _ = data
    x_train, t_train = x_train[:1000], t_train[:1000]
    scales = list(BN_SCALES[::5] if quick else BN_SCALES) if scales is None else list(scales)
    seeds = ([0] if quick else [0, 1, 2]) if seeds is None else list(seeds)
    max_epochs = (2 if quick else 20) if max_epochs is None else max_epochs
    start = time.perf_counter()
    curves = {"bn": [], "bn_book": [], "plain": []}  # per scale: shape (seeds, max_epochs + 1)
    with np.errstate(all="ignore"):  # the plain nets at scale 1 overflow, as in the book
        for scale in scales:
            runs = [batch_norm_test(x_train, t_train, scale, max_epochs, s) for s in seeds]
            for name, per_scale in curves.items():
                per_scale.append(np.array([run[name] for run in runs]))
    seconds = time.perf_counter() - start
    mean = {name: [c.mean(axis=0) for c in per_scale] for name, per_scale in curves.items()}
    shown = [e for e in BN_EPOCHS_SHOWN if e <= max_epochs] or [max_epochs]
    # "Learns faster": the larger area under the curve, i.e. mean accuracy over the epochs.
    faster = [
        bn[1:].mean() > plain[1:].mean()
        for bn, plain in zip(mean["bn"], mean["plain"], strict=True)
    ]
    result = {
        "train_size": len(x_train),
        "hidden_size_list": [100] * 5,
        "max_epochs": max_epochs,
        "seeds": seeds,
        "seconds": seconds,
        "scales": [float(s) for s in scales],
        **{
            f"{name}_train_acc": [c.tolist() for c in per_scale]
            for name, per_scale in curves.items()
        },
        "bn_faster_scales": int(sum(faster)),
    }
    lines = [
        "",
        f"batch_norm_test.py: training accuracy on {len(x_train)} images, mean of seeds "
        f"{seeds}; each cell: BatchNorm / BatchNorm with running_var from 0 (the book's) / "
        "without BatchNorm:",
        "",
        "| weight_init_std | " + " | ".join(f"epoch {e}" for e in shown) + " | BN faster |",
        "|---" * (len(shown) + 2) + "|",
    ]
    for i, scale in enumerate(scales):
        bn, book, plain = (mean[name][i] for name in ("bn", "bn_book", "plain"))
        cells = " | ".join(f"{bn[e]:.3f} / {book[e]:.3f} / {plain[e]:.3f}" for e in shown)
        lines.append(f"| {scale:.3g} | {cells} | {'yes' if faster[i] else 'no'} |")
    lines.append(
        f"\nBatchNorm learns faster (higher mean accuracy over the epochs) for {sum(faster)} of "
        f"{len(scales)} scales ({seconds:.1f} s)."
    )
    if figure is not None and draw_batch_norm_figure(scales, mean, figure):
        result["figure"] = str(figure)
        lines.append(f"Figure: {figure}")
    row = (
        f"batch_norm_test.py: 784-[100]*5-10, {len(x_train)} images, SGD 0.01, {max_epochs} epochs",
        f"BatchNorm faster for {sum(faster)} of {len(scales)} weight scales (train acc)",
        f"{seconds:.1f} s",
    )
    return result, [row], lines


def draw_batch_norm_figure(scales, mean, path):
    """Figure 6-19: one panel per weight scale; BatchNorm solid, the book's dotted, without dashed.

    Returns False (and draws nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cols = 4
    rows = -(-len(scales) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.3 * rows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    styles = {
        "bn": ("-", "Batch Normalization"),
        "bn_book": (":", "BatchNorm, running_var from 0 (book)"),
        "plain": ("--", "Normal (without BatchNorm)"),
    }
    for i, scale in enumerate(scales):
        ax = axes[i]
        for name, (style, label) in styles.items():
            ax.plot(np.arange(len(mean[name][i])), mean[name][i], linestyle=style, label=label)
        ax.set_title(f"W: {scale:.3g}", fontsize=9)
        ax.set_ylim(0, 1.0)
    for ax in axes[len(scales) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=6, loc="lower right")
    fig.supxlabel("epochs")
    fig.supylabel("training accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def run_conv(key, data, quick):
    """SimpleConvNet or DeepConvNet the book's way (see accuracy_conv.py): 20 epochs, Adam."""
    (x_train, t_train), (x_test, t_test) = data
    images = ((x_train.reshape(-1, 1, 28, 28), t_train), (x_test.reshape(-1, 1, 28, 28), t_test))
    r = accuracy_conv.run_conv(key, epochs=1 if quick else 20, data=images, log=lambda _: None)
    at = {e: r["test_acc"][e - 1] for e in (10, 20) if e <= len(r["test_acc"])}
    label = {"convnet": "SimpleConvNet (ch. 7)", "deep_convnet": "DeepConvNet (ch. 8)"}[key]
    row = (
        f"{label}, Adam 0.001, batch 100, {len(r['test_acc'])} epochs",
        ", ".join(f"{a:.4f} after {e}" for e, a in at.items()) or f"{r['test_acc'][-1]:.4f}",
        f"{np.mean(r['seconds']):.0f} s per epoch",
    )
    return r, [row], []


def run_cli(data, quick):
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "layerwise", "train", "--out", out, "--quiet"],
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - start
    return wall, [("`layerwise train` (defaults, shipped sample)", "", f"{wall:.1f} s wall")], []


RUNS = {
    "chapter5": run_chapter5,
    "mlp_adam": run_mlp_adam,
    "extend_adam": run_extend_adam,
    "batchnorm": run_batchnorm,
    "convnet": lambda data, quick: run_conv("convnet", data, quick),
    "deep_convnet": lambda data, quick: run_conv("deep_convnet", data, quick),
    "cli": run_cli,
}
JSON_KEYS = {"cli": "default_train_wall_seconds"}  # the name earlier results used


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 1-2 epochs, 4 weight scales (smoke test)"
    )
    parser.add_argument("--only", nargs="*", choices=KEYS, help="runs to do (default: all)")
    parser.add_argument(
        "--dataset",
        choices=["fashion-mnist", "sample"],
        default="fashion-mnist",
        help="'sample': the shipped 5000/1000 images (for a fast check of this script)",
    )
    parser.add_argument(
        "--extend-epochs", type=int, default=25, help="epochs of extend_adam (default 25)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)

    load = load_sample if args.dataset == "sample" else load_fashion_mnist
    data = load(normalize=False)  # uint8; the Trainer scales each batch
    args.out.mkdir(parents=True, exist_ok=True)
    options = {
        "extend_adam": {"epochs": args.extend_epochs},
        "batchnorm": {"figure": args.out / "batch_norm_test.png"},
    }
    rows, lines, results = [], [], {}
    with blas_threads(1):  # the Trainer sets one thread too; batch_norm_test needs it here
        for key in args.only or KEYS:
            result, new_rows, new_lines = RUNS[key](data, args.quick, **options.get(key, {}))
            if isinstance(result, dict):
                result.update(dataset=args.dataset, quick=args.quick)
            results[JSON_KEYS.get(key, key)] = result
            rows += new_rows
            lines += new_lines

    print("| run | test accuracy | time |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n".join(lines))
    path = args.out / "accuracy.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.update(results)
    path.write_text(json.dumps(saved, indent=2))
    return results


if __name__ == "__main__":
    main()
