"""Graph structure: the building blocks a model is made of, found by following tensors.

Everything here reads the wiring of the graph (who produces and who consumes each
tensor), which tensors are constants, and the shapes that inference found. Nothing
counts operators against thresholds: a dense layer is a matrix multiply *by a weight*,
attention is a MatMul of two activations feeding Softmax feeding another such MatMul,
a residual connection is an Add whose two inputs forked from one tensor with weights on
one path, and so on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Iterator, Optional

import numpy as np
import onnx

from mkdocs_onnx.analysis.graphs import fold_constants, outer_scope_inputs
from mkdocs_onnx.analysis.index import Graph, IndexedModel, Node, Tensor, walk
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, QUANTIZED_INT_TYPES

CONV_OPS = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger", "FusedConv", "NhwcConv", "QLinearConvTranspose"}
# op type -> index of the weight input
CONV_WEIGHT_SLOT = {"Conv": 1, "ConvTranspose": 1, "FusedConv": 1, "NhwcConv": 1, "ConvInteger": 1,
                    "QLinearConv": 3, "QLinearConvTranspose": 3}
DENSE_WEIGHT_SLOTS = {
    "MatMul": (1, 0), "FusedMatMul": (1, 0), "Gemm": (1, 0), "FusedGemm": (1, 0), "MatMulInteger": (1, 0),
    "QLinearMatMul": (3, 0), "QGemm": (3, 0), "MatMulNBits": (1,), "DynamicQuantizeMatMul": (1,),
    "MatMulIntegerToFloat": (1, 0), "MatMulBnb4": (1,), "MatMulFpQ4": (1,), "Einsum": (1, 0),
    "MatMulNBitsQkv": (3,), "MatMulNBitsMlp": (3,),  # fused projections: the first weight stands for them
}
# (input width, output width) of the 4-bit projections, from their attributes: their
# packed weights' shapes do not say
_NBITS_WIDTHS = {
    "MatMulNBits": lambda attr: (attr("K"), attr("N")),
    "MatMulNBitsMlp": lambda attr: (attr("K"), attr("N")),
    "MatMulNBitsQkv": lambda attr: (attr("K"), (attr("Nq") or 0) + 2 * (attr("Nkv") or 0) or None),
}
DENSE_OPS = frozenset(DENSE_WEIGHT_SLOTS)
RNN_OPS = {"LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"}
FUSED_ATTENTION_OPS = {
    "Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention", "PackedMultiHeadAttention",
    "DecoderMaskedMultiHeadAttention", "DecoderMaskedSelfAttention", "DecoderAttention", "QAttention",
    "LongformerAttention", "SparseAttention", "PagedAttention", "QOrderedAttention",
}
CAUSAL_FUSED_OPS = {"GroupQueryAttention", "DecoderMaskedMultiHeadAttention", "DecoderMaskedSelfAttention",
                    "DecoderAttention", "PagedAttention", "SparseAttention"}
NORM_OPS = {
    "BatchNormalization": "BatchNorm", "InstanceNormalization": "InstanceNorm", "GroupNormalization": "GroupNorm",
    "LayerNormalization": "LayerNorm", "SimplifiedLayerNormalization": "RMSNorm", "RMSNormalization": "RMSNorm",
    "SkipLayerNormalization": "LayerNorm (fused with the residual Add)",
    "SkipSimplifiedLayerNormalization": "RMSNorm (fused with the residual Add)",
    "EmbedLayerNormalization": "LayerNorm (fused with the embeddings)", "LpNormalization": "Lp normalization",
    "MeanVarianceNormalization": "mean-variance normalization", "LRN": "local response normalization",
    "QLinearLayerNormalization": "LayerNorm", "SkipGroupNorm": "GroupNorm",
}
ACTIVATIONS = {
    "Relu": "ReLU", "LeakyRelu": "LeakyReLU", "PRelu": "PReLU", "Elu": "ELU", "Selu": "SELU", "Celu": "CELU",
    "Sigmoid": "Sigmoid", "HardSigmoid": "HardSigmoid", "Tanh": "Tanh", "Softplus": "Softplus",
    "Softsign": "Softsign", "HardSwish": "HardSwish", "Mish": "Mish", "Gelu": "GELU", "FastGelu": "GELU",
    "BiasGelu": "GELU", "QuickGelu": "GELU", "Clip": "ReLU6/Clip", "ThresholdedRelu": "ThresholdedReLU",
    "Erf": "GELU", "QLinearSigmoid": "Sigmoid", "QLinearLeakyRelu": "LeakyReLU", "Swish": "SiLU",
    "BiasSplitGelu": "GELU", "SkipGelu": "GELU",
}
POOL_OPS = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "QLinearAveragePool",
            "QLinearGlobalAveragePool"}
ML_MODEL_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble", "LinearClassifier",
                "LinearRegressor", "SVMClassifier", "SVMRegressor"}
COMPARISONS = {"Less", "LessOrEqual", "Greater", "GreaterOrEqual"}
# Ops a tensor passes through unchanged in content (only its layout or type changes).
LAYOUT_OPS = {"Reshape", "Transpose", "Cast", "CastLike", "Identity", "Squeeze", "Unsqueeze", "Flatten", "Dropout",
              "DequantizeLinear", "QuantizeLinear", "Expand", "Tile", "Contiguous"}
# What may sit between the score MatMul and Softmax (scale, mask) or Softmax and the value MatMul.
_SCORE_GLUE = {"Add", "Div", "Mul", "Where", "Cast", "Dropout", "Sub", "Reshape", "Transpose", "Identity",
               "Max", "Min", "Clip", "Tanh", "Squeeze", "Unsqueeze", "DequantizeLinear", "QuantizeLinear",
               "QLinearMul", "QLinearAdd"}
# Elementwise and layout ops an MLP's activation region may contain (no MatMul, no Softmax, no Conv).
_MLP_REGION = {"Add", "Mul", "Div", "Sub", "Pow", "Sqrt", "Erf", "Tanh", "Sigmoid", "Relu", "Gelu", "FastGelu",
               "BiasGelu", "QuickGelu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Softplus", "HardSwish",
               "HardSigmoid", "Mish", "Clip", "Cast", "Identity", "Dropout", "Reshape", "DequantizeLinear",
               "QuantizeLinear", "Swish", "Split", "Slice", "Neg", "Exp", "Log", "DynamicQuantizeLinear",
               "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu"}
_MAX_BFS = 400
_NOTHING: frozenset = frozenset()


# --- The index over one graph ------------------------------------------------------------------


class ModelIndex:
    """Producers, consumers, constants, shapes and small values over every graph of a model.

    Built on the analyzer's :class:`~mkdocs_onnx.analysis.index.IndexedModel` (read from
    protobuf once); nodes here are its :class:`~mkdocs_onnx.analysis.index.Node` objects.
    The tables every detection reads (producers, consumers, nodes by op type, folded
    constants) are filled in one loop over the nodes; those only some models need (constant
    tensors by name, node positions) when first asked. The finders below start from
    :meth:`nodes_of` (the nodes of a few op types) instead of walking the whole graph.
    """

    def __init__(self, index: IndexedModel, types: Optional[dict] = None, values: Optional[dict] = None):
        self.index = index
        self.model = index.model
        self.types = types or {}
        self.values = values if values is not None else {}  # the analyzer's: read, never written
        self._decoded: dict[str, np.ndarray] = {}  # constants decoded here
        self._int_lists: dict[str, Optional[list[int]]] = {}  # int_list(name): every layer asks for the same
        self.graphs: list[Graph] = _run_together(index)
        self.main: Graph = index.main
        self.dense_cache: dict[int, Optional[Dense]] = {}  # id(node) -> dense_layer(node)
        known = {t.name for t in self.main.initializers}
        self.graph_inputs = {name for name in self.main.inputs if name not in known}
        self._index_nodes(known)

    def _index_nodes(self, known: set[str]) -> None:
        """Producers, consumers, nodes by op type and folded constants, in one loop.

        ``known`` comes in holding the main graph's initializers. The loop runs once per
        node of the model, so it is kept tight: absent ('') inputs and outputs are indexed
        like any name and their entries dropped at the end.
        """
        graphs = self.graphs
        producer: dict[str, Node] = {}
        # name -> the node that reads it, or the list of them when several do (read it through
        # users()): most names are read once, and a one-node list for each costs ~1.5% of analyze()
        consumers: dict[str, Node | list[Node]] = {}
        by_op: defaultdict[str, list[Node]] = defaultdict(list)  # op type -> its nodes, in index order
        for graph in graphs[1:]:
            known.update(t.name for t in graph.initializers)
        # ``known`` folds as it goes: constants (initializers, Constant outputs) plus tensors
        # computed from constants only. It holds '' so that absent inputs pass as known.
        known.add("")
        # Folding here spares a second walk (~3% of analyze() on a CNN); it is exact only when each
        # Constant node comes before its readers, so otherwise _fold() walks again.
        constant_comes_late = False
        for graph in graphs:
            for node in graph.nodes:
                op = node.op_type
                ins = node.input
                outs = node.output
                by_op[op].append(node)
                for o in outs:
                    producer[o] = node
                for i in ins:
                    if i in consumers:
                        _add_consumer(consumers, i, node)
                    else:  # the first reader, inline: the usual case
                        consumers[i] = node
                if node.subgraphs:  # outer-scope names a subgraph reads count as consumed by the node
                    for sub in node.subgraphs:
                        for name in outer_scope_inputs(sub):
                            _add_consumer(consumers, name, node)
                if ins:
                    # most nodes fail at their first input; a lone known input needs no more tests
                    if ins[0] in known and (len(ins) == 1 or known.issuperset(ins)) and op not in _NOT_FOLDED \
                            and not node.has_graph_attribute and (ins[0] or any(ins) or op in _SOURCE_OPS):
                        if len(outs) == 1:  # add() is cheaper than update() of a one-name list
                            known.add(outs[0])
                        else:
                            known.update(outs)
                elif op == "Constant":
                    if outs and node.domain in ("", "ai.onnx"):
                        constant_comes_late = constant_comes_late or outs[0] in consumers
                        known.add(outs[0])
                elif op in _SOURCE_OPS and not node.has_graph_attribute:
                    known.update(outs)
        producer.pop("", None)
        consumers.pop("", None)
        known.discard("")
        self.producer, self.consumers, self.by_op = producer, consumers, by_op
        if "Constant" in by_op and any(n.input for n in by_op["Constant"]):
            constant_comes_late = True  # the loop above adds only input-less Constants as they come
        self.constants = _fold(graphs, self._constants()) if constant_comes_late else known

    def _constants(self) -> set[str]:
        """Initializers and Constant outputs (nothing folded)."""
        found = {t.name for g in self.graphs for t in g.initializers}
        found.update(n.output[0] for n in self.by_op.get("Constant", ()) if n.output and n.domain in ("", "ai.onnx"))
        return found

    @cached_property
    def tensors(self) -> dict[str, Tensor]:
        """Constant tensors as stored (initializers, Constant values) by name; built when first needed.

        Graph by graph, a Constant's value replaces an earlier initializer of its name.
        """
        return dict(self.index.named_constants())

    @cached_property
    def holds_square_constant(self) -> bool:
        """Whether a constant tensor's last two dims are equal and at least 2 (a causal mask may be one)."""
        return any(_square(t.dims) for t in self.tensors.values())

    @cached_property
    def cache_inputs(self) -> set[str]:
        """Graph inputs named like a KV cache (past, present, cache)."""
        return {name for name in self.graph_inputs if is_cache_name(name)}

    @cached_property
    def position(self) -> dict[int, int]:
        """id(node) -> its place in the index (graph by graph); built when first needed."""
        nodes = (node for graph in self.graphs for node in graph.nodes)
        return {id(node): place for place, node in enumerate(nodes)}

    def holds(self, ops: frozenset) -> bool:
        """Whether the model holds a node of an op type in ``ops`` (a set)."""
        return not ops.isdisjoint(self.by_op)

    def nodes_of(self, ops: frozenset) -> list[Node]:
        """The nodes whose op type is in ``ops``, in index order (a shared list: do not modify it)."""
        present = ops.intersection(self.by_op)  # walks the model's few op types, not ``ops``
        if not present:
            return []
        if len(present) == 1:
            return self.by_op[next(iter(present))]
        return [n for g in self.graphs for n in g.nodes if n.op_type in present]  # cheaper than sorting by position

    # shapes and values
    def shape(self, name: str) -> Optional[tuple]:
        info = self.types.get(name)
        if info is not None and info[1] is not None:
            shape = info[1]
            return shape if type(shape) is tuple else tuple(shape)
        t = self.tensors.get(name)
        return t.dims if t is not None else None

    def static_shape(self, name: str) -> Optional[tuple]:
        s = self.shape(name)
        return s if s is not None and all(isinstance(d, int) for d in s) else None

    def elem_type(self, name: str) -> Optional[int]:
        info = self.types.get(name)
        if info is not None and info[0]:
            return info[0]
        t = self.tensors.get(name)
        return t.elem_type if t is not None else None

    def value(self, name: str) -> Optional[np.ndarray]:
        if name in self.values:
            return self.values[name]
        if name in self._decoded:
            return self._decoded[name]
        t = self.tensors.get(name)
        if t is not None and not _stripped(t.proto):
            try:
                v = onnx.numpy_helper.to_array(t.proto) if _numel(t.dims) <= 1 << 22 else None
            except Exception:
                v = None
            if v is not None:
                self._decoded[name] = v
            return v
        return None

    def int_list(self, name: str) -> Optional[list[int]]:
        """The value of ``name`` flattened to ints (None when not known), converted once."""
        if name in self._int_lists:
            return self._int_lists[name]
        value = self.value(name)
        found = self._int_lists[name] = _int_list(value) if value is not None else None
        return found

    def is_const(self, name: str) -> bool:
        return bool(name) and name in self.constants

    def is_weight(self, name: str) -> bool:
        """A constant floating-point or quantized tensor of rank ≥ 2 (through layout ops)."""
        if not name or name not in self.constants:
            return False
        origin = self.through(name, LAYOUT_OPS)
        shape = self.shape(origin) or self.shape(name)
        elem = self.elem_type(origin)
        if shape is not None and (len(shape) < 2 or _at_most_one(shape)):
            return False
        return elem is None or elem in FLOAT_TYPES or elem in QUANTIZED_INT_TYPES

    def through(self, name: str, ops: set, limit: int = 8) -> str:
        """Follow ``name`` up through ``ops`` (first data input) to the tensor they started from."""
        for _ in range(limit):
            p = self.producer.get(name)
            if p is None or p.op_type not in ops or not p.input or not p.input[0]:
                return name
            name = p.input[0]
        return name

    def several_users(self, name: str) -> bool:
        """Whether two or more reads of ``name`` are indexed (a list holds every name read more than once)."""
        return type(self.consumers.get(name)) is list

    def users(self, name: str) -> list[Node]:
        """The nodes that read ``name``, in index order (once per read)."""
        found = self.consumers.get(name)
        if found is None:
            return []
        return found if type(found) is list else [found]

    def attr(self, node: Node, name: str, default=None):
        return node.attr(name, default)

    def upstream(self, names: Iterable[str], allowed=None, limit: int = _MAX_BFS,
                 stop=None, into_constants: bool = False) -> Iterator[tuple[Node, int]]:
        """Producers of ``names`` and their ancestors, breadth first, with their distance.

        Only nodes whose op is in ``allowed`` (all when None) are walked through; a node
        for which ``stop(node)`` is true is yielded but not walked through. The walk goes
        one distance at a time (a list per distance: no queue of (name, distance) pairs).
        """
        producer = self.producer
        skipped = _NOTHING if into_constants else self.constants  # names never queued
        seen: set[int] = set()
        frontier = [n for n in names if n and n not in skipped]
        count = 0
        depth = 1
        while frontier:
            nxt: list[str] = []
            for name in frontier:
                if count >= limit:
                    return
                p = producer.get(name)
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                count += 1
                yield p, depth
                if stop is not None and stop(p):
                    continue
                if allowed is not None and p.op_type not in allowed:
                    continue
                for i in p.input:
                    if i and i not in skipped:
                        nxt.append(i)
            frontier = nxt
            depth += 1

    def depends_on(self, name: str, target: str, limit: int = _MAX_BFS) -> bool:
        if name == target:
            return True
        if name not in self.producer:  # a graph input or an initializer: no walk to start
            return False
        return any(target in p.input for p, _ in self.upstream([name], limit=limit))


