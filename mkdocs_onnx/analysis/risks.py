"""Deployment notes: facts about a model that a deployer should know, each with advice.

Each check looks at the finished figures and fires only when its condition holds: a note
never appears on a model where what it says is false.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import onnx

from mkdocs_onnx.analysis.graphs import node_label
from mkdocs_onnx.analysis.index import IndexedModel
from mkdocs_onnx.analysis.report import Report, Risk

OLDEST_COMFORTABLE_OPSET = 11
OLDEST_COMFORTABLE_IR = 4  # IR 3 and older: initializers doubled as inputs, attribute types optional
LARGE_TENSOR_BYTES = 1 << 30
UNBOUNDED_TRIP_COUNT = 2**31  # Loop's M at or above this means "until cond is false"
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training")
_DOUBLE = onnx.TensorProto.DOUBLE

Check = Callable[[Report, "Facts"], Optional[Risk]]


@dataclass
class LoopInfo:
    """A Loop or Scan node and the inputs that decide how many times it runs."""

    label: str
    op_type: str
    trip_count: str = ""  # Loop: input M ("" when absent)
    scan_input: str = ""  # Scan: the first scan input
    scan_axis: int = 0


class Facts:
    """What the checks need beyond the report."""

    def __init__(self, float64_tensors: int, largest_tensor: tuple[str, int], unused_initializers: list[str],
                 custom_domains: list[str], unknown_trip_counts: int, *, loops: Optional[list[LoopInfo]] = None,
                 custom_ops: Optional[dict[str, int]] = None, ml_ops: Optional[dict[str, int]] = None,
                 default_domain_nodes: int = 1, constant_names: Optional[set[str]] = None,
                 inlined_functions: Optional[dict[str, int]] = None, dequantizes_weights: bool = False):
        self.float64_tensors = float64_tensors
        self.largest_tensor = largest_tensor
        self.unused_initializers = unused_initializers
        self.custom_domains = custom_domains
        self.unknown_trip_counts = unknown_trip_counts
        self.loops = loops  # None: only the static count above is known
        self.custom_ops = custom_ops or {}
        self.ml_ops = ml_ops or {}
        self.default_domain_nodes = default_domain_nodes
        self.constant_names = constant_names or set()
        self.inlined_functions = inlined_functions or {}  # "domain.name" -> calls replaced by the body
        self.dequantizes_weights = dequantizes_weights  # a DequantizeLinear reads a constant
        # filled by assess() from the inferred types and values
        self.float64_activations: list[str] = []
        self.dynamic_loops: list[str] = []
        self.loops_assessed = False

    @classmethod
    def from_index(cls, index: IndexedModel, params, inlined_functions: Optional[dict[str, int]] = None) -> "Facts":
        """Facts of an indexed model, its ``ParamsResult`` and the local functions it was inlined from."""
        local = {f.domain for f in index.model.functions}
        custom: dict[str, int] = {}
        ml: dict[str, int] = {}
        custom_domains = set()
        default_nodes = 0
        for (domain, op_type), n in index.op_counts().items():
            if domain not in STANDARD_DOMAINS and domain not in local:
                op = f"{domain}.{op_type}"
                custom[op] = custom.get(op, 0) + n
                custom_domains.add(domain)
            elif domain == "ai.onnx.ml":
                ml[op_type] = ml.get(op_type, 0) + n
            elif domain in ("", "ai.onnx"):
                default_nodes += n
        # a constant a subgraph returns as its output is used, though no node reads it
        subgraph_outputs = {name for g in index.graphs for name in g.outputs}
        unused = [u for u in params.unused if u not in subgraph_outputs]
        loops, unknown = _loops(index, params.constant_names)
        return cls(params.float64_weights, params.largest_weight, unused, sorted(custom_domains), unknown, loops=loops,
                   custom_ops=dict(sorted(custom.items())), ml_ops=dict(sorted(ml.items())),
                   default_domain_nodes=default_nodes, constant_names=params.constant_names,
                   inlined_functions=inlined_functions,
                   dequantizes_weights=_dequantizes_weights(index, params.constant_names))


def _dequantizes_weights(index: IndexedModel, constant_names: set[str]) -> bool:
    """Whether some DequantizeLinear reads a constant: weights stored quantized."""
    if ("", "DequantizeLinear") not in index.op_counts():
        return False
    return any(n.op_type == "DequantizeLinear" and n.input and n.input[0] in constant_names for n in index.nodes())


_LOOP_KEYS = frozenset((domain, op) for domain in ("", "ai.onnx") for op in ("Loop", "Scan"))  # op_counts() keys


def _loops(index: IndexedModel, constant_names: set[str]) -> tuple[list[LoopInfo], int]:
    """The Loop and Scan nodes (labelled by their position among all nodes), and how many
    Loops have a trip count that is not a constant."""
    if _LOOP_KEYS.isdisjoint(index.op_counts()):  # op counts hold only ops that occur
        return [], 0
    loops, unknown = [], 0
    for i, n in enumerate(index.nodes()):
        if n.op_type == "Loop" and n.domain in ("", "ai.onnx"):
            m = n.input[0] if n.input else ""
            loops.append(LoopInfo(node_label(n, i), "Loop", trip_count=m))
            unknown += not m or m not in constant_names
        elif n.op_type == "Scan" and n.domain in ("", "ai.onnx"):
            n_scan = _int_attribute(_read(n, "num_scan_inputs", 0))
            axes = _ints_attribute(_read(n, "scan_input_axes", [0]))
            first = n.input[len(n.input) - n_scan] if 0 < n_scan <= len(n.input) else ""
            loops.append(LoopInfo(node_label(n, i), "Scan", scan_input=first, scan_axis=axes[0] if axes else 0))
    return loops, unknown


def _read(node, name: str, default):
    """An attribute's value; one that cannot be read (a reference outside a function) reads as None."""
    try:
        return node.attr(name, default)
    except Exception:
        return None


