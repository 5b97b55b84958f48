"""The benchmark's workloads: one zero-argument callable per implementation and workload.

Each ``*_workload`` function returns ``{implementation: callable}``; calling the callable once
does the work once (a layer's forward and backward, or one training step). The harness in
``run.py`` times them side by side.

Implementations:

``textbook``
    :mod:`textbook`, the book's approach (float64 parameters).
``layerwise f64`` / ``layerwise f32``
    The library, with float64 and float32 parameters.
``torch f32``
    PyTorch on the CPU, float32, autograd (only when torch imports).
``limit f64`` / ``limit f32``
    The bare matrix products the work needs (``np.matmul`` of the same shapes, dtype and
    transposes, into preallocated outputs): the hardware limit the others are measured against.
``bare NumPy f32`` (training steps only)
    The same step as straight-line NumPy: no classes, no checks, the same algorithm as
    layerwise (uint8 rows gathered and scaled, fused exact softmax cross-entropy, a bool Relu
    mask multiplied in backward, no first-layer dx, SGD). What NumPy itself reaches here: the
    floor of any NumPy library's step, against which the targets can be read.
``torch limit f32`` (training steps only)
    The same matrix products as ``limit f32`` through ``torch.mm`` (PyTorch's BLAS, one
    thread): a step's products alone, done by PyTorch.

The convolutional workloads (chapters 7 and 8): one Convolution layer's forward and backward,
and the training step (Adam) of SimpleConvNet and DeepConvNet on 28x28 images, every
implementation cycling through the same few minibatches of Fashion-MNIST. Their limit is the
convolutions written as the book's im2col products, ``(N*OH*OW, C*FH*FW) @ (C*FH*FW, FN)`` and
its two backward products (no ``dx`` for a network's first layer), plus the Affine products:
the multiply-adds of any direct convolution, each layer's as one large BLAS product, without
the copying im2col needs. It is a yardstick, not a bound: PyTorch's oneDNN convolutions
(blocked direct kernels) can beat it.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import textbook as tb
from numpy.lib.stride_tricks import sliding_window_view

import layerwise
from layerwise.optimizers import SGD, Adam
from layerwise.training import Trainer

try:  # torch is optional: its columns are left out when it does not import
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

TEXTBOOK = "textbook"
LW64 = "layerwise f64"
LW32 = "layerwise f32"
TORCH = "torch f32"
LIMIT64 = "limit f64"
LIMIT32 = "limit f32"
BARE = "bare NumPy f32"
TORCH_LIMIT = "torch limit f32"
IMPLEMENTATIONS = (TEXTBOOK, LW64, LW32, BARE, TORCH)
LIMITS = (LIMIT64, LIMIT32, TORCH_LIMIT)
F32 = np.float32


# --- the hardware limit ----------------------------------------------------------------------


def matmul_limit(sizes, batch, dtype, first_dx=False, seed=0):
    """The matrix products of an MLP step with layer widths ``sizes`` at ``batch``.

    Forward ``x_i @ W_i`` for every layer; backward ``x_i.T @ dout_i`` (dW) for every layer
    and ``dout_i @ W_i.T`` (dx) for every layer but the first (``first_dx=True`` adds it, as
    a lone Affine layer's forward and backward needs). Operands are views with the same
    transposes a layer uses; outputs are preallocated, so nothing but BLAS is timed.
    """
    return products_limit(_mlp_products(sizes, batch, first_dx), dtype, seed)


def _mlp_products(sizes, batch, first_dx=False):
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    return [(batch, d_in, d_out, i > 0 or first_dx) for i, (d_in, d_out) in enumerate(pairs)]


def products_limit(layers, dtype, seed=0):
    """The bare products of ``layers``, each ``(rows, d_in, d_out, dx)``, as one callable.

    Each layer is ``x (rows, d_in) @ W (d_in, d_out)`` forward, ``x.T @ dout`` for dW and, when
    ``dx``, ``dout @ W.T`` (see :func:`matmul_limit`). ``run.products`` holds the operands.
    """
    rng = np.random.default_rng(seed)
    products = []
    for rows, d_in, d_out, dx in layers:
        x = rng.random((rows, d_in), dtype=dtype)  # any values: BLAS time does not depend on them
        W = rng.random((d_in, d_out), dtype=dtype)
        dout = rng.random((rows, d_out), dtype=dtype)
        products.append((x, W, np.empty((rows, d_out), dtype)))
        products.append((x.T, dout, np.empty((d_in, d_out), dtype)))
        if dx:
            products.append((dout, W.T, np.empty((rows, d_in), dtype)))

    def run():
        for a, b, out in products:
            np.matmul(a, b, out=out)

    run.products = products
    return run


def torch_matmul_limit(sizes, batch, seed=0):
    """The float32 products of :func:`matmul_limit` through ``torch.mm`` (same operands)."""
    return torch_products_limit(_mlp_products(sizes, batch), seed)


def torch_products_limit(layers, seed=0):
    """The float32 products of :func:`products_limit` through ``torch.mm`` (same operands)."""
    products = [
        tuple(torch.from_numpy(a) for a in triple)
        for triple in products_limit(layers, np.float32, seed=seed).products
    ]

    def run():
        for a, b, out in products:
            torch.mm(a, b, out=out)

    return run


def network_products(net, batch):
    """``(rows, d_in, d_out, dx)`` of every product of a training step of ``net`` at ``batch``.

    A Convolution counts as its im2col product: rows ``batch*OH*OW``, ``d_in = C*FH*FW``,
    ``d_out = FN``. The first layer has no ``dx`` (nothing uses the gradient of the images).
    """
    net.predict(np.zeros((1, *net.input_shape), net.dtype), train_flg=False)  # fills each x
    layers = []
    for layer in net.layers.values():
        W = getattr(layer, "W", None)
        if W is None:
            continue
        first = not layers
        if W.ndim == 4:  # a convolution: (FN, C, FH, FW), its input (1, C, H, W)
            FN, C, FH, FW = W.shape
            H, W_ = layer.x.shape[2:]
            out_h = (H + 2 * layer.pad - FH) // layer.stride + 1
            out_w = (W_ + 2 * layer.pad - FW) // layer.stride + 1
            layers.append((batch * out_h * out_w, C * FH * FW, FN, not first))
        else:
            layers.append((batch, W.shape[0], W.shape[1], not first))
    return layers


# --- one layer, forward and backward ---------------------------------------------------------


def _have_torch():
    return torch is not None


def activation_workload(kind, shape, seed=0):
    """Relu or Sigmoid forward then backward on ``x`` of ``shape``."""
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal(shape)
    dout64 = rng.standard_normal(shape)
    impls = {}

    book_layer = {"Relu": tb.Relu, "Sigmoid": tb.Sigmoid}[kind]()

    def textbook():
        book_layer.forward(x64)
        # The book's Relu zeroes dout in place; handing it the same array again is harmless
        # (the zeros are rewritten) and costs what the book's code costs.
        book_layer.backward(dout64)

    impls[TEXTBOOK] = textbook
    for name, dtype in ((LW64, np.float64), (LW32, np.float32)):
        impls[name] = _layer_fwd_bwd(getattr(layerwise, kind)(), x64.astype(dtype), dout64)

    if _have_torch():
        xt = torch.from_numpy(x64.astype(np.float32)).requires_grad_(True)
        dt = torch.from_numpy(dout64.astype(np.float32))
        fn = {"Relu": torch.relu, "Sigmoid": torch.sigmoid}[kind]

        def torch_f32():
            xt.grad = None
            fn(xt).backward(dt)

        impls[TORCH] = torch_f32
    return impls


def _layer_fwd_bwd(layer, x, dout):
    dout = dout.astype(x.dtype)

    def run():
        layer.forward(x)
        layer.backward(dout)

    return run


def affine_workload(batch, d_in=784, d_out=100, seed=0):
    """Affine forward then backward (dW, db and dx) at ``batch``."""
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal((batch, d_in))
    W64 = 0.01 * rng.standard_normal((d_in, d_out))
    dout64 = rng.standard_normal((batch, d_out))
    impls = {}

    book_layer = tb.Affine(W64.copy(), np.zeros(d_out))

    def textbook():
        book_layer.forward(x64)
        book_layer.backward(dout64)

    impls[TEXTBOOK] = textbook
    for name, dtype in ((LW64, np.float64), (LW32, np.float32)):
        layer = layerwise.Affine(W64.astype(dtype), np.zeros(d_out, dtype))
        impls[name] = _layer_fwd_bwd(layer, x64.astype(dtype), dout64)

    if _have_torch():
        lin = nn.Linear(d_in, d_out)
        xt = torch.from_numpy(x64.astype(np.float32)).requires_grad_(True)
        dt = torch.from_numpy(dout64.astype(np.float32))

        def torch_f32():
            xt.grad = None
            lin.weight.grad = None
            lin.bias.grad = None
            lin(xt).backward(dt)

        impls[TORCH] = torch_f32

    impls[LIMIT64] = matmul_limit([d_in, d_out], batch, np.float64, first_dx=True)
    impls[LIMIT32] = matmul_limit([d_in, d_out], batch, np.float32, first_dx=True)
    return impls


def softmax_workload(batch, classes=10, seed=0):
    """SoftmaxWithLoss forward (with integer labels) then backward."""
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal((batch, classes))
    t = rng.integers(0, classes, batch).astype(np.uint8)
    impls = {}

    book_layer = tb.SoftmaxWithLoss()

    def textbook():
        book_layer.forward(x64, t)
        book_layer.backward(1)

    impls[TEXTBOOK] = textbook
    for name, dtype in ((LW64, np.float64), (LW32, np.float32)):
        layer = layerwise.SoftmaxWithLoss()
        x = x64.astype(dtype)

        def run(layer=layer, x=x):
            layer.forward(x, t)
            layer.backward(1.0)

        impls[name] = run

    if _have_torch():
        xt = torch.from_numpy(x64.astype(np.float32)).requires_grad_(True)
        tt = torch.from_numpy(t.astype(np.int64))

        def torch_f32():
            xt.grad = None
            F.cross_entropy(xt, tt).backward()

        impls[TORCH] = torch_f32
    return impls


# --- a full training step --------------------------------------------------------------------


class Data:
    """The 60000-row training set in the forms each implementation keeps it.

    ``x_u8``/``t_u8``: the raw images (N, 784) and labels; ``x_f32``: images / 255 in float32
    (what both the book's loader and :func:`layerwise.datasets.load_fashion_mnist` return);
    ``t_onehot``: float64 one-hot labels (the book's chapter-5 ``one_hot_label=True``).
    """

    def __init__(self, x_u8, t_u8):
        self.x_u8 = x_u8.reshape(len(x_u8), -1)
        self.t_u8 = t_u8
        self.x_f32, self.t_onehot = tb.to_book_format(self.x_u8, t_u8, one_hot_label=True)
        self._torch = None

    @classmethod
    def load(cls, n=60000, seed=0):
        """Fashion-MNIST's training set when it is on disk, else random images of its shape."""
        try:
            (x, t), _ = layerwise.datasets.load_fashion_mnist(normalize=False, download=False)
            source = "Fashion-MNIST"
        except (OSError, ValueError):
            rng = np.random.default_rng(seed)
            x = rng.integers(0, 256, (n, 784), dtype=np.uint8)
            t = rng.integers(0, 10, n).astype(np.uint8)
            source = "random uint8"
        data = cls(x[:n], t[:n])
        data.source = source
        return data

    def torch_tensors(self):
        if self._torch is None:
            self._torch = (
                torch.from_numpy(self.x_f32),
                torch.from_numpy(self.t_u8.astype(np.int64)),
            )
        return self._torch


def step_workload(data, sizes, batch, lr, seed=0):
    """One training step of an MLP with widths ``sizes`` (ReLU hidden layers) at ``batch``.

    Each step draws a minibatch from the 60000-row set the way its implementation does,
    runs forward and backward and applies SGD.
    """
    n = len(data.x_f32)
    hidden = list(sizes[1:-1])
    two_layer = len(hidden) == 1
    impls = {}

    # The book: TwoLayerNet with one-hot labels (chapter 5), MultiLayerNet with label indices
    # (chapter 6), np.random.choice and fancy indexing, its SGD class.
    np.random.seed(seed)  # noqa: NPY002 - the book uses the legacy global generator
    if two_layer:
        book_net = tb.TwoLayerNet(sizes[0], hidden[0], sizes[-1])
        book_t = data.t_onehot
    else:
        book_net = tb.MultiLayerNet(sizes[0], hidden, sizes[-1])
        book_t = data.t_u8
    book_opt = tb.SGD(lr=lr)

    def textbook():
        batch_mask = np.random.choice(n, batch)  # noqa: NPY002
        x_batch = data.x_f32[batch_mask]
        t_batch = book_t[batch_mask]
        grads = book_net.gradient(x_batch, t_batch)
        book_opt.update(book_net.params, grads)

    impls[TEXTBOOK] = textbook

    for name, dtype in ((LW64, np.float64), (LW32, np.float32)):
        if two_layer:
            net = layerwise.TwoLayerNet(
                sizes[0], hidden[0], sizes[-1], weight_init_std=0.01, dtype=dtype, seed=seed
            )
        else:
            net = layerwise.MultiLayerNet(sizes[0], hidden, sizes[-1], dtype=dtype, seed=seed)
        impls[name] = _layerwise_step(net, SGD(lr=lr), data, batch, seed)

    if _have_torch():
        impls[TORCH] = _torch_step(sizes, batch, lr, data, seed, two_layer)

    impls[BARE] = _bare_step(sizes, batch, lr, data, seed, two_layer)
    impls[LIMIT64] = matmul_limit(sizes, batch, np.float64)
    impls[LIMIT32] = matmul_limit(sizes, batch, np.float32)
    if _have_torch():
        impls[TORCH_LIMIT] = torch_matmul_limit(sizes, batch)
    return impls


def _batches(n, batch, seed):
    """Index arrays of successive minibatches: a fresh permutation every epoch."""
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        for i in range(n // batch):
            yield perm[i * batch : (i + 1) * batch]


def _bare_step(sizes, batch, lr, data, seed, two_layer):
    """layerwise's float32 step as straight-line NumPy (see the module docstring)."""
    rng = np.random.default_rng(seed)
    params = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        std = 0.01 if two_layer else np.sqrt(2.0 / d_in)
        W = (std * rng.standard_normal((d_in, d_out))).astype(F32)
        params.append((W, np.zeros(d_out, F32)))
    batches = _batches(len(data.x_u8), batch, seed)
    rows = np.arange(batch)
    last = len(params) - 1

    def run():
        idx = next(batches)
        h = data.x_u8.take(idx, axis=0).astype(F32)
        h *= F32(1 / 255)
        t = data.t_u8.take(idx)
        inputs, keeps = [], []
        for i, (W, b) in enumerate(params):
            inputs.append(h)
            h = h @ W
            h += b
            if i < last:
                keeps.append(h > 0)
                h = np.maximum(h, 0)
        run.loss, d = _bare_softmax_loss(h, t, rows)
        for i in range(last, -1, -1):
            W, b = params[i]
            dW, db = inputs[i].T @ d, d.sum(axis=0)
            if i:
                d = d @ W.T
                d *= keeps[i - 1]
            W -= lr * dW
            b -= lr * db

    run.flavour = "straight-line NumPy, uint8 images, permutation"
    run.params = params
    return run


def _bare_softmax_loss(h, t, rows):
    """Mean cross-entropy of softmax(h) against labels t, and its gradient (layerwise's way)."""
    top = h.argmax(axis=1)
    shifted = h - h[rows, top][:, np.newaxis]
    e = np.exp(shifted)
    e[rows, top] = 0
    rest = e.sum(axis=1)
    e[rows, top] = 1
    e /= (1 + rest)[:, np.newaxis]
    loss = (np.log1p(rest) - shifted[rows, t]).sum() / len(h)
    e[rows, t] -= 1
    e *= 1 / len(h)
    return loss, e


def _layerwise_step(net, optimizer, data, batch, seed, batches=None):
    """The step as :class:`layerwise.training.Trainer` runs it.

    The Trainer keeps the images as uint8 (scaled by 1/255 one batch at a time), walks a fresh
    permutation each epoch, and calls ``Trainer.train_step``: ``loss_and_gradient``, a
    finiteness check and the optimizer's update.
    """
    x_train, t_train = data.x_u8, data.t_u8
    trainer = Trainer(
        net, x_train, t_train, x_train[:1], t_train[:1], mini_batch_size=batch,
        optimizer=optimizer, verbose=False, seed=seed,
    )  # fmt: skip
    flavour = "Trainer.train_step, uint8 images, " + ("permutation" if batches is None else
                                                        "fixed minibatches")  # fmt: skip
    if batches is None:
        batches = _batches(len(x_train), batch, seed)

    def run():
        trainer.train_step(*trainer.get_batch(next(batches)))

    run.flavour = flavour
    return run


def _torch_step(sizes, batch, lr, data, seed, two_layer):
    torch.manual_seed(seed)
    modules = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            modules.append(nn.ReLU())
        modules.append(nn.Linear(d_in, d_out))
    model = nn.Sequential(*modules)
    if two_layer:  # the book's weight_init_std=0.01 for TwoLayerNet
        with torch.no_grad():
            for m in model:
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, 0.01)
                    m.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x_train, t_train = data.torch_tensors()
    n = len(x_train)
    gen = torch.Generator().manual_seed(seed)

    def torch_f32():
        idx = torch.randint(0, n, (batch,), generator=gen)
        x_batch = x_train[idx]
        t_batch = t_train[idx]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x_batch), t_batch).backward()
        optimizer.step()

    return torch_f32


# --- convolutional networks (chapters 7 and 8) -----------------------------------------------


def conv_workload(batch=100, channels=16, filters=16, size=28, pad=1, seed=0):
    """Convolution forward then backward (dW, db and dx), 3x3, stride 1, at (batch, C, size, size).

    Each implementation gets the input in the memory layout its own network hands the layer:
    the book's Relu copies to C-contiguous (N, C, H, W), as PyTorch's default layout is, and
    layerwise's layers pass transposed views of channels-last (N, H, W, C) memory.
    """
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal((batch, channels, size, size))
    W64 = np.sqrt(2.0 / (channels * 9)) * rng.standard_normal((filters, channels, 3, 3))
    dout64 = rng.standard_normal((batch, filters, size + 2 * pad - 2, size + 2 * pad - 2))
    impls = {}

    book_layer = tb.Convolution(W64.copy(), np.zeros(filters), stride=1, pad=pad)

    def textbook():
        book_layer.forward(x64)
        book_layer.backward(dout64)

    impls[TEXTBOOK] = textbook

    layer = layerwise.Convolution(W64.astype(F32), np.zeros(filters, F32), stride=1, pad=pad)

    def channels_last(a):
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1), F32).transpose(0, 3, 1, 2)

    impls[LW32] = _layer_fwd_bwd(layer, channels_last(x64), channels_last(dout64))

    if _have_torch():
        conv = nn.Conv2d(channels, filters, 3, padding=pad)
        xt = torch.from_numpy(x64.astype(F32)).requires_grad_(True)
        dt = torch.from_numpy(dout64.astype(F32))

        def torch_f32():
            xt.grad = None
            conv.weight.grad = None
            conv.bias.grad = None
            conv(xt).backward(dt)

        impls[TORCH] = torch_f32

    products = [(batch * (size + 2 * pad - 2) ** 2, channels * 9, filters, True)]
    impls[LIMIT64] = products_limit(products, np.float64)
    impls[LIMIT32] = products_limit(products, np.float32)
    if _have_torch():
        impls[TORCH_LIMIT] = torch_products_limit(products)
    return impls


