"""Re-make the chapter guides' figures from real runs: ``python docs/figures.py [OUT]``.

``mkdocs build`` runs it through ``docs/hooks.py`` (into ``docs/figures/``, which git ignores), so
every picture and number on the chapter pages comes from the code of the checkout being built.
Everything trains on the Fashion-MNIST sample shipped inside the package (no download) for a few
epochs: about 40 s on two cores. Each figure also writes the numbers it shows into
``numbers.json`` and small markdown tables (``*.md``) that the pages include. The sequel's
figures (``docs/figures_sequel.py``, a few minutes) follow volume 1's. The two longest runs
(``BESIDE``) are made meanwhile by a second process, ``python docs/figures.py FOLDER NAME ...``:
on two cores the build takes about two minutes instead of four, with the same numbers. That
process ends with the one that started it, however it ends (``_end_with_parent``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import layerwise  # noqa: E402
from layerwise import (  # noqa: E402
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    Trainer,
    TwoLayerNet,
    viz,
)
from layerwise.datasets import CLASS_NAMES, load_sample  # noqa: E402
from layerwise.optimizers import get_optimizer  # noqa: E402
from layerwise.training import predicted_labels  # noqa: E402
from layerwise.util import im2col, smooth_curve  # noqa: E402

DPI = 100


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------------------- chapter 5


def ch5_graphs(out, numbers):
    """The apple figures (5-16, 5-17) and TwoLayerNet's step, from recorded layer calls."""
    try:
        viz.apple_graph().save(out / "ch5_apple.svg")
        viz.apple_graph(oranges=True).save(out / "ch5_apple_orange.svg")
        (x, t), _ = load_sample()
        net = TwoLayerNet(784, 50, 10, seed=0)
        viz.record_step(net, x[:100], t[:100], title="TwoLayerNet").save(
            out / "ch5_two_layer_net.svg"
        )
    except viz.GraphvizNotFoundError:
        committed_pictures(
            out,
            numbers,
            [
                ("ch5_apple.svg", "graph_apple.png"),
                ("ch5_apple_orange.svg", "graph_apple_orange.png"),
                ("ch5_two_layer_net.svg", "graph_two_layer_net.png"),
            ],
        )


def committed_pictures(out, numbers, pictures):
    """Without Graphviz the pages show the pictures committed beside README.md instead."""
    for name, committed in pictures:
        (out / name).write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
            f' width="100%"><image href="../../{committed}" width="100%"/></svg>'
        )
    numbers["graphviz"] = False


def sequel_unrolled_graphs(out, numbers):
    """The sequel's figures of a recurrent step unrolled in time (chapters 5-8): a tiny Rnnlm
    and AttentionSeq2seq, one training step over 3 time steps, from recorded layer calls."""
    from layerwise.sequel.attention import AttentionSeq2seq
    from layerwise.sequel.rnnlm import Rnnlm

    rng = np.random.default_rng(0)
    lm = Rnnlm(8, 4, 4, seed=0, dtype=np.float64)
    ids = rng.integers(0, 8, (2, 4))
    att = AttentionSeq2seq(8, 4, 4, seed=0, dtype=np.float64)
    try:
        viz.record_unrolled(lm, ids[:, :-1], ids[:, 1:], title="Rnnlm").save(
            out / "sequel_rnnlm_unrolled.svg"
        )
        question, answer = rng.integers(0, 8, (2, 3)), rng.integers(0, 8, (2, 4))
        viz.record_unrolled(att, question, answer, title="AttentionSeq2seq").save(
            out / "sequel_attention_unrolled.svg"
        )
    except viz.GraphvizNotFoundError:
        committed_pictures(
            out,
            numbers,
            [
                ("sequel_rnnlm_unrolled.svg", "graph_rnnlm_unrolled.png"),
                ("sequel_attention_unrolled.svg", "graph_attention_unrolled.png"),
            ],
        )


