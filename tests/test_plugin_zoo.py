"""zoo.py, the plain core behind the plugin: resolving files, caching, error cards, outputs."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading

import pytest

from conftest import ROOT, light_model
from mkdocs_onnx.manifest import parse_manifest
from mkdocs_onnx.zoo import FileCopy, ZooError, ZooSettings, build_cards, site_files

SQUEEZENET = light_model("squeezenet")
LENET = os.path.join(ROOT, "models", "lenet5.onnx")


def entries(tmp_path, text):
    return parse_manifest(text, base_dir=str(tmp_path))


def settings(tmp_path, **kw):
    return ZooSettings(cache_dir=str(tmp_path / "cache"), device=kw.pop("device", []), **kw)


def test_cards_in_manifest_order_with_portable_paths(tmp_path):
    cards = build_cards(entries(tmp_path, f"""
models:
  - name: Squeeze
    path: {SQUEEZENET}
  - name: ResNet
    package: onnx/backend/test/data/light/light_resnet50.onnx
"""), settings(tmp_path))
    assert [c.entry.name for c in cards] == ["Squeeze", "ResNet"]
    assert all(c.ok and c.error is None for c in cards)
    assert cards[1].report.model.path == "onnx/backend/test/data/light/light_resnet50.onnx"
    assert cards[1].report.model.name == "ResNet" and cards[1].model_file == "resnet.onnx"


@pytest.mark.usefixtures("in_process")
def test_same_file_twice_is_analysed_once_under_each_name(tmp_path, monkeypatch):
    import mkdocs_onnx.zoo as zoo

    calls = []
    real = zoo.analyze
    monkeypatch.setattr(zoo, "analyze", lambda path, **kw: calls.append(path) or real(path, **kw))
    cards = build_cards(entries(tmp_path, f"""
models:
  - name: First
    path: {LENET}
  - name: Second
    path: {LENET}
"""), settings(tmp_path))
    assert len(calls) == 1 and [c.from_cache for c in cards] == [False, True]
    assert [c.report.model.name for c in cards] == ["First", "Second"]


@pytest.mark.usefixtures("in_process")
def test_dims_are_part_of_the_cache_key(tmp_path, monkeypatch):
    import mkdocs_onnx.zoo as zoo

    calls = []
    real = zoo.analyze
    monkeypatch.setattr(zoo, "analyze", lambda path, **kw: calls.append(kw["dims"]) or real(path, **kw))
    model = os.path.join(ROOT, "models", "tiny_transformer.onnx")
    text = f"models:\n  - name: T\n    path: {model}\n    dims: {{sequence: %d}}\n"
    short = build_cards(entries(tmp_path, text % 16), settings(tmp_path))[0]
    long = build_cards(entries(tmp_path, text % 128), settings(tmp_path))[0]
    again = build_cards(entries(tmp_path, text % 16), settings(tmp_path))[0]
    assert calls == [{"sequence": 16}, {"sequence": 128}]
    assert short.report.flops.total < long.report.flops.total == long.report.flops.total
    assert again.from_cache and again.report.flops.total == short.report.flops.total


@pytest.mark.usefixtures("in_process")
@pytest.mark.parametrize("changed", ["analysis", "onnx"])
def test_reports_of_older_analysis_code_or_onnx_are_not_reused(tmp_path, monkeypatch, changed):
    # The version changes only at releases; an updated checkout or onnx must analyse again.
    import mkdocs_onnx.zoo as zoo

    calls = []
    real = zoo.analyze
    monkeypatch.setattr(zoo, "analyze", lambda path, **kw: calls.append(path) or real(path, **kw))
    text = f"models:\n  - name: LeNet\n    path: {LENET}\n"
    build_cards(entries(tmp_path, text), settings(tmp_path))
    assert build_cards(entries(tmp_path, text), settings(tmp_path))[0].from_cache
    if changed == "analysis":
        monkeypatch.setattr(zoo, "code_digest", lambda package: "0" * 64)
    else:
        monkeypatch.setattr(zoo.onnx, "__version__", "999.0")
    again = build_cards(entries(tmp_path, text), settings(tmp_path))[0]
    assert not again.from_cache and len(calls) == 2


@pytest.mark.parametrize(
    "source, reason",
    [
        ("path: nowhere.onnx", "file not found"),
        ("package: no_such_package_zz/m.onnx", "package 'no_such_package_zz' is not installed"),
        ("package: onnx/no/such/model.onnx", "file not found in the installed package 'onnx'"),
        (f"path: {SQUEEZENET}\n    sha256: {'0' * 64}", "sha256 is "),
        ("path: .", "not a file"),
    ],
)
def test_failures_become_error_cards(tmp_path, caplog, source, reason):
    with caplog.at_level(logging.WARNING):
        (card,) = build_cards(entries(tmp_path, f"models:\n  - name: Bad\n    {source}\n"), settings(tmp_path))
    assert not card.ok and card.error.startswith(reason), card.error
    assert card.model_file is None
    assert str(tmp_path) not in card.error
    assert "model 'Bad' (" in caplog.text and reason in caplog.text


def test_not_onnx_and_strict(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"hello")
    manifest = entries(tmp_path, "models:\n  - name: Bad\n    path: bad.onnx\n")
    (card,) = build_cards(manifest, settings(tmp_path))
    assert card.error.startswith("not an ONNX model"), card.error
    with pytest.raises(ZooError, match=r"^model 'Bad' \(bad\.onnx\): not an ONNX model"):
        build_cards(manifest, settings(tmp_path, strict=True))


@pytest.mark.usefixtures("in_process")
def test_a_bug_in_the_analyzer_is_one_error_card(tmp_path, monkeypatch):
    import mkdocs_onnx.zoo as zoo

    def broken(path, **kw):
        raise KeyError("oops")

    monkeypatch.setattr(zoo, "analyze", broken)
    (card,) = build_cards(entries(tmp_path, f"models:\n  - name: A\n    path: {LENET}\n"), settings(tmp_path))
    assert card.error == "internal error (KeyError: 'oops')"


def test_hardware_estimates_for_each_device(tmp_path):
    manifest = entries(tmp_path, f"models:\n  - name: A\n    path: {LENET}\n")
    (card,) = build_cards(manifest, settings(tmp_path, device=["h100-sxm", "t4"]))
    assert [h.device for h in card.report.hardware] == ["NVIDIA H100 80GB HBM3", "Tesla T4"]
    assert card.device_notes == ["database entry 'h100-sxm'", "database entry 't4'"]
    (cached,) = build_cards(manifest, settings(tmp_path, device=["t4"]))
    assert cached.from_cache and len(cached.report.hardware) == 1  # estimates are redone, not cached
    (none,) = build_cards(manifest, settings(tmp_path, device=[]))
    assert none.report.hardware == []


# --- url entries ---------------------------------------------------------------------


@pytest.fixture
def served():
    payload = open(LENET, "rb").read()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/lenet5.onnx", hashlib.sha256(payload).hexdigest(), hits
    httpd.shutdown()
    httpd.server_close()


def test_url_entry_is_downloaded_once_and_copied(tmp_path, served):
    url, sha, hits = served
    manifest = f"models:\n  - name: Remote\n    url: {url}\n    sha256: {sha}\n"
    (card,) = build_cards(entries(tmp_path, manifest), settings(tmp_path))
    assert card.ok and card.report.model.path == url
    assert card.entry.resolved_path.startswith(str(tmp_path / "cache" / "downloads"))
    (again,) = build_cards(entries(tmp_path, manifest), settings(tmp_path))
    assert again.from_cache and len(hits) == 1


def test_url_with_wrong_sha_is_an_error_card(tmp_path, served):
    url, _, _ = served
    (card,) = build_cards(entries(tmp_path, f"models:\n  - name: R\n    url: {url}\n    sha256: {'1' * 64}\n"),
                          settings(tmp_path))
    assert not card.ok and "sha256 is" in card.error


# --- the generated files -------------------------------------------------------------


def test_site_files(tmp_path):
    cards = build_cards(entries(tmp_path, f"""
