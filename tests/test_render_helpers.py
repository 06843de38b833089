"""Helpers shared by the renderer tests: Markdown -> HTML as the demo site renders it,
and an HTML scan for live markup."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown

EXTENSIONS = [
    "attr_list",
    "md_in_html",
    "admonition",
    "pymdownx.details",
    "pymdownx.tabbed",
    "tables",
    "footnotes",
    "abbr",
    "toc",
    "mkdocs_onnx.render.rawhtml",  # added by the plugin
]
EXTENSION_CONFIGS = {"pymdownx.tabbed": {"alternate_style": True}}


def to_html(text: str) -> str:
    return markdown.markdown(text, extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)


class Scan(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))

    handle_startendtag = handle_starttag


def scan(html: str) -> list[tuple[str, dict[str, str]]]:
    p = Scan()
    p.feed(html)
    p.close()
    return p.tags


def live_markup_problems(html: str, allowed_images: set[str] = frozenset()) -> list[str]:
    """Everything in ``html`` that a hostile model, manifest or LLM could have injected."""
    problems = []
    lowered = html.lower()
    for needle in ("<script", "<iframe", 'href="javascript', "href='javascript", "src=\"data:", "<object", "<embed"):
        if needle in lowered:
            problems.append(f"raw {needle!r} in the HTML")
    for tag, attrs in scan(html):
        if tag in ("script", "iframe", "object", "embed", "style", "form", "svg"):
            problems.append(f"<{tag}> element")
        if tag == "img" and attrs.get("src") not in allowed_images:
            problems.append(f"<img src={attrs.get('src')!r}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...> event handler")
            if name in ("href", "src", "action", "formaction"):
                v = "".join(value.split()).lower()
                if v.startswith(("javascript:", "data:", "vbscript:")):
                    problems.append(f"<{tag} {name}={value!r}>")
    return problems
