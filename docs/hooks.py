"""MkDocs hook: make the chapter guides' figures (``docs/figures.py``) before the pages are read.

The figures go to ``docs/figures/`` (git ignores it). They are made again when that folder lacks
``numbers.json`` or is older than ``figures.py`` or ``figures_sequel.py``, so ``mkdocs serve``
does not retrain on every reload (writing into the docs folder would trigger another reload);
``LAYERWISE_DOCS_FIGURES=1`` forces a remake.

A paragraph under ``<!-- github-only -->`` is for readers of the Markdown on GitHub (which shows
neither the figures made at build time nor the ``--8<--`` includes) and is left out of the site.

The pages' maths (``$...$``, ``$$...$$`` and the docstrings' ``:math:`` roles, which
``docs/griffe_rst.py`` hands to ``pymdownx.arithmatex``) becomes MathML when the site is built, so
the browser draws it with no script and nothing fetched from the internet.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import time
from pathlib import Path

from latex2mathml.converter import convert as latex_to_mathml

HERE = Path(__file__).parent
OUT = HERE / "figures"
# What pymdownx.arithmatex (generic: true) writes: the TeX, HTML-escaped, in \( \) or \[ \].
ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">\s*\\([(\[])(.*?)\\[)\]]\s*</\1>', re.S)


# The marker and the paragraph under it, up to the first blank line.
GITHUB_ONLY = re.compile(r"^<!-- github-only -->\n(?:.+\n)*\n*", re.M)


def on_page_markdown(markdown, **kwargs):
    return GITHUB_ONLY.sub("", markdown)


def mathml(match):
    display = "block" if match.group(2) == "[" else "inline"
    return latex_to_mathml(html.unescape(match.group(3)).strip(), display=display)


def on_page_content(content, **kwargs):
    return ARITHMATEX.sub(mathml, content)


def on_pre_build(config):
    stamp = OUT / "numbers.json"
    script = HERE / "figures.py"
    scripts = [script, HERE / "figures_sequel.py"]
    fresh = stamp.exists() and all(stamp.stat().st_mtime >= s.stat().st_mtime for s in scripts)
    if fresh and os.environ.get("LAYERWISE_DOCS_FIGURES") != "1":
        return
    spec = importlib.util.spec_from_file_location("layerwise_docs_figures", script)
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    start = time.perf_counter()
    print("making the figures from real runs (docs/figures.py):", flush=True)
    figures.make_all(OUT)
    print(f"figures made in {time.perf_counter() - start:.0f} s", flush=True)