def _images(data):
    """``data``'s images as (N, 1, 28, 28) views: uint8, and float32 / 255 (the book's loader)."""
    return SimpleNamespace(
        x_u8=data.x_u8.reshape(-1, 1, 28, 28),
        x_f32=data.x_f32.reshape(-1, 1, 28, 28),
        t_u8=data.t_u8,
    )


def fixed_batches(n, batch, count=8, seed=0):
    """``count`` index arrays of ``batch`` distinct rows of ``n``: the minibatches every
    implementation of a conv-net step cycles through, so all see the same images."""
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i * batch : (i + 1) * batch] for i in range(count)]


# The book's networks as (kind, parameter number, pad) rows, for the straight-line step.
SIMPLE_OPS = [("conv", 1, 0), ("relu",), ("pool",), ("affine", 2), ("relu",), ("affine", 3)]
DEEP_OPS = [
    ("conv", 1, 1), ("relu",), ("conv", 2, 1), ("relu",), ("pool",),
    ("conv", 3, 1), ("relu",), ("conv", 4, 2), ("relu",), ("pool",),
    ("conv", 5, 1), ("relu",), ("conv", 6, 1), ("relu",), ("pool",),
    ("affine", 7), ("relu",), ("dropout",), ("affine", 8), ("dropout",),
]  # fmt: skip


