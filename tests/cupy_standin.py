"""A stand-in for CuPy that refuses what CuPy refuses, so the GPU path is tested without a GPU.

``make_cupy()`` returns a module to install as ``sys.modules["cupy"]``. Its arrays hold their
values in a host NumPy array and compute with NumPy, so results can be compared with a CPU run
exactly, but they are *not* NumPy arrays, and they behave as CuPy 13's arrays (layerwise's
``gpu`` extra needs ``cupy>=13``) at every point where CuPy differs from NumPy:

- **No implicit conversion.** ``__array__`` raises CuPy's TypeError, so ``np.asarray``,
  ``np.array``, ``np.ascontiguousarray``, ``host[...] = device`` and ``as_strided`` from NumPy
  all fail, as on a GPU. ``cupy.asarray``/``cupy.array`` copy to the device, ``.get()`` and
  ``cupy.asnumpy`` to the host.
- **Arithmetic** (NumPy's ufuncs and the operators) takes device arrays, Python scalars and
  NumPy scalars (``np.float64(2)``); a NumPy ndarray of any ndim, 0-d included, is a TypeError
  (``Unsupported type <class 'numpy.ndarray'>``), except that comparisons read a 0-d one as its
  value, as CuPy's ``__array_ufunc__`` does. Other operands (lists) give NotImplemented.
- **NumPy functions** (``np.sum``, ``np.where``, ...) run only where CuPy 13 has a function of
  that name (``__array_function__`` returns NotImplemented for the others, and NumPy raises
  "no implementation found"). A host array among their arguments is a TypeError. CuPy's own
  functions differ there (most raise, a few fall back to NumPy), and layerwise must rely on
  none of it; the stand-in follows CuPy where it is plain: ``take``'s indices may be a host
  array (CuPy copies index arrays), ``copyto`` from a host array of ndim >= 1 is a ValueError
  and from a 0-d one reads its value.
- **Indexing**: ``x[i]`` with integers is a 0-d *view* (NumPy gives a scalar copy); slicing
  gives views and index arrays copies, as in NumPy. Index arrays may be host arrays (CuPy copies
  them), and so may the values of an assignment through index arrays. ``x[basic] = value``
  takes a device array or a scalar; a host array of ndim >= 1 is a ValueError ("non-scalar
  numpy.ndarray cannot be used for fill"), as CuPy's.
- ``flags`` has ``c_contiguous``, ``f_contiguous`` and ``owndata`` only (no ``writeable``:
  device arrays have no read-only mode); reductions return 0-d arrays, never scalars; methods
  are those of ``cupy.ndarray``.
- **The module** has only CuPy 13's names: the functions and ufuncs below (``cupy/__init__.py``,
  ``cupy.linalg`` and ``cupy.lib.stride_tricks`` at the v13.0.0 tag, those that NumPy also has),
  its dtypes and constants, ``asnumpy``, ``get_array_module``, ``cuda`` (``Device``,
  ``runtime.getDeviceCount``) and ``random``: ``default_rng``, whose ``Generator`` draws only
  CuPy's distributions, and the legacy functions (``randn``, ``rand``, ...), all NumPy's
  streams, not cuRAND's. Any other name is an AttributeError.
"""

from __future__ import annotations

import types

import numpy as np

#: CuPy 13.0.0's ufuncs that NumPy has (NumPy 2's aliases acos, pow, ... are not among them).
UFUNCS = frozenset(
    """abs absolute add arccos arccosh arcsin arcsinh arctan arctan2 arctanh bitwise_and
    bitwise_not bitwise_or bitwise_xor cbrt ceil conj conjugate copysign cos cosh deg2rad degrees
    divide divmod equal exp exp2 expm1 fabs float_power floor floor_divide fmax fmin fmod frexp
    gcd greater greater_equal heaviside hypot invert isfinite isinf isnan lcm ldexp left_shift
    less less_equal log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or
    logical_xor matmul maximum minimum mod modf multiply negative nextafter not_equal positive
    power rad2deg radians reciprocal remainder right_shift rint sign signbit sin sinh sqrt square
    subtract tan tanh true_divide trunc""".split()
)

