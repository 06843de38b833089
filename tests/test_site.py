"""The built site without a browser: variant comparison pages, the index's sort/filter/
compare controls, the assets the plugin adds, downloads, alt text and build logging."""

from __future__ import annotations

import html.parser
import json
import logging
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, build_project, light_model, make_project
from mkdocs_onnx.manifest import parse_manifest
from mkdocs_onnx.plugin import ASSETS
from mkdocs_onnx.render.compare import compare_folder, percent_text, render_compare, variant_groups
from mkdocs_onnx.zoo import ZooSettings, build_cards

LENET = os.path.join(ROOT, "models", "lenet5.onnx")
SQUEEZENET = light_model("squeezenet")
DEVICES = ["t4", "h100-sxm"]

VARIANTS = """\
- name: LeNet b8
  path: models/m0.onnx
  variant_of: LeNet
  task: test
  tags: [test, batched]
  dims: {batch: 8}
- name: LeNet b32
  path: models/m0.onnx
  variant_of: LeNet
  task: test
  dims: {batch: 32}
"""


class Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(path, article_only: bool = False) -> list[tuple[str, dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    if article_only:  # the page's content, without the theme's nav
        text = text.split("<article", 1)[1].split("</article>", 1)[0]
    parser = Tags()
    parser.feed(text)
    return parser.tags


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("zoo"), {"LeNet": LENET, "SqueezeNet": SQUEEZENET},
                        plugin={"device": DEVICES}, extra_manifest=VARIANTS)
    return build_project(root)


def report(site, slug):
    return json.loads((site / "models" / slug / "report.json").read_text(encoding="utf-8"))


def figure(r: dict, metric: str):
    """A compare page's data-metric in terms of report.json."""
    simple = {
        "params": ("params", "total"), "flops": ("flops", "total"),
        "weights_bytes": ("memory", "weights_bytes"), "peak_activation_bytes": ("memory", "peak_activation_bytes"),
        "file_bytes": ("memory", "file_bytes"), "node_count": ("graph", "node_count"),
    }
    if metric in simple:
        a, b = simple[metric]
        return r[a][b]
    key, device = re.fullmatch(r"(\w+)\[(.+)\]", metric).groups()
    return next(h[key] for h in r["hardware"] if h["device"] == device)


# --------------------------------------------------------------------------- compare pages


def test_variant_group_gets_a_compare_page_whose_figures_match_the_reports(site):
    page = site / "models" / "compare" / "lenet" / "index.html"
    assert page.is_file()
    cells = [a for t, a in tags(page) if t == "td" and "data-metric" in a]
    heads = [a["data-model"] for t, a in tags(page) if t == "th" and "data-model" in a]
    assert heads == ["lenet", "lenet-b8", "lenet-b32"]  # the base first, then manifest order
    reports = {slug: report(site, slug) for slug in heads}
    metrics = {a["data-metric"] for a in cells}
    assert {"params", "flops", "weights_bytes", "peak_activation_bytes", "file_bytes"} <= metrics
    for device in ("Tesla T4", "NVIDIA H100 80GB HBM3"):
        assert f"latency_s[{device}]" in metrics and f"memory_required_bytes[{device}]" in metrics
    assert len(cells) == len(metrics) * len(heads)
    for a in cells:
        value = figure(reports[a["data-model"]], a["data-metric"])
        assert float(a["data-value"]) == pytest.approx(value, rel=1e-12), a
        base = figure(reports["lenet"], a["data-metric"])
        if a["data-model"] == "lenet":
            assert "data-delta" not in a
        else:
            assert float(a["data-delta"]) == pytest.approx(value - base, rel=1e-9, abs=1e-18)
            assert float(a["data-delta-pct"]) == pytest.approx((value - base) / base, rel=1e-9)
    # batch 8 and 32: same weights, more FLOPs
    text = page.read_text(encoding="utf-8")
    assert reports["lenet-b8"]["params"]["total"] == reports["lenet"]["params"]["total"]
    assert reports["lenet-b32"]["flops"]["total"] > reports["lenet-b8"]["flops"]["total"] > reports["lenet"]["flops"]["total"]
    assert "same as the base" in text and "onnx-delta--up" in text
    assert (page.parent / "compare.svg").is_file()
    img = [a for t, a in tags(page) if t == "img"]
    assert [i["src"] for i in img] == ["compare.svg"] and img[0]["alt"].startswith("Bar chart")


def test_members_cards_and_the_index_link_the_compare_page(site):
    for slug in ("lenet", "lenet-b8", "lenet-b32"):
        hrefs = [a.get("href") for t, a in tags(site / "models" / slug / "index.html", True) if t == "a"]
        assert "../compare/lenet/" in hrefs, slug
    hrefs = [a.get("href") for t, a in tags(site / "models" / "squeezenet" / "index.html", True) if t == "a"]
    assert not any("compare/" in (h or "") for h in hrefs)
    index = [a.get("href") for t, a in tags(site / "models" / "index.html", True) if t == "a"]
    assert "compare/lenet/" in index
    page = [a.get("href") for t, a in tags(site / "models" / "compare" / "lenet" / "index.html") if t == "a"]
    assert {"../../lenet/", "../../lenet-b8/", "../../lenet-b32/", "../../"} <= set(page)


def test_nav_lists_the_comparisons(site):
    text = (site / "models" / "squeezenet" / "index.html").read_text(encoding="utf-8")
    nav = text.split('class="md-nav md-nav--primary"', 1)[1].split("<article", 1)[0]
    assert "Comparisons" in nav and "LeNet variants" in nav
    assert 'href="../compare/lenet/"' in nav


# --------------------------------------------------------------------------- the index


def test_index_has_sort_filter_and_compare_controls(site):
    index = site / "models" / "index.html"
    all_tags = tags(index)
    by_id = {a["id"]: (t, a) for t, a in all_tags if "id" in a}
    assert by_id["model-index-controls"][1].get("hidden") == ""  # shown by the script
    assert by_id["model-filter"][0] == "input" and by_id["model-filter"][1]["type"] == "search"
    assert by_id["model-filter-task"][0] == by_id["model-filter-family"][0] == "select"
    assert by_id["model-compare"][0] == "button" and by_id["model-compare-clear"][0] == "button"
    assert "model-compare-panel" in by_id
    text = index.read_text(encoding="utf-8")
    task_select = text.split('id="model-filter-task"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]*)"', task_select) == ["", "test"]
    family_select = text.split('id="model-filter-family"', 1)[1].split("</select>", 1)[0]
    assert "cnn" in re.findall(r'<option value="([^"]*)"', family_select)

    rows = [a for t, a in all_tags if t == "tr" and "data-slug" in a]
    assert {r["data-slug"] for r in rows} == {"lenet", "squeezenet", "lenet-b8", "lenet-b32"}
    b8 = next(r for r in rows if r["data-slug"] == "lenet-b8")
    assert (b8["data-name"], b8["data-task"], b8["data-family"], b8["data-tags"]) == ("LeNet b8", "test", "cnn",
                                                                                    "test batched")
    heads = [a for t, a in all_tags if t == "th" and "data-label" in a]
    labels = [h["data-label"] for h in heads]
    assert labels[:8] == ["Model", "Task", "Architecture", "Parameters", "FLOPs", "Size", "Peak activations", "Opset"]
    assert {"Latency (Tesla T4)", "Fits (Tesla T4)", "Latency (NVIDIA H100 80GB HBM3)"} <= set(labels)
    units = {h["data-label"]: h.get("data-unit") for h in heads}
    assert units["Parameters"] == "count" and units["FLOPs"] == "flops" and units["Size"] == "bytes"
    assert units["Latency (Tesla T4)"] == "s"
    numeric = {h["data-label"] for h in heads if h.get("data-sort-method") == "number"}
    assert {"Parameters", "FLOPs", "Size", "Peak activations", "Opset", "Latency (Tesla T4)"} <= numeric
    # every numeric cell carries its exact value for sorting
    for slug in ("lenet", "squeezenet"):
        row = text.split(f'data-slug="{slug}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-sort="{report(site, slug)["params"]["total"]}"' in row


def test_plugin_adds_its_script_and_style_sheet_to_every_page(site):
    for uri, source in ASSETS.items():
        built = site / uri
        assert built.is_file() and built.read_bytes() == open(source, "rb").read()
    for page in (site / "index.html", site / "models" / "index.html", site / "models" / "lenet" / "index.html"):
        found = tags(page)
        scripts = [a.get("src", "") for t, a in found if t == "script"]
        sheets = [a.get("href", "") for t, a in found if t == "link" and a.get("rel") == "stylesheet"]
        assert any(s.endswith("assets/mkdocs-onnx/zoo.js") for s in scripts), page
        assert any(s.endswith("assets/mkdocs-onnx/zoo.css") for s in sheets), page


def test_index_and_compare_pages_give_the_table_the_room_of_the_toc(site):
    def toc_hidden(page):
        return any(t == "div" and "md-sidebar--secondary" in a.get("class", "") and "hidden" in a
                   for t, a in tags(page))

    assert toc_hidden(site / "models" / "index.html")
    assert toc_hidden(site / "models" / "compare" / "lenet" / "index.html")
    assert not toc_hidden(site / "models" / "lenet" / "index.html")


def test_every_image_has_alt_text_and_exists(site):
    pages = list((site / "models").rglob("index.html"))
    assert len(pages) == 1 + 4 + 1  # index, cards, one compare page
    n = 0
    for page in pages:
        for t, a in tags(page):
            if t == "img":
                n += 1
                assert a.get("alt"), (page, a)
                assert (page.parent / a["src"]).is_file(), (page, a)
    assert n >= 2 + 4 * 4 + 1


def test_downloads(site):
    for slug in ("lenet", "squeezenet", "lenet-b8"):
        card = site / "models" / slug
        links = {a.get("href"): a for t, a in tags(card / "index.html") if t == "a"}
        for name in ("report.json", "nodes.csv"):
            assert name in links and "download" in links[name]
            assert (card / name).is_file()
    index = {a.get("href") for t, a in tags(site / "models" / "index.html") if t == "a"}
    assert {"models.json", "models.csv"} <= index


def test_index_script_has_no_dependency_and_follows_instant_navigation():
    text = open(ASSETS["assets/mkdocs-onnx/zoo.js"], encoding="utf-8").read()
    assert "document$.subscribe" in text and "DOMContentLoaded" in text
    assert not re.search(r"https?://", text)  # nothing fetched from other hosts
    assert "fetch(" not in text and "XMLHttpRequest" not in text  # works from file:// and any static host
    node = shutil.which("node") or shutil.which("nodejs")
    if node:
        run = subprocess.run([node, "--check", ASSETS["assets/mkdocs-onnx/zoo.js"]], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


# --------------------------------------------------------------------------- logging


def test_build_logs_each_model_with_its_time_and_a_summary(tmp_path):
    entries = parse_manifest(f"""
models:
  - name: LeNet
    path: {LENET}
  - name: Broken
    path: nowhere.onnx
  - name: LeNet again
    path: {LENET}
""", base_dir=str(tmp_path))
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("test_site.build")
    log.setLevel(logging.INFO)
    log.addHandler(Collect())
    settings = ZooSettings(cache_dir=str(tmp_path / "cache"), device=[])
    build_cards(entries, settings, log)
    assert re.fullmatch(r"analysed LeNet in (?!0\.0+ )\d[\d.]* (µs|ms|s)", records[0])  # never "0.00 s"
    assert any("Broken" in r and "file not found" in r for r in records)
    assert "LeNet again from the cache" in records
    assert re.fullmatch(r"3 models: 1 analysed, 1 from the cache, 1 failed, in \d[\d.]* (µs|ms|s)", records[-1])


# --------------------------------------------------------------------------- compare helpers


def _cards(tmp_path, text):
    return build_cards(parse_manifest(text, base_dir=str(tmp_path)), ZooSettings(cache_dir=str(tmp_path / "c"), device=[]))


def test_variant_groups_chains_and_a_failed_member(tmp_path):
    cards = _cards(tmp_path, f"""
models:
  - name: A
    path: {LENET}
  - name: B
    path: {LENET}
    variant_of: A
    dims: {{batch: 2}}
  - name: C
    path: nowhere.onnx
    variant_of: B
""")
    groups = variant_groups(cards)
    assert [(g.base, g.slug, [c.entry.name for c in g.members]) for g in groups] == [
        ("A", "a", ["A", "B"]), ("B", "b", ["B", "C"])]
    page = render_compare(groups[1])
    assert '!!! failure "C could not be analysed"' in page and "analysis failed" in page
    assert "[C](../../c/index.md)" in page


def test_compare_folder_avoids_a_model_named_compare(tmp_path):
    cards = _cards(tmp_path, f"models:\n  - name: Compare\n    path: {LENET}\n")
    assert compare_folder(cards) == "compare-2"
    assert compare_folder([]) == "compare"


def test_percentages_never_round_to_a_misleading_figure():
    assert percent_text(-0.9997) == "-99.97%"
    assert percent_text(-1.0) == "-100%"
    assert percent_text(6.13) == "+613%"
    assert percent_text(0.0004) == "+0.0400%"
    assert percent_text(0) == "0%"


def test_compare_page_and_index_stay_inert_with_hostile_names():
    try:
        from test_render_factory import entry, error_ctx, evil_ctx, mnist_ctx
        from test_render_helpers import live_markup_problems, scan, to_html
    except ImportError:  # tests/ is a package
        from tests.test_render_factory import entry, error_ctx, evil_ctx, mnist_ctx
        from tests.test_render_helpers import live_markup_problems, scan, to_html
    from mkdocs_onnx.render.charts import compare_charts
    from mkdocs_onnx.render.index import render_index

    evil = evil_ctx()
    variant = mnist_ctx(entry=entry("<b>v</b> [x](javascript:alert(1))", "v", variant_of=evil.entry.name))
    broken = error_ctx()
    broken.entry.variant_of = evil.entry.name
    cards = [evil, variant, broken]
    (group,) = variant_groups(cards)
    charts = compare_charts([(c.entry.name, c.report) for c in group.members if c.report is not None])
    html = to_html(render_compare(group, charts))
    assert live_markup_problems(html, allowed_images={"compare.svg"}) == []
    assert [a["src"] for t, a in scan(html) if t == "img"] == ["compare.svg"]
    html = to_html(render_index(cards, []))
    assert live_markup_problems(html) == []
    options = [a.get("value") for t, a in scan(html) if t == "option"]
    assert "<b>task</b>" in options  # the select's value is the task itself, decoded by the browser
    rows = [a for t, a in scan(html) if t == "tr" and "data-slug" in a]
    assert rows[0]["data-name"] in {c.entry.name for c in cards}


def test_cards_show_the_batch_chart_and_the_per_layer_breakdown(site):
    for slug in ("lenet", "squeezenet"):
        card = site / "models" / slug
        page = (card / "index.html").read_text(encoding="utf-8")
        r = report(site, slug)
        # the batch-scaling chart: one per card with batch rows, in Hardware Estimates
        assert all(h["details"]["batches"] for h in r["hardware"]) and len(r["hardware"]) == len(DEVICES)
        hw = page.split('id="hardware-estimates"', 1)[1].split('id="deployment-notes"', 1)[0]
        imgs = [a for t, a in tags(card / "index.html", article_only=True) if t == "img" and a["src"] == "batch_scaling.svg"]
        assert len(imgs) == 1 and 'src="batch_scaling.svg"' in hw
        assert (card / "batch_scaling.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
        for h in r["hardware"]:
            assert h["device"] in imgs[0]["alt"]
        # the breakdown: the node with the most FLOPs first, with its exact share
        part = page.split('id="per-layer-breakdown"', 1)[1].split('id="architecture"', 1)[0]
        counted = [n for n in r["nodes"] if n["flops"]]
        top = max(counted, key=lambda n: n["flops"])
        first_row = part.split("<tbody>", 1)[1].split("</tr>", 1)[0]
        assert f"<code>{html.escape(top['name'], quote=False)}</code>" in first_row.replace("&#95;", "_")
        assert f'title="{top["flops"] / r["flops"]["total"]} exactly"' in first_row
        assert 'href="#download-nodes-csv"' in part
        assert re.search(r'<a [^>]*href="nodes.csv"[^>]*id="download-nodes-csv"|<a [^>]*id="download-nodes-csv"[^>]*href="nodes.csv"', page)
