"""The model card: one Markdown page per model, for mkdocs-material.

``render_card(ctx, charts)`` writes ``models/<slug>/index.md``. The page links to files
the build writes next to it: the model file (``ctx.model_file``), ``report.json``,
``nodes.csv`` and the chart SVGs (``ChartRef.filename``), all relatively.

Markdown extensions the page relies on (enabled in mkdocs.yml): ``attr_list``,
``md_in_html``, ``admonition``, ``pymdownx.details``, ``pymdownx.tabbed`` (with
``alternate_style: true``), ``tables``, ``abbr``; and ``mkdocs_onnx.render.rawhtml``,
which the plugin adds: the large tables are raw HTML, also inside tabs and admonitions
(Python-Markdown would otherwise parse them cell by cell, most of a build's time).

The numbered notes of "How These Figures Were Obtained" are written as the HTML that
Python-Markdown's ``footnotes`` extension writes (see :class:`Notes`), so that the
tables that refer to them can be raw HTML too.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from markupsafe import Markup

from mkdocs_onnx.analysis.report import HardwareEstimate, Report, TensorInfo
from mkdocs_onnx import units
from mkdocs_onnx.render import escape
from mkdocs_onnx.render.charts import BATCH_CHART, ChartRef
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.render.templating import render

__all__ = ["render_card", "render_error_card", "format_shape", "FAMILY_LABELS", "NETRON"]

NETRON = "https://netron.app/"
REPORT_FILE = "report.json"
NODES_FILE = "nodes.csv"

FAMILY_LABELS = {
    "cnn": "Convolutional neural network",
    "mlp": "Multi-layer perceptron",
    "rnn": "Recurrent neural network",
    "transformer-encoder": "Transformer encoder",
    "transformer-decoder": "Transformer decoder",
    "encoder-decoder": "Encoder-decoder transformer",
    "vision-transformer": "Vision transformer",
    "hybrid": "Hybrid (convolution and attention)",
    "classical-ml": "Classical machine learning (ONNX-ML operators)",
    "unknown": "Not recognised",
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_LABEL = {"error": "Error", "warning": "Warning", "info": "Info"}

# Keys the hardware estimator may use in HardwareEstimate.details (first match wins).
_DEVICE_MEMORY_KEYS = ("device_memory_bytes", "memory_bytes", "memory_capacity_bytes", "vram_bytes", "ram_bytes")
_BANDWIDTH_KEYS = (
    "memory_bandwidth_bytes_per_s", "bandwidth_bytes_per_s", "memory_bandwidth_bps", "memory_bandwidth", "bandwidth",
)
_PEAK_FLOPS_KEYS = ("peak_flops_per_s", "peak_flops", "peak_flop_s", "peak_flops_s", "peak_flops_per_second")
_COMPUTE_SHARE_KEYS = ("compute_bound_share", "compute_bound_fraction", "compute_bound_time_share", "compute_share")
_MEMORY_SHARE_KEYS = ("memory_bound_share", "memory_bound_fraction", "memory_bound_time_share", "memory_share")
_MARGIN_KEYS = ("memory_margin_bytes", "margin_bytes", "headroom_bytes", "free_bytes")
_NAME_KEYS = ("device_name", "name", "display_name")
_SOURCE_KEYS = ("how", "source", "detected", "profile_source")
_ID_KEYS = ("device_id", "profile_id", "id")
# shown in their own place in the tab (notes, warnings, formula, slowest nodes)
_TEXT_KEYS = ("notes", "device_warnings", "message", "formula", "top_nodes")
_KNOWN_KEYS = set(
    _DEVICE_MEMORY_KEYS + _BANDWIDTH_KEYS + _PEAK_FLOPS_KEYS + _COMPUTE_SHARE_KEYS + _MEMORY_SHARE_KEYS
    + _MARGIN_KEYS + _NAME_KEYS + _SOURCE_KEYS + _ID_KEYS + _TEXT_KEYS
    + ("batches", "batch", "batch_size", "device", "profile")
)


# --------------------------------------------------------------------------- helpers


def format_shape(t: TensorInfo) -> Markup:
    """``[1, 1, 28, 28]`` as code (see :meth:`TensorInfo.shape_text`), 'unknown rank', or a
    dash for a value that is no tensor; escaped."""
    text = t.shape_text()
    if t.shape is None:
        return Markup(text or "—")
    return escape.md_code(text)


def _first(mapping: dict, keys: Sequence[str]) -> Any:
    for k in keys:
        if k in mapping and mapping[k] is not None:
            return mapping[k]
    return None


def _detail(h: HardwareEstimate, keys: Sequence[str]) -> Any:
    details = h.details or {}
    v = _first(details, keys)
    if v is None:
        for nested in ("device", "profile"):
            sub = details.get(nested)
            if isinstance(sub, dict):
                v = _first(sub, keys)
                if v is not None:
                    break
    return v


def _num(v: Any) -> Optional[float]:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _humanize_key(key: str) -> str:
    """``compute_bound_time_s`` -> "Compute bound time"; the unit shows in the value."""
    text = str(key).replace("_", " ").strip()
    for suffix in (" bytes per s", " flops per byte", " per s", " bytes", " s"):
        if text.endswith(suffix) and " " in text[: -len(suffix)].strip():
            text = text[: -len(suffix)]
            break
    text = " ".join("FLOPs" if w.lower() == "flops" else w for w in text.split())
    return text[:1].upper() + text[1:]


def _format_detail(key: str, value: Any) -> Markup:
    """Format one loose detail by the unit its key names."""
    k = str(key).lower()
    if isinstance(value, bool):
        return Markup("yes" if value else "no")
    n = _num(value)
    if n is None:
        if isinstance(value, (list, dict)):
            return escape.md_text(", ".join(f"{a}: {b}" for a, b in value.items()) if isinstance(value, dict)
                                  else ", ".join(map(str, value)))
        return escape.md_text(value)
    if k.endswith(("per_byte", "intensity")) or "flops_per_byte" in k:
        return units.exact(n, units.format_intensity(n), "FLOPs/byte")
    if k.endswith(("bytes_per_s", "bandwidth", "_bps")):
        return units.exact(n, units.format_bandwidth(n), "bytes/s")
    if "flops_per_s" in k or "flop_s" in k or "flops_s" in k or k.startswith("peak_flops"):
        return units.exact(n, units.format_flop_rate(n), "FLOP/s")
    if k.endswith("_bytes") or k == "bytes":
        return units.exact(n, units.format_bytes(n), "bytes")
    if k.endswith(("_s", "_seconds")) or k == "latency":
        return units.exact(n, units.format_duration(n), "s")
    if "flops" in k:
        return units.exact(n, units.format_flops(n), "FLOPs")
    if any(w in k for w in ("share", "fraction", "utilization", "efficiency")):
        return units.exact(n, units.format_percent(n))
    if "intensity" in k:
        return units.exact(n, units.format_intensity(n), "FLOPs/byte")
    if float(n).is_integer():
        return units.exact(n, units.format_count(n))
    return units.exact(n, units.sig3(abs(n)) if 0 < abs(n) < 1000 else units.format_count(n))


@dataclass
class _BatchRow:
    batch: Any
    latency: Markup
    throughput: Markup
    memory: Markup
    fits: str
    bottleneck: str = ""


@dataclass
class _SlowNode:
    name: str
    op_type: str
    time: Markup
    bound: str


@dataclass
class _DeviceView:
    title: Markup
    h: HardwareEstimate
    device_memory: Optional[float]
    margin: Optional[float]
    bandwidth: Optional[float]
    peak_flops: Any  # number, or {precision: number}
    compute_share: Optional[float]
    memory_share: Optional[float]
    batch: Any
    batches: list[_BatchRow] = field(default_factory=list)
    batches_have_memory: bool = False
    batches_have_fits: bool = False
    batches_have_bottleneck: bool = False
    others: list[tuple[str, Markup]] = field(default_factory=list)
    source: Any = None
    device_id: Any = None
    fits_text: str = "n/a"
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    formula: str = ""
    slow_nodes: list[_SlowNode] = field(default_factory=list)


def _texts(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def _repeats(key: str, value: Any, h: HardwareEstimate, report: Report, view: _DeviceView) -> bool:
    """Whether a loose detail of an estimate only repeats a figure the card shows anyway
    (the "Other figures" list of the tab leaves it out; report.json keeps every detail)."""
    n = _num(value)
    if key == "lower_bound":  # the section and the latency row say "lower bound"
        return value is True
    if key == "total_flops":  # Complexity Metrics: FLOPs
        return n is not None and n == report.flops.total
    if key == "weights_bytes":  # Complexity Metrics: Weights size (the precision keeps the size)
        return n is not None and n == report.memory.weights_bytes
    if key == "activation_bytes":  # Complexity Metrics: Peak activation memory
        return n is not None and n == report.memory.peak_activation_bytes
    if key in ("weight_scale", "activation_scale"):  # 1: the sizes above, as stored
        return n == 1
    if key == "counted_nodes":  # Graph Summary: Nodes
        return n is not None and n == report.graph.node_count
    if key == "uncounted_nodes":  # none: nothing to say (some: the tab's notes say how many)
        return n == 0
    if key in ("compute_bound_time_s", "memory_bound_time_s"):
        # none of the latency, or all of it: the "Time in ... nodes" rows say 0% / 100%
        share = view.compute_share if key.startswith("compute") else view.memory_share
        return n is not None and ((share == 0 and n == 0) or (share == 1 and n == h.latency_s))
    return False


def _device_view(h: HardwareEstimate, report: Report) -> _DeviceView:
    details = h.details or {}
    memory = _num(_detail(h, _DEVICE_MEMORY_KEYS))
    if memory is not None and memory <= 0:  # a profile without a memory size
        memory = None
    margin = _num(_detail(h, _MARGIN_KEYS))
    if margin is None and memory is not None and h.memory_required_bytes is not None:
        margin = memory - h.memory_required_bytes
    peak = _detail(h, _PEAK_FLOPS_KEYS)
    if not isinstance(peak, dict):
        peak = _num(peak)
    compute = _num(_detail(h, _COMPUTE_SHARE_KEYS))
    mem_share = _num(_detail(h, _MEMORY_SHARE_KEYS))
    if compute is not None and mem_share is None and 0 <= compute <= 1:
        mem_share = 1 - compute
    if mem_share is not None and compute is None and 0 <= mem_share <= 1:
        compute = 1 - mem_share
    view = _DeviceView(
        title=escape.md_text(h.device or "device"),
        h=h,
        device_memory=memory,
        margin=margin,
        bandwidth=_num(_detail(h, _BANDWIDTH_KEYS)),
        peak_flops=peak,
        compute_share=compute,
        memory_share=mem_share,
        batch=_first(details, ("batch", "batch_size")),
        source=_detail(h, _SOURCE_KEYS),
        device_id=_detail(h, _ID_KEYS),
        fits_text=_fits_text(h.fits),
        notes=_texts(details.get("notes")),
        warnings=_texts(details.get("message")) + [
            w for w in _texts(details.get("device_warnings")) if w not in _texts(details.get("message"))
        ],
        formula=str(details.get("formula") or ""),
    )
    if view.batch is None and isinstance(details.get("batches"), list) and details["batches"]:
        first = details["batches"][0]
        if isinstance(first, dict) and _num(first.get("latency_s")) == _num(h.latency_s):
            view.batch = first.get("batch")
    top = details.get("top_nodes")
    if isinstance(top, list):
        for row in top:
            if isinstance(row, dict):
                t = _num(row.get("time_s"))
                view.slow_nodes.append(
                    _SlowNode(
                        str(row.get("name", "")),
                        str(row.get("op_type", "")),
                        units.exact(t, units.format_duration(t), "s"),
                        str(row.get("bound", "")),
                    )
                )
    rows = details.get("batches")
    if isinstance(rows, list):
        for row in rows:
            if not isinstance(row, dict):
                continue
            mem_req = _num(row.get("memory_required_bytes"))
            fits = row.get("fits")
            if fits is None and mem_req is not None and memory is not None:
                fits = mem_req <= memory
            view.batches_have_memory |= mem_req is not None
            view.batches_have_fits |= fits is not None
            view.batches_have_bottleneck |= bool(row.get("bottleneck"))
            view.batches.append(
                _BatchRow(
                    batch=row.get("batch", "?"),
                    latency=units.exact(_num(row.get("latency_s")), units.format_duration(_num(row.get("latency_s"))), "s"),
                    throughput=units.exact(
                        _num(row.get("throughput_per_s")),
                        units.format_rate(_num(row.get("throughput_per_s")), " inferences/s"),
                        "inferences per second",
                    ),
                    memory=units.exact(mem_req, units.format_bytes(mem_req), "bytes"),
                    fits="n/a" if fits is None else ("yes" if fits else "no"),
                    bottleneck=str(row.get("bottleneck") or "").replace("_", " "),
                )
            )
    for key in sorted(details):
        if key in _KNOWN_KEYS:
            continue
        value = details[key]
        if isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
            continue  # structured data we do not know how to show
        if _repeats(key, value, h, report, view):
            continue
        view.others.append((_humanize_key(key), _format_detail(key, value)))
    return view


def _fits_text(fits: Any) -> str:
    if fits is None:
        return "unknown"
    return "yes" if fits else "no"


def _op_rows(op_counts: dict[str, int]) -> list[tuple[str, int, float]]:
    total = sum(op_counts.values()) or 1
    return [(op, c, c / total) for op, c in sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _flop_rows(report: Report) -> list[tuple[str, int, Optional[float]]]:
    total = report.flops.total
    return [
        (op, v, (v / total) if total else None)
        for op, v in sorted(report.flops.by_op_type.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


@dataclass
class _Uncounted:
    op_type: str
    count: int
    reasons: list[str]
    nodes: list[str]
    more_nodes: int


def _uncounted_rows(report: Report) -> list[_Uncounted]:
    rows: dict[str, _Uncounted] = {}
    for op, n in report.flops.uncounted_ops.items():
        rows[op] = _Uncounted(op, n, [], [], 0)
    for u in report.flops.uncounted:
        row = rows.setdefault(u.op_type, _Uncounted(u.op_type, 0, [], [], 0))
        if u.reason and u.reason not in row.reasons and len(row.reasons) < 3:
            row.reasons.append(u.reason)
        if len(row.nodes) < 5:
            row.nodes.append(u.node)
        else:
            row.more_nodes += 1
    for row in rows.values():
        row.count = max(row.count, len(row.nodes) + row.more_nodes)
    return sorted(rows.values(), key=lambda r: (-r.count, r.op_type))


def _links(entry) -> list[Markup]:
    out = []
    for name, url in sorted((entry.links or {}).items()):
        out.append(escape.link(name, url))
    return out


def _facts(entry) -> list[tuple[str, Markup]]:
    """The line under the title: task, license, variant, tags, links."""
    facts: list[tuple[str, Markup]] = []
    if entry.task:
        facts.append(("Task", escape.md_text(entry.task)))
    if entry.license:
        facts.append(("License", escape.md_text(entry.license)))
    if entry.variant_of:
        facts.append(("Variant of", escape.md_text(entry.variant_of)))
    if entry.tags:
        facts.append(("Tags", Markup(" ").join(escape.md_code(t) for t in entry.tags)))
    links = _links(entry)
    if links:
        facts.append(("Links", Markup(", ").join(links)))
    return facts


def _opsets(report: Report) -> Markup:
    parts = [f"{escape.md_text(d or 'ai.onnx')} {int(v)}" for d, v in sorted(report.metadata.opsets.items())]
    return Markup(", ".join(parts)) if parts else Markup("none declared")


def _netron_href(ctx: CardContext, site_url: Optional[str], models_dir: str) -> Optional[Markup]:
    if not site_url or not ctx.model_file:
        return None
    base = escape.safe_url(site_url)
    if base is None or not base.lower().startswith(("http://", "https://")):
        return None
    file_url = urllib.parse.urljoin(
        base.rstrip("/") + "/",
        "/".join(urllib.parse.quote(p) for p in (models_dir.strip("/"), ctx.entry.slug, ctx.model_file) if p),
    )
    return escape.href(NETRON + "?url=" + urllib.parse.quote(file_url, safe=""))


def _file_href(name: str) -> Markup:
    return Markup(urllib.parse.quote(name))


def _summary_view(ctx: CardContext) -> Optional[dict[str, Any]]:
    s = ctx.summary
    if s is None:
        return None
    return {
        "tldr": s.tldr,
        "text": s.text,
        "is_llm": s.source == "llm",
        "author": s.author,
        "note": s.note,
    }


def _dims_rows(report: Report, ctx: CardContext) -> list[dict[str, Any]]:
    manifest = ctx.entry.dims or {}
    batch = set(getattr(report, "batch_dims", []) or [])
    rows = []
    for name in sorted(report.dims):
        value = report.dims[name]
        if name in manifest:
            origin = "models.yml"
        elif value is None:
            origin = "left unbound"
        elif name in batch:
            origin = "batch size"
        else:
            origin = "default"
        rows.append({"name": name, "value": value, "batch": name in batch, "origin": origin})
    return rows


def _risks(report: Report) -> list[Any]:
    return sorted(report.risks, key=lambda r: (SEVERITY_ORDER.get(r.severity, 3), r.id))


NOT_DETERMINED = "not determined"
TOP_NODES = 10  # rows of each ranking of the Per-Layer Breakdown


def _count_or_nd(v: Any) -> Markup:
    return Markup(NOT_DETERMINED) if v is None else units.exact(v, units.format_count(v))


def _bytes_or_nd(v: Any) -> Markup:
    return Markup(NOT_DETERMINED) if v is None else units.exact(v, units.format_bytes(v), "bytes")


def _bound_dims(report: Report) -> str:
    bound = [f"{k} = {v}" for k, v in sorted(report.dims.items()) if v is not None]
    return ", ".join(bound)


def _transformer_rows(report: Report) -> list[tuple[str, Markup]]:
    """The figures of ``report.architecture.transformer``: "not determined" where the graph
    does not fix one (the analyzer never guesses them, nor does the card)."""
    t = report.architecture.transformer
    if t is None:
        return []
    rows: list[tuple[str, Markup]] = [("Layers", _count_or_nd(t.layers))]
    if t.encoder_layers is not None or t.decoder_layers is not None:
        rows.append(("Encoder layers", _count_or_nd(t.encoder_layers)))
        rows.append(("Decoder layers", _count_or_nd(t.decoder_layers)))
    rows += [
        ("Hidden size", _count_or_nd(t.hidden_size)),
        ("Attention heads", _count_or_nd(t.heads)),
        ("Key/value heads", _count_or_nd(t.kv_heads)),
        ("Head dimension", _count_or_nd(t.head_dim)),
        ("Vocabulary size", _count_or_nd(t.vocab_size)),
        ("Context length", Markup(NOT_DETERMINED + " (the graph does not fix it)") if t.context_length is None
         else _count_or_nd(t.context_length)),
        ("MLP width", _count_or_nd(t.intermediate_size)),
        ("KV cache per token", _bytes_or_nd(t.kv_cache_bytes_per_token)),
    ]
    bound = _bound_dims(report)
    label = "KV cache at the bound sequence length" + (f" ({bound})" if bound else "")
    rows.append((label, _bytes_or_nd(t.kv_cache_bytes_at_bound_sequence)))
    return rows


@dataclass
class _RankedNode:
    rank: int
    name: str
    op_type: str
    subgraph: str
    value: Markup
    share: Markup


@dataclass
class _Ranking:
    key: str  # flops | params | activations
    title: str  # the table's heading
    column: str  # the value column's header
    basis: str  # what the share is a share of
    rows: list[_RankedNode]
    candidates: int  # nodes that could be ranked (a non-zero, known value)
    note: Markup = Markup("")  # the line under the table
    noun: str = ""


def _ranking(report: Report, key: str) -> _Ranking:
    nodes = report.nodes
    if key == "flops":
        get = lambda n: n.flops  # noqa: E731
        total: Optional[float] = report.flops.total
        fmt = lambda v: units.exact(v, units.format_flops(v), "FLOPs")  # noqa: E731
        title, column, basis, noun = "Top Nodes by FLOPs", "FLOPs", "of the FLOPs total", "FLOP count"
        eligible = nodes
    elif key == "params":
        get = lambda n: n.params  # noqa: E731
        total = report.params.total
        fmt = lambda v: units.exact(v, units.format_count(v))  # noqa: E731
        title, column, basis, noun = "Top Nodes by Parameters", "Parameters", "of the parameters total", "parameter count"
        eligible = nodes
    else:
        get = lambda n: n.bytes_written  # noqa: E731
        total = sum(n.bytes_written or 0 for n in nodes)
        fmt = lambda v: units.exact(v, units.format_bytes(v), "bytes")  # noqa: E731
        title, column, basis, noun = "Top Nodes by Activation Size", "Output size", "of the bytes written by all nodes", "output size"
        if any(n.bytes_written is None for n in nodes):
            basis += " whose output size is known"
        eligible = [n for n in nodes if not n.folded]  # computed once at load: no per-inference output
    ranked = [(i, n, get(n)) for i, n in enumerate(eligible)]
    ranked = [(i, n, v) for i, n, v in ranked if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0]
    ranked.sort(key=lambda t: (-t[2], t[0]))
    rows = [
        _RankedNode(
            rank=k + 1,
            name=n.name,
            op_type=n.op_type,
            subgraph=getattr(n, "subgraph", "") or "",
            value=fmt(v),
            share=units.exact(v / total, units.format_percent(v / total)) if total else Markup("n/a"),
        )
        for k, (_, n, v) in enumerate(ranked[:TOP_NODES])
    ]
    n = len(ranked)
    if n > len(rows):
        note = f"The top {len(rows)} of {units.exact(n)} nodes with a non-zero {noun}"
    else:
        note = f"All {units.exact(n)} {'node' if n == 1 else 'nodes'} with a non-zero {noun}"
    note += f"; the share is {basis}"
    if total:
        note += f" ({fmt(total)})"
    return _Ranking(key, title, column, basis, rows, n, Markup(note + "."), noun)


def _rankings(report: Report) -> list[_Ranking]:
    """The Per-Layer Breakdown: the top nodes by FLOPs, by parameters and by output size."""
    return [_ranking(report, k) for k in ("flops", "params", "activations")]


def _charts(charts: Sequence[ChartRef]) -> list[dict[str, Any]]:
    titles = {
        "complexity.svg": "Complexity Overview",
        "operators.svg": "Operator Distribution",
        "params.svg": "Parameter Distribution",
        "flops.svg": "FLOPs Distribution",
    }
    return [
        {
            "title": c.title or titles.get(c.filename, c.filename.rsplit(".", 1)[0].replace("_", " ").title()),
            "alt": c.alt,
            "src": _file_href(c.filename),
        }
        for c in charts
    ]


# --------------------------------------------------------------------------- entry points


class Notes:
    """The numbered notes of a card and the marks that refer to them, as the HTML that
    Python-Markdown's ``footnotes`` extension writes with its default settings (same ids,
    classes, numbers and back-links, so Material styles them and shows them as tooltips
    the same way): notes are numbered in the order they are defined, a note's first
    mark has the id ``fnref:KEY``, its n-th ``fnrefN:KEY``, and the note links back to
    every mark. The card calls :meth:`ref` where a note applies, then :meth:`backlinks`
    at the end of each note.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.refs = {key: 0 for key in self.keys}

    def number(self, key: str) -> int:
        return self.keys.index(key) + 1

    def ref(self, key: str) -> Markup:
        """The superscript mark of note ``key``."""
        self.refs[key] += 1
        n = self.refs[key]
        ref_id = f"fnref:{key}" if n == 1 else f"fnref{n}:{key}"
        return Markup(f'<sup id="{ref_id}"><a class="footnote-ref" href="#fn:{key}">{self.number(key)}</a></sup>')

    def backlinks(self, key: str) -> Markup:
        """The links from note ``key`` back to each of its marks (to the first one only
        when there are none yet, as the footnotes extension does)."""
        title = f"Jump back to footnote {self.number(key)} in the text"
        links = "".join(
            f'<a class="footnote-backref" href="#{"fnref" if i == 1 else f"fnref{i}"}:{key}" title="{title}">&#8617;</a>'
            for i in range(1, max(1, self.refs[key]) + 1)
        )
        return Markup("&#160;" + links)


