"""SVG charts for the cards, the index and the comparison pages, with their alt texts.

Charts are bars, lines and points on plain axes, written directly as SVG by
:mod:`mkdocs_onnx.render.svg` (a cold build draws five per model, so they must be cheap).

Every chart is byte-identical from one build to the next (same data, same bytes: no
dates, no random ids). Charts have a transparent background and mid-grey text and axes,
so they read on Material's light and dark schemes alike.

Every chart comes with alt text that states the data it shows; items that cannot be
drawn (a zero on a log scale) are left out and the alt text says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx import units
from mkdocs_onnx.render import svg

__all__ = ["ChartRef", "BATCH_CHART", "batch_chart", "card_charts", "index_charts", "compare_chart", "compare_charts"]

TEXT = "#888888"  # reads on white and on Material's slate background
GRID = "#88888840"
PALETTE = ["#4c9be8", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#9c755f", "#d4a017"]
WIDTH = 7.0  # inches (504 points); Material's content column is about 700 px wide
TOP_N = 12  # bars shown before the rest is folded into "other"


@dataclass
class ChartRef:
    """One chart: the file name next to the page, its alt text and the SVG itself."""

    filename: str
    alt: str
    svg: str
    title: str = ""
    note: str = ""  # shown under the chart: what it leaves out, for those who see the picture only


# --------------------------------------------------------------------------- helpers


def _label(label: str, limit: int = 60) -> str:
    """A label as plain text on one line, at most ``limit`` characters (alt texts, SVG text)."""
    text = " ".join(str(label).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _left_margin(labels: Sequence[str], minimum: float = 0.12) -> float:
    """Room for the longest y tick label and its tick, as a fraction of the chart's width."""
    longest = max((len(label) for label in labels), default=0)
    return min(0.45, max(minimum, (longest * svg.CHAR_WIDTH + 22) / (WIDTH * 72)))


def _top(items: Sequence[tuple[str, float]], n: int = TOP_N) -> tuple[list[tuple[str, float]], int]:
    """Sort by value desc then name; keep ``n - 1`` and fold the rest into "other".

    Returns the list and the number of items folded."""
    ordered = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    if len(ordered) <= n:
        return list(ordered), 0
    head = ordered[: n - 1]
    rest = ordered[n - 1 :]
    return head + [(f"other ({len(rest)} types)", sum(v for _, v in rest))], len(rest)


def _labelled(items: list[tuple[str, float]], fmt, share_of: Optional[float] = None) -> list[tuple[str, float, str]]:
    """(name, value, the value as written beside its bar, with its share of ``share_of`` when given)."""
    return [(name, v, fmt(v) + (f"  ({units.format_percent(v / share_of)})" if share_of else "")) for name, v in items]


def _hbar(
    items: list[tuple[str, float, str]],
    xlabel: str,
    height: float,
    *,
    log: bool = False,
    xlim: Optional[tuple[float, float]] = None,
    margins: Optional[tuple[float, float, float, float]] = None,
) -> str:
    """Horizontal bars, one per (name, value, text) item from the top, each with its text
    beside it, on a linear axis with no scale (the texts say the values) or on a log axis
    ticked at decades. ``height`` in inches; ``margins``: (left, right, top, bottom) as
    fractions of the chart (left and right from its left edge, top and bottom from its bottom edge)."""
    labels = [_label(k, 40) for k, _, _ in items]
    values = [v for _, v, _ in items]
    width_pt, height_pt = WIDTH * 72, height * 72
    left, right, top, bottom = margins or (_left_margin(labels), 0.97, 1 - 0.15 / height, 0.62 / height)
    box = svg.Box(left * width_pt, (1 - top) * height_pt, right * width_pt, (1 - bottom) * height_pt)
    canvas = svg.Canvas(width_pt, height_pt)
    hi = max(values)
    if log:
        lo = min(values)
        low, high = xlim or ((lo / 3 if lo > 0 else 1), hi * 30)
        scale = svg.Scale(low, high, box.left, box.right, log=True)
        svg.x_ticks(canvas, box, scale, svg.log_ticks(low, high), _power_of_ten, TEXT, grid=GRID)
        label_y = box.bottom + 22
    else:
        scale = svg.Scale(0, hi * 1.35 if hi > 0 else 1, box.left, box.right)
        label_y = box.bottom + 12
    slot = (box.bottom - box.top) / len(items)
    for i, (label, v, (_, _, text)) in enumerate(zip(labels, values, items)):
        middle = box.top + slot * (i + 0.5)
        end = scale(v) if v > 0 else box.left
        canvas.rect(box.left, middle - 0.325 * slot, end - box.left, 0.65 * slot, PALETTE[i % len(PALETTE)])
        svg.y_label(canvas, box, middle, label, TEXT)
        canvas.text(end + 4, middle, _label(text, 60), TEXT, size=8.5)
    svg.axes(canvas, box, TEXT)
    canvas.text((box.left + box.right) / 2, label_y, _label(xlabel, 80), TEXT, anchor="middle")
    return canvas.svg()


