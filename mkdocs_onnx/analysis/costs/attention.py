"""Transformer fusions: attention (ONNX and com.microsoft), fused norms, GELUs, rotary embeddings.

Scaled dot-product attention over B batches, N query heads, S query and T key positions
(T = past + new), head sizes d (Q, K) and d_v (V):

    2·B·N·S·T·d (Q·Kᵀ) + 5·B·N·S·T (softmax) + 2·B·N·S·T·d_v (probabilities·V)

The 1/√d scale is folded into the Q·Kᵀ product (kernels apply it as the GEMM's alpha)
and masks are selects, so neither is counted; an additive attention bias is
(B·N·S·T). Causal and local-window masks are not used to skip work: the count is the
dense one, an upper bound for kernels that skip masked blocks. With grouped-query
attention the K/V heads are shared, and the cost follows the query heads.

Shape functions here cover the com.microsoft operators that ONNX shape inference does
not know; dims it cannot compute stay symbolic (str) or unknown (None).
"""

from __future__ import annotations

from typing import Callable, Optional

from onnx import TensorProto

from mkdocs_onnx.analysis.costs._common import broadcast_numel
from mkdocs_onnx.analysis.costs.control_flow import body_flops
from mkdocs_onnx.analysis.costs.elementwise import GELU_ERF_PER_ELEMENT, GELU_TANH_PER_ELEMENT, PER_ELEMENT
from mkdocs_onnx.analysis.costs.normalization import mean_var_norm, rms_norm
from mkdocs_onnx.analysis.costs.quantized import DEQUANTIZE
from mkdocs_onnx.analysis.costs.registry import (
    MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape, subgraph_inputs,
)

SOFTCAP = 3  # softcap·tanh(x/softcap): div, tanh, mul
ROTARY = 3  # per rotated element: x·cos ± x_pair·sin: 2 mul, 1 add

Dim = object  # int, str (symbolic) or None
GetShape = Callable[[int], Optional[tuple]]


def sdpa_flops(b: int, n: int, s: int, t: int, d: int, d_v: int) -> int:
    """2·B·N·S·T·d + 5·B·N·S·T + 2·B·N·S·T·d_v: scores, softmax, weighted sum of values."""
    scores = b * n * s * t
    return 2 * scores * d + 5 * scores + 2 * scores * d_v


def _add(a: Dim, b: Dim) -> Dim:
    return a + b if isinstance(a, int) and isinstance(b, int) else None


def _mul(a: Dim, b: Dim) -> Dim:
    return a * b if isinstance(a, int) and isinstance(b, int) else None


def _div(a: Dim, b: Dim) -> Dim:
    return a // b if isinstance(a, int) and isinstance(b, int) and b else None


def _static_getter(ctx: NodeContext) -> GetShape:
    """Shapes for cost functions: static or raise (naming the symbolic dim); None if the input is absent."""
    return lambda i: ctx.input_shape(i) if ctx.has_input(i) else None


def _inferred_getter(ctx: NodeContext) -> GetShape:
    """Shapes for shape functions: as inferred (items may be str/None); None if absent or unknown."""
    return lambda i: ctx.input_type(i)[1] if ctx.has_input(i) else None


def _require(*dims: Dim, what: str) -> None:
    if not all(isinstance(d, int) for d in dims):
        raise Uncountable(f"{what} is not static")


def _const_scalar(ctx: NodeContext, i: int) -> Optional[int]:
    value = ctx.input_value(i)
    return None if value is None else int(value.reshape(-1)[0])


# --- com.microsoft Attention -------------------------------------------------------


# Input positions of com.microsoft Attention's and QAttention's past, and of its true length
# when the past is a shared max-length buffer (QAttention has no such input).
_ATTENTION_PAST = dict(past=4, past_length=6)
_QATTENTION_PAST = dict(past=8, past_length=None)


