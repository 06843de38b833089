"""The cards' raw HTML blocks (mkdocs_onnx.render.rawhtml) and their numbered notes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import markdown
import pytest

from mkdocs_onnx.render.card import Notes, render_card
from mkdocs_onnx.render.charts import card_charts
from mkdocs_onnx.render.rawhtml import MARKER, RawHtmlExtension

try:
    from test_render_factory import bert_ctx, error_ctx, evil_ctx, mnist_ctx
    from test_render_helpers import (
        EXTENSION_CONFIGS,
        EXTENSIONS,
        live_markup_problems,
        to_html,
    )
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, error_ctx, evil_ctx, mnist_ctx
    from tests.test_render_helpers import (
        EXTENSION_CONFIGS,
        EXTENSIONS,
        live_markup_problems,
        to_html,
    )

WITHOUT = [e for e in EXTENSIONS if e != "mkdocs_onnx.render.rawhtml"]


def plain_html(text: str) -> str:
    """Markdown -> HTML with the site's extensions but not ours."""
    return markdown.markdown(text, extensions=WITHOUT, extension_configs=EXTENSION_CONFIGS)


class Tokens(HTMLParser):
    """Tags (with sorted attributes) and whitespace-normalised text, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tokens.append(f"<{tag} {sorted(attrs)}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self.tokens.append(f"</{tag}>")

    def handle_data(self, data):
        if data.split():
            self.tokens.append(" ".join(data.split()))


def tokens(html: str) -> list[str]:
    parser = Tokens()
    parser.feed(html)
    parser.close()
    return parser.tokens


TABLE = f"""<table {MARKER}>
<thead>
<tr><th>a</th><th style="text-align: right;">b</th></tr>
</thead>
<tbody>
<tr><td>*not emphasis* [not](a-link)</td><td style="text-align: right;"><span title="1 exactly">1</span></td></tr>
</tbody>
</table>"""


def indented(text: str, width: int) -> str:
    return "\n".join(" " * width + line for line in text.split("\n"))


@pytest.mark.parametrize("where", ["top", "tab", "admonition", "details in a tab"])
def test_a_marked_block_is_passed_through_anywhere(where):
    source = {
        "top": f"Before.\n\n{TABLE}\n\nAfter.\n",
        "tab": f'=== "A"\n\n    Text.\n\n{indented(TABLE, 4)}\n\n    ### Heading\n\n=== "B"\n\n    B.\n',
        "admonition": f'!!! note "N"\n\n    Text.\n\n{indented(TABLE, 4)}\n',
        "details in a tab": f'=== "A"\n\n    ??? info "I"\n\n{indented(TABLE, 8)}\n',
    }[where]
    html = to_html(source)
    assert MARKER not in html
    assert "<table>" in html and "<p><table" not in html and "</table></p>" not in html
    assert "*not emphasis* [not](a-link)" in html  # no Markdown inside
    assert '<td style="text-align: right;"><span title="1 exactly">1</span></td>' in html
    if where == "tab":
        assert '<h3 id="heading">Heading</h3>' in html  # Markdown around it still works
        assert html.count('class="tabbed-block"') == 2


def test_a_block_at_the_margin_renders_the_same_without_the_extension():
    source = f"Before.\n\n{TABLE}\n\nAfter.\n"
    assert tokens(to_html(source)) == tokens(plain_html(source.replace(f" {MARKER}", "")))
    assert "<table data-md-raw>" in plain_html(source)  # without the extension the marker stays, harmless


def test_unmarked_or_unfinished_html_is_left_to_markdown():
    code = "Example:\n\n    <table>\n    <tr><td>x</td></tr>\n    </table>\n"  # an indented code block
    assert to_html(code) == plain_html(code)
    assert "<pre><code>&lt;table&gt;" in to_html(code)
    unfinished = f"<table {MARKER}>\n<tr><td>*x*</td></tr>\n\nafter\n"  # no closing tag before the blank line
    assert to_html(unfinished) == plain_html(unfinished)
    other_attr = "<table data-md-raw-not>\n<tr><td>x</td></tr>\n</table>\n"
    assert to_html(other_attr) == plain_html(other_attr)


def test_a_page_without_marked_blocks_is_untouched():
    from mkdocs_onnx.render.rawhtml import RawHtmlPreprocessor

    md = markdown.Markdown(extensions=[RawHtmlExtension()])
    lines = ["# Title", "", "    <table>", "    </table>", "", f"text mentioning {MARKER}"]
    assert RawHtmlPreprocessor(md).run(list(lines)) == lines


@pytest.mark.parametrize("factory", [mnist_ctx, bert_ctx, evil_ctx, error_ctx])
def test_every_raw_block_of_a_card_is_passed_through(factory):
    ctx = factory()
    md = render_card(ctx, card_charts(ctx.report) if ctx.report else [])
    opened = re.findall(rf"^ *<(\w+) {MARKER}", md, re.MULTILINE)
    html = to_html(md)
    assert MARKER not in html
    assert not re.search(r"<p>\s*<(table|ul|div|details)", html)
    for tag in set(opened):
        assert html.count(f"<{tag}") >= opened.count(tag)
    assert live_markup_problems(html, {c.filename for c in (card_charts(ctx.report) if ctx.report else [])}) == []
    if ctx.report is not None:
        assert len(opened) >= 8  # metadata, inputs, outputs, operators, metrics, FLOPs, dims or risks, notes


def test_raw_blocks_have_no_blank_lines():
    md = render_card(mnist_ctx(), card_charts(mnist_ctx().report))
    lines = md.split("\n")
    for i, line in enumerate(lines):
        m = re.match(rf"^( *)<(\w+) {MARKER}", line)
        if m:
            end = next(j for j in range(i, len(lines)) if lines[j] == f"{m.group(1)}</{m.group(2)}>")
            assert all(lines[k].strip() for k in range(i, end + 1)), f"blank line in the block at line {i}"


def test_notes_are_the_html_of_python_markdowns_footnotes():
    """Notes.ref / Notes.backlinks write what the footnotes extension writes for the same
    references, repeated ones included, so the notes look and link the same."""
    keys = ["one", "two", "three"]
    marks = ["two", "one", "two", "three", "two"]
    text = "".join(f"x[^{k}] " for k in marks) + "\n\n" + "\n".join(f"[^{k}]: Note {k}." for k in keys) + "\n"
    expected = markdown.markdown(text, extensions=["footnotes"])

    notes = Notes(keys)
    body = "<p>" + "".join(f"x{notes.ref(k)} " for k in marks).rstrip() + "</p>"
    items = "".join(f'<li id="fn:{k}">\n<p>Note {k}.{notes.backlinks(k)}</p>\n</li>\n' for k in keys)
    ours = f'{body}\n<div class="footnote">\n<hr />\n<ol>\n{items}</ol>\n</div>'
    assert tokens(ours) == tokens(expected)


def test_card_notes_link_both_ways():
    md = render_card(mnist_ctx(), [])
    html = to_html(md)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for target in re.findall(r'href="#(fn(?:ref\d*)?:[a-z]+)"', html):
        assert target in ids, target
    # two device tabs: the device notes are referred to twice, and link back twice
    assert html.count('href="#fnref2:memreq"') == 1 and 'id="fnref2:memreq"' in html
    assert [int(n) for n in re.findall(r'class="footnote-ref" href="#fn:\w+">(\d+)<', html)][:2] == [1, 2]
