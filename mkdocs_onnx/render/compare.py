"""Variant comparison pages (``models/compare/<group>/index.md``).

A *variant group* is a model named by ``variant_of`` (the base) and every entry whose
``variant_of`` names it (fp32/fp16/int8 exports, another sequence length, …). Each group
gets one page with the group's figures side by side and, for every variant, its
difference from the base as an absolute value and a percentage.

The figures are raw HTML cells that carry their exact values (``data-value``, and
``data-delta`` / ``data-delta-pct`` for the variants) as well as the formatted text, so
that scripts and tests can read them back; the model links in the header row are
Markdown links (``md_in_html``), checked and rewritten by MkDocs like any other.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from markupsafe import Markup

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.manifest.slug import unique_slugs
from mkdocs_onnx import units
from mkdocs_onnx.render import escape
from mkdocs_onnx.render.charts import ChartRef
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.render.templating import render

__all__ = ["VariantGroup", "variant_groups", "compare_folder", "compare_metrics", "render_compare", "COMPARE_DIR"]

COMPARE_DIR = "compare"


@dataclass
class VariantGroup:
    """A base model and its variants (the base first, then the variants in manifest order)."""

    base: str  # the base model's name (a ``variant_of`` value)
    slug: str  # the page lives at models/<compare_folder>/<slug>/
    members: list[CardContext] = field(default_factory=list)

    @property
    def base_card(self) -> Optional[CardContext]:
        return self.members[0] if self.members and self.members[0].entry.name == self.base else None


def variant_groups(cards: Sequence[CardContext]) -> list[VariantGroup]:
    """Every variant group, sorted by the base's name (case-insensitive).

    A chain (C is a variant of B, B of A) gives two groups: B's and A's; B is in both.
    """
    by_name = {c.entry.name: c for c in cards}
    bases: list[str] = []
    for c in cards:
        if c.entry.variant_of and c.entry.variant_of not in bases:
            bases.append(c.entry.variant_of)
    bases.sort(key=lambda b: (b.lower(), b))
    groups = []
    for base, slug in zip(bases, unique_slugs(bases)):
        members = [by_name[base]] if base in by_name else []
        members.extend(c for c in cards if c.entry.variant_of == base and c.entry.name != base)
        groups.append(VariantGroup(base, slug, members))
    return groups


def compare_folder(cards: Sequence[CardContext]) -> str:
    """The folder of the compare pages under ``models/``: ``compare``, unless a model's
    card already lives at ``models/compare/``."""
    taken = {c.entry.slug for c in cards}
    name, n = COMPARE_DIR, 1
    while name in taken:
        n += 1
        name = f"{COMPARE_DIR}-{n}"
    return name


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Metric:
    key: str  # data-metric; device metrics are "<key>[<device>]"
    label: str
    get: Callable[[Report], Any]
    fmt: Callable[[Any], str]
    unit: str = ""  # for the exact value's tooltip
    lower_is_better: bool = True


def _estimate(report: Report, device: str):
    for h in report.hardware:
        if h.device == device:
            return h
    return None


def compare_metrics(devices: Sequence[str]) -> list[Metric]:
    """The numeric figures of a comparison, in page order."""
    metrics = [
        Metric("params", "Parameters", lambda r: r.params.total, units.format_count),
        # None (not compared) where nothing was counted: its 0 is no figure
        Metric("flops", "FLOPs", lambda r: None if r.flops.none_counted else r.flops.total, units.format_flops, "FLOPs"),
        Metric("weights_bytes", "Weights size", lambda r: r.memory.weights_bytes, units.format_bytes, "bytes"),
        Metric("peak_activation_bytes", "Peak activation memory",
               lambda r: None if r.memory.peak_unknown else r.memory.peak_activation_bytes, units.format_bytes, "bytes"),
        Metric("file_bytes", "File size", lambda r: r.memory.file_bytes, units.format_bytes, "bytes"),
        Metric("node_count", "Nodes", lambda r: r.graph.node_count, units.format_count),
    ]
    for d in devices:
        metrics.append(Metric(
            f"latency_s[{d}]", f"Latency, lower bound ({d})",
            lambda r, d=d: getattr(_estimate(r, d), "latency_s", None), units.format_duration, "s",
        ))
        metrics.append(Metric(
            f"memory_required_bytes[{d}]", f"Memory required ({d})",
            lambda r, d=d: getattr(_estimate(r, d), "memory_required_bytes", None), units.format_bytes, "bytes",
        ))
    return metrics


def _devices(cards: Sequence[CardContext]) -> list[str]:
    seen: list[str] = []
    for c in cards:
        for h in (c.report.hardware if c.report else []):
            if h.device not in seen:
                seen.append(h.device)
    return seen


def _value_attr(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def _signed(text: str, positive: bool) -> str:
    return ("+" + text) if positive and not text.startswith("-") else text


def percent_text(fraction: float) -> str:
    """A signed percentage that never rounds to a misleading round figure: -0.9997 gives
    "-99.97%", not "-100%"; 0.0004 gives "+0.0400%", not "+0%"."""
    text = units.format_percent(abs(fraction))
    p = abs(fraction) * 100
    if text.rstrip("%") == "100" and p != 100:
        text = f"{p:.4g}%"
    return ("+" if fraction > 0 else "-" if fraction < 0 else "") + text


def delta_text(value: Any, base: Any, fmt: Callable[[Any], str]) -> tuple[str, Optional[float], str]:
    """``("+1.20 M (+40.0%)", 0.4, "up")`` for a variant's value against the base's;
    the direction is "up", "down", "same" or "" (not comparable)."""
    if value is None or base is None:
        return "", None, ""
    diff = value - base
    if diff == 0:
        return "same as the base", 0.0, "same"
    pct = diff / base if base else None
    text = _signed(fmt(diff), diff > 0)
    if pct is not None:
        text += f" ({percent_text(pct)})"
    return text, pct, "up" if diff > 0 else "down"


@dataclass
class _Cell:
    html: Markup
    attrs: Markup


@dataclass
class _FigureRow:
    label: Markup
    key: str
    cells: list[_Cell]


def _figure_rows(group: VariantGroup, devices: Sequence[str]) -> list[_FigureRow]:
    base = group.base_card
    base_report = base.report if base is not None else None
    rows = []
    for m in compare_metrics(devices):
        cells = []
        for c in group.members:
            attrs = f' data-model="{escape.attr(c.entry.slug)}" data-metric="{escape.attr(m.key)}"'
            if c.report is None:
                cells.append(_Cell(Markup("<em>analysis failed</em>"), Markup(attrs)))
                continue
            v = m.get(c.report)
            if v is None:
                cells.append(_Cell(Markup("n/a"), Markup(attrs + ' data-value=""')))
                continue
            attrs += f' data-value="{_value_attr(v)}"'
            html = units.exact(v, m.fmt(v), m.unit)
            if c is not base and base_report is not None:
                bv = m.get(base_report)
                text, pct, direction = delta_text(v, bv, m.fmt)
                if direction:
                    attrs += f' data-delta="{_value_attr(v - bv)}"'
                    if pct is not None:
                        attrs += f' data-delta-pct="{_value_attr(pct)}"'
                    html = Markup(f'{html}<br><small class="onnx-delta onnx-delta--{direction}">'
                                  f"{escape.md_text(text)}</small>")
            cells.append(_Cell(html, Markup(attrs)))
        rows.append(_FigureRow(escape.md_text(m.label), m.key, cells))
    return rows


def _dims_text(c: CardContext) -> Markup:
    dims = c.report.dims if c.report is not None else c.entry.dims
    if not dims:
        return Markup("none")
    return Markup(", ".join(f"{escape.md_text(k)}&nbsp;=&nbsp;{escape.md_text('unbound' if v is None else v)}"
                            for k, v in sorted(dims.items())))


def _dtypes_text(c: CardContext) -> Markup:
    if c.report is None or not c.report.params.by_dtype:
        return Markup("none" if c.report is not None else "n/a")
    return Markup(", ".join(escape.md_text(k) for k in sorted(c.report.params.by_dtype)))


def _text_rows(group: VariantGroup, devices: Sequence[str]) -> list[tuple[Markup, list[Markup]]]:
    rows: list[tuple[Markup, list[Markup]]] = [
        (Markup("Task"), [escape.md_text((c.task or "unspecified") + (" (guessed)" if c.guessed_task else ""))
                          for c in group.members]),
        (Markup("Architecture"), [escape.md_text(c.report.architecture.family) if c.report else Markup("n/a")
                                  for c in group.members]),
        (Markup("Bound dimensions"), [_dims_text(c) for c in group.members]),
        (Markup("Weight types"), [_dtypes_text(c) for c in group.members]),
    ]
    for d in devices:
        fits = []
        for c in group.members:
            h = _estimate(c.report, d) if c.report else None
            fits.append(Markup("n/a") if h is None or h.fits is None
                        else Markup("yes") if h.fits else Markup("<strong>no</strong>"))
        rows.append((Markup(f"Fits in memory ({escape.md_text(d)})"), fits))
    return rows


def _card_href(slug: str) -> Markup:
    return Markup("../../" + urllib.parse.quote(slug) + "/index.md")


def render_compare(group: VariantGroup, charts: Sequence[ChartRef] = ()) -> str:
    """The Markdown of one variant group's comparison page (two folders below the index)."""
    devices = _devices(group.members)
    return render(
        "compare.md.j2",
        group=group,
        base=group.base_card,
        members=group.members,
        devices=devices,
        figure_rows=_figure_rows(group, devices),
        text_rows=_text_rows(group, devices),
        charts=[{"title": c.title or c.filename, "alt": c.alt, "src": Markup(urllib.parse.quote(c.filename))}
                for c in charts],
        card_href=_card_href,
        index_href=Markup("../../index.md"),
    )
