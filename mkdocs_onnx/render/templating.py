"""The Jinja2 environment of the renderers: escape by default.

Templates produce Markdown with raw HTML in places. Every ``{{ expression }}`` goes
through :func:`_finalize`: a :class:`~markupsafe.Markup` value (already escaped or built
by this package) is written as is, anything else is escaped with
:func:`mkdocs_onnx.render.escape.md_text`. A template therefore cannot forget to escape
a model name or an LLM's sentence; it has to opt *out* (with a filter returning Markup).

Large tables are written as raw HTML (``<table data-md-raw>``, see
:mod:`mkdocs_onnx.render.rawhtml`): Python-Markdown then copies them through instead of
parsing every cell. Values in them are escaped by the same :func:`_finalize` (the
escapes of :mod:`mkdocs_onnx.render.escape` mean the same in HTML as in Markdown); a
raw block has no blank line in it. ``RIGHT`` and ``CENTER`` are the cell alignment
attributes that a Markdown table would have.

Jinja's own autoescaping is off on purpose: with it on, ``~``, ``join`` and ``replace``
would return Markup that is HTML-escaped but still live Markdown. With it off they
return plain strings, which :func:`_finalize` escapes. The price is that a macro's
output is a plain string too: write ``{{ m.macro(...)|safe }}`` (or ``|indent_md``),
and use those two filters for nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mkdocs_onnx import units
from mkdocs_onnx.render import escape

TEMPLATES = Path(__file__).parent / "templates"


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return escape.md_text(str(value))
    return escape.md_text(value)


def _indent(value: Any, width: int = 4, first: bool = False) -> Markup:
    """Indent already rendered Markdown (a macro's output, or Markup) for a tab or an
    admonition body. Trusts its input: never apply it to raw data."""
    text = str(value)
    pad = " " * width
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.strip() and (first or i > 0):
            out.append(pad + line)
        else:
            out.append(line if line.strip() else "")
    return Markup("\n".join(out))


def _exact_count(n: Any) -> Markup:
    return units.exact(n, units.format_count(n))


def _exact_flops(n: Any) -> Markup:
    return units.exact(n, units.format_flops(n), "FLOPs")


def _exact_bytes(n: Any) -> Markup:
    return units.exact(n, units.format_bytes(n), "bytes")


def _exact_duration(s: Any) -> Markup:
    return units.exact(s, units.format_duration(s), "s")


def _exact_rate(n: Any) -> Markup:
    return units.exact(n, units.format_rate(n), "per second")


def _exact_bandwidth(n: Any) -> Markup:
    return units.exact(n, units.format_bandwidth(n), "bytes/s")


def _exact_flop_rate(n: Any) -> Markup:
    return units.exact(n, units.format_flop_rate(n), "FLOP/s")


def _exact_intensity(n: Any) -> Markup:
    return units.exact(n, units.format_intensity(n), "FLOPs/byte")


def _exact_percent(x: Any) -> Markup:
    return units.exact(x, units.format_percent(x))


def _link(text: Any, url: Any) -> Markup:
    return escape.link(text, url)


def _yesno(v: Any) -> str:
    return "n/a" if v is None else ("yes" if v else "no")


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # Markdown, escaped by _finalize (see the module docstring)
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        text=escape.md_text,
        block=escape.md_block,
        heading=escape.md_heading,
        code=escape.md_code,
        attr=escape.attr,
        link=_link,
        indent_md=_indent,
        count=units.format_count,
        flops=units.format_flops,
        bytes=units.format_bytes,
        duration=units.format_duration,
        percent=units.format_percent,
        x_count=_exact_count,
        x_flops=_exact_flops,
        x_bytes=_exact_bytes,
        x_duration=_exact_duration,
        x_rate=_exact_rate,
        x_bandwidth=_exact_bandwidth,
        x_flop_rate=_exact_flop_rate,
        x_intensity=_exact_intensity,
        x_percent=_exact_percent,
        yesno=_yesno,
        count_of=units.count_of,
    )
    from mkdocs_onnx.hardware.estimate import WORKSPACE_FRACTION, WORKSPACE_MIN_BYTES

    env.globals.update(
        Markup=Markup,
        UNITS_NOTE=Markup(units.UNITS_NOTE),
        WORKSPACE_NOTE=f"{WORKSPACE_FRACTION:.0%} of those two or {units.format_bytes(WORKSPACE_MIN_BYTES)}",
        RIGHT=Markup(' style="text-align: right;"'),
        CENTER=Markup(' style="text-align: center;"'),
    )
    return env


_ENV: jinja2.Environment | None = None


def env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = make_env()
    return _ENV


def render(template: str, **context: Any) -> str:
    text = env().get_template(template).render(**context)
    # tidy: no runs of more than one blank line, one trailing newline
    lines = [ln.rstrip() for ln in text.split("\n")]
    out: list[str] = []
    for ln in lines:
        if ln == "" and out and out[-1] == "":
            continue
        out.append(ln)
    return "\n".join(out).strip("\n") + "\n"
