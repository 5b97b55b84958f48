"""Property-based tests of Dropout and BatchNormalization.

Each generated call gives a correct result or a documented, named error, and nothing else: the
rule is written out in ``property_cases.py``, which holds what the suites share.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    shapes,
)

from layerwise import (
    BackwardBeforeForwardError,
)
from layerwise.layers import BatchNormalization, Dropout

# ---------------------------------------------------------------- Dropout and BatchNormalization


@st.composite
def dropout_case(draw):
    ratio = draw(st.sampled_from([0.5, 0.0, 0.3, 0.99, np.float32(0.25), -0.1, 1.0, np.nan, "0.5"]))
    inverted = draw(st.sampled_from([False, True, 1]))
    shape = draw(shapes)
    x = draw(arrays(shape))
    dout = draw(arrays(shape if draw(st.integers(0, 4)) else draw(shapes)))
    maybe_readonly(draw, x, dout)
    return ratio, inverted, draw(st.booleans()), x, dout


@MANY
@given(case=dropout_case(), seed=st.integers(0, 2**32 - 1))
def test_dropout_layer(case, seed):
    ratio, inverted, train_flg, x, dout = case
    layer = call(
        lambda: Dropout(ratio, inverted=inverted, seed=seed),
        inputs=[],
        names=["Dropout"],
        counter="Dropout",
    )
    valid = isinstance(ratio, (float, np.floating)) and 0 <= ratio < 1
    if layer is ERROR:
        assert not (valid and isinstance(inverted, bool))
        return
    with pytest.raises(BackwardBeforeForwardError, match="Dropout"):
        layer.backward(dout)
    out = call(layer.forward, x, train_flg, names=["Dropout.forward"], counter="Dropout")
    if out is ERROR:
        assert not is_real(x)
        return
    dtype = policy_dtype(x)
    assert np.asarray(out).dtype == dtype and np.shape(out) == x.shape
    if train_flg:
        assert layer.mask.shape == x.shape and layer.mask.dtype == np.bool_
        keep = layer.mask / (1 - layer.dropout_ratio) if inverted else layer.mask
    else:
        assert layer.mask is None
        keep = np.ones(x.shape) if inverted else np.full(x.shape, 1 - layer.dropout_ratio)
        if inverted and x.dtype.kind == "f":
            assert out is x  # inference is the identity, as in torch
    if finite(x):
        with np.errstate(over="ignore"):  # a scaled float16 beyond its range is inf
            assert_close(out, (x.astype(np.float64) * keep).astype(dtype), dtype)
    dx = call(layer.backward, dout, inputs=[x, dout], names=["Dropout.backward"], counter="Dropout")
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != x.shape
        return
    assert np.asarray(dx).dtype == dtype and np.shape(dx) == x.shape
    if finite(dout):
        with np.errstate(over="ignore"):
            assert_close(dx, (dout.astype(np.float64) * keep).astype(dtype), dtype)


@st.composite
def batchnorm_case(draw):
    """gamma, beta, running statistics, options, x and dout: all valid, or one thing broken."""
    broken = draw(st.sampled_from([None] * 6 + ["gamma", "beta", "running", "option", "x"]))
    d = draw(st.integers(0, 4))
    gamma_shape, gamma_dtypes = (d,), FLOAT_DTYPES + FLOAT_DTYPES + INT_DTYPES
    if broken == "gamma" and draw(st.booleans()):
        gamma_shape = draw(st.sampled_from([(d, 1), (), (1, d)]))
    elif broken == "gamma":
        gamma_dtypes = BAD_DTYPES
    values = draw(st.sampled_from(["moderate", "moderate", "huge", None]))
    gamma = draw(arrays(gamma_shape, dtypes=gamma_dtypes, values=values))
    beta = draw(arrays((d + 1,) if broken == "beta" else (d,), dtypes=FLOAT_DTYPES, values=values))
    bad = draw(st.integers(0, 1)) if broken == "running" else None
    running = [
        draw(arrays((d + 1,), FLOAT_DTYPES))
        if i == bad
        else draw(st.none() | arrays((d,), FLOAT_DTYPES + INT_DTYPES, values=values))
        for i in range(2)
    ]
    options = {
        "momentum": draw(st.sampled_from([0.9, 0.0, 1.0, 0.5, np.float32(0.7)])),
        "eps": draw(st.sampled_from([1e-6, 1e-5, 0.5])),
        "unbiased_running_var": draw(st.booleans()),
    }
    if broken == "option":
        name = draw(st.sampled_from(sorted(options)))
        options[name] = draw(st.sampled_from([1.5, -0.1, np.nan, np.inf, 0.0, "no", None]))
    n, c, h, w = (draw(st.integers(a, 3)) for a in (1, 1, 1, 1))
    x_shapes = [(n, d), (n, d, h, w), (n, 1, 1, d), (n, 1, d, 1), (n, c, h, w)]
    if broken == "x":
        x_shapes = [(0, d), (n, d, 0, w), (n, d + 1), (d,), (n, d, h), (), (n, c, h, w)]
    x_shape = draw(st.sampled_from(x_shapes))
    x = draw(arrays(x_shape, dtypes=ALL_DTYPES if broken == "x" else FLOAT_DTYPES + INT_DTYPES))
    dout = draw(arrays(x_shape if draw(st.integers(0, 4)) else draw(shapes)))
    maybe_readonly(draw, gamma, beta, *running, x, dout)
    return gamma, beta, running, options, x, dout, draw(st.booleans())


def batchnorm_layout(x_shape, d):
    """The documented layouts: (axes of one feature, gamma's broadcast shape), or None."""
    if len(x_shape) not in (2, 4) or x_shape[0] < 1:
        return None
    if len(x_shape) == 2:
        return ((0,), (d,)) if x_shape[1] == d else None
    if x_shape[1] == d and x_shape[2] * x_shape[3] >= 1:
        return (0, 2, 3), (d, 1, 1)
    return ((0,), (d,)) if int(np.prod(x_shape[1:])) == d else None


def valid_batchnorm(gamma, beta, running, options):
    ok = is_real(gamma) and gamma.ndim == 1 and is_real(beta) and beta.shape == gamma.shape
    ok = ok and all(r is None or (is_real(r) and r.shape == gamma.shape) for r in running)
    momentum, eps = options["momentum"], options["eps"]
    ok = ok and isinstance(momentum, (float, np.floating)) and 0 <= momentum <= 1
    ok = ok and isinstance(eps, float) and 0 < eps < np.inf
    return ok and isinstance(options["unbiased_running_var"], bool)


@MANY
@given(case=batchnorm_case())
def test_batch_normalization_layer(case):
    gamma, beta, running, options, x, dout, train_flg = case
    layer = call(
        lambda: BatchNormalization(
            gamma, beta, running_mean=running[0], running_var=running[1], **options
        ),
        inputs=[gamma, beta, *(r for r in running if r is not None)],
        names=["BatchNormalization"],
        counter="BatchNormalization",
    )
    if layer is ERROR:
        assert not valid_batchnorm(gamma, beta, running, options)
        return
    assert valid_batchnorm(gamma, beta, running, options)
    dtype, d = layer.gamma.dtype, gamma.shape[0]
    assert dtype == policy_dtype(gamma)
    buffers = (layer.running_mean, layer.running_var)
    for given_, fill, buffer in zip(running, (0.0, 1.0), buffers, strict=True):
        assert buffer.dtype == dtype and buffer.shape == (d,)
        if given_ is None:
            np.testing.assert_array_equal(buffer, np.full(d, fill))
        elif given_.dtype == dtype and given_.flags.writeable:
            assert buffer is given_  # kept by reference, to be updated in place
    with pytest.raises(BackwardBeforeForwardError, match="BatchNormalization"):
        layer.backward(dout)
    before = [b.copy() for b in buffers]
    out = call(
        layer.forward,
        x,
        train_flg,
        inputs=[x, gamma, beta],
        names=["BatchNormalization.forward"],
        counter="BatchNormalization",
    )
    layout = batchnorm_layout(x.shape, d) if is_real(x) else None
    if out is ERROR:
        n_values = int(np.prod([x.shape[a] for a in layout[0]])) if layout else 0
        assert layout is None or (train_flg and options["unbiased_running_var"] and n_values < 2)
        return
    assert layout is not None
    assert out.dtype == dtype and out.shape == x.shape
    assert (layer.running_mean, layer.running_var) == buffers  # the same objects
    if not train_flg:
        for b, old in zip(buffers, before, strict=True):
            np.testing.assert_array_equal(b, old)
    arrays_ = [x, gamma, beta, *before]
    if finite(*arrays_) and all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in arrays_):
        axes, pshape = layout
        x64 = x.astype(dtype).astype(np.float64)
        if pshape == (d,):
            x64 = x64.reshape(x.shape[0], d)  # 2-D, or the book's per-position layout
        if train_flg:
            mu, var = x64.mean(axis=axes), x64.var(axis=axes)
        else:
            mu, var = (b.astype(np.float64) for b in before)
        g64, b64 = layer.gamma.astype(np.float64), beta.astype(dtype).astype(np.float64)
        with np.errstate(invalid="ignore"):  # a negative running_var gives NaN, like ours
            std = np.sqrt(var + layer.eps)
            expected = g64.reshape(pshape) * (x64 - mu.reshape(pshape)) / std.reshape(pshape)
            expected += b64.reshape(pshape)
        in_range = np.all(np.abs(expected) < np.finfo(dtype).max / 2)
        if np.all(std > 0) and d and x.size and in_range:
            scale = np.max(np.abs(g64)) * (np.max(np.abs(x64)) + np.max(np.abs(mu)) + 1)
            scale = scale / np.min(std) + np.max(np.abs(b64))
            atol = {2: 5e-2, 4: 1e-5}.get(dtype.itemsize, 1e-13) * scale
            np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=0, atol=atol)
    dx = call(
        layer.backward,
        dout,
        inputs=[x, gamma, beta, dout],
        names=["BatchNormalization.backward"],
        counter="BatchNormalization",
    )
    if dx is ERROR:
        assert not is_real(dout) or dout.shape != x.shape
        return
    assert dx.shape == x.shape and dx.dtype == dtype
    for grad in (layer.dgamma, layer.dbeta):
        assert grad.shape == (d,) and grad.dtype == dtype
    moderate = all(np.all(np.abs(a.astype(np.float64)) <= 50) for a in (x, gamma, dout))
    if train_flg and dtype == np.float64 and finite(x, gamma, dout) and moderate and d:
        # out does not change when a constant is added to one feature: dx sums to 0 over it
        dx2 = dx.reshape(layer.xn.shape)
        scale = np.max(np.abs(layer.gamma)) * np.max(np.abs(dout)) / np.min(layer.std)
        assert np.all(np.abs(np.sum(dx2, axis=layout[0])) <= 1e-13 * scale * dx2.size)