#: The ufuncs whose ``at`` CuPy 13 implements (a scatter operation).
SCATTER_UFUNCS = frozenset(
    "add subtract maximum minimum bitwise_and bitwise_or bitwise_xor".split()
)

#: CuPy 13.0.0's other functions that NumPy has, by the NumPy module that dispatches them.
FUNCTIONS = {
    "numpy": frozenset(
        """all allclose amax amin angle any append apply_along_axis arange argmax argmin
        argpartition argsort argwhere around array2string array_equal array_equiv array_repr
        array_split array_str asanyarray asarray_chkfinite ascontiguousarray asfortranarray
        atleast_1d atleast_2d atleast_3d average bartlett base_repr binary_repr bincount
        blackman broadcast_arrays broadcast_shapes broadcast_to can_cast choose clip
        column_stack common_type compress concatenate convolve copy copyto corrcoef
        correlate count_nonzero cov cross cumprod cumsum delete diag diag_indices
        diag_indices_from diagflat diagonal diff digitize dot dsplit dstack ediff1d einsum
        empty empty_like expand_dims extract eye fill_diagonal fix flatnonzero flip fliplr
        flipud format_float_positional format_float_scientific full full_like gradient
        hamming hanning histogram histogram2d histogramdd hsplit hstack i0 identity imag
        indices inner interp intersect1d isclose iscomplex iscomplexobj isfortran isin
        isneginf isposinf isreal isrealobj isscalar issubdtype iterable ix_ kaiser kron
        lexsort linspace logspace mask_indices max may_share_memory mean median meshgrid min
        min_scalar_type mintypecode moveaxis nan_to_num nanargmax nanargmin nancumprod
        nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar ndim nonzero
        ones ones_like outer packbits pad partition percentile piecewise place poly polyadd
        polyfit polymul polysub polyval prod promote_types ptp put putmask quantile ravel
        ravel_multi_index real real_if_close repeat require reshape resize result_type roll
        rollaxis roots rot90 round row_stack searchsorted select setdiff1d setxor1d shape
        shares_memory sinc size sort sort_complex split squeeze stack std sum swapaxes take
        take_along_axis tensordot tile trace transpose tri tril tril_indices
        tril_indices_from trim_zeros triu triu_indices triu_indices_from typename union1d
        unique unpackbits unravel_index unwrap vander var vdot vsplit vstack where zeros
        zeros_like""".split()
    ),
    "numpy.linalg": frozenset(
        """cholesky det eigh eigvalsh inv lstsq matrix_power matrix_rank norm pinv qr slogdet
        solve svd tensorinv tensorsolve""".split()
    ),
    "numpy.lib.stride_tricks": frozenset({"as_strided", "sliding_window_view"}),
}

#: NumPy's dtypes and constants, which CuPy exports as they are.
ALIASES = """bool_ byte cdouble complex128 complex64 complexfloating csingle double dtype finfo
    float16 float32 float64 floating generic half iinfo inexact int16 int32 int64 int8 int_ intc
    integer intp longlong number short signedinteger single ubyte uint uint16 uint32 uint64 uint8
    uintc uintp ulonglong unsignedinteger ushort e euler_gamma inf nan newaxis pi""".split()

#: ``cupy.ndarray``'s methods (CuPy 13), computed by NumPy's of the same name.
METHODS = frozenset(
    """all any argmax argmin argpartition argsort astype choose clip compress conj conjugate copy
    cumprod cumsum diagonal dot flatten item max mean min nonzero partition prod ptp put ravel
    repeat reshape round searchsorted sort squeeze std sum swapaxes take tobytes tolist trace
    transpose var view""".split()
)

#: ``cupy.random.Generator``'s distributions (CuPy 13); NumPy's ``normal``, ``permutation``,
#: ``choice``, ``shuffle`` and the rest are not among them.
DISTRIBUTIONS = frozenset(
    """random uniform integers beta chisquare dirichlet exponential f geometric hypergeometric
    logseries standard_exponential poisson power standard_normal gamma standard_gamma
    binomial""".split()
)

