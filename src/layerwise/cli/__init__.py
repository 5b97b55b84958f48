"""The ``layerwise`` command: train, evaluate, generate, runs, gradcheck, graph, export and book.

Models: ``two-layer`` (TwoLayerNet, chapter 5), ``mlp`` (MultiLayerNet, or MultiLayerNetExtend
with ``--batchnorm`` / ``--dropout``, chapter 6), ``convnet`` (SimpleConvNet, chapter 7) and
``deep-convnet`` (DeepConvNet, chapter 8). Conv models see the images as (N, 1, 28, 28).

Every run gets a folder that no other run writes into: ``runs/DATE-TIME`` (``-2``, ``-3``, ...
when that name is taken, even by a process started in the same second), or the ``--out`` folder,
which is refused when it already holds a run unless ``--force`` is given. ``run.json`` there
records what the run was and how it ended (:mod:`layerwise.run_folders`); the model file's
description carries the same settings, so ``evaluate`` knows which dataset a model was trained on.

Each command is a module of this package with ``add_parser(sub)``, which declares its options,
and ``run(args)``, which does it and returns the exit status.

Exit status: 0 done; 2 a usage error (a bad option value or combination, named, after the usage
line); 1 any other failure a user can cause (data not found, a bad model file, a diverging run),
a short message and never a traceback; 128 + the signal's number when interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys

from .. import __version__, interop
from ..backend import DeviceUnavailableError
from . import book, evaluate, export, generate, gradcheck, graph, runs, train
from ._common import UsageError, did_you_mean

#: The commands in the order ``layerwise --help`` lists them.
COMMANDS = (train, evaluate, generate, export, runs, gradcheck, graph, book)


def build_parser():
    """The parser of every command, built now, so that its choices read the registries as
    they are now (optimizers, activations)."""
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Train and check the networks of 'Deep Learning from Scratch'.",
    )
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    names = [command.__name__.rsplit(".", 1)[1] for command in COMMANDS]
    given = next((arg for arg in argv if not arg.startswith("-")), None)
    if given is not None and given not in names:  # argparse's message lists, we point
        parser.error(
            f"argument COMMAND: invalid choice: {given!r}{did_you_mean(given, names)}; choose "
            f"from {', '.join(names)}"
        )
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["layerwise", *argv])
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is handled below and not at exit
        return status
    except UsageError as err:
        args.parser.error(str(err))  # the usage line, the message, exit status 2
    except BrokenPipeError:
        # Whoever read the output stopped (`layerwise runs | head -3`): nothing to report. Point
        # stdout at /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (
        ValueError,
        TypeError,
        OSError,
        interop.MissingExtraError,
        DeviceUnavailableError,
    ) as err:
        # Data not found, bad model or checkpoint files, a folder that cannot be written, an
        # optional package (torch, onnx) that export or evaluate needs, --device cuda without
        # CuPy or a GPU.
        print(f"layerwise: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerwise: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
