"""``layerwise book SCRIPT [ARGS]``: run one of the books' chapter scripts on layerwise.

See :mod:`layerwise.book`. The clone is recognised as the first book or its sequel (said on
stderr). The script runs in a run folder that is named on stderr (what it writes goes there,
the clone is not changed) unless ``--in-place`` is given. The script's own output and exit
status are the command's; an exception in the script prints its traceback, as ``python
SCRIPT`` would, and exits with 1, except what layerwise's answering modules say in one line
(CuPy missing for ``config.GPU = True``, the Penn Treebank not to be had, a refused pickle),
which is printed as that line.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .. import book
from ..book_weights import RefusedPickleError
from ._common import UsageError


def add_parser(sub):
    p = sub.add_parser(
        "book",
        help="run one of the books' scripts with common.* and dataset.* from layerwise",
        description=(
            "Run one of the books' chapter scripts (a clone of the repository of 'Deep "
            "Learning from Scratch' or of its sequel, 'Deep Learning from Scratch 2', "
            "recognised by its files: the sequel has common/time_layers.py) with common.* and "
            "dataset.* answered by layerwise: for the first book common.layers, "
            "common.trainer, ... and dataset.mnist; for the sequel common.layers, "
            "common.time_layers, common.np, common.config, ... and dataset.spiral, dataset.ptb, "
            "dataset.sequence. The chapter's own modules stay the book's. The script runs in a "
            "run folder that holds copies of the chapters' data files: what it writes lands "
            "there, and later scripts read it there; nothing is written into the clone unless "
            "--in-place is given. The sequel's config.GPU = True needs CuPy and a GPU; PTB "
            "is read from the clone's dataset/, $LAYERWISE_DATA or the cache, else downloaded. "
            "Examples: layerwise book ch07/train_convnet.py; layerwise book ch06/train_rnnlm.py"
        ),
    )
    p.add_argument("script", help="the script, e.g. ch07/train_convnet.py or ch08/train.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help=(
            "the first book's load_mnist keeps the first N training images and the test images "
            "in the full set's proportion (N/6 for MNIST) (LAYERWISE_BOOK_LIMIT)"
        ),
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="BLAS threads while the script runs (default 1, as layerwise train; 0: NumPy's)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--in-place",
        action="store_true",
        help="run in the clone's chapter folder: the script may overwrite what the clone ships",
    )
    where.add_argument(
        "--run-folder",
        metavar="DIR",
        help=(
            "the clone's run folder (default $LAYERWISE_BOOK_RUNS/<clone>, else "
            "~/.local/share/layerwise/book/<clone>)"
        ),
    )
    p.set_defaults(func=run, parser=p)
    return p


def run(args):
    if not Path(args.script).is_file():
        raise UsageError(f"no script {args.script}")
    if args.limit is not None:
        if args.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {args.limit}")
        os.environ["LAYERWISE_BOOK_LIMIT"] = str(args.limit)
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 (NumPy's default) or more, got {args.threads}")
    try:
        book.run_script(
            args.script,
            args.args,
            in_place=args.in_place,
            run_folder=args.run_folder,
            threads=args.threads or None,
        )
    except SystemExit as exit:
        return _exit_status(exit.code)
    except KeyboardInterrupt:
        raise
    except (book.BookScriptError, RefusedPickleError) as error:  # said in one line
        print(f"layerwise book: {error}", file=sys.stderr, flush=True)
        return 1
    except BaseException:  # the script's own error: its traceback, as python would show it
        traceback.print_exc()
        return 1
    return 0


def _exit_status(code):
    """The exit status of the script's ``SystemExit(code)``, as ``python SCRIPT`` gives it.

    None is 0 and an integer is itself; anything else (``sys.exit("fatal: ...")``) is printed
    on stderr, as its ``str``, and the status is 1.
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stdout.flush()  # the script's output first, as at python's exit
    print(code, file=sys.stderr, flush=True)
    return 1