def ch5_gradcheck(out, numbers):
    """Section 5.7.3: backpropagation against numerical gradients, per parameter (float64)."""
    rng = np.random.default_rng(0)
    (x, t), _ = load_sample(flatten=False)
    # Every other row and column (14x14 = 196 inputs): the numerical gradient costs two forward
    # passes per parameter, and 784 inputs would make it the slowest figure by far.
    x = x[:, 0, ::2, ::2].reshape(len(x), -1)
    rows = {}
    for name, net in [
        ("TwoLayerNet", TwoLayerNet(196, 20, 10, weight_init_std=0.1, seed=0, dtype=np.float64)),
        (
            "MultiLayerNetExtend (BatchNorm, Dropout)",
            MultiLayerNetExtend(
                196, [20, 20], 10, use_batchnorm=True, use_dropout=True, seed=0, dtype=np.float64
            ),
        ),
    ]:
        idx = rng.choice(len(x), 3, replace=False)
        xb, tb = x[idx].astype(np.float64), t[idx]
        numerical = net.numerical_gradient(xb, tb, h=1e-5)
        grads = net.gradient(xb, tb)
        # The book's measure: the mean absolute difference per parameter.
        rows[name] = {k: float(np.mean(np.abs(grads[k] - numerical[k]))) for k in grads}
    numbers["gradcheck"] = rows
    fig, ax = plt.subplots(figsize=(8, 3.4))
    labels, values = [], []
    for name, errs in rows.items():
        for k, v in errs.items():
            labels.append(f"{k}\n{name.split()[0][:11]}")
            values.append(v)
    bars = ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("mean |backprop - numerical|")
    ax.set_title("gradient check on 3 sample images of 14x14 (float64, h = 1e-5)")
    for bar, v in zip(bars, values, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2, v, f"{v:.0e}", ha="center", va="bottom", fontsize=6
        )
    save(fig, out / "ch5_gradcheck.png")
    table = ["| network | parameter | mean abs(backprop - numerical) |", "|---|---|---|"]
    for name, errs in rows.items():
        table += [f"| {name} | `{k}` | {v:.2e} |" for k, v in errs.items()]
    (out / "ch5_gradcheck.md").write_text("\n".join(table) + "\n")


def ch5_training(out, numbers):
    """Chapter 5's train_neuralnet.py on the sample: TwoLayerNet, SGD lr 0.1, 5 epochs."""
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=False)
    net = TwoLayerNet(784, 50, 10, seed=0)
    trainer = Trainer(
        net,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=5,
        optimizer="SGD",
        optimizer_param={"lr": 0.1},
        verbose=False,
        seed=0,
    )
    trainer.train()
    viz.plot_history(
        trainer,
        out / "ch5_curves.png",
        title="TwoLayerNet 784-50-10, SGD lr 0.1, 5 epochs of the sample",
    )
    numbers["ch5_test_acc"] = trainer.test_acc_list[-1]


# ---------------------------------------------------------------------------- chapter 6


def ch6_optimizers(out, numbers):
    """Figure 6-9: the four optimizers on the same network and minibatches."""
    (x, t), _ = load_sample()
    settings = {
        "SGD": {"lr": 0.01},
        "Momentum": {"lr": 0.01},
        "AdaGrad": {"lr": 0.01},
        "Adam": {"lr": 0.001},
    }
    iterations, batch = 300, 128
    fig, ax = plt.subplots(figsize=(7, 4))
    final = {}
    for name, param in settings.items():
        net = MultiLayerNet(784, [100, 100, 100, 100], 10, seed=0)
        opt = get_optimizer(name, **param)
        rng = np.random.default_rng(0)  # the same minibatches for every optimizer
        losses = []
        for _ in range(iterations):
            idx = rng.choice(len(x), batch, replace=False)
            loss, grads = net.loss_and_gradient(x[idx], t[idx])
            opt.update(net.params, grads)
            losses.append(float(loss))
        ax.plot(smooth_curve(losses), label=f"{name} (lr {param['lr']})")
        final[name] = float(np.mean(losses[-20:]))
    ax.set(
        xlabel="iterations",
        ylabel="loss",
        ylim=(0, 2.5),
        title="MultiLayerNet 784-100x4-10 on the sample, batch 128 (fig. 6-9)",
    )
    ax.legend()
    save(fig, out / "ch6_optimizers.png")
    numbers["optimizers_final_loss"] = final


