"""Reductions (Reduce*, ArgMax/ArgMin), scans (CumSum/CumProd) and TopK.

E is the number of input elements and O the number of output elements; each output
element reduces a group of E/O inputs, which takes E/O − 1 binary operations, so a
plain reduction costs E − O (0 when the groups are empty: E = 0).
"""

from __future__ import annotations

import math
from typing import Sequence

from onnx import TensorProto

from mkdocs_onnx.analysis.costs._common import int_list_input, norm_axis, shape_or_compute
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape


def _reduced(ctx: NodeContext) -> tuple[int, int]:
    """(E, O) of a Reduce* node; O does not depend on keepdims."""
    x = ctx.input_shape(0)

    def compute():
        axes = ctx.attr("axes")
        if axes is None and ctx.has_input(1):
            axes = int_list_input(ctx, 1)
            if axes is None:
                raise Uncountable(f"{ctx.op_type} axes input is not a constant")
        if not axes:
            # no axes: reduce everything, unless noop_with_empty_axes makes it an identity
            return x if ctx.attr("noop_with_empty_axes", 0) else ()
        reduced = {norm_axis(a, len(x)) for a in axes}
        return tuple(d for i, d in enumerate(x) if i not in reduced)

    return numel(x), numel(shape_or_compute(ctx, compute))


def _combines(e: int, o: int) -> int:
    """E − O binary operations to fold E inputs into O outputs; none for empty groups."""
    return max(e - o, 0)


@cost("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd")
@cost("ReduceSumInteger", domain=MS)
def reduce_plain(ctx: NodeContext) -> int:
    """ReduceSum/Max/Min/Prod (and com.microsoft ReduceSumInteger, into int32): E − O adds, comparisons or multiplies."""
    e, o = _reduced(ctx)
    return _combines(e, o)


@shape("ReduceSumInteger", domain=MS)
def reduce_sum_integer_shape(ctx: NodeContext) -> list[TypeInfo]:
    """:func:`reduced_shape` of the input, as int32."""
    return [(TensorProto.INT32, reduced_shape(ctx, ctx.input_shape(0)))]


def reduced_shape(ctx: NodeContext, x: Sequence) -> tuple:
    """``x`` with its 'axes' attribute's dims (all by default) kept as 1 (keepdims, the default) or dropped."""
    axes = {norm_axis(a, len(x)) for a in (ctx.attr("axes") or range(len(x)))}
    keep = ctx.attr("keepdims", 1)
    return tuple(1 if i in axes else d for i, d in enumerate(x) if keep or i not in axes)


@cost("ReduceMean")
def reduce_mean(ctx: NodeContext) -> int:
    """ReduceMean: E − O adds + O divides = E."""
    e, o = _reduced(ctx)
    return _combines(e, o) + o


@cost("ReduceL1", "ReduceSumSquare")
def reduce_abs_or_square(ctx: NodeContext) -> int:
    """ReduceL1/ReduceSumSquare: E abs or squares + E − O adds = 2E − O."""
    e, o = _reduced(ctx)
    return e + _combines(e, o)


@cost("ReduceL2")
def reduce_l2(ctx: NodeContext) -> int:
    """ReduceL2: E squares + E − O adds + O square roots = 2E."""
    e, o = _reduced(ctx)
    return e + _combines(e, o) + o


@cost("ReduceLogSum")
def reduce_log_sum(ctx: NodeContext) -> int:
    """ReduceLogSum: E − O adds + O logs = E."""
    e, o = _reduced(ctx)
    return _combines(e, o) + o


@cost("ReduceLogSumExp")
def reduce_log_sum_exp(ctx: NodeContext) -> int:
    """ReduceLogSumExp (as defined, without the max-shift): E exps + E − O adds + O logs = 2E."""
    e, o = _reduced(ctx)
    return e + _combines(e, o) + o


def _along_axis(ctx: NodeContext, axis: int) -> tuple[int, int]:
    """(E, length of the axis) of input 0."""
    x = ctx.input_shape(0)
    return numel(x), x[norm_axis(axis, len(x))]


@cost("ArgMax", "ArgMin")
def arg_reduce(ctx: NodeContext) -> int:
    """ArgMax/ArgMin: E − E/n comparisons (n = size of the reduced axis)."""
    e, n = _along_axis(ctx, ctx.attr("axis", 0))
    return e - e // n if n else 0


@cost("CumSum", "CumProd")
def cumulative(ctx: NodeContext) -> int:
    """CumSum/CumProd: E − E/n adds or multiplies (n = size of the scanned axis)."""
    axis = int_list_input(ctx, 1)
    if axis is None:
        raise Uncountable(f"{ctx.op_type} axis input is not a constant")
    e, n = _along_axis(ctx, axis[0])
    return e - e // n if n else 0


def top_k_comparisons(elements: int, k: int) -> int:
    """Comparisons to pick the k largest of ``elements`` values (heap selection): E × max(1, ⌈log2 k⌉)."""
    return elements * max(1, math.ceil(math.log2(max(k, 1))))


@cost("TopK")
def top_k(ctx: NodeContext) -> int:
    """TopK (estimate, heap selection): E × max(1, ⌈log2 k⌉) comparisons."""
    axis = ctx.attr("axis", -1)
    k = int_list_input(ctx, 1)
    if k is None:
        k = [ctx.output_shape(0)[norm_axis(axis, len(ctx.input_shape(0)))]]
    e, _ = _along_axis(ctx, axis)
    return top_k_comparisons(e, k[0])
