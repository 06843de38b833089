"""Resize and Upsample.

An output element of an N-linear (N-cubic) resize is a weighted sum of the 2^d (4^d)
nearest inputs, d being the number of axes whose size changes (an axis whose size does
not change is copied along). A weighted sum of n points is n multiplies + n − 1 adds.
The interpolation weights depend only on the coordinate along each axis, so they are
computed once per output row/column and not counted.
"""

from __future__ import annotations

import math

from mkdocs_onnx.analysis.costs._common import shape_or_compute, weighted_sum
from mkdocs_onnx.analysis.costs.registry import NodeContext, Shape, Uncountable, cost, numel


def _output_shape(ctx: NodeContext) -> Shape:
    """Output shape from shape inference, else from the constant sizes or scales."""

    def compute() -> Shape:
        x = ctx.input_shape(0)
        if len(ctx.node.input) <= 2:  # Upsample, Resize-10: (X, scales); Upsample-7: scales attribute
            scales, sizes = ctx.input_value(1) if ctx.has_input(1) else ctx.attr("scales"), None
        else:
            scales, sizes = ctx.input_value(2), ctx.input_value(3)
        axes = ctx.attr("axes") or list(range(len(x)))
        out = list(x)
        if sizes is not None and len(sizes):
            for axis, size in zip(axes, sizes):
                out[axis] = int(size)
        elif scales is not None and len(scales):
            for axis, scale in zip(axes, scales):
                out[axis] = math.floor(x[axis] * float(scale))
        else:
            raise Uncountable(f"{ctx.op_type} scales/sizes are not constant")
        return tuple(out)

    return shape_or_compute(ctx, compute)


@cost("Resize", "Upsample")
def resize(ctx: NodeContext) -> int:
    """Resize/Upsample: nearest 0 (a copy); linear (2^(d+1) − 1) × out_elements; cubic (2·4^d − 1) × out_elements; d = axes whose size changes."""
    mode = ctx.attr("mode", "nearest")
    if mode == "nearest":
        return 0
    out = _output_shape(ctx)
    d = sum(1 for a, b in zip(ctx.input_shape(0), out) if a != b)
    points = {"linear": 2, "bilinear": 2, "cubic": 4}.get(mode)
    if points is None:
        raise Uncountable(f"{ctx.op_type} mode '{mode}' has no known cost")
    return weighted_sum(points**d) * numel(out) if d else 0
