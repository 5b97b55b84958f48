"""Input checks shared by functions, layers and networks.

Every message names the caller, what it expected and what arrived, so that a learner who passes
the wrong thing reads what to change instead of a traceback from deep inside NumPy.
"""

import numpy as np


def as_float_array(x, where, name="x"):
    """Return ``x`` as an ndarray of floating dtype, without copying a floating input.

    Floating arrays keep their dtype; bool and integer arrays become float64; anything else
    (complex, object, strings) is a TypeError.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{where}: {name} must be a real numeric array, got dtype {arr.dtype}"
        + (" (complex numbers are not supported)" if kind == "c" else "")
    )


def check_labels(t, x_shape, where):
    """Validate supervision ``t`` against scores of shape ``x_shape`` = (..., C).

    Returns
    -------
    labels : ndarray of intp, shape ``x_shape[:-1]``, or None
        When ``t`` holds label indices.
    onehot : ndarray, shape ``x_shape``, or None
        When ``t`` holds one-hot (or probability) rows.
    """
    t = np.asarray(t)
    n_classes = x_shape[-1]
    if t.shape == tuple(x_shape):
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{where}: one-hot t must be numeric, got dtype {t.dtype}")
        return None, t
    if t.shape == tuple(x_shape[:-1]):
        if t.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: label indices t must have an integer dtype, got {t.dtype}. "
                "Convert with t.astype(int), or pass one-hot rows of shape "
                f"{tuple(x_shape)}."
            )
        if t.size and (t.min() < 0 or t.max() >= n_classes):
            raise ValueError(
                f"{where}: labels must lie in [0, {n_classes}) for {n_classes} classes, "
                f"got values from {t.min()} to {t.max()}"
            )
        return t.astype(np.intp, copy=False), None
    raise ValueError(
        f"{where}: t must be label indices of shape {tuple(x_shape[:-1])} or one-hot rows of "
        f"shape {tuple(x_shape)} to match scores of shape {tuple(x_shape)}, got shape {t.shape}"
    )


def check_dout(dout, shape, dtype, where):
    """Return ``dout`` as an array of ``dtype`` with the forward output's ``shape``."""
    dout = as_float_array(dout, where, name="dout")
    if dout.shape != shape:
        raise ValueError(
            f"{where}.backward: dout must have the shape of the forward output {shape}, "
            f"got {dout.shape}"
        )
    return dout.astype(dtype, copy=False)
