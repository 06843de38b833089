"""The model card (mkdocs_onnx.render.card)."""

from __future__ import annotations

import html as htmlmod
import re
import urllib.parse
from pathlib import Path

import pytest

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.render.card import render_card
from mkdocs_onnx.render.charts import card_charts
from mkdocs_onnx.summary.model import Summary

try:
    from test_render_factory import bert_ctx, error_ctx, mnist_ctx, mnist_report
    from test_render_helpers import scan, to_html
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, error_ctx, mnist_ctx, mnist_report
    from tests.test_render_helpers import scan, to_html

REFERENCE = Path("/work/shared/reference/autodoc-mnist-card.md")
REFERENCE_HEADINGS = [
    "Metadata",
    "Executive Summary",
    "Graph Summary",
    "Inputs",
    "Outputs",
    "Operator Distribution",
    "Visualizations",
    "Complexity Overview",
    "Parameter Distribution",
    "FLOPs Distribution",
    "Complexity Metrics",
    "Architecture",
    "Hardware Estimates",
    "Device Specifications",
]


def headings(md: str) -> list[str]:
    """The headings' text, without an attribute list ({ ... }) as attr_list reads it."""
    return [m.group(2).strip() for m in re.finditer(r"^\s*(#{2,6})\s+(.+?)\s*(?:\{[^}]*\})?\s*$", md, re.M)]


