"""ONNX Runtime's com.microsoft operators of quantized (QOperator) and diffusion models:
FLOPs formulas and shape functions.

Expected values are worked out here: integer accumulations count like float ones, a
requantization is 3 (multiply by the scale ratio, round, add the zero point), an integer
sum's zero-point correction 1, dequantize 2, quantize 3, softmax 5 per element; a
normalization 5 per element and 3 per group, GELU 5, SiLU 5.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cost_helpers import MS, cost_of, flops, make_ctx, shapes
from mkdocs_onnx.analysis.costs import Uncountable, shape_function
from mkdocs_onnx.analysis.analyzer import analyze_model

SCALARS = [("xs", ()), ("xz", ()), ("ys", ()), ("yz", ())]


def test_qlinear_global_average_pool_in_both_layouts():
    per_channel = (7 * 7 - 1) + 1 + 3  # integer sum, zero-point correction, requantize
    assert flops("QLinearGlobalAveragePool", [("X", (2, 64, 7, 7)), *SCALARS], domain=MS) == 2 * 64 * per_channel
    last = flops("QLinearGlobalAveragePool", [("X", (2, 7, 7, 64)), *SCALARS], domain=MS, channels_last=1)
    assert last == 2 * 64 * per_channel
    assert shapes("QLinearGlobalAveragePool", [("X", (2, 64, 7, 7)), *SCALARS], [("Y", None)])[0][1] == (2, 64, 1, 1)
    out = shapes("QLinearGlobalAveragePool", [("X", (2, 7, 7, 64)), *SCALARS], [("Y", None)], channels_last=1)
    assert out[0][1] == (2, 1, 1, 64)


def test_qlinear_average_pool_windows():
    # 3×3 windows, stride 2, no padding over 9×9: (9 − 3) / 2 + 1 = 4 per side
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2])
    inputs = [("X", (1, 8, 9, 9)), *SCALARS]
    assert flops("QLinearAveragePool", inputs, domain=MS, **attrs) == (8 * 4 * 4) * ((9 - 1) + 1 + 3)
    assert shapes("QLinearAveragePool", inputs, [("Y", None)], **attrs)[0][1] == (1, 8, 4, 4)
    nhwc = shapes("QLinearAveragePool", [("X", (1, 9, 9, 8)), *SCALARS], [("Y", None)], channels_last=1, **attrs)
    assert nhwc[0][1] == (1, 4, 4, 8)


def test_qlinear_concat_requantizes_every_input_value():
    inputs = [("ys", ()), ("yz", ()), ("a", (1, 3, 4)), ("as", ()), ("az", ()), ("b", (1, 5, 4)), ("bs", ()), ("bz", ())]
    assert flops("QLinearConcat", inputs, domain=MS, axis=1) == (12 + 20) * (1 + 3)  # zero point, requantize
    assert shapes("QLinearConcat", inputs, [("Y", None)], axis=1)[0][1] == (1, 8, 4)
    assert shapes("QLinearConcat", inputs, [("Y", None)], axis=-2)[0][1] == (1, 8, 4)


def test_qlinear_softmax():
    inputs = [("X", (2, 10)), *SCALARS]
    assert flops("QLinearSoftmax", inputs, domain=MS) == 20 * (2 + 5 + 3)
    assert shapes("QLinearSoftmax", inputs, [("Y", None)])[0][1] == (2, 10)


def test_qgemm_quantized_and_float_outputs():
    a, b = ("A", (4, 32)), ("B", (16, 32))  # transB: B is (N, K)
    quantized = [a, ("as", ()), ("az", ()), b, ("bs", ()), ("bz", ()), ("C", (16,)), ("ys", ()), ("yz", ())]
    assert flops("QGemm", quantized, domain=MS, transB=1) == 2 * 4 * 16 * 32 + 4 * 16 + 3 * 4 * 16
    to_float = quantized[:6]
    assert flops("QGemm", to_float, domain=MS, transB=1) == 2 * 4 * 16 * 32 + 4 * 16  # a scale per output
    assert shapes("QGemm", quantized, [("Y", None)], transB=1)[0][1] == (4, 16)


def test_dynamically_quantized_matmuls():
    a, b = ("A", (2, 3, 8)), ("B", (8, 5))
    products = 2 * (2 * 3) * 5 * 8
    outputs = 2 * 3 * 5
    # A quantized on the fly: a running min and max (2) and a quantization (3) per element
    dq = flops("DynamicQuantizeMatMul", [a, b, ("bs", ()), ("", None), ("bias", (5,))], domain=MS)
    assert dq == 5 * 48 + products + outputs + outputs
    i2f = flops("MatMulIntegerToFloat", [a, b, ("as", ()), ("bs", ())], domain=MS)
    assert i2f == products + outputs
    assert shapes("DynamicQuantizeMatMul", [a, b, ("bs", ())], [("Y", None)])[0] == (TensorProto.FLOAT, (2, 3, 5))


def _quantized_cnn() -> onnx.ModelProto:
    """A QOperator-format CNN as ONNX Runtime's quantization tool writes one: quantize, QLinearConv,
    QLinearGlobalAveragePool, Flatten, QLinearMatMul, dequantize."""
    def const(name, value):
        return numpy_helper.from_array(np.array(value), name)

    u8 = np.uint8(128)
    inits = [const("xs", np.float32(0.02)), const("xz", u8), const("ws", np.float32(0.01)), const("wz", u8),
             const("W", np.ones((16, 3, 3, 3), np.uint8)), const("cs", np.float32(0.05)), const("cz", u8),
             const("ps", np.float32(0.05)), const("pz", u8), const("M", np.ones((16, 10), np.uint8)),
             const("ms", np.float32(0.01)), const("mz", u8), const("os", np.float32(0.1)), const("oz", u8)]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "W", "ws", "wz", "cs", "cz"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("QLinearGlobalAveragePool", ["c", "cs", "cz", "ps", "pz"], ["p"], domain=MS),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("QLinearMatMul", ["f", "ps", "pz", "M", "ms", "mz", "os", "oz"], ["o"]),
        helper.make_node("DequantizeLinear", ["o", "os", "oz"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "int8_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(MS, 1)])


def test_a_quantized_cnn_is_counted_through_its_classifier_head():
    report = analyze_model(_quantized_cnn(), name="int8_cnn")
    assert report.flops.uncounted_ops == {} and report.memory.activations_unknown == 0
    conv_out = 16 * 32 * 32
    expected = ((3 * 32 * 32) * 3  # quantize the input: 3 per element
                + 2 * conv_out * 27 + 3 * conv_out  # QLinearConv: MACs, requantize
                + 16 * ((32 * 32 - 1) + 1 + 3)  # the pool, per channel
                + 2 * 10 * 16 + 3 * 10  # QLinearMatMul
                + 2 * 10)  # dequantize the logits
    assert report.flops.total == expected
    assert report.graph.outputs[0].shape == [1, 10]


# --- ONNX Runtime's diffusion fusions ----------------------------------------------------


def test_group_norm_in_nhwc_with_and_without_silu():
    x = ("X", (2, 8, 8, 32))  # N, H, W, C: the default channels_last layout
    elements, groups = 2 * 8 * 8 * 32, 2 * 4  # N × groups
    norm = 5 * elements + 3 * groups + 2 * elements  # normalize, then × gamma + beta
    assert flops("GroupNorm", [x, ("gamma", (32,)), ("beta", (32,))], domain=MS, groups=4) == norm
    assert flops("GroupNorm", [x, ("gamma", (32,)), ("beta", (32,))], domain=MS, groups=4, activation=1) == \
        norm + 5 * elements  # SiLU: sigmoid (4) and a multiply
    skip = [x, ("gamma", (32,)), ("beta", (32,)), ("skip", (2, 8, 8, 32)), ("bias", (32,))]
    assert flops("SkipGroupNorm", skip, domain=MS, groups=4) == 2 * elements + norm  # x + skip + bias first
    out = shapes("SkipGroupNorm", skip, [("Y", None), ("S", None)], groups=4)
    assert [s for _, s in out] == [(2, 8, 8, 32), (2, 8, 8, 32)]


def test_bias_split_gelu_halves_the_hidden_size():
    inputs = [("X", (2, 64, 1280)), ("bias", (1280,))]
    outputs = 2 * 64 * 640
    assert flops("BiasSplitGelu", inputs, domain=MS) == outputs * (2 + 5 + 1)  # two bias adds, GELU, product
    assert shapes("BiasSplitGelu", inputs, [("Y", None)])[0][1] == (2, 64, 640)


def test_gather_block_quantized_embeddings_unpack_and_dequantize():
    # a 4-bit embedding table of 1000 × 64, packed two values per byte: (1000, 32) uint8
    inputs = [("data", (1000, 32)), ("ids", (2, 7)), ("scales", (1000, 2))]
    ctx_types = {"data": TensorProto.UINT8}
    got = flops_typed("GatherBlockQuantized", inputs, ctx_types, block_size=32)
    assert got == 2 * (2 * 7 * 64)  # every gathered value: minus its (implicit) zero point, times its scale
    out = shapes_typed("GatherBlockQuantized", inputs, ctx_types, block_size=32)
    assert out == [(TensorProto.FLOAT, (2, 7, 64))]
    eight_bit = shapes_typed("GatherBlockQuantized", inputs, ctx_types, block_size=32, bits=8)
    assert eight_bit[0][1] == (2, 7, 32)


def _typed_ctx(op, inputs, elem_types, **attrs):
    ctx = make_ctx(op, inputs, [("Y", None)], domain=MS, **attrs)
    for name, elem in elem_types.items():
        ctx.types[name] = (elem, ctx.types[name][1])
    return ctx


def flops_typed(op, inputs, elem_types, **attrs):
    return cost_of(_typed_ctx(op, inputs, elem_types, **attrs))


def shapes_typed(op, inputs, elem_types, **attrs):
    return shape_function(MS, op)(_typed_ctx(op, inputs, elem_types, **attrs))


# --- mixture of experts -------------------------------------------------------------------


MOE_INPUTS = [("input", (2, 3, 8)), ("router", (6, 4))]  # 6 tokens of hidden size 8, 4 experts


def test_moe_routes_each_token_through_k_experts():
    fc1, fc2 = ("fc1", (4, 16, 8)), ("fc2", (4, 8, 16))  # per expert: 8 → 16 → 8
    routing = 5 * 4 + 4 * 1  # softmax over 4 logits, top-2 selection (4 × ⌈log2 2⌉)
    combine = 8 * (2 * 2 - 1)  # two weighted outputs summed
    per_expert = 2 * (16 * 8 + 8 * 16) + 16 * 1  # FC1 and FC2 MACs, relu on 16 values
    relu = flops("MoE", [*MOE_INPUTS, fc1, ("", None), fc2], domain=MS, k=2)
    assert relu == 6 * (routing + 2 * per_expert + combine)
    with_biases = flops("MoE", [*MOE_INPUTS, fc1, ("b1", (4, 16)), fc2, ("b2", (4, 8))], domain=MS, k=2)
    assert with_biases == 6 * (routing + 2 * (per_expert + 16 + 8) + combine)


def test_moe_swiglu_fused_or_not_costs_the_same():
    routing, combine = 5 * 4 + 4, 8 * 3
    # G · sigmoid(α·G) · (L + β) on 16 values: α·G, sigmoid (4), two multiplies, + β
    per_expert = 2 * (32 * 8 + 8 * 16) + 16 * (1 + 4 + 2 + 1)
    fused = [*MOE_INPUTS, ("fc1", (4, 32, 8)), ("", None), ("fc2", (4, 8, 16))]
    assert flops("MoE", fused, domain=MS, k=2, activation_type="swiglu", swiglu_fusion=1) == \
        6 * (routing + 2 * per_expert + combine)
    apart = [*MOE_INPUTS, ("fc1", (4, 16, 8)), ("", None), ("fc2", (4, 8, 16)), ("", None), ("fc3", (4, 16, 8))]
    assert flops("MoE", apart, domain=MS, k=2, activation_type="swiglu") == 6 * (routing + 2 * per_expert + combine)


def test_qmoe_unpacks_its_weights_and_dequantizes_the_experts_it_uses():
    # 4-bit weights, two per byte: FC1 (4, 16, 8 / 2), FC2 (4, 8, 16 / 2); scales at inputs 3 and 6
    inputs = [*MOE_INPUTS, ("fc1", (4, 16, 4)), ("s1", (4, 16)), ("", None), ("fc2", (4, 8, 8)), ("s2", (4, 8))]
    dense = 6 * ((5 * 4 + 4) + 2 * (2 * (16 * 8 + 8 * 16) + 16) + 8 * 3)  # as the float MoE above
    used = min(4, 6 * 2)  # 12 expert calls reach all 4 experts
    assert flops("QMoE", inputs, domain=MS, k=2) == dense + 2 * used * (16 * 8 + 8 * 16)
    one_token = [("input", (1, 8)), ("router", (1, 4)), *inputs[2:]]
    decode = (5 * 4 + 4) + 2 * (2 * (16 * 8 + 8 * 16) + 16) + 8 * 3
    assert flops("QMoE", one_token, domain=MS, k=2) == decode + 2 * 2 * (16 * 8 + 8 * 16)  # 2 experts run
    assert shapes("QMoE", one_token, [("Y", None)])[0][1] == (1, 8)


def test_moe_says_when_its_weights_are_read_in_part():
    ctx = make_ctx("QMoE", [("input", (1, 8)), ("router", (1, 4)), ("fc1", (4, 16, 4)), ("s1", (4, 16)), ("", None),
                            ("fc2", (4, 8, 8)), ("s2", (4, 8))], domain=MS, k=2)
    cost_of(ctx)
    assert ctx.notes and "run at most 2 of its 4 experts" in ctx.notes[0]
    assert ctx.weights_read == 2 / 4
    many = make_ctx("MoE", [*MOE_INPUTS, ("fc1", (4, 16, 8)), ("", None), ("fc2", (4, 8, 16))], domain=MS, k=2)
    cost_of(many)
    assert many.notes == [] and many.weights_read is None  # 12 expert calls: every expert's weights are read


def test_a_note_shared_by_many_nodes_is_given_once():
    """A 4-layer MoE stack decoding one token: the note on partly read weights, once, naming the nodes."""
    weights = [numpy_helper.from_array(np.ones((4, 16, 8), np.float32), "fc1"),
               numpy_helper.from_array(np.ones((4, 8, 16), np.float32), "fc2")]
    nodes = [helper.make_node("MoE", [f"h{i}", "router", "fc1", "", "fc2"], [f"h{i + 1}"], domain=MS, k=2,
                              name=f"layer{i}") for i in range(4)]
    graph = helper.make_graph(nodes, "moe", [helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, 8]),
                                             helper.make_tensor_value_info("router", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("h4", TensorProto.FLOAT, None)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    report = analyze_model(model, name="moe_stack")
    assert report.flops.uncounted_ops == {} and report.graph.outputs[0].shape == [1, 8]
    (note,) = report.flops.notes
    assert note.startswith("layer0, layer1, layer2 and 1 more: MoE: 1 token(s) × top-2 run at most 2 of its 4 experts")
    # each layer reads the weights of the 2 experts it runs, not of all 4: half of fc1 and fc2 (float32)
    half_the_experts = (4 * 16 * 8 + 4 * 8 * 16) * 4 // 2
    for node in report.nodes:
        assert node.weight_bytes_read == half_the_experts
        assert node.bytes_read == half_the_experts + (8 + 4) * 4  # + the hidden state and the router's probabilities


def test_dynamic_quantize_lstm_is_an_lstm_plus_its_quantization():
    """ONNX Runtime's dynamically quantized LSTM: X (3 steps, batch 2, 4 inputs), H = 5, biases;
    W (1, 4, 20) and R (1, 5, 20) are int8 and transposed against ONNX's LSTM."""
    inputs = [("X", (3, 2, 4)), ("W", (1, 4, 20)), ("R", (1, 5, 20)), ("B", (1, 40))]
    h, i = 5, 4
    # one LSTM step for one row: W·x and R·h (8H(I+H)), biases 8H, sigmoid (4) on 3 gates,
    # tanh (1) on the candidate, c = f·c + i·g (3H), tanh of c, o·h(c)
    lstm_step = 8 * h * (i + h) + 8 * h + 3 * h * 4 + h * 1 + 3 * h + h * 1 + h
    quantized_step = lstm_step + 5 * h + 8 * h  # quantize h (min, max, then 3 each); rescale 2 × 4H sums
    expected = 3 * 2 * quantized_step + 5 * (3 * 2 * 4)  # and quantize X, once
    assert flops("DynamicQuantizeLSTM", inputs, domain=MS, hidden_size=h) == expected
    # without hidden_size, H is read from R's middle dim
    assert flops("DynamicQuantizeLSTM", inputs, domain=MS) == expected
    y, y_h, y_c = shapes("DynamicQuantizeLSTM", inputs, [("Y", None), ("Y_h", None), ("Y_c", None)], hidden_size=h)
    assert (y[1], y_h[1], y_c[1]) == ((3, 1, 2, 5), (1, 2, 5), (1, 2, 5))


