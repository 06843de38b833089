"""FLOPs of a graph: the registry's formula for every node, subgraphs through their owners.

A node without a formula, or whose formula cannot be evaluated, is listed as uncounted
with the reason; it is never taken as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Collection, Optional

import numpy as np

from mkdocs_onnx.analysis.costs import NodeContext, SubgraphCost, Uncountable, cost_function
from mkdocs_onnx.analysis.costs._common import static_shape
from mkdocs_onnx.analysis.costs.data_movement import no_arithmetic
from mkdocs_onnx.analysis.costs.registry import CostFn
from mkdocs_onnx.analysis.graphs import node_label, qualified_op, topological_order
from mkdocs_onnx.analysis.index import Graph, Node
from mkdocs_onnx.analysis.report import Flops, UncountedNode
from mkdocs_onnx.analysis.shapes import TypeInfo


@dataclass
class FlopsResult:
    flops: Flops
    per_node: list[Optional[int]] = field(default_factory=list)  # by top-level index; None: uncounted
    # top-level index -> the share of its weights a node reads, for the nodes that read only part
    weights_read: dict[int, float] = field(default_factory=dict)


class _Counter:
    def __init__(self, types: dict[str, TypeInfo], constants: dict[str, np.ndarray]):
        self.types = types
        self.constants = constants
        self._notes: dict[str, list[str]] = {}  # note -> the labels of the nodes it is about, in order
        self._subgraphs: dict[int, SubgraphCost] = {}
        self.weights_read: dict[int, float] = {}  # id(node) -> NodeContext.weights_read, when a formula set it

    def node_cost(self, node: Node, position: int) -> tuple[Optional[int], str]:
        """(FLOPs, "") or (None, why it is uncounted); ``position`` labels unnamed nodes in notes."""
        return self.cost(cost_function(node.domain, node.op_type), node, position)

    def cost(self, fn: Optional[CostFn], node: Node, position: int) -> tuple[Optional[int], str]:
        """:meth:`node_cost` with the node's formula ``fn`` already looked up."""
        if fn is None:
            return None, f"no cost formula for {qualified_op(node)}"
        if fn is no_arithmetic:  # data movement costs 0 whatever the node: no context to build
            return 0, ""
        ctx = NodeContext(node, self.types, self.constants, self.subgraph_cost)
        try:
            flops = int(fn(ctx))
        except Uncountable as e:
            return None, str(e)
        except Exception as e:  # a formula meeting input it does not expect must not end the analysis
            return None, f"cost formula failed on this node ({type(e).__name__}: {e})"
        for note in ctx.notes:
            self._notes.setdefault(note, []).append(node_label(node, position))
        if ctx.weights_read is not None:
            self.weights_read[id(node)] = ctx.weights_read
        return flops, ""

    @property
    def notes(self) -> list[str]:
        """Each note once, after the nodes it is about (a 32-layer model's same note, once)."""
        return [f"{_labels(labels)}: {note}" for note, labels in self._notes.items()]

    def subgraph_cost(self, graph: Graph) -> SubgraphCost:
        key = id(graph)
        if key not in self._subgraphs:
            total = uncounted = 0
            for i, node in enumerate(topological_order(graph, where=f"subgraph '{graph.name}'")):
                flops, _ = self.node_cost(node, i)
                if flops is None:
                    uncounted += 1
                else:
                    total += flops
            self._subgraphs[key] = SubgraphCost(total, uncounted)
        return self._subgraphs[key]


def count_flops(order: list[Node], types: dict[str, TypeInfo], constants: dict[str, np.ndarray],
                folded: Collection[int] = ()) -> FlopsResult:
    """The FLOPs of one inference through the top-level nodes ``order``.

    ``folded``: the positions of the nodes computed from constants only, which runtimes fold
    at load or fuse into their readers: each keeps its count (``per_node``), summed apart as
    ``Flops.folded``.
    """
    counter = _Counter(types, constants)
    folded_flops = 0
    folded_uncounted: list[str] = []  # nodes folded at load whose cost is unknown: said in a note, not hidden
    by_op: dict[str, int] = {}
    uncounted_ops: dict[str, int] = {}
    uncounted: list[UncountedNode] = []
    per_node: list[Optional[int]] = [0] * len(order)
    ops: dict = {}  # op key -> _OpInfo, looked up once per operator of this model
    for i, node in enumerate(order):
        key = node.op_type if not node.domain else (node.domain, node.op_type)
        op, fn, per_element = ops.get(key) or _op_info(ops, node, key)
        if fn is no_arithmetic:  # the most common case: 0, as per_node already says
            if op not in by_op:
                by_op[op] = 0
            continue
        shape = _simple_output_shape(node, types) if per_element is not None else None
        if shape is not None:  # what the formula computes first, done without building its context
            flops = per_element * prod(shape)
        else:
            flops, reason = counter.cost(fn, node, i)
        per_node[i] = flops
        if i in folded:  # folded or fused: no work of its own in an inference
            if flops is None:
                folded_uncounted.append(f"{node_label(node, i)} ({op}: {reason})")
            else:
                folded_flops += flops
        elif flops is None:
            uncounted_ops[op] = uncounted_ops.get(op, 0) + 1
            uncounted.append(UncountedNode(node_label(node, i), op, reason))
        else:
            by_op[op] = by_op.get(op, 0) + flops
    return FlopsResult(
        flops=Flops(
            total=sum(by_op.values()),
            by_op_type=dict(sorted(by_op.items())),
            uncounted_ops=dict(sorted(uncounted_ops.items())),
            uncounted=uncounted,
            notes=counter.notes + ([f"not counted in the FLOPs folded at load: {_labels(folded_uncounted)}"]
                                   if folded_uncounted else []),
            folded=folded_flops,
        ),
        per_node=per_node,
        weights_read={i: counter.weights_read[id(node)] for i, node in enumerate(order)
                      if id(node) in counter.weights_read} if counter.weights_read else {},
    )


def _labels(labels: list[str], shown: int = 3) -> str:
    """'a', 'a, b and c', or 'a, b, c and 29 more'."""
    if len(labels) == 1:
        return labels[0]
    if len(labels) <= shown:
        return ", ".join(labels[:-1]) + " and " + labels[-1]
    return ", ".join(labels[:shown]) + f" and {len(labels) - shown} more"


# What count_flops needs of each operator, by op key (op type in the default domain, else
# (domain, op type)): its qualified name, its formula, and the formula's FLOPs per output
# element when it is that simple (see elementwise.per_element).
_OpInfo = tuple[str, Optional[CostFn], Optional[int]]


def _op_info(ops: dict, node: Node, key) -> _OpInfo:
    fn = cost_function(node.domain, node.op_type)
    info = ops[key] = (qualified_op(node), fn, getattr(fn, "flops_per_element", None))
    return info


def _simple_output_shape(node: Node, types: dict[str, TypeInfo]) -> Optional[tuple]:
    """The static shape of an elementwise node's output 0, unless the legacy ``broadcast``
    attribute is set (then the formula decides) or the shape is not static."""
    outputs = node.output
    if not outputs or not outputs[0] or "broadcast" in node.attrs:
        return None
    return static_shape(types, outputs[0])
