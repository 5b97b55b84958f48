"""benchmarks/seq2seq.py: its PyTorch models are layerwise's, weight for weight, and it runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from layerwise.sequel.attention import AttentionSeq2seq
from layerwise.sequel.seq2seq import PeekySeq2seq

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # it imports its sibling sequel.py
    spec = importlib.util.spec_from_file_location(
        "seq2seq_benchmark", ROOT / "benchmarks" / "seq2seq.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def flops(products):
    return sum(2 * (b or 1) * m * k * n * r for b, m, k, n, r, _ in products)


def test_the_products_floor_makes_an_lstms_products(monkeypatch):
    bench = load_benchmark(monkeypatch)
    N, T, D, H = 3, 5, 2, 4
    # forward x Wx + h Wh; backward dWx, dWh (as large) and dx, dh (as large): 3 times
    assert flops(bench.lstm_products(N, T, D, H)) == 3 * 2 * T * N * (D + H) * 4 * H
    assert flops(bench.affine_products(7, 3, 5)) == 3 * 2 * 7 * 3 * 5
    for key in ("attention", "peeky"):
        monkeypatch.setitem(bench.SIZES, key, (11, D, H, T, 4))
        products = bench.step_products(key)
        assert all(min(p[1:5]) > 0 for p in products)
        bench.products_step(products)()  # the shapes fit together


@pytest.mark.parametrize("key", ["attention", "peeky"])
def test_the_pytorch_yardstick_is_the_same_model(key, monkeypatch):
    torch = pytest.importorskip("torch")
    bench = load_benchmark(monkeypatch)

    V, D, H, tq, ta = 11, 4, 6, 7, 5
    monkeypatch.setitem(bench.SIZES, key, (V, D, H, tq, ta))
    cls = AttentionSeq2seq if key == "attention" else PeekySeq2seq
    model = cls(V, D, H, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    for p in model.params:
        p[...] = rng.normal(0, 0.5, p.shape)
    tm = bench.torch_seq2seq(torch, key, peeky=key == "peeky").double()
    bench.torch_from_layerwise(torch, tm, model)
    xs, ts = rng.integers(0, V, (4, tq)), rng.integers(0, V, (4, ta))
    ours, theirs = bench.same_loss(torch, tm, model, xs, ts)
    assert abs(ours - theirs) <= 1e-12
    answers = tm.generate(torch.tensor(xs), 1, 6).numpy()
    np.testing.assert_array_equal(answers, model.generate_batch(xs, 1, 6))


def test_the_benchmark_prints_its_row(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "seq2seq.py"),
            "--rounds",
            "1",
            "--only",
            "peeky",
            "--book",
            str(tmp_path / "no-clone"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| PeekySeq2seq")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert float(cells[1]) > 0 and cells[2] == "-" and float(cells[4]) > 0  # products row
    if importlib.util.find_spec("torch") is not None:  # the same products by PyTorch's BLAS
        assert float(cells[5]) > 0 and float(cells[9]) > 0
    else:
        assert cells[3] == cells[5] == cells[9] == "-"