def _bert_attention(fused: bool, batch=2, seq=8, hidden=32, heads=4) -> onnx.ModelProto:
    """One BERT self-attention, written out (Q, K, V projections with biases, heads split,
    QKᵀ scaled by 1/√d, softmax, ·V, heads merged) or as ONNX Runtime fuses it (Attention)."""
    d = hidden // heads
    w = numpy_helper.from_array(np.ones((hidden, 3 * hidden), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(3 * hidden, np.float32), "b")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, hidden])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, seq, hidden])
    if fused:
        nodes = [helper.make_node("Attention", ["x", "w", "b"], ["y"], domain=MS, num_heads=heads)]
        inits = [w, bias]
    else:
        split = numpy_helper.from_array(np.array([batch, seq, heads, d], np.int64), "split")
        merge = numpy_helper.from_array(np.array([batch, seq, hidden], np.int64), "merge")
        scale = numpy_helper.from_array(np.array(1 / np.sqrt(d), np.float32), "scale")
        inits, nodes = [split, merge, scale], []
        for name, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            inits += [numpy_helper.from_array(np.ones((hidden, hidden), np.float32), f"w{name}"),
                      numpy_helper.from_array(np.zeros(hidden, np.float32), f"b{name}")]
            nodes += [helper.make_node("MatMul", ["x", f"w{name}"], [f"{name}0"]),
                      helper.make_node("Add", [f"{name}0", f"b{name}"], [f"{name}1"]),
                      helper.make_node("Reshape", [f"{name}1", "split"], [f"{name}2"]),
                      helper.make_node("Transpose", [f"{name}2"], [name], perm=perm)]
        nodes += [helper.make_node("MatMul", ["q", "k"], ["scores"]),
                  helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
                  helper.make_node("Softmax", ["scaled"], ["p"], axis=-1),
                  helper.make_node("MatMul", ["p", "v"], ["context"]),
                  helper.make_node("Transpose", ["context"], ["ct"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", ["ct", "merge"], ["y"])]
    graph = helper.make_graph(nodes, "attention", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def test_fused_attention_counts_what_its_written_out_graph_counts_but_the_scale():
    """The fused operator's formula against the sum of the primitive operators' formulas:
    the same projections, biases, products and softmax; only the 1/√d scale, which a fused
    kernel folds into the QKᵀ product, is left out (B·N·S·S multiplies)."""
    batch, seq, heads = 2, 8, 4
    fused = analyze_model(_bert_attention(fused=True)).flops
    written = analyze_model(_bert_attention(fused=False)).flops
    assert not fused.uncounted and not written.uncounted
    assert written.by_op_type["Mul"] == batch * heads * seq * seq
    assert fused.total == written.total - batch * heads * seq * seq


def _graph(nodes, inits, inputs, opset=20):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])


_ROWS, _WIDTH = 6, 16
_X = [("x", TensorProto.FLOAT, [_ROWS, _WIDTH]), ("skip", TensorProto.FLOAT, [_ROWS, _WIDTH])]
_NORM = {"gamma": np.ones(_WIDTH, np.float32), "beta": np.zeros(_WIDTH, np.float32),
         "bias": np.zeros(_WIDTH, np.float32)}


@pytest.mark.parametrize("fused, written", [
    (  # SkipLayerNormalization with a bias: x + skip + bias, then LayerNorm
        [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], ["y"], domain=MS)],
        [helper.make_node("Add", ["x", "skip"], ["s"]), helper.make_node("Add", ["s", "bias"], ["t"]),
         helper.make_node("LayerNormalization", ["t", "gamma", "beta"], ["y"], axis=-1)],
    ),
    (  # BiasGelu: x + bias, then the exact (erf) GELU
        [helper.make_node("BiasGelu", ["x", "bias"], ["y"], domain=MS)],
        [helper.make_node("Add", ["x", "bias"], ["s"]), helper.make_node("Gelu", ["s"], ["y"])],
    ),
    (  # FastGelu: x + bias, then the tanh approximation
        [helper.make_node("FastGelu", ["x", "bias"], ["y"], domain=MS)],
        [helper.make_node("Add", ["x", "bias"], ["s"]), helper.make_node("Gelu", ["s"], ["y"], approximate="tanh")],
    ),
    (  # SkipSimplifiedLayerNormalization: x + skip, then RMS normalization (ONNX's RMSNormalization)
        [helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["y"], domain=MS)],
        [helper.make_node("Add", ["x", "skip"], ["s"]), helper.make_node("RMSNormalization", ["s", "gamma"], ["y"])],
    ),
], ids=["SkipLayerNormalization", "BiasGelu", "FastGelu", "SkipSimplifiedLayerNormalization"])
def test_a_fused_operator_counts_what_its_written_out_form_counts(fused, written):
    def total(nodes):
        report = analyze_model(_graph(nodes, _NORM, _X, opset=23))
        assert not report.flops.uncounted, report.flops.uncounted
        return report.flops.total

    assert total(fused) == total(written)


