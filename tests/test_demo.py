"""The demo zoo at the repository root, built as a new user builds it: offline, no key."""

from __future__ import annotations

import json
import re
import socket

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config

from helpers import REPO


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """The demo built with every outgoing connection refused (and recorded)."""
    tmp = tmp_path_factory.mktemp("demo")
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network access attempted during the build")

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OPENAI_API_KEY", raising=False)
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a[0] if a else None))
        config = load_config(str(REPO / "mkdocs.yml"), site_dir=str(tmp / "site"))
        config.plugins["onnx"].config.cache_dir = str(tmp / "cache")
        build(config)
    return tmp / "site", attempts


def test_demo_builds_offline_with_fallback_summaries(demo_site):
    site, attempts = demo_site
    assert attempts == []
    manifest_names = re.findall(r"^  - name: (.+)$", (REPO / "models.yml").read_text(), re.M)
    models = json.loads((site / "models" / "models.json").read_text())
    assert len(models) == len(manifest_names) >= 10
    for card in (site / "models").glob("*/index.html"):
        html = card.read_text()
        assert "Generated from the metrics" in html, card
        assert "no API key" in html


def test_demo_shows_two_devices_and_latency_in_microseconds(demo_site):
    site, _ = demo_site
    card = (site / "models" / "mnist-mlp" / "index.html").read_text()
    for device in ("H100", "T4"):
        assert device in card
    # Latency lower bounds are printed with three significant figures, never as a rounded zero.
    latencies = re.findall(r"(\d+(?:\.\d+)?)\s*(ns|µs|ms)\b", card)
    assert latencies and not any(float(v) == 0 for v, _ in latencies)
    microseconds = [v for v, unit in latencies if unit == "µs"]
    assert microseconds and all(len(v.replace(".", "").lstrip("0")) == 3 for v in microseconds)
    index = (site / "models" / "index.html").read_text()
    assert index.count("H100") >= 1 and index.count("T4") >= 1


def test_model_zoo_mnist_card_prints_latencies_with_three_significant_figures(tmp_path):
    from conftest import build_project, make_project
    from helpers import MNIST, corpus_file

    root = make_project(tmp_path, {"MNIST": str(corpus_file(MNIST))}, plugin={"device": ["h100-sxm", "t4"]})
    card = (build_project(root) / "models" / "mnist" / "index.html").read_text()
    report = json.loads((root / "site" / "models" / "mnist" / "report.json").read_text())
    assert len(report["hardware"]) == 2
    for estimate in report["hardware"]:
        seconds = estimate["latency_s"]
        scale, unit = (1e9, "ns") if seconds < 1e-6 else (1e6, "µs")
        assert seconds < 1e-3  # sub-millisecond on both devices: never "0.00 ms"
        digits = f"{seconds * scale:#.3g}".rstrip(".")  # three significant figures, zeros kept
        assert f"{digits} {unit}" in card, (estimate["device"], digits, unit)


def test_search_finds_models_by_what_tells_them_apart_not_by_repeated_sections(demo_site):
    site, _ = demo_site
    docs = json.loads((site / "search" / "search_index.json").read_text())["docs"]
    card = [d for d in docs if d["location"].startswith("models/resnet-50/")]
    sections = {d["location"].partition("#")[2] for d in card}
    # what a reader searches for: the model's own words, its operators, architecture and notes
    assert {"executive-summary", "operator-distribution", "architecture", "deployment-notes"} <= sections
    # the notes, device tables and figure tables that every card repeats are not indexed
    repeated = {"how-these-figures-were-obtained", "hardware-estimates", "device-specifications", "batch-scaling",
                "complexity-metrics", "flops-by-operator-type", "per-layer-breakdown", "visualizations"}
    assert sections.isdisjoint(repeated)
    words = " ".join(d["text"] for d in card)
    assert "Sizes in KiB" not in words and "its memory time at the peak bandwidth" not in words
    assert "deduplicated number of elements" not in words
