"""Data types and sizes of ONNX tensors, computed from dims and data type alone.

Nothing here reads tensor data: sizes come from the declared dims, so weights held in
external files (or not present at all) are measured without being loaded.
"""

from __future__ import annotations

import functools
import math
import sys
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


@functools.cache  # a handful of element types, asked for by every tensor of every model
def dtype_name(elem_type: Optional[int]) -> str:
    """``float32``-style name of an ONNX element type ('unknown' when not set)."""
    if not elem_type:
        return "unknown"
    try:
        name = TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"type{elem_type}"
    return {"float": "float32", "double": "float64"}.get(name, name)


def type_name(tp: onnx.TypeProto) -> str:
    """The element type of a tensor (``float32``), or the whole type of another value, in
    ONNX's notation with our dtype names: ``sequence(map(int64, float32))``."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return dtype_name(tp.tensor_type.elem_type)
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({dtype_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"sequence({type_name(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_name(tp.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({dtype_name(tp.map_type.key_type)}, {type_name(tp.map_type.value_type)})"
    return "unknown"


def bits_per_element(elem_type: Optional[int]) -> Optional[int]:
    return _BITS.get(elem_type or 0)


def nbytes(elem_type: Optional[int], numel: int) -> Optional[int]:
    """Bytes of ``numel`` elements as stored (sub-byte types rounded up to whole bytes)."""
    bits = _BITS.get(elem_type or 0)
    return (numel * bits + 7) // 8 if bits is not None else None


def tensor_numel(tensor: onnx.TensorProto) -> int:
    return math.prod(tensor.dims)


def is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


# Small constants are decoded so that formulas can read shapes, axes and trip counts;
# anything larger is a weight whose values never matter for the figures.
SMALL_CONSTANT_ELEMENTS = 4096


def small_value(tensor, shared: Optional[dict] = None) -> Optional[np.ndarray]:
    """The values of an indexed constant (``index.Tensor``) when it is small and stored inline, else None.

    ``shared``: the arrays decoded so far from raw data, by (data, element type, dims); an
    equal constant reuses one (a model repeats the same few shapes over hundreds of
    constants). Arrays read from raw data are read-only, so sharing one is safe.
    """
    if tensor.external or math.prod(tensor.dims) > SMALL_CONSTANT_ELEMENTS:
        return None
    try:
        return _inline_array(tensor.proto, tensor.elem_type, tensor.dims, shared)
    except Exception:  # malformed or exotic data: the value is simply not known
        return None


def to_array(tensor: onnx.TensorProto) -> np.ndarray:
    """``numpy_helper.to_array``, faster for inline data of the common element types (same result)."""
    if is_external(tensor):
        return numpy_helper.to_array(tensor)
    return _inline_array(tensor, tensor.data_type, tensor.dims)


# numpy dtypes of the element types whose data needs no conversion: ``numpy_helper.to_array``
# reads them straight from raw_data (little-endian) or from the typed repeated field.
# (dtype objects, not types: numpy takes them without a conversion.)
PLAIN_RAW = {elem: np.dtype(t) for elem, t in {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.INT64: np.int64,
    TensorProto.INT32: np.int32, TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8,
    TensorProto.INT16: np.int16, TensorProto.UINT16: np.uint16, TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64, TensorProto.FLOAT16: np.float16, TensorProto.BOOL: np.bool_,
}.items()}
_PLAIN_FIELD = {
    TensorProto.FLOAT: ("float_data", np.float32), TensorProto.DOUBLE: ("double_data", np.float64),
    TensorProto.INT64: ("int64_data", np.int64), TensorProto.INT32: ("int32_data", np.int32),
}


_LITTLE_ENDIAN = sys.byteorder == "little"


def _inline_array(tensor: onnx.TensorProto, elem_type: int, dims, shared: Optional[dict] = None) -> np.ndarray:
    """Decoding the small constants of a model is a hot loop of an analysis: the common
    element types are read directly (as ``numpy_helper.to_array`` reads them); everything
    else goes through ``numpy_helper``. ``shared``: see :func:`small_value`."""
    if _LITTLE_ENDIAN and not tensor.HasField("segment"):
        raw = tensor.raw_data  # most small constants hold raw data: read it, rather than ask whether set
        if raw or tensor.HasField("raw_data"):
            dtype = PLAIN_RAW.get(elem_type)
            if dtype is not None:
                if shared is None:
                    return _raw_array(raw, dtype, dims)
                key = (raw, elem_type, dims)
                array = shared.get(key)
                if array is None:
                    array = shared[key] = _raw_array(raw, dtype, dims)
                return array
        elif elem_type in _PLAIN_FIELD:
            field_name, dtype = _PLAIN_FIELD[elem_type]
            return np.asarray(getattr(tensor, field_name), dtype=dtype).reshape(dims)
    return numpy_helper.to_array(tensor)


def _raw_array(raw: bytes, dtype: np.dtype, dims) -> np.ndarray:
    return np.frombuffer(raw, dtype=dtype).reshape(dims)
