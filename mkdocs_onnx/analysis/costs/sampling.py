"""Sampling at computed positions: AffineGrid, GridSample and RoiAlign.

Like Resize (see :mod:`.resize`), an interpolated value is a weighted sum of the 2^d
(linear) or 4^d (cubic) nearest inputs, n multiplies + n − 1 adds for n points. The
sampling positions and their weights are computed once per output position and shared by
every channel; they are not counted (for C channels they are a 1/C share of the work).
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import shape_or_compute, weighted_sum
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape

# points one interpolated value reads along each axis, by mode (opset 16 names, then 20's)
_POINTS_PER_AXIS = {"bilinear": 2, "linear": 2, "bicubic": 4, "cubic": 4}


@cost("AffineGrid")
def affine_grid(ctx: NodeContext) -> int:
    """AffineGrid: 2r × out_elements (each coordinate is θ·(x, y[, z], 1): r multiplies and r adds); r = spatial axes."""
    out = shape_or_compute(ctx, lambda: _affine_grid_out(ctx))  # (N, D1..Dr, r)
    return 2 * out[-1] * numel(out)


def _affine_grid_out(ctx: NodeContext) -> tuple[int, ...]:
    size = ctx.input_value(1)  # (N, C, D1..Dr)
    if size is None:
        raise Uncountable("AffineGrid size (input 1) is not constant")
    size = [int(v) for v in size]
    return (size[0], *size[2:], len(size) - 2)


@cost("GridSample")
@cost("GridSample", domain=MS)  # ONNX Runtime's, from before ONNX had one: the same operator
def grid_sample(ctx: NodeContext) -> int:
    """GridSample: nearest 0 (a copy); linear (2·2^r − 1) × out_elements; cubic (2·4^r − 1) × out_elements; r = spatial axes."""
    mode = ctx.attr("mode", "bilinear")
    if mode == "nearest":
        return 0
    if mode not in _POINTS_PER_AXIS:
        raise Uncountable(f"GridSample mode '{mode}' has no known cost")
    spatial = len(ctx.input_shape(0)) - 2
    out = shape_or_compute(ctx, lambda: _grid_sample_out(ctx))
    return weighted_sum(_POINTS_PER_AXIS[mode] ** spatial) * numel(out)


def _grid_sample_out(ctx: NodeContext) -> tuple[int, ...]:
    x, grid = ctx.input_shape(0), ctx.input_shape(1)  # (N, C, D1..Dr), (N, D1_out..Dr_out, r)
    return (x[0], x[1], *grid[1:-1])


@shape("GridSample", domain=MS)
def ms_grid_sample_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [(ctx.input_type(0)[0], _grid_sample_out(ctx))]


@cost("RoiAlign")
def roi_align(ctx: NodeContext) -> int:
    """RoiAlign: out_elements × (S × 7 + S) for avg (S bilinear samples of 4 points, S − 1 adds, 1 divide), × (S × 7 + S − 1) for max; S = sampling_ratio²."""
    ratio = ctx.attr("sampling_ratio", 0)
    if ratio <= 0:
        raise Uncountable("RoiAlign sampling_ratio 0: the samples per bin follow each RoI's size, which is data")
    samples = ratio * ratio
    per_sample = weighted_sum(4)  # avg mode: w·v summed over 4 points; max mode: 4 w·v and 3 max, as many
    pooling = samples if ctx.attr("mode", "avg") == "avg" else samples - 1
    out = shape_or_compute(ctx, lambda: _roi_align_out(ctx))
    return numel(out) * (samples * per_sample + pooling)


def _roi_align_out(ctx: NodeContext) -> tuple[int, ...]:
    x, rois = ctx.input_shape(0), ctx.input_shape(1)  # (N, C, H, W), (num_rois, 4)
    return (rois[0], x[1], ctx.attr("output_height", 1), ctx.attr("output_width", 1))
