"""ONNX: :func:`to_onnx` writes a network as an inference graph, :func:`load_onnx` runs one.

The graph is built node by node with ``onnx.helper`` from the steps of :mod:`.plan`, so the
export needs the ``onnx`` package only (not torch); running needs ``onnxruntime``.

=====================================  =================================================
layerwise                              ONNX operators
=====================================  =================================================
``Affine``                             ``Gemm`` (``W`` as it is, (in, out)), after ``Flatten``
                                       where the input is not flat rows
``Convolution``                        ``Conv`` (``pads``, ``strides``)
``Pooling``                            ``MaxPool`` (its padding never wins, as layerwise's -inf)
an activation (``Relu``, ``Sigmoid``)  the operator its class's ``onnx_op`` names
                                       (``Relu``, ``Sigmoid``)
``BatchNormalization``                 ``BatchNormalization`` with the running statistics;
                                       per position: ``Flatten``, it, ``Reshape``
``Dropout``                            nothing: at inference it is the identity once the
                                       book's factor is folded (:func:`.plan.fold_dropout`)
=====================================  =================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any  # onnx's types: onnx is an optional extra

import numpy as np
import numpy.typing as npt

from .. import __version__
from .._checks import check_flag
from .._types import StrPath
from ..container import write_atomic
from ..network import Sequential, as_batch
from .plan import ConversionError, import_extra, plan
from .sequel_torch import is_sequel_model

#: The oldest opset the graph is valid in: Softmax over one axis and today's Gemm are opset 13's.
MIN_OPSET = 13
#: The default: a fixed opset, not the installed onnx's newest (onnx 1.23 writes opset 28 with
#: IR version 14, which onnxruntime 1.30 refuses). Opset 17 needs IR version 8, which every
#: onnxruntime since 1.13 reads; CI runs an exported model in onnxruntime 1.18.
DEFAULT_OPSET = 17
INPUT, LOGITS, PROBABILITIES = "input", "logits", "probabilities"


def _nodes(helper, numpy_helper, step, x):
    """The nodes and initializers (float32) computing ``step`` on the tensor named ``x``."""
    inits = [
        numpy_helper.from_array(a.astype(np.float32), f"{step.name}.{key}")
        for key, a in step.arrays.items()
    ]
    inputs = [x, *(init.name for init in inits)]
    attrs = step.attrs
    if step.op == "linear":
        return [helper.make_node("Gemm", inputs, [step.name], name=step.name)], inits
    if step.op == "conv":
        FH, FW = step.arrays["W"].shape[2:]
        node = helper.make_node(
            "Conv",
            inputs,
            [step.name],
            name=step.name,
            kernel_shape=[FH, FW],
            strides=[attrs["stride"]] * 2,
            pads=[attrs["pad"]] * 4,
        )
        return [node], inits
    if step.op == "maxpool":
        node = helper.make_node(
            "MaxPool",
            [x],
            [step.name],
            name=step.name,
            kernel_shape=list(attrs["kernel"]),
            strides=[attrs["stride"]] * 2,
            pads=[attrs["pad"]] * 4,
        )
        return [node], []
    if step.op == "batchnorm":
        node = helper.make_node(
            "BatchNormalization", inputs, [step.name], name=step.name, epsilon=attrs["eps"]
        )
        return [node], inits
    if step.op == "unflatten":
        # 0 copies the batch size from the input.
        shape = numpy_helper.from_array(
            np.array([0, *attrs["shape"]], np.int64), f"{step.name}.shape"
        )
        node = helper.make_node("Reshape", [x, shape.name], [step.name], name=step.name)
        return [node], [shape]
    if step.op == "flatten":
        return [helper.make_node("Flatten", [x], [step.name], name=step.name, axis=1)], []
    if step.op == "activation":
        if step.attrs["onnx_op"] is None:
            raise ConversionError(
                f"{step.name} ({step.attrs['kind']}) has no ONNX operator: its class declares "
                "no onnx_op (the name of an ONNX operator of one input, such as 'Relu')"
            )
        return [helper.make_node(step.attrs["onnx_op"], [x], [step.name], name=step.name)], []
    raise AssertionError(f"no ONNX nodes for step {step.op!r}")  # plan() makes no other


def to_onnx(
    network: Sequential,
    path: StrPath,
    *,
    softmax: bool = False,
    input_shape: Sequence[int] | None = None,
    opset: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``network`` as an ONNX model: float32 input, class scores (or probabilities) out.

    Parameters
    ----------
    network : Sequential or one of the book's networks
        Of the layer types :func:`~.torch_bridge.to_torch` converts.
        A sequel language model goes to :func:`.sequel_onnx.sequel_to_onnx` instead (its
        step: word ids and the recurrent state in, scores and the state out).
    path : str or Path
        Written atomically.
    softmax : bool, default False
        End with a Softmax, so the output is probabilities (``probabilities``) instead of
        scores (``logits``). Anything but True or False is refused.
    input_shape : tuple of int, optional
        The shape of one sample; the book's networks know theirs.
    opset : int, default 17
        The ONNX opset, from 13 to the installed onnx's newest. The file's IR version is the
        oldest that opset needs (8 for opset 17), so the default reads in onnxruntime 1.18 and
        later; a newer opset may need a newer runtime.
    metadata : dict of str to str, optional
        Added to the model's ``metadata_props`` (beside ``layerwise.network``, the network's
        ``get_config()`` as JSON).

    Returns
    -------
    Path

    Notes
    -----
    The input ``input`` has shape (N, *input_shape) with N free: flat rows (N, 784) for the
    fully connected networks, images (N, C, H, W) for the conv nets, float32 in 0..1 as
    ``predict`` takes them. A float64 network's arrays are rounded to float32. The graph is
    the network at inference (``train_flg=False``) and is checked with
    ``onnx.checker.check_model`` before it is written.
    """
    softmax = check_flag(softmax, "to_onnx", "softmax")  # "no" would be true
    if is_sequel_model(network):  # a sequel language model's step: see .sequel_onnx
        from .sequel_onnx import sequel_to_onnx  # here: it imports this module's constants

        return sequel_to_onnx(
            network, path, softmax=softmax, input_shape=input_shape, opset=opset, metadata=metadata
        )
    onnx = import_extra("onnx", "onnx", "to_onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    opset = checked_opset(onnx, opset)
    steps, shape, out_shape = plan(network, input_shape, target="ONNX")
    nodes, inits, x = [], [], INPUT
    for step in steps:
        if step.op == "dropout":
            continue
        new_nodes, new_inits = _nodes(helper, numpy_helper, step, x)
        nodes += new_nodes
        inits += new_inits
        x = step.name
    output = PROBABILITIES if softmax else LOGITS
    if softmax:
        nodes.append(helper.make_node("Softmax", [x], [output], name="Softmax", axis=-1))
    else:
        nodes.append(helper.make_node("Identity", [x], [output], name="Logits"))
    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        type(network).__name__,
        [helper.make_tensor_value_info(INPUT, f32, ["N", *shape])],
        [helper.make_tensor_value_info(output, f32, ["N", *out_shape])],
        initializer=inits,
    )
    props = {"layerwise.network": json.dumps(network.get_config()), **(metadata or {})}
    return write_model(onnx, graph, opset, props, path)


