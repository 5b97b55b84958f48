"""A recurrent model's training step unrolled over a few time steps, as the sequel draws it.

The sequel's figures of chapters 5-8 draw a recurrent network unrolled in time: at each step
``t`` the word ``x_t`` goes up through Embedding, RNN (or LSTM), Affine and Softmax with Loss
to ``L_t``; the state ``h_t`` (and the LSTM's ``c_t``) goes right, to the next step; the
losses are averaged into ``L``; the gradients come back down and from right to left
(``dh_next``, ``dc_next``); the weights are one set, used by every step, and their gradient is
the sum of the steps' gradients.

:func:`record_unrolled` draws exactly that, from real calls:

1. the model's own ``forward(xs, ts)`` and ``backward()`` run once (a training step, without the
   update);
2. the model is then run again as the sequel's code writes its time layers, one layer object
   per step: :class:`~layerwise.sequel.Embedding`, :class:`~layerwise.sequel.LSTM` (or
   ``RNN``, ``GRU``), :class:`~layerwise.sequel.Affine`,
   :class:`~layerwise.sequel.SoftmaxWithLoss`, :class:`~layerwise.sequel.Attention`, each
   built on the model's own weight arrays (shared, not copied); every drawn node is one such
   call and every arrow an array passed from one call to the next. The backward pass calls
   each step's ``backward`` in reverse order; where an output fed two calls (``h_t`` to
   the layer above and to the next step) their two gradients are added, the book's branch
   node;
3. the unrolled loss and, for every weight, the sum of its steps' gradients are checked
   against the model's own (step 1): a drawing that is not the model's maths raises.

The model's time layers compute all T steps at once (:mod:`layerwise.sequel.time_layers`);
the per-step layers are the same functions with T = 1, so step 3 is also a check of one
against the other. Small pieces that are not layers join the steps: ``concat`` (the peeky
and attention decoders' ``[h, x]``), ``hs`` (the encoder's states stacked for attention),
``mean`` (the loss ``L = (L_1 + ... + L_T) / T``) and ``Dropout`` (the model's own mask of
the step, ``x * mask / (1 - p)``).

>>> import numpy as np
>>> from layerwise.sequel.rnnlm import Rnnlm
>>> from layerwise.viz import record_unrolled
>>> model = Rnnlm(vocab_size=6, wordvec_size=3, hidden_size=4, seed=0, dtype=np.float64)
>>> ids = np.array([[0, 1, 2, 3], [2, 3, 4, 5]])
>>> graph = record_unrolled(model, ids[:, :-1], ids[:, 1:], steps=3)
>>> [node.name for node in graph.nodes if node.step == 2 and node.kind == "layer"]
['Embedding', 'LSTM', 'Affine', 'Softmax with Loss']
>>> [(a.name, a.tail.step, a.head.step) for a in graph.arrows if a.kind == "state"]
[('h0', 0, 1), ('c0', 0, 1), ('h1', 1, 2), ('c1', 1, 2), ('h2', 2, 3), ('c2', 2, 3)]
"""

from __future__ import annotations

import html
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..sequel.attention import Attention, AttentionDecoder
from ..sequel.base_model import LayerStack
from ..sequel.layers import Affine, Embedding, SoftmaxWithLoss
from ..sequel.seq2seq import PeekyDecoder, Seq2seq
from ..sequel.time_layers import (
    GRU,
    LSTM,
    RNN,
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)
from .graph import Drawing, Value, dot_string

__all__ = ["Arrow", "StepNode", "UnrolledGraph", "record_unrolled"]


# ---------------------------------------------------------------------- what is drawn


@dataclass(eq=False)
class StepNode:
    """One node of an unrolled drawing.

    Attributes
    ----------
    name : str
        ``LSTM``, ``Embedding``, ...; for inputs and outputs the value's name (``x1``, ``L``);
        for weights the layer's name and its parameters.
    kind : {'layer', 'op', 'weights', 'input', 'output'}
        A per-step layer call, a small joining piece (``concat``, ``hs``, ``mean``), the shared
        weights of one time layer, an input from outside, an output.
    step : int or None
        The time step, 1 to T (0: the state the first step starts from); None for nodes
        outside the steps (weights, ``hs``, ``mean``).
    part : str
        ``'encoder'``, ``'decoder'`` or ``''`` (a language model).
    row : str
        The time layer the node unrolls (the nodes of one row are drawn side by side).
    layer : object or None
        The per-step layer (or piece) whose call this is.
    grads : dict of str to Value
        Its parameter gradients; for a weights node, their sums over the steps.
    note : str
        For a weights node, an array it shares with another (weight tying), else ``''``.
    """

    name: str
    kind: str
    step: int | None = None
    part: str = ""
    row: str = ""
    layer: Any = None
    grads: dict = field(default_factory=dict)
    note: str = ""


