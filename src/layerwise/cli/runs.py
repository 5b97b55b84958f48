"""``layerwise runs``: the runs in runs/ (or DIR) as a table, and their curves in one picture."""

from __future__ import annotations

from pathlib import Path

from ..run_folders import RUNS_DIR, dataset_name, find_runs, read_test_accuracies, shown_status
from ..viz.plots import plot_runs
from ._common import NO_PICTURES

HEADER = ["folder", "model", "dataset", "optimizer", "lr", "epochs", "test acc", "time", "status"]
RIGHT_ALIGNED = {"lr", "epochs", "test acc", "time"}  # numbers


def add_parser(sub):
    p = sub.add_parser("runs", help=f"list the runs in {RUNS_DIR}/ (or DIR) as a table")
    p.add_argument(
        "dirs",
        nargs="*",
        default=[RUNS_DIR],
        metavar="DIR",
        help=f"folders of runs, or run folders (default: {RUNS_DIR})",
    )
    p.add_argument(
        "--plot", action="store_true", help="draw their test accuracy per epoch in one picture"
    )
    p.add_argument("--out", metavar="FILE", help="with --plot: the picture (default DIR/runs.png)")
    p.set_defaults(func=run, parser=p)


def run_row(folder, record):
    """One line of the table, a cell for each of HEADER."""
    optimizer = record.get("optimizer", {})
    epochs = f"{record.get('epochs_done', '?')}"
    if record.get("epochs_done") != record.get("epochs"):
        epochs += f"/{record.get('epochs', '?')}"
    test_acc = record.get("test_acc")
    seconds = record.get("seconds")
    status = shown_status(record)
    if status != record.get("status"):  # died without a word: say where it got to
        status += f" after epoch {record.get('epochs_done', '?')}"
    return [
        str(folder),
        str(record.get("model", "?")),
        dataset_name(record),
        str(optimizer.get("name", "?")),
        f"{optimizer['lr']:g}" if isinstance(optimizer.get("lr"), (int, float)) else "?",
        epochs,
        "-" if test_acc is None else f"{test_acc:.4f}",
        "-" if not seconds else f"{seconds:.1f} s",
        status,
    ]


def run(args):
    runs, others = find_runs(args.dirs)
    rows = [HEADER, *(run_row(folder, record) for folder, record in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        cells = [
            cell.rjust(width) if name in RIGHT_ALIGNED else cell.ljust(width)
            for name, cell, width in zip(HEADER, row, widths, strict=True)
        ]
        print("  ".join(cells).rstrip())
    if not runs:
        print(f"(no runs in {', '.join(args.dirs)})")
    for _, reason in others:
        print(reason)
    if args.plot:
        out = Path(args.out) if args.out else Path(args.dirs[0]) / "runs.png"
        if plot_run_curves(runs, out):
            print(f"wrote {out}")
        else:
            print(NO_PICTURES)
    return 0


def plot_run_curves(runs, out):
    """The runs' test accuracy per epoch (history.csv) in one picture, labelled from run.json."""
    datasets = {dataset_name(record) for _, record in runs}
    curves = []
    for folder, record in runs:
        accuracies = read_test_accuracies(folder)
        if accuracies:
            optimizer = record.get("optimizer", {})
            label = f"{folder.name}: {record.get('model')}, {optimizer.get('name')} "
            label += f"lr {optimizer['lr']:g}" if "lr" in optimizer else "lr ?"
            if len(datasets) > 1:
                label += f", {dataset_name(record)}"
            curves.append((label, accuracies))
    if not curves:
        raise FileNotFoundError("no run has a finished epoch to plot (history.csv)")
    on = f" on {datasets.pop()}" if len(datasets) == 1 else ""
    return plot_runs(curves, out, f"test accuracy per epoch{on}")
