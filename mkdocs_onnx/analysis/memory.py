"""Peak activation memory from tensor liveness over an execution order.

A tensor is live from the step that produces it (graph inputs: from the start) to the
step of its last consumer (graph outputs: to the end). While a node runs, its inputs
and its outputs are live together. The peak is the largest sum of live bytes over all
steps. Weights, other constants and tensors folded from them are not activations.
A tensor of unknown size counts as 0 bytes and is reported, so the peak is then a
lower bound, never a silent guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mkdocs_onnx.analysis.graphs import node_label
from mkdocs_onnx.analysis.index import Graph, Node
from mkdocs_onnx.analysis.params import Use
from mkdocs_onnx.analysis.shapes import TypeInfo
from mkdocs_onnx.analysis.tensors import nbytes


@dataclass
class PeakMemory:
    peak_bytes: int
    peak_node: Optional[str]
    unknown: int  # activations of unknown size


def tensor_bytes(info: Optional[TypeInfo]) -> Optional[int]:
    """Bytes of a tensor with a static shape, None otherwise."""
    if info is None or info[1] is None:
        return None
    n = 1
    for d in info[1]:
        if not isinstance(d, int):
            return None
        n *= d
    return nbytes(info[0], n)


class TensorSizes(dict):
    """``tensor_bytes`` of each tensor by name, computed on first ask (several passes ask)."""

    def __init__(self, types: dict[str, TypeInfo]):
        super().__init__()
        self.types = types

    def __missing__(self, name: str) -> Optional[int]:
        size = self[name] = tensor_bytes(self.types.get(name))
        return size


def peak_activation(graph: Graph, order: list[Node], sizes: TensorSizes,
                    uses: dict[str, list[Use]], constants: set[str]) -> PeakMemory:
    end = len(order)
    outputs = set(graph.outputs)

    def last_use(name: str, produced: int) -> int:
        if name in outputs:
            return end
        tensor_uses = uses.get(name)
        return tensor_uses[-1].owner if tensor_uses else produced  # uses are recorded in execution order

    size: dict[str, int] = {}
    frees: dict[int, list[str]] = {}
    unknown = 0

    def allocate(name: str, step: int) -> int:
        nonlocal unknown
        b = sizes[name]
        if b is None:
            # An output nobody reads (Dropout's mask, say) changes nothing downstream: not a gap.
            if name in outputs or uses.get(name):
                unknown += 1
            b = 0
        size[name] = b
        frees.setdefault(last_use(name, step), []).append(name)
        return b

    live = sum(allocate(name, 0) for name in graph.real_inputs() if name not in constants)
    peak, peak_at = live, None
    for step, node in enumerate(order):
        live += sum(allocate(o, step) for o in node.output if o and o not in constants and o not in size)
        if peak_at is None or live > peak:
            peak, peak_at = live, node_label(node, step)
        live -= sum(size[name] for name in frees.pop(step, []))
    return PeakMemory(peak_bytes=peak, peak_node=peak_at, unknown=unknown)
