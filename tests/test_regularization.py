"""Dropout and BatchNormalization: PyTorch parity, the book's semantics.

The gradient checks (both layers, the three BatchNormalization layouts) are
test_layers_gradcheck's. PyTorch parity writes the torch computation line for line beside ours
and measures ``max |ours - torch| / max |torch|``: at most 1e-10 in float64 and 1e-5 in float32.
PyTorch is optional: those tests are skipped without it.

Run with ``-s`` or ``-v`` to see the worst errors measured (printed after the run).
"""

import numpy as np
import pytest
from conftest import record_worst

from layerwise import BackwardBeforeForwardError
from layerwise.layers import LAYERS, BatchNormalization, Dropout

RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def close(ours, theirs, dtype, name):
    """Norm-wise relative error of ``ours`` against a torch tensor, recorded under ``name``."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.dtype == dtype and ours.shape == theirs.shape, (ours.dtype, ours.shape)
    diff = np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)))
    err = float(diff / max(float(np.max(np.abs(theirs))), 1e-300))
    where = f"{name} {np.dtype(dtype).name}"
    record_worst("largest difference from PyTorch (BatchNorm, Dropout)", where, err, RTOL[dtype])


def bn_params(rng, d, dtype=np.float64):
    gamma = rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
    return gamma.astype(dtype), rng.standard_normal(d).astype(dtype)


# The three layouts: shape of x, number of features D, axes of one feature in torch_view(x).
LAYOUTS = {
    "2-D": ((6, 4), 4, (0,)),
    "per-channel": ((3, 4, 2, 3), 4, (0, 2, 3)),
    "per-position": ((5, 2, 2, 3), 12, (0,)),
}


def torch_view(xt, layout):
    """The tensor F.batch_norm normalises the way our layout does (the book's: reshaped)."""
    return xt.reshape(xt.shape[0], -1) if layout == "per-position" else xt


# ---------------------------------------------------------------- PyTorch parity

dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32])


@dtypes
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("unbiased", [True, False])
def test_torch_batchnorm_training_steps(torch, dtype, layout, unbiased):
    """Three training steps, then inference: outputs, gradients and running statistics."""
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    shape, d, axes = LAYOUTS[layout]
    gamma, beta = bn_params(rng, d, dtype)
    momentum, eps = 0.8, 1e-5
    layer = BatchNormalization(gamma, beta, momentum, eps=eps, unbiased_running_var=unbiased)
    rm_t = torch.zeros(d, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    rv_t = torch.ones_like(rm_t)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        rv_before = torch.tensor(layer.running_var)  # a copy, taken before our update
        out = layer.forward(x, train_flg=True)
        dx = layer.backward(dout)

        xt = torch.tensor(x, requires_grad=True)
        gt = torch.tensor(gamma, requires_grad=True)
        bt = torch.tensor(beta, requires_grad=True)
        outt = F.batch_norm(  # torch's momentum weighs the new batch: ours is 1 - it
            torch_view(xt, layout), rm_t, rv_t, gt, bt, True, 1 - momentum, eps
        ).reshape(shape)
        outt.backward(torch.tensor(dout))

        close(out, outt, dtype, f"BN {layout} train out")
        close(dx, xt.grad, dtype, f"BN {layout} train dx")
        close(layer.dgamma, gt.grad, dtype, f"BN {layout} train dgamma")
        close(layer.dbeta, bt.grad, dtype, f"BN {layout} train dbeta")
        close(layer.running_mean, rm_t, dtype, f"BN {layout} running_mean")
        if unbiased:  # torch's running variance is fed the unbiased batch variance
            close(layer.running_var, rv_t, dtype, f"BN {layout} running_var")
        else:  # the book's: fed the biased batch variance, which F.batch_norm cannot do
            var_t = torch_view(xt, layout).var(dim=axes, correction=0).detach()
            biased = momentum * rv_before + (1 - momentum) * var_t
            close(layer.running_var, biased, dtype, f"BN {layout} running_var biased")

    x = (rng.standard_normal(shape) * 3).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    out = layer.forward(x, train_flg=False)
    dx = layer.backward(dout)
    if not unbiased:
        rv_t = torch.tensor(layer.running_var)  # torch cannot keep the biased estimate
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    outt = F.batch_norm(torch_view(xt, layout), rm_t, rv_t, gt, bt, False, 0.1, eps).reshape(shape)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, f"BN {layout} inference out")
    close(dx, xt.grad, dtype, f"BN {layout} inference dx")
    close(layer.dgamma, gt.grad, dtype, f"BN {layout} inference dgamma")
    close(layer.dbeta, bt.grad, dtype, f"BN {layout} inference dbeta")


