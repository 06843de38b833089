"""ONNX Runtime's com.microsoft operators for channels-last convolution, int8 BERT attention,
step-by-step decoding and generation: FLOPs formulas, shape functions, uncounted reasons.

Expected values are worked out here from the operators' definitions: a multiply-accumulate
is 2 FLOPs, a softmax 5 per element, scaled dot-product attention over B·N·S·T scores
2·d + 5 + 2·d_v per score, a dequantization of an integer product 1 multiply.
"""

from __future__ import annotations

import numpy as np
import pytest

from cost_helpers import MS, flops, shapes
from mkdocs_onnx.analysis.costs import Uncountable


def _sdpa(b, n, s, t, d, d_v):
    scores = b * n * s * t
    return 2 * scores * d + 5 * scores + 2 * scores * d_v


# --- channels-last convolution and pooling ---------------------------------------------


def test_nhwc_conv_counts_like_conv_on_channels_last_tensors():
    x, w, bias = ("X", (1, 8, 8, 3)), ("W", (4, 3, 3, 3)), ("B", (4,))
    # 3×3 kernel, pads 1: 8×8 positions × 4 filters, each 3·3·3 MACs, + a bias add
    assert flops("NhwcConv", [x, w, bias], domain=MS, pads=[1, 1, 1, 1]) == 2 * (8 * 8 * 4) * 27 + 8 * 8 * 4
    assert shapes("NhwcConv", [x, w, bias], [("Y", None)], pads=[1, 1, 1, 1])[0][1] == (1, 8, 8, 4)
    # stride 2, no padding: (8 − 3) // 2 + 1 = 3 per side
    assert flops("NhwcConv", [x, w], domain=MS, strides=[2, 2]) == 2 * (3 * 3 * 4) * 27
    assert shapes("NhwcConv", [x, w], [("Y", None)], strides=[2, 2])[0][1] == (1, 3, 3, 4)
    # two groups: each of 6 filters sees 2 of the 4 channels
    grouped = [("X", (1, 5, 5, 4)), ("W", (6, 2, 1, 1))]
    assert flops("NhwcConv", grouped, domain=MS, group=2) == 2 * (5 * 5 * 6) * 2


def test_nhwc_conv_shape_keeps_batch_and_channels_when_spatial_dims_are_symbolic():
    out = shapes("NhwcConv", [("X", (1, "h", "w", 3)), ("W", (4, 3, 3, 3))], [("Y", None)])
    assert out[0][1] == (1, None, None, 4)


def test_nhwc_max_pool():
    x = ("X", (1, 6, 6, 8))  # 2×2 windows, stride 2: 3×3 positions per channel, 3 comparisons each
    assert flops("NhwcMaxPool", [x], domain=MS, kernel_shape=[2, 2], strides=[2, 2]) == (3 * 3 * 8) * 3
    assert shapes("NhwcMaxPool", [x], [("Y", None)], kernel_shape=[2, 2], strides=[2, 2])[0][1] == (1, 3, 3, 8)


def test_contrib_qlinear_conv_with_channels_last():
    scalars = [("xs", ()), ("xz", ())]
    inputs = [("x", (1, 4, 4, 2)), *scalars, ("w", (3, 2, 1, 1)), ("ws", ()), ("wz", ()), ("ys", ()), ("yz", ())]
    out = 4 * 4 * 3
    assert flops("QLinearConv", inputs, domain=MS, channels_last=1) == 2 * out * 2 + 3 * out  # MACs, requantize
    assert flops("QLinearConv", [*inputs, ("B", (3,))], domain=MS, channels_last=1) == 2 * out * 2 + out + 3 * out
    assert shapes("QLinearConv", inputs, [("y", None)], channels_last=1)[0][1] == (1, 4, 4, 3)
    assert shapes("QLinearConv", [("x", (1, 2, 4, 4)), *inputs[1:]], [("y", None)])[0][1] == (1, 3, 4, 4)


def test_conv_transpose_with_dynamic_pads():
    # every input element (2 channels × 3×3) times the 4·3·3 weights of its group
    macs = 2 * (2 * 3 * 3) * (4 * 3 * 3)
    x, w = ("X", (1, 2, 3, 3)), ("W", (2, 4, 3, 3))
    assert flops("ConvTransposeWithDynamicPads", [x, w], domain=MS) == macs
    # with a bias the output size matters: (3 − 1) + (3 − 1) + 1 − 1 − 1 = 3 per side, 4 channels
    pads = {"P": np.array([1, 1, 1, 1], dtype=np.int64)}
    with_bias = [x, w, ("P", (4,)), ("B", (4,))]
    assert flops("ConvTransposeWithDynamicPads", with_bias, domain=MS, constants=pads) == macs + 4 * 3 * 3
    with pytest.raises(Uncountable, match="computed at run time"):
        flops("ConvTransposeWithDynamicPads", with_bias, domain=MS)


