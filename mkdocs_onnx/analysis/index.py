"""The model index: every graph, node and constant tensor of a model, read from protobuf once.

Reading a field of an ONNX protobuf from Python is slow (each access goes through the
upb wrappers and builds a new Python object), while an analysis visits every node many
times: ordering, constants, uses, folding, value propagation, FLOPs, memory, structure.
So the analyzer reads each node's fields and attributes once into the plain objects
below, and every pass works on those.

:class:`Node` keeps the ``NodeProto`` field names (``op_type``, ``domain``, ``name``,
``input``, ``output``), so code written for a ``NodeProto`` (cost formulas, value
evaluators, labels) reads either. Attributes are gathered once into a dict by name and
decoded when first read (most never are); graph-valued attributes of the operators that
hold subgraphs become indexed :class:`Graph` objects, and tensor-valued ones
:class:`Tensor` objects, at once.
Each object keeps its protobuf (``proto``) for what still needs one: ONNX per-node
inference and stripping weight data before whole-model inference.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Sequence

import onnx
from onnx import AttributeProto, TensorProto, helper

# Default-domain operators that can hold graphs; other ops of that domain never do.
GRAPH_HOLDING_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})
DEFAULT_DOMAINS = ("", "ai.onnx")

_GRAPH_TYPES = (AttributeProto.GRAPH, AttributeProto.GRAPHS)

# IR version 1 files leave attribute types unset: the type is that of the first field set.
_ATTRIBUTE_FIELDS = (
    ("floats", AttributeProto.FLOATS), ("ints", AttributeProto.INTS),
    ("strings", AttributeProto.STRINGS), ("tensors", AttributeProto.TENSORS),
    ("graphs", AttributeProto.GRAPHS), ("f", AttributeProto.FLOAT), ("i", AttributeProto.INT),
    ("s", AttributeProto.STRING), ("t", AttributeProto.TENSOR), ("g", AttributeProto.GRAPH),
)


class Tensor:
    """A constant tensor as declared: an initializer or a tensor held in a node attribute."""

    __slots__ = ("name", "elem_type", "dims", "external", "proto")

    def __init__(self, proto: TensorProto):
        self.name: str = proto.name
        self.elem_type: int = proto.data_type
        self.dims: tuple = tuple(proto.dims[:])
        self.external: bool = proto.data_location == TensorProto.EXTERNAL  # as in the file, until read (see .external)
        self.proto = proto

    @property
    def numel(self) -> int:
        return math.prod(self.dims)


# What a node without subgraphs or tensor attributes shares with every other such node.
_NONE: tuple = ()


class Node:
    """One node's fields, read once. ``input``/``output`` are lists of names ('' = absent)."""

    __slots__ = ("op_type", "domain", "name", "input", "output", "attrs", "subgraphs", "tensors",
                 "has_graph_attribute", "proto")

    def __init__(self, proto: onnx.NodeProto, edits: Optional[list[str]] = None):
        self.op_type: str = proto.op_type
        self.domain: str = proto.domain
        self.name: str = proto.name
        self.input: list[str] = proto.input[:]
        self.output: list[str] = proto.output[:]
        self.proto = proto
        self.subgraphs: Sequence[Graph] = _NONE  # in attribute order, as ONNX runs them
        self.tensors: Sequence[Tensor] = _NONE  # tensors held in TENSOR/TENSORS attributes
        self.has_graph_attribute = False  # any GRAPH/GRAPHS attribute, subgraph-holding op or not
        # First attribute of each name: its value, or its AttributeProto until read.
        attrs: dict[str, Any] = {}
        self.attrs = attrs
        for a in proto.attribute[:]:  # repeated fields are sliced: one call, where iterating reads item by item
            kind = a.type
            value = _read_at_once(self, a, kind, edits) if kind in _READ_AT_ONCE else a
            name = a.name
            if name not in attrs:
                attrs[name] = value

    def attr(self, name: str, default: Any = None) -> Any:
        """The attribute's value (as ``onnx.helper.get_attribute_value``), or ``default`` when absent."""
        value = self.attrs.get(name, default)
        if type(value) is AttributeProto:
            value = self.attrs[name] = _decode(value)  # raises what ONNX raises, at every read
        return value

    def tensor(self, name: str) -> Optional[Tensor]:
        """The indexed tensor of attribute ``name`` when it holds one tensor (a Constant's value), else None."""
        value = self.attrs.get(name)
        if type(value) is not TensorProto:
            return None
        for t in self.tensors:
            if t.proto is value:
                return t
        return Tensor(value)

    def __repr__(self) -> str:
        return f"Node({self.op_type!r}, {self.name!r})"


