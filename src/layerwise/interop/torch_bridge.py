"""PyTorch and back: :func:`to_torch`, :func:`from_torch` and :func:`save_torch`.

=====================================  =================================================
layerwise                              ``torch.nn``
=====================================  =================================================
``Affine(W, b)``                       ``Linear`` (``weight = W.T``), after ``Flatten``
                                       where the input is not flat rows
``Convolution(W, b, stride, pad)``     ``Conv2d`` (the same ``weight``)
``Pooling(h, w, stride, pad)``         ``MaxPool2d((h, w), stride, pad)``
an activation (``Relu``, ``Sigmoid``)  the module its class's ``torch_module`` names
                                       (``ReLU``, ``Sigmoid``); back again where it is
                                       given by name
``BatchNormalization``                 ``BatchNorm1d`` (2-D input), ``BatchNorm2d`` (per
                                       channel), ``Flatten`` + ``BatchNorm1d`` +
                                       ``Unflatten`` (the book's per position); torch's
                                       ``momentum`` is ``1 - momentum``, ``eps`` is passed
``Dropout(p, inverted=True)``          ``Dropout(p)``
``Dropout(p)`` (the book's)            ``Dropout(p)``, with ``1 - p`` folded into a
                                       neighbouring layer (see :func:`.plan.fold_dropout`)
=====================================  =================================================

torch is imported inside the functions, so ``import layerwise`` never needs it; without it
they raise :class:`~.plan.MissingExtraError` naming ``pip install "layerwise[torch]"``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any  # torch's types: torch is an optional extra

import numpy as np

from .._types import StrPath
from ..container import write_atomic
from ..layers import LAYERS, Affine, BatchNormalization, Convolution, Dropout, Pooling
from ..network import Sequential, sample_shapes
from .plan import ConversionError, import_extra, plan
from .sequel_torch import is_sequel_model, sequel_to_torch

_TORCH_DTYPES = ("float32", "float64")


def _torch(what):
    return import_extra("torch", "torch", what)


# ---------------------------------------------------------------------- layerwise -> torch


def _linear(nn, step, dtype):
    W, b = step.arrays["W"], step.arrays["b"]
    module = nn.Linear(*W.shape, dtype=dtype)
    return module, {"weight": W.T, "bias": b}


def _conv(nn, step, dtype):
    W, b = step.arrays["W"], step.arrays["b"]
    FN, C, FH, FW = W.shape
    stride, pad = step.attrs["stride"], step.attrs["pad"]
    module = nn.Conv2d(C, FN, (FH, FW), stride=stride, padding=pad, dtype=dtype)
    return module, {"weight": W, "bias": b}


def _maxpool(nn, step, dtype):
    (h, w), stride, pad = step.attrs["kernel"], step.attrs["stride"], step.attrs["pad"]
    if 2 * pad > min(h, w):
        raise ConversionError(
            f"{step.name}: torch's MaxPool2d takes padding of at most half the window "
            f"({h}x{w}), this Pooling has pad={pad}; there is no torch module with its windows"
        )
    return nn.MaxPool2d((h, w), stride=stride, padding=pad), {}


def _batchnorm(nn, step, dtype):
    a = step.arrays
    kind = nn.BatchNorm2d if len(step.shape) == 3 else nn.BatchNorm1d
    # The book's running average keeps `momentum` of the old value, torch's `1 - momentum`.
    module = kind(
        a["gamma"].shape[0], eps=step.attrs["eps"], momentum=1.0 - step.attrs["momentum"]
    ).to(dtype)
    arrays = {
        "weight": a["gamma"],
        "bias": a["beta"],
        "running_mean": a["running_mean"],
        "running_var": a["running_var"],
    }
    return module, arrays


def _activation(nn, step, dtype):
    """The module the activation's class declares: ``torch.nn.<name>()`` or ``make(torch.nn)``."""
    make = step.attrs["torch_module"]
    if make is None:
        raise ConversionError(
            f"{step.name} ({step.attrs['kind']}) has no torch module: its class declares no "
            "torch_module (a torch.nn name such as 'ReLU', or a callable building the module)"
        )
    return (getattr(nn, make)() if isinstance(make, str) else make(nn)), {}


def _plain(make):
    return lambda nn, step, dtype: (make(nn, step), {})


_MODULES = {
    "linear": _linear,
    "conv": _conv,
    "maxpool": _maxpool,
    "batchnorm": _batchnorm,
    "activation": _activation,
    "dropout": _plain(lambda nn, step: nn.Dropout(step.attrs["p"])),
    "flatten": _plain(lambda nn, step: nn.Flatten()),
    "unflatten": _plain(lambda nn, step: nn.Unflatten(1, step.attrs["shape"])),
}


