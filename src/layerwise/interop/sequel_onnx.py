"""A sequel language model's step as ONNX: :func:`sequel_to_onnx`, reached by ``to_onnx``.

One step is one ``predict`` call: word ids in, scores and the recurrent state out, the state
given back as input to the next step (the sequel's stateful layers, made explicit).

========================================  ==================================================
``layerwise.sequel``                      ONNX operators (time-major inside)
========================================  ==================================================
``TimeEmbedding(W)``                      ``Gather(W, xs)``, then ``Transpose`` to (T, N, D)
``TimeLSTM(Wx, Wh, b)``                   ``LSTM``: gate blocks f, g, i, o reordered to
                                          ONNX's i, o, f, c; ``W = Wx.T``, ``R = Wh.T``,
                                          ``B = [b, 0]``; ``Squeeze`` of its direction axis
``TimeRNN(Wx, Wh, b)``                    ``RNN`` (Tanh), the same without reordering
``TimeAffine(W, b)``                      ``MatMul`` + ``Add``, then ``Transpose`` back
``TimeDropout``                           nothing: inverted dropout is the identity at
                                          inference
========================================  ==================================================

The recurrent operators take the time-major layout (``layout=0``), the one onnxruntime runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_flag
from .._types import StrPath
from ..sequel.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeRNN
from .onnx_bridge import LOGITS, PROBABILITIES, checked_opset, write_model
from .plan import ConversionError, import_extra
from .sequel_torch import lstm_gates_as, sequel_layers

__all__ = ["WORD_IDS", "sequel_to_onnx", "state_names"]

WORD_IDS = "xs"


def _carried(layer: Any, k: int) -> tuple[list[str], list[str]]:
    carried = ("h", "c") if type(layer) is TimeLSTM else ("h",)
    return [f"{s}0_{k}" for s in carried], [f"{s}n_{k}" for s in carried]


def state_names(model: Any) -> tuple[list[str], list[str]]:
    """The graph's state inputs and outputs, in order: ``h0_1``, ``c0_1``, ... and ``hn_1``, ...

    Per recurrent layer k (from 1): ``h0_k`` and, for an LSTM, ``c0_k`` in; ``hn_k``, ``cn_k``
    out, each (1, N, H) float32.
    """
    recurrent = [layer for layer in model.layers if type(layer) in (TimeLSTM, TimeRNN)]
    names = [_carried(layer, k) for k, layer in enumerate(recurrent, start=1)]
    return [n for ins, _ in names for n in ins], [n for _, outs in names for n in outs]


def sequel_to_onnx(
    model: Any,
    path: StrPath,
    *,
    softmax: bool = False,
    input_shape: Sequence[int] | None = None,
    opset: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write one step of a sequel language model as an ONNX model (float32).

    Parameters
    ----------
    model : SimpleRnnlm, Rnnlm or BetterRnnlm
        A chain of the layers in the module's table; anything else is refused with the reason.
    path : str or Path
        Written atomically.
    softmax : bool, default False
        Output probabilities (``probabilities``) instead of scores (``logits``).
    input_shape : None
        Not taken: the input is (N, T) word ids, both free.
    opset : int, default 17
        From 13 to the installed onnx's newest.
    metadata : dict of str to str, optional
        Added to the model's ``metadata_props`` (beside ``layerwise.sequel_model``).

    Returns
    -------
    Path

    Notes
    -----
    Inputs: ``xs`` int64 (N, T), then the state of :func:`state_names` (zeros for the first
    step). Outputs: ``logits`` (or ``probabilities``) (N, T, V), then the state after the
    step, to feed to the next. The graph is the model at inference (``train_flg=False``); a
    float64 model's arrays are rounded to float32. Checked with ``onnx.checker`` first.

    Unlike ``predict``, the graph does not refuse a negative word id: ONNX's ``Gather`` counts
    it from the end (-1 is word V-1). Ids of V or more fail in onnxruntime.
    """
    softmax = check_flag(softmax, "to_onnx", "softmax")
    onnx = import_extra("onnx", "onnx", "to_onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    opset = checked_opset(onnx, opset)
    if input_shape is not None:
        raise ConversionError(
            "to_onnx: a sequel language model reads (N, T) word ids, both free; "
            f"give no input_shape (got {input_shape!r})"
        )
    named = sequel_layers(model, "ONNX")
    f32 = onnx.TensorProto.FLOAT
    nodes: list[Any] = []
    inits = [numpy_helper.from_array(np.array([1], np.int64), "axis_1")]

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def node(op, inputs, name, outputs=None, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs or [name], name=name, **attrs))
        return name

    x, k = WORD_IDS, 0
    state_in: list[Any] = []
    state_out: list[Any] = []
    for name, layer in named:
        if type(layer) is TimeEmbedding:
            x = node("Gather", [init(f"{name}.W", layer.params[0]), x], f"{name}.gather")
            x = node("Transpose", [x], name, perm=[1, 0, 2])  # (T, N, D): the recurrent layout
        elif type(layer) in (TimeLSTM, TimeRNN):
            k += 1
            ins, outs = _carried(layer, k)
            Wx, Wh, b = layer.params
            H, op = Wh.shape[0], "LSTM" if type(layer) is TimeLSTM else "RNN"
            if op == "LSTM":
                Wx, Wh, b = (lstm_gates_as("onnx", a) for a in (Wx, Wh, b))
            weights = [
                init(f"{name}.W", Wx.T[None]),  # (1, gates H, D)
                init(f"{name}.R", Wh.T[None]),  # (1, gates H, H)
                init(f"{name}.B", np.concatenate([b, np.zeros_like(b)])[None]),  # Wb, Rb
            ]
            y = node(op, [x, *weights, "", *ins], f"{name}.y", [f"{name}.y", *outs], hidden_size=H)
            x = node("Squeeze", [y, "axis_1"], name)  # (T, 1, N, H) -> (T, N, H)
            state_in += [helper.make_tensor_value_info(n, f32, [1, "N", H]) for n in ins]
            state_out += [helper.make_tensor_value_info(n, f32, [1, "N", H]) for n in outs]
        elif type(layer) is TimeAffine:
            W, b = layer.params
            x = node("MatMul", [x, init(f"{name}.W", W)], f"{name}.matmul")
            x = node("Add", [x, init(f"{name}.b", b)], f"{name}.add")
            x = node("Transpose", [x], name, perm=[1, 0, 2])  # back to (N, T, V)
    last = named[-1][1]
    if type(last) is not TimeAffine:
        raise ConversionError(
            f"{type(model).__name__} cannot be exported to ONNX: its last layer must be a "
            "TimeAffine (the scores)"
        )
    output = PROBABILITIES if softmax else LOGITS
    if softmax:
        node("Softmax", [x], output, axis=-1)
    else:
        node("Identity", [x], output)
    graph = helper.make_graph(
        nodes,
        f"{type(model).__name__}_step",
        [helper.make_tensor_value_info(WORD_IDS, onnx.TensorProto.INT64, ["N", "T"]), *state_in],
        [helper.make_tensor_value_info(output, f32, ["N", "T", last.params[0].shape[1]])]
        + state_out,
        initializer=inits,
    )
    props = {"layerwise.sequel_model": type(model).__name__, **(metadata or {})}
    return write_model(onnx, graph, opset, props, path)