@dtypes
def test_torch_batchnorm2d_module_per_channel(torch, dtype):
    """Our per-channel layout is nn.BatchNorm2d with momentum 1 - ours and our eps."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 5, 5)).astype(dtype)
    layer = BatchNormalization(np.ones(3, dtype), np.zeros(3, dtype), unbiased_running_var=True)
    module = torch.nn.BatchNorm2d(3, eps=1e-6, momentum=0.1)
    if dtype == np.float64:
        module = module.double()
    outt = module(torch.tensor(x))
    close(layer.forward(x), outt, dtype, "BatchNorm2d out")
    close(layer.running_var, module.running_var, dtype, "BatchNorm2d running_var")
    module.eval()
    close(layer.forward(x, train_flg=False), module(torch.tensor(x)), dtype, "BatchNorm2d eval")


@dtypes
@pytest.mark.parametrize("p", [0.5, 0.2, 0.0])
def test_torch_dropout_inverted(torch, dtype, p):
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 10)).astype(dtype)
    dout = rng.standard_normal((8, 10)).astype(dtype)
    layer = Dropout(p, inverted=True, seed=0)
    out = layer.forward(x)
    dx = layer.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    mask = torch.tensor(layer.mask)  # torch's own draw would differ: use ours
    outt = xt * mask / (1 - p)
    outt.backward(torch.tensor(dout))
    close(out, outt, dtype, "dropout inverted out")
    close(dx, xt.grad, dtype, "dropout inverted dx")

    assert layer.forward(x, train_flg=False) is x
    xt = torch.tensor(x)
    assert F.dropout(xt, p, training=False) is xt  # torch's inference is the identity too
    np.testing.assert_array_equal(layer.backward(dout), dout)


# ---------------------------------------------------------------- regressions of book differences


def test_regression_running_var_starts_at_one():
    """The book starts running_var at 0: inference before training divides by sqrt(1e-6)."""
    layer = BatchNormalization(np.ones(2), np.zeros(2))
    np.testing.assert_array_equal(layer.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var, [1.0, 1.0])
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    out = layer.forward(x, train_flg=False)
    np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-6), rtol=1e-15)  # the book's: x * 1000
    # Passing the book's zeros gives the book's numbers.
    book = BatchNormalization(np.ones(2), np.zeros(2), running_var=np.zeros(2))
    np.testing.assert_allclose(book.forward(x, train_flg=False), x / np.sqrt(1e-6))


def test_regression_per_channel_4d():
    """gamma of shape (C,) on (N, C, H, W): statistics per channel over N, H, W.

    The book reshapes to (N, C*H*W), where gamma of shape (C,) cannot broadcast.
    """
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5, 2)) * [[[[1.0]], [[5.0]], [[0.1]]]] + 7
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
    out = BatchNormalization(gamma, beta).forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-4)
    # the same as 2-D batch normalization of every pixel's channel vector
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    expected = BatchNormalization(gamma, beta).forward(rows)
    np.testing.assert_allclose(out, expected.reshape(4, 5, 2, 3).transpose(0, 3, 1, 2))


def test_per_position_4d_is_the_books_reshape():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 2, 3, 3))
    gamma, beta = bn_params(rng, 18)
    layer, flat = BatchNormalization(gamma, beta), BatchNormalization(gamma, beta)
    np.testing.assert_array_equal(layer.forward(x), flat.forward(x.reshape(5, 18)).reshape(x.shape))
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(
        layer.backward(dout), flat.backward(dout.reshape(5, 18)).reshape(x.shape)
    )
    np.testing.assert_array_equal(layer.running_var, flat.running_var)


def test_regression_dropout_leaves_global_random_state_alone():
    """The book's Dropout draws from np.random.rand, moving the global state."""
    np.random.seed(123)  # noqa: NPY002 (the legacy global state is what is tested)
    before = np.random.get_state()  # noqa: NPY002
    Dropout(seed=0).forward(np.ones((10, 10)))
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0] and all(
        np.array_equal(a, b) for a, b in zip(before[1:], after[1:], strict=True)
    )