def checked_opset(onnx: Any, opset: int | None) -> int:
    """``opset``, or DEFAULT_OPSET for None; a ConversionError unless the installed onnx has it."""
    newest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else opset
    if not (isinstance(opset, int) and MIN_OPSET <= opset <= newest):
        raise ConversionError(f"to_onnx: opset must be from {MIN_OPSET} to {newest}, got {opset!r}")
    return opset


def write_model(onnx: Any, graph: Any, opset: int, props: Mapping[str, Any], path: StrPath) -> Path:
    """``graph`` as a model of ``opset`` (its oldest IR version), checked, written atomically."""
    helper = onnx.helper
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="layerwise",
        producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    helper.set_model_props(model, {str(k): str(v) for k, v in props.items()})
    onnx.checker.check_model(model, full_check=True)
    return write_atomic(path, lambda f: f.write(model.SerializeToString()))


class OnnxModel:
    """An ONNX model run by onnxruntime, with the part of a network's interface that
    evaluation uses: ``predict``, ``input_shape``.

    Parameters
    ----------
    path : str or Path
        A model with one float32 input of shape (N, ...) and one output (N, classes), as
        :func:`to_onnx` writes.

    Attributes
    ----------
    input_shape : tuple of int
        The shape of one sample.
    metadata : dict of str to str
        The model's ``metadata_props``.
    session : onnxruntime.InferenceSession
    """

    def __init__(self, path: StrPath) -> None:
        ort = import_extra("onnxruntime", "onnx", "load_onnx")
        self.path = Path(path)
        data = self.path.read_bytes()  # FileNotFoundError, as for a model .npz
        try:
            self.session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's errors share no base class below Exception
            raise ConversionError(f"cannot load ONNX model '{path}': {err}") from err
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape[1:] if len(inputs) == 1 else None
        if (
            shape is None
            or len(outputs) != 1
            or inputs[0].type != "tensor(float)"
            or not all(isinstance(n, int) for n in shape)
        ):
            raise ConversionError(
                f"cannot evaluate ONNX model '{path}': it must take one float32 input of "
                "shape (N, ...) with fixed sizes after N and give one output (N, classes), as "
                "layerwise's to_onnx writes; it takes "
                + ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            )
        self.input_shape = tuple(shape)
        self._input = inputs[0].name
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def predict(self, x: npt.ArrayLike, train_flg: bool | None = False) -> np.ndarray:
        """The model's output for ``x`` (N, *input_shape); uint8 images are scaled by 1/255.

        ``train_flg`` is accepted for the network interface; an ONNX graph is inference only.
        """
        if train_flg:
            raise ValueError("an ONNX model runs at inference only: train_flg must be False")
        x = np.asarray(x)
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"ONNX model '{self.path}' takes input of shape (N, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        batch = as_batch(x, np.dtype(np.float32))
        return self.session.run(None, {self._input: batch})[0]

    def __repr__(self):
        return f"OnnxModel('{self.path}', input_shape={self.input_shape})"


def load_onnx(path: StrPath) -> OnnxModel:
    """An :class:`OnnxModel` for ``path``: ``load_onnx(p).predict(x)`` runs it in onnxruntime."""
    return OnnxModel(path)
