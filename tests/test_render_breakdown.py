"""Card sections built from the per-node table and the architecture facts: the
Transformer table, the Per-Layer Breakdown, the batch-scaling chart, and the index's
short descriptions. Expected values are computed here from the hand-built Reports."""

from __future__ import annotations

import html as htmlmod
import math
import re

import pytest

from mkdocs_onnx.analysis.report import NodeCost, TransformerFacts
from mkdocs_onnx import units
from mkdocs_onnx.render.card import render_card
from mkdocs_onnx.render.charts import BATCH_CHART, batch_chart, card_charts
from mkdocs_onnx.render.index import render_index
from mkdocs_onnx.summary.model import Summary

try:
    from test_render_factory import bert_ctx, entry, error_ctx, mnist_ctx, mnist_report, transformer_report
    from test_render_helpers import live_markup_problems, scan, to_html
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, entry, error_ctx, mnist_ctx, mnist_report, transformer_report
    from tests.test_render_helpers import live_markup_problems, scan, to_html


def heading_at(md: str, marks: str, heading: str) -> int:
    """Where the heading line starts (an attribute list after the text allowed); ValueError if absent."""
    found = re.search(rf"\n{marks} {re.escape(heading)}( \{{[^}}]*\}})?\n", md)
    if found is None:
        raise ValueError(f"no heading {marks} {heading}")
    return found.start()


def section(md: str, heading: str) -> str:
    """The Markdown of one ``## heading`` section (up to the next ``## ``)."""
    start = heading_at(md, "##", heading)
    end = md.find("\n## ", start + 1)
    return md[start: end if end >= 0 else len(md)]


def subsection(md: str, heading: str) -> str:
    start = heading_at(md, "###", heading)
    end = re.search(r"\n##+ ", md[start + 1:])
    return md[start: start + 1 + end.start() if end else len(md)]


def title_value(cell: str) -> str:
    """The exact value in a cell's ``<span title="… exactly">``."""
    m = re.search(r'title="([^"]*?)(?: [A-Za-z/]+)? exactly"', cell)
    assert m, cell
    return m.group(1)


def table_rows(md: str) -> list[list[str]]:
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"^<tr><td.*</tr>$", md, re.M)]


# --------------------------------------------------------------------------- Transformer table


def llm_ctx(facts: TransformerFacts, *, task_evidence: str = "", task_guess="text-generation", task=None):
    report = transformer_report()
    report.architecture.family = "transformer-decoder"
    report.architecture.task_guess = task_guess
    report.architecture.task_evidence = task_evidence
    report.architecture.transformer = facts
    ctx = bert_ctx()
    ctx.report = report
    ctx.entry.task = task
    return ctx


def test_transformer_table_shows_every_figure_and_never_guesses():
    facts = TransformerFacts(
        layers=24, hidden_size=2048, heads=32, kv_heads=4, head_dim=64, vocab_size=151_936,
        context_length=None, kv_cache_bytes_per_token=24 * 2 * 4 * 64 * 4, kv_cache_bytes_at_bound_sequence=None,
        intermediate_size=5632,
        evidence=["24 attention blocks <script>x</script>", "Gather over a 151936 x 2048 embedding"],
    )
    md = render_card(llm_ctx(facts), [])
    arch = section(md, "Architecture")
    table = subsection(arch, "Transformer")
    rows = {re.sub(r"<[^>]+>", "", cells[0]): cells[1] for cells in table_rows(table)}
    expected = {
        "Layers": facts.layers, "Hidden size": facts.hidden_size, "Attention heads": facts.heads,
        "Key/value heads": facts.kv_heads, "Head dimension": facts.head_dim, "Vocabulary size": facts.vocab_size,
        "MLP width": facts.intermediate_size,
    }
    for label, value in expected.items():
        assert title_value(rows[label]) == str(value), label
        assert htmlmod.unescape(re.sub(r"<[^>]+>", "", rows[label])) == units.format_count(value)
    assert title_value(rows["KV cache per token"]) == str(24 * 2 * 4 * 64 * 4)
    assert re.sub(r"<[^>]+>", "", rows["KV cache per token"]) == units.format_bytes(24 * 2 * 4 * 64 * 4)
    # None stays "not determined": no value is made up
    assert rows["Context length"].startswith("not determined")
    (bound_label,) = [k for k in rows if k.startswith("KV cache at the bound sequence length")]
    assert rows[bound_label] == "not determined"
    assert "sequence = 128" in htmlmod.unescape(bound_label)  # the dims the figure would be for
    assert "Encoder layers" not in rows  # neither split is known
    # the evidence list, escaped
    assert "- 24 attention blocks &lt;script&gt;x&lt;/script&gt;" in table
    assert "- Gather over a 151936 x 2048 embedding" in table
    assert live_markup_problems(to_html(md)) == []