#: ``cupy.random``'s functions of the legacy API (CuPy 13), which NumPy's ``np.random`` has too.
LEGACY_RANDOM = frozenset(
    """beta binomial bytes chisquare choice dirichlet exponential f gamma geometric gumbel
    hypergeometric laplace logistic lognormal logseries multinomial multivariate_normal
    negative_binomial noncentral_chisquare noncentral_f normal pareto permutation poisson power
    rand randint randn random random_integers random_sample ranf rayleigh sample seed shuffle
    standard_cauchy standard_exponential standard_gamma standard_normal standard_t triangular
    uniform vonmises wald weibull zipf""".split()
)

_UFUNC_METHODS = ("__call__", "outer", "at", "reduce", "accumulate", "reduceat")
_COMPARISONS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}
# cupy/_core/_scalar.pyx's scalar_type_set: Python's scalar types and NumPy's scalar types.
_SCALARS = (bool, int, float, complex, np.generic)


class ndarray:  # noqa: N801 - CuPy's name
    """A "device" array: host memory and NumPy's arithmetic behind CuPy's interface."""

    __slots__ = ("_a", "__weakref__")
    __module__ = "cupy"  # what layerwise.backend.is_cupy_array looks at, as for cupy.ndarray
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("the stand-in makes new arrays only")
        self._a = np.empty(shape, dtype, order=order)

    @classmethod
    def _of(cls, host):
        """The device array whose memory is ``host`` (a view of it stays a view)."""
        array = object.__new__(cls)
        array._a = host
        return array

    # ------------------------------------------------------------ conversion

    def __array__(self, dtype=None):  # CuPy's signature: np.array(dev) warns of ``copy`` first
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly."
        )

    def get(self, stream=None, order="C", out=None, blocking=True):
        """A host copy, as ``cupy.ndarray.get``."""
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        """Copy the host array ``arr`` in, as ``cupy.ndarray.set`` (same shape and dtype)."""
        if not isinstance(arr, np.ndarray) or arr.shape != self.shape or arr.dtype != self.dtype:
            raise ValueError("set: a NumPy array of the same shape and dtype is needed")
        self._a[...] = arr

    def __int__(self):
        return int(self.get())

    def __float__(self):
        return float(self.get())

    def __complex__(self):
        return complex(self.get())

    def __bool__(self):
        return bool(self.get())

    def __repr__(self):
        return repr(self.get())

    def __str__(self):
        return str(self.get())

    def __format__(self, spec):
        return format(self.get(), spec)

    def __copy__(self):
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray._of(self._a.copy())

    def __reduce__(self):
        return _from_host, (self.get(),)

    # ------------------------------------------------------------ attributes

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray._of(self._a.T))
    real = property(lambda self: ndarray._of(self._a.real))
    imag = property(lambda self: ndarray._of(self._a.imag))
    device = property(lambda self: _Device(0))
    # cupy.cuda.MemoryPointer: ``ptr`` is the address of the first element (here a host one)
    data = property(lambda self: types.SimpleNamespace(ptr=self._a.ctypes.data))

    @property
    def base(self):
        return ndarray._of(self._a.base) if isinstance(self._a.base, np.ndarray) else None

    @property
    def flags(self):
        """``c_contiguous``, ``f_contiguous``, ``owndata`` and nothing else, as CuPy's."""
        f = self._a.flags
        return Flags(f.c_contiguous, f.f_contiguous, self._a.base is None)

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name)

        def call(*args, **kwargs):
            _refuse_host((args[1:] if name == "take" else args, kwargs), f"ndarray.{name}")
            result = method(*_unwrap(args), **_unwrap(kwargs))
            return self if result is self._a else _wrap(result)  # astype(copy=False)

        return call

    def fill(self, value):
        value = value._a if isinstance(value, ndarray) else np.asarray(value)
        if value.shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._a.fill(value[()])

    # ------------------------------------------------------------ indexing

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key):
        key, basic = _index(key)
        # With an Ellipsis, NumPy's integer indexing gives a 0-d view, as CuPy's always does.
        view = basic and not any(k is Ellipsis for k in key)
        return ndarray._of(self._a[(*key, Ellipsis) if view else key])

    def __setitem__(self, key, value):
        key, basic = _index(key)
        if isinstance(value, ndarray):
            self._a[key] = value._a
        elif not basic:  # through index arrays CuPy copies host values to the device
            self._a[key] = value
        else:
            value = np.asarray(value)  # CuPy fills from a scalar here, and from nothing else
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            self._a[key] = value[()]

    # ------------------------------------------------------------ NumPy's protocols

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if ufunc.__name__ not in UFUNCS or method not in _UFUNC_METHODS:
            return NotImplemented
        return _apply_ufunc(ufunc, method, inputs, out, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ not in FUNCTIONS.get(func.__module__, ()):
            return NotImplemented  # NumPy then raises "no implementation found"
        if not all(issubclass(t, (ndarray, np.ndarray)) for t in types):
            return NotImplemented
        return _call(func, args, kwargs)


def _operators():
    """The arithmetic operators, each a NumPy ufunc that ``__array_ufunc__`` then runs."""
    binary = {
        "add": np.add, "sub": np.subtract, "mul": np.multiply, "matmul": np.matmul,
        "truediv": np.true_divide, "floordiv": np.floor_divide, "mod": np.remainder,
        "pow": np.power, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
        "lshift": np.left_shift, "rshift": np.right_shift,
    }  # fmt: skip
    for name, ufunc in binary.items():
        setattr(ndarray, f"__{name}__", lambda self, other, u=ufunc: u(self, other))
        setattr(ndarray, f"__r{name}__", lambda self, other, u=ufunc: u(other, self))
        setattr(ndarray, f"__i{name}__", lambda self, other, u=ufunc: u(self, other, out=(self,)))
    # NumPy's own `a ** 2` is np.square (and ** 0.5, ** -1, ** 1 likewise) on float arrays, not
    # np.power, which on NumPy 2.0 rounds 2.7% of squares differently: the stand-in computes
    # what NumPy's operator computes, so that it stays equal to the host bit for bit.
    fast = {2: np.square, 0.5: np.sqrt, -1: np.reciprocal, 1: np.positive}

    def power(self, other):
        if type(other) in (int, float) and other in fast and self.dtype.kind in "fc":
            return fast[other](self)
        return np.power(self, other)

    ndarray.__pow__ = power
    ndarray.__divmod__ = lambda self, other: np.divmod(self, other)
    comparisons = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                   "gt": np.greater, "ge": np.greater_equal}  # fmt: skip
    for name, ufunc in comparisons.items():
        setattr(ndarray, f"__{name}__", lambda self, other, u=ufunc: u(self, other))
    unary = {"neg": np.negative, "pos": np.positive, "abs": np.absolute, "invert": np.invert}
    for name, ufunc in unary.items():
        setattr(ndarray, f"__{name}__", lambda self, u=ufunc: u(self))


