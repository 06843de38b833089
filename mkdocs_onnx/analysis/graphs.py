"""Walking ONNX graphs: subgraphs, constant tensors held in nodes, execution order."""

from __future__ import annotations

from collections import deque
from typing import Iterator

import onnx

from mkdocs_onnx.errors import AnalysisError


# Default-domain operators that can hold graphs; other ops of that domain never do, which
# spares looking at every attribute of every node (the hottest loop of an analysis).
_GRAPH_HOLDING_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """The graphs held in a node's attributes (If branches, Loop and Scan bodies)."""
    if node.domain in ("", "ai.onnx") and node.op_type not in _GRAPH_HOLDING_OPS:
        return
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.name, attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            for i, g in enumerate(attr.graphs):
                yield f"{attr.name}[{i}]", g


def iter_graphs(graph: onnx.GraphProto, path: str = "") -> Iterator[tuple[str, onnx.GraphProto]]:
    """``graph`` and every subgraph nested in it, each with a readable path."""
    yield path, graph
    for node in graph.node:
        for attr_name, sub in subgraphs(node):
            yield from iter_graphs(sub, f"{path}/{node_label(node)}.{attr_name}")


def node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    """Tensors stored in a node's attributes (a Constant's value, ConstantOfShape's fill)."""
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR:
            yield attr.t
        elif attr.type == onnx.AttributeProto.TENSORS:
            yield from attr.tensors


def node_label(node: onnx.NodeProto, index: int | None = None) -> str:
    """A node's name, or a stable stand-in for unnamed nodes."""
    if node.name:
        return node.name
    first_output = next((o for o in node.output if o), "")
    if first_output:
        return f"{node.op_type}->{first_output}"
    return f"{node.op_type}#{index}" if index is not None else node.op_type


def qualified_op(node: onnx.NodeProto) -> str:
    """``OpType`` for the default domain, ``domain.OpType`` otherwise."""
    if node.domain in ("", "ai.onnx"):
        return node.op_type
    return f"{node.domain}.{node.op_type}"


def topological_order(graph: onnx.GraphProto, where: str = "graph") -> list[onnx.NodeProto]:
    """The graph's nodes in an order where every producer precedes its consumers.

    The file's own order is kept whenever it is valid (it usually is); a graph whose
    nodes are out of order is sorted; a cycle is an error naming the nodes on it.
    Inputs produced by no node (graph inputs, initializers, outer-scope names) are
    available from the start.
    """
    nodes = list(graph.node)
    producer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                producer.setdefault(out, i)
    deps = [set() for _ in nodes]
    for i, node in enumerate(nodes):
        for name in _consumed_names(node):
            j = producer.get(name)
            if j is not None and j != i:
                deps[i].add(j)
            elif j == i:
                raise AnalysisError(f"{where}: node '{node_label(node, i)}' consumes its own output '{name}' (cycle)")
    if all(j < i for i, d in enumerate(deps) for j in d):
        return nodes
    return _kahn(nodes, deps, where)


def _kahn(nodes, deps, where) -> list[onnx.NodeProto]:
    users = [[] for _ in nodes]
    waiting = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = deque(i for i, w in enumerate(waiting) if w == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    if len(order) < len(nodes):
        stuck = [node_label(nodes[i], i) for i, w in enumerate(waiting) if w > 0]
        shown = ", ".join(f"'{s}'" for s in stuck[:5])
        raise AnalysisError(f"{where}: the graph has a cycle through {len(stuck)} nodes ({shown}{', ...' if len(stuck) > 5 else ''})")
    return [nodes[i] for i in order]


def _consumed_names(node: onnx.NodeProto) -> Iterator[str]:
    """Names a node reads: its inputs and the outer-scope names its subgraphs use."""
    yield from (n for n in node.input if n)
    for _, sub in subgraphs(node):
        yield from outer_scope_inputs(sub)


def outer_scope_inputs(graph: onnx.GraphProto) -> set[str]:
    """Names a subgraph (and its own subgraphs) reads without defining them."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    defined |= {o for n in graph.node for o in n.output}
    used = set()
    for node in graph.node:
        used.update(n for n in node.input if n)
        for _, sub in subgraphs(node):
            used |= outer_scope_inputs(sub)
    used.update(o.name for o in graph.output)
    return used - defined
