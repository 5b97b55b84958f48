"""Record the forward and backward calls of layers, and draw them as the book's chapter-5 figures.

The book teaches backpropagation with pictures: nodes (``×``, ``+``, then whole layers) joined by
arrows, each forward value written above its arrow and each backward derivative below it in red.
This module draws those pictures from a real forward and backward pass:

>>> from layerwise import MulLayer
>>> from layerwise.graph import record
>>> mul_apple, mul_tax = MulLayer(), MulLayer()
>>> with record() as graph:
...     price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
...     dapple_price, dtax = mul_tax.backward(1)
...     dapple, dapple_num = mul_apple.backward(dapple_price)
>>> _ = graph.label(mul_apple, inputs=["apple", "apple count"])
>>> _ = graph.label(mul_tax, inputs=["tax"], output="price")
>>> graph.save("apple.svg")  # doctest: +SKIP

The nodes themselves, :class:`~layerwise.layers.MulLayer` and :class:`~layerwise.layers.AddLayer`,
live in :mod:`layerwise.layers.graph` (the book's section 5.4); this module only watches layers,
those and every other one, and draws what it saw.

How recording works, and why it costs nothing when off: while a :class:`Recorder` is active it
replaces the ``forward`` and ``backward`` of every layer class in :data:`layerwise.layers.LAYERS`
by a wrapper that calls the original and notes what went in and came out; on exit, even on an
exception, it puts the very same function objects back. Outside a ``with record()`` block nothing
of this module is in any call path. The wrappers return the original's result untouched, so
recording never changes a result.

What is noted, call by call in the order they happen (:attr:`Graph.calls`): for a forward call its
inputs and its output, for a backward call ``dout``, the gradients it returned and the parameter
gradients it filled (``dW``, ``db``, ...). A number is kept as its value; an array as its shape,
dtype and a summary (mean, min, max), taken at the time of the call.

How the drawing is wired: an output that is passed, as the same object, to another layer's
``forward`` becomes an arrow between the two nodes; any other input is an arrow from a named input
(``x``, ``t``, or a name given by :meth:`Graph.label`); an output no recorded layer read is an
arrow to a named output. A backward call belongs to the latest forward call of the same layer
that has no backward yet. The backward value below an arrow is what the receiving node's
``backward`` returned for that input; below the final arrow, the ``dout`` the last node was given.

Limits, said plainly: one recorder at a time (a second one raises); only calls made by the thread
that entered the recorder are noted; a call made from inside another noted call (a layer calling
``super().forward`` or a layer built of layers) is part of the outer node, not a node of its own;
a bound method taken before recording began (``f = layer.forward``) is not seen.

Drawing: :meth:`Graph.to_dot` gives Graphviz DOT text with no dependency; :meth:`Graph.save` and
:meth:`Graph.pipe` render SVG and PNG through Graphviz (``pip install 'layerwise[graphviz]'`` for
the Python binding and ``apt-get install graphviz`` for the ``dot`` program). In Jupyter a graph
shows itself as the picture.
"""

import functools
import html
import inspect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._types import StrPath
from .container import write_atomic
from .layers import LAYERS, AddLayer, MulLayer

__all__ = [
    "Call",
    "Edge",
    "Graph",
    "GraphvizNotFoundError",
    "Node",
    "Recorder",
    "Value",
    "apple_graph",
    "record",
    "record_step",
]

#: How to get Graphviz, said whenever it is missing.
INSTALL_GRAPHVIZ = (
    "drawing SVG or PNG needs Graphviz: the Python binding (pip install 'layerwise[graphviz]', "
    "or pip install graphviz) and the `dot` program (Debian/Ubuntu: apt-get install graphviz; "
    "macOS: brew install graphviz; others: https://graphviz.org/download/). Without them, "
    "save the DOT text (a .dot or .gv file) and render it elsewhere"
)

#: The file formats :meth:`Graph.save` writes, by file extension.
FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}


class GraphvizNotFoundError(OSError):
    """The Graphviz Python binding or its ``dot`` program is not installed."""


# ---------------------------------------------------------------------- what is noted