def conv_step_workload(data, name, batch=100, lr=0.001, seed=0):
    """One training step (forward, backward, Adam) of the book's ``SimpleConvNet`` or
    ``DeepConvNet`` at ``batch``, every implementation starting from the same weights and
    cycling through the same minibatches (:func:`fixed_batches`) of 28x28 images."""
    images = _images(data)
    index = fixed_batches(len(images.x_u8), batch, seed=seed)
    cls, book_cls, ops = {
        "SimpleConvNet": (layerwise.SimpleConvNet, tb.SimpleConvNet, SIMPLE_OPS),
        "DeepConvNet": (layerwise.DeepConvNet, tb.DeepConvNet, DEEP_OPS),
    }[name]
    impls = {}

    # The book: float64 weights, float32 images gathered by fancy indexing, its Adam. Its
    # Trainer also computes the loss a second time after the update; that is not timed here
    # (nor in the chapter-5 steps above): a step is forward, backward and update.
    np.random.seed(seed)  # noqa: NPY002 - the book's Dropout draws from the global generator
    book_net = book_cls()
    for key, value in cls(dtype=np.float64, seed=seed).params.items():
        book_net.params[key][...] = value
    book_opt = tb.Adam(lr=lr)
    book_batches = itertools.cycle(index)

    def textbook():
        batch_mask = next(book_batches)
        x_batch = images.x_f32[batch_mask]
        t_batch = images.t_u8[batch_mask]
        grads = book_net.gradient(x_batch, t_batch)
        book_opt.update(book_net.params, grads)

    impls[TEXTBOOK] = textbook

    net = cls(dtype=F32, seed=seed)
    impls[LW32] = _layerwise_step(
        net, Adam(lr=lr), images, batch, seed, batches=itertools.cycle(index)
    )
    params = {key: value.copy() for key, value in net.params.items()}
    impls[BARE] = _bare_conv_step(ops, params, lr, images, itertools.cycle(index), seed)
    if _have_torch():
        impls[TORCH] = _torch_conv_step(name, net.params, lr, data, index, seed)

    products = network_products(net, batch)
    impls[LIMIT64] = products_limit(products, np.float64)
    impls[LIMIT32] = products_limit(products, np.float32)
    if _have_torch():
        impls[TORCH_LIMIT] = torch_products_limit(products)
    return impls


