"""The layers of the book's chapter 6 that fight overfitting and ease training: Dropout (6.4.3)
and Batch Normalization (6.3).

Both behave differently while training and at inference, chosen by the book's keyword
``forward(x, train_flg=True)``.

Differences from the book's ``common/layers.py``, each with a ``test_regression_*``:

- ``Dropout`` draws its masks from its own ``numpy.random.Generator`` (``rng``, seeded by
  ``seed``), never from the global ``np.random`` state, so networks and checkpoints can save
  and replay them.
- ``BatchNormalization`` starts ``running_var`` at 1, not 0: the book's zeros make inference
  before enough training steps divide by ``sqrt(1e-6)`` and scale the output a thousandfold.
- ``BatchNormalization`` on (N, C, H, W) input with ``gamma`` of shape (C,) normalises per
  channel, as the original paper and PyTorch's ``BatchNorm2d`` do; ``gamma`` of C*H*W elements
  gives the book's per-position statistics.
- ``running_mean`` and ``running_var`` are updated in place (the book rebinds new arrays), so a
  network that holds them sees every update.
- ``backward`` after an inference ``forward`` returns the gradient of that inference forward;
  the book's reuses the mask or statistics of the last training step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import (
    as_dtype,
    as_float_array,
    check_dout,
    check_flag,
    check_number,
    check_seed,
    quiet,
)
from ..backend import as_array_like, get_array_module, is_writeable
from .base import Layer, register_layer


@register_layer
class Dropout(Layer):
    """Dropout: while training, each unit is kept with probability ``1 - dropout_ratio``.

    Forward, training: ``mask = rng.random(x.shape) > dropout_ratio``; ``out = x * mask``
    (book), or ``out = x * mask / (1 - dropout_ratio)`` with ``inverted=True`` (PyTorch).
    Forward, inference (``train_flg=False``): ``out = x * (1 - dropout_ratio)`` (book), or
    ``out = x`` with ``inverted=True`` (as ``torch.nn.functional.dropout``); where the factor is
    1, ``out`` is ``x`` itself, not a copy.
    Either way the expected output at training equals the output at inference.

    Backward: ``dx = dout * mask`` (``/ (1 - dropout_ratio)`` when inverted). After an inference
    forward, the gradient of that forward: ``dx = dout * (1 - dropout_ratio)``, or ``dout``
    itself when inverted.

    Parameters
    ----------
    dropout_ratio : float in [0, 1), default 0.5
        The probability of dropping a unit (PyTorch's ``p``).
    inverted : bool, default False
        Scale at training instead of at inference (PyTorch's ``nn.Dropout``): a network trained
        so runs inference with no dropout arithmetic at all.
    seed : None, int or numpy.random.Generator, optional
        Seeds the layer's generator ``rng`` (a Generator is used as it is).

    Shapes: ``x``, ``out``, ``dout``, ``dx`` and ``mask`` all have the same shape (any).

    Attributes
    ----------
    shard : (rows, start, stop) or None
        Set by data-parallel training (:mod:`layerwise.parallel`): draw the mask of a whole
        minibatch of ``rows`` rows and keep rows ``start:stop``, so that every worker uses the
        masks one process would and a run does not depend on the number of workers.

    Caches ``mask`` (bool, True where the unit was kept; None after an inference forward) and
    the input's shape and dtype. A floating input keeps its dtype (float32 stays float32);
    int or bool input is computed in float64. ``inf * 0`` where a unit is dropped gives NaN,
    without a warning.

    Examples
    --------
    >>> import numpy as np
    >>> drop = Dropout(0.5, seed=0)
    >>> out = drop.forward(np.full((2, 4), 3.0))
    >>> bool(np.all(out == np.where(drop.mask, 3.0, 0.0)))  # each unit kept or dropped
    True
    >>> drop.forward(np.full((1, 4), 3.0), train_flg=False)  # the book's inference: x (1 - ratio)
    array([[1.5, 1.5, 1.5, 1.5]])
    """

    takes_train_flg = True

    def __init__(
        self, dropout_ratio: float = 0.5, *, inverted: bool = False, seed: int | None = None
    ) -> None:
        self.dropout_ratio = check_number(
            dropout_ratio, "Dropout", "dropout_ratio", low=0.0, high=1.0, high_open=True
        )
        self.inverted = check_flag(inverted, "Dropout", "inverted")
        self.rng = check_seed(seed, "Dropout")
        self.mask: np.ndarray | None = None
        self.shard: tuple[int, int, int] | None = None
        self._cache: tuple[Any, ...] | None = None  # (shape, dtype, scale) of the last forward

    def get_config(self) -> dict[str, Any]:
        # Not the seed: the generator's state moves on, and is saved from rng itself.
        return {"dropout_ratio": self.dropout_ratio, "inverted": self.inverted}

    def forward(self, x: npt.ArrayLike, train_flg: bool = True) -> np.ndarray:
        x = as_float_array(x, "Dropout.forward")
        p = self.dropout_ratio
        if check_flag(train_flg, "Dropout.forward", "train_flg"):
            # The book draws with np.random.rand; a generator of our own leaves the global
            # state alone and lets a network replay the same masks for a gradient check.
            # Drawn on the host and copied to x's device: the masks are those of the seeded
            # NumPy generator on CPU and GPU alike, and checkpoints keep its state unchanged.
            if self.shard is None:
                mask = self.rng.random(x.shape) > p
            else:  # one worker's rows of the whole minibatch's mask (layerwise.parallel)
                rows, start, stop = self.shard
                mask = self.rng.random((rows, *x.shape[1:]))[start:stop] > p
            self.mask = as_array_like(mask, x)
            scale = 1.0 / (1.0 - p) if self.inverted else 1.0
        else:
            self.mask = None
            scale = 1.0 if self.inverted else 1.0 - p
        # In x's dtype, so that a narrower dout in backward is scaled at the layer's precision.
        scale = x.dtype.type(scale)
        self._cache = (x.shape, x.dtype, scale)
        with quiet():  # inf * 0 where dropped is NaN; a scaled float16 may overflow to inf
            out = x if self.mask is None else x * self.mask
            return out if scale == 1.0 else out * scale

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self._cache is None:
            raise self._not_ready()
        shape, dtype, scale = self._cache
        dout = check_dout(dout, shape, "Dropout")
        with quiet():
            dx = dout if self.mask is None else dout * self.mask
            return as_dtype(dx if scale == 1.0 else dx * scale, dtype)


@register_layer
class BatchNormalization(Layer):
    """Batch normalization: normalise each feature over the batch, then scale and shift.

    Forward, training: ``mu = mean(x)``, ``xc = x - mu``, ``var = mean(xc**2)`` (the biased
    variance), ``std = sqrt(var + eps)``, ``xn = xc / std``, ``out = gamma * xn + beta``, each
    mean taken over the values of one feature; then, in place,
    ``running_mean = momentum * running_mean + (1 - momentum) * mu`` and the same for
    ``running_var`` with ``var`` (or ``var * n / (n - 1)`` when ``unbiased_running_var``).
    Forward, inference (``train_flg=False``): the same with ``running_mean`` and
    ``running_var`` in place of ``mu`` and ``var``, and no update.

    Backward, training (the book's steps, ``n`` values per feature):
    ``dbeta = sum(dout)``, ``dgamma = sum(xn * dout)``, ``dxn = gamma * dout``,
    ``dxc = dxn / std``, ``dstd = -sum(dxn * xc / std**2)``, ``dvar = 0.5 * dstd / std``,
    ``dxc += (2 / n) * xc * dvar``, ``dmu = sum(dxc)``, ``dx = dxc - dmu / n``.
    Backward after an inference forward, the gradient of that affine map:
    ``dx = dout * gamma / sqrt(running_var + eps)``, with ``dgamma`` and ``dbeta`` as above.

    Parameters
    ----------
    gamma, beta : ndarray, shape (D,)
        Scale and shift. The layer computes in ``gamma``'s dtype and keeps references to both
        (no copy), so in-place updates are seen.
    momentum : float in [0, 1], default 0.9
        Weight of the old running statistics. PyTorch's ``momentum`` is ``1 - momentum``: the
        book's 0.9 is PyTorch's default 0.1.
    running_mean, running_var : ndarray, shape (D,), optional
        Start at 0 and 1 when not given. Kept by reference when writeable and of ``gamma``'s
        dtype and device (NumPy or CuPy), else copied into them: training updates them in place.
    eps : float > 0, default 1e-6
        Added to the variance. The book's ``10e-7``, so that the book's trained weights give
        the book's predictions; PyTorch's default is 1e-5.
    unbiased_running_var : bool, default False
        Feed the running variance the unbiased batch variance (``n / (n - 1)`` times the
        biased one), as PyTorch does; the book feeds it the biased one. Either way the batch
        itself is normalised with the biased variance. Needs ``n >= 2`` when training.

    Shapes
    ------
    x : (N, D), normalised per feature over the N samples; or (N, D, H, W), normalised per
        channel over N * H * W values (PyTorch's ``BatchNorm2d``); or (N, C, H, W) with
        C * H * W = D, normalised per position over N values (the book's layout, reshaped to
        (N, D)). H * W = 1 makes the last two the same.
    out, dout, dx : like x. dgamma, dbeta : (D,).

    Caches ``input_shape``, ``batch_size`` (N), ``xc``, ``xn`` (both (N, D) or (N, D, H, W))
    and ``std`` ((D,), or (D, 1, 1) per channel), in training and at inference.

    A batch of one is allowed in training, as the book's gradient check uses it, but every
    value is then its own mean: ``out`` is exactly ``beta`` and ``dx`` exactly 0, so such a
    check proves nothing about ``dx``. Two samples are nearly as bad (``xn = +-1``).

    Examples
    --------
    >>> import numpy as np
    >>> bn = BatchNormalization(np.ones(2), np.zeros(2))
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> bn.forward(x).round(4)  # each feature: mean 0, variance 1 over the batch
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.running_mean  # momentum 0.9: 0.9 * 0 + 0.1 * the batch mean
    array([0.2, 2. ])
    """

    param_names = ("gamma", "beta")
    buffer_names = ("running_mean", "running_var")
    takes_train_flg = True

    def __init__(
        self,
        gamma: npt.ArrayLike,
        beta: npt.ArrayLike,
        momentum: float = 0.9,
        running_mean: npt.ArrayLike | None = None,
        running_var: npt.ArrayLike | None = None,
        *,
        eps: float = 1e-6,
        unbiased_running_var: bool = False,
    ) -> None:
        where = "BatchNormalization"
        self.gamma = as_float_array(gamma, where, name="gamma")
        if self.gamma.ndim != 1:
            raise ValueError(
                f"{where}: gamma must be 1-D, one scale per feature or channel, "
                f"got shape {self.gamma.shape}"
            )
        self.beta = self._check_shape(as_float_array(beta, where, name="beta"), "beta")
        self.momentum = check_number(momentum, where, "momentum", low=0.0, high=1.0)
        self.eps = check_number(eps, where, "eps", low=0.0, low_open=True)
        self.unbiased_running_var = check_flag(unbiased_running_var, where, "unbiased_running_var")
        self.running_mean = self._buffer(running_mean, 0.0, "running_mean")
        self.running_var = self._buffer(running_var, 1.0, "running_var")
        self.input_shape: tuple[int, ...] | None = None
        self.batch_size: int | None = None
        self.xc: np.ndarray | None = None
        self.xn: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        # The last forward's layout and mode.
        self._axes: tuple[int, ...] | None = None
        self._n: int | None = None
        self._train: bool | None = None

    def _check_shape(self, a, name):
        if a.shape != self.gamma.shape:
            raise ValueError(
                f"BatchNormalization: {name} must have gamma's shape {self.gamma.shape}, "
                f"got {a.shape}"
            )
        return a

    def _buffer(self, value, fill, name):
        if value is None:  # made where gamma is: NumPy's or CuPy's
            return get_array_module(self.gamma).full(self.gamma.shape, fill, self.gamma.dtype)
        a = self._check_shape(as_float_array(value, "BatchNormalization", name=name), name)
        a = as_array_like(a, self.gamma)  # on gamma's device: training adds to it in place
        if a.dtype != self.gamma.dtype or not is_writeable(a):
            with quiet():  # float64 beyond float32's range becomes inf
                a = a.astype(self.gamma.dtype)
        return a

    def get_config(self) -> dict[str, Any]:
        return {
            "momentum": self.momentum,
            "eps": self.eps,
            "unbiased_running_var": self.unbiased_running_var,
        }

    def _layout(self, x):
        """``x`` to normalise, the axes one feature's values lie along, and gamma's shape."""
        d = self.gamma.shape[0]
        if x.ndim in (2, 4) and x.shape[0] >= 1:
            if x.ndim == 2 and x.shape[1] == d:
                return x, (0,), (d,)
            if x.ndim == 4 and x.shape[1] == d and x.shape[2] * x.shape[3] >= 1:
                return x, (0, 2, 3), (d, 1, 1)  # per channel, over N, H and W
            if x.ndim == 4 and math.prod(x.shape[1:]) == d:
                return x.reshape(x.shape[0], d), (0,), (d,)  # the book's per position
        raise ValueError(
            f"BatchNormalization.forward: expected x of shape (N, {d}), (N, {d}, H, W) (per "
            f"channel) or (N, C, H, W) with C*H*W = {d} (per position, the book's), N >= 1, "
            f"got {x.shape}" + ("; for one sample use x[None]" if x.ndim in (1, 3) else "")
        )

    def forward(self, x: npt.ArrayLike, train_flg: bool = True) -> np.ndarray:
        x = as_float_array(x, "BatchNormalization.forward")
        train_flg = check_flag(train_flg, "BatchNormalization.forward", "train_flg")
        x2, axes, shape = self._layout(x)
        n = math.prod(x2.shape[axis] for axis in axes)  # values per feature
        if train_flg and self.unbiased_running_var and n < 2:
            raise ValueError(
                "BatchNormalization.forward: unbiased_running_var needs at least 2 values per "
                f"feature to train on (n / (n - 1)), got x of shape {x.shape}"
            )
        with quiet():  # huge or non-finite input gives inf/NaN, as the arithmetic defines
            x2 = x2.astype(self.gamma.dtype, copy=False)
            if train_flg:
                mu = x2.mean(axis=axes)
                xc = x2 - mu.reshape(shape)
                var = np.mean(xc * xc, axis=axes)
                var_seen = var * (n / (n - 1)) if self.unbiased_running_var else var
                m = self.momentum
                self.running_mean *= m  # in place: a network's reference stays valid
                self.running_mean += (1 - m) * mu
                self.running_var *= m
                self.running_var += (1 - m) * var_seen
            else:
                xc = x2 - self.running_mean.reshape(shape)
                var = self.running_var
            std = np.sqrt(var + self.eps).reshape(shape)
            xn = xc / std
            out = self.gamma.reshape(shape) * xn
            out += self.beta.reshape(shape)  # in place: out keeps gamma's dtype
        self.input_shape, self.batch_size, self._n = x.shape, x.shape[0], n
        self.xc, self.xn, self.std, self._axes, self._train = xc, xn, std, axes, bool(train_flg)
        return out.reshape(x.shape)

    def backward(self, dout: npt.ArrayLike) -> np.ndarray:
        if self.xn is None:
            raise self._not_ready()
        assert self.xc is not None and self.std is not None and self._n is not None  # set with xn
        dout = check_dout(dout, self.input_shape, "BatchNormalization", self.gamma.dtype)
        dout = dout.reshape(self.xn.shape)
        axes, n, std = self._axes, self._n, self.std
        with quiet():
            self.dbeta = np.sum(dout, axis=axes)
            self.dgamma = np.sum(self.xn * dout, axis=axes)
            dxn = self.gamma.reshape(std.shape) * dout
            dxc = dxn / std
            if self._train:  # mu and std are functions of x too
                dstd = -np.sum(dxn * self.xc / (std * std), axis=axes).reshape(std.shape)
                dvar = 0.5 * dstd / std
                dxc += (2.0 / n) * self.xc * dvar
                dmu = np.sum(dxc, axis=axes).reshape(std.shape)
                dxc -= dmu / n
        return dxc.reshape(self.input_shape)

    def __repr__(self):
        return (
            f"BatchNormalization(num_features={self.gamma.shape[0]}, momentum={self.momentum}, "
            f"eps={self.eps}, unbiased_running_var={self.unbiased_running_var}, "
            f"dtype={self.gamma.dtype})"
        )
