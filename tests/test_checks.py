"""Tests for layerwise._checks: the error-state helper and the fast paths of the input checks."""

import re
import warnings

import numpy as np
import pytest

from layerwise import Affine, Relu
from layerwise._checks import (
    InvalidParameterError,
    as_float_array,
    check_dout,
    check_features,
    check_number,
    quiet,
)


def test_quiet_silences_overflow_invalid_and_divide_then_restores():
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with quiet():
            assert np.isinf(np.float32(3e38) * np.float32(10))
            assert np.isnan(np.array([0.0]) / 0)[0]
            assert np.isinf(np.array([1.0]) / 0)[0]
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning):
        _ = np.array([1e308]) * 10


def test_quiet_keeps_the_callers_other_settings():
    # Under an errstate of the caller's, quiet() changes only over/invalid/divide.
    with np.errstate(under="raise"):
        with quiet():
            assert np.geterr()["under"] == "raise"
            assert np.geterr()["over"] == "ignore"
            with pytest.raises(FloatingPointError):
                _ = np.float32(1e-30) * np.float32(1e-30)
        assert np.geterr()["over"] == "warn"


def test_quiet_nests_and_restores_on_error():
    before = np.geterr()
    with pytest.raises(KeyError):
        with quiet():
            with quiet():
                assert np.geterr()["invalid"] == "ignore"
            assert np.geterr()["invalid"] == "ignore"
            raise KeyError("boom")
    assert np.geterr() == before


def test_fast_paths_agree_with_the_general_checks():
    x = np.ones((3, 4), np.float32)
    assert as_float_array(x, "f") is x
    assert as_float_array(np.ones((2, 2), int), "f").dtype == np.float64
    assert check_features(x, 4, "f") is x
    assert check_features(np.ones((3, 2, 2)), 4, "f").shape == (3, 4)
    with pytest.raises(ValueError, match="expected x of shape"):
        check_features(np.ones((0, 4)), 4, "f")
    assert check_dout(x, (3, 4), "f", np.float32) is x
    assert check_dout(x, (3, 4), "f", np.float64).dtype == np.float64  # converted, not passed
    assert check_dout(np.ones((3, 4), int), (3, 4), "f").dtype == np.float64
    with pytest.raises(ValueError, match="dout must have"):
        check_dout(x, (4, 3), "f")


def test_layers_convert_a_dout_of_another_dtype():
    relu = Relu()
    relu.forward(np.array([[-1.0, 2.0]], np.float32))
    dx = relu.backward(np.array([[3.0, 4.0]]))  # float64 dout into a float32 layer
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, [[0.0, 4.0]])
    affine = Affine(np.ones((2, 1), np.float32), np.zeros(1, np.float32))
    affine.forward(np.ones((1, 2), np.float32))
    assert affine.backward(np.ones((1, 1), np.float64)).dtype == np.float32


# --- check_number: the one check of numeric arguments ---------------------------------------


@pytest.mark.parametrize(
    "value, limits, expected",
    [
        (3, {"low": 0}, 3.0),
        (np.float32(0.5), {"low": 0, "high": 1, "high_open": True}, 0.5),
        (np.array(2), {"integer": True, "low": 1}, 2),
        (np.int64(7), {"integer": True}, 7),
        (0.0, {"low": 0}, 0.0),
    ],
)
def test_check_number_accepts_and_converts(value, limits, expected):
    result = check_number(value, "Owner", "arg", **limits)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    "value, limits, message",
    [
        (True, {}, "must be a finite number, got True"),
        ("1", {}, "must be a finite number, got '1'"),
        (float("nan"), {}, "got nan"),
        (float("inf"), {"low": 0}, "got inf"),
        (0.0, {"low": 0, "low_open": True}, "must be a finite number > 0, got 0.0"),
        (1.0, {"low": 0, "high": 1, "high_open": True}, ">= 0 and < 1, got 1.0"),
        (2.5, {"integer": True}, "must be a whole number, got 2.5"),
        (0, {"integer": True, "low": 1}, "must be a whole number >= 1, got 0"),
    ],
)
def test_check_number_refuses_with_one_error_type(value, limits, message):
    with pytest.raises(InvalidParameterError, match="^Owner: arg .*" + re.escape(message)) as e:
        check_number(value, "Owner", "arg", **limits)
    # one type for every such mistake, caught as either of the two the callers expect
    assert isinstance(e.value, ValueError) and isinstance(e.value, TypeError)


def test_quiet_is_the_one_errstate_of_the_package():
    # One policy for floating-point warnings (see layerwise._checks): every module says it with
    # quiet(), so a change to it (another error kind, a different nesting rule) is made once.
    import pathlib

    import layerwise

    package = pathlib.Path(layerwise.__file__).parent
    callers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "np.errstate(" in path.read_text() and path.name != "_checks.py"
    )
    assert callers == [], f"np.errstate outside _checks.quiet: {callers}"


def test_quiet_silences_a_summary_of_non_finite_arrays():
    # What viz.graph's summaries and network's weight decay rely on: inf and NaN give inf and
    # NaN, not warnings, and the nested quiet() inside a step changes nothing.
    a = np.array([np.inf, -np.inf, np.nan, 1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with quiet():
            with quiet():
                assert np.isnan(np.mean(a))
                assert np.isinf(np.sum(np.square(a[3:])))
            assert np.geterr()["over"] == "ignore"
