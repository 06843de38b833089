"""FLOPs of a graph: the registry's formula for every node, subgraphs through their owners.

A node without a formula, or whose formula cannot be evaluated, is listed as uncounted
with the reason; it is never taken as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from mkdocs_onnx.analysis.costs import NodeContext, SubgraphCost, Uncountable, cost_function
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


_UNKNOWN = object()  # an op type not yet looked up (None: it has no formula)


class _Counter:
    def __init__(self, types: dict[str, TypeInfo], constants: dict[str, np.ndarray]):
        self.types = types
        self.constants = constants
        self.notes: list[str] = []
        self._subgraphs: dict[int, SubgraphCost] = {}
        self._formulas: dict = {}  # registry lookups by op type (default domain) or (domain, op type)

    def formula(self, node: Node) -> Optional[CostFn]:
        key = node.op_type if not node.domain else (node.domain, node.op_type)
        fn = self._formulas.get(key, _UNKNOWN)
        if fn is _UNKNOWN:
            fn = self._formulas[key] = cost_function(node.domain, node.op_type)
        return fn

    def node_cost(self, node: Node, position: int) -> tuple[Optional[int], str]:
        """(FLOPs, "") or (None, why it is uncounted); ``position`` labels unnamed nodes in notes."""
        return self.cost(self.formula(node), node, position)

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
        if ctx.notes:
            label = node_label(node, position)
            self.notes.extend(f"{label}: {note}" for note in ctx.notes)
        return flops, ""

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


def count_flops(order: list[Node], types: dict[str, TypeInfo],
                constants: dict[str, np.ndarray]) -> FlopsResult:
    counter = _Counter(types, constants)
    ops: dict = {}  # op key (as the counter's) -> (qualified op, formula)
    by_op: dict[str, int] = {}
    uncounted_ops: dict[str, int] = {}
    uncounted: list[UncountedNode] = []
    per_node: list[Optional[int]] = []
    for i, node in enumerate(order):
        key = node.op_type if not node.domain else (node.domain, node.op_type)
        op_and_formula = ops.get(key)
        if op_and_formula is None:
            op_and_formula = ops[key] = (qualified_op(node), counter.formula(node))
        op, fn = op_and_formula
        if fn is no_arithmetic:  # the most common case, decided here without a call
            flops = 0
        else:
            flops, reason = counter.cost(fn, node, i)
        per_node.append(flops)
        if flops is None:
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
            notes=counter.notes,
        ),
        per_node=per_node,
    )
