"""Input checks shared by functions, layers and networks.

Every message names the caller, what it expected and what arrived, so that a learner who passes
the wrong thing reads what to change instead of a traceback from deep inside NumPy.

The checks look only at shapes and dtypes (O(1)), except label range checks, which read ``t``.
Values are never checked: NaN and inf pass through the arithmetic as IEEE 754 and NumPy define.

Policy on floating-point warnings
---------------------------------
Finite input never produces a warning. Where a true result lies beyond the float range (``x W``
for ``x ~ 1e300``, ``x - max(x)`` for rows spanning ``-1e308 .. 1e308``, a float64 ``dout`` cast
to a float32 layer) the code runs under :func:`quiet`, and the result is ``inf`` as NumPy would
compute it, without NumPy's RuntimeWarning. Non-finite input gives NumPy's NaN/inf results, also
without warnings, with one exception: ``Relu.backward`` and ``Sigmoid.backward`` multiply ``dout``
by a bool mask (or ``out * (1 - out)``) on their hot path, so an infinite ``dout`` meeting a zero
factor gives NaN with NumPy's "invalid value" warning (an ``errstate`` there would cost 20-70% of
a small Relu backward).

:func:`quiet` is the package's one way to say this; no module calls ``np.errstate`` itself. One
helper keeps one policy (overflow, invalid and divide give inf/NaN silently; underflow and the
caller's other settings as they were) and makes the nested case free: a training step runs under
one ``quiet()``, and the dozen inside its layers then cost nothing, where each ``np.errstate``
would be entered again (about 0.9 µs each on NumPy 2.4; 8 nested: 3 µs with ``quiet``, 8 µs
with ``np.errstate``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers

import numpy as np

from .backend import is_cupy_array


def quiet():
    """``np.errstate`` that lets overflow and invalid operations give inf/NaN without warning.

    Inside another ``quiet()`` (a training step runs under one) it does nothing, so the layers'
    own ``quiet()`` cost no second ``np.errstate`` (see the module docstring for why this one
    helper, and never ``np.errstate`` elsewhere).
    """
    return _ALREADY_QUIET if _inside_quiet.get() else _Quiet()


_inside_quiet = contextvars.ContextVar("layerwise_inside_quiet", default=False)
_ALREADY_QUIET = contextlib.nullcontext()


class _Quiet:
    """``np.errstate(over, invalid, divide="ignore")`` that marks its extent for nested calls."""

    def __enter__(self):
        self._errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")
        self._errstate.__enter__()
        self._token = _inside_quiet.set(True)

    def __exit__(self, *exc_info):
        _inside_quiet.reset(self._token)
        return self._errstate.__exit__(*exc_info)


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter or option is of the wrong type or out of its range.

    One error type for every such mistake, in networks, layers, optimizers, files and the
    command line; it is both a ValueError and a TypeError, so either ``except`` catches it
    (scikit-learn's ``InvalidParameterError`` does the same).
    """


def check_number(
    value,
    where,
    name,
    *,
    low=None,
    high=None,
    low_open=False,
    high_open=False,
    integer=False,
):
    """Return ``value`` as a float (an int when ``integer``) if it is a finite real in range.

    Parameters
    ----------
    value : object
        A Python or NumPy number (0-d arrays too); bool is refused.
    where, name : str
        Who asks and for what, for the message: ``"Adam: lr must be ..."``.
    low, high : float, optional
        Bounds; ``low_open`` / ``high_open`` exclude them.
    integer : bool, default False
        Require a whole number and return an int.

    Raises
    ------
    InvalidParameterError
        Naming ``where``, ``name``, the range and the value received.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # 0-d arrays come back from state_dict and np.load
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        value = int(value) if integer else float(value)
        ok = math.isfinite(value)
        ok = ok and (low is None or (value > low if low_open else value >= low))
        ok = ok and (high is None or (value < high if high_open else value <= high))
    if ok:
        return value
    wanted = "a whole number" if integer else "a finite number"
    if low is not None:
        wanted += f" {'>' if low_open else '>='} {low}"
    if high is not None:
        wanted += f"{' and' if low is not None else ''} {'<' if high_open else '<='} {high}"
    raise InvalidParameterError(f"{where}: {name} must be {wanted}, got {value!r}")


def check_flag(value, where, name):
    """Return ``value`` as a bool if it is one (NumPy's too); anything else, a truthy string
    such as ``"no"`` included, raises :class:`InvalidParameterError` naming ``where`` and
    ``name``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InvalidParameterError(f"{where}: {name} must be True or False, got {value!r}")


def check_seed(seed, where):
    """``np.random.default_rng(seed)``, NumPy's refusals (``-1``, ``"a"``, ``1.5``) naming
    ``where`` as an :class:`InvalidParameterError`."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as err:
        raise InvalidParameterError(
            f"{where}: seed must be None, a non-negative whole number or a "
            f"numpy.random.Generator, got {seed!r}"
        ) from err


def as_array(x, where, name="x"):
    """``np.asarray(x)``, with NumPy's conversion errors (e.g. ragged lists) naming the caller."""
    if type(x) is np.ndarray or is_cupy_array(x):  # an array already, on its device
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        kind = ValueError if isinstance(err, ValueError) else TypeError
        raise kind(
            f"{where}: {name} must be an array or (nested, rectangular) lists of numbers, "
            f"got {type(x).__name__} that NumPy cannot convert: {err}"
        ) from err


def as_float_array(x, where, name="x"):
    """Return ``x`` as an ndarray of floating dtype, without copying a floating input.

    Floating arrays (float16, float32, float64, longdouble) keep their dtype; bool and integer
    arrays become float64; anything else (complex, object, strings, datetimes) is a TypeError.
    """
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, without a call
        return x
    arr = as_array(x, where, name)
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{where}: {name} must be a real numeric array (float, int or bool), got dtype "
        f"{arr.dtype}" + (" (complex numbers are not supported)" if kind == "c" else "")
    )