def _bare_conv_step(ops, params, lr, data, batches, seed):
    """layerwise's float32 conv-net step as straight-line NumPy, for ``ops`` (SIMPLE/DEEP_OPS).

    The same algorithm as the library: uint8 images scaled per batch; the first convolution
    (one input channel) by im2col without dx, the others by a product per filter row over the
    framed channels-last images; a bool Relu mask; 2x2 pooling by a reshape, the first maximum
    taking the gradient; the book's Dropout (``rng.random > 0.5``, unscaled) from a Generator;
    fused softmax cross-entropy; Adam in the book's form. ``run.loss`` and ``run.grads`` hold
    the last step's loss and gradients (before the update).
    """
    drop_rng = np.random.default_rng(seed)
    m = {key: np.zeros_like(p) for key, p in params.items()}
    v = {key: np.zeros_like(p) for key, p in params.items()}
    step = [0]

    def run():
        idx = next(batches)
        h = data.x_u8.take(idx, axis=0).astype(F32)
        h *= F32(1 / 255)
        t = data.t_u8.take(idx)
        caches = []
        for op in ops:
            if op[0] == "conv":
                conv = _bare_conv_first if op[1] == 1 else _bare_conv_shifted
                h, cache = conv(h, params[f"W{op[1]}"], params[f"b{op[1]}"], op[2])
            elif op[0] == "relu":
                cache = h > 0
                h = np.maximum(h, 0)
            elif op[0] == "pool":
                h, cache = _bare_pool(h)
            elif op[0] == "affine":
                cache = (h.reshape(len(h), -1), h.shape)
                h = cache[0] @ params[f"W{op[1]}"]
                h += params[f"b{op[1]}"]
            else:  # the book's dropout
                cache = drop_rng.random(h.shape) > 0.5
                h = h * cache
            caches.append(cache)
        loss, d = _bare_softmax_loss(h, t, np.arange(len(h)))
        grads = {}
        for op, cache in zip(reversed(ops), reversed(caches), strict=True):
            if op[0] == "conv":
                W, first = params[f"W{op[1]}"], op[1] == 1
                back = _bare_conv_first_backward if first else _bare_conv_shifted_backward
                d, grads[f"W{op[1]}"], grads[f"b{op[1]}"] = back(d, cache, W, op[2])
            elif op[0] in ("relu", "dropout"):
                d = d * cache
            elif op[0] == "pool":
                d = _bare_pool_backward(d, cache)
            else:
                x2, shape = cache
                grads[f"W{op[1]}"], grads[f"b{op[1]}"] = x2.T @ d, d.sum(axis=0)
                d = (d @ params[f"W{op[1]}"].T).reshape(shape)
        step[0] += 1
        lr_t = lr * math.sqrt(1.0 - 0.999 ** step[0]) / (1.0 - 0.9 ** step[0])
        for key, p in params.items():
            g = grads[key]
            m[key] += (1 - 0.9) * (g - m[key])
            v[key] += (1 - 0.999) * (g * g - v[key])
            denom = np.sqrt(v[key])
            denom += 1e-7
            p -= np.divide(lr_t * m[key], denom, out=denom)
        run.loss, run.grads = loss, grads

    run.flavour = "straight-line NumPy, uint8 images, fixed minibatches"
    run.params = params
    return run