@dataclass(eq=False)
class Arrow:
    """An array passed from ``tail`` to ``head``, named ``name`` (``h1``).

    ``forward`` and ``backward`` describe what went forward and the gradient that came back
    along the arrow (None: none, as for word ids) as :class:`~layerwise.viz.graph.Value`;
    ``value`` and ``grad`` are those arrays themselves. ``kind``: ``'data'`` up a step,
    ``'state'`` into a recurrent cell's ``h_prev``/``c_prev``, ``'weights'`` from the shared
    weights to a step. Where an output feeds two arrows (``h_t`` up and to the next step), the
    gradient reaching it is the sum of their ``grad``.
    """

    tail: StepNode
    head: StepNode
    name: str
    forward: Value | None
    backward: Value | None = None
    kind: str = "data"
    value: Any = field(default=None, repr=False)
    grad: Any = field(default=None, repr=False)


class UnrolledGraph(Drawing):
    """The unrolled step :func:`record_unrolled` recorded, and its drawing.

    Attributes
    ----------
    nodes : list of StepNode
        In the order the forward calls happened (inputs and weights where first used).
    arrows : list of Arrow
    loss : float
        The loss of the recorded step (the model's own).
    title : str or None
    """

    def __init__(self, title: str | None = None) -> None:
        self.nodes: list[StepNode] = []
        self.arrows: list[Arrow] = []
        self.loss = float("nan")
        self.title = title
        self._flat_xlabels = False

    def pipe(self, format: str) -> bytes:
        """The drawing rendered by Graphviz (see :meth:`Drawing.pipe`).

        Graphviz 2.43 sometimes fails on labelled arrows within one rank ("lost edge", the
        peeky decoder's); the drawing is then made again with those labels as ``xlabel``,
        placed after the layout.
        """
        try:
            return super().pipe(format)
        except subprocess.CalledProcessError:
            self._flat_xlabels = True
            try:
                return super().pipe(format)
            finally:
                self._flat_xlabels = False

    def to_dot(self, dpi: float | None = None) -> str:
        """Graphviz DOT text: the steps as columns from left to right, each step bottom to top.

        Each time layer is one row (its T nodes side by side, the state arrows between them);
        forward values are written in black, the gradient coming back along the same arrow in
        red below it; the weights are dashed notes whose red lines are the summed gradients.
        """
        ids = {id(node): f"n{i}" for i, node in enumerate(self.nodes)}
        lines = [
            "digraph unrolled {",
            "  rankdir=BT; newrank=true; forcelabels=true; ranksep=0.35; nodesep=0.3;",
            '  graph [fontname="Helvetica"' + (f", dpi={int(dpi)}" if dpi else "") + "];",
            '  node [fontname="Helvetica", fontsize=13];',
            '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7];',
        ]
        if self.title:
            lines.append(f"  labelloc=t; label={dot_string(self.title)};")
        for node in self.nodes:
            # one group per column: Graphviz keeps a group's arrows straight
            column = "weights" if node.kind == "weights" else node.step
            group = f", group={node.part or 'x'}{column}" if column else ""
            fed = sum(a.tail is node for a in self.arrows)  # a weights node: its steps
            lines.append(f"  {ids[id(node)]} {_node_attributes(node, fed)[:-1]}{group}];")
        rows: dict[str, list[StepNode]] = {}
        for node in self.nodes:
            if node.row and (node.kind != "op" or node.step is not None):
                rows.setdefault(node.row, []).append(node)
        for node in self.nodes:  # a carried state goes out on the right of its row
            if node.kind == "output" and node.step is not None and node.name != "L":
                tail = next(a.tail for a in self.arrows if a.head is node)
                rows[tail.row].append(node)
        rank_of: dict[int, int] = {}
        for k, row in enumerate(_same_ranks(rows)):
            row = sorted(row, key=_column)
            rank_of.update((id(n), k) for n in row)
            lines.append("  { rank=same; " + " ".join(ids[id(n)] for n in row) + "; }")
            # invisible arrows keep the steps in order from left to right
            for a, b in zip(row, row[1:], strict=False):
                lines.append(f"  {ids[id(a)]} -> {ids[id(b)]} [style=invis];")
        for arrow in self.arrows:
            tail, head = ids[id(arrow.tail)], ids[id(arrow.head)]
            flat = rank_of.get(id(arrow.tail), -1) == rank_of.get(id(arrow.head), -2)
            xlabel = flat and self._flat_xlabels
            lines.append(f"  {tail} -> {head} [{_arrow_attributes(arrow, xlabel)}];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        """The arrows in forward order: name, from, to, forward value, backward value."""
        lines = [f"loss {self.loss:.6g}"]
        for arrow in self.arrows:
            back = "" if arrow.backward is None else f"   back {arrow.backward}"
            value = "" if arrow.forward is None else f"  {arrow.forward}"
            lines.append(
                f"{arrow.name or arrow.kind:>8}  {_where(arrow.tail)} -> {_where(arrow.head)}"
                f"{value}{back}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        steps = max((n.step for n in self.nodes if n.step is not None), default=0)
        return (
            f"<UnrolledGraph: {len(self.nodes)} nodes over {steps} steps, {len(self.arrows)} "
            "arrows; print() lists them, .save('graph.svg') draws them>"
        )


def _where(node: StepNode) -> str:
    part = f"{node.part} " if node.part else ""
    step = f"@{node.step}" if node.step is not None else ""
    return f"{part}{node.name}{step}"


def _column(node: StepNode) -> tuple[int, int, int, int]:
    """Left to right: the encoder, then the decoder; in each, its weights, then the steps,
    each step's layer before its labels."""
    return (node.part == "decoder", node.kind != "weights", node.step or 0, node.kind == "input")


def _same_ranks(rows: dict[str, list[StepNode]]) -> list[list[StepNode]]:
    """The rows, the encoder's and the decoder's first rows joined while they are the same
    layers (the sequel draws the two side by side, the encoder's last state flowing right
    into the decoder); a peeky decoder's rows stay apart, above the encoder's last state."""
    parts: dict[str, list[str]] = {}
    for key in rows:
        parts.setdefault(key.split(":", 1)[0], []).append(key)
    encoder, decoder = parts.get("encoder", []), parts.get("decoder", [])
    joined = {}
    for a, b in zip(encoder, decoder, strict=False):
        if a.split(":", 1)[1] != b.split(":", 1)[1]:
            break
        joined[b] = a
    merged: dict[str, list[StepNode]] = {}
    for key, nodes in rows.items():
        merged.setdefault(joined.get(key, key), []).extend(nodes)
    return list(merged.values())


def _text(text: str) -> str:
    """Text for a Graphviz HTML label (``<``, ``>``, ``&`` escaped; quotes left as they are)."""
    return html.escape(text, quote=False)


def _node_attributes(node: StepNode, fed: int = 0) -> str:
    tooltip = f"tooltip={dot_string(_where(node))}"
    if node.kind == "input":
        return f"[shape=plaintext, label={dot_string(node.name)}, fontsize=12, {tooltip}]"
    if node.kind == "output":
        return f"[shape=plaintext, label={dot_string(node.name)}, {tooltip}]"
    if node.kind == "op":
        return (
            f'[shape=ellipse, margin="0.05,0.02", fontsize=11, label={dot_string(node.name)}, '
            f"{tooltip}]"
        )
    if node.kind == "weights":
        layer = node.layer
        shapes = "  ".join(
            f"{n} {p.shape}" for n, p in zip(layer.param_names, layer.params, strict=True)
        )
        grads = ", ".join(node.grads)
        rows = [
            f"<tr><td>{_text(node.name)}: {_text(shapes)}</td></tr>",
            f'<tr><td><font color="red" point-size="10">{_text(grads)}: sums over the '
            f"{fed} steps</font></td></tr>",
        ]
        if node.note:
            rows.insert(
                1,
                f'<tr><td><font point-size="10">{_text(node.note)}</font></td></tr>',
            )
        label = f'<<table border="0" cellspacing="0" cellpadding="1">{"".join(rows)}</table>>'
        return f"[shape=note, style=dashed, color=gray40, fontsize=11, label={label}, {tooltip}]"
    return f"[shape=box, style=rounded, label={dot_string(node.name)}, {tooltip}]"


def _arrow_attributes(arrow: Arrow, xlabel: bool = False) -> str:
    tip = f"{arrow.name}: forward {arrow.forward}" + (
        f"; backward {arrow.backward}" if arrow.backward is not None else ""
    )
    if arrow.kind == "weights":
        # no constraint: the weights stay beside their row instead of taking a rank of their own
        return f"style=dashed, color=gray50, constraint=false, tooltip={dot_string(tip)}"
    # an input's name is written at its tail already; the loss's gradient is 1, as in the book
    forward = "" if arrow.tail.kind == "input" else _text(arrow.name)
    if arrow.backward is None:
        back = ""
    else:
        text = arrow.backward.text if arrow.head.kind == "output" else f"d{arrow.name}"
        back = f'<font color="red">{_text(text)}</font>'
    label = f"<{forward}<br/>{back}>" if forward and back else f"<{forward or back}>"
    return f"{'xlabel' if xlabel else 'label'}={label}, tooltip={dot_string(tip)}"


# ---------------------------------------------------------------------- the recording


@dataclass(frozen=True)
class _Ref:
    """An output of a recorded call: the node, which of its outputs, its name and array."""

    node: StepNode
    index: int
    name: str
    array: Any


class _Tape:
    """Calls per-step layers, draws each call as a node and each passed array as an arrow,
    then runs their backward passes in reverse, adding the gradients of a branched output."""

    def __init__(self) -> None:
        self.graph = UnrolledGraph()
        # (node, layer, inputs as _Ref or a constant array, its outputs)
        self._calls: list[tuple[StepNode, Any, list[Any], tuple[Any, ...]]] = []
        self._links: list[tuple[_Ref, Arrow]] = []
        self._grads_in: dict[tuple[int, int], list[Any]] = {}  # (id(node), index) -> grads
        # id(parameter array) -> (the array, the sum of the steps' gradients of it)
        self.grad_sums: dict[int, tuple[Any, Any]] = {}
        self.loss: Any = None  # the unrolled steps' L

    def _node(self, node: StepNode) -> StepNode:
        self.graph.nodes.append(node)
        return node

    def input(
        self, name: str, array: Any, part: str = "", step: int | None = None, row: str = ""
    ) -> _Ref:
        """An array from outside, drawn as its name (in ``row``: beside that row's nodes)."""
        node = self._node(StepNode(name, "input", step, part, row))
        return _Ref(node, 0, name, array)

    def weights(self, time_layer: Any, name: str, part: str, row: str) -> StepNode:
        """One node for the weights of ``time_layer``, which each of its steps reads; its note
        names an array it shares with earlier weights (BetterRnnlm's Affine W = embedding W^T)."""
        node = StepNode(name, "weights", None, part, row, time_layer)
        for other in self.graph.nodes:
            if other.kind != "weights":
                continue
            for mine, p in zip(time_layer.param_names, time_layer.params, strict=True):
                for theirs, q in zip(other.layer.param_names, other.layer.params, strict=True):
                    if np.shares_memory(p, q):
                        transposed = "^T" if p.shape != q.shape else ""
                        node.note = f"{mine} = {other.name}'s {theirs}{transposed} (tied)"
        return self._node(node)

    def call(
        self,
        layer: Any,
        name: str,
        inputs: Sequence[Any],
        out_names: Sequence[str],
        *,
        step: int | None,
        part: str,
        row: str,
        kind: str = "layer",
        weights: StepNode | None = None,
        state_from: int | None = None,
    ) -> tuple[_Ref, ...]:
        """Call ``layer.forward`` on the inputs (a :class:`_Ref` is drawn as an arrow, an array
        is a constant such as a dropout mask); one :class:`_Ref` per output. The inputs from
        position ``state_from`` on are a recurrent cell's state (``h_prev``, ``c_prev``)."""
        node = self._node(StepNode(name, kind, step, part, row, layer))
        arrays = [x.array if isinstance(x, _Ref) else x for x in inputs]
        result = layer.forward(*arrays)
        outputs = result if isinstance(result, tuple) else (result,)
        for i, x in enumerate(inputs):
            if isinstance(x, _Ref):
                state = state_from is not None and i >= state_from
                kind_ = "state" if state else "data"
                arrow = Arrow(x.node, node, x.name, Value.of(x.array), kind=kind_, value=x.array)
                self.graph.arrows.append(arrow)
                self._links.append((x, arrow))
        if weights is not None:
            self.graph.arrows.append(Arrow(weights, node, "", None, kind="weights"))
        self._calls.append((node, layer, list(inputs), outputs))
        named = zip(out_names, outputs, strict=True)
        return tuple(_Ref(node, k, n, out) for k, (n, out) in enumerate(named))

    def output(self, name: str, refs: Sequence[_Ref], dout: Any = None) -> None:
        """Draw ``refs`` going out to ``name``; ``dout`` is what comes back (None: nothing)."""
        node = self._node(StepNode(name, "output", refs[0].node.step, refs[0].node.part))
        for ref in refs:
            arrow = Arrow(ref.node, node, ref.name, Value.of(ref.array), value=ref.array)
            if dout is not None:
                arrow.backward, arrow.grad = Value.of(dout), dout
                self._grads_in.setdefault((id(ref.node), ref.index), []).append(dout)
            self.graph.arrows.append(arrow)

    def backward(self) -> None:
        """Every call's backward, last call first, given the sum of its outputs' gradients
        (zeros for an output nothing read); a weights node gets the sums of its steps'."""
        arrows: dict[tuple[int, int, int], Arrow] = {}  # (id(tail), index, id(head))
        for ref, arrow in self._links:
            arrows[id(ref.node), ref.index, id(arrow.head)] = arrow
        for node, layer, inputs, outputs in reversed(self._calls):
            douts = []
            for k, out in enumerate(outputs):
                grads = self._grads_in.get((id(node), k))
                douts.append(np.zeros_like(out) if not grads else sum(grads[1:], grads[0]))
            result = layer.backward(*douts)
            returned = result if isinstance(result, tuple) else (result,)
            for x, dx in zip(inputs, returned, strict=False):
                if isinstance(x, _Ref) and dx is not None:
                    self._grads_in.setdefault((id(x.node), x.index), []).append(dx)
                    arrow = arrows[id(x.node), x.index, id(node)]
                    arrow.backward, arrow.grad = Value.of(dx), dx
            names = getattr(layer, "param_names", ())  # the joining pieces have none
            params, grads = getattr(layer, "params", ()), getattr(layer, "grads", ())
            for name, param, grad in zip(names, params, grads, strict=True):
                node.grads["d" + name] = Value.of(grad)
                held = self.grad_sums.get(id(param))
                self.grad_sums[id(param)] = (param, grad.copy() if held is None else held[1] + grad)
        for weights in self.graph.nodes:
            if weights.kind == "weights":
                layer = weights.layer
                weights.grads = {
                    "d" + name: Value.of(self.grad_sums[id(param)][1])
                    for name, param in zip(layer.param_names, layer.params, strict=True)
                }


# ---------------------------------------------------------------------- small joining pieces


class _Concat:
    """``[a, b]`` along the last axis; backward splits the gradient back."""

    def forward(self, *xs: Any) -> Any:
        self.widths = np.cumsum([x.shape[-1] for x in xs])[:-1]
        return np.concatenate(xs, axis=-1)

    def backward(self, dout: Any) -> tuple[Any, ...]:
        return tuple(np.split(dout, self.widths, axis=-1))


class _Stack:
    """The encoder's states ``h_1 .. h_T`` as ``hs`` (N, T, H); backward gives each its slice."""

    def forward(self, *hs: Any) -> Any:
        return np.stack(hs, axis=1)

    def backward(self, dhs: Any) -> tuple[Any, ...]:
        return tuple(dhs[:, t] for t in range(dhs.shape[1]))


class _Mean:
    """``L = (L_1 + ... + L_T) / T``: TimeSoftmaxWithLoss's mean over N T entries, written as
    the mean over the steps of each step's mean over N (equal when every label counts)."""

    def forward(self, *losses: Any) -> Any:
        self.count = len(losses)
        return sum(losses[1:], losses[0]) / self.count

    def backward(self, dout: Any = 1.0) -> tuple[Any, ...]:
        return (dout / self.count,) * self.count


class _Mask:
    """One step of the model's TimeDropout: ``x * mask * scale`` with the mask the model drew."""

    def forward(self, x: Any, mask_scale: Any) -> Any:
        self.mask_scale = mask_scale
        return x * mask_scale

    def backward(self, dout: Any) -> tuple[Any, None]:
        return dout * self.mask_scale, None


# ---------------------------------------------------------------------- the time layers, unrolled

#: The one-step cell of each recurrent time layer.
CELLS = {TimeRNN: RNN, TimeLSTM: LSTM, TimeGRU: GRU}


class _Unrolling:
    """The per-step calls of one model's (or one encoder's, one decoder's) time layers."""

    def __init__(self, tape: _Tape, part: str = "", start_in_row: bool = True) -> None:
        self.tape = tape
        self.part = part
        self.start_in_row = start_in_row  # draw h0 (c0) left of the first step, in its row
        self._seen: dict[str, int] = {}

    def row(self, name: str) -> str:
        """A new row's key: the encoder's and the decoder's k-th row of one kind line up."""
        self._seen[name] = self._seen.get(name, 0) + 1
        return f"{self.part}:{name}#{self._seen[name]}"

    def call(
        self,
        layer: Any,
        name: str,
        inputs: Sequence[Any],
        out_names: Sequence[str],
        t: int | None,
        row: str,
        weights: StepNode | None = None,
        **how: Any,
    ) -> tuple[_Ref, ...]:
        """:meth:`_Tape.call` for step ``t`` of this part (``how``: ``kind``, ``state_from``)."""
        return self.tape.call(
            layer, name, inputs, out_names, step=t, part=self.part, row=row, weights=weights, **how
        )

    def ids(self, ids: np.ndarray, letter: str) -> list[_Ref]:
        """Word ids, one input per step (they get no gradient)."""
        return [
            self.tape.input(f"{letter}{t}", ids[:, t - 1], self.part, t)
            for t in range(1, ids.shape[1] + 1)
        ]

    def embedding(self, layer: TimeEmbedding, xs: list[_Ref]) -> list[_Ref]:
        row = self.row("Embedding")
        weights = self.tape.weights(layer, "Embedding", self.part, row)
        return [
            self.call(Embedding(*layer.params), "Embedding", [x], [f"e{t}"], t, row, weights)[0]
            for t, x in enumerate(xs, start=1)
        ]

    def recurrent(
        self, layer: Any, xs: list[_Ref], start: list[_Ref]
    ) -> tuple[list[_Ref], list[_Ref]]:
        """T calls of the layer's one-step cell from the state ``start`` ([h0] or [h0, c0]);
        returns every step's ``h`` and the last state."""
        cell = CELLS[type(layer)]
        name = cell.__name__
        row = self.row(name)
        weights = self.tape.weights(layer, name, self.part, row)
        for ref in start:  # the start state comes in from the left of the row
            if ref.node.kind == "input" and self.start_in_row:
                ref.node.row = row
        state, hs = start, []
        for t, x in enumerate(xs, start=1):
            out_names = [f"{n}{t}" for n in layer.state_names]
            step = cell(*layer.params)
            state = list(
                self.call(step, name, [x, *state], out_names, t, row, weights, state_from=1)
            )
            hs.append(state[0])
        return hs, state

    def affine(self, layer: TimeAffine, xs: list[_Ref]) -> list[_Ref]:
        row = self.row("Affine")
        weights = self.tape.weights(layer, "Affine", self.part, row)
        return [
            self.call(Affine(*layer.params), "Affine", [x], [f"s{t}"], t, row, weights)[0]
            for t, x in enumerate(xs, start=1)
        ]

    def dropout(self, layer: TimeDropout, xs: list[_Ref]) -> list[_Ref]:
        if layer.mask is None:  # inference: the layer passed its input through
            return xs
        row = self.row("Dropout")
        scale = 1 / (1 - layer.dropout_ratio)  # inverted dropout, as TimeDropout
        return [
            self.call(
                _Mask(),
                "Dropout",
                [x, (layer.mask[:, t - 1] * scale).astype(x.array.dtype)],
                [f"{x.name}'"],
                t,
                row,
            )[0]
            for t, x in enumerate(xs, start=1)
        ]

    def concat(self, pairs: list[tuple[_Ref, _Ref]], names: Sequence[str]) -> list[_Ref]:
        row = self.row("concat")
        return [
            self.call(_Concat(), "concat", list(pair), [name], t, row, kind="op")[0]
            for t, (pair, name) in enumerate(zip(pairs, names, strict=True), start=1)
        ]

    def losses(self, layer: Any, scores: list[_Ref], ts: np.ndarray) -> None:
        """Softmax with Loss at every step, then their mean ``L``, whose gradient is 1."""
        if not isinstance(layer, TimeSoftmaxWithLoss):
            raise TypeError(f"record_unrolled: cannot unroll the loss {type(layer).__name__}")
        row = self.row("Softmax with Loss")
        losses = [
            self.call(
                SoftmaxWithLoss(),
                "Softmax with Loss",
                [score, self.tape.input(f"t{t}", ts[:, t - 1], self.part, t, row)],
                [f"L{t}"],
                t,
                row,
            )[0]
            for t, score in enumerate(scores, start=1)
        ]
        (loss,) = self.call(_Mean(), "mean", losses, ["L"], None, "loss", kind="op")
        self.tape.output("L", [loss], dout=1.0)
        self.tape.loss = loss.array


def _carried(layer: Any) -> dict[str, Any]:
    """Copies of a recurrent layer's carried state (``h``, ``c``), None where it has none."""
    return {
        name: None if getattr(layer, name) is None else np.array(getattr(layer, name), copy=True)
        for name in getattr(layer, "state_names", ())
    }


def _start(u: _Unrolling, layer: Any, carried: dict[str, Any], n: int) -> list[_Ref]:
    """The state the layer started the model's step from, one input ``h0`` (``h0, c0``): the
    carried state when stateful, else zeros (as the time layers do)."""
    values = []
    for name in layer.state_names:
        value = carried.get(name)
        if not layer.stateful or value is None:
            value = np.zeros((n, layer.hidden_size), layer.params[0].dtype)
        values.append(value)
    names = [f"{name}0" for name in layer.state_names]
    node = u.tape.input(", ".join(names), values[0], u.part, 0).node
    return [
        _Ref(node, k, name, value)
        for k, (name, value) in enumerate(zip(names, values, strict=True))
    ]


def _unroll_stack(
    tape: _Tape, model: LayerStack, xs: np.ndarray, ts: np.ndarray, carried: list[dict]
) -> None:
    """A language model (SimpleRnnlm, Rnnlm, BetterRnnlm): its layers in order, then the loss."""
    u = _Unrolling(tape)
    flow = u.ids(xs, "x")
    for layer, state in zip(model.layers, carried, strict=True):
        if isinstance(layer, TimeEmbedding):
            flow = u.embedding(layer, flow)
        elif type(layer) in CELLS:
            flow, last = u.recurrent(layer, flow, _start(u, layer, state, len(xs)))
            if layer.stateful:  # carried to the next batch: truncated BPTT, no gradient back
                tape.output("next batch", last)
        elif isinstance(layer, TimeAffine):
            flow = u.affine(layer, flow)
        elif isinstance(layer, TimeDropout):
            flow = u.dropout(layer, flow)
        else:
            raise TypeError(f"record_unrolled: cannot unroll {type(layer).__name__}")
    u.losses(model.loss_layer, flow, ts)


def _unroll_seq2seq(tape: _Tape, model: Seq2seq, xs: np.ndarray, ts: np.ndarray) -> None:
    """Encoder then decoder (chapters 7 and 8): the encoder's last ``h`` starts the decoder;
    a peeky decoder also gives it to every step, an attention decoder reads all of ``hs``."""
    encoder, decoder, n = model.encoder, model.decoder, len(xs)
    # A peeky decoder's h crosses every row on its way up; Graphviz 2.43 then loses arrows
    # within a row, so its start states are drawn below the rows.
    peeky = isinstance(decoder, PeekyDecoder)
    enc = _Unrolling(tape, "encoder", start_in_row=not peeky)
    enc_hs, (h, _) = enc.recurrent(
        encoder.lstm,
        enc.embedding(encoder.embed, enc.ids(xs, "x")),
        _start(enc, encoder.lstm, {}, n),
    )
    dec = _Unrolling(tape, "decoder", start_in_row=not peeky)
    inputs = dec.embedding(decoder.embed, dec.ids(ts[:, :-1], "y"))
    if peeky:
        names = [f"[h,e{t}]" for t in range(1, len(inputs) + 1)]
        inputs = dec.concat([(h, e) for e in inputs], names)
    # the decoder's c starts from zeros, its h from the encoder's (set_state(h))
    c0 = tape.input("c0", np.zeros_like(h.array), "decoder", 0)
    dec_hs, _ = dec.recurrent(decoder.lstm, inputs, [h, c0])
    steps = range(1, len(dec_hs) + 1)
    if isinstance(decoder, AttentionDecoder):
        (hs,) = tape.call(
            _Stack(), "hs", enc_hs, ["hs"], step=None, part="encoder", row="hs", kind="op"
        )
        row = dec.row("Attention")
        contexts = [
            dec.call(Attention(), "Attention", [hs, h_t], [f"ctx{t}"], t, row)[0]
            for t, h_t in zip(steps, dec_hs, strict=True)
        ]
        pairs = list(zip(contexts, dec_hs, strict=True))
        dec_hs = dec.concat(pairs, [f"[ctx{t},h{t}]" for t in steps])
    elif peeky:
        dec_hs = dec.concat([(h, h_t) for h_t in dec_hs], [f"[h,h{t}]" for t in steps])
    dec.losses(model.softmax, dec.affine(decoder.affine, dec_hs), ts[:, 1:])


# ---------------------------------------------------------------------- the public function


def record_unrolled(
    model: Any, xs: npt.ArrayLike, ts: npt.ArrayLike, steps: int = 3, title: str | None = None
) -> UnrolledGraph:
    """Record one training step of a recurrent model, unrolled over ``steps`` time steps.

    Parameters
    ----------
    model : SimpleRnnlm, Rnnlm, BetterRnnlm, Seq2seq, PeekySeq2seq or AttentionSeq2seq
        Or any :class:`~layerwise.sequel.base_model.LayerStack` of TimeEmbedding, TimeRNN,
        TimeLSTM, TimeGRU, TimeDropout and TimeAffine layers with a TimeSoftmaxWithLoss.
    xs, ts : array_like of int
        A language model's inputs and next words, (N, T) each; a seq2seq model's questions
        (N, Tq) and answers (N, Ta) starting with the start symbol. Only the first ``steps``
        time steps are used (the first ``steps + 1`` ids of a seq2seq answer).
    steps : int
        How many time steps to draw, at least 1.
    title : str, optional

    Returns
    -------
    UnrolledGraph

    The model's ``forward(xs, ts)`` and ``backward()`` run once: its ``grads`` hold that
    step's gradients afterwards, as after a training step; its carried recurrent state and its
    dropout generators are put back as they were, so a training run is not moved on.

    Raises
    ------
    TypeError
        For a model or a layer this function cannot unroll (named).
    ValueError
        For ``steps`` below 1, ``xs``/``ts`` of the wrong shape, or parameters that hold NaN
        or Inf (the first is named).
    RuntimeError
        When the unrolled steps do not reproduce the model's own loss and gradients (the
        drawing would not be the model's maths).
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"record_unrolled: steps must be an integer >= 1, got {steps!r}")
    xs, ts = np.asarray(xs), np.asarray(ts)
    name = type(model).__name__
    if isinstance(model, LayerStack):
        if xs.ndim == ts.ndim == 2:  # else refused below, with the shapes as given
            xs, ts = xs[:, :steps], ts[:, :steps]
        if xs.shape != ts.shape or xs.ndim != 2:
            raise ValueError(
                f"record_unrolled: {name} expects word ids xs and next words ts of one shape "
                f"(N, T), got {np.shape(xs)} and {np.shape(ts)}"
            )
        layers: list[Any] = list(model.layers)
    elif isinstance(model, Seq2seq):
        if xs.ndim == ts.ndim == 2:
            xs, ts = xs[:, :steps], ts[:, : steps + 1]
        if xs.ndim != 2 or ts.ndim != 2 or len(xs) != len(ts) or ts.shape[1] < 2:
            raise ValueError(
                f"record_unrolled: {name} expects questions xs (N, Tq) and answers ts (N, Ta) "
                f"with Ta >= 2 (the start symbol first), got {np.shape(xs)} and {np.shape(ts)}"
            )
        layers = [model.encoder.lstm, model.decoder.lstm]
    else:
        raise TypeError(
            f"record_unrolled: cannot unroll a {name}; it draws the sequel's SimpleRnnlm, "
            "Rnnlm, BetterRnnlm (or another LayerStack of time layers), Seq2seq, PeekySeq2seq "
            "and AttentionSeq2seq"
        )
    for layer in layers:
        if hasattr(layer, "state_names") and type(layer) not in CELLS:
            raise TypeError(f"record_unrolled: cannot unroll {type(layer).__name__}")
    _check_finite(model, name)
    carried = [_carried(layer) for layer in layers]
    generators = model.rng_states() if hasattr(model, "rng_states") else None
    try:
        loss = model.forward(xs, ts)  # the model's own step, to check the drawing against
        model.backward()
        tape = _Tape()
        if isinstance(model, LayerStack):
            _unroll_stack(tape, model, xs, ts, carried)
        else:
            _unroll_seq2seq(tape, model, xs, ts)
        tape.backward()
    finally:
        for layer, state in zip(layers, carried, strict=True):
            for key, value in state.items():
                setattr(layer, key, value)
        if generators is not None:
            model.set_rng_states(generators)
    graph = tape.graph
    _check(model, tape, loss, name)
    graph.loss = float(loss)
    graph.title = title
    return graph


def _check_finite(model: Any, name: str) -> None:
    """Refuse parameters that hold NaN or Inf, naming the first such one.

    Their step's loss and gradients are NaN, which no drawing can be checked against: without
    this, :func:`_check` would blame the unrolling for the model's weights.
    """
    for i, param in enumerate(model.params):
        if not np.isfinite(param).all():
            raise ValueError(
                f"record_unrolled: {name}'s parameters hold NaN or Inf, the first params[{i}] "
                f"{param.shape}: a step of it has no loss or gradients to draw"
            )


def _check(model: Any, tape: _Tape, loss: Any, name: str) -> None:
    """The unrolled steps' loss and summed gradients against the model's own."""
    unrolled_loss = float(tape.loss)
    dtype = model.params[0].dtype
    # one summation order against another: float64 agrees to 1e-9, float32 to 1e-4, and
    # float16 (the sequel's weight files) to a few of its 3 digits
    rtol, atol = {8: (1e-9, 1e-12), 4: (1e-4, 1e-6)}.get(dtype.itemsize, (5e-2, 1e-3))
    problems = []
    if not np.isclose(unrolled_loss, float(loss), rtol=rtol, atol=atol):
        problems.append(f"loss {unrolled_loss:.8g}, the model's {float(loss):.8g}")
    for i, (param, grad) in enumerate(zip(model.params, model.grads, strict=True)):
        mine = tape.grad_sums.get(id(param), (None, None))[1]
        if mine is None:
            problems.append(f"params[{i}] {param.shape} is used by no step")
        elif not np.allclose(mine, grad, rtol=rtol, atol=atol):
            worst = float(np.max(np.abs(mine - grad)))
            problems.append(f"gradient of params[{i}] {param.shape} differs by up to {worst:.3g}")
    if problems:
        raise RuntimeError(
            f"record_unrolled: the unrolled steps do not reproduce {name}'s own step: "
            + "; ".join(problems)
        )
