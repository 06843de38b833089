"""com.microsoft quantized operators of ONNX Runtime's QOperator format (what its
quantization tool writes besides QLinearConv and QLinearMatMul): pools, Concat, Softmax,
ReduceMean, Where, QGemm and the dynamically quantized matrix products.

ONNX shape inference does not know these operators, so each has a shape function too:
without one, nothing after the first of them (often the classifier head) could be counted.
Counting follows :mod:`.quantized`: integer accumulations as their float counterparts,
requantization 3 per output, elementwise ops as dequantize, operate, quantize.
"""

from __future__ import annotations

from typing import Optional, Sequence

from onnx import TensorProto

from mkdocs_onnx.analysis.costs._common import broadcast_shapes, shape_or_compute, static_attr
from mkdocs_onnx.analysis.costs.conv import window_out
from mkdocs_onnx.analysis.costs.elementwise import SOFTMAX_PER_ELEMENT
from mkdocs_onnx.analysis.costs.matmul import matmul_dims, matmul_output
from mkdocs_onnx.analysis.costs.quantized import DEQUANTIZE, QUANTIZE, REQUANTIZE
from mkdocs_onnx.analysis.costs.reduce import reduced_shape
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, Shape, TypeInfo, Uncountable, cost, numel, shape

ZERO_POINT_CORRECTION = 1  # an integer sum of n values minus n × zero point: one subtract


def _channels_last(ctx: NodeContext) -> bool:
    return bool(ctx.attr("channels_last", 0))


def _split_layout(ctx: NodeContext, x: Sequence) -> tuple[int, int, Sequence]:
    """(N, C, spatial dims) of ``x`` in the node's layout (channels first, or last)."""
    return (x[0], x[-1], x[1:-1]) if _channels_last(ctx) else (x[0], x[1], x[2:])


def _join_layout(ctx: NodeContext, n, c, spatial: Sequence) -> tuple:
    return (n, *spatial, c) if _channels_last(ctx) else (n, c, *spatial)


