"""A griffe extension for the API pages: the package's docstrings use a few reStructuredText
forms (they also serve ``help()`` and Sphinx-minded readers) that Markdown would mangle.

- ``:class:`~layerwise.layers.Affine``` and the other roles become inline code (``Affine``);
- a doctest (``>>>`` lines and their output) outside an ``Examples`` section becomes a fenced
  ``pycon`` block: Markdown would read ``>>>`` as a quotation and ``[(...)]`` as a link;
- a simple table (its rules of ``=``) is shown as the preformatted text it is.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`]+)`")


def _short(match):
    target = match.group(1)
    # `~a.b.C` shows C, as Sphinx does; a plain target shows as written.
    return f"`{target.rsplit('.', 1)[-1]}`" if match.group(0).count("~") else f"`{target}`"


def convert(text):
    text = ROLE.sub(_short, text)
    out, in_examples, in_doctest, rules = [], False, False, 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) <= {"=", " "}:
            # A simple table has three rules: above the header, below it, and at the end.
            rules += 1
            if rules == 1:
                out.append("```text")
            out.append(line)
            if rules == 3:
                out.append("```")
                rules = 0
            continue
        if rules:
            out.append(line)
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
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