def _empty_svg(message: str, height: float) -> str:
    canvas = svg.Canvas(WIDTH * 72, height * 72)
    canvas.text(WIDTH * 36, height * 36, _label(message, 80), TEXT, anchor="middle", size=11)
    return canvas.svg()


def _height(n: int) -> float:
    """Figure height for ``n`` bars: the bar thickness stays the same from chart to chart."""
    return 0.9 + 0.3 * max(n, 1)


def _compact(text: str) -> str:
    """Tick labels without trailing zeros: "10.0 K" -> "10 K", "0.100 ns" -> "0.1 ns"."""
    return re.sub(r"(\d)\.(\d*?)0+(?=\D|$)", lambda m: m[1] + ("." + m[2] if m[2] else ""), text)


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(v: float, _pos=None) -> str:
    """'10³' for 1000; '' for a value that is no power of ten."""
    if v <= 0:
        return ""
    exponent = round(math.log10(v))
    return "10" + str(exponent).translate(_SUPERSCRIPTS) if math.isclose(v, 10.0**exponent) else ""


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

    if not shown:
        return ChartRef("complexity.svg", alt, _empty_svg("No non-zero size figures", 2.9), "Complexity Overview")
    values = [float(v) for _, v, _ in shown]
    drawn = _hbar([(n, float(v), f(v)) for n, v, f in shown], "log scale (elements, FLOPs or bytes)", 2.9, log=True,
                  xlim=(max(min(values) / 3, 0.5), max(values) * 40), margins=(0.2, 0.97, 0.95, 0.2))
    return ChartRef("complexity.svg", alt, drawn, "Complexity Overview")


def operator_chart(report: Report) -> ChartRef:
    items = [(op, float(c)) for op, c in report.graph.op_counts.items() if c > 0]
    top, folded = _top(items)
    if top:
        alt = "Bar chart of operator counts: " + ", ".join(f"{_label(k)} {int(v):,}" for k, v in top) + "."
        if folded:
            alt += f" The {folded} least frequent operator types are grouped as other."
    else:
        alt = "Bar chart of operator counts: the graph has no nodes."

    height = _height(len(top))
    drawn = (_hbar(_labelled(top, lambda v: f"{int(v):,}", sum(v for _, v in items)), "nodes", height) if top
             else _empty_svg("The graph has no nodes", height))
    return ChartRef("operators.svg", alt, drawn, "Operator Distribution")


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
            f"{_label(k)} {units.format_count(v)}" for k, v in top
        ) + "."
        if folded:
            alt += f" The {folded} smallest groups are combined as other."
    else:
        alt = "Bar chart of parameters: the model has no weights, nothing to draw."

    height = _height(len(top))
    drawn = (_hbar(_labelled(top, units.format_count, total or sum(v for _, v in items)),
                   f"{what} (by {basis.split(' of ')[0]})", height) if top
             else _empty_svg("No weights", height))
    return ChartRef("params.svg", alt, drawn, "Parameter Distribution")


