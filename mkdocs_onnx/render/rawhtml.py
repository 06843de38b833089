"""A Python-Markdown extension that passes the cards' HTML blocks through unparsed.

The card templates write their large tables as raw HTML (each figure carries its exact
value in a ``title``; see :mod:`mkdocs_onnx.units`), with every value escaped
when the template is rendered (:mod:`mkdocs_onnx.render.templating`). Python-Markdown
already leaves an HTML block alone when it starts at the left margin, but not inside a
tab (``=== "…"``) or an admonition, whose body is indented: there the block would become
a paragraph, wrapped in ``<p>`` and scanned by every inline pattern, cell by cell (most of
the time of converting a card).

A block opens with a line whose first tag carries the :data:`MARKER` attribute, at any
indentation, and ends at the next blank line; it must end with the opening tag's
closing tag. Such a block is put in Python-Markdown's HTML stash as it is (minus the
marker and the indentation), exactly what Python-Markdown does with an HTML block at the
margin. Nothing else is touched, so other pages (and HTML that a page's author indented
on purpose) render as before.

The plugin adds the extension itself; elsewhere, enable it as
``mkdocs_onnx.render.rawhtml``. Without it the cards still render, the indented blocks
as HTML inside a paragraph.
"""

from __future__ import annotations

import re

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

__all__ = ["MARKER", "RawHtmlExtension", "makeExtension"]

MARKER = "data-md-raw"
_OPEN = re.compile(r"^( *)<([a-z][a-z0-9]*) " + MARKER + r"(?=[ >])")


class RawHtmlPreprocessor(Preprocessor):
    """Stash every marked HTML block (see the module docstring)."""

    def run(self, lines: list[str]) -> list[str]:
        if not any(MARKER in line for line in lines):
            return lines
        out: list[str] = []
        i, n = 0, len(lines)
        while i < n:
            m = _OPEN.match(lines[i])
            if m is None:
                out.append(lines[i])
                i += 1
                continue
            indent, tag = m.group(1), m.group(2)
            end = i + 1
            while end < n and lines[end].strip():
                end += 1
            block = lines[i:end]
            if block[-1].strip() != f"</{tag}>" or not all(line.startswith(indent) for line in block):
                out.append(lines[i])  # not one of ours after all: leave it to Markdown
                i += 1
                continue
            html = "\n".join(line[len(indent):] for line in block).replace(" " + MARKER, "", 1)
            if out and out[-1].strip():
                out.append("")  # the placeholder must be a paragraph of its own
            out.append(indent + self.md.htmlStash.store(html))
            i = end
        return out


class RawHtmlExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        # after normalize_whitespace (30), which would remove the placeholder's STX/ETX,
        # and before html_block (20), which handles HTML at the margin
        md.preprocessors.register(RawHtmlPreprocessor(md), "mkdocs_onnx_raw_html", 25)


def makeExtension(**kwargs) -> RawHtmlExtension:
    return RawHtmlExtension(**kwargs)
