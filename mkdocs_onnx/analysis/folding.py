"""Which nodes no inference runs on its own: runtimes fold them at load, or fuse them into
the kernel that reads their output.

A node computed from constants only gives the same result at every inference, so a runtime
folds it at load (shape arithmetic, a Cast of the weights). The dequantization of a
constant weight is the exception that matters: runtimes keep the weight quantized and fuse
the dequantization into its reader. Two cases:

- The reader's other inputs are dequantized activations (a QDQ model quantized throughout):
  the reader becomes an integer kernel (QLinearConv, say), and no dequantization is left.
  The node is folded.
- Its activations are float (weight-only quantization, as 4-bit language models use): the
  kernel dequantizes the weight at every call, as ONNX Runtime's MatMulNBits does. The
  node's FLOPs count in every inference; it moves no bytes of its own.

Either way the reader reads the quantized weight (int8, packed int4) with its scale and
zero point, not the float tensor the graph shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mkdocs_onnx.analysis.index import Node
from mkdocs_onnx.analysis.memory import TensorSizes
from mkdocs_onnx.analysis.params import Use

_DEQUANTIZE_OPS = frozenset({("", "DequantizeLinear"), ("ai.onnx", "DequantizeLinear"),
                             ("com.microsoft", "DequantizeLinear")})


@dataclass
class Folding:
    """Node positions (in execution order) and what the readers of fused dequantizations read."""

    folded: set[int] = field(default_factory=set)  # no work of their own in an inference
    dequantized_per_call: set[int] = field(default_factory=set)  # their FLOPs count; no bytes of their own
    # output of a fused dequantization -> bytes of the quantized weight, scale and zero point
    quantized_bytes: dict[str, int] = field(default_factory=dict)


def find_folding(order: list[Node], constants: set[str], uses: dict[str, list[Use]], sizes: TensorSizes) -> Folding:
    """The nodes of ``order`` computed from constants only, split as the module docstring says."""
    result = Folding()
    dequantizations = []
    for i, node in enumerate(order):
        outputs = node.output
        if "" in outputs:
            outputs = [n for n in outputs if n]
        if outputs and constants.issuperset(outputs):
            result.folded.add(i)
            if (node.domain, node.op_type) in _DEQUANTIZE_OPS:
                dequantizations.append(i)
    if not dequantizations:
        return result
    dequantized = {n for node in order if (node.domain, node.op_type) in _DEQUANTIZE_OPS for n in node.output if n}
    for i in dequantizations:
        node = order[i]
        weight = node.output[0]
        read = [sizes[n] for n in node.input if n]
        if None not in read:
            result.quantized_bytes[weight] = sum(read)
        if any(_float_activations(reader, weight, constants, dequantized) for reader, _, _ in uses.get(weight, ())):
            result.folded.discard(i)
            result.dequantized_per_call.add(i)
    return result


def _float_activations(reader: Node, weight: str, constants: set[str], dequantized: set[str]) -> bool:
    """Whether ``reader`` computes ``weight`` with an input that is neither constant nor dequantized."""
    for name in reader.input:
        if name and name != weight and name not in constants and name not in dequantized:
            return True
    return False