def _bare_conv_first(x, W, b, pad):
    """im2col convolution (layerwise's path for few input channels); caches the columns."""
    FN, _, FH, FW = W.shape
    N, _, H, W_ = x.shape
    out_h, out_w = H + 2 * pad - FH + 1, W_ + 2 * pad - FW + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)]) if pad else x
    windows = sliding_window_view(img, (FH, FW), axis=(2, 3))
    col = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * out_h * out_w, -1)
    out = col @ W.reshape(FN, -1).T
    out += b
    return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2), col


def _bare_conv_first_backward(dout, col, W, pad):
    """dW and db of :func:`_bare_conv_first`; no dx (the images need none)."""
    dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, W.shape[0])
    return None, (dout2.T @ col).reshape(W.shape), dout2.sum(axis=0)


def _bare_frame(a, N, Hf, Wf, FH, FW, top, left):
    """(N, h, w, K) channels-last images in one zero frame of flat pixel rows, Wf a row, Hf rows
    an image, (top, left) zeros before each image's rows and columns; rows for the last window."""
    flat = np.zeros((N * Hf * Wf + (FH - 1) * Wf + FW - 1, a.shape[-1]), F32)
    flat[: N * Hf * Wf].reshape(N, Hf, Wf, -1)[:, top:, left:] = a
    return flat


