"""Matrix products: MatMul, Gemm, Einsum and com.microsoft FusedMatMul, FusedGemm, GemmFastGelu;
pairwise distances (CDist); and Det and Inverse.

A multiply-accumulate counts 2 FLOPs, and so does the first product of a dot product
(accumulating into zero): a (M×K)·(K×N) product is 2·M·N·K.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

from mkdocs_onnx.analysis.costs._common import broadcast_shapes, static_attr
from mkdocs_onnx.analysis.costs.elementwise import GELU_TANH_PER_ELEMENT, PER_ELEMENT, same_as_input
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape


def matmul_dims(a: Sequence, b: Sequence, trans_a: bool = False, trans_b: bool = False) -> tuple:
    """(batch shape, M, N, K) of a numpy-style matmul; 1-D operands are promoted as numpy does."""
    if len(a) == 0 or len(b) == 0:
        raise Uncountable("MatMul operand is a scalar")
    a = (1, *a) if len(a) == 1 else tuple(a)
    b = (*b, 1) if len(b) == 1 else tuple(b)
    m, k = (a[-1], a[-2]) if trans_a else (a[-2], a[-1])
    k_b, n = (b[-1], b[-2]) if trans_b else (b[-2], b[-1])
    if isinstance(k, int) and isinstance(k_b, int) and k != k_b:
        raise Uncountable(f"MatMul inner dimensions differ ({k} vs {k_b})")
    batch_a, batch_b = a[:-2], b[:-2]
    return (broadcast_shapes(batch_a, batch_b) if batch_a or batch_b else ()), m, n, k


def matmul_flops(ctx: NodeContext, a: int = 0, b: int = 1, trans_a: bool = False, trans_b: bool = False) -> int:
    batch, m, n, k = matmul_dims(ctx.input_shape(a), ctx.input_shape(b), trans_a, trans_b)
    return 2 * numel(batch) * m * n * k


@cost("MatMul")
def matmul(ctx: NodeContext) -> int:
    """MatMul: 2·batch·M·N·K (numpy matmul: batch dims broadcast; a 1-D operand counts as M=1 or N=1)."""
    return matmul_flops(ctx)


def _gemm_dims(ctx: NodeContext, a: Sequence, b: Sequence) -> tuple:
    """(M, N, K) of a Gemm (or FusedGemm) of shapes ``a`` and ``b``, transA/transB honoured."""
    _, m, n, k = matmul_dims(a, b, bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0)))
    return m, n, k


@cost("Gemm")
def gemm(ctx: NodeContext) -> int:
    """Gemm: 2·M·N·K (transA/transB honoured) + M·N if C is given (the add) + M·N if beta ≠ 1 (β·C) + M·N if alpha ≠ 1 (α·AB)."""
    m, n, k = _gemm_dims(ctx, ctx.input_shape(0), ctx.input_shape(1))
    flops = 2 * m * n * k
    if ctx.has_input(2):
        flops += m * n * (2 if ctx.attr("beta", 1.0) != 1.0 else 1)
    if ctx.attr("alpha", 1.0) != 1.0:
        flops += m * n
    return flops


def _fused_matmul_dims(ctx: NodeContext, a: Sequence, b: Sequence) -> tuple:
    if ctx.attr("transBatchA", 0) or ctx.attr("transBatchB", 0):
        raise Uncountable("FusedMatMul with transBatchA/transBatchB is not supported")
    return matmul_dims(a, b, bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0)))


@cost("FusedMatMul", "TransposeMatMul", domain=MS)  # TransposeMatMul: FusedMatMul's former name
def fused_matmul(ctx: NodeContext) -> int:
    """FusedMatMul: 2·batch·M·N·K (transA/transB honoured) + batch·M·N if alpha ≠ 1."""
    batch, m, n, k = _fused_matmul_dims(ctx, ctx.input_shape(0), ctx.input_shape(1))
    flops = 2 * numel(batch) * m * n * k
    return flops + (numel(batch) * m * n if ctx.attr("alpha", 1.0) != 1.0 else 0)


@cost("FusedMatMulActivation", domain=MS)
def fused_matmul_activation(ctx: NodeContext) -> int:
    """FusedMatMulActivation: FusedMatMul's count + batch·M·N × the activation's FLOPs per element (its operator's)."""
    activation = ctx.attr("activation", "")
    if activation not in PER_ELEMENT:
        raise Uncountable(f"FusedMatMulActivation activation '{activation}' has no per-element count")
    batch, m, n, _ = _fused_matmul_dims(ctx, ctx.input_shape(0), ctx.input_shape(1))
    return fused_matmul(ctx) + PER_ELEMENT[activation][0] * numel(batch) * m * n


# GemmFastGelu has no trans attributes: a plain matmul
@shape("FusedMatMul", "TransposeMatMul", "FusedMatMulActivation", "GemmFastGelu", domain=MS)
def fused_matmul_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, a = ctx.input_type(0)
    b = ctx.input_type(1)[1]
    if a is None or b is None:
        return [(elem, None)]
    batch, m, n, _ = _fused_matmul_dims(ctx, a, b)
    return [(elem, matmul_output(a, b, batch, m, n))]


def matmul_output(a: Sequence, b: Sequence, batch: tuple, m, n) -> tuple:
    """The output shape of a numpy matmul of shapes ``a`` and ``b`` from :func:`matmul_dims`'s
    (batch, M, N): numpy drops the axis it added to a 1-D operand."""
    return (*batch, *((m,) if len(a) > 1 else ()), *((n,) if len(b) > 1 else ()))


@cost("FusedGemm", domain=MS)
def fused_gemm(ctx: NodeContext) -> int:
    """FusedGemm: Gemm's count + M·N × the activation's FLOPs per element (its operator's: Relu 1, Sigmoid 4...)."""
    activation = ctx.attr("activation", "")
    if activation and activation not in PER_ELEMENT:
        raise Uncountable(f"FusedGemm activation '{activation}' has no per-element count")
    per_element = PER_ELEMENT[activation][0] if activation else 0  # no activation: a plain Gemm
    m, n, _ = _gemm_dims(ctx, ctx.input_shape(0), ctx.input_shape(1))
    return gemm(ctx) + per_element * m * n


def _matrix_shape(ctx: NodeContext, dims: Callable[[Sequence, Sequence], tuple]) -> list[TypeInfo]:
    """A 2-D output (rows, columns), the first two of ``dims`` of the two operands, in the first's type."""
    elem, a = ctx.input_type(0)
    b = ctx.input_type(1)[1]
    if a is None or b is None:
        return [(elem, None)]
    rows, columns, _ = dims(a, b)
    return [(elem, (rows, columns))]


@shape("FusedGemm", domain=MS)
def fused_gemm_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _matrix_shape(ctx, lambda a, b: _gemm_dims(ctx, a, b))


@cost("GemmFastGelu", domain=MS)
def gemm_fast_gelu(ctx: NodeContext) -> int:
    """GemmFastGelu: 2·batch·M·N·K (MatMul of X and W) + batch·M·N × (8 for FastGelu's tanh Gelu + 1 if bias)."""
    batch, m, n, k = matmul_dims(ctx.input_shape(0), ctx.input_shape(1))
    outputs = numel(batch) * m * n
    return 2 * outputs * k + (GELU_TANH_PER_ELEMENT + (1 if ctx.has_input(2) else 0)) * outputs


def _cdist_dims(a: Sequence, b: Sequence) -> tuple:
    """(M, K, N) of CDist's operands A (M, N) and B (K, N)."""
    if len(a) != 2 or len(b) != 2:
        raise Uncountable(f"CDist operands must be 2-D, got ranks {len(a)} and {len(b)}")
    if isinstance(a[1], int) and isinstance(b[1], int) and a[1] != b[1]:
        raise Uncountable(f"CDist operands have {a[1]} and {b[1]} coordinates")
    return a[0], b[0], a[1]


@cost("CDist", domain=MS)
def cdist(ctx: NodeContext) -> int:
    """CDist: M·K·(3N − 1) for sqeuclidean (a pair: N subtracts, N squares, N − 1 adds); M·K·3N for euclidean."""
    metric = static_attr(ctx, "metric")  # ONNX Runtime requires it: no default
    if metric not in ("sqeuclidean", "euclidean"):
        raise Uncountable(f"CDist metric '{metric}' has no formula (only sqeuclidean and euclidean)")
    m, k, n = _cdist_dims(ctx.input_shape(0), ctx.input_shape(1))
    per_pair = n + n + (n - 1) + (1 if metric == "euclidean" else 0)
    return m * k * per_pair


@shape("CDist", domain=MS)
def cdist_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _matrix_shape(ctx, _cdist_dims)


def _einsum_terms(equation: str, n_inputs: int) -> tuple[list[str], str]:
    """Split an equation into input terms and the output term (implicit output made explicit)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != n_inputs:
        raise Uncountable(f"Einsum equation '{equation}' has {len(terms)} operands, the node has {n_inputs}")
    if not arrow:
        # implicit mode: letters that appear once, alphabetically, after the ellipsis dims
        letters = re.sub(r"[^A-Za-z]", "", lhs)
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, rhs


def lu_flops(m: int) -> int:
    """FLOPs of an LU factorisation of an M×M matrix without pivoting: at step j, M − j divides
    for the multipliers and (M − j)² multiply-subtracts on the trailing block; summed,
    M(M−1)/2 divides and M(M−1)(2M−1)/3 multiplies and subtracts (≈ 2M³/3)."""
    return m * (m - 1) // 2 + m * (m - 1) * (2 * m - 1) // 3


@cost("Det")
def det(ctx: NodeContext) -> int:
    """Det: per M×M matrix, LU factorisation (M(M−1)/2 divides, M(M−1)(2M−1)/3 multiplies and subtracts) + M − 1 multiplies of the diagonal."""
    x = ctx.input_shape(0)  # (*, M, M)
    m = x[-1]
    if m < 1:
        return 0
    return numel(x[:-2]) * (lu_flops(m) + m - 1)


@cost("Inverse", domain=MS)
def inverse(ctx: NodeContext) -> int:
    """Inverse: 2n³ − n(n+1)/2 per n×n matrix (LU as Det's, then solving for the n columns of the identity).

    The parts: LU n(n−1)/2 + n(n−1)(2n−1)/3; forward substitution (n−1)n(n+1)/3, as an
    identity column is zero above its 1; back substitution n² per column, n³ in all.
    """
    x = ctx.input_shape(0)  # (*, n, n)
    if len(x) < 2 or x[-1] != x[-2]:
        raise Uncountable(f"Inverse input of shape {x} is not a batch of square matrices")
    n = x[-1]
    # forward: column j of the identity is zero above row j, so L's solve starts there:
    # Σ_j (n−j)(n−j+1)/2 multiply-subtracts = (n−1)n(n+1)/6, 2 FLOPs each
    forward = (n - 1) * n * (n + 1) // 3
    # back: a full triangular solve per column, n(n−1)/2 multiply-subtracts and n divides = n²
    back = n * n * n
    return numel(x[:-2]) * (lu_flops(n) + forward + back)


shape("Inverse", domain=MS)(same_as_input)


@cost("Einsum")
def einsum(ctx: NodeContext) -> int:
    """Einsum: (n−1)·P multiplies + P adds if an index is contracted, P = ∏ sizes of the distinct indices.

    This is the naive single loop over all indices (not an optimised contraction order),
    so a two-operand contraction equals MatMul's 2·M·N·K. One operand: P − out adds when
    an index is summed out, else 0 (a transpose or diagonal).
    """
    n = len(ctx.node.input)
    terms, out_term = _einsum_terms(ctx.attr("equation", ""), n)
    sizes: dict[str, int] = {}
    ellipsis: list[tuple] = []
    for i, term in enumerate(terms):
        dims = ctx.input_shape(i)
        letters = term.replace("...", "")
        n_ell = len(dims) - len(letters)
        if n_ell < 0 or (n_ell > 0 and "..." not in term):
            raise Uncountable(f"Einsum term '{term}' does not match the rank of input {i}")
        head = term.split("...")[0] if "..." in term else term
        tail = term.split("...")[1] if "..." in term else ""
        ellipsis.append(tuple(dims[len(head):len(head) + n_ell]))
        for letter, size in zip(head + tail, dims[:len(head)] + dims[len(head) + n_ell:]):
            if size != 1 or letter not in sizes:  # size-1 dims broadcast
                sizes[letter] = size
    ell_size = numel(broadcast_shapes(*ellipsis))
    space = math.prod(sizes.values()) * ell_size
    contracted = set(sizes) - set(out_term)
    if "..." in "".join(terms) and "..." not in out_term:
        contracted.add("...")
    if not contracted:
        return (n - 1) * space
    if n == 1:
        out = math.prod(sizes[c] for c in out_term if c in sizes) * (ell_size if "..." in out_term else 1)
        return max(space - out, 0)
    return (n - 1) * space + space
