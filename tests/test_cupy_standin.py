"""The CuPy stand-in (tests/cupy_standin.py) refuses what CuPy refuses and accepts what it accepts.

A test double is only as good as its refusals: every case below runs on the stand-in and, marked
``gpu``, on real CuPy, with the same expected outcome, so a GPU machine checks the checker
(``pytest -m gpu tests/test_cupy_standin.py``).
"""

import copy
import importlib
import warnings

import numpy as np
import pytest
from cupy_standin import (
    ALIASES,
    DISTRIBUTIONS,
    FUNCTIONS,
    LEGACY_RANDOM,
    METHODS,
    UFUNCS,
    make_cupy,
)


@pytest.fixture(params=["stand-in", pytest.param("cupy", marks=pytest.mark.gpu)])
def cp(request):
    """The stand-in, or (marked gpu) the real CuPy."""
    return make_cupy() if request.param == "stand-in" else importlib.import_module("cupy")


def _setitem(a, key, value):
    a[key] = value


def _iadd(a, b):
    a += b


#: (what is tried, expected error or None), with dev = cupy.arange(6.0) and host = np.ones(6).
CASES = {
    # implicit conversion to the host
    "np.asarray(dev)": (lambda cp, dev, host: np.asarray(dev), TypeError),
    "np.array(dev)": (lambda cp, dev, host: np.array(dev), TypeError),
    "np.ascontiguousarray(dev)": (lambda cp, dev, host: np.ascontiguousarray(dev), TypeError),
    "host[...] = dev": (lambda cp, dev, host: _setitem(host, ..., dev), TypeError),
    "host += dev": (lambda cp, dev, host: _iadd(host, dev), TypeError),
    "np.lib.stride_tricks.as_strided(dev)": (
        lambda cp, dev, host: np.lib.stride_tricks.as_strided(dev, (3,), (16,)),
        TypeError,
    ),
    # arithmetic: device arrays and scalars only
    "dev + host": (lambda cp, dev, host: dev + host, TypeError),
    "host * dev": (lambda cp, dev, host: host * dev, TypeError),
    "dev + 0-d host": (lambda cp, dev, host: dev + np.array(2.0), TypeError),
    "np.exp(host) + dev": (lambda cp, dev, host: np.exp(host) + dev, TypeError),
    "np.maximum(dev, host)": (lambda cp, dev, host: np.maximum(dev, host), TypeError),
    "cupy.exp(host)": (lambda cp, dev, host: cp.exp(host), TypeError),
    "dev * [1, ...]": (lambda cp, dev, host: dev * ([1.0] * 6), TypeError),
    "dev += host": (lambda cp, dev, host: _iadd(dev, host), TypeError),
    "dev + 2": (lambda cp, dev, host: dev + 2, None),
    "dev * np.float64(2)": (lambda cp, dev, host: dev * np.float64(2), None),
    "np.float32(2) * dev": (lambda cp, dev, host: np.float32(2) * dev, None),
    "dev == 0-d host": (lambda cp, dev, host: dev == np.array(2.0), None),
    # NumPy's functions: those CuPy has, on device arrays only
    "np.concatenate([dev, host])": (lambda cp, dev, host: np.concatenate([dev, host]), TypeError),
    "np.where(dev > 1, dev, host)": (lambda cp, dev, host: np.where(dev > 1, dev, host), TypeError),
    "np.copyto(dev, host)": (lambda cp, dev, host: np.copyto(dev, host), ValueError),
    "np.copyto(dev, 0-d host)": (lambda cp, dev, host: np.copyto(dev, np.array(1.0)), None),
    "np.is_busday(dev)": (lambda cp, dev, host: np.is_busday(dev), TypeError),  # CuPy has none
    "np.add.at(host, idx, dev)": (
        lambda cp, dev, host: np.add.at(host, np.array([0]), dev[:1]),
        AttributeError,
    ),
    "np.add.at(dev, host idx, 1)": (
        lambda cp, dev, host: np.add.at(dev, np.array([0, 0]), 1.0),
        None,
    ),
    "np.sum(dev)": (lambda cp, dev, host: np.sum(dev), None),
    "np.take(dev, host idx)": (lambda cp, dev, host: np.take(dev, np.array([0, 2])), None),
    # indexing
    "dev[host idx]": (lambda cp, dev, host: dev[np.array([0, 2])], None),
    "dev[:] = host": (lambda cp, dev, host: _setitem(dev, slice(None), host), ValueError),
    "dev[host idx] = host": (lambda cp, dev, host: _setitem(dev, np.array([0, 1]), host[:2]), None),
    "dev[1:3] = 0-d host": (lambda cp, dev, host: _setitem(dev, slice(1, 3), np.array(7.0)), None),
    # what CuPy's arrays and module do not have
    "dev.flags.writeable": (lambda cp, dev, host: dev.flags.writeable, AttributeError),
    "dev.setflags": (lambda cp, dev, host: dev.setflags, AttributeError),
    "cupy.busday_count": (lambda cp, dev, host: cp.busday_count, AttributeError),
    "cupy.random.default_rng().normal": (
        lambda cp, dev, host: cp.random.default_rng(0).normal,
        AttributeError,
    ),
    "cupy.random.default_rng().permutation": (
        lambda cp, dev, host: cp.random.default_rng(0).permutation,
        AttributeError,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_refuses_what_cupy_refuses_and_accepts_what_it_accepts(cp, case):
    attempt, error = CASES[case]
    dev, host = cp.arange(6.0), np.ones(6)
    with warnings.catch_warnings():
        # CuPy's __array__ takes no ``copy``: NumPy 2 warns of that before it calls it again.
        warnings.simplefilter("ignore", DeprecationWarning)
        if error is None:
            attempt(cp, dev, host)
        else:
            with pytest.raises(error):
                attempt(cp, dev, host)


def test_the_messages_are_cupys(cp):
    dev = cp.ones(3)
    with pytest.raises(TypeError, match=r"Implicit conversion to a NumPy array is not allowed"):
        np.asarray(dev)
    with pytest.raises(TypeError, match=r"Unsupported type <class 'numpy.ndarray'>"):
        dev + np.ones(3)
    with pytest.raises(TypeError, match=r"no implementation found for 'numpy.is_busday'"):
        np.is_busday(dev)


def test_an_integer_index_is_a_0d_view_not_a_copy(cp):
    dev = cp.arange(6.0).reshape(2, 3)
    element, row = dev[1, 2], dev[0]
    assert type(element) is cp.ndarray and element.shape == ()
    dev[1, 2], dev[0, 0] = 50.0, 10.0
    assert float(element) == 50.0 and float(row[0]) == 10.0  # NumPy's element would stay 5
    kept = dev[1, 2].copy()
    dev[1, 2] = 0.0
    assert float(kept) == 50.0
    picked = dev[np.array([1]), np.array([2])]  # index arrays copy, as in NumPy
    dev[1, 2] = 1.0
    assert float(picked[0]) == 0.0


def test_arrays_are_device_arrays_and_results_stay_there(cp):
    dev = cp.asarray(np.arange(6.0).reshape(2, 3))
    assert not isinstance(dev, np.ndarray) and type(dev).__module__.split(".")[0] == "cupy"
    for result in (dev.sum(), np.sum(dev), np.max(dev, axis=1), dev @ dev.T, -dev, dev[0, 0] + 1):
        assert type(result) is cp.ndarray
    assert dev.sum().shape == () and float(dev.sum()) == 15.0  # a 0-d array, not a scalar
    flags = dev.flags
    assert flags.c_contiguous and not flags.f_contiguous and flags["C_CONTIGUOUS"]
    assert type(dev.get()) is np.ndarray and type(cp.asnumpy(dev)) is np.ndarray
    np.testing.assert_array_equal(dev.get(), np.arange(6.0).reshape(2, 3))
    twin = copy.deepcopy(dev)
    twin[0, 0] = 9.0
    assert float(dev[0, 0]) == 0.0
    assert cp.get_array_module(dev) is cp and cp.get_array_module(np.ones(1)) is np
    draws = cp.random.default_rng(0).standard_normal((2, 3))
    assert type(draws) is cp.ndarray and draws.shape == (2, 3)
    assert type(cp.random.randn(2, 3)) is cp.ndarray  # the legacy API, as the book's code calls


def test_the_stand_in_has_cupys_names_only():
    cupy = make_cupy()
    # NumPy 2's names that CuPy 13 lacks (cumulative_sum is NumPy 2.1's: the suite also runs on
    # NumPy 2.0.0, where the stand-in must refuse it all the same).
    names = ("concat", "permute_dims", "cumulative_sum", "acos", "pow", "vecdot", "bool")
    assert sum(hasattr(np, name) for name in names) >= 6
    for name in names:
        assert not hasattr(cupy, name), name
    assert not hasattr(cupy.ones(1), "setflags") and not hasattr(cupy.ones(1), "byteswap")
    assert not hasattr(cupy, "__file__")


@pytest.mark.gpu
def test_every_name_the_stand_in_grants_is_cupys():
    """The allow-lists are CuPy's: on a GPU machine, each name exists in the CuPy installed."""
    cupy = importlib.import_module("cupy")
    missing = [n for n in [*UFUNCS, *ALIASES, *FUNCTIONS["numpy"]] if not hasattr(cupy, n)]
    missing += [f"linalg.{n}" for n in FUNCTIONS["numpy.linalg"] if not hasattr(cupy.linalg, n)]
    stride_tricks = importlib.import_module("cupy.lib.stride_tricks")
    missing += [n for n in FUNCTIONS["numpy.lib.stride_tricks"] if not hasattr(stride_tricks, n)]
    missing += [f"ndarray.{n}" for n in METHODS if not hasattr(cupy.ndarray, n)]
    missing += [f"Generator.{n}" for n in DISTRIBUTIONS if not hasattr(cupy.random.Generator, n)]
    missing += [f"random.{n}" for n in LEGACY_RANDOM if not hasattr(cupy.random, n)]
    assert not missing, missing
