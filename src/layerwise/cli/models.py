"""The networks of ``--model``: the book's network of each chapter, built from the options."""

from __future__ import annotations

import argparse
import inspect

import numpy as np

from ..book_nets import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    TwoLayerNet,
)
from ..layers.base import init_gains
from ._common import UsageError, positive_float

#: Training defaults per model: the book's settings for each chapter's network.
MODEL_DEFAULTS = {
    "two-layer": {"optimizer": "sgd", "lr": 0.1, "hidden": [50]},
    "mlp": {"optimizer": "sgd", "lr": 0.1, "hidden": [100, 100]},
    "convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [100]},
    "deep-convnet": {"optimizer": "adam", "lr": 0.001, "hidden": [50]},
}
CONV_MODELS = ("convnet", "deep-convnet")


def init_names():
    """The initialisations MultiLayerNet knows by name: he, xavier and each activation's."""
    return sorted(init_gains())


def own_std(net_class):
    """The ``weight_init_std`` a book network takes when none is given (0.01 in the book)."""
    return inspect.signature(net_class).parameters["weight_init_std"].default


def weight_init_std(text):
    """An argparse type: a standard deviation > 0, or the name of MultiLayerNet's init."""
    if text.lower() in init_names():
        return text.lower()
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a number > 0 or one of {', '.join(init_names())}, got {text!r}"
        ) from None


def build_network(opts, input_size, output_size):
    """The network of ``opts["model"]``, or a UsageError naming an option it does not take."""
    dtype = np.dtype(opts["dtype"])
    if opts["model"] in CONV_MODELS:
        return _build_conv_network(opts, input_size, output_size, dtype)
    if opts["model"] == "two-layer":
        if len(opts["hidden"]) != 1:
            raise UsageError("--model two-layer takes one --hidden size (use --model mlp)")
        if opts["weight_decay"]:
            raise UsageError("--weight-decay needs --model mlp (the book's TwoLayerNet has none)")
        if opts["activation"] != "relu":
            raise UsageError("--activation needs --model mlp (the book's TwoLayerNet uses ReLU)")
        if opts["batchnorm"]:
            raise UsageError("--batchnorm needs --model mlp, convnet or deep-convnet")
        if opts["dropout"]:
            raise UsageError("--dropout needs --model mlp (the book's TwoLayerNet has none)")
        return TwoLayerNet(
            input_size,
            opts["hidden"][0],
            output_size,
            **_fixed_std(opts),
            dtype=dtype,
            seed=opts["seed"],
        )
    common = dict(
        activation=opts["activation"],
        weight_init_std=opts["weight_init_std"] or opts["activation"],
        weight_decay_lambda=opts["weight_decay"],
        dtype=dtype,
        seed=opts["seed"],
    )
    if not (opts["batchnorm"] or opts["dropout"]):
        return MultiLayerNet(input_size, opts["hidden"], output_size, **common)
    return MultiLayerNetExtend(
        input_size,
        opts["hidden"],
        output_size,
        use_dropout=bool(opts["dropout"]),
        dropout_ration=opts["dropout"] or 0.5,
        use_batchnorm=bool(opts["batchnorm"]),
        **common,
    )


def _fixed_std(opts):
    """``--weight-init-std`` for a network of one fixed std: given, or the network's own."""
    std = opts["weight_init_std"]
    if isinstance(std, str):
        raise UsageError(
            f"--weight-init-std {std} needs --model mlp; the book's {opts['model']} network "
            "takes a number"
        )
    return {} if std is None else {"weight_init_std": std}


def _build_conv_network(opts, input_size, output_size, dtype):
    model = opts["model"]
    mlp_only = {
        "--activation": opts["activation"] != "relu",  # the book's conv nets use ReLU
        "--weight-decay": opts["weight_decay"],
        "--dropout": opts["dropout"],
    }
    for option, given in mlp_only.items():
        if given:
            raise UsageError(f"{option} does not apply to --model {model} (the book's network)")
    if len(opts["hidden"]) != 1:
        raise UsageError(f"--model {model} takes one --hidden size (its Affine layer)")
    side = int(round(np.sqrt(input_size)))
    if side * side != input_size:
        raise UsageError(f"--model {model} needs square images; these have {input_size} pixels")
    common = {
        "input_dim": (1, side, side),
        "hidden_size": opts["hidden"][0],
        "output_size": output_size,
        "use_batchnorm": bool(opts["batchnorm"]),  # between each convolution and its ReLU
        "dtype": dtype,
        "seed": opts["seed"],
    }
    if model == "deep-convnet":
        if opts["weight_init_std"] is not None:
            raise UsageError("--weight-init-std does not apply to --model deep-convnet (He init)")
        return DeepConvNet(**common)
    return SimpleConvNet(**_fixed_std(opts), **common)
