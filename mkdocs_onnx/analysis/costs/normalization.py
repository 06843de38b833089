"""Normalizations: Batch/Instance/Layer/Group/RMS/Lp/MeanVariance normalization, LRN,
and com.microsoft GatedRMSNorm.

E is the number of input elements, G the number of groups that get their own
statistics (E/G elements each). Counting each operation once:

- mean:         E − G adds + G divides                   = E
- centre:       x − mean                                 = E
- variance:     E squares + E − G adds + G divides       = 2E
- 1/√(var+ε):   add ε, sqrt, reciprocal per group        = 3G
- normalize:    multiply by 1/√(var+ε)                   = E

so mean-variance normalization is 5E + 3G, and a per-element scale and bias add 2E more.
An RMS normalization skips the mean and the centring: E squares + E − G adds + G divides
+ 3G + E normalize = 3E + 3G, plus E for the scale.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import norm_axis, static_attr
from mkdocs_onnx.analysis.costs.elementwise import PER_ELEMENT, SILU_PER_ELEMENT, same_as_input
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, Uncountable, cost, numel, shape


def mean_var_norm(e: int, g: int) -> int:
    """5E + 3G: normalize E elements in G groups to zero mean and unit variance."""
    return 5 * e + 3 * g


def group_norm_flops(e: int, g: int) -> int:
    """7E + 3G: :func:`mean_var_norm`, then scale and shift each of the E elements."""
    return mean_var_norm(e, g) + 2 * e


def rms_norm(e: int, g: int) -> int:
    """3E + 3G: divide E elements in G groups by their root mean square."""
    return 3 * e + 3 * g


def _rows(ctx: NodeContext, axis_default: int = -1) -> tuple[int, int]:
    """(E, G) when statistics are taken over the dims from ``axis`` to the end."""
    x = ctx.input_shape(0)
    axis = norm_axis(ctx.attr("axis", axis_default), len(x))
    return numel(x), numel(x[:axis])


@cost("BatchNormalization")
def batch_norm(ctx: NodeContext) -> int:
    """BatchNormalization (inference): 2E (x·scale' + shift', with scale' = γ/√(var+ε) and shift' = β − mean·scale' precomputed per channel)."""
    if ctx.attr("training_mode", 0):
        ctx.notes.append("BatchNormalization has training_mode=1; counted as inference (2 FLOPs per element).")
    return 2 * ctx.input_numel(0)


@cost("InstanceNormalization")
def instance_norm(ctx: NodeContext) -> int:
    """InstanceNormalization: 5E + 3G + 2E (scale, bias) = 7E + 3G, G = N·C."""
    x = ctx.input_shape(0)
    return mean_var_norm(numel(x), numel(x[:2])) + 2 * numel(x)


@cost("LayerNormalization")
def layer_norm(ctx: NodeContext) -> int:
    """LayerNormalization: 5E + 3G + E (scale) + E if bias B is given, G = ∏dims before axis."""
    e, g = _rows(ctx)
    return mean_var_norm(e, g) + e + (e if ctx.has_input(2) else 0)


@cost("GroupNormalization")
def group_norm(ctx: NodeContext) -> int:
    """GroupNormalization: 5E + 3G + 2E (scale, bias) = 7E + 3G, G = N·num_groups."""
    x = ctx.input_shape(0)
    return group_norm_flops(numel(x), x[0] * static_attr(ctx, "num_groups"))


@cost("MeanVarianceNormalization")
def mean_variance_norm(ctx: NodeContext) -> int:
    """MeanVarianceNormalization: 5E + 3G, G = E / ∏dims in axes (default [0, 2, 3])."""
    x = ctx.input_shape(0)
    axes = {norm_axis(a, len(x)) for a in ctx.attr("axes", [0, 2, 3])}
    groups = numel([d for i, d in enumerate(x) if i not in axes])
    return mean_var_norm(numel(x), groups)


@cost("RMSNormalization", "SimplifiedLayerNormalization")
@cost("SimplifiedLayerNormalization", domain=MS)
def rms_normalization(ctx: NodeContext) -> int:
    """RMSNormalization/SimplifiedLayerNormalization: 3E + 3G + E (scale) = 4E + 3G, G = ∏dims before axis."""
    e, g = _rows(ctx)
    return rms_norm(e, g) + e


_GATE_ACTIVATIONS = {"silu": SILU_PER_ELEMENT, "swish": SILU_PER_ELEMENT, "sigmoid": PER_ELEMENT["Sigmoid"][0]}


@cost("GatedRMSNorm", domain=MS)
def gated_rms_norm(ctx: NodeContext) -> int:
    """GatedRMSNorm: 3E + 3G (RMS over groups of C = len(scale)) + E (scale) + E × the gate's activation (SiLU 5, sigmoid 4) + E (× gate)."""
    activation = ctx.attr("activation", "silu")
    if activation not in _GATE_ACTIVATIONS:
        raise Uncountable(f"GatedRMSNorm activation '{activation}' has no known cost")
    e, width = numel(ctx.input_shape(0)), numel(ctx.input_shape(1))
    return rms_norm(e, e // width) + e + (_GATE_ACTIVATIONS[activation] + 1) * e


@cost("LpNormalization")
def lp_norm(ctx: NodeContext) -> int:
    """LpNormalization: p=2: E squares + E − G adds + G sqrt + E divides = 3E; p=1: E abs + E − G adds + E divides = 3E − G."""
    x = ctx.input_shape(0)
    e = numel(x)
    axis = norm_axis(ctx.attr("axis", -1), len(x))
    g = numel(x[:axis] + x[axis + 1:])
    return 3 * e if ctx.attr("p", 2) == 2 else e + max(e - g, 0) + e


@cost("LRN")
def lrn(ctx: NodeContext) -> int:
    """LRN: E·(size + 4): E squares, (size − 1) adds per element for the window sum, then ·α/size, +bias, ^β, divide."""
    size = static_attr(ctx, "size")
    return ctx.input_numel(0) * (size + 4)


shape("GatedRMSNorm", domain=MS)(same_as_input)
