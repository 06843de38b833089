"""Data types and sizes of ONNX tensors, computed from dims and data type alone.

Nothing here reads tensor data: sizes come from the declared dims, so weights held in
external files (or not present at all) are measured without being loaded.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

# Bits per element; the sub-byte types pack two (or four) elements per byte.
_BITS = {
    TensorProto.FLOAT: 32, TensorProto.UINT8: 8, TensorProto.INT8: 8, TensorProto.UINT16: 16,
    TensorProto.INT16: 16, TensorProto.INT32: 32, TensorProto.INT64: 64, TensorProto.BOOL: 8,
    TensorProto.FLOAT16: 16, TensorProto.DOUBLE: 64, TensorProto.UINT32: 32,
    TensorProto.UINT64: 64, TensorProto.COMPLEX64: 64, TensorProto.COMPLEX128: 128,
    TensorProto.BFLOAT16: 16,
}
for _name, _bits in (("FLOAT8E4M3FN", 8), ("FLOAT8E4M3FNUZ", 8), ("FLOAT8E5M2", 8),
                     ("FLOAT8E5M2FNUZ", 8), ("UINT4", 4), ("INT4", 4), ("FLOAT4E2M1", 4),
                     ("FLOAT8E8M0", 8), ("UINT2", 2), ("INT2", 2)):
    if hasattr(TensorProto, _name):
        _BITS[getattr(TensorProto, _name)] = _bits

FLOAT_TYPES = frozenset(
    t for t in _BITS
    if TensorProto.DataType.Name(t).startswith(("FLOAT", "BFLOAT", "DOUBLE"))
)
# Integer types that only quantized weights use; shapes and indices are int32/int64.
QUANTIZED_INT_TYPES = frozenset(
    t for t in _BITS
    if TensorProto.DataType.Name(t) in ("INT8", "UINT8", "INT16", "UINT16", "INT4", "UINT4", "INT2", "UINT2")
)


def dtype_name(elem_type: Optional[int]) -> str:
    """``float32``-style name of an ONNX element type ('unknown' when not set)."""
    if not elem_type:
        return "unknown"
    try:
        name = TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"type{elem_type}"
    return {"float": "float32", "double": "float64"}.get(name, name)


def bits_per_element(elem_type: Optional[int]) -> Optional[int]:
    return _BITS.get(elem_type or 0)


def nbytes(elem_type: Optional[int], numel: int) -> Optional[int]:
    """Bytes of ``numel`` elements as stored (sub-byte types rounded up to whole bytes)."""
    bits = bits_per_element(elem_type)
    if bits is None:
        return None
    return (numel * bits + 7) // 8


def tensor_numel(tensor: onnx.TensorProto) -> int:
    return math.prod(tensor.dims)


def is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


# Small constants are decoded so that formulas can read shapes, axes and trip counts;
# anything larger is a weight whose values never matter for the figures.
SMALL_CONSTANT_ELEMENTS = 4096


def small_value(tensor: onnx.TensorProto) -> Optional[np.ndarray]:
    """The tensor's values when it is small and stored inline, else None."""
    if is_external(tensor) or tensor_numel(tensor) > SMALL_CONSTANT_ELEMENTS:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # malformed or exotic data: the value is simply not known
        return None
