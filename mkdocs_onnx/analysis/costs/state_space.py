"""Recurrent-state blocks of linear-attention and state-space models (opset 27):
LinearAttention (Gated DeltaNet, RetNet, GLA) and CausalConvWithState (Mamba, Gated DeltaNet).

LinearAttention is counted as the spec defines it: the recurrence run token by token
over a d_k × d_v state per key/value head. Kernels may compute it chunk-parallel, which
changes the work; the count is the recurrence's.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.elementwise import SILU_PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import NodeContext, Uncountable, cost

@cost("CausalConvWithState")
def causal_conv_with_state(ctx: NodeContext) -> int:
    """CausalConvWithState: out_elements × (2k (a depthwise k-tap MAC) + 1 with bias + 5 for silu/swish)."""
    k = ctx.input_shape(1)[-1]  # weight (channels, 1, k)
    activation = ctx.attr("activation", "none")
    if activation not in ("none", "silu", "swish"):
        raise Uncountable(f"CausalConvWithState activation '{activation}' has no known cost")
    per_output = 2 * k + (1 if ctx.has_input(2) else 0) + (SILU_PER_ELEMENT if activation != "none" else 0)
    return ctx.input_numel(0) * per_output  # the output has the input's shape


@cost("LinearAttention")
def linear_attention(ctx: NodeContext) -> int:
    """LinearAttention: per token, each KV head's state update (linear 2·dk·dv; gated 3·dk·dv + decays; delta 4·dk·dv + 2·dv; gated_delta 5·dk·dv + 2·dv + decays) and each query head's readout 2·dk·dv + dv."""
    batch, tokens, q_packed = ctx.input_shape(0)
    kv_packed = ctx.input_shape(2)[-1]
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if not q_heads or not kv_heads:
        raise Uncountable("LinearAttention q_num_heads and kv_num_heads are required")
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
