"""``layerwise train``: train a network; write the model, run.json, history and curves."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

from ..backend import CUPY_INSTALL
from ..book_nets import SimpleConvNet, TwoLayerNet
from ..layers import ACTIVATIONS
from ..optimizers import OPTIMIZERS
from ..parallel import START_METHOD, available_cores
from ..parallel.mpi import MPI_INSTALL, world
from ..run_folders import (
    CHECKPOINT,
    RUNS_DIR,
    ResumeError,
    new_record,
    new_run_folder,
    prepare_folder,
    read_run,
    resume_point,
    resume_record,
    runs_held,
)
from ..training import Trainer
from . import _sequel
from ._common import (
    UsageError,
    as_images,
    at_least_one,
    check_device,
    choice,
    choices_metavar,
    dataset,
    device,
    flag,
    load_dataset,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    ratio,
    workers,
)
from ._lifecycle import Run
from .models import (
    CONV_MODELS,
    MODEL_DEFAULTS,
    build_network,
    init_names,
    own_std,
    weight_init_std,
)

#: The options of ``train`` that describe a run, with their defaults: the one place they are
#: written. The parser leaves an option None when the command line does not name it and these
#: are filled in afterwards, so that ``--resume`` can tell what was asked for from what was
#: left to its default.
RUN_OPTIONS = {
    "dataset": "sample",
    "model": "two-layer",
    "hidden": None,  # None: the model's (MODEL_DEFAULTS)
    "activation": "relu",
    "optimizer": None,
    "lr": None,
    "epochs": 20,
    "batch_size": 100,
    "weight_decay": 0.0,
    "weight_init_std": None,  # None: the model's own
    "batchnorm": False,
    "dropout": 0.0,
    "dtype": "float32",
    "seed": 0,
    "checkpoint_every": None,
    "eval_samples": None,
    "threads": 1,
    "workers": 1,
    "device": "cpu",
    "mpi": False,
}
#: What ``--resume`` may change, since none of them changes what the run computes (workers
#: and the device change only the rounding of floating-point sums; see layerwise.parallel).
RESUME_MAY_CHANGE = ("epochs", "threads", "checkpoint_every", "workers", "device", "mpi")


def _per_model(key, conv=False):
    """``MODEL_DEFAULTS[...][key]`` of the book's first network, or of its conv networks."""
    return MODEL_DEFAULTS[CONV_MODELS[0] if conv else RUN_OPTIONS["model"]][key]


