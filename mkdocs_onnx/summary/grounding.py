"""Check an LLM answer against the Report it was written from.

Two kinds of claims are checked; everything else passes:

* **What the model is.** Calling the model an MLP, a CNN, an RNN/LSTM/GRU, a transformer,
  a vision transformer or a tree ensemble must agree with ``report.architecture.family``.
  Only identity claims count ("is a multi-layer perceptron", "structured as an MLP",
  "an MLP model", "This transformer ...", "The model, a CNN, ..."); mentions of parts
  ("a fully connected layer", "the MLP head", "convolutional layers", "a CNN backbone")
  and negated ones ("is not an MLP", "rather than a CNN") are not claims about the model.
* **Figures with units.** Parameter counts ("5,994 parameters", "6K params", "1.2B
  parameters"), FLOPs ("1.6 MFLOPs", "1.6 million FLOPs", MACs count as FLOPs/2), sizes
  ("23.4 KiB", "24 KB": KB/MB/GB may be decimal or binary) and durations ("899 ns",
  "0.9 µs", "12 ms") must each match a report figure of the same kind: within
  :data:`REL_TOL` or within the rounding of the digits shown. "under"/"less than"/"over"
  /"at least" make the figure a bound. Rates (".../s", "per second") and unitless numbers
  ("28x28", "10 classes", "opset 8", "99%") are not checked. Figures that also appear in
  the manifest's description or the model's name are accepted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.manifest.entry import ModelEntry

REL_TOL = 0.05

# --- architecture ---------------------------------------------------------------------

_TRANSFORMERS = {"transformer-encoder", "transformer-decoder", "encoder-decoder", "vision-transformer", "hybrid"}


@dataclass(frozen=True)
class _Kind:
    label: str  # how the reason names the claim: "an MLP"
    pattern: str  # regex (case-insensitive, whole words)
    allowed: frozenset  # families the claim agrees with


_KINDS = [
    _Kind("a vision transformer", r"vision[- ]transformers?|ViTs?", frozenset({"vision-transformer"})),
    _Kind("a transformer", r"transformers?|large language models?|LLMs?|BERT|GPT(?:-\d+)?|self-attention (?:model|network)s?",
          frozenset(_TRANSFORMERS)),
    _Kind("an MLP", r"multi[- ]?layer perceptrons?|MLPs?|perceptrons?|feed[- ]?forward (?:neural )?networks?|"
          r"fully[- ]connected (?:neural )?networks?|dense (?:neural )?networks?", frozenset({"mlp"})),
    _Kind("a CNN", r"convolutional (?:neural )?networks?|conv[- ]?nets?|CNNs?|convolutional|fully[- ]convolutional|"
          r"ResNets?|VGG|MobileNets?|EfficientNets?|DenseNets?|SqueezeNets?|LeNets?|AlexNet|Inception|U-?Nets?",
          frozenset({"cnn", "hybrid"})),
    _Kind("an LSTM", r"LSTMs?|long short[- ]term memory(?: networks?)?", frozenset({"rnn", "hybrid"})),
    _Kind("a GRU", r"GRUs?|gated recurrent units?(?: networks?)?", frozenset({"rnn", "hybrid"})),
    _Kind("an RNN", r"recurrent (?:neural )?networks?|RNNs?|recurrent", frozenset({"rnn", "hybrid"})),
    _Kind("a tree ensemble", r"decision trees?|tree ensembles?|random forests?|gradient[- ]boost(?:ed|ing)(?: trees?)?|"
          r"XGBoost|LightGBM|support vector machines?|SVMs?", frozenset({"classical-ml"})),
    _Kind("a linear model", r"(?:linear|logistic) regression(?: model)?", frozenset({"classical-ml", "mlp"})),
]
_TERM = re.compile(
    "|".join(f"(?P<k{i}>(?<![\\w-])(?:{k.pattern})(?![\\w]))" for i, k in enumerate(_KINDS)), re.IGNORECASE
)

# Nouns that make the term name a part of the model, not the model.
_PART_NOUNS = (
    r"layers?|sublayers?|heads?|blocks?|stages?|modules?|branch(?:es)?|parts?|components?|backbones?|"
    r"extractors?|front[- ]?ends?|stems?|necks?|cells?|units?|operations?|ops?|operators?|kernels?|filters?|"
    r"features?|projections?|paths?|towers?|stacks?|portions?|sections?|pieces?|weights?|nodes?|bias(?:es)?|"
    r"activations?|connections?|embeddings?|tokens?|attention|mechanisms?|style|styled|like|inspired|"
    # ... or not the model at all: "the Hugging Face Transformers library", "an LSTM paper"
    r"librar(?:y|ies)|packages?|frameworks?|toolkits?|exporters?|exports?|runtimes?|pipelines?|tokenizers?|"
    r"papers?|era|literature|converters?"
)
_PART = re.compile(rf"^\s*(?:[-/]\s*)?(?:[\w-]+\s+){{0,1}}(?:{_PART_NOUNS})\b", re.IGNORECASE)
_IDENTITY_NOUN = re.compile(
    r"^\s*(?:\([^)]{1,40}\)\s*)?(?:[-/][\w]+\s*)*(?:-?based\s+|-?style\s+)?"
    r"(?:model|network|net|architecture|classifier|detector|regressor|predictor|estimator|encoder|decoder|design)s?\b",
    re.IGNORECASE,
)
_FUNCTION_WORDS = (
    r"of|with|that|which|who|and|or|but|for|in|on|at|to|from|by|into|onto|like|than|whose|has|have|had|uses?|using|"
    r"contains?|containing|includ\w*|features?|followed|its|their|a|an|the|this|these|those|each|every|not|no|never|"
    r"nor|neither|unlike|without|instead|rather|non|after|before|then|where|while|via|per|through"
)
_MODIFIER = rf"(?:(?!(?:{_FUNCTION_WORDS})\b)[\w][\w'’.,-]*\s+)"
_IDENTITY_PREFIX = re.compile(
    rf"(?:^\s*|\b(?:is|was|are|were|be|being|been|as|remains|represents|it['’]s)\s+|,\s*|:\s*|\b(?:this|these)\s+)"
    rf"(?:(?:a|an|the|this|that|one|single)\s+)?{_MODIFIER}{{0,4}}$",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"(?:\b(?:not|no|never|neither|nor|unlike|without|instead of|rather than|other than|than|non|versus|vs)\b|n['’]t\b)"
    r"[^.;:!?]{0,40}$",
    re.IGNORECASE,
)
_PART_CONTEXT = re.compile(
    rf"\b(?:uses?|using|used|with|has|have|having|contains?|containing|includ\w*|followed by|feeds?|feeding|into|"
    rf"and|plus|then|its|their|adds?|ends? in|ends? with|on top of)\s+"
    rf"(?:(?:a|an|the|its|one|two|three|four|\d+)\s+)?{_MODIFIER}{{0,3}}$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|\n")


def _an(word: str) -> str:
    return ("an " if word[:1].lower() in "aeio" else "a ") + word


def _family_phrase(family: str) -> str:
    return {"cnn": "a cnn", "mlp": "an mlp", "rnn": "an rnn", "unknown": "of no recognised family"}.get(
        family, _an(family)
    )


def architecture_problems(text: str, report: Report) -> list[str]:
    """Reasons why ``text`` contradicts the report's architecture family (empty: none)."""
    family = report.architecture.family or "unknown"
    ops = report.graph.op_counts or {}
    problems: list[str] = []
    for m in _TERM.finditer(text):
        index = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None)
        kind = _KINDS[index]
        if family in kind.allowed and not _wrong_cell(kind, ops):
            continue
        if not _is_identity_claim(text, m.start(), m.end()):
            continue
        reason = f"calls the model {kind.label} but the graph is {_family_phrase(family)}"
        if _wrong_cell(kind, ops) and family in kind.allowed:
            reason = f"calls the model {kind.label} but its recurrent cells are {', '.join(sorted(_cells(ops)))}"
        if reason not in problems:
            problems.append(reason)
    return problems


