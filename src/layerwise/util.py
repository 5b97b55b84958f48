"""Helpers of the book's ``common/util.py``: smoothing a loss curve and shuffling a dataset.

Chapter 7 will add the rest of that file here: ``im2col``, ``col2im`` and ``conv_output_size``,
which turn convolution into a matrix product.

Inputs are never modified (read-only arrays are fine); results are new arrays.
"""

import numpy as np

from ._checks import InvalidParameterError, as_array, as_dtype, as_float_array, quiet

__all__ = ["shuffle_dataset", "smooth_curve"]


def smooth_curve(x):
    """Smooth a curve (e.g. the loss per iteration) by a moving Kaiser-window average.

    The book's ``smooth_curve``: each point becomes the weighted mean of the 11 points centred
    on it, with the weights of a Kaiser window (``np.kaiser(11, 2)``) summing to 1. At the ends
    the curve is extended by its mirror image so that the result has the length of ``x``.

    Parameters
    ----------
    x : array_like, shape (n,)
        The curve, e.g. ``Trainer.train_loss_list`` (a list is fine).

    Returns
    -------
    ndarray, shape (n,)
        The smoothed curve, in ``x``'s float dtype (float64 for int or bool input). It is
        computed in float64 (the window is float64) and then cast, so a float32 result is the
        book's float64 result rounded to float32. A NaN spreads to the 11 points around it.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D.

    Notes
    -----
    For ``n >= 11`` the result is the book's, bit for bit, including its uneven mirroring:
    the start is reflected without repeating ``x[0]`` (``x[10], ..., x[1]``) and the end with
    ``x[-1]`` repeated (``x[-1], ..., x[-10]``).

    For ``n < 11`` the book's code returns a curve of the wrong length (an empty array for
    ``n <= 7``, 3 points for ``n = 8``) and fails for ``n = 0``. Here the window shrinks to the
    largest odd length ``<= n`` (a Kaiser window of that length, still with beta 2), so the
    result always has length ``n``: ``n = 1`` or ``2`` gives ``x`` unchanged and ``n = 0`` an
    empty array.
    """
    x = as_float_array(x, "smooth_curve")
    if x.ndim != 1:
        raise ValueError(
            f"smooth_curve: x must be a 1-D curve of shape (n,), got shape {x.shape}"
            + ("; pass one curve at a time, e.g. x[i]" if x.ndim > 1 else "")
        )
    if len(x) == 0:
        return x.copy()
    window_len = min(11, len(x) - 1 + len(x) % 2)  # odd, so that the window has a centre
    half = window_len // 2
    s = np.r_[x[window_len - 1 : 0 : -1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    with quiet():  # a window holding both inf and -inf gives NaN, without a warning
        y = np.convolve(w / w.sum(), s, mode="valid")
    return as_dtype(y[half : len(y) - half], x.dtype)


def shuffle_dataset(x, t, *, seed=None):
    """Shuffle samples and their labels with one random permutation.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        Samples along the first axis, of any rank: (N, D) vectors, (N, C, H, W) images.
    t : array_like, shape (N,) or (N, C)
        Label indices or one-hot rows (any shape (N, ...) is shuffled the same way).
    seed : None, int or numpy.random.Generator, keyword-only
        Anything ``np.random.default_rng`` accepts: the same int gives the same permutation,
        None a fresh one, and a Generator is drawn from (and advanced), so that successive calls
        with one Generator give successive shuffles. NumPy's global random state is never used.

    Returns
    -------
    x, t : ndarray, ndarray
        New arrays with the shapes and dtypes of ``x`` and ``t`` (nothing is converted: this
        moves samples and computes nothing), where ``x[i]`` and ``t[i]`` are the input's
        ``x[p[i]]`` and ``t[p[i]]`` for one permutation ``p``.

    Raises
    ------
    ValueError
        If ``x`` or ``t`` is 0-d, or they hold different numbers of samples.
    InvalidParameterError
        If ``seed`` is not something ``np.random.default_rng`` accepts (a ValueError and a
        TypeError).

    Notes
    -----
    The book's version draws from ``np.random.permutation`` (the global state, so runs repeat
    only after ``np.random.seed``) and handles only 2-D or 4-D ``x``.
    """
    x = as_array(x, "shuffle_dataset", name="x")
    t = as_array(t, "shuffle_dataset", name="t")
    if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
        raise ValueError(
            "shuffle_dataset: x and t must hold the same number of samples N along their first "
            f"axis, shapes (N, ...) and (N,) or (N, C), got x of shape {x.shape} and t of shape "
            f"{t.shape}"
        )
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError) as err:
        raise InvalidParameterError(
            "shuffle_dataset: seed must be None, a non-negative whole number, a "
            f"numpy.random.Generator or another seed numpy.random.default_rng accepts, got {seed!r}"
        ) from err
    permutation = rng.permutation(len(x))
    return x[permutation], t[permutation]
