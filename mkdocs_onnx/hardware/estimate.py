"""Memory and per-node roofline latency of one analysed model on one device profile.

Every number is derived from the Report and the profile's peak figures: no fixed overhead
and no utilisation factor are added, so latencies are LOWER BOUNDS (the device at 100% of
peak, every byte moved exactly once). ``details["formula"]`` states this in the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from mkdocs_onnx.analysis.report import HardwareEstimate, Report
from mkdocs_onnx.errors import DeviceError
from mkdocs_onnx.hardware.profiles import PRECISIONS, DeviceProfile, resolve_devices
from mkdocs_onnx.units import count_of, format_duration

# A microsecond: about what launching one GPU kernel, or dispatching one operator on any
# runtime, takes. A roofline bound below it leaves out what sets the real latency.
LAUNCH_SCALE_S = 1e-6

PRECISION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}
DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
WORKSPACE_FRACTION = 0.10
WORKSPACE_MIN_BYTES = 128 * 2**20

# weight dtype (as the Report names it) -> (precision it runs at natively, bytes per element)
_DTYPES = {
    "float32": ("fp32", 4), "float": ("fp32", 4), "float16": ("fp16", 2), "half": ("fp16", 2),
    "bfloat16": ("bf16", 2), "int8": ("int8", 1), "uint8": ("int8", 1),
    "float8e4m3fn": ("fp8", 1), "float8e4m3fnuz": ("fp8", 1), "float8e5m2": ("fp8", 1), "float8e5m2fnuz": ("fp8", 1),
}
_PRECISION_NAMES = {
    **{p: p for p in PRECISIONS}, "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16",
    "bfloat16": "bf16", "float8": "fp8", "uint8": "int8",
}
# what to run at when the default precision has no peak figure on the device
_FALLBACKS = {
    "fp32": ("tf32",), "tf32": ("fp32",), "fp16": ("bf16", "fp32"), "bf16": ("fp16", "fp32"),
    "fp8": ("fp16", "bf16", "fp32"), "int8": ("fp16", "bf16", "fp32"),
}


@dataclass
class _Node:
    name: str
    op_type: str
    flops: float
    activation_bytes: float  # grows with batch
    weight_bytes: float  # read once per batch


def estimate(
    report: Report,
    profile: DeviceProfile,
    precision: Optional[str] = None,
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    workspace_fraction: float = WORKSPACE_FRACTION,
    workspace_min_bytes: int = WORKSPACE_MIN_BYTES,
) -> HardwareEstimate:
    """Estimate ``report``'s model on ``profile``.

    ``precision``: fp32, tf32, fp16, bf16, fp8 or int8 (dtype names such as "float16" are
    accepted). None: the precision of the model's dominant weight dtype; if the device has
    no figure for it, the nearest one it has is used and ``details["notes"]`` says so. An
    explicitly requested precision the device lacks gives fits/latency None and a message.
    """
    batches = sorted({int(b) for b in batch_sizes} | {1})
    if batches[0] < 1:
        raise DeviceError(f"batch sizes must be positive integers, got {list(batch_sizes)}")
    native, native_note = native_precision(report)
    notes = [] if native else [native_note]
    if precision is None:
        chosen, how = native or "fp32", f"the model's own precision ({native_note})" if native else "assumed fp32"
    else:
        chosen, how = _normalise_precision(precision), "requested"

    peak = profile.peak_flops.get(chosen)
    if peak is None and profile.peak_flops:
        alternative = next((p for p in _FALLBACKS[chosen] if p in profile.peak_flops), None)
        if precision is not None or alternative is None:
            return _unsupported(report, profile, chosen, native, workspace_fraction, workspace_min_bytes)
        notes.append(
            f"{profile.name} has no {chosen} throughput figure (not supported); estimated at {alternative} instead"
        )
        chosen, how, peak = alternative, f"fallback from {chosen}", profile.peak_flops[alternative]
    elif peak is None:
        notes.append(f"{profile.name} has no throughput figures (unknown); latency is not estimated")
    elif chosen == "fp32" and profile.peak_flops.get("tf32", 0) > peak:
        # Runtimes compute fp32 matrix products on tensor cores in TF32 by default (PyTorch's
        # convolutions, ONNX Runtime's CUDA provider, TensorRT): a bound must allow that
        # fastest path, or a real run beats it (an fp32 CNN on an H200 did by 30%).
        peak = profile.peak_flops["tf32"]
        notes.append(f"fp32 compute bounded at {profile.name}'s TF32 tensor-core peak, which runtimes use for fp32 "
                     "matrix products by default")

    weight_scale, activation_scale, weights = _scales(report, chosen, native)
    nodes, uncounted = _counted_nodes(report, weight_scale, activation_scale)
    activations = report.memory.peak_activation_bytes * activation_scale
    bandwidth = profile.memory_bandwidth_bytes_per_s
    if bandwidth is None:
        notes.append(f"{profile.name} has no memory bandwidth figure (unknown); latency is not estimated")
    if report.memory.activations_unknown:
        unknown = report.memory.activations_unknown
        notes.append(f"{count_of(unknown, 'activation')} of unknown size: peak activations is a lower bound")
    if uncounted:
        adds = "adds" if uncounted == 1 else "add"
        notes.append(f"{count_of(uncounted, 'node')} without a FLOP or byte count {adds} nothing: latency is a lower bound")
    ml_ops = sorted({op.removeprefix(_ML) for op in report.graph.op_counts if op.startswith(_ML)})
    if ml_ops and profile.kind != "cpu":
        notes.append(f"ai.onnx.ml operators ({', '.join(ml_ops)}) run on the CPU in ONNX Runtime, and GPU runtimes "
                     f"such as TensorRT do not support them: this estimate assumes {profile.name} runs them")

    table = []
    for b in batches:
        memory, workspace = _memory(weights, activations * b, workspace_fraction, workspace_min_bytes)
        row: dict[str, Any] = {"batch": b, "memory_required_bytes": memory, "fits": _fits(memory, profile)}
        timing = _roofline(nodes, b, peak, bandwidth)
        row.update(timing)
        row["throughput_per_s"] = b / timing["latency_s"] if timing["latency_s"] else None
        row["workspace_bytes"] = workspace
        table.append(row)
    first = table[0]
    if first["latency_s"] is not None and 0 < first["latency_s"] < LAUNCH_SCALE_S:
        notes.append(f"the bound, {format_duration(first['latency_s'])}, is under a microsecond, less than launching "
                     "one kernel or dispatching one operator takes: at this size those per-node costs, which a "
                     "roofline leaves out, set the latency")
    flops = sum(n.flops for n in nodes)
    moved = sum(n.activation_bytes + n.weight_bytes for n in nodes)
    memory_required = first["memory_required_bytes"]

    details = _base_details(profile, chosen, how, workspace_fraction, workspace_min_bytes, uncounted, notes)
    details.update(
        peak_flops=peak,
        compute_bound_share=first["compute_bound_share"],
        memory_bound_share=first["memory_bound_share"],
        compute_bound_time_s=first["compute_bound_time_s"],
        memory_bound_time_s=first["memory_bound_time_s"],
        workspace_bytes=first["workspace_bytes"],
        margin_bytes=profile.memory_bytes - memory_required if profile.memory_bytes > 0 else None,
        weights_bytes=int(round(weights)),
        activation_bytes=int(round(activations)),
        weight_scale=weight_scale,
        activation_scale=activation_scale,
        counted_nodes=len(nodes),
        total_flops=flops,
        total_bytes=moved,
        memory_only_lower_bound_s=moved / bandwidth if bandwidth else None,
        ridge_point_flops_per_byte=peak / bandwidth if peak and bandwidth else None,
        top_nodes=_top_nodes(nodes, peak, bandwidth),
        batches=[{k: v for k, v in row.items() if not k.endswith("_time_s")} for row in table],
    )
    return HardwareEstimate(
        device=profile.name,
        precision=chosen,
        memory_required_bytes=memory_required,
        fits=first["fits"],
        latency_s=first["latency_s"],
        bottleneck=first["bottleneck"],
        arithmetic_intensity=flops / moved if moved else None,
        details=details,
    )


def add_estimates(report: Report, devices: Any, precision: Optional[str] = None, **options: Any) -> list[str]:
    """Append one estimate per device to ``report.hardware``; return the warnings to show.

    ``devices``: anything resolve_devices accepts ("auto", ids, mappings, a list of them).
    Each estimate's ``details["how"]`` says where its profile came from.
    """
    warnings: list[str] = []
    for profile, how, device_warnings in resolve_devices(devices):
        result = estimate(report, profile, precision, **options)
        result.details["how"] = how
        result.details["device_warnings"] = list(device_warnings)
        report.hardware.append(result)
        warnings.extend(device_warnings)
        if result.details.get("message"):
            warnings.append(result.details["message"])
    return warnings


def native_precision(report: Report) -> tuple[Optional[str], str]:
    """The precision of the dominant weight dtype (by elements), and a note naming the dtype.

    Without float or int8 weights (none at all, or only 4-bit ones, which kernels
    dequantize to the activations' type) the float type of the inputs and outputs decides.
    """
    totals: dict[str, int] = {}
    for dtype, elements in sorted(report.params.by_dtype.items()):
        if dtype.lower() in _DTYPES:
            totals[dtype.lower()] = totals.get(dtype.lower(), 0) + int(elements)
    if not totals or max(totals.values()) <= 0:
        io = _io_float_dtype(report)
        if io is None:
            return None, "no float or int8 weights: assumed fp32"
        return _DTYPES[io][0], f"no float or int8 weights; inputs and outputs in {io}"
    dtype = max(totals, key=lambda d: (totals[d], d))
    return _DTYPES[dtype][0], f"dominant weight dtype {dtype}"


# ----------------------------------------------------------------------------- pieces


def _normalise_precision(precision: str) -> str:
    name = _PRECISION_NAMES.get(str(precision).strip().lower())
    if name is None:
        raise DeviceError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return name


def _scales(report: Report, precision: str, native: Optional[str]) -> tuple[float, float, float]:
    """(weight scale, activation scale, weight bytes) for running at ``precision``.

    At the model's own precision the Report's bytes are used as they are. Otherwise float
    and int8 weights become ``precision``-sized (other dtypes, e.g. int64 shapes, stay), and
    activations are rescaled from the model's float width to the precision's width.
    """
    stored = report.memory.weights_bytes
    if precision == native:
        return 1.0, 1.0, float(stored)
    target = PRECISION_BYTES[precision]
    converted = stored + sum(
        int(n) * (target - _DTYPES[d.lower()][1]) for d, n in report.params.by_dtype.items() if d.lower() in _DTYPES
    )
    converted = max(float(converted), 0.0)
    weight_scale = converted / stored if stored else 1.0
    return weight_scale, target / _activation_width(report), converted


def _activation_width(report: Report) -> int:
    """Bytes per element of the model's float activations: dominant float weight dtype,
    else the float graph inputs/outputs, else 4 (float32)."""
    floats = {d: n for d, n in report.params.by_dtype.items() if d.lower() in _DTYPES and _DTYPES[d.lower()][0] != "int8"}
    if floats:
        return _DTYPES[max(floats, key=lambda d: (floats[d], d)).lower()][1]
    io = _io_float_dtype(report)
    return _DTYPES[io][1] if io else 4


def _io_float_dtype(report: Report) -> Optional[str]:
    """The float dtype most of the graph's inputs and outputs have, if any has one."""
    io = [t.dtype.lower() for t in (*report.graph.inputs, *report.graph.outputs) if t.dtype.lower() in _DTYPES]
    io = [d for d in io if _DTYPES[d][0] != "int8"]
    return max(sorted(set(io)), key=io.count) if io else None


def _counted_nodes(report: Report, weight_scale: float, activation_scale: float) -> tuple[list[_Node], int]:
    nodes, uncounted = [], 0
    for n in report.nodes:
        if n.folded:  # folded at load or fused into its reader: no work of its own in an inference
            continue
        if n.flops is None or n.bytes_read is None or n.bytes_written is None:
            uncounted += 1
            continue
        activation = (n.bytes_read - n.weight_bytes_read + n.bytes_written) * activation_scale
        nodes.append(_Node(n.name, n.op_type, float(n.flops), float(activation), n.weight_bytes_read * weight_scale))
    return nodes, uncounted


def _roofline(nodes: list[_Node], batch: int, peak: Optional[float], bandwidth: Optional[float]) -> dict[str, Any]:
    """Sum over nodes of max(compute time, memory time) at ``batch``."""
    if not peak or not bandwidth or not nodes:
        return {"latency_s": None, "bottleneck": "unknown", "compute_bound_share": None,
                "memory_bound_share": None, "compute_bound_time_s": None, "memory_bound_time_s": None}
    compute_bound = memory_bound = 0.0
    for n in nodes:
        t_compute = n.flops * batch / peak
        t_memory = (n.activation_bytes * batch + n.weight_bytes) / bandwidth
        if t_compute > t_memory:
            compute_bound += t_compute
        else:
            memory_bound += t_memory
    total = compute_bound + memory_bound
    return {
        "latency_s": total,
        "bottleneck": "unknown" if total == 0 else ("compute" if compute_bound > memory_bound else "memory bandwidth"),
        "compute_bound_share": compute_bound / total if total else None,
        "memory_bound_share": memory_bound / total if total else None,
        "compute_bound_time_s": compute_bound,
        "memory_bound_time_s": memory_bound,
    }


def _memory(weights: float, activations: float, fraction: float, minimum: int) -> tuple[int, int]:
    workspace = max(fraction * (weights + activations), float(minimum))
    return int(round(weights + activations + workspace)), int(round(workspace))


def _fits(memory: int, profile: DeviceProfile) -> Optional[bool]:
    return memory <= profile.memory_bytes if profile.memory_bytes > 0 else None


def _top_nodes(nodes: list[_Node], peak: Optional[float], bandwidth: Optional[float], count: int = 5) -> list[dict[str, Any]]:
    if not peak or not bandwidth:
        return []
    rows = []
    for n in nodes:
        t_compute, t_memory = n.flops / peak, (n.activation_bytes + n.weight_bytes) / bandwidth
        rows.append({"name": n.name, "op_type": n.op_type, "time_s": max(t_compute, t_memory),
                     "bound": "compute" if t_compute > t_memory else "memory bandwidth"})
    return sorted(rows, key=lambda r: -r["time_s"])[:count]


_ML = "ai.onnx.ml."


def _base_details(profile, precision, how, fraction, minimum, uncounted, notes) -> dict[str, Any]:
    return {
        "device_id": profile.id,
        "device_memory_bytes": profile.memory_bytes,
        "precision_source": how,
        "formula": (
            f"node time = max(FLOPs x batch / peak_flops[{precision}], (activation bytes x batch + weight bytes) / "
            "memory bandwidth); latency = sum of node times (a lower bound: peak throughput, no overhead, "
            "no utilisation factor, nodes without counts add nothing). memory = weights + peak activations x batch "
            f"+ workspace, workspace = max({fraction:.0%} of weights + activations, {minimum / 2**20:g} MiB)"
        ),
        "bandwidth": profile.memory_bandwidth_bytes_per_s,
        "workspace_fraction": fraction,
        "workspace_min_bytes": minimum,
        "uncounted_nodes": uncounted,
        "lower_bound": True,
        "notes": notes,
    }


def _unsupported(report, profile, precision, native, fraction, minimum) -> HardwareEstimate:
    """An explicitly requested precision the device has no figure for."""
    supported = [p for p in PRECISIONS if p in profile.peak_flops]
    message = (
        f"{precision} is not supported by {profile.name} (no {precision} peak in its profile); "
        f"it supports {', '.join(supported)}"
    )
    _, activation_scale, weights = _scales(report, precision, native)
    memory, workspace = _memory(weights, report.memory.peak_activation_bytes * activation_scale, fraction, minimum)
    uncounted = _counted_nodes(report, 1.0, 1.0)[1]
    details = _base_details(profile, precision, "requested", fraction, minimum, uncounted, [message])
    details.update(
        message=message, supported_precisions=supported, peak_flops=None, compute_bound_share=None,
        memory_bound_share=None, workspace_bytes=workspace, margin_bytes=None, batches=[],
    )
    return HardwareEstimate(
        device=profile.name, precision=precision, memory_required_bytes=memory, fits=None,  # type: ignore[arg-type]
        latency_s=None, bottleneck="unsupported precision", arithmetic_intensity=None, details=details,
    )
