"""Pictures of networks and of training: the book's backpropagation figures and its plots.

===============  ============================================================  ==========
module           what it holds                                                 the book
===============  ============================================================  ==========
``recorder``     :func:`record` (a :class:`Recorder`) notes every layer's      chapter 5
                 ``forward`` and ``backward`` call; :func:`apple_graph` and
                 :func:`record_step` record the book's figures
``graph``        :class:`Graph`, what a recording noted, and its drawing as    chapter 5
                 DOT text, SVG or PNG (through Graphviz)
``unrolled``     :func:`record_unrolled`: a recurrent model's training step      sequel 5-8
                 unrolled over a few time steps, as the sequel draws it
                 (:class:`UnrolledGraph`)
``plots``        learning curves, the first layer's filters, misclassified     chapters 4-8
                 images, a confusion matrix, several runs side by side
                 (through matplotlib)
===============  ============================================================  ==========

>>> from layerwise import MulLayer
>>> from layerwise.viz import record
>>> mul = MulLayer()
>>> with record() as graph:
...     price = mul.forward(100, 2)
...     dapple, dcount = mul.backward(1)
>>> [(edge.forward.text, edge.backward.text) for edge in graph.edges()]
[('100', '2'), ('2', '100'), ('200', '1')]

The nodes the book draws, :class:`~layerwise.layers.MulLayer` and
:class:`~layerwise.layers.AddLayer`, are layers like any other, in :mod:`layerwise.layers.nodes`;
this package only watches layers and draws what it saw.
"""

from __future__ import annotations

from typing import Any

from .graph import Call, Drawing, Edge, Graph, GraphvizNotFoundError, Node, Slot, Value
from .plots import (
    plot_confusion,
    plot_filters,
    plot_history,
    plot_misclassified,
    plot_runs,
)
from .recorder import Recorder, apple_graph, record, record_step

#: Names of :mod:`.unrolled`, imported on first use: it imports the sequel's models, which
#: ``import layerwise`` should not pay for.
_UNROLLED = ("Arrow", "StepNode", "UnrolledGraph", "record_unrolled")


def __getattr__(name: str) -> Any:
    if name in _UNROLLED:
        from . import unrolled

        return getattr(unrolled, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Arrow",
    "Call",
    "Drawing",
    "Edge",
    "Graph",
    "GraphvizNotFoundError",
    "Node",
    "Recorder",
    "Slot",
    "StepNode",
    "UnrolledGraph",
    "Value",
    "apple_graph",
    "plot_confusion",
    "plot_filters",
    "plot_history",
    "plot_misclassified",
    "plot_runs",
    "record",
    "record_step",
    "record_unrolled",
]
