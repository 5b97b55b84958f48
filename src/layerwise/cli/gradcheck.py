"""``layerwise gradcheck``: backpropagation against numerical gradients, for the book's nets.

Without MODEL: the small networks of every registered model (:class:`~layerwise.plans.ModelEntry`:
the book's, chapters 5 to 8, and any a user registers), every entry of every gradient. With
MODEL (a model file or run folder): that network, in float64, on a small random batch;
``--entries`` entries of each parameter are checked, since a numerical gradient costs two
forward passes per entry.
"""

from __future__ import annotations

import numpy as np

from ..files import ModelFileError, network_from_arrays
from ..plans import MODELS
from ._common import non_negative_int, open_model, positive_int
from .models import MODEL_DEFAULTS  # noqa: F401  (importing it registers the book's models)

#: Largest difference accepted, relative to the network's largest gradient entry (float64);
#: text, so that the report shows it as written.
THRESHOLD = "1e-7"


def add_parser(sub):
    p = sub.add_parser(
        "gradcheck",
        help="compare backprop with numerical gradients: the book's nets, or a saved MODEL",
    )
    p.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="a model .npz or run folder to check (default: each registered model, small)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument(
        "--entries",
        type=positive_int,
        default=20,
        metavar="N",
        help="with MODEL: how many entries of each parameter to check (default 20)",
    )
    p.set_defaults(func=run, parser=p)


def examples(seed):
    """``{description: network}``: the small networks of every registered model's entry."""
    found = {}
    for entry in MODELS.values():
        if entry.examples is not None:
            found.update(entry.examples(seed))
    return found


def as_float64(network):
    """A float64 copy of ``network`` (a numerical gradient in float32 has three digits)."""

    def widened(value):
        if isinstance(value, dict):
            return {k: "float64" if k == "dtype" else widened(v) for k, v in value.items()}
        if isinstance(value, list):
            return [widened(v) for v in value]
        return value

    state = {k: np.asarray(v, dtype=np.float64) for k, v in network.state_dict().items()}
    try:
        return network_from_arrays(widened(network.get_config()), state)
    except ModelFileError as e:
        raise ModelFileError(f"cannot check this model in float64: {e}") from e


def model_batch(network, rng, rows=2):
    """A random batch the model takes: its image shape, or the rows its first Affine takes."""
    shape = getattr(network, "input_shape", None)
    if shape is None:
        first = next(iter(network.params.values()))
        shape = first.shape[:1] if first.ndim == 2 else None
    if shape is None:
        raise ValueError("cannot tell what input this model takes (no input_shape, no Affine W1)")
    x = rng.uniform(0.1, 1.0, (rows, *shape))
    classes = network.predict(x, train_flg=False).shape[1]
    return x, rng.integers(0, classes, rows)


def sampled_gradients(network, x, t, entries, rng, h=1e-5):
    """Backprop's gradients and, for ``entries`` random entries of each, central differences.

    Returns ``{key: (backprop values, numerical values)}`` at the same entries. Every loss
    evaluation sees the same random draws (Dropout's masks), as ``numerical_gradient`` does.
    """
    states = network.get_rng_state()
    network.set_rng_state(states)
    grads = network.gradient(x, t)
    found = {}
    for key, param in network.params.items():
        picked = rng.choice(param.size, size=min(entries, param.size), replace=False)
        flat, numerical = param.reshape(-1), []  # a view: changing it changes the parameter
        for i in picked:
            kept = flat[i].copy()  # a copy on either device (CuPy's flat[i] is a 0-d view)
            losses = []
            for step in (h, -h):  # (f(w + h) - f(w - h)) / 2h
                flat[i] = kept + step
                network.set_rng_state(states)
                losses.append(float(network.loss(x, t)))
            flat[i] = kept
            numerical.append((losses[0] - losses[1]) / (2 * h))
        found[key] = (grads[key].reshape(-1)[picked], np.array(numerical))
    network.set_rng_state(states)
    return found, max(float(np.max(np.abs(g))) for g in grads.values())


def run(args):
    if args.model is not None:
        model, network, _ = open_model(args.model)
        rng = np.random.default_rng(args.seed)
        network = as_float64(network).train()
        x, t = model_batch(network, rng)
        print(f"{model}: {type(network).__name__}, {args.entries} entries of each parameter")
        pairs, scale = sampled_gradients(network, x, t, args.entries, rng)
        worst = report({k: np.abs(a - b) for k, (a, b) in pairs.items()}, scale)
        return verdict(worst)
    worst = 0.0
    rng = np.random.default_rng(args.seed)
    for name, net in examples(args.seed).items():
        print(name)
        x, t = model_batch(net, rng, rows=3)
        # Numerical first: it rewinds Dropout's generator after each evaluation, so the
        # backpropagation that follows draws the very masks the numerical gradient saw.
        # h = 1e-5: BatchNorm over a batch of 3 is curved enough that 1e-4 leaves 1e-6 of
        # truncation error.
        numerical = net.numerical_gradient(x, t, h=1e-5)
        grads = net.gradient(x, t)
        # Relative to the largest gradient entry of the network: a bias followed by BatchNorm
        # has a true gradient of exactly 0, where an entry-by-entry ratio would compare noise.
        scale = max(float(np.max(np.abs(g))) for g in grads.values())
        worst = max(worst, report({k: np.abs(grads[k] - numerical[k]) for k in grads}, scale))
    return verdict(worst)


def report(differences, scale):
    """Print each parameter's largest difference relative to ``scale``; return the worst."""
    worst = 0.0
    for key, difference in differences.items():
        err = float(np.max(difference)) / scale
        worst = max(worst, err)
        print(f"  {key:<7} max |backprop - numerical| / largest gradient {err:.2e}")
    return worst


def verdict(worst):
    ok = worst <= float(THRESHOLD)
    print(f"worst {worst:.2e}: {'OK' if ok else 'FAILED'} (threshold {THRESHOLD}, float64)")
    return 0 if ok else 1
