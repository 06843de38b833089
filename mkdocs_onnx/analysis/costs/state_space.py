"""Recurrent-state blocks of linear-attention and state-space models (opset 27):
LinearAttention (Gated DeltaNet, RetNet, GLA) and CausalConvWithState (Mamba, Gated DeltaNet).

LinearAttention is counted as the spec defines it: the recurrence run token by token
over a d_k × d_v state per key/value head. Kernels may compute it chunk-parallel, which
changes the work; the count is the recurrence's.

ONNX Runtime's com.microsoft forms take the same inputs and add options (windows of past
states, channels-last and multi-dimensional convolutions, more KV heads than query
heads); with those options at their defaults they are the same operators, and counted
so; otherwise they are uncounted, with the option named.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.elementwise import SILU_PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, shape

# the com.microsoft options beyond ONNX's, and the value that makes each operator ONNX's
_MS_DEFAULTS = {
    "LinearAttention": {"state_window": 0},
    "CausalConvWithState": {"state_window": 0, "ndim": 1, "channels_last": 0, "dilation": 1, "input_channels": 0,
                            "input_channel_offset": 0, "state_length": 0, "state_update_capacity": 0},
}


def _as_onnx(ctx: NodeContext) -> None:
    """Raise Uncountable when a com.microsoft form uses an option ONNX's form does not have."""
    if ctx.domain != MS:
        return
    for name, default in _MS_DEFAULTS[ctx.op_type].items():
        if ctx.attr(name, default) != default:
            raise Uncountable(f"{ctx.op_type} with {name}={ctx.attr(name)} is not counted (only ONNX's form)")


@cost("CausalConvWithState")
@cost("CausalConvWithState", domain=MS)
def causal_conv_with_state(ctx: NodeContext) -> int:
    """CausalConvWithState: out_elements × (2k (a depthwise k-tap MAC) + 1 with bias + 5 for silu/swish)."""
    _as_onnx(ctx)
    k = ctx.input_shape(1)[-1]  # weight (channels, 1, k)
    activation = ctx.attr("activation", "none")
    if activation not in ("none", "silu", "swish"):
        raise Uncountable(f"CausalConvWithState activation '{activation}' has no known cost")
    per_output = 2 * k + (1 if ctx.has_input(2) else 0) + (SILU_PER_ELEMENT if activation != "none" else 0)
    return ctx.input_numel(0) * per_output  # the output has the input's shape


@cost("LinearAttention")
@cost("LinearAttention", domain=MS)
def linear_attention(ctx: NodeContext) -> int:
    """LinearAttention: per token, each KV head's state update (linear 2·dk·dv; gated 3·dk·dv + decays; delta 4·dk·dv + 2·dv; gated_delta 5·dk·dv + 2·dv + decays) and each query head's readout 2·dk·dv + dv."""
    batch, tokens, q_packed = ctx.input_shape(0)
    kv_packed = ctx.input_shape(2)[-1]
    _as_onnx(ctx)
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if not q_heads or not kv_heads:
        raise Uncountable("LinearAttention q_num_heads and kv_num_heads are required")
    if kv_heads > q_heads:  # com.microsoft's inverse GQA: one output per KV head
        raise Uncountable("LinearAttention with more KV heads than query heads is not counted")
    d_k, d_v = q_packed // q_heads, kv_packed // kv_heads
    rule = ctx.attr("update_rule", "gated_delta")
    state = d_k * d_v
    update = {  # S = exp(g)·S: a multiply per state entry; S ± k ⊗ u: a multiply and an add
        "linear": 2 * state,
        "gated": 3 * state,
        # u = β(v − Sᵀk): a 2·dk·dv product, dv subtracts, dv multiplies; then S + k ⊗ u
        "delta": 4 * state + 2 * d_v,
        "gated_delta": 5 * state + 2 * d_v,
    }.get(rule)
    if update is None:
        raise Uncountable(f"LinearAttention update_rule '{rule}' has no known cost")
    if rule in ("gated", "gated_delta"):
        update += _decays_per_head(ctx, kv_heads)  # exp(g): one per decay value
    readout = 2 * state + d_v  # scale · qᵀS
    return batch * tokens * (kv_heads * update + q_heads * readout)


def _decays_per_head(ctx: NodeContext, kv_heads: int) -> int:
    """Decay values per KV head and token: d_k (per key dimension) or 1 (per head)."""
    if not ctx.has_input(4):
        raise Uncountable("LinearAttention gated update without a decay input")
    return ctx.input_shape(4)[-1] // kv_heads


@shape("LinearAttention", domain=MS)
def linear_attention_shape(ctx: NodeContext) -> list[TypeInfo]:
    """output (B, T, H_q·d_v), present_state (B, H_kv, d_k, d_v), as ONNX's form shapes them."""
    elem, query = ctx.input_type(0)
    value = ctx.input_shape(2)
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    d_k, d_v = query[-1] // q_heads, value[-1] // kv_heads
    return [(elem, (*query[:2], q_heads * d_v)), (elem, (query[0], kv_heads, d_k, d_v))][:len(ctx.node.output)]


@shape("CausalConvWithState", domain=MS)
def causal_conv_with_state_shape(ctx: NodeContext) -> list[TypeInfo]:
    """output like the input (batch, channels, length), present_state (batch, channels, k − 1)."""
    elem, x = ctx.input_type(0)
    k = ctx.input_shape(1)[-1]
    return [(elem, x), (elem, (x[0], x[1], k - 1))][:len(ctx.node.output)]
