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

from mkdocs_onnx.render.charts import card_charts, index_charts

try:
    from test_render_factory import mnist_report, transformer_report
except ImportError:  # tests/ is a package
    from tests.test_render_factory import mnist_report, transformer_report


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


def test_charts_are_self_contained_well_formed_svg():
    for c in all_charts():
        root = ElementTree.fromstring(c.svg.split("\n", 1)[1])
        assert root.tag == "{http://www.w3.org/2000/svg}svg", c.filename
        assert float(root.get("width").removesuffix("pt")) == 504  # the content column's width
        assert not re.search(r"href|<script|<image|url\(|@import", c.svg), c.filename  # loads nothing, runs nothing


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


def test_tick_labels_drop_trailing_zeros_only():
    from mkdocs_onnx.render.charts import _compact

    assert [_compact(t) for t in ("10.0 K", "1.00 MFLOPs", "0.100 ns", "1.50 µs", "100 µs", "2.05 GiB")] == \
        ["10 K", "1 MFLOPs", "0.1 ns", "1.5 µs", "100 µs", "2.05 GiB"]


def _circles(svg: str) -> list[tuple[float, float]]:
    root = ElementTree.fromstring(svg.split("\n", 1)[1])
    return [(float(e.get("cx")), float(e.get("cy"))) for e in root if e.tag.endswith("circle")]


def _decade_positions(svg: str, suffix: str, axis: int) -> dict[float, float]:
    """Tick label value -> its x (axis 0) or y (axis 1), for labels like '10 K' or '1 GFLOPs'."""
    scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    out = {}
    for text, xy in _texts(svg).items():
        m = re.fullmatch(r"(\d+) ?([KMGT]?)" + suffix, text or "")
        if m:
            out[int(m.group(1)) * scale[m.group(2)]] = xy[axis]
    return out


def test_scatter_points_sit_at_their_figures_on_both_log_axes():
    reports = []
    for i, (params, flops) in enumerate([(5_994, 1_590_000), (25_600_000, 8.2e9), (143_667_240, 39.3e9)]):
        r = mnist_report(hardware=False)
        r.params.total, r.flops.total = params, int(flops)
        reports.append((f"model {i}", r))
    chart = index_charts(reports)[0]
    xs = _decade_positions(chart.svg, "", 0)
    ys = _decade_positions(chart.svg, "FLOPs", 1)
    (xa, pa), (xb, pb) = sorted((x, v) for v, x in xs.items())[:2]
    (ya, fa), (yb, fb) = sorted(((y, v) for v, y in ys.items()), reverse=True)[:2]
    for (cx, cy), (_, r) in zip(_circles(chart.svg), reports):
        assert abs(cx - (xa + (xb - xa) * math.log(r.params.total / pa) / math.log(pb / pa))) < 0.05
        assert abs(cy - (ya + (yb - ya) * math.log(r.flops.total / fa) / math.log(fb / fa))) < 0.05


def test_scatter_labels_do_not_overlap_when_there_is_room():
    reports = []
    for i in range(8):  # a crowded corner: parameters and FLOPs within a few percent of each other
        r = mnist_report(hardware=False)
        r.params.total, r.flops.total = 1_000_000 + 20_000 * i, 2_000_000_000 + 50_000_000 * i
        reports.append((f"variant number {i}", r))
    root = ElementTree.fromstring(index_charts(reports)[0].svg.split("\n", 1)[1])
    boxes = []
    for e in root:
        if e.tag.endswith("text") and (e.text or "").startswith("variant number"):
            x, y = float(e.get("x")), float(e.get("y"))
            boxes.append((x, y - 4.5, x + len(e.text) * 4.6 + 2, y + 4.5))
    assert len(boxes) == 8
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1]), (a, b)


def test_compare_bars_grow_from_one_towards_each_ratio():
    from mkdocs_onnx.render.charts import compare_chart

    base, half, triple = mnist_report(hardware=False), mnist_report(hardware=False), mnist_report(hardware=False)
    half.params.total, triple.params.total = base.params.total // 2, base.params.total * 3
    chart = compare_chart([("base", base), ("half", half), ("triple", triple)])
    assert "half Parameters ×0.5" in chart.alt and "triple Parameters ×3.00" in chart.alt
    texts = _texts(chart.svg)
    one, ten = texts["×1"][0], texts["×10"][0]
    bars = [b for b in _bars(chart.svg) if b[2] != 14]  # not the legend's swatches: half's bars, then triple's
    half_bar, triple_bar = bars[0], bars[4]  # each variant's first bar is its parameters
    per_decade = ten - one
    assert abs(half_bar[0] - (one + per_decade * math.log10(0.5))) < 0.05 and abs(half_bar[0] + half_bar[2] - one) < 0.05
    assert abs(triple_bar[0] - one) < 0.05 and abs(triple_bar[2] - per_decade * math.log10(3)) < 0.05


def test_long_variant_names_in_the_legend_stay_in_their_column():
    from mkdocs_onnx.render import svg
    from mkdocs_onnx.render.charts import compare_chart

    base = mnist_report(hardware=False)
    names = ["A rather long variant name (512 tokens, batch 8)", "Another long variant name (4-bit)"]
    chart = compare_chart([("base", base), *((n, mnist_report(hardware=False)) for n in names)])
    swatches = sorted(b[0] for b in _bars(chart.svg) if b[2] == 14)  # the legend's two swatches, left first
    texts = {t: x for t, (x, _) in _texts(chart.svg).items() if x in (swatches[0] + 19, swatches[1] + 19)}
    first = next(t for t, x in texts.items() if x == swatches[0] + 19)
    # the first name, at the size the charts assume per character, ends before the second swatch
    assert swatches[0] + 19 + len(first) * svg.CHAR_WIDTH * 8 / svg.FONT_SIZE <= swatches[1]
