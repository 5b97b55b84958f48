"""Networks: layers composed in order, then a loss layer (the book's chapters 5-8).

:class:`Sequential` composes any layers that follow the protocol of :mod:`layerwise.layers.base`;
the book's networks (:mod:`layerwise.book_nets`) are thin constructors on it. A network has the
book's attributes: ``params`` (``'W1'``, ``'b1'``, ``'gamma1'``, ...), ``layers`` (an ordered
dict of named layers) and ``last_layer`` (also ``lastLayer``, chapter 5's spelling).

Unlike the book's networks, ``params`` is a live view of the layers' arrays: assigning
``net.params['W1'] = new`` is seen by ``Affine1`` (the book's code silently detaches the two, and
training then updates arrays that no layer reads).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the stub packages give it to 3.10 too
    from typing_extensions import Self

from . import functions
from ._checks import as_array, as_float_array, check_flag, check_labels, check_number, quiet
from .backend import (
    Device,
    array_module,
    as_array_like,
    as_numpy,
    device_of,
    get_array_module,
    parse_device,
    to_device,
)
from .layers import SoftmaxWithLoss
from .plans import (
    NetworkPlan,
    Parameters,
    array_keys,
    check_input_shape,
    described_layers,
    layer_forward,
    register_network,
    registered_layer,
    sample_shapes,
)

__all__ = [
    "Parameters",
    "PlannedNetwork",
    "Sequential",
    "array_keys",
    "as_batch",
    "check_input_shape",
    "layer_forward",
    "sample_shapes",
]


def as_batch(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Rows of a dataset as a float batch of ``dtype``.

    uint8 rows are images stored compactly: they are scaled by 1/255 here, one batch at a
    time (as torchvision's ``ToTensor`` does), so a whole dataset never needs a float copy.
    Other rows are cast to ``dtype`` (not copied when they already have it).
    """
    if x.dtype == np.uint8:
        batch = x.astype(dtype)
        batch *= dtype.type(1.0 / 255.0)
        return batch
    return x.astype(dtype, copy=False)