def ch6_weight_init(out, numbers):
    """Figures 6-10 to 6-14: activations of 5 layers of 100 units for 4 weight scales."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 100))
    cases = [
        ("sigmoid, std 1", "sigmoid", 1.0),
        ("sigmoid, std 0.01", "sigmoid", 0.01),
        ("sigmoid, Xavier", "sigmoid", np.sqrt(1.0 / 100)),
        ("ReLU, He", "relu", np.sqrt(2.0 / 100)),
    ]
    fig, axes = plt.subplots(len(cases), 5, figsize=(10, 2.1 * len(cases)), sharey="row")
    for row, (title, act, std) in zip(axes, cases, strict=True):
        a = x
        for i, ax in enumerate(row):
            w = rng.standard_normal((100, 100)) * std
            z = a @ w
            a = layerwise.sigmoid(z) if act == "sigmoid" else layerwise.relu(z)
            ax.hist(a.ravel(), 30, range=(0, 1), color="tab:blue")
            ax.set_title(f"layer {i + 1}", fontsize=8)
            ax.tick_params(labelsize=6)
        row[0].set_ylabel(title, fontsize=9)
    fig.suptitle("activation histograms by weight scale (figs. 6-10, 6-11, 6-13, 6-14)")
    save(fig, out / "ch6_weight_init.png")


def ch6_batchnorm(out, numbers):
    """Figure 6-19 in small: with and without BatchNorm at four weight scales."""
    (x, t), _ = load_sample()
    x, t = x[:1000], t[:1000]
    scales = [1.0, 0.1, 0.01, 0.001]
    epochs, batch = 15, 100
    fig, axes = plt.subplots(1, len(scales), figsize=(12, 3.2), sharey=True)
    result = {}
    for ax, scale in zip(axes, scales, strict=True):
        for bn, style in [(True, "-"), (False, "--")]:
            net = MultiLayerNetExtend(
                784, [100] * 5, 10, weight_init_std=scale, use_batchnorm=bn, seed=0
            )
            opt = get_optimizer("SGD", lr=0.01)
            rng = np.random.default_rng(0)
            acc = []
            for _ in range(epochs):
                for idx in np.array_split(rng.permutation(len(x)), len(x) // batch):
                    opt.update(net.params, net.gradient(x[idx], t[idx]))
                acc.append(net.accuracy(x, t))
            label = "BatchNorm" if bn else "without"
            ax.plot(range(1, epochs + 1), acc, style, label=label)
            result[f"{scale:g} {label}"] = acc[-1]
        ax.set(title=f"weight std {scale:g}", xlabel="epochs", ylim=(0, 1))
    axes[0].set_ylabel("training accuracy")
    axes[0].legend()
    fig.suptitle("784-100x5-10, 1000 sample images, SGD lr 0.01 (fig. 6-19)")
    save(fig, out / "ch6_batchnorm.png")
    numbers["batchnorm_final_train_acc"] = result


def ch6_dropout(out, numbers):
    """Figures 6-20 and 6-23: 300 training images overfit; Dropout narrows the gap."""
    (x, t), (x_test, t_test) = load_sample()
    x, t = x[:300], t[:300]
    epochs = 100
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    gaps = {}
    for ax, dropout in zip(axes, [False, True], strict=True):
        net = MultiLayerNetExtend(
            784, [100] * 6, 10, use_dropout=dropout, dropout_ration=0.2, seed=0
        )
        trainer = Trainer(
            net,
            x,
            t,
            x_test,
            t_test,
            epochs=epochs,
            mini_batch_size=100,
            optimizer="SGD",
            optimizer_param={"lr": 0.01},
            verbose=False,
            seed=0,
        )
        trainer.train()
        ax.plot(trainer.train_acc_list, label="train")
        ax.plot(trainer.test_acc_list, label="test")
        name = "Dropout 0.2" if dropout else "no Dropout"
        ax.set(title=f"784-100x6-10, 300 images, {name}", xlabel="epochs", ylim=(0, 1.05))
        gaps[name] = {"train": trainer.train_acc_list[-1], "test": trainer.test_acc_list[-1]}
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    save(fig, out / "ch6_dropout.png")
    numbers["dropout"] = gaps
    table = ["| network | train accuracy | test accuracy | gap |", "|---|---|---|---|"]
    table += [
        f"| {k} | {v['train']:.3f} | {v['test']:.3f} | {v['train'] - v['test']:.3f} |"
        for k, v in gaps.items()
    ]
    (out / "ch6_dropout.md").write_text("\n".join(table) + "\n")


# ---------------------------------------------------------------------------- chapter 7


def ch7_im2col(out, numbers):
    """Figure 7-18: im2col turns every 3x3 window of a 4x4 image into one row."""
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)
    col = im2col(x, 3, 3, stride=1, pad=0)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 2.6]})
    a.imshow(x[0, 0], cmap="Blues", vmin=-4, vmax=20)
    for (i, j), v in np.ndenumerate(x[0, 0]):
        a.text(j, i, f"{v:g}", ha="center", va="center")
    a.add_patch(plt.Rectangle((-0.5, -0.5), 3, 3, fill=False, lw=2, color="firebrick"))
    a.set(title="input (1, 1, 4, 4), a 3x3 window", xticks=[], yticks=[])
    b.imshow(col, cmap="Blues", vmin=-4, vmax=20)
    for (i, j), v in np.ndenumerate(col):
        b.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8)
    b.add_patch(plt.Rectangle((-0.5, -0.5), 9, 1, fill=False, lw=2, color="firebrick"))
    b.set(title=f"im2col(x, 3, 3): shape {col.shape}, one row per window", xticks=[], yticks=[])
    save(fig, out / "ch7_im2col.png")


def train_conv(net, epochs, numbers, key, train_images=5000):
    (x_train, t_train), (x_test, t_test) = load_sample(normalize=False, flatten=False)
    x_train, t_train = x_train[:train_images], t_train[:train_images]
    trainer = Trainer(
        net,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=epochs,
        optimizer="Adam",
        optimizer_param={"lr": 0.001},
        verbose=False,
        seed=0,
    )
    start = time.perf_counter()
    trainer.train()
    numbers[key] = {
        "test_acc": trainer.test_acc_list[-1],
        "epochs": epochs,
        "train_images": len(x_train),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return x_test, t_test


def ch7_filters(out, numbers):
    """Figure 7-24: SimpleConvNet's 30 first-layer filters before and after training."""
    net = SimpleConvNet(seed=0)
    before = net.params["W1"].copy()
    train_conv(net, 1, numbers, "simpleconvnet")
    viz.plot_filters(
        {"before training": before, "after 1 epoch": net.params["W1"]}, out / "ch7_filters.png"
    )


