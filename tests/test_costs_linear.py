"""FLOPs formulas of convolutions, matrix products and quantized operators.

Every expected value is worked out here from the operator's definition, not copied
from the code: a multiply-accumulate is 2 FLOPs.
"""

from __future__ import annotations

import numpy as np
import pytest

from cost_helpers import MS, F, flops, make_ctx
from mkdocs_onnx.analysis.costs import Uncountable, cost_function, shape_function


# --- Conv ---------------------------------------------------------------------------


def test_conv_from_inferred_output_shape():
    # LeNet-like: 1 input channel, 8 filters of 5x5, "same" padding keeps 28x28
    got = flops("Conv", [("X", (1, 1, 28, 28)), ("W", (8, 1, 5, 5))], [("Y", (1, 8, 28, 28))], pads=[2, 2, 2, 2])
    assert got == 2 * 8 * 28 * 28 * (1 * 5 * 5)


def test_conv_groups_strides_dilations_pads_bias_computed_output():
    # out = floor((32 + 1 + 1 - (2*(3-1)+1)) / 2) + 1 = floor(29/2) + 1 = 15
    attrs = dict(group=4, strides=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1])
    inputs = [("X", (2, 16, 32, 32)), ("W", (32, 4, 3, 3)), ("B", (32,))]
    out_elements = 2 * 32 * 15 * 15
    expected = 2 * out_elements * (16 // 4 * 3 * 3) + out_elements  # MACs per group + bias
    assert flops("Conv", inputs, **attrs) == expected
    assert flops("Conv", inputs, [("Y", (2, 32, 15, 15))], **attrs) == expected


def test_conv_depthwise():
    # depthwise 3x3 on 32 channels: each output reads one channel
    inputs = [("X", (1, 32, 10, 10)), ("W", (32, 1, 3, 3))]
    assert flops("Conv", inputs, group=32, pads=[1, 1, 1, 1]) == 2 * (32 * 10 * 10) * 9


def test_conv_auto_pad_same_upper():
    # SAME_UPPER with stride 2: out = ceil(224 / 2) = 112
    inputs = [("X", (1, 3, 224, 224)), ("W", (64, 3, 7, 7))]
    assert flops("Conv", inputs, auto_pad="SAME_UPPER", strides=[2, 2]) == 2 * (64 * 112 * 112) * (3 * 7 * 7)


def test_conv_valid_1d():
    # VALID: out = 100 - 5 + 1 = 96
    assert flops("Conv", [("X", (4, 2, 100)), ("W", (6, 2, 5))], auto_pad="VALID") == 2 * (4 * 6 * 96) * (2 * 5)


def test_conv_symbolic_batch_names_the_dim():
    with pytest.raises(Uncountable, match="'N'"):
        flops("Conv", [("X", ("N", 3, 32, 32)), ("W", (8, 3, 3, 3))], [("Y", ("N", 8, 30, 30))])
    with pytest.raises(Uncountable, match="'N'"):  # output shape unknown: the input's dim is named
        flops("Conv", [("X", ("N", 3, 32, 32)), ("W", (8, 3, 3, 3))])


def test_conv_unknown_weight_shape():
    with pytest.raises(Uncountable, match="unknown"):
        flops("Conv", [("X", (1, 3, 32, 32)), ("W", None)], [("Y", (1, 8, 30, 30))])


def test_conv_transpose_with_bias_and_groups():
    # out = 2*(14-1) + 0 + 1*(4-1) + 1 - 1 - 1 = 28; C_out = 8 * group 2 = 16
    inputs = [("X", (1, 16, 14, 14)), ("W", (16, 8, 4, 4)), ("B", (16,))]
    attrs = dict(group=2, strides=[2, 2], pads=[1, 1, 1, 1])
    expected = 2 * (1 * 16 * 14 * 14) * (8 * 4 * 4) + 1 * 16 * 28 * 28
    assert flops("ConvTranspose", inputs, **attrs) == expected
    assert flops("ConvTranspose", inputs, [("Y", (1, 16, 28, 28))], **attrs) == expected


def test_conv_transpose_without_bias_needs_no_output_shape():
    assert flops("ConvTranspose", [("X", (2, 4, 5, 5)), ("W", (4, 3, 2, 2))]) == 2 * (2 * 4 * 5 * 5) * (3 * 2 * 2)


def test_fused_conv_activation_and_sum():
    # FusedConv = Conv + bias + Relu (1/elt) + Z add (1/elt); out 1x4x6x6 = 144
    inputs = [("X", (1, 3, 8, 8)), ("W", (4, 3, 3, 3)), ("B", (4,)), ("Z", (1, 4, 6, 6))]
    expected = 2 * 144 * 27 + 144 + 144 * 1 + 144
    assert flops("FusedConv", inputs, domain=MS, activation="Relu") == expected
    out = shape_function(MS, "FusedConv")(make_ctx("FusedConv", inputs, domain=MS, activation="Relu"))
    assert out == [(F, (1, 4, 6, 6))]


# --- MatMul, Gemm, Einsum -------------------------------------------------------------


def test_matmul_batched():
    # 6 = 2*3 batch matrices of (4x5)·(5x6)
    assert flops("MatMul", [("A", (2, 3, 4, 5)), ("B", (5, 6))]) == 2 * (2 * 3) * 4 * 6 * 5


def test_matmul_broadcast_batch():
    # batch dims (2,1) and (3,) broadcast to (2,3)
    assert flops("MatMul", [("A", (2, 1, 4, 5)), ("B", (3, 5, 6))]) == 2 * (2 * 3) * 4 * 6 * 5


def test_matmul_one_dimensional_operands():
    assert flops("MatMul", [("A", (5,)), ("B", (5, 6))]) == 2 * 1 * 6 * 5  # vector·matrix
    assert flops("MatMul", [("A", (3, 4, 5)), ("B", (5,))]) == 2 * 3 * 4 * 1 * 5  # matrix·vector
    assert flops("MatMul", [("A", (5,)), ("B", (5,))]) == 2 * 5  # dot product


def test_matmul_symbolic_dim_is_named():
    with pytest.raises(Uncountable, match="'seq'"):
        flops("MatMul", [("A", (1, "seq", 64)), ("B", (64, 64))])


def test_gemm_trans_b_counts():
    # A (M=4, K=8), B stored (N=16, K=8) with transB=1
    assert flops("Gemm", [("A", (4, 8)), ("B", (16, 8))], transB=1) == 2 * 4 * 16 * 8


def test_gemm_trans_a_bias_alpha():
    # A stored (K=8, M=4); + M·N for C, + M·N for alpha = 0.5
    got = flops("Gemm", [("A", (8, 4)), ("B", (8, 16)), ("C", (16,))], transA=1, alpha=0.5)
    assert got == 2 * 4 * 16 * 8 + 4 * 16 + 4 * 16


def test_gemm_beta_scales_c():
    got = flops("Gemm", [("A", (4, 8)), ("B", (8, 16)), ("C", (4, 16))], beta=2.0)
    assert got == 2 * 4 * 16 * 8 + 4 * 16 + 4 * 16  # add C, scale C by beta


def test_gemm_inner_dims_mismatch_is_uncountable():
    with pytest.raises(Uncountable):
        flops("Gemm", [("A", (4, 8)), ("B", (16, 8))])  # transB missing


def test_fused_matmul():
    inputs = [("A", (2, 4, 8)), ("B", (16, 8))]
    got = flops("FusedMatMul", inputs, domain=MS, transB=1, alpha=0.125)
    assert got == 2 * 2 * 4 * 16 * 8 + 2 * 4 * 16
    assert shape_function(MS, "FusedMatMul")(make_ctx("FusedMatMul", inputs, domain=MS, transB=1)) == [(F, (2, 4, 16))]


def test_einsum_batched_matmul_equals_matmul():
    # P = b·i·j·k = 2·3·4·5; j contracted: one multiply and one add per point
    got = flops("Einsum", [("A", (2, 3, 4)), ("B", (2, 4, 5))], equation="bij,bjk->bik")
    assert got == 2 * (2 * 3 * 4 * 5)


def test_einsum_without_contraction():
    assert flops("Einsum", [("A", (3, 4))], equation="ij->ji") == 0  # a transpose
    assert flops("Einsum", [("A", (3, 4)), ("B", (3, 4))], equation="ij,ij->ij") == 3 * 4  # elementwise product
    assert flops("Einsum", [("A", (3,)), ("B", (4,))], equation="i,j->ij") == 3 * 4  # outer product


def test_einsum_single_operand_sum_and_trace():
    assert flops("Einsum", [("A", (4, 4))], equation="ii") == 4 - 1  # trace, implicit output ""
    assert flops("Einsum", [("A", (3, 5))], equation="ij->i") == 3 * (5 - 1)  # row sums


def test_einsum_ellipsis_implicit_output():
    # implicit output "...ik"; P = 6·2·3·4, j contracted
    assert flops("Einsum", [("A", (6, 2, 3)), ("B", (6, 3, 4))], equation="...ij,...jk") == 2 * (6 * 2 * 3 * 4)


def test_einsum_three_operands_naive_loop():
    # P = i·j·k·l = 2·3·4·5; 2 multiplies + 1 add per point
    got = flops("Einsum", [("A", (2, 3)), ("B", (3, 4)), ("C", (4, 5))], equation="ij,jk,kl->il")
    assert got == 3 * (2 * 3 * 4 * 5)


# --- quantized ------------------------------------------------------------------------


def _qlinear_conv_inputs(with_bias: bool):
    inputs = [("x", (1, 3, 8, 8)), ("xs", ()), ("xz", ()), ("w", (4, 3, 3, 3)), ("ws", ()), ("wz", ()),
              ("ys", ()), ("yz", ())]
    return inputs + ([("B", (4,))] if with_bias else [])


def test_qlinear_conv():
    # out 1x4x8x8 = 256 (pads 1); 27 MACs per output, + 3 to requantize each output
    assert flops("QLinearConv", _qlinear_conv_inputs(False), pads=[1, 1, 1, 1]) == 2 * 256 * 27 + 3 * 256
    assert flops("QLinearConv", _qlinear_conv_inputs(True), pads=[1, 1, 1, 1]) == 2 * 256 * 27 + 256 + 3 * 256


def test_conv_integer_zero_point_is_not_a_bias():
    # out 1x4x6x6 = 144 (no pads); input 2 is x_zero_point, not a bias
    inputs = [("x", (1, 3, 8, 8)), ("w", (4, 3, 3, 3)), ("xz", ())]
    assert flops("ConvInteger", inputs) == 2 * 144 * 27


def test_qlinear_matmul_and_matmul_integer():
    qinputs = [("a", (2, 4, 8)), ("as", ()), ("az", ()), ("b", (8, 16)), ("bs", ()), ("bz", ()), ("ys", ()), ("yz", ())]
    assert flops("QLinearMatMul", qinputs) == 2 * 2 * 4 * 16 * 8 + 3 * 2 * 4 * 16
    assert flops("MatMulInteger", [("A", (4, 8)), ("B", (8, 16)), ("az", ()), ("bz", ())]) == 2 * 4 * 16 * 8


def test_matmul_nbits():
    # M = 1·5 rows, 4-bit weights of N=32 x K=64: MACs + dequantize every weight ((w - zp)·scale)
    inputs = [("A", (1, 5, 64)), ("B", (32, 2, 16)), ("scales", (64,))]
    attrs = dict(domain=MS, K=64, N=32, bits=4, block_size=32)
    assert flops("MatMulNBits", inputs, **attrs) == 2 * 5 * 32 * 64 + 2 * 32 * 64
    with_bias = inputs + [("", None), ("", None), ("bias", (32,))]
    assert flops("MatMulNBits", with_bias, **attrs) == 2 * 5 * 32 * 64 + 2 * 32 * 64 + 5 * 32
    out = shape_function(MS, "MatMulNBits")(make_ctx("MatMulNBits", [("A", (1, "seq", 64))], **attrs))
    assert out == [(F, (1, "seq", 32))]


def test_quantize_dequantize():
    assert flops("QuantizeLinear", [("x", (10,)), ("s", ()), ("z", ())]) == 10 * 3  # divide, round, add zp
    assert flops("QuantizeLinear", [("x", (10,)), ("s", ())]) == 10 * 2
    assert flops("DequantizeLinear", [("x", (10,)), ("s", ()), ("z", ())]) == 10 * 2  # subtract zp, scale
    assert flops("DequantizeLinear", [("x", (10,)), ("s", ())]) == 10 * 1
    assert flops("DynamicQuantizeLinear", [("x", (10,))]) == 10 * (2 + 3)  # min, max, then quantize


def test_qlinear_add_and_sigmoid():
    inputs = [("A", (2, 3)), ("As", ()), ("Az", ()), ("B", (3,)), ("Bs", ()), ("Bz", ()), ("Cs", ()), ("Cz", ())]
    # per output: dequantize A (2) + dequantize B (2) + add (1) + quantize (3)
    assert flops("QLinearAdd", inputs, domain=MS) == 6 * (2 + 2 + 1 + 3)
    assert shape_function(MS, "QLinearAdd")(make_ctx("QLinearAdd", inputs, domain=MS)) == [(F, (2, 3))]
    assert flops("QLinearSigmoid", [("X", (5,)), ("s", ()), ("z", ())], domain=MS) == 5 * (2 + 4 + 3)


def test_quantized_constants_are_not_needed():
    # formulas read shapes only; a constant scale changes nothing
    ctx = make_ctx("DequantizeLinear", [("x", (4,)), ("s", ())], constants={"s": np.array(0.5, np.float32)})
    assert cost_function("", "DequantizeLinear")(ctx) == 4
