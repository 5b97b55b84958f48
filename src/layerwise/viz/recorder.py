"""Record the forward and backward calls of layers as a :class:`~layerwise.viz.graph.Graph`.

>>> from layerwise import MulLayer
>>> from layerwise.viz import record
>>> mul_apple, mul_tax = MulLayer(), MulLayer()
>>> with record() as graph:
...     price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
...     dapple_price, dtax = mul_tax.backward(1)
...     dapple, dapple_num = mul_apple.backward(dapple_price)
>>> _ = graph.label(mul_apple, inputs=["apple", "apple count"])
>>> _ = graph.label(mul_tax, inputs=["tax"], output="price")
>>> graph.save("apple.svg")  # doctest: +SKIP

How recording works, and why it costs nothing when off: while a :class:`Recorder` is active it
replaces the ``forward`` and ``backward`` of every layer class in :data:`layerwise.layers.LAYERS`
by a wrapper that calls the original and notes what went in and came out; on exit, even on an
exception, it puts the very same function objects back. Outside a ``with record()`` block nothing
of this module is in any call path. The wrappers return the original's result untouched, so
recording never changes a result.

Limits, said plainly: one recorder at a time (a second one raises); only calls made by the thread
that entered the recorder are noted; a call made from inside another noted call (a layer calling
``super().forward`` or a layer built of layers) is part of the outer node, not a node of its own;
a bound method taken before recording began (``f = layer.forward``) is not seen.

:func:`apple_graph` and :func:`record_step` record the book's figures: the apples of section 5.4
and one step of a network's backpropagation.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..layers import LAYERS, AddLayer, MulLayer
from .graph import Graph, Node, Slot, Value

__all__ = ["Recorder", "apple_graph", "record", "record_step"]

# ---------------------------------------------------------------------- the recorder

_active_lock = threading.Lock()
_active = None  # the Recorder recording now: one at a time


def record(classes: Iterable[type] | None = None) -> Recorder:
    """A :class:`Recorder`: ``with record() as graph:`` notes every layer call in the block."""
    return Recorder(classes)


class Recorder:
    """Context manager that notes every ``forward`` and ``backward`` call of layers.

    Parameters
    ----------
    classes : iterable of classes, optional
        The layer classes to watch; default every class in :data:`layerwise.layers.LAYERS`
        (the book's layers and any registered with
        :func:`~layerwise.layers.register_layer`).

    ``with Recorder() as graph:`` gives the :class:`Graph` that fills up in the block. A
    recorder records once; a second active recorder raises RuntimeError.
    """

    def __init__(self, classes: Iterable[type] | None = None) -> None:
        self.classes = list(LAYERS.values() if classes is None else classes)
        self.graph = Graph()
        self._saved: list[tuple[type, str, Any]] = []  # (class, method name, original)
        self._used = False
        self._thread = None
        self._depth = 0  # > 0 while a noted call runs: calls inside it are part of it
        # id(output) -> (node, output); the output kept so ids stay unique
        self._producers: dict[int, Any] = {}
        # id(layer) -> its nodes still waiting for a backward call
        self._pending: dict[int, list[Node]] = {}

    def __enter__(self):
        global _active
        if self._used:
            raise RuntimeError("a Recorder records once: use a new record() for a new graph")
        with _active_lock:
            if _active is not None:
                raise RuntimeError(
                    "another record() is active: one recorder at a time (end the first "
                    "`with record()` block before starting the next)"
                )
            _active = self
        self._used = True
        self._thread = threading.get_ident()
        try:
            for cls in self.classes:
                for direction in ("forward", "backward"):
                    # Only a class's own methods: an inherited one is wrapped on its class.
                    original = cls.__dict__.get(direction)
                    if isinstance(original, types.FunctionType):
                        self._saved.append((cls, direction, original))
                        setattr(cls, direction, self._wrap(original, direction))
        except BaseException:
            self._restore()
            raise
        return self.graph

    def __exit__(self, *exc_info):
        self._restore()
        return False

    def _restore(self):
        global _active
        for cls, direction, original in reversed(self._saved):
            setattr(cls, direction, original)
        self._saved.clear()
        self._producers.clear()  # let go of the arrays
        self._pending.clear()
        with _active_lock:
            _active = None

    def _wrap(self, original, direction):
        before = self._before_forward if direction == "forward" else self._before_backward
        after = self._after_forward if direction == "forward" else self._after_backward

        # functools.wraps keeps the name, the docstring and `__wrapped__` (the original), so
        # help() and the restore check still see the layer's own method while recording.
        @functools.wraps(original)
        def noted(layer, *args, **kwargs):
            if self._depth or threading.get_ident() != self._thread:
                return original(layer, *args, **kwargs)
            if direction == "forward":  # the inputs by the names the layer declares
                names = getattr(layer, "input_names", ("x",))
                names = (*names, *(f"x{i}" for i in range(len(names), len(args))))
                arguments = [*zip(names, args, strict=False), *kwargs.items()]
            else:  # a loss's `backward()` means dout=1, as in the book: note the 1
                arguments = [("dout", args[0] if args else kwargs.get("dout", 1.0))]
            # Noted before the call: a layer may change its input in place (the book's Relu).
            noted_in = before(arguments)
            self._depth += 1
            try:
                result = original(layer, *args, **kwargs)
            finally:
                self._depth -= 1
            after(layer, noted_in, result)
            return result

        return noted

    def _before_forward(self, arguments):
        slots = []
        for name, value in arguments:
            if value is None or isinstance(value, (bool, np.bool_, str)):
                continue  # flags (train_flg), not data
            producer = self._producers.get(id(value))
            source = producer[0] if producer is not None and producer[1] is value else None
            slots.append(Slot(name, source, Value.of(value)))
        return slots

    def _after_forward(self, layer, slots, out):
        node = self.graph.add_node(layer, slots, Value.of(out))
        self._producers[id(out)] = (node, out)
        self._pending.setdefault(id(layer), []).append(node)

    def _before_backward(self, arguments):
        return {"dout": Value.of(arguments[0][1])}

    def _after_backward(self, layer, inputs, result):
        waiting = self._pending.get(id(layer))
        node = waiting.pop() if waiting else None
        returned = result if isinstance(result, tuple) else (result,)
        outputs = tuple(None if r is None else Value.of(r) for r in returned)
        grads = {}
        for name in getattr(layer, "param_names", ()):
            grad = getattr(layer, "d" + name, None)
            if grad is not None:
                grads["d" + name] = Value.of(grad)
        self.graph.add_backward(layer, node, inputs, outputs, grads)


# ---------------------------------------------------------------------- the book's figures


def apple_graph(oranges: bool = False) -> Graph:
    """The book's apple figures (section 5.4), recorded from real MulLayer/AddLayer calls.

    2 apples at 100 yen with 10% tax: price 220, dapple 2.2, dapple_num 110, dtax 200. With
    ``oranges``, also 3 oranges at 150 yen: price 715, dapple 2.2, dorange 3.3, dtax 650.

    Returns
    -------
    Graph
    """
    mul_apple, mul_tax = MulLayer(), MulLayer()
    mul_orange, add_apple_orange = MulLayer(), AddLayer()
    with record() as graph:
        apple_price = mul_apple.forward(100, 2)
        if oranges:
            orange_price = mul_orange.forward(150, 3)
            all_price = add_apple_orange.forward(apple_price, orange_price)
        mul_tax.forward(all_price if oranges else apple_price, 1.1)

        dall_price, _ = mul_tax.backward(1)
        if oranges:
            dapple_price, dorange_price = add_apple_orange.backward(dall_price)
            mul_orange.backward(dorange_price)
        mul_apple.backward(dapple_price if oranges else dall_price)
    graph.label(mul_apple, inputs=["apple", "apple count"])
    if oranges:
        graph.label(mul_orange, inputs=["orange", "orange count"])
    graph.label(mul_tax, inputs=["tax"], output="price")
    return graph


def record_step(
    network: Any, x: npt.ArrayLike, t: npt.ArrayLike, title: str | None = None
) -> Graph:
    """Record one step of backpropagation of ``network`` on a batch, drawn as the book's layers.

    The nodes take the network's layer names (``Affine1``, ``Relu1``, ...); the loss's arrow is
    ``L``. Arrows carry the shapes forward and the gradients' shapes backward, the last one the
    loss's value and ``1``.

    Parameters
    ----------
    network : Sequential
        Its ``loss_and_gradient(x, t)`` is called once, in the network's mode.
    x, t : array_like
        A batch and its labels.
    title : str, optional

    Returns
    -------
    Graph
    """
    with record() as graph:
        network.loss_and_gradient(x, t)
    for name, layer in network.layers.items():
        graph.label(layer, name=name)
    graph.label(network.last_layer, name=type(network.last_layer).__name__, output="L")
    graph.title = title
    return graph