def _int_attribute(value) -> int:
    """An INT attribute as read from its field (0 when the attribute has another type)."""
    return value if isinstance(value, int) else 0


def _ints_attribute(value) -> list:
    """An INTS attribute as read from its field ([] when the attribute has another type)."""
    return value if isinstance(value, list) and all(isinstance(v, int) for v in value) else []


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
    ops = ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in f.custom_ops.items())
    where = f" ({ops})" if ops else ""
    advice = ("The runtime must provide these operators: com.microsoft ones are ONNX Runtime contrib ops; "
              "others need the library that registers them (e.g. onnxruntime-extensions for ai.onnx.contrib).")
    return Risk("custom-domain", "warning",
                f"Operators from non-standard domains: {', '.join(f.custom_domains)}{where}.", advice)


# How a model is quantized, told by its operators (as ``graph.op_counts`` names them), and
# what each way needs from a runtime
_QUANTIZATION_FORMATS = (
    ("4-bit weights (ONNX Runtime's weight-only quantization)",
     {"com.microsoft.MatMulNBits", "com.microsoft.MatMulNBitsQkv", "com.microsoft.MatMulNBitsMlp",
      "com.microsoft.GatherBlockQuantized", "com.microsoft.MatMulBnb4", "com.microsoft.QMoE"},
     "ONNX Runtime's CPU and CUDA providers run these operators; other runtimes do not."),
    ("integer operators (the QOperator format)",
     {"QLinearConv", "QLinearMatMul", "com.microsoft.QGemm", "com.microsoft.QLinearAdd", "com.microsoft.QLinearMul",
      "com.microsoft.QLinearConv", "com.microsoft.QAttention", "com.microsoft.QLinearSoftmax",
      "com.microsoft.QLinearConcat", "com.microsoft.QLinearAveragePool", "com.microsoft.QLinearGlobalAveragePool",
      "com.microsoft.QLinearSigmoid", "com.microsoft.QLinearLeakyRelu"},
     "ONNX Runtime runs them; TensorRT accepts quantized models only as QuantizeLinear/DequantizeLinear pairs "
     "(the QDQ format): quantize again in that format for it."),
    ("dynamic quantization (activations quantized at run time)",
     {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "com.microsoft.DynamicQuantizeMatMul",
      "com.microsoft.MatMulIntegerToFloat", "com.microsoft.DynamicQuantizeLSTM"},
     "Made for CPUs: GPU runtimes run integer MatMulInteger/ConvInteger slowly or not at all."),
    ("QuantizeLinear/DequantizeLinear pairs (the QDQ format)", {"QuantizeLinear"},
     "Runtimes that support it (ONNX Runtime, TensorRT, OpenVINO) fuse each pair with the operator between "
     "into an integer kernel; others run the float operators with extra conversions."),
)


