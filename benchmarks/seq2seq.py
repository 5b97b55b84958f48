"""The sequel's chapters 7-8: layerwise.sequel against the sequel's own code and PyTorch.

Usage::

    python benchmarks/seq2seq.py              # 7 interleaved rounds
    python benchmarks/seq2seq.py --quick      # 3 rounds
    python benchmarks/seq2seq.py --book PATH  # the sequel's clone (default: $SEQUEL_BOOK, then
                                              # /work/books/dlfs2); left out if absent

Workloads (issue 31), float32, the sequel's sizes:

- ``attention``: one forward and backward pass of ``AttentionSeq2seq`` on dates, vocabulary 59,
  D 16, H 256, batch 128, questions of 29 characters, answers of 11;
- ``peeky``: ``PeekySeq2seq`` on additions, vocabulary 13, D 16, H 128, batch 128, 7 and 5;
- ``generate``: greedy answers to 500 test dates (10 characters each) with ``AttentionSeq2seq``:
  layerwise and PyTorch decode the 500 at once (``generate_batch``), the sequel one question
  at a time (its ``generate`` takes one); x10 is the 5,000 of the test split.

PyTorch does the same with ``nn.Embedding``, ``nn.LSTM`` (the decoder started from the
encoder's last ``h`` and a zero ``c``, as the sequel's), ``torch.bmm`` for the attention,
``nn.Linear`` and ``cross_entropy``, from layerwise's weights (checked before timing: the same
loss, the same answers). Everything runs in this process with BLAS and torch pinned
to one thread, rounds interleaved, medians reported (``measure`` of ``benchmarks/sequel.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from sequel import (  # benchmarks/sequel.py, beside this file
    affine_products,
    lstm_products,
    print_table,
    products_step,
)

from layerwise.sequel.attention import AttentionSeq2seq
from layerwise.sequel.seq2seq import PeekySeq2seq

BATCH = 128
SIZES = {"attention": (59, 16, 256, 29, 11), "peeky": (13, 16, 128, 7, 5)}


def _data(key, rng, n=BATCH):
    V, _, _, tq, ta = SIZES[key]
    return rng.integers(0, V, (n, tq)), rng.integers(0, V, (n, ta))


def _copy_weights(book_model, model):
    for theirs, ours in zip(book_model.params, model.params, strict=True):
        theirs[...] = ours


def torch_seq2seq(torch, key, peeky):
    """The sequel's seq2seq in PyTorch: returns (loss of xs, ts; greedy answers)."""
    nn, F = torch.nn, torch.nn.functional
    V, D, H, _, _ = SIZES[key]
    attention = key == "attention"

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_embed, self.dec_embed = nn.Embedding(V, D), nn.Embedding(V, D)
            self.encoder = nn.LSTM(D, H, batch_first=True)
            self.decoder = nn.LSTM(D + H * peeky, H, batch_first=True)
            self.affine = nn.Linear(H * (2 if attention or peeky else 1), V)

        def encode(self, xs):
            hs, (h, _) = self.encoder(self.enc_embed(xs))
            return hs, h

        def decode(self, ys, hs, h, state=None):
            x = self.dec_embed(ys)
            top = h[0][:, None, :].expand(-1, x.shape[1], -1)
            if peeky:
                x = torch.cat([top, x], dim=2)
            out, state = self.decoder(x, state or (h, torch.zeros_like(h)))
            if attention:
                a = torch.softmax(torch.bmm(out, hs.transpose(1, 2)), dim=2)
                out = torch.cat([torch.bmm(a, hs), out], dim=2)
            elif peeky:
                out = torch.cat([top, out], dim=2)
            return self.affine(out), state

        def loss(self, xs, ts):
            hs, h = self.encode(xs)
            score, _ = self.decode(ts[:, :-1], hs, h)
            return F.cross_entropy(score.reshape(-1, V), ts[:, 1:].reshape(-1))

        @torch.no_grad()
        def generate(self, xs, start_id, size):
            hs, h = self.encode(xs)
            y, state, out = torch.full((len(xs), 1), start_id), None, []
            for _ in range(size):
                score, state = self.decode(y, hs, h, state)
                y = score.argmax(dim=2)
                out.append(y)
            return torch.cat(out, dim=1)

    return Model()


def torch_from_layerwise(torch, tm, model):
    """Copy layerwise's weights into the PyTorch model, position by position.

    ``nn.LSTM`` orders the gates i, f, g, o (the sequel f, g, i, o), stores (4H, in) and has two
    biases; ``nn.Linear`` stores (out, in).
    """

    def lstm(module, Wx, Wh, b):
        order = [2, 0, 1, 3]
        blocks = [np.split(a, 4, axis=-1) for a in (Wx, Wh, b)]
        Wx, Wh, b = (np.concatenate([parts[k] for k in order], axis=-1) for parts in blocks)
        module.weight_ih_l0.copy_(torch.tensor(Wx.T))
        module.weight_hh_l0.copy_(torch.tensor(Wh.T))
        module.bias_ih_l0.copy_(torch.tensor(b))
        module.bias_hh_l0.zero_()

    p = model.params
    with torch.no_grad():
        tm.enc_embed.weight.copy_(torch.tensor(p[0]))
        lstm(tm.encoder, *p[1:4])
        tm.dec_embed.weight.copy_(torch.tensor(p[4]))
        lstm(tm.decoder, *p[5:8])
        tm.affine.weight.copy_(torch.tensor(p[8].T))
        tm.affine.bias.copy_(torch.tensor(p[9]))


