"""Networks: layers composed in order, then a loss layer (the book's chapters 5 and 6).

:class:`Sequential` is the general composition; :class:`TwoLayerNet` (chapter 5) and
:class:`MultiLayerNet` (chapter 6) are thin constructors on it with the book's signatures and
attributes: ``params`` (``'W1'``, ``'b1'``, ...), ``layers`` (an ordered dict named ``'Affine1'``,
``'Relu1'``, ...) and ``lastLayer``.

Unlike the book's networks, ``params`` is a live view of the layers' arrays: assigning
``net.params['W1'] = new`` is seen by ``Affine1`` (the book's code silently detaches the two, and
training then updates arrays that no layer reads).
"""

import numbers
from collections import OrderedDict
from collections.abc import MutableMapping

import numpy as np

from . import functions
from ._checks import as_float_array, check_labels
from .layers import Affine, Relu, Sigmoid, SoftmaxWithLoss

#: Layer classes a network can be rebuilt from by name (see :meth:`Sequential.get_config`).
LAYER_TYPES = {"Affine": Affine, "Relu": Relu, "Sigmoid": Sigmoid}
LOSS_TYPES = {"SoftmaxWithLoss": SoftmaxWithLoss}


class Parameters(MutableMapping):
    """The network's parameters as a dict-like live view of its layers' arrays.

    ``params['W1']`` is ``layers['Affine1'].W`` itself: updating it in place (as optimizers
    do) or assigning a new array to ``params['W1']`` both change what the layer computes
    with. Keys are fixed by the architecture; values must keep their shape and are converted
    to the network's dtype.
    """

    def __init__(self, slots):
        self._slots = slots  # key -> (layer, attribute name)

    def __getitem__(self, key):
        layer, attr = self._slots[key]
        return getattr(layer, attr)

    def __setitem__(self, key, value):
        if key not in self._slots:
            raise KeyError(
                f"params has no entry {key!r} (the architecture fixes the keys: "
                f"{', '.join(self._slots)})"
            )
        layer, attr = self._slots[key]
        current = getattr(layer, attr)
        if value is current:  # `params[k] -= g` assigns the same array back: nothing to do
            return
        value = as_float_array(value, f"params[{key!r}]", name="value")
        if value.shape != current.shape:
            raise ValueError(
                f"params[{key!r}] must keep its shape {current.shape}, got {value.shape}"
            )
        with np.errstate(over="ignore"):  # 1e300 into float32 becomes inf, as NumPy would
            setattr(layer, attr, value.astype(current.dtype, copy=False))

    def __contains__(self, key):
        return key in self._slots

    def __delitem__(self, key):
        raise TypeError("parameters cannot be deleted: the architecture fixes them")

    def __iter__(self):
        return iter(self._slots)

    def __len__(self):
        return len(self._slots)

    def __repr__(self):
        items = ", ".join(
            f"{k!r}: array(shape={self[k].shape}, dtype={self[k].dtype})" for k in self
        )
        return f"Parameters({{{items}}})"