def _bare_row_products(flat, Wr, Wf):
    """sum over filter rows i of (the FW taps of each pixel side by side, shifted i*Wf) @ Wr[i]."""
    FH, K, _ = Wr.shape
    C = flat.shape[1]
    X3 = np.ascontiguousarray(sliding_window_view(flat.reshape(-1), K)[::C])
    M = len(X3) - (FH - 1) * Wf
    out = X3[:M] @ Wr[0]
    for i in range(1, FH):
        out += X3[i * Wf : i * Wf + M] @ Wr[i]
    return out, X3


def _bare_conv_shifted(x, W, b, pad):
    """Stride-1 convolution as one product per filter row over the framed channels-last images
    (see layerwise.layers._conv_fast); caches the rows of taps."""
    FN, C, FH, FW = W.shape
    N, _, H, W_ = x.shape
    Hf, Wf = H + pad, W_ + pad
    xp = _bare_frame(x.transpose(0, 2, 3, 1), N, Hf, Wf, FH, FW, pad, pad)
    out, X3 = _bare_row_products(xp, W.transpose(2, 3, 1, 0).reshape(FH, FW * C, FN), Wf)
    out += b
    out_h, out_w = H + 2 * pad - FH + 1, W_ + 2 * pad - FW + 1
    return out.reshape(N, Hf, Wf, FN)[:, :out_h, :out_w].transpose(0, 3, 1, 2), (X3, x.shape)


