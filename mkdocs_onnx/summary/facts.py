"""The verified facts handed to the LLM: a compact, deterministic JSON view of a Report."""

from __future__ import annotations

import json
from typing import Any, Optional

from mkdocs_onnx.analysis.report import HardwareEstimate, Report, TensorInfo, quantized_dtypes
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.units import format_bytes, format_count, format_duration, format_flops

FAMILY_NAMES = {
    "cnn": "convolutional neural network (CNN)",
    "mlp": "multi-layer perceptron (MLP)",
    "rnn": "recurrent neural network (RNN)",
    "transformer-encoder": "transformer encoder",
    "transformer-decoder": "transformer decoder",
    "encoder-decoder": "encoder-decoder transformer",
    "vision-transformer": "vision transformer (ViT)",
    "hybrid": "hybrid network",
    "classical-ml": "classical machine-learning model (ai.onnx.ml operators)",
    "unknown": "model of undetermined architecture",
}


def family_name(family: str) -> str:
    return FAMILY_NAMES.get(family, family or "model of undetermined architecture")


def task_of(report: Report, entry: Optional[ModelEntry]) -> Optional[str]:
    task = (entry.task if entry is not None else "") or report.architecture.task_guess
    return task or None


def _tensor(t: TensorInfo) -> dict[str, Any]:
    return {"name": t.name, "dtype": t.dtype, "shape": t.shape_text()}


def _hardware(h: HardwareEstimate) -> dict[str, Any]:
    out: dict[str, Any] = {
        "device": h.device,
        "precision": h.precision,
        "fits_in_device_memory": h.fits,
        "memory_required": format_bytes(h.memory_required_bytes),
        "latency_lower_bound_batch_1": format_duration(h.latency_s) if h.latency_s is not None else None,
        "bottleneck": h.bottleneck,
    }
    device_memory = (h.details or {}).get("device_memory_bytes")
    if device_memory:
        out["device_memory"] = format_bytes(device_memory)
    return out


def _lower_bound(text: str, partial: bool, nothing: bool) -> str:
    """A figure that leaves parts out (``partial``) marked as a lower bound; one of which nothing
    was known (``nothing``) said to be unknown (a model told "0" would repeat it as a figure)."""
    if nothing:
        return "unknown (nothing could be counted)"
    return f"{text} (lower bound)" if partial else text


def facts(report: Report, entry: Optional[ModelEntry] = None) -> dict[str, Any]:
    """Only what the analyzer verified (plus the manifest's description), figures formatted."""
    p, f, m = report.params, report.flops, report.memory
    data: dict[str, Any] = {
        "name": (entry.name if entry is not None and entry.name else report.model.name),
        "family": report.architecture.family,
        "family_meaning": family_name(report.architecture.family),
        "family_evidence": list(report.architecture.evidence),
        "task": task_of(report, entry),
        "parameters": {"total": format_count(p.total), "trainable": format_count(p.trainable)},
        "flops_per_inference": _lower_bound(format_flops(f.total), bool(f.uncounted_ops), f.none_counted),
        "flops_uncounted_op_types": dict(sorted(f.uncounted_ops.items())),
        "weights_size": format_bytes(m.weights_bytes),
        "peak_activation_memory": _lower_bound(format_bytes(m.peak_activation_bytes), m.activations_unknown > 0,
                                               m.peak_unknown),
        "inputs": [_tensor(t) for t in report.graph.inputs],
        "outputs": [_tensor(t) for t in report.graph.outputs],
        "opsets": dict(sorted(report.metadata.opsets.items())),
        "placeholder_weights": bool(p.placeholder),
        "hardware_estimates": [_hardware(h) for h in report.hardware],
    }
    if p.non_trainable:
        data["parameters"]["non_trainable"] = format_count(p.non_trainable)
    if p.in_attributes:  # what classical-ML operators learned: attributes, not weight tensors
        data["parameters"]["held_in_operator_attributes"] = format_count(p.in_attributes)
    if p.placeholder:
        data["placeholder_weight_elements"] = format_count(p.placeholder)
    if quantized_dtypes(p):  # how the weights are stored: only said of quantized models
        data["parameters"]["stored_as"] = {dtype: format_count(n) for dtype, n in sorted(p.by_dtype.items())}
        if p.quantization:
            data["parameters"]["quantization_scales_and_zero_points"] = format_count(p.quantization)
    if entry is not None and entry.description:
        data["description_from_manifest"] = entry.description
    return data


def facts_json(report: Report, entry: Optional[ModelEntry] = None) -> str:
    """The facts as compact, key-sorted JSON (also the cache key's main ingredient)."""
    return json.dumps(facts(report, entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
