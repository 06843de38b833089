"""Walking indexed graphs: execution order, outer-scope reads, node labels."""

from __future__ import annotations

from typing import Iterable, Iterator

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
    producer, in_order = _producers_in_order(nodes, where, unproduced)
    if in_order:  # the usual case: one pass, no dependency sets
        return list(nodes)
    return _kahn(nodes, producer, where)


def _producers_in_order(nodes: list[Node], where: str, unproduced: set[str]) -> tuple[dict[str, int], bool]:
    """Each name's first producer (by node index), and whether every node comes after the
    producers of what it reads; a node reading its own output is a cycle. Adds to
    ``unproduced`` the inputs no node produces.

    One pass: a name read before any node produced it is either produced later (the file
    is out of order) or by no node at all, which only the whole pass can tell.
    """
    producer: dict[str, int] = {}
    early: list[str] = []  # inputs read before their producer, if any: graph inputs, initializers, later outputs
    early_outer: list[str] = []  # the same for what subgraphs read from outside (never inputs of the node)
    for i, node in enumerate(nodes):
        outputs = node.output
        for name in node.input:
            if name not in producer and name:
                if name in outputs:
                    raise _self_read(node, i, name, where)
                early.append(name)
        if node.subgraphs:
            for sub in node.subgraphs:
                for name in outer_scope_inputs(sub):
                    if name not in producer and name:
                        if name in outputs:
                            raise _self_read(node, i, name, where)
                        early_outer.append(name)
        for out in outputs:
            if out not in producer:
                producer[out] = i
    producer.pop("", None)  # an absent optional output produces nothing
    in_order = True
    for name in early:
        if name in producer:
            in_order = False
        else:
            unproduced.add(name)
    if in_order:
        for name in early_outer:
            if name in producer:
                in_order = False
                break
    return producer, in_order


def _self_read(node: Node, i: int, name: str, where: str) -> AnalysisError:
    return AnalysisError(f"{where}: node '{node_label(node, i)}' consumes its own output '{name}' (cycle)")


def _kahn(nodes: list[Node], producer: dict[str, int], where: str) -> list[Node]:
    """Kahn's sort, ready nodes first come first served (so a valid file order is kept).

    A node reading several outputs of one producer waits for it once per read, and is
    released once per read: the order is that of counting each producer once.
    """
    users: list[list[int]] = [[] for _ in nodes]
    waiting = [0] * len(nodes)
    for i, node in enumerate(nodes):
        for name in _consumed_names(node) if node.subgraphs else node.input:
            j = producer.get(name)
            if j is not None and j != i:
                users[j].append(i)
                waiting[i] += 1
    order = [i for i, w in enumerate(waiting) if w == 0]  # the queue: walked while it grows
    for i in order:
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                order.append(u)
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


def fold_constants(graphs: Iterable[Graph], constants: Iterable[str], *, never: frozenset[str] = frozenset(),
                   sources: tuple[str, ...] = ()) -> set[str]:
    """``constants`` plus the tensors computed from constants only (runtimes fold them at load).

    A node folds when it reads only constants (absent optional inputs aside) and holds no
    graph, walked in file order. ``never``: op types whose outputs the caller does not count
    as constants even then; ``sources``: op types that fold with no input at all.
    """
    known = set(constants)
    for graph in graphs:
        for node in graph.nodes:
            op = node.op_type
            if op in never:
                continue
            inputs, outputs = node.input, node.output
            if "" in inputs:  # an absent optional input: the others decide
                inputs = [i for i in inputs if i]
            if (inputs or op in sources) and not node.has_graph_attribute and known.issuperset(inputs):
                known.update(outputs if "" not in outputs else filter(None, outputs))
    return known
