"""Operators that move, copy, index or describe data: exactly 0 FLOPs.

A registered zero is a *known* zero: the node is counted (as 0), not listed as
uncounted. These operators read and write memory (the memory model accounts for that)
but do no arithmetic on the values.
"""

from __future__ import annotations

import math

from onnx import TensorProto

from mkdocs_onnx.analysis.costs.elementwise import same_as_input
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, cost, numel, shape

ZERO_FLOP_OPS = (
    # layout
    "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "DepthToSpace", "SpaceToDepth",
    # joining, splitting, cropping, padding
    "Concat", "Split", "Slice", "Pad", "CenterCropPad", "Compress", "ReverseSequence", "Trilu",
    # indexing
    "Gather", "GatherElements", "GatherND", "NonZero", "MaxUnpool", "TensorScatter",
    # copies and type changes
    "Identity", "Cast", "CastLike", "BitCast", "Expand", "Tile", "Dropout", "Where",
    # shapes and constants
    "Shape", "Size", "Constant", "ConstantOfShape", "Range", "EyeLike", "OneHot",
    # optionals and sequences
    "Optional", "OptionalGetElement", "OptionalHasElement", "SequenceAt", "SequenceConstruct",
    "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SplitToSequence",
    "ConcatFromSequence",
)

# ONNX Runtime's: Trilu, GatherND, Pad and Range as the default domain's (it had them
# first), BERT's packing of tokens without their padding, TorchEmbedding (a Gather of rows)
# and ExpandDims (an Unsqueeze)
MS_ZERO_FLOP_OPS = ("Trilu", "GatherND", "Pad", "Range", "RemovePadding", "RestorePadding", "TorchEmbedding",
                    "ExpandDims")


@cost(*ZERO_FLOP_OPS)
@cost(*MS_ZERO_FLOP_OPS, domain=MS)
def no_arithmetic(ctx: NodeContext) -> int:
    """0 FLOPs: the operator only moves, selects, indexes or describes data.

    Decisions worth stating:
    - Where is a select: the condition was computed upstream (Greater, Equal...); picking
      one of two values is data movement, so it counts 0.
    - Dropout counts 0 because an inference graph passes the input through unchanged.
    - NonZero, Range, OneHot and EyeLike generate indices or constants, not floating-point
      results, so they count 0.
    - RemovePadding and RestorePadding (com.microsoft) copy the tokens of a padded batch to
      a packed one and back (restoring writes zeros where the padding was).
    """
    return 0


shape("Trilu", domain=MS)(same_as_input)


@shape("RemovePadding", domain=MS)
def remove_padding_shape(ctx: NodeContext) -> list[TypeInfo]:
    """input (B, S, hidden) → output (total_tokens, hidden), token_offset (B, S), cumulated_seq_len (B + 1),
    max_seq_len (1); total_tokens, the tokens that are not padding, follows the data (None)."""
    elem, x = ctx.input_type(0)
    b, s, hidden = x if x is not None and len(x) == 3 else (None, None, None)
    i32 = TensorProto.INT32
    outputs = [(elem, (None, hidden)), (i32, (b, s)), (i32, (b + 1 if isinstance(b, int) else None,)), (i32, (1,))]
    return outputs[:len(ctx.node.output)]


@shape("RestorePadding", domain=MS)
def restore_padding_shape(ctx: NodeContext) -> list[TypeInfo]:
    """input (total_tokens, hidden) and token_offset (B, S) → output (B, S, hidden)."""
    elem, x = ctx.input_type(0)
    offsets = ctx.input_type(1)[1]
    b, s = offsets if offsets is not None and len(offsets) == 2 else (None, None)
    hidden = x[-1] if x is not None and len(x) == 2 else None
    return [(elem, (b, s, hidden))]


@cost("ScatterND", "ScatterElements", "Scatter")
def scatter(ctx: NodeContext) -> int:
    """0 FLOPs with reduction='none' (a write); else 1 FLOP per update element (add/mul/max/min into the target)."""
    if ctx.attr("reduction", "none") == "none":
        return 0
    return numel(ctx.input_shape(2))


@shape("TorchEmbedding", domain=MS)
def torch_embedding_shape(ctx: NodeContext) -> list[TypeInfo]:
    """One row of the (N, M) table per index: the indices' shape + (M,), in the table's type."""
    elem, table = ctx.input_type(0)
    indices = ctx.input_type(1)[1]
    return [(elem, None if table is None or indices is None else (*indices, table[-1]))]


@shape("GatherND", domain=MS)
def ms_gather_nd_shape(ctx: NodeContext) -> list[TypeInfo]:
    """The indices' shape but its last dim k, then the data's dims after the first k."""
    elem, data = ctx.input_type(0)
    indices = ctx.input_shape(1)
    return [(elem, (*indices[:-1], *data[indices[-1]:]))]


@shape("Pad", domain=MS)
def ms_pad_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Each dim grown by its begin and end pads (a constant (2·rank,) or (1, 2·rank) input)."""
    elem, data = ctx.input_type(0)
    pads = [int(p) for p in ctx.input_value(1).reshape(-1)]
    rank = len(data)
    return [(elem, tuple(d + pads[i] + pads[i + rank] for i, d in enumerate(data)))]


@shape("Range", domain=MS)
def ms_range_shape(ctx: NodeContext) -> list[TypeInfo]:
    """max(⌈(limit − start) / delta⌉, 0) values, from constant start, limit and delta (1 by default)."""
    start, limit = (float(ctx.input_value(i).reshape(-1)[0]) for i in (0, 1))
    delta = float(ctx.input_value(2).reshape(-1)[0]) if ctx.has_input(2) else 1.0
    return [(ctx.input_type(0)[0], (max(math.ceil((limit - start) / delta), 0),))]


@shape("ExpandDims", domain=MS)
def expand_dims_shape(ctx: NodeContext) -> list[TypeInfo]:
    """A dim of 1 inserted at the constant 'axis' input (negative: counted from the end of the output)."""
    elem, x = ctx.input_type(0)
    axis = int(ctx.input_value(1).reshape(-1)[0])
    at = axis % (len(x) + 1)
    return [(elem, (*x[:at], 1, *x[at:]))]