def add_parser(sub):
    """The ``train`` command and its options; each default is read from RUN_OPTIONS."""
    default = RUN_OPTIONS
    hidden = ", ".join(
        f"{' '.join(map(str, d['hidden']))} for {model}" for model, d in MODEL_DEFAULTS.items()
    )
    p = sub.add_parser(
        "train",
        usage="%(prog)s [options]",
        help="train a network; write the model, run.json, history and curves",
    )
    models = [*MODEL_DEFAULTS, *_sequel.SEQUEL_MODELS]
    p.add_argument(
        "--dataset",
        type=dataset,
        help=f"sample (shipped), fashion-mnist, mnist, or a folder of IDX files (the only place "
        f"looked in); default {default['dataset']}. The sequel's models: ptb or a text file "
        "(language models; default ptb), addition, date or a file of question_answer lines "
        "(seq2seq; default addition, date for attention-seq2seq)",
    )
    p.add_argument(
        "--model",
        type=choice(models),
        metavar=choices_metavar(models),
        help="two-layer: TwoLayerNet (chapter 5), mlp: MultiLayerNet (chapter 6), convnet: "
        f"SimpleConvNet (chapter 7), deep-convnet: DeepConvNet (chapter 8); default "
        f"{default['model']}. The sequel's: "
        + ", ".join(f"{k}: {m.summary}" for k, m in _sequel.SEQUEL_MODELS.items()),
    )
    p.add_argument(
        "--hidden", type=positive_int, nargs="+", help=f"hidden layer sizes (default: {hidden})"
    )
    p.add_argument(
        "--activation",
        type=choice(sorted(ACTIVATIONS)),  # every activation registered when the parser is built
        metavar=choices_metavar(sorted(ACTIVATIONS)),
        help=f"mlp only (default {default['activation']})",
    )
    p.add_argument(
        "--optimizer",
        type=choice(OPTIMIZERS),
        metavar=choices_metavar(OPTIMIZERS),
        help=f"default {_per_model('optimizer')} ({_per_model('optimizer', conv=True)} for the "
        "conv models, as the book trains them)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        help=f"learning rate (default {_per_model('lr')}; {_per_model('lr', conv=True)} for the "
        "conv models)",
    )
    p.add_argument("--epochs", type=positive_int, help=f"default {default['epochs']}")
    p.add_argument("--batch-size", type=positive_int, help=f"default {default['batch_size']}")
    p.add_argument(
        "--weight-decay",
        type=non_negative_float,
        help=f"L2 weight decay lambda, mlp only (default {default['weight_decay']:g})",
    )
    p.add_argument(
        "--weight-init-std",
        type=weight_init_std,
        help=f"a number > 0, or for mlp one of {', '.join(init_names())} (default: "
        f"{own_std(TwoLayerNet)} "
        f"for two-layer, {own_std(SimpleConvNet)} for convnet, the activation's for mlp)",
    )
    p.add_argument(
        "--batchnorm",
        action="store_true",
        default=None,
        help="BatchNormalization after each hidden Affine (mlp: MultiLayerNetExtend) or "
        "each convolution (convnet, deep-convnet)",
    )
    p.add_argument(
        "--dropout",
        type=ratio,
        metavar="RATIO",
        help="mlp only: Dropout of this ratio after each hidden activation "
        f"(default {default['dropout']:g}: none)",
    )
    dtypes = ["float32", "float64"]
    p.add_argument(
        "--dtype",
        type=choice(dtypes),
        metavar=choices_metavar(dtypes),
        help=f"default {default['dtype']}",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        help=f"default {default['seed']} (a number >= 0): same seed, same run",
    )
    p.add_argument(
        "--eval-samples",
        type=positive_int,
        help="evaluate on the first N train/test samples each epoch (default all)",
    )
    p.add_argument(
        "--out",
        help=f"the run's folder (default: a new {RUNS_DIR}/DATE-TIME); one that holds a run "
        "is refused",
    )
    p.add_argument(
        "--force", action="store_true", help="with --out: replace the run that folder holds"
    )
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        metavar="N",
        help=f"also write OUT/{CHECKPOINT} every N iterations (it is always written at "
        "the end of every epoch)",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its checkpoint, with its options; add --epochs N "
        "to extend it to N epochs",
    )
    p.add_argument(
        "--threads",
        type=non_negative_int,
        help=f"BLAS threads (default {default['threads']}, fastest for these sizes; 0: NumPy's "
        "default; at most the number of cores)",
    )
    p.add_argument(
        "--workers",
        type=workers,
        metavar="N|auto",
        help=f"processes computing each step, each on a share of the minibatch (default "
        f"{default['workers']}; auto: one per idle core this process may use, from the load "
        "average; at most the number of cores); the same gradient whatever N, see "
        "docs/many-cores.md",
    )
    p.add_argument(
        "--start-method",
        choices=multiprocessing.get_all_start_methods(),
        help=f"how --workers processes start (default {START_METHOD}, on every Python version)",
    )
    p.add_argument(
        "--device",
        type=device,
        metavar="cpu|cuda|cuda:N",
        help=f"where to train (default {default['device']}); cuda needs CuPy: {CUPY_INSTALL}",
    )
    p.add_argument(
        "--mpi",
        action="store_true",
        default=None,
        help="run under mpiexec -n N: the ranks share each step as --workers shares it, rank 0 "
        f"writes the run (needs {MPI_INSTALL}); see docs/many-cores.md",
    )
    p.add_argument(
        "--wordvec-size",
        type=positive_int,
        metavar="D",
        help="the sequel's models: the word (or character) vectors' size (default: the book's, "
        "100 for rnnlm, 650 for better-rnnlm, 16 for the seq2seq models)",
    )
    p.add_argument(
        "--window-size",
        type=positive_int,
        metavar="N",
        help="cbow, skip-gram: the context words on each side of a word (default 5, as the "
        "sequel's ch04/train.py)",
    )
    p.add_argument(
        "--time-size",
        type=positive_int,
        metavar="T",
        help="language models: the time steps of truncated BPTT (default 35)",
    )
    p.add_argument(
        "--max-grad",
        type=positive_float,
        help="the sequel's models: clip the gradients' norm to this (default 0.25 for the "
        "language models, 5.0 for seq2seq)",
    )
    p.add_argument(
        "--lr-decay",
        type=at_least_one,
        metavar="F",
        help="language models: divide the learning rate by F >= 1 (1: no decay) after an epoch "
        "whose validation perplexity is no better than the best before it, as the sequel's "
        "ch06/train_better_rnnlm.py does (default: 4 for better-rnnlm, none for rnnlm)",
    )
    p.add_argument(
        "--reverse",
        action=argparse.BooleanOptionalAction,
        help="seq2seq models: read the questions reversed, as the sequel's section 7.3.2 does "
        "(default: as the book's script: --no-reverse, --reverse for attention-seq2seq)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(func=run, parser=p)


# ---------------------------------------------------------------------- options


def new_options(args):
    """The run's options: those the command line names, then the defaults."""
    opts = {name: getattr(args, name) for name in RUN_OPTIONS}
    for name, default in RUN_OPTIONS.items():
        if opts[name] is None:
            opts[name] = default
    for name, default in MODEL_DEFAULTS[opts["model"]].items():
        if opts[name] is None:
            opts[name] = default
    return opts


def resumed_options(args, run_options=RUN_OPTIONS, may_change=RESUME_MAY_CHANGE):
    """The options of the run in ``--resume DIR``, with what ``--resume`` may change.

    Any other option the command line names must agree with the run's: a different value
    would make the resumed run a different one, and is refused, naming the option.
    """
    out = Path(args.resume)
    for name in ("out", "force"):
        if getattr(args, name):
            raise UsageError(
                f"{flag(name)} cannot be combined with --resume: the run stays in {out}"
            )
    try:
        saved, begun = resume_point(out)
    except ResumeError as err:
        raise UsageError(f"--resume {out}: {err}") from None
    opts = {**run_options, **saved}
    for name in run_options:
        given = getattr(args, name)
        if given is None or name in may_change or given == opts.get(name):
            continue
        raise UsageError(
            f"{flag(name)} {_shown(given)} would change the run in {out}, which has "
            f"{flag(name)} {_shown(opts.get(name))}; --resume continues a run as it was "
            f"started and takes only {', '.join(map(flag, may_change))} and --quiet"
        )
    for name in may_change:
        if getattr(args, name) is not None:
            opts[name] = getattr(args, name)
    if opts["epochs"] < begun:
        raise UsageError(
            f"--epochs {opts['epochs']}: the run in {out} has already reached epoch {begun}; "
            f"--resume --epochs N continues it to N >= {begun} epochs"
        )
    return out, opts


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def cap_threads(threads):
    """More BLAS threads than cores only slows the book's small products down: warn and cap."""
    cores = os.cpu_count()
    if cores and threads > cores:
        print(
            f"layerwise: warning: --threads {threads} is more than the {cores} cores of this "
            f"machine; using {cores}",
            file=sys.stderr,
        )
        return cores
    return threads


def cap_workers(workers):
    """More worker processes than cores make every step wait for a shared core: warn and cap."""
    cores = available_cores()
    if workers != "auto" and workers > cores:
        print(
            f"layerwise: warning: --workers {workers} is more than the {cores} cores this "
            f"process may use; using {cores}",
            file=sys.stderr,
        )
        return cores
    return workers


# ---------------------------------------------------------------------- the run


def options(args, sequel=False):
    """``(folder, options)`` of the run: resumed, or new (folder None: a new one in runs/).

    ``sequel``: the run is of one of the sequel's models (:mod:`._sequel`'s options)."""
    if args.force and not args.out:
        raise UsageError("--force needs --out (the folder whose run it replaces)")
    if args.resume is not None and sequel:
        out, opts = resumed_options(
            args, _sequel.SEQUEL_RUN_OPTIONS, _sequel.SEQUEL_RESUME_MAY_CHANGE
        )
    elif args.resume is not None:
        out, opts = resumed_options(args)
    else:
        opts = _sequel.new_options(args) if sequel else new_options(args)
        out = None if args.out is None else Path(args.out)
        held = [] if out is None else runs_held(out)
        if held and not args.force:
            raise UsageError(
                f"--out {out} already holds a run ({', '.join(held)}); choose another --out, "
                f"replace that run with --force, or continue it with --resume {out}"
            )
    opts["threads"] = cap_threads(opts["threads"])
    if sequel:
        return out, opts
    opts["workers"] = cap_workers(opts["workers"])
    if opts["mpi"] and opts["workers"] != 1:
        raise UsageError(
            f"--mpi cannot be combined with --workers {opts['workers']}: under mpiexec each rank "
            "is one worker; run mpiexec -n N ... --mpi with --workers 1"
        )
    if opts["mpi"] and opts["device"] != "cpu":
        raise UsageError(
            f"--mpi cannot be combined with --device {opts['device']}: the ranks share each step "
            "on CPUs, a GPU computes the whole step; leave out one of them"
        )
    check_device(opts["device"], opts["workers"])
    return out, opts


def run(args):
    resuming = args.resume is not None
    sequel = _is_sequel(args)
    _sequel.check_options(args, sequel)
    out, opts = options(args, sequel)
    if sequel:
        return _sequel.train(args, out, opts, resuming)
    comm = world() if opts["mpi"] else None
    with Run(comm) as this:
        _train(this, args, out, opts, resuming)
    return this.exit_status


def _is_sequel(args):
    """Whether the run is of the sequel's models: ``--model`` names one, or ``--resume`` a run
    of one (a folder that holds no run is left to :func:`resumed_options` to refuse)."""
    if args.resume is None:
        return args.model in _sequel.SEQUEL_MODELS
    try:
        saved, _ = resume_point(Path(args.resume))
    except (ResumeError, ValueError, OSError):
        return False
    return saved.get("model") in _sequel.SEQUEL_MODELS


def _train(this, args, out, opts, resuming):
    """Train the run ``opts`` into ``out`` (a new folder in runs/ if None) as ``this`` run.

    Under MPI every rank trains; rank 0 alone writes the folder, prints and records.
    """
    ((x_train, t_train), (x_test, t_test)), source = load_dataset(opts["dataset"])
    network = build_network(opts, x_train.shape[1], int(max(t_train.max(), t_test.max())) + 1)
    x_train, x_test = as_images(x_train, network), as_images(x_test, network)
    first_filters = network.params["W1"].copy()  # as built from the seed: the run's start
    # Only now, so that a run refused above leaves nothing behind.
    if this.lead and out is None:
        out = new_run_folder(Path(RUNS_DIR))
    elif this.lead and not resuming:
        out = prepare_folder(out, replace=args.force)
    if this.comm is not None:
        out = this.comm.bcast(out, root=0)
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
        workers="mpi" if this.comm is not None else opts["workers"],
        start_method=args.start_method,
        device=opts["device"],
    )
    if resuming:
        trainer.load_checkpoint(out / CHECKPOINT, epochs=opts["epochs"])
        trainer.extra = {"options": opts}
    if this.lead:
        sizes = (len(x_train), len(x_test))
        record = read_run(out) if resuming else None
        if record is None:
            record = new_record(opts, network, trainer.optimizer, source, sizes, args.command_line)
        if this.comm is not None:
            record["mpi_ranks"] = this.comm.Get_size()
        if resuming:
            resume_record(record, opts)
            state = "already complete" if trainer.epoch == trainer.epochs else "resuming"
            print(f"{out}: {state} at iteration {trainer.iteration}/{trainer.max_iter}")
        else:
            named = opts["dataset"] in ("mnist", "fashion-mnist")
            folder = f" from {source['folder']}" if named else ""
            print(
                f"training {opts['model']} {network.summary().splitlines()[-1].split(': ')[1]} "
                f"on {opts['dataset']}{folder} ({sizes[0]} train / {sizes[1]} test) -> {out}"
            )
        this.begin(trainer, out, record, first_filters)
    else:
        this.begin(trainer, out)
    trainer.train()
