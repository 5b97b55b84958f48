"""``layerwise graph``: a computational graph, the book's apple figures or a model's one step."""

from __future__ import annotations

import sys
from pathlib import Path

from ..viz import apple_graph, record_step
from ._common import (
    UsageError,
    as_images,
    dataset,
    did_you_mean,
    load_dataset,
    open_model,
    positive_int,
)
from .train import RUN_OPTIONS

APPLES = ("apple", "apple-orange")  # the book's two shopping figures of chapter 5


def add_parser(sub):
    p = sub.add_parser(
        "graph", help="draw a computational graph: the book's apple figures or a model's step"
    )
    p.add_argument(
        "what",
        metavar="WHAT",
        help="apple, apple-orange (the book's figures), or a model .npz / run folder (one "
        "training step on a batch of its dataset)",
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
    if args.what in APPLES:
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