def test_transformer_table_all_unknown_and_absent():
    md = render_card(llm_ctx(TransformerFacts()), [])
    table = subsection(section(md, "Architecture"), "Transformer")
    values = [cells[1] for cells in table_rows(table)]
    assert len(values) == 10 and all(v.startswith("not determined") for v in values)
    assert "Where these figures come from" not in table  # no evidence, no list
    # a model that is not a transformer has no such table
    assert "### Transformer" not in render_card(mnist_ctx(), [])


def test_encoder_decoder_layers_and_fixed_context():
    facts = TransformerFacts(layers=12, encoder_layers=6, decoder_layers=6, context_length=512,
                             kv_cache_bytes_at_bound_sequence=3 * 2**20)
    md = render_card(llm_ctx(facts), [])
    rows = {re.sub(r"<[^>]+>", "", c[0]): c[1] for c in table_rows(subsection(md, "Transformer"))}
    assert title_value(rows["Encoder layers"]) == "6" and title_value(rows["Decoder layers"]) == "6"
    assert title_value(rows["Context length"]) == "512"
    (bound,) = [v for k, v in rows.items() if k.startswith("KV cache at the bound")]
    assert title_value(bound) == str(3 * 2**20) and "3.00 MiB" in bound


def test_task_evidence_under_the_guess_and_the_manifest_overrides():
    why = "the output is a [vocab](javascript:alert(1)) sized logits tensor"
    md = render_card(llm_ctx(TransformerFacts(layers=2), task_evidence=why, task="chat <b>"), [])
    arch = section(md, "Architecture")
    guess = arch.index("**Likely task** (guessed from the graph): text-generation; models.yml says chat &lt;b&gt;")
    evidence = arch.index("*Why this guess*: the output is a &#91;vocab&#93;&#40;javascript&#58;alert&#40;1&#41;&#41;")
    assert guess < evidence
    assert 'href="javascript' not in to_html(md)
    # no evidence recorded: no empty line for it
    assert "Why this guess" not in render_card(llm_ctx(TransformerFacts(), task_evidence=""), [])
    # no guess: no evidence line either
    assert "Why this guess" not in render_card(llm_ctx(TransformerFacts(), task_evidence="x", task_guess=None), [])


# --------------------------------------------------------------------------- Per-Layer Breakdown


def ranking(md: str, title: str) -> list[tuple[str, str, str, str]]:
    """(name, op type, exact value, exact share) per row of one ranking table."""
    part = subsection(section(md, "Per-Layer Breakdown"), title)
    out = []
    for cells in table_rows(part):
        name = re.search(r"<code>(.*?)</code>", cells[1]).group(1)
        op = re.search(r"<code>(.*?)</code>", cells[2]).group(1)
        assert "<" not in htmlmod.unescape(name) or "&lt;" in name  # escaped
        out.append((htmlmod.unescape(name), htmlmod.unescape(op), title_value(cells[3]), title_value(cells[4])))
    return out


def expected(nodes, key, total, skip_folded=False, n=10):
    ranked = [(i, x) for i, x in enumerate(nodes) if not (skip_folded and x.folded)]
    ranked = [(i, x) for i, x in ranked if getattr(x, key) is not None and getattr(x, key) > 0]
    ranked.sort(key=lambda t: (-getattr(t[1], key), t[0]))
    return [(x.name, x.op_type, str(getattr(x, key)), str(getattr(x, key) / total)) for _, x in ranked[:n]]


def breakdown_report():
    r = mnist_report()
    extra = [
        NodeCost(f"big_{i}", "MatMul", 1000 * (i + 1), 7 * i, 64, 0, 100 * (i % 4)) for i in range(15)
    ] + [
        NodeCost("folded_shape", "Shape", 0, 0, 0, 0, 10**7, folded=True),
        NodeCost("<script>evil</script>", "evil.<b>Op</b>", 2_000_000, 0, 0, 0, 99, subgraph="loop/body"),
        NodeCost("unknown", "Custom", None, 0, None, 0, None),
    ]
    r.nodes = r.nodes + extra
    r.flops.total = sum(n.flops or 0 for n in r.nodes)
    r.params.total = sum(n.params for n in r.nodes)
    return r