def _attention_dims(ctx: NodeContext, get: GetShape, past: int, past_length: Optional[int]) -> dict:
    """B, S, input hidden, projected width, qkv hidden sizes, heads and total length T."""
    b, s, h_in = get(0)
    width = get(1)[1]
    n = ctx.attr("num_heads")
    q, k, v = ctx.attr("qkv_hidden_sizes") or [_div(width, 3)] * 3
    past_len: Dim = 0
    if get(past) is not None:  # past: (2, B, N, P, head_size)
        past_len = get(past)[3]
        if ctx.attr("past_present_share_buffer", 0):  # the buffer has the max length; the true one is an input
            past_len = _const_scalar(ctx, past_length) if past_length is not None else None
    return dict(b=b, s=s, h_in=h_in, width=width, q=q, k=k, v=v, n=n, t=_add(s, past_len))


def _fused_qkv_attention(ctx: NodeContext, past: int, past_length: Optional[int],
                         attention_bias: Optional[int]) -> tuple[int, dict]:
    """The FLOPs of Attention's QKV projection, bias, SDPA, attention bias and rotary, and its dims."""
    dims = _attention_dims(ctx, _static_getter(ctx), past, past_length)
    b, s, n, t = dims["b"], dims["s"], dims["n"], dims["t"]
    _require(n, t, what=f"{ctx.op_type} num_heads or past sequence length")
    width = dims["q"] + dims["k"] + dims["v"]
    flops = 2 * b * s * dims["h_in"] * width + (b * s * width if ctx.has_input(2) else 0)
    flops += sdpa_flops(b, n, s, t, dims["q"] // n, dims["v"] // n)
    flops += b * n * s * t if attention_bias is not None and ctx.has_input(attention_bias) else 0
    if ctx.attr("do_rotary", 0):
        rot = ctx.attr("rotary_embedding_dim") or dims["q"] // n
        flops += ROTARY * b * s * n * rot * 2  # Q and K
    return flops, dims


@cost("Attention", "DecoderMaskedSelfAttention", domain=MS)
def ms_attention(ctx: NodeContext) -> int:
    """Attention: 2·B·S·H_in·(Hq+Hk+Hv) (QKV projection) + B·S·(Hq+Hk+Hv) if bias + SDPA with T = S + past.

    Plus B·N·S·T for an attention_bias, and 3·B·S·N·rot for each of Q and K with do_rotary.
    DecoderMaskedSelfAttention, its one-token decoding form, takes the same inputs.
    """
    return _fused_qkv_attention(ctx, attention_bias=5, **_ATTENTION_PAST)[0]


@cost("QAttention", domain=MS)
def q_attention(ctx: NodeContext) -> int:
    """QAttention: Attention's count on its int8 projection + B·S·3H to dequantize the projection (× input_scale·weight_scale)."""
    flops, dims = _fused_qkv_attention(ctx, attention_bias=None, **_QATTENTION_PAST)
    return flops + dims["b"] * dims["s"] * dims["width"]


def _attention_shape(ctx: NodeContext, elem: Optional[int], past: int, past_length: Optional[int]) -> list[TypeInfo]:
    get = _inferred_getter(ctx)
    if get(0) is None or get(1) is None:
        return [(elem, None), (elem, None)][: len(ctx.node.output)]
    dims = _attention_dims(ctx, get, past, past_length)
    n = dims["n"]
    present = (2, dims["b"], n, dims["t"], _div(dims["q"], n))
    if ctx.attr("past_present_share_buffer", 0) and get(past) is not None:
        present = tuple(get(past))  # present is the same max-length buffer as past
    return [(elem, (dims["b"], dims["s"], dims["v"])), (elem, present)][: len(ctx.node.output)]


@shape("Attention", "DecoderMaskedSelfAttention", domain=MS)
def ms_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _attention_shape(ctx, ctx.input_type(0)[0], **_ATTENTION_PAST)


@shape("QAttention", domain=MS)
def q_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Typed as the bias (float or float16): the int8 input is dequantized."""
    return _attention_shape(ctx, ctx.input_type(2)[0], **_QATTENTION_PAST)


# --- com.microsoft MultiHeadAttention ---------------------------------------------


# Input positions of MultiHeadAttention and DecoderMaskedMultiHeadAttention (one query
# token per sequence, as beam search and greedy decoding run it): the Q/K/V bias, the
# additive attention bias, the past key and the past's true length in a shared buffer.
_MHA_INPUTS = dict(bias=3, attention_bias=5, past_key=6, past_length=8)
_DECODER_MHA_INPUTS = dict(bias=10, attention_bias=4, past_key=5, past_length=7)


def _mha_dims(ctx: NodeContext, get: GetShape, past_key: int, past_length: int) -> dict:
    """B, S (query), L (new keys), T (total keys), N, d, d_v for the several input layouts."""
    n = ctx.attr("num_heads")
    query, key, value = get(0), get(1), get(2)
    if len(query) == 5:  # packed QKV: (B, S, N, 3, d)
        b, s, _, _, d = query
        kv_len, d_v = s, d
    else:
        b, s, hidden = query
        d = _div(hidden, n)
        if key is None:  # packed QKV: (B, S, N·d + N·d + N·d_v), with d_v = d
            d = _div(hidden, _mul(3, n))
            kv_len, d_v = s, d
        elif len(key) == 5:  # packed KV: (B, L, N, 2, d)
            kv_len, d_v = key[1], key[4]
        elif len(key) == 4:  # already projected and split into heads: (B, N, L, d)
            kv_len, d_v = key[2], value[3] if value is not None else d
        else:
            kv_len, d_v = key[1], _div(value[2], n) if value is not None else d
    past_len: Dim = 0
    if get(past_key) is not None:  # past_key: (B, N, P, d), P the max length when the buffer is shared
        past_len = _const_scalar(ctx, past_length) if ctx.has_input(past_length) else get(past_key)[2]
    return dict(b=b, s=s, l=kv_len, t=_add(kv_len, past_len), n=n, d=d, d_v=d_v)


def _mha_flops(ctx: NodeContext, bias: int, attention_bias: int, past_key: int, past_length: int) -> int:
    m = _mha_dims(ctx, _static_getter(ctx), past_key, past_length)
    _require(m["n"], m["d"], m["d_v"], m["t"], what=f"{ctx.op_type} num_heads, head size or past length")
    b, s, n, t = m["b"], m["s"], m["n"], m["t"]
    flops = sdpa_flops(b, n, s, t, m["d"], m["d_v"])
    if ctx.has_input(bias):
        flops += b * s * n * m["d"] + b * m["l"] * n * (m["d"] + m["d_v"])
    return flops + (b * n * s * t if ctx.has_input(attention_bias) else 0)


@cost("MultiHeadAttention", domain=MS)
def multi_head_attention(ctx: NodeContext) -> int:
    """MultiHeadAttention: B·S·N·d + B·L·N·(d + d_v) if bias (Q, K, V bias adds) + SDPA (T = L + past) + B·N·S·T if attention_bias."""
    return _mha_flops(ctx, **_MHA_INPUTS)


@cost("DecoderMaskedMultiHeadAttention", domain=MS)
def decoder_masked_multi_head_attention(ctx: NodeContext) -> int:
    """DecoderMaskedMultiHeadAttention: MultiHeadAttention's count for its one query token (T = past_sequence_length + 1, or the cross-attention keys)."""
    return _mha_flops(ctx, **_DECODER_MHA_INPUTS)


def _mha_shape(ctx: NodeContext, past_key: int, past_length: int) -> list[TypeInfo]:
    """output, present key and value, and the scores (B, N, S, T) some variants return."""
    elem = ctx.input_type(0)[0]
    if ctx.input_type(0)[1] is None:
        return [(elem, None) for _ in ctx.node.output]
    get = _inferred_getter(ctx)
    m = _mha_dims(ctx, get, past_key, past_length)
    b, s, n, t = m["b"], m["s"], m["n"], m["t"]
    present = t
    if ctx.attr("past_present_share_buffer", 0) and get(past_key) is not None:
        present = get(past_key)[2]  # present is the same max-length buffer as past
    shapes = [(b, s, _mul(n, m["d_v"])), (b, n, present, m["d"]), (b, n, present, m["d_v"]), (b, n, s, t)]
    return [(elem, sh) for sh in shapes[: len(ctx.node.output)]]


@shape("MultiHeadAttention", domain=MS)
def multi_head_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _mha_shape(ctx, _MHA_INPUTS["past_key"], _MHA_INPUTS["past_length"])


@shape("DecoderMaskedMultiHeadAttention", domain=MS)
def decoder_masked_multi_head_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _mha_shape(ctx, _DECODER_MHA_INPUTS["past_key"], _DECODER_MHA_INPUTS["past_length"])


# --- com.microsoft RelativePositionBias (T5) ----------------------------------------------

# Per output element, as ONNX Runtime's kernel computes it: the relative position (subtract),
# its direction (compare, then add the half of the buckets or negate), whether it is small
# (compare), the log-spaced bucket (divide, log, divide, multiply, add), its clamp (min) and
# the bucket index (add). The table lookup is a gather; log(max_distance / max_exact) is a constant.
_BUCKET = 11


def _position_bias_dims(ctx: NodeContext) -> tuple[Optional[int], Dim, Dim]:
    """(N, query length, key length): the heads from the table, the lengths from their inputs' values."""
    table = ctx.input_type(0)[1]
    heads = table[1] if table is not None and len(table) == 2 else None
    return heads, _const_scalar(ctx, 1), _const_scalar(ctx, 2)


@cost("RelativePositionBias", domain=MS)
def relative_position_bias(ctx: NodeContext) -> int:
    """RelativePositionBias: 11 × N·S_q·S_k (each bias element's bucket: relative position, direction, log-spaced bucket, clamp; the table lookup is a gather)."""
    heads, query, key = _position_bias_dims(ctx)
    _require(heads, query, key, what="RelativePositionBias heads or query/key length")
    return _BUCKET * heads * query * key


@shape("RelativePositionBias", domain=MS)
def relative_position_bias_shape(ctx: NodeContext) -> list[TypeInfo]:
    heads, query, key = _position_bias_dims(ctx)
    return [(ctx.input_type(0)[0], (1, heads, query, key))]


# --- com.microsoft GatedRelativePositionBias (WavLM) -----------------------------------

_GATE = 4  # gate_u · (gate_r · eco_a − 1) + 2: multiply, subtract, multiply, add


def _gated_bias_dims(ctx: NodeContext, get: GetShape) -> tuple:
    """(B, N, S, H, D): batch, heads, positions, head size and the gate projection's width."""
    query, rel_pos, weight = get(0), get(2), get(3)
    n, s = rel_pos[1], rel_pos[2]
    b = query[0] if len(query) == 3 else (get(6) or (None,))[0]  # packed tokens: B from token_offset (B, S)
    return b, n, s, weight[0], weight[1]


@cost("GatedRelativePositionBias", domain=MS)
def gated_relative_position_bias(ctx: NodeContext) -> int:
    """GatedRelativePositionBias: B·S·N·H (query bias) + 2·B·N·S·H·D + B·N·S·D (gate projection) + B·N·S·2·(D/2 − 1) (pair sums) + B·N·S·(2 × sigmoid 4 + 4) (gates) + B·N·S·S (gate × rel_pos)."""
    b, n, s, h, d = _gated_bias_dims(ctx, _static_getter(ctx))
    _require(b, what="GatedRelativePositionBias batch (packed queries without token_offset)")
    rows = b * n * s  # one gate per head and query position
    sigmoid = PER_ELEMENT["Sigmoid"][0]
    return (b * s * n * h + 2 * rows * h * d + rows * d + rows * 2 * (d // 2 - 1)
            + rows * (2 * sigmoid + _GATE) + rows * s)


@shape("GatedRelativePositionBias", domain=MS)
def gated_relative_position_bias_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = ctx.input_type(0)[0]
    get = _inferred_getter(ctx)
    if get(0) is None or get(2) is None or get(3) is None:
        return [(elem, None)]
    b, n, s, _, _ = _gated_bias_dims(ctx, get)
    return [(elem, (b, n, s, s))]


# --- com.microsoft GroupQueryAttention --------------------------------------------


def _gqa_static_getter(ctx: NodeContext) -> GetShape:
    """Static shapes, but of the past KV cache (input 3) only its length need be: the query gives
    the head size, which ONNX Runtime GenAI's models name 'kv_cache_dim' in the cache."""
    static = _static_getter(ctx)

    def get(i: int):
        if i == 3 and ctx.has_input(3):
            past = ctx.input_type(3)[1]
            if past is not None and len(past) == 4 and all(isinstance(d, int) for d in past[:3]):
                return past
        return static(i)  # raises, naming the first dim that is not static
    return get


def _gqa_dims(ctx: NodeContext, get: GetShape) -> dict:
    b, s, hidden = get(0)
    n, kv_n = ctx.attr("num_heads"), ctx.attr("kv_num_heads")
    packed = get(1) is None  # query holds Q, K and V: N·d + 2·kv_N·d
    d = _div(hidden, n) if not packed else _div(hidden, _add(n, _mul(2, kv_n)))
    past = get(3)
    past_len = past[2] if past is not None else 0
    total = _const_scalar(ctx, 6)
    # without a constant total_sequence_length, assume the past holds exactly P tokens
    t = total if total is not None else _add(past_len, s)
    if past is None:
        present_len = t
    elif total is not None and isinstance(past_len, int):
        present_len = max(past_len, total)  # a shared buffer keeps its max length
    else:
        present_len = past_len  # ORT passes the past shape through
    return dict(b=b, s=s, n=n, kv_n=kv_n, d=d, t=t, present=present_len)


@cost("GroupQueryAttention", domain=MS)
def group_query_attention(ctx: NodeContext) -> int:
    """GroupQueryAttention: SDPA over the N query heads + 3·B·S·(N + kv_N)·d if do_rotary + 3·B·N·S·T if softcap + B·N·S·T if attention_bias.

    T is the constant total_sequence_length, else past + S (the past buffer is assumed to
    hold exactly its length). With q_norm_weight/k_norm_weight, the per-head RMS norms of
    Q and K (4E + 3G each) are added.
    """
    g = _gqa_dims(ctx, _gqa_static_getter(ctx))
    _require(g["n"], g["kv_n"], g["d"], g["t"], what="GroupQueryAttention heads, head size or total length")
    b, s, n, kv_n, d, t = g["b"], g["s"], g["n"], g["kv_n"], g["d"], g["t"]
    flops = sdpa_flops(b, n, s, t, d, d)
    if ctx.attr("do_rotary", 0):
        flops += ROTARY * b * s * (n + kv_n) * d
    if (ctx.attr("softcap") or 0) > 0:
        flops += SOFTCAP * b * n * s * t
    if ctx.has_input(10):
        flops += b * n * s * t
    if ctx.has_input(14):
        for heads in (n, kv_n):  # per-head RMS norm with a weight: 4E + 3G
            flops += rms_norm(b * s * heads * d, b * s * heads) + b * s * heads * d
    return flops


@shape("GroupQueryAttention", domain=MS)
def group_query_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = ctx.input_type(0)[0]
    if ctx.input_type(0)[1] is None:
        return [(elem, None) for _ in ctx.node.output]
    g = _gqa_dims(ctx, _inferred_getter(ctx))
    b, s, n, kv_n, d = g["b"], g["s"], g["n"], g["kv_n"], g["d"]
    cache = ctx.input_type(3)[0] if ctx.has_input(3) else elem
    shapes = [(elem, (b, s, _mul(n, d))), (cache, (b, kv_n, g["present"], d)), (cache, (b, kv_n, g["present"], d)),
              (elem, (b, n, s, g["t"]))]
    return shapes[: len(ctx.node.output)]


# --- ONNX Attention (opset 23) ---------------------------------------------------


@cost("Attention")
def onnx_attention(ctx: NodeContext) -> int:
    """Attention (ONNX): SDPA over the q_num_heads (T = L + past) + B·N·S·T if a float attn_mask is added + 3·B·N·S·T if softcap."""
    q, k, v = ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)
    if len(q) == 4:  # (B, N, S, d)
        b, n, s, d = q
        kv_len, d_v = k[2], v[3]
    else:  # (B, S, N·d) with the head counts as attributes
        n, kv_n = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        _require(n, kv_n, what="Attention q_num_heads/kv_num_heads")
        b, s, d = q[0], q[1], q[2] // n
        kv_len, d_v = k[1], v[2] // kv_n
    t = kv_len + (ctx.input_shape(4)[2] if ctx.has_input(4) else 0)
    flops = sdpa_flops(b, n, s, t, d, d_v)
    if ctx.has_input(3) and ctx.input_type(3)[0] != TensorProto.BOOL:
        flops += b * n * s * t
    if (ctx.attr("softcap") or 0) > 0:
        flops += SOFTCAP * b * n * s * t
    return flops


# --- ONNX FlexAttention (ai.onnx.preview) ---------------------------------------------


_FLEX_MODIFIERS = ("score_mod", "prob_mod")  # the subgraphs FlexAttention may hold, each called with the scores


@cost("FlexAttention", domain="ai.onnx.preview")
def flex_attention(ctx: NodeContext) -> int:
    """FlexAttention: SDPA over the q_num_heads (B·N·S·T scores; the scale is folded into Q·Kᵀ) + the FLOPs of its score_mod and prob_mod subgraphs over the scores."""
    b, n, s, d = ctx.input_shape(0)
    t, d_v = ctx.input_shape(1)[2], ctx.input_shape(2)[3]
    flops = sdpa_flops(b, n, s, t, d, d_v)
    for modifier in _FLEX_MODIFIERS:
        if ctx.subgraph(modifier) is not None:
            flops += body_flops(ctx, modifier)
    return flops


@subgraph_inputs("FlexAttention", domain="ai.onnx.preview")
def flex_attention_modifier_inputs(ctx: NodeContext) -> dict[str, list[Optional[TypeInfo]]]:
    """Each modifier takes the (B, N, S, T) scores, in float32 (double for double inputs) or softmax_precision."""
    elem, q = ctx.input_type(0)
    k = ctx.input_type(1)[1]
    scores = (*q[:3], k[2]) if q is not None and k is not None and len(q) == 4 and len(k) == 4 else None
    precision = ctx.attr("softmax_precision") or (TensorProto.DOUBLE if elem == TensorProto.DOUBLE else TensorProto.FLOAT)
    return {modifier: [(precision, scores)] for modifier in _FLEX_MODIFIERS if ctx.subgraph(modifier) is not None}


# --- fused normalizations ------------------------------------------------------------


def _skip_norm_shape(ctx: NodeContext) -> list[TypeInfo]:
    """output and input_skip_bias_sum like the input; mean and inv_std_var (float) with a last dim of 1."""
    elem, x = ctx.input_type(0)
    stats = None if x is None else (*x[:-1], 1)
    shapes = [(elem, x), (TensorProto.FLOAT, stats), (TensorProto.FLOAT, stats), (elem, x)]
    return shapes[: len(ctx.node.output)]


def _rows(ctx: NodeContext) -> tuple[int, int]:
    """(E, G): elements and rows normalized over the last dim."""
    x = ctx.input_shape(0)
    return numel(x), numel(x[:-1])


@cost("SkipLayerNormalization", domain=MS)
def skip_layer_norm(ctx: NodeContext) -> int:
    """SkipLayerNormalization: E (skip add) + E if bias + 5E + 3G (normalize) + E (gamma) + E if beta; G = rows."""
    e, g = _rows(ctx)
    adds = e + (e if ctx.has_input(4) else 0)
    return adds + mean_var_norm(e, g) + e + (e if ctx.has_input(3) else 0)


@cost("SkipSimplifiedLayerNormalization", domain=MS)
def skip_simplified_layer_norm(ctx: NodeContext) -> int:
    """SkipSimplifiedLayerNormalization: E (skip add) + E if bias + 3E + 3G (RMS normalize) + E (gamma); G = rows."""
    e, g = _rows(ctx)
    return e + (e if ctx.has_input(3) else 0) + rms_norm(e, g) + e


shape("SkipLayerNormalization", "SkipSimplifiedLayerNormalization", domain=MS)(_skip_norm_shape)


@shape("SimplifiedLayerNormalization", "LayerNormalization")
@shape("SimplifiedLayerNormalization", domain=MS)
def layer_norm_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y like X; the statistics outputs (float) like X with the normalized dims (from axis, default -1) set to 1.

    Also registered for ONNX LayerNormalization: onnx only knows it from opset 17, while
    onnxruntime's fusions emit it in older opsets too.
    """
    elem, x = ctx.input_type(0)
    stats = None
    if x is not None:
        axis = ctx.attr("axis", -1) % len(x) if x else 0
        stats = (*x[:axis], *(1 for _ in x[axis:]))
    return [(elem, x)] + [(TensorProto.FLOAT, stats)] * (len(ctx.node.output) - 1)


def _embed_dims(ctx: NodeContext) -> tuple[int, int, int, int]:
    """(E, G, embeddings summed per token, H): E = B·S·H elements, G = B·S tokens."""
    b, s = ctx.input_shape(0)
    hidden = ctx.input_shape(2)[1]
    embeddings = 3 if ctx.has_input(1) and ctx.has_input(4) else 2  # word, position and maybe segment
    return b * s * hidden, b * s, embeddings, hidden


def _embed_layer_norm_flops(e: int, g: int, embeddings: int) -> int:
    """The embeddings summed, normalized, scaled by gamma and shifted by beta."""
    return (embeddings - 1) * e + mean_var_norm(e, g) + 2 * e


@cost("EmbedLayerNormalization", domain=MS)
def embed_layer_norm(ctx: NodeContext) -> int:
    """EmbedLayerNormalization: E (word + position) + E if segment embedding + 7E + 3G (layer norm); E = B·S·H, G = B·S.

    The embedding lookups are gathers and count 0.
    """
    e, g, embeddings, _ = _embed_dims(ctx)
    return _embed_layer_norm_flops(e, g, embeddings)


@cost("QEmbedLayerNormalization", domain=MS)
def q_embed_layer_norm(ctx: NodeContext) -> int:
    """QEmbedLayerNormalization: EmbedLayerNormalization's count + 2E per int8 embedding gathered (dequantize) + 2 × 2H for gamma and beta."""
    e, g, embeddings, hidden = _embed_dims(ctx)
    return _embed_layer_norm_flops(e, g, embeddings) + DEQUANTIZE * (embeddings * e + 2 * hidden)


def _embed_layer_norm_shape(ctx: NodeContext, elem: Optional[int]) -> list[TypeInfo]:
    ids = ctx.input_type(0)[1]
    word = ctx.input_type(2)[1]
    b, s = (ids[0], ids[1]) if ids is not None and len(ids) == 2 else (None, None)
    hidden = word[1] if word is not None else None
    out = (b, s, hidden)
    return [(elem, out), (TensorProto.INT32, (b,)), (elem, out)][: len(ctx.node.output)]


@shape("EmbedLayerNormalization", domain=MS)
def embed_layer_norm_shape(ctx: NodeContext) -> list[TypeInfo]:
    return _embed_layer_norm_shape(ctx, ctx.input_type(2)[0])


@shape("QEmbedLayerNormalization", domain=MS)
def q_embed_layer_norm_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Typed as the word embedding's scale (float): the int8 embeddings are dequantized."""
    return _embed_layer_norm_shape(ctx, ctx.input_type(8)[0])


# --- activations and adds -----------------------------------------------------------


@cost("FastGelu", domain=MS)
def fast_gelu(ctx: NodeContext) -> int:
    """FastGelu: 8 × elements (tanh-approximated Gelu) + 1 × elements if bias."""
    return (GELU_TANH_PER_ELEMENT + (1 if ctx.has_input(1) else 0)) * broadcast_numel(ctx)


@cost("BiasGelu", domain=MS)
def bias_gelu(ctx: NodeContext) -> int:
    """BiasGelu: 6 × elements (bias add 1 + erf Gelu 5)."""
    return (1 + GELU_ERF_PER_ELEMENT) * broadcast_numel(ctx)


@cost("Gelu", domain=MS)
def ms_gelu(ctx: NodeContext) -> int:
    """Gelu (com.microsoft): 5 × elements (0.5·x·(1 + erf(x/√2)): div, erf, add, mul, mul)."""
    return GELU_ERF_PER_ELEMENT * broadcast_numel(ctx)


@cost("QuickGelu", domain=MS)
def quick_gelu(ctx: NodeContext) -> int:
    """QuickGelu: 6 × elements (x·sigmoid(alpha·x): mul, sigmoid 4, mul)."""
    return (PER_ELEMENT["Sigmoid"][0] + 2) * broadcast_numel(ctx)


@cost("BiasAdd", domain=MS)
def bias_add(ctx: NodeContext) -> int:
    """BiasAdd: 2 × elements (X + bias + skip)."""
    return 2 * broadcast_numel(ctx)


@cost("GemmaRotaryEmbedding", domain=MS)
def gemma_rotary_embedding(ctx: NodeContext) -> int:
    """GemmaRotaryEmbedding: sin and cos of emb (2 × its elements) + 3 × the elements of q and of k (x·cos + x_rot·sin)."""
    return 2 * ctx.input_numel(0) + ROTARY * (ctx.input_numel(1) + ctx.input_numel(3))


@shape("GemmaRotaryEmbedding", domain=MS)
def gemma_rotary_embedding_shape(ctx: NodeContext) -> list[TypeInfo]:
    """The rotated q and k, shaped and typed like q and k."""
    return [ctx.input_type(1), ctx.input_type(3)][:len(ctx.node.output)]


@shape("FastGelu", "BiasGelu", "Gelu", "QuickGelu", "BiasAdd", "RotaryEmbedding", "MRotaryEmbedding", domain=MS)
def like_input(ctx: NodeContext) -> list[TypeInfo]:
    """One output with the type and shape of input 0."""
    return [ctx.input_type(0)]


# --- rotary embeddings ----------------------------------------------------------------


@cost("RotaryEmbedding")
@cost("RotaryEmbedding", "MRotaryEmbedding", domain=MS)
def rotary_embedding(ctx: NodeContext) -> int:
    """RotaryEmbedding: 3 × rotated elements (x·cos ± x_pair·sin); rotated = E·rot_dim/head_size (all of E when rotary_embedding_dim is 0).

    MRotaryEmbedding (Qwen-VL's multimodal RoPE) gathers its cos/sin from three position
    streams, which moves data only, then rotates the same way.
    """
    x = ctx.input_shape(0)
    e = numel(x)
    rot = ctx.attr("rotary_embedding_dim", 0)
    if not rot:
        return ROTARY * e
    if len(x) == 4:
        head = x[-1]
    else:
        heads = ctx.attr("num_heads")
        _require(heads, what="RotaryEmbedding num_heads (needed with a partial rotary_embedding_dim)")
        head = x[-1] // heads
    return ROTARY * e * rot // head

