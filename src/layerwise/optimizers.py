"""Gradient-descent optimizers of chapter 6 ("Learning-related techniques").

Each optimizer follows the book's ``common/optimizer.py``: the same class names, constructor
arguments, defaults, update rules and attribute names (``lr``, ``momentum``, ``v``, ``h``,
``iter``, ``m``, ``beta1``, ``beta2``, ``decay_rate``). ``update(params, grads)`` changes the
arrays of ``params`` in place, so a network that holds those same arrays sees the new values
without any copying back.

What layerwise adds to the book: validation that speaks to a learner, dtype preservation
(float32 parameters and state stay float32), ``state_dict``/``load_state_dict`` for
bit-identical checkpoints, a ``__repr__``, and the registry ``OPTIMIZERS`` with
``get_optimizer(name, **kwargs)``.

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
import numbers
from collections.abc import Iterator, Mapping, MutableMapping

import numpy as np

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

#: Elements per slice in :func:`_cache_sized_parts` (256 KiB of float32).
_PART = 65536


def _cache_sized_parts(p: np.ndarray, g: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(p, g)`` as matching flat slices of at most ``_PART`` elements (views, never copies).

    An update such as ``p -= lr * g`` on a 1000x1000 float32 ``W`` would stream a 4 MB
    temporary through memory; slice by slice the temporary stays in cache, and the update is
    about 1.5x faster. Arrays that are small or not C-contiguous are returned whole.
    """
    if p.size <= _PART or not (p.flags.c_contiguous and g.flags.c_contiguous):
        return [(p, g)]
    p, g = p.reshape(-1), g.reshape(-1)
    return [(p[i : i + _PART], g[i : i + _PART]) for i in range(0, p.size, _PART)]