def flops_chart(report: Report) -> ChartRef:
    items = [(k, float(v)) for k, v in report.flops.by_op_type.items() if v and v > 0]
    zero = sorted(k for k, v in report.flops.by_op_type.items() if not v)
    top, folded = _top(items)
    uncounted = sum(report.flops.uncounted_ops.values())
    if top:
        alt = "Bar chart of FLOPs by operator type: " + ", ".join(
            f"{_label(k)} {units.format_flops(v)}" for k, v in top
        ) + "."
        if folded:
            alt += f" The {folded} smallest are combined as other."
    else:
        alt = "Bar chart of FLOPs by operator type: no operator has a non-zero FLOP count."
    if zero:
        alt += f" Operator types with zero FLOPs, not drawn: {', '.join(_label(z) for z in zero)}."
    if uncounted:
        alt += f" {units.count_of(uncounted, 'node')} could not be counted and {'is' if uncounted == 1 else 'are'} not included."

    height = _height(len(top))
    drawn = (_hbar(_labelled(top, units.format_flops, report.flops.total or None), "FLOPs", height) if top
             else _empty_svg("No counted FLOPs", height))
    return ChartRef("flops.svg", alt, drawn, "FLOPs Distribution")


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
                missing.append(f"{_label(s.device)} batch {_batch_text(b)}")
        text = f"{_label(s.device)}: " + ", ".join(figures)
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

    ticks = [float(2**k) for k in range(math.floor(math.log2(lo_b)), math.ceil(math.log2(hi_b)) + 1)]
    return ChartRef(BATCH_CHART, alt, _batch_svg(series, ticks), "Throughput and Memory by Batch Size")


_MARKERS = ["o", "s", "^", "D"]
_BATCH_HEIGHT = 5.2  # inches


def _batch_svg(series: list[_BatchSeries], ticks: list[float]) -> str:
    """Two panels over a log-2 batch axis: throughput (top) and memory required (bottom,
    with each device's memory dashed), one line per device, the legend on the right."""
    width_pt, height_pt = WIDTH * 72, _BATCH_HEIGHT * 72
    canvas = svg.Canvas(width_pt, height_pt)
    left, right = 0.14 * width_pt, 0.66 * width_pt
    top, bottom = 0.03 * height_pt, 0.9 * height_pt
    panel = (bottom - top) / 2.12  # two panels, 0.12 of a panel apart
    boxes = [svg.Box(left, top, right, top + panel), svg.Box(left, bottom - panel, right, bottom)]
    x = svg.Scale(ticks[0] / 1.3, ticks[-1] * 1.3, left, right, log=True)
    throughput = [[(b, tp) for b, tp, _ in s.points if tp is not None] for s in series]
    memory = [[(b, mem) for b, _, mem in s.points if mem is not None] for s in series]
    limits = [s.device_memory for s in series]
    for box, lines, ylabel, fmt, base, dashed in (
        (boxes[0], throughput, "inferences per second", lambda v: units.format_rate(v, "/s"), 10, [None] * len(series)),
        (boxes[1], memory, "memory required", units.format_bytes, 2, limits),
    ):
        values = [v for line in lines for _, v in line] + [v for v in dashed if v is not None]
        svg.x_ticks(canvas, box, x, ticks, _batch_text, TEXT, grid=GRID, labels=box is boxes[1])
        if values:
            y = svg.Scale(min(values) / 2, max(values) * 2, box.bottom, box.top, log=True)
            svg.y_ticks(canvas, box, y, svg.log_ticks(y.lo, y.hi, base, most=6),
                        lambda v, fmt=fmt: _label(_compact(fmt(v)), 30), TEXT, grid=GRID)
            for i, (line, limit) in enumerate(zip(lines, dashed)):
                color = PALETTE[i % len(PALETTE)]
                if limit is not None:
                    canvas.line(box.left, y(limit), box.right, y(limit), color, 1.0, dash="3.7 1.6")
                points = [(x(b), y(v)) for b, v in line]
                if points:
                    canvas.polyline(points, color)
                for px, py in points:
                    canvas.marker(_MARKERS[i % len(_MARKERS)], px, py, color)
        else:
            canvas.text((box.left + box.right) / 2, (box.top + box.bottom) / 2, "no figures", TEXT, anchor="middle")
        svg.axes(canvas, box, TEXT)
        canvas.text(12, (box.top + box.bottom) / 2, ylabel, TEXT, anchor="middle", rotate=True)
    canvas.text((left + right) / 2, bottom + 22, "batch size (log 2 scale)", TEXT, anchor="middle")
    _batch_legend(canvas, series, boxes, any(line for line in throughput))
    return canvas.svg()