def to_torch(network: Sequential, *, input_shape: Sequence[int] | None = None) -> Any:
    """A ``torch.nn.Sequential`` computing what ``network.predict`` computes, in its dtype.

    Parameters
    ----------
    network : Sequential or one of the book's networks
        Made of Affine, Convolution, Pooling, BatchNormalization and Dropout layers and
        registered activations that declare a ``torch_module`` (Relu, Sigmoid); any other
        layer type is refused by name. The loss layer is not converted:
        the module returns the scores (logits), as ``predict`` does.
        A sequel language model goes to :func:`.sequel_torch.sequel_to_torch` instead.
    input_shape : tuple of int, optional
        The shape of one sample, ``(784,)`` or ``(1, 28, 28)``. Only needed for a Sequential
        that does not start with an Affine; the book's networks know theirs.

    Returns
    -------
    torch.nn.Sequential
        Its modules are named after the layers (``Affine1``, ``Relu1``, ...; added reshapes
        ``Flatten1``, ...); float32 or float64 as the network; in training mode when the
        network is (``network.training``), as a new torch module is, else in eval mode. In eval
        mode its output equals ``network.predict(x, train_flg=False)`` to rounding (within
        1e-5 relative in float32, 1e-10 in float64).

    Raises
    ------
    ConversionError
        A layer with no exact torch counterpart, named, with the reason.
    MissingExtraError
        torch is not installed.

    Notes
    -----
    The book's (non-inverted) Dropout has its factor ``1 - p`` folded into the Affine,
    Convolution or BatchNormalization before it (or the Affine or Convolution after it), so
    that layer's torch parameters are the layerwise ones times ``1 - p``; the function computed
    is the same in training and at inference (see :func:`.plan.fold_dropout`).

    In training mode the batch is normalised as in layerwise, but torch feeds the running
    variance the unbiased batch variance, so the running statistics drift apart unless the
    layer was made with ``unbiased_running_var=True`` (as :func:`from_torch` makes them).
    """
    if is_sequel_model(network):  # the sequel's language models: see .sequel_torch
        return sequel_to_torch(network)
    torch = _torch("to_torch")
    steps, _, _ = plan(network, input_shape, target="torch")
    dtype = getattr(torch, network.dtype.name)
    modules = OrderedDict()
    with torch.no_grad():
        for step in steps:
            module, arrays = _MODULES[step.op](torch.nn, step, dtype)
            for attr, value in arrays.items():
                getattr(module, attr).copy_(torch.from_numpy(np.ascontiguousarray(value)))
            modules[step.name] = module
    return torch.nn.Sequential(modules).train(network.training)


def save_torch(
    network: Sequential, path: StrPath, *, input_shape: Sequence[int] | None = None
) -> Any:
    """Write ``to_torch(network).state_dict()`` to ``path`` (atomically), for ``torch.load``.

    The file holds tensors only, so ``torch.load(path, weights_only=True)`` reads it; load it
    into the module :func:`to_torch` builds from the same network::

        module = to_torch(layerwise.load("model.npz"))
        module.load_state_dict(torch.load("model.pt", weights_only=True))

    Returns
    -------
    torch.nn.Sequential
        The module whose state was written.
    """
    torch = _torch("save_torch")
    module = to_torch(network, input_shape=input_shape)
    write_atomic(path, lambda f: torch.save(module.state_dict(), f))
    return module


# ---------------------------------------------------------------------- torch -> layerwise


def _numpy(tensor, dtype):
    return tensor.detach().cpu().numpy().astype(dtype)


def _pair(value, name, module, what):
    """An int or an (a, a) pair as one int; different sides are refused."""
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)) and len(set(value)) == 1:
        return int(value[0])
    raise ConversionError(f"{name} ({module}): layerwise's {what} is the same on both sides")


def _from_linear(m, name, dtype, rng):
    b = np.zeros(m.out_features, dtype) if m.bias is None else _numpy(m.bias, dtype)
    return Affine(np.ascontiguousarray(_numpy(m.weight, dtype).T), b)


def _from_conv(m, name, dtype, rng):
    unsupported = {
        "groups": (m.groups, 1),
        "dilation": (tuple(m.dilation), (1, 1)),
        "padding_mode": (m.padding_mode, "zeros"),
    }
    for attr, (value, book) in unsupported.items():
        if value != book:
            raise ConversionError(f"{name} ({m}): layerwise's Convolution has {attr} {book}")
    if isinstance(m.padding, str):  # 'valid' is 0; 'same' is padding that depends on the input
        if m.padding != "valid":
            raise ConversionError(f"{name} ({m}): give the padding as a number")
        pad = 0
    else:
        pad = _pair(m.padding, name, m, "padding")
    stride = _pair(m.stride, name, m, "stride")
    b = np.zeros(m.out_channels, dtype) if m.bias is None else _numpy(m.bias, dtype)
    return Convolution(_numpy(m.weight, dtype), b, stride=stride, pad=pad)