# ---------------------------------------------------------------------------- chapter 8


def ch8_misclassified(out, numbers):
    """Figure 8-6: DeepConvNet's misclassified test images after one epoch of 2000 images."""
    net = DeepConvNet(seed=0)
    # A DeepConvNet epoch of the whole sample takes a minute: 2000 images keep the build short.
    x_test, t_test = train_conv(net, 1, numbers, "deepconvnet", train_images=2000)
    predicted = predicted_labels(net, x_test)
    viz.plot_misclassified(
        x_test, t_test, predicted, out / "ch8_misclassified.png", class_names=CLASS_NAMES
    )


def sequel_figures():
    """The sequel's figure functions (``docs/figures_sequel.py``, beside this file)."""
    path = Path(__file__).with_name("figures_sequel.py")
    spec = importlib.util.spec_from_file_location("layerwise_docs_figures_sequel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FIGURES


FIGURES = [
    ch5_graphs,
    sequel_unrolled_graphs,
    ch5_gradcheck,
    ch5_training,
    ch6_optimizers,
    ch6_weight_init,
    ch6_batchnorm,
    ch6_dropout,
    ch7_im2col,
    ch7_filters,
    ch8_misclassified,
    *sequel_figures(),
]


# The two longest runs (about half of the build): a second process makes them while this one
# makes the others. Each process pins BLAS to one thread, so the numbers are those of one process.
BESIDE = ["ch8_misclassified", "sequel_ch7_addition"]
# Set for the second process: the pid of the build that started it.
PARENT = "LAYERWISE_FIGURES_PARENT"


def make_all(out, only=None):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    numbers, seconds = {}, {}
    stamp = out / "numbers.json"
    if only and stamp.exists():
        # Some figures remade: the others' numbers stay.
        numbers = json.loads(stamp.read_text())
        seconds = numbers.pop("seconds", {})
    beside = None
    if not only:  # `python docs/figures.py OUT NAME ...` in a folder of its own
        folder = Path(tempfile.mkdtemp(prefix=".beside-", dir=out))
        command = [sys.executable, str(Path(__file__).resolve()), str(folder), *BESIDE]
        env = {**os.environ, PARENT: str(os.getpid())}
        beside = folder, subprocess.Popen(command, env=env)  # its lines go where this one's go
    try:
        with layerwise.blas_threads(1):
            for make in FIGURES:
                if (only and make.__name__ not in only) or (beside and make.__name__ in BESIDE):
                    continue
                start = time.perf_counter()
                make(out, numbers)
                seconds[make.__name__] = round(time.perf_counter() - start, 1)
                print(f"  {make.__name__}: {seconds[make.__name__]} s", flush=True)
        if beside:
            folder, process = beside
            if process.wait():
                raise RuntimeError(f"making {', '.join(BESIDE)} failed (its error above)")
            theirs = json.loads((folder / "numbers.json").read_text())
            seconds.update(theirs.pop("seconds"))
            numbers.update(theirs)
            for path in folder.iterdir():
                if path.name != "numbers.json":
                    path.replace(out / path.name)
    finally:
        if beside:
            beside[1].kill()  # ended already, unless this process failed first
            beside[1].wait()
            shutil.rmtree(beside[0], ignore_errors=True)
    numbers["seconds"] = seconds
    (out / "numbers.json").write_text(json.dumps(numbers, indent=1) + "\n")
    return numbers


def _end_with_parent(parent, folder):
    """End this process, and remove its folder of figures, once ``parent`` has gone.

    The parent's ``finally`` ends this process when the parent fails or is interrupted; one
    killed outright (SIGKILL, or a signal Python does not handle) runs no code, and this
    process, adopted by another, would make its figures for nothing for another minute. A
    thread polls the parent's pid twice a second instead (``os.getppid`` changes on adoption).
    """

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    # python docs/figures.py [OUT [NAME ...]]: NAME picks figures by function name.
    if PARENT in os.environ and len(sys.argv) > 1:
        _end_with_parent(int(os.environ[PARENT]), sys.argv[1])
    make_all(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "figures", sys.argv[2:])
