"""Human-readable durations for hardware estimates."""

from __future__ import annotations

import math
from typing import Optional

_UNITS = ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"))


def format_duration(seconds: Optional[float], digits: int = 3) -> str:
    """``seconds`` with ``digits`` significant figures in ns, µs, ms or s.

    4.52e-6 -> "4.52 µs", 3e-7 -> "300 ns", 1.5 -> "1.50 s". A tiny positive value is never
    rounded to zero (1e-12 -> "0.00100 ns"); None, NaN and infinities give "n/a".
    """
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds == 0:
        return "0 s"
    sign, value = ("-" if seconds < 0 else ""), abs(seconds)
    index = max((i for i, (scale, _) in enumerate(_UNITS) if value >= scale), default=0)
    scaled = _round(value / _UNITS[index][0], digits)
    if scaled >= 1000 and index + 1 < len(_UNITS):  # 999.96 ns rounds up to 1.00 µs
        index += 1
        scaled = _round(value / _UNITS[index][0], digits)
    decimals = max(digits - 1 - math.floor(math.log10(scaled)), 0)
    return f"{sign}{scaled:.{decimals}f} {_UNITS[index][1]}"


def _round(value: float, digits: int) -> float:
    return round(value, digits - 1 - math.floor(math.log10(value)))
