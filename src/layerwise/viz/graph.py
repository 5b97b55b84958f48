"""The graph a recording gives, and its drawing as the book's chapter-5 figures.

The book teaches backpropagation with pictures: nodes (``×``, ``+``, then whole layers) joined by
arrows, each forward value written above its arrow and each backward derivative below it in red.
A :class:`Graph` holds what :func:`layerwise.viz.record` noted and draws those pictures.

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

Drawing: :meth:`Graph.to_dot` gives Graphviz DOT text with no dependency; :meth:`Graph.save` and
:meth:`Graph.pipe` render SVG and PNG through Graphviz (``pip install 'layerwise[graphviz]'`` for
the Python binding and ``apt-get install graphviz`` for the ``dot`` program). In Jupyter a graph
shows itself as the picture.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import quiet
from .._types import StrPath
from ..backend import is_cupy_array
from ..container import write_atomic

__all__ = ["Call", "Drawing", "Edge", "Graph", "GraphvizNotFoundError", "Node", "Slot", "Value"]

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
        try:  # a GPU array is summarised on the GPU: only the numbers come to the host
            a = obj if is_cupy_array(obj) else np.asarray(obj)
        except (ValueError, TypeError):  # a ragged list
            return cls(None, type(obj).__name__, None, f"a {type(obj).__name__}")
        if a.dtype.kind not in "biuf":
            return cls(None, str(a.dtype), None, f"a {type(obj).__name__}")
        if a.ndim == 0:
            return cls((), a.dtype.name, a.item(), _number(a.item()))
        if a.size == 0:
            return cls(a.shape, a.dtype.name, None, "empty")
        # Summaries are read, never acted on: inf or NaN in them must not warn.
        with quiet():
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
    source: Node | None  # the node whose output this is; None for an input from outside
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

    tail: Node | str
    head: Node | str
    forward: Value
    backward: Value | None


class Drawing:
    """What every drawing has once it gives DOT text (``to_dot(dpi=None)``): SVG and PNG through
    Graphviz, a file by its extension, and the picture in Jupyter."""

    def to_dot(self, dpi: float | None = None) -> str:
        raise NotImplementedError

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
                f"{type(self).__name__}.save: cannot tell the format of {str(path)!r} from its "
                f"extension; use one of {', '.join(FORMATS)}"
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


class Graph(Drawing):
    """What a :class:`~layerwise.viz.recorder.Recorder` noted, and its drawing.

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
        self._names: dict[int, list[Any]] = {}

    def add_node(self, layer: Any, slots: list[Slot], output: Value) -> Node:
        """Record a forward call of ``layer``: a node named ``Kind<n>`` (``#k`` for its k-th
        call), its input ``slots`` and ``output``; the recorder calls this."""
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

    def add_backward(
        self,
        layer: Any,
        node: Node | None,
        inputs: dict[str, Value],
        returned: Sequence[Value | None],
        grads: dict[str, Value],
    ) -> None:
        """Record a backward call of ``layer`` (``node`` is its forward node, or None): what it
        was given, what it ``returned`` and the parameter ``grads`` it filled in."""
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
    ) -> Graph:
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

    def edges(self) -> list[Edge]:
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

    def to_dot(self, dpi: float | None = None, rankdir: str | None = None) -> str:
        """The drawing as Graphviz DOT text (no dependency).

        Nodes run in forward order: ``×`` and ``+`` as circles, other layers as rounded boxes
        with their parameter gradients in red. Left to right, on each arrow the forward value
        stands above the line and the backward value below it in red, as in the book: the
        arrow passes through a small label whose middle is the arrow's line. Top to bottom,
        the forward value stands left of the arrow and the backward value right of it.

        Parameters
        ----------
        dpi : int, optional
            Resolution for pixel formats (PNG); leave it out for SVG.
        rankdir : {'LR', 'TB'}, optional
            Left to right, or top to bottom. Default: left to right, as the book draws, up
            to :data:`LONG_CHAIN` nodes; top to bottom for longer networks, whose one row
            would be thousands of pixels wide and a few hundred high (a DeepConvNet step).
        """
        if rankdir is None:
            rankdir = "LR" if len(self.nodes) <= LONG_CHAIN else "TB"
        if rankdir not in ("LR", "TB"):
            raise ValueError(f"Graph.to_dot: rankdir must be 'LR' or 'TB', got {rankdir!r}")
        ports = ("m:w", "m:e") if rankdir == "LR" else ("m:n", "m:s")
        ids = {id(node): f"n{i}" for i, node in enumerate(self.nodes)}
        lines = [
            "digraph layerwise {",
            # ordering=in: a node's inputs top to bottom in their order (apple above its count)
            f"  rankdir={rankdir}; ordering=in; ranksep=0.3; nodesep=0.25;",
            '  graph [fontname="Helvetica"' + (f", dpi={int(dpi)}" if dpi else "") + "];",
            '  node [fontname="Helvetica", fontsize=14];',
            "  edge [arrowsize=0.7];",
        ]
        if self.title:
            lines.append(f"  labelloc=t; label={dot_string(self.title)};")
        for node in self.nodes:
            lines.append(f"  {ids[id(node)]} {_node_attributes(node)};")
        for k, edge in enumerate(self.edges()):
            if isinstance(edge.tail, Node):
                tail = ids[id(edge.tail)]
            else:
                tail = f"s{k}"
                lines.append(f"  {tail} [shape=plaintext, label={dot_string(edge.tail)}];")
            if isinstance(edge.head, Node):
                head = ids[id(edge.head)]
            else:
                head = f"o{k}"
                lines.append(f"  {head} [shape=plaintext, label={dot_string(edge.head)}];")
            tip = f"forward {edge.forward}" + (
                f"\nbackward {edge.backward}" if edge.backward is not None else ""
            )
            label = _arrow_label(edge, vertical=rankdir == "TB")
            lines.append(f"  e{k} [shape=plain, label={label}, tooltip={dot_string(tip)}];")
            lines.append(f"  {tail} -> e{k}:{ports[0]} [arrowhead=none, headclip=false];")
            lines.append(f"  e{k}:{ports[1]} -> {head} [tailclip=false];")
        lines.append("}")
        return "\n".join(lines) + "\n"

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


