"""The comparison page and the exports (mkdocs_onnx.render.index)."""

from __future__ import annotations

import csv
import io
import json
import re

from mkdocs_onnx.render.charts import index_charts
from mkdocs_onnx.render.index import NODES_CSV_COLUMNS, UNATTRIBUTED, models_csv, models_json, nodes_csv, render_index

try:
    from test_render_factory import bert_ctx, clone, entry, error_ctx, mnist_ctx, mnist_report, transformer_report
    from test_render_helpers import scan, to_html
except ImportError:  # tests/ is a package
    from tests.test_render_factory import bert_ctx, clone, entry, error_ctx, mnist_ctx, mnist_report, transformer_report
    from tests.test_render_helpers import scan, to_html


def cards():
    return [mnist_ctx(), bert_ctx(), error_ctx(), mnist_ctx(entry=entry("MNIST fp16", "mnist-fp16", variant_of="MNIST"))]


def main_table(html: str) -> str:
    return html.split('<table id="model-index">', 1)[1].split("</table>", 1)[0]


def test_index_has_one_row_per_model():
    cs = cards()
    md = render_index(cs, index_charts([(c.entry.name, c.report) for c in cs if c.report]))
    html = to_html(md)
    table = main_table(html)
    body = table.split("<tbody>", 1)[1]
    assert body.count("<tr") == len(cs)
    for c in cs:
        assert body.count(f'href="{c.entry.slug}/index.md"') == 1
    # the markdown source too: one <tr> per model in the tbody
    assert md.split("<tbody", 1)[1].split("</tbody>", 1)[0].count("<tr") == len(cs)


def test_index_cells_and_sort_values():
    html = to_html(render_index(cards(), []))
    table = main_table(html)
    header = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", table.split("</thead>")[0], re.S)
    assert header[:8] == ["Model", "Task", "Architecture", "Parameters", "FLOPs", "Size", "Peak activations", "Opset"]
    assert len(header) == 8 + 2 * 2  # latency + fits for each of the 2 devices
    assert '<td data-sort="5994"><span title="5994 exactly">5,994</span></td>' in table
    assert '<td data-sort="1600522">' in table
    assert '<td data-sort="1.52e-06">' in table
    assert "analysis failed" in table
    rows = table.split("<tbody>", 1)[1].split("</tr>")[:-1]
    for row in rows:
        assert row.count("<td") == len(header)
    assert ">8<" in table and ">17<" in table  # opsets


def test_index_groups_by_task_and_lists_variants_and_exports():
    md = render_index(cards(), [])
    assert "### image-classification" in md and "### text-classification" in md
    assert md.index("### image-classification") < md.index("### text-classification")
    assert "## Variants" in md and "[MNIST fp16](mnist-fp16/index.md)" in md
    hrefs = [a.get("href") for t, a in scan(to_html(md)) if t == "a"]
    assert "models.json" in hrefs and "models.csv" in hrefs
    assert "## Failed Models" in md


def test_index_without_models_or_devices():
    md = render_index([], [])
    assert "No models are listed" in md
    md = render_index([bert_ctx()], [])
    assert "Latency" not in main_table(to_html(md))


def test_models_json():
    cs = cards()
    text = models_json(cs)
    data = json.loads(text)
    assert [d["slug"] for d in data] == [c.entry.slug for c in cs]
    assert data[0]["report"]["params"]["total"] == 5994 and data[0]["status"] == "ok"
    assert data[2]["report"] is None and data[2]["status"] == "error" and "protobuf" in data[2]["error"]
    assert data[0]["summary"]["author"] == "gpt-4o-mini"
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert models_json(cards()) == text


def test_models_csv():
    cs = cards()
    text = models_csv(cs)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(cs)
    header = text.splitlines()[0].split(",")
    assert header[:6] == ["name", "slug", "task", "tags", "status", "family"]
    assert "latency_s[NVIDIA GeForce RTX 4050 Laptop GPU]" in header
    mnist = rows[0]
    assert mnist["params_total"] == "5994" and mnist["flops_total"] == "1600522" and mnist["opset"] == "8"
    assert mnist["latency_s[NVIDIA GeForce RTX 4050 Laptop GPU]"] == "1.52e-06"
    assert rows[2]["status"] == "error" and rows[2]["params_total"] == ""
    assert rows[1]["peak_is_lower_bound"] == "true" and rows[1]["flops_uncounted_nodes"] == "12"


def test_models_csv_defuses_formulas():
    c = mnist_ctx(entry=entry("=HYPERLINK(\"http://evil\")", "evil"))
    row = list(csv.DictReader(io.StringIO(models_csv([c]))))[0]
    assert row["name"].startswith("'=")


def _sums(text: str) -> tuple[int, int, int]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return (
        sum(int(r["flops"]) for r in rows if r["flops"]),
        sum(int(r["params"]) for r in rows),
        len(rows),
    )


def test_nodes_csv_sums_to_the_totals():
    for r in (mnist_report(), transformer_report()):
        text = nodes_csv(r)
        assert text.splitlines()[0] == ",".join(NODES_CSV_COLUMNS)
        flops, params, n = _sums(text)
        assert (flops, params) == (r.flops.total, r.params.total)
        assert n == len(r.nodes)  # the factory's reports attribute everything: no extra row
        assert UNATTRIBUTED not in text


