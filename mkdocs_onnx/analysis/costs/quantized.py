"""Quantized operators: QLinear*, *Integer, MatMulNBits (and its fused Qkv and Mlp forms) and
(De)QuantizeLinear.

Integer multiply-accumulates count like floating-point ones (2 per MAC): the card's
"FLOPs" is really "arithmetic operations". Zero points of integer products do not add
work per MAC (kernels fold them into a per-row/column correction), so they are not
counted. Counts are as the operators are defined; a kernel that uses a lookup table
(e.g. QLinearSigmoid) does less.

- quantize:     x / scale, round, + zero point (saturation is part of the cast) = 3
- dequantize:   (x − zero point) · scale                                       = 2
- requantize:   integer accumulator · (x_scale·w_scale / y_scale), round, + y_zero_point = 3
"""

from __future__ import annotations

from onnx import TensorProto

from mkdocs_onnx.analysis.costs._common import broadcast_numel, broadcast_shapes, shape_or_compute, static_attr
from mkdocs_onnx.analysis.costs.conv import conv_flops, conv_out_shape, conv_shape
from mkdocs_onnx.analysis.costs.elementwise import GELU_ERF_PER_ELEMENT, SILU_PER_ELEMENT
from mkdocs_onnx.analysis.costs.matmul import matmul_dims, matmul_flops, matmul_output
from mkdocs_onnx.analysis.costs.normalization import rms_norm
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape

QUANTIZE = 3
DEQUANTIZE = 2
REQUANTIZE = 3


@cost("QLinearConv")
@cost("QLinearConv", domain=MS)
def qlinear_conv(ctx: NodeContext) -> int:
    """QLinearConv: 2 × out_elements × (C_in/group × ∏kernel) + out_elements if B + 3 × out_elements (requantize)."""
    channels_last = bool(ctx.attr("channels_last", 0))  # com.microsoft's: input and output (N, *spatial, C)
    out = numel(shape_or_compute(ctx, lambda: conv_out_shape(ctx, 0, 3, channels_last)))
    return conv_flops(ctx, x_input=0, w_input=3, bias_input=8, channels_last=channels_last) + REQUANTIZE * out


