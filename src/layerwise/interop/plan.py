"""A layerwise network as a list of framework-neutral steps: what both bridges translate.

Each layer becomes one or more :class:`Step` objects (``linear``, ``conv``, ``maxpool``,
``activation``, ``batchnorm``, ``dropout``, ``flatten``, ``unflatten``), found from what the
layer declares: its registered class name (:data:`layerwise.layers.LAYERS`), its arrays
(``param_names`` and ``buffer_names``), ``get_config()`` and, for an element-wise activation
(a class with an ``activation_name``), its ``torch_module``, ``onnx_op`` and
``commutes_with_positive_scale`` (see :mod:`layerwise.layers.base`). A layer type that is
neither in :data:`STEPS` nor an activation is refused by name. The torch bridge turns steps
into ``torch.nn`` modules, the ONNX bridge into graph nodes, so both agree on every choice made
here:

- an ``Affine`` whose input is not flat rows gets a ``flatten`` before it (torch's ``Linear``
  works on the last axis only; the book's Affine reshapes to (N, -1));
- a ``BatchNormalization`` is per feature (2-D input), per channel (4-D input, C entries) or,
  the book's layout, per position (C*H*W entries): ``flatten``, a per-feature step, and
  ``unflatten`` back to (C, H, W);
- the book's non-inverted Dropout is made inverted, as torch's is, by moving its factor
  ``1 - p`` into a neighbouring layer (see :func:`fold_dropout`).

Arrays in steps are copies in the network's dtype and layerwise's layout (``W`` of an Affine is
(in, out)); converting never changes the network.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from ..backend import as_numpy
from ..errors import ConversionError, MissingExtraError
from ..layers import LAYERS
from ..network import sample_shapes


def import_extra(module, extra, what):
    """``importlib.import_module(module)``, or a MissingExtraError naming ``layerwise[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{what} needs the package {module!r}, which is not installed: "
            f'pip install "layerwise[{extra}]"'
        ) from err


@dataclass
class Step:
    """One operation of a converted network.

    Attributes
    ----------
    op : str
        ``linear`` (``W`` (D, M), ``b``), ``conv`` (``W`` (FN, C, FH, FW), ``b``; ``stride``,
        ``pad``), ``maxpool`` (``kernel`` (h, w), ``stride``, ``pad``), ``activation`` (the
        layer's ``kind`` (class name), ``torch_module``, ``onnx_op`` and
        ``commutes_with_positive_scale``, as the class declares them), ``batchnorm``
        (``gamma``, ``beta``, ``running_mean``, ``running_var``; ``eps`` and the book's
        ``momentum``), ``dropout`` (``p``, inverted: identity at inference),
        ``flatten`` (to (N, -1)) or ``unflatten`` (``shape``: back to (N, C, H, W)).
    name : str
        The layer's name in the network (``Affine1``), or a new one for an added flatten.
    shape : tuple of int
        The shape of one input sample.
    arrays : dict of str to ndarray
    attrs : dict
    """

    op: str
    name: str
    shape: tuple
    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)


def _arrays(layer):
    """Host copies of the layer's declared parameters and buffers (a GPU network's too)."""
    names = (*getattr(layer, "param_names", ()), *getattr(layer, "buffer_names", ()))
    return {name: np.array(as_numpy(getattr(layer, name))) for name in names}


def _affine(layer, name, shape):
    flat = [] if len(shape) == 1 else [Step("flatten", None, shape)]
    return [*flat, Step("linear", name, (int(np.prod(shape)),), _arrays(layer))]


def _convolution(layer, name, shape):
    return [Step("conv", name, shape, _arrays(layer), layer.get_config())]


def _pooling(layer, name, shape):
    config = layer.get_config()
    kernel = (config["pool_h"], config["pool_w"])
    return [Step("maxpool", name, shape, {}, {**config, "kernel": kernel})]


def _batchnorm(layer, name, shape):
    arrays, config = _arrays(layer), layer.get_config()
    features = arrays["gamma"].shape[0]
    if len(shape) == 1 or shape[0] == features:  # per feature, or per channel of (C, H, W)
        return [Step("batchnorm", name, shape, arrays, config)]
    # The book's per-position statistics: each of the C*H*W values is a feature of its own.
    flat = (features,)
    return [
        Step("flatten", None, shape),
        Step("batchnorm", name, flat, arrays, config),
        Step("unflatten", None, flat, {}, {"shape": shape}),
    ]


