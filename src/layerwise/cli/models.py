"""The networks of ``--model``: each read from the registry of networks (:data:`plans.MODELS`).

Each entry (:class:`~layerwise.plans.ModelEntry`) carries its ``--model`` name, the options of
``train`` it reads, the book's training settings and its builder; this module declares the
book's four and reads them, and those a user registers, the same way: a network registered
with ``register_network(cls, model=ModelEntry(...))`` is offered by ``layerwise train --model``
and checked by ``layerwise gradcheck``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import InvalidParameterError
from ..book_nets import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    TwoLayerNet,
)
from ..layers.base import init_gains
from ..plans import MODELS, ModelEntry, register_network
from ._common import UsageError, flag, positive_float

#: The options of ``train`` that shape the network, with the value that means "not given":
#: each is read only by the models whose entry names it.
NETWORK_OPTIONS = {
    "hidden": None,
    "activation": "relu",
    "weight_decay": 0.0,
    "weight_init_std": None,
    "batchnorm": False,
    "dropout": 0.0,
}


class _Defaults(Mapping):
    """``MODEL_DEFAULTS``: the training defaults of each registered model, read when asked."""

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return MODELS[name].defaults

    def __iter__(self) -> Iterator[str]:
        return iter(list(MODELS))

    def __len__(self) -> int:
        return len(MODELS)


class _ImageModels(Sequence):
    """``CONV_MODELS``: the registered models that see images as (N, C, H, W)."""

    def _names(self):
        return [name for name, entry in MODELS.items() if entry.images]

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())


#: Training defaults per model (the book's settings for each chapter's network): a live view
#: of the registry, so a model registered later is in it.
MODEL_DEFAULTS: Mapping[str, Mapping[str, Any]] = _Defaults()
CONV_MODELS: Sequence[str] = _ImageModels()


def init_names():
    """The initialisations MultiLayerNet knows by name: he, xavier and each activation's."""
    return sorted(init_gains())


def own_std(net_class):
    """The ``weight_init_std`` a book network takes when none is given (0.01 in the book)."""
    return net_class.WEIGHT_INIT_STD


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
    entry = MODELS[opts["model"]]
    for name, not_given in NETWORK_OPTIONS.items():
        if name not in entry.options and opts.get(name) not in (None, not_given):
            takers = [model for model, e in MODELS.items() if name in e.options]
            needs = " or ".join([", ".join(takers[:-1]), takers[-1]] if takers[1:] else takers)
            raise UsageError(
                f"{flag(name)} does not apply to --model {entry.name} ({entry.summary})"
                + (f"; {flag(name)} needs --model {needs}" if takers else "")
            )
    try:
        return entry.build(opts, input_size, output_size)
    except InvalidParameterError as err:
        raise UsageError(str(err)) from None


# ---------------------------------------------------------------------- the book's four


def _one_hidden(opts, model, why):
    if len(opts["hidden"]) != 1:
        raise InvalidParameterError(f"--model {model} takes one --hidden size ({why})")
    return opts["hidden"][0]


def _fixed_std(opts, model):
    """``--weight-init-std`` for a network of one fixed std: given, or the network's own."""
    std = opts["weight_init_std"]
    if isinstance(std, str):
        raise InvalidParameterError(
            f"--weight-init-std {std} needs --model mlp; the book's {model} network takes a number"
        )
    return {} if std is None else {"weight_init_std": std}


def _square(input_size, model):
    """(1, side, side) for images of ``input_size`` pixels."""
    side = int(round(np.sqrt(input_size)))
    if side * side != input_size:
        raise InvalidParameterError(
            f"--model {model} needs square images; these have {input_size} pixels"
        )
    return (1, side, side)


def _two_layer(opts, input_size, classes):
    hidden = _one_hidden(opts, "two-layer", "use --model mlp")
    std = _fixed_std(opts, "two-layer")
    return TwoLayerNet(input_size, hidden, classes, **std, dtype=opts["dtype"], seed=opts["seed"])