# The notes of "How These Figures Were Obtained", in their order (the devices' three only
# when the card has hardware estimates).
NOTES = ("params", "trainable", "placeholder", "constants", "flops", "weights", "peak", "filesize")
DEVICE_NOTES = ("memreq", "latency", "intensity")


def _notes(report: Report) -> tuple[str, ...]:
    """The card's notes: the quantization parameters' and the attribute-held values' after
    the constants' when it has some, the devices' when it has hardware estimates."""
    at = NOTES.index("constants") + 1
    optional = tuple(note for note, shown in (("quantization", report.params.quantization),
                                              ("attributes", report.params.in_attributes)) if shown)
    return (*NOTES[:at], *optional, *NOTES[at:]) + (DEVICE_NOTES if report.hardware else ())


def render_card(
    ctx: CardContext,
    charts: Sequence[ChartRef] = (),
    site_url: Optional[str] = None,
    *,
    models_dir: str = "models",
    compare: Sequence[tuple[str, str]] = (),
) -> str:
    """The Markdown of one model card.

    ``charts`` are the SVGs written next to the card (see :func:`charts.card_charts`).
    ``site_url`` (MkDocs' ``site_url``), when given, makes the "Open in Netron" link open
    the published model file directly; ``models_dir`` is the folder of the cards under
    the site root. Without it the link opens netron.app and asks for the downloaded file.
    ``compare`` lists the variant comparison pages the model is in, as (base model name,
    href relative to the card).
    """
    if ctx.report is None:
        return render_error_card(ctx, compare=compare)
    report = ctx.report
    flops_uncounted = _uncounted_rows(report)
    return render(
        "card.md.j2",
        ctx=ctx,
        entry=ctx.entry,
        r=report,
        facts=_facts(ctx.entry),
        links=_links(ctx.entry),
        model_href=_file_href(ctx.model_file) if ctx.model_file else None,
        report_file=REPORT_FILE,
        nodes_file=NODES_FILE,
        netron_href=_netron_href(ctx, site_url, models_dir),
        netron_home=Markup(NETRON),
        summary=_summary_view(ctx),
        opsets=_opsets(report),
        inputs=[(t.name, t.dtype, format_shape(t)) for t in report.graph.inputs],
        outputs=[(t.name, t.dtype, format_shape(t)) for t in report.graph.outputs],
        op_rows=_op_rows(report.graph.op_counts),
        flop_rows=_flop_rows(report),
        uncounted=flops_uncounted,
        uncounted_total=sum(r.count for r in flops_uncounted),
        charts=_charts([c for c in charts if c.filename != BATCH_CHART]),
        batch_charts=_charts([c for c in charts if c.filename == BATCH_CHART]),
        transformer=_transformer_rows(report),
        rankings=_rankings(report) if report.nodes else [],
        top_nodes=TOP_NODES,
        dims=_dims_rows(report, ctx),
        family_label=FAMILY_LABELS.get(report.architecture.family, report.architecture.family),
        devices=[_device_view(h, report) for h in report.hardware],
        risks=_risks(report),
        severity_label=SEVERITY_LABEL,
        metadata_props=sorted(report.metadata.metadata_props.items()),
        peak_lower_bound=report.memory.activations_unknown > 0,
        flops_unknown=report.flops.none_counted,
        peak_unknown=report.memory.peak_unknown,
        unbound=sorted(name for name, value in report.dims.items() if value is None),
        compare=_compare_links(compare),
        fn=Notes(_notes(report)),
    )


def _compare_links(compare: Sequence[tuple[str, str]]) -> list[tuple[str, Markup]]:
    out = []
    for base, href in compare:
        url = escape.safe_url(href)
        if url is not None:
            out.append((base, Markup(url)))
    return out


def render_error_card(ctx: CardContext, *, compare: Sequence[tuple[str, str]] = ()) -> str:
    """The card of a model that could not be analysed: the error and the manifest data."""
    return render(
        "error_card.md.j2",
        ctx=ctx,
        entry=ctx.entry,
        facts=_facts(ctx.entry),
        links=_links(ctx.entry),
        model_href=_file_href(ctx.model_file) if ctx.model_file else None,
        error=ctx.error or "The model could not be analysed (no reason was recorded).",
        compare=_compare_links(compare),
    )