def _cells(ops: dict) -> set:
    return {o for o in ("LSTM", "GRU", "RNN") if ops.get(o)}


def _wrong_cell(kind: _Kind, ops: dict) -> bool:
    cells = _cells(ops)
    if kind.label == "an LSTM":
        return bool(cells) and "LSTM" not in cells
    if kind.label == "a GRU":
        return bool(cells) and "GRU" not in cells
    return False


def _is_identity_claim(text: str, start: int, end: int) -> bool:
    sentence_start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    before = text[sentence_start:start]
    after = text[end : end + 60]
    if _NEGATION.search(before) or _PART_CONTEXT.search(before):
        return False
    noun = _IDENTITY_NOUN.match(after)
    if noun:  # "MLP model", "CNN-based classifier", "transformer (ViT) network" ...
        return not _PART.match(after[noun.end():])  # ... but not "MLP classifier head"
    if _PART.match(after):  # "fully connected layer", "MLP head", "CNN backbone", "convolutional layers"
        return False
    if re.match(r"^\s*[-/]\w", after):  # "CNN-LSTM": the compound is judged by its last part
        return False
    return bool(_IDENTITY_PREFIX.search(before))


# --- figures --------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?(?![\d])")
_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_COUNT_PREFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "bn": 1e9, "mn": 1e6, "mil": 1e6}
_SI = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_BIN = {"": 1.0, "k": 2.0**10, "m": 2.0**20, "g": 2.0**30, "t": 2.0**40, "p": 2.0**50}
_DURATIONS = {
    "ns": 1e-9, "nanosecond": 1e-9, "nanoseconds": 1e-9,
    "µs": 1e-6, "μs": 1e-6, "us": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3, "msec": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
}
_BYTE_WORDS = {"byte": "", "bytes": "", "kilobyte": "k", "kilobytes": "k", "megabyte": "m", "megabytes": "m",
               "gigabyte": "g", "gigabytes": "g", "terabyte": "t", "terabytes": "t"}