def _batch_legend(canvas: svg.Canvas, series: list[_BatchSeries], boxes: list[svg.Box], any_throughput: bool) -> None:
    """Right of the panels: each device's line and marker (top), the dashed device memory (bottom)."""
    x = boxes[0].right + 0.01 * WIDTH * 72 + 6
    if any_throughput:
        for i, s in enumerate(series):
            y = boxes[0].top + 6 + 12 * i
            color = PALETTE[i % len(PALETTE)]
            canvas.line(x, y, x + 18, y, color, 1.4)
            canvas.marker(_MARKERS[i % len(_MARKERS)], x + 9, y, color)
            canvas.text(x + 24, y, _label(s.device, 30), TEXT, size=7.5)
    if any(s.device_memory is not None for s in series):
        y = boxes[1].top + 6
        canvas.line(x, y, x + 18, y, TEXT, 1.0, dash="3.7 1.6")
        canvas.text(x + 24, y, "device memory", TEXT, size=7.5)




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


def _axis_label(fmt) -> Callable[[float], str]:
    """A log axis's tick label: the figure as the page writes it, trailing zeros dropped."""
    return lambda v: _label(_compact(fmt(v)), 30)


_LABEL_SPOTS = ((5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (-5, 14), (5, -21), (-5, -21), (5, 24), (5, -31))


def _place_labels(labels: Sequence[str], points: Sequence[tuple[float, float]],
                  box: svg.Box) -> list[tuple[float, float, float, float]]:
    """A box (x0, y0, x1, y1), in points, for each point's label: the first of a few spots
    around the point that overlaps no label placed before it (those of the highest points
    first), no point and nothing outside ``box``; else the spot that overlaps least. Deterministic."""
    dots = [(x - 4, y - 4, x + 4, y + 4) for x, y in points]
    placed: dict[int, tuple[float, float, float, float]] = {}
    for i in sorted(range(len(labels)), key=lambda i: (points[i][1], points[i][0], labels[i])):
        width, height = len(labels[i]) * 4.6 + 2, 9.0
        x, y = points[i]
        best, best_score = None, None
        for dx, dy in _LABEL_SPOTS:  # dy > 0: above the point
            x0 = x + dx if dx > 0 else x + dx - width
            spot = (x0, y - dy - height, x0 + width, y - dy)
            overlap = sum(_overlap(spot, b) for b in placed.values()) + sum(_overlap(spot, d) for d in dots)
            outside = (max(0.0, box.left - spot[0]) + max(0.0, spot[2] - box.right)
                       + max(0.0, box.top - spot[1]) + max(0.0, spot[3] - box.bottom))
            score = overlap + outside * height * 4
            if best_score is None or score < best_score - 1e-9:
                best, best_score = spot, score
            if score == 0:
                break
        placed[i] = best
    return [placed[i] for i in range(len(labels))]


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
            f"{_label(n)} {units.format_count(p)} parameters, {units.format_flops(f)}" for n, p, f in shown
        ) + "."
    else:
        alt = "Log-log scatter plot of parameters against FLOPs: no model has both figures non-zero."
    note = f"Not drawn (zero parameters or FLOPs): {', '.join(_label(s) for s in skipped)}." if skipped else ""
    alt += f" {note}" if note else ""
    drawn = _scatter_svg(shown) if shown else _empty_svg("No model with non-zero parameters and FLOPs", 4.6)
    return ChartRef("params_vs_flops.svg", alt, drawn, "Parameters vs FLOPs", note)