_operators()


class Flags:
    """``cupy.ndarray.flags``: three of NumPy's flags, by attribute or by NumPy's key."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c_contiguous, f_contiguous, owndata):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    def __getitem__(self, name):
        names = {
            "C_CONTIGUOUS": "c_contiguous",
            "F_CONTIGUOUS": "f_contiguous",
            "OWNDATA": "owndata",
        }
        if name not in names:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, names[name])


class _Device:
    """``cupy.cuda.Device``: a context manager that makes GPU ``index`` the current one."""

    def __init__(self, index=0):
        self.id = 0 if index is None else int(index)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def synchronize(self):
        """Nothing to wait for: the stand-in computes synchronously."""

    def use(self):
        """Nothing to switch: the stand-in has one memory."""


class Generator:
    """``cupy.random.Generator``: CuPy's distributions only, drawn by NumPy's generator."""

    __module__ = "cupy.random"

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in DISTRIBUTIONS:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        draw = getattr(self._rng, name)

        def call(*args, **kwargs):
            _refuse_host((args, kwargs), f"Generator.{name}")
            return _wrap(draw(*_unwrap(args), **_unwrap(kwargs)))

        return call


# ---------------------------------------------------------------- helpers


def _is_host(x):
    return isinstance(x, np.ndarray)


def _from_host(host):
    return ndarray._of(np.array(host))


def _wrap(result):
    """NumPy's results as device arrays; a scalar as a 0-d array, as CuPy returns."""
    if isinstance(result, np.ndarray):
        return ndarray._of(result)
    if isinstance(result, np.generic):
        return ndarray._of(np.asarray(result))
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # slogdet, svd, ...
        return type(result)(*map(_wrap, result))
    if isinstance(result, (tuple, list)):
        return type(result)(_wrap(r) for r in result)
    return result


