"""``layerwise book SCRIPT [ARGS]``: run one of the book's chapter scripts on layerwise.

See :mod:`layerwise.book`. The script's own output and exit status are the command's; an
exception in the script prints its traceback, as ``python SCRIPT`` would, and exits with 1.
"""

from __future__ import annotations

import argparse
import os
import traceback
from pathlib import Path

from .. import book
from ._common import UsageError


def add_parser(sub):
    p = sub.add_parser(
        "book",
        help="run one of the book's scripts with common.* and dataset.mnist from layerwise",
        description=(
            "Run one of the book's chapter scripts (a clone of its repository) from its chapter "
            "folder, with common.* and dataset.mnist answered by layerwise; nothing is written "
            "into the clone. Example: layerwise book ch07/train_convnet.py"
        ),
    )
    p.add_argument("script", help="the script, e.g. ch07/train_convnet.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="load_mnist keeps the first N training and N test images (LAYERWISE_BOOK_LIMIT)",
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
    try:
        book.run_script(args.script, args.args)
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        raise
    except BaseException:  # the script's own error: its traceback, as python would show it
        traceback.print_exc()
        return 1
    return 0
