"""The renderers with the real hardware estimator, and inside a real `mkdocs build --strict`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mkdocs_onnx.render.card import render_card
from mkdocs_onnx.render.charts import card_charts, index_charts
from mkdocs_onnx.render.index import models_csv, models_json, nodes_csv, render_index

try:
    from test_render_factory import bert_ctx, error_ctx, evil_ctx, mnist_ctx, mnist_report
    from test_render_helpers import live_markup_problems
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, error_ctx, evil_ctx, mnist_ctx, mnist_report
    from tests.test_render_helpers import live_markup_problems


def _estimated_report():
    hardware = pytest.importorskip("mkdocs_onnx.hardware")
    report = mnist_report(hardware=False)
    try:
        hardware.add_estimates(report, ["h100-sxm", "t4"])
    except Exception as exc:  # the device database or its API changed: not this module's concern
        pytest.skip(f"hardware estimator unavailable: {exc}")
    return report


def test_card_shows_the_real_estimators_figures():
    report = _estimated_report()
    md = render_card(mnist_ctx(report=report), [])
    tabs = re.findall(r'^=== "(.+)"$', md, re.M)
    assert len(tabs) == 3 * len(report.hardware) == 3 * 2  # estimates, batch scaling, specifications
    for h in report.hardware:
        d = h.details
        assert f'title="{d["device_memory_bytes"]} bytes exactly"' in md
        assert f'title="{h.latency_s!r} s exactly"' in md
    assert md.count("### Batch Scaling") == 1
    assert md.count("### Device Specifications") == 1
    assert md.count("**Memory bandwidth**") == 2 and md.count("**Peak compute**") == 2
    assert "Slowest nodes" in md


def _other_figures(md: str) -> list[str]:
    """The labels of each tab's "Other figures of this estimate" list, in order."""
    out = []
    for block in md.split('??? info "Other figures of this estimate"')[1:]:
        block = block.split("\n=== ", 1)[0].split("\n## ", 1)[0]
        out.append(re.findall(r"<li><strong>(.+?)</strong>", block))
    return out


def test_other_figures_leave_out_what_the_card_shows_already():
    report = _estimated_report()
    md = render_card(mnist_ctx(report=report), [])
    lists = _other_figures(md)
    assert len(lists) == len(report.hardware) == 2
    for labels, h in zip(lists, report.hardware):
        d = h.details
        # each of these repeats a figure shown elsewhere on the card (fp32: sizes as stored)
        assert d["total_flops"] == report.flops.total and d["weights_bytes"] == report.memory.weights_bytes
        assert d["lower_bound"] is True and d["weight_scale"] == d["activation_scale"] == 1
        for repeated in ("Total FLOPs", "Weights bytes", "Activation bytes", "Weight scale", "Activation scale",
                         "Lower bound", "Uncounted nodes", "Counted nodes"):
            assert repeated not in labels
        # figures found nowhere else stay
        for unique in ("Total bytes", "Ridge point", "Workspace bytes", "Memory only lower bound", "Precision source"):
            assert unique in labels
    # report.json keeps every detail
    assert "total_flops" in report.to_json()


def test_other_figures_keep_sizes_that_differ_from_the_stored_ones():
    hardware = pytest.importorskip("mkdocs_onnx.hardware")
    report = mnist_report(hardware=False)
    try:
        hardware.add_estimates(report, ["t4"], precision="fp16")
    except Exception as exc:
        pytest.skip(f"hardware estimator unavailable: {exc}")
    d = report.hardware[0].details
    if d.get("weight_scale") == 1:
        pytest.skip("the estimator keeps fp32 sizes at fp16")
    (labels,) = _other_figures(render_card(mnist_ctx(report=report), []))
    assert "Weights bytes" in labels and "Weight scale" in labels


def test_mkdocs_build_strict(tmp_path: Path):
    """The pages build with the demo site's Markdown extensions, with no warning (links
    from the index to the cards, footnotes, tabs and anchors all resolve)."""
    pytest.importorskip("material")
    docs = tmp_path / "docs"
    models = docs / "models"
    models.mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\n[Models](models/index.md)\n", encoding="utf-8")
    ctxs = [mnist_ctx(), bert_ctx(), error_ctx(), evil_ctx()]
    for c in ctxs:
        folder = models / c.entry.slug
        folder.mkdir()
        charts = card_charts(c.report) if c.report else []
        (folder / "index.md").write_text(render_card(c, charts), encoding="utf-8")
        for ch in charts:
            (folder / ch.filename).write_text(ch.svg, encoding="utf-8")
        if c.report is not None:
            (folder / "report.json").write_text(c.report.to_json(), encoding="utf-8")
            (folder / "nodes.csv").write_text(nodes_csv(c.report), encoding="utf-8")
        if c.model_file:
            (folder / c.model_file).write_bytes(b"onnx")
    charts = index_charts([(c.entry.name, c.report) for c in ctxs if c.report])
    (models / "index.md").write_text(render_index(ctxs, charts), encoding="utf-8")
    for ch in charts:
        (models / ch.filename).write_text(ch.svg, encoding="utf-8")
    (models / "models.json").write_text(models_json(ctxs), encoding="utf-8")
    (models / "models.csv").write_text(models_csv(ctxs), encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        textwrap.dedent(
            """
            site_name: render test
            theme: {name: material}
            markdown_extensions:
              - attr_list
              - md_in_html
              - admonition
              - pymdownx.details
              - pymdownx.superfences
              - pymdownx.tabbed: {alternate_style: true}
              - tables
              - footnotes
              - abbr
              - toc: {permalink: true}
              - mkdocs_onnx.render.rawhtml
            validation:
              links: {not_found: warn, anchors: warn, unrecognized_links: warn}
            """
        ),
        encoding="utf-8",
    )
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    site = tmp_path / "site" / "models"
    index = (site / "index.html").read_text(encoding="utf-8")
    for c in ctxs:  # the index links were rewritten to the built pages
        assert f'href="{c.entry.slug}/"' in index
    body = (site / "evil" / "index.html").read_text(encoding="utf-8")
    article = body.split('<article class="md-content__inner md-typeset">', 1)[1].split("</article>", 1)[0]
    assert live_markup_problems(article, {"complexity.svg", "operators.svg", "params.svg", "flops.svg",
                                          "batch_scaling.svg"}) == []
    title = re.search(r"<title>(.*?)</title>", body, re.S).group(1)
    assert "<" not in title
