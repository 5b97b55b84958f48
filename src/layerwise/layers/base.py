"""The layer protocol every layerwise layer follows, and the registry of layer types.

A layer is a plain class, as in the book's ``common/layers.py``:

- ``forward(x, ...)`` computes the output and caches what the backward pass needs; a layer
  that behaves differently while training takes the book's ``train_flg=True`` keyword
  (:class:`~layerwise.layers.Dropout`, :class:`~layerwise.layers.BatchNormalization`);
- ``backward(dout)`` takes the gradient of the loss with respect to the output and returns the
  gradient with respect to the input, filling each parameter's gradient on the way;
- ``param_names`` lists the trained arrays by their book attribute names (``('W', 'b')``); the
  gradient of ``W`` is the attribute ``dW``, of ``gamma`` ``dgamma``, and so on;
- ``buffer_names`` lists arrays that are state but not trained (``running_mean``);
- the constructor takes every parameter and buffer by that attribute name, and
  ``get_config()`` returns its other arguments as a JSON-serialisable dict, so that
  ``type(layer)(**arrays, **layer.get_config())`` rebuilds the layer;
- a layer that draws random numbers keeps its ``numpy.random.Generator`` as ``rng``;
- a layer may name a ``symbol``, the glyph :mod:`layerwise.graph` draws it as (``×``, ``+``).

Networks, model files and checkpoints work from these declarations alone: they never ask
what concrete class a layer is. :func:`register_layer` adds a class to :data:`LAYERS`, the
registry that model files are rebuilt from.
"""

from typing import Any, TypeVar

T = TypeVar("T", bound=type)

__all__ = ["LAYERS", "BackwardBeforeForwardError", "Layer", "register_layer"]

#: Layer classes by name, for rebuilding networks from model files.
LAYERS: dict[str, type] = {}


def register_layer(cls: T) -> T:
    """Class decorator: make ``cls`` known to model files under its class name."""
    name = cls.__name__
    if LAYERS.get(name, cls) is not cls:
        raise ValueError(f"register_layer: another layer class is registered as {name!r}")
    LAYERS[name] = cls
    return cls


class BackwardBeforeForwardError(RuntimeError, ValueError):
    """``backward`` was called before ``forward`` had cached what it needs."""


class Layer:
    """Optional base class: the protocol's defaults for a layer without parameters.

    Subclasses set ``param_names`` / ``buffer_names`` and override :meth:`get_config` when
    their constructor takes arguments other than arrays.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments other than parameters and buffers (JSON-serialisable)."""
        return {}

    def _not_ready(self):
        return BackwardBeforeForwardError(
            f"{type(self).__name__}.backward was called before forward: call forward(...) "
            "first, it caches what the backward pass needs"
        )

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
