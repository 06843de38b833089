"""SVG charts (mkdocs_onnx.render.charts): reproducible, described, robust to empty data."""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import matplotlib

from mkdocs_onnx.render.charts import card_charts, index_charts

try:
    from test_render_factory import bert_ctx, mnist_report, transformer_report
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, mnist_report, transformer_report


def all_charts():
    reports = [("MNIST", mnist_report()), ("BERT", transformer_report())]
    return card_charts(reports[0][1]) + card_charts(reports[1][1]) + index_charts(reports)


def test_charts_are_byte_identical_across_calls():
    a = all_charts()
    b = all_charts()
    assert [c.filename for c in a] == [c.filename for c in b]
    for x, y in zip(a, b):
        assert x.svg == y.svg, x.filename
        assert x.alt == y.alt


def test_charts_do_not_change_global_matplotlib_state():
    before = matplotlib.rcParams["svg.hashsalt"], matplotlib.get_backend()
    all_charts()
    assert (matplotlib.rcParams["svg.hashsalt"], matplotlib.get_backend()) == before


def test_charts_have_no_date_or_creator():
    for c in all_charts():
        assert c.svg.lstrip().startswith("<?xml")
        assert "<svg" in c.svg
        assert "<dc:date>" not in c.svg
        assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", c.svg)
        assert "Matplotlib v" not in c.svg and "<dc:creator>" not in c.svg


def test_charts_have_transparent_background():
    for c in all_charts():
        assert "fill: #ffffff" not in c.svg.lower()


def test_every_chart_has_descriptive_alt_text():
    charts = all_charts()
    names = [c.filename for c in charts]
    assert names[:4] == ["complexity.svg", "operators.svg", "params.svg", "flops.svg"]
    assert "params_vs_flops.svg" in names and "latency.svg" in names
    for c in charts:
        assert c.alt and len(c.alt) > 30 and c.title
    ops = card_charts(mnist_report())[1]
    assert ops.alt == "Bar chart of operator counts: Add 3, Conv 2, MaxPool 2, Relu 2, Reshape 2, MatMul 1."
    flops = card_charts(mnist_report())[3]
    assert "Conv 1.57 MFLOPs" in flops.alt and "zero FLOPs, not drawn: Reshape" in flops.alt
    assert "12 nodes could not be counted" in card_charts(transformer_report())[3].alt


def test_latency_chart_only_with_hardware():
    r = mnist_report(hardware=False)
    assert [c.filename for c in index_charts([("a", r)])] == ["params_vs_flops.svg"]


def test_empty_and_zero_data():
    r = mnist_report(hardware=False)
    r.graph.op_counts = {}
    r.graph.node_count = 0
    r.params.total = r.params.trainable = 0
    r.params.by_dtype = {}
    r.nodes = []
    r.flops.total = 0
    r.flops.by_op_type = {"Identity": 0}
    r.memory.weights_bytes = 0
    r.memory.peak_activation_bytes = 0
    charts = card_charts(r)
    assert len(charts) == 4
    assert "Not drawn (zero, no log scale point): Parameters, FLOPs, Weights, Peak activations" in charts[0].alt
    assert "no nodes" in charts[1].alt
    assert "no weights" in charts[2].alt
    assert "no operator has a non-zero FLOP count" in charts[3].alt
    idx = index_charts([("zero", r), ("mnist", mnist_report())])
    assert "Not drawn (zero parameters or FLOPs): zero" in idx[0].alt
    assert "mnist" in idx[0].alt
    assert "<svg" in index_charts([])[0].svg


def test_many_operators_fold_into_other():
    r = mnist_report()
    r.graph.op_counts = {f"Op{i:02d}": 100 - i for i in range(30)}
    c = card_charts(r)[1]
    assert "other (19 types)" in c.alt and "19 least frequent" in c.alt