def _stripped(t: onnx.TensorProto) -> bool:
    return t.data_location == onnx.TensorProto.EXTERNAL


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= max(int(d), 0)
    return n


def _at_most_one(shape) -> bool:
    """Whether a tensor of ``shape`` holds at most one element (a dim that is not a number counts as 2)."""
    n = 1
    for d in shape:
        if isinstance(d, int):
            if d <= 0:
                return True
            n *= d
        else:
            n *= 2
    return n < 2


def _add_consumer(consumers: dict, name: str, node: Node) -> None:
    """Record ``node`` as a reader of ``name``: the first is kept alone, a second makes a list."""
    found = consumers.get(name)
    if found is None:
        consumers[name] = node
    elif type(found) is list:
        found.append(node)
    else:
        consumers[name] = [found, node]


# Ops whose output is not fixed by constant inputs, and ops that make a constant from none.
_NOT_FOLDED = frozenset({"RandomNormal", "RandomUniform", "Range", "Shape", "Size"})
_SOURCE_OPS = ("ConstantOfShape", "EyeLike")


def _fold(graphs: list[Graph], constants: set[str]) -> set[str]:
    """Constants plus tensors computed from constants only (every constant known up front).

    :class:`ModelIndex` folds in its one loop; this slower walk is for models that read a
    Constant's output before the Constant comes. Unlike the parameter count's folding,
    shapes, sizes, ranges and random fills are not constants here (they are no weights).
    """
    return fold_constants(graphs, constants, never=_NOT_FOLDED, sources=_SOURCE_OPS)