# --- int8 BERT attention -------------------------------------------------------------------


QATTENTION = [("input", (2, 3, 8)), ("weight", (8, 24)), ("bias", (24,)), ("input_scale", ()), ("weight_scale", ())]


def test_q_attention_counts_attention_and_dequantizes_the_projection():
    # B 2, S 3, input hidden 8, Q/K/V 8 each (N 2 heads of 4)
    projection = 2 * 2 * 3 * 8 * 24 + 2 * 3 * 24  # MACs, bias add
    dequantize = 2 * 3 * 24
    assert flops("QAttention", QATTENTION, domain=MS, num_heads=2) == projection + _sdpa(2, 2, 3, 3, 4, 4) + dequantize
    past = [("", None), ("", None), ("", None), ("past", (2, 2, 2, 5, 4))]  # mask_index and zero points absent
    with_past = flops("QAttention", [*QATTENTION, *past], domain=MS, num_heads=2)
    assert with_past == projection + _sdpa(2, 2, 3, 3 + 5, 4, 4) + dequantize
    out = shapes("QAttention", [*QATTENTION, *past], [("output", None), ("present", None)], num_heads=2)
    assert [shape for _, shape in out] == [(2, 3, 8), (2, 2, 2, 8, 4)]


# --- one-token decoding --------------------------------------------------------------------


def test_decoder_masked_self_attention_counts_like_attention_for_one_token():
    inputs = [("input", (2, 1, 8)), ("weights", (8, 24)), ("bias", (24,)), ("", None), ("past", (2, 2, 2, 5, 4))]
    expected = 2 * 2 * 1 * 8 * 24 + 2 * 1 * 24 + _sdpa(2, 2, 1, 5 + 1, 4, 4)
    assert flops("DecoderMaskedSelfAttention", inputs, domain=MS, num_heads=2) == expected
    # a shared max-length buffer: the true past length is input 6
    shared = [*inputs[:4], ("past", (2, 2, 2, 16, 4)), ("", None), ("past_len", ())]
    length = {"past_len": np.array(5, dtype=np.int32)}
    assert flops("DecoderMaskedSelfAttention", shared, domain=MS, num_heads=2, past_present_share_buffer=1,
                 constants=length) == expected
    with pytest.raises(Uncountable, match="past sequence length"):
        flops("DecoderMaskedSelfAttention", shared, domain=MS, num_heads=2, past_present_share_buffer=1)


DMMHA_SELF = [("query", (2, 1, 8)), ("key", (2, 1, 8)), ("value", (2, 1, 8)), ("", None), ("", None),
              ("past_key", (2, 2, 5, 4)), ("past_value", (2, 2, 5, 4))]


def test_decoder_masked_multi_head_attention_self_cross_and_packed():
    assert flops("DecoderMaskedMultiHeadAttention", DMMHA_SELF, domain=MS, num_heads=2) == _sdpa(2, 2, 1, 6, 4, 4)
    # Q, K and V bias adds (input 10): B·S·N·d for Q, B·L·N·(d + d_v) for K and V
    biased = [*DMMHA_SELF, ("", None), ("", None), ("", None), ("bias", (24,))]
    assert flops("DecoderMaskedMultiHeadAttention", biased, domain=MS, num_heads=2) == \
        _sdpa(2, 2, 1, 6, 4, 4) + 2 * 1 * 2 * 4 + 2 * 1 * 2 * (4 + 4)
    # an additive attention bias (input 4): one add per score
    with_bias = [*DMMHA_SELF[:4], ("attention_bias", (2, 2, 1, 6)), *DMMHA_SELF[5:]]
    assert flops("DecoderMaskedMultiHeadAttention", with_bias, domain=MS, num_heads=2) == \
        _sdpa(2, 2, 1, 6, 4, 4) + 2 * 2 * 1 * 6
    # cross attention: keys and values already projected, (B, N, 10 encoder positions, d)
    cross = [("query", (2, 1, 8)), ("key", (2, 2, 10, 4)), ("value", (2, 2, 10, 4))]
    assert flops("DecoderMaskedMultiHeadAttention", cross, domain=MS, num_heads=2) == _sdpa(2, 2, 1, 10, 4, 4)
    # packed QKV in the query: 24 = 3 × 2 heads × 4
    packed = [("query", (2, 1, 24)), ("", None), ("", None), ("", None), ("", None), *DMMHA_SELF[5:]]
    assert flops("DecoderMaskedMultiHeadAttention", packed, domain=MS, num_heads=2) == _sdpa(2, 2, 1, 6, 4, 4)