class Graph:
    """One graph: its nodes in file order, initializers and input/output names."""

    __slots__ = ("name", "nodes", "inputs", "outputs", "initializers", "proto", "_order", "_outer_reads")

    def __init__(self, proto: onnx.GraphProto, edits: Optional[list[str]] = None):
        """``edits``, when given, collects what indexing changes in the protobuf (see :class:`IndexedModel`)."""
        self.name: str = proto.name
        self.nodes: list[Node] = [Node(n, edits) for n in proto.node[:]]
        self.initializers: list[Tensor] = [Tensor(t) for t in proto.initializer[:]]
        self.inputs: list[str] = [v.name for v in proto.input[:]]  # IR < 4 lists initializers here too
        self.outputs: list[str] = [v.name for v in proto.output[:]]
        self.proto = proto
        self._order: Optional[list[Node]] = None  # execution order, once computed (graphs.topological_order)
        self._outer_reads: Optional[set[str]] = None  # graphs.outer_scope_inputs, once computed

    def real_inputs(self) -> list[str]:
        """Inputs that are not initializers (IR < 4 models list their initializers as inputs)."""
        initializers = {t.name for t in self.initializers}
        return [name for name in self.inputs if name not in initializers]

    def real_input_protos(self) -> list[onnx.ValueInfoProto]:
        """The value infos of :meth:`real_inputs`, chosen by the names already read."""
        initializers = {t.name for t in self.initializers}
        protos = self.proto.input
        return [protos[position] for position, name in enumerate(self.inputs) if name not in initializers]

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes)"


class IndexedModel:
    """Every graph of a model (the main graph first, subgraphs depth first, as ONNX nests them).

    It also keeps a record of the changes made to the model's protobuf (attributes typed
    while indexing, dims bound, nodes sorted, weight data stripped, an opset imported):
    while there are none, the file's own bytes still describe the model, and shape
    inference can take them as they are instead of a fresh serialization.
    """

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self._edits: list[str] = []  # what has changed in the protobuf since it was parsed
        self._opsets = len(model.opset_import)  # an opset imported later shows as a longer list
        self.main = Graph(model.graph, self._edits)
        self.graphs: list[Graph] = list(walk(self.main))
        self._op_counts: Optional[dict[tuple[str, str], int]] = None
        self._tensors: Optional[tuple[Tensor, ...]] = None

    def set_main_order(self, order: list[Node]) -> None:
        """Take ``order`` as the main graph's node order (the analyzer sorts the protobuf the same way)."""
        self.main.nodes = order
        self.main._order = order
        self.graphs = list(walk(self.main))
        self._tensors = None
        self.note_edit("nodes sorted")

    def note_edit(self, what: str) -> None:
        """Record that the model's protobuf was changed (``what``: how, for whoever debugs it)."""
        self._edits.append(what)

    def as_parsed(self) -> bool:
        """Whether the model's protobuf is still exactly what was parsed from the file."""
        return not self._edits and len(self.model.opset_import) == self._opsets

    def nodes(self) -> Iterator[Node]:
        """Every node of every graph, graph by graph."""
        for graph in self.graphs:
            yield from graph.nodes

    def op_counts(self) -> dict[tuple[str, str], int]:
        """How many nodes of each (domain, op_type) the model holds, subgraphs included,
        in the order they first occur (counted in a plain dict: a ``Counter`` costs
        a few Python-level calls per analysis, and its callers only read it)."""
        if self._op_counts is None:
            counts: dict[tuple[str, str], int] = {}
            for graph in self.graphs:
                for n in graph.nodes:
                    key = (n.domain, n.op_type)
                    counts[key] = counts.get(key, 0) + 1
            self._op_counts = counts
        return self._op_counts

    def named_constants(self) -> Iterator[tuple[str, Tensor]]:
        """(name, tensor) of every constant by the name nodes read it: the initializers, then
        the values of the Constant nodes (as TorchScript keeps constants), graph by graph."""
        with_constants = any(op == "Constant" and domain in DEFAULT_DOMAINS for domain, op in self.op_counts())
        for graph in self.graphs:
            for t in graph.initializers:
                yield t.name, t
            if with_constants:
                for node in graph.nodes:
                    if node.op_type == "Constant" and node.output and node.domain in DEFAULT_DOMAINS:
                        value = node.tensor("value")
                        if value is not None:
                            yield node.output[0], value

    def tensors(self) -> tuple[Tensor, ...]:
        """Every constant tensor: initializers and the tensors nodes hold, graph by graph.

        Listed once (several passes read them all), again after the nodes are reordered.
        """
        if self._tensors is None:
            tensors: list[Tensor] = []
            for graph in self.graphs:
                tensors += graph.initializers
                for node in graph.nodes:
                    if node.tensors:  # few nodes hold any
                        tensors += node.tensors
            self._tensors = tuple(tensors)
        return self._tensors