def _check_number(owner: str, name: str, value: object, low: float, high: float | None) -> float:
    """Return ``value`` as a float if ``low <= value < high`` (``low < value`` when ``high`` is
    None, i.e. a learning rate), else raise a ValueError that names the optimizer and argument."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # 0-d arrays come back from state_dict / np.load
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {name} must be a real number, got {value!r}")
    value = float(value)
    if high is None:
        ok, wanted = math.isfinite(value) and value > low, f"a finite number > {low}"
    else:
        ok, wanted = low <= value < high, f"in [{low}, {high})"
    if not ok:
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value!r}")
    return value


class Optimizer:
    """Base class: validation, per-parameter state, ``state_dict`` and ``__repr__``.

    A subclass lists its hyperparameters in ``_hyper`` as ``name: (low, high)`` ranges
    (``high=None`` means "greater than ``low``") and the attribute names of its per-parameter
    state dicts in ``_slots`` (``"v"`` for Momentum, ``"h"`` for AdaGrad, ...). Each slot is
    ``None`` until the first ``update``, as in the book, then a dict ``name -> ndarray`` shaped
    and typed like the parameter. Its ``update`` then reads like the book's page.
    """

    _hyper: dict[str, tuple[float, float | None]] = {"lr": (0.0, None)}
    _slots: tuple[str, ...] = ()
    _counters: tuple[str, ...] = ()  # integer state such as Adam's step count ``iter``

    def __init__(self, **hyperparameters: float) -> None:
        for name, value in hyperparameters.items():
            low, high = self._hyper[name]
            setattr(self, name, _check_number(type(self).__name__, name, value, low, high))
        for slot in self._slots:
            setattr(self, slot, None)
        for counter in self._counters:
            setattr(self, counter, 0)

    def update(self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]):
        """Take one step: change every array of ``params`` in place using ``grads``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
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
            if not isinstance(g, np.ndarray):
                g = np.asarray(g)
            if not isinstance(p, np.ndarray):
                raise TypeError(
                    f"{owner}.update: params[{key!r}] is a {type(p).__name__}, not a "
                    "numpy.ndarray; optimizers update parameters in place, which needs arrays."
                )
            if g.shape != p.shape:
                raise ValueError(
                    f"{owner}.update: gradient {key!r} has shape {g.shape} but the parameter "
                    f"has shape {p.shape}; they must match."
                )
            pairs.append((key, p, g))
        return iter(pairs)

    def _state(self, slot: str, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the per-parameter state dict ``slot``, creating zeros where it has none.

        Zeros are made with the parameter's dtype so float32 training stays float32.
        """
        state = getattr(self, slot)
        if state is None:
            state = {}
            setattr(self, slot, state)
        for key, p in params.items():
            if key not in state:
                state[key] = np.zeros_like(p)
            elif state[key].shape != np.shape(p):
                raise ValueError(
                    f"{type(self).__name__}: state {slot}[{key!r}] has shape "
                    f"{state[key].shape} but the parameter has shape {np.shape(p)}; was this "
                    "state loaded from a checkpoint of a different network?"
                )
        return state

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the optimizer's state as a flat dict ``str -> numpy.ndarray``.

        Keys are the hyperparameter names (``'lr'``, ``'momentum'``, ...) and counters
        (``'iter'``) as 0-d arrays, plus ``'<slot>/<param name>'`` (``'v/W1'``, ``'h/b2'``)
        for every per-parameter array. Arrays are copies, so the result is a snapshot that
        ``np.savez(file, **opt.state_dict())`` can store without pickling.
        """
        state: dict[str, np.ndarray] = {}
        for name in self._hyper:
            state[name] = np.array(getattr(self, name), dtype=np.float64)
        for name in self._counters:
            state[name] = np.array(getattr(self, name), dtype=np.int64)
        for slot in self._slots:
            for key, value in (getattr(self, slot) or {}).items():
                state[f"{slot}/{key}"] = value.copy()
        return state

    def _is_slot_key(self, key: str) -> bool:
        slot, _, name = key.partition("/")
        return slot in self._slots and bool(name)

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore exactly what ``state_dict`` returned (a dict or an ``np.load`` result).

        Raises
        ------
        ValueError
            If a hyperparameter or counter key is missing, a key is unknown, a value is out of
            range, or the slots do not cover the same parameters.
        """
        owner = type(self).__name__
        keys = list(state.keys())
        scalars = [*self._hyper, *self._counters]
        missing = [k for k in scalars if k not in keys]
        unknown = [k for k in keys if k not in scalars and not self._is_slot_key(k)]
        if missing or unknown:
            expected = scalars + [f"{slot}/<param name>" for slot in self._slots]
            raise ValueError(
                f"{owner}.load_state_dict: missing key(s) {missing}, unknown key(s) {unknown}; "
                f"expected {expected}. Was this state saved by a different optimizer?"
            )
        hyper = {
            name: _check_number(owner, name, state[name], *self._hyper[name])
            for name in self._hyper
        }
        counters = {}
        for name in self._counters:
            value = np.asarray(state[name])
            if value.shape != () or value.dtype.kind not in "iu" or value < 0:
                raise ValueError(f"{owner}.load_state_dict: {name!r} must be an integer >= 0")
            counters[name] = int(value)
        slots: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self._slots}
        for key in keys:
            if key not in scalars:
                slot, name = key.split("/", 1)
                slots[slot][name] = np.array(state[key], copy=True)
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
        super().__init__(lr=lr)

    def update(self, params, grads):
        for _, p, g in self._pairs(params, grads):
            for p_part, g_part in _cache_sized_parts(p, g):
                p_part -= self.lr * g_part


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

    _hyper = {"lr": (0.0, None), "momentum": (0.0, 1.0)}
    _slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr=lr, momentum=momentum)

    def update(self, params, grads):
        pairs = self._pairs(params, grads)
        vs = self._state("v", params)
        for key, p, g in pairs:
            v = vs[key]
            v *= self.momentum
            v -= self.lr * g
            p += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient, in the book's reparametrised form.

    .. math::
        v \\leftarrow \\alpha v - \\eta g, \\qquad
        W \\leftarrow W + \\alpha^2 v - (1 + \\alpha) \\eta g

    The book (after Bengio et al., "Advances in optimizing recurrent networks", 2012) evaluates
    the gradient at the stored :math:`W` rather than at the look-ahead point. Note that it adds
    :math:`\\alpha^2 v` with the *new* :math:`v`, whereas Bengio's formula uses the previous one.

    This is **not** the trajectory of ``torch.optim.SGD(momentum=α, nesterov=True)``, which
    steps :math:`W \\leftarrow W + \\alpha v - \\eta g` with the same :math:`v` (writing torch's
    buffer as :math:`b = -v/\\eta`). Since :math:`v` depends only on the gradients, for the
    same gradient sequence each book step equals :math:`\\alpha` times torch's step minus
    :math:`\\eta g`:

    .. math:: \\Delta W_{\\text{book}} = \\alpha \\, \\Delta W_{\\text{torch}} - \\eta g.

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

    _hyper = {"lr": (0.0, None), "momentum": (0.0, 1.0)}
    _slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr=lr, momentum=momentum)

    def update(self, params, grads):
        pairs = self._pairs(params, grads)
        vs = self._state("v", params)
        for key, p, g in pairs:
            v = vs[key]
            v *= self.momentum
            v -= self.lr * g
            p += self.momentum * self.momentum * v
            p -= (1 + self.momentum) * self.lr * g


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

    _slots = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)

    def update(self, params, grads):
        pairs = self._pairs(params, grads)
        hs = self._state("h", params)
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

    _hyper = {"lr": (0.0, None), "decay_rate": (0.0, 1.0)}
    _slots = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr=lr, decay_rate=decay_rate)

    def update(self, params, grads):
        pairs = self._pairs(params, grads)
        hs = self._state("h", params)
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

    _hyper = {"lr": (0.0, None), "beta1": (0.0, 1.0), "beta2": (0.0, 1.0)}
    _slots = ("m", "v")
    _counters = ("iter",)

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr=lr, beta1=beta1, beta2=beta2)

    def update(self, params, grads):
        pairs = self._pairs(params, grads)
        ms, vs = self._state("m", params), self._state("v", params)
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