def test_regression_running_buffers_updated_in_place():
    """The book rebinds running_mean to a new array; a network's reference would go stale."""
    rm, rv = np.zeros(3), np.ones(3)
    layer = BatchNormalization(np.ones(3), np.zeros(3), 0.9, rm, rv)
    x = np.random.default_rng(8).standard_normal((4, 3)) + 2
    layer.forward(x)
    assert layer.running_mean is rm and layer.running_var is rv
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(axis=0), rtol=1e-14)


def test_regression_backward_after_inference_is_the_inference_gradient():
    """The book's backward after an inference forward reuses the last training step's cache."""
    rng = np.random.default_rng(9)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    dropout = Dropout(0.25, seed=0)
    dropout.forward(x)  # a training step leaves a mask behind
    dropout.forward(x, train_flg=False)
    assert dropout.mask is None
    np.testing.assert_array_equal(dropout.backward(dout), dout * 0.75)
    gamma, beta = bn_params(rng, 3)
    bn = BatchNormalization(gamma, beta, running_mean=np.ones(3), running_var=np.full(3, 4.0))
    bn.forward(x + 5)
    bn.forward(x, train_flg=False)
    np.testing.assert_allclose(bn.backward(dout), dout * gamma / np.sqrt(bn.running_var + 1e-6))


# ---------------------------------------------------------------- the book's semantics


def book_batchnorm(x, gamma, beta, running_mean, running_var, train_flg, momentum=0.9):
    """The book's BatchNormalization forward, transcribed: (N, D) or the (N, -1) reshape."""
    x = x.reshape(x.shape[0], -1)
    if train_flg:
        mu = x.mean(axis=0)
        xc = x - mu
        var = np.mean(xc**2, axis=0)
        xn = xc / np.sqrt(var + 10e-7)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        xn = (x - running_mean) / np.sqrt(running_var + 10e-7)
    return gamma * xn + beta, running_mean, running_var


@pytest.mark.parametrize("shape", [(6, 5), (4, 1, 2, 2)])
def test_batchnorm_matches_the_books_formulas(shape):
    rng = np.random.default_rng(10)
    d = int(np.prod(shape[1:]))
    gamma, beta = bn_params(rng, d)
    layer = BatchNormalization(gamma, beta, running_var=np.zeros(d))  # the book's start
    rm, rv = np.zeros(d), np.zeros(d)
    for train_flg in (True, True, False, True, False):
        x = rng.standard_normal(shape) + 1
        expected, rm, rv = book_batchnorm(x, gamma, beta, rm, rv, train_flg)
        np.testing.assert_allclose(
            layer.forward(x, train_flg), expected.reshape(shape), rtol=1e-13, atol=1e-13
        )
        np.testing.assert_allclose(layer.running_mean, rm, rtol=1e-14)
        np.testing.assert_allclose(layer.running_var, rv, rtol=1e-14)


def test_dropout_book_semantics():
    x = np.random.default_rng(11).standard_normal((200, 500))
    layer = Dropout(0.3, seed=42)
    out = layer.forward(x)
    assert layer.mask.dtype == np.bool_
    np.testing.assert_array_equal(out, x * layer.mask)
    assert abs((1 - layer.mask.mean()) - 0.3) < 0.005  # 100000 units: sd 0.0014
    np.testing.assert_array_equal(layer.backward(x), x * layer.mask)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x * 0.7)
    again = Dropout(0.3, seed=42)
    np.testing.assert_array_equal(again.forward(x), out)
    assert not np.array_equal(Dropout(0.3, seed=43).forward(x), out)
    assert not np.array_equal(layer.forward(x), out)  # the next step draws a new mask


def test_dropout_inverted_semantics():
    x = np.random.default_rng(12).standard_normal((50, 40))
    layer = Dropout(0.25, inverted=True, seed=0)
    out = layer.forward(x)
    np.testing.assert_allclose(out, x * layer.mask / 0.75, rtol=1e-15)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), layer.mask / 0.75, rtol=1e-15)
    assert layer.forward(x, train_flg=False) is x


