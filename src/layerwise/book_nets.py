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

Each is a :class:`~layerwise.network.Sequential` built by its constructor, so everything a
Sequential does (training mode, ``state_dict``, save and load, the Trainer) works the same.
Weights are drawn from a seeded ``numpy.random.Generator`` in float64 and then cast, so one seed
gives the same network in float32 and float64.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ._checks import InvalidParameterError, check_number
from .book_weights import BookParams
from .layers import ACTIVATIONS, Affine, BatchNormalization, Convolution, Dropout, Pooling, Relu
from .layers.base import init_scale
from .network import Sequential
from .util import conv_output_size

T = TypeVar("T", bound=type)

__all__ = [
    "NETWORKS",
    "DeepConvNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "SimpleConvNet",
    "TwoLayerNet",
    "register_network",
]

#: Network classes by name, for rebuilding networks from model files.
NETWORKS: dict[str, type] = {"Sequential": Sequential}


def register_network(cls: T) -> T:
    """Class decorator: make a network class known to model files under its class name.

    The class's ``get_config()`` must return ``{"class": name, **constructor arguments}``.
    """
    NETWORKS[cls.__name__] = cls
    return cls


# ---------------------------------------------------------------------- initial arrays


def normal(rng, shape, std, dtype):
    """``std * N(0, 1)`` draws of ``shape``, drawn in float64 and cast to ``dtype``."""
    return (std * rng.standard_normal(shape)).astype(dtype)


# ---------------------------------------------------------------------- argument checks


def check_size(value, owner, name):
    """A layer size: a whole number >= 1."""
    return check_number(value, owner, name, low=1, integer=True)


def check_dtype(dtype, owner):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise InvalidParameterError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _affine(rng, fan_in, fan_out, scale, dtype):
    return Affine(normal(rng, (fan_in, fan_out), scale, dtype), np.zeros(fan_out, dtype))


def _convolution(rng, channels, conv, scale, dtype):
    """A Convolution of ``conv`` (a checked conv_param) over ``channels``: N(0, scale**2), b 0."""
    fn, fs = conv["filter_num"], conv["filter_size"]
    W = normal(rng, (fn, channels, fs, fs), scale, dtype)
    return Convolution(W, np.zeros(fn, dtype), conv["stride"], conv["pad"])


def _batchnorm(n, dtype):
    """BatchNormalization over n features or channels: gamma 1, beta 0, running mean 0, var 1."""
    return BatchNormalization(
        np.ones(n, dtype),
        np.zeros(n, dtype),
        running_mean=np.zeros(n, dtype),
        running_var=np.ones(n, dtype),
    )


# ---------------------------------------------------------------------- networks


