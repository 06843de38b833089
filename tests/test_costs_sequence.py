"""FLOPs formulas of recurrent layers, attention fusions and control flow.

Expected values are worked out by hand from the operator definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from cost_helpers import MS, F, cost_of, flops, make_ctx, node_case, shapes
from mkdocs_onnx.analysis.analyzer import analyze_model
from mkdocs_onnx.analysis.costs import SubgraphCost, Uncountable


# --- LSTM / GRU / RNN -----------------------------------------------------------------------

H, I = 8, 10
LSTM_STEP = (
    2 * 4 * H * I  # W·x for 4 gates
    + 2 * 4 * H * H  # R·h for 4 gates
    + 2 * 4 * H  # Wb + Rb
    + 3 * 4 * H  # sigmoid (4 FLOPs) for i, o, f
    + H  # tanh for the cell candidate g
    + 3 * H  # c = f·c + i·g
    + H + H  # h = o·tanh(c)
)


def test_lstm_bidirectional_with_bias():
    seq, batch = 5, 2
    inputs = [("X", (seq, batch, I)), ("W", (2, 4 * H, I)), ("R", (2, 4 * H, H)), ("B", (2, 8 * H))]
    got = flops("LSTM", inputs, hidden_size=H, direction="bidirectional")
    assert got == seq * batch * 2 * LSTM_STEP


def test_lstm_layout_1_and_peepholes_and_hidden_size_from_r():
    seq, batch = 5, 2
    inputs = [("X", (batch, seq, I)), ("W", (1, 4 * H, I)), ("R", (1, 4 * H, H)), ("B", (1, 8 * H)),
              ("", None), ("", None), ("", None), ("P", (1, 3 * H))]
    peepholes = 3 * H + 3 * H  # p ⊙ c and the add for i, f, o
    assert flops("LSTM", inputs, layout=1) == seq * batch * (LSTM_STEP + peepholes)


def test_gru_linear_before_reset_both_ways():
    seq, batch, h, i = 4, 3, 5, 6
    inputs = [("X", (seq, batch, i)), ("W", (2, 3 * h, i)), ("R", (2, 3 * h, h)), ("B", (2, 6 * h))]
    step = (
        2 * 3 * h * i  # W·x for z, r, h
        + 2 * 3 * h * h  # R·h
        + h  # r ⊙ (h or R·h)
        + 2 * 3 * h  # Wb + Rb
        + 2 * h * 4  # sigmoid for z, r
        + h  # tanh for the candidate
        + 4 * h  # (1 - z)·h~ + z·h: sub, mul, mul, add
    )
    assert flops("GRU", inputs, hidden_size=h, direction="bidirectional") == seq * batch * 2 * step
    # linear_before_reset: W·x + r ⊙ (R·h + Rb) needs one more add per unit
    got = flops("GRU", inputs, hidden_size=h, direction="bidirectional", linear_before_reset=1)
    assert got == seq * batch * 2 * (step + h)


def test_rnn_activations():
    seq, h, i = 7, 4, 3
    inputs = [("X", (seq, 1, i)), ("W", (1, h, i)), ("R", (1, h, h)), ("B", (1, 2 * h))]
    base = 2 * h * i + 2 * h * h + 2 * h  # W·x, R·h, two biases
    assert flops("RNN", inputs, hidden_size=h) == seq * (base + h)  # tanh
    assert flops("RNN", inputs, hidden_size=h, activations=["Sigmoid"]) == seq * (base + 4 * h)


def test_rnn_symbolic_sequence_is_named():
    with pytest.raises(Uncountable, match="'seq'"):
        flops("LSTM", [("X", ("seq", 1, I)), ("W", (1, 4 * H, I)), ("R", (1, 4 * H, H))], hidden_size=H)


# --- com.microsoft Attention ----------------------------------------------------------------


def test_attention_packed_weights():
    b, s, h_in, n = 2, 8, 32, 4
    inputs = [("x", (b, s, h_in)), ("w", (h_in, 3 * 32)), ("bias", (3 * 32,))]
    d = 32 // n
    expected = (
        2 * b * s * h_in * 96  # QKV projection
        + b * s * 96  # its bias
        + 2 * b * n * s * s * d  # Q·Kᵀ
        + 5 * b * n * s * s  # softmax
        + 2 * b * n * s * s * d  # ·V
    )
    assert flops("Attention", inputs, domain=MS, num_heads=n) == expected


def test_attention_past_and_qkv_hidden_sizes():
    b, s, h_in, n, past = 2, 8, 32, 4, 6
    inputs = [("x", (b, s, h_in)), ("w", (h_in, 32 + 32 + 64)), ("", None), ("", None), ("past", (2, b, n, past, 8))]
    t, d, d_v = s + past, 8, 16
    expected = 2 * b * s * h_in * 128 + 2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d_v
    assert flops("Attention", inputs, domain=MS, num_heads=n, qkv_hidden_sizes=[32, 32, 64]) == expected
    out = shapes("Attention", inputs, [("out", None), ("present", None)], num_heads=n, qkv_hidden_sizes=[32, 32, 64])
    assert out == [(F, (b, s, 64)), (F, (2, b, n, t, d))]


def test_attention_shape_keeps_symbolic_dims():
    out = shapes("Attention", [("x", ("B", "S", 32)), ("w", (32, 96))], [("out", None)], num_heads=4)
    assert out == [(F, ("B", "S", 32))]


def test_multi_head_attention_cross_with_bias():
    b, s, kv, n = 2, 8, 10, 4
    inputs = [("q", (b, s, 32)), ("k", (b, kv, 32)), ("v", (b, kv, 64)), ("bias", (32 + 32 + 64,))]
    d, d_v = 32 // n, 64 // n
    expected = (
        2 * b * n * s * kv * d + 5 * b * n * s * kv + 2 * b * n * s * kv * d_v
        + b * s * 32 + b * kv * 32 + b * kv * 64  # bias adds on Q, K, V
    )
    assert flops("MultiHeadAttention", inputs, domain=MS, num_heads=n) == expected
    outs = [("out", None), ("pk", None), ("pv", None)]
    assert shapes("MultiHeadAttention", inputs, outs, num_heads=n) == [
        (F, (b, s, 64)), (F, (b, n, kv, d)), (F, (b, n, kv, d_v))]


def test_multi_head_attention_packed_qkv_and_past():
    b, s, n, d = 2, 8, 4, 8
    assert flops("MultiHeadAttention", [("qkv", (b, s, n, 3, d))], domain=MS, num_heads=n) == (
        2 * b * n * s * s * d + 5 * b * n * s * s + 2 * b * n * s * s * d
    )
    inputs = [("q", (b, s, 32)), ("k", (b, s, 32)), ("v", (b, s, 32)), ("", None), ("", None), ("", None),
              ("past_key", (b, n, 6, d)), ("past_value", (b, n, 6, d))]
    t = s + 6
    assert flops("MultiHeadAttention", inputs, domain=MS, num_heads=n) == (
        2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d
    )


def _gqa_inputs(total_known: bool):
    return [("q", (1, 4, 64)), ("k", (1, 4, 16)), ("v", (1, 4, 16)), ("pk", (1, 2, 12, 8)), ("pv", (1, 2, 12, 8)),
            ("seqlens", (1,)), ("total", ())]


def test_group_query_attention_cost_follows_query_heads():
    b, s, n, kv_n, d, t = 1, 4, 8, 2, 8, 16  # head size 64 / 8; total length 12 past + 4 new
    sdpa = 2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d
    constants = {"total": np.array(16, np.int32)}
    attrs = dict(domain=MS, num_heads=n, kv_num_heads=kv_n)
    assert flops("GroupQueryAttention", _gqa_inputs(True), constants=constants, **attrs) == sdpa
    assert flops("GroupQueryAttention", _gqa_inputs(False), **attrs) == sdpa  # past + S without the constant
    rotary = 3 * b * s * (n + kv_n) * d  # Q and K heads rotated: 2 mul + 1 add per element
    assert flops("GroupQueryAttention", _gqa_inputs(True), constants=constants, do_rotary=1, **attrs) == sdpa + rotary
    outs = [("out", None), ("present_k", None), ("present_v", None)]
    got = shapes("GroupQueryAttention", _gqa_inputs(True), outs, constants=constants, num_heads=n, kv_num_heads=kv_n)
    assert got == [(F, (b, s, 64)), (F, (b, kv_n, t, d)), (F, (b, kv_n, t, d))]


def test_group_query_attention_packed_qkv_no_past():
    b, s, n, kv_n, d = 1, 4, 8, 2, 8
    inputs = [("qkv", (b, s, (n + 2 * kv_n) * d))]
    got = flops("GroupQueryAttention", inputs, domain=MS, num_heads=n, kv_num_heads=kv_n)
    assert got == 2 * b * n * s * s * d + 5 * b * n * s * s + 2 * b * n * s * s * d


def test_group_query_attention_symbolic_past():
    inputs = [("q", (1, 1, 64)), ("k", (1, 1, 16)), ("v", (1, 1, 16)), ("pk", (1, 2, "past", 8))]
    with pytest.raises(Uncountable, match="'past'"):
        flops("GroupQueryAttention", inputs, domain=MS, num_heads=8, kv_num_heads=2)


def test_group_query_attention_past_whose_head_size_is_named():
    """ONNX Runtime GenAI's models name the cache's head size 'kv_cache_dim': only the past's
    length matters, and the query gives the head size (64 = 8 heads × 8)."""
    b, s, n, kv_n, d, past = 1, 1, 8, 2, 8, 15
    inputs = [("q", (b, s, n * d)), ("k", (b, s, kv_n * d)), ("v", (b, s, kv_n * d)), ("pk", (b, kv_n, past, "kv_cache_dim"))]
    t = past + s
    assert flops("GroupQueryAttention", inputs, domain=MS, num_heads=n, kv_num_heads=kv_n) == \
        2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d


def test_onnx_attention_4d():
    b, n, s, kv_n, kv, past, d, d_v = 1, 8, 4, 2, 10, 6, 16, 32
    inputs = [("Q", (b, n, s, d)), ("K", (b, kv_n, kv, d)), ("V", (b, kv_n, kv, d_v)), ("", None),
              ("past_key", (b, kv_n, past, d)), ("past_value", (b, kv_n, past, d_v))]
    t = kv + past
    assert flops("Attention", inputs) == 2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d_v



def _flex_case(name: str):
    found = node_case(name)
    if found is None:
        pytest.skip(f"the installed onnx has no node case {name}")
    return analyze_model(found.model, name=name)


@pytest.mark.parametrize("case,b,n,s,t,d,d_v", [
    ("test_flexattention", 2, 4, 8, 6, 16, 16),
    ("test_flexattention_gqa", 2, 8, 4, 6, 16, 16),  # 2 K/V heads shared by 8 query heads: cost follows the 8
    ("test_flexattention_diff_head_sizes", 2, 4, 8, 6, 16, 32),
])
def test_onnx_flex_attention(case, b, n, s, t, d, d_v):
    report = _flex_case(case)
    assert report.flops.uncounted == []
    assert report.flops.total == 2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d_v


@pytest.mark.parametrize("case,per_score", [
    ("test_flexattention_score_mod", 1),  # an Add over the scores
    ("test_flexattention_prob_mod", 1),  # a Mul over the probabilities
    ("test_flexattention_soft_cap", 3),  # Div, Tanh, Mul over the scores
])
def test_onnx_flex_attention_modifiers_are_shaped_by_the_scores_and_counted(case, per_score):
    report = _flex_case(case)
    q, k = (i.shape for i in report.graph.inputs[:2])
    b, n, s, d = q
    t = k[2]
    sdpa = 2 * b * n * s * t * d + 5 * b * n * s * t + 2 * b * n * s * t * d  # V's head size equals Q's here
    assert report.flops.uncounted == []
    assert report.flops.total == sdpa + per_score * b * n * s * t


def test_onnx_flex_attention_causal_mask_compares_positions_once():
    report = _flex_case("test_flexattention_causal_mask")  # Q, K, V (1, 2, 4, 8)
    scores = 1 * 2 * 4 * 4
    # the mask: Range, Reshape, Where move data; GreaterOrEqual compares the 4 query by the 4 key positions
    assert report.flops.total == 2 * scores * 8 + 5 * scores + 2 * scores * 8 + 4 * 4


# --- fused norms and activations ------------------------------------------------------------


def test_skip_layer_norm():
    e, rows = 2 * 4 * 16, 2 * 4
    inputs = [("x", (2, 4, 16)), ("skip", (2, 4, 16)), ("gamma", (16,)), ("beta", (16,)), ("bias", (16,))]
    layer_norm = e + e + 2 * e + 3 * rows + e + e + e  # mean, centre, variance, rsqrt, normalize, gamma, beta
    assert flops("SkipLayerNormalization", inputs, domain=MS) == e + e + layer_norm  # skip add, bias add
    outs = [("y", None), ("mean", None), ("inv_std", None), ("sum", None)]
    assert shapes("SkipLayerNormalization", inputs, outs) == [
        (F, (2, 4, 16)), (F, (2, 4, 1)), (F, (2, 4, 1)), (F, (2, 4, 16))]


@pytest.mark.parametrize("op, domain", [("LayerNormalization", ""), ("SimplifiedLayerNormalization", ""),
                                        ("SimplifiedLayerNormalization", MS)])
def test_layer_norm_shapes(op, domain):
    inputs = [("x", ("B", 4, 16)), ("gamma", (16,))]
    outs = [("y", None), ("mean", None), ("inv_std", None)][: 3 if op == "LayerNormalization" else 2]
    got = shapes(op, inputs, outs, domain=domain)
    assert got == [(F, ("B", 4, 16))] + [(F, ("B", 4, 1))] * (len(outs) - 1)
    assert shapes(op, inputs, outs, domain=domain, axis=1)[1] == (F, ("B", 1, 1))


def test_skip_simplified_layer_norm():
    e, rows = 2 * 4 * 16, 2 * 4
    inputs = [("x", (2, 4, 16)), ("skip", (2, 4, 16)), ("gamma", (16,))]
    rms = e + (e - rows) + rows + 3 * rows + e + e  # squares, sums, mean, rsqrt, normalize, gamma
    assert flops("SkipSimplifiedLayerNormalization", inputs, domain=MS) == e + rms


def test_embed_layer_norm():
    b, s, h = 2, 8, 32
    inputs = [("ids", (b, s)), ("seg", (b, s)), ("word", (100, h)), ("pos", (64, h)), ("segemb", (2, h)),
              ("gamma", (h,)), ("beta", (h,))]
    e, rows = b * s * h, b * s
    expected = 2 * e + (e + e + 2 * e + 3 * rows + e + e + e)  # word + position + segment, then layer norm
    assert flops("EmbedLayerNormalization", inputs, domain=MS) == expected
    outs = [("y", None), ("mask_index", None)]
    assert shapes("EmbedLayerNormalization", inputs, outs) == [(F, (b, s, h)), (TensorProto.INT32, (b,))]


@pytest.mark.parametrize(
    "op, inputs, per_element",
    [
        ("FastGelu", [("x", (2, 4, 16)), ("bias", (16,))], 8 + 1),  # tanh Gelu + bias
        ("FastGelu", [("x", (2, 4, 16))], 8),
        ("BiasGelu", [("x", (2, 4, 16)), ("bias", (16,))], 1 + 5),  # bias + erf Gelu
        ("Gelu", [("x", (2, 4, 16))], 5),
        ("QuickGelu", [("x", (2, 4, 16))], 1 + 4 + 1),  # alpha·x, sigmoid, ·x
        ("BiasAdd", [("x", (2, 4, 16)), ("bias", (16,)), ("skip", (2, 4, 16))], 2),
    ],
)
def test_contrib_activations(op, inputs, per_element):
    assert flops(op, inputs, domain=MS) == per_element * (2 * 4 * 16)
    assert shapes(op, inputs, [("y", None)]) == [(F, (2, 4, 16))]


def test_rotary_embedding():
    e = 1 * 2 * 4 * 8
    inputs = [("x", (1, 2, 4, 8)), ("pos", (1, 4)), ("cos", (16, 4)), ("sin", (16, 4))]
    assert flops("RotaryEmbedding", inputs, domain=MS) == 3 * e  # 2 mul + 1 add per element
    assert flops("RotaryEmbedding", inputs, domain=MS, rotary_embedding_dim=4) == 3 * e // 2  # half of each head
    three_d = [("x", (1, 4, 16)), ("cos", (16, 2)), ("sin", (16, 2))]
    assert flops("RotaryEmbedding", three_d, num_heads=2, rotary_embedding_dim=4) == 3 * (1 * 4 * 2 * 4)


# --- control flow ---------------------------------------------------------------------------


def _graph(name: str):
    return helper.make_graph([], name, [], [])


def _fake_costs(**by_name):
    """A subgraph_cost that knows each subgraph's cost by its name."""
    return lambda g: by_name[g.name]


