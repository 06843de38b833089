"""A disk cache of analysis results, and verified downloads of ``url:`` models.

Reports are stored as their JSON form under ``<cache_dir>/reports/<key>.json``. The key
is a SHA-256 over the model file's content hash, the analyzer version, the report schema
version and the settings that change the numbers (dims, batch size, the analysis code's
digest, onnx's version: see :func:`code_digest`), so a stale entry is never found: it is
simply not looked up any more. Writes are atomic (a
temporary file in the same folder, then ``os.replace``); an entry that does not parse
back into a Report is logged, removed and recomputed.

Downloads are http(s) only, bounded in size and time, verified against the manifest's
SHA-256 and written atomically to ``<cache_dir>/downloads/``; a verified file is reused.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import logging
import os
import tempfile
import urllib.request
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from mkdocs_onnx.analysis.report import SCHEMA_VERSION, Report
from mkdocs_onnx.errors import MkdocsOnnxError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_MAX_DOWNLOAD_BYTES = 2 << 30  # 2 GiB: protobuf's limit for one ONNX file
DEFAULT_DOWNLOAD_TIMEOUT_S = 60.0


def file_sha256(path: str) -> str:
    """SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(file_sha256_hex: str, settings: dict[str, Any]) -> str:
    """The cache key of one analysis: content hash, analyzer and schema version, settings."""
    from mkdocs_onnx import __version__

    payload = {
        "analyzer": __version__,
        "schema": SCHEMA_VERSION,
        "file": file_sha256_hex,
        "settings": settings,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest(package: str) -> str:
    """A SHA-256 over the Python sources of ``package`` (a dotted name; or of one module), for cache keys.

    Results that older code computed must not be found again, and the package's version
    changes only at releases, while an editable install or a checkout changes with every
    update. Read once per process (a few hundred KiB).
    """
    module = importlib.import_module(package)
    digest = hashlib.sha256()
    if not hasattr(module, "__path__"):  # a single module
        with open(module.__file__ or "", "rb") as fh:
            digest.update(fh.read())
        return digest.hexdigest()
    root = os.path.dirname(module.__file__ or "")
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()  # a fixed walk order: the same sources give the same digest
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode("utf-8") + b"\0")
            with open(path, "rb") as fh:
                digest.update(fh.read() + b"\0")
    return digest.hexdigest()


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path)[-16:])
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


class JsonCache:
    """JSON values by hex key under ``<cache_dir>/<kind>/``; unreadable entries count as misses."""

    def __init__(self, cache_dir: str, kind: str) -> None:
        self.folder = os.path.join(cache_dir, kind)

    def _path(self, key: str) -> str:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache keys are lowercase hex digests, not {key!r}")
        return os.path.join(self.folder, f"{key}.json")

    def _decode(self, data: Any) -> Any:
        """The cached object from its JSON form; raise ValueError/TypeError/KeyError if malformed."""
        return data

    def _encode(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    def contains(self, key: str) -> bool:
        """Whether an entry exists (without reading it: a corrupt one is found by ``get``)."""
        return os.path.exists(self._path(key))

    def get(self, key: str) -> Any:
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache entry %s cannot be read (%s); recomputing", path, exc)
            return None
        try:
            return self._decode(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("cache entry %s is corrupt (%s); removing it and recomputing", path, exc)
            _remove(path)
            return None

    def put(self, key: str, value: Any) -> None:
        try:
            atomic_write(self._path(key), self._encode(value).encode("utf-8"))
        except OSError as exc:  # a read-only or full disk costs speed, not the build
            log.warning("cannot write the cache in %s (%s); continuing without it", self.folder, exc)

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """The cached value, or ``compute()`` stored; the flag says whether it was cached."""
        value = self.get(key)
        if value is not None:
            return value, True
        value = compute()
        self.put(key, value)
        return value, False


class ReportCache(JsonCache):
    """Analysis results: ``get(key) -> Report | None``, ``put(key, report)``."""

    def __init__(self, cache_dir: str) -> None:
        super().__init__(cache_dir, "reports")

    def _decode(self, data: Any) -> Report:
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            found = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"schema_version {found!r}, expected {SCHEMA_VERSION}")
        return Report.from_dict(data)

    def _encode(self, value: Report) -> str:
        return value.to_json()


class DownloadError(MkdocsOnnxError):
    """A ``url:`` model could not be fetched or verified; the message says why."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise DownloadError(f"redirected to a non-http(s) URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(
    url: str,
    sha256: str,
    cache_dir: str,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    timeout: float = DEFAULT_DOWNLOAD_TIMEOUT_S,
    opener: Optional[Callable[..., Any]] = None,
) -> str:
    """Local path of the verified file behind ``url``, downloading it at most once."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"only http(s) URLs can be downloaded, not {url!r}")
    sha256 = sha256.lower()
    base = os.path.basename(parts.path) or "model.onnx"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[-64:].lstrip(".") or "model.onnx"
    target = os.path.join(cache_dir, "downloads", f"{sha256[:16]}-{safe}")
    if os.path.isfile(target):
        if file_sha256(target) == sha256:
            return target
        log.warning("downloaded file %s no longer matches its sha256; fetching it again", target)
        _remove(target)

    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".download-")
    digest = hashlib.sha256()
    size = 0
    open_url = opener or urllib.request.build_opener(_HttpOnlyRedirects).open
    try:
        with os.fdopen(fd, "wb") as out, open_url(url, timeout=timeout) as response:
            declared = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"{url}: {int(declared)} bytes is over the {max_bytes}-byte limit")
            for chunk in iter(lambda: response.read(CHUNK), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(f"{url}: more than the {max_bytes}-byte limit")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DownloadError(f"{url}: sha256 is {digest.hexdigest()}, the manifest says {sha256}")
        os.replace(tmp, target)
    except DownloadError:
        _remove(tmp)
        raise
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
        _remove(tmp)
        raise DownloadError(f"{url}: download failed ({getattr(exc, 'reason', None) or exc})") from None
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
