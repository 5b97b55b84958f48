# mypy: disable-error-code="override"
# (each network's plan takes its own arguments, as its constructor does)
"""The book's networks, with its signatures, layer names and parameter keys.

========================  =====================================================  ==========
class                     layers                                                 the book
========================  =====================================================  ==========
:class:`TwoLayerNet`      ``Affine1 Relu1 Affine2`` + SoftmaxWithLoss             chapter 5
:class:`MultiLayerNet`    ``Affine1 Activation_function1 ... Affine{L}``         chapter 6
:class:`MultiLayerNetExtend`  as MultiLayerNet, with ``BatchNorm{i}`` after each  chapter 6
                          hidden Affine and ``Dropout{i}`` after each activation
:class:`SimpleConvNet`    ``Conv1 Relu1 Pool1 Affine1 Relu2 Affine2``            chapter 7
:class:`DeepConvNet`      six 3x3 convolutions, three pools, two Affine layers   chapter 8
========================  =====================================================  ==========

Each declares its layers once, in its classmethod ``plan(**arguments)`` (a
:class:`~layerwise.plans.NetworkPlan`: names, classes, configs and shapes, nothing allocated);
its constructor builds them and model files check a file against the plan
(:mod:`layerwise.plans`). Each is a :class:`~layerwise.network.Sequential`, so everything a
Sequential does (training mode, ``state_dict``, save and load, the Trainer) works the same.
Weights are drawn from a seeded ``numpy.random.Generator`` in float64 and then cast, so one seed
gives the same network in float32 and float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._checks import InvalidParameterError, check_flag, check_number
from .book_weights import BookParams
from .layers import ACTIVATIONS, Relu
from .network import PlannedNetwork
from .plans import (
    LayerPlan,
    NetworkPlan,
    affine,
    batchnorm,
    check_conv_param,
    check_dtype,
    check_input_dim,
    check_size,
    conv_side,
    convolution,
    dropout,
    pooled_side,
    pooling,
    register_network,
)

__all__ = [
    "DeepConvNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "SimpleConvNet",
    "TwoLayerNet",
]


class _BookNet(BookParams, PlannedNetwork):
    """A network of the book: its plan, its signature, its ``save_params`` and ``load_params``
    (:class:`~layerwise.book_weights.BookParams`)."""


@register_network
class TwoLayerNet(_BookNet):
    """The book's chapter-5 network: Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    weight_init_std : float, default 0.01
        Weights are drawn from ``N(0, weight_init_std**2)``; biases start at 0.
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
        Seed of the ``numpy.random.Generator`` that draws the weights.

    Examples
    --------
    >>> import numpy as np
    >>> net = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=0)
    >>> {key: a.shape for key, a in net.params.items()}
    {'W1': (784, 50), 'b1': (50,), 'W2': (50, 10), 'b2': (10,)}
    >>> x = np.random.default_rng(0).random((3, 784))
    >>> net.predict(x).shape
    (3, 10)
    >>> grads = net.gradient(x, np.array([3, 1, 4]))
    >>> list(grads) == list(net.params)
    True
    """

    #: The book's ``weight_init_std``.
    WEIGHT_INIT_STD = 0.01

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = WEIGHT_INIT_STD,
        *,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        plan = self.plan(
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            weight_init_std=weight_init_std,
            dtype=dtype,
        )
        super().__init__(plan, seed)

    @classmethod
    def plan(
        cls,
        *,
        input_size: Any,
        hidden_size: Any,
        output_size: Any,
        weight_init_std: Any,
        dtype: Any,
    ) -> NetworkPlan:
        """``Affine1 Relu1 Affine2``: the layers of the arguments, checked; nothing allocated."""
        owner = cls.__name__
        dtype = check_dtype(dtype, owner)
        sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
        i, h, o = (check_size(value, owner, name) for name, value in sizes.items())
        std = check_number(weight_init_std, owner, "weight_init_std", low=0)
        arguments = {
            "input_size": i,
            "hidden_size": h,
            "output_size": o,
            "weight_init_std": std,
            "dtype": dtype.name,
        }
        layers = [
            affine("Affine1", i, h, std, dtype, owner),
            LayerPlan("Relu1", Relu),
            affine("Affine2", h, o, std, dtype, owner),
        ]
        return NetworkPlan(cls, arguments, layers, input_shape=(i,))


def _check_hidden(hidden_size_list, owner):
    if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
        raise InvalidParameterError(
            f"{owner}: hidden_size_list must be a list of sizes such as [100, 100], "
            f"got {hidden_size_list!r}"
        )
    return [check_size(n, owner, "hidden_size_list entries") for n in hidden_size_list]


def _check_activation(activation, owner):
    """The activation class registered under ``activation`` (see :data:`layers.ACTIVATIONS`)."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise InvalidParameterError(
            f"{owner}: activation must be one of {', '.join(map(repr, sorted(ACTIVATIONS)))}, "
            f"got {activation!r}"
        )
    return ACTIVATIONS[activation]


