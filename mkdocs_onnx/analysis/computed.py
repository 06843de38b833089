"""Constants whose values show they were computed from positions, not learned.

An exporter that fixes the sequence length folds what the model computes from token
positions into constants: the attention mask, the sine and cosine tables of rotary or
sinusoidal position encodings (or, with the length left free, the frequencies they are
computed from), ALiBi's position bias. They are stored and read like weights, but nobody
trained them, and a model's published parameter count leaves them out (PyTorch holds them
as buffers). Their values tell them apart: tensors up to :data:`WHOLE_BYTES` are judged;
a larger one counts as a weight.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import onnx

from mkdocs_onnx.analysis.index import IndexedModel, Tensor
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, nbytes, to_array
from mkdocs_onnx.analysis.values import Values

# A possible mask or position table this size or smaller is read whole (decoded, read from
# external data, a mask not stripped): whether the model is a decoder, and what its
# parameters are, depend on its values. A boolean 2,048 × 2,048 mask buffer, as GPT-J
# keeps, is 4 MiB; so are float32 rotary tables of 4,096 positions × 128.
WHOLE_BYTES = 4 << 20


def computed_constants(index: IndexedModel, values: Values, arithmetic_only: Callable[[str], bool]) -> frozenset[str]:
    """The names of the constant masks, position tables and rotary frequencies of a model with attention.

    ``arithmetic_only(name)``: whether only elementwise arithmetic reads the tensor, as it
    reads masks and tables (weights are read by MatMul, Conv, Gather: not decoded here).
    """
    ops = index.op_counts()
    attention = (("", "Softmax") in ops and ("", "MatMul") in ops) or any(op.endswith("Attention") for _, op in ops)
    if not attention:  # what masks or encodes positions feeds attention (scores: a MatMul, then a Softmax)
        return frozenset()
    rotary_in_graph = ("", "Cos") in ops and ("", "Sin") in ops  # frequencies alone say nothing without them
    found = set()
    for name, t in index.named_constants():
        dims = t.dims
        if t.elem_type not in FLOAT_TYPES or not dims:
            continue
        vector = len(dims) - dims.count(1) == 1  # [n], [1, n, 1]: rotary frequencies, expanded, times positions
        if vector:
            checks = [is_frequencies] if rotary_in_graph else []
        else:
            checks = _table_checks(dims)
        if not checks or (not vector and not (may_be_computed(t) and arithmetic_only(name))):
            continue
        v = values.get(name)  # None when too large to be a small constant: decoded here
        if v is None and not vector and not t.external:
            v = to_array(t.proto)
        if v is not None and any(check(v) for check in checks):
            found.add(name)
    return frozenset(found)


def _table_checks(dims: tuple) -> list[Callable[[np.ndarray], bool]]:
    """What a tensor of ``dims`` (not a vector) may be, judged by its shape before its values are decoded."""
    if len(dims) < 2:
        return []
    checks = []
    if all(d == 1 for d in dims[:-2]):  # one mask or table, broadcast over batch and heads
        if dims[-1] == dims[-2]:
            checks.append(is_mask)
        if dims[-2] >= 3:
            checks.append(is_position_table)
    if len(dims) >= 3 and dims[-2] == 1 and dims[-1] >= 3:  # [heads, 1, keys]
        checks.append(is_position_bias)
    return checks


def _bytes(tensor: Tensor) -> int:
    return math.prod(tensor.dims) * (nbytes(tensor.elem_type, 1) or 8)


def kept_whole(tensor: Tensor) -> bool:
    """A constant shaped like a mask that is kept whole: [1, ..., 1, n, n] up to :data:`WHOLE_BYTES`,
    boolean or of rank 3 and more (a 2-D float square is as likely a weight)."""
    dims = tensor.dims
    if len(dims) < 2 or dims[-1] != dims[-2] or any(d != 1 for d in dims[:-2]):
        return False
    if tensor.elem_type != onnx.TensorProto.BOOL and len(dims) < 3:
        return False
    return _bytes(tensor) <= WHOLE_BYTES


def may_be_computed(tensor: Tensor) -> bool:
    """A float tensor of 2 dims or more, up to :data:`WHOLE_BYTES`, that :func:`computed_constants`
    judges when only elementwise arithmetic reads it: a mask, a position table or bias.
    (A bias, a norm's scale, a projection is 1-D or read by a MatMul instead.)"""
    dims = tensor.dims
    return tensor.elem_type in FLOAT_TYPES and len(dims) >= 2 and dims[-1] >= 2 and _bytes(tensor) <= WHOLE_BYTES


def is_mask(v: np.ndarray) -> bool:
    """A mask on attention scores: zeros where a position may attend and large negatives
    (-inf, the type's lowest, -1e4 and below) where not, to add; or ones and zeros to multiply by.

    Either it hides nothing (an encoder exported without a padding mask), or it is causal:
    every position sees itself and the one before it, and nothing on one side of the
    diagonal (a sliding window too). An identity or a learned matrix is none of that.
    """
    n = v.shape[-1]
    m = v.reshape(-1, n, n)[0]
    zero = m == 0
    if ((m <= -1e4) | zero).all():
        keep = zero
    elif ((m == 1) | zero).all():
        keep = m == 1
    else:
        return False
    if keep.all():
        return True
    if not keep.diagonal().all():
        return False
    lower = bool(keep[1, 0]) and not np.triu(keep, 1).any()
    upper = bool(keep[0, 1]) and not np.tril(keep, -1).any()
    return lower or upper


def is_position_table(v: np.ndarray) -> bool:
    """A [positions, width] table whose every column is sin(p·θ) or cos(p·θ) of the position p.

    Row 0 tells which (sin 0 = 0, cos 0 = 1). Each such column x obeys the recurrence
    x[p+1] = 2·cos θ·x[p] − x[p−1], with cos θ read from rows 1 and 2; checking it row by
    row keeps a float16 table's rounding from adding up over the positions, as a closed
    form sin(p·θ) would. A learned table obeys no such recurrence.
    """
    if v.ndim < 2 or v.shape[-2] < 3:
        return False
    first = v.reshape(-1, v.shape[-1])[0]
    if not ((first == 0) | (first == 1)).all():  # most tables that are not one end here, unconverted
        return False
    table = v.reshape(v.shape[-2], v.shape[-1]).astype(np.float64)
    first, second, third = table[0], table[1], table[2]
    sines, cosines = first == 0, first == 1
    # cos θ: row 1 of a cosine; sin 2θ / (2 sin θ) of a sine (a sine column at θ = 0 is all zeros: no encoding)
    half = np.where(sines, 2 * second, 1.0)
    if (half == 0).any():
        return False
    turn = np.where(cosines, second, third / half)
    if (np.abs(turn) > 1.01).any() or (turn >= 1).all():  # beyond a cosine, or a fill (all ones) that never turns
        return False
    tolerance = 1e-2 if v.dtype.itemsize <= 2 else 1e-4  # float16 and bfloat16 round at 1e-3 and 4e-3
    if (sines & (np.abs(second ** 2 + turn ** 2 - 1) > 10 * tolerance)).any():  # a sine of amplitude 1
        return False
    residual = table[2:] - 2 * turn * table[1:-1] + table[:-2]
    return bool((np.abs(residual) <= tolerance).all())


def is_frequencies(v: np.ndarray) -> bool:
    """Rotary embedding's inverse frequencies: 1, r, r², ... for some 0 < r < 1 (r = base^(-2/d))."""
    v = v.reshape(-1)
    if v.shape[0] < 3 or v[0] != 1 or not 0 < v[1] < 1:
        return False
    return bool(np.allclose(v, float(v[1]) ** np.arange(v.shape[0]), rtol=1e-3, atol=0))


def is_position_bias(v: np.ndarray) -> bool:
    """ALiBi's bias: per head, slope × position (0, s, 2s, ...) along the last axis, s ≠ 0."""
    rows = v.reshape(-1, v.shape[-1])
    if rows.shape[1] < 3 or (rows[:, 0] != 0).any() or (rows[:, 1] == 0).any():
        return False
    rows = rows.astype(np.float64)
    return bool(np.allclose(rows, rows[:, 1:2] * np.arange(rows.shape[1]), rtol=1e-4, atol=0))
