"""Escaping of untrusted text and URLs (mkdocs_onnx.render.escape), end to end."""

from __future__ import annotations

import html as htmlmod

import pytest

from mkdocs_onnx.render.card import render_card
from mkdocs_onnx.render.charts import card_charts
from mkdocs_onnx.render.escape import href, link, md_block, md_code, md_heading, md_text, safe_url
from mkdocs_onnx.render.index import render_index

try:
    from test_render_factory import error_ctx, evil_ctx, mnist_ctx
    from test_render_helpers import live_markup_problems, scan, to_html
except ImportError:  # tests/ is a package
    from tests.test_render_factory import error_ctx, evil_ctx, mnist_ctx
    from tests.test_render_helpers import live_markup_problems, scan, to_html

HOSTILE = [
    "<script>alert(1)</script>",
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "[a]: javascript:alert(1)\n\n[a]",
    "<http://evil.example>",
    "`code` *em* _em_ **strong** ~~del~~ ==mark== ^^ins^^",
    "# heading\n- list\n1. ordered\n> quote",
    "--8<-- '/etc/passwd'",
    "{: onclick=alert(1) }",
    "text\n{ .class onclick=alert(1) }",
    "*[HTML]: Hyper Text",
    "[^1]\n\n[^1]: note",
    '" onmouseover="alert(1)',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("where", ["paragraph", "table", "list", "heading", "admonition"])
def test_md_text_leaves_no_live_markup(text, where):
    esc = str(md_heading(text) if where == "heading" else md_text(text))
    source = {
        "paragraph": f"Before {esc} after.\n",
        "table": f"| a | b |\n|---|---|\n| {esc} | x |\n",
        "list": f"- {esc}\n- two\n",
        "heading": f"# {esc}\n",
        "admonition": f'!!! note "{esc}"\n\n    {esc}\n',
    }[where]
    html = to_html(source)
    assert live_markup_problems(html) == []
    tags = {t for t, _ in scan(html)}
    assert not tags & {"a", "img", "em", "strong", "code", "del", "mark", "ins", "abbr", "sup", "blockquote", "ol", "h2"}
    if where == "table":
        assert html.count("<td>") == 2  # a | inside the text did not add a cell


def test_md_text_collapses_newlines_and_is_idempotent():
    once = md_text("a\nb\r\n\tc | d")
    assert "\n" not in once
    assert md_text(once) == once
    assert "&#124;" in once


def test_md_text_keeps_plain_text_readable():
    assert md_text("resnet-50 v1.5, 25.6 M params") == "resnet-50 v1.5, 25.6 M params"
    assert md_text(None) == ""


def test_md_block_keeps_paragraphs():
    html = to_html(str(md_block("First *one*.\n\n# Second\n\n- third")))
    assert html.count("<p>") == 3
    assert live_markup_problems(html) == []
    assert "<h1" not in html and "<li>" not in html and "<em>" not in html


def test_md_heading_has_no_angle_brackets_even_after_unescaping():
    import html as htmlmod

    esc = str(md_heading("</title><script>alert(1)</script>"))
    assert "<" not in htmlmod.unescape(esc)


def test_md_code():
    assert str(md_code("a`b<c>")) == "<code>a&#96;b&lt;c&gt;</code>"


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a?b=1&c=2", "http://x.y/z", "mnist.onnx", "../other/", "#section", "?q=1", "//cdn.example/x"],
)
def test_safe_url_accepts_http_and_relative(url):
    assert safe_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "javascript&#58;alert(1)",
        "javascript&colon;alert(1)",
        "%6Aavascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "mailto:a@b.c",
        "\x00javascript:alert(1)",
        "",
        None,
    ],
)
def test_safe_url_refuses_other_schemes(url):
    assert safe_url(url) is None
    assert href(url) is None


def test_link_escapes_text_and_url():
    out = str(link("<b>x</b>", 'https://e.com/?a="1"&b=(2)'))
    assert out.startswith('<a href="https://e.com/?a=%221%22&amp;b=%282%29"')
    assert "&lt;b&gt;" in out
    assert "link removed" in str(link("x", "javascript:alert(1)"))


def test_hostile_card_renders_without_live_markup():
    ctx = evil_ctx()
    md = render_card(ctx, [])
    html = to_html(md)
    assert live_markup_problems(html) == []
    # the hostile text is still there, as text
    text = htmlmod.unescape(html)
    assert "‹script›alert(1)‹/script›" in text  # the title
    assert "![x](http://evil/x.png)" in text and "[click](javascript:alert(1))" in text
    assert "<img src=x onerror=alert(1)>" in text  # shown as text, not as an element
    hrefs = [a.get("href", "") for t, a in scan(html) if t == "a"]
    assert "https://ok.example/a?b=1&c=2" in hrefs  # the good link survives
    assert not any(h.startswith(("javascript", "data")) for h in hrefs)
    # a pipe in a metadata value does not break the table: every row has 2 cells
    for row in html.split("<tr>")[1:]:
        if "k&#124;ey" in row or "k|ey" in row:
            assert row.split("</tr>")[0].count("<td") == 2


def test_hostile_card_with_charts_has_only_chart_images():
    ctx = evil_ctx()
    charts = card_charts(ctx.report)
    html = to_html(render_card(ctx, charts))
    assert live_markup_problems(html, allowed_images={c.filename for c in charts}) == []
    imgs = [a for t, a in scan(html) if t == "img"]
    assert len(imgs) == len(charts) and all(a.get("alt") for a in imgs)


def test_hostile_index_and_error_card():
    cards = [evil_ctx(), mnist_ctx(), error_ctx()]
    html = to_html(render_index(cards, []))
    assert live_markup_problems(html) == []
    html = to_html(render_card(error_ctx(), []))
    assert live_markup_problems(html) == []
    assert "javascript" not in [a.get("href", "")[:10] for t, a in scan(html) if t == "a"]


def test_hostile_title_is_safe_as_page_title():
    """MkDocs takes the page title from the first heading; Material un-escapes it once."""
    import html as htmlmod

    md = render_card(evil_ctx(), [])
    first = md.splitlines()[0]
    assert first.startswith("# ")
    assert "<" not in htmlmod.unescape(first)