def test_hostile_labels_do_not_break_charts():
    r = mnist_report()
    r.graph.op_counts = {"$\\frac{1}{0}$": 2, "<script>alert(1)</script>": 1, "a\nb": 1}
    svg = card_charts(r)[1].svg
    assert "<script" not in svg
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;</text>" in svg  # escaped, and shown as written
    assert ">$\\frac{1}{0}$</text>" in svg and ">a b</text>" in svg  # no math-text escapes in plain SVG text
    ElementTree.fromstring(svg.split("\n", 1)[1])  # well-formed


def _bars(svg: str) -> list[tuple[float, float, float]]:
    """(x, y, width) of each bar of a card's bar chart, top to bottom."""
    root = ElementTree.fromstring(svg.split("\n", 1)[1])
    return [(float(e.get("x")), float(e.get("y")), float(e.get("width"))) for e in root if e.tag.endswith("rect")]


def _texts(svg: str) -> dict[str, tuple[float, float]]:
    root = ElementTree.fromstring(svg.split("\n", 1)[1])
    return {e.text: (float(e.get("x")), float(e.get("y"))) for e in root if e.tag.endswith("text")}


def test_bar_lengths_are_proportional_to_the_counts():
    ops = card_charts(mnist_report())[1]  # Add 3, Conv 2, MaxPool 2, Relu 2, Reshape 2, MatMul 1 nodes
    bars = _bars(ops.svg)
    assert len(bars) == 6 and len({x for x, _, _ in bars}) == 1  # all from the axis
    widths = [w for _, _, w in bars]
    assert [round(w / widths[-1], 2) for w in widths] == [3, 2, 2, 2, 2, 1]
    assert [y for _, y, _ in bars] == sorted(y for _, y, _ in bars)  # largest first, from the top
    texts = _texts(ops.svg)
    assert "3 (25.0%)" in texts and "1 (8.33%)" in texts  # count and share of the 12 nodes


def test_log_bars_end_where_their_values_sit_between_decades():
    r = mnist_report()
    chart = card_charts(r)[0]  # complexity, log scale
    texts = _texts(chart.svg)
    decades = sorted((x, label) for label, (x, _) in texts.items() if label.startswith("10"))
    assert len(decades) >= 3
    step = decades[1][0] - decades[0][0]
    assert all(abs((b[0] - a[0]) - step) < 0.02 for a, b in zip(decades, decades[1:]))  # evenly spaced decades
    x0, exponent0 = decades[0][0], _exponent(decades[0][1])
    left, _, width = _bars(chart.svg)[0]  # Parameters, the first bar
    expected = x0 + (math.log10(r.params.total) - exponent0) * step
    assert abs(left + width - expected) < 0.05


def _exponent(label: str) -> int:
    return int(label[2:].translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))


def test_charts_identical_in_a_fresh_process(tmp_path: Path):
    """Byte-identical across runs: a new interpreter with another hash seed draws the same."""
    here = Path(__file__).resolve().parent
    code = textwrap.dedent(
        f"""
        import hashlib, sys
        sys.path.insert(0, {str(here)!r})
        from test_render_factory import mnist_report, transformer_report
        from mkdocs_onnx.render.charts import card_charts, index_charts
        reports = [("MNIST", mnist_report()), ("BERT", transformer_report())]
        charts = card_charts(reports[0][1]) + card_charts(reports[1][1]) + index_charts(reports)
        print(hashlib.sha256("".join(c.svg for c in charts).encode()).hexdigest())
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0 and "ImportError" in out.stderr and "mkdocs_onnx" in out.stderr:
        import pytest

        pytest.skip("mkdocs_onnx does not import in a fresh interpreter here: " + out.stderr.strip().splitlines()[-1])
    assert out.returncode == 0, out.stderr
    here_digest = hashlib.sha256("".join(c.svg for c in all_charts()).encode()).hexdigest()
    assert out.stdout.strip() == here_digest


def test_log_axes_are_labelled_at_whole_decades_in_plain_text():
    from mkdocs_onnx.render.charts import _power_of_ten

    assert [_power_of_ten(v) for v in (1.0, 10.0, 1000.0, 1e12, 0.01)] == ["10⁰", "10¹", "10³", "10¹²", "10⁻²"]
    assert _power_of_ten(2000.0) == "" and _power_of_ten(0.0) == ""  # not a decade: no label
