"""Convolutions: Conv, ConvTranspose, DeformConv, Col2Im and com.microsoft FusedConv,
NhwcConv and NhwcFusedConv (channels-last) and ConvTransposeWithDynamicPads.

Strides, pads, dilations and auto_pad only change the number of output positions, which
is read from shape inference (or computed here from static input and weight shapes
when inference left it unknown). Groups are in the weight shape: W is
(C_out, C_in/group, *kernel) for Conv and (C_in, C_out/group, *kernel) for ConvTranspose.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

from mkdocs_onnx.analysis.costs._common import shape_or_compute, weighted_sum
from mkdocs_onnx.analysis.costs.elementwise import PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, Shape, TypeInfo, Uncountable, cost, numel, shape


def window_out(ctx: NodeContext, in_spatial: Sequence[int], kernel: Sequence[int], ceil_mode: bool = False) -> Shape:
    """Output spatial size of a sliding window (Conv, pooling) from its attributes."""
    n = len(in_spatial)
    strides = ctx.attr("strides") or [1] * n
    dilations = ctx.attr("dilations") or [1] * n
    pads = ctx.attr("pads") or [0] * (2 * n)
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    rounding = math.ceil if ceil_mode else math.floor
    out = []
    for axis, size in enumerate(in_spatial):
        span = dilations[axis] * (kernel[axis] - 1) + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(math.ceil(size / strides[axis]))
        else:
            padded = size if auto_pad == "VALID" else size + pads[axis] + pads[axis + n]
            out.append(rounding((padded - span) / strides[axis]) + 1)
    return _positive(ctx, tuple(out))


def _positive(ctx: NodeContext, spatial: Shape) -> Shape:
    """Computed spatial dims, refusing the negative sizes of a window larger than its padded input."""
    if any(d < 0 for d in spatial):
        raise Uncountable(f"{ctx.op_type} attributes give a negative output size {list(spatial)}")
    return spatial


def conv_out_shape(ctx: NodeContext, x_input: int = 0, w_input: int = 1, channels_last: bool = False) -> Shape:
    """(N, M, *spatial); (N, *spatial, M) when the input is channels-last (N, *spatial, C)."""
    x, w = ctx.input_shape(x_input), ctx.input_shape(w_input)
    if channels_last:
        return (x[0], *window_out(ctx, x[1:-1], w[2:]), w[0])
    return (x[0], w[0], *window_out(ctx, x[2:], w[2:]))


def conv_flops(ctx: NodeContext, x_input: int = 0, w_input: int = 1, bias_input: Optional[int] = 2,
               channels_last: bool = False) -> int:
    """2 multiply-accumulate FLOPs per output element per weight of one group, + a bias add per output element."""
    w = ctx.input_shape(w_input)
    out = numel(shape_or_compute(ctx, lambda: conv_out_shape(ctx, x_input, w_input, channels_last)))
    return 2 * out * numel(w[1:]) + (out if bias_input is not None and ctx.has_input(bias_input) else 0)


def conv_shape(ctx: NodeContext, x_input: int = 0, w_input: int = 1, channels_last: bool = False,
               elem: Optional[int] = None) -> list[TypeInfo]:
    """The output type of a Conv-like contrib operator: ``elem`` (else the input's) and the
    computed shape; with symbolic spatial dims, batch and channels known, the rest unknown."""
    x_elem, x = ctx.input_type(x_input)
    w = ctx.input_type(w_input)[1]
    elem = x_elem if elem is None else elem
    if x is None or w is None:
        return [(elem, None)]
    try:
        return [(elem, conv_out_shape(ctx, x_input, w_input, channels_last))]
    except Uncountable:
        unknown = [None] * (len(x) - 2)
        return [(elem, (x[0], *unknown, w[0]) if channels_last else (x[0], w[0], *unknown))]


@cost("Conv")
def conv(ctx: NodeContext) -> int:
    """Conv: 2 × out_elements × (C_in/group × ∏kernel) + out_elements if bias B is given."""
    return conv_flops(ctx)


def conv_transpose_out_shape(ctx: NodeContext, pads: Optional[Sequence[int]] = None) -> Shape:
    """The output shape; ``pads`` when they are an input's value rather than the attribute."""
    x, w = ctx.input_shape(0), ctx.input_shape(1)
    n = len(x) - 2
    c_out = w[1] * ctx.attr("group", 1)
    if ctx.attr("output_shape"):
        return (x[0], c_out, *ctx.attr("output_shape")[-n:])
    strides = ctx.attr("strides") or [1] * n
    if ctx.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        return (x[0], c_out, *(size * s for size, s in zip(x[2:], strides)))
    dilations = ctx.attr("dilations") or [1] * n
    pads = pads if pads is not None else ctx.attr("pads") or [0] * (2 * n)
    extra = ctx.attr("output_padding") or [0] * n
    spatial = [
        strides[i] * (x[2 + i] - 1) + extra[i] + dilations[i] * (w[2 + i] - 1) + 1 - pads[i] - pads[i + n]
        for i in range(n)
    ]
    return (x[0], c_out, *_positive(ctx, tuple(spatial)))


@cost("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> int:
    """ConvTranspose: 2 × in_elements × (C_out/group × ∏kernel) + out_elements if bias B is given."""
    return _conv_transpose_flops(ctx, bias_input=2, out_shape=lambda: conv_transpose_out_shape(ctx))


@cost("ConvTransposeWithDynamicPads", domain=MS)
def conv_transpose_dynamic_pads(ctx: NodeContext) -> int:
    """ConvTransposeWithDynamicPads: ConvTranspose's count, its pads given by input 2 (needed only to size a bias add)."""
    return _conv_transpose_flops(ctx, bias_input=3, out_shape=lambda: conv_transpose_out_shape(ctx, _pads_input(ctx)))


def _conv_transpose_flops(ctx: NodeContext, bias_input: int, out_shape: Callable[[], Shape]) -> int:
    """Every input element times each weight of its group (the count does not depend on the padding), + a bias add per output element."""
    w = ctx.input_shape(1)
    flops = 2 * ctx.input_numel(0) * numel(w[1:])
    if ctx.has_input(bias_input):
        flops += numel(shape_or_compute(ctx, out_shape))
    return flops


def _pads_input(ctx: NodeContext) -> Optional[list[int]]:
    """The Pads input's values; None when it is absent (then the attribute's pads apply)."""
    if not ctx.has_input(2):
        return None
    value = ctx.input_value(2)
    if value is None:
        raise Uncountable("ConvTransposeWithDynamicPads: its pads are computed at run time")
    return [int(p) for p in value.reshape(-1)]


@cost("DeformConv")
def deform_conv(ctx: NodeContext) -> int:
    """DeformConv: Conv's FLOPs, + N·C_in·∏out·∏kernel sampled inputs × (2·2^r − 1) (bilinear over 2^r points; + 1 with a mask); r = spatial axes."""
    x, w = ctx.input_shape(0), ctx.input_shape(1)
    out = shape_or_compute(ctx, lambda: conv_out_shape(ctx))
    # each output position reads every input channel at each kernel tap, at an offset position
    samples = x[0] * x[1] * numel(out[2:]) * numel(w[2:])
    per_sample = weighted_sum(2 ** (len(x) - 2)) + (1 if ctx.has_input(4) else 0)
    return conv_flops(ctx, bias_input=3) + samples * per_sample


@cost("Col2Im")
def col2im(ctx: NodeContext) -> int:
    """Col2Im: input_elements adds (every column value is added into its image position; overlapping blocks sum)."""
    return ctx.input_numel(0)


# FLOPs per output element of the activations FusedConv may fuse (Clip: a min and a max)
FUSED_ACTIVATIONS = {
    "": 0, "Clip": 2, **{a: PER_ELEMENT[a][0] for a in ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "HardSigmoid")}
}


@cost("FusedConv", domain=MS)
def fused_conv(ctx: NodeContext, channels_last: bool = False) -> int:
    """FusedConv: Conv + activation per output element (Relu 1, Sigmoid 4, Tanh 1, LeakyRelu 2, Clip 2, HardSigmoid 4) + out_elements if Z (sum) is given."""
    activation = ctx.attr("activation", "")
    if activation not in FUSED_ACTIVATIONS:
        raise Uncountable(f"{ctx.op_type} activation '{activation}' has no known cost")
    per_out = FUSED_ACTIVATIONS[activation] + (1 if ctx.has_input(3) else 0)
    out = numel(shape_or_compute(ctx, lambda: conv_out_shape(ctx, channels_last=channels_last)))
    return conv_flops(ctx, channels_last=channels_last) + per_out * out


@cost("NhwcFusedConv", domain=MS)
def nhwc_fused_conv(ctx: NodeContext) -> int:
    """NhwcFusedConv: FusedConv's count, on channels-last input and output."""
    return fused_conv(ctx, channels_last=True)


@shape("FusedConv", domain=MS)
def fused_conv_shape(ctx: NodeContext) -> list[TypeInfo]:
    return conv_shape(ctx)


@cost("NhwcConv", domain=MS)
def nhwc_conv(ctx: NodeContext) -> int:
    """NhwcConv: Conv's count, on channels-last input (N, H, W, C) and output (N, oH, oW, M); weights (M, C/group, kH, kW)."""
    return conv_flops(ctx, channels_last=True)


@shape("NhwcConv", "NhwcFusedConv", domain=MS)
def nhwc_conv_shape(ctx: NodeContext) -> list[TypeInfo]:
    return conv_shape(ctx, channels_last=True)