def _unwrap(obj):
    """Device arrays (also inside lists, tuples and dicts) as the host arrays behind them."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _refuse_host(obj, where):
    """TypeError for a host array anywhere in ``obj`` (lists, tuples, dicts included)."""
    if _is_host(obj):
        raise TypeError(
            f"cupy.{where}: a NumPy (host) array among the arguments; CuPy does not copy it "
            "to the device for you (use cupy.asarray)"
        )
    if isinstance(obj, (list, tuple)):
        for o in obj:
            _refuse_host(o, where)
    elif isinstance(obj, dict):
        for o in obj.values():
            _refuse_host(o, where)


def _index(key):
    """``key`` with device index arrays on the host, and whether it is basic (no arrays)."""
    key = key if isinstance(key, tuple) else (key,)
    key = tuple(k._a if isinstance(k, ndarray) else k for k in key)
    basic = all(
        k is None or k is Ellipsis or isinstance(k, slice)
        or (isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)))
        for k in key
    )  # fmt: skip
    return key, basic


def _apply_ufunc(ufunc, method, inputs, out, kwargs):
    """``ufunc`` on device arrays and scalars, as CuPy's; NotImplemented for other operands."""
    if method == "at":
        return _scatter(ufunc, *inputs)
    operands = (*inputs, *(out or ()))
    for x in operands:
        if not isinstance(x, (ndarray, np.ndarray, *_SCALARS)):
            return NotImplemented
    if ufunc.__name__ in _COMPARISONS:  # CuPy reads a 0-d host array as its value here
        inputs = tuple(x.item() if _is_host(x) and x.ndim == 0 else x for x in inputs)
        operands = (*inputs, *(out or ()))
    for x in operands:
        if _is_host(x):
            raise TypeError(f"Unsupported type {type(x)}")
    if out is not None:
        kwargs["out"] = tuple(o._a for o in out)
    result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
    if out is not None:
        return out[0] if len(out) == 1 else out
    return _wrap(result)


class _Ufunc:
    """``cupy.<ufunc>``: NumPy's ufunc that takes only what CuPy's takes."""

    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__
        for method in _UFUNC_METHODS[1:]:
            setattr(self, method, self._method(method))

    def _method(self, method):
        def call(*inputs, out=None, **kwargs):
            if out is not None and not isinstance(out, tuple):
                out = (out,)
            result = _apply_ufunc(self._ufunc, method, inputs, out, kwargs)
            if result is NotImplemented:
                raise TypeError(f"cupy.{self.__name__}: unsupported operand types")
            return result

        return call

    def __call__(self, *inputs, **kwargs):
        return self._method("__call__")(*inputs, **kwargs)


def _call(func, args, kwargs):
    """NumPy's ``func`` on device arrays, refusing host arrays as CuPy's functions do."""
    name = func.__name__
    if name == "copyto" and len(args) > 1 and _is_host(args[1]):
        if args[1].ndim:  # CuPy takes a host scalar only
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        args = (args[0], args[1].item(), *args[2:])
    # take's indices CuPy copies from the host, as it does those of a[i].
    _refuse_host(((*args[:1], *args[2:]) if name == "take" else args, kwargs), name)
    return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))