def test_per_layer_breakdown_top_ten_with_shares():
    r = breakdown_report()
    md = render_card(mnist_ctx(report=r), [])
    flops = ranking(md, "Top Nodes by FLOPs")
    want = expected(r.nodes, "flops", r.flops.total)
    assert len(flops) == 10
    assert flops == want
    assert flops[0][:2] == ("<script>evil</script>", "evil.<b>Op</b>")
    assert "<code>&lt;script&gt;evil&lt;/script&gt;</code>" in md
    params = ranking(md, "Top Nodes by Parameters")
    assert params == expected(r.nodes, "params", r.params.total)
    written = sum(n.bytes_written or 0 for n in r.nodes)  # every node, folded ones included
    acts = ranking(md, "Top Nodes by Activation Size")
    assert acts == expected(r.nodes, "bytes_written", written, skip_folded=True)
    assert "folded_shape" not in section(md, "Per-Layer Breakdown")  # folded: not ranked
    part = section(md, "Per-Layer Breakdown")
    assert "[download it above](#download-nodes-csv)" in part  # the Downloads button, which links the file
    assert "[nodes.csv](nodes.csv){ #download-nodes-csv " in md
    assert "The top 10 of <span" in part
    assert "<small>in <code>loop/body</code></small>" in part
    assert section(md, "Per-Layer Breakdown").count("<table data-md-raw>") == 3
    assert live_markup_problems(to_html(md)) == []


def test_per_layer_breakdown_small_and_empty():
    r = mnist_report()
    md = render_card(mnist_ctx(report=r), [])
    assert len(ranking(md, "Top Nodes by FLOPs")) == 10  # 12 nodes, two Reshapes with 0 FLOPs
    params = ranking(md, "Top Nodes by Parameters")
    assert [p[0] for p in params] == ["Convolution110", "Times212_reshape1", "Convolution28", "Plus112",
                                      "Plus214", "Plus30"]
    assert abs(sum(float(p[3]) for p in params) - 1.0) < 1e-12  # every weight is in a node: 100%
    assert "All <span" in subsection(section(md, "Per-Layer Breakdown"), "Top Nodes by Parameters")
    # no weights at all: says so rather than an empty table
    r.nodes = [NodeCost("id", "Identity", 0, 0, 4, 0, 4)]
    r.params.total = 0
    part = section(render_card(mnist_ctx(report=r), []), "Per-Layer Breakdown")
    assert "No node has a non-zero parameter count." in part and "No node has a non-zero FLOP count." in part
    r.nodes = []
    assert "The report has no per-node figures." in render_card(mnist_ctx(report=r), [])


def test_breakdown_comes_after_complexity_metrics():
    md = render_card(mnist_ctx(), [])
    order = [heading_at(md, "##", h) for h in ("Complexity Metrics", "Per-Layer Breakdown", "Architecture")]
    assert order == sorted(order)


# --------------------------------------------------------------------------- batch-scaling chart


def estimated_report():
    hardware = pytest.importorskip("mkdocs_onnx.hardware")
    report = mnist_report(hardware=False)
    hardware.add_estimates(report, ["h100-sxm", "t4"])
    return report


def test_batch_chart_figures_and_alt_text():
    r = estimated_report()
    chart = batch_chart(r)
    assert chart is not None and chart.filename == BATCH_CHART == "batch_scaling.svg"
    assert "1 to 64, log 2 scale" in chart.alt
    for h in r.hardware:
        rows = h.details["batches"]
        assert [row["batch"] for row in rows] == [1, 2, 4, 8, 16, 32, 64]
        for row in rows:
            text = (f"batch {row['batch']} {units.format_rate(row['throughput_per_s'], ' inferences/s')} and "
                    f"{units.format_bytes(row['memory_required_bytes'])}")
            assert text in chart.alt, text
        assert f"device memory {units.format_bytes(h.details['device_memory_bytes'])}" in chart.alt
        assert h.device in chart.alt
    assert "not drawn" not in chart.alt
    assert chart.svg.lstrip().startswith("<?xml") and "<dc:date>" not in chart.svg
    assert batch_chart(r).svg == chart.svg  # byte-identical


def test_batch_chart_only_with_batch_rows():
    names = lambda r: [c.filename for c in card_charts(r)]  # noqa: E731
    assert BATCH_CHART not in names(mnist_report(hardware=False))
    r = mnist_report()
    assert names(r)[-1] == BATCH_CHART
    for h in r.hardware:
        h.details["batches"] = []  # e.g. an unsupported precision
    assert BATCH_CHART not in names(r) and batch_chart(r) is None
    r.hardware[0].details["batches"] = [{"batch": "x"}, "junk"]
    assert batch_chart(r) is None
    # rows missing figures are drawn where they can be and the alt text says what is missing
    chart = batch_chart(mnist_report())
    assert "batch 64 throughput unknown and memory unknown" in chart.alt and "not drawn" in chart.alt