def test_nodes_csv_uncounted_flops_are_empty():
    text = nodes_csv(transformer_report())
    rows = list(csv.DictReader(io.StringIO(text)))
    attn = [r for r in rows if r["op_type"] == "com.microsoft.Attention"]
    assert len(attn) == 12 and all(r["flops"] == "" for r in attn)
    add = [r for r in rows if r["name"] == "add"][0]
    assert add["bytes_read"] == "" and add["bytes_written"] == ""


def test_nodes_csv_shows_unattributed_remainder():
    r = clone(mnist_report())
    r.nodes = r.nodes[1:]  # drop the node that first uses the 2,560-element weight
    text = nodes_csv(r)
    flops, params, n = _sums(text)
    assert (flops, params) == (r.flops.total, r.params.total)
    last = list(csv.DictReader(io.StringIO(text)))[-1]
    assert last["name"] == UNATTRIBUTED and last["params"] == "2560"


def test_a_model_without_a_task_in_the_manifest_shows_the_guess_marked_as_such():
    guessed = mnist_ctx(entry=entry("Bare", "bare", task=""))
    guessed.report.architecture.task_guess = "image-classification"
    neither = mnist_ctx(entry=entry("Nothing", "nothing", task=""))
    neither.report.architecture.task_guess = None
    md = render_index([mnist_ctx(), guessed, neither], [])
    table = main_table(to_html(md))
    rows = {name: row for row in table.split("<tbody>", 1)[1].split("</tr>")[:-1]
            for name in ("MNIST", "Bare", "Nothing") if f">{name}<" in row}
    assert "(guessed)" not in rows["MNIST"] and "image-classification" in rows["MNIST"]
    assert "image-classification <small" in rows["Bare"] and "(guessed)</small>" in rows["Bare"]
    assert 'data-task="image-classification"' in rows["Bare"]  # the task filter finds it
    assert "unspecified" in rows["Nothing"]
    by_task = md.split("## By Task", 1)[1]
    assert "[Bare](bare/index.md) (task guessed)" in by_task and "[MNIST](mnist/index.md) (task guessed)" not in by_task
    csv_rows = {r["name"]: r for r in csv.DictReader(io.StringIO(models_csv([mnist_ctx(), guessed])))}
    assert csv_rows["Bare"]["task"] == "" and csv_rows["Bare"]["task_guess"] == "image-classification"


def test_a_compare_page_marks_a_guessed_task():
    from mkdocs_onnx.render.compare import render_compare, variant_groups

    base = mnist_ctx(entry=entry("Base", "base", task=""))
    base.report.architecture.task_guess = "image-classification"
    variant = mnist_ctx(entry=entry("Variant", "variant", variant_of="Base"))
    (group,) = variant_groups([base, variant])
    md = render_compare(group)
    row = next(line for line in md.splitlines() if line.startswith("<tr><th>Task"))
    assert row == ("<tr><th>Task</th><td>image-classification &#40;guessed&#41;</td>"
                   "<td>image-classification</td></tr>")  # the variant's task is the manifest's


def test_the_scatter_chart_says_under_it_which_models_it_leaves_out():
    trees = mnist_ctx(entry=entry("Trees <b>", "trees"))
    trees.report.params.total = 0  # a tree ensemble: its learned values are attributes, not weights
    cs = [mnist_ctx(), trees]
    md = render_index(cs, index_charts([(c.entry.name, c.report) for c in cs]))
    html = to_html(md)
    after_chart = html.split('src="params_vs_flops.svg"', 1)[1].split("<h3", 1)[0]
    assert "<em>Not drawn &#40;zero parameters or FLOPs&#41;&#58; Trees &lt;b&gt;.</em>" in after_chart  # escaped


def test_figures_of_which_nothing_is_known_are_not_shown_as_zero():
    from mkdocs_onnx.analysis.report import UncountedNode

    cs = cards()
    card = next(c for c in cs if c.report is not None)
    r = card.report
    r.flops.total, r.flops.uncounted_ops = 0, {"Conv": 49}
    r.flops.uncounted = [UncountedNode("c", "Conv", "output 0 has a dim of unknown size")]
    r.memory.peak_activation_bytes, r.memory.activations_unknown = 0, 101
    rows = main_table(to_html(render_index(cs, []))).split("<tbody>", 1)[1].split("</tr>")
    row = next(row for row in rows if f'data-slug="{card.entry.slug}"' in row)
    assert '<td data-sort=""><span title="49 nodes not counted">not counted</span></td>' in row
    assert '<td data-sort=""><span title="101 intermediate values of unknown size">unknown</span></td>' in row
    assert "0 FLOPs" not in row and "0 B" not in row


def test_a_compare_page_does_not_compare_a_figure_of_which_nothing_is_known():
    from mkdocs_onnx.render.compare import render_compare, variant_groups

    base = mnist_ctx(entry=entry("Base", "base"))
    variant = mnist_ctx(entry=entry("Variant", "variant", variant_of="Base"))
    variant.report.flops.total, variant.report.flops.uncounted_ops = 0, {"Conv": 2}  # shapes unknown
    variant.report.memory.peak_activation_bytes, variant.report.memory.activations_unknown = 0, 5
    (group,) = variant_groups([base, variant])
    lines = render_compare(group).splitlines()
    for label in ("FLOPs", "Peak activation memory"):
        row = next(line for line in lines if f"<th>{label}</th>" in line)
        variant_cell = row.split('<td data-model="variant"', 1)[1]
        assert 'data-value="">n/a</td></tr>' in variant_cell, label
        assert "-100" not in row  # no "−100%" against the base
