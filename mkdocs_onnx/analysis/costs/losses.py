"""Training losses that exported graphs sometimes keep: NegativeLogLikelihoodLoss and
SoftmaxCrossEntropyLoss.

A loss element is one (sample, position) pair: N × d1 × … × dk of them. Positions with
the ignore_index are counted like the others (which ones they are is data).
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.elementwise import SOFTMAX_PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import NodeContext, cost, numel


def nll_flops(ctx: NodeContext, elements: int, weight_input: int) -> int:
    """Negate each picked log-probability (× its class weight), then reduce: sum adds them,
    mean adds them and divides by their count (or by the sum of their weights). With an
    ``ignore_index`` each target is compared with it, and the mean divides by the number of
    targets kept, which takes a sum of its own (a weighted mean sums the kept weights anyway)."""
    weighted = ctx.has_input(weight_input)
    ignoring = ctx.attr("ignore_index") is not None
    flops = elements * (2 if weighted else 1) + (elements if ignoring else 0)
    reduction = ctx.attr("reduction", "mean")
    if reduction == "sum":
        flops += elements - 1
    elif reduction == "mean":
        flops += (elements - 1) + 1 + ((elements - 1) if weighted or ignoring else 0)
    return flops


@cost("NegativeLogLikelihoodLoss")
def negative_log_likelihood_loss(ctx: NodeContext) -> int:
    """NegativeLogLikelihoodLoss: E (negations) + E with weights + E with ignore_index; + E − 1 for sum; + E (adds, a divide) + E − 1 with weights or ignore_index for mean; E = N·∏d."""
    return nll_flops(ctx, numel(ctx.input_shape(1)), weight_input=2)


@cost("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy_loss(ctx: NodeContext) -> int:
    """SoftmaxCrossEntropyLoss: LogSoftmax over the classes (5 × N·C·∏d) + NegativeLogLikelihoodLoss over N·∏d."""
    scores = ctx.input_shape(0)
    return SOFTMAX_PER_ELEMENT * numel(scores) + nll_flops(ctx, numel(ctx.input_shape(1)), weight_input=2)