def _quantized(r: Report, f: Facts) -> Optional[Risk]:
    ops = r.graph.op_counts
    found = [(name, advice) for name, operators, advice in _QUANTIZATION_FORMATS if any(op in ops for op in operators)]
    if len(found) > 1 and found[-1][0].startswith("QuantizeLinear"):
        found.pop()  # other formats quantize the inputs and dequantize the outputs with them too
    if not found and f.dequantizes_weights:  # weights stored quantized, dequantized for float operators
        found = [("weights stored quantized and dequantized for float operators (weight-only QDQ)",
                  "Runtimes that fuse DequantizeLinear into the operator that reads it (ONNX Runtime, TensorRT) "
                  "keep the weights quantized in memory; others dequantize them at load or at every call.")]
    if not found:
        return None
    return Risk("quantized", "info", "Quantized: " + "; ".join(name for name, _ in found) + ".",
                " ".join(advice for _, advice in found))


# What ONNX Runtime's session graph optimizations write into a model they save (offline
# optimization); its transformer optimizer's fusions (SkipLayerNormalization, ...) are meant to travel
_SESSION_FUSIONS = {"com.microsoft.FusedConv", "com.microsoft.FusedGemm", "com.microsoft.FusedMatMul",
                    "com.microsoft.NhwcConv", "com.microsoft.NhwcMaxPool"}


def _runtime_optimized(r: Report, f: Facts) -> Optional[Risk]:
    fused = sorted(op for op in r.graph.op_counts if op in _SESSION_FUSIONS)
    if not fused:
        return None
    return Risk("runtime-optimized", "info",
                "Saved by ONNX Runtime after its graph optimizations (it holds their fused operators: "
                + ", ".join(op.split(".")[-1] for op in fused) + ").",
                "ONNX Runtime asks that a model optimized offline run with the execution providers and on the "
                "hardware it was optimized for; publish the unoptimized model too for other runtimes and machines.")


def _ml_operators(r: Report, f: Facts) -> Optional[Risk]:
    if not f.ml_ops:
        return None
    ops = ", ".join(f.ml_ops)
    return Risk("ml-operators", "info",
                f"Uses ai.onnx.ml operators ({ops}): standard ONNX, but outside the neural-network operator set.",
                "ONNX Runtime runs them on CPU; GPU runtimes such as TensorRT and many converters do not support them.")


def _old_opset(r: Report, f: Facts) -> Optional[Risk]:
    opset = r.metadata.opsets.get("ai.onnx")
    if opset is None or opset >= OLDEST_COMFORTABLE_OPSET or not f.default_domain_nodes:
        return None
    return Risk("old-opset", "info", f"Default-domain opset {opset} (IR version {r.metadata.ir_version}) is old.",
                "Convert with onnx.version_converter to a current opset before optimising for new runtimes.")


def _old_ir(r: Report, f: Facts) -> Optional[Risk]:
    ir = r.metadata.ir_version
    if ir >= OLDEST_COMFORTABLE_IR:
        return None
    return Risk("old-ir-version", "info",
                f"IR version {ir} dates from before 2019 (ONNX 1.3 or earlier); current tools write IR 8 or later.",
                "Re-save with a current onnx (after onnx.version_converter) so that tools that require newer IR read it.")


