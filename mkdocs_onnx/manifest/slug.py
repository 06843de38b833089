"""Page slugs: lowercase ``[a-z0-9-]``, never empty, unique within a manifest."""

from __future__ import annotations

import re
import unicodedata

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """``"ResNet-50 (fp16)"`` → ``"resnet-50-fp16"``; ``"模型"`` → ``"model"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug[:80].rstrip("-") or "model"


def unique_slugs(names: list[str]) -> list[str]:
    """One slug per name, in order; later clashes get ``-2``, ``-3`` …"""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        base = slugify(name)
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        out.append(slug)
    return out