def walk(graph: Graph) -> Iterator[Graph]:
    """``graph`` and every subgraph nested in it, depth first."""
    yield graph
    for node in graph.nodes:
        for sub in node.subgraphs:
            yield from walk(sub)


def holds_subgraphs(node: Node) -> bool:
    """Whether the node's graph attributes are subgraphs it runs (other default ops have none)."""
    return node.domain not in DEFAULT_DOMAINS or node.op_type in GRAPH_HOLDING_OPS


# Attribute types read while indexing: subgraphs and tensors are indexed themselves, and
# untyped attributes (IR version 1) are typed for ONNX inference. Every other attribute
# stays an AttributeProto until read.
_READ_AT_ONCE = frozenset({AttributeProto.UNDEFINED, AttributeProto.TENSOR, AttributeProto.TENSORS,
                           AttributeProto.GRAPH, AttributeProto.GRAPHS})


def _read_at_once(node: Node, a: AttributeProto, kind: int, edits: Optional[list[str]]) -> Any:
    """The value of an attribute that the index reads at once (an AttributeProto when it cannot)."""
    if kind == AttributeProto.UNDEFINED:
        kind = _type_untyped(a)
        if kind != AttributeProto.UNDEFINED and edits is not None:
            edits.append("attribute typed")
    if kind == AttributeProto.TENSOR:  # the common case (Constant, ConstantOfShape)
        tensor = Tensor(a.t)
        node.tensors = [*node.tensors, tensor]
        return a if a.ref_attr_name else tensor.proto
    if kind in _GRAPH_TYPES:
        node.has_graph_attribute = True
        return _graph_value(node, a, kind, edits) if holds_subgraphs(node) else _decoded_or_proto(a)
    if kind == AttributeProto.TENSORS:
        node.tensors = [*node.tensors, *(Tensor(t) for t in a.tensors)]
    return _decoded_or_proto(a)


def _decoded_or_proto(a: AttributeProto) -> Any:
    """The attribute's value, or the attribute itself when decoding fails (it fails again when read)."""
    try:
        return _decode(a)
    except Exception:  # a reference attribute outside a function, an unknown type
        return a


def _type_untyped(a: AttributeProto) -> int:
    """Set the type of an attribute written without one (ONNX inference needs it); return it."""
    for field_name, kind in _ATTRIBUTE_FIELDS:
        is_set = len(getattr(a, field_name)) > 0 if len(field_name) > 1 else a.HasField(field_name)
        if is_set:
            a.type = kind
            return kind
    return AttributeProto.UNDEFINED


def _graph_value(node: Node, a: AttributeProto, kind: int, edits: Optional[list[str]]) -> Any:
    if kind == AttributeProto.GRAPH:
        graph = Graph(a.g, edits)
        node.subgraphs = [*node.subgraphs, graph]
        return graph
    graphs = [Graph(g, edits) for g in a.graphs[:]]
    node.subgraphs = [*node.subgraphs, *graphs]
    return graphs


# The field holding each common attribute type, read as ``onnx.helper.get_attribute_value`` reads it.
_SCALAR_FIELDS = {AttributeProto.INT: "i", AttributeProto.FLOAT: "f", AttributeProto.STRING: "s",
                  AttributeProto.TENSOR: "t"}
_LIST_FIELDS = {AttributeProto.INTS: "ints", AttributeProto.FLOATS: "floats", AttributeProto.STRINGS: "strings"}


def _decode(a: AttributeProto) -> Any:
    """``onnx.helper.get_attribute_value(a)``, the common types read directly."""
    if not a.ref_attr_name:
        kind = a.type
        if kind in _SCALAR_FIELDS:
            return getattr(a, _SCALAR_FIELDS[kind])
        if kind in _LIST_FIELDS:
            return getattr(a, _LIST_FIELDS[kind])[:]  # a list, as get_attribute_value gives
    return helper.get_attribute_value(a)
