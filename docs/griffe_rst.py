"""A griffe extension for the API pages: the package's docstrings use a few reStructuredText
forms (they also serve ``help()`` and Sphinx-minded readers) that Markdown would mangle.

- ``:class:`~layerwise.layers.Affine``` and the other roles become inline code (``Affine``);
- a doctest (``>>>`` lines and their output) outside an ``Examples`` section becomes a fenced
  ``pycon`` block: Markdown would read ``>>>`` as a quotation and ``[(...)]`` as a link;
- a simple table (its rules of ``=``) becomes a Markdown table: the columns are where the rule
  has its runs of ``=``, a line whose first column is blank continues the row above, and
  ````literal```` becomes ```literal```;
- ``:math:`x``` and ``.. math::`` become ``\\(x\\)`` and a ``$$`` block, which
  ``pymdownx.arithmatex`` keeps away from Markdown and ``docs/hooks.py`` turns into MathML;
- a paragraph of prose after a section of items (``Parameters``, ``Attributes``, ...) moves to
  the end of the description: numpydoc has no way to end such a section, so griffe would read
  each of its lines as one more parameter;
- ````x```` in an item's type (``ndarray, same shape as ``x````) loses its backticks: the type
  is shown as code already.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")
MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")
# The numpydoc sections made of items (``name : type`` and an indented description).
ITEM_SECTIONS = {
    "Parameters", "Other Parameters", "Returns", "Yields", "Receives", "Raises", "Warns",
    "Attributes", "Methods",
}  # fmt: skip
ITEM = re.compile(r"\**[\w.]+(\s*,\s*\**[\w.]+)*(\s+:.*)?")


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


def _is_header(lines, i):
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return bool(lines[i].strip()) and not lines[i][0].isspace() and set(nxt) == {"-"}


def _indented(line):
    return line[:1].isspace()


def _without_code_marks(header):
    return re.sub(r"``(.+?)``", r"\1", header)


def items_and_prose(lines):
    """The docstring's lines with every prose paragraph found inside an item section moved to
    the end of the description, and ````code```` marks dropped from the items' headers.

    A line at the section's indentation is an item's header when it is the section's first,
    reads ``name : type`` (or a bare name), or has an indented description after it; otherwise
    it starts prose.
    """
    out, moved, section, first_item, i = [], [], None, False, 0
    while i < len(lines):
        line = lines[i]
        if _is_header(lines, i):
            section, first_item = line.strip(), True
            out.extend(lines[i : i + 2])
            i += 2
            continue
        if section not in ITEM_SECTIONS or not line.strip() or _indented(line):
            out.append(line)
            i += 1
            continue
        follows = next((nxt for nxt in lines[i + 1 :] if nxt.strip()), "")
        if first_item or ITEM.fullmatch(line.strip()) or " : " in line or _indented(follows):
            first_item = False
            out.append(_without_code_marks(line))
            i += 1
            continue
        # Prose: the paragraph runs to the next blank line (the blank lines after it go too).
        end = i
        while end < len(lines) and lines[end].strip():
            end += 1
        moved.append(lines[i:end])
        i = end
        while i < len(lines) and not lines[i].strip():
            i += 1
    if not moved:
        return out
    first = next((k for k in range(len(out)) if _is_header(out, k)), len(out))
    description = out[:first]
    while description and not description[-1].strip():
        description.pop()
    for paragraph in moved:
        description += ["", *paragraph]
    return [*description, "", *out[first:]]


def math_blocks(lines):
    """``.. math::`` directives as ``$$`` blocks; an equation of several lines (``\\\\``)
    goes in a ``split`` environment, as Sphinx does."""
    out, i = [], 0
    while i < len(lines):
        match = MATH_DIRECTIVE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent, body = match.groups()
        body_lines = [body] if body else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            body_lines.append(lines[i].strip())
            i += 1
        while body_lines and not body_lines[-1]:
            body_lines.pop()
        equation = " ".join(b for b in body_lines if b)
        if "\\\\" in equation:
            equation = "\\begin{split}" + equation + "\\end{split}"
        if out and out[-1].strip():
            out.append("")
        out += [indent + "$$", indent + equation, indent + "$$", ""]
    return out


def convert(text):
    out, in_examples, in_doctest, table = [], False, False, []
    lines = math_blocks(items_and_prose(text.splitlines()))
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
    text = MATH_ROLE.sub(lambda m: f"\\({m.group(1)}\\)", "\n".join(out))
    return ROLE.sub(_short, text)


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
