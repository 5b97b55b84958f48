"""Gradient-descent optimizers of chapter 6 ("Learning-related techniques").

Each optimizer follows the book's ``common/optimizer.py``: the same class names, constructor
arguments, defaults, update rules and attribute names (``lr``, ``momentum``, ``v``, ``h``,
``iter``, ``m``, ``beta1``, ``beta2``, ``decay_rate``). ``update(params, grads)`` changes the
arrays of ``params`` in place, so a network that holds those same arrays sees the new values
without any copying back.

What layerwise adds to the book: checks that speak to a learner, dtype preservation
(float32 parameters and state stay float32), ``state_dict``/``load_state_dict`` for
bit-identical checkpoints, a ``__repr__``, and the registry ``OPTIMIZERS`` with
``get_optimizer(name, **kwargs)``. One departure: ``Nesterov`` steps in the corrected order of
the book's repository, not the printed book's (see its docstring).

Notation in the docstrings: :math:`W` is one parameter array, :math:`g = \\partial L/\\partial W`
its gradient, :math:`\\eta` the learning rate ``lr``; every operation is elementwise.

Examples
--------
>>> import numpy as np
>>> params = {"W1": np.ones(3), "b1": np.zeros(1)}
>>> grads = {"W1": np.full(3, 0.5), "b1": np.ones(1)}
>>> opt = get_optimizer("sgd", lr=0.1)
>>> opt.update(params, grads)
>>> params["W1"]
array([0.95, 0.95, 0.95])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, MutableMapping

import numpy as np

from ._checks import as_array, check_number
from .backend import as_array_like, get_array_module, is_cupy_array

__all__ = [
    "EPS",
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get_optimizer",
]

#: The book's constant guarding against division by zero in AdaGrad, RMSprop and Adam.
EPS = 1e-7


class Optimizer:
    """Base class: the checks before a step, per-parameter state, checkpoints and ``__repr__``.

    A subclass's constructor sets its hyperparameters and state as the book's does
    (``self.lr = lr``, ``self.v = None``), and three class attributes name them. They are the
    optimizer's public protocol, read by checkpoints and by data-parallel training
    (:mod:`layerwise.parallel`):

    - ``hyperparameter_names``: the constructor's arguments, ``("lr", "momentum")`` for
      Momentum; their values are :attr:`hyperparameters`. Change one (``opt.lr = 0.001``, in a
      callback or between ``train()`` calls) and the next update uses it, whatever the number
      of workers;
    - ``slot_names``: the per-parameter state, ``("v",)`` for Momentum, ``("h",)`` for AdaGrad.
      Each is ``None`` until the first ``update``, as in the book, then a dict
      ``name -> ndarray`` shaped and typed like the parameter (:meth:`slot`);
    - ``counter_names``: integer state, ``("iter",)`` for Adam; their values are
      :attr:`counters`.

    :meth:`state_dict` and :meth:`load_state_dict` save and restore all three, as PyTorch's
    optimizers do.

    ``elementwise`` (True for every rule of the book) says that ``update`` treats each entry of
    each array on its own, so that data-parallel training may run it on slices of the
    parameters in different processes; a subclass whose rule mixes entries (a norm over a whole
    array, say) sets it False.
    """

    hyperparameter_names: tuple[str, ...] = ("lr",)
    slot_names: tuple[str, ...] = ()
    counter_names: tuple[str, ...] = ()
    elementwise: bool = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        # The names before they were public (_hyperparameters, _slots, _counters) still work.
        super().__init_subclass__(**kwargs)
        for old, new in (
            ("_hyperparameters", "hyperparameter_names"),
            ("_slots", "slot_names"),
            ("_counters", "counter_names"),
        ):
            if old in cls.__dict__ and new not in cls.__dict__:
                setattr(cls, new, tuple(cls.__dict__[old]))

    @property
    def hyperparameters(self) -> dict[str, float]:
        """``{name: value}`` of every hyperparameter (a new dict: assign attributes to change)."""
        return {name: getattr(self, name) for name in self.hyperparameter_names}

    @property
    def counters(self) -> dict[str, int]:
        """``{name: value}`` of every integer counter (Adam's ``iter``); empty for most rules."""
        return {name: int(getattr(self, name)) for name in self.counter_names}

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """Take one step: change every array of ``params`` in place using ``grads``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"

    # -- helpers for update -------------------------------------------------------------------

    def _pairs(
        self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(key, param, grad)`` for every parameter, after checking all of them.

        Everything is checked before the first array changes, so a bad ``grads`` leaves the
        network untouched instead of half-updated.
        """
        owner = type(self).__name__
        keys = list(params.keys())
        # The common case costs one pass over grads (a plain dict): the same number of keys,
        # all present, means the same keys. Only a mismatch pays for the detailed message.
        if len(grads) == len(keys) and all(k in grads for k in keys):
            missing = extra = []
        else:
            missing = [k for k in keys if k not in grads]
            extra = [k for k in grads.keys() if k not in params]
        if missing:
            raise KeyError(
                f"{owner}.update: no gradient for parameter(s) {missing}; grads has keys "
                f"{list(grads.keys())}. Pass grads with the same keys as params."
            )
        if extra:
            raise ValueError(
                f"{owner}.update: grads has key(s) {extra} that are not in params "
                f"(params has {keys}). Check for a misspelt or stale gradient name."
            )
        pairs = []
        for key in keys:
            p, g = params[key], grads[key]
            if not (isinstance(p, np.ndarray) or is_cupy_array(p)):
                raise TypeError(
                    f"{owner}.update: params[{key!r}] is a {type(p).__name__}, not a "
                    "numpy.ndarray; optimizers update parameters in place, which needs arrays."
                )
            if p.dtype.kind != "f":  # in place, p -= lr * g cannot store a fraction in an int
                raise TypeError(
                    f"{owner}.update: params[{key!r}] has dtype {p.dtype}; optimizers update "
                    "parameters in place, which needs floating-point arrays: convert it with "
                    ".astype(float) before training"
                )
            if type(g) is not type(p):  # a list, or a host gradient for a GPU parameter
                g = as_array_like(as_array(g, f"{owner}.update", f"grads[{key!r}]"), p)
            if g.shape != p.shape:
                raise ValueError(
                    f"{owner}.update: gradient {key!r} has shape {g.shape} but the parameter "
                    f"has shape {p.shape}; they must match."
                )
            pairs.append((key, p, g))
        return iter(pairs)

    def slot(self, slot: str, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The per-parameter state dict ``slot`` (one of ``slot_names``), zeros where it has none.

        The dict is the optimizer's own (``self.v`` for ``'v'``): an array put into it is the
        one the next update changes in place.

        Zeros are made with the parameter's dtype so float32 training stays float32, and on
        its device; state loaded from a file (host arrays) or kept from before ``net.to(...)``
        moves to the parameter's device here, so the state follows the parameters.
        """
        state = getattr(self, slot)
        if state is None:
            state = {}
            setattr(self, slot, state)
        for key, p in params.items():
            if key not in state:
                state[key] = get_array_module(p).zeros_like(p)
            elif type(state[key]) is not type(p):
                state[key] = as_array_like(state[key], p)
            if state[key].shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}: state {slot}[{key!r}] has shape "
                    f"{state[key].shape} but the parameter has shape {p.shape}; was this "
                    "state loaded from a checkpoint of a different network?"
                )
        return state

    _state = slot  # the name before it was public

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the optimizer's state as a flat dict ``str -> numpy.ndarray``.

        Keys are the hyperparameter names (``'lr'``, ``'momentum'``, ...) and counters
        (``'iter'``) as 0-d arrays, plus ``'<slot>/<param name>'`` (``'v/W1'``, ``'h/b2'``)
        for every per-parameter array. Arrays are copies, so the result is a snapshot that
        ``np.savez(file, **opt.state_dict())`` can store without pickling.
        """
        state: dict[str, np.ndarray] = {}
        for name, value in self.hyperparameters.items():
            state[name] = np.array(value, dtype=np.float64)
        for name, count in self.counters.items():
            state[name] = np.array(count, dtype=np.int64)
        for slot in self.slot_names:
            for key, value in (getattr(self, slot) or {}).items():
                state[f"{slot}/{key}"] = value.copy()  # on the parameters' device
        return state

    def _is_slot_key(self, key: str) -> bool:
        slot, _, name = key.partition("/")
        return slot in self.slot_names and bool(name)

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore exactly what ``state_dict`` returned (a dict or an ``np.load`` result).

        Raises
        ------
        ValueError
            If a hyperparameter or counter key is missing, a key is unknown, or the slots do not
            cover the same parameters; ``InvalidParameterError`` (a ValueError) if a value is out
            of range.
        """
        owner = type(self).__name__
        keys = list(state.keys())
        scalars = [*self.hyperparameter_names, *self.counter_names]
        missing = [k for k in scalars if k not in keys]
        unknown = [k for k in keys if k not in scalars and not self._is_slot_key(k)]
        if missing or unknown:
            expected = scalars + [f"{slot}/<param name>" for slot in self.slot_names]
            raise ValueError(
                f"{owner}.load_state_dict: missing key(s) {missing}, unknown key(s) {unknown}; "
                f"expected {expected}. Was this state saved by a different optimizer?"
            )
        # The constructor checks each hyperparameter's range; a spare instance reuses its checks.
        spare = type(self)(**{name: state[name] for name in self.hyperparameter_names})
        hyper = spare.hyperparameters
        counters = {
            name: check_number(state[name], f"{owner}.load_state_dict", name, low=0, integer=True)
            for name in self.counter_names
        }
        slots: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slot_names}
        for key in keys:
            if key not in scalars:
                slot, name = key.split("/", 1)
                # a copy, on the device it came from (the next update moves it to the params')
                slots[slot][name] = as_array(state[key], f"{owner}.load_state_dict", key).copy()
        names = [sorted(s) for s in slots.values()]
        if any(n != names[0] for n in names):
            raise ValueError(
                f"{owner}.load_state_dict: the state slots cover different parameters: "
                + ", ".join(f"{slot}: {n}" for slot, n in zip(slots, names, strict=True))
            )
        # Validation done: only now change the optimizer, so a bad state leaves it intact.
        for name, value in {**hyper, **counters}.items():
            setattr(self, name, value)
        for slot, values in slots.items():
            setattr(self, slot, values or None)


class SGD(Optimizer):
    """Stochastic gradient descent (book section 6.1.2).

    .. math:: W \\leftarrow W - \\eta \\, g

    Same as ``torch.optim.SGD(params, lr)``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate :math:`\\eta > 0`.
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_number(lr, "SGD", "lr", low=0, low_open=True)

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        for _, p, g in self._pairs(params, grads):
            p -= self.lr * g


class Momentum(Optimizer):
    """SGD with momentum (book section 6.1.4).

    .. math::
        v \\leftarrow \\alpha v - \\eta g, \\qquad W \\leftarrow W + v

    with :math:`\\alpha` = ``momentum`` and :math:`v` starting at zero.

    ``torch.optim.SGD(params, lr, momentum)`` keeps instead a buffer :math:`b \\leftarrow
    \\alpha b + g` and steps :math:`W \\leftarrow W - \\eta b`. With a constant learning rate
    :math:`v = -\\eta b` at every step, so both give the same trajectory; they part ways only
    if ``lr`` is changed during training (the book's ``v`` remembers the old rate).

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate :math:`\\eta > 0`.
    momentum : float, default 0.9
        :math:`\\alpha \\in [0, 1)`, the fraction of the last step that is kept.

    Attributes
    ----------
    v : dict of str to ndarray or None
        The velocity per parameter; None until the first ``update``.
    """

    hyperparameter_names = ("lr", "momentum")
    slot_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = check_number(lr, "Momentum", "lr", low=0, low_open=True)
        self.momentum = check_number(
            momentum, "Momentum", "momentum", low=0, high=1, high_open=True
        )
        self.v = None

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        pairs = self._pairs(params, grads)
        vs = self.slot("v", params)
        for key, p, g in pairs:
            v = vs[key]
            v *= self.momentum
            v -= self.lr * g
            p += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient, in the form of Bengio et al. (2013).

    .. math::
        W \\leftarrow W + \\alpha^2 v - (1 + \\alpha) \\, \\eta g, \\qquad
        v \\leftarrow \\alpha v - \\eta g

    in this order, so the step on :math:`W` uses the *previous* :math:`v`; :math:`\\alpha` =
    ``momentum``, :math:`v` starts at zero and :math:`g` is the gradient at the stored
    :math:`W`.

    Why this is Nesterov's method: the usual form (Sutskever et al., 2013) takes the gradient at
    a look-ahead point, :math:`v \\leftarrow \\alpha v - \\eta \\nabla L(\\Theta + \\alpha v)`,
    :math:`\\Theta \\leftarrow \\Theta + v`. Bengio et al. ("Advances in optimizing recurrent
    networks", ICASSP 2013) store that look-ahead point instead, :math:`W = \\Theta + \\alpha v`;
    substituting gives the two lines above, with the gradient at :math:`W` itself.

    Same trajectory as ``torch.optim.SGD(params, lr, momentum, nesterov=True)``, which keeps
    :math:`b \\leftarrow \\alpha b + g` and steps :math:`W \\leftarrow W - \\eta (g + \\alpha
    b)`: with :math:`v = -\\eta b` that is the first line above, so torch's parameters equal
    ours at every step (for a constant learning rate).

    Difference from the printed book: its ``common/optimizer.py`` updates :math:`v` first and
    then adds :math:`\\alpha^2 v` with the *new* :math:`v`. That is not Nesterov's method: fed the
    same gradients, each of its steps is :math:`\\alpha` times the step above minus
    :math:`\\eta g`. The book's repository has the corrected order, which layerwise follows.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate :math:`\\eta > 0`.
    momentum : float, default 0.9
        :math:`\\alpha \\in [0, 1)`.

    Attributes
    ----------
    v : dict of str to ndarray or None
        The velocity per parameter; None until the first ``update``.
    """

    hyperparameter_names = ("lr", "momentum")
    slot_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = check_number(lr, "Nesterov", "lr", low=0, low_open=True)
        self.momentum = check_number(
            momentum, "Nesterov", "momentum", low=0, high=1, high_open=True
        )
        self.v = None

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        pairs = self._pairs(params, grads)
        vs = self.slot("v", params)
        for key, p, g in pairs:
            v = vs[key]
            # W moves first, with the previous v (the printed book's code updates v first).
            p += self.momentum * self.momentum * v
            p -= (1 + self.momentum) * self.lr * g
            v *= self.momentum
            v -= self.lr * g


class AdaGrad(Optimizer):
    """AdaGrad: a learning rate per element that shrinks with the gradients seen (6.1.5).

    .. math::
        h \\leftarrow h + g \\odot g, \\qquad
        W \\leftarrow W - \\eta \\, \\frac{g}{\\sqrt{h} + \\epsilon}

    with :math:`h` starting at zero and :math:`\\epsilon = 10^{-7}` (``EPS``).

    Same as ``torch.optim.Adagrad(params, lr, eps=1e-7)`` with the defaults
    ``lr_decay=0, initial_accumulator_value=0`` (torch's default ``eps`` is ``1e-10``).

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate :math:`\\eta > 0`.

    Attributes
    ----------
    h : dict of str to ndarray or None
        Sum of squared gradients per parameter; None until the first ``update``.
    """

    slot_names = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_number(lr, "AdaGrad", "lr", low=0, low_open=True)
        self.h = None

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        pairs = self._pairs(params, grads)
        hs = self.slot("h", params)
        for key, p, g in pairs:
            h = hs[key]
            h += g * g
            denom = np.sqrt(h)
            denom += EPS
            p -= np.divide(self.lr * g, denom, out=denom)


class RMSprop(Optimizer):
    """RMSprop: AdaGrad with an exponentially decaying average of squared gradients.

    .. math::
        h \\leftarrow \\rho h + (1 - \\rho) \\, g \\odot g, \\qquad
        W \\leftarrow W - \\eta \\, \\frac{g}{\\sqrt{h} + \\epsilon}

    with :math:`\\rho` = ``decay_rate``, :math:`h` starting at zero and
    :math:`\\epsilon = 10^{-7}` (``EPS``).

    Same as ``torch.optim.RMSprop(params, lr, alpha=decay_rate, eps=1e-7)``
    (torch's defaults are ``alpha=0.99, eps=1e-8``).

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate :math:`\\eta > 0`.
    decay_rate : float, default 0.99
        :math:`\\rho \\in [0, 1)`, how much of the running average is kept per step.

    Attributes
    ----------
    h : dict of str to ndarray or None
        Running average of squared gradients per parameter; None until the first ``update``.
    """

    hyperparameter_names = ("lr", "decay_rate")
    slot_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = check_number(lr, "RMSprop", "lr", low=0, low_open=True)
        self.decay_rate = check_number(
            decay_rate, "RMSprop", "decay_rate", low=0, high=1, high_open=True
        )
        self.h = None

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        pairs = self._pairs(params, grads)
        hs = self.slot("h", params)
        for key, p, g in pairs:
            h = hs[key]
            h *= self.decay_rate
            h += (1 - self.decay_rate) * g * g
            denom = np.sqrt(h)
            denom += EPS
            p -= np.divide(self.lr * g, denom, out=denom)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), in the book's form with bias correction folded into the rate.

    At step :math:`t = 1, 2, \\dots` (``iter``), with :math:`m, v` starting at zero:

    .. math::
        m &\\leftarrow m + (1 - \\beta_1)(g - m) \\\\
        v &\\leftarrow v + (1 - \\beta_2)(g \\odot g - v) \\\\
        \\eta_t &= \\eta \\, \\frac{\\sqrt{1 - \\beta_2^t}}{1 - \\beta_1^t} \\\\
        W &\\leftarrow W - \\eta_t \\, \\frac{m}{\\sqrt{v} + \\epsilon}

    with :math:`\\epsilon = 10^{-7}` (``EPS``). The first two lines are the usual
    :math:`m \\leftarrow \\beta_1 m + (1 - \\beta_1) g`, written as a step toward :math:`g`.

    Difference from ``torch.optim.Adam(params, lr, betas=(beta1, beta2), eps)``, which steps
    :math:`W \\leftarrow W - \\eta \\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)` with
    :math:`\\hat m = m/(1-\\beta_1^t)`, :math:`\\hat v = v/(1-\\beta_2^t)`: here
    :math:`\\epsilon` is added to the *uncorrected* :math:`\\sqrt{v}`. Multiplying out, the
    book's step is torch's with a step-dependent :math:`\\epsilon_t = \\epsilon /
    \\sqrt{1 - \\beta_2^t}`, about :math:`31.6\\,\\epsilon` at :math:`t = 1` for
    :math:`\\beta_2 = 0.999`, tending to :math:`\\epsilon` as :math:`t` grows. The two agree
    closely whenever :math:`\\sqrt{\\hat v} \\gg \\epsilon`.

    Parameters
    ----------
    lr : float, default 0.001
        Learning rate :math:`\\eta > 0`.
    beta1 : float, default 0.9
        :math:`\\beta_1 \\in [0, 1)`, decay of the first-moment (mean) estimate.
    beta2 : float, default 0.999
        :math:`\\beta_2 \\in [0, 1)`, decay of the second-moment estimate.

    Attributes
    ----------
    iter : int
        Number of steps taken so far.
    m, v : dict of str to ndarray or None
        First- and second-moment estimates per parameter; None until the first ``update``.
    """

    hyperparameter_names = ("lr", "beta1", "beta2")
    slot_names = ("m", "v")
    counter_names = ("iter",)

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = check_number(lr, "Adam", "lr", low=0, low_open=True)
        self.beta1 = check_number(beta1, "Adam", "beta1", low=0, high=1, high_open=True)
        self.beta2 = check_number(beta2, "Adam", "beta2", low=0, high=1, high_open=True)
        self.iter = 0
        self.m = None
        self.v = None

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        pairs = self._pairs(params, grads)
        ms, vs = self.slot("m", params), self.slot("v", params)
        self.iter += 1
        # math.sqrt keeps lr_t a Python float, so float32 arrays are not promoted to float64.
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key, p, g in pairs:
            m, v = ms[key], vs[key]
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            denom = np.sqrt(v)
            denom += EPS
            p -= np.divide(lr_t * m, denom, out=denom)


#: Optimizer classes by lower-case name, as accepted by ``get_optimizer``.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def get_optimizer(name: str, **kwargs: float) -> Optimizer:
    """Build an optimizer from its name, case-insensitively (as the book's ``Trainer`` does).

    Parameters
    ----------
    name : str
        One of the keys of ``OPTIMIZERS``: ``'sgd'``, ``'momentum'``, ``'nesterov'``,
        ``'adagrad'``, ``'rmsprop'``, ``'adam'`` (any case).
    **kwargs
        Hyperparameters for the constructor, e.g. ``lr=0.01``.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        If ``name`` is not a known optimizer.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)} (any case)"
        )
    return OPTIMIZERS[key](**kwargs)
