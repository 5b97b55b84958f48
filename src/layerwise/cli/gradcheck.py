"""``layerwise gradcheck``: backpropagation against numerical gradients, for the book's nets."""

from __future__ import annotations

import numpy as np

from ..book_nets import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet
from ._common import non_negative_int

#: Largest difference accepted, relative to the network's largest gradient entry (float64);
#: text, so that the report shows it as written.
THRESHOLD = "1e-7"


def add_parser(sub):
    p = sub.add_parser("gradcheck", help="compare backprop with numerical gradients")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.set_defaults(func=run, parser=p)


def run(args):
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0.1, 1.0, (3, 20))
    t = rng.integers(0, 4, 3)
    nets = {
        "TwoLayerNet(20, 10, 4)": TwoLayerNet(20, 10, 4, 0.5, seed=args.seed),
        "MultiLayerNet(20, [10, 8], 4, weight_decay_lambda=0.1)": MultiLayerNet(
            20, [10, 8], 4, weight_decay_lambda=0.1, seed=args.seed
        ),
        "MultiLayerNetExtend(20, [10, 8], 4, weight_decay_lambda=0.1, use_dropout=True, "
        "use_batchnorm=True)": MultiLayerNetExtend(
            20,
            [10, 8],
            4,
            weight_decay_lambda=0.1,
            use_dropout=True,
            dropout_ration=0.2,
            use_batchnorm=True,
            seed=args.seed,
        ),
    }
    worst = 0.0
    for name, net in nets.items():
        print(name)
        # Numerical first: it rewinds Dropout's generator after each evaluation, so the
        # backpropagation that follows draws the very masks the numerical gradient saw.
        # h = 1e-5: BatchNorm over a batch of 3 is curved enough that 1e-4 leaves 1e-6 of
        # truncation error.
        numerical = net.numerical_gradient(x, t, h=1e-5)
        grads = net.gradient(x, t)
        # Relative to the largest gradient entry of the network: a bias followed by BatchNorm
        # has a true gradient of exactly 0, where an entry-by-entry ratio would compare noise.
        scale = max(float(np.max(np.abs(g))) for g in grads.values())
        for key in grads:
            err = float(np.max(np.abs(grads[key] - numerical[key]))) / scale
            worst = max(worst, err)
            print(f"  {key:<6} max |backprop - numerical| / largest gradient {err:.2e}")
    ok = worst <= float(THRESHOLD)
    print(f"worst {worst:.2e}: {'OK' if ok else 'FAILED'} (threshold {THRESHOLD}, float64)")
    return 0 if ok else 1
