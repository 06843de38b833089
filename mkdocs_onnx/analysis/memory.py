"""Peak activation memory from tensor liveness over an execution order.

A tensor is live from the step that produces it (graph inputs: from the start) to the
step of its last consumer (graph outputs: to the end). While a node runs, its inputs
and its outputs are live together. The peak is the largest sum of live bytes over all
steps. A node that holds subgraphs (If, Loop, Scan) adds, while it runs, the peak of
what its largest body computes for itself (one branch or iteration runs at a time).
Weights, other constants and tensors folded from them are not activations.
A tensor of unknown size counts as 0 bytes and is reported, so the peak is then a
lower bound, never a silent guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mkdocs_onnx.analysis.graphs import node_label, topological_order
from mkdocs_onnx.analysis.index import Graph, Node
from mkdocs_onnx.analysis.params import Use, with_subgraph_nodes
from mkdocs_onnx.analysis.shapes import TypeInfo
from mkdocs_onnx.analysis.tensors import nbytes


@dataclass
class PeakMemory:
    peak_bytes: int
    peak_node: Optional[str]
    unknown: int  # activations of unknown size


def tensor_bytes(info: Optional[TypeInfo]) -> Optional[int]:
    """Bytes of a tensor with a static shape, None otherwise."""
    if info is None:
        return None
    elem_type, shape = info
    if shape is None:
        return None
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        n *= d
    return nbytes(elem_type, n)


class TensorSizes(dict):
    """``tensor_bytes`` of each tensor by name (None for a tensor inference gave no type).

    Computed for every typed tensor at once: most are asked for by several passes, and
    filling the dict in one loop costs less than computing each on first ask. Most
    tensors share their type with others, so each type is sized once.
    """

    def __init__(self, types: dict[str, TypeInfo]):
        super().__init__()
        by_type: dict[Optional[TypeInfo], Optional[int]] = {}
        for name, info in types.items():
            size = by_type.get(info, _UNKNOWN)
            if size is _UNKNOWN:
                size = by_type[info] = tensor_bytes(info)
            self[name] = size

    def __missing__(self, name: str) -> None:
        return None


_UNKNOWN = object()  # a type whose size is not computed yet (None: it has no static size)


def peak_activation(graph: Graph, order: list[Node], sizes: TensorSizes,
                    uses: dict[str, list[Use]], constants: set[str]) -> PeakMemory:
    end = len(order)
    outputs = set(graph.outputs)
    size: dict[str, int] = {}  # bytes of each activation allocated so far
    frees: list[Optional[list[str]]] = [None] * (end + 1)  # by step: the activations whose last reader it is
    unknown = 0

    def allocate(name: str, step: int) -> int:
        """Make ``name`` live from ``step`` to its last reader; its bytes (0 when unknown)."""
        nonlocal unknown
        b = sizes[name]
        tensor_uses = uses.get(name)
        if b is None:
            # An output nobody reads (Dropout's mask, say) changes nothing downstream: not a gap.
            if tensor_uses or name in outputs:
                unknown += 1
            b = 0
        size[name] = b
        if name in outputs:
            last = end
        else:
            last = tensor_uses[-1][2] if tensor_uses else step  # uses are recorded in execution order
        freed = frees[last]
        if freed is None:
            frees[last] = [name]
        else:
            freed.append(name)
        return b

    live = 0
    for name in graph.real_inputs():
        if name not in constants:
            live += allocate(name, 0)
    peak, peak_at = live, None
    for step, node in enumerate(order):
        for o in node.output:
            if o not in size and o not in constants and o:
                live += allocate(o, step)
        running = live
        if node.subgraphs:  # what its body allocates while it runs (the costlier branch of an If)
            inside, inside_unknown = _subgraphs_peak(node, sizes, constants)
            running += inside
            unknown += inside_unknown
        if running > peak or peak_at is None:
            peak, peak_at = running, node_label(node, step)
        freed = frees[step]
        if freed:
            for name in freed:
                live -= size[name]
    return PeakMemory(peak_bytes=peak, peak_node=peak_at, unknown=unknown)


def _subgraphs_peak(node: Node, sizes: TensorSizes, constants: set[str]) -> tuple[int, int]:
    """The largest peak of the node's subgraphs (one runs at a time: a branch, an iteration),
    and how many of their intermediate tensors have an unknown size."""
    peak = unknown = 0
    for graph in node.subgraphs:
        graph_peak, graph_unknown = _inner_peak(graph, sizes, constants)
        peak = max(peak, graph_peak)
        unknown += graph_unknown
    return peak, unknown


def _inner_peak(graph: Graph, sizes: TensorSizes, constants: set[str]) -> tuple[int, int]:
    """Peak bytes of the tensors a subgraph computes for itself, live from their producer to
    their last reader in it. Its outputs become the owner's outputs, counted outside; the
    outer tensors it reads are live outside already."""
    try:
        order = topological_order(graph)
    except Exception:  # a cyclic body is reported by the analyzer itself
        return 0, 0
    outputs = set(graph.outputs)
    last: dict[str, int] = {}
    for step, node in enumerate(order):
        for reader in with_subgraph_nodes(node):  # a read inside its subgraphs is the node's
            for name in reader.input:
                if name:
                    last[name] = step
    live = peak = unknown = 0
    frees: dict[int, list[int]] = {}
    for step, node in enumerate(order):
        for o in node.output:
            if not o or o in constants or o in outputs:
                continue
            b = sizes[o]
            if b is None:
                unknown += o in last
                continue
            live += b
            frees.setdefault(last.get(o, step), []).append(b)
        running = live
        if node.subgraphs:
            inside, inside_unknown = _subgraphs_peak(node, sizes, constants)
            running += inside
            unknown += inside_unknown
        peak = max(peak, running)
        live -= sum(frees.pop(step, ()))
    return peak, unknown

