"""benchmarks/sequel.py runs end to end (one round, CBOW only, without the sequel's clone):
the table it prints has the row, no timing asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sequel_benchmark_prints_its_table(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "sequel.py"),
            "--rounds",
            "1",
            "--only",
            "cbow",
            "--book",
            str(tmp_path / "no-clone"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| CBOW")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    # no clone: no sequel column, nor its ratios; CBOW has no products rows
    assert float(cells[1]) > 0
    assert cells[2] == cells[4] == cells[5] == cells[6] == cells[8] == cells[9] == "-"