# --- ONNX Runtime's newer LLM fusions ------------------------------------------------------------


def test_swiglu_scaled_silu_and_gated_rms_norm():
    # SwiGLU: α·G, sigmoid (4), G·σ, L + β, the product = 8; the clamps of a limit 3 more
    assert flops("SwiGLU", [("gate", (2, 8)), ("up", (2, 8))], domain=MS, limit=7.0) == 16 * (8 + 3)
    assert flops("SwiGLU", [("gate", (2, 16))], domain=MS) == 16 * 8  # both halves in gate: 16 outputs
    assert shapes("SwiGLU", [("gate", (2, 16))], [("Y", None)])[0][1] == (2, 8)
    assert flops("ScaledSiLU", [("X", (3, 5))], domain=MS) == 15 * (1 + 5)  # the scale, then x·sigmoid(x)
    # GatedRMSNorm over groups of C = 8 of 64 elements: RMS (3E + 3G), scale E, SiLU(gate) 5E, × gate E
    gated = [("X", (2, 32)), ("scale", (8,)), ("gate", (2, 32))]
    assert flops("GatedRMSNorm", gated, domain=MS) == (3 * 64 + 3 * 8) + 64 + (5 + 1) * 64
    assert flops("GatedRMSNorm", gated, domain=MS, activation="sigmoid") == (3 * 64 + 3 * 8) + 64 + (4 + 1) * 64


