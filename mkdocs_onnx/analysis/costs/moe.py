"""Mixture of experts (com.microsoft MoE and QMoE), as ONNX Runtime's LLM exports write them.

Per token: a softmax over the router's E logits and a top-k selection (counted as TopK
is); then, for each of its k experts, FC1 (and FC3 when a SwiGLU's two projections are
not fused), the activation, FC2; then the k outputs weighted and summed. Counting from
the weights' element counts keeps the formula independent of their layout. QMoE also
dequantizes the weights of every expert the tokens use: once per call, as MatMulNBits
counts its weights, but only for min(E, tokens·k) experts, not for all of them.

Likewise its bytes read: when the tokens run fewer experts than it holds, the node reads
the weights of min(E, tokens·k) experts (``NodeContext.weights_read``), as a decoding step
of an MoE language model does.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.packing import qmoe_bits, values_in
from mkdocs_onnx.analysis.costs.elementwise import (
    GELU_ERF_PER_ELEMENT, SILU_PER_ELEMENT, SOFTMAX_PER_ELEMENT, SWIGLU_CLAMP, SWIGLU_CLAMPED_PER_ELEMENT,
)
from mkdocs_onnx.analysis.costs.quantized import DEQUANTIZE
from mkdocs_onnx.analysis.costs.reduce import top_k_comparisons
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape


# FLOPs per element of the expert's hidden layer (per inter_size element)
_ACTIVATIONS = {
    "identity": 0, "relu": 1, "gelu": GELU_ERF_PER_ELEMENT, "silu": SILU_PER_ELEMENT,
    "swiglu": SWIGLU_CLAMPED_PER_ELEMENT,  # G · sigmoid(α·G) · (L + β)
}


def _moe_flops(ctx: NodeContext, fc1: int, fc2: int, fc3: int, bias: tuple[int, int, int],
               bits: tuple[int, int, int] = (0, 0, 0)) -> int:
    """``fc1``/``fc2``/``fc3``: input positions of the expert weights (fc3 may be absent);
    ``bias``: those of their biases; ``bits``: each FC's packed width, 0 for float weights."""
    x = ctx.input_shape(0)
    tokens, hidden = numel(x[:-1]), x[-1]
    experts = ctx.input_shape(1)[-1]
    k = ctx.attr("k", 1)
    activation = ctx.attr("activation_type", "relu")
    if activation not in _ACTIVATIONS:
        raise Uncountable(f"{ctx.op_type} activation_type '{activation}' has no known cost")
    # logical weights per expert (QMoE packs 8/bits values per byte along the last axis)
    weights = [(values_in(numel(ctx.input_shape(i)), b) if b else numel(ctx.input_shape(i))) // experts
               if ctx.has_input(i) else 0 for i, b in zip((fc1, fc2, fc3), bits)]
    inter = weights[1] // hidden  # FC2 maps inter_size values back to hidden_size
    bias_lengths = (weights[0] // hidden, hidden, inter)  # FC1's outputs (2·inter when a SwiGLU is fused), FC2's, FC3's
    per_expert = (2 * sum(weights)  # a MAC per weight
                  + sum(n for i, n in zip(bias, bias_lengths) if ctx.has_input(i))
                  + inter * (_ACTIVATIONS[activation] + (SWIGLU_CLAMP if activation == "swiglu" and
                                                         ctx.attr("swiglu_limit") is not None else 0)))
    routing = SOFTMAX_PER_ELEMENT * experts + top_k_comparisons(experts, k)
    if ctx.attr("normalize_routing_weights", 0):
        routing += 2 * k - 1  # k − 1 adds, k divides
    combine = hidden * (2 * k - 1)  # k weighted outputs summed
    flops = tokens * (routing + k * per_expert + combine)
    if tokens * k < experts:  # the node's inputs hold every expert, but only these run
        ctx.weights_read = tokens * k / experts
        ctx.notes.append(f"{ctx.op_type}: {tokens} token(s) × top-{k} run at most {tokens * k} of its {experts} experts; "
                         "its bytes read count the weights of that many, and so do its estimates at larger batches, "
                         "which may run more of them")
    if any(bits):  # dequantize the weights of the experts that run: (w − zero point) · scale
        flops += DEQUANTIZE * min(experts, tokens * k) * sum(weights)
    return flops


@cost("MoE", domain=MS)
def moe(ctx: NodeContext) -> int:
    """MoE: tokens × (router softmax 5E + top-k E·⌈log2 k⌉ + k × (2 × expert weights + biases + activation × inter) + hidden × (2k − 1) to combine)."""
    return _moe_flops(ctx, 2, 4, 6, bias=(3, 5, 7))


@cost("QMoE", domain=MS)
def qmoe(ctx: NodeContext) -> int:
    """QMoE: MoE's count over the unpacked weights, + 2 × the weights of min(E, tokens·k) experts to dequantize them."""
    bits = tuple(qmoe_bits(ctx.attr, fc)[0] for fc in ("fc1", "fc2", "fc3"))
    return _moe_flops(ctx, 2, 5, 8, bias=(4, 7, 10), bits=bits)


@shape("MoE", "QMoE", domain=MS)
def moe_shape(ctx: NodeContext) -> list[TypeInfo]:
    """The output is shaped and typed like the input."""
    return [ctx.input_type(0)]