models:
  - name: LeNet
    path: {LENET}
  - name: Ghost
    path: ghost.onnx
"""), settings(tmp_path, device=["t4"]))
    files = site_files(cards)
    assert list(files) == sorted(files)
    for path in ("models/index.md", "models/models.json", "models/models.csv", "models/lenet/index.md",
                 "models/lenet/report.json", "models/lenet/nodes.csv", "models/ghost/index.md"):
        assert path in files, path
    assert files["models/lenet/lenet.onnx"] == FileCopy(LENET)
    assert any(p.startswith("models/lenet/") and p.endswith(".svg") for p in files)
    assert not any(p.startswith("models/ghost/") and p != "models/ghost/index.md" for p in files)
    assert all(isinstance(v, (str, bytes, FileCopy)) for v in files.values())
    again = site_files(build_cards(cards and [c.entry for c in cards], settings(tmp_path, device=["t4"])))
    assert again == files
    # each report is serialised once per build: the files are exactly what the reports give
    from mkdocs_onnx.render.index import models_json

    assert files["models/lenet/report.json"] == cards[0].report.to_json() + "\n"
    assert files["models/models.json"] == models_json(cards)


def test_charts_are_reused_from_the_cache(tmp_path, monkeypatch):
    from mkdocs_onnx.render import charts

    cards = build_cards(entries(tmp_path, f"models:\n  - name: LeNet\n    path: {LENET}\n"), settings(tmp_path))
    drawn = []
    real = charts.card_charts

    def counting(report):
        drawn.append(report.model.name)
        return real(report)

    monkeypatch.setattr(charts, "card_charts", counting)
    first = site_files(cards, cache_dir=str(tmp_path / "cache"))
    second = site_files(cards, cache_dir=str(tmp_path / "cache"))
    assert drawn == ["LeNet"] and first == second
    cards[0].report.flops.total += 1  # a different report draws again
    site_files(cards, cache_dir=str(tmp_path / "cache"))
    assert drawn == ["LeNet", "LeNet"]


def test_summary_is_attached_and_its_failure_is_not_fatal(tmp_path, monkeypatch, caplog):
    import mkdocs_onnx.summary as summary

    seen = []

    def fake(report, entry, config, cache_dir=None, log=None):
        seen.append((entry.name, config, cache_dir))
        return "a summary"

    monkeypatch.setattr(summary, "summarize", fake, raising=False)
    manifest = entries(tmp_path, f"models:\n  - name: A\n    path: {LENET}\n")
    (card,) = build_cards(manifest, settings(tmp_path, summary={"model": "m"}))
    assert card.summary == "a summary" and seen == [("A", {"model": "m"}, str(tmp_path / "cache"))]

    def broken(report, entry, config, **kwargs):
        raise RuntimeError("service down")

    monkeypatch.setattr(summary, "summarize", broken)
    with caplog.at_level(logging.WARNING):
        (card,) = build_cards(manifest, settings(tmp_path))
    assert card.ok and card.summary is None
    assert "model 'A': no summary (RuntimeError: service down)" in caplog.text
