"""Deployment notes: facts about a model that a deployer should know, each with advice.

Each check looks at the finished figures and fires only when its condition holds.
"""

from __future__ import annotations

from typing import Callable, Optional

from mkdocs_onnx.analysis.report import Report, Risk

OLDEST_COMFORTABLE_OPSET = 11
LARGE_TENSOR_BYTES = 1 << 30

Check = Callable[[Report, "Facts"], Optional[Risk]]


class Facts:
    """What the checks need beyond the report."""

    def __init__(self, float64_tensors: int, largest_tensor: tuple[str, int], unused_initializers: list[str],
                 custom_domains: list[str], unknown_trip_counts: int):
        self.float64_tensors = float64_tensors
        self.largest_tensor = largest_tensor
        self.unused_initializers = unused_initializers
        self.custom_domains = custom_domains
        self.unknown_trip_counts = unknown_trip_counts


def _symbolic_dims(r: Report, f: Facts) -> Optional[Risk]:
    unbound = sorted(k for k, v in r.dims.items() if v is None)
    if not unbound:
        return None
    return Risk("symbolic-dims", "warning",
                f"Symbolic input dims left unbound: {', '.join(unbound)}; figures that depend on them are uncounted.",
                "Give them values in models.yml (dims:) or with --dim NAME=VALUE.")


def _uncounted(r: Report, f: Facts) -> Optional[Risk]:
    if not r.flops.uncounted_ops:
        return None
    n = sum(r.flops.uncounted_ops.values())
    ops = ", ".join(f"{op} ×{c}" for op, c in r.flops.uncounted_ops.items())
    return Risk("uncounted-ops", "warning", f"{n} node(s) have no known cost ({ops}); the FLOPs total leaves them out.",
                "See the uncounted list on the card for each reason.")


def _custom_domains(r: Report, f: Facts) -> Optional[Risk]:
    if not f.custom_domains:
        return None
    return Risk("custom-domain", "info",
                f"Operators from non-standard domains: {', '.join(f.custom_domains)}.",
                "The runtime must provide these operators (e.g. ONNX Runtime contrib ops or an extensions library).")


def _old_opset(r: Report, f: Facts) -> Optional[Risk]:
    opset = r.metadata.opsets.get("ai.onnx")
    if opset is None or opset >= OLDEST_COMFORTABLE_OPSET:
        return None
    return Risk("old-opset", "info", f"Default-domain opset {opset} (IR version {r.metadata.ir_version}) is old.",
                "Convert with onnx.version_converter to a current opset before optimising for new runtimes.")


def _float64(r: Report, f: Facts) -> Optional[Risk]:
    if not f.float64_tensors:
        return None
    return Risk("float64", "warning", f"{f.float64_tensors} tensor(s) are float64; GPUs run float64 far slower.",
                "Cast to float32 at export unless double precision is needed.")


def _placeholder(r: Report, f: Facts) -> Optional[Risk]:
    if not r.params.placeholder:
        return None
    return Risk("placeholder-weights", "warning",
                f"{r.params.placeholder:,} weight elements are ConstantOfShape fills, not trained values.",
                "Use this file for structure and cost only; get the trained weights elsewhere.")


def _large_tensor(r: Report, f: Facts) -> Optional[Risk]:
    name, size = f.largest_tensor
    if size < LARGE_TENSOR_BYTES:
        return None
    return Risk("large-tensor", "info", f"Weight '{name}' alone is {size / 2**30:.2f} GiB.",
                "Files over 2 GB need external data; some runtimes limit single allocations.")


def _control_flow(r: Report, f: Facts) -> Optional[Risk]:
    if not f.unknown_trip_counts:
        return None
    return Risk("dynamic-control-flow", "warning",
                f"{f.unknown_trip_counts} Loop/Scan node(s) have a trip count unknown before run time.",
                "Their cost is uncounted; latency estimates are lower bounds.")


def _missing_external(r: Report, f: Facts) -> Optional[Risk]:
    if not r.model.missing_external_data:
        return None
    return Risk("missing-external-data", "error",
                f"External data file(s) missing: {', '.join(r.model.missing_external_data)}.",
                "Ship the data files next to the model; the figures here come from declared sizes.")


def _unused(r: Report, f: Facts) -> Optional[Risk]:
    if not f.unused_initializers:
        return None
    return Risk("unused-initializers", "info",
                f"{len(f.unused_initializers)} constant tensor(s) are never read and are not counted as parameters.",
                "Remove them (onnx-simplifier or onnx.utils) to shrink the file.")


CHECKS: list[Check] = [
    _symbolic_dims, _uncounted, _custom_domains, _old_opset, _float64, _placeholder,
    _large_tensor, _control_flow, _missing_external, _unused,
]


def assess(report: Report, facts: Facts) -> list[Risk]:
    return [risk for check in CHECKS if (risk := check(report, facts)) is not None]
