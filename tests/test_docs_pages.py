"""README.md is the front page and the pages under docs/ hold the rest (issue 23).

The site's own build (``mkdocs build --strict`` in ``.ci/run``) checks the links between pages;
these tests check what it does not see: README's links into docs/ (GitHub renders them, MkDocs
never reads README), that README stays a front page, and that it keeps its two commands.
"""

import importlib.util
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
    assert griffe_rst().convert(doc).splitlines() == [
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


def docs_module(name, needs):
    """A build script of docs/ (griffe_rst, hooks) as a module; skipped without `needs`."""
    pytest.importorskip(needs)
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def griffe_rst():
    return docs_module("griffe_rst", needs="griffe")


def load_hooks():
    return docs_module("hooks", needs="latex2mathml")


def test_api_pages_hand_the_docstrings_maths_to_arithmatex():
    # Issue 28: api/optimizers showed ".. math::" six times and ":math:" 43 times as text.
    doc = """Adam.

At step :math:`t = 1, 2` and :math:`\\beta_1`:

.. math::
    m &\\leftarrow m + g \\\\
    W &\\leftarrow W - m

.. math:: W \\leftarrow W - \\eta \\, g

Parameters
----------
lr : float
    Rate :math:`\\eta > 0`.
"""
    assert griffe_rst().convert(doc).splitlines() == [
        "Adam.",
        "",
        "At step \\(t = 1, 2\\) and \\(\\beta_1\\):",
        "",
        "$$",
        "\\begin{split}m &\\leftarrow m + g \\\\ W &\\leftarrow W - m\\end{split}",
        "$$",
        "",
        "$$",
        "W \\leftarrow W - \\eta \\, g",
        "$$",
        "",
        "Parameters",
        "----------",
        "lr : float",
        "    Rate \\(\\eta > 0\\).",
    ]


def test_prose_after_a_section_of_items_joins_the_description():
    # Numpydoc cannot end a Parameters section, so griffe showed each line of a paragraph
    # after one as a parameter of its own, its ``code`` in raw backticks (api/layers, Dropout).
    doc = """Dropout.

Forward: ``x * mask``.

Parameters
----------
ratio : float
    Dropped.

Shapes: ``x`` and ``mask`` alike.

Returns
-------
ndarray, same shape as ``x``
    The output.

Caches ``mask`` and
the input's shape.

Examples
--------
>>> 1
1
"""
    assert griffe_rst().convert(doc).splitlines() == [
        "Dropout.",
        "",
        "Forward: ``x * mask``.",
        "",
        "Shapes: ``x`` and ``mask`` alike.",
        "",
        "Caches ``mask`` and",
        "the input's shape.",
        "",
        "Parameters",
        "----------",
        "ratio : float",
        "    Dropped.",
        "",
        "Returns",
        "-------",
        "ndarray, same shape as x",
        "    The output.",
        "",
        "Examples",
        "--------",
        ">>> 1",
        "1",
    ]


def test_every_docstring_reads_as_markdown_on_the_api_pages():
    # The package's docstrings as mkdocstrings gets them: no reStructuredText maths left, no
    # ``code`` marks in a type (shown as code already), no prose read as an item.
    griffe = pytest.importorskip("griffe")
    rst = griffe_rst()
    package = griffe.load(
        "layerwise", search_paths=[ROOT / "src"], extensions=griffe.Extensions(rst.RstToMarkdown())
    )
    found = []

    def visit(obj):
        if obj.is_alias:
            return
        if obj.docstring is not None:
            for section in obj.docstring.parse("numpy", warnings=False):
                items = section.value if isinstance(section.value, list) else [section.value]
                for item in items:
                    texts = [str(getattr(item, a, "") or "") for a in ("description", "value")]
                    text = "\n".join([*texts, item if isinstance(item, str) else ""])
                    if ":math:" in text or ".. math::" in text:
                        found.append(f"{obj.path}: reStructuredText maths")
                    annotation = str(getattr(item, "annotation", "") or "")
                    if "``" in annotation:
                        found.append(f"{obj.path}: ``code`` in the type {annotation!r}")
                    name = str(getattr(item, "name", "") or "x")
                    if not re.fullmatch(r"\**[\w.]+(,\s*\**[\w.]+)*", name):
                        found.append(f"{obj.path}: prose read as the item {item.name!r}")
        for member in obj.members.values():
            visit(member)

    visit(package)
    assert not found, "\n".join(found)


def test_the_hook_turns_the_pages_maths_into_mathml():
    # No script draws the maths and nothing comes from the internet: MathML, made at build.
    hooks = load_hooks()
    page = (
        '<p>Rate <span class="arithmatex">\\(\\eta &gt; 0\\)</span>.</p>\n'
        '<div class="arithmatex">\\[\\begin{split}m &amp;\\leftarrow g \\\\ v &amp;= 2'
        "\\end{split}\\]</div>"
    )
    out = hooks.on_page_content(page)
    assert "arithmatex" not in out and "\\(" not in out and "\\[" not in out
    inline, block = re.findall(r"<math [^>]*display=\"(\w+)\"", out)
    assert (inline, block) == ("inline", "block")
    assert "<mo>&#x0003E;</mo>" in out  # the escaped ">" is a relation again
    assert out.count("<mtr>") == 2  # the split's two lines


SITE = ROOT / "site"
# What a page shows when the reStructuredText, or an include line, reached the reader unconverted.
RAW_FORMS = ("``", ":math:", ".. math::", "arithmatex", ":class:`", ":func:`", "<p>--8&lt;--")


@pytest.mark.skipif(not (SITE / "index.html").exists(), reason="the site is not built")
def test_the_built_site_shows_no_restructuredtext():
    # Run after `mkdocs build` (.ci/run does): the pages as a reader gets them, without the
    # notes for GitHub's readers.
    left = []
    for page in sorted(SITE.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        text = re.sub(r"<(pre|script)\b.*?</\1>", "", text, flags=re.S)
        for raw in (*RAW_FORMS, "github-only", "this page lacks its figures", "On GitHub: this"):
            if raw in text:
                left.append(f"{page.relative_to(SITE)}: {raw} x{text.count(raw)}")
    assert not left, left
    optimizers = (SITE / "api" / "optimizers" / "index.html").read_text(encoding="utf-8")
    assert optimizers.count('<math xmlns="http://www.w3.org/1998/Math/MathML"') >= 49


def test_readme_sends_readers_to_the_built_site():
    # Issue 28: README said "read the pages on GitHub", where the chapter guides' figures
    # (made at build time into the git-ignored docs/figures/) showed as broken images.
    text = README.read_text(encoding="utf-8")
    docs = text.split("**Documentation**", 1)[1].split("\n\n", 1)[0]
    assert "Read it as the built site" in docs
    assert '`pip install -e ".[docs]" && mkdocs serve`' in docs and "http://127.0.0.1:8000" in docs
    assert "Read the pages on GitHub" not in text
    assert "docs/figures/" in (ROOT / ".gitignore").read_text(encoding="utf-8")


BUILT_ONLY = re.compile(r"\]\((?:\.\./)*figures/|^--8<--", re.M)


@pytest.mark.parametrize(
    "page", sorted((ROOT / "docs").rglob("*.md")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_a_page_that_needs_the_build_says_so_on_github(page):
    # A page showing a figure made at build time, or including a file (--8<--), opens with a
    # note for GitHub's readers that the site leaves out (docs/hooks.py).
    text = page.read_text(encoding="utf-8")
    if "figures" in page.parts or not BUILT_ONLY.search(text):
        return
    head = text.split("\n## ", 1)[0]
    assert "<!-- github-only -->\n> " in head, f"{page.name} has no note for GitHub's readers"


def test_the_hook_leaves_the_github_note_out_of_the_site():
    hooks = load_hooks()
    page = "# Title\n\n<!-- github-only -->\n> On GitHub: build it.\n> Really.\n\nText.\n"
    assert hooks.on_page_markdown(page) == "# Title\n\nText.\n"
    chapter = (ROOT / "docs" / "chapters" / "ch5.md").read_text(encoding="utf-8")
    assert "On GitHub" in chapter and "On GitHub" not in hooks.on_page_markdown(chapter)


PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
# "collects 1,493", "1,493 tests", "of the 951 tests": the suite's size, which changes with every
# test added (issue 28: the pages said 1,493 while 1,491 were collected, and one still said 951).
SUITE_SIZE = re.compile(r"collect(?:s|ed)\s+\d|\b\d[\d,]{2,}\s+tests\b|\bof the \d+ tests\b")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_states_the_size_of_the_suite(page):
    text = page.read_text(encoding="utf-8")
    found = [m.group(0) for m in SUITE_SIZE.finditer(text)]
    assert not found, f"{page.name} states a test count {found}: say how to count them instead"


def test_the_size_pattern_finds_what_rotted():
    for stale in ("collects 1,493\ntests", "1,491 tests", "22 of the 951 tests failed"):
        assert SUITE_SIZE.search(stale), stale
    for fine in ("22 tests failed", "14 of the 16 rates", "`--collect-only -q` counts them"):
        assert not SUITE_SIZE.search(fine), fine


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_link_points_at_its_own_page_top(page):
    # many-cores.md linked "[Many cores](#)" to itself.
    text = page.read_text(encoding="utf-8")
    assert "](#)" not in text, f"{page.name} has a link to nowhere: ](#)"