def test_decoder_masked_multi_head_attention_shapes():
    out = shapes("DecoderMaskedMultiHeadAttention", DMMHA_SELF,
                 [("output", None), ("present_key", None), ("present_value", None)], num_heads=2)
    assert [shape for _, shape in out] == [(2, 1, 8), (2, 2, 6, 4), (2, 2, 6, 4)]
    shared = [*DMMHA_SELF[:5], ("past_key", (2, 2, 16, 4)), ("past_value", (2, 2, 16, 4)), ("past_len", ())]
    ctx_shapes = shapes("DecoderMaskedMultiHeadAttention", shared, [("output", None), ("present_key", None)],
                        num_heads=2, past_present_share_buffer=1, constants={"past_len": np.array(5, np.int32)})
    assert ctx_shapes[1][1] == (2, 2, 16, 4)  # the same max-length buffer


# --- what follows the data --------------------------------------------------------------------


@pytest.mark.parametrize("op,words", [
    ("BeamSearch", "once per generated token"), ("GreedySearch", "once per generated token"),
    ("Sampling", "once per generated token"), ("WhisperBeamSearch", "once per generated token"),
    ("PackedAttention", "each packed sequence"), ("PackedMultiHeadAttention", "each packed sequence"),
    ("SparseAttention", "block layout"), ("LongformerAttention", "global input"),
])
def test_operators_whose_work_follows_the_data_say_why(op, words):
    with pytest.raises(Uncountable, match=words):
        flops(op, [("input_ids", (1, 8))], domain=MS)


# --- int8 BERT embeddings and 4-bit weights -------------------------------------------------------


def _q_embed_inputs(segment: bool) -> list:
    ids = [("ids", (2, 3)), ("segment_ids", (2, 3)) if segment else ("", None)]
    tables = [("word", (100, 8)), ("position", (16, 8)), ("segment", (2, 8)) if segment else ("", None),
              ("gamma", (8,)), ("beta", (8,)), ("", None)]
    scales = [(name, ()) for name in ("ws", "ps", "ss", "gs", "bs", "wz", "pz", "sz", "gz", "bz")]
    return ids + tables + scales


def test_q_embed_layer_normalization_dequantizes_what_it_gathers():
    e, g = 2 * 3 * 8, 2 * 3  # elements and tokens
    layer_norm = 5 * e + 3 * g + 2 * e  # normalize, then gamma and beta
    two = (e + layer_norm) + 2 * (2 * e) + 2 * (2 * 8)  # word + position; dequantize both rows and gamma, beta
    assert flops("QEmbedLayerNormalization", _q_embed_inputs(False), domain=MS) == two
    three = (2 * e + layer_norm) + 2 * (3 * e) + 2 * (2 * 8)
    assert flops("QEmbedLayerNormalization", _q_embed_inputs(True), domain=MS) == three
    out = shapes("QEmbedLayerNormalization", _q_embed_inputs(False), [("out", None), ("mask_index", None)])
    assert [shape for _, shape in out] == [(2, 3, 8), (2,)]