# --- Dense layers and convolutions -------------------------------------------------------------------


@dataclass
class Dense:
    node: Node
    weight: str
    in_dim: Optional[int]
    out_dim: Optional[int]


def dense_layer(ix: ModelIndex, node: Node) -> Optional[Dense]:
    """The node as a dense layer (a matrix multiply by a weight), or None.

    Found once per node: the walks over residual paths and projections ask again and again.
    """
    slots = DENSE_WEIGHT_SLOTS.get(node.op_type)
    if slots is None:
        return None
    found = ix.dense_cache.get(id(node), _UNSET)
    if found is _UNSET:
        found = ix.dense_cache[id(node)] = _dense_layer(ix, node, slots)
    return found


_UNSET = object()


def _dense_layer(ix: ModelIndex, node: Node, slots: tuple[int, ...]) -> Optional[Dense]:
    ins = node.input
    if node.op_type == "Einsum" and len(ins) != 2:
        return None
    for slot in slots:
        if slot < len(ins) and ix.is_weight(ins[slot]):
            weight = ins[slot]
            data = (ins[0], ins[3]) if node.op_type in ("QLinearMatMul", "QGemm") and len(ins) > 3 else ins[:2]
            other = [i for i in data if i and i != weight]
            if other and all(i in ix.constants for i in other):
                return None  # constant × constant: folded at load, not a layer
            in_dim, out_dim = _dense_dims(ix, node, slot)
            return Dense(node, weight, in_dim, out_dim)
    return None


def _dense_dims(ix: ModelIndex, node: Node, slot: int) -> tuple[Optional[int], Optional[int]]:
    """(input width, output width) of the layer whose weight is input ``slot``."""
    widths = _NBITS_WIDTHS.get(node.op_type)
    if widths is not None:
        return widths(lambda name: ix.attr(node, name))
    name = node.input[slot]
    shape = ix.shape(name)
    transposed = False
    if shape is None or len(shape) < 2:  # no inferred shape: the weight as stored, then its Transpose
        shape = ix.shape(ix.through(name, LAYOUT_OPS))
        p = ix.producer.get(name)
        transposed = p is not None and p.op_type == "Transpose"
    if shape is None or len(shape) < 2:
        return None, None
    a, b = shape[-2], shape[-1]
    if transposed:
        a, b = b, a
    if node.op_type in _TRANSPOSING and ix.attr(node, "transA" if slot == 0 else "transB", 0):
        a, b = b, a
    if slot == 0:  # W · x: the weight's rows are the outputs
        a, b = b, a
    return (a if isinstance(a, int) else None), (b if isinstance(b, int) else None)


_TRANSPOSING = frozenset({"Gemm", "QGemm", "FusedGemm", "FusedMatMul"})  # transA/transB attributes


def fused_activation(ix: ModelIndex, node: Node) -> Optional[str]:
    """The activation ONNX Runtime fused into a FusedConv, FusedGemm or MatMulNBitsMlp (its
    'activation' attribute: an operator's name, or a lower-case one), as ACTIVATIONS names it."""
    if node.op_type not in ("FusedConv", "FusedGemm", "MatMulNBitsMlp"):
        return None
    name = ix.attr(node, "activation")
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return (ACTIVATIONS.get(name) or _LOWER_CASE_ACTIVATIONS.get(name, name)) if name else None


_LOWER_CASE_ACTIVATIONS = {"silu": "SiLU", "swish": "SiLU", "gelu": "GELU", "relu": "ReLU", "sigmoid": "Sigmoid"}


@dataclass
class ConvInfo:
    node: Node
    kernel: Optional[tuple]
    strides: tuple
    groups: int
    pointwise: bool  # every kernel dim is 1: a per-position projection, not a spatial filter


def weighted_convs(ix: ModelIndex, skip: set[int]) -> list[ConvInfo]:
    """The convolutions (outside ``skip``) whose weight is a constant (through layout ops), described."""
    found = []
    constants, producer = ix.constants, ix.producer
    for node in outside(ix.nodes_of(CONV_OPS), skip):
        slot = CONV_WEIGHT_SLOT.get(node.op_type, 1)
        if slot < len(node.input):
            weight = node.input[slot]
            p = producer.get(weight)
            origin = weight if p is None or p.op_type not in LAYOUT_OPS else ix.through(weight, LAYOUT_OPS)
            if weight and origin in constants:  # conv_has_weight
                found.append(_conv_info(ix, node, weight))
    return found


def _int_tuple(dims) -> Optional[tuple[int, ...]]:
    """``dims`` as a tuple of ints, or None when one of them is not an integer."""
    dims = tuple(dims)
    for d in dims:  # a plain loop: every convolution asks, and all() would build a generator each time
        if type(d) is not int:
            return tuple(int(d) for d in dims) if all(isinstance(d, int) for d in dims) else None
    return dims


def _conv_info(ix: ModelIndex, node: Node, weight: Optional[str]) -> ConvInfo:
    attr = node.attr
    kernel = attr("kernel_shape")
    if not kernel:
        wshape = ix.shape(weight) if weight is not None else None
        if wshape is not None and len(wshape) > 2:
            kernel = list(wshape[2:])
    kernel = _int_tuple(kernel) if kernel else None
    strides = tuple(attr("strides") or ([1] * len(kernel) if kernel else []))
    groups = int(attr("group", 1) or 1)
    pointwise = kernel is not None and kernel.count(1) == len(kernel)
    return ConvInfo(node, kernel, strides, groups, pointwise)


# --- Recurrence -------------------------------------------------------------------------------------------


@dataclass
class Recurrence:
    node: Node
    kind: str  # LSTM, GRU, RNN, or "Loop"/"Scan" over a written-out cell
    hidden: Optional[int] = None
    direction: str = "forward"
    cell_ops: list[str] = field(default_factory=list)


RECURRENCE_OPS = RNN_OPS | {"Loop", "Scan"}


def recurrences(ix: ModelIndex) -> list[Recurrence]:
    found = []
    for node in ix.nodes_of(RECURRENCE_OPS):
        if node.op_type in RNN_OPS:
            direction = ix.attr(node, "direction", b"forward")
            found.append(Recurrence(node, node.op_type.replace("DynamicQuantize", ""), ix.attr(node, "hidden_size"),
                                    direction.decode() if isinstance(direction, bytes) else str(direction)))
        elif node.domain in ("", "ai.onnx"):
            cell = _recurrent_cell(ix, node)
            if cell is not None:
                found.append(Recurrence(node, node.op_type, None, "forward", cell))
    return found


