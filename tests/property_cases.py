"""What the property suites share: hypothesis strategies for arrays of every dtype, the call
wrapper that accepts a correct result or a documented, named error (and nothing else: no other
exception, no warning, no modified input), references, and the tolerance for comparing with them.

The suites are in ``test_<module>_properties.py``, one per module they test: functions, layers,
regularization, conv and network.

For each generated case the call must either give a correct result (checked against a simple
reference where that is cheap, and against the dtype policy: parameter-free code keeps a floating
input's dtype and computes int/bool in float64; Affine and the networks compute in their
parameters' dtype) or raise one of the documented errors, a ValueError or TypeError whose message
names the function, layer or network. Never another exception, never a warning (finite input
never warns; see ``layerwise._checks`` for the one documented exception with infinite ``dout``),
never a modified input; read-only inputs must work everywhere.

The number of generated calls is counted per kind of call and printed after the run (with ``-s``
or ``-v``).
"""

import warnings

import numpy as np
from conftest import record_count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FEW = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])

FLOAT_DTYPES = (np.float16, np.float32, np.float64)
INT_DTYPES = (np.int8, np.int64, np.uint8, np.bool_)
BAD_DTYPES = ("complex", "object", "str")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + BAD_DTYPES
ERROR = object()  # what `call` returns when the documented error was raised


# ---------------------------------------------------------------- generated input


def float_elements(dtype, values):
    """Elements of a float dtype: moderate, plus huge finite ones, plus NaN/inf."""
    info = np.finfo(dtype)
    moderate = st.floats(-50, 50, width=info.bits) | st.sampled_from([0.0, -0.0])
    if values == "moderate":
        return moderate
    huge = st.sampled_from([float(info.max), -float(info.max), float(dtype(info.max / 3))])
    if values == "huge":
        return moderate | huge
    return moderate | huge | st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def arrays(draw, shape, dtypes=ALL_DTYPES, values=None):
    """An array of ``shape`` with a drawn dtype and values (``values`` None: drawn too)."""
    dtype = draw(st.sampled_from(dtypes))
    if values is None:
        values = draw(st.sampled_from(["moderate", "huge", "nonfinite"]))
    if dtype in FLOAT_DTYPES:
        return draw(hnp.arrays(dtype, shape, elements=float_elements(dtype, values)))
    if dtype in INT_DTYPES:
        return draw(hnp.arrays(dtype, shape))
    base = draw(hnp.arrays(np.float64, shape, elements=st.floats(-9, 9)))
    if dtype == "complex":
        return base + 1j
    if dtype == "object":
        return base.astype(object)
    return base.astype(str)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def is_float(a):
    return np.asarray(a).dtype.kind == "f"


def is_real(a):
    return np.asarray(a).dtype.kind in "biuf"


def finite(*arrays_):
    return all(is_real(a) and np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays_)


def policy_dtype(x):
    """The dtype policy of parameter-free code: floats keep theirs, int/bool become float64."""
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def maybe_readonly(draw, *arrs):
    if draw(st.booleans()):
        for a in arrs:
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
    return arrs


def snapshot(a):
    a = np.asarray(a)
    return (a.shape, a.dtype, a.tolist() if a.dtype.kind == "O" else a.tobytes())


def call(fn, *args, names, inputs=None, inf_dout=False, counter):
    """``fn(*args)``, or ERROR if it raised the documented error naming one of ``names``.

    Fails on any other exception, on any warning (except NumPy's "invalid value" warning of
    ``0 * inf`` when ``inf_dout``: the documented Relu/Sigmoid backward case), and when an
    input (``inputs``, default every array in ``args``) is modified.
    """
    record_count("generated calls (the property suites)", counter)
    record_count("generated calls (the property suites)", "(all)")
    inputs = [a for a in args if isinstance(a, np.ndarray)] if inputs is None else inputs
    before = [snapshot(a) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if inf_dout:
            warnings.filterwarnings("ignore", "invalid value encountered in (scalar )?multiply")
        try:
            result = fn(*args)
        except (ValueError, TypeError) as err:
            message = str(err)
            assert any(name in message for name in names), (names, message)
            result = ERROR
    assert [snapshot(a) for a in inputs] == before, "an input was modified"
    return result


def assert_close(actual, expected, dtype, rtol_f64=1e-12):
    """Compare in float64 with a tolerance fitting ``dtype``; NaN must match NaN."""
    rtol = {2: 3e-3, 4: 3e-6}.get(np.dtype(dtype).itemsize, rtol_f64)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=rtol
    )


@st.composite
def scores_and_labels(draw, dtypes=ALL_DTYPES):
    """Scores (N, C) or (C,) (sometimes of a bad shape) and supervision t, good or bad."""
    n, c = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    shape = draw(st.sampled_from([(n, c), (c,), (n, c, 2), ()]))
    x = draw(arrays(shape, dtypes=dtypes))
    batch = shape[:-1] if len(shape) >= 1 else ()
    kind = draw(st.sampled_from(["labels", "labels", "onehot", "float labels", "bad shape"]))
    if kind == "labels":
        dtype = draw(st.sampled_from([np.int64, np.uint8, np.int8]))
        low = -1 if dtype != np.uint8 and draw(st.booleans()) else 0
        t = draw(hnp.arrays(dtype, batch, elements=st.integers(low, max(c, 1))))
    elif kind == "onehot":
        t = draw(arrays(shape, dtypes=FLOAT_DTYPES + INT_DTYPES + ("complex", "object")))
    elif kind == "float labels":
        t = draw(hnp.arrays(np.float64, batch, elements=st.integers(0, 3).map(float)))
    else:
        t = draw(hnp.arrays(np.int64, draw(shapes), elements=st.integers(0, 3)))
    maybe_readonly(draw, x, t)
    return x, t


def valid_supervision(x, t):
    """Whether (x, t) is a valid batch: real scores (N, C)/(C,) non-empty, t labels/one-hot."""
    if not is_real(x) or x.ndim not in (1, 2) or x.size == 0:
        return False
    c = x.shape[-1]
    if t.shape == x.shape:
        return is_real(t)
    if t.shape == x.shape[:-1]:
        return t.dtype.kind in "iu" and (t.size == 0 or (t.min() >= 0 and t.max() < c))
    return False


def reference_loss(log_probs, t):
    """``-mean_n sum_k T_nk log p_nk`` in float64, T being t as one-hot rows."""
    onehot = t.shape == np.shape(log_probs)
    log_probs = np.atleast_2d(np.asarray(log_probs, np.float64))
    if onehot:
        weights = np.atleast_2d(t.astype(np.float64))
    else:
        weights = np.eye(log_probs.shape[-1])[np.atleast_1d(t)]
    with np.errstate(invalid="ignore"):
        return -np.sum(weights * log_probs) / log_probs.shape[0]
