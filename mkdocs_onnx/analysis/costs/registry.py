"""The per-operator cost registry.

One small function per operator (or family of operators) computes the FLOPs of one
node from its attributes and the shapes around it, the way ``onnx.reference.ops`` has
one small unit per operator. A multiply-accumulate counts 2 FLOPs. A formula that
cannot be evaluated (a shape is unknown or symbolic, an attribute is missing) raises
:class:`Uncountable` with the reason; the analyzer then lists the node under
``flops.uncounted_ops`` instead of counting it as zero.

Shape functions fill in output shapes for operators that ONNX shape inference does not
know (the ``com.microsoft`` contrib operators), so that everything downstream of them
can still be counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import onnx
from onnx import helper

from mkdocs_onnx.analysis.index import Graph, Node

# The operator domains of ONNX Runtime's contrib operators and of onnxruntime-extensions.
MS = "com.microsoft"
EXTENSIONS = "ai.onnx.contrib"

Shape = tuple[int, ...]
TypeInfo = tuple[Optional[int], Optional[tuple]]  # (onnx elem type, shape with int|str|None items)


class Uncountable(Exception):
    """The cost of a node cannot be determined; the message says why."""


@dataclass(frozen=True)
class SubgraphCost:
    flops: int
    uncounted: int  # nodes in the subgraph (recursively) whose cost is unknown


@dataclass(slots=True)
class NodeContext:
    """What a cost or shape function may know about one node.

    ``node`` is the analyzer's indexed :class:`~mkdocs_onnx.analysis.index.Node` or, as
    tests build them, a ``NodeProto``: both have ``op_type``, ``input`` and ``output``.
    """

    node: Node | onnx.NodeProto
    types: dict[str, TypeInfo]  # tensor name -> (elem type, shape) after shape inference
    constants: dict[str, np.ndarray]  # small constant tensors by name (shapes, axes, ...)
    subgraph_cost: Callable[[Graph], SubgraphCost] = lambda g: SubgraphCost(0, 0)
    notes: list[str] = field(default_factory=list)  # filled by formulas that must explain a choice
    # The share of its constant inputs (weights) one run of the node reads, set by a formula
    # whose node reads only part of them (a mixture of experts runs only the routed experts).
    weights_read: Optional[float] = None

    @property
    def op_type(self) -> str:
        return self.node.op_type

    @property
    def domain(self) -> str:
        """The node's domain, "" for ONNX's default one."""
        domain = self.node.domain
        return "" if domain == "ai.onnx" else domain

    def attr(self, name: str, default: Any = None) -> Any:
        value = node_attr(self.node, name, _ABSENT)
        if value is _ABSENT:
            return default
        if isinstance(value, list):  # e.g. an RNN's 'activations': strings, not bytes
            # an attribute's list holds one type: only a list of strings is decoded (ints and
            # floats can be thousands long, as in a tree ensemble)
            return [v.decode() for v in value] if value and isinstance(value[0], bytes) else value
        return value.decode() if isinstance(value, bytes) else value

    def int_array(self, name: str) -> np.ndarray:
        """An INTS attribute as an int64 array, empty when absent (see :func:`int_array_attr`)."""
        return int_array_attr(self.node, name)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def has_output(self, i: int) -> bool:
        return i < len(self.node.output) and self.node.output[i] != ""

    def _static_shape(self, name: str, what: str, i: int) -> Shape:
        """The static shape of tensor ``name``, ``what`` (input or output) ``i`` of the node."""
        shape = self.types.get(name, _UNTYPED)[1]
        if shape is None:
            raise Uncountable(f"shape of {what} {i} '{name}' is unknown")
        for dim in shape:
            if not isinstance(dim, int):  # the first dim that is not a size says why
                if isinstance(dim, str):
                    raise Uncountable(f"{what} {i} '{name}' has symbolic dim '{dim}' (bind it with --dim {dim}=N)")
                raise Uncountable(f"{what} {i} '{name}' has a dim of unknown size")
        return tuple(shape)

    def input_shape(self, i: int) -> Shape:
        """Static shape of input ``i``; raises :class:`Uncountable` when absent or not static."""
        inputs = self.node.input
        if i >= len(inputs) or not inputs[i]:
            raise Uncountable(f"{self.op_type} input {i} is missing")
        return self._static_shape(inputs[i], "input", i)

    def output_shape(self, i: int = 0) -> Shape:
        outputs = self.node.output
        if i >= len(outputs) or not outputs[i]:
            raise Uncountable(f"{self.op_type} output {i} is missing")
        return self._static_shape(outputs[i], "output", i)

    def input_type(self, i: int) -> TypeInfo:
        if not self.has_input(i):
            return (None, None)
        return self.types.get(self.node.input[i], (None, None))

    def input_value(self, i: int) -> Optional[np.ndarray]:
        """The value of input ``i`` when it is a known constant, else None."""
        if not self.has_input(i):
            return None
        return self.constants.get(self.node.input[i])

    def output_numel(self, i: int = 0) -> int:
        return numel(self.output_shape(i))

    def input_numel(self, i: int) -> int:
        return numel(self.input_shape(i))

    def subgraph(self, name: str) -> Optional[Graph | onnx.GraphProto]:
        g = self.attr(name)
        return g if isinstance(g, (Graph, onnx.GraphProto)) else None


_ABSENT = object()
_UNTYPED = (None, None)  # the TypeInfo of a tensor inference knows nothing of


def node_attr(node: Node | onnx.NodeProto, name: str, default: Any = None) -> Any:
    """The value of ``node``'s first attribute called ``name``, or ``default`` when it has none."""
    if isinstance(node, Node):
        return node.attr(name, default)
    for a in node.attribute:
        if a.name == name:
            return attribute_value(a)
    return default