def _float64(r: Report, f: Facts) -> Optional[Risk]:
    io = [t.name for t in (*r.graph.inputs, *r.graph.outputs) if t.dtype == "float64"]
    if not f.float64_tensors and not io and not f.float64_activations:
        return None
    parts = []
    if f.float64_tensors:
        parts.append(f"{f.float64_tensors} weight tensor(s)")
    if io:
        parts.append(f"{len(io)} graph input/output(s) ({', '.join(io[:3])}{', ...' if len(io) > 3 else ''})")
    if f.float64_activations:
        parts.append(f"{len(f.float64_activations)} computed tensor(s)")
    return Risk("float64", "warning", f"float64 data: {'; '.join(parts)}; GPUs run float64 far slower and many "
                                      "runtimes have no float64 kernels.",
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
    if f.loops_assessed:
        if not f.dynamic_loops:
            return None
        shown = ", ".join(f.dynamic_loops[:3]) + (", ..." if len(f.dynamic_loops) > 3 else "")
        return Risk("dynamic-control-flow", "warning",
                    f"{len(f.dynamic_loops)} Loop/Scan node(s) run a number of times known only at run time ({shown}).",
                    "Their cost is uncounted; latency estimates are lower bounds.")
    if not f.unknown_trip_counts:
        return None
    return Risk("dynamic-control-flow", "warning",
                f"{f.unknown_trip_counts} Loop node(s) have a trip count unknown before run time.",
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
    shown = ", ".join(f.unused_initializers[:3]) + (", ..." if len(f.unused_initializers) > 3 else "")
    return Risk("unused-initializers", "info",
                f"{len(f.unused_initializers)} constant tensor(s) are never read and are not counted as parameters "
                f"({shown}).",
                "Remove them (onnx-simplifier or onnx.utils) to shrink the file.")


def _local_functions(r: Report, f: Facts) -> Optional[Risk]:
    if not f.inlined_functions:
        return None
    calls = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in f.inlined_functions.items())
    return Risk("local-functions", "info",
                f"Calls of the model's local functions ({calls}) are analysed as the nodes of the functions' bodies, "
                "as runtimes inline them: the operator counts and figures are those of the inlined graph.",
                "Nothing to do; onnx.inliner.inline_local_functions writes the graph as analysed.")


CHECKS: list[Check] = [
    _symbolic_dims, _uncounted, _custom_domains, _quantized, _runtime_optimized, _ml_operators, _old_opset, _old_ir,
    _float64, _placeholder, _large_tensor, _control_flow, _missing_external, _unused, _local_functions,
]


def assess(report: Report, facts: Facts, types: Optional[dict] = None, values: Optional[dict] = None) -> list[Risk]:
    """The notes that hold for ``report``; ``types`` and ``values`` (inferred) refine loop and dtype facts."""
    if types is not None:
        # every inferred tensor is tested: the dtype first, against a module constant (few are float64)
        doubles = [name for name, (elem, _) in types.items() if elem == _DOUBLE]
        constants = facts.constant_names
        facts.float64_activations = sorted(name for name in doubles if name not in constants)
    if facts.loops is not None and (types is not None or values is not None):
        facts.dynamic_loops = [lp.label for lp in facts.loops if not _runs_known_times(lp, types or {}, values or {})]
        facts.loops_assessed = True
    return [risk for check in CHECKS if (risk := check(report, facts)) is not None]


def _runs_known_times(lp: LoopInfo, types: dict, values: dict) -> bool:
    if lp.op_type == "Loop":
        if not lp.trip_count or lp.trip_count not in values:
            return False
        try:
            trips = int(values[lp.trip_count].reshape(-1)[0])
        except (ValueError, IndexError, TypeError, AttributeError):
            return False
        return trips < UNBOUNDED_TRIP_COUNT
    info = types.get(lp.scan_input)
    if info is None or info[1] is None:
        return False
    shape = info[1]
    if not shape or not -len(shape) <= lp.scan_axis < len(shape):
        return False
    return isinstance(shape[lp.scan_axis], int)