def _dropout(layer, name, shape):
    config = layer.get_config()
    p = config["dropout_ratio"]
    # Inverted (PyTorch's): identity at inference. The book's multiplies by 1 - p there.
    factor = 1.0 if config["inverted"] else 1.0 - p
    return [Step("dropout", name, shape, {}, {"p": p, "factor": factor})]


def _activation(layer, name, shape):
    """An element-wise activation: what its class declares for the bridges."""
    cls = type(layer)
    attrs = {
        "kind": cls.__name__,
        "torch_module": getattr(cls, "torch_module", None),
        "onnx_op": getattr(cls, "onnx_op", None),
        "commutes_with_positive_scale": getattr(cls, "commutes_with_positive_scale", False),
    }
    return [Step("activation", name, shape, {}, attrs)]


#: How each registered layer type other than an activation becomes steps:
#: ``STEPS[class name](layer, name, shape)``.
STEPS = {
    "Affine": _affine,
    "Convolution": _convolution,
    "Pooling": _pooling,
    "BatchNormalization": _batchnorm,
    "Dropout": _dropout,
}


def _converter(layer):
    """The function making ``layer``'s steps, or None for a type with no conversion."""
    cls = type(layer)
    if LAYERS.get(cls.__name__) is not cls:
        return None
    if getattr(cls, "activation_name", None) is not None:
        return _activation
    return STEPS.get(cls.__name__)


def _convertible():
    """The names of the layer types that convert, for messages."""
    activations = [c.__name__ for c in LAYERS.values() if getattr(c, "activation_name", None)]
    return [*STEPS, *activations]


# Steps through which a positive factor passes unchanged: max pooling, reshapes, (inverted)
# dropout, which is linear, and activations declaring it (relu(c x) = c relu(x) for c > 0).
_COMMUTE = {"maxpool", "flatten", "unflatten", "dropout"}
# Steps whose output is linear in these arrays: scaling them scales the output.
_SCALE_OUTPUT = {"linear": ("W", "b"), "conv": ("W", "b"), "batchnorm": ("gamma", "beta")}


def fold_dropout(steps, target):
    """Make every Dropout step inverted by moving the book's factor ``1 - p`` elsewhere, exactly.

    The book's Dropout computes ``x * mask`` when training and ``x * (1 - p)`` at inference;
    PyTorch's (inverted) ``x * mask / (1 - p)`` and ``x``. Both agree once the input is
    multiplied by ``1 - p``: then torch's training output is ``(1 - p) x * mask / (1 - p) =
    x * mask`` and its inference output ``(1 - p) x``, the book's two. The factor is applied:

    1. to the output of the nearest Affine, Convolution or BatchNormalization before the
       Dropout (its ``W`` and ``b``, or ``gamma`` and ``beta``), when only steps that commute
       with a positive factor lie between (pooling, reshapes, other Dropouts, an activation
       declaring ``commutes_with_positive_scale`` such as ReLU); so DeepConvNet's last Dropout,
       which no Affine follows, is folded into ``Affine2``;
    2. otherwise to the input of the nearest Affine or Convolution after it (its ``W`` only),
       again across only such steps (``MultiLayerNetExtend`` with sigmoid and dropout);
    3. otherwise refused with a :class:`ConversionError` that names the step on each side that
       does not commute with the factor (a Sigmoid, say), or the network's end.

    ``steps`` is changed in place (arrays are the steps' own copies); ``target`` names the
    bridge for messages.
    """
    for i, step in enumerate(steps):
        factor = step.attrs.get("factor", 1.0) if step.op == "dropout" else 1.0
        if factor == 1.0:
            continue
        before, blocked_before = _reach(steps[i - 1 :: -1] if i else [], _SCALE_OUTPUT)
        after, blocked_after = (
            (None, None) if before else _reach(steps[i + 1 :], {"linear": ("W",), "conv": ("W",)})
        )
        found = before or after
        if found is None:
            raise ConversionError(
                f"{step.name} (the book's Dropout, ratio {step.attrs['p']}) multiplies by "
                f"{factor} at inference, {target}'s Dropout does not; layerwise moves that factor "
                "into the nearest Affine, Convolution or BatchNormalization before it, or the "
                "nearest Affine or Convolution after it, but "
                f"{_describe(blocked_before, 'start')} lies before it and "
                f"{_describe(blocked_after, 'end')} after it, and a factor does not pass "
                "through them unchanged. Train with Dropout(..., inverted=True), which needs "
                "no factor at inference."
            )
        other, names = found
        dtype = other.arrays[names[0]].dtype
        for name in names:
            other.arrays[name] = other.arrays[name] * dtype.type(factor)
        step.attrs["factor"] = 1.0
    return steps


