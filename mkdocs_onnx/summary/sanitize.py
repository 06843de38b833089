"""Make LLM text plain: no markdown images or links, no URLs, one line of collapsed spaces.

HTML is *not* removed here: the text is kept as text and the card renderer escapes it,
so ``<script>`` shows up literally and runs nowhere.
"""

from __future__ import annotations

import re
import unicodedata

TLDR_MAX_CHARS = 300
TEXT_MAX_CHARS = 2000

_IMAGE = re.compile(r"!\[([^\]\n]*)\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_LINK = re.compile(r"\[([^\]\n]*)\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_REF_DEFINITION = re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto|javascript|data):[^>\s]*)>", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|javascript|data):[^\s<>()\[\]]*", re.IGNORECASE)
_WWW = re.compile(r"\bwww\.[^\s<>()\[\]]+", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_SPACES = re.compile(r"\s+")


def _strip_controls(text: str) -> str:
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs") else " " for ch in text
    )


def sanitize(text: str, max_chars: int = TEXT_MAX_CHARS) -> str:
    """``text`` without markdown images/links (their label text stays), URLs, heading and
    list markers or bold markers, whitespace collapsed to single spaces, at most
    ``max_chars`` characters (cut at a word, with an ellipsis)."""
    if not text:
        return ""
    text = _strip_controls(str(text))
    text = _REF_DEFINITION.sub(" ", text)
    for _ in range(3):  # nested constructs: [![img](a)](b)
        text = _IMAGE.sub(lambda m: m.group(1), text)
        text = _LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _WWW.sub(" ", text)
    text = _LINE_MARKUP.sub(" ", text)
    text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = text.replace("`", "")
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return truncate(text, max_chars)


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def sanitize_tldr(text: str) -> str:
    """A one-line TL;DR without its own "TL;DR:" label, at most TLDR_MAX_CHARS characters."""
    text = sanitize(text, max_chars=10 * TLDR_MAX_CHARS)
    text = re.sub(r"^\W*tl\s*;?\s*dr\W*?[:\-–—]\s*", "", text, flags=re.IGNORECASE)
    return truncate(text, TLDR_MAX_CHARS)
