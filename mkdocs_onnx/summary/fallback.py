"""The summary written from the metrics alone: deterministic, correct by construction."""

from __future__ import annotations

from typing import Optional

from mkdocs_onnx.analysis.report import Flops, HardwareEstimate, Memory, Params, Report, quantized_dtypes
from mkdocs_onnx.hardware.estimate import LAUNCH_SCALE_S
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.units import format_bytes, format_count, format_duration, format_flops
from mkdocs_onnx.summary.facts import task_of
from mkdocs_onnx.summary.model import Summary
from mkdocs_onnx.summary.sanitize import TLDR_MAX_CHARS, truncate

AUTHOR = "mkdocs-onnx (from the metrics)"

# (noun phrase with article, short noun phrase)
_FAMILIES = {
    "cnn": ("a convolutional neural network (CNN)", "convolutional neural network"),
    "mlp": ("a multi-layer perceptron (MLP)", "multi-layer perceptron"),
    "rnn": ("a recurrent neural network (RNN)", "recurrent neural network"),
    "transformer-encoder": ("a transformer encoder", "transformer encoder"),
    "transformer-decoder": ("a transformer decoder", "transformer decoder"),
    "encoder-decoder": ("an encoder-decoder transformer", "encoder-decoder transformer"),
    "vision-transformer": ("a vision transformer (ViT)", "vision transformer"),
    "hybrid": ("a hybrid network", "hybrid network"),
    "classical-ml": ("a classical machine-learning model (ai.onnx.ml operators)", "classical machine-learning model"),
}
_UNKNOWN = ("a model whose architecture family could not be determined", "model of undetermined architecture")
# A graph of string operators that turns text into token ids has no network family to name.
_TOKENIZER = ("a tokenizer (string operators, no neural-network layer)", "tokenizer")


def _family(report: Report, task: Optional[str]) -> tuple[str, str]:
    """The family as a phrase with its article and as a short noun."""
    family = report.architecture.family
    if family == "unknown" and task == "tokenization":
        return _TOKENIZER
    return _FAMILIES.get(family, _UNKNOWN)


def _params(p: Params) -> str:
    """The parameter count; for a model whose operators hold what it learned in attributes
    (a tree ensemble, a linear model), those values, since "no parameters" would mislead."""
    if p.total == 0 and p.in_attributes:
        return f"{format_count(p.in_attributes)} learned values held in operator attributes"
    text = "no parameters" if p.total == 0 else f"{format_count(p.total)} parameter{'s' if p.total != 1 else ''}"
    if p.in_attributes:
        text += f" and {format_count(p.in_attributes)} learned values held in operator attributes"
    return text


def _hardware_sentence(h: HardwareEstimate) -> str:
    where = f"On {h.device} ({h.precision}, batch 1)"
    if h.fits is None:
        return f"{where} no estimate is possible: the device has no {h.precision} figure."
    memory = format_bytes(h.memory_required_bytes)
    fit = (f"it fits in device memory ({memory} needed)" if h.fits
           else f"it does not fit in device memory ({memory} needed)")
    if h.latency_s is None:
        return f"{where} {fit}; latency is not estimated."
    bound = "a roofline lower bound"
    if h.latency_s < LAUNCH_SCALE_S:
        bound += ", which leaves out the per-node launch costs that set the latency at this size"
    return f"{where} {fit}, and one inference takes at least {format_duration(h.latency_s)} ({bound})."


def _cost_sentence(f: Flops, m: Memory) -> str:
    """What one inference costs; a figure that only bounds nothing (0 with all unknown) is not given."""
    if f.none_counted:
        flops = "Its compute could not be counted"
    else:
        flops = f"One inference costs{' at least' if f.uncounted_ops else ''} {format_flops(f.total)}"
    if m.peak_unknown:
        return f"{flops}, and its activation memory is unknown (no intermediate size is known)."
    peak = ("at least " if m.activations_unknown else "") + format_bytes(m.peak_activation_bytes)
    joiner = " and needs" if not flops.startswith("Its") else "; it needs"
    return f"{flops}{joiner} {peak} of activation memory at its peak."


def fallback_summary(report: Report, entry: Optional[ModelEntry] = None, note: str = "") -> Summary:
    """A plain-English summary composed from ``report`` (and the entry's name and task)."""
    name = (entry.name if entry is not None and entry.name else "") or report.model.name or "This model"
    task = task_of(report, entry)
    article_phrase, short = _family(report, task)
    if short == _TOKENIZER[1]:
        task = None  # "a tokenizer for tokenization" says it twice
    p, f, m = report.params, report.flops, report.memory
    flops = format_flops(f.total)

    first = f"{name} is {article_phrase}" + (f" for {task}" if task else "")
    weights = (f" ({format_bytes(m.weights_bytes)} of weights)" if m.weights_bytes
               else "" if p.in_attributes else " and no stored weights")
    sentences = [f"{first} with {_params(p)}{weights}.", _cost_sentence(f, m)]
    quantized = quantized_dtypes(p)
    if quantized:
        stored = ", ".join(f"{format_count(n)} as {d}" for d, n in sorted(p.by_dtype.items(), key=lambda kv: -kv[1]))
        scales = f", with {format_count(p.quantization)} scales and zero points" if p.quantization else ""
        sentences.append(f"Its parameters are stored quantized: {stored}{scales}.")
    if report.architecture.evidence:
        sentences.append("The family is read from the graph: " + "; ".join(report.architecture.evidence) + ".")
    if f.uncounted_ops:
        ops = ", ".join(f"{op} ({n})" for op, n in sorted(f.uncounted_ops.items()))
        sentences.append(f"No FLOP count for {ops}." if f.none_counted
                         else f"The FLOP count is a lower bound: no count for {ops}.")
    if p.placeholder:
        sentences.append(
            f"Warning: {format_count(p.placeholder)} of the parameters are placeholder fills (ConstantOfShape), "
            "not trained values, so the file carries the architecture but not the trained weights."
        )
    if report.hardware:
        sentences.append(_hardware_sentence(report.hardware[0]))

    tldr = f"{short[0].upper()}{short[1:]}" + (f" for {task}" if task else "")
    tldr += f": {_params(p)}, " + ("FLOPs not counted" if f.none_counted else
                                   f"{flops}{' (lower bound)' if f.uncounted_ops else ''} per inference")
    if p.placeholder:
        tldr += ", placeholder weights"
    if quantized:
        share = p.by_dtype[quantized[0]] / p.total if p.total else 1.0
        # a 4-bit LLM keeps its embeddings and norms in float: say how much is quantized
        tldr += f", {quantized[0]} weights" if share >= 0.95 else f", {share:.0%} of the weights {quantized[0]}"
    tldr += "."
    return Summary(
        tldr=truncate(tldr, TLDR_MAX_CHARS),
        text=" ".join(sentences),
        source="metrics",
        author=AUTHOR,
        note=note,
    )
