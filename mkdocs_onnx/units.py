"""Human-readable figures, with the exact value one hover away: how the pages, the hardware
estimates' notes and the summaries all write a count, a size or a duration.

Conventions (DESIGN.md, "Units"): counts and FLOPs use decimal prefixes (K = 10^3,
M = 10^6, G = 10^9, T = 10^12; counts use B for 10^9), bytes use binary prefixes
(KiB = 1024 B, MiB = 1024^2 B, GiB = 1024^3 B) — :data:`UNITS_NOTE` says so once per
page. Durations use ns/µs/ms/s. Formatted figures keep 3 significant figures and never
show a rounded zero. ``None`` (unknown) gives ``"n/a"``.
"""

from __future__ import annotations

import html
import math
from typing import Optional, Union

from markupsafe import Markup

Number = Union[int, float]
NA = "n/a"

UNITS_NOTE = (
    "Sizes in KiB, MiB and GiB are binary (1 KiB = 1,024 bytes, 1 MiB = 1,024² bytes, "
    "1 GiB = 1,024³ bytes); FLOPs, counts and FLOP/s use decimal prefixes (K = 10³, "
    "M = 10⁶, G = 10⁹, T = 10¹²). Hover over a figure for its exact value."
)

__all__ = [
    "NA",
    "UNITS_NOTE",
    "sig3",
    "format_count",
    "format_flops",
    "format_flop_rate",
    "format_bytes",
    "format_bandwidth",
    "format_duration",
    "format_rate",
    "format_percent",
    "format_intensity",
    "exact",
]


def _bad(n: Optional[Number]) -> bool:
    if n is None or isinstance(n, bool):
        return n is None
    try:
        return math.isnan(float(n)) or math.isinf(float(n))
    except (TypeError, ValueError):
        return True


def sig3(x: float) -> str:
    """``x`` (0 <= x < 1000) with 3 significant figures, no exponent: 1.50, 23.4, 256."""
    if x == 0:
        return "0"
    x = float(f"{x:.3g}")  # round to 3 significant figures first: 0.9999 -> 1.00
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    digits = 2 - int(math.floor(math.log10(x)))  # 0.0123 -> 4 decimals
    return f"{x:.{digits}f}"