#: Up to this many nodes a graph is drawn left to right, as the book draws; longer ones top to
#: bottom (:meth:`Graph.to_dot`).
LONG_CHAIN = 12


def dot_string(text):
    """A DOT string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _arrow_label(edge, vertical=False):
    """Forward value, the arrow's line (the port ``m`` the two halves attach to), backward value.

    Stacked for a left-to-right drawing; side by side, the line between, for top to bottom.
    """
    backward = (
        ""
        if edge.backward is None
        else (f'<font color="red">{html.escape(edge.backward.text)}</font>')
    )
    if vertical:
        return (
            '<<table border="0" cellspacing="0" cellpadding="1"><tr>'
            f'<td align="right">{html.escape(edge.forward.text)} </td>'
            '<td port="m" width="0" height="24" border="1" sides="l"></td>'
            f'<td align="left"> {backward}</td></tr></table>>'
        )
    return (
        '<<table border="0" cellspacing="0" cellpadding="1">'
        f"<tr><td>{html.escape(edge.forward.text)}</td></tr>"
        '<tr><td port="m" height="0" width="40" border="1" sides="b"></td></tr>'
        f"<tr><td>{backward}</td></tr></table>>"
    )


def _node_attributes(node):
    symbol = getattr(node.layer, "symbol", None)
    tooltip = f"tooltip={dot_string(node.name)}"
    if symbol:  # the book's × and + nodes
        return f"[shape=circle, fixedsize=true, width=0.45, label={dot_string(symbol)}, {tooltip}]"
    rows = [f"<tr><td>{html.escape(node.name)}</td></tr>"]
    for name, value in node.grads.items():
        rows.append(
            f'<tr><td><font color="red" point-size="11">{html.escape(name)} '
            f"{html.escape(value.text)}</font></td></tr>"
        )
    label = f'<<table border="0" cellspacing="0" cellpadding="1">{"".join(rows)}</table>>'
    return f"[shape=box, style=rounded, margin=0.1, label={label}, {tooltip}]"
