"""The analysis cache and verified downloads."""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import os
import threading

import pytest

from conftest import make_report
from mkdocs_onnx import cache as cache_mod
from mkdocs_onnx.cache import DownloadError, ReportCache, cache_key, code_digest, download, file_sha256

SETTINGS = {"dims": {"batch": 1}, "batch_size": 1}


def test_round_trip(tmp_path):
    cache = ReportCache(str(tmp_path))
    key = cache_key("1" * 64, SETTINGS)
    assert cache.get(key) is None
    report = make_report()
    cache.put(key, report)
    assert cache.get(key) == report
    assert os.listdir(tmp_path / "reports") == [f"{key}.json"]  # no temporary files left


def test_key_depends_on_content_settings_and_version(monkeypatch):
    import mkdocs_onnx

    base = cache_key("1" * 64, SETTINGS)
    assert base == cache_key("1" * 64, {"batch_size": 1, "dims": {"batch": 1}})  # order-free
    assert base != cache_key("2" * 64, SETTINGS)
    assert base != cache_key("1" * 64, {"dims": {"batch": 2}, "batch_size": 1})
    assert base != cache_key("1" * 64, {**SETTINGS, "batch_size": 8})
    monkeypatch.setattr(mkdocs_onnx, "__version__", "999.0")
    assert base != cache_key("1" * 64, SETTINGS)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", json.dumps({"schema_version": 999}), json.dumps({"schema_version": 1, "model": {}}), ""],
)
def test_corrupt_entry_is_logged_removed_and_missed(tmp_path, caplog, content):
    cache = ReportCache(str(tmp_path))
    key = cache_key("1" * 64, SETTINGS)
    cache.put(key, make_report())
    path = tmp_path / "reports" / f"{key}.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="mkdocs_onnx.cache"):
        assert cache.get(key) is None
    assert "corrupt" in caplog.text
    assert not path.exists()
    report, cached = cache.get_or_compute(key, make_report)
    assert not cached and cache.get(key) == report


def test_get_or_compute_computes_once(tmp_path):
    cache = ReportCache(str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return make_report()

    key = cache_key("1" * 64, SETTINGS)
    assert cache.get_or_compute(key, compute)[1] is False
    assert cache.get_or_compute(key, compute)[1] is True
    assert len(calls) == 1


def test_keys_must_be_hex(tmp_path):
    with pytest.raises(ValueError):
        ReportCache(str(tmp_path)).get("../../etc/passwd")


def test_unwritable_cache_is_not_fatal(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = ReportCache(str(blocker))  # reports/ cannot be created under a file
    cache.put(cache_key("1" * 64, SETTINGS), make_report())
    assert "cannot write" in caplog.text


def test_file_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1_000_000)
    assert file_sha256(str(path)) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


# --- downloads ----------------------------------------------------------------------

PAYLOAD = b"\x08\x07" + os.urandom(3000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            if self.path.startswith("/redirect-"):
                self.send_response(302)
                self.send_header("Location", self.path.split("-", 1)[1] + "://example.org/x")
                self.end_headers()
                return
            if self.path == "/missing.onnx":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", hits
    httpd.shutdown()
    httpd.server_close()


def test_download_once_and_verified(tmp_path, server):
    base, hits = server
    path = download(f"{base}/models/m.onnx", PAYLOAD_SHA.upper(), str(tmp_path))
    assert open(path, "rb").read() == PAYLOAD
    assert os.path.dirname(path) == str(tmp_path / "downloads")
    assert download(f"{base}/models/m.onnx", PAYLOAD_SHA, str(tmp_path)) == path
    assert hits == ["/models/m.onnx"]  # the second call did not fetch
    assert [n for n in os.listdir(tmp_path / "downloads") if n.startswith(".")] == []


def test_download_wrong_sha_leaves_nothing(tmp_path, server):
    base, _ = server
    with pytest.raises(DownloadError, match="sha256 is"):
        download(f"{base}/m.onnx", "b" * 64, str(tmp_path))
    assert os.listdir(tmp_path / "downloads") == []


def test_download_size_limit(tmp_path, server):
    base, _ = server
    with pytest.raises(DownloadError, match="limit"):
        download(f"{base}/m.onnx", PAYLOAD_SHA, str(tmp_path), max_bytes=100)
    assert os.listdir(tmp_path / "downloads") == []


def test_download_size_limit_without_content_length(tmp_path):
    class Response:
        headers: dict = {}

        def __init__(self):
            self.chunks = [b"x" * 60, b"x" * 60, b""]

        def read(self, _n):
            return self.chunks.pop(0)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    with pytest.raises(DownloadError, match="limit"):
        download("https://example.org/m.onnx", "c" * 64, str(tmp_path), max_bytes=100,
                 opener=lambda url, timeout: Response())


def test_download_errors(tmp_path, server):
    base, _ = server
    with pytest.raises(DownloadError, match="http"):
        download("file:///etc/passwd", PAYLOAD_SHA, str(tmp_path))
    for scheme in ("ftp", "file"):
        with pytest.raises(DownloadError, match="non-http|not allowed"):
            download(f"{base}/redirect-{scheme}", PAYLOAD_SHA, str(tmp_path))
    with pytest.raises(DownloadError, match="download failed"):
        download(f"{base}/missing.onnx", PAYLOAD_SHA, str(tmp_path))


def test_download_timeout_is_passed(tmp_path):
    seen = {}

    def opener(url, timeout):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    with pytest.raises(DownloadError, match="timed out"):
        download("https://example.org/m.onnx", "c" * 64, str(tmp_path), timeout=3, opener=opener)
    assert seen == {"timeout": 3}


def test_tampered_download_is_fetched_again(tmp_path, server):
    base, hits = server
    path = download(f"{base}/m.onnx", PAYLOAD_SHA, str(tmp_path))
    with open(path, "ab") as fh:
        fh.write(b"tampered")
    assert download(f"{base}/m.onnx", PAYLOAD_SHA, str(tmp_path)) == path
    assert open(path, "rb").read() == PAYLOAD and len(hits) == 2


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    cache_mod.atomic_write(str(target), b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.os, "replace", boom)
    with pytest.raises(OSError):
        cache_mod.atomic_write(str(target), b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.json"]


def test_code_digest_follows_every_source_of_the_package(tmp_path, monkeypatch):
    package = tmp_path / "digested"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "formula.py").write_text("FLOPS = 2\n")
    (package / "notes.txt").write_text("not code")
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest():
        code_digest.cache_clear()  # read once per process otherwise
        return code_digest("digested")

    first = digest()
    assert first == digest() and len(first) == 64
    (package / "notes.txt").write_text("still not code")
    assert digest() == first
    (package / "inner" / "formula.py").write_text("FLOPS = 3\n")
    assert digest() != first
