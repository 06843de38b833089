"""Constants kept in external data files, read where the figures depend on their values.

Exporters move tensors past a size threshold into a data file next to the model (1 KiB
by default; some save everything there). Weights stay unread there. But a Reshape
target, an axes list or a Gather index saved that way would leave the shapes it
determines unknown, and a causal mask or a rotary table saved that way could not be told
from a weight. So what the graph does not read as a weight (up to
:data:`SMALL_CONSTANT_ELEMENTS` elements), a boolean mask, and a float table that only
elementwise arithmetic reads (up to ``computed.WHOLE_BYTES``) are read and put inline,
before anything reads values (ONNX shape inference then sees them too). A model's cost
to analyse still grows with its graph, not with its weights.

Only files named inside the model's folder are opened (as ONNX itself requires), and a
tensor whose bytes cannot be read as declared stays external: its values are then
unknown, as they were before.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import onnx

from mkdocs_onnx.analysis.computed import kept_whole, may_be_computed
from mkdocs_onnx.analysis.index import IndexedModel, Tensor
from mkdocs_onnx.analysis.loading import inside_folder
from mkdocs_onnx.analysis.params import Use, configures, only_arithmetic_reads, reads_as_weight
from mkdocs_onnx.analysis.tensors import PLAIN_RAW, SMALL_CONSTANT_ELEMENTS


def read_external_constants(index: IndexedModel, model_path: str, uses: dict[str, list[Use]]) -> int:
    """Put inline the external constants worth reading (see the module); how many were read.
    ``uses``: who reads each tensor (:func:`.params.find_uses`)."""
    wanted = []
    for t in index.tensors():
        if t.external and t.elem_type in PLAIN_RAW:
            why = _why_read(t, uses)
            if why:
                wanted.append((t, why))
    if not wanted:  # the common case: nothing of the kind is stored outside the file
        return 0
    base = os.path.dirname(os.path.abspath(model_path))
    read, shapes_read = 0, False
    for tensor, why in wanted:
        data = _read(tensor, base)
        if data is not None:
            _put_inline(tensor, data)
            read += 1
            shapes_read = shapes_read or why == _SHAPES
    if shapes_read:  # ONNX shape inference must see them: it may no longer read the file's own bytes
        index.note_edit("small external constants read")
    return read


_SHAPES, _VALUES = "shape inference reads it", "only the analysis reads it"


def _why_read(tensor: Tensor, uses: dict[str, list[Use]]) -> Optional[str]:
    dims = tensor.dims
    if tensor.elem_type == onnx.TensorProto.BOOL:
        if kept_whole(tensor):
            return _VALUES  # a boolean mask
    elif len(dims) >= 2 and may_be_computed(tensor) and only_arithmetic_reads(tensor.name, uses):
        return _VALUES  # a float mask or position table
    if math.prod(dims) <= SMALL_CONSTANT_ELEMENTS and not reads_as_weight(tensor.name, tensor.elem_type, uses):
        # a Reshape target, axes, a bound decide shapes; indices, position ids only values
        return _SHAPES if configures(tensor.name, uses) else _VALUES
    return None


def _read(tensor: Tensor, base: str) -> Optional[bytes]:
    """The tensor's bytes as its external-data entries declare them, or None."""
    info = {e.key: e.value for e in tensor.proto.external_data}
    path = inside_folder(base, info.get("location", ""))
    size = PLAIN_RAW[tensor.elem_type].itemsize * math.prod(tensor.dims)
    offset = _number(info.get("offset", "0"))
    length = _number(info.get("length", str(size)))
    if path is None or offset is None or length != size:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
    except OSError:
        return None
    return data if len(data) == size else None


def _number(text: str) -> Optional[int]:
    return int(text) if text.isdigit() else None


def _put_inline(tensor: Tensor, data: bytes) -> None:
    proto = tensor.proto
    del proto.external_data[:]
    proto.data_location = onnx.TensorProto.DEFAULT
    proto.raw_data = data
    tensor.external = False
