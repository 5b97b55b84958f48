"""Property-based tests of Convolution and Pooling.

Each generated call gives a correct result or a documented, named error, and nothing else: the
rule is written out in ``property_cases.py``, which holds what the suites share.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from property_cases import (
    ALL_DTYPES,
    BAD_DTYPES,
    ERROR,
    FLOAT_DTYPES,
    INT_DTYPES,
    MANY,
    arrays,
    assert_close,
    call,
    finite,
    is_real,
    maybe_readonly,
    policy_dtype,
)

from layerwise import (
    BackwardBeforeForwardError,
)
from layerwise.layers import Convolution, Pooling

# ---------------------------------------------------------------- Convolution and Pooling


def fit(filter_size, out_size, stride, pad):
    """An input size that gives ``out_size`` outputs (more if that is < 1)."""
    size = (out_size - 1) * stride + filter_size - 2 * pad
    while size < 1:
        size += stride
    return size


def whole(value, low):
    """Whether ``value`` is a whole number >= ``low`` as check_number(integer=True) accepts."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


def window_output_shape(x, channels, fh, fw, stride, pad, out_channels=None):
    """(N, out_channels or C, OH, OW) for a valid x, else None: the documented input rules."""
    if not is_real(x) or x.ndim != 4 or 0 in x.shape:
        return None
    if channels is not None and x.shape[1] != channels:
        return None
    spans = (x.shape[2] + 2 * pad - fh, x.shape[3] + 2 * pad - fw)
    if min(spans) < 0:
        return None
    oh, ow = spans[0] // stride + 1, spans[1] // stride + 1
    return (x.shape[0], out_channels or x.shape[1], oh, ow)


@st.composite
def images(draw, c, fh, fw, stride, pad, broken):
    """Images the windows fit, drawn in either memory layout; or of a broken shape."""
    n, oh, ow = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # Up to stride - 1 rows and columns more than whole windows reach: the floored size.
    rest_h, rest_w = draw(st.integers(0, stride - 1)), draw(st.integers(0, stride - 1))
    shape = (n, c, fit(fh, oh, stride, pad) + rest_h, fit(fw, ow, stride, pad) + rest_w)
    if broken:
        shape = draw(
            st.sampled_from(
                [
                    (n, c, shape[2] + 1, shape[3]),
                    (n, c, shape[2], shape[3] + draw(st.integers(1, 2))),
                    (n, c + 1, *shape[2:]),
                    (0, *shape[1:]),
                    (n, c, 0, shape[3]),
                    shape[1:],
                    (*shape, 1),
                    (n, c, 1, 1),
                ]
            )
        )
    x = draw(arrays(shape, dtypes=ALL_DTYPES if broken else FLOAT_DTYPES + INT_DTYPES))
    if x.ndim == 4 and draw(st.booleans()):
        # channels-last memory seen as (N, C, H, W): what the layers hand on
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return x


@st.composite
def dout_for(draw, shape):
    """A dout of the forward output's shape, now and then of another shape or dtype."""
    if shape is None or not draw(st.integers(0, 5)):
        shape = draw(st.sampled_from([(1, 1, 1, 1), (2, 1, 2), ()]))
    return draw(arrays(shape))


@st.composite
def convolution_case(draw):
    broken = draw(st.sampled_from([None] * 6 + ["W", "b", "option", "x"]))
    fn, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    w_shape, w_dtypes = (fn, c, fh, fw), FLOAT_DTYPES + FLOAT_DTYPES + INT_DTYPES
    if broken == "W" and draw(st.booleans()):
        w_shape = draw(st.sampled_from([(fn, c, fh), (fn, c, fh, fw, 1), (0, c, fh, fw), ()]))
    elif broken == "W":
        w_dtypes = BAD_DTYPES
    values = draw(st.sampled_from(["moderate", "moderate", "huge", None]))
    W = draw(arrays(w_shape, dtypes=w_dtypes, values=values))
    b = draw(arrays((fn + 1,) if broken == "b" else (fn,), dtypes=FLOAT_DTYPES, values=values))
    options = {"stride": stride, "pad": pad}
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([0, -1, 1.5, 2.0, "1", None, True, np.int8(2)]))
    x = draw(images(c, fh, fw, stride, pad, broken == "x"))
    FN = w_shape[0] if len(w_shape) == 4 else None
    dout = draw(dout_for(window_output_shape(x, c, fh, fw, stride, pad, FN)))
    maybe_readonly(draw, W, b, x, dout)
    return W, b, options, x, dout, draw(st.booleans())


def valid_convolution(W, b, options):
    ok = is_real(W) and W.ndim == 4 and W.size > 0 and is_real(b) and b.shape == W.shape[:1]
    return ok and whole(options["stride"], 1) and whole(options["pad"], 0)


