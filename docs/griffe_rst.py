"""A griffe extension for the API pages: the package's docstrings use a few reStructuredText
forms (they also serve ``help()`` and Sphinx-minded readers) that Markdown would mangle.

- ``:class:`~layerwise.layers.Affine``` and the other roles become inline code (``Affine``);
- a doctest (``>>>`` lines and their output) outside an ``Examples`` section becomes a fenced
  ``pycon`` block: Markdown would read ``>>>`` as a quotation and ``[(...)]`` as a link;
- a simple table (its rules of ``=``) becomes a Markdown table: the columns are where the rule
  has its runs of ``=``, a line whose first column is blank continues the row above, and
  ````literal```` becomes ```literal```.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`]+)`")


def _short(match):
    target = match.group(1)
    # `~a.b.C` shows C, as Sphinx does; a plain target shows as written.
    return f"`{target.rsplit('.', 1)[-1]}`" if match.group(0).count("~") else f"`{target}`"


def _is_rule(line):
    return bool(line.strip()) and set(line.strip()) <= {"=", " "}


def markdown_table(rows):
    """A reStructuredText simple table (its lines, the three rules included) as Markdown lines.

    The columns are where the first rule has its runs of ``=``; the last column runs to the end
    of the line. A line whose first column is blank continues the row above.
    """
    spans = [m.span() for m in re.finditer(r"=+", rows[0])]
    spans[-1] = (spans[-1][0], None)
    indent = rows[0][: len(rows[0]) - len(rows[0].lstrip())]
    header, body, rules = [], [], 0
    for line in rows:
        if _is_rule(line):
            rules += 1
            continue
        if not line.strip():
            continue
        cells = [line[a:b].strip() for a, b in spans]
        target = header if rules == 1 else body
        if target and not cells[0]:
            joined = zip(target[-1], cells, strict=True)
            target[-1] = [f"{old} {new}".strip() for old, new in joined]
        else:
            target.append(cells)

    def md(cells):
        text = " | ".join(re.sub(r"``(.+?)``", r"`\1`", c).replace("|", "\\|") for c in cells)
        return f"{indent}| {text} |"

    head = header[0] if header else [""] * len(spans)
    return ["", md(head), indent + "|" + "---|" * len(spans), *map(md, body), ""]


def convert(text):
    out, in_examples, in_doctest, table = [], False, False, []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if table or _is_rule(line):
            # A simple table has three rules: above the header, below it, and at the end.
            table.append(line)
            if sum(map(_is_rule, table)) == 3:
                out.extend(markdown_table(table))
                table = []
            continue
        if line.strip() == "Examples" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            in_examples = True
        elif i + 1 < len(lines) and lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"}:
            in_examples = False
        if not in_examples and line.lstrip().startswith(">>>") and not in_doctest:
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return ROLE.sub(_short, "\n".join(out))


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
