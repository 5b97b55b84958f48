"""The sequel's training steps: layerwise.sequel against the sequel's own code and PyTorch.

Usage::

    python benchmarks/sequel.py                       # Rnnlm and CBOW steps, 7 rounds
    python benchmarks/sequel.py --quick               # 3 rounds
    python benchmarks/sequel.py --better              # BetterRnnlm too (about a second a step)
    python benchmarks/sequel.py --book PATH           # the sequel's clone (default: $SEQUEL_BOOK,
                                                      # then /work/books/dlfs2); left out if absent

Workloads (issue 30's table), one forward and one backward pass each, float32:

- ``rnnlm``: ``Rnnlm``, V 10000, D = H = 100, batch 20, 35 time steps (stateful);
- ``cbow``: ``CBOW`` with negative sampling, V 10000, H 100, window 5, batch 100, 5 negatives,
  a Zipf-like corpus of 100,000 words;
- ``better_rnnlm`` (``--better``): ``BetterRnnlm``, V 10000, D = H = 650, 2 LSTM layers,
  batch 20, 35 steps, dropout 0.5.

PyTorch does the same with ``nn.Embedding``, ``nn.LSTM`` and ``nn.Linear`` + ``cross_entropy``
(state detached between steps), and for CBOW with ``torch.multinomial`` drawing the negatives
(without replacement per row, the target not excluded: what a PyTorch user would write).

Everything runs in this process with BLAS and torch pinned to one thread; the rounds are
interleaved (each round times every implementation once, the order rotating), and the median
per step is reported with the ratios the issue asks for.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from layerwise import blas_threads
from layerwise.sequel.rnnlm import BetterRnnlm, Rnnlm
from layerwise.sequel.word2vec import CBOW

V, BATCH, TIME = 10000, 20, 35


def zipf_corpus(n: int, vocab: int, rng: np.random.Generator) -> np.ndarray:
    """Every word once, then ``n - vocab`` words drawn with probability ~ 1 / rank."""
    p = 1.0 / np.arange(1, vocab + 1)
    return np.concatenate([np.arange(vocab), rng.choice(vocab, n - vocab, p=p / p.sum())])


def lm_step(model, xs, ts, **kwargs):
    def step():
        model.forward(xs, ts, **kwargs)
        model.backward()

    return step


def torch_lm_step(torch, D, H, layers, dropout, xs, ts):
    nn = torch.nn
    embed, affine = nn.Embedding(V, D), nn.Linear(H, V)
    lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0)
    drop = nn.Dropout(dropout)
    modules = nn.ModuleList([embed, lstm, affine])
    x, t = torch.as_tensor(xs, dtype=torch.long), torch.as_tensor(ts.reshape(-1), dtype=torch.long)
    state = [None]

    def step():
        modules.zero_grad(set_to_none=False)
        hs, (h, c) = lstm(drop(embed(x)) if dropout else embed(x), state[0])
        state[0] = (h.detach(), c.detach())
        scores = affine(drop(hs) if dropout else hs)
        torch.nn.functional.cross_entropy(scores.reshape(-1, V), t).backward()

    return step


def check_same_scores(ours, theirs, xs, ts):
    """The sequel's weights, position by position, give our model the sequel's scores and loss.

    Both get the same weights: an N(0, 1) embedding (which BetterRnnlm's output layer shares),
    N(0, 1 / fan_in) matrices and N(0, 0.3) biases (with the initial ones, an embedding of 0.01
    and zero biases, the scores are nearly uniform and any model's loss is close to log V).
    """
    rng = np.random.default_rng(1)
    for i, q in enumerate(theirs.params):  # a tied weight gets the last of its draws
        scale = 0.3 if q.ndim == 1 else 1.0 if i == 0 else 1 / np.sqrt(q.shape[0])
        q[...] = rng.normal(0, scale, q.shape)
    for p, q in zip(ours.params, theirs.params, strict=True):
        p[...] = q
    x32, t32 = xs.astype(np.int32), ts.astype(np.int32)
    mine, book = ours.predict(xs), theirs.predict(x32)
    ours.reset_state()
    theirs.reset_state()
    error = np.max(np.abs(mine - book)) / np.max(np.abs(book))
    kwargs = {"train_flg": False} if hasattr(theirs, "drop_layers") else {}
    loss, book_loss = ours.forward(xs, ts, **kwargs), theirs.forward(x32, t32, **kwargs)
    ours.reset_state()
    theirs.reset_state()
    if error > 1e-4 or not np.isclose(loss, book_loss, rtol=1e-5):
        raise AssertionError(
            f"{type(ours).__name__}: scores differ by {error:.1e} from the sequel's"
        )
    print(
        f"{type(ours).__name__}: with the sequel's weights, its scores within {error:.0e} and its "
        f"loss ({loss:.4f} here, {book_loss:.4f} there)"
    )


def rnnlm_workload(book, torch, better=False):
    rng = np.random.default_rng(0)
    xs, ts = rng.integers(0, V, (BATCH, TIME)), rng.integers(0, V, (BATCH, TIME))
    D = H = 650 if better else 100
    ours = BetterRnnlm(V, D, H, seed=0) if better else Rnnlm(V, D, H, seed=0)
    layers = 2 if better else 1
    products = lstm_products(BATCH, TIME, D, H) * layers + affine_products(BATCH * TIME, H, V)
    steps = {"layerwise": lm_step(ours, xs, ts), "products": products_step(products)}
    if book is not None:
        module = __import__("ch06.better_rnnlm" if better else "ch06.rnnlm", fromlist=["x"])
        theirs = (module.BetterRnnlm if better else module.Rnnlm)(V, D, H)
        check_same_scores(ours, theirs, xs, ts)
        steps["the sequel"] = lm_step(theirs, xs.astype(np.int32), ts.astype(np.int32))
    if torch is not None:
        steps["PyTorch"] = torch_lm_step(
            torch, D, H, 2 if better else 1, 0.5 if better else 0, xs, ts
        )
        steps["PyTorch products"] = products_step(products, torch=torch)
    return steps


def cbow_workload(book, torch):
    rng = np.random.default_rng(0)
    H, window, S = 100, 5, 5
    corpus = zipf_corpus(100_000, V, rng)
    idx = rng.integers(window, len(corpus) - window, 100)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    contexts, target = corpus[idx[:, None] + offsets], corpus[idx]
    ours = CBOW(V, H, window, corpus, seed=0)
    steps = {"layerwise": lm_step(ours, contexts, target)}
    if book is not None:
        from ch04.cbow import CBOW as BookCBOW

        theirs = BookCBOW(V, H, window, corpus)
        steps["the sequel"] = lm_step(theirs, contexts, target)
    if torch is not None:
        steps["PyTorch"] = torch_cbow_step(torch, H, S, corpus, contexts, target)
    return steps


def torch_cbow_step(torch, H, S, corpus, contexts, target):
    F = torch.nn.functional
    W_in = torch.nn.Parameter(0.01 * torch.randn(V, H))
    W_out = torch.nn.Parameter(0.01 * torch.randn(V, H))
    p = torch.as_tensor(np.bincount(corpus, minlength=V) ** 0.75, dtype=torch.float32)
    c, t = torch.as_tensor(contexts), torch.as_tensor(target)
    n = len(target)

    def step():
        W_in.grad = W_out.grad = None
        h = F.embedding(c, W_in).mean(1)
        neg = torch.multinomial(p.expand(n, V), S)  # without replacement, per row
        pos = (F.embedding(t, W_out) * h).sum(1)
        negs = (F.embedding(neg, W_out) * h[:, None]).sum(2)
        loss = -F.logsigmoid(pos).mean() - F.logsigmoid(-negs).mean(0).sum()
        loss.backward()

    return step


def products_step(products, seed=0, torch=None):
    """The bare NumPy products of a training step, float32, into preallocated outputs.

    ``products``: ``(batch, m, k, n, repeats, transposed)`` per product, ``(m, k) @ (k, n)``
    (``batch`` of them at once where it is not None), made ``repeats`` times; ``transposed``:
    the left operand is a transposed view, as in a weight gradient ``X^T dA``. Timed beside
    the implementations, this is what the step's matrix products alone take here: the floor
    under any NumPy implementation that makes the same products.

    With ``torch``, the same products by ``torch.matmul`` on tensors of the same layouts:
    what PyTorch's BLAS takes for them.
    """
    rng = np.random.default_rng(seed)
    runs = []
    for batch, m, k, n, repeats, transposed in products:
        lead = () if batch is None else (batch,)
        a = rng.random((*lead, k, m) if transposed else (*lead, m, k), np.float32)
        b = rng.random((*lead, k, n), np.float32)
        if torch is not None:
            a, b = torch.from_numpy(a), torch.from_numpy(b)
        a = a.swapaxes(-1, -2) if transposed else a
        runs.append((a, b, repeats))
    matmul = np.matmul if torch is None else torch.matmul
    empty = (lambda shape: np.empty(shape, np.float32)) if torch is None else torch.empty
    outs = [empty((*a.shape[:-1], b.shape[-1])) for a, b, _ in runs]

    def step():
        for (a, b, repeats), out in zip(runs, outs, strict=True):
            for _ in range(repeats):
                matmul(a, b, out=out)

    return step


def lstm_products(N, T, D, H):
    """The products of layerwise's TimeLSTM forward and backward (N, T, D) -> (N, T, H):
    the input projection, T times ``h Wh`` and ``da Wh^T``, and ``dWh``, ``dWx``, ``dX``."""
    G, M = 4 * H, T * N
    return [
        (None, M, D, G, 1, False),
        (None, N, H, G, T, False),
        (None, N, G, H, T, False),
        (None, H, M, G, 1, True),
        (None, D, M, G, 1, True),
        (None, M, G, D, 1, False),
    ]


def affine_products(M, D, C):
    """An affine layer's forward and backward products on M rows, D -> C."""
    return [(None, M, D, C, 1, False), (None, D, M, C, 1, True), (None, M, C, D, 1, False)]


def measure(steps, rounds):
    """Median seconds per call of each step over ``rounds`` interleaved rounds (after a warm-up)."""
    names = list(steps)
    for name in names:
        steps[name]()
    samples = {name: [] for name in names}
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                steps[name]()
                samples[name].append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


def print_table(workloads, rounds, only=None):
    """Time each ``{key: (label, make)}`` workload (``make()`` gives its steps, by
    implementation) and print one markdown row per workload, as it is measured."""
    print(f"{rounds} interleaved rounds, one thread, median ms per step")
    print(
        "| step | layerwise | the sequel | PyTorch | products | PyTorch products "
        "| sequel / layerwise | layerwise / PyTorch | sequel / products "
        "| layerwise / PyTorch beyond the products |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with blas_threads(1):
        for key, (label, make) in workloads.items():
            if only and key != only:
                continue
            t = measure(make(), rounds)
            ms = {k: f"{v * 1e3:.1f}" for k, v in t.items()}
            ours = t["layerwise"]
            speedup = f"{t['the sequel'] / ours:.1f}x" if "the sequel" in t else "-"
            vs_torch = f"{ours / t['PyTorch']:.2f}" if "PyTorch" in t else "-"
            ceiling = "-"
            if "the sequel" in t and "products" in t:
                ceiling = f"{t['the sequel'] / t['products']:.1f}x"
            beyond = "-"  # what each spends on everything but the products, compared
            if "PyTorch products" in t:
                beyond = (
                    f"{(ours - t['products']) / (t['PyTorch'] - t['PyTorch products']):.2f}"
                )
            print(
                f"| {label} | {ms['layerwise']} | {ms.get('the sequel', '-')} | "
                f"{ms.get('PyTorch', '-')} | {ms.get('products', '-')} | "
                f"{ms.get('PyTorch products', '-')} | {speedup} | {vs_torch} | {ceiling} | "
                f"{beyond} |",
                flush=True,
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", default=os.environ.get("SEQUEL_BOOK", "/work/books/dlfs2"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--better", action="store_true", help="BetterRnnlm (D = H = 650) too")
    parser.add_argument("--only", choices=["rnnlm", "cbow", "better_rnnlm"])
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds

    book = Path(args.book) if (Path(args.book) / "common" / "time_layers.py").is_file() else None
    if book is not None:
        sys.path.insert(0, str(book))
        np.random.seed(0)  # noqa: NPY002 - the sequel's code draws from the global generator
    try:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
    except ImportError:
        torch = None

    workloads = {
        "rnnlm": ("Rnnlm fwd+bwd, V 10000, D=H=100, b20, T35", lambda: rnnlm_workload(book, torch)),
        "cbow": (
            "CBOW+NS fwd+bwd, V 10000, H 100, win 5, b100, 5 neg",
            lambda: cbow_workload(book, torch),
        ),
    }
    if args.better or args.only == "better_rnnlm":
        workloads["better_rnnlm"] = (
            "BetterRnnlm fwd+bwd, V 10000, D=H=650, b20, T35",
            lambda: rnnlm_workload(book, torch, better=True),
        )
    print_table(workloads, rounds, args.only)


if __name__ == "__main__":
    main()
