"""The Report: plain data describing one analysed model, with a stable JSON form.

Renderers, the hardware estimator and the summariser read only this. The field names
of the JSON form are a public contract (see README, "Report JSON"): add, never rename.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, Union

SCHEMA_VERSION = 1

Dim = Union[int, str, None]
"""A tensor dimension: a concrete size, a symbolic dim's name, or None when unknown."""


@dataclass
class TensorInfo:
    name: str
    dtype: str  # 'float32' for a tensor; 'sequence(map(int64, float32))' and the like for other types
    shape: Optional[list[Dim]]  # None when the rank itself is unknown, or the value is no tensor

    def shape_text(self) -> str:
        """``[1, 3, ?]`` (symbolic dims by name, unknown ones as ``?``), 'unknown rank', or ''
        for a value that is not a tensor (a sequence, a map: they have no shape)."""
        if self.shape is None:
            return "" if "(" in self.dtype else "unknown rank"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"


@dataclass
class ModelInfo:
    name: str
    path: str
    sha256: str
    file_bytes: int
    external_data_bytes: int = 0
    external_data_files: list[str] = field(default_factory=list)
    missing_external_data: list[str] = field(default_factory=list)


@dataclass
class Metadata:
    ir_version: int
    producer_name: str
    producer_version: str
    domain: str
    model_version: int
    opsets: dict[str, int]
    doc_string: str
    metadata_props: dict[str, str]
    graph_name: str


@dataclass
class GraphSummary:
    node_count: int
    op_counts: dict[str, int]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    initializer_count: int
    subgraph_count: int


@dataclass
class Params:
    total: int
    trainable: int
    non_trainable: int
    constants: int
    by_dtype: dict[str, int]
    placeholder: int
    weight_tensors: int
    shared_tensors: int  # weight tensors consumed by more than one node, counted once
    # Learned values classical-ML operators hold in attributes (coefficients, split thresholds,
    # leaf weights): not tensors, so not in ``total``; by ``ai.onnx.ml.<op type>``.
    in_attributes: int = 0
    in_attributes_by_op: dict[str, int] = field(default_factory=dict)
    # Scales and zero points of quantized tensors: how values are stored, not what was
    # learned, so not in ``total`` (their bytes are in ``Memory.weights_bytes``).
    quantization: int = 0


def quantized_dtypes(params: Params) -> list[str]:
    """The weight dtypes that are not floating point (int8, uint4, ...), most elements first."""
    found = [d for d in params.by_dtype if not d.startswith(("float", "bfloat"))]
    return sorted(found, key=lambda d: (-params.by_dtype[d], d))


@dataclass
class UncountedNode:
    node: str
    op_type: str
    reason: str


@dataclass
class Flops:
    total: int
    by_op_type: dict[str, int]
    uncounted_ops: dict[str, int]
    uncounted: list[UncountedNode]
    notes: list[str]
    # FLOPs of the nodes computed from constants only: runtimes fold them at load or fuse
    # them into the kernel that reads them (a QDQ model's weight dequantization, into an
    # integer convolution), so they are not in ``total``. Counted here: nothing is hidden.
    folded: int = 0

    @property
    def none_counted(self) -> bool:
        """Every node with a cost is uncounted: the total of 0 is no figure, and is not shown as one."""
        return self.total == 0 and bool(self.uncounted_ops)


@dataclass
class Memory:
    weights_bytes: int
    peak_activation_bytes: int
    peak_node: Optional[str]  # the node executing when the peak is reached
    activations_unknown: int  # intermediate tensors whose size is unknown (peak is then a lower bound)
    file_bytes: int  # model file plus external data

    @property
    def peak_unknown(self) -> bool:
        """No intermediate size is known: the peak of 0 is no figure, and is not shown as one."""
        return self.peak_activation_bytes == 0 and self.activations_unknown > 0


@dataclass
class TransformerFacts:
    """Figures of a transformer read from the graph; None wherever the graph does not fix them (never guessed)."""

    layers: Optional[int] = None  # self-attention layers (encoder and decoder together)
    hidden_size: Optional[int] = None
    heads: Optional[int] = None  # query heads per attention layer
    kv_heads: Optional[int] = None  # key/value heads (== heads: MHA, 1: MQA, between: GQA)
    head_dim: Optional[int] = None
    vocab_size: Optional[int] = None
    context_length: Optional[int] = None  # longest sequence the graph allows, when it fixes one
    kv_cache_bytes_per_token: Optional[int] = None  # decoders: K and V of every layer for one token
    kv_cache_bytes_at_bound_sequence: Optional[int] = None  # for the batch and sequence the dims are bound to
    intermediate_size: Optional[int] = None  # MLP width
    encoder_layers: Optional[int] = None
    decoder_layers: Optional[int] = None
    evidence: list[str] = field(default_factory=list)  # where each figure comes from


@dataclass
class Architecture:
    family: str
    evidence: list[str]
    task_guess: Optional[str] = None
    blocks: list[str] = field(default_factory=list)
    transformer: Optional[TransformerFacts] = None
    task_evidence: str = ""  # why the task was guessed (also in evidence)


@dataclass(slots=True)  # one per node: the cheapest to build
class NodeCost:
    """One node's share of the totals; the per-node table sums exactly to them."""

    name: str
    op_type: str
    flops: Optional[int]  # None: uncounted (see Flops.uncounted for why)
    params: int  # weight elements first used by this node
    bytes_read: Optional[int]  # inputs (activations and weights) in bytes
    weight_bytes_read: int  # the part of bytes_read that is weights (does not grow with batch)
    bytes_written: Optional[int]  # outputs in bytes
    subgraph: str = ""  # "" for the main graph, else the path of the owning node
    folded: bool = False  # computes only from constants: runtimes fold it at load or fuse it into its reader


@dataclass
class HardwareEstimate:
    device: str
    precision: str
    memory_required_bytes: int
    fits: Optional[bool]  # None: the precision is not supported by the device
    latency_s: Optional[float]
    bottleneck: str
    arithmetic_intensity: Optional[float]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Risk:
    id: str
    severity: str  # "info" | "warning" | "error"
    message: str
    advice: str = ""


@dataclass
class Report:
    model: ModelInfo
    metadata: Metadata
    graph: GraphSummary
    params: Params
    flops: Flops
    memory: Memory
    architecture: Architecture
    dims: dict[str, Optional[int]]  # symbolic dim -> bound value (None: left unbound)
    batch_dims: list[str] = field(default_factory=list)  # the symbolic dims treated as batch
    risks: list[Risk] = field(default_factory=list)
    hardware: list[HardwareEstimate] = field(default_factory=list)
    nodes: list[NodeCost] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    analyzer_version: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "Report":
        return cls.from_dict(json.loads(text))


@functools.lru_cache(maxsize=None)
def _field_types(tp: type) -> dict[str, Any]:
    """A dataclass's field name -> resolved type (resolving is slow; a cache read does it per object)."""
    hints = typing.get_type_hints(tp)
    return {f.name: hints[f.name] for f in dataclasses.fields(tp)}


def _build(tp: Any, value: Any) -> Any:
    """Rebuild a value of (possibly nested) dataclass type ``tp`` from its JSON form."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        non_none = [a for a in typing.get_args(tp) if a is not type(None)]
        dataclass_args = [a for a in non_none if dataclasses.is_dataclass(a)]
        return _build(dataclass_args[0], value) if dataclass_args else value
    if dataclasses.is_dataclass(tp):
        hints = _field_types(tp)
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in hints})
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _build(item, v) for k, v in value.items()}
    return value