def _from_maxpool(m, name, dtype, rng):
    if m.dilation not in (1, (1, 1)) or m.ceil_mode or m.return_indices:
        raise ConversionError(
            f"{name} ({m}): layerwise's Pooling has no dilation, ceil_mode or return_indices"
        )
    h, w = (m.kernel_size, m.kernel_size) if isinstance(m.kernel_size, int) else m.kernel_size
    stride = _pair(m.stride, name, m, "stride")
    return Pooling(h, w, stride=stride, pad=_pair(m.padding, name, m, "padding"))


def _from_batchnorm(m, name, dtype, rng):
    if not m.track_running_stats or m.momentum is None:
        raise ConversionError(
            f"{name} ({m}): layerwise's BatchNormalization keeps running statistics as an "
            "exponential average (track_running_stats=True and a number as momentum)"
        )
    n = m.num_features
    gamma = _numpy(m.weight, dtype) if m.affine else np.ones(n, dtype)
    beta = _numpy(m.bias, dtype) if m.affine else np.zeros(n, dtype)
    return BatchNormalization(
        gamma,
        beta,
        momentum=1.0 - m.momentum,  # the book's momentum keeps the old value's share
        running_mean=_numpy(m.running_mean, dtype),
        running_var=_numpy(m.running_var, dtype),
        eps=m.eps,
        unbiased_running_var=True,  # torch's running variance
    )


def _from_dropout(m, name, dtype, rng):
    if not 0 <= m.p < 1:
        raise ConversionError(f"{name} ({m}): layerwise's Dropout takes a ratio below 1")
    return Dropout(m.p, inverted=True, seed=int(rng.integers(2**63)))


def _from_activation(layer_class):
    return lambda m, name, dtype, rng: layer_class()


def _conversions(nn):
    """torch module class -> the function converting a module of it, read from the registry.

    A registered activation whose ``torch_module`` is a name of ``torch.nn`` converts back from
    that module class (a callable ``torch_module`` may set arguments, so it is not reversed).
    """
    convert = {
        nn.Linear: _from_linear,
        nn.Conv2d: _from_conv,
        nn.MaxPool2d: _from_maxpool,
        nn.BatchNorm1d: _from_batchnorm,
        nn.BatchNorm2d: _from_batchnorm,
        nn.Dropout: _from_dropout,
    }
    for cls in LAYERS.values():
        module = getattr(cls, "torch_module", None)
        if getattr(cls, "activation_name", None) and isinstance(module, str):
            if isinstance(getattr(nn, module, None), type):
                convert[getattr(nn, module)] = _from_activation(cls)
    return convert