@register_network
class MultiLayerNet(_BookNet):
    """The book's chapter-6 fully connected network with weight decay.

    ``Affine1 -> Activation_function1 -> ... -> Affine{L} -> SoftmaxWithLoss``, parameter keys
    ``W1 b1 W2 b2 ...``, as in the book's ``multi_layer_net.py``.

    Parameters
    ----------
    input_size : int
    hidden_size_list : list of int
        Sizes of the hidden layers, e.g. ``[100, 100, 100]``.
    output_size : int
    activation : str, default 'relu'
        A name in :data:`layerwise.layers.ACTIVATIONS`: ``'relu'``, ``'sigmoid'`` or that of an
        activation registered with :func:`~layerwise.layers.register_layer`.
    weight_init_std : str or float, default 'relu'
        ``'relu'``/``'he'``: std ``sqrt(2 / fan_in)``; ``'sigmoid'``/``'xavier'``:
        ``sqrt(1 / fan_in)``; another activation's name: ``sqrt(init_gain / fan_in)`` with the
        gain its class declares; a number: that std.
    weight_decay_lambda : float, default 0
        L2 weight decay on every ``W`` (see :class:`~layerwise.network.Sequential`).
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
        Seeds the weights (and, in :class:`MultiLayerNetExtend`, every Dropout's generator).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        *,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        plan = self.plan(
            input_size=input_size,
            hidden_size_list=hidden_size_list,
            output_size=output_size,
            activation=activation,
            weight_init_std=weight_init_std,
            weight_decay_lambda=weight_decay_lambda,
            dtype=dtype,
        )
        super().__init__(plan, seed)

    # The book's attributes, read from the description.
    @property
    def input_size(self) -> int:
        return self._config["input_size"]

    @property
    def output_size(self) -> int:
        return self._config["output_size"]

    @property
    def hidden_size_list(self) -> list[int]:
        return self._config["hidden_size_list"]

    @property
    def hidden_layer_num(self) -> int:
        return len(self._config["hidden_size_list"])

    @classmethod
    def plan(
        cls,
        *,
        input_size: Any,
        hidden_size_list: Any,
        output_size: Any,
        activation: Any,
        weight_init_std: Any,
        weight_decay_lambda: Any,
        dtype: Any,
        **options: Any,
    ) -> NetworkPlan:
        """The hidden blocks (:meth:`_hidden_block`) and ``Affine{L}``, nothing allocated."""
        owner = cls.__name__
        dtype = check_dtype(dtype, owner)
        activation_class = _check_activation(activation, owner)
        sizes = [
            check_size(input_size, owner, "input_size"),
            *_check_hidden(hidden_size_list, owner),
            check_size(output_size, owner, "output_size"),
        ]
        decay = check_number(weight_decay_lambda, owner, "weight_decay_lambda", low=0)
        options = cls._options(owner, **options)
        affines = [
            affine(f"Affine{i}", fan_in, fan_out, weight_init_std, dtype, owner)
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1)
        ]
        layers = []
        for i, layer in enumerate(affines[:-1], 1):
            layers += cls._hidden_block(i, layer, activation_class, options)
        arguments = {
            "input_size": sizes[0],
            "hidden_size_list": sizes[1:-1],
            "output_size": sizes[-1],
            "activation": activation,
            "weight_init_std": weight_init_std,
            "weight_decay_lambda": decay,
            **options,
            "dtype": dtype.name,
        }
        return NetworkPlan(
            cls,
            arguments,
            [*layers, affines[-1]],
            input_shape=(sizes[0],),
            weight_decay_lambda=decay,
        )

    @staticmethod
    def _options(owner: str) -> dict[str, Any]:
        """The checked arguments a subclass adds (none here)."""
        return {}

    @staticmethod
    def _hidden_block(
        i: int, layer: LayerPlan, activation: type, options: Mapping[str, Any]
    ) -> list[LayerPlan]:
        """The layers of hidden block ``i``: ``Affine{i}``, ``Activation_function{i}``."""
        return [layer, LayerPlan(f"Activation_function{i}", activation)]


@register_network
class MultiLayerNetExtend(MultiLayerNet):
    """The book's chapter-6 fully connected network with weight decay, Dropout and BatchNorm.

    A :class:`MultiLayerNet` whose hidden block ``i`` is ``Affine{i}``, then ``BatchNorm{i}``
    (when ``use_batchnorm``), ``Activation_function{i}``, ``Dropout{i}`` (when ``use_dropout``);
    then ``Affine{L}`` and SoftmaxWithLoss. Parameter keys are the book's
    (``multi_layer_net_extend.py``): ``W1 b1 gamma1 beta1 W2 b2 ...``.

    Parameters
    ----------
    input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda
        As for :class:`MultiLayerNet`.
    use_dropout : bool, default False
    dropout_ration : float, default 0.5
        The dropout ratio (the book's spelling of the argument).
    use_batchnorm : bool, default False
        ``gamma`` starts at 1 and ``beta`` at 0, as in the book.
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
        Seeds the weights and, through them, every Dropout layer's generator.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        *,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        plan = self.plan(
            input_size=input_size,
            hidden_size_list=hidden_size_list,
            output_size=output_size,
            activation=activation,
            weight_init_std=weight_init_std,
            weight_decay_lambda=weight_decay_lambda,
            use_dropout=use_dropout,
            dropout_ration=dropout_ration,
            use_batchnorm=use_batchnorm,
            dtype=dtype,
        )
        _BookNet.__init__(self, plan, seed)  # MultiLayerNet's constructor takes fewer arguments

    @property
    def use_dropout(self) -> bool:
        return self._config["use_dropout"]

    @property
    def use_batchnorm(self) -> bool:
        return self._config["use_batchnorm"]

    @staticmethod
    def _options(  # the arguments this class adds
        owner: str, *, use_dropout: Any, dropout_ration: Any, use_batchnorm: Any
    ) -> dict[str, Any]:
        use_dropout = check_flag(use_dropout, owner, "use_dropout")
        if use_dropout:
            dropout_ration = check_number(
                dropout_ration, owner, "dropout_ration", low=0, high=1, high_open=True
            )
        return {
            "use_dropout": use_dropout,
            "dropout_ration": float(dropout_ration),
            "use_batchnorm": check_flag(use_batchnorm, owner, "use_batchnorm"),
        }

    @staticmethod
    def _hidden_block(
        i: int, layer: LayerPlan, activation: type, options: Mapping[str, Any]
    ) -> list[LayerPlan]:
        block = [layer]
        if options["use_batchnorm"]:
            block.append(batchnorm(f"BatchNorm{i}", layer.shapes["W"][1], layer.dtype))
        block.append(LayerPlan(f"Activation_function{i}", activation))
        if options["use_dropout"]:
            block.append(dropout(f"Dropout{i}", options["dropout_ration"]))
        return block