def _recurrent_cell(ix: ModelIndex, node: Node) -> Optional[list[str]]:
    """The weight ops of a Loop/Scan body through which a state feeds the next state, or None.

    A recurrent cell carries a state from one step to the next through a multiply by a
    weight (h_t = f(W·[x_t, h_{t-1}])). A body holding attention is a decoding loop,
    not a recurrent cell.
    """
    body = node.attrs.get("body")
    if not isinstance(body, Graph):
        return None
    if node.op_type == "Scan":
        n_scan = ix.attr(node, "num_scan_inputs", 0) or 0
        n_state = len(body.inputs) - n_scan
        states_in = body.inputs[:n_state]
        states_out = set(body.outputs[:n_state])
    else:
        states_in = body.inputs[2:]
        states_out = set(body.outputs[1:1 + len(states_in)])
    if not states_in:
        return None
    nodes = [n for g in walk(body) for n in g.nodes]
    if any(n.op_type in FUSED_ATTENTION_OPS for n in nodes) or attention_patterns(ix, nodes):
        return None
    reached = set(states_in)
    weighted: set[str] = set()
    cell_ops: list[str] = []
    for n in body.nodes:  # bodies are in execution order (the analyzer sorts them only at the top level)
        ins = [i for i in n.input if i]
        if not any(i in reached for i in ins):
            continue
        is_weight_op = dense_layer(ix, n) is not None or (n.op_type in CONV_OPS and conv_has_weight(ix, n))
        for o in n.output:
            if o:
                reached.add(o)
                if is_weight_op or any(i in weighted for i in ins):
                    weighted.add(o)
        if is_weight_op and n.op_type not in cell_ops:
            cell_ops.append(n.op_type)
        if n.op_type in ("Sigmoid", "Tanh", "Relu") and n.op_type not in cell_ops and any(i in weighted for i in ins):
            cell_ops.append(n.op_type)
    if states_out & weighted:
        return cell_ops
    return None


def conv_has_weight(ix: ModelIndex, node: Node) -> bool:
    slot = CONV_WEIGHT_SLOT.get(node.op_type, 1)
    return slot < len(node.input) and ix.is_const(ix.through(node.input[slot], LAYOUT_OPS))


def recurrent_bodies(ix: ModelIndex, recs: list[Recurrence]) -> set[int]:
    """ids of every node inside the bodies of recurrent Loop/Scan nodes."""
    inside: set[int] = set()
    for r in recs:
        if r.kind in ("Loop", "Scan"):
            for sub in r.node.subgraphs:
                for g in walk(sub):
                    inside.update(id(n) for n in g.nodes)
    return inside


# --- Attention ------------------------------------------------------------------------------------------


@dataclass
class AttentionBlock:
    kind: str  # "fused" or "pattern"
    node: Node  # the fused node, or the Softmax of the pattern
    score: Optional[Node] = None
    value: Optional[Node] = None
    heads: Optional[int] = None
    kv_heads: Optional[int] = None
    head_dim: Optional[int] = None
    hidden: Optional[int] = None  # model width entering the query projection
    causal: list[str] = field(default_factory=list)  # why it is causal
    cross: bool = False
    q_source: Optional[str] = None
    k_source: Optional[str] = None
    k_tensor: Optional[str] = None  # the keys as the score MatMul reads them
    v_tensor: Optional[str] = None
    rotary: bool = False
    cache_inputs: list[str] = field(default_factory=list)

    @property
    def variant(self) -> Optional[str]:
        if self.heads is None or self.kv_heads is None:
            return None
        if self.kv_heads == self.heads:
            return "MHA"
        if self.kv_heads == 1:
            return "MQA"
        return "GQA"


def attention_patterns(ix: ModelIndex, nodes: Iterable[Node]) -> list[tuple]:
    """(score MatMul, Softmax, value MatMul) triples: the attention of exported models."""
    found = []
    for node in nodes:
        if node.op_type not in _SOFTMAX or not node.input:
            continue
        score = _score_matmul(ix, node.input[0], 6)
        if score is None:
            continue
        value = _value_matmul(ix, node, 4)
        if value is not None:
            found.append((score, node, value))
    return found


# The input positions of the two matrices a product multiplies (a quantized one's scales
# and zero points sit between them)
_PRODUCT_OPERANDS = {"MatMul": (0, 1), "Einsum": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
                     "FusedMatMul": (0, 1)}


def _operands(node: Node) -> tuple[str, str]:
    first, second = _PRODUCT_OPERANDS[node.op_type]
    return node.input[first], node.input[second]


def _activation_product(ix: ModelIndex, node: Node) -> bool:
    """A product of two activations (attention's Q·Kᵀ or P·V), float or quantized."""
    slots = _PRODUCT_OPERANDS.get(node.op_type)
    if slots is None or len(node.input) <= slots[1] or (node.op_type == "Einsum" and len(node.input) != 2):
        return False
    return not any(ix.is_weight(name) or ix.is_const(name) for name in _operands(node))


def _score_matmul(ix: ModelIndex, name: str, depth: int) -> Optional[Node]:
    p = ix.producer.get(name)
    if p is None:
        return None
    if _activation_product(ix, p):
        return p
    if depth and p.op_type in _SCORE_GLUE:
        data_inputs = list(p.input[1:3]) if p.op_type == "Where" else list(p.input)
        for i in data_inputs:
            if i and not ix.is_const(i):
                found = _score_matmul(ix, i, depth - 1)
                if found is not None:
                    return found
    return None


def _value_matmul(ix: ModelIndex, node: Node, depth: int) -> Optional[Node]:
    for out in node.output:
        for c in ix.users(out):
            if _activation_product(ix, c):
                return c
            if depth and c.op_type in _SCORE_GLUE:
                found = _value_matmul(ix, c, depth - 1)
                if found is not None:
                    return found
    return None


def find_attention(ix: ModelIndex, skip: set[int]) -> list[AttentionBlock]:
    """Fused attention nodes, then MatMul → Softmax → MatMul patterns (each in index order)."""
    blocks: list[AttentionBlock] = []
    for node in outside(ix.nodes_of(FUSED_ATTENTION_OPS), skip):  # the default domain's Attention too
        blocks.append(_fused_attention(ix, node))
    for score, softmax, value in attention_patterns(ix, outside(ix.nodes_of(_SOFTMAX), skip)):
        blocks.append(_pattern_attention(ix, score, softmax, value))
    return blocks


_SOFTMAX = frozenset({"Softmax", "QLinearSoftmax"})
ATTENTION_STARTS = FUSED_ATTENTION_OPS | _SOFTMAX  # what find_attention starts from


def outside(nodes: list[Node], skip: set[int]) -> list[Node]:
    """``nodes`` less those whose id is in ``skip`` (the bodies of recurrent loops)."""
    return [n for n in nodes if id(n) not in skip] if skip else nodes