class _BookNet(BookParams, Sequential):
    """A network built by a constructor with the book's signature, with its ``save_params`` and
    ``load_params`` (:class:`~layerwise.book_weights.BookParams`).

    The constructor records its checked arguments in ``self._config``: that is the network's
    description, from which ``type(net)(**args)`` rebuilds it (see :func:`register_network`).
    """

    _config: dict[str, Any]

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)


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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        owner = "TwoLayerNet"
        dtype = check_dtype(dtype, owner)
        input_size = check_size(input_size, owner, "input_size")
        hidden_size = check_size(hidden_size, owner, "hidden_size")
        output_size = check_size(output_size, owner, "output_size")
        weight_init_std = check_number(weight_init_std, owner, "weight_init_std", low=0)
        rng = np.random.default_rng(seed)
        self.input_shape = (input_size,)
        self._config = {
            "class": owner,
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "weight_init_std": weight_init_std,
            "dtype": dtype.name,
        }
        layers = OrderedDict()
        layers["Affine1"] = _affine(rng, input_size, hidden_size, weight_init_std, dtype)
        layers["Relu1"] = Relu()
        layers["Affine2"] = _affine(rng, hidden_size, output_size, weight_init_std, dtype)
        super().__init__(layers)


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
        owner = type(self).__name__
        dtype = check_dtype(dtype, owner)
        activation_class = _check_activation(activation, owner)
        sizes = [
            check_size(input_size, owner, "input_size"),
            *_check_hidden(hidden_size_list, owner),
            check_size(output_size, owner, "output_size"),
        ]
        weight_decay_lambda = check_number(weight_decay_lambda, owner, "weight_decay_lambda", low=0)
        rng = np.random.default_rng(seed)
        affines = [
            _affine(rng, fan_in, fan_out, init_scale(weight_init_std, fan_in, owner), dtype)
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        layers = OrderedDict()
        for i, affine in enumerate(affines[:-1], 1):
            layers.update(self._hidden_block(i, affine, activation_class(), rng))
        layers[f"Affine{len(affines)}"] = affines[-1]
        self.input_size, self.output_size = sizes[0], sizes[-1]
        self.input_shape = (sizes[0],)
        self.hidden_size_list = sizes[1:-1]
        self.hidden_layer_num = len(self.hidden_size_list)
        self._config = {
            "class": owner,
            "input_size": sizes[0],
            "hidden_size_list": self.hidden_size_list,
            "output_size": sizes[-1],
            "activation": activation,
            "weight_init_std": weight_init_std,
            "weight_decay_lambda": weight_decay_lambda,
            **self._options(),
            "dtype": dtype.name,
        }
        super().__init__(layers, weight_decay_lambda=weight_decay_lambda)

    def _options(self) -> dict[str, Any]:
        """The description's entries for the arguments a subclass adds (none here)."""
        return {}

    def _hidden_block(self, i: int, affine: Affine, activation: Any, rng: Any) -> dict[str, Any]:
        """The layers of hidden block ``i``: ``Affine{i}``, ``Activation_function{i}``."""
        return {f"Affine{i}": affine, f"Activation_function{i}": activation}


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
        if use_dropout:
            dropout_ration = check_number(
                dropout_ration, type(self).__name__, "dropout_ration", low=0, high=1, high_open=True
            )
        self.use_dropout, self.use_batchnorm = bool(use_dropout), bool(use_batchnorm)
        self._dropout_ration = dropout_ration
        super().__init__(
            input_size,
            hidden_size_list,
            output_size,
            activation,
            weight_init_std,
            weight_decay_lambda,
            dtype=dtype,
            seed=seed,
        )

    def _options(self) -> dict[str, Any]:
        return {
            "use_dropout": self.use_dropout,
            "dropout_ration": float(self._dropout_ration),
            "use_batchnorm": self.use_batchnorm,
        }

    def _hidden_block(self, i: int, affine: Affine, activation: Any, rng: Any) -> dict[str, Any]:
        block: dict[str, Any] = {f"Affine{i}": affine}
        if self.use_batchnorm:
            block[f"BatchNorm{i}"] = _batchnorm(affine.W.shape[1], affine.W.dtype)
        block[f"Activation_function{i}"] = activation
        if self.use_dropout:  # seeded after all weights: one seed, the same weights either way
            block[f"Dropout{i}"] = Dropout(self._dropout_ration, seed=int(rng.integers(2**63)))
        return block


# ---------------------------------------------------------------------- chapters 7 and 8


def _conv_size(size, filter_size, stride, pad, owner, what):
    """The output side of a convolution (floored); a clear error when the filter does not fit."""
    try:
        return conv_output_size(size, filter_size, stride, pad)
    except ValueError as err:
        raise InvalidParameterError(f"{owner}: {what}: {err}") from None


def _check_conv_param(param, owner, name):
    if not isinstance(param, dict) or set(param) != {"filter_num", "filter_size", "pad", "stride"}:
        raise InvalidParameterError(
            f"{owner}: {name} must be a dict with 'filter_num', 'filter_size', 'pad' and "
            f"'stride', got {param!r}"
        )
    return {
        "filter_num": check_size(param["filter_num"], owner, f"{name}['filter_num']"),
        "filter_size": check_size(param["filter_size"], owner, f"{name}['filter_size']"),
        "pad": check_number(param["pad"], owner, f"{name}['pad']", low=0, integer=True),
        "stride": check_size(param["stride"], owner, f"{name}['stride']"),
    }


def _check_input_dim(input_dim, owner):
    if (
        isinstance(input_dim, (str, bytes))
        or not hasattr(input_dim, "__len__")
        or len(input_dim) != 3
    ):
        raise InvalidParameterError(
            f"{owner}: input_dim must be (channels, height, width), got {input_dim!r}"
        )
    return tuple(check_size(n, owner, "input_dim entries") for n in input_dim)


def _pooled(size, owner, what):
    """The side after a 2x2 pool with stride 2, as the book's networks use: an odd last row
    and column are left out, as the book's Pooling and PyTorch's MaxPool2d do."""
    return _conv_size(size, 2, 2, 0, owner, what)


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

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param: dict[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = 0.01,
        *,
        use_batchnorm: bool = False,
        dtype: npt.DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        owner = "SimpleConvNet"
        dtype = check_dtype(dtype, owner)
        input_dim = _check_input_dim(input_dim, owner)
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        conv = _check_conv_param(conv_param, owner, "conv_param")
        hidden_size = check_size(hidden_size, owner, "hidden_size")
        output_size = check_size(output_size, owner, "output_size")
        std = check_number(weight_init_std, owner, "weight_init_std", low=0)
        fn, fs = conv["filter_num"], conv["filter_size"]
        sides = [
            _conv_size(side, fs, conv["stride"], conv["pad"], owner, "conv_param")
            for side in input_dim[1:]
        ]
        what = f"the 2x2 pool after the {sides[0]}x{sides[1]} convolution output"
        pooled = fn * _pooled(sides[0], owner, what) * _pooled(sides[1], owner, what)
        rng = np.random.default_rng(seed)
        layers = OrderedDict()
        layers["Conv1"] = _convolution(rng, input_dim[0], conv, std, dtype)
        if use_batchnorm:
            layers["BatchNorm1"] = _batchnorm(fn, dtype)
        layers["Relu1"] = Relu()
        layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        layers["Affine1"] = _affine(rng, pooled, hidden_size, std, dtype)
        layers["Relu2"] = Relu()
        layers["Affine2"] = _affine(rng, hidden_size, output_size, std, dtype)
        self.input_shape = input_dim
        self._config = {
            "class": owner,
            "input_dim": list(input_dim),
            "conv_param": conv,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "weight_init_std": std,
            "use_batchnorm": bool(use_batchnorm),
            "dtype": dtype.name,
        }
        super().__init__(layers)


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
    called to evaluate; here ``loss`` and ``predict`` follow the network's mode (or
    ``train_flg``) and ``accuracy`` always runs in inference mode. The book's ``accuracy``
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
        owner = "DeepConvNet"
        dtype = check_dtype(dtype, owner)
        input_dim = _check_input_dim(input_dim, owner)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        convs = [
            _check_conv_param(dict(default) if p is None else p, owner, f"conv_param_{i}")
            for i, (p, default) in enumerate(zip(given, _DEEP_DEFAULTS, strict=True), 1)
        ]
        hidden_size = check_size(hidden_size, owner, "hidden_size")
        output_size = check_size(output_size, owner, "output_size")
        rng = np.random.default_rng(seed)
        layers = OrderedDict()
        channels, h, w = input_dim
        for i, conv in enumerate(convs, 1):
            fn, fs = conv["filter_num"], conv["filter_size"]
            what = f"conv_param_{i}"
            h = _conv_size(h, fs, conv["stride"], conv["pad"], owner, what)
            w = _conv_size(w, fs, conv["stride"], conv["pad"], owner, what)
            he = np.sqrt(2.0 / (channels * fs * fs))  # He: fan-in of one output unit
            layers[f"Conv{i}"] = _convolution(rng, channels, conv, he, dtype)
            if use_batchnorm:
                layers[f"BatchNorm{i}"] = _batchnorm(fn, dtype)
            layers[f"Relu{i}"] = Relu()
            channels = fn
            if i % 2 == 0:
                what = f"Pool{i // 2} (2x2, stride 2) on {h}x{w} images"
                h, w = _pooled(h, owner, what), _pooled(w, owner, what)
                layers[f"Pool{i // 2}"] = Pooling(pool_h=2, pool_w=2, stride=2)
        flat = channels * h * w
        affine1 = _affine(rng, flat, hidden_size, np.sqrt(2.0 / flat), dtype)
        affine2 = _affine(rng, hidden_size, output_size, np.sqrt(2.0 / hidden_size), dtype)
        seeds = rng.integers(2**63, size=2)  # after all weights: one seed fixes the whole run
        layers["Affine1"] = affine1
        layers["Relu7"] = Relu()
        layers["Dropout1"] = Dropout(0.5, seed=int(seeds[0]))
        layers["Affine2"] = affine2
        layers["Dropout2"] = Dropout(0.5, seed=int(seeds[1]))
        self.input_shape = input_dim
        self._config = {
            "class": owner,
            "input_dim": list(input_dim),
            **{f"conv_param_{i}": conv for i, conv in enumerate(convs, 1)},
            "hidden_size": hidden_size,
            "output_size": output_size,
            "use_batchnorm": bool(use_batchnorm),
            "dtype": dtype.name,
        }
        super().__init__(layers)