# ---------------------------------------------------------------------- chapters 7 and 8


@register_network
class SimpleConvNet(_BookNet):
    """The book's chapter-7 network: ``Conv1 Relu1 Pool1 Affine1 Relu2 Affine2`` + SoftmaxWithLoss.

    Parameters
    ----------
    input_dim : (C, H, W), default (1, 28, 28)
    conv_param : dict, default {'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1}
    hidden_size : int, default 100
    output_size : int, default 10
    weight_init_std : float, default 0.01
        Every weight is drawn from ``N(0, weight_init_std**2)``, as in the book.
    use_batchnorm : bool, keyword-only, default False
        Not in the book: a per-channel BatchNormalization (``BatchNorm1``) between ``Conv1`` and
        ``Relu1``, with parameters ``gamma1 beta1``.
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only

    Notes
    -----
    Parameter keys ``W1 b1`` (the convolution, W of shape (FN, C, FH, FW)), ``W2 b2``, ``W3 b3``.
    Any image size and shape works, and any stride: the sizes are computed per side and floored
    as PyTorch does (a 25x25 convolution output pools to 12x12), where the book's code assumes
    square images and mis-sizes ``W2`` for an odd convolution output (for 12.5 x 12.5).
    """

    #: The book's ``weight_init_std``.
    WEIGHT_INIT_STD = 0.01

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param: dict[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = WEIGHT_INIT_STD,
        *,
        use_batchnorm: bool = False,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        plan = self.plan(
            input_dim=input_dim,
            conv_param=conv_param,
            hidden_size=hidden_size,
            output_size=output_size,
            weight_init_std=weight_init_std,
            use_batchnorm=use_batchnorm,
            dtype=dtype,
        )
        super().__init__(plan, seed)

    @classmethod
    def plan(
        cls,
        *,
        input_dim: Any,
        conv_param: Any,
        hidden_size: Any,
        output_size: Any,
        weight_init_std: Any,
        use_batchnorm: Any,
        dtype: Any,
    ) -> NetworkPlan:
        """``Conv1 [BatchNorm1] Relu1 Pool1 Affine1 Relu2 Affine2``, nothing allocated."""
        owner = cls.__name__
        dtype = check_dtype(dtype, owner)
        input_dim = check_input_dim(input_dim, owner)
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        conv = check_conv_param(conv_param, owner, "conv_param")
        hidden_size = check_size(hidden_size, owner, "hidden_size")
        output_size = check_size(output_size, owner, "output_size")
        std = check_number(weight_init_std, owner, "weight_init_std", low=0)
        fn, fs = conv["filter_num"], conv["filter_size"]
        sides = [
            conv_side(side, fs, conv["stride"], conv["pad"], owner, "conv_param")
            for side in input_dim[1:]
        ]
        what = f"the 2x2 pool after the {sides[0]}x{sides[1]} convolution output"
        pooled = fn * pooled_side(sides[0], owner, what) * pooled_side(sides[1], owner, what)
        layers = [convolution("Conv1", input_dim[0], conv, std, dtype, owner)]
        if use_batchnorm:
            layers.append(batchnorm("BatchNorm1", fn, dtype))
        layers += [
            LayerPlan("Relu1", Relu),
            pooling("Pool1"),
            affine("Affine1", pooled, hidden_size, std, dtype, owner),
            LayerPlan("Relu2", Relu),
            affine("Affine2", hidden_size, output_size, std, dtype, owner),
        ]
        arguments = {
            "input_dim": list(input_dim),
            "conv_param": conv,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "weight_init_std": std,
            "use_batchnorm": check_flag(use_batchnorm, owner, "use_batchnorm"),
            "dtype": dtype.name,
        }
        return NetworkPlan(cls, arguments, layers, input_shape=input_dim)


_DEEP_DEFAULTS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


@register_network
class DeepConvNet(_BookNet):
    """The book's chapter-8 network: six 3x3 convolutions, three pools, two Affine layers.

    ``Conv1 Relu1 Conv2 Relu2 Pool1 Conv3 Relu3 Conv4 Relu4 Pool2 Conv5 Relu5 Conv6 Relu6 Pool3
    Affine1 Relu7 Dropout1 Affine2 Dropout2`` + SoftmaxWithLoss; parameter keys ``W1``..``W8``,
    ``b1``..``b8``, He initialisation (``std = sqrt(2 / fan_in)``), Dropout ratio 0.5, as in
    the book's ``deep_convnet.py``.

    Parameters
    ----------
    input_dim : (C, H, W), default (1, 28, 28)
    conv_param_1, ..., conv_param_6 : dict, optional
        ``{'filter_num', 'filter_size', 'pad', 'stride'}``; the book's defaults: 16, 16, 32, 32,
        64, 64 filters of 3x3, pad 1 except ``conv_param_4`` (pad 2), stride 1.
    hidden_size : int, default 50
    output_size : int, default 10
    use_batchnorm : bool, keyword-only, default False
        Not in the book: a per-channel BatchNormalization (``BatchNorm1``..``BatchNorm6``)
        between each convolution and its ReLU, with parameters ``gamma1 beta1`` ...
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
        Seeds the weights and, through them, both Dropout layers' generators.

    Notes
    -----
    Where the book's code differs: its ``loss`` always runs Dropout in training mode, even when
    called to evaluate; here ``loss`` follows the network's mode (or ``train_flg``), and
    ``predict`` and ``accuracy`` infer unless told. The book's ``accuracy``
    drops the remainder of the last batch and still divides by N; here every sample counts.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param_1: dict[str, int] | None = None,
        conv_param_2: dict[str, int] | None = None,
        conv_param_3: dict[str, int] | None = None,
        conv_param_4: dict[str, int] | None = None,
        conv_param_5: dict[str, int] | None = None,
        conv_param_6: dict[str, int] | None = None,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        use_batchnorm: bool = False,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        convs = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        plan = self.plan(
            input_dim=input_dim,
            **{f"conv_param_{i}": conv for i, conv in enumerate(convs, 1)},
            hidden_size=hidden_size,
            output_size=output_size,
            use_batchnorm=use_batchnorm,
            dtype=dtype,
        )
        super().__init__(plan, seed)

    @classmethod
    def plan(
        cls,
        *,
        input_dim: Any,
        conv_param_1: Any,
        conv_param_2: Any,
        conv_param_3: Any,
        conv_param_4: Any,
        conv_param_5: Any,
        conv_param_6: Any,
        hidden_size: Any,
        output_size: Any,
        use_batchnorm: Any,
        dtype: Any,
    ) -> NetworkPlan:
        """Six convolutions (He init) with ReLU, a pool after every second, two Affine layers
        and two Dropouts; nothing allocated."""
        owner = cls.__name__
        dtype = check_dtype(dtype, owner)
        input_dim = check_input_dim(input_dim, owner)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        convs = [
            check_conv_param(dict(default) if p is None else p, owner, f"conv_param_{i}")
            for i, (p, default) in enumerate(zip(given, _DEEP_DEFAULTS, strict=True), 1)
        ]
        hidden_size = check_size(hidden_size, owner, "hidden_size")
        output_size = check_size(output_size, owner, "output_size")
        layers = []
        channels, h, w = input_dim
        for i, conv in enumerate(convs, 1):
            fs, what = conv["filter_size"], f"conv_param_{i}"
            h = conv_side(h, fs, conv["stride"], conv["pad"], owner, what)
            w = conv_side(w, fs, conv["stride"], conv["pad"], owner, what)
            layers.append(convolution(f"Conv{i}", channels, conv, "he", dtype, owner))
            if use_batchnorm:
                layers.append(batchnorm(f"BatchNorm{i}", conv["filter_num"], dtype))
            layers.append(LayerPlan(f"Relu{i}", Relu))
            channels = conv["filter_num"]
            if i % 2 == 0:
                what = f"Pool{i // 2} (2x2, stride 2) on {h}x{w} images"
                h, w = pooled_side(h, owner, what), pooled_side(w, owner, what)
                layers.append(pooling(f"Pool{i // 2}"))
        flat = channels * h * w
        layers += [
            affine("Affine1", flat, hidden_size, "he", dtype, owner),
            LayerPlan("Relu7", Relu),
            dropout("Dropout1", 0.5),
            affine("Affine2", hidden_size, output_size, "he", dtype, owner),
            dropout("Dropout2", 0.5),
        ]
        arguments = {
            "input_dim": list(input_dim),
            **{f"conv_param_{i}": conv for i, conv in enumerate(convs, 1)},
            "hidden_size": hidden_size,
            "output_size": output_size,
            "use_batchnorm": check_flag(use_batchnorm, owner, "use_batchnorm"),
            "dtype": dtype.name,
        }
        return NetworkPlan(cls, arguments, layers, input_shape=input_dim)