def _mlp(opts, input_size, classes):
    common = dict(
        activation=opts["activation"],
        weight_init_std=opts["weight_init_std"] or opts["activation"],
        weight_decay_lambda=opts["weight_decay"],
        dtype=opts["dtype"],
        seed=opts["seed"],
    )
    if not (opts["batchnorm"] or opts["dropout"]):
        return MultiLayerNet(input_size, opts["hidden"], classes, **common)
    return MultiLayerNetExtend(
        input_size,
        opts["hidden"],
        classes,
        use_dropout=bool(opts["dropout"]),
        dropout_ration=opts["dropout"] or 0.5,
        use_batchnorm=bool(opts["batchnorm"]),
        **common,
    )


def _conv_options(opts, input_size, classes, model):
    return {
        "input_dim": _square(input_size, model),
        "hidden_size": _one_hidden(opts, model, "its Affine layer"),
        "output_size": classes,
        "use_batchnorm": bool(opts["batchnorm"]),  # between each convolution and its ReLU
        "dtype": opts["dtype"],
        "seed": opts["seed"],
    }


def _convnet(opts, input_size, classes):
    std = _fixed_std(opts, "convnet")
    return SimpleConvNet(**std, **_conv_options(opts, input_size, classes, "convnet"))


def _deep_convnet(opts, input_size, classes):
    return DeepConvNet(**_conv_options(opts, input_size, classes, "deep-convnet"))


#: A small convolution for the conv nets' gradient checks: 3x3 filters keep every position used.
_SMALL_CONV = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}
_SMALL = ", ".join(f"{k}={v}" for k, v in _SMALL_CONV.items())


def _small_deep_convnet(seed):
    convs = {f"conv_param_{i}": dict(_SMALL_CONV) for i in range(1, 7)}
    net = DeepConvNet((1, 8, 8), **convs, hidden_size=6, output_size=4, seed=seed)
    return {f"DeepConvNet((1, 8, 8), 6 x {{{_SMALL}}}, 6, 4)": net}


register_network(
    TwoLayerNet,
    model=ModelEntry(
        "two-layer",
        "TwoLayerNet, chapter 5",
        _two_layer,
        options=("hidden", "weight_init_std"),
        defaults={"optimizer": "sgd", "lr": 0.1, "hidden": [50]},
        examples=lambda seed: {
            "TwoLayerNet(20, 10, 4)": TwoLayerNet(20, 10, 4, 0.5, seed=seed),
        },
    ),
)
register_network(
    MultiLayerNet,
    model=ModelEntry(
        "mlp",
        "MultiLayerNet, or MultiLayerNetExtend with --batchnorm or --dropout, chapter 6",
        _mlp,
        options=tuple(NETWORK_OPTIONS),
        defaults={"optimizer": "sgd", "lr": 0.1, "hidden": [100, 100]},
        examples=lambda seed: {
            "MultiLayerNet(20, [10, 8], 4, weight_decay_lambda=0.1)": MultiLayerNet(
                20, [10, 8], 4, weight_decay_lambda=0.1, seed=seed
            ),
            "MultiLayerNetExtend(20, [10, 8], 4, weight_decay_lambda=0.1, use_dropout=True, "
            "use_batchnorm=True)": MultiLayerNetExtend(
                20,
                [10, 8],
                4,
                weight_decay_lambda=0.1,
                use_dropout=True,
                dropout_ration=0.2,
                use_batchnorm=True,
                seed=seed,
            ),
        },
    ),
)
register_network(
    SimpleConvNet,
    model=ModelEntry(
        "convnet",
        "SimpleConvNet, chapter 7",
        _convnet,
        options=("hidden", "weight_init_std", "batchnorm"),
        defaults={"optimizer": "adam", "lr": 0.001, "hidden": [100]},
        examples=lambda seed: {
            f"SimpleConvNet((1, 8, 8), {{{_SMALL}}}, 6, 4, use_batchnorm=True)": SimpleConvNet(
                (1, 8, 8), dict(_SMALL_CONV), 6, 4, 0.3, use_batchnorm=True, seed=seed
            ),
        },
        images=True,
    ),
)
register_network(
    DeepConvNet,
    model=ModelEntry(
        "deep-convnet",
        "DeepConvNet, chapter 8: He init, ReLU, Dropout 0.5",
        _deep_convnet,
        options=("hidden", "batchnorm"),
        defaults={"optimizer": "adam", "lr": 0.001, "hidden": [50]},
        examples=_small_deep_convnet,
        images=True,
    ),
)