def test_the_older_and_channels_last_fused_forms():
    assert flops("TransposeMatMul", [("A", (2, 3)), ("B", (4, 3))], domain=MS, transB=1) == 2 * 2 * 4 * 3
    assert flops("FusedMatMulActivation", [("A", (2, 3)), ("B", (3, 4))], domain=MS,
                 activation="Sigmoid") == 2 * 2 * 4 * 3 + 4 * (2 * 4)
    # NhwcFusedConv: (1, 8, 8, 3) channels-last, 4 filters 3×3 padded: 8·8·4 outputs of 27 MACs, + ReLU each
    inputs = [("X", (1, 8, 8, 3)), ("W", (4, 3, 3, 3))]
    assert flops("NhwcFusedConv", inputs, domain=MS, pads=[1, 1, 1, 1], activation="Relu") == 256 * 2 * 27 + 256
    assert shapes("NhwcFusedConv", inputs, [("Y", None)], pads=[1, 1, 1, 1])[0][1] == (1, 8, 8, 4)


def _llm_block(fused: bool, m_shape=(1, 5, 64), k=64, nq=64, nkv=16, inter=128) -> onnx.ModelProto:
    """An attention input projection and a gated MLP as ONNX Runtime's newest LLM builds fuse
    them (MatMulNBitsQkv, MatMulNBitsMlp), or written out as SkipSimplifiedLayerNormalization
    and separate MatMulNBits; 4-bit weights in blocks of 32."""
    inits, nodes = {"gamma": np.ones(k, np.float32)}, []

    def packed(name, n, width_k=k):
        inits[f"{name}_B"] = np.zeros((n, width_k // 32, 16), np.uint8)
        inits[f"{name}_s"] = np.ones(n * width_k // 32, np.float32)
        inits[f"{name}_bias"] = np.zeros(n, np.float32)
        return [f"{name}_B", f"{name}_s", f"{name}_bias"]

    def nbits(x, name, n, out, width_k=k):
        nodes.append(helper.make_node("MatMulNBits", [x, *packed(name, n, width_k)[:2], "", "", f"{name}_bias"],
                                      [out], domain=MS, K=width_k, N=n, bits=4, block_size=32))

    if fused:
        nodes.append(helper.make_node("MatMulNBitsQkv", ["x", "skip", "gamma", *packed("q", nq), *packed("k", nkv),
                                                         *packed("v", nkv)], ["q", "k", "v", "sum"], domain=MS,
                                      K=k, Nq=nq, Nkv=nkv, bits=4, block_size=32))
        nodes.append(helper.make_node("MatMulNBitsMlp", ["sum", "", "gamma", *packed("gate", inter), *packed("up", inter)],
                                      ["h"], domain=MS, K=k, N=inter, activation="silu", bits=4, block_size=32))
    else:
        nodes.append(helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["xn", "", "", "sum"],
                                      domain=MS))
        for name, n in (("q", nq), ("k", nkv), ("v", nkv)):
            nbits("xn", name, n, name)
        nodes.append(helper.make_node("SimplifiedLayerNormalization", ["sum", "gamma"], ["sn"], axis=-1))
        nbits("sn", "gate", inter, "g")
        nbits("sn", "up", inter, "u")
        nodes += [helper.make_node("Sigmoid", ["g"], ["gs"]), helper.make_node("Mul", ["g", "gs"], ["silu"]),
                  helper.make_node("Mul", ["silu", "u"], ["h"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(m_shape)) for n in ("x", "skip")]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("q", "k", "v", "h")]
    graph = helper.make_graph(nodes, "llm", inputs, outputs, [numpy_helper.from_array(v, n) for n, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def test_fused_4_bit_projections_count_what_their_separate_projections_count():
    fused, written = analyze_model(_llm_block(fused=True)), analyze_model(_llm_block(fused=False))
    assert not fused.flops.uncounted and not written.flops.uncounted
    assert fused.flops.total == written.flops.total
    # the same 4-bit weights: Q 64×64, K and V 64×16, gate and up 64×128, as values not bytes
    weights = 64 * 64 + 2 * 64 * 16 + 2 * 64 * 128
    assert fused.params.by_dtype["uint4"] == written.params.by_dtype["uint4"] == weights
    assert fused.params.total == written.params.total
    assert fused.params.quantization == written.params.quantization == weights // 32  # a scale per block
    shapes_of = {n.name: n.bytes_written for n in fused.nodes}
    assert shapes_of["MatMulNBitsQkv->q"] == 5 * (64 + 16 + 16 + 64) * 4  # Q, K, V and the skip sum, float32


def test_gemma_and_multimodal_rotary_embeddings():
    emb, q, k = ("emb", (1, 5, 16)), ("q", (1, 4, 5, 16)), ("k", (1, 2, 5, 16))
    # sin and cos of emb (80 each), then q·cos + q_rot·sin (3 per element) for q (320) and k (160)
    assert flops("GemmaRotaryEmbedding", [emb, q, ("q_rot", (1, 4, 5, 16)), k, ("k_rot", (1, 2, 5, 16))],
                 domain=MS) == 2 * 80 + 3 * (320 + 160)
    out = shapes("GemmaRotaryEmbedding", [emb, q, ("q_rot", None), k, ("k_rot", None)], [("o1", None), ("o2", None)])
    assert [o[1] for o in out] == [(1, 4, 5, 16), (1, 2, 5, 16)]
    # M-RoPE rotates as RoPE does: here 32 of each head's 64 dims, 2 heads over (1, 3, 128)
    inputs = [("input", (1, 3, 128)), ("position_ids", (3, 1, 3)), ("cos", (64, 16)), ("sin", (64, 16))]
    assert flops("MRotaryEmbedding", inputs, domain=MS, num_heads=2, rotary_embedding_dim=32) == 3 * 384 * 32 // 64


def test_the_older_contrib_integer_complex_and_fourier_operators():
    # MatMulInteger16: a (3×8)·(8×5) product into int32
    assert flops("MatMulInteger16", [("A", (3, 8)), ("B", (8, 5))], domain=MS) == 2 * 3 * 5 * 8
    assert shapes("MatMulInteger16", [("A", (3, 8)), ("B", (8, 5))], [("Y", None)])[0] == (TensorProto.INT32, (3, 5))
    # MulInteger: (A − A_zp)·(B − B_zp) over 4×6 outputs; without zero points, the product alone
    assert flops("MulInteger", [("A", (4, 6)), ("A_zp", ()), ("B", (6,)), ("B_zp", ())], domain=MS) == 3 * 24
    assert flops("MulInteger", [("A", (4, 6)), ("", None), ("B", (6,))], domain=MS) == 24
    # ReduceSumInteger over axis 1 of (2, 5, 3): 15 sums of 5 → 2·3·(5 − 1) adds
    assert flops("ReduceSumInteger", [("data", (2, 5, 3))], domain=MS, axes=[1]) == 2 * 3 * 4
    assert shapes("ReduceSumInteger", [("data", (2, 5, 3))], [("Y", None)], axes=[1], keepdims=0)[0][1] == (2, 3)
    # ComplexMul: 6 FLOPs per complex product, (2, 10, 2) pairs = 20 products
    assert flops("ComplexMul", [("A", (2, 10, 2)), ("B", (2, 10, 2))], domain=MS) == 6 * 20
    # TorchEmbedding: rows moved, no arithmetic; one 8-wide row per index
    assert flops("TorchEmbedding", [("weight", (100, 8)), ("indices", (2, 7))], domain=MS) == 0
    assert shapes("TorchEmbedding", [("weight", (100, 8)), ("indices", (2, 7))], [("Y", None)])[0][1] == (2, 7, 8)
    # IsAllFinite: one test per element of each input
    assert flops("IsAllFinite", [("a", (3, 4)), ("b", (5,))], domain=MS) == 17


def test_rfft_and_irfft_count_as_real_ffts():
    import math

    # 3 transforms of 16 real points: 2.5·16·log2(16) each; normalized scales the 9 complex outputs
    assert flops("Rfft", [("X", (3, 16))], domain=MS) == round(3 * 2.5 * 16 * math.log2(16))
    assert flops("Rfft", [("X", (3, 16))], domain=MS, normalized=1) == round(3 * 2.5 * 16 * 4) + 3 * 2 * 9
    assert shapes("Rfft", [("X", (3, 16))], [("Y", None)])[0][1] == (3, 9, 2)
    # and back: 9 frequencies are 16 real points
    assert flops("Irfft", [("X", (3, 9, 2))], domain=MS) == round(3 * 2.5 * 16 * 4)
    assert shapes("Irfft", [("X", (3, 9, 2))], [("Y", None)])[0][1] == (3, 16)


def test_qlinear_reduce_mean_and_where():
    # ReduceMean over axis 1 of (2, 6, 4): 8 outputs of 6 values: 8·5 integer adds, then per output
    # the zero-point correction and the requantization (1 + 3)
    inputs = [("data", (2, 6, 4)), *SCALARS]
    assert flops("QLinearReduceMean", inputs, domain=MS, axes=[1], keepdims=0) == 8 * 5 + 8 * (1 + 3)
    assert shapes("QLinearReduceMean", inputs, [("Y", None)], axes=[1])[0][1] == (2, 1, 4)
    # Where over (3, 4) from a (3, 1) condition: dequantize both choices (2 + 2), quantize (3)
    where = [("cond", (3, 1)), ("A", (3, 4)), ("as", ()), ("az", ()), ("B", (4,)), ("bs", ()), ("bz", ()),
             ("zs", ()), ("zz", ())]
    assert flops("QLinearWhere", where, domain=MS) == 12 * 7
    assert shapes("QLinearWhere", where, [("Z", None)])[0][1] == (3, 4)


def test_onnx_runtime_linear_attention_and_causal_conv_count_as_onnx_forms():
    # 2 query and 2 KV heads of d_k = d_v = 8 over (1, 3) tokens, the linear rule: per token each
    # KV head updates its 8×8 state (2·64), each query head reads it out (2·64 + 8)
    q, k, v = ("q", (1, 3, 16)), ("k", (1, 3, 16)), ("v", (1, 3, 16))
    heads = dict(q_num_heads=2, kv_num_heads=2, update_rule="linear")
    expected = 3 * (2 * 2 * 64 + 2 * (2 * 64 + 8))
    assert flops("LinearAttention", [q, k, v], domain=MS, **heads) == flops("LinearAttention", [q, k, v], **heads) \
        == expected
    out, state = shapes("LinearAttention", [q, k, v], [("Y", None), ("S", None)], **heads)
    assert (out[1], state[1]) == ((1, 3, 16), (1, 2, 8, 8))
    with pytest.raises(Uncountable, match="state_window"):
        flops("LinearAttention", [q, k, v], domain=MS, state_window=4, **heads)
    # a depthwise 4-tap causal convolution over (1, 6 channels, 10 steps) with bias and SiLU
    conv = [("x", (1, 6, 10)), ("w", (6, 1, 4)), ("b", (6,))]
    assert flops("CausalConvWithState", conv, domain=MS, activation="silu") == 60 * (2 * 4 + 1 + 5)
    y, present = shapes("CausalConvWithState", conv, [("Y", None), ("S", None)])
    assert (y[1], present[1]) == ((1, 6, 10), (1, 6, 3))
    with pytest.raises(Uncountable, match="channels_last"):
        flops("CausalConvWithState", conv, domain=MS, channels_last=1)


def test_onnx_runtime_forms_of_standard_operators_move_data_and_are_shaped():
    from cost_helpers import ints

    # GatherND: indices (2, 3, 2) pick (2, 3) slices of 4 from data (5, 6, 4)
    gather = [("data", (5, 6, 4)), ("indices", (2, 3, 2))]
    assert flops("GatherND", gather, domain=MS) == 0
    assert shapes("GatherND", gather, [("Y", None)])[0][1] == (2, 3, 4)
    # Pad: 1 before and 2 after the second dim of (3, 4)
    pad = make_ctx("Pad", [("data", (3, 4)), ("pads", (4,))], [("Y", None)], domain=MS,
                   constants={"pads": ints(0, 1, 0, 2)})
    assert shape_function(MS, "Pad")(pad)[0][1] == (3, 7)
    # Range: 2, 5, 8 (start 2, limit 10, delta 3)
    rng = make_ctx("Range", [("start", ()), ("limit", ()), ("delta", ())], [("Y", None)], domain=MS,
                   constants={"start": ints(2), "limit": ints(10), "delta": ints(3)})
    assert shape_function(MS, "Range")(rng)[0][1] == (3,)
    # GridSample: as ONNX's, bilinear over (1, 3, 8, 8) sampled at a (1, 5, 6) grid: 3 products and
    # 3 adds of 4 points per output (2·4 − 1 = 7), 90 outputs
    sample = [("X", (1, 3, 8, 8)), ("grid", (1, 5, 6, 2))]
    assert flops("GridSample", sample, domain=MS) == flops("GridSample", sample) == 7 * 1 * 3 * 5 * 6
    assert shapes("GridSample", sample, [("Y", None)])[0][1] == (1, 3, 5, 6)
    with pytest.raises(Uncountable, match="data"):
        flops("Unique", [("x", (10,))], domain=MS)
    # ExpandDims: an Unsqueeze at a constant axis, -1 being after the last dim
    expand = make_ctx("ExpandDims", [("X", (2, 3)), ("axis", ())], [("Y", None)], domain=MS,
                      constants={"axis": ints(-1)})
    assert shape_function(MS, "ExpandDims")(expand)[0][1] == (2, 3, 1)
    assert flops("ExpandDims", [("X", (2, 3)), ("axis", ())], domain=MS) == 0


def test_compiled_and_paged_graphs_say_why_they_are_not_counted():
    with pytest.raises(Uncountable, match="compiled for one execution provider"):
        flops("EPContext", [("x", (1, 3))], domain=MS)
    with pytest.raises(Uncountable, match="block_table"):
        flops("PagedAttention", [("q", (4, 64)), ("k", (4, 16)), ("v", (4, 16))], domain=MS, num_heads=4)