class Sequential:
    """Layers applied in order, followed by a loss layer.

    Parameters
    ----------
    *layers : layer objects, or one dict of named layers
        Each has ``forward(x)`` and ``backward(dout)`` and declares its arrays by
        ``param_names`` / ``buffer_names``, and ``takes_train_flg`` when its forward takes the
        book's ``train_flg`` (see :mod:`layerwise.layers.base`). Unnamed layers are named by
        class and position among their kind: ``'Affine1'``, ``'Relu1'``, ``'Affine2'``.
    loss : layer, default SoftmaxWithLoss()
        ``forward(y, t)`` returns the loss, ``backward(dout=1.0)`` its gradient.
    weight_decay_lambda : float, default 0
        L2 weight decay on every parameter named ``W``: the loss gains
        ``0.5 * lambda * sum(W**2)`` and each ``dW`` gains ``lambda * W``.

    Attributes
    ----------
    layers : OrderedDict
        The layers by name.
    last_layer : layer
        The loss layer (also reachable as ``lastLayer``, the book's chapter-5 spelling).
    params : Parameters
        ``'W1'``, ``'b1'``, ``'gamma1'``, ...: a live dict-like view of the layers' parameters,
        numbered per name in order (:func:`array_keys`).
    buffers : Parameters
        The same for state that is not trained (``'running_mean1'``, ...).
    training : bool
        The mode :meth:`loss` and the gradients use when not told; set by :meth:`train` /
        :meth:`eval`. New networks start in training mode, as in PyTorch, so the book's own
        loops (``network.gradient(x_batch, t_batch)``) train their Dropout and BatchNorm; a
        network loaded from a file starts in inference mode. :meth:`predict` infers unless
        told ``train_flg=True``, as the book's ``predict(x, train_flg=False)``.
    input_shape : tuple of int or None
        The shape of one input sample, when known (the book's networks set it; give it to a
        Sequential of images as ``input_shape=(1, 28, 28)``): read by :meth:`summary` and by
        the exporters of :mod:`layerwise.interop`, and kept in model files.

    As in PyTorch, ``net(x)`` is ``net.predict(x)``, ``len(net)`` the number of layers,
    ``net[i]`` (or ``net['Affine1']``) a layer and ``for layer in net`` runs over the layers
    in order (the loss layer is ``last_layer``, not one of them).

    Examples
    --------
    >>> import numpy as np
    >>> from layerwise import Affine, Relu
    >>> rng = np.random.default_rng(0)
    >>> W1, W2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    >>> net = Sequential(Affine(W1, np.zeros(3)), Relu(), Affine(W2, np.zeros(2)))
    >>> list(net.layers)
    ['Affine1', 'Relu1', 'Affine2']
    >>> list(net.params)
    ['W1', 'b1', 'W2', 'b2']
    >>> x, t = rng.standard_normal((5, 4)), np.array([0, 1, 1, 0, 1])
    >>> grads = net.gradient(x, t)
    >>> grads["W1"].shape
    (4, 3)
    >>> len(net), net[0] is net.layers["Affine1"], net(x).shape
    (3, True, (5, 2))
    """

    input_shape: tuple[int, ...] | None = None

    def __init__(
        self,
        *layers: Any,
        loss: Any = None,
        weight_decay_lambda: float = 0.0,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        owner = type(self).__name__
        if len(layers) == 1 and isinstance(layers[0], Mapping):
            named = list(layers[0].items())
        else:
            counts: dict[str, int] = {}
            named = []
            for layer in layers:
                kind = type(layer).__name__
                counts[kind] = counts.get(kind, 0) + 1
                named.append((f"{kind}{counts[kind]}", layer))
        if not named:
            raise ValueError(f"{owner} needs at least one layer")
        loss = SoftmaxWithLoss() if loss is None else loss
        for what, layer in [*(("every layer", layer) for _, layer in named), ("loss", loss)]:
            if not (
                callable(getattr(layer, "forward", None))
                and callable(getattr(layer, "backward", None))
            ):
                raise TypeError(
                    f"{owner}: {what} needs forward and backward methods, got "
                    f"{type(layer).__name__} {layer!r}"
                )
        self.layers = OrderedDict(named)
        self.last_layer = loss
        self.weight_decay_lambda = check_number(
            weight_decay_lambda, owner, "weight_decay_lambda", low=0
        )
        params, buffers = array_keys(self.layers.items())
        self.params = Parameters({k: (self.layers[n], a) for k, n, a in params})
        self.buffers = Parameters({k: (self.layers[n], a) for k, n, a in buffers})
        self.training = True
        if input_shape is not None:
            self.input_shape = check_input_shape(input_shape, owner)

    @property
    def lastLayer(self) -> Any:  # noqa: N802 - the book's chapter-5 name
        """The loss layer: the book's chapter-5 name for :attr:`last_layer`."""
        return self.last_layer

    @lastLayer.setter
    def lastLayer(self, layer: Any) -> None:  # noqa: N802
        self.last_layer = layer

    # ------------------------------------------------------------------ PyTorch's container habits

    def __call__(self, x: npt.ArrayLike, train_flg: bool | None = None) -> np.ndarray:
        """``net(x)`` is :meth:`predict` (inference unless told ``train_flg=True``)."""
        return self.predict(x, train_flg)

    def __len__(self) -> int:
        """The number of layers (the loss layer not counted)."""
        return len(self.layers)

    def __getitem__(self, key: int | str) -> Any:
        """The layer at position ``key`` (negative counts from the end) or of that name."""
        if isinstance(key, str):
            return self.layers[key]
        layers = list(self.layers.values())
        try:
            return layers[key]
        except (IndexError, TypeError):
            raise IndexError(
                f"{type(self).__name__} has {len(layers)} layers ({', '.join(self.layers)}): "
                f"index them by position 0..{len(layers) - 1} or by name, got {key!r}"
            ) from None

    def __iter__(self) -> Iterator[Any]:
        """The layers, in order."""
        return iter(self.layers.values())

    # ------------------------------------------------------------------ forward and loss

    def predict(self, x: npt.ArrayLike, train_flg: bool | None = None) -> np.ndarray:
        """Scores (logits) before the loss layer.

        Parameters
        ----------
        x : array_like, shape (N, ...)
            uint8 images (0..255) are scaled by 1/255 to the network's dtype first
            (:func:`as_batch`), as the Trainer scales its batches, so ``loss``, ``accuracy``
            and the gradients read them as ``load_mnist(normalize=True)`` images too.
        train_flg : bool or None, default None
            The book's flag for layers that behave differently while training (Dropout,
            BatchNormalization); None (or False) infers whatever the network's mode, as the
            book's ``predict(x, train_flg=False)``: predicting twice gives one answer.

        Returns
        -------
        ndarray, shape (N, C)
        """
        x = as_array_like(x, self._first_array())  # host input of a GPU network, and back
        if getattr(x, "dtype", None) == np.uint8:
            x = as_batch(x, self.dtype)
        # The book's truthiness would train on predict(x, train_flg="no").
        train_flg = train_flg is not None and check_flag(
            train_flg, f"{type(self).__name__}.predict", "train_flg"
        )
        for layer in self.layers.values():
            x = layer_forward(layer, x, train_flg)
        return x  # what the last layer returned: an ndarray (NumPy's or CuPy's)

    def _weight_decay(self):
        if not self.weight_decay_lambda:
            return 0.0
        with quiet():  # huge weights give an infinite penalty, not a warning
            total = sum(np.sum(np.square(w)) for w in self._decayed())
            return 0.5 * self.weight_decay_lambda * total

    def _decayed(self):
        return [layer.W for layer, attr in self.params.slots().values() if attr == "W"]

    def loss(
        self, x: npt.ArrayLike, t: npt.ArrayLike, train_flg: bool | None = None
    ) -> np.floating:
        """Loss of the batch: the loss layer's value plus weight decay.

        Parameters
        ----------
        x : array_like, shape (N, ...)
        t : array_like, shape (N,) integer labels (or an (N, 1) column) or (N, C) one-hot rows
        train_flg : bool or None, default None
            As for :meth:`predict`, but None uses the network's mode (:attr:`training`).

        Returns
        -------
        scalar of the network's dtype
        """
        x, t = self._check_batch(x, t)
        train_flg = self.training if train_flg is None else train_flg
        loss = self.last_layer.forward(self.predict(x, train_flg), t)
        if self.weight_decay_lambda:
            xp = get_array_module(loss)
            loss = loss + xp.asarray(self._weight_decay(), dtype=loss.dtype)
        return loss

    def accuracy(self, x: npt.ArrayLike, t: npt.ArrayLike, batch_size: int = 1000) -> float:
        """Fraction of samples whose highest score is the label, always in inference mode.

        Evaluated ``batch_size`` samples at a time, so memory stays bounded for any N (the
        last chunk may be smaller), and every sample counts.

        Parameters
        ----------
        x : array_like, shape (N, ...)
            uint8 images are scaled by 1/255 one chunk at a time (see :meth:`predict`), so
            the result equals the Trainer's accuracy on the same images.
        t : array_like, shape (N,) labels (or an (N, 1) column) or (N, C) one-hot rows
        batch_size : int, default 1000

        Returns
        -------
        float
        """
        # x goes to the network's device a chunk at a time (in predict); t stays on the host,
        # where each chunk's predicted labels come back to be counted.
        x, t = self._check_batch(x, t, move=False)
        t = as_numpy(t)
        batch_size = check_number(
            batch_size, f"{type(self).__name__}.accuracy", "batch_size", low=1, integer=True
        )
        labels = None
        correct = 0
        for start in range(0, len(t), batch_size):
            y = self.predict(x[start : start + batch_size], train_flg=False)
            if labels is None:  # the number of classes is known from the first scores
                labels, onehot = check_labels(
                    t, (len(t), y.shape[-1]), f"{type(self).__name__}.accuracy"
                )
                if labels is None:
                    labels = np.argmax(onehot, axis=1)
            predicted = as_numpy(np.argmax(y, axis=1))
            correct += int(np.sum(predicted == labels[start : start + batch_size]))
        return correct / len(t)

    # ------------------------------------------------------------------ gradients

    def gradient(
        self, x: npt.ArrayLike, t: npt.ArrayLike, train_flg: bool | None = None
    ) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` by backpropagation.

        Returns
        -------
        dict
            Keyed like ``params``; each value has its parameter's shape and dtype.
        """
        return self.loss_and_gradient(x, t, train_flg)[1]

    def loss_and_gradient(
        self, x: npt.ArrayLike, t: npt.ArrayLike, train_flg: bool | None = None
    ) -> tuple[np.floating, dict[str, np.ndarray]]:
        """:meth:`loss` and :meth:`gradient` from one forward pass (the training step's need).

        Returns
        -------
        loss : scalar of the network's dtype
        grads : dict, keyed like ``params``
        """
        loss = self.loss(x, t, train_flg)
        dout = self.last_layer.backward(1.0)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        if getattr(layers[0], "skips_input_grad", False):
            # Nothing uses the gradient with respect to the data: the first layer may skip it.
            layers[0].backward(dout, input_grad=False)
        else:
            layers[0].backward(dout)
        grads = {}
        for key, (layer, attr) in self.params.slots().items():
            grad = getattr(layer, "d" + attr)
            if attr == "W" and self.weight_decay_lambda:
                grad = grad + self.weight_decay_lambda * getattr(layer, attr)
            grads[key] = grad
        return loss, grads

    def numerical_gradient(
        self, x: npt.ArrayLike, t: npt.ArrayLike, h: float = 1e-4, train_flg: bool | None = None
    ) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` by central differences (slow; for checking :meth:`gradient`).

        Every loss evaluation sees the same random draws (Dropout's masks): the random layers'
        generators are rewound before each one and left as they were found. So calling this
        first and :meth:`gradient` second compares two gradients of one and the same function
        (the book's check draws a new mask per evaluation, which makes it meaningless).

        Meaningful in float64; float32 parameters give only about three correct digits.
        """
        states = self.get_rng_state()

        def loss(_):
            self.set_rng_state(states)
            return self.loss(x, t, train_flg)

        try:
            return {
                key: functions.numerical_gradient(loss, param, h)
                for key, param in self.params.items()
            }
        finally:
            self.set_rng_state(states)

    # ------------------------------------------------------------------ PyTorch-style API

    def parameters(self) -> list[np.ndarray]:
        """The parameter arrays, in order (``W1, b1, W2, ...``)."""
        return list(self.params.values())

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """``(name, array)`` pairs, in order."""
        return list(self.params.items())

    def named_buffers(self) -> list[tuple[str, np.ndarray]]:
        """``(name, array)`` pairs of the state that is not trained, in order."""
        return list(self.buffers.items())

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of the parameters, then the buffers, keyed like ``params`` and ``buffers``.

        On the network's device (CuPy arrays for a GPU network); :func:`layerwise.save` and the
        checkpoints write host copies.
        """
        arrays = [*self.params.items(), *self.buffers.items()]
        return OrderedDict((key, value.copy()) for key, value in arrays)

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Copy arrays into the parameters and buffers, in place (references stay valid).

        Raises
        ------
        KeyError
            If ``state`` lacks an entry or has one the network does not.
        ValueError
            If a shape differs.
        """
        own = dict([*self.params.items(), *self.buffers.items()])
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for key, array in own.items():
            value = as_float_array(state[key], f"load_state_dict[{key!r}]", name="value")
            value = as_array_like(value, array)  # a file's host arrays onto a GPU network
            if value.shape != array.shape:
                raise ValueError(
                    f"load_state_dict: {key!r} has shape {value.shape}, the network's is "
                    f"{array.shape}"
                )
            with quiet():
                np.copyto(array, value, casting="same_kind")

    def random_layers(self) -> dict[str, Any]:
        """``{name: layer}`` of the layers that draw random numbers (their ``rng``)."""
        return {
            name: layer
            for name, layer in self.layers.items()
            if isinstance(getattr(layer, "rng", None), np.random.Generator)
        }

    def get_rng_state(self) -> dict[str, dict[str, Any]]:
        """The random layers' generator states, ``{layer name: bit_generator.state}`` (JSON)."""
        return {name: layer.rng.bit_generator.state for name, layer in self.random_layers().items()}

    def set_rng_state(self, states: Mapping[str, dict[str, Any]]) -> None:
        """Restore what :meth:`get_rng_state` returned: the same masks are drawn again."""
        layers = self.random_layers()
        if set(states) != set(layers):
            raise KeyError(
                f"set_rng_state: states for {sorted(states)}, but the random layers are "
                f"{sorted(layers)}"
            )
        for name, state in states.items():
            layers[name].rng.bit_generator.state = state

    def train(self, mode: bool = True) -> Self:
        """Set training mode (the default of :meth:`loss` and the gradients); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Self:
        """Set inference mode; returns self."""
        return self.train(False)

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (float64 when the network has no parameters)."""
        first = self._first_array()
        return np.dtype(np.float64) if first is None else first.dtype

    # ------------------------------------------------------------------ devices

    @property
    def device(self) -> str:
        """Where the parameters live: ``'cpu'`` or ``'cuda:N'`` (see :meth:`to`)."""
        return str(device_of(self._first_array()))

    def to(self, device: str | Device) -> Self:
        """Move the parameters and buffers to ``device``; returns the network (as in PyTorch).

        Parameters
        ----------
        device : {'cpu', 'cuda', 'cuda:N'}
            ``'cuda'`` needs CuPy (``pip install 'layerwise[gpu]'``) and a CUDA GPU.

        Each layer's attribute is replaced by the array on ``device`` (itself when it is there
        already, so ``to('cpu')`` of a CPU network changes nothing); ``params`` and ``buffers``
        are views of those attributes, so ``net.params['W1'] is net.layers['Affine1'].W``
        still holds. Input given to :meth:`predict`, :meth:`loss`, :meth:`gradient` and
        :meth:`accuracy` is copied to the network's device; what they return stays there.
        Optimizers move their state to the parameters' device at their next update.

        Raises
        ------
        InvalidParameterError
            For a device other than those above.
        DeviceUnavailableError
            For ``'cuda'`` without CuPy or without a GPU, before anything moves.
        """
        device = parse_device(device)
        array_module(device)  # CuPy and a GPU are checked before the first array moves
        for layer, attr in [*self.params.slots().values(), *self.buffers.slots().values()]:
            setattr(layer, attr, to_device(getattr(layer, attr), device))
        return self

    def to_gpu(self) -> Self:
        """``to('cuda')``: DeZero's name."""
        return self.to("cuda")

    def to_cpu(self) -> Self:
        """``to('cpu')``: DeZero's name."""
        return self.to("cpu")

    def _first_array(self) -> Any:
        """The first parameter (or buffer), whose device and dtype are the network's; or None."""
        return next(iter(self.params.values()), next(iter(self.buffers.values()), None))

    # ------------------------------------------------------------------ description

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable description of the architecture (used by :func:`layerwise.save`).

        Each layer is described by its name, its class name, ``layer.get_config()`` and the
        shapes of its parameters and buffers, and the network by its loss, weight decay, dtype
        and, when known, ``input_shape``; :func:`layerwise.load` rebuilds it from the registry
        of layer types.
        """
        layers = []
        for name, layer in self.layers.items():
            names = (*getattr(layer, "param_names", ()), *getattr(layer, "buffer_names", ()))
            get_config = getattr(layer, "get_config", None)
            layers.append(
                {
                    "name": name,
                    "type": type(layer).__name__,
                    "config": get_config() if callable(get_config) else {},
                    "arrays": {a: list(getattr(layer, a).shape) for a in names},
                }
            )
        config = {
            "class": "Sequential",
            "layers": layers,
            "loss": type(self.last_layer).__name__,
            "weight_decay_lambda": self.weight_decay_lambda,
            "dtype": self.dtype.name,
        }
        if self.input_shape is not None:  # images need it to be drawn, evaluated and exported
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def plan(
        cls,
        *,
        layers: Any,
        loss: Any,
        weight_decay_lambda: Any,
        dtype: Any,
        input_shape: Any = None,
    ) -> NetworkPlan:
        """The plan of a Sequential's description (:meth:`get_config`), nothing allocated.

        Each layer is described by its registered type, its config and the shapes of its
        arrays (:func:`~layerwise.plans.described_layers` checks them), so a model file's
        arrays can be compared with them before any is read.

        Raises
        ------
        InvalidParameterError
            Naming the entry of the description that is wrong.
        """
        arguments = {"layers": layers, "loss": loss, "weight_decay_lambda": weight_decay_lambda}
        arguments["dtype"] = dtype
        if input_shape is not None:
            input_shape = check_input_shape(input_shape, cls.__name__)
            arguments["input_shape"] = list(input_shape)
        return NetworkPlan(
            cls,
            arguments,
            described_layers(layers, dtype),
            registered_layer(loss, "loss"),
            check_number(weight_decay_lambda, cls.__name__, "weight_decay_lambda", low=0),
            input_shape,
        )

    @classmethod
    def from_plan(cls, plan: NetworkPlan, arrays: Mapping[str, npt.ArrayLike]) -> Sequential:
        """The network ``plan`` describes, holding ``arrays`` (keyed as :meth:`state_dict`).

        What :func:`layerwise.load` calls once a file's arrays are checked against the plan.
        """
        return cls(
            plan.build(arrays=arrays),
            loss=plan.loss(),
            weight_decay_lambda=plan.weight_decay_lambda,
            input_shape=plan.input_shape,
        )

    def summary(self, input_shape: tuple[int, ...] | None = None) -> str:
        """A table of the layers with their output shapes, sizes and parameter counts.

        Parameters
        ----------
        input_shape : tuple of int, optional
            The shape of one sample, e.g. ``(784,)`` or ``(1, 28, 28)``. The output shapes are
            found by running one zero sample through the network in inference mode; without
            it (and no ``input_shape`` attribute on the network) they are left out.

        Returns
        -------
        str
            One row per layer: its output shape, the number of values per sample that shape
            holds (what an Affine after it takes as ``in_features``, e.g. 16*14*14 = 3,136) and
            its parameter count. A layer that refuses what it receives ends the shapes there,
            and the last line says why (its own error message), so a wrongly sized layer of a
            network being built is named with the sizes it receives.
        """
        input_shape = getattr(self, "input_shape", None) if input_shape is None else input_shape
        shapes: list[Any] = [None] * len(self.layers)
        refused = ""
        if input_shape is not None:
            x = get_array_module(self._first_array()).zeros((1, *input_shape), self.dtype)
            for i, (name, layer) in enumerate(self.layers.items()):
                try:
                    x = layer_forward(layer, x, train_flg=False)
                except ValueError as err:
                    refused = f"{name} does not take (N, {', '.join(map(str, x.shape[1:]))}): {err}"
                    break
                shapes[i] = x.shape[1:]
        rows = [("layer", "output shape", "size", "params")]
        total = 0
        for (name, layer), shape in zip(self.layers.items(), shapes, strict=True):
            count = sum(getattr(layer, a).size for a in getattr(layer, "param_names", ()))
            total += count
            out = "?" if shape is None else str(("N", *shape)).replace("'", "")
            size = "?" if shape is None else f"{math.prod(shape):,}"
            rows.append((f"{name} ({type(layer).__name__})", out, size, f"{count:,}"))
        rows.append((f"last_layer ({type(self.last_layer).__name__})", "()", "", "0"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
            for r in rows
        ]
        rule = "-" * len(lines[0])
        lines.insert(1, rule)
        lines += [rule, f"total parameters: {total:,} ({self.dtype.name})"]
        if refused:
            lines.append(refused)
        return "\n".join(lines)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        lines += [f"  ({name}): {layer!r}" for name, layer in self.layers.items()]
        lines.append(f"  (last_layer): {self.last_layer!r}")
        if self.weight_decay_lambda:
            lines.append(f"  weight_decay_lambda={self.weight_decay_lambda}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ checks

    def _check_batch(self, x, t, move=True):
        """``x`` and ``t`` as arrays with the same, non-zero number of samples, on the
        network's device (where they are, with ``move=False``)."""
        owner = type(self).__name__
        try:
            x, t = as_array(x, owner), as_array(t, owner, "t")
        except (ValueError, TypeError) as err:  # ragged nested lists
            raise ValueError(f"{owner}: x and t must be rectangular arrays ({err})") from None
        if move:  # to the network's device
            first = self._first_array()
            x, t = as_array_like(x, first), as_array_like(t, first)
        if x.ndim == 0 or t.ndim == 0 or len(x) != len(t) or len(x) == 0:
            raise ValueError(
                f"{owner}: x and t must be non-empty batches of the same length N, "
                f"got x of shape {x.shape} and t of shape {t.shape}"
            )
        return x, t


register_network(Sequential)


class PlannedNetwork(Sequential):
    """A network whose constructor builds the layers its ``plan`` declares.

    A subclass defines the classmethod ``plan(**arguments)``, which checks the arguments and
    returns a :class:`~layerwise.plans.NetworkPlan` (nothing allocated), and a constructor
    that calls ``super().__init__(self.plan(...), seed)``. Model files keep the plan's
    arguments as the network's description and rebuild it with ``cls(**arguments, seed=0)``
    once its arrays are checked against the plan (:mod:`layerwise.files`).

    Parameters
    ----------
    plan : NetworkPlan
    seed : int, numpy.random.Generator or None
        Seeds the weights and, after them, the random layers' generators.
    """

    def __init__(self, plan: NetworkPlan, seed: Any = None) -> None:
        self._config = plan.config()
        super().__init__(
            plan.build(seed),
            loss=plan.loss(),
            weight_decay_lambda=plan.weight_decay_lambda,
            input_shape=plan.input_shape,
        )

    @classmethod
    def plan(cls, **arguments: Any) -> NetworkPlan:
        raise NotImplementedError(f"{cls.__name__} must define the classmethod plan(**arguments)")

    @classmethod
    def from_plan(cls, plan: NetworkPlan, arrays: Mapping[str, npt.ArrayLike]) -> Sequential:
        network = cls(**plan.arguments, seed=0)
        network.load_state_dict(arrays)
        return network

    def get_config(self) -> dict[str, Any]:
        """The network's description: its class name and its plan's arguments."""
        return dict(self._config)