_SCALE = r"(?P<scale>thousand|million|billion|trillion|bn|mn|mil|[kKMBGT])?"
_PARAM_WORD = r"(?:-|\s)?(?:(?:trainable|learnable|total|model|weight|non-trainable)\s+)?(?:parameters?|params?|weights)\b"
_RX_PARAMS = re.compile(rf"^\s?{_SCALE}{_PARAM_WORD}", re.IGNORECASE)
_RX_PARAMS_B_MODEL = re.compile(r"^\s?(?P<scale>[MB])\b-?\s?(?:model|network)\b")  # "a 7B model"
_RX_FLOPS = re.compile(
    r"^\s?(?:(?P<scale>thousand|million|billion|trillion)\s+|(?P<prefix>[kKMGTP])\s?)?"
    r"(?P<unit>FLOPs?|FLOPS|flops?|MACs?|MAC\b|multiply[- ]accumulates?|floating[- ]point operations?)(?![\w/])",
)
_RX_BYTES = re.compile(
    r"^\s?(?:(?P<scale>thousand|million|billion)\s+)?(?:(?P<prefix>[kKMGTP])(?P<i>i)?B\b|(?P<b>B)\b(?!-)|"
    r"(?P<word>[bB]ytes?|kilobytes?|megabytes?|gigabytes?|terabytes?)\b)"
)
_RX_DURATION = re.compile(
    r"^\s?(?P<unit>ns|µs|μs|us|ms|msec|s|secs?|seconds?|milliseconds?|microseconds?|nanoseconds?)(?![\w/])",
    re.IGNORECASE,
)
_RATE = re.compile(r"^\s?[^\s]{0,12}\s?(?:/\s?s\b|/\s?sec|per\s+second|/\s?second)", re.IGNORECASE)
_UPPER_BOUND = re.compile(
    r"(?:\b(?:under|below|less than|fewer than|lower than|smaller than|at most|up to|within|sub|no more than)|<|≤)\s*"
    r"(?:about|around|roughly|approximately|~|just)?\s*$",
    re.IGNORECASE,
)
_LOWER_BOUND = re.compile(
    r"(?:\b(?:over|above|more than|greater than|larger than|at least|exceeds?|exceeding|no less than)|>|≥)\s*"
    r"(?:about|around|roughly|approximately|~|just)?\s*$",
    re.IGNORECASE,
)


