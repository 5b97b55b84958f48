"""MkDocs hook: make the chapter guides' figures (``docs/figures.py``) before the pages are read.

The figures go to ``docs/figures/`` (git ignores it). They are made again when that folder lacks
``numbers.json`` or is older than ``figures.py``, so ``mkdocs serve`` does not retrain on every
reload (writing into the docs folder would trigger another reload); ``LAYERWISE_DOCS_FIGURES=1``
forces a remake.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "figures"


def on_pre_build(config):
    stamp = OUT / "numbers.json"
    script = HERE / "figures.py"
    fresh = stamp.exists() and stamp.stat().st_mtime >= script.stat().st_mtime
    if fresh and os.environ.get("LAYERWISE_DOCS_FIGURES") != "1":
        return
    spec = importlib.util.spec_from_file_location("layerwise_docs_figures", script)
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    start = time.perf_counter()
    print("making the figures from real runs (docs/figures.py):", flush=True)
    figures.make_all(OUT)
    print(f"figures made in {time.perf_counter() - start:.0f} s", flush=True)