def _scatter(ufunc, a, indices, b=None):
    """``ufunc.at(a, indices, b)``, as CuPy's: a device target, one index, a scatter ufunc."""
    if not isinstance(a, ndarray):
        raise AttributeError(f"'{type(a).__name__}' object has no attribute '_scatter_op'")
    if not isinstance(indices, (ndarray, np.ndarray, *_SCALARS)):
        raise TypeError(f"{ufunc.__name__}.at: CuPy takes one index array, got {type(indices)}")
    if ufunc.__name__ not in SCATTER_UFUNCS:
        raise NotImplementedError(f"`{ufunc.__name__}.at` is not supported yet")
    index, basic = _index(indices)
    if basic and _is_host(b):  # CuPy copies host values only through index arrays
        raise TypeError(f"Unsupported type {type(b)}")
    ufunc.at(a._a, index if len(index) > 1 else index[0], _unwrap(b))


# ---------------------------------------------------------------- the module


def make_cupy(device_count=1):
    """A module to install as ``sys.modules["cupy"]``: CuPy and ``device_count`` "GPUs".

    ``device_count=None`` makes ``cuda.runtime.getDeviceCount`` fail as CUDA does without a
    driver or a GPU.
    """
    cupy = types.ModuleType("cupy", "A stand-in for CuPy 13 (tests/cupy_standin.py).")
    cupy.ndarray = ndarray

    def asarray(a, dtype=None, order=None):  # host to "device": a copy, as cudaMemcpy
        if isinstance(a, ndarray):
            return a if dtype is None else a.astype(dtype, copy=False)
        return ndarray._of(np.array(_unwrap(a), dtype=dtype, order=order or "K"))

    def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
        host = np.array(_unwrap(obj), dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return ndarray._of(host)

    def asnumpy(a, stream=None, order="C", out=None):
        return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a)

    def get_array_module(*args):
        return cupy if any(isinstance(a, ndarray) for a in args) else np

    cupy.asarray, cupy.array, cupy.asnumpy = asarray, array, asnumpy
    cupy.get_array_module = get_array_module
    for name in ALIASES:
        setattr(cupy, name, getattr(np, name))
    for name in UFUNCS:
        setattr(cupy, name, _Ufunc(getattr(np, name)))
    for module, names in FUNCTIONS.items():
        target = cupy
        for part in module.split(".")[1:]:
            if not hasattr(target, part):
                setattr(target, part, types.ModuleType(f"{target.__name__}.{part}"))
            target = getattr(target, part)
        numpy_module = np
        for part in module.split(".")[1:]:
            numpy_module = getattr(numpy_module, part)
        for name in names:
            if hasattr(numpy_module, name):  # NumPy 2.5 removed row_stack, which CuPy 13 has
                setattr(target, name, _function(getattr(numpy_module, name), target.__name__))

    def default_rng(seed=None):
        return seed if isinstance(seed, Generator) else Generator(seed)

    cupy.random = types.ModuleType("cupy.random")
    cupy.random.default_rng, cupy.random.Generator = default_rng, Generator
    state = np.random.RandomState(0)  # CuPy's legacy generator is its own, not NumPy's global one
    aliases = {"ranf": "random_sample", "sample": "random_sample"}
    for name in LEGACY_RANDOM:
        draw = getattr(state, aliases.get(name, name))
        setattr(cupy.random, name, _function(draw, "cupy.random", name))

    def getDeviceCount():  # noqa: N802 - CUDA's name
        if device_count is None:
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return device_count

    cupy.cuda = types.SimpleNamespace(
        Device=_Device, runtime=types.SimpleNamespace(getDeviceCount=getDeviceCount)
    )
    return cupy


def _function(func, module, name=None):
    """``cupy.<name>``: NumPy's function on device arrays; creation functions make them."""

    def call(*args, **kwargs):
        return _call(func, args, kwargs)

    call.__name__ = call.__qualname__ = name or func.__name__
    call.__module__ = module
    return call
