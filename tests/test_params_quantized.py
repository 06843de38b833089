"""Parameters of quantized models: packed low-bit weights count as the values they hold,
and scales and zero points are counted apart, so a quantized model has the parameters
of its float original. Every expected figure is worked out from the operator's layout."""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from helpers import model, value
from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.render.terminal import render_text_card

MS = "com.microsoft"


def ms_model(nodes, inputs, outputs, inits):
    return model(nodes, inputs, outputs, inits, extra_opsets=[(MS, 1)])


def uint8(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.uint8), name)


def floats(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype), name)


def int8(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.int8), name)


# --- Packed weights ---------------------------------------------------------------------


def nbits_model(k, n, block, bits=4, zero_points=True):
    """One MatMulNBits as ONNX Runtime's 4-bit LLM exports write it: B is
    (N, ⌈K/block⌉, block·bits/8) bytes, scales (N·⌈K/block⌉,), zero points packed per row."""
    blocks = math.ceil(k / block)
    inits = [uint8("B", (n, blocks, block * bits // 8)), floats("scales", (n * blocks,))]
    inputs = ["A", "B", "scales"]
    if zero_points:
        inits.append(uint8("zp", (n, math.ceil(blocks * bits / 8))))
        inputs.append("zp")
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain=MS, K=k, N=n, bits=bits, block_size=block,
                            name="proj")
    return ms_model([node], [value("A", [1, k])], [value("Y", [1, n])], inits)


def test_4_bit_weights_count_the_values_they_hold_not_their_bytes():
    r = analyze_model(nbits_model(k=256, n=128, block=32))
    assert r.params.total == 256 * 128  # K·N weights, two to a byte
    assert r.params.by_dtype == {"uint4": 256 * 128}
    assert next(n for n in r.nodes if n.name == "proj").params == 256 * 128
    # one scale and one (4-bit) zero point per block of 32 along K: 128 rows × 8 blocks each
    assert r.params.quantization == 2 * 128 * 8
    # the bytes as stored: the packed weights, the float32 scales, the zero points two to a byte
    assert r.memory.weights_bytes == 128 * 8 * 16 + 128 * 8 * 4 + 128 * 4


def test_a_last_partial_block_pads_the_bytes_but_not_the_parameters():
    r = analyze_model(nbits_model(k=100, n=64, block=32, zero_points=False))
    # 4 blocks of 16 bytes per row store 128 values, of which 100 are weights
    assert r.params.total == 100 * 64
    assert r.memory.weights_bytes == 64 * 4 * 16 + 64 * 4 * 4


def test_8_bit_weights_are_one_to_a_byte():
    r = analyze_model(nbits_model(k=64, n=32, block=32, bits=8, zero_points=False))
    assert r.params.total == 64 * 32 and r.params.by_dtype == {"uint8": 64 * 32}


def test_block_quantized_embeddings_unpack_by_their_bits():
    vocab, hidden, block = 50, 32, 16
    inits = [uint8("table", (vocab, hidden // 2)), floats("scales", (vocab, hidden // block))]
    node = helper.make_node("GatherBlockQuantized", ["table", "ids", "scales"], ["E"], domain=MS,
                            bits=4, block_size=block, quantize_axis=1)
    r = analyze_model(ms_model([node], [value("ids", [1, 7], TensorProto.INT64)], [value("E", None)], inits))
    assert r.params.total == vocab * hidden and r.params.by_dtype == {"uint4": vocab * hidden}
    assert r.params.quantization == vocab * hidden // block


def test_bitsandbytes_nf4_weights_name_their_code():
    k, n, block = 64, 16, 32
    inits = [uint8("B", (k * n // 2,)), floats("absmax", (k * n // block,))]
    node = helper.make_node("MatMulBnb4", ["A", "B", "absmax"], ["Y"], domain=MS, K=k, N=n,
                            block_size=block, quant_type=1)
    r = analyze_model(ms_model([node], [value("A", [1, k])], [value("Y", [1, n])], inits))
    assert r.params.by_dtype == {"nf4": k * n} and r.params.quantization == k * n // block


def qmoe_model(**attrs):
    """4 experts, hidden 8, inter 16: FC1 (E, inter, hidden·bits/8), FC2 (E, hidden, inter·bits/8)."""
    experts, hidden, inter = 4, 8, 16
    fc1_bits = attrs.get("fc1_expert_weight_bits") or attrs.get("expert_weight_bits", 4)
    fc2_bits = attrs.get("fc2_expert_weight_bits") or attrs.get("expert_weight_bits", 4)
    inits = [uint8("w1", (experts, inter, hidden * fc1_bits // 8)), floats("s1", (experts, inter)),
             uint8("w2", (experts, hidden, inter * fc2_bits // 8)), floats("s2", (experts, hidden))]
    node = helper.make_node("QMoE", ["X", "router", "w1", "s1", "", "w2", "s2"], ["Y"], domain=MS, k=2,
                            activation_type="relu", **attrs)
    inputs = [value("X", [3, hidden]), value("router", [3, experts])]
    return ms_model([node], inputs, [value("Y", [3, hidden])], inits)


def test_qmoe_experts_unpack_each_fc_by_its_own_width():
    weights = 4 * 16 * 8 + 4 * 8 * 16  # FC1 and FC2 of 4 experts
    four = analyze_model(qmoe_model(expert_weight_bits=4))
    assert four.params.total == weights and four.params.by_dtype == {"uint4": weights}
    assert four.params.quantization == 4 * 16 + 4 * 8
    mixed = analyze_model(qmoe_model(expert_weight_bits=4, fc2_expert_weight_bits=8))
    assert mixed.params.by_dtype == {"uint4": 4 * 16 * 8, "uint8": 4 * 8 * 16}
    # the FLOPs follow the values, not the bytes: the same model at either width costs the same,
    # except for dequantizing the weights of the experts that run (3 tokens × top-2 ≥ 4 experts: all)
    assert mixed.flops.total == four.flops.total


# --- Scales and zero points -----------------------------------------------------------------


def test_a_per_channel_qlinear_conv_has_the_parameters_of_its_float_conv():
    inits = [
        floats("xs", ()), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
        int8("w", (8, 3, 3, 3)), floats("ws", (8,)), int8("wz", (8,)),
        floats("ys", ()), numpy_helper.from_array(np.array(0, np.uint8), "yz"),
        numpy_helper.from_array(np.ones(8, np.int32), "b"),
    ]
    node = helper.make_node("QLinearConv", ["X", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["Y"])
    r = analyze_model(model([node], [value("X", [1, 3, 8, 8], TensorProto.UINT8)],
                            [value("Y", None, TensorProto.UINT8)], inits))
    assert r.params.total == 8 * 3 * 3 * 3 + 8  # the float Conv's weights and bias
    assert r.params.by_dtype == {"int8": 216, "int32": 8}
    assert r.params.quantization == 1 + 1 + 8 + 8 + 1 + 1  # input, per-channel weight, output
    assert r.params.constants == 0
    assert r.memory.weights_bytes == 216 + 8 * 4 + (4 + 1 + 8 * 4 + 8 + 4 + 1)


def test_dynamic_quantization_as_onnx_runtime_writes_it_keeps_the_float_parameter_count():
    """quantize_dynamic's MatMul: the activations quantized at run time, the weight scale
    multiplied with theirs, the integer product rescaled, the float bias added."""
    k, n = 16, 4
    inits = [int8("wq", (k, n)), floats("w_scale", ()), int8("w_zp", ()), floats("bias", (n,))]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["X"], ["xq", "x_scale", "x_zp"]),
        helper.make_node("Mul", ["x_scale", "w_scale"], ["scale"]),
        helper.make_node("MatMulInteger", ["xq", "wq", "x_zp", "w_zp"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["accf", "scale"], ["mm"]),
        helper.make_node("Add", ["mm", "bias"], ["Y"]),
    ]
    r = analyze_model(model(nodes, [value("X", [2, k])], [value("Y", [2, n])], inits))
    assert r.params.total == k * n + n and r.params.by_dtype == {"int8": k * n, "float32": n}
    assert r.params.quantization == 2  # the weight's scale and zero point


def test_a_float_constant_multiplied_elsewhere_stays_a_parameter():
    nodes = [helper.make_node("Mul", ["X", "gain"], ["Y"])]
    r = analyze_model(model(nodes, [value("X", [2, 4])], [value("Y", [2, 4])], [floats("gain", (4,))]))
    assert r.params.total == 4 and r.params.quantization == 0


def test_qlinear_concat_reads_a_scale_and_zero_point_per_input():
    inits = [floats("ys", ()), numpy_helper.from_array(np.array(0, np.uint8), "yz"),
             floats("as", ()), numpy_helper.from_array(np.array(0, np.uint8), "az"),
             numpy_helper.from_array(np.zeros((1, 5), np.uint8), "table"), floats("ts", ()),
             numpy_helper.from_array(np.array(0, np.uint8), "tz")]
    node = helper.make_node("QLinearConcat", ["ys", "yz", "A", "as", "az", "table", "ts", "tz"], ["Y"],
                            domain=MS, axis=1)
    r = analyze_model(ms_model([node], [value("A", [1, 3], TensorProto.UINT8)],
                               [value("Y", None, TensorProto.UINT8)], inits))
    assert r.params.quantization == 6  # the output's, then each input's, scale and zero point
    assert r.params.total == 5  # the constant input: quantized data, counted as weights are


def test_int8_weights_of_contrib_operators_are_parameters():
    hidden, inputs_size = 3, 2
    inits = [int8("W", (1, 4 * hidden, inputs_size)), int8("R", (1, 4 * hidden, hidden)),
             floats("B", (1, 8 * hidden)), floats("ws", (1,)), int8("wz", (1,)), floats("rs", (1,)),
             int8("rz", (1,))]
    node = helper.make_node("DynamicQuantizeLSTM", ["X", "W", "R", "B", "", "", "", "", "ws", "wz", "rs", "rz"],
                            ["Y"], domain=MS, hidden_size=hidden)
    r = analyze_model(ms_model([node], [value("X", [5, 1, inputs_size])], [value("Y", None)], inits))
    assert r.params.total == 4 * hidden * inputs_size + 4 * hidden * hidden + 8 * hidden
    assert r.params.quantization == 4
    # QOrderedMatMul: A, scale_A, B (the int8 weight), scale_B, scale_Y
    inits = [floats("sa", ()), int8("B", (8, 4)), floats("sb", ()), floats("sy", ())]
    node = helper.make_node("QOrderedMatMul", ["A", "sa", "B", "sb", "sy"], ["Y"], domain=MS,
                            order_A=1, order_B=1, order_Y=1)
    r = analyze_model(ms_model([node], [value("A", [2, 8], TensorProto.INT8)], [value("Y", None, TensorProto.INT8)],
                               inits))
    assert r.params.total == 8 * 4 and r.params.quantization == 3


def test_the_cards_say_what_the_scales_and_zero_points_are():
    from mkdocs_onnx.render.card import _notes

    r = analyze_model(nbits_model(k=64, n=32, block=32))
    assert "- Quantization scales and zero points: 128 elements, not parameters" in render_text_card(r)
    assert "- By type: 2,048 uint4" in render_text_card(r)
    assert "quantization" in _notes(r)
    plain = analyze_model(model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", [2])], [value("Y", [2])]))
    assert plain.params.quantization == 0 and "quantization" not in _notes(plain)
    assert "Quantization scales" not in render_text_card(plain) and "By type" not in render_text_card(plain)


def test_summaries_say_how_the_parameters_are_stored_and_may_quote_it():
    from mkdocs_onnx.summary.facts import facts
    from mkdocs_onnx.summary.fallback import fallback_summary
    from mkdocs_onnx.summary.grounding import check

    r = analyze_model(nbits_model(k=64, n=32, block=32))  # 2,048 4-bit weights, 64 scales and 64 zero points
    summary = fallback_summary(r)
    assert "Its parameters are stored quantized: 2,048 as uint4, with 128 scales and zero points." in summary.text
    assert summary.tldr.endswith(", uint4 weights.")
    # a 4-bit LLM keeps embeddings and norms in float: 2,048 uint4, then a float32 32 × 16 head
    m = nbits_model(k=64, n=32, block=32)
    m.graph.node.append(helper.make_node("MatMul", ["Y", "head"], ["Z"]))
    m.graph.initializer.append(numpy_helper.from_array(np.full((32, 16), 0.1, np.float32), "head"))
    m.graph.output[0].CopyFrom(value("Z", [1, 16]))
    assert fallback_summary(analyze_model(m)).tldr.endswith(", 80% of the weights uint4.")  # 2,048 / 2,560
    assert facts(r)["parameters"]["stored_as"] == {"uint4": "2,048"}
    # a language model quoting those figures is grounded; a wrong count is not
    assert check("Its 2,048 4-bit weights come with 128 parameters of scales and zero points.", r) == []
    assert check("Its 2,048 4-bit weights come with 150 parameters of scales and zero points.", r) != []
    plain = analyze_model(model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 4])],
                                [value("Y", [1, 2])], [floats("W", (4, 2))]))
    assert "stored quantized" not in fallback_summary(plain).text and "stored_as" not in facts(plain)["parameters"]


def test_a_malformed_packed_weight_counts_what_is_stored_never_a_negative():
    m = nbits_model(k=64, n=32, block=32, zero_points=False)
    node = m.graph.node[0]
    del node.attribute[:]
    node.attribute.extend([helper.make_attribute("K", -64), helper.make_attribute("N", 32),
                           helper.make_attribute("bits", 4), helper.make_attribute("block_size", 32)])
    r = analyze_model(m)
    assert r.params.total == 32 * 2 * 16 * 2  # the stored bytes, two 4-bit values each


def test_the_card_and_the_csv_show_the_scales_and_zero_points():
    import csv
    import io

    from mkdocs_onnx.render.card import render_card
    from mkdocs_onnx.render.index import models_csv
    from test_render_factory import mnist_ctx
    from test_render_helpers import to_html

    ctx = mnist_ctx()
    plain = to_html(render_card(ctx, []))
    assert "Quantization scales and zero points" not in plain and 'id="fn:quantization"' not in plain
    ctx.report.params.quantization = 6160
    card = to_html(render_card(ctx, []))
    assert "Quantization scales and zero points" in card and "6,160" in card
    assert 'id="fn:quantization"' in card and 'href="#fn:quantization"' in card
    row = list(csv.DictReader(io.StringIO(models_csv([ctx]))))[0]
    assert row["params_quantization"] == "6160"


def test_the_index_marks_a_quantized_model_with_its_weights_type():
    from mkdocs_onnx.render.index import render_index
    from test_render_factory import mnist_ctx
    from test_render_helpers import to_html

    plain, quantized = mnist_ctx(), mnist_ctx()
    quantized.report.params.by_dtype = {"uint4": 5000, "float32": 994}
    assert "<small title=\"stored as" not in to_html(render_index([plain], []))
    index = to_html(render_index([quantized], []))
    assert '<small title="stored as 5,000 uint4, 994 float32">uint4</small>' in index