def test_if_counts_the_costlier_branch_and_says_so():
    ctx = make_ctx("If", [("cond", ())], then_branch=_graph("then"), else_branch=_graph("else"),
                   subgraph_cost=_fake_costs(then=SubgraphCost(100, 0), **{"else": SubgraphCost(40, 0)}))
    assert cost_of(ctx) == 100
    assert any("costlier" in note for note in ctx.notes)


def test_if_with_constant_condition_counts_the_taken_branch():
    ctx = make_ctx("If", [("cond", ())], constants={"cond": np.array(False)}, then_branch=_graph("then"),
                   else_branch=_graph("else"),
                   subgraph_cost=_fake_costs(then=SubgraphCost(100, 0), **{"else": SubgraphCost(40, 0)}))
    assert cost_of(ctx) == 40


def test_if_with_uncounted_nodes_is_uncountable():
    ctx = make_ctx("If", [("cond", ())], then_branch=_graph("then"), else_branch=_graph("else"),
                   subgraph_cost=_fake_costs(then=SubgraphCost(100, 2), **{"else": SubgraphCost(40, 0)}))
    with pytest.raises(Uncountable, match="2 uncounted"):
        cost_of(ctx)


def test_loop_static_trip_count():
    ctx = make_ctx("Loop", [("M", ()), ("cond", ())], constants={"M": np.array(10, np.int64),
                                                                  "cond": np.array(True)},
                   body=_graph("body"), subgraph_cost=_fake_costs(body=SubgraphCost(7, 0)))
    assert cost_of(ctx) == 10 * 7
    assert ctx.notes == []


