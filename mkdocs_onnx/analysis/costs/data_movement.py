"""Operators that move, copy, index or describe data: exactly 0 FLOPs.

A registered zero is a *known* zero: the node is counted (as 0), not listed as
uncounted. These operators read and write memory (the memory model accounts for that)
but do no arithmetic on the values.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.registry import NodeContext, cost, numel

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


@cost(*ZERO_FLOP_OPS)
def no_arithmetic(ctx: NodeContext) -> int:
    """0 FLOPs: the operator only moves, selects, indexes or describes data.

    Decisions worth stating:
    - Where is a select: the condition was computed upstream (Greater, Equal...); picking
      one of two values is data movement, so it counts 0.
    - Dropout counts 0 because an inference graph passes the input through unchanged.
    - NonZero, Range, OneHot and EyeLike generate indices or constants, not floating-point
      results, so they count 0.
    """
    return 0


@cost("ScatterND", "ScatterElements", "Scatter")
def scatter(ctx: NodeContext) -> int:
    """0 FLOPs with reduction='none' (a write); else 1 FLOP per update element (add/mul/max/min into the target)."""
    if ctx.attr("reduction", "none") == "none":
        return 0
    return numel(ctx.input_shape(2))