def _number(v):
    """A number as the book prints it: 220.00000000000003 is 220, 1.1 stays 1.1."""
    return f"{v:.6g}"


@dataclass(frozen=True)
class Value:
    """What flowed through one slot of a call, noted at the time of the call.

    Attributes
    ----------
    shape : tuple or None
        ``()`` for a number; None for something that is not numeric (a string, say).
    dtype : str
    value : int or float or None
        The number itself when ``shape == ()``.
    summary : str
        The number, or ``mean m, min a, max b`` of an array.
    """

    shape: tuple | None
    dtype: str
    value: float | None
    summary: str

    @classmethod
    def of(cls, obj):
        """Describe ``obj``: a number by its value, an array by shape, dtype and summary."""
        try:
            a = np.asarray(obj)
        except (ValueError, TypeError):  # a ragged list
            return cls(None, type(obj).__name__, None, f"a {type(obj).__name__}")
        if a.dtype.kind not in "biuf":
            return cls(None, str(a.dtype), None, f"a {type(obj).__name__}")
        if a.ndim == 0:
            return cls((), a.dtype.name, a.item(), _number(a.item()))
        if a.size == 0:
            return cls(a.shape, a.dtype.name, None, "empty")
        # Summaries are read, never acted on: inf or NaN in them must not warn.
        with np.errstate(all="ignore"):
            stats = [np.mean(a, dtype=np.float64), np.min(a), np.max(a)]
        mean, low, high = (_number(float(s)) for s in stats)
        return cls(a.shape, a.dtype.name, None, f"mean {mean}, min {low}, max {high}")

    @property
    def text(self) -> str:
        """What a drawing writes on an arrow: the number, or the array's shape."""
        if self.value is not None:
            return _number(self.value)
        return str(self.shape) if self.shape is not None else self.dtype

    def __str__(self):
        if self.shape is None or self.value is not None:
            return self.summary
        return f"{self.shape} {self.dtype}  {self.summary}"


@dataclass
class Slot:
    """One input of a forward call: its parameter name, where it came from, what it was."""

    name: str
    source: "Node | None"  # the node whose output this is; None for an input from outside
    value: Value


