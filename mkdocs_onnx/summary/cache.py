"""Disk cache of accepted LLM answers: ``<cache_dir>/summaries/<key>.json``.

The key is a SHA-256 over the facts JSON sent to the LLM, PROMPT_VERSION, the LLM model
name and the base URL, so any change to what was asked, or whom, misses. Writes are
atomic (temporary file in the same folder, then ``os.replace``); an entry that does not
parse is ignored (and overwritten by the next answer). Fallback summaries are never
stored here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from typing import Any, Optional

log = logging.getLogger(__name__)

FOLDER = "summaries"


def summary_key(facts_json: str, prompt_version: str, model: str, base_url: Optional[str]) -> str:
    payload = json.dumps(
        {"facts": facts_json, "prompt": prompt_version, "model": model, "base_url": base_url or ""},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, FOLDER, f"{key}.json")


def load(cache_dir: Optional[str], key: str) -> Optional[dict[str, str]]:
    """The cached answer ``{"tldr", "text", "author"}``, or None (absent or unreadable)."""
    if not cache_dir:
        return None
    path = _path(cache_dir, key)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.debug("ignoring unreadable summary cache entry %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data.get(k) for k in ("tldr", "text", "author")):
        log.debug("ignoring malformed summary cache entry %s", path)
        return None
    return {"tldr": data["tldr"], "text": data["text"], "author": data["author"]}


def store(cache_dir: Optional[str], key: str, entry: dict[str, Any]) -> None:
    """Write ``entry`` atomically; a cache that cannot be written is only logged."""
    if not cache_dir:
        return
    path = _path(cache_dir, key)
    folder = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, sort_keys=True, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        log.warning("could not write the summary cache entry %s: %s", path, exc)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