def _bare_conv_shifted_backward(dout, cache, W, pad):
    """dx, dW and db of :func:`_bare_conv_shifted`: dW from the cached rows of taps, dx as the
    full convolution of the framed dout with the filters turned by 180 degrees."""
    (X3, (N, _, H, W_)), (FN, C, FH, FW) = cache, W.shape
    Hf, Wf = H + pad, W_ + pad
    qh, qw = FH - 1 - pad, FW - 1 - pad
    Dp = _bare_frame(dout.transpose(0, 2, 3, 1), N, Hf, Wf, FH, FW, qh, qw)
    M = N * Hf * Wf
    D = Dp[qh * Wf + qw : qh * Wf + qw + M]
    dW = np.stack([X3[i * Wf : i * Wf + M].T @ D for i in range(FH)])
    dW = dW.reshape(FH, FW, C, FN).transpose(3, 2, 0, 1)
    Wflip = W[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(FH, FW * FN, C)
    dx, _ = _bare_row_products(Dp, Wflip, Wf)
    dx = dx.reshape(N, Hf, Wf, C)[:, :H, :W_].transpose(0, 3, 1, 2)
    return dx, dW, np.einsum("mf->f", D)


def _bare_pool(x):
    """2x2 max pooling, stride 2, as a reshape of the channels-last image; caches the argmax."""
    N, C, H, W = x.shape
    windows = x.transpose(0, 2, 3, 1).reshape(N, H // 2, 2, W // 2, 2, C)
    out = windows[:, :, 0, :, 0].copy()
    arg_max = np.zeros(out.shape, np.intp)
    for k in range(1, 4):
        value = windows[:, :, k // 2, :, k % 2]
        np.copyto(arg_max, k, where=value > out)  # strictly greater: the first maximum wins
        np.maximum(out, value, out=out)
    return out.transpose(0, 3, 1, 2), arg_max


def _bare_pool_backward(dout, arg_max):
    N, out_h, out_w, C = arg_max.shape
    dout = dout.transpose(0, 2, 3, 1)
    dx = np.empty((N, out_h, 2, out_w, 2, C), F32)
    for k in range(4):
        dx[:, :, k // 2, :, k % 2] = np.where(arg_max == k, dout, 0)
    return dx.reshape(N, 2 * out_h, 2 * out_w, C).transpose(0, 3, 1, 2)


def torch_conv_model(name, params):
    """The book's ``name`` (SimpleConvNet or DeepConvNet) as a ``torch.nn.Sequential`` holding
    layerwise's weights ``params`` (its Dropout is torch's inverted one)."""
    if name == "SimpleConvNet":
        modules = [nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten()]
        modules += [nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10)]
    else:
        modules, c_in = [], 1
        for k, (c_out, pad) in enumerate(((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))):
            modules += [nn.Conv2d(c_in, c_out, 3, padding=pad), nn.ReLU()]
            if k % 2 == 1:
                modules.append(nn.MaxPool2d(2, 2))
            c_in = c_out
        modules += [nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(), nn.Dropout(0.5)]
        modules += [nn.Linear(50, 10), nn.Dropout(0.5)]
    model = nn.Sequential(*modules)
    with torch.no_grad():  # layerwise's initial weights; a Linear stores W transposed
        learnable = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        for k, module in enumerate(learnable, start=1):
            W = params[f"W{k}"]
            module.weight.copy_(torch.from_numpy(W if W.ndim == 4 else W.T.copy()))
            module.bias.copy_(torch.from_numpy(params[f"b{k}"]))
    return model


def _torch_conv_step(name, params, lr, data, index, seed):
    """The same network in PyTorch (one thread, autograd, torch.optim.Adam), from ``params``."""
    torch.manual_seed(seed)
    model = torch_conv_model(name, params)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x_all, t_all = data.torch_tensors()
    x_train = x_all.view(-1, 1, 28, 28)
    batches = itertools.cycle([torch.from_numpy(idx) for idx in index])

    def torch_f32():
        idx = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x_train[idx]), t_all[idx])
        loss.backward()
        optimizer.step()
        torch_f32.loss = loss.detach()

    torch_f32.model = model
    return torch_f32