@dataclass
class Figure:
    kind: str  # "params" | "flops" | "bytes" | "duration"
    text: str  # as written
    values: tuple  # candidate values in base units (bytes: decimal and binary readings)
    step: float  # value of one unit in the last digit shown, in base units
    bound: str = ""  # "" | "upper" (actual <= value) | "lower" (actual >= value)


def find_figures(text: str) -> list[Figure]:
    """Every number-with-a-unit of a checked kind in ``text``."""
    figures: list[Figure] = []
    for m in _NUMBER.finditer(text):
        integer, decimals, exponent = m.group(1), m.group(2) or "", m.group(3)
        value = float(integer.replace(",", "") + ("." + decimals if decimals else ""))
        step = 10.0 ** -len(decimals)
        if exponent:
            value *= 10.0 ** int(exponent)
            step *= 10.0 ** int(exponent)
        rest = text[m.end() : m.end() + 48]
        if rest.startswith(("x", "×", "%", "-d", "D")) or _RATE.match(rest) and not _RX_PARAMS.match(rest):
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        bound = "upper" if _UPPER_BOUND.search(before) else "lower" if _LOWER_BOUND.search(before) else ""
        figure = _interpret(rest, value, step)
        if figure is None:
            continue
        kind, values, unit_step, length = figure
        written = (text[m.start() : m.end() + length]).strip()
        figures.append(Figure(kind, written, values, unit_step, bound))
    return figures


def _interpret(rest: str, value: float, step: float):
    m = _RX_PARAMS.match(rest)
    if m:
        scale = _scale(m.group("scale"))
        return "params", (value * scale,), step * scale, m.end()
    m = _RX_PARAMS_B_MODEL.match(rest)
    if m:
        scale = _COUNT_PREFIX[m.group("scale").lower()]
        return "params", (value * scale,), step * scale, m.end()
    m = _RX_FLOPS.match(rest)
    if m:
        scale = _SCALE_WORDS[m.group("scale").lower()] if m.group("scale") else _SI[(m.group("prefix") or "").lower()]
        unit = m.group("unit").lower()
        if unit.startswith(("mac", "multiply")):
            scale *= 2  # one multiply-accumulate = 2 FLOPs
        return "flops", (value * scale,), step * scale, m.end()
    m = _RX_BYTES.match(rest)
    if m:
        words = _SCALE_WORDS[m.group("scale").lower()] if m.group("scale") else 1.0
        if m.group("prefix"):
            p = m.group("prefix").lower()
            scales = (_BIN[p],) if m.group("i") else (_SI[p], _BIN[p])
        elif m.group("word"):
            p = _BYTE_WORDS[m.group("word").lower()]
            scales = (_SI[p], _BIN[p]) if p else (1.0,)
        else:
            scales = (1.0,)
        scales = tuple(sorted({s * words for s in scales}))
        return "bytes", tuple(value * s for s in scales), step * max(scales), m.end()
    m = _RX_DURATION.match(rest)
    if m:
        unit = m.group("unit")
        scale = _DURATIONS.get(unit, _DURATIONS.get(unit.lower()))
        if unit in ("MS", "Ms", "NS", "US") or scale is None:
            return None
        return "duration", (value * scale,), step * scale, m.end()
    return None


def _scale(word: Optional[str]) -> float:
    if not word:
        return 1.0
    w = word.lower()
    return _SCALE_WORDS.get(w) or _COUNT_PREFIX.get(w, 1.0)