def test_dropout_masks_replay_from_the_rng_state():
    layer = Dropout(0.5, seed=3)
    state = layer.rng.bit_generator.state
    first = layer.forward(np.ones((6, 6))).copy()
    layer.rng.bit_generator.state = state
    np.testing.assert_array_equal(layer.forward(np.ones((6, 6))), first)
    assert Dropout(seed=layer.rng).rng is layer.rng  # a Generator is used as it is


def test_batchnorm_batch_of_one_outputs_beta():
    """Documented: one sample is its own mean, so out is beta and dx is exactly 0."""
    gamma, beta = np.array([2.0, 3.0]), np.array([0.5, -1.0])
    layer = BatchNormalization(gamma, beta)
    out = layer.forward(np.array([[4.0, -7.0]]))
    np.testing.assert_array_equal(out, [beta])
    np.testing.assert_array_equal(layer.backward(np.ones((1, 2))), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="BatchNormalization.forward: unbiased_running_var"):
        BatchNormalization(gamma, beta, unbiased_running_var=True).forward(np.ones((1, 2)))
    # at inference one sample is fine with either option
    BatchNormalization(gamma, beta, unbiased_running_var=True).forward(np.ones((1, 2)), False)


# ---------------------------------------------------------------- dtypes, inputs, protocol


def test_float32_stays_float32():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    dout = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    for layer in (Dropout(seed=0), Dropout(inverted=True, seed=0)):
        for train_flg in (True, False):
            assert layer.forward(x, train_flg).dtype == np.float32
            assert layer.backward(dout).dtype == np.float32
            assert layer.backward(dout.astype(np.float64)).dtype == np.float32
    layer = BatchNormalization(np.ones(3, np.float32), np.zeros(3, np.float32))
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    for train_flg in (True, False):
        assert layer.forward(x.astype(np.float64), train_flg).dtype == np.float32
        assert layer.backward(dout.astype(np.float64)).dtype == np.float32
        assert layer.dgamma.dtype == layer.dbeta.dtype == np.float32
        assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    # buffers of another dtype are copied into gamma's
    other = BatchNormalization(np.ones(3, np.float32), np.zeros(3), running_var=np.ones(3))
    assert other.running_var.dtype == np.float32


def test_integer_input_is_computed_in_float():
    assert Dropout(seed=0).forward(np.arange(6).reshape(2, 3)).dtype == np.float64
    layer = BatchNormalization(np.ones(3, np.float32), np.zeros(3, np.float32))
    assert layer.forward(np.arange(6).reshape(2, 3)).dtype == np.float32


def test_inputs_are_never_modified_and_may_be_read_only():
    rng = np.random.default_rng(14)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    gamma, beta = bn_params(rng, 3)
    arrays = (x, dout, gamma, beta)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    rm, rv = np.zeros(3), np.ones(3)
    rm.flags.writeable = rv.flags.writeable = False
    for train_flg in (True, False):
        for layer in (Dropout(seed=0), Dropout(inverted=True, seed=0)):
            layer.forward(x, train_flg)
            layer.backward(dout)
        layer = BatchNormalization(gamma, beta, 0.9, rm, rv)
        layer.forward(x, train_flg)
        layer.backward(dout)
        assert layer.running_mean is not rm  # read-only buffers are copied, then updated
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(rm, np.zeros(3))


@pytest.mark.parametrize("cls", [Dropout, BatchNormalization])
def test_backward_before_forward(cls):
    layer = cls() if cls is Dropout else cls(np.ones(2), np.zeros(2))
    with pytest.raises(BackwardBeforeForwardError, match=cls.__name__):
        layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize("train_flg", [True, False])
def test_config_round_trip_rebuilds_an_equal_layer(train_flg):
    rng = np.random.default_rng(15)
    x = rng.standard_normal((5, 4))
    gamma, beta = bn_params(rng, 4)
    layers = [
        BatchNormalization(gamma, beta, 0.7, eps=1e-5, unbiased_running_var=True),
        Dropout(0.2, inverted=True, seed=0),
    ]
    for layer in layers:
        layer.forward(x + 1)  # moves the running statistics
        assert LAYERS[type(layer).__name__] is type(layer)
        arrays = {n: getattr(layer, n) for n in layer.param_names + layer.buffer_names}
        copy = type(layer)(**arrays, **layer.get_config())
        assert copy.get_config() == layer.get_config() and repr(copy) == repr(layer)
        for name, a in arrays.items():
            np.testing.assert_array_equal(getattr(copy, name), a)
        if hasattr(layer, "rng"):
            copy.rng.bit_generator.state = layer.rng.bit_generator.state
        np.testing.assert_array_equal(copy.forward(x, train_flg), layer.forward(x, train_flg))
    assert layers[0].get_config() == {"momentum": 0.7, "eps": 1e-5, "unbiased_running_var": True}
    assert layers[1].get_config() == {"dropout_ratio": 0.2, "inverted": True}


