"""SVG charts (mkdocs_onnx.render.charts): reproducible, described, robust to empty data."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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
    assert "<script" not in svg  # text is drawn as paths


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
