"""Pooling: MaxPool, AveragePool, LpPool, their Global forms and com.microsoft NhwcMaxPool.

Windowed pools are counted per output element over the full kernel window, padded
positions included (what a kernel does when it does not special-case borders).
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import shape_or_compute, static_attr
from mkdocs_onnx.analysis.costs.conv import window_out
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, Shape, TypeInfo, Uncountable, cost, numel, shape


def pool_out_shape(ctx: NodeContext, channels_last: bool = False) -> Shape:
    """(N, C, *spatial) of a windowed pool; (N, *spatial, C) for channels-last input."""
    kernel = list(static_attr(ctx, "kernel_shape"))
    x = ctx.input_shape(0)
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    if channels_last:
        return (x[0], *window_out(ctx, x[1:-1], kernel, ceil_mode), x[-1])
    return (*x[:2], *window_out(ctx, x[2:], kernel, ceil_mode))


def _window(ctx: NodeContext, channels_last: bool = False) -> tuple[int, int]:
    """(output elements, ∏kernel) of a windowed pool."""
    kernel = static_attr(ctx, "kernel_shape")
    return numel(shape_or_compute(ctx, lambda: pool_out_shape(ctx, channels_last))), numel(kernel)


@cost("MaxPool")
def max_pool(ctx: NodeContext) -> int:
    """MaxPool: out_elements × (∏kernel − 1) comparisons."""
    return _comparisons(ctx)


def _comparisons(ctx: NodeContext, channels_last: bool = False) -> int:
    out, k = _window(ctx, channels_last)
    return out * max(k - 1, 0)


@cost("NhwcMaxPool", domain=MS)
def nhwc_max_pool(ctx: NodeContext) -> int:
    """NhwcMaxPool: MaxPool's out_elements × (∏kernel − 1) comparisons, on channels-last (N, H, W, C) int8 data."""
    return _comparisons(ctx, channels_last=True)


@shape("NhwcMaxPool", domain=MS)
def nhwc_max_pool_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem = ctx.input_type(0)[0]
    try:
        return [(elem, pool_out_shape(ctx, channels_last=True))]
    except Uncountable:  # symbolic spatial dims
        return [(elem, None)]


@cost("AveragePool")
def average_pool(ctx: NodeContext) -> int:
    """AveragePool: out_elements × ∏kernel (∏kernel − 1 adds + 1 divide)."""
    out, k = _window(ctx)
    return out * k


@cost("LpPool")
def lp_pool(ctx: NodeContext) -> int:
    """LpPool: out_elements × 2·∏kernel (∏kernel |x|^p powers + ∏kernel − 1 adds + 1 p-th root)."""
    out, k = _window(ctx)
    return out * 2 * k


def _global(ctx: NodeContext) -> tuple[int, int]:
    """(N·C, spatial elements per channel) of a global pool."""
    x = ctx.input_shape(0)
    return numel(x[:2]), numel(x[2:])


@cost("GlobalAveragePool")
def global_average_pool(ctx: NodeContext) -> int:
    """GlobalAveragePool: N·C·(H·W − 1) adds + N·C divides = N·C·H·W (input elements)."""
    nc, hw = _global(ctx)
    return nc * hw


@cost("GlobalMaxPool")
def global_max_pool(ctx: NodeContext) -> int:
    """GlobalMaxPool: N·C·(H·W − 1) comparisons."""
    nc, hw = _global(ctx)
    return nc * max(hw - 1, 0)


@cost("GlobalLpPool")
def global_lp_pool(ctx: NodeContext) -> int:
    """GlobalLpPool: N·C·2·H·W (H·W powers + H·W − 1 adds + 1 p-th root per channel)."""
    nc, hw = _global(ctx)
    return nc * 2 * hw