class Sequential:
    """Layers applied in order, followed by a loss layer.

    Parameters
    ----------
    *layers : layer objects
        Each has ``forward(x)`` and ``backward(dout)``; parameters are found through the class
        attribute ``param_names`` (``('W', 'b')`` for :class:`~layerwise.layers.Affine`).
    loss : layer, default SoftmaxWithLoss()
        ``forward(y, t)`` returns the loss, ``backward(dout=1.0)`` its gradient.
    weight_decay_lambda : float, default 0
        L2 weight decay on every ``W``: the loss gains ``0.5 * lambda * sum(W**2)`` and each
        ``dW`` gains ``lambda * W``.

    Attributes
    ----------
    layers : OrderedDict
        Named by class and position among its kind: ``'Affine1'``, ``'Relu1'``, ``'Affine2'``.
    lastLayer : layer
        The loss layer.
    params : Parameters
        ``'W1'``, ``'b1'``, ``'W2'``, ...: a live dict-like view of the layers' arrays.
    training : bool
        Set by :meth:`train` / :meth:`eval`.
    """

    def __init__(self, *layers, loss=None, weight_decay_lambda=0.0):
        owner = type(self).__name__
        if not layers:
            raise ValueError(f"{owner} needs at least one layer")
        loss = SoftmaxWithLoss() if loss is None else loss
        for what, layer in [*(("every layer", layer) for layer in layers), ("loss", loss)]:
            if not (
                callable(getattr(layer, "forward", None))
                and callable(getattr(layer, "backward", None))
            ):
                raise TypeError(
                    f"{owner}: {what} needs forward and backward methods, got "
                    f"{type(layer).__name__} {layer!r}"
                )
        self.layers = OrderedDict()
        counts = {}
        slots = {}
        n_param_layers = 0
        for layer in layers:
            kind = type(layer).__name__
            counts[kind] = counts.get(kind, 0) + 1
            self.layers[f"{kind}{counts[kind]}"] = layer
            if getattr(layer, "param_names", ()):
                n_param_layers += 1
                for attr in layer.param_names:
                    slots[f"{attr}{n_param_layers}"] = (layer, attr)
        self.lastLayer = loss
        self.weight_decay_lambda = _check_number(owner, "weight_decay_lambda", weight_decay_lambda)
        self.params = Parameters(slots)
        self.training = True

    # ------------------------------------------------------------------ forward and loss

    def predict(self, x):
        """Scores (logits) before the loss layer.

        Parameters
        ----------
        x : array_like, shape (N, ...)

        Returns
        -------
        ndarray, shape (N, C)
        """
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def _weight_decay(self):
        if not self.weight_decay_lambda:
            return 0.0
        with np.errstate(over="ignore"):  # huge weights give an infinite penalty, not a warning
            total = sum(np.sum(np.square(w)) for k, w in self.params.items() if k[0] == "W")
            return 0.5 * self.weight_decay_lambda * total

    def loss(self, x, t):
        """Loss of the batch: the loss layer's value plus weight decay.

        Parameters
        ----------
        x : array_like, shape (N, ...)
        t : array_like, shape (N,) integer labels or (N, C) one-hot rows

        Returns
        -------
        scalar of the network's dtype
        """
        x, t = self._check_batch(x, t)
        loss = self.lastLayer.forward(self.predict(x), t)
        if self.weight_decay_lambda:
            loss = loss + loss.dtype.type(self._weight_decay())
        return loss

    def accuracy(self, x, t, batch_size=1000):
        """Fraction of samples whose highest score is the label.

        Evaluated ``batch_size`` samples at a time, so memory stays bounded for any N (the
        last chunk may be smaller).

        Parameters
        ----------
        x : array_like, shape (N, ...)
        t : array_like, shape (N,) labels or (N, C) one-hot rows
        batch_size : int, default 1000

        Returns
        -------
        float
        """
        x, t = self._check_batch(x, t)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
            or (batch_size < 1)
        ):
            raise ValueError(
                f"{type(self).__name__}.accuracy: batch_size must be an integer >= 1, "
                f"got {batch_size!r}"
            )
        labels = None
        correct = 0
        for start in range(0, len(t), batch_size):
            y = self.predict(x[start : start + batch_size])
            if labels is None:  # the number of classes is known from the first scores
                labels, onehot = check_labels(
                    t, (len(t), y.shape[-1]), f"{type(self).__name__}.accuracy"
                )
                if labels is None:
                    labels = np.argmax(onehot, axis=1)
            correct += int(np.sum(np.argmax(y, axis=1) == labels[start : start + batch_size]))
        return correct / len(t)

    # ------------------------------------------------------------------ gradients

    def gradient(self, x, t):
        """Gradients of :meth:`loss` by backpropagation.

        Returns
        -------
        dict
            Keyed like ``params``; each value has its parameter's shape and dtype.
        """
        return self.loss_and_gradient(x, t)[1]

    def loss_and_gradient(self, x, t):
        """:meth:`loss` and :meth:`gradient` from one forward pass (the training step's need).

        Returns
        -------
        loss : scalar of the network's dtype
        grads : dict, keyed like ``params``
        """
        loss = self.loss(x, t)
        dout = self.lastLayer.backward(1.0)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        first = layers[0]
        if isinstance(first, Affine):
            # Nothing uses the gradient with respect to the data: skip its matrix product.
            first.backward(dout, input_grad=False)
        else:
            first.backward(dout)
        grads = {}
        for key, (layer, attr) in self.params._slots.items():
            grad = getattr(layer, "d" + attr)
            if attr == "W" and self.weight_decay_lambda:
                grad = grad + self.weight_decay_lambda * getattr(layer, attr)
            grads[key] = grad
        return loss, grads

    def numerical_gradient(self, x, t, h=1e-4):
        """Gradients of :meth:`loss` by central differences (slow; for checking :meth:`gradient`).

        Meaningful in float64; float32 parameters give only about three correct digits.
        """
        return {
            key: functions.numerical_gradient(lambda _: self.loss(x, t), param, h)
            for key, param in self.params.items()
        }

    # ------------------------------------------------------------------ PyTorch-style API

    def parameters(self):
        """The parameter arrays, in order (``W1, b1, W2, ...``)."""
        return list(self.params.values())

    def named_parameters(self):
        """``(name, array)`` pairs, in order."""
        return list(self.params.items())

    def state_dict(self):
        """Copies of the parameters, keyed like ``params``."""
        return OrderedDict((key, value.copy()) for key, value in self.params.items())

    def load_state_dict(self, state):
        """Copy arrays into the parameters, in place (an optimizer's references stay valid).

        Raises
        ------
        KeyError
            If ``state`` lacks a parameter or has one the network does not.
        ValueError
            If a shape differs.
        """
        missing = [k for k in self.params if k not in state]
        unexpected = [k for k in state if k not in self.params]
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for key, param in self.params.items():
            value = as_float_array(state[key], f"load_state_dict[{key!r}]", name="value")
            if value.shape != param.shape:
                raise ValueError(
                    f"load_state_dict: {key!r} has shape {value.shape}, the network's is "
                    f"{param.shape}"
                )
            with np.errstate(over="ignore"):
                np.copyto(param, value, casting="same_kind")

    def train(self, mode=True):
        """Set training mode (kept for layers that behave differently); returns self."""
        self.training = bool(mode)
        for layer in self.layers.values():
            if hasattr(layer, "training"):
                layer.training = self.training
        return self

    def eval(self):
        """Set evaluation mode; returns self."""
        return self.train(False)

    @property
    def dtype(self):
        """The parameters' dtype (float64 when the network has no parameters)."""
        first = next(iter(self.params.values()), None)
        return np.dtype(np.float64) if first is None else first.dtype

    # ------------------------------------------------------------------ description

    def get_config(self):
        """A JSON-serialisable description of the architecture (used by :func:`layerwise.save`)."""
        layers = []
        for layer in self.layers.values():
            spec = {"type": type(layer).__name__}
            if isinstance(layer, Affine):
                spec["in_features"], spec["out_features"] = map(int, layer.W.shape)
            layers.append(spec)
        return {
            "class": "Sequential",
            "layers": layers,
            "loss": type(self.lastLayer).__name__,
            "weight_decay_lambda": self.weight_decay_lambda,
            "dtype": self.dtype.name,
        }

    def summary(self):
        """A table of the layers with their output shapes and parameter counts."""
        rows = [("layer", "output shape", "params")]
        shape = None
        total = 0
        for name, layer in self.layers.items():
            if isinstance(layer, Affine):
                shape = layer.W.shape[1]
            count = sum(getattr(layer, a).size for a in getattr(layer, "param_names", ()))
            total += count
            rows.append((f"{name} ({type(layer).__name__})", f"(N, {shape})", f"{count:,}"))
        rows.append((f"lastLayer ({type(self.lastLayer).__name__})", "()", "0"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}" for r in rows]
        rule = "-" * len(lines[0])
        lines.insert(1, rule)
        lines += [rule, f"total parameters: {total:,} ({self.dtype.name})"]
        return "\n".join(lines)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        lines += [f"  ({name}): {layer!r}" for name, layer in self.layers.items()]
        lines.append(f"  (lastLayer): {self.lastLayer!r}")
        if self.weight_decay_lambda:
            lines.append(f"  weight_decay_lambda={self.weight_decay_lambda}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ checks

    def _check_batch(self, x, t):
        """``x`` and ``t`` as arrays with the same, non-zero number of samples."""
        owner = type(self).__name__
        try:
            if type(x) is not np.ndarray or type(t) is not np.ndarray:
                x, t = np.asarray(x), np.asarray(t)
        except (ValueError, TypeError) as err:  # ragged nested lists
            raise ValueError(f"{owner}: x and t must be rectangular arrays ({err})") from None
        if x.ndim == 0 or t.ndim == 0 or len(x) != len(t) or len(x) == 0:
            raise ValueError(
                f"{owner}: x and t must be non-empty batches of the same length N, "
                f"got x of shape {x.shape} and t of shape {t.shape}"
            )
        return x, t


def _check_number(owner, name, value, positive=False):
    """A finite real number >= 0 (> 0 when ``positive``), else a ValueError/TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(
            f"{owner}: {name} must be a finite number {'>' if positive else '>='} 0, got {value}"
        )
    return value


def _check_size(owner, name, value):
    """A layer size: a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _init_scale(weight_init_std, fan_in, owner="MultiLayerNet"):
    """The book's chapter-6 choices: He for ReLU, Xavier for sigmoid, or a fixed number."""
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in ("relu", "he"):
            return np.sqrt(2.0 / fan_in)
        if name in ("sigmoid", "xavier"):
            return np.sqrt(1.0 / fan_in)
        raise ValueError(
            f"{owner}: weight_init_std must be 'relu'/'he', 'sigmoid'/'xavier' or a number, "
            f"got {weight_init_std!r}"
        )
    return _check_number(owner, "weight_init_std", weight_init_std)


def _check_dtype(dtype, owner):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _affine(rng, fan_in, fan_out, scale, dtype):
    # Drawn in float64 and then cast, so one seed gives the same network in either dtype.
    W = (scale * rng.standard_normal((fan_in, fan_out))).astype(dtype)
    return Affine(W, np.zeros(fan_out, dtype=dtype))


class TwoLayerNet(Sequential):
    """The book's chapter-5 network: Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    weight_init_std : float, default 0.01
        Weights are drawn from ``N(0, weight_init_std**2)``; biases start at 0.
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
        Seed of the ``numpy.random.Generator`` that draws the weights.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        weight_init_std=0.01,
        *,
        dtype=np.float64,
        seed=None,
    ):
        owner = "TwoLayerNet"
        dtype = _check_dtype(dtype, owner)
        input_size = _check_size(owner, "input_size", input_size)
        hidden_size = _check_size(owner, "hidden_size", hidden_size)
        output_size = _check_size(owner, "output_size", output_size)
        weight_init_std = _check_number(owner, "weight_init_std", weight_init_std)
        rng = np.random.default_rng(seed)
        self._config = {
            "class": owner,
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "weight_init_std": weight_init_std,
            "dtype": dtype.name,
        }
        super().__init__(
            _affine(rng, input_size, hidden_size, weight_init_std, dtype),
            Relu(),
            _affine(rng, hidden_size, output_size, weight_init_std, dtype),
        )

    def get_config(self):
        return dict(self._config)


class MultiLayerNet(Sequential):
    """The book's chapter-6 fully connected network with weight decay.

    ``Affine1 -> act1 -> ... -> Affine{L-1} -> act{L-1} -> Affine{L} -> SoftmaxWithLoss``.

    Parameters
    ----------
    input_size : int
    hidden_size_list : list of int
        Sizes of the hidden layers, e.g. ``[100, 100, 100]``.
    output_size : int
    activation : {'relu', 'sigmoid'}, default 'relu'
    weight_init_std : {'relu', 'he', 'sigmoid', 'xavier'} or float, default 'relu'
        ``'relu'``/``'he'``: std ``sqrt(2 / fan_in)``; ``'sigmoid'``/``'xavier'``:
        ``sqrt(1 / fan_in)``; a number: that std.
    weight_decay_lambda : float, default 0
        L2 weight decay (see :class:`Sequential`).
    dtype : {np.float64, np.float32}, keyword-only, default float64
    seed : int or None, keyword-only
    """

    def __init__(
        self,
        input_size,
        hidden_size_list,
        output_size,
        activation="relu",
        weight_init_std="relu",
        weight_decay_lambda=0,
        *,
        dtype=np.float64,
        seed=None,
    ):
        owner = "MultiLayerNet"
        dtype = _check_dtype(dtype, owner)
        activations = {"relu": Relu, "sigmoid": Sigmoid}
        if not isinstance(activation, str) or activation not in activations:
            raise ValueError(f"{owner}: activation must be 'relu' or 'sigmoid', got {activation!r}")
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise TypeError(
                f"{owner}: hidden_size_list must be a list of sizes such as [100, 100], "
                f"got {hidden_size_list!r}"
            )
        sizes = [
            _check_size(owner, "input_size", input_size),
            *(_check_size(owner, "hidden_size_list entries", n) for n in hidden_size_list),
            _check_size(owner, "output_size", output_size),
        ]
        weight_decay_lambda = _check_number(owner, "weight_decay_lambda", weight_decay_lambda)
        rng = np.random.default_rng(seed)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            scale = _init_scale(weight_init_std, fan_in, owner)
            layers.append(_affine(rng, fan_in, fan_out, scale, dtype))
            layers.append(activations[activation]())
        layers.pop()  # no activation after the last Affine: the loss layer takes the scores
        self.hidden_size_list = sizes[1:-1]
        self.hidden_layer_num = len(self.hidden_size_list)
        self._config = {
            "class": "MultiLayerNet",
            "input_size": sizes[0],
            "hidden_size_list": self.hidden_size_list,
            "output_size": sizes[-1],
            "activation": activation,
            "weight_init_std": weight_init_std,
            "weight_decay_lambda": weight_decay_lambda,
            "dtype": dtype.name,
        }
        super().__init__(*layers, weight_decay_lambda=weight_decay_lambda)

    def get_config(self):
        return dict(self._config)
