"""ONNX Runtime's fusions for diffusion models (com.microsoft): GroupNorm, SkipGroupNorm
and BiasSplitGelu, as its optimizer writes them into Stable Diffusion UNets.

ONNX shape inference does not know them; each has a shape function too.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import static_attr
from mkdocs_onnx.analysis.costs.elementwise import GELU_ERF_PER_ELEMENT, SILU_PER_ELEMENT
from mkdocs_onnx.analysis.costs.normalization import group_norm_flops
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, cost, numel, shape


def _group_norm(ctx: NodeContext) -> int:
    """GroupNormalization's 7E + 3G (G = N·groups), + 5E for a fused SiLU."""
    x = ctx.input_shape(0)
    elements = numel(x)
    flops = group_norm_flops(elements, x[0] * static_attr(ctx, "groups"))
    return flops + (SILU_PER_ELEMENT * elements if ctx.attr("activation", 0) else 0)


@cost("GroupNorm", domain=MS)
def group_norm(ctx: NodeContext) -> int:
    """GroupNorm: 7E + 3G (normalize, scale, shift; G = N·groups), + 5E with activation=1 (SiLU: sigmoid 4, multiply 1)."""
    return _group_norm(ctx)


@cost("SkipGroupNorm", domain=MS)
def skip_group_norm(ctx: NodeContext) -> int:
    """SkipGroupNorm: E (x + skip) + E with a bias, then GroupNorm's 7E + 3G (+ 5E with SiLU)."""
    elements = ctx.input_numel(0)
    return elements * (2 if ctx.has_input(4) else 1) + _group_norm(ctx)


@shape("GroupNorm", "SkipGroupNorm", domain=MS)
def group_norm_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y (and SkipGroupNorm's sum S) like X."""
    return [ctx.input_type(0)] * len(ctx.node.output)


@cost("BiasSplitGelu", domain=MS)
def bias_split_gelu(ctx: NodeContext) -> int:
    """BiasSplitGelu: 8 × output elements (the bias added to both halves: 2; GELU of the right half: 5; the product: 1)."""
    return (2 + GELU_ERF_PER_ELEMENT + 1) * (ctx.input_numel(0) // 2)


@shape("BiasSplitGelu", domain=MS)
def bias_split_gelu_shape(ctx: NodeContext) -> list[TypeInfo]:
    """(N, S, D/2), D being the bias' length."""
    elem, x = ctx.input_type(0)
    bias = ctx.input_type(1)[1]
    if x is None or len(x) != 3 or bias is None or not isinstance(bias[0], int):
        return [(elem, None)]
    return [(elem, (x[0], x[1], bias[0] // 2))]
