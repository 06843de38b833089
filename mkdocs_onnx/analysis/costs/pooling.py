"""Pooling: MaxPool, AveragePool, LpPool and their Global forms.

Windowed pools are counted per output element over the full kernel window, padded
positions included (what a kernel does when it does not special-case borders).
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import shape_or_compute, static_attr
from mkdocs_onnx.analysis.costs.conv import window_out
from mkdocs_onnx.analysis.costs.registry import NodeContext, cost, numel


def _window(ctx: NodeContext) -> tuple[int, int]:
    """(output elements, ∏kernel) of a windowed pool."""
    kernel = list(static_attr(ctx, "kernel_shape"))

    def compute():
        x = ctx.input_shape(0)
        return (*x[:2], *window_out(ctx, x[2:], kernel, bool(ctx.attr("ceil_mode", 0))))

    return numel(shape_or_compute(ctx, compute)), numel(kernel)


@cost("MaxPool")
def max_pool(ctx: NodeContext) -> int:
    """MaxPool: out_elements × (∏kernel − 1) comparisons."""
    out, k = _window(ctx)
    return out * max(k - 1, 0)


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