def reference_convolution(x, W, b, stride, pad):
    """The definition, in float64: every window of the zero-padded x times every filter."""
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    windows = sliding_window_view(xp, W.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncyxij,fcij->nfyx", windows, W) + b[:, None, None]


@MANY
@given(case=convolution_case())
def test_convolution_layer(case):
    W, b, options, x, dout, input_grad = case
    layer = call(
        lambda: Convolution(W, b, **options),
        inputs=[W, b],
        names=["Convolution"],
        counter="Convolution",
    )
    if layer is ERROR:
        assert not valid_convolution(W, b, options)
        return
    assert valid_convolution(W, b, options)
    dtype = layer.W.dtype
    assert dtype == policy_dtype(W) and layer.get_config() == options
    with pytest.raises(BackwardBeforeForwardError, match="Convolution"):
        layer.backward(dout)
    out = call(
        layer.forward, x, inputs=[W, b, x], names=["Convolution.forward"], counter="Convolution"
    )
    FN, C, FH, FW = W.shape
    stride, pad = options["stride"], options["pad"]
    shape = window_output_shape(x, C, FH, FW, stride, pad, FN)
    if out is ERROR:
        assert shape is None
        return
    assert out.shape == shape and out.dtype == dtype
    arrays_ = (x, W, b)
    if finite(*arrays_) and all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in arrays_):
        x64 = x.astype(dtype).astype(np.float64)
        w64, b64 = layer.W.astype(np.float64), b.astype(dtype).astype(np.float64)
        expected = reference_convolution(x64, w64, b64, stride, pad)
        if np.all(np.abs(expected) < np.finfo(dtype).max / 2):
            scale = (1 + C * FH * FW) * 50 * 50
            atol = {2: 2e-3, 4: 1e-6}.get(dtype.itemsize, 1e-14) * scale
            np.testing.assert_allclose(out, expected, rtol=0, atol=atol)
    dx = call(
        lambda d: layer.backward(d, input_grad=input_grad),
        dout,
        inputs=[W, b, x, dout],
        names=["Convolution.backward"],
        counter="Convolution",
    )
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != shape
        return
    assert dout.shape == shape
    if input_grad:
        assert dx.shape == x.shape and dx.dtype == dtype
    else:
        assert dx is None
    assert layer.dW.shape == W.shape and layer.dW.dtype == dtype
    assert layer.db.shape == (FN,) and layer.db.dtype == dtype


@st.composite
def pooling_case(draw):
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    if draw(st.booleans()):
        pw = stride = ph  # windows side by side: the reshape path
    options = {"pool_h": ph, "pool_w": pw, "stride": stride, "pad": pad}
    broken = draw(st.sampled_from([None] * 5 + ["option", "x"]))
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([0, -1, 1.5, 2.0, "2", None, False, np.int16(2)]))
    x = draw(images(draw(st.integers(1, 3)), ph, pw, stride, pad, broken == "x"))
    dout = draw(dout_for(window_output_shape(x, None, ph, pw, stride, pad)))
    maybe_readonly(draw, x, dout)
    return options, x, dout


def valid_pooling(options):
    ok = all(whole(options[name], 1) for name in ("pool_h", "pool_w", "stride"))
    ok = ok and whole(options["pad"], 0)
    return ok and options["pad"] < min(options["pool_h"], options["pool_w"])


@MANY
@given(case=pooling_case())
def test_pooling_layer(case):
    options, x, dout = case
    layer = call(lambda: Pooling(**options), inputs=[], names=["Pooling"], counter="Pooling")
    if layer is ERROR:
        assert not valid_pooling(options)
        return
    assert valid_pooling(options) and layer.get_config() == options
    with pytest.raises(BackwardBeforeForwardError, match="Pooling"):
        layer.backward(dout)
    out = call(layer.forward, x, names=["Pooling.forward"], counter="Pooling")
    ph, pw, stride, pad = options.values()
    shape = window_output_shape(x, None, ph, pw, stride, pad)
    if out is ERROR:
        assert shape is None
        return
    dtype = policy_dtype(x)
    assert out.shape == shape and out.dtype == dtype
    # The maximum of each window of the -inf-padded x: exact, NaN where a window holds NaN.
    xp = np.pad(x.astype(dtype), [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=-np.inf)
    windows = sliding_window_view(xp, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    np.testing.assert_array_equal(out, windows.max(axis=(4, 5)))
    dx = call(layer.backward, dout, inputs=[x, dout], names=["Pooling.backward"], counter="Pooling")
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != shape
        return
    assert dout.shape == shape and dx.shape == x.shape and dx.dtype == dtype
    if finite(x, dout) and np.all(np.abs(dout.astype(np.float64)) <= 50):
        # Each dout goes to exactly one input: the sums agree.
        total = np.sum(dout.astype(dtype), dtype=np.float64)
        assert_close(np.sum(dx, dtype=np.float64), total, dtype)
