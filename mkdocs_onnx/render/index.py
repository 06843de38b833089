"""The comparison page (``models/index.md``) and the machine-readable exports.

- :func:`render_index`: one table with a row per model (grouped by task: rows are
  ordered by task, then name), the comparison charts, and per-task and per-variant
  lists. The table is raw HTML so every number cell can carry its exact value in a
  ``data-sort`` attribute (for a sortable-table script such as tablesort, which reads
  ``data-sort`` before the cell text); ``md_in_html`` renders the model links inside
  it as Markdown links, so MkDocs checks and rewrites them like any other link.
- :func:`models_json`, :func:`models_csv`: every model's figures (``models/models.json``,
  ``models/models.csv``).
- :func:`nodes_csv`: the per-node table of one report (``models/<slug>/nodes.csv``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from markupsafe import Markup

from mkdocs_onnx.analysis.report import HardwareEstimate, Params, Report, quantized_dtypes
from mkdocs_onnx import units
from mkdocs_onnx.render import escape
from mkdocs_onnx.render.charts import ChartRef
from mkdocs_onnx.render.compare import compare_folder as default_compare_folder
from mkdocs_onnx.render.compare import variant_groups
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.render.templating import render

__all__ = [
    "render_index",
    "models_json",
    "models_csv",
    "nodes_csv",
    "NODES_CSV_COLUMNS",
    "UNATTRIBUTED",
    "devices_of",
    "short_description",
]

NO_TASK = "unspecified"
GUESSED_TITLE = "guessed from the graph's inputs and outputs; set task in models.yml to say it"
UNATTRIBUTED = "(not attributed to a node)"
NODES_CSV_COLUMNS = ["name", "op_type", "subgraph", "flops", "params", "bytes_read", "weight_bytes_read", "bytes_written"]


def devices_of(cards: Sequence[CardContext]) -> list[str]:
    """Every device with an estimate in any report, in order of first appearance."""
    seen: list[str] = []
    for c in cards:
        if c.report is None:
            continue
        for h in c.report.hardware:
            if h.device not in seen:
                seen.append(h.device)
    return seen


def _estimate(report: Report, device: str) -> Optional[HardwareEstimate]:
    for h in report.hardware:
        if h.device == device:
            return h
    return None


def _opset(report: Report) -> Optional[int]:
    opsets = report.metadata.opsets
    v = opsets.get("ai.onnx", opsets.get(""))
    return int(v) if v is not None else None


def _task(c: CardContext) -> str:
    return c.task or NO_TASK


def _task_text(c: CardContext) -> Markup:
    """The task, marked where it is the analyzer's guess rather than the manifest's."""
    text = escape.md_text(_task(c))
    if c.guessed_task:
        text = Markup(f'{text} <small title="{GUESSED_TITLE}">(guessed)</small>')
    return text


def _ordered(cards: Sequence[CardContext]) -> list[CardContext]:
    return sorted(cards, key=lambda c: (_task(c) == NO_TASK, _task(c).lower(), c.entry.name.lower(), c.entry.slug))


@dataclass
class _Cell:
    html: Markup
    sort: Optional[str] = None  # data-sort value; None: none
    markdown: bool = False  # the cell holds Markdown (md_in_html span)
    numeric: bool = False


@dataclass
class _Row:
    cells: list[_Cell] = field(default_factory=list)
    failed: bool = False
    attrs: Markup = Markup("")  # data-* attributes of the <tr> for the filter script


def _row_attrs(c: CardContext) -> Markup:
    """What the index script filters on: slug, name, task, family and tags."""
    family = c.report.architecture.family if c.report is not None else ""
    values = [
        ("slug", c.entry.slug),
        ("name", c.entry.name),
        ("task", _task(c)),
        ("family", family),
        ("tags", " ".join(c.entry.tags)),
    ]
    return Markup("".join(f' data-{k}="{escape.attr(v)}"' for k, v in values))


def _num_cell(value: Any, text: Markup) -> _Cell:
    if value is None:
        return _Cell(Markup("n/a"), "", numeric=True)
    return _Cell(text, repr(value) if isinstance(value, float) else str(value), numeric=True)


def _params_text(params: Params) -> Markup:
    """The parameter count; the values held in operator attributes where there are any
    (a tree ensemble's thresholds and leaf weights: 0 parameters alone would mislead); and
    the type most weights are stored in where it is a quantized one (int8, uint4...)."""
    text = units.exact(params.total, units.format_count(params.total))
    if params.in_attributes:
        held = units.format_count(params.in_attributes)
        text = Markup(f'{text} <small title="{params.in_attributes:,} learned values held in operator attributes, '
                      f'not in tensors">+ {held} in attributes</small>')
    quantized = quantized_dtypes(params)
    if quantized:
        stored = ", ".join(f"{n:,} {d}" for d, n in sorted(params.by_dtype.items(), key=lambda kv: -kv[1]))
        text = Markup(f'{text} <small title="stored as {escape.attr(stored)}">{Markup.escape(quantized[0])}</small>')
    return text


def _card_href(slug: str) -> Markup:
    import urllib.parse

    return Markup(urllib.parse.quote(slug) + "/index.md")


def _row(c: CardContext, devices: list[str]) -> _Row:
    name = Markup(f"[{escape.md_text(c.entry.name)}]({_card_href(c.entry.slug)})")
    cells = [_Cell(name, c.entry.name.lower(), markdown=True), _Cell(_task_text(c), _task(c).lower())]
    r = c.report
    if r is None:
        cells.append(_Cell(Markup("<strong>analysis failed</strong>"), ""))  # no value: sorts last
        n_numeric = 5 + 2 * len(devices)
        cells.extend(_Cell(Markup("—"), "", numeric=True) for _ in range(n_numeric))
        return _Row(cells, failed=True, attrs=_row_attrs(c))
    cells.append(_Cell(escape.md_text(r.architecture.family)))
    cells.append(_num_cell(r.params.total, _params_text(r.params)))
    cells.append(_flops_cell(r))
    cells.append(_num_cell(r.memory.file_bytes, units.exact(r.memory.file_bytes, units.format_bytes(r.memory.file_bytes), "bytes")))
    cells.append(_peak_cell(r))
    opset = _opset(r)
    cells.append(_num_cell(opset, Markup(str(opset)) if opset is not None else Markup("n/a")))
    for d in devices:
        h = _estimate(r, d)
        if h is None:
            cells.append(_Cell(Markup("—"), "", numeric=True))
            cells.append(_Cell(Markup("—"), ""))
            continue
        cells.append(_num_cell(h.latency_s, units.exact(h.latency_s, units.format_duration(h.latency_s), "s")))
        if h.fits is None:
            cells.append(_Cell(Markup("unknown"), ""))
        else:
            cells.append(_Cell(Markup("yes" if h.fits else "<strong>no</strong>"), "1" if h.fits else "0"))
    return _Row(cells, attrs=_row_attrs(c))


def _flops_cell(r: Report) -> _Cell:
    """The FLOPs, marked as a lower bound when nodes are uncounted; when no node is counted,
    nothing is known, and a 0 would read as a figure (the cell then sorts with the unknowns)."""
    uncounted = sum(r.flops.uncounted_ops.values())
    if not uncounted:
        return _num_cell(r.flops.total, units.exact(r.flops.total, units.format_flops(r.flops.total), "FLOPs"))
    why = f"{units.count_of(uncounted, 'node')} not counted"
    if r.flops.none_counted:
        return _Cell(Markup(f'<span title="{why}">not counted</span>'), "", numeric=True)
    text = units.exact(r.flops.total, units.format_flops(r.flops.total), "FLOPs")
    return _num_cell(r.flops.total, Markup(f'{text} <small title="{why}: a lower bound">+?</small>'))


def _peak_cell(r: Report) -> _Cell:
    """Peak activations, "≥" when some sizes are unknown, "unknown" when none is known."""
    peak, unknown = r.memory.peak_activation_bytes, r.memory.activations_unknown
    if r.memory.peak_unknown:
        return _Cell(Markup(f'<span title="{units.count_of(unknown, "intermediate value")} of unknown size">unknown</span>'),
                     "", numeric=True)
    text = units.exact(peak, units.format_bytes(peak), "bytes")
    return _num_cell(peak, Markup(f"≥ {text}") if unknown else text)


def short_description(c: CardContext) -> str:
    """The line shown next to a model on the index: the manifest's description, else the
    TL;DR of the card's executive summary, else "" (plain text; the template escapes it)."""
    if c.entry.description:
        return str(c.entry.description)
    tldr = getattr(c.summary, "tldr", None)
    return str(tldr) if isinstance(tldr, str) and tldr.strip() else ""


def _by_task(cards: Sequence[CardContext]) -> list[tuple[str, list[CardContext]]]:
    groups: dict[str, list[CardContext]] = {}
    for c in _ordered(cards):
        groups.setdefault(_task(c), []).append(c)
    return list(groups.items())


@dataclass
class _Header:
    html: Markup
    numeric: bool
    label: str  # plain text, for the compare panel of the index script
    unit: str = ""  # count | flops | bytes | s: how the script formats differences


def _headers(devices: Sequence[str]) -> list[_Header]:
    head = [
        _Header(Markup("Model"), False, "Model"),
        _Header(Markup("Task"), False, "Task"),
        _Header(Markup("Architecture"), False, "Architecture"),
        _Header(Markup("Parameters"), True, "Parameters", "count"),
        _Header(Markup("FLOPs"), True, "FLOPs", "flops"),
        _Header(Markup("Size"), True, "Size", "bytes"),
        _Header(Markup("Peak activations"), True, "Peak activations", "bytes"),
        _Header(Markup("Opset"), True, "Opset"),
    ]
    for d in devices:
        head.append(_Header(Markup(f"Latency<br><small>{escape.md_text(d)}</small>"), True, f"Latency ({d})", "s"))
        head.append(_Header(Markup(f"Fits<br><small>{escape.md_text(d)}</small>"), False, f"Fits ({d})"))
    return head


def _variants(cards: Sequence[CardContext], folder: str) -> list[dict[str, Any]]:
    return [
        {"base": g.base, "members": g.members, "href": Markup(f"{folder}/{g.slug}/index.md")}
        for g in variant_groups(cards)
    ]


def _choices(values: Sequence[str]) -> list[str]:
    return sorted({v for v in values if v}, key=lambda v: (v.lower(), v))


def render_index(
    cards: Sequence[CardContext],
    charts: Sequence[ChartRef] = (),
    *,
    title: str = "Models",
    json_file: str = "models.json",
    csv_file: str = "models.csv",
    compare_folder: Optional[str] = None,
) -> str:
    """The comparison page: the filter controls, every model in one table (one ``<tr>``
    per model in its ``<tbody>``), then the charts (``charts.index_charts``), then models
    by task and variant groups (linked to their pages under ``compare_folder``, by default
    :func:`mkdocs_onnx.render.compare.compare_folder`).

    The controls (a search box, task and family selects, "Compare selected") are hidden
    until the index script (``assets/zoo.js``) shows them: without the script they would
    do nothing."""
    devices = devices_of(cards)
    ordered = _ordered(cards)
    failed = [c for c in cards if c.report is None]
    return render(
        "index.md.j2",
        title=title,
        cards=ordered,
        head=_headers(devices),
        rows=[_row(c, devices) for c in ordered],
        tasks=_choices([_task(c) for c in cards]),
        families=_choices([c.report.architecture.family for c in cards if c.report is not None]),
        devices=devices,
        n_ok=len(cards) - len(failed),
        failed=failed,
        charts=[{"title": c.title or c.filename, "alt": c.alt, "src": Markup(c.filename), "note": c.note}
                for c in charts],
        by_task=_by_task(cards),
        variants=_variants(cards, compare_folder or default_compare_folder(cards)),
        card_href=_card_href,
        describe=short_description,
        json_file=Markup(json_file),
        csv_file=Markup(csv_file),
    )


# --------------------------------------------------------------------------- exports


def _entry_dict(c: CardContext) -> dict[str, Any]:
    e = c.entry
    return {
        "name": e.name,
        "slug": e.slug,
        "page": f"{e.slug}/",
        "source": e.source,
        "location": e.location,
        "sha256": e.sha256,
        "description": e.description,
        "task": e.task,
        "tags": list(e.tags),
        "license": e.license,
        "dims": dict(e.dims),
        "variant_of": e.variant_of,
        "links": dict(e.links),
        "model_file": c.model_file,
    }


def models_json(cards: Sequence[CardContext], *,
                report_dict: Optional[Callable[[Report], dict[str, Any]]] = None) -> str:
    """Every model as JSON: a list (manifest order) of the manifest entry's fields plus
    ``status`` ("ok" or "error"), ``report`` (the Report's JSON form, or null),
    ``error`` and ``summary``. Keys sorted; no timings, so the file is reproducible.

    ``report_dict``: gives ``report.to_dict()``, for a caller that has it already."""
    report_dict = report_dict or Report.to_dict
    out = []
    for c in cards:
        item = _entry_dict(c)
        item["status"] = "ok" if c.report is not None else "error"
        item["report"] = report_dict(c.report) if c.report is not None else None
        item["error"] = c.error if c.report is None else None
        item["summary"] = dataclasses.asdict(c.summary) if c.summary is not None else None
        out.append(item)
    return json.dumps(out, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_CSV_BASE = [
    "name",
    "slug",
    "task",
    "tags",
    "status",
    "family",
    "task_guess",
    "params_total",
    "params_trainable",
    "params_non_trainable",
    "params_placeholder",
    "params_in_attributes",
    "params_quantization",
    "flops_total",
    "flops_uncounted_nodes",
    "weights_bytes",
    "peak_activation_bytes",
    "peak_is_lower_bound",
    "file_bytes",
    "opset",
    "node_count",
    "sha256",
    "error",
]


def _csv_text(value: Any) -> str:
    """Text cells starting with = + - @ (a formula in a spreadsheet) get a leading '."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def models_csv(cards: Sequence[CardContext]) -> str:
    """One row per model (manifest order) with the main figures; then, per device with
    any estimate (sorted by name), ``latency_s[<device>]``, ``fits[<device>]`` and
    ``memory_required_bytes[<device>]``. Sizes in bytes, FLOPs and counts exact."""
    devices = sorted(devices_of(cards))
    header = list(_CSV_BASE)
    for d in devices:
        header += [f"latency_s[{d}]", f"fits[{d}]", f"memory_required_bytes[{d}]"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_csv_text(h) for h in header])
    for c in cards:
        e, r = c.entry, c.report
        row = [_csv_text(e.name), _csv_text(e.slug), _csv_text(e.task), _csv_text(";".join(e.tags))]
        if r is None:
            row += ["error"] + [""] * (len(_CSV_BASE) - 6) + [_csv_text(c.error or "analysis failed")]
            row += [""] * (3 * len(devices))
        else:
            row += [
                "ok",
                _csv_text(r.architecture.family),
                _csv_text(r.architecture.task_guess or ""),
                _csv_num(r.params.total),
                _csv_num(r.params.trainable),
                _csv_num(r.params.non_trainable),
                _csv_num(r.params.placeholder),
                _csv_num(r.params.in_attributes),
                _csv_num(r.params.quantization),
                _csv_num(r.flops.total),
                _csv_num(sum(r.flops.uncounted_ops.values())),
                _csv_num(r.memory.weights_bytes),
                _csv_num(r.memory.peak_activation_bytes),
                _csv_num(r.memory.activations_unknown > 0),
                _csv_num(r.memory.file_bytes),
                _csv_num(_opset(r)),
                _csv_num(r.graph.node_count),
                _csv_text(r.model.sha256),
                "",
            ]
            for d in devices:
                h = _estimate(r, d)
                row += (
                    ["", "", ""]
                    if h is None
                    else [_csv_num(h.latency_s), _csv_num(None if h.fits is None else bool(h.fits)), _csv_num(h.memory_required_bytes)]
                )
        w.writerow(row)
    return buf.getvalue()


def nodes_csv(report: Report) -> str:
    """The per-node table of ``report``: columns :data:`NODES_CSV_COLUMNS`, one row per
    ``report.nodes`` entry in report order; ``flops`` is empty for an uncounted node,
    unknown byte counts are empty.

    The ``flops`` column sums to ``report.flops.total`` and ``params`` to
    ``report.params.total`` when the analyzer attributes every FLOP and every weight
    element to exactly one node (the Report's contract for ``nodes``). Should a report
    break that (a weight no node consumes, a subgraph counted twice), a last row named
    :data:`UNATTRIBUTED` carries the difference, so the columns still sum to the totals
    and the discrepancy is visible instead of silent.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(NODES_CSV_COLUMNS)
    flops_sum = 0
    params_sum = 0
    for n in report.nodes:
        flops_sum += n.flops or 0
        params_sum += n.params or 0
        w.writerow(
            [
                _csv_text(n.name),
                _csv_text(n.op_type),
                _csv_text(getattr(n, "subgraph", "")),
                _csv_num(n.flops),
                _csv_num(n.params),
                _csv_num(n.bytes_read),
                _csv_num(getattr(n, "weight_bytes_read", None)),
                _csv_num(n.bytes_written),
            ]
        )
    d_flops = report.flops.total - flops_sum
    d_params = report.params.total - params_sum
    if d_flops or d_params:
        w.writerow([UNATTRIBUTED, "", "", _csv_num(d_flops), _csv_num(d_params), "", "", ""])
    return buf.getvalue()
