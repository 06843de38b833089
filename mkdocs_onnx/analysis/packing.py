"""Weights stored packed: several low-bit values to a byte, as ONNX Runtime's quantized
LLM operators store them.

Such a weight is a uint8 tensor; how many values it holds, and of what type, only the
operator that reads it says (its ``bits``, ``K`` and ``N`` attributes). Parameters count
the values: a 4-bit 4096 × 4096 projection holds 16.8 M parameters in 8.4 MB. Sizes in
bytes count what is stored, which needs no unpacking.

Tensors typed ``int4``/``uint4``/``float4e2m1`` are not packed in this sense: their dims
already count the values.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from onnx import TensorProto

from mkdocs_onnx.analysis.index import Node

# (values the tensor holds, their type's name)
Unpacked = tuple[int, str]
# How an attribute is read: (name, default) -> value (Node.attr, NodeContext.attr)
Attr = Callable[[str, Any], Any]

_UINT8 = TensorProto.UINT8


def unpacked(node: Node, slot: int, elem_type: int, stored: int) -> Optional[Unpacked]:
    """What a uint8 tensor of ``stored`` elements holds when ``node`` reads it at input
    ``slot`` as packed low-bit values; None when it is read as it is stored (or when the
    node's attributes make no sense: then the stored elements are all there is to count)."""
    read = _READERS.get(node.op_type)
    if read is None or elem_type != _UINT8:
        return None
    try:
        return read(node, slot, stored)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def values_in(stored_bytes: int, bits: int) -> int:
    """Values of ``bits`` bits in ``stored_bytes`` bytes packed back to back."""
    return stored_bytes * 8 // bits


def _bits(attr: Attr, name: str, default: Optional[int] = None) -> int:
    """A width attribute, checked: 1 to 8 bits (ValueError otherwise)."""
    bits = attr(name, default)
    if type(bits) is not int or not 0 < bits <= 8:
        raise ValueError(f"{name}={bits!r} is not a width in bits")
    return bits


def _uint(bits: int) -> str:
    return f"uint{bits}"


def _positive(attr: Attr, *names: str) -> Optional[tuple[int, ...]]:
    """The attributes' values when each is a positive integer, else None (a malformed node)."""
    values = tuple(attr(name, None) for name in names)
    return values if all(type(v) is int and v > 0 for v in values) else None


def _projection(node: Node, width: str, stored: int, bits: int) -> Unpacked:
    """The K·N values of a packed (K × N) projection, N in attribute ``width``; when K or N
    is malformed, the values its stored bytes hold."""
    dims = _positive(node.attr, "K", width)
    return (dims[0] * dims[1] if dims else values_in(stored, bits)), _uint(bits)


def _matmul_nbits(node: Node, slot: int, stored: int) -> Optional[Unpacked]:
    """B is (N, ⌈K/block⌉, block·bits/8) bytes: K·N values, a block's padding not counted;
    packed zero points hold one value per block."""
    bits = _bits(node.attr, "bits", 4)
    if slot == 1:
        return _projection(node, "N", stored, bits)
    if slot == 3:
        dims = _positive(node.attr, "K", "N", "block_size")
        return (dims[1] * math.ceil(dims[0] / dims[2]) if dims else values_in(stored, bits)), _uint(bits)
    return None


def _matmul_bnb4(node: Node, slot: int, stored: int) -> Optional[Unpacked]:
    """B holds K·N 4-bit values of bitsandbytes' FP4 (quant_type 0) or NF4 (1) code."""
    if slot != 1:
        return None
    dims = _positive(node.attr, "K", "N")
    return (dims[0] * dims[1] if dims else values_in(stored, 4)), ("nf4" if node.attr("quant_type") == 1 else "fp4")


def _gather_block_quantized(node: Node, slot: int, stored: int) -> Optional[Unpacked]:
    """uint8 data (and zero points) pack 8/bits values per byte."""
    bits = _bits(node.attr, "bits", 4)
    if slot not in (0, 3) or bits == 8:
        return None
    return values_in(stored, bits), _uint(bits)


# The fused MatMulNBits projections: each packed weight's input and the attribute holding its N
_FUSED_PROJECTIONS = {"MatMulNBitsQkv": {3: "Nq", 6: "Nkv", 9: "Nkv"}, "MatMulNBitsMlp": {3: "N", 6: "N"}}


def _fused_projection(node: Node, slot: int, stored: int) -> Optional[Unpacked]:
    """Each projection's B holds K·N values, as MatMulNBits' does."""
    width = _FUSED_PROJECTIONS[node.op_type].get(slot)
    return None if width is None else _projection(node, width, stored, _bits(node.attr, "bits", 4))


# QMoE: each FC's weights and zero points, and the attribute that may override their width
_QMOE_SLOTS = {2: "fc1", 11: "fc1", 5: "fc2", 12: "fc2", 8: "fc3", 13: "fc3"}
_QMOE_FLOAT4 = ("fp4", "nvfp4", "wfp4afp8")  # E2M1, two values to a byte


def qmoe_bits(attr: Attr, fc: str) -> tuple[int, str]:
    """Width and type name of one QMoE FC's weights (``fc``: 'fc1', 'fc2' or 'fc3');
    ``attr`` reads the node's attributes."""
    quant_type = attr("quant_type", "int")
    quant_type = quant_type.decode("utf-8", "replace") if isinstance(quant_type, bytes) else quant_type
    if quant_type in _QMOE_FLOAT4:
        return 4, "float4e2m1"
    if quant_type == "fp8":
        return 8, "float8e4m3fn"
    override = f"{fc}_expert_weight_bits"
    bits = _bits(attr, override) if attr(override, None) else _bits(attr, "expert_weight_bits", 4)
    return bits, _uint(bits)


def _qmoe(node: Node, slot: int, stored: int) -> Optional[Unpacked]:
    fc = _QMOE_SLOTS.get(slot)
    if fc is None:
        return None
    bits, name = qmoe_bits(node.attr, fc)
    return values_in(stored, bits), name


_READERS: dict[str, Callable[[Node, int, int], Optional[Unpacked]]] = {
    "MatMulNBits": _matmul_nbits,
    "MatMulBnb4": _matmul_bnb4,
    "GatherBlockQuantized": _gather_block_quantized,
    "QMoE": _qmoe,
    "MatMulNBitsQkv": _fused_projection,
    "MatMulNBitsMlp": _fused_projection,
}
PACKED_READERS = frozenset(_READERS)