def as_float_pair(x, y, where):
    """Both inputs of a two-input node as float arrays of one shape (no broadcasting)."""
    x = as_float_array(x, where, name="x")
    y = as_float_array(y, where, name="y")
    if x.shape != y.shape:
        # A broadcast input would need its gradient summed back to its shape; the book's
        # nodes take numbers or arrays of one shape, so say so instead of returning a wrong dx.
        raise ValueError(
            f"{where}: x and y must have the same shape (this node does not broadcast), "
            f"got x of shape {x.shape} and y of shape {y.shape}"
        )
    return x, y


def check_last_axis(x, where, name="x"):
    """Raise unless ``x`` has a non-empty last axis to normalise over (softmax and friends)."""
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{where}: {name} must have at least one class along its last axis, shape (..., C) "
            f"with C >= 1, got shape {x.shape}"
        )


def check_scores(x, where, name="x"):
    """Raise unless ``x`` is a non-empty batch of scores, shape (N, C) or (C,)."""
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(
            f"{where}: {name} must be non-empty, of shape (N, C) with N, C >= 1 or (C,) for one "
            f"sample, got shape {x.shape}"
        )


def check_labels(t, x_shape, where):
    """Validate supervision ``t`` against scores of shape ``x_shape`` = (..., C).

    Returns
    -------
    labels : ndarray of intp, shape ``x_shape[:-1]``, or None
        When ``t`` holds label indices: of shape ``x_shape[:-1]``, or an integer column of
        shape ``(*x_shape[:-1], 1)`` (the book's ch07/gradient_check.py passes one).
    onehot : ndarray, shape ``x_shape``, or None
        When ``t`` holds one-hot (or probability) rows.
    """
    t = as_array(t, where, name="t")
    n_classes = x_shape[-1]
    if t.shape == (*x_shape[:-1], 1) and n_classes > 1:
        t = t.reshape(x_shape[:-1])  # labels as an (N, 1) column, as the book's ch07 passes
    if t.shape == tuple(x_shape):
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{where}: one-hot t must be real numeric, got dtype {t.dtype}")
        return None, t
    if t.shape == tuple(x_shape[:-1]):
        if t.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: label indices t must have an integer dtype, got {t.dtype}. "
                "Convert with t.astype(int), or pass one-hot rows of shape "
                f"{tuple(x_shape)}."
            )
        # Unsigned labels (the datasets' uint8) need only the upper bound: one pass fewer.
        if t.size and ((t.dtype.kind == "i" and t.min() < 0) or t.max() >= n_classes):
            raise ValueError(
                f"{where}: labels must lie in [0, {n_classes}) for {n_classes} classes, "
                f"got values from {t.min()} to {t.max()}"
            )
        return t.astype(np.intp, copy=False), None
    raise ValueError(
        f"{where}: t must be label indices of shape {tuple(x_shape[:-1])} or one-hot rows of "
        f"shape {tuple(x_shape)} to match scores of shape {tuple(x_shape)}, got shape {t.shape}"
    )


def check_features(x, n_features, where):
    """``x`` of shape (N, ...) as its (N, n_features) view, N >= 1; else a ValueError."""
    if x.ndim == 2 and x.shape[1] == n_features and x.shape[0]:  # already (N, n_features)
        return x
    n_in = math.prod(x.shape[1:]) if x.ndim >= 2 else -1
    if x.ndim < 2 or x.shape[0] == 0 or n_in != n_features:
        raise ValueError(
            f"{where}: expected x of shape (N, {n_features}) with N >= 1 (or (N, ...) "
            f"flattening to {n_features} features), got {x.shape}"
            + ("; for one sample use x[None]" if x.ndim < 2 else "")
        )
    # An explicit feature count, not -1: reshape cannot infer -1 for a zero-size array.
    return x.reshape(x.shape[0], n_features)


def check_dout(dout, shape, where, dtype=None):
    """Return ``dout`` as a float array with the forward output's ``shape`` (in ``dtype``)."""
    if type(dout) is np.ndarray and dout.shape == shape and dout.dtype.kind == "f":
        if dtype is None or dout.dtype == dtype:  # the common case: nothing to convert
            return dout
    dout = as_float_array(dout, f"{where}.backward", name="dout")
    if dout.shape != shape:
        expected = "a scalar like" if shape == () else "the shape of"
        raise ValueError(
            f"{where}.backward: dout must have {expected} the forward output, {shape}, "
            f"got {dout.shape}"
        )
    return dout if dtype is None else as_dtype(dout, dtype)


def as_dtype(a, dtype):
    """``a`` in ``dtype``: free when it already is; beyond ``dtype``'s range becomes inf."""
    if a.dtype == dtype:
        return a
    with quiet():  # float64 beyond float32's range becomes inf, as the cast defines
        return a.astype(dtype)