@shape("QLinearConv", domain=MS)
def ms_qlinear_conv_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Typed as y_zero_point (the input's type when it is absent)."""
    return conv_shape(ctx, 0, 3, channels_last=bool(ctx.attr("channels_last", 0)), elem=ctx.input_type(7)[0])


@cost("ConvInteger")
def conv_integer(ctx: NodeContext) -> int:
    """ConvInteger: 2 × out_elements × (C_in/group × ∏kernel) (int32 output: no requantization)."""
    return conv_flops(ctx, x_input=0, w_input=1, bias_input=None)


@cost("QLinearMatMul")
def qlinear_matmul(ctx: NodeContext) -> int:
    """QLinearMatMul: 2·batch·M·N·K + 3·batch·M·N (requantize each output)."""
    batch, m, n, _ = matmul_dims(ctx.input_shape(0), ctx.input_shape(3))
    return matmul_flops(ctx, 0, 3) + REQUANTIZE * numel(batch) * m * n


@cost("MatMulInteger")
@cost("MatMulInteger16", domain=MS)
def matmul_integer(ctx: NodeContext) -> int:
    """MatMulInteger (and com.microsoft MatMulInteger16): 2·batch·M·N·K (int32 output: no requantization)."""
    return matmul_flops(ctx, 0, 1)


@shape("MatMulInteger16", domain=MS)
def matmul_integer16_shape(ctx: NodeContext) -> list[TypeInfo]:
    a, b = ctx.input_shape(0), ctx.input_shape(1)
    batch, m, n, _ = matmul_dims(a, b)
    return [(TensorProto.INT32, matmul_output(a, b, batch, m, n))]


@cost("MulInteger", domain=MS)
def mul_integer(ctx: NodeContext) -> int:
    """MulInteger: per output element the product and a subtraction for each zero point given: (A − A_zp)·(B − B_zp) into int32."""
    return (1 + ctx.has_input(1) + ctx.has_input(3)) * broadcast_numel(ctx, [0, 2])


@shape("MulInteger", domain=MS)
def mul_integer_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [(TensorProto.INT32, broadcast_shapes(ctx.input_shape(0), ctx.input_shape(2)))]


@cost("MatMulNBits", domain=MS)
def matmul_nbits(ctx: NodeContext) -> int:
    """MatMulNBits: 2·M·N·K (M = ∏A.shape[:-1]) + 2·N·K to dequantize the weights ((w − zp)·scale, once per call) + M·N if bias."""
    a = ctx.input_shape(0)
    k, n = static_attr(ctx, "K"), static_attr(ctx, "N")
    m = numel(a[:-1])
    return 2 * m * n * k + DEQUANTIZE * n * k + (m * n if ctx.has_input(5) else 0)


@shape("MatMulNBits", domain=MS)
def matmul_nbits_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, a = ctx.input_type(0)
    return [(elem, None if a is None else (*a[:-1], ctx.attr("N")))]


def _nbits_projections(ctx: NodeContext, m: int, k: int, projections: list[tuple[int, int]]) -> int:
    """Fused MatMulNBits projections of one (M × K) input: each (N, its bias input) costs
    MatMulNBits' 2·M·N·K + 2·N·K (dequantizing) + M·N with a bias."""
    return sum(2 * m * n * k + DEQUANTIZE * n * k + (m * n if ctx.has_input(bias) else 0) for n, bias in projections)


def _fused_norm(ctx: NodeContext, m: int, k: int) -> int:
    """The (Skip)SimplifiedLayerNormalization a fused projection may start with: + M·K for
    the skip add, + RMS normalization (3·M·K + 3·M) and its scale (M·K) when a scale is given."""
    return (m * k if ctx.has_input(1) else 0) + (rms_norm(m * k, m) + m * k if ctx.has_input(2) else 0)


@cost("MatMulNBitsQkv", domain=MS)
def matmul_nbits_qkv(ctx: NodeContext) -> int:
    """MatMulNBitsQkv: (skip add M·K) + RMS norm 4·M·K + 3·M + three MatMulNBits of N = Nq, Nkv, Nkv (2·M·N·K + 2·N·K each, + M·N with a bias); M = ∏A.shape[:-1]."""
    m = numel(ctx.input_shape(0)[:-1])
    k, nq, nkv = static_attr(ctx, "K"), static_attr(ctx, "Nq"), static_attr(ctx, "Nkv")
    return _fused_norm(ctx, m, k) + _nbits_projections(ctx, m, k, [(nq, 5), (nkv, 8), (nkv, 11)])


@shape("MatMulNBitsQkv", domain=MS)
def matmul_nbits_qkv_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Q (…, Nq), K and V (…, Nkv), and the skip sum like A."""
    elem, a = ctx.input_type(0)
    if a is None:
        return [(elem, None)] * len(ctx.node.output)
    widths = (ctx.attr("Nq"), ctx.attr("Nkv"), ctx.attr("Nkv"))
    return ([(elem, (*a[:-1], n)) for n in widths] + [(elem, a)])[:len(ctx.node.output)]


# FLOPs per element of the gate activations MatMulNBitsMlp fuses
_MLP_ACTIVATIONS = {"silu": SILU_PER_ELEMENT, "swish": SILU_PER_ELEMENT, "gelu": GELU_ERF_PER_ELEMENT, "relu": 1}


@cost("MatMulNBitsMlp", domain=MS)
def matmul_nbits_mlp(ctx: NodeContext) -> int:
    """MatMulNBitsMlp: (skip add, RMS norm as MatMulNBitsQkv's when given) + gate and up MatMulNBits (2·M·N·K + 2·N·K each, + M·N with a bias) + M·N × (activation + 1 for × up)."""
    activation = ctx.attr("activation", "silu")
    if activation not in _MLP_ACTIVATIONS:
        raise Uncountable(f"MatMulNBitsMlp activation '{activation}' has no known cost")
    m = numel(ctx.input_shape(0)[:-1])
    k, n = static_attr(ctx, "K"), static_attr(ctx, "N")
    return (_fused_norm(ctx, m, k) + _nbits_projections(ctx, m, k, [(n, 5), (n, 8)])
            + (_MLP_ACTIVATIONS[activation] + 1) * m * n)


@shape("MatMulNBitsMlp", domain=MS)
def matmul_nbits_mlp_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y (…, N), and the skip sum like A."""
    elem, a = ctx.input_type(0)
    if a is None:
        return [(elem, None)] * len(ctx.node.output)
    return [(elem, (*a[:-1], ctx.attr("N"))), (elem, a)][:len(ctx.node.output)]


@cost("MatMulBnb4", domain=MS)
def matmul_bnb4(ctx: NodeContext) -> int:
    """MatMulBnb4: 2·M·N·K (M = ∏A.shape[:-1]) + N·K to dequantize the 4-bit weights (a table lookup, × the block's absmax)."""
    m = numel(ctx.input_shape(0)[:-1])
    k, n = static_attr(ctx, "K"), static_attr(ctx, "N")
    return 2 * m * n * k + n * k


@shape("MatMulBnb4", domain=MS)
def matmul_bnb4_shape(ctx: NodeContext) -> list[TypeInfo]:
    """A (…, K) → (…, N); with transB=0, A (…, N) → (…, K)."""
    elem, a = ctx.input_type(0)
    width = ctx.attr("N") if ctx.attr("transB", 1) else ctx.attr("K")
    return [(elem, None if a is None else (*a[:-1], width))]


def _gather_block_quantized_shape(ctx: NodeContext, data, indices) -> tuple:
    """data[:axis] + indices + data[axis+1:]; uint8 data packs 8/bits values per byte along its last axis."""
    axis = ctx.attr("gather_axis", 0) % len(data)
    out = [*data[:axis], *indices, *data[axis + 1:]]
    if ctx.input_type(0)[0] == TensorProto.UINT8 and isinstance(out[-1], int):
        out[-1] *= 8 // ctx.attr("bits", 4)
    return tuple(out)


@cost("GatherBlockQuantized", domain=MS)
def gather_block_quantized(ctx: NodeContext) -> int:
    """GatherBlockQuantized: 2 × output elements (dequantize what it gathers: subtract the zero point, multiply by the block's scale; 1 without a zero point, as FP8 data has none)."""
    out = shape_or_compute(ctx, lambda: _gather_block_quantized_shape(ctx, ctx.input_shape(0), ctx.input_shape(1)))
    # uint8 data has an implicit zero point (8 for 4 bits) when none is given
    has_zero_point = ctx.has_input(3) or ctx.input_type(0)[0] in (TensorProto.UINT8, TensorProto.INT8,
                                                                   TensorProto.UINT4, TensorProto.INT4)
    return (DEQUANTIZE if has_zero_point else DEQUANTIZE - 1) * numel(out)


@shape("GatherBlockQuantized", domain=MS)
def gather_block_quantized_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Typed like the scales (the dequantized values)."""
    elem = ctx.input_type(2)[0]
    data, indices = ctx.input_type(0)[1], ctx.input_type(1)[1]
    if data is None or indices is None:
        return [(elem, None)]
    return [(elem, _gather_block_quantized_shape(ctx, data, indices))]


@cost("QuantizeLinear")
@cost("QuantizeLinear", domain=MS)
def quantize_linear(ctx: NodeContext) -> int:
    """QuantizeLinear: 2 × elements (divide by scale, round) + 1 × elements if a zero point is given."""
    return (QUANTIZE - (0 if ctx.has_input(2) else 1)) * ctx.input_numel(0)


@cost("DequantizeLinear")
@cost("DequantizeLinear", domain=MS)
def dequantize_linear(ctx: NodeContext) -> int:
    """DequantizeLinear: 1 × elements (multiply by scale) + 1 × elements if a zero point is given (subtract it)."""
    return (DEQUANTIZE - (0 if ctx.has_input(2) else 1)) * ctx.input_numel(0)


@cost("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: NodeContext) -> int:
    """DynamicQuantizeLinear: 5 × elements (running min and max: 2, quantize: 3; the few scalar ops for scale and zero point are not counted)."""
    return (2 + QUANTIZE) * ctx.input_numel(0)


@cost("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary(ctx: NodeContext) -> int:
    """QLinearAdd/QLinearMul: 8 × output elements (dequantize A and B: 2 + 2, the op: 1, quantize: 3)."""
    return (2 * DEQUANTIZE + 1 + QUANTIZE) * broadcast_numel(ctx, [0, 3])


@cost("QLinearSigmoid", domain=MS)
def qlinear_sigmoid(ctx: NodeContext) -> int:
    """QLinearSigmoid: 9 × elements (dequantize 2, sigmoid 4, quantize 3)."""
    return (DEQUANTIZE + 4 + QUANTIZE) * broadcast_numel(ctx, [0])


@cost("QLinearLeakyRelu", domain=MS)
def qlinear_leaky_relu(ctx: NodeContext) -> int:
    """QLinearLeakyRelu: 7 × elements (dequantize 2, leaky relu 2, quantize 3)."""
    return (DEQUANTIZE + 2 + QUANTIZE) * broadcast_numel(ctx, [0])


@shape("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, a = ctx.input_type(0)
    b = ctx.input_type(3)[1]
    try:
        return [(elem, None if a is None or b is None else broadcast_shapes(a, b))]
    except Uncountable:  # shapes that do not broadcast: leave the output unknown
        return [(elem, None)]


@shape("QLinearSigmoid", "QLinearLeakyRelu", domain=MS)
def qlinear_unary_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [ctx.input_type(0)]


@shape("QuantizeLinear", domain=MS)
def ms_quantize_linear_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y like x, typed like the zero point (uint8 without one)."""
    zero_point = ctx.input_type(2)[0] if ctx.has_input(2) else None
    return [(zero_point or TensorProto.UINT8, ctx.input_type(0)[1])]


@shape("DequantizeLinear", domain=MS)
def ms_dequantize_linear_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y like x, typed like the scale."""
    return [(ctx.input_type(1)[0], ctx.input_type(0)[1])]