def test_loop_with_dynamic_condition_notes_the_upper_bound():
    ctx = make_ctx("Loop", [("M", ()), ("cond", ())], constants={"M": np.array(3, np.int64)},
                   body=_graph("body"), subgraph_cost=_fake_costs(body=SubgraphCost(7, 0)))
    assert cost_of(ctx) == 3 * 7
    assert len(ctx.notes) == 1


def test_loop_dynamic_trip_count():
    ctx = make_ctx("Loop", [("M", ()), ("cond", ())], body=_graph("body"),
                   subgraph_cost=_fake_costs(body=SubgraphCost(7, 0)))
    with pytest.raises(Uncountable, match="Loop trip count is not static"):
        cost_of(ctx)
    ctx = make_ctx("Loop", [("", None), ("cond", ())], body=_graph("body"),
                   subgraph_cost=_fake_costs(body=SubgraphCost(7, 0)))
    with pytest.raises(Uncountable, match="not static"):
        cost_of(ctx)


def test_scan_sequence_length_from_scan_axis():
    # one state variable, one scan input of length 6 along axis 0
    ctx = make_ctx("Scan", [("state", (3,)), ("xs", (6, 3))], num_scan_inputs=1, body=_graph("body"),
                   subgraph_cost=_fake_costs(body=SubgraphCost(5, 0)))
    assert cost_of(ctx) == 6 * 5
    ctx = make_ctx("Scan", [("state", (3,)), ("xs", (3, 9))], num_scan_inputs=1, scan_input_axes=[1],
                   body=_graph("body"), subgraph_cost=_fake_costs(body=SubgraphCost(5, 0)))
    assert cost_of(ctx) == 9 * 5


def test_scan_with_uncounted_body():
    ctx = make_ctx("Scan", [("xs", (6, 3))], num_scan_inputs=1, body=_graph("body"),
                   subgraph_cost=_fake_costs(body=SubgraphCost(5, 1)))
    with pytest.raises(Uncountable, match="1 uncounted"):
        cost_of(ctx)