def same_loss(torch, tm, model, xs, ts):
    """The two models' losses on one batch (they must agree before their times mean anything)."""
    return float(model.forward(xs, ts)), tm.loss(torch.tensor(xs), torch.tensor(ts)).item()


def step_products(key):
    """The products of layerwise's training step (see ``products_step``): the encoder's and
    decoder's LSTMs, the peeky decoder's static input once, the attention's batched products
    (scores, context, and their four gradients), the output layer."""
    V, D, H, tq, ta = SIZES[key]
    N, T = BATCH, ta - 1
    products = lstm_products(N, tq, D, H) + lstm_products(N, T, D, H)
    if key == "attention":
        products += [
            (N, T, H, tq, 1, False),  # S = Hd Hs^T
            (N, T, tq, H, 1, False),  # C = A Hs
            (N, T, H, tq, 1, False),  # dA = dC Hs^T
            (N, tq, T, H, 2, True),  # dHs = A^T dC + dS^T Hd
            (N, T, tq, H, 1, False),  # dHd = dS Hs
        ]
    else:  # h Wx[:H], then its dWx[:H] and gradient
        products += [(None, N, H, 4 * H, 1, False), (None, H, N, 4 * H, 1, True)]
        products += [(None, N, 4 * H, H, 1, False)]
    return products + affine_products(N * T, 2 * H, V)


def training_workload(key, book, torch):
    V, D, H, _, _ = SIZES[key]
    rng = np.random.default_rng(0)
    xs, ts = _data(key, rng)
    cls = AttentionSeq2seq if key == "attention" else PeekySeq2seq
    model = cls(V, D, H, seed=0)

    def step(m, *args):
        def run():
            m.forward(*args)
            m.backward()

        return run

    products = step_products(key)
    steps = {"layerwise": step(model, xs, ts), "products": products_step(products)}
    if book is not None:
        module = "ch08.attention_seq2seq" if key == "attention" else "peeky_seq2seq"
        book_model = getattr(__import__(module, fromlist=["x"]), cls.__name__)(V, D, H)
        _copy_weights(book_model, model)
        steps["the sequel"] = step(book_model, xs, ts)
    if torch is not None:
        tm = torch_seq2seq(torch, key, peeky=key == "peeky")
        torch_from_layerwise(torch, tm, model)
        ours, theirs = same_loss(torch, tm, model, xs, ts)
        assert abs(ours - theirs) <= 1e-4 * abs(theirs), (ours, theirs)
        txs, tts = torch.tensor(xs), torch.tensor(ts)

        def torch_step():
            tm.zero_grad()
            tm.loss(txs, tts).backward()

        steps["PyTorch"] = torch_step
        steps["PyTorch products"] = products_step(products, torch=torch)
    return steps


def generation_workload(book, torch, n=500):
    V, D, H, _, ta = SIZES["attention"]
    rng = np.random.default_rng(1)
    xs, _ = _data("attention", rng, n)
    model = AttentionSeq2seq(V, D, H, seed=0)
    steps = {"layerwise": lambda: model.generate_batch(xs, 0, ta - 1)}
    if book is not None:
        book_model = __import__("ch08.attention_seq2seq", fromlist=["x"]).AttentionSeq2seq(V, D, H)
        _copy_weights(book_model, model)
        steps["the sequel"] = lambda: [book_model.generate(xs[[i]], 0, ta - 1) for i in range(n)]
    if torch is not None:
        tm = torch_seq2seq(torch, "attention", peeky=False)
        torch_from_layerwise(torch, tm, model)
        txs = torch.tensor(xs)
        assert (tm.generate(txs, 0, ta - 1).numpy() == model.generate_batch(xs, 0, ta - 1)).all()
        steps["PyTorch"] = lambda: tm.generate(txs, 0, ta - 1)
    return steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", default=os.environ.get("SEQUEL_BOOK", "/work/books/dlfs2"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--only", choices=["attention", "peeky", "generate"])
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds

    book: Path | None = Path(args.book)
    if not (book / "ch08" / "attention_seq2seq.py").is_file():
        book = None
    if book is not None:
        sys.path[:0] = [str(book), str(book / "ch07")]  # peeky_seq2seq imports its sibling
        np.random.seed(0)  # noqa: NPY002 - the sequel's code draws from the global generator
    try:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
    except ImportError:
        torch = None

    workloads = {
        "attention": (
            "AttentionSeq2seq fwd+bwd, dates, V 59, D 16, H 256, b128",
            lambda: training_workload("attention", book, torch),
        ),
        "peeky": (
            "PeekySeq2seq fwd+bwd, additions, V 13, D 16, H 128, b128",
            lambda: training_workload("peeky", book, torch),
        ),
        "generate": (
            "AttentionSeq2seq greedy answers to 500 dates",
            lambda: generation_workload(book, torch),
        ),
    }
    print_table(workloads, rounds, args.only)


if __name__ == "__main__":
    main()