def test_matmul_bnb4():
    a = ("A", (2, 5, 64))  # M = 10 rows, K = 64, N = 32 outputs
    inputs = [a, ("B", (64 * 32 // 2,)), ("absmax", (64 * 32 // 64,))]
    attrs = dict(K=64, N=32, block_size=64, quant_type=1)
    assert flops("MatMulBnb4", inputs, domain=MS, **attrs) == 2 * 10 * 32 * 64 + 32 * 64
    assert shapes("MatMulBnb4", inputs, [("Y", None)], **attrs)[0][1] == (2, 5, 32)
    untransposed = [("A", (2, 5, 32)), *inputs[1:]]
    assert shapes("MatMulBnb4", untransposed, [("Y", None)], transB=0, **attrs)[0][1] == (2, 5, 64)


def test_a_channels_last_graph_is_shaped_and_counted_through():
    from onnx import TensorProto, helper, numpy_helper

    from mkdocs_onnx.analysis.analyzer import analyze_model

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    nodes = [helper.make_node("NhwcConv", ["X", "W"], ["C"], domain=MS, pads=[1, 1, 1, 1]),
             helper.make_node("NhwcMaxPool", ["C"], ["Y"], domain=MS, kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "nhwc", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8, 8, 3])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    report = analyze_model(model)
    assert report.flops.uncounted == []
    assert report.flops.total == 2 * (8 * 8 * 4) * 27 + (4 * 4 * 4) * 3
    assert report.graph.outputs[0].shape == [1, 4, 4, 4]
    # peak: the conv's input and output live together: (8·8·3 + 8·8·4) float32 values
    assert report.memory.peak_activation_bytes == (8 * 8 * 3 + 8 * 8 * 4) * 4


# --- WavLM's gated relative position bias ---------------------------------------------------------


def test_gated_relative_position_bias():
    b, n, s, h, d = 2, 4, 5, 8, 6  # batch, heads, positions, head size, gate width
    inputs = [("query_layer", (b, s, n * h)), ("query_bias", (n * h,)), ("rel_pos", (1, n, s, s)),
              ("weight", (h, d)), ("bias", (d,)), ("eco_a", (1, n, 1, 1))]
    rows = b * n * s
    expected = (b * s * n * h  # query + bias
                + 2 * rows * h * d + rows * d  # linear H → D and its bias
                + rows * 2 * (d // 2 - 1)  # view (…, 2, D/2).sum(-1)
                + rows * 2 * 4  # sigmoid of the two sums (neg, exp, add, reciprocal)
                + rows * 4  # gate_u · (gate_r · eco_a − 1) + 2
                + rows * s)  # gate × rel_pos
    assert flops("GatedRelativePositionBias", inputs, domain=MS, num_heads=n) == expected
    assert shapes("GatedRelativePositionBias", inputs, [("Y", None)], num_heads=n)[0][1] == (b, n, s, s)
    packed = [("query_layer", (b * s, n * h)), *inputs[1:], ("token_offset", (b, s))]
    assert flops("GatedRelativePositionBias", packed, domain=MS, num_heads=n) == expected
    with pytest.raises(Uncountable, match="batch"):
        flops("GatedRelativePositionBias", packed[:-1], domain=MS, num_heads=n)


# --- a generation loop: uncounted as a whole, one decoder run counted once its dims are bound ----------


def _greedy_search_model():
    from onnx import TensorProto, helper, numpy_helper

    embedding = numpy_helper.from_array(np.ones((10, 8), np.float32), "E")
    head = numpy_helper.from_array(np.ones((8, 10), np.float32), "W")
    decoder = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["h"]), helper.make_node("MatMul", ["h", "W"], ["logits"])],
        "decoder", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", 10])], [embedding, head])
    node = helper.make_node("GreedySearch", ["input_ids", "max_length"], ["sequences"], domain=MS, decoder=decoder,
                            eos_token_id=2, pad_token_id=0, model_type=0)
    graph = helper.make_graph(
        [node], "generate", [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch_size", "sequence"]),
                             helper.make_tensor_value_info("max_length", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("sequences", TensorProto.INT32, ["batch_size", "max_sequence_length"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def test_a_generation_loop_gives_what_one_decoder_run_costs_once_its_dims_are_bound():
    from mkdocs_onnx.analysis.analyzer import analyze_model

    (unbound,) = analyze_model(_greedy_search_model()).flops.uncounted
    assert "once per generated token" in unbound.reason
    assert "its decoder (once per generated token) has 1 uncounted node(s): bind its dims" in unbound.reason
    # the decoder's own dims, named in dims: like any other: 4 sequences, one new token each
    report = analyze_model(_greedy_search_model(), dims={"batch": 4, "seq": 1})
    (bound,) = report.flops.uncounted
    assert bound.reason.endswith(f"its decoder (once per generated token) costs {2 * 4 * 1 * 8 * 10:,} FLOPs a run")
    assert report.dims["batch"] == 4 and report.dims["seq"] == 1  # reported with the graph inputs' dims
    assert report.params.total == 10 * 8 + 8 * 10  # the decoder's embedding and head
    assert "elsewhere" not in analyze_model(_greedy_search_model(), dims={"elsewhere": 3}).dims  # no dim of the model


def test_t5_relative_position_bias():
    # 32 buckets for 8 heads; 6 query and 6 key positions
    inputs = [("bias_table", (32, 8)), ("query_length", ()), ("key_length", ())]
    lengths = {"query_length": np.array(6, np.int64), "key_length": np.array(6, np.int64)}
    # per bias element: subtract, compare, add or negate, compare, divide, log, divide, multiply, add, min, add
    assert flops("RelativePositionBias", inputs, domain=MS, constants=lengths, max_distance=128) == 11 * 8 * 6 * 6
    assert shapes("RelativePositionBias", inputs, [("Y", None)], constants=lengths)[0][1] == (1, 8, 6, 6)
    with pytest.raises(Uncountable, match="query/key length"):
        flops("RelativePositionBias", inputs, domain=MS, max_distance=128)
