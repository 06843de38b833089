"""Walking indexed graphs: execution order, outer-scope reads, node labels."""

from __future__ import annotations

from collections import deque
from typing import Iterator

from mkdocs_onnx.analysis.index import Graph, Node
from mkdocs_onnx.errors import AnalysisError


def node_label(node: Node, index: int | None = None) -> str:
    """A node's name, or a stable stand-in for unnamed nodes (a ``Node`` or a ``NodeProto``)."""
    if node.name:
        return node.name
    for first_output in node.output:
        if first_output:
            return f"{node.op_type}->{first_output}"
    return f"{node.op_type}#{index}" if index is not None else node.op_type


def qualified_op(node: Node) -> str:
    """``OpType`` for the default domain, ``domain.OpType`` otherwise."""
    return qualified_name(node.domain, node.op_type)


def qualified_name(domain: str, op_type: str) -> str:
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


def topological_order(graph: Graph, where: str = "graph") -> list[Node]:
    """The graph's nodes in an order where every producer precedes its consumers.

    The file's own order is kept whenever it is valid (it usually is); a graph whose
    nodes are out of order is sorted; a cycle is an error naming the nodes on it.
    Inputs produced by no node (graph inputs, initializers, outer-scope names) are
    available from the start. The order is computed once per graph; several passes ask.
    """
    if graph._order is None:
        graph._order = _order(graph.nodes, where, set())
    return graph._order


def execution_order(graph: Graph, where: str = "graph") -> tuple[list[Node], set[str]]:
    """:func:`topological_order`, computed now, and the names the graph's nodes read as
    inputs that none of them produces (graph inputs, initializers, outer-scope names, or
    nothing at all): the walk that orders the nodes finds them too."""
    unproduced: set[str] = set()
    graph._order = _order(graph.nodes, where, unproduced)
    unproduced.discard("")
    return graph._order, unproduced


def _order(nodes: list[Node], where: str, unproduced: set[str]) -> list[Node]:
    producer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out and out not in producer:
                producer[out] = i
    if _in_order(nodes, producer, where, unproduced):  # the usual case: one pass, no dependency sets
        return list(nodes)
    deps = [set() for _ in nodes]
    for i, node in enumerate(nodes):
        for name in _consumed_names(node):
            j = producer.get(name)
            if j is not None and j != i:
                deps[i].add(j)
    return _kahn(nodes, deps, where)


def _in_order(nodes: list[Node], producer: dict[str, int], where: str, unproduced: set[str]) -> bool:
    """Whether every node comes after the producers of what it reads (a self-read is a cycle);
    adds to ``unproduced`` the inputs no node produces."""
    in_order = True
    for i, node in enumerate(nodes):
        subgraphs = node.subgraphs
        for name in _consumed_names(node) if subgraphs else node.input:
            j = producer.get(name)
            if j is None:
                if not subgraphs:
                    unproduced.add(name)
                continue
            if j < i:
                continue
            if j == i:
                raise AnalysisError(f"{where}: node '{node_label(node, i)}' consumes its own output '{name}' (cycle)")
            in_order = False
        if subgraphs:  # what they read from outside is not an input of the node
            unproduced.update(name for name in node.input if name not in producer)
    return in_order


def _kahn(nodes, deps, where) -> list[Node]:
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


def _consumed_names(node: Node) -> Iterator[str]:
    """Names a node reads: its inputs and the outer-scope names its subgraphs use."""
    yield from (n for n in node.input if n)
    for sub in node.subgraphs:
        yield from outer_scope_inputs(sub)


def outer_scope_inputs(graph: Graph) -> set[str]:
    """Names a subgraph (and its own subgraphs) reads without defining them (computed once)."""
    if graph._outer_reads is None:
        defined = set(graph.inputs) | {t.name for t in graph.initializers}
        defined |= {o for n in graph.nodes for o in n.output}
        used = set()
        for node in graph.nodes:
            used.update(n for n in node.input if n)
            for sub in node.subgraphs:
                used |= outer_scope_inputs(sub)
        used.update(graph.outputs)
        graph._outer_reads = used - defined
    return graph._outer_reads
