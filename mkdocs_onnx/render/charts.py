"""SVG charts for the cards and the comparison page, drawn with matplotlib.

Every chart is byte-identical from one build to the next: a fixed figure size, a fixed
SVG hash salt (element ids), no date and no creator in the SVG metadata, text drawn as
paths with the font matplotlib ships. Charts have a transparent background and
mid-grey text and axes, so they read on Material's light and dark schemes alike.

The pyplot state machine is not used (a :class:`matplotlib.figure.Figure` is made and
saved directly), so the charts neither depend on nor change the process's backend.

Every chart comes with alt text that states the data it shows; items that cannot be
drawn (a zero on a log scale) are left out and the alt text says so.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.render import units

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ChartRef", "BATCH_CHART", "batch_chart", "card_charts", "index_charts", "compare_chart", "compare_charts", "HASH_SALT"]

HASH_SALT = "mkdocs-onnx"
TEXT = "#888888"  # reads on white and on Material's slate background
GRID = "#88888840"
PALETTE = ["#4c9be8", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#9c755f", "#d4a017"]
WIDTH = 7.0  # inches; Material's content column is about 700 px wide
TOP_N = 12  # bars shown before the rest is folded into "other"

_RC = {
    "svg.hashsalt": HASH_SALT,
    "svg.fonttype": "path",  # glyphs as paths: no font lookup in the browser, no text injection
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.edgecolor": TEXT,
    "axes.titlecolor": TEXT,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "axes.facecolor": "none",
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.edgecolor": "none",
    "savefig.transparent": True,
    "path.simplify": False,
    "text.usetex": False,
    "axes.unicode_minus": False,
}


@dataclass
class ChartRef:
    """One chart: the file name next to the page, its alt text and the SVG itself."""

    filename: str
    alt: str
    svg: str
    title: str = ""
    note: str = ""  # shown under the chart: what it leaves out, for those who see the picture only


# --------------------------------------------------------------------------- helpers


def _plain(label: str, limit: int = 40) -> str:
    """A label for matplotlib: no mathtext ($), no control characters, bounded length."""
    text = " ".join(str(label).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _alt_label(label: str, limit: int = 60) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ticker():
    """matplotlib.ticker; matplotlib is imported on the first drawing only, since a warm
    build takes every chart from the cache and need not pay for the import."""
    from matplotlib import ticker

    return ticker


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), dpi=100)


def _save(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=None)
    return buf.getvalue().decode("utf-8")


def _render(draw, height: float) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(height)
        draw(fig)
        return _save(fig)


def _left_margin(labels: Sequence[str], minimum: float = 0.12) -> float:
    """Room for the longest y tick label (about 7 px per character at 9 pt)."""
    longest = max((len(label) for label in labels), default=0)
    return min(0.45, max(minimum, (longest * 7.0 + 30) / (WIDTH * 100)))


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(length=3)


def _empty(fig: Figure, message: str) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.text(0.5, 0.5, _plain(message, 80), ha="center", va="center", fontsize=11, color=TEXT)


def _top(items: Sequence[tuple[str, float]], n: int = TOP_N) -> tuple[list[tuple[str, float]], int]:
    """Sort by value desc then name; keep ``n - 1`` and fold the rest into "other".

    Returns the list and the number of items folded."""
    ordered = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    if len(ordered) <= n:
        return list(ordered), 0
    head = ordered[: n - 1]
    rest = ordered[n - 1 :]
    return head + [(f"other ({len(rest)} types)", sum(v for _, v in rest))], len(rest)


def _hbar(
    fig: Figure,
    items: list[tuple[str, float]],
    fmt,
    xlabel: str,
    *,
    log: bool = False,
    share_of: Optional[float] = None,
) -> None:
    ax = fig.add_subplot(1, 1, 1)
    labels = [_plain(k) for k, _ in items]
    values = [v for _, v in items]
    ys = list(range(len(items)))
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(items))]
    ax.barh(ys, values, color=colors, height=0.65)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        lo = min(values)
        hi = max(values)
        ax.set_xlim(lo / 3 if lo > 0 else 1, hi * 30)
        _decades(ax.xaxis)
    else:
        hi = max(values) if values else 1
        ax.set_xlim(0, hi * 1.35 if hi > 0 else 1)
        ax.set_xticks([])  # every bar is labelled with its value: no scale needed
    ax.set_xlabel(xlabel)
    for y, v in zip(ys, values):
        text = fmt(v)
        if share_of:
            text += f"  ({units.format_percent(v / share_of)})"
        ax.text(v, y, "  " + _plain(text, 60), va="center", ha="left", fontsize=8.5, color=TEXT)
    _style(ax)
    h = fig.get_figheight()
    fig.subplots_adjust(left=_left_margin(labels), right=0.97, top=1 - 0.15 / h, bottom=0.62 / h)


def _height(n: int) -> float:
    """Figure height for ``n`` bars: the bar thickness stays the same from chart to chart."""
    return 0.9 + 0.3 * max(n, 1)


def _compact(text: str) -> str:
    """Tick labels: "10.0 K" -> "10 K", "1.00 MFLOPs" -> "1 MFLOPs"."""
    return re.sub(r"(\d)\.0+(?=\D|$)", r"\1", text)


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decades(axis) -> None:
    """A log-10 axis ticked at whole decades, labelled 10², 10³, … in plain text, without
    minor ticks: matplotlib's own labels go through its math-text layout and its minor
    ticks add some 40 tick objects, together half the time of drawing such a chart."""
    ticker = _ticker()
    axis.set_major_locator(ticker.LogLocator(base=10, numticks=8))
    axis.set_major_formatter(ticker.FuncFormatter(_power_of_ten))
    axis.set_minor_locator(ticker.NullLocator())


def _power_of_ten(v: float, _pos=None) -> str:
    """'10³' for 1000; '' for a value that is no power of ten."""
    if v <= 0:
        return ""
    exponent = round(math.log10(v))
    return "10" + str(exponent).translate(_SUPERSCRIPTS) if math.isclose(v, 10.0**exponent) else ""


def _tick_formatter(fmt):
    return _ticker().FuncFormatter(lambda v, _pos: _plain(_compact(fmt(v)), 30) if v > 0 else "0")


# --------------------------------------------------------------------------- card charts


def complexity_chart(report: Report) -> ChartRef:
    candidates = [
        ("Parameters", report.params.total, units.format_count, "elements"),
        ("FLOPs", report.flops.total, units.format_flops, ""),
        ("Weights", report.memory.weights_bytes, units.format_bytes, ""),
        ("Peak activations", report.memory.peak_activation_bytes, units.format_bytes, ""),
        ("File size", report.memory.file_bytes, units.format_bytes, ""),
    ]
    shown = [(n, v, f) for n, v, f, _ in candidates if v and v > 0]
    skipped = [n for n, v, _, _ in candidates if not v or v <= 0]
    described = ", ".join(f"{n} {f(v)}" for n, v, f in shown)
    alt = "Horizontal bar chart on a log scale of the model's size figures"
    alt += f": {described}." if shown else ": no non-zero figures to draw."
    if skipped:
        alt += f" Not drawn (zero, no log scale point): {', '.join(skipped)}."

    def draw(fig: Figure) -> None:
        if not shown:
            _empty(fig, "No non-zero size figures")
            return
        fmts = {n: f for n, _, f in shown}
        items = [(n, float(v)) for n, v, _ in shown]
        ax = fig.add_subplot(1, 1, 1)
        ys = list(range(len(items)))
        ax.barh(ys, [v for _, v in items], color=[PALETTE[i] for i in ys], height=0.6)
        ax.set_yticks(ys, [_plain(n) for n, _ in items])
        ax.invert_yaxis()
        ax.set_xscale("log")
        lo = min(v for _, v in items)
        hi = max(v for _, v in items)
        ax.set_xlim(max(lo / 3, 0.5), hi * 40)
        _decades(ax.xaxis)
        ax.set_xlabel("log scale (elements, FLOPs or bytes)")
        for y, (n, v) in zip(ys, items):
            ax.text(v, y, "  " + fmts[n](v), va="center", ha="left", fontsize=8.5, color=TEXT)
        _style(ax)
        fig.subplots_adjust(left=0.2, right=0.97, top=0.95, bottom=0.2)

    return ChartRef("complexity.svg", alt, _render(draw, 2.9), "Complexity Overview")


def operator_chart(report: Report) -> ChartRef:
    items = [(op, float(c)) for op, c in report.graph.op_counts.items() if c > 0]
    top, folded = _top(items)
    if top:
        alt = "Bar chart of operator counts: " + ", ".join(f"{_alt_label(k)} {int(v):,}" for k, v in top) + "."
        if folded:
            alt += f" The {folded} least frequent operator types are grouped as other."
    else:
        alt = "Bar chart of operator counts: the graph has no nodes."

    def draw(fig: Figure) -> None:
        if not top:
            _empty(fig, "The graph has no nodes")
            return
        _hbar(fig, top, lambda v: f"{int(v):,}", "nodes", share_of=sum(v for _, v in items))

    return ChartRef("operators.svg", alt, _render(draw, _height(len(top))), "Operator Distribution")


def _params_by_op(report: Report) -> list[tuple[str, float]]:
    by_op: dict[str, int] = {}
    for node in report.nodes:
        if node.params:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + int(node.params)
    return [(k, float(v)) for k, v in by_op.items() if v > 0]


def params_chart(report: Report) -> ChartRef:
    items = _params_by_op(report)
    what, basis = "parameters", "operator type of the node that first uses each weight"
    if not items and report.params.by_dtype:  # no per-node table: fall back to dtypes
        items = [(k, float(v)) for k, v in report.params.by_dtype.items() if v > 0]
        basis = "data type"
    if not items and report.params.in_attributes:  # a classical-ML model: its operators hold what it learned
        items = [(k, float(v)) for k, v in report.params.in_attributes_by_op.items() if v > 0]
        what, basis = "learned values held in operator attributes", "operator type"
    top, folded = _top(items)
    total = report.params.total or report.params.in_attributes
    if top:
        alt = f"Bar chart of {what} by {basis}: " + ", ".join(
            f"{_alt_label(k)} {units.format_count(v)}" for k, v in top
        ) + "."
        if folded:
            alt += f" The {folded} smallest groups are combined as other."
    else:
        alt = "Bar chart of parameters: the model has no weights, nothing to draw."

    def draw(fig: Figure) -> None:
        if not top:
            _empty(fig, "No weights")
            return
        _hbar(fig, top, units.format_count, f"{what} (by {basis.split(' of ')[0]})",
              share_of=total or sum(v for _, v in items))

    return ChartRef("params.svg", alt, _render(draw, _height(len(top))), "Parameter Distribution")


def flops_chart(report: Report) -> ChartRef:
    items = [(k, float(v)) for k, v in report.flops.by_op_type.items() if v and v > 0]
    zero = sorted(k for k, v in report.flops.by_op_type.items() if not v)
    top, folded = _top(items)
    uncounted = sum(report.flops.uncounted_ops.values())
    if top:
        alt = "Bar chart of FLOPs by operator type: " + ", ".join(
            f"{_alt_label(k)} {units.format_flops(v)}" for k, v in top
        ) + "."
        if folded:
            alt += f" The {folded} smallest are combined as other."
    else:
        alt = "Bar chart of FLOPs by operator type: no operator has a non-zero FLOP count."
    if zero:
        alt += f" Operator types with zero FLOPs, not drawn: {', '.join(_alt_label(z) for z in zero)}."
    if uncounted:
        alt += f" {units.count_of(uncounted, 'node')} could not be counted and {'is' if uncounted == 1 else 'are'} not included."

    def draw(fig: Figure) -> None:
        if not top:
            _empty(fig, "No counted FLOPs")
            return
        _hbar(fig, top, units.format_flops, "FLOPs", share_of=report.flops.total or None)

    return ChartRef("flops.svg", alt, _render(draw, _height(len(top))), "FLOPs Distribution")


BATCH_CHART = "batch_scaling.svg"


def _finite_positive(value) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if v > 0 and v == v and v != float("inf") else None


@dataclass
class _BatchSeries:
    device: str
    points: list[tuple[float, Optional[float], Optional[float]]]  # batch, throughput/s, memory bytes
    device_memory: Optional[float]


def _batch_series(report: Report) -> list[_BatchSeries]:
    """Per estimate with batch rows: (batch, throughput, memory required), batch ascending.
    Rows without a usable batch size are left out; a missing figure is None."""
    out = []
    for h in report.hardware:
        rows = (h.details or {}).get("batches")
        if not isinstance(rows, list):
            continue
        points = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            b = _finite_positive(row.get("batch"))
            if b is None:
                continue
            points.append((b, _finite_positive(row.get("throughput_per_s")),
                           _finite_positive(row.get("memory_required_bytes"))))
        if not points:
            continue
        points.sort(key=lambda p: p[0])
        memory = _finite_positive((h.details or {}).get("device_memory_bytes"))
        out.append(_BatchSeries(str(h.device or "device"), points, memory))
    return out


def _batch_text(b: float) -> str:
    return str(int(b)) if float(b).is_integer() else units.sig3(b)


def batch_chart(report: Report) -> Optional[ChartRef]:
    """Throughput (inferences/s) and memory required against the batch size, one line per
    device with batch rows in its estimate (``details["batches"]``), on a log-2 batch axis;
    the memory panel marks each device's memory with a dashed line (batch_scaling.svg).
    None when no estimate has batch rows."""
    series = _batch_series(report)
    if not series:
        return None
    batches = sorted({p[0] for s in series for p in s.points})
    lo_b, hi_b = batches[0], batches[-1]
    parts = []
    missing = []
    for s in series:
        figures = []
        for b, tp, mem in s.points:
            bits = [f"{units.format_rate(tp, ' inferences/s')}" if tp is not None else "throughput unknown",
                    f"{units.format_bytes(mem)}" if mem is not None else "memory unknown"]
            figures.append(f"batch {_batch_text(b)} " + " and ".join(bits))
            if tp is None or mem is None:
                missing.append(f"{_alt_label(s.device)} batch {_batch_text(b)}")
        text = f"{_alt_label(s.device)}: " + ", ".join(figures)
        if s.device_memory is not None:
            text += f"; device memory {units.format_bytes(s.device_memory)}"
        parts.append(text)
    alt = (
        f"Two line charts against the batch size ({_batch_text(lo_b)} to {_batch_text(hi_b)}, log 2 scale): "
        "throughput in inferences per second (top) and memory required (bottom, each device's memory as a "
        "dashed line), per device. " + "; ".join(parts) + "."
    )
    if missing:
        alt += " Figures unknown, not drawn: " + ", ".join(missing) + "."

    import math

    ticks = [float(2**k) for k in range(math.floor(math.log2(lo_b)), math.ceil(math.log2(hi_b)) + 1)]

    def draw(fig: Figure) -> None:
        ticker = _ticker()
        top = fig.add_subplot(2, 1, 1)
        bottom = fig.add_subplot(2, 1, 2, sharex=top)
        markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
        mem_values: list[float] = []
        tp_values: list[float] = []
        for i, s in enumerate(series):
            color = PALETTE[i % len(PALETTE)]
            marker = markers[i % len(markers)]
            label = _plain(s.device, 30)
            tp = [(b, v) for b, v, _ in s.points if v is not None]
            mem = [(b, v) for b, _, v in s.points if v is not None]
            if tp:
                top.plot([b for b, _ in tp], [v for _, v in tp], color=color, marker=marker, markersize=4,
                         linewidth=1.4, label=label)
                tp_values += [v for _, v in tp]
            if mem:
                bottom.plot([b for b, _ in mem], [v for _, v in mem], color=color, marker=marker, markersize=4,
                            linewidth=1.4, label=label)
                mem_values += [v for _, v in mem]
            if s.device_memory is not None:
                bottom.axhline(s.device_memory, color=color, linestyle="--", linewidth=1.0)
                mem_values.append(s.device_memory)
        for ax, values, fmt, ylabel, base in (
            (top, tp_values, lambda v: units.format_rate(v, "/s"), "inferences per second", 10),
            (bottom, mem_values, units.format_bytes, "memory required", 2),
        ):
            ax.set_xscale("log", base=2)
            if values:
                ax.set_yscale("log", base=base)
                ax.set_ylim(min(values) / 2, max(values) * 2)
                ax.yaxis.set_major_locator(ticker.LogLocator(base=base, numticks=6))
                ax.yaxis.set_major_formatter(_tick_formatter(fmt))
                ax.yaxis.set_minor_locator(ticker.NullLocator())  # unlabelled anyway, and costly to lay out
            else:
                ax.set_yticks([])
                ax.text(0.5, 0.5, "no figures", transform=ax.transAxes, ha="center", va="center", color=TEXT)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", color=GRID, linewidth=0.6)
            ax.set_axisbelow(True)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.tick_params(length=3)
        top.set_xlim(ticks[0] / 1.3, ticks[-1] * 1.3)
        bottom.xaxis.set_major_locator(ticker.FixedLocator(ticks))
        bottom.xaxis.set_major_formatter(ticker.FixedFormatter([_batch_text(t) for t in ticks]))
        bottom.xaxis.set_minor_locator(ticker.NullLocator())
        top.xaxis.set_minor_locator(ticker.NullLocator())
        top.tick_params(labelbottom=False)
        bottom.set_xlabel("batch size (log 2 scale)")
        legends = []
        if top.get_legend_handles_labels()[0]:
            legends.append(top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False))
        if any(s.device_memory is not None for s in series):
            from matplotlib.lines import Line2D

            handle = Line2D([], [], color=TEXT, linestyle="--", linewidth=1.0)
            legends.append(bottom.legend([handle], ["device memory"], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                                         fontsize=7.5, frameon=False))
        for leg in legends:
            for text in leg.get_texts():
                text.set_color(TEXT)
        fig.subplots_adjust(left=0.14, right=0.66, top=0.97, bottom=0.1, hspace=0.12)

    return ChartRef(BATCH_CHART, alt, _render(draw, 5.2), "Throughput and Memory by Batch Size")


def card_charts(report: Report) -> list[ChartRef]:
    """The charts of a card: complexity overview, operator histogram, parameter and FLOPs
    distributions (file names complexity.svg, operators.svg, params.svg, flops.svg) and,
    when a hardware estimate has batch rows, throughput and memory against the batch size
    (:data:`BATCH_CHART`, shown in the Hardware Estimates section)."""
    charts = [complexity_chart(report), operator_chart(report), params_chart(report), flops_chart(report)]
    batch = batch_chart(report)
    if batch is not None:
        charts.append(batch)
    return charts


# --------------------------------------------------------------------------- index charts


def _log_axis_formatter(fmt):
    return _tick_formatter(fmt)


def _place_labels(ax, labels: Sequence[str], xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    """Offsets (in points) for point labels, chosen greedily so that labels overlap
    neither each other nor other points where a free spot exists. Deterministic."""
    fig = ax.figure
    pt = fig.dpi / 72.0  # pixels per point
    points = ax.transData.transform(list(zip(xs, ys)))
    bbox = ax.get_window_extent()
    placed: list[tuple[float, float, float, float]] = []
    dots = [(px - 4, py - 4, px + 4, py + 4) for px, py in points]
    out: list[tuple[float, float]] = []
    order = sorted(range(len(labels)), key=lambda i: (-points[i][1], points[i][0], labels[i]))
    result: dict[int, tuple[float, float]] = {}
    for i in order:
        w = (len(labels[i]) * 4.6 + 2) * pt
        h = 9 * pt
        px, py = points[i]
        best, best_score = None, None
        for ox, oy in ((5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (-5, 14), (5, -21), (-5, -21), (5, 24), (5, -31)):
            x0 = px + ox * pt if ox > 0 else px + ox * pt - w
            y0 = py + oy * pt
            box = (x0, y0, x0 + w, y0 + h)
            overlap = sum(_overlap(box, b) for b in placed) + sum(_overlap(box, d) for d in dots)
            outside = max(0.0, bbox.x0 - box[0]) + max(0.0, box[2] - bbox.x1) + max(0.0, box[3] - bbox.y1) + max(
                0.0, bbox.y0 - box[1])
            score = overlap + outside * h * 4
            if best_score is None or score < best_score - 1e-9:
                best, best_score = (ox, oy, box), score
            if score == 0:
                break
        ox, oy, box = best
        placed.append(box)
        result[i] = (ox if ox > 0 else ox - w / pt, oy)
    for i in range(len(labels)):
        out.append(result[i])
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def scatter_chart(reports: Sequence[tuple[str, Report]]) -> ChartRef:
    points = [(n, r.params.total, r.flops.total) for n, r in reports]
    shown = [(n, p, f) for n, p, f in points if p and p > 0 and f and f > 0]
    skipped = [n for n, p, f in points if not (p and p > 0 and f and f > 0)]
    if shown:
        alt = "Log-log scatter plot of parameters against FLOPs per model: " + "; ".join(
            f"{_alt_label(n)} {units.format_count(p)} parameters, {units.format_flops(f)}" for n, p, f in shown
        ) + "."
    else:
        alt = "Log-log scatter plot of parameters against FLOPs: no model has both figures non-zero."
    note = f"Not drawn (zero parameters or FLOPs): {', '.join(_alt_label(s) for s in skipped)}." if skipped else ""
    alt += f" {note}" if note else ""

    def draw(fig: Figure) -> None:
        if not shown:
            _empty(fig, "No model with non-zero parameters and FLOPs")
            return
        ax = fig.add_subplot(1, 1, 1)
        xs = [float(p) for _, p, _ in shown]
        ys = [float(f) for _, _, f in shown]
        ax.scatter(xs, ys, s=36, color=[PALETTE[i % len(PALETTE)] for i in range(len(shown))], zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(min(xs) / 4, max(xs) * 8)
        ax.set_ylim(min(ys) / 4, max(ys) * 4)
        fig.subplots_adjust(left=0.16, right=0.97, top=0.95, bottom=0.13)
        labels = [_plain(n, 40) for n, _, _ in shown]
        for label, (x, y), (dx, dy) in zip(labels, zip(xs, ys), _place_labels(ax, labels, xs, ys)):
            # a label pushed away from its point gets a thin leader line back to it
            leader = dict(arrowstyle="-", color=TEXT, linewidth=0.5, shrinkA=0, shrinkB=4) if abs(dy) > 12 else None
            ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8, color=TEXT,
                        arrowprops=leader)
        ax.xaxis.set_major_formatter(_log_axis_formatter(units.format_count))
        ax.yaxis.set_major_formatter(_log_axis_formatter(units.format_flops))
        ax.xaxis.set_minor_formatter(_ticker().NullFormatter())
        ax.yaxis.set_minor_formatter(_ticker().NullFormatter())
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel("FLOPs per inference (log scale)")
        ax.grid(True, which="major", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.subplots_adjust(left=0.16, right=0.97, top=0.95, bottom=0.13)

    return ChartRef("params_vs_flops.svg", alt, _render(draw, 4.6), "Parameters vs FLOPs", note)


def latency_chart(reports: Sequence[tuple[str, Report]]) -> Optional[ChartRef]:
    devices: list[str] = []
    for _, r in reports:
        for h in r.hardware:
            if h.device not in devices:
                devices.append(h.device)
    if not devices:
        return None
    rows: list[tuple[str, str, Optional[float]]] = []
    for n, r in reports:
        by_dev = {}
        for h in r.hardware:
            by_dev.setdefault(h.device, h.latency_s)
        for d in devices:
            if d in by_dev:
                rows.append((n, d, by_dev[d]))
    shown = [(n, d, v) for n, d, v in rows if v is not None and v > 0]
    skipped = [(n, d) for n, d, v in rows if v is None or v <= 0]
    if shown:
        alt = "Bar chart on a log scale of the estimated latency lower bound per model and device: " + "; ".join(
            f"{_alt_label(n)} on {_alt_label(d)} {units.format_duration(v)}" for n, d, v in shown
        ) + "."
    else:
        alt = "Bar chart of estimated latency: no latency estimate is available."
    if skipped:
        alt += " No estimate (not drawn): " + ", ".join(f"{_alt_label(n)} on {_alt_label(d)}" for n, d in skipped) + "."
    models = []
    for n, _, _ in shown:
        if n not in models:
            models.append(n)

    def draw(fig: Figure) -> None:
        if not shown:
            _empty(fig, "No latency estimates")
            return
        ax = fig.add_subplot(1, 1, 1)
        k = len(devices)
        bar_h = _bar_height(k)
        for j, d, ys, vs in _grouped_bars(models, devices, shown):
            if ys:
                ax.barh(ys, vs, height=bar_h * 0.9, color=PALETTE[j % len(PALETTE)], label=_plain(d, 36))
        ax.set_yticks(list(range(len(models))), [_plain(m, 28) for m in models])
        ax.invert_yaxis()
        ax.set_xscale("log")
        vals = [v for _, _, v in shown]
        ax.set_xlim(min(vals) / 3, max(vals) * 3)
        ax.xaxis.set_major_formatter(_log_axis_formatter(units.format_duration))
        ax.xaxis.set_minor_formatter(_ticker().NullFormatter())
        ax.set_xlabel("latency lower bound per inference (log scale)")
        _legend_above(fig, ax, k, [_plain(m, 28) for m in models])

    height = 1.2 + 0.22 * ((len(devices) + 1) // 2) + 0.25 * max(1, len(models)) * max(1, min(len(devices), 3))
    return ChartRef("latency.svg", alt, _render(draw, min(height, 14.0)), "Latency per Device")


def _bar_height(series: int) -> float:
    """Each group's bars share 0.8 of the space between two groups."""
    return 0.8 / max(1, series)


