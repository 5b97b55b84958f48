"""The pictures the command line writes: learning curves, filters, misclassified images, confusion.

Each function writes one PNG with matplotlib (the ``plot`` extra) and returns True, or returns
False when matplotlib is not installed, so the caller can say how to get it.
"""

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_history(trainer, path):
    """The training loss per iteration and the accuracies per epoch, side by side."""
    plt = _pyplot()
    if plt is None:
        return False
    import matplotlib.ticker

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    losses = np.asarray(trainer.train_loss_list)
    ax_loss.plot(np.arange(1, len(losses) + 1), losses, lw=0.5, alpha=0.4, label="minibatch")
    window = max(1, min(len(losses) // 20, trainer.iter_per_epoch))
    if window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax_loss.plot(np.arange(window, len(losses) + 1), smooth, lw=1.5, label=f"mean of {window}")
    ax_loss.set(xlabel="iteration", ylabel="loss", title="training loss")
    ax_loss.legend()
    epochs = np.arange(1, len(trainer.train_acc_list) + 1)
    ax_acc.plot(epochs, trainer.train_acc_list, marker="o", label="train")
    ax_acc.plot(epochs, trainer.test_acc_list, marker="s", linestyle="--", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(loc="lower right")
    ax_acc.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_filters(panels, path, columns=10):
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


def plot_misclassified(images, labels, predicted, path, class_names=None, count=20):
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


def plot_confusion(confusion, path, class_names=None):
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
