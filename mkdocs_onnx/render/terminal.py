"""A model card as plain Markdown for the terminal (`mkdocs-onnx analyze --format markdown`).

Model-supplied text is shown inside code spans so that nothing in it acts as markup.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.report import Report, quantized_dtypes
from mkdocs_onnx.units import format_bytes, format_count, format_duration, format_flops, format_percent


def _code(text: object) -> str:
    s = str(text).replace("\n", " ").replace("`", "'")
    return f"`{s}`"


def _values_of_unknown_size(n: int) -> str:
    return "1 value of unknown size" if n == 1 else f"{n:,} values of unknown size"


_UNCOUNTED_LISTED = 20  # a terminal shows this many uncounted nodes, then says how many more


def _flops_line(r: Report) -> str:
    uncounted = len(r.flops.uncounted)
    if r.flops.none_counted:
        return f"- FLOPs: not counted (no node's cost is known: {uncounted:,} uncounted, listed below)"
    folded = f"; {r.flops.folded:,} more in nodes computed from constants only, which runtimes fold or fuse"
    return (f"- FLOPs: {format_flops(r.flops.total)} ({r.flops.total:,} FLOPs, a multiply-accumulate counts 2)"
            + (folded if r.flops.folded else "")
            + (f"; lower bound, {uncounted:,} uncounted nodes listed below" if uncounted else ""))


def _peak_line(r: Report) -> str:
    m = r.memory
    if m.peak_unknown:
        return f"- Peak activation memory: unknown ({_values_of_unknown_size(m.activations_unknown)})"
    return (f"- Peak activation memory: {format_bytes(m.peak_activation_bytes)} "
            f"({m.peak_activation_bytes:,} bytes, at node {_code(m.peak_node)})"
            + (f"; lower bound, {_values_of_unknown_size(m.activations_unknown)}" if m.activations_unknown else ""))


def render_text_card(report: Report) -> str:
    r = report
    lines = [f"# {_code(r.model.name)}", ""]
    lines += [
        "## Metadata", "",
        f"- File: {_code(r.model.path)} ({format_bytes(r.memory.file_bytes)}, sha256 {r.model.sha256[:12]}…)",
        f"- Producer: {_code((r.metadata.producer_name + ' ' + r.metadata.producer_version).strip() or 'unknown')}",
        f"- IR version {r.metadata.ir_version}; opsets: " + ", ".join(f"{d} {v}" for d, v in r.metadata.opsets.items()),
        "",
        "## Graph", "",
        f"- Nodes: {r.graph.node_count:,} (subgraphs included)",
    ]
    lines += [f"- Input {_code(t.name)}: {t.dtype} {t.shape_text()}".rstrip() for t in r.graph.inputs]
    lines += [f"- Output {_code(t.name)}: {t.dtype} {t.shape_text()}".rstrip() for t in r.graph.outputs]
    lines += ["- Operators: " + ", ".join(f"{_code(op)} {n}" for op, n in r.graph.op_counts.items()), ""]
    p = r.params
    lines += [
        "## Complexity", "",
        f"- Parameters: {format_count(p.total)} ({p.total:,} elements; trainable {p.trainable:,}, "
        f"non-trainable {p.non_trainable:,}; {p.constants:,} constant elements not counted)",
    ]
    if p.placeholder:
        lines.append(f"- Placeholder weights: {p.placeholder:,} elements are ConstantOfShape fills, not trained values")
    if len(p.by_dtype) > 1 or quantized_dtypes(p):
        lines.append("- By type: " + ", ".join(f"{n:,} {d}" for d, n in sorted(p.by_dtype.items(), key=lambda kv: -kv[1])))
    if p.quantization:
        lines.append(f"- Quantization scales and zero points: {p.quantization:,} elements, not parameters "
                     "(in the weights' bytes)")
    if p.in_attributes:
        lines.append(f"- Held in operator attributes: {p.in_attributes:,} learned values ("
                     + ", ".join(f"{_code(op)} {n:,}" for op, n in sorted(p.in_attributes_by_op.items()))
                     + "), not in tensors")
    lines += [
        _flops_line(r),
        f"- Weights: {format_bytes(r.memory.weights_bytes)} ({r.memory.weights_bytes:,} bytes)",
        _peak_line(r),
    ]
    if r.dims:
        lines.append("- Dims: " + ", ".join(f"{_code(k)} = {'unbound' if v is None else v}" for k, v in r.dims.items()))
    unbound = [k for k, v in r.dims.items() if v is None]
    if unbound and (r.flops.uncounted or r.memory.activations_unknown):
        lines.append(f"- What depends on the unbound dims is uncounted: give each a value with "
                     f"`--dim NAME=VALUE` ({', '.join(_code(d) for d in unbound)})")
    for u in r.flops.uncounted[:_UNCOUNTED_LISTED]:
        lines.append(f"- Uncounted: {_code(u.node)} ({_code(u.op_type)}): {u.reason}")
    if len(r.flops.uncounted) > _UNCOUNTED_LISTED:
        lines.append(f"- … and {len(r.flops.uncounted) - _UNCOUNTED_LISTED:,} more uncounted nodes "
                     "(the JSON report lists them all, under `flops.uncounted`)")
    lines += ["", "## Architecture", "", f"- Family: {r.architecture.family}"]
    lines += [f"  - {e}" for e in r.architecture.evidence]
    for h in r.hardware:
        lines += [
            "", f"## Hardware: {h.device} ({h.precision})", "",
            f"- Memory required: {format_bytes(h.memory_required_bytes)}; fits: {'n/a' if h.fits is None else 'yes' if h.fits else 'no'}",
            f"- Latency lower bound: {format_duration(h.latency_s)}; bottleneck: {h.bottleneck}",
        ]
        share = h.details.get("compute_bound_share")
        if share is not None:
            lines.append(f"- Compute-bound share of time: {format_percent(share)}")
    if r.risks:
        lines += ["", "## Deployment notes", ""]
        lines += [f"- [{k.severity}] {k.message} {k.advice}".rstrip() for k in r.risks]
    return "\n".join(lines) + "\n"