def _grouped_bars(groups: list[str], series: list[str], rows) -> Iterator[tuple[int, str, list[float], list[float]]]:
    """Grouped horizontal bars: for each series in order, its index, name, and the y position
    and value of each of its bars (group ``i`` centred on y = i). ``rows`` are (group, series, value)."""
    bar_h = _bar_height(len(series))
    for j, name in enumerate(series):
        ys, vs = [], []
        for i, group in enumerate(groups):
            for row_group, row_series, value in rows:
                if row_group == group and row_series == name:
                    ys.append(i - 0.4 + bar_h * (j + 0.5))
                    vs.append(value)
        yield j, name, ys, vs


def _legend_above(fig: Figure, ax, series: int, tick_labels: list[str]) -> None:
    """Grouped horizontal bars: the legend above the axes in two columns, margins that fit it."""
    leg = ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False, ncol=min(series, 2))
    for t in leg.get_texts():
        t.set_color(TEXT)
    _style(ax)
    h = fig.get_figheight()
    legend_rows = (series + 1) // 2
    fig.subplots_adjust(left=_left_margin(tick_labels), right=0.97,
                        top=1 - (0.15 + 0.22 * legend_rows) / h, bottom=0.62 / h)


def _ratio_text(ratio: float, compact: bool = False) -> str:
    text = f"{ratio:,.0f}" if ratio >= 100 else units.sig3(ratio)
    return "×" + (_compact(text) if compact else text)


