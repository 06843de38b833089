"""Weights stored twice: a tied embedding written again, transposed, for the output projection.

A language model that ties its output projection to its token embedding holds one
matrix. The TorchScript exporter (and so Hugging Face Optimum's GPT-2) folds the
transpose the projection needs into a second initializer: the file holds the matrix
twice, and a count of its tensors would hold it twice too (GPT-2: 163 M instead of
124 M). Shapes alone cannot tell a copy from an untied projection of the same shape, so
values decide: 64 elements spread over the matrix, and its whole first row, must equal
the other's transposed elements bit for bit, and must not be all alike (a fill matches
any fill). Only weights stored in the file are compared, up to 512 MiB each; data in
external files stays unread.
"""

from __future__ import annotations

import math

from mkdocs_onnx.analysis.index import IndexedModel, Tensor
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, PLAIN_RAW

_SAMPLES = 64
_MIN_ELEMENTS = 4096  # smaller matrices are not worth the look: tied embeddings are large
# Reading a tensor's raw data from protobuf copies it: past this size a pair stays uncompared
# (and counts twice) rather than briefly doubling a large model's memory.
_MAX_BYTES = 512 << 20


def transposed_copies(index: IndexedModel) -> dict[str, str]:
    """Copy name -> the name of the embedding table it transposes, among the initializers of
    every graph (a merged decoder keeps them in the main graph, its Gathers in the branches)."""
    ops = index.op_counts()
    if ("", "Gather") not in ops or not (("", "MatMul") in ops or ("", "Gemm") in ops):
        return {}  # no embedding, or nothing to project with it
    tables = {node.input[0] for node in index.nodes() if node.op_type == "Gather" and node.input}
    by_dims: dict[tuple, list[Tensor]] = {}
    for t in (t for graph in index.graphs for t in graph.initializers):
        dims = t.dims
        if len(dims) == 2 and dims[0] != dims[1] and t.elem_type in FLOAT_TYPES and not t.external \
                and math.prod(dims) >= _MIN_ELEMENTS:
            by_dims.setdefault(dims, []).append(t)
    copies: dict[str, str] = {}
    for t in (t for group in by_dims.values() for t in group if t.name in tables):
        for other in by_dims.get((t.dims[1], t.dims[0]), ()):
            if other.name not in copies and other.name not in tables and _is_transpose(t, other):
                copies[other.name] = t.name
                break
    return copies


def _is_transpose(a: Tensor, b: Tensor) -> bool:
    """Whether ``b`` holds ``a`` transposed, on the elements sampled (see the module)."""
    if a.elem_type != b.elem_type or a.elem_type not in PLAIN_RAW:
        return False
    size = PLAIN_RAW[a.elem_type].itemsize
    rows, columns = a.dims
    if rows * columns * size > _MAX_BYTES:
        return False
    raw_a, raw_b = a.proto.raw_data, b.proto.raw_data  # exporters write large tensors as raw data
    if len(raw_a) != rows * columns * size or len(raw_b) != len(raw_a):
        return False
    last = rows * columns - 1
    positions = sorted({k * last // (_SAMPLES - 1) for k in range(_SAMPLES)} | set(range(columns)))
    seen = set()
    for i in positions:
        r, c = divmod(i, columns)
        j = c * rows + r  # a[r, c] is b[c, r]
        value = raw_a[i * size:(i + 1) * size]
        if value != raw_b[j * size:(j + 1) * size]:
            return False
        seen.add(value)
    return len(seen) > 1
