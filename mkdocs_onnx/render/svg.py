"""A small SVG writer for the charts: rectangles, lines, markers and text at given
coordinates, in points (1/72 in) from the top left.

Charts are bars, lines and points on plain axes; writing them directly takes about a
millisecond per card, where laying them out with a plotting library (matplotlib) took
some 200 ms, most of a cold build. Coordinates are written with at most two decimals and
elements in drawing order, so the same data gives the same bytes. Text is escaped here,
whatever its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Optional, Sequence

# Material's system font stack (the site loads no web font); text-anchor aligns labels, so
# a fallback font's other widths move no label off its axis.
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"
FONT_SIZE = 9.0
CHAR_WIDTH = 5.0  # points per character at FONT_SIZE, a generous mean for sizing margins


def _num(v: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros ("12.5", "3", "-0.25")."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Canvas:
    """An SVG picture ``width`` × ``height`` points with a transparent background."""

    def __init__(self, width: float, height: float):
        self.width, self.height = width, height
        self._items: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> None:
        self._items.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0.0))}" '
                           f'height="{_num(max(h, 0.0))}" fill="{fill}"/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 0.8,
             dash: Optional[str] = None) -> None:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self._items.append(f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
                           f'stroke="{stroke}" stroke-width="{_num(width)}"{dashed}/>')

    def polyline(self, points: Sequence[tuple[float, float]], stroke: str, width: float = 1.4) -> None:
        coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self._items.append(f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
                           f'stroke-width="{_num(width)}" stroke-linejoin="round"/>')

    def marker(self, kind: str, x: float, y: float, fill: str, size: float = 4.0) -> None:
        """A point marker centred on (x, y): ``o`` circle, ``s`` square, ``^`` triangle, ``D`` diamond."""
        r = size / 2
        if kind == "o":
            self._items.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" fill="{fill}"/>')
        elif kind == "s":
            self.rect(x - r, y - r, size, size, fill)
        else:
            corners = {"^": [(x, y - r * 1.2), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)],
                       "D": [(x, y - r * 1.3), (x + r, y), (x, y + r * 1.3), (x - r, y)]}[kind]
            coords = " ".join(f"{_num(px)},{_num(py)}" for px, py in corners)
            self._items.append(f'<polygon points="{coords}" fill="{fill}"/>')

    def text(self, x: float, y: float, text: str, fill: str, *, anchor: str = "start", size: float = FONT_SIZE,
             rotate: bool = False) -> None:
        """``text`` with its vertical middle at ``y``; ``anchor``: start, middle or end at ``x``;
        ``rotate``: read upwards (a y-axis label)."""
        turn = f' transform="rotate(-90 {_num(x)} {_num(y)})"' if rotate else ""
        size_attr = f' font-size="{_num(size)}"' if size != FONT_SIZE else ""
        self._items.append(f'<text x="{_num(x)}" y="{_num(y)}" dy="0.35em" text-anchor="{anchor}" '
                           f'fill="{fill}"{size_attr}{turn}>{escape(text, quote=False)}</text>')

    def svg(self) -> str:
        head = (f'<?xml version="1.0" encoding="utf-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(self.width)}pt" height="{_num(self.height)}pt" '
                f'viewBox="0 0 {_num(self.width)} {_num(self.height)}" font-family="{escape(FONT)}" '
                f'font-size="{_num(FONT_SIZE)}">\n')
        return head + "\n".join(self._items) + "\n</svg>\n"


@dataclass(frozen=True)
class Scale:
    """Data to points along one axis, linear or logarithmic (any base), ``lo`` to ``start``
    and ``hi`` to ``end`` (``end`` < ``start`` for a y axis, which grows upwards)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            a, b, v = math.log(self.lo), math.log(self.hi), math.log(value)
        else:
            a, b, v = self.lo, self.hi, value
        return self.start + (v - a) / (b - a) * (self.end - self.start) if b != a else self.start


def log_ticks(lo: float, hi: float, base: float = 10.0, most: int = 8) -> list[float]:
    """The whole powers of ``base`` from ``lo`` to ``hi``, every k-th of them when there are
    more than ``most`` (k as small as fits, keeping multiples of k as exponents)."""
    first = math.ceil(math.log(lo, base) - 1e-9)
    last = math.floor(math.log(hi, base) + 1e-9)
    exponents = list(range(first, last + 1))
    step = max(1, math.ceil(len(exponents) / most))
    return [float(base) ** e for e in exponents if e % step == 0]


@dataclass
class Box:
    """The plot area inside a chart, in points from the top left."""

    left: float
    top: float
    right: float
    bottom: float


def axes(canvas: Canvas, box: Box, color: str) -> None:
    """The left and bottom spines."""
    canvas.line(box.left, box.top, box.left, box.bottom, color)
    canvas.line(box.left, box.bottom, box.right, box.bottom, color)


def x_ticks(canvas: Canvas, box: Box, scale: Scale, ticks: Sequence[float], label: Callable[[float], str],
            color: str, grid: Optional[str] = None, labels: bool = True) -> None:
    """Tick marks (3 pt) under the plot at ``ticks``, their labels below, and vertical grid lines."""
    for t in ticks:
        x = scale(t)
        if grid:
            canvas.line(x, box.top, x, box.bottom, grid, 0.6)
        canvas.line(x, box.bottom, x, box.bottom + 3, color)
        if labels:
            canvas.text(x, box.bottom + 10, label(t), color, anchor="middle")


def y_ticks(canvas: Canvas, box: Box, scale: Scale, ticks: Sequence[float], label: Callable[[float], str],
            color: str, grid: Optional[str] = None) -> None:
    """Tick marks left of the plot at ``ticks``, their labels right-aligned, and horizontal grid lines."""
    for t in ticks:
        y = scale(t)
        if grid:
            canvas.line(box.left, y, box.right, y, grid, 0.6)
        y_label(canvas, box, y, label(t), color)


def y_label(canvas: Canvas, box: Box, y: float, text: str, color: str) -> None:
    """A tick mark left of the plot at ``y`` and its label, right-aligned (a value or a category)."""
    canvas.line(box.left - 3, y, box.left, y, color)
    canvas.text(box.left - 6, y, text, color, anchor="end")