def _scatter_svg(shown: list[tuple[str, float, float]]) -> str:
    """Parameters against FLOPs, both on log axes, each point labelled with its model's name;
    a label pushed away from its point gets a thin leader line back to it."""
    width_pt, height_pt = WIDTH * 72, 4.6 * 72
    canvas = svg.Canvas(width_pt, height_pt)
    box = svg.Box(0.16 * width_pt, 0.05 * height_pt, 0.97 * width_pt, 0.87 * height_pt)
    xs, ys = [float(p) for _, p, _ in shown], [float(f) for _, _, f in shown]
    x = svg.Scale(min(xs) / 4, max(xs) * 8, box.left, box.right, log=True)
    y = svg.Scale(min(ys) / 4, max(ys) * 4, box.bottom, box.top, log=True)
    svg.x_ticks(canvas, box, x, svg.log_ticks(x.lo, x.hi), _axis_label(units.format_count), TEXT, grid=GRID)
    svg.y_ticks(canvas, box, y, svg.log_ticks(y.lo, y.hi), _axis_label(units.format_flops), TEXT, grid=GRID)
    svg.axes(canvas, box, TEXT)
    points = [(x(px), y(py)) for px, py in zip(xs, ys)]
    labels = [_label(n, 40) for n, _, _ in shown]
    spots = _place_labels(labels, points, box)
    for (px, py), (x0, y0, x1, y1) in zip(points, spots):
        if y1 <= py - 12 or y0 >= py + 12:  # pushed a line or more away: a leader line back to the point
            edge = y1 if y1 < py else y0
            canvas.line(px, py + (4 if edge > py else -4), (x0 + x1) / 2, edge, TEXT, 0.5)
    for i, (px, py) in enumerate(points):
        canvas.marker("o", px, py, PALETTE[i % len(PALETTE)], size=6)
    for label, (x0, y0, _, y1) in zip(labels, spots):
        canvas.text(x0, (y0 + y1) / 2, label, TEXT, size=8)
    canvas.text((box.left + box.right) / 2, box.bottom + 24, "parameters (log scale)", TEXT, anchor="middle")
    canvas.text(12, (box.top + box.bottom) / 2, "FLOPs per inference (log scale)", TEXT, anchor="middle", rotate=True)
    return canvas.svg()


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
            f"{_label(n)} on {_label(d)} {units.format_duration(v)}" for n, d, v in shown
        ) + "."
    else:
        alt = "Bar chart of estimated latency: no latency estimate is available."
    if skipped:
        alt += " No estimate (not drawn): " + ", ".join(f"{_label(n)} on {_label(d)}" for n, d in skipped) + "."
    models = []
    for n, _, _ in shown:
        if n not in models:
            models.append(n)
    height = min(1.2 + 0.22 * ((len(devices) + 1) // 2) + 0.25 * max(1, len(models)) * max(1, min(len(devices), 3)),
                 14.0)
    if not shown:
        return ChartRef("latency.svg", alt, _empty_svg("No latency estimates", height), "Latency per Device")
    values = [v for _, _, v in shown]
    drawn = _grouped_hbar([_label(m, 28) for m in models], [_label(d, 36) for d in devices],
                          [(_label(n, 28), _label(d, 36), v, None) for n, d, v in shown], height,
                          xlabel="latency lower bound per inference (log scale)",
                          xlim=(min(values) / 3, max(values) * 3), tick_label=_axis_label(units.format_duration))
    return ChartRef("latency.svg", alt, drawn, "Latency per Device")


def _grouped_hbar(groups: list[str], series: list[str], rows: list[tuple[str, str, float, Optional[str]]],
                  height: float, *, xlabel: str, xlim: tuple[float, float], tick_label: Callable[[float], str],
                  origin: Optional[float] = None, first_color: int = 0) -> str:
    """Grouped horizontal bars on a log axis: one group per ``groups`` item from the top, one
    bar per series in it, the legend above in two columns. ``rows``: (group, series, value,
    text beside the bar or None). Bars start at the axis, or grow from ``origin`` (marked
    by a vertical line) towards their value."""
    width_pt, height_pt = WIDTH * 72, height * 72
    legend_rows = (len(series) + 1) // 2
    box = svg.Box(_left_margin(groups) * width_pt, (0.15 + 0.22 * legend_rows) * 72, 0.97 * width_pt,
                  height_pt - 0.62 * 72)
    canvas = svg.Canvas(width_pt, height_pt)
    x = svg.Scale(xlim[0], xlim[1], box.left, box.right, log=True)
    svg.x_ticks(canvas, box, x, svg.log_ticks(*xlim), tick_label, TEXT, grid=GRID)
    slot = (box.bottom - box.top) / len(groups)
    bar = 0.8 * slot / len(series)
    # the legend's two columns span the chart, the group labels' margin included; a name
    # longer than its column is shortened (the table above names every series in full)
    legend_left = 0.02 * width_pt
    column = (box.right - legend_left) / 2
    fits = max(8, int((column - 25) / (svg.CHAR_WIDTH * 8 / svg.FONT_SIZE)))
    for j, name in enumerate(series):
        color = PALETTE[(j + first_color) % len(PALETTE)]
        legend_x = legend_left + (j % 2) * column
        legend_y = box.top - 8 - 0.22 * 72 * (legend_rows - 1 - j // 2)
        canvas.rect(legend_x, legend_y - 3.5, 14, 7, color)
        canvas.text(legend_x + 19, legend_y, _label(name, fits), TEXT, size=8)
        for group, row_series, value, text in rows:
            if row_series != name:
                continue
            middle = box.top + slot * (groups.index(group) + 0.1) + bar * (j + 0.5)
            start = x(origin) if origin is not None else box.left
            end = x(value)
            canvas.rect(min(start, end), middle - 0.45 * bar, abs(end - start), 0.9 * bar, color)
            if text:
                canvas.text(end + (4 if end >= start else -4), middle, text, TEXT, anchor="start" if end >= start else "end",
                            size=8)
    for i, group in enumerate(groups):
        svg.y_label(canvas, box, box.top + slot * (i + 0.5), group, TEXT)
    if origin is not None:
        canvas.line(x(origin), box.top, x(origin), box.bottom, TEXT, 1.0)
    svg.axes(canvas, box, TEXT)
    canvas.text((box.left + box.right) / 2, box.bottom + 24, _label(xlabel, 80), TEXT, anchor="middle")
    return canvas.svg()


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
                skipped.append(f"{_label(label)} of {_label(name)}")
    if rows:
        alt = (f"Bar chart on a log scale of each variant's figures as a multiple of the base model "
               f"{_label(base_name)}'s (1 = the same): " + "; ".join(
                   f"{_label(name)} {label} {_ratio_text(ratio)}" for label, name, ratio in rows) + ".")
    else:
        alt = f"Bar chart of the variants of {_label(base_name)}: no figure can be compared."
    if skipped:
        alt += " Not drawn (zero or unknown): " + ", ".join(skipped) + "."
    labels = []
    for label, _, _ in rows:
        if label not in labels:
            labels.append(label)
    names = [n for n, _ in variants]
    height = min(1.2 + 0.22 * ((len(names) + 1) // 2) + 0.3 * max(1, len(labels)) * max(1, min(len(names), 3)), 14.0)
    if not rows:
        return ChartRef("compare.svg", alt, _empty_svg("No figure can be compared", height),
                        "Variants Relative to the Base")
    ratios = [r for _, _, r in rows]
    lo, hi = min(min(ratios), 1.0), max(max(ratios), 1.0)
    drawn = _grouped_hbar([_label(lab, 40) for lab in labels], [_label(n, 60) for n in names],
                          [(_label(lab, 40), _label(n, 60), r, _ratio_text(r)) for lab, n, r in rows], height,
                          xlabel=f"multiple of {base_name} (log scale; 1 = same as the base)", xlim=(lo / 4, hi * 4),
                          tick_label=lambda v: _ratio_text(v, compact=True), origin=1.0, first_color=1)
    return ChartRef("compare.svg", alt, drawn, "Variants Relative to the Base")


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