def test_batch_chart_is_shown_under_hardware_estimates():
    ctx = mnist_ctx()
    charts = card_charts(ctx.report)
    md = render_card(ctx, charts)
    hw = section(md, "Hardware Estimates")
    assert "### Throughput and Memory by Batch Size" in hw
    assert "](batch_scaling.svg){ loading=lazy }" in hw
    assert "batch_scaling.svg" not in section(md, "Visualizations")
    html = to_html(md)
    imgs = [a for t, a in scan(html) if t == "img" and a["src"] == BATCH_CHART]
    assert len(imgs) == 1 and imgs[0]["alt"] == charts[-1].alt


def test_batch_chart_is_reused_from_the_chart_cache(tmp_path, monkeypatch):
    from mkdocs_onnx import zoo
    from mkdocs_onnx.render import charts as chart_module

    report = mnist_report()
    store = zoo.ChartCache(str(tmp_path))
    calls = []
    real = chart_module.card_charts

    def card_charts_counting(r):
        calls.append(1)
        return real(r)

    card_charts_counting.__name__ = "card_charts"
    first = zoo._charts(store, card_charts_counting, report, report.to_json())
    second = zoo._charts(store, card_charts_counting, report, report.to_json())
    assert len(calls) == 1
    assert [c.filename for c in second] == [c.filename for c in first] and first[-1].filename == BATCH_CHART
    assert [(c.svg, c.alt, c.title) for c in second] == [(c.svg, c.alt, c.title) for c in first]


# --------------------------------------------------------------------------- index descriptions


def by_task(md: str) -> str:
    return section(md, "By Task")


def test_index_falls_back_to_the_summary_tldr():
    with_desc = mnist_ctx()
    no_desc = mnist_ctx(entry=entry("Digits", "digits", description=""),
                        summary=Summary(tldr="A <b>tiny</b> [CNN](javascript:alert(1)).", text="t",
                                        source="metrics", author="mkdocs-onnx"))
    neither = mnist_ctx(entry=entry("Plain", "plain", description=""), summary=None)
    md = render_index([with_desc, no_desc, neither, error_ctx()])
    part = by_task(md)
    assert "- [MNIST](mnist/index.md): Handwritten digit classifier.\n" in part  # the manifest wins
    assert ("- [Digits](digits/index.md): A &lt;b&gt;tiny&lt;/b&gt; &#91;CNN&#93;&#40;javascript&#58;alert&#40;1&#41;"
            "&#41;.\n") in part
    assert "- [Plain](plain/index.md)\n" in part
    html = to_html(md)
    assert 'href="javascript' not in html and live_markup_problems(html) == []


def test_batch_chart_draws_each_figure_at_its_place_on_the_log_axes():
    from xml.etree import ElementTree

    r = estimated_report()
    root = ElementTree.fromstring(batch_chart(r).svg.split("\n", 1)[1])
    ticks = {}  # memory tick label -> its y, e.g. "16 GiB"
    for e in root:
        if e.tag.endswith("text") and e.text and e.text.endswith("iB"):
            ticks[e.text] = float(e.get("y"))
    size = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    (label_a, y_a), (label_b, y_b) = sorted(ticks.items(), key=lambda kv: kv[1])[:2]
    value = lambda label: float(label.split()[0]) * size[label.split()[1]]  # noqa: E731
    per_octave = (y_b - y_a) / math.log2(value(label_a) / value(label_b))  # points per doubling
    y_of = lambda v: y_a + math.log2(value(label_a) / v) * per_octave  # noqa: E731
    dashed = [float(e.get("y1")) for e in root if e.tag.endswith("line") and e.get("stroke-dasharray")
              and e.get("x1") != e.get("x2") and float(e.get("x2")) - float(e.get("x1")) > 50]
    for h in r.hardware:  # each device's memory, as a dashed line across the panel
        assert any(abs(y - y_of(h.details["device_memory_bytes"])) < 0.05 for y in dashed), h.device
    lines = [e.get("points").split() for e in root if e.tag.endswith("polyline")]
    assert len(lines) == 2 * len(r.hardware)  # throughput and memory per device
    memory_line = [tuple(map(float, p.split(","))) for p in lines[len(r.hardware)]]  # first device's memory
    rows = r.hardware[0].details["batches"]
    for (_, y), row in zip(memory_line, rows):
        assert abs(y - y_of(row["memory_required_bytes"])) < 0.05
