"""The pictures the command line writes: learning curves, filters, misclassified images, confusion,
and the test accuracy of several runs side by side.

Each function writes one PNG with matplotlib (the ``plot`` extra) and returns True, or returns
False when matplotlib is not installed, so the caller can say how to get it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._types import StrPath

if TYPE_CHECKING:  # only for the annotations: the command line imports both
    from ..training import Trainer


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_history(trainer: Trainer, path: StrPath, title: str | None = None) -> bool:
    """The training loss per iteration and the accuracies per epoch, side by side.

    Parameters
    ----------
    trainer : Trainer
        Its ``train_loss_list``, ``train_acc_list``, ``test_acc_list`` and ``iter_per_epoch``
        (a run stopped early is drawn as far as it went).
    path : str or Path
    title : str, optional
        Above both panels: which run this is (the command line gives model, dataset,
        optimizer and learning rate from run.json).
    """
    plt = _pyplot()
    if plt is None:
        return False
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.2))
    losses = np.asarray(trainer.train_loss_list)
    iterations = np.arange(1, len(losses) + 1)
    few = len(losses) <= 50  # a run stopped early: show each point
    ax_loss.plot(
        iterations,
        losses,
        lw=1 if few else 0.5,
        alpha=1 if few else 0.4,
        marker="o" if few else None,
        label="loss of each minibatch",
    )
    if len(losses) and losses.min() > 0 and losses.max() > 1000 * losses.min():
        ax_loss.set_yscale("log")  # a diverging run: its start would be a flat line at 0
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    # A window of one epoch at most, and at least 20 points across the run.
    window = max(1, min(len(losses) // 20, trainer.iter_per_epoch))
    if window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        label = f"moving average: mean of {window} iterations"
        ax_loss.plot(np.arange(window, len(losses) + 1), smooth, lw=1.5, label=label)
    ax_loss.set(xlabel="iteration", ylabel="loss", title="training loss")
    ax_loss.legend()
    train_acc, test_acc = trainer.train_acc_list, trainer.test_acc_list
    epochs = np.arange(1, len(test_acc) + 1)
    ax_acc.plot(epochs, train_acc, marker="o", label="train")
    ax_acc.plot(epochs, test_acc, marker="s", linestyle="--", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy at the end of each epoch")
    if len(epochs):
        ax_acc.set_ylim(*accuracy_limits([*train_acc, *test_acc]))
        ax_acc.set_xticks(epoch_ticks(len(epochs)))
        ax_acc.set_xlim(0.5, len(epochs) + 0.5)
        ax_acc.legend(loc="lower right")
    else:
        ax_acc.text(
            0.5, 0.5, "no epoch finished", ha="center", va="center", transform=ax_acc.transAxes
        )
        ax_acc.set(xticks=[], yticks=[])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def accuracy_limits(
    values: Sequence[float], margin: float = 0.1, least: float = 0.05
) -> tuple[float, float]:
    """y limits that show the accuracies' spread: their range, widened by ``margin`` of it on
    each side and to at least ``least`` in all, kept within [0, 1].

    A fixed 0-1 axis hides the train/test gap of a run between 0.82 and 0.90.
    """
    low, high = float(np.min(values)), float(np.max(values))
    pad = max(margin * (high - low), (least - (high - low)) / 2, 0.0)
    low, high = max(0.0, low - pad), min(1.0, high + pad)
    return low, high


def epoch_ticks(n: int) -> list[int]:
    """Whole epochs to label on an axis of ``n`` epochs: each one up to 20, else 1 and every
    k-th epoch for a round k (5, 10, 20, 50, ...) that leaves at most ten more labels."""
    if n <= 20:
        return list(range(1, n + 1))
    step = next(k * 10**e for e in itertools.count() for k in (1, 2, 5) if n / (k * 10**e) <= 10)
    return [1, *range(step, n + 1, step)]


def plot_runs(
    runs: Sequence[tuple[str, Sequence[float]]],
    path: StrPath,
    title: str = "test accuracy of each run",
) -> bool:
    """Several runs' test accuracy per epoch in one picture, as the book's chapter-6 figures
    compare optimizers and learning rates.

    Parameters
    ----------
    runs : list of (str, list of float)
        A legend label and the test accuracy at the end of each epoch, for each run.
    """
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = "os^vD<>p*h"
    for i, (label, accuracies) in enumerate(runs):
        epochs = np.arange(1, len(accuracies) + 1)
        ax.plot(epochs, accuracies, marker=markers[i % len(markers)], markersize=4, label=label)
    values = [a for _, accuracies in runs for a in accuracies]
    longest = max((len(accuracies) for _, accuracies in runs), default=0)
    if values:
        ax.set_ylim(*accuracy_limits(values))
        ax.set_xticks(epoch_ticks(longest))
        ax.set_xlim(0.5, longest + 0.5)
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_filters(panels: Mapping[str, np.ndarray], path: StrPath, columns: int = 10) -> bool:
    """The first convolution's filters as grey images, one panel per stage (the book's fig. 7-24).

    Parameters
    ----------
    panels : dict of str to ndarray, shape (FN, C, FH, FW)
        E.g. ``{"before training": W1_initial, "after training": W1}``. Only the first channel of
        each filter is drawn; each filter is scaled to its own range, as the book's
        ``visualize_filter.py`` does (``imshow`` per filter).
    """
    plt = _pyplot()
    if plt is None:
        return False
    n = max(len(w) for w in panels.values())
    columns = min(columns, n)
    rows = -(-n // columns)
    fig = plt.figure(figsize=(columns * 0.9, (rows * 0.9 + 0.5) * len(panels)))
    figures = fig.subfigures(len(panels), 1, squeeze=False)[:, 0]
    for sub, (title, weights) in zip(figures, panels.items(), strict=True):
        sub.suptitle(f"{title}: {len(weights)} filters of {weights.shape[2]}x{weights.shape[3]}")
        axes = sub.subplots(rows, columns, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if i < len(weights):
                ax.imshow(weights[i, 0], cmap="gray_r", interpolation="nearest")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    path: StrPath,
    class_names: Sequence[str] | None = None,
    count: int = 20,
) -> bool:
    """The first ``count`` misclassified images with their true and predicted labels (fig. 8-6).

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (N, 1, H, W) or (N, H*W) of square images
    labels, predicted : ndarray of int, shape (N,)
    """
    plt = _pyplot()
    if plt is None:
        return False
    wrong = np.flatnonzero(labels != predicted)[:count]
    columns = 5
    rows = max(1, -(-len(wrong) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.9, rows * 2.2), squeeze=False)
    side = int(round(np.sqrt(images[0].size)))

    def name(k):
        return class_names[k] if class_names is not None and k < len(class_names) else str(k)

    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, wrong, strict=False):
        ax.imshow(np.asarray(images[i]).reshape(side, -1), cmap="gray_r")
        ax.set_title(
            f"true {name(labels[i])}\npredicted {name(predicted[i])}", fontsize=8, color="firebrick"
        )
    fig.suptitle(f"the first {len(wrong)} misclassified test images")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_confusion(
    confusion: np.ndarray, path: StrPath, class_names: Sequence[str] | None = None
) -> bool:
    """The confusion matrix as a heat map with its counts (rows: true label, columns: predicted)."""
    plt = _pyplot()
    if plt is None:
        return False
    classes = len(confusion)
    names = list(class_names) if class_names is not None else [str(i) for i in range(classes)]
    fig, ax = plt.subplots(figsize=(1 + 0.75 * classes, 0.75 * classes + 0.5))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(classes), names, rotation=45, ha="right")
    ax.set_yticks(range(classes), names)
    ax.set(xlabel="predicted", ylabel="true")
    accuracy = np.trace(confusion) / max(1, confusion.sum())
    ax.set_title(f"confusion matrix (accuracy {accuracy:.4f})")
    threshold = confusion.max() / 2
    for (i, j), count in np.ndenumerate(confusion):
        color = "white" if count > threshold else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
