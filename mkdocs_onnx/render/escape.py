"""Escaping of untrusted text for Markdown pages that also contain raw HTML.

Everything that comes from a model file (names, doc strings, metadata, operator types),
from the manifest (names, descriptions, tags, links) or from an LLM goes through
:func:`md_text` (or :func:`md_block` for multi-paragraph text, :func:`md_heading` for
headings, :func:`attr` inside an HTML attribute) and every URL through :func:`safe_url`.

Markdown special characters are replaced by numeric character references rather than
backslash escapes: a reference means the same thing in Markdown text, in a Markdown
table cell and inside a raw HTML block (where backslashes would show literally), and
Python-Markdown copies it through without ever treating it as syntax. The functions
return :class:`markupsafe.Markup`, so escaping twice is a no-op and the Jinja
environment of :mod:`mkdocs_onnx.render.templating` can escape every other value by
default.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from typing import Any, Optional

from markupsafe import Markup

__all__ = ["md_text", "md_block", "md_heading", "md_code", "attr", "safe_url", "href", "link", "Markup"]

# Characters that are HTML-special, or Markdown / pymdownx syntax anywhere in a line:
# links and images ([ ] ( ) !), emphasis (* _), code (`), tables (|), attribute lists and
# critic markup ({ }), footnotes and abbreviations (^ [ *), strikethrough/sub (~),
# mark (=), arithmatex ($), emoji (:), magiclink mentions (@), backslash escapes (\).
_ALWAYS = set('&<>"\'[]()!*_`|{}\\~^=$:@#')
# Only special at the start of a line (lists, block quotes, headings, setext rules).
_LEADING = set("-+")
_LEADING_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")
_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def _ref(ch: str) -> str:
    return _NAMED.get(ch) or f"&#{ord(ch)};"


_TABLE = {ord(ch): _ref(ch) for ch in _ALWAYS}


def _escape_line(text: str) -> str:
    s = text.translate(_TABLE)
    # "--" starts snippets (--8<--) and setext/horizontal rules; single hyphens stay
    # readable. A leading "-" or "+" would start a list, "1." or "1)" an ordered list.
    s = s.replace("--", "-&#45;")
    if s[:1] in _LEADING:
        s = _ref(s[0]) + s[1:]
    s = _LEADING_ORDERED.sub(lambda m: m.group(1) + _ref(m.group(2)), s)
    return s


def md_text(value: Any, *, default: str = "") -> Markup:
    """Escape untrusted text for one line of Markdown (paragraph text, a table cell, a
    list item, an attribute value). Newlines and runs of whitespace collapse to one
    space. ``None`` gives ``default`` (escaped as well)."""
    if isinstance(value, Markup):
        return value
    if value is None:
        value = default
    text = _CONTROL.sub("", str(value))
    text = _WS.sub(" ", text).strip()
    return Markup(_escape_line(text))


def md_block(value: Any, *, default: str = "") -> Markup:
    """Escape untrusted multi-paragraph text: blank lines separate paragraphs (kept),
    single newlines inside a paragraph collapse to spaces."""
    if isinstance(value, Markup):
        return value
    if value is None:
        value = default
    text = _CONTROL.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return Markup("\n\n".join(str(md_text(p)) for p in paragraphs))


def md_heading(value: Any, *, default: str = "") -> Markup:
    """Escape untrusted text for a Markdown heading.

    MkDocs takes the page title from the first heading as HTML and some theme templates
    un-escape it once (Jinja's ``striptags``) before printing it without autoescaping;
    so ``<`` and ``>`` are replaced by the look-alikes ‹ and › here, and no entity in a
    title can ever turn back into a tag.
    """
    if isinstance(value, Markup):
        return value
    if value is None:
        value = default
    text = str(value).replace("<", "\u2039").replace(">", "\u203a")
    return md_text(text)


def md_code(value: Any) -> Markup:
    """Untrusted text shown as inline code: ``<code>`` with escaped content (a Markdown
    code span cannot hold character references, and backticks inside would end it)."""
    return Markup(f"<code>{md_text(value)}</code>")


def attr(value: Any) -> Markup:
    """Escape a value for a double-quoted HTML attribute (also safe in Markdown)."""
    return md_text(value)


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_ALLOWED_SCHEMES = {"http", "https"}


def safe_url(url: Any) -> Optional[str]:
    """Return ``url`` when it is an http(s) URL or a relative URL, else ``None``.

    Browsers ignore whitespace and control characters inside a scheme and decode
    character references in attributes, so the scheme is checked on the URL with those
    removed and decoded (``java\\tscript:``, ``javascript&#58;``, ``%6Aavascript:`` are
    all refused). The returned string is not escaped: put it in a page through
    :func:`href` or :func:`link`.
    """
    if url is None:
        return None
    url = str(url).strip()
    if not url:
        return None
    probes = {url}
    decoded = url
    for _ in range(3):  # entity- and percent-decoding, a few levels deep
        decoded = urllib.parse.unquote(html.unescape(decoded))
        probes.add(decoded)
    for probe in probes:
        squeezed = re.sub(r"[\x00-\x20\x7f]", "", probe)
        m = _SCHEME.match(squeezed)
        if m and m.group(1).lower() not in _ALLOWED_SCHEMES:
            return None
        if not m and ":" in squeezed.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
            # "a:b" that is not a valid scheme still confuses some parsers: refuse
            return None
        if squeezed.startswith(("\\\\", "/\\", "\\/")):
            return None
    if re.search(r"[\x00-\x1f\x7f]", url):
        return None
    return url


def href(url: Any) -> Optional[Markup]:
    """A checked URL, escaped for an HTML attribute; None when refused."""
    ok = safe_url(url)
    if ok is None:
        return None
    # percent-encode what could end an attribute or a Markdown link destination
    ok = ok.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    ok = ok.replace("<", "%3C").replace(">", "%3E").replace('"', "%22").replace("'", "%27")
    return Markup(html.escape(ok, quote=True))


def link(text: Any, url: Any, *, external: bool = True) -> Markup:
    """An ``<a>`` element with escaped text; plain escaped text when the URL is refused."""
    h = href(url)
    label = md_text(text)
    if h is None:
        return Markup(f"{label} (link removed: not an http(s) or relative URL)")
    rel = ' rel="nofollow noopener"' if external else ""
    return Markup(f'<a href="{h}"{rel}>{label}</a>')