@cost("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool(ctx: NodeContext) -> int:
    """QLinearGlobalAveragePool: N·C·(H·W + 3) (the integer sum: H·W − 1 adds; the zero-point correction: 1; requantize, with 1/(H·W) in the scale: 3)."""
    n, c, spatial = _split_layout(ctx, ctx.input_shape(0))
    return n * c * (numel(spatial) - 1 + ZERO_POINT_CORRECTION + REQUANTIZE)


@shape("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, x = ctx.input_type(0)
    if x is None:
        return [(elem, None)]
    n, c, spatial = _split_layout(ctx, x)
    return [(elem, _join_layout(ctx, n, c, [1] * len(spatial)))]


def _average_pool_out(ctx: NodeContext) -> Shape:
    n, c, spatial = _split_layout(ctx, ctx.input_shape(0))
    kernel = list(static_attr(ctx, "kernel_shape"))
    return _join_layout(ctx, n, c, window_out(ctx, spatial, kernel, bool(ctx.attr("ceil_mode", 0))))


@cost("QLinearAveragePool", domain=MS)
def qlinear_average_pool(ctx: NodeContext) -> int:
    """QLinearAveragePool: out_elements × (∏kernel + 3) (the integer window sum: ∏kernel − 1 adds; the zero-point correction: 1; requantize: 3)."""
    out = numel(shape_or_compute(ctx, lambda: _average_pool_out(ctx)))
    return out * (numel(static_attr(ctx, "kernel_shape")) - 1 + ZERO_POINT_CORRECTION + REQUANTIZE)


@shape("QLinearAveragePool", domain=MS)
def qlinear_average_pool_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = ctx.input_type(0)[0]
    try:
        return [(elem, _average_pool_out(ctx))]
    except Uncountable:  # an unknown or symbolic input: the output is unknown too
        return [(elem, None)]


def _concat_inputs(ctx: NodeContext) -> list[int]:
    """Positions of the tensors QLinearConcat joins: inputs 2, 5, 8, … (each with its scale and zero point)."""
    return list(range(2, len(ctx.node.input), 3))


@cost("QLinearConcat", domain=MS)
def qlinear_concat(ctx: NodeContext) -> int:
    """QLinearConcat: 4 × output elements (each input value: subtract its zero point, requantize to the output's scale: 3)."""
    return (ZERO_POINT_CORRECTION + REQUANTIZE) * sum(ctx.input_numel(i) for i in _concat_inputs(ctx))


@shape("QLinearConcat", domain=MS)
def qlinear_concat_shape(ctx: NodeContext) -> list[TypeInfo]:
    shapes = [ctx.input_type(i)[1] for i in _concat_inputs(ctx)]
    elem = ctx.input_type(1)[0] or ctx.input_type(2)[0]  # the output's zero point says its type
    if not shapes or any(s is None for s in shapes):
        return [(elem, None)]
    axis = ctx.attr("axis", 0) % len(shapes[0])
    along = [s[axis] for s in shapes]
    joined = sum(along) if all(isinstance(d, int) for d in along) else None
    return [(elem, (*shapes[0][:axis], joined, *shapes[0][axis + 1:]))]


@cost("QLinearSoftmax", domain=MS)
def qlinear_softmax(ctx: NodeContext) -> int:
    """QLinearSoftmax: 10 × elements (dequantize 2, softmax 5, quantize 3; a lookup-table kernel does less)."""
    return (DEQUANTIZE + SOFTMAX_PER_ELEMENT + QUANTIZE) * ctx.input_numel(0)


@shape("QLinearSoftmax", domain=MS)
def qlinear_softmax_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [ctx.input_type(0)]


@cost("QLinearReduceMean", domain=MS)
def qlinear_reduce_mean(ctx: NodeContext) -> int:
    """QLinearReduceMean: the integer sums (E − O adds) + per output the zero-point correction 1 and requantize 3 (1/n in the scale)."""
    x = ctx.input_shape(0)
    out = numel(shape_or_compute(ctx, lambda: reduced_shape(ctx, x)))
    return max(numel(x) - out, 0) + (ZERO_POINT_CORRECTION + REQUANTIZE) * out


@shape("QLinearReduceMean", domain=MS)
def qlinear_reduce_mean_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, x = ctx.input_type(0)
    return [(elem, None if x is None else reduced_shape(ctx, x))]


@cost("QLinearWhere", domain=MS)
def qlinear_where(ctx: NodeContext) -> int:
    """QLinearWhere: 7 × output elements (dequantize X and Y: 2 + 2, the select: 0, quantize: 3)."""
    return (2 * DEQUANTIZE + QUANTIZE) * numel(shape_or_compute(ctx, lambda: _where_shape(ctx)))


def _where_shape(ctx: NodeContext) -> tuple:
    return broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(4))


@shape("QLinearWhere", domain=MS)
def qlinear_where_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [(ctx.input_type(1)[0], _where_shape(ctx))]


def _gemm_dims(ctx: NodeContext) -> tuple[int, int, int]:
    _, m, n, k = matmul_dims(ctx.input_shape(0), ctx.input_shape(3), bool(ctx.attr("transA", 0)),
                             bool(ctx.attr("transB", 0)))
    return m, n, k


def _quantized_output(ctx: NodeContext) -> bool:
    return ctx.has_input(7)  # y_scale: a quantized output; without it, float


@cost("QGemm", domain=MS)
def qgemm(ctx: NodeContext) -> int:
    """QGemm: 2·M·N·K + M·N with C + 3·M·N to requantize (a quantized Y) or M·N to scale (a float Y)."""
    m, n, k = _gemm_dims(ctx)
    out = m * n
    return 2 * m * n * k + (out if ctx.has_input(6) else 0) + (REQUANTIZE if _quantized_output(ctx) else 1) * out


@shape("QGemm", domain=MS)
def qgemm_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = ctx.input_type(8)[0] if _quantized_output(ctx) else TensorProto.FLOAT
    try:
        m, n, _ = _gemm_dims(ctx)
    except Uncountable:
        return [(elem or TensorProto.UINT8, None)]
    return [(elem or TensorProto.UINT8, (m, n))]


def _integer_matmul(ctx: NodeContext, bias_input: int) -> int:
    """2·batch·M·N·K, then M·N multiplies to scale the integer products to float (+ M·N adds of the bias)."""
    batch, m, n, k = matmul_dims(ctx.input_shape(0), ctx.input_shape(1))
    out = numel(batch) * m * n
    return 2 * out * k + out + (out if ctx.has_input(bias_input) else 0)


@cost("MatMulIntegerToFloat", domain=MS)
def matmul_integer_to_float(ctx: NodeContext) -> int:
    """MatMulIntegerToFloat: 2·batch·M·N·K + batch·M·N (scale to float) + batch·M·N with a bias."""
    return _integer_matmul(ctx, bias_input=6)


@cost("DynamicQuantizeMatMul", domain=MS)
def dynamic_quantize_matmul(ctx: NodeContext) -> int:
    """DynamicQuantizeMatMul: 5 × A's elements (quantize A on the fly, as DynamicQuantizeLinear) + MatMulIntegerToFloat's count."""
    return (2 + QUANTIZE) * ctx.input_numel(0) + _integer_matmul(ctx, bias_input=4)


@shape("MatMulIntegerToFloat", "DynamicQuantizeMatMul", domain=MS)
def integer_matmul_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = TensorProto.FLOAT if ctx.op_type == "DynamicQuantizeMatMul" else ctx.input_type(2)[0]
    return [(elem or TensorProto.FLOAT, _matmul_shape(ctx.input_type(0)[1], ctx.input_type(1)[1]))]


def _matmul_shape(a: Optional[tuple], b: Optional[tuple]) -> Optional[tuple]:
    if a is None or b is None:
        return None
    try:
        batch, m, n, _ = matmul_dims(a, b)
    except Uncountable:
        return None
    return matmul_output(a, b, batch, m, n)