def int_array_attr(node: Node | onnx.NodeProto, name: str) -> np.ndarray:
    """``node``'s INTS attribute ``name`` as an int64 array, empty when absent.

    Read from the protobuf's repeated field at once while the indexed node holds it
    undecoded: a tree ensemble's lists run to hundreds of thousands of ids, and decoding
    them first makes a Python int of each.
    """
    if isinstance(node, Node):
        value = node.attrs.get(name)
        if type(value) is onnx.AttributeProto and value.type == onnx.AttributeProto.INTS:
            return np.array(value.ints, dtype=np.int64)
    value = node_attr(node, name)
    return np.asarray(value if value is not None else [], dtype=np.int64)


def attribute_value(a: onnx.AttributeProto) -> Any:
    """An attribute's value; files from IR version 1 leave ``type`` unset, so read the field set."""
    if a.type != onnx.AttributeProto.UNDEFINED:
        return helper.get_attribute_value(a)
    for field_name in ("floats", "ints", "strings", "tensors", "graphs"):
        if len(getattr(a, field_name)):
            return list(getattr(a, field_name))
    for field_name in ("f", "i", "s", "t", "g"):
        if a.HasField(field_name):
            return getattr(a, field_name)
    return None


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


CostFn = Callable[[NodeContext], int]
ShapeFn = Callable[[NodeContext], list[TypeInfo]]
# attribute name -> the types of that subgraph's inputs, in order (None: left as inferred)
SubgraphInputsFn = Callable[[NodeContext], dict[str, list[Optional[TypeInfo]]]]

_COSTS: dict[tuple[str, str], CostFn] = {}
_SHAPES: dict[tuple[str, str], ShapeFn] = {}
_SUBGRAPH_INPUTS: dict[tuple[str, str], SubgraphInputsFn] = {}


def _key(domain: str, op_type: str) -> tuple[str, str]:
    return ("" if domain in ("", "ai.onnx") else domain, op_type)


def _registrar(table: dict, op_types: tuple[str, ...], domain: str) -> Callable:
    def register(fn):
        for op in op_types:
            table[_key(domain, op)] = fn
        return fn

    return register


def cost(*op_types: str, domain: str = "") -> Callable[[CostFn], CostFn]:
    """Register ``fn`` as the FLOPs formula of ``op_types`` in ``domain``."""
    return _registrar(_COSTS, op_types, domain)


def shape(*op_types: str, domain: str = "") -> Callable[[ShapeFn], ShapeFn]:
    """Register ``fn`` as the output-type function of ``op_types`` in ``domain``."""
    return _registrar(_SHAPES, op_types, domain)


def subgraph_inputs(*op_types: str, domain: str = "") -> Callable[[SubgraphInputsFn], SubgraphInputsFn]:
    """Register ``fn`` as what the subgraphs of ``op_types`` are called with, for operators whose
    ONNX inference does not type their subgraphs' inputs (so that their nodes can be shaped and counted)."""
    return _registrar(_SUBGRAPH_INPUTS, op_types, domain)


def cost_function(domain: str, op_type: str) -> Optional[CostFn]:
    return _COSTS.get(_key(domain, op_type))


def shape_function(domain: str, op_type: str) -> Optional[ShapeFn]:
    return _SHAPES.get(_key(domain, op_type))


def registered_costs() -> list[tuple[str, str]]:
    return sorted(_COSTS)


def subgraph_inputs_function(domain: str, op_type: str) -> Optional[SubgraphInputsFn]:
    return _SUBGRAPH_INPUTS.get(_key(domain, op_type))