def _scaled(n: float, base: int, prefixes: list[str]) -> tuple[str, str]:
    """Scale ``n`` (>= base) to 3 significant figures; returns (number, prefix)."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    i = 0
    while n >= base and i < len(prefixes) - 1:
        n /= base
        i += 1
    text = sig3(n)
    if float(text) >= 1000 and i < len(prefixes) - 1:  # 999.96 K -> 1.00 M; 1023 KiB -> 0.999 MiB
        n /= base
        i += 1
        text = sig3(n)
    return sign + text, prefixes[i]


def format_count(n: Optional[Number]) -> str:
    """5994 -> "5,994"; 25_557_032 -> "25.6 M"; 1.2e9 -> "1.20 B"."""
    if _bad(n):
        return NA
    if abs(n) < 10_000:
        if float(n).is_integer():
            return f"{int(n):,}"
        return ("-" if n < 0 else "") + sig3(abs(float(n)))
    num, prefix = _scaled(float(n), 1000, ["", "K", "M", "B", "T"])
    return f"{num} {prefix}"


def format_flops(n: Optional[Number]) -> str:
    """1_594_080 -> "1.59 MFLOPs"; 850 -> "850 FLOPs"."""
    if _bad(n):
        return NA
    if abs(n) < 1000:
        return f"{int(round(n)):,} FLOPs" if float(n).is_integer() else f"{sig3(abs(n))} FLOPs"
    num, prefix = _scaled(float(n), 1000, ["", "K", "M", "G", "T", "P", "E"])
    return f"{num} {prefix}FLOPs"


def format_flop_rate(n: Optional[Number]) -> str:
    """Peak FLOP/s: 1e13 -> "10.0 TFLOP/s"."""
    if _bad(n):
        return NA
    num, prefix = _scaled(float(n), 1000, ["", "K", "M", "G", "T", "P", "E"])
    return f"{num} {prefix}FLOP/s"


def format_bytes(n: Optional[Number]) -> str:
    """Binary prefixes: 23_992 -> "23.4 KiB"; 1.5 * 2**30 -> "1.50 GiB"; 512 -> "512 B"."""
    if _bad(n):
        return NA
    if abs(n) < 1024:
        return f"{int(round(n)):,} B"
    num, prefix = _scaled(float(n), 1024, ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
    return f"{num} {prefix}B"


def format_bandwidth(n: Optional[Number]) -> str:
    """Bytes per second, binary prefixes: "179 GiB/s"."""
    if _bad(n):
        return NA
    return format_bytes(n) + "/s"


def format_duration(s: Optional[Number]) -> str:
    """1.5e-6 -> "1.50 µs"; 300e-9 -> "300 ns"; 0.0123 -> "12.3 ms"; 2 -> "2.00 s".

    Never a rounded zero: below 1 ns the figure keeps 3 significant figures in ns.
    """
    if _bad(s):
        return NA
    s = float(s)
    if s == 0:
        return "0 s"
    sign = "-" if s < 0 else ""
    a = abs(s)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if a >= scale or unit == "ns":
            v = a / scale
            if v >= 1000 and unit == "s":
                return f"{sign}{v:,.0f} s"
            text = sig3(v)
            if float(text) >= 1000 and unit != "s":  # 999.96 µs -> 1.00 ms
                bigger = {"ms": "s", "µs": "ms", "ns": "µs"}[unit]
                return f"{sign}{sig3(float(text) / 1000)} {bigger}"
            return f"{sign}{text} {unit}"
    return NA  # pragma: no cover


def format_rate(n: Optional[Number], unit: str = "/s") -> str:
    """Throughput: 1234.5 -> "1,230/s"; 0.5 -> "0.500/s"."""
    if _bad(n):
        return NA
    n = float(n)
    if abs(n) >= 10_000:
        return format_count(n) + unit
    if abs(n) >= 1000:
        return f"{float(sig3_int(n)):,.0f}{unit}"
    return f"{sig3(abs(n)) if n >= 0 else '-' + sig3(-n)}{unit}"


def sig3_int(n: float) -> float:
    """Round a number >= 1000 to 3 significant figures."""
    digits = int(math.floor(math.log10(abs(n)))) - 2
    return round(n, -digits)


def format_percent(x: Optional[Number]) -> str:
    """A fraction 0..1 as a percentage: 0.4937 -> "49.4%"; tiny non-zero never shows 0."""
    if _bad(x):
        return NA
    p = float(x) * 100
    if p == 0:
        return "0%"
    if abs(p) >= 100:
        return f"{p:.0f}%"
    return f"{sig3(abs(p)) if p > 0 else '-' + sig3(-p)}%"


def format_intensity(x: Optional[Number]) -> str:
    """Arithmetic intensity: 12.345 -> "12.3 FLOPs/byte"."""
    if _bad(x):
        return NA
    x = float(x)
    if x == 0:
        return "0 FLOPs/byte"
    if x >= 1000:
        return f"{format_count(x)} FLOPs/byte"
    return f"{sig3(x)} FLOPs/byte"


def exact(value: Optional[Number], text: Optional[str] = None, unit: str = "") -> Markup:
    """``<span title="5994 exactly">5,994</span>``: the formatted ``text`` with the exact
    ``value`` as a tooltip (Material shows the title on hover). ``None`` -> "n/a"."""
    if value is None:
        return Markup(NA)
    if text is None:
        text = format_count(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    exact_text = f"{value}{' ' + unit if unit else ''} exactly"
    return Markup(f'<span title="{html.escape(exact_text)}">{html.escape(str(text))}</span>')


def count_of(n: int, noun: str) -> str:
    """3, "node" -> "3 nodes"; 1, "node" -> "1 node" (a regular plural)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