def compare_chart(reports: Sequence[tuple[str, Report]]) -> ChartRef:
    """Variants against their base (the first report): one group of bars per figure
    (parameters, FLOPs, weights, peak activations, latency per device), each bar the
    variant's value as a multiple of the base's, on a log scale (compare.svg)."""
    base_name, base = reports[0]
    variants = list(reports[1:])
    figures: list[tuple[str, Callable]] = [
        ("Parameters", lambda r: r.params.total),
        ("FLOPs", lambda r: r.flops.total),
        ("Weights", lambda r: r.memory.weights_bytes),
        ("Peak activations", lambda r: r.memory.peak_activation_bytes),
    ]
    for h in base.hardware:
        figures.append((f"Latency ({h.device})",
                        lambda r, d=h.device: next((x.latency_s for x in r.hardware if x.device == d), None)))
    rows: list[tuple[str, str, float]] = []  # figure, variant, ratio
    skipped: list[str] = []
    for label, get in figures:
        b = get(base)
        for name, r in variants:
            v = get(r)
            if b and v and b > 0 and v > 0:
                rows.append((label, name, float(v) / float(b)))
            else:
                skipped.append(f"{_alt_label(label)} of {_alt_label(name)}")
    if rows:
        alt = (f"Bar chart on a log scale of each variant's figures as a multiple of the base model "
               f"{_alt_label(base_name)}'s (1 = the same): " + "; ".join(
                   f"{_alt_label(name)} {label} {_ratio_text(ratio)}" for label, name, ratio in rows) + ".")
    else:
        alt = f"Bar chart of the variants of {_alt_label(base_name)}: no figure can be compared."
    if skipped:
        alt += " Not drawn (zero or unknown): " + ", ".join(skipped) + "."
    labels = []
    for label, _, _ in rows:
        if label not in labels:
            labels.append(label)
    names = [n for n, _ in variants]

    def draw(fig: Figure) -> None:
        if not rows:
            _empty(fig, "No figure can be compared")
            return
        ax = fig.add_subplot(1, 1, 1)
        k = max(1, len(names))
        bar_h = _bar_height(k)
        for j, name, ys, vs in _grouped_bars(labels, names, rows):
            if not ys:
                continue
            # bars grow from 1 (the base) towards the ratio, left for smaller, right for larger
            ax.barh(ys, [v - 1 for v in vs], left=1, height=bar_h * 0.9, color=PALETTE[(j + 1) % len(PALETTE)],
                    label=_plain(name, 60))
            for y, v in zip(ys, vs):
                ax.text(v, y, ("  " + _ratio_text(v)) if v >= 1 else (_ratio_text(v) + "  "), va="center",
                        ha="left" if v >= 1 else "right", fontsize=8, color=TEXT)
        ax.axvline(1, color=TEXT, linewidth=1)
        ax.set_yticks(list(range(len(labels))), [_plain(lab, 40) for lab in labels])
        ax.invert_yaxis()
        ax.set_xscale("log")
        ratios = [r for _, _, r in rows]
        lo, hi = min(min(ratios), 1.0), max(max(ratios), 1.0)
        ax.set_xlim(lo / 4, hi * 4)
        ax.xaxis.set_major_formatter(_ticker().FuncFormatter(lambda v, _pos: _ratio_text(v, compact=True) if v > 0 else "0"))
        ax.xaxis.set_minor_formatter(_ticker().NullFormatter())
        ax.set_xlabel(_plain(f"multiple of {base_name} (log scale; 1 = same as the base)", 80))
        _legend_above(fig, ax, k, [_plain(lab, 40) for lab in labels])

    height = 1.2 + 0.22 * ((len(names) + 1) // 2) + 0.3 * max(1, len(labels)) * max(1, min(len(names), 3))
    return ChartRef("compare.svg", alt, _render(draw, min(height, 14.0)), "Variants Relative to the Base")


def compare_charts(reports: Sequence[tuple[str, Report]]) -> list[ChartRef]:
    """Charts of a variant comparison page (the base's report first): compare.svg."""
    return [compare_chart(reports)]


def index_charts(reports: Sequence[tuple[str, Report]]) -> list[ChartRef]:
    """Charts of the comparison page: parameters vs FLOPs (params_vs_flops.svg) and, when
    any report has hardware estimates, latency per model and device (latency.svg)."""
    charts = [scatter_chart(reports)]
    lat = latency_chart(reports)
    if lat is not None:
        charts.append(lat)
    return charts
