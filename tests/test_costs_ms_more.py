"""More of ONNX Runtime's com.microsoft operators: fused Gemms, Inverse, CDist, BiasSoftmax,
BiasDropout, Trilu, the padding removers and the Tokenizer; FLOPs formulas and shape functions.

Every expected value is worked out here from the operator's definition (ContribOperators.md):
a multiply-accumulate is 2 FLOPs, an activation costs what its elementwise operator costs
(Relu 1, LeakyRelu 2: compare and multiply, Sigmoid 4: neg, exp, add, reciprocal), softmax 5
per element, the tanh-approximated Gelu of FastGelu 8 per element (as ONNX's Gelu function
body computes it, x³ one Pow).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis.costs import Uncountable, cost_function

try:
    from cost_helpers import MS, F, flops, shapes
except ImportError:  # tests/ is a package
    from tests.cost_helpers import MS, F, flops, shapes

I32, BOOL, STRING = TensorProto.INT32, TensorProto.BOOL, TensorProto.STRING


# --- FusedGemm ----------------------------------------------------------------------------


def test_fused_gemm_is_gemm_then_its_activation():
    a, b, c = ("A", (4, 8)), ("B", (8, 16)), ("C", (16,))  # M = 4, K = 8, N = 16
    relu = flops("FusedGemm", [a, b, c], domain=MS, activation="Relu")
    assert relu == 2 * 4 * 16 * 8 + 4 * 16 + 4 * 16 * 1  # MACs, + C, relu per output
    sigmoid = flops("FusedGemm", [a, b], domain=MS, activation="Sigmoid")
    assert sigmoid == 2 * 4 * 16 * 8 + 4 * 16 * 4  # no C; neg, exp, add, reciprocal per output


def test_fused_gemm_honours_transposes_alpha_and_beta():
    # A (K, M) and B (N, K) transposed; α·AB and β·C are a multiply per output each
    inputs = [("A", (8, 4)), ("B", (16, 8)), ("C", (4, 16))]
    got = flops("FusedGemm", inputs, domain=MS, transA=1, transB=1, alpha=0.5, beta=2.0,
                activation="LeakyRelu", activation_alpha=0.1)
    assert got == 2 * 4 * 16 * 8 + 4 * 16 * (1 + 1) + 4 * 16 + 4 * 16 * 2  # MACs, β·C + add, α·AB, leaky relu


def test_fused_gemm_without_an_activation_counts_as_gemm():
    assert flops("FusedGemm", [("A", (4, 8)), ("B", (8, 16))], domain=MS) == 2 * 4 * 16 * 8


def test_fused_gemm_with_an_activation_of_no_known_count_is_uncountable():
    with pytest.raises(Uncountable, match="ParametricSoftplus"):
        flops("FusedGemm", [("A", (4, 8)), ("B", (8, 16))], domain=MS, activation="ParametricSoftplus")
    with pytest.raises(Uncountable):  # A's shape unknown
        flops("FusedGemm", [("A", None), ("B", (8, 16))], domain=MS, activation="Relu")


def test_fused_gemm_shape():
    assert shapes("FusedGemm", [("A", (8, 4)), ("B", (8, 16))], [("Y", None)], transA=1) == [(F, (4, 16))]
    assert shapes("FusedGemm", [("A", ("m", 8)), ("B", (16, 8))], [("Y", None)], transB=1) == [(F, ("m", 16))]


# --- GemmFastGelu -------------------------------------------------------------------------


def test_gemm_fast_gelu_is_a_matmul_then_fast_gelu():
    x, w = ("X", (2, 3, 8)), ("W", (8, 16))  # 2·3 rows of K = 8, N = 16
    outputs = 2 * 3 * 16
    assert flops("GemmFastGelu", [x, w, ("bias", (16,))], domain=MS) == 2 * outputs * 8 + outputs * (1 + 8)
    assert flops("GemmFastGelu", [x, w], domain=MS) == 2 * outputs * 8 + outputs * 8
    assert shapes("GemmFastGelu", [x, w, ("bias", (16,))], [("Y", None)]) == [(F, (2, 3, 16))]
    with pytest.raises(Uncountable, match="inner dimensions"):
        flops("GemmFastGelu", [x, ("W", (4, 16))], domain=MS)


# --- Inverse ------------------------------------------------------------------------------


def test_inverse_by_lu_and_substitution():
    # One 3×3 matrix, counted step by step.
    # LU: step 1, 2 multipliers (divides) and a 2×2 update (4 multiply-subtracts = 8);
    #     step 2, 1 divide and a 1×1 update (2)
    lu = (2 + 8) + (1 + 2)
    # forward substitution with L for the identity's columns, skipping the zeros above each 1:
    # column 1 needs rows 2 and 3 (1 + 2 multiply-subtracts), column 2 row 3 (1), column 3 none
    forward = 2 * (1 + 2 + 1)
    # back substitution with U, per column: row 3 a divide, row 2 one multiply-subtract and a divide,
    # row 1 two multiply-subtracts and a divide
    back = 3 * (1 + (2 + 1) + (4 + 1))
    per_matrix = lu + forward + back
    assert per_matrix == 2 * 3 ** 3 - 3 * 4 // 2  # the docstring's 2n³ − n(n+1)/2
    assert flops("Inverse", [("X", (5, 3, 3))], domain=MS) == 5 * per_matrix
    assert flops("Inverse", [("X", (1, 1))], domain=MS) == 1  # 1/x: one divide


def test_inverse_of_non_square_matrices_is_uncountable():
    with pytest.raises(Uncountable, match="square"):
        flops("Inverse", [("X", (2, 3, 4))], domain=MS)
    with pytest.raises(Uncountable, match="square"):
        flops("Inverse", [("X", (3,))], domain=MS)


def test_inverse_shape_is_its_input():
    assert shapes("Inverse", [("X", (5, 3, 3))], [("Y", None)]) == [(F, (5, 3, 3))]


def test_det_still_counts_its_lu():
    # a 3×3 LU as above (13) and 2 multiplies of the diagonal
    assert flops("Det", [("X", (2, 3, 3))]) == 2 * ((2 + 8) + (1 + 2) + 2)


# --- CDist --------------------------------------------------------------------------------


def test_cdist_squared_and_plain_euclidean():
    a, b = ("A", (4, 3)), ("B", (5, 3))  # 4 × 5 pairs of 3 coordinates
    per_pair = 3 + 3 + 2  # 3 subtracts, 3 squares, 2 adds
    assert flops("CDist", [a, b], domain=MS, metric="sqeuclidean") == 4 * 5 * per_pair
    assert flops("CDist", [a, b], domain=MS, metric="euclidean") == 4 * 5 * (per_pair + 1)  # a sqrt per pair
    assert shapes("CDist", [a, b], [("C", None)], metric="euclidean") == [(F, (4, 5))]


def test_cdist_uncountable_cases():
    a, b = ("A", (4, 3)), ("B", (5, 3))
    with pytest.raises(Uncountable, match="cosine"):
        flops("CDist", [a, b], domain=MS, metric="cosine")
    with pytest.raises(Uncountable, match="metric"):
        flops("CDist", [a, b], domain=MS)  # ONNX Runtime requires the attribute
    with pytest.raises(Uncountable, match="coordinates"):
        flops("CDist", [a, ("B", (5, 4))], domain=MS, metric="sqeuclidean")


# --- BiasSoftmax and BiasDropout ----------------------------------------------------------


def test_bias_softmax():
    data, bias = ("data", (2, 4, 8, 8)), ("bias", (2, 1, 8, 8))
    assert flops("BiasSoftmax", [data, bias], domain=MS, axis=-1, is_inner_broadcast=0) == (2 * 4 * 8 * 8) * (1 + 5)
    assert shapes("BiasSoftmax", [data, bias], [("Y", None)], is_inner_broadcast=0) == [(F, (2, 4, 8, 8))]
    with pytest.raises(Uncountable):
        flops("BiasSoftmax", [("data", None), bias], domain=MS, is_inner_broadcast=0)


def test_bias_dropout_in_inference():
    data, bias = ("data", (2, 8, 16)), ("bias", (16,))
    elements = 2 * 8 * 16
    assert flops("BiasDropout", [data, bias], domain=MS) == elements  # + bias
    with_residual = [data, bias, ("residual", (2, 8, 16))]
    assert flops("BiasDropout", with_residual, domain=MS) == elements + elements  # + bias, + residual
    off = [data, bias, ("", None), ("ratio", ()), ("training", ())]
    assert flops("BiasDropout", off, domain=MS, constants={"training": np.array(False)}) == elements


def test_bias_dropout_in_training_is_uncountable():
    training = [("data", (2, 8, 16)), ("bias", (16,)), ("", None), ("", None), ("training", ())]
    with pytest.raises(Uncountable, match="training_mode"):
        flops("BiasDropout", training, domain=MS)  # not a constant
    with pytest.raises(Uncountable, match="training_mode"):
        flops("BiasDropout", training, domain=MS, constants={"training": np.array(True)})


def test_bias_dropout_shapes():
    inputs = [("data", (2, 8, 16)), ("bias", (16,))]
    assert shapes("BiasDropout", inputs, [("Y", None), ("mask", None)]) == [(F, (2, 8, 16)), (BOOL, (2, 8, 16))]
    assert shapes("BiasDropout", inputs, [("Y", None)]) == [(F, (2, 8, 16))]


# --- data movement and text ---------------------------------------------------------------


def test_ms_trilu_is_the_default_domains_zero():
    assert flops("Trilu", [("X", (2, 4, 4))], domain=MS) == 0
    assert cost_function(MS, "Trilu") is cost_function("", "Trilu")
    assert shapes("Trilu", [("X", (2, 4, 4))], [("Y", None)], upper=0) == [(F, (2, 4, 4))]


def test_remove_and_restore_padding_copy():
    assert flops("RemovePadding", [("input", (3, 4, 8)), ("count", (3,))], domain=MS) == 0
    assert flops("RestorePadding", [("input", (7, 8)), ("offset", (3, 4))], domain=MS) == 0


def test_remove_padding_shapes():
    outputs = [("output", None), ("token_offset", None), ("cumulated_seq_len", None), ("max_seq_len", None)]
    got = shapes("RemovePadding", [("input", (3, 4, 8)), ("count", (3,))], outputs)
    # the tokens kept follow the counts (data); B + 1 = 4 cumulated lengths
    assert got == [(F, (None, 8)), (I32, (3, 4)), (I32, (3 + 1,)), (I32, (1,))]
    symbolic = shapes("RemovePadding", [("input", ("batch", "seq", 8)), ("count", ("batch",))], outputs)
    assert symbolic[1:3] == [(I32, ("batch", "seq")), (I32, (None,))]


def test_restore_padding_shape():
    got = shapes("RestorePadding", [("input", (7, 8)), ("offset", (3, 4))], [("output", None)])
    assert got == [(F, (3, 4, 8))]  # (B, S) of the offsets, hidden of the packed input


def test_ms_tokenizer_is_a_zero_flop_string_op():
    assert flops("Tokenizer", [("text", (2, 3))], domain=MS, mark=0, mincharnum=1, pad_value="#") == 0
    # (N, C) strings → (N, C, D) tokens, D following the text
    assert shapes("Tokenizer", [("text", (2, 3))], [("Y", None)]) == [(STRING, (2, 3, None))]
    assert shapes("Tokenizer", [("text", None)], [("Y", None)]) == [(STRING, None)]


# --- end to end ---------------------------------------------------------------------------


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "ms_more", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def test_a_fused_gemm_into_a_bias_softmax_is_counted_end_to_end():
    weights = [numpy_helper.from_array(np.ones((8, 16), np.float32), "B"),
               numpy_helper.from_array(np.zeros(16, np.float32), "C")]
    nodes = [helper.make_node("FusedGemm", ["A", "B", "C"], ["h"], domain=MS, activation="Relu"),
             helper.make_node("BiasSoftmax", ["h", "mask"], ["y"], domain=MS, axis=-1, is_inner_broadcast=0)]
    model = _model(nodes, [helper.make_tensor_value_info("A", TensorProto.FLOAT, [4, 8]),
                           helper.make_tensor_value_info("mask", TensorProto.FLOAT, [4, 16])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    report = analyze_model(model)
    gemm = 2 * 4 * 16 * 8 + 4 * 16  # (4×8)·(8×16) MACs, + C
    relu = 4 * 16
    bias_softmax = 4 * 16 * (1 + 5)
    assert report.flops.uncounted == []
    assert report.flops.total == gemm + relu + bias_softmax
    assert report.graph.outputs[0].shape == [4, 16]


def test_packed_tokens_restored_to_their_padded_shape_are_counted_downstream():
    """RemovePadding leaves the token count unknown, RestorePadding gives the padded shape back:
    the Softmax after them is counted."""
    nodes = [helper.make_node("RemovePadding", ["x", "count"], ["packed", "offset", "cum", "max"], domain=MS),
             helper.make_node("RestorePadding", ["packed", "offset"], ["restored"], domain=MS),
             helper.make_node("Softmax", ["restored"], ["y"], axis=-1)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 8]),
                           helper.make_tensor_value_info("count", TensorProto.INT32, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    report = analyze_model(model)
    assert report.flops.uncounted == []
    assert report.flops.total == 0 + 0 + 5 * (2 * 4 * 8)  # two copies, then softmax on 64 values
