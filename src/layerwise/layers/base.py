"""The layer protocol every layerwise layer follows, and the registry of layer types.

A layer is a plain class, as in the book's ``common/layers.py``:

- ``forward(x, ...)`` computes the output and caches what the backward pass needs; a layer
  that behaves differently while training takes the book's ``train_flg=True`` keyword
  (:class:`~layerwise.layers.Dropout`, :class:`~layerwise.layers.BatchNormalization`) and says
  so with ``takes_train_flg = True``;
- ``backward(dout)`` takes the gradient of the loss with respect to the output and returns the
  gradient with respect to the input, filling each parameter's gradient on the way;
- ``param_names`` lists the trained arrays by their book attribute names (``('W', 'b')``); the
  gradient of ``W`` is the attribute ``dW``, of ``gamma`` ``dgamma``, and so on;
- ``buffer_names`` lists arrays that are state but not trained (``running_mean``);
- the constructor takes every parameter and buffer by that attribute name, and
  ``get_config()`` returns its other arguments as a JSON-serialisable dict, so that
  ``type(layer)(**arrays, **layer.get_config())`` rebuilds the layer;
- a layer that draws random numbers keeps its ``numpy.random.Generator`` as ``rng``;
- a layer may name a ``symbol``, the glyph :mod:`layerwise.viz` draws it as (``×``, ``+``).

What the edges need is declared by class attributes, each with a default on :class:`Layer` (a
class that does not derive from it is read with the same defaults):

=================================  ==========================================================
``takes_train_flg``                ``forward(x, train_flg=...)`` is accepted (Dropout,
                                   BatchNormalization); networks then pass their mode
``skips_input_grad``               ``backward(dout, input_grad=False)`` is accepted (Affine,
                                   Convolution): a network's first layer skips ``dx``
``activation_name``                an element-wise activation's name for
                                   ``MultiLayerNet(activation=...)`` and ``--activation``
``init_gain``                      its weight initialisation: std ``sqrt(init_gain / fan_in)``
                                   (He 2 for ReLU, Xavier 1 for sigmoid)
``torch_module``                   its ``torch.nn`` module: a name (``"ReLU"``) or a callable
                                   ``f(torch.nn)`` returning the module
``onnx_op``                        its ONNX operator (``"Relu"``), one input and one output
``commutes_with_positive_scale``   ``f(c x) = c f(x)`` for every ``c > 0`` (ReLU, not sigmoid)
``input_names``                    the names of ``forward``'s inputs, ``("x",)``; ``("x", "y")``
                                   for MulLayer, ``("x", "t")`` for SoftmaxWithLoss: how
                                   :mod:`layerwise.viz` labels the arrows
=================================  ==========================================================

Networks, model files, checkpoints and the exporters work from these declarations alone: they
never ask what concrete class a layer is. :func:`register_layer` adds a class to :data:`LAYERS`,
the registry that model files are rebuilt from, and an activation also to :data:`ACTIVATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .._checks import InvalidParameterError, check_number

T = TypeVar("T", bound=type)

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "BackwardBeforeForwardError",
    "backward_before_forward",
    "Layer",
    "init_gains",
    "init_scale",
    "initial_weights",
    "register_layer",
]

#: Layer classes by name, for rebuilding networks from model files.
LAYERS: dict[str, type] = {}

#: Element-wise activation classes by their ``activation_name`` (``'relu'``, ``'sigmoid'``).
ACTIVATIONS: dict[str, type] = {}


def register_layer(cls: T) -> T:
    """Class decorator: make ``cls`` known to model files under its class name.

    A class that declares an ``activation_name`` is also entered in :data:`ACTIVATIONS`, so the
    networks' ``activation=`` argument and the command line's ``--activation`` accept it.
    """
    name = cls.__name__
    if LAYERS.get(name, cls) is not cls:
        raise ValueError(f"register_layer: another layer class is registered as {name!r}")
    activation = getattr(cls, "activation_name", None)
    if activation is not None and ACTIVATIONS.get(activation, cls) is not cls:
        raise ValueError(
            f"register_layer: another activation is registered as {activation!r} "
            f"({ACTIVATIONS[activation].__name__})"
        )
    LAYERS[name] = cls
    if activation is not None:
        ACTIVATIONS[activation] = cls
    return cls


class BackwardBeforeForwardError(RuntimeError, ValueError):
    """``backward`` was called before ``forward`` had cached what it needs."""


def backward_before_forward(owner: Any) -> BackwardBeforeForwardError:
    """The error for ``owner.backward`` called before its forward had cached what it needs."""
    return BackwardBeforeForwardError(
        f"{type(owner).__name__}.backward was called before forward: call forward(...) "
        "first, it caches what the backward pass needs"
    )


class Layer:
    """Optional base class: the protocol's defaults for a layer without parameters.

    Subclasses set ``param_names`` / ``buffer_names`` and override :meth:`get_config` when
    their constructor takes arguments other than arrays.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()
    takes_train_flg: bool = False
    skips_input_grad: bool = False
    input_names: tuple[str, ...] = ("x",)
    # Element-wise activations only (see the module's table).
    activation_name: str | None = None
    init_gain: float | None = None
    torch_module: str | Callable[[Any], Any] | None = None
    onnx_op: str | None = None
    commutes_with_positive_scale: bool = False

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments other than parameters and buffers (JSON-serialisable)."""
        return {}

    def _not_ready(self):
        return backward_before_forward(self)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------- initial weights

# The book's names for the two rules (chapter 6.2), beside each activation's own name.
_INIT_GAINS = {"he": 2.0, "xavier": 1.0}


def init_gains() -> dict[str, float]:
    """``{name: gain}`` of the weight-init names: 'he', 'xavier' and each activation's name.

    The std of a weight is ``sqrt(gain / fan_in)``: He (gain 2) keeps the variance of ReLU
    outputs, Xavier (gain 1) that of sigmoid outputs; an activation declares its ``init_gain``.
    """
    gains = {name: getattr(cls, "init_gain", None) for name, cls in ACTIVATIONS.items()}
    return {**{k: float(g) for k, g in gains.items() if g is not None}, **_INIT_GAINS}


def init_scale(weight_init_std: Any, fan_in: int, owner: str) -> float:
    """The book's chapter-6 choices: He for ReLU, Xavier for sigmoid, or a fixed number."""
    if isinstance(weight_init_std, str):
        gains = init_gains()
        gain = gains.get(weight_init_std.lower())
        if gain is None:
            raise InvalidParameterError(
                f"{owner}: weight_init_std must be one of {', '.join(map(repr, sorted(gains)))} "
                f"or a number, got {weight_init_std!r}"
            )
        return float(np.sqrt(gain / fan_in))
    return check_number(weight_init_std, owner, "weight_init_std", low=0)


def initial_weights(
    shape: tuple[int, ...], fan_in: int, init: Any, rng: Any, dtype: npt.DTypeLike, owner: str
) -> np.ndarray:
    """Weights ``W ~ N(0, std**2)``, ``std = init_scale(init, fan_in)``, drawn in float64.

    ``rng`` is anything ``np.random.default_rng`` takes (a Generator is drawn from); the draws
    are cast to ``dtype`` (float32 or float64), so both dtypes start from the same numbers.
    """
    std = init_scale(init, fan_in, owner)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InvalidParameterError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    try:
        rng = np.random.default_rng(rng)
    except (TypeError, ValueError) as err:
        raise InvalidParameterError(
            f"{owner}: rng must be None, a seed or a numpy.random.Generator, got {rng!r}"
        ) from err
    return (std * rng.standard_normal(shape)).astype(dtype)