def _reach(steps, scalable):
    """``((step, its arrays), None)`` for the first step of ``steps`` in ``scalable`` if only
    commuting ones come before it; else ``(None, the step that does not commute)``, or
    ``(None, None)`` at the end of ``steps``."""
    for step in steps:
        if step.op in scalable:
            return (step, scalable[step.op]), None
        commutes = step.op in _COMMUTE or step.attrs.get("commutes_with_positive_scale", False)
        if not commutes:
            return None, step
    return None, None


def _describe(step, end):
    """``'Sigmoid1 (Sigmoid)'``, ``'BatchNorm1'``, or the network's ``end`` for None."""
    if step is None:
        return f"the network's {end}"
    kind = step.attrs.get("kind")
    return step.name if kind in (None, step.name) else f"{step.name} ({kind})"


def input_shape_of(network, input_shape=None):
    """The shape of one input sample: ``input_shape``, the network's, or a first Affine's rows."""
    if input_shape is None:
        input_shape = getattr(network, "input_shape", None)
    if input_shape is None:
        name, first = next(iter(network.layers.items()))
        if type(first).__name__ == "Affine":
            input_shape = (first.W.shape[0],)
        else:
            raise ConversionError(
                f"the network does not say what input it takes (its first layer is {name}): "
                "give it one, Sequential(..., input_shape=(1, 28, 28)) or net.input_shape = "
                "(1, 28, 28) for (N, 1, 28, 28) images (layerwise.save keeps it in the model "
                "file), or pass input_shape=(1, 28, 28) here"
            )
    return tuple(int(n) for n in input_shape)


def plan(network, input_shape=None, *, target):
    """The network as a list of :class:`Step` (Dropout factors folded), and its input shape.

    The shape each layer receives is found by running one zero sample through the network's
    own layers in inference mode (:func:`layerwise.network.sample_shapes`), so the sizes are
    exactly the ones the layers check.

    Raises
    ------
    ConversionError
        For a layer type with no conversion (named), an input shape the network refuses, or a
        book Dropout with no exact counterpart (see :func:`fold_dropout`).
    """
    for name, layer in network.layers.items():
        if _converter(layer) is None:
            raise ConversionError(
                f"layer {name!r} ({type(layer).__name__}) has no conversion to {target}; "
                f"layerwise converts {', '.join(_convertible())}"
            )
    shape = input_shape_of(network, input_shape)
    try:
        shapes = sample_shapes(network.layers.values(), shape, network.dtype)
    except ValueError as err:
        raise ConversionError(
            f"the network does not take input of shape (N, {', '.join(map(str, shape))}): {err}"
        ) from err
    steps = []
    for (name, layer), layer_input in zip(network.layers.items(), shapes[:-1], strict=True):
        steps += _converter(layer)(layer, name, layer_input)
    _name_added(steps, network.layers)
    return fold_dropout(steps, target), shape, shapes[-1]


def _name_added(steps, taken):
    """Name the added flatten and unflatten steps ``Flatten1``, ``Unflatten1``, ... (unused)."""
    counts = {}
    used = set(taken)
    for step in steps:
        if step.name is None:
            stem = step.op.capitalize()
            while step.name is None or step.name in used:
                counts[stem] = counts.get(stem, 0) + 1
                step.name = f"{stem}{counts[stem]}"
            used.add(step.name)