def _fused_attention(ix: ModelIndex, node: Node) -> AttentionBlock:
    b = AttentionBlock("fused", node)
    heads = ix.attr(node, "num_heads") or ix.attr(node, "q_num_heads")
    b.heads = int(heads) if heads else None
    kv = ix.attr(node, "kv_num_heads")
    b.kv_heads = int(kv) if kv else b.heads
    hidden = None
    if node.op_type in ("Attention", "QAttention", "PackedAttention") and node.domain == "com.microsoft":
        wshape = ix.shape(node.input[1]) if len(node.input) > 1 else None
        if wshape is not None and len(wshape) == 2 and isinstance(wshape[0], int):
            hidden = wshape[0]
            sizes = ix.attr(node, "qkv_hidden_sizes")
            q_width = sizes[0] if sizes else (wshape[1] // 3 if isinstance(wshape[1], int) else None)
            if q_width and b.heads:
                b.head_dim = q_width // b.heads
        if ix.attr(node, "unidirectional", 0):
            b.causal.append(f"{node.op_type} has unidirectional=1")
        b.q_source = node.input[0]
        b.k_source = node.input[0]
    else:
        q = node.input[0] if node.input else ""
        qshape = ix.shape(q) if q else None
        if qshape is not None and len(qshape) == 3 and isinstance(qshape[-1], int):
            width = qshape[-1]
            if node.op_type in ("GroupQueryAttention", "PackedMultiHeadAttention") and len(node.input) > 1 \
                    and not node.input[1] and b.heads and b.kv_heads:
                width = width * b.heads // (b.heads + 2 * b.kv_heads)  # packed QKV
            if b.heads:
                b.head_dim = width // b.heads
        elif qshape is not None and len(qshape) == 4:  # [batch, heads, sequence, head dim]
            b.head_dim = _int(qshape[-1])
            if b.heads is None:
                b.heads = _int(qshape[1])
            kshape = ix.shape(node.input[1]) if len(node.input) > 1 and node.input[1] else None
            if kshape is not None and len(kshape) == 4 and not kv:
                b.kv_heads = _int(kshape[1])
        dense = _nearest_dense(ix, q) if q else None
        if dense is not None:
            hidden = dense.in_dim
            b.q_source = dense.node.input[0] if dense.node.input else None
        k = node.input[1] if len(node.input) > 1 and node.input[1] else ""
        kd = _nearest_dense(ix, k) if k else None
        b.k_source = kd.node.input[0] if kd is not None else (k or b.q_source)
        if k and ix.through(k, LAYOUT_OPS) in ix.graph_inputs and kd is None:
            b.k_source = ix.through(k, LAYOUT_OPS)
        for flag in ("is_causal", "unidirectional"):
            if ix.attr(node, flag, 0):
                b.causal.append(f"{node.op_type} has {flag}=1")
    if node.op_type in CAUSAL_FUSED_OPS:
        b.causal.append(f"{node.op_type} is a decoder (causal) attention operator")
    b.hidden = hidden
    if b.k_source and b.q_source and b.k_source != b.q_source:
        b.cross = _is_cross(ix, b.q_source, b.k_source)
    b.cache_inputs = [i for i in node.input if i in ix.graph_inputs and is_cache_name(i)]
    if node.op_type in ("GroupQueryAttention",) and ix.attr(node, "do_rotary", 0):
        b.rotary = True
    return b


def _names_encoder(name: str) -> bool:
    n = name.lower()
    return "encoder" in n or "cross" in n or "memory" in n


def is_cache_name(name: str) -> bool:
    n = name.lower()
    return "past" in n or n.startswith("present") or "cache" in n


def _pattern_attention(ix: ModelIndex, score: Node, softmax: Node,
                       value: Node) -> AttentionBlock:
    b = AttentionBlock("pattern", softmax, score, value)
    q, k = _operands(score)
    probabilities, values = _operands(value)
    v = values if ix.depends_on(probabilities, softmax.output[0], 12) else probabilities
    b.k_tensor, b.v_tensor = k, v
    qshape, kshape = ix.shape(q), ix.shape(k)
    if qshape is not None and qshape and isinstance(qshape[-1], int):
        b.head_dim = qshape[-1]
    if qshape is not None and len(qshape) == 4 and isinstance(qshape[1], int):
        b.heads = qshape[1]
    q_dense, q_width = _projection(ix, q)
    k_dense, k_width = _projection(ix, k)
    q_split, k_split = _head_split(ix, q), _head_split(ix, k)
    if b.head_dim is None and q_split is not None:
        b.head_dim = q_split[1]
    if b.heads is None and q_split is not None and q_split[1] == b.head_dim:
        b.heads = q_split[0]
    if k_width is None and k_split is not None and k_split[1] == b.head_dim and not _repeats(ix, k):
        k_width = k_split[0] * k_split[1]
    if b.head_dim:
        if b.heads is None and q_width and q_width % b.head_dim == 0:
            b.heads = q_width // b.head_dim
        if k_width and k_width % b.head_dim == 0:
            b.kv_heads = k_width // b.head_dim
        elif kshape is not None and len(kshape) == 4 and isinstance(kshape[1], int) and not _repeats(ix, k):
            b.kv_heads = kshape[1]
    if q_dense is not None:
        b.hidden = q_dense.in_dim
        b.q_source = q_dense.node.input[0]
    if k_dense is not None:
        b.k_source = k_dense.node.input[0]
    else:
        origin = _cache_origin(ix, k)
        b.k_source = origin
    if b.q_source and b.k_source and b.q_source != b.k_source:
        b.cross = _is_cross(ix, b.q_source, b.k_source)
    b.causal = _causal_evidence(ix, score, softmax)
    b.rotary = _has_rotary(ix, q) or _has_rotary(ix, k)
    b.cache_inputs = _cache_inputs(ix, k) + _cache_inputs(ix, v)
    return b


def _projection(ix: ModelIndex, name: str) -> tuple[Optional[Dense], Optional[int]]:
    """The dense layer that projects ``name`` (Q, K or V) and the width it gives this tensor.

    The walk goes up through head splitting (Reshape, Transpose), head repetition
    (Expand, Tile), the KV-cache Concat and rotary embeddings; the width is the
    projection's output, or the part of it a Split or Slice takes for a fused QKV.
    """
    producer, constants, graph_inputs = ix.producer, ix.constants, ix.graph_inputs
    start = producer.get(name)
    if start is None:
        return None, None
    # child[id(node)] = (node nearer to ``name`` that reads it, the tensor it reads); a node is queued once
    child: dict[int, tuple[Optional[Node], str]] = {id(start): (None, name)}
    queue = [(start, 0)]  # first in, first out: the loop below reads it while it grows
    for node, depth in queue:
        if depth > 24:
            continue
        dense = dense_layer(ix, node) if node.op_type in DENSE_WEIGHT_SLOTS else None
        if dense is not None:
            return dense, _width_on_path(ix, dense, child)
        if depth > 0 and node.op_type in _PROJECTION_ENDS:
            continue
        for i in node.input:
            if i and i not in constants and i not in graph_inputs:
                p = producer.get(i)
                if p is not None and id(p) not in child:
                    child[id(p)] = (node, i)
                    queue.append((p, depth + 1))
    return None, None


_PROJECTION_ENDS = frozenset({"MatMul", "Softmax", "Gather", "Einsum"}) | CONV_OPS  # another computation: not walked through


def _width_on_path(ix: ModelIndex, dense: Dense, child) -> Optional[int]:
    width = dense.out_dim
    node = dense.node
    for _ in range(3):
        nxt, tensor = child.get(id(node), (None, ""))
        if nxt is None:
            return width
        if nxt.op_type == "Add" and any(ix.is_const(i) for i in nxt.input):  # bias
            node = nxt
            continue
        if nxt.op_type == "Reshape" and _last_dim(ix, name_of(nxt)) == width:  # GPT-2's Conv1D: 2-D Gemm, back to 3-D
            node = nxt
            continue
        if nxt.op_type in ("Split", "Slice"):
            out = child.get(id(nxt), (None, name_of(nxt)))[1]
            shape = ix.shape(out)
            if shape is not None and len(shape) >= 2 and isinstance(shape[-1], int):
                return shape[-1]
            return None
        return width
    return width


def _run_together(index: IndexedModel) -> list[Graph]:
    """The graphs one inference runs: of an If's two branches only the larger, so that a layer
    both hold is one layer (Optimum's merged decoders hold every layer twice: with the KV
    cache and without)."""
    if len(index.graphs) < 3:  # at most one subgraph: nothing to choose between
        return index.graphs
    skipped: set[int] = set()
    for graph in index.graphs:
        if id(graph) in skipped:
            continue
        for node in graph.nodes:
            if node.op_type == "If" and len(node.subgraphs) == 2:
                first, second = node.subgraphs
                smaller = first if _size(first) < _size(second) else second
                skipped.update(id(g) for g in walk(smaller))
    return [g for g in index.graphs if id(g) not in skipped]


def _size(graph: Graph) -> int:
    return sum(len(g.nodes) for g in walk(graph))


def _last_dim(ix: ModelIndex, name: str) -> Optional[int]:
    shape = ix.shape(name)
    return shape[-1] if shape and isinstance(shape[-1], int) else None


def name_of(node: Node) -> str:
    return node.output[0] if node.output else ""


def _nearest_dense(ix: ModelIndex, name: str) -> Optional[Dense]:
    return _projection(ix, name)[0]


def _head_split(ix: ModelIndex, name: str) -> Optional[tuple[int, int]]:
    """(heads, head dim) from the constant target of the Reshape that splits ``name`` into heads."""
    for p, _ in ix.upstream([name], _HEAD_SPLIT_PATH, limit=8):
        if p.op_type != "Reshape" or len(p.input) < 2:
            continue
        t = ix.int_list(p.input[1])  # the same target for every layer
        if t is None:
            return None
        if len(t) == 4 and t[-1] > 0 and t[-2] > 0:
            return t[-2], t[-1]
        return None
    return None


_HEAD_SPLIT_PATH = LAYOUT_OPS - {"Expand", "Tile"}
_CACHE_PATH = LAYOUT_OPS | {"Concat"}
_CACHE_INPUT_PATH = LAYOUT_OPS | {"Concat", "Add", "Mul", "Neg", "Slice", "Split"}
_ROTARY_PATH = LAYOUT_OPS | {"Concat", "Add", "Mul", "Neg", "Slice", "Split", "Sub"}


def _int_list(value) -> list[int]:
    """int() of each element of ``value``, flattened."""
    flat = np.asarray(value).ravel()
    if flat.dtype.kind in "biuf":  # plain numbers convert alike, and without a numpy scalar each
        return [int(v) for v in flat.tolist()]
    return [int(v) for v in flat]


def _repeats(ix: ModelIndex, name: str) -> bool:
    if "Expand" not in ix.by_op and "Tile" not in ix.by_op:
        return False
    return any(p.op_type in ("Expand", "Tile") for p, _ in ix.upstream([name], _CACHE_PATH, limit=20))


def _cache_origin(ix: ModelIndex, name: str) -> Optional[str]:
    for p, _ in ix.upstream([name], _CACHE_PATH, limit=20):
        for i in p.input:
            if i in ix.graph_inputs:
                return i
    return None


def _cache_inputs(ix: ModelIndex, name: str) -> list[str]:
    if not ix.cache_inputs:  # no graph input is named like a cache
        return []
    found = []
    for p, _ in ix.upstream([name], _CACHE_INPUT_PATH, limit=40):
        for i in p.input:
            if i in ix.cache_inputs and i not in found:
                found.append(i)
    return found


def _is_cross(ix: ModelIndex, q_source: str, k_source: str) -> bool:
    """Keys projected from another tensor than the queries: cross-attention.

    Self-attention projects Q, K and V from one tensor (the normalised hidden state);
    a KV-cache input of the same layer is still self-attention.
    """
    if _names_encoder(k_source):
        return True
    if k_source in ix.graph_inputs and is_cache_name(k_source):
        return False
    return ix.through(k_source, LAYOUT_OPS) != ix.through(q_source, LAYOUT_OPS)


def _causal_evidence(ix: ModelIndex, score: Node, softmax: Node) -> list[str]:
    """Why the scores are masked causally: Trilu, a triangular constant, or position comparisons."""
    if not _may_mask_causally(ix):
        return []
    masks: list[str] = []
    glue = []
    seen: set[int] = set()
    # the nodes between the score MatMul and the Softmax
    frontier = [softmax.input[0]]
    for _ in range(8):
        nxt = []
        for name in frontier:
            p = ix.producer.get(name)
            if p is None or p is score or id(p) in seen:
                continue
            seen.add(id(p))
            glue.append(p)
            nxt.extend(i for i in p.input if i)
        frontier = nxt
    for g in glue:
        if g.op_type not in ("Where", "Add", "Sub", "Mul"):
            continue
        for mask in g.input:
            if not mask or ix.depends_on(mask, score.output[0], 20):
                continue
            why = _causal_mask(ix, mask)
            if why and why not in masks:
                masks.append(why)
    return masks


def _may_mask_causally(ix: ModelIndex) -> bool:
    """Whether the model holds what :func:`_causal_mask` looks for: Trilu, Range and a comparison, a square constant."""
    by_op = ix.by_op
    return "Trilu" in by_op or ("Range" in by_op and not COMPARISONS.isdisjoint(by_op)) or ix.holds_square_constant


def _square(dims: tuple) -> bool:
    """Dims whose last two are equal and at least 2 (what :func:`_triangular_constant` reads)."""
    return len(dims) >= 2 and dims[-1] == dims[-2] and dims[-1] >= 2


def _causal_mask(ix: ModelIndex, name: str) -> Optional[str]:
    tensors = ix.tensors
    if name in tensors:
        why = _triangular_constant(ix, name)
        if why:
            return why
    if name not in ix.producer:  # a graph input or an initializer: nothing computes the mask
        return None
    for p, _ in ix.upstream([name], limit=120, into_constants=True):
        if p.op_type == "Trilu":
            return "causal mask built with Trilu"
        if p.op_type in COMPARISONS and all(_from_range(ix, i) for i in p.input[:2]):
            return "causal mask from comparing positions (Range against Range)"
        for i in p.input:
            if i in tensors:
                why = _triangular_constant(ix, i)
                if why:
                    return why
    return None


def _from_range(ix: ModelIndex, name: str) -> bool:
    return any(p.op_type == "Range" for p, _ in ix.upstream([name], limit=12, into_constants=True))


def _triangular_constant(ix: ModelIndex, name: str) -> Optional[str]:
    t = ix.tensors.get(name)
    if t is None or not _square(t.dims):
        return None
    shape = t.dims
    n = shape[-1]
    if _stripped(t.proto):  # data not loaded: only the shape and type are known
        if t.elem_type in (onnx.TensorProto.BOOL, onnx.TensorProto.UINT8):
            return f"a constant square {n} × {n} boolean mask buffer on the scores (values not read)"
        return None
    v = ix.value(name)
    if v is None:
        return None
    m = np.asarray(v).reshape(-1, n, n)[0]
    keep = m > -1e3 if np.issubdtype(m.dtype, np.floating) and (m < -1e3).any() else m != 0
    ones = np.ones((n, n), bool)
    for pattern in (np.tril(ones), np.triu(ones, 1), np.triu(ones), np.tril(ones, -1)):
        if np.array_equal(keep, pattern):
            return f"a lower-triangular {n} × {n} constant mask on the scores"
    return None


def _has_rotary(ix: ModelIndex, name: str) -> bool:
    """rotate_half: a Concat of a negated half and the other half, multiplied by sin/cos."""
    by_op = ix.by_op
    if "RotaryEmbedding" not in by_op and ("Concat" not in by_op or "Neg" not in by_op):
        return False
    for p, _ in ix.upstream([name], _ROTARY_PATH, limit=60):
        if p.op_type == "RotaryEmbedding":
            return True
        if p.op_type == "Concat":
            for i in p.input:
                pp = ix.producer.get(i)
                if pp is not None and pp.op_type == "Neg":
                    src = ix.producer.get(pp.input[0])
                    if src is not None and src.op_type in ("Slice", "Split"):
                        return True
    return False


# --- Normalization, embeddings, residuals ---------------------------------------------------------------


def find_norms(ix: ModelIndex, skip: set[int]) -> list[tuple[Node, str]]:
    """(node, kind) for fused normalization ops and the decomposed LayerNorm/RMSNorm of exporters."""
    found = []
    for node in outside(ix.nodes_of(NORM_STARTS), skip):
        if node.op_type in NORM_OPS:
            found.append((node, NORM_OPS[node.op_type]))
        elif node.op_type == "Sub":
            if len(node.input) != 2:
                continue
            p = ix.producer.get(node.input[1])
            if p is not None and p.op_type == "ReduceMean" and p.input[0] == node.input[0] and \
                    _leads_to_division(ix, node):
                found.append((node, "LayerNorm (decomposed: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div)"))
        elif node.input:  # ReduceMean
            p = ix.producer.get(node.input[0])
            if p is not None and _is_square(ix, p):
                x = p.input[0]
                sub = ix.producer.get(x)
                if sub is not None and sub.op_type == "Sub":
                    continue  # the variance of a decomposed LayerNorm
                if _scales_by_rsqrt(ix, node, x):
                    found.append((node, "RMSNorm (decomposed: Pow, ReduceMean, Add, Sqrt, Div)"))
    return found


NORM_STARTS = frozenset(NORM_OPS) | {"Sub", "ReduceMean"}


def _is_square(ix: ModelIndex, p: Node) -> bool:
    if p.op_type == "Pow" and len(p.input) == 2:
        v = ix.value(p.input[1])
        return v is not None and np.asarray(v).size == 1 and float(np.asarray(v).ravel()[0]) == 2.0
    return p.op_type == "Mul" and len(p.input) == 2 and p.input[0] == p.input[1]


def _leads_to_division(ix: ModelIndex, sub: Node) -> bool:
    """The centred tensor is divided by sqrt(mean of its square + eps)."""
    centred = sub.output[0]
    users = ix.users(centred)
    if not any(_is_square(ix, u) for u in users):
        return False
    return any(u.op_type in ("Div", "Mul") for u in users)


def _scales_by_rsqrt(ix: ModelIndex, mean: Node, x: str) -> bool:
    seen = 0
    frontier = [mean.output[0]]
    has_sqrt = False
    while frontier and seen < 8:
        nxt = []
        for name in frontier:
            for u in ix.users(name):
                seen += 1
                if u.op_type in ("Sqrt", "Reciprocal"):
                    has_sqrt = True
                if u.op_type in ("Div", "Mul") and x in u.input and has_sqrt:
                    return True
                if u.op_type in ("Add", "Sqrt", "Reciprocal", "Div", "Cast"):
                    nxt.extend(u.output)
        frontier = nxt
    return False


@dataclass
class Embedding:
    node: Node
    rows: Optional[int]
    dim: Optional[int]
    role: str  # "token", "position", "token type", "lookup"


def find_embeddings(ix: ModelIndex, tree_gathers: set[int]) -> list[Embedding]:
    found = []
    for node in ix.nodes_of(EMBEDDING_OPS):
        if node.op_type == "EmbedLayerNormalization":
            for slot, role in ((2, "token"), (3, "position"), (4, "token type")):
                if slot < len(node.input) and node.input[slot]:
                    s = ix.shape(node.input[slot])
                    if s is not None and len(s) == 2:
                        found.append(Embedding(node, _int(s[0]), _int(s[1]), role))
            continue
        if id(node) in tree_gathers or len(node.input) < 2:
            continue
        data, idx = node.input[0], node.input[1]
        if (ix.attr(node, "axis", 0) or 0) != 0 or not ix.is_weight(data) or ix.is_const(idx):
            continue
        s = ix.shape(ix.through(data, LAYOUT_OPS))
        if s is None or len(s) != 2 or not isinstance(s[1], int) or s[1] < 2:
            continue
        role = "rotary (cos/sin)" if _feeds_rotary(ix, node) else _embedding_role(ix, idx)
        found.append(Embedding(node, _int(s[0]), _int(s[1]), role))
    return found


EMBEDDING_OPS = frozenset({"EmbedLayerNormalization", "Gather", "GatherBlockQuantized"})


def _feeds_rotary(ix: ModelIndex, gather: Node) -> bool:
    """The looked-up rows multiply queries or keys next to their rotate_half (a cos/sin table)."""
    if "Concat" not in ix.by_op or "Neg" not in ix.by_op:  # no rotate_half
        return False
    for mul, _ in _downstream(ix, gather.output[0], LAYOUT_OPS, 4):
        if mul.op_type != "Mul":
            continue
        for add in ix.users(mul.output[0]):
            if add.op_type not in ("Add", "Sub"):
                continue
            for other in add.input:
                p = ix.producer.get(other)
                if p is None or p.op_type != "Mul":
                    continue
                for i in p.input:
                    c = ix.producer.get(i)
                    if c is not None and c.op_type == "Concat" and any(
                            (ix.producer.get(j) is not None and ix.producer[j].op_type == "Neg") for j in c.input):
                        return True
    return False


def _int(v) -> Optional[int]:
    return v if isinstance(v, int) else None


_ROLE_PATH = LAYOUT_OPS | {"Add", "Slice"}


def _embedding_role(ix: ModelIndex, idx: str) -> str:
    root = ix.through(idx, _ROLE_PATH)
    if root in ix.graph_inputs:
        n = root.lower()
        if "position" in n or "pos" == n:
            return "position"
        if "type" in n or "segment" in n:
            return "token type"
        return "token"
    if any(p.op_type in ("Range", "CumSum") for p, _ in ix.upstream([idx], limit=20)):
        return "position"
    return "lookup"


@dataclass
class Residual:
    node: Node
    fork: str
    projection: bool  # the shortcut itself goes through a weight op


_WEIGHT_OPS = CONV_OPS | FUSED_ATTENTION_OPS | RNN_OPS  # never dense layers: no need to ask
_SHORTCUT_OPS = {"Identity", "Cast", "Reshape", "Transpose", "Dropout", "BatchNormalization", "AveragePool",
                 "MaxPool", "Conv", "Gemm", "MatMul", "Relu", "DequantizeLinear", "QuantizeLinear", "Squeeze",
                 "Unsqueeze", "Flatten", "Pad"}


def find_residuals(ix: ModelIndex, skip: set[int]) -> list[Residual]:
    """Adds whose two inputs come from paths that forked from one tensor, one path through weights.

    The shortcut side is short (identity, or a projection of at most a few ops); the
    other side computes from the fork through at least one weight op. A Mul gate such as
    SiLU (x · sigmoid(x)) is not an Add; x + c·x³ (GELU's tanh form) has no weight on either path.
    """
    found = []
    constants = ix.constants  # holds no '': an absent input is no constant
    for node in outside(ix.nodes_of(RESIDUAL_OPS), skip):
        ins = node.input[:2]
        if node.op_type == "QLinearAdd" and len(node.input) > 3:
            ins = [node.input[0], node.input[3]]
        elif "" in ins:
            ins = [i for i in ins if i]
        if len(ins) != 2 or ins[1] in constants or ins[0] in constants:  # the bias Adds end here
            continue
        a, b = ix.shape(ins[0]), ix.shape(ins[1])
        if a is not None and b is not None and a != b and _differ(a, b):
            continue  # a broadcast Add (a mask, a bias computed at run time) is not a shortcut
        r = _residual(ix, node, ins)
        if r is not None:
            found.append(r)
    return found


RESIDUAL_OPS = frozenset({"Add", "Sum", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "QLinearAdd"})


def _differ(a: tuple, b: tuple) -> bool:
    """Shapes of another rank, or with a dim known on both sides that differs."""
    if len(a) != len(b):
        return True
    for x, y in zip(a, b):
        if x != y and x is not None and y is not None:
            return True
    return False


def _residual(ix: ModelIndex, node: Node, ins: list[str]) -> Optional[Residual]:
    for skip_side, other in ((ins[0], ins[1]), (ins[1], ins[0])):
        # candidate forks: the shortcut tensor and what it was computed from through a short chain
        chain: list[tuple[str, bool]] = [(skip_side, False)]
        name, weighted = skip_side, False
        for _ in range(3):
            p = ix.producer.get(name)
            if p is None or p.op_type not in _SHORTCUT_OPS or not p.input:
                break
            weighted = weighted or p.op_type == "Conv" or dense_layer(ix, p) is not None
            name = p.input[0]
            chain.append((name, weighted))
        for depth, (fork, projection) in enumerate(chain):
            if not ix.several_users(fork) or ix.is_const(fork):
                continue
            # the other side reaches the fork by its own path, not through the shortcut's: in
            # x + 0.044715·x³ (GELU) both sides come out of the same projection
            own_path = {name for name, _ in chain[:depth]}
            if _reaches_through_weights(ix, other, fork, avoid=own_path):
                return Residual(node, fork, projection)
    return None


def _reaches_through_weights(ix: ModelIndex, start: str, fork: str, limit: int = 300,
                             avoid: frozenset[str] | set[str] = frozenset()) -> bool:
    """``start`` computes from ``fork`` along a path with a weight op (bounded walk) that
    passes none of the tensors in ``avoid``.

    ``fork`` is not a constant, so constants (the weights of every op on the way) are
    not queued at all: the walk goes from ``start``, itself no constant, through producers.
    """
    if start == fork or ix.is_const(start) or start in avoid:
        return False
    constants, producer = ix.constants, ix.producer
    seen: set[tuple[int, bool]] = set()  # (id of a producer, whether a weight op came on the way)
    queue = [(start, False)]  # first in, first out: the loop below reads it while it grows
    steps = 0
    for name, weighted in queue:
        if steps >= limit:
            return False
        if name == fork:
            if weighted:
                return True
            continue
        p = producer.get(name)
        if p is None:
            continue
        key = (id(p), weighted)
        if key in seen:
            continue
        seen.add(key)
        if not weighted:  # dense_layer() only for the op types that can be one
            op = p.op_type
            weighted = op in _WEIGHT_OPS or (op in DENSE_WEIGHT_SLOTS and dense_layer(ix, p) is not None)
        steps += 1
        for i in p.input:
            if i and i not in constants and i not in avoid:
                queue.append((i, weighted))
    return False


# --- Conv-norm-activation stacks and MLPs ------------------------------------------------------------------


def conv_stack(ix: ModelIndex, conv: Node) -> list[str]:
    """The conv and what follows it alone: bias Add, normalization, activation, pooling.

    Every convolution asks: the consumers table is read directly (a lone reader is stored
    as itself, several as a list; see :meth:`ModelIndex.users`).
    """
    parts = [conv.op_type]
    name = conv.output[0]
    consumers, constants = ix.consumers, ix.constants
    normed = False  # a normalization named '...Norm' already in ``parts``
    own = fused_activation(ix, conv) or (_SATURATING if requantizes_at_zero(ix, conv) else None)
    activated = own is not None  # a FusedConv's activation, or a QLinearConv's saturating output
    if activated:
        parts.append(own)
    rescaled = conv.op_type != "ConvInteger"  # an integer conv's result is rescaled by a Mul first
    for _ in range(8):
        u = consumers.get(name)
        if u is None:
            break
        if type(u) is list:  # several readers: only a SiLU or HardSwish gate goes on
            gate = _gate(u)
            if gate is None:
                break
            parts.append(gate[0])
            activated = True
            name = gate[1]
            continue
        op = u.op_type
        if op == "Add" and any(i in constants for i in u.input if i):  # a bias
            name = u.output[0]
            continue
        if op in _ENCODING_STEPS or (op == "Mul" and not rescaled):  # how the values are stored, not what
            if op == "QuantizeLinear" and not activated and requantizes_at_zero(ix, u):
                parts.append(_SATURATING)
                activated = True
            rescaled = rescaled or op == "Mul"
            name = u.output[0]
            continue
        if op in NORM_OPS and not normed:
            kind = NORM_OPS[op]
            parts.append(kind)
            normed = "Norm" in kind
        elif op in ACTIVATIONS and op != "Erf" and not activated:
            parts.append(ACTIVATIONS[op])
            activated = True
        elif op in POOL_OPS and parts[-1] != "Pool":
            parts.append(op)
        else:
            break
        name = u.output[0]
    return parts


# Steps of a quantized graph between a convolution and what follows it: they change how
# the values are stored, not the values
_ENCODING_STEPS = frozenset({"Cast", "QuantizeLinear", "DequantizeLinear"})


def _gate(users: list[Node]) -> Optional[tuple[str, str]]:
    """(activation, its output) when two readers of a tensor gate it: x · sigmoid(x) or x · hardsigmoid(x)."""
    if len(users) != 2:
        return None
    ops = {x.op_type for x in users}
    if ops == {"Sigmoid", "Mul"}:
        mul = next(x for x in users if x.op_type == "Mul")
        sig = next(x for x in users if x.op_type == "Sigmoid")
        if sig.output[0] in mul.input:
            return "SiLU", mul.output[0]
        return None
    if ops == {"HardSigmoid", "Mul"}:
        return "HardSwish", next(x for x in users if x.op_type == "Mul").output[0]
    return None


ACTIVATION_NAMES = set(ACTIVATIONS.values()) | {"SiLU", "HardSwish"}


@dataclass
class MLPBlock:
    first: list[Dense]
    last: Dense
    activation: str
    gated: bool


def find_mlps(ix: ModelIndex, denses: dict[int, Dense]) -> list[MLPBlock]:
    """Dense → activation → dense (or a gated pair of denses → dense): a feed-forward block."""
    blocks = []
    for d in denses.values():
        data = next((i for i in d.node.input if i and i != d.weight), None)
        if data is None:
            continue
        reached, acts, muls = _mlp_region(ix, data, denses)
        if not reached or not acts:
            continue
        act = _activation_name(acts, muls)
        # a gate and an up projection multiplied, written out or fused into one MatMulNBitsMlp
        gated = (len(reached) >= 2 and muls > 0) or any(r.node.op_type == "MatMulNBitsMlp" for r in reached)
        blocks.append(MLPBlock(reached, d, act, gated))
    return blocks


def _mlp_region(ix: ModelIndex, data: str, denses: dict[int, Dense]) -> tuple[list[Dense], list[str], int]:
    """What computes ``data``, up through elementwise ops to the dense layers before it:
    (those dense layers, the activations on the way, the Muls of two activations).

    ``ix.upstream(data, _MLP_REGION, 40, stop=a dense layer)`` written out: every dense
    layer asks, so no generator and no stop function per node.
    """
    producer, constants = ix.producer, ix.constants
    reached: list[Dense] = []
    acts: list[str] = []
    muls = 0
    seen: set[int] = set()
    count = 0
    frontier = [data] if data not in constants else []
    while frontier:
        nxt: list[str] = []
        for name in frontier:
            if count >= 40:
                return reached, acts, muls
            p = producer.get(name)
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            count += 1
            dense = denses.get(id(p))
            if dense is not None:
                reached.append(dense)
                own = fused_activation(ix, p) or (_SATURATING if requantizes_at_zero(ix, p) else None)
                if own:  # the layer's own activation: fused in, or its output range starting at 0
                    acts.append(own)
                continue  # the region ends at a dense layer
            op = p.op_type
            if op in ACTIVATIONS:
                acts.append(ACTIVATIONS[op])
            elif op == "QuantizeLinear" and requantizes_at_zero(ix, p):
                acts.append(_SATURATING)
            elif op == "Mul" and not any(ix.is_const(i) for i in p.input):
                muls += 1
            if op not in _MLP_REGION:
                continue
            for i in p.input:
                if i and i not in constants:
                    nxt.append(i)
        frontier = nxt
    return reached, acts, muls


# The input that holds the zero point of a quantizing node's output
_OUTPUT_ZERO_POINT = {"QuantizeLinear": 2, "QLinearMatMul": 7, "QGemm": 8, "QLinearConv": 7, "QLinearAdd": 7,
                      "QLinearMul": 7}
# The code of the lowest value each quantized type holds
_LOWEST_CODE = {np.dtype(np.uint8): 0, np.dtype(np.int8): -128, np.dtype(np.uint16): 0, np.dtype(np.int16): -32768}
_SATURATING = "ReLU in the requantization"


def requantizes_at_zero(ix: ModelIndex, node: Node) -> bool:
    """Whether ``node`` quantizes its output onto a range that starts at the real value 0:
    negative values saturate to 0. That is a ReLU, which quantizers (ONNX Runtime's among
    them) remove from the graph and leave to the quantization."""
    slot = _OUTPUT_ZERO_POINT.get(node.op_type)
    if slot is None:
        return False
    if len(node.input) <= slot or not node.input[slot]:  # only QuantizeLinear's has a default: uint8 0
        return node.op_type == "QuantizeLinear" and ix.attr(node, "output_dtype", 0) in (0, onnx.TensorProto.UINT8)
    zero_point = ix.value(node.input[slot])
    if zero_point is None or not zero_point.size:
        return False
    lowest = _LOWEST_CODE.get(zero_point.dtype)
    return lowest is not None and bool((zero_point == lowest).all())


def _activation_name(acts: list[str], muls: int) -> str:
    s = set(acts)
    if "GELU" in s:
        return "GELU"
    if s == {"Tanh"} and muls:
        return "GELU (tanh)"
    if "Sigmoid" in s and muls:
        return "SiLU"
    return sorted(s)[0] if len(s) == 1 else "/".join(sorted(s))


# --- Tree ensembles compiled to tensor ops ---------------------------------------------------------------------


def tree_traversal(ix: ModelIndex) -> tuple[int, set[int]]:
    """Threshold comparisons whose outcome selects node indices or leaf values.

    Hummingbird-style tree ensembles (and LightGBM/XGBoost exported through it) compare
    feature values against constant thresholds and use the outcome to Gather the next
    node from constant tables (tree traversal) or to multiply by constant path matrices
    (the GEMM strategy). Returns the number of such comparisons and the ids of the
    table Gathers.
    """
    count = 0
    gathers: set[int] = set()
    for node in ix.nodes_of(COMPARISONS):
        if len(node.input) < 2:
            continue
        if not any(_threshold(ix, i) for i in node.input[:2]):
            continue
        hit = False
        for u, _ in _downstream(ix, node.output[0], {"Not", "Cast", "Reshape", "Add", "Mul", "Sub", "Unsqueeze",
                                                     "Squeeze", "Where", "Flatten"}, 6):
            if u.op_type in ("Gather", "GatherElements", "GatherND") and len(u.input) > 1 and \
                    ix.is_const(u.input[0]):
                gathers.add(id(u))
                hit = True
            elif u.op_type in ("MatMul", "Gemm") and any(ix.is_const(i) for i in u.input[:2]):
                hit = True
            elif u.op_type == "Where" and any(ix.is_const(i) for i in u.input[1:3]):
                hit = True
        count += hit
    return count, gathers


def _threshold(ix: ModelIndex, name: str) -> bool:
    """Per-node thresholds: a constant vector, or values Gathered from one by node index. (A
    single constant compared with is a cut-off, as T5's relative-position buckets use.)"""
    if ix.is_const(name):
        tensor = ix.tensors.get(name)
        return tensor is None or _numel(tensor.dims) > 1
    p = ix.producer.get(name)
    return p is not None and p.op_type in ("Gather", "GatherElements") and ix.is_const(p.input[0])


def _downstream(ix: ModelIndex, name: str, through: set, depth: int) -> Iterator[tuple[Node, int]]:
    frontier = [name]
    seen: set[int] = set()
    for d in range(1, depth + 1):
        nxt = []
        for n in frontier:
            for u in ix.users(n):
                if id(u) in seen:
                    continue
                seen.add(id(u))
                yield u, d
                if u.op_type in through:
                    nxt.extend(o for o in u.output if o)
        frontier = nxt
