"""Control flow: If, Loop and Scan, costed from their subgraphs.

A subgraph's cost comes from ``ctx.subgraph_cost`` (the analyzer counts its nodes with
this same registry). A subgraph with any uncounted node makes the whole node
uncountable: a partial sum would look like a count but be an undercount.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs._common import norm_axis
from mkdocs_onnx.analysis.costs.registry import NodeContext, Uncountable, cost

# Loop's M is an int64; exporters write a huge M for "loop until cond is false"
UNBOUNDED_TRIP_COUNT = 2**31


def body_flops(ctx: NodeContext, attribute: str) -> int:
    """FLOPs of the subgraph in ``attribute``; raises when it has uncounted nodes."""
    graph = ctx.subgraph(attribute)
    if graph is None:
        raise Uncountable(f"{ctx.op_type} attribute '{attribute}' is missing")
    result = ctx.subgraph_cost(graph)
    if result.uncounted:
        raise Uncountable(f"{ctx.op_type} {attribute} has {result.uncounted} uncounted node(s)")
    return result.flops


@cost("If")
def if_(ctx: NodeContext) -> int:
    """If: the costlier of then_branch and else_branch (or the taken branch when cond is a constant)."""
    then_flops, else_flops = body_flops(ctx, "then_branch"), body_flops(ctx, "else_branch")
    cond = ctx.input_value(0)
    if cond is not None:
        taken = bool(cond.reshape(-1)[0])
        ctx.notes.append(f"If: cond is constant, counted the {'then' if taken else 'else'} branch.")
        return then_flops if taken else else_flops
    costlier = "then" if then_flops >= else_flops else "else"
    ctx.notes.append(
        f"If: counted the costlier branch ({costlier}: {max(then_flops, else_flops)} FLOPs; "
        f"then {then_flops}, else {else_flops})."
    )
    return max(then_flops, else_flops)


@cost("Loop")
def loop(ctx: NodeContext) -> int:
    """Loop: body FLOPs × trip count M (M must be a constant; with a non-constant cond, M is an upper bound)."""
    m = ctx.input_value(0)
    if m is None:
        raise Uncountable("Loop trip count is not static")
    trips = int(m.reshape(-1)[0])
    if trips >= UNBOUNDED_TRIP_COUNT:
        raise Uncountable(f"Loop trip count is not static (M = {trips} means 'until cond is false')")
    if ctx.has_input(1) and ctx.input_value(1) is None:
        ctx.notes.append(f"Loop: counted all {trips} iterations; the loop may end earlier on its condition.")
    return body_flops(ctx, "body") * trips


@cost("Scan")
def scan(ctx: NodeContext) -> int:
    """Scan (opset ≥ 9): body FLOPs × sequence length (the first scan input's size along its scan axis)."""
    n_scan = ctx.attr("num_scan_inputs")
    if n_scan is None:
        raise Uncountable("Scan attribute 'num_scan_inputs' is missing")
    first = len(ctx.node.input) - n_scan
    x = ctx.input_shape(first)
    axis = (ctx.attr("scan_input_axes") or [0])[0]
    return body_flops(ctx, "body") * x[norm_axis(axis, len(x))]