def test_repr():
    assert repr(Dropout(0.3)) == "Dropout(dropout_ratio=0.3, inverted=False)"
    layer = BatchNormalization(np.ones(5, np.float32), np.zeros(5, np.float32))
    assert repr(layer) == (
        "BatchNormalization(num_features=5, momentum=0.9, eps=1e-06, "
        "unbiased_running_var=False, dtype=float32)"
    )


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Dropout(1.0), "Dropout: dropout_ratio must be a finite number >= 0.0 and < 1.0"),
        (lambda: Dropout(-0.1), "Dropout: dropout_ratio"),
        (lambda: Dropout(float("nan")), "Dropout: dropout_ratio"),
        (lambda: Dropout("0.5"), "Dropout: dropout_ratio"),
        (lambda: Dropout(inverted=1), "Dropout: inverted must be True or False"),
        (lambda: Dropout(seed=-1), "Dropout: seed"),
        (lambda: Dropout(seed="a"), "Dropout: seed"),
        (lambda: BatchNormalization(np.ones((2, 2)), np.zeros(2)), "gamma must be 1-D"),
        (
            lambda: BatchNormalization(np.ones(2), np.zeros(3)),
            r"beta must have gamma's shape \(2,\)",
        ),
        (
            lambda: BatchNormalization(np.ones(2), np.zeros(2), running_mean=np.zeros(3)),
            "running_mean",
        ),
        (
            lambda: BatchNormalization(np.ones(2), np.zeros(2), running_var=np.ones((1, 2))),
            "running_var",
        ),
        (lambda: BatchNormalization(np.ones(2), np.zeros(2), 1.5), "momentum must be"),
        (
            lambda: BatchNormalization(np.ones(2), np.zeros(2), eps=0.0),
            "eps must be a finite number > 0",
        ),
        (lambda: BatchNormalization(np.ones(2), np.zeros(2), eps=-1e-5), "eps"),
        (
            lambda: BatchNormalization(np.ones(2), np.zeros(2), unbiased_running_var="yes"),
            "unbiased",
        ),
        (lambda: BatchNormalization(np.ones(2) + 1j, np.zeros(2)), "gamma"),
    ],
)
def test_constructor_errors_name_the_layer(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


@pytest.mark.parametrize(
    "shape", [(4,), (4, 3), (4, 2, 2), (4, 5, 2, 2), (0, 2), (4, 2, 1, 2, 1), (4, 2, 0, 3)]
)
def test_batchnorm_wrong_input_shape_names_layer_and_shapes(shape):
    layer = BatchNormalization(np.ones(2), np.zeros(2))
    with pytest.raises(
        ValueError, match=r"BatchNormalization.forward: expected x of shape \(N, 2\)"
    ) as err:
        layer.forward(np.ones(shape))
    assert f"got {shape}" in str(err.value)


def test_wrong_dout_shape_names_the_layer():
    for layer in (Dropout(seed=0), BatchNormalization(np.ones(3), np.zeros(3))):
        layer.forward(np.ones((2, 3)))
        with pytest.raises(ValueError, match=f"{type(layer).__name__}.backward: dout must have"):
            layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize(
    "make", [lambda: Dropout(0.5), lambda: BatchNormalization(np.ones(3), np.zeros(3))]
)
def test_regression_train_flg_that_is_not_a_bool_is_refused(make):
    """forward(x, train_flg="no") trained (a non-empty string is true): Dropout dropped units,
    BatchNormalization used the batch's statistics and moved its running ones."""
    layer = make()
    with pytest.raises(ValueError, match=r"\.forward: train_flg must be True or False, got 'no'"):
        layer.forward(np.ones((4, 3)), train_flg="no")