@dataclass(eq=False)
class Node:
    """One forward call of a layer, with the backward call that answered it (if any).

    Attributes
    ----------
    layer : object
        The layer whose ``forward`` was called.
    name : str
        ``Affine1``, ``MulLayer2``, ...: the class name numbered in order of first call (as
        :class:`~layerwise.network.Sequential` names layers), or the name given by
        :meth:`Graph.label`; a second call of one layer is ``Affine1#2``.
    call : int
        The index of its forward call in :attr:`Graph.calls`.
    inputs : list of Slot
    output : Value
    output_name : str
        The name of the final arrow when no recorded layer read the output.
    consumers : int
        How many recorded forward calls read the output (0: it gets a final arrow).
    dout : Value or None
        What the layer's ``backward`` was given (None: no backward was recorded).
    dinputs : list of (Value or None)
        What ``backward`` returned for each input, in the order of :attr:`inputs`; None where
        it returned nothing (the labels ``t``, or a first layer told ``input_grad=False``).
    grads : dict of str to Value
        The parameter gradients ``backward`` filled, by attribute name (``dW``, ``db``).
    """

    layer: object
    name: str
    call: int
    inputs: list
    output: Value
    output_name: str = "out"
    consumers: int = 0
    dout: Value | None = None
    dinputs: list = field(default_factory=list)
    grads: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One noted call, in the order the calls happened.

    ``inputs`` maps the layer's parameter names to :class:`Value` (for backward: ``dout``);
    ``outputs`` the returned values, ``out`` for forward and ``dx`` (``dx``, ``dy``) for backward,
    named after the forward inputs (None where nothing was returned); ``grads`` the parameter
    gradients a backward call filled.
    """

    index: int
    direction: str
    node: Node | None
    layer_class: str
    inputs: dict
    outputs: dict
    grads: dict

    @property
    def name(self) -> str:
        return self.node.name if self.node is not None else self.layer_class


@dataclass(frozen=True)
class Edge:
    """An arrow of the drawing: ``tail`` and ``head`` are Nodes, or names of outside inputs
    and outputs; ``forward`` flows along it, ``backward`` (None: none was computed) against it."""

    tail: "Node | str"
    head: "Node | str"
    forward: Value
    backward: Value | None


# ---------------------------------------------------------------------- the recorder

_active_lock = threading.Lock()
_active = None  # the Recorder recording now: one at a time


def record(classes: Iterable[type] | None = None) -> "Recorder":
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
                    if inspect.isfunction(original):
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
        signature = inspect.signature(original)
        before = self._before_forward if direction == "forward" else self._before_backward
        after = self._after_forward if direction == "forward" else self._after_backward

        # functools.wraps keeps the name, the docstring and `__wrapped__` (the original), so
        # help() and the restore check still see the layer's own method while recording.
        @functools.wraps(original)
        def noted(layer, *args, **kwargs):
            if self._depth or threading.get_ident() != self._thread:
                return original(layer, *args, **kwargs)
            try:
                bound = signature.bind(layer, *args, **kwargs)
            except TypeError:  # a wrong call: let the layer itself say what is wrong
                return original(layer, *args, **kwargs)
            bound.apply_defaults()  # `backward()` means dout=1.0: note the 1
            arguments = list(bound.arguments.items())[1:]  # without self
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
        node = self.graph._add_node(layer, slots, Value.of(out))
        self._producers[id(out)] = (node, out)
        self._pending.setdefault(id(layer), []).append(node)

    def _before_backward(self, arguments):
        return {"dout": Value.of(arguments[0][1])} if arguments else {}

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
        self.graph._add_backward(layer, node, inputs, outputs, grads)


# ---------------------------------------------------------------------- the graph


class Graph:
    """What a :class:`Recorder` noted, and its drawing.

    Attributes
    ----------
    calls : list of Call
        Every noted call in order; ``str(graph)`` prints them.
    nodes : list of Node
        The forward calls in order, each with its backward.
    title : str or None
        Written above the drawing.
    """

    def __init__(self, title: str | None = None) -> None:
        self.calls: list[Call] = []
        self.nodes: list[Node] = []
        self.title = title
        self._counts: dict[str, int] = {}  # class name -> how many layers of it have been named
        # id(layer) -> (its name, how many calls so far)
        self._names: dict[int, tuple[str, int]] = {}

    def _add_node(self, layer, slots, output):
        key = id(layer)
        if key not in self._names:
            kind = type(layer).__name__
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._names[key] = [f"{kind}{self._counts[kind]}", 0]
        self._names[key][1] += 1
        name, calls = self._names[key]
        name = name if calls == 1 else f"{name}#{calls}"
        node = Node(layer, name, len(self.calls), slots, output)
        for slot in slots:
            if slot.source is not None:
                slot.source.consumers += 1
        self.nodes.append(node)
        inputs = {slot.name: slot.value for slot in slots}
        self.calls.append(
            Call(
                len(self.calls), "forward", node, type(layer).__name__, inputs, {"out": output}, {}
            )
        )
        return node

    def _add_backward(self, layer, node, inputs, returned, grads):
        names = [f"d{slot.name}" for slot in node.inputs] if node is not None else []
        names += [f"d{k}" for k in range(len(names), len(returned))]  # more than the inputs
        outputs = dict(zip(names, returned, strict=False))
        if node is not None:
            node.dout = inputs.get("dout")
            node.dinputs = list(returned[: len(node.inputs)])
            node.grads = grads
        self.calls.append(
            Call(len(self.calls), "backward", node, type(layer).__name__, inputs, outputs, grads)
        )

    # ------------------------------------------------------------------ names

    def label(
        self,
        layer: Any,
        name: str | None = None,
        inputs: Sequence[str] | None = None,
        output: str | None = None,
    ) -> "Graph":
        """Name what the drawing shows of ``layer``'s calls.

        Parameters
        ----------
        layer : layer
            A layer whose forward call was recorded.
        name : str, optional
            The node's name (default: class name and number, ``Affine1``).
        inputs : sequence of str, optional
            Names of its inputs that come from outside the graph, in order (an input that is
            another node's output is drawn from that node and takes no name here).
        output : str, optional
            The name of its final arrow, when no recorded layer read its output (default
            ``out``; the book writes ``L`` after the loss and ``price`` after the tax).

        Returns
        -------
        Graph
            ``self``, so that labels can be chained.
        """
        nodes = [node for node in self.nodes if node.layer is layer]
        if not nodes:
            raise ValueError(
                f"Graph.label: {type(layer).__name__} {layer!r} made no recorded forward call; "
                "label the layers called inside the `with record()` block"
            )
        for k, node in enumerate(nodes, start=1):
            if name is not None:
                node.name = name if k == 1 else f"{name}#{k}"
            outside = [slot for slot in node.inputs if slot.source is None]
            if inputs is not None:
                if len(inputs) != len(outside):
                    raise ValueError(
                        f"Graph.label: {node.name} has {len(outside)} input(s) from outside "
                        f"({', '.join(s.name for s in outside) or 'none'}), got "
                        f"{len(inputs)} name(s) {list(inputs)}"
                    )
                for slot, text in zip(outside, inputs, strict=True):
                    slot.name = text
            if output is not None:
                node.output_name = output
        return self

    # ------------------------------------------------------------------ edges

    def edges(self) -> list["Edge"]:
        """The arrows of the drawing, in forward order (each node's inputs, then its output).

        Returns
        -------
        list of Edge
        """
        edges = []
        for node in self.nodes:
            for k, slot in enumerate(node.inputs):
                backward = node.dinputs[k] if k < len(node.dinputs) else None
                edges.append(Edge(slot.source or slot.name, node, slot.value, backward))
            if node.consumers == 0:
                edges.append(Edge(node, node.output_name, node.output, node.dout))
        return edges

    # ------------------------------------------------------------------ drawing

    def to_dot(self, dpi: float | None = None) -> str:
        """The drawing as Graphviz DOT text (no dependency).

        Nodes run left to right in forward order: ``×`` and ``+`` as circles, other layers as
        rounded boxes with their parameter gradients in red. On each arrow the forward value
        stands above the line and the backward value below it in red, as in the book: the
        arrow passes through a small two-row label whose middle is the arrow's line.

        Parameters
        ----------
        dpi : int, optional
            Resolution for pixel formats (PNG); leave it out for SVG.
        """
        ids = {id(node): f"n{i}" for i, node in enumerate(self.nodes)}
        lines = [
            "digraph layerwise {",
            # ordering=in: a node's inputs top to bottom in their order (apple above its count)
            "  rankdir=LR; ordering=in; ranksep=0.3; nodesep=0.25;",
            '  graph [fontname="Helvetica"' + (f", dpi={int(dpi)}" if dpi else "") + "];",
            '  node [fontname="Helvetica", fontsize=14];',
            "  edge [arrowsize=0.7];",
        ]
        if self.title:
            lines.append(f"  labelloc=t; label={_quote(self.title)};")
        for node in self.nodes:
            lines.append(f"  {ids[id(node)]} {_node_attributes(node)};")
        for k, edge in enumerate(self.edges()):
            if isinstance(edge.tail, Node):
                tail = ids[id(edge.tail)]
            else:
                tail = f"s{k}"
                lines.append(f"  {tail} [shape=plaintext, label={_quote(edge.tail)}];")
            if isinstance(edge.head, Node):
                head = ids[id(edge.head)]
            else:
                head = f"o{k}"
                lines.append(f"  {head} [shape=plaintext, label={_quote(edge.head)}];")
            tip = f"forward {edge.forward}" + (
                f"\nbackward {edge.backward}" if edge.backward is not None else ""
            )
            lines.append(
                f"  e{k} [shape=plain, label={_arrow_label(edge)}, tooltip={_quote(tip)}];"
            )
            lines.append(f"  {tail} -> e{k}:m:w [arrowhead=none, headclip=false];")
            lines.append(f"  e{k}:m:e -> {head} [tailclip=false];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def pipe(self, format: str) -> bytes:
        """The drawing rendered by Graphviz, as bytes (``format``: ``svg``, ``png``).

        Raises
        ------
        GraphvizNotFoundError
            When the ``graphviz`` Python package or the ``dot`` program is missing.
        """
        try:
            import graphviz
        except ImportError:
            raise GraphvizNotFoundError(
                f"the Python package `graphviz` is not installed; {INSTALL_GRAPHVIZ}"
            ) from None
        # PNG at 110 dpi: the 72 of Graphviz's default make 14-point text small on a screen.
        dot = self.to_dot(dpi=110 if format == "png" else None)
        try:
            return graphviz.Source(dot).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(
                f"Graphviz's `dot` program was not found on PATH; {INSTALL_GRAPHVIZ}"
            ) from None

    def save(self, path: StrPath) -> Path:
        """Write the drawing to ``path``, in the format its extension names.

        ``.dot`` / ``.gv``: DOT text (no dependency); ``.svg``, ``.png``: rendered by Graphviz.

        Returns
        -------
        Path
        """
        path = Path(path)
        format = FORMATS.get(path.suffix.lower())
        if format is None:
            raise ValueError(
                f"Graph.save: cannot tell the format of {str(path)!r} from its extension; use "
                f"one of {', '.join(FORMATS)}"
            )
        data = self.to_dot().encode() if format == "dot" else self.pipe(format)
        return write_atomic(path, lambda f: f.write(data))

    def _repr_svg_(self):
        # Jupyter: the picture when Graphviz is there, else the text of __repr__ (which says why).
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFoundError:
            return None

    def _repr_png_(self):
        try:
            return self.pipe("png")
        except GraphvizNotFoundError:
            return None

    def __str__(self):
        """The calls in order: what went in and what came out of each."""
        lines = []
        for call in self.calls:
            lines.append(f"{call.index + 1:>3}  {call.direction:<8}  {call.name}")
            for name, value in call.inputs.items():
                lines.append(f"       in   {name:<6} {value}")
            for name, value in call.outputs.items():
                lines.append(f"       out  {name:<6} {'None' if value is None else value}")
            for name, value in call.grads.items():
                lines.append(f"       grad {name:<6} {value}")
        return "\n".join(lines)

    def __repr__(self):
        forward = sum(call.direction == "forward" for call in self.calls)
        return (
            f"<Graph: {forward} forward and {len(self.calls) - forward} backward calls; "
            "print() lists them, .save('graph.svg') draws them>"
        )


def _quote(text):
    """A DOT string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _arrow_label(edge):
    """Forward value, the arrow's line (the port ``m`` the two halves attach to), backward value."""
    backward = (
        ""
        if edge.backward is None
        else (f'<font color="red">{html.escape(edge.backward.text)}</font>')
    )
    return (
        '<<table border="0" cellspacing="0" cellpadding="1">'
        f"<tr><td>{html.escape(edge.forward.text)}</td></tr>"
        '<tr><td port="m" height="0" width="40" border="1" sides="b"></td></tr>'
        f"<tr><td>{backward}</td></tr></table>>"
    )


def _node_attributes(node):
    symbol = getattr(node.layer, "symbol", None)
    tooltip = f"tooltip={_quote(node.name)}"
    if symbol:  # the book's × and + nodes
        return f"[shape=circle, fixedsize=true, width=0.45, label={_quote(symbol)}, {tooltip}]"
    rows = [f"<tr><td>{html.escape(node.name)}</td></tr>"]
    for name, value in node.grads.items():
        rows.append(
            f'<tr><td><font color="red" point-size="11">{html.escape(name)} '
            f"{html.escape(value.text)}</font></td></tr>"
        )
    label = f'<<table border="0" cellspacing="0" cellpadding="1">{"".join(rows)}</table>>'
    return f"[shape=box, style=rounded, margin=0.1, label={label}, {tooltip}]"


# ---------------------------------------------------------------------- the book's figures


def apple_graph(oranges: bool = False) -> "Graph":
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
) -> "Graph":
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
