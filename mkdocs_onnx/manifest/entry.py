"""A validated models.yml entry: plain data, independent of MkDocs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class ModelEntry:
    name: str
    slug: str  # unique, filesystem- and URL-safe; the card lives at models/<slug>/
    source: str  # "path" | "url" | "package"
    location: str  # the path, URL or package resource as written in the manifest
    resolved_path: Optional[str] = None  # absolute local file once resolved (None until downloaded)
    sha256: Optional[str] = None
    description: str = ""
    task: str = ""
    tags: list[str] = field(default_factory=list)
    license: str = ""
    dims: dict[str, int] = field(default_factory=dict)
    variant_of: str = ""
    links: dict[str, str] = field(default_factory=dict)
    line: int = 0  # line of the entry in the manifest, for messages