def reference_headings() -> list[str]:
    if not REFERENCE.exists():
        return REFERENCE_HEADINGS
    return [h for h in headings(REFERENCE.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def mnist_md() -> str:
    ctx = mnist_ctx()
    return render_card(ctx, card_charts(ctx.report))


@pytest.mark.parametrize("factory", [mnist_ctx, bert_ctx])
def test_card_has_every_section_of_the_reference_card(factory):
    ctx = factory()
    md = render_card(ctx, card_charts(ctx.report))
    ours = {h.lower() for h in headings(md)}
    missing = [h for h in reference_headings() if h.lower() not in ours]
    assert missing == []
    for extra in ("Deployment Notes", "How These Figures Were Obtained", "FLOPs by Operator Type", "Symbolic Dimensions"):
        assert extra.lower() in ours
    assert md.startswith(f"# {ctx.entry.name}\n")


def test_card_figures_are_right(mnist_md):
    md = mnist_md
    assert '<span title="5994 exactly">5,994</span>' in md
    assert '<span title="1600522 FLOPs exactly">1.60 MFLOPs</span>' in md
    assert '<span title="23976 bytes exactly">23.4 KiB</span>' in md
    assert "<code>Plus30</code>" in md  # where the peak occurs
    assert "binary" in md and md.count("Sizes in KiB, MiB and GiB are binary") == 1
    # inputs and outputs with dtype and shape
    assert "<tr><td><code>Input3</code></td><td>float32</td><td><code>&#91;1, 1, 28, 28&#93;</code></td></tr>" in md
    # operator distribution sorted by count desc, then name
    right = '<td style="text-align: right;">'
    ops = re.findall(rf"^<tr><td><code>(\w+)</code></td>{right}<span title=\"\d+ exactly\">(\d+)</span></td>{right}[\d.]+%</td></tr>$",
                     md, re.M)
    assert ops == [("Add", "3"), ("Conv", "2"), ("MaxPool", "2"), ("Relu", "2"), ("Reshape", "2"), ("MatMul", "1")]


def test_card_links_downloads_and_netron(mnist_md):
    html = to_html(mnist_md)
    hrefs = [a.get("href") for t, a in scan(html) if t == "a"]
    for f in ("mnist.onnx", "report.json", "nodes.csv", "https://netron.app/"):
        assert f in hrefs
    assert "download the model file" in mnist_md


def test_netron_link_with_site_url():
    ctx = mnist_ctx(model_file="my model.onnx")
    md = render_card(ctx, [], site_url="https://zoo.example.org/docs/")
    html = to_html(md)
    netron = [a["href"] for t, a in scan(html) if t == "a" and a.get("href", "").startswith("https://netron.app/?url=")]
    assert len(netron) == 1
    target = urllib.parse.unquote(netron[0].split("?url=", 1)[1])
    assert target == "https://zoo.example.org/docs/models/mnist/my%20model.onnx"
    assert "my%20model.onnx" in [a.get("href") for t, a in scan(html) if t == "a"]
    # a non-http site_url is ignored
    md = render_card(ctx, [], site_url="javascript:alert(1)")
    assert "netron.app/?url=" not in md


def test_charts_are_embedded_with_alt_text(mnist_md):
    html = to_html(mnist_md)
    imgs = [a for t, a in scan(html) if t == "img"]
    assert [i["src"] for i in imgs] == ["complexity.svg", "operators.svg", "params.svg", "flops.svg", "batch_scaling.svg"]
    assert all(len(i["alt"]) > 20 for i in imgs)
    assert "Conv 2" in imgs[1]["alt"]


@pytest.mark.parametrize("placeholder", [0, 1, 1_000_000])
def test_placeholder_warning_iff_placeholder(placeholder):
    report = mnist_report(placeholder=placeholder)
    md = render_card(mnist_ctx(report=report), [])
    has = '!!! warning "Placeholder weights"' in md
    assert has == (placeholder > 0)
    if has:
        assert "ConstantOfShape fills, not trained values" in md


def test_summary_attribution():
    md = render_card(mnist_ctx(), [])
    assert "gpt-4o-mini" in md and "language model" in md
    md = render_card(mnist_ctx(summary=None), [])
    assert "Summary not available" in md
    s = Summary("Small CNN.", "5,994 parameters.", "metrics", "mkdocs-onnx (from the metrics)", "no API key")
    md = render_card(mnist_ctx(summary=s), [])
    assert "*Generated from the metrics by mkdocs-onnx; no language model was involved (no API key).*" in md
    s = Summary("Small CNN.", "5,994 parameters.", "metrics", "mkdocs-onnx (from the metrics)")
    md = render_card(mnist_ctx(summary=s), [])
    assert "*Generated from the metrics by mkdocs-onnx; no language model was involved.*" in md


def test_flops_cell_gives_what_runtimes_fold_at_load_apart():
    assert "which runtimes fold or fuse" not in render_card(mnist_ctx(), [])
    ctx = mnist_ctx()
    ctx.report.flops.folded = 440
    md = render_card(ctx, [])
    assert ('one inference; <span title="440 FLOPs exactly">440 FLOPs</span> more in nodes computed from constants '
            "only, which runtimes fold or fuse</td>") in md


def test_peak_memory_cell_names_the_node_and_says_when_it_is_a_lower_bound():
    md = render_card(mnist_ctx(), [])
    assert "<td>reached while <code>Plus30</code> runs</td>" in md
    md = render_card(bert_ctx(), [])  # no peak node: three activation sizes are unknown
    assert "<td><strong>lower bound</strong>: the sizes of <span title=\"3 exactly\">3</span> intermediate values are unknown</td>" in md


def test_hardware_tabs_one_per_estimate_in_each_of_three_groups():
    ctx = mnist_ctx()
    md = render_card(ctx, [])
    tabs = re.findall(r'^=== "(.+)"$', md, re.M)
    # the estimates, their batch scaling and the device specifications: one tab per device each,
    # under one heading each (the tabs are linked by label: one click picks a device in all)
    assert len(ctx.report.hardware) == 2 and len(tabs) == 3 * 2
    assert tabs[0::2] == [tabs[0]] * 3 and "NVIDIA GeForce RTX 4050 Laptop GPU" in tabs[0]
    html = to_html(md)
    assert html.count('class="tabbed-set') == 3
    assert md.count("### Batch Scaling") == 1 and md.count("### Device Specifications") == 1
    assert "1.52 µs" in md  # latency lower bound
    assert "memory bandwidth" in md  # bottleneck
    assert "6.49 FLOPs/byte" in md
    assert "31.0%" in md and "69.0%" in md  # compute / memory-bound shares
    assert "### Batch Scaling" in md
    right, center = '<td style="text-align: right;">', '<td style="text-align: center;">'
    assert f"<tr>{right}64</td>{right}n/a</td>{right}n/a</td>{right}n/a</td>{center}n/a</td></tr>" in md  # missing keys tolerated
    assert "179 GiB/s" in md and "10.0 TFLOP/s" in md and "6.00 GiB" in md  # device specs
    assert "6.00 GiB</span> to spare" in md  # margin
    assert "Launch overhead" in md  # unknown details still shown


def test_no_hardware_says_so_and_why():
    ctx = bert_ctx()
    md = render_card(ctx, [])
    assert "=== " not in md
    assert "Hardware estimates were not requested or are not available" in md
    assert "No device was configured (device: none)." in htmlmod.unescape(to_html(md))
    assert "Latency" not in md.split("## Hardware Estimates", 1)[1].split("## Deployment Notes", 1)[0]


def test_uncounted_ops_are_listed_with_reasons():
    md = render_card(bert_ctx(), [])
    assert '!!! warning "12 nodes are not counted in the FLOPs total"' in md
    assert "no formula for this contrib op" in md
    assert "and 7 more" in md
    assert "<strong>12 nodes not counted</strong>" in md


def test_lower_bound_dims_external_data_and_risks():
    md = render_card(bert_ctx(), [])
    assert "<strong>lower bound</strong>" in md
    right = '<td style="text-align: right;">'
    assert f"<tr><td><code>sequence</code></td>{right}<span title=\"128 exactly\">128</span></td><td>models.yml</td></tr>" in md
    assert f"<tr><td><code>batch</code></td>{right}<span title=\"1 exactly\">1</span></td><td>batch size</td></tr>" in md
    assert f"<tr><td><code>past</code></td>{right}unbound</td><td>left unbound</td></tr>" in md
    assert "+ external data <span title=\"97000000 bytes exactly\">92.5 MiB</span> in 1 file</td>" in md
    assert "unknown rank" in md  # the mask input
    # risks sorted by severity, error first
    notes = md.split("## Deployment Notes", 1)[1]
    assert notes.index("Error") < notes.index("Warning")
    assert "Analysis warnings (1)" in md


def test_method_notes_are_present_and_rendered():
    md = render_card(mnist_ctx(), [])
    section = md.split("## How These Figures Were Obtained", 1)[1]
    for key in ("params", "flops", "peak", "weights", "filesize", "latency", "memreq", "intensity"):
        assert f'<li id="fn:{key}">' in section  # the note
        assert f'href="#fnref:{key}"' in section  # its link back to the text
        assert f'<sup id="fnref:{key}"><a class="footnote-ref" href="#fn:{key}">' in md.split(section, 1)[0]  # its mark
    assert "a multiply-accumulate counts as 2 FLOPs" in section
    assert "topological" in section and "roofline" in section
    html = to_html(md)
    assert 'class="footnote"' in html and 'href="#fn:params"' in html


def test_error_card():
    ctx = error_ctx()
    md = render_card(ctx, [])
    assert '!!! failure "Analysis failed"' in md
    assert "protobuf parse error at byte 12" in md
    assert "https&#58;//example.com/broken.onnx" in md  # manifest data, escaped
    assert md.startswith("# Broken ‹model›\n")
    html = to_html(md)
    assert 'class="admonition failure"' in html


def test_card_renders_the_same_from_report_json():
    ctx = mnist_ctx()
    again = mnist_ctx(report=Report.from_json(ctx.report.to_json()))
    assert render_card(ctx, []) == render_card(again, [])


def test_card_is_deterministic():
    ctx = bert_ctx()
    assert render_card(ctx, card_charts(ctx.report)) == render_card(bert_ctx(), card_charts(bert_ctx().report))


def test_card_does_not_depend_on_timing_or_cache():
    """Two builds must be byte-identical: no timings, no cache state on the page."""
    a = render_card(mnist_ctx(analysis_seconds=0.1, from_cache=False), [])
    b = render_card(mnist_ctx(analysis_seconds=9.9, from_cache=True), [])
    assert a == b


def test_an_output_that_is_no_tensor_has_a_dash_for_its_shape():
    from mkdocs_onnx.analysis.report import TensorInfo

    ctx = mnist_ctx()
    ctx.report.graph.outputs.append(TensorInfo("output_probability", "sequence(map(int64, float32))", None))
    md = htmlmod.unescape(render_card(ctx, []))
    row = next(line for line in md.splitlines() if "output_probability" in line)
    assert row.endswith("<td>sequence(map(int64, float32))</td><td>—</td></tr>")


def test_one_uncounted_node_is_worded_in_the_singular():
    from mkdocs_onnx.analysis.report import UncountedNode

    ctx = mnist_ctx()
    ctx.report.flops.uncounted_ops = {"NonMaxSuppression": 1}
    ctx.report.flops.uncounted = [UncountedNode("nms", "NonMaxSuppression", "data-dependent")]
    md = render_card(ctx, [])
    assert "<strong>1 node not counted</strong>" in md
    assert '!!! warning "1 node is not counted in the FLOPs total"' in md


def test_nothing_counted_reads_as_not_counted_not_as_zero():
    """A model whose every costed node has an unknown shape (unbound height and width) has
    a FLOPs total of 0 and a peak of 0 B in its report: the card says neither figure is known."""
    from mkdocs_onnx.analysis.report import UncountedNode

    ctx = mnist_ctx()
    r = ctx.report
    r.flops.total, r.flops.by_op_type = 0, {}
    r.flops.uncounted_ops = {"Conv": 2}
    r.flops.uncounted = [UncountedNode(f"conv{i}", "Conv", "output 0 has a dim of unknown size") for i in range(2)]
    r.memory.peak_activation_bytes, r.memory.activations_unknown = 0, 11
    r.dims = {"height": None, "width": None}
    md = render_card(ctx, [])
    metrics = md.split("## Complexity Metrics", 1)[1].split("### FLOPs by Operator Type", 1)[0]
    flops_row = next(line for line in metrics.splitlines() if line.startswith("<tr><td>FLOPs"))
    assert '<td style="text-align: right;"><strong>not counted</strong></td>' in flops_row and "0 FLOPs" not in flops_row
    peak_row = next(line for line in metrics.splitlines() if line.startswith("<tr><td>Peak activation memory"))
    assert '<td style="text-align: right;"><strong>unknown</strong></td>' in peak_row
    assert "reached while" not in peak_row and "11" in peak_row
    html = _text(md)
    assert "The input dims height, width are unbound" in html
    assert "dims: {height: <value>, width: <value>}" in html and "--dim NAME=VALUE" in html


def test_an_unbound_dim_is_explained_with_how_to_bind_it():
    html = _text(render_card(bert_ctx(), []))
    assert "The input dim past is unbound" in html  # in the uncounted-nodes warning
    assert "give it a value with dims: in this model's models.yml entry (dims: {past: <value>})" in html
    assert "Unbound dims" not in _text(render_card(mnist_ctx(), []))  # every dim bound


def _text(md: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded."""
    return htmlmod.unescape(re.sub(r"<[^>]+>", "", to_html(md)))


def test_an_unbound_dim_name_from_the_file_is_escaped_in_the_hint():
    ctx = bert_ctx()
    ctx.report.dims = {"`<b>x</b>": None}
    md = render_card(ctx, [])
    assert "<b>x</b>" not in md