def report_figures(report: Report, entry: Optional[ModelEntry] = None) -> dict[str, list[float]]:
    """The figures an answer may quote, by kind."""
    p, f, m = report.params, report.flops, report.memory
    # Headline figures count even when zero; secondary ones only when there is something.
    params = [p.total, p.trainable,
              *(v for v in (p.non_trainable, p.placeholder, p.quantization, *p.by_dtype.values()) if v)]
    flops = [f.total, *(v for v in f.by_op_type.values() if v)]
    sizes = [m.weights_bytes, m.peak_activation_bytes, m.file_bytes, report.model.file_bytes,
             *(v for v in (report.model.external_data_bytes,) if v)]
    durations: list[float] = []
    for h in report.hardware:
        details = h.details or {}
        sizes.append(h.memory_required_bytes)
        for key in ("device_memory_bytes", "weights_bytes", "activation_bytes", "workspace_bytes", "margin_bytes"):
            if isinstance(details.get(key), (int, float)) and details[key] > 0:
                sizes.append(details[key])
        if isinstance(details.get("total_flops"), (int, float)):
            flops.append(details["total_flops"])
        if h.latency_s is not None:
            durations.append(h.latency_s)
        for key in ("compute_bound_time_s", "memory_bound_time_s", "memory_only_lower_bound_s"):
            if isinstance(details.get(key), (int, float)) and details[key] > 0:
                durations.append(details[key])
        for row in details.get("batches") or []:
            if isinstance(row, dict):
                if isinstance(row.get("latency_s"), (int, float)):
                    durations.append(row["latency_s"])
                if isinstance(row.get("memory_required_bytes"), (int, float)):
                    sizes.append(row["memory_required_bytes"])
    figures = {"params": params, "flops": flops, "bytes": sizes, "duration": durations}
    if entry is not None:  # the manifest's own words may be repeated
        for fig in find_figures(" ".join((entry.name or "", entry.description or ""))):
            figures[fig.kind].extend(fig.values)
    return {k: [float(v) for v in vs if v is not None] for k, vs in figures.items()}


def matches(figure: Figure, actual: float, rel_tol: float = REL_TOL) -> bool:
    for claimed in figure.values:
        if figure.bound == "upper" and actual <= claimed * (1 + rel_tol):
            return True
        if figure.bound == "lower" and actual >= claimed * (1 - rel_tol):
            return True
        if claimed == 0 or actual == 0:  # a rounded zero matches only a real zero
            if claimed == actual:
                return True
            continue
        if abs(claimed - actual) <= max(rel_tol * abs(actual), figure.step / 2 * (1 + 1e-9)):
            return True
    return False


def figure_problems(text: str, report: Report, entry: Optional[ModelEntry] = None) -> list[str]:
    known = report_figures(report, entry)
    problems = []
    for fig in find_figures(text):
        candidates = known.get(fig.kind, [])
        if any(matches(fig, a) for a in candidates):
            continue
        problems.append(f'"{fig.text}" matches no {_KIND_NAMES[fig.kind]} in the report{_nearest(fig, candidates)}')
    return _unique(problems)


_KIND_NAMES = {"params": "parameter count", "flops": "FLOP count", "bytes": "size", "duration": "latency"}


def _nearest(fig: Figure, candidates: list[float]) -> str:
    from mkdocs_onnx.units import format_bytes, format_count, format_duration, format_flops

    positive = [c for c in candidates if c > 0]
    if not positive:
        return ""
    target = fig.values[0]
    best = min(positive, key=lambda c: abs(math.log(c) - math.log(target)) if target > 0 else c)
    fmt = {"params": format_count, "flops": format_flops, "bytes": format_bytes, "duration": format_duration}
    return f" (nearest: {fmt[fig.kind](best)})"


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def check(text: str, report: Report, entry: Optional[ModelEntry] = None) -> list[str]:
    """Every reason to reject ``text`` (empty: grounded)."""
    return architecture_problems(text, report) + figure_problems(text, report, entry)