def from_torch(
    module: Any, *, input_shape: Sequence[int] | None = None, seed: int | None = None
) -> Sequential:
    """A layerwise ``Sequential`` computing what a ``torch.nn.Sequential`` computes.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of ``Linear``, ``Conv2d``, ``MaxPool2d``, ``BatchNorm1d``, ``BatchNorm2d``, ``Dropout``,
        the modules registered activations name as their ``torch_module`` (``ReLU``,
        ``Sigmoid``), ``Flatten`` (before a ``Linear``, which layerwise's
        Affine does itself) and ``Unflatten`` (undoing a ``Flatten``, as :func:`to_torch`
        writes the book's per-position BatchNorm). Parameters all float32 or all float64.
    input_shape : tuple of int, optional
        The shape of one sample. Needed to check an ``Unflatten``; given, it is also stored as
        the network's ``input_shape`` (used by ``summary`` and :func:`to_onnx`).
    seed : int, optional
        Seeds the Dropout layers' generators.

    Returns
    -------
    Sequential
        Layers named by kind and position (``Affine1``, ``Relu1``, ...), in the module's mode.
        torch's Dropout becomes ``Dropout(p, inverted=True)``, its BatchNorm a
        ``BatchNormalization`` with ``momentum = 1 - torch's``, its ``eps`` and
        ``unbiased_running_var=True``, so training updates the same running statistics.

    Raises
    ------
    ConversionError
        Anything without an exact layerwise counterpart, named, with the reason.
    """
    torch = _torch("from_torch")
    nn = torch.nn
    if type(module) is not nn.Sequential:
        raise ConversionError(
            f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}"
        )
    convert = _conversions(nn)
    dtypes = {str(p.dtype).removeprefix("torch.") for p in module.parameters()}
    dtypes |= {
        str(b.dtype).removeprefix("torch.") for b in module.buffers() if b.is_floating_point()
    }
    if len(dtypes) > 1 or not dtypes <= set(_TORCH_DTYPES):
        raise ConversionError(
            f"from_torch: the module's parameters must all be float32 or all float64, got "
            f"{', '.join(sorted(dtypes))}"
        )
    dtype = np.dtype(dtypes.pop() if dtypes else "float64")
    shapes = _torch_shapes(torch, module, input_shape, dtype)
    rng = np.random.default_rng(seed)
    layers = []
    flattened = None  # the shape a Flatten took, while layerwise's layers still see it
    images = input_shape is not None and len(input_shape) > 1  # (N, C, H, W), not flat rows
    children = list(module.named_children())
    for i, (key, child) in enumerate(children):
        name, kind = f"module {key!r}", type(child)
        if kind is nn.Flatten:
            if (child.start_dim, child.end_dim) != (1, -1):
                raise ConversionError(f"{name} ({child}): only Flatten() (from dim 1) converts")
            if shapes is None or len(shapes[i]) > 1:
                flattened = shapes[i] if shapes else ()
            images = False
            continue
        if kind is nn.Unflatten:
            _check_unflatten(name, child, flattened, shapes)
            flattened, images = None, True
            continue
        if kind not in convert:
            raise ConversionError(
                f"{name} ({kind.__name__}) has no layerwise counterpart; from_torch converts "
                f"{', '.join(k.__name__ for k in convert)}, Flatten and Unflatten"
            )
        if flattened is not None and kind in (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d):
            raise ConversionError(f"{name} ({kind.__name__}) cannot follow a Flatten")
        if kind is nn.Linear:
            if (images if shapes is None else len(shapes[i]) > 1) and flattened is None:
                # torch's Linear maps the last axis of (N, C, H, W); the Affine flattens first
                raise ConversionError(
                    f"{name} ({child}) follows images without a Flatten: torch's Linear acts on "
                    "their last axis, layerwise's Affine on the flattened image; put "
                    "torch.nn.Flatten() before it"
                )
            flattened = None  # the Affine flattens its input itself
        if kind in (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d):
            images = True
        elif kind is nn.Linear:
            images = False
        try:
            layers.append(convert[kind](child, name, dtype, rng))
        except ConversionError:
            raise
        except ValueError as err:  # sizes the layer refuses, e.g. padding as large as a pool
            raise ConversionError(f"{name} ({child}): {err}") from err
    if flattened is not None:
        raise ConversionError(
            "from_torch: a Flatten must be followed by a Linear (layerwise's Affine flattens "
            "its input itself, and layerwise has no Flatten layer)"
        )
    if not layers:
        raise ConversionError("from_torch: the module has no layers to convert")
    network = Sequential(*layers).train(module.training)
    if input_shape is not None:
        _check_runs(network, tuple(input_shape), shapes[-1], dtype)
        network.input_shape = tuple(input_shape)
    return network


def _check_runs(network, input_shape, torch_out, dtype):
    """Refuse a network that does not take what the module takes, or gives another shape."""
    try:
        out = sample_shapes(network.layers.values(), input_shape, dtype)[-1]
    except ValueError as err:
        raise ConversionError(
            f"from_torch: the converted network does not run on input of shape (N, "
            f"{', '.join(map(str, input_shape))}) as the module does: {err}"
        ) from err
    if tuple(out) != tuple(torch_out):
        raise ConversionError(
            f"from_torch: the converted network gives output of shape (N, {out}), the module "
            f"(N, {torch_out})"
        )


def _torch_shapes(torch, module, input_shape, dtype):
    """The shape of one sample entering each child of ``module``, then the module's output
    (None without input_shape)."""
    if input_shape is None:
        return None
    shapes = []
    x = torch.zeros((2, *input_shape), dtype=getattr(torch, dtype.name))
    training = module.training
    module.eval()  # no batch statistics, no dropout, no change to the running statistics
    try:
        with torch.no_grad():
            for child in module.children():
                shapes.append(tuple(x.shape[1:]))
                x = child(x)
            shapes.append(tuple(x.shape[1:]))  # the module's output
    except RuntimeError as err:
        raise ConversionError(
            f"from_torch: the module does not take input of shape (N, {input_shape}): {err}"
        ) from err
    finally:
        module.train(training)
    return shapes


def _check_unflatten(name, child, flattened, shapes):
    """An Unflatten converts only where it restores the shape a Flatten took (no layer)."""
    if flattened is None:
        raise ConversionError(
            f"{name} ({child}): an Unflatten converts only after a Flatten (layerwise has no "
            "reshaping layer)"
        )
    if shapes is None:
        raise ConversionError(
            f"{name} ({child}): pass input_shape to from_torch so that it can check that the "
            "Unflatten restores the shape the Flatten took"
        )
    if child.dim != 1 or tuple(child.unflattened_size) != tuple(flattened):
        raise ConversionError(
            f"{name} ({child}): it must restore the shape {tuple(flattened)} that the Flatten "
            "took, the only reshape layerwise's layers do without a layer"
        )
