"""The fields of a manifest entry and the checks on their values (shape only, no I/O)."""

from __future__ import annotations

import re
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

TOP_LEVEL_FIELDS = ("defaults", "models")
SOURCE_FIELDS = ("path", "url", "package")
ENTRY_FIELDS = (
    "name", "path", "url", "sha256", "package", "description", "task", "tags",
    "license", "dims", "variant_of", "links",
)
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_DIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")


def _text(value: Any) -> Optional[str]:
    return None if isinstance(value, str) else f"must be text, not {_kind(value)}"


def _optional_text(value: Any) -> Optional[str]:
    return None if value is None else _text(value)


def _name(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"must be text, not {_kind(value)}"
    return None if value.strip() else "must not be empty"


def _path(value: Any) -> Optional[str]:
    problem = _name(value)
    if problem:
        return problem
    if "\0" in value:
        return "must not contain a NUL character"
    return None


def _package(value: Any) -> Optional[str]:
    problem = _path(value)
    if problem:
        return problem
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or ":" in parts[0]:
        return f"must be relative to an installed package, like 'onnx/backend/…/model.onnx', not {value!r}"
    if len(parts) < 2 or not all(parts):
        return f"must be 'PACKAGE/path/inside/it.onnx', not {value!r}"
    if ".." in parts or not parts[0].isidentifier():
        return f"must be 'PACKAGE/path/inside/it.onnx' without '..', not {value!r}"
    return None


def _url(value: Any) -> Optional[str]:
    problem = _name(value)
    if problem:
        return problem
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http:// or https:// URL, not {value!r}"
    return None


def _sha256(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        return f"must be 64 hexadecimal digits (the file's SHA-256), not {value!r}"
    return None


def _tags(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, list):
        return f"must be a list of text, like [vision, cnn], not {_kind(value)}"
    for item in value:
        if not isinstance(item, str) or not item.strip():
            return f"must be a list of text; item {item!r} is {_kind(item)}"
    return None


def _dims(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"must map dim names to positive integers, like {{batch: 1}}, not {_kind(value)}"
    for key, size in value.items():
        if not isinstance(key, str) or not _DIM_NAME.fullmatch(key):
            return f"dim name {key!r} must be text naming a symbolic dim"
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            return f"dim '{key}' must be a positive integer, not {size!r}"
    return None


def _links(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"must map labels to URLs, like {{paper: https://…}}, not {_kind(value)}"
    for label, target in value.items():
        if not isinstance(label, str) or not label.strip():
            return f"link label {label!r} must be text"
        if not isinstance(target, str) or not target.strip():
            return f"link '{label}' must be a URL, not {_kind(target)}"
        if not is_safe_link(target):
            return f"link '{label}' must be an http(s) URL or a relative path, not {target!r}"
    return None


def is_safe_link(target: str) -> bool:
    """http(s) URLs and relative paths; no javascript:, file:, data: or protocol-relative URLs."""
    parts = urlsplit(target.strip())
    if parts.scheme:
        return parts.scheme in ("http", "https") and bool(parts.netloc)
    return not parts.netloc and not target.strip().startswith(("//", "\\"))


CHECKS: dict[str, Callable[[Any], Optional[str]]] = {
    "name": _name,
    "path": _path,
    "url": _url,
    "sha256": _sha256,
    "package": _package,
    "description": _optional_text,
    "task": _optional_text,
    "tags": _tags,
    "license": _optional_text,
    "dims": _dims,
    "variant_of": _optional_text,
    "links": _links,
}


def check_field(key: str, value: Any) -> Optional[str]:
    """What is wrong with ``value`` for field ``key``, or None."""
    return CHECKS[key](value)


def check_source(values: dict[str, Any]) -> tuple[str, Optional[str]]:
    """(field, problem) when the entry does not have exactly one usable source."""
    given = [k for k in SOURCE_FIELDS if k in values]
    if not given:
        return "path", "missing; give one of 'path', 'url' or 'package'"
    if len(given) > 1:
        return given[1], f"conflicts with '{given[0]}'; give only one of 'path', 'url' or 'package'"
    if given[0] == "url" and "sha256" not in values:
        return "url", "needs a 'sha256' so that the download can be verified"
    return given[0], None


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
