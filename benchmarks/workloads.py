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
"""

from __future__ import annotations

import numpy as np
import textbook as tb

import layerwise
from layerwise.optimizers import SGD
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
    rng = np.random.default_rng(seed)
    products = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        x = rng.standard_normal((batch, d_in)).astype(dtype)
        W = rng.standard_normal((d_in, d_out)).astype(dtype)
        dout = rng.standard_normal((batch, d_out)).astype(dtype)
        products.append((x, W, np.empty((batch, d_out), dtype)))
        products.append((x.T, dout, np.empty((d_in, d_out), dtype)))
        if i > 0 or first_dx:
            products.append((dout, W.T, np.empty((batch, d_in), dtype)))

    def run():
        for a, b, out in products:
            np.matmul(a, b, out=out)

    run.products = products
    return run


def torch_matmul_limit(sizes, batch, seed=0):
    """The float32 products of :func:`matmul_limit` through ``torch.mm`` (same operands)."""
    products = [
        tuple(torch.from_numpy(a) for a in triple)
        for triple in matmul_limit(sizes, batch, np.float32, seed=seed).products
    ]

    def run():
        for a, b, out in products:
            torch.mm(a, b, out=out)

    return run


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
        top = h.argmax(axis=1)
        shifted = h - h[rows, top][:, np.newaxis]
        e = np.exp(shifted)
        e[rows, top] = 0
        rest = e.sum(axis=1)
        e[rows, top] = 1
        e /= (1 + rest)[:, np.newaxis]
        run.loss = (np.log1p(rest) - shifted[rows, t]).sum() / batch
        d = e
        d[rows, t] -= 1
        d *= 1 / batch
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


def _layerwise_step(net, optimizer, data, batch, seed):
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
    batches = _batches(len(x_train), batch, seed)

    def run():
        trainer.train_step(*trainer.get_batch(next(batches)))

    run.flavour = "Trainer.train_step, uint8 images, permutation"
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
