"""README.md is the front page and the pages under docs/ hold the rest (issue 23).

The site's own build (``mkdocs build --strict`` in ``.ci/run``) checks the links between pages;
these tests check what it does not see: README's links into docs/ (GitHub renders them, MkDocs
never reads README), that README stays a front page, and that it keeps its two commands.
"""

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading):
    """The anchor MkDocs' table of contents gives a heading (Python-Markdown's ``toc.slugify``:
    ASCII only, punctuation dropped, runs of spaces and hyphens one hyphen)."""
    text = re.sub(r"[`*]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # a "# comment" in a block is no heading
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*$", text, re.M)}


def readme_links():
    text = README.read_text(encoding="utf-8")
    return [m.group(1) for m in LINK.finditer(text) if not re.match(r"[a-z]+:", m.group(1))]


def test_the_slug_is_mkdocs_one():
    assert slug("The book's weights: `save_params` / `load_params`") == (
        "the-books-weights-save_params-load_params"
    )
    assert slug("Options of `train`") == "options-of-train"
    assert slug("Chapter 5: Backpropagation") == "chapter-5-backpropagation"


def test_readme_is_a_front_page():
    # Issue 23, item 6: about 200 lines at most, the rest on the site; it was 970.
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, len(lines)
    headings = [line for line in lines if line.startswith("## ")]
    assert len(headings) <= 10, headings


def test_readme_keeps_the_two_commands():
    # A fresh machine needs one command that sets up and runs the main job, one that sets up
    # and runs the tests; the second is .ci/run, which must exist and install the test extra.
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    main = "python3 -m venv .venv && . .venv/bin/activate && "
    main += 'pip install -e ".[all]" && layerwise train'
    assert main + "\n" in blocks
    assert "bash .ci/run\n" in blocks
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert '-e ".[test]"' in ci and "\npython -m pytest\n" in ci
    assert "all = [" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("link", readme_links())
def test_readme_links_into_the_site_resolve(link):
    path, _, anchor = link.partition("#")
    target = ROOT / path
    assert target.exists(), f"README links to {path}, which does not exist"
    if anchor:
        assert target.suffix == ".md", link
        assert anchor in anchors(target), f"{path} has no heading whose anchor is #{anchor}"


def test_readme_links_to_every_page_of_the_site():
    # The front page is the way in: each page of the site's navigation outside the API
    # reference is linked from README (the API pages from docs/api/index.md).
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    pages = set(re.findall(r"([\w/-]+\.md)\s*$", nav, re.M))
    linked = {link.partition("#")[0].removeprefix("docs/") for link in readme_links()}
    missing = sorted(p for p in pages if not p.startswith("api/") and p not in linked)
    missing = [p for p in missing if p not in {"index.md", "benchmarks.md"}]
    assert not missing, f"README does not link to {missing}"


def test_api_pages_show_a_docstrings_simple_table_as_a_table():
    # The API pages showed reStructuredText tables (layers, interop, datasets) as preformatted
    # text with ``double backticks``; the griffe extension makes them Markdown tables.
    pytest.importorskip("griffe")
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_rst", ROOT / "docs" / "griffe_rst.py")
    griffe_rst = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(griffe_rst)
    doc = """Bridges.

==========================  ========================
function                    what it does
==========================  ========================
:func:`to_torch`            a ``torch.nn.Sequential``
                            with the outputs
``Dropout(p)`` (book's)     ``x | y`` longer than its rule
==========================  ========================

After.
"""
    assert griffe_rst.convert(doc).splitlines() == [
        "Bridges.",
        "",
        "",
        "| function | what it does |",
        "|---|---|",
        "| `to_torch` | a `torch.nn.Sequential` with the outputs |",
        "| `Dropout(p)` (book's) | `x \\| y` longer than its rule |",
        "",
        "",
        "After.",
    ]
