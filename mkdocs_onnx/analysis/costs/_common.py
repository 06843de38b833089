"""Helpers shared by the formula modules (not formulas themselves)."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from mkdocs_onnx.analysis.costs.registry import NodeContext, Shape, TypeInfo, Uncountable, numel


def weighted_sum(points: int) -> int:
    """FLOPs of a weighted sum of ``points`` values (an interpolation): a multiply each, and
    the adds between them."""
    return 2 * points - 1


def broadcast_shapes(*shapes: Sequence) -> tuple:
    """Numpy broadcasting of shapes whose items may be int, str (symbolic) or None."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(rank):
        dims = [s[len(s) - rank + axis] for s in shapes if len(s) - rank + axis >= 0]
        not_one = [d for d in dims if d != 1]
        if not not_one:
            out.append(1)
        elif all(isinstance(d, int) for d in not_one):
            sizes = set(not_one)
            if len(sizes) > 1:
                raise Uncountable(f"shapes {list(shapes)} do not broadcast")
            out.append(not_one[0])
        else:
            # a symbolic dim broadcast against a size: keep the known size, else the name
            known = [d for d in not_one if isinstance(d, int)]
            out.append(known[0] if known else next((d for d in not_one if isinstance(d, str)), None))
    return tuple(out)


def shape_or_compute(ctx: NodeContext, compute: Callable[[], Shape], i: int = 0) -> Shape:
    """Static shape of output ``i``; when inference left it unknown, ``compute`` it from the inputs.

    When both fail, the more telling reason wins: the output's own (it names the symbolic
    dim) if inference gave the output a shape at all, else the inputs'.
    """
    shape = static_output_shape(ctx, i)
    if shape is not None:  # the usual case, decided without raising
        return shape
    try:
        return compute()
    except Uncountable as from_inputs:
        output_known = ctx.has_output(i) and ctx.types.get(ctx.node.output[i], (None, None))[1] is not None
        if not output_known:
            raise from_inputs from None
    return ctx.output_shape(i)  # raises, saying which of its dims is not static


def static_output_shape(ctx: NodeContext, i: int) -> Optional[Shape]:
    """``ctx.output_shape(i)`` when inference gave output ``i`` a static shape, else None (not an exception)."""
    outputs = ctx.node.output
    if i >= len(outputs) or not outputs[i]:
        return None
    return static_shape(ctx.types, outputs[i])


def static_shape(types: dict[str, TypeInfo], name: str) -> Optional[Shape]:
    """The shape of tensor ``name`` when inference gave it a static one, else None."""
    shape = types.get(name, _UNTYPED)[1]
    if shape is None:
        return None
    for dim in shape:
        if not isinstance(dim, int):
            return None
    return tuple(shape)


def broadcast_numel(ctx: NodeContext, inputs: Optional[Sequence[int]] = None) -> int:
    """Elements of output 0, falling back to the numpy broadcast of the (present) inputs."""
    if ctx.attr("broadcast") == 1:  # opset < 7: B is broadcast onto A, the output has A's shape
        return numel(shape_or_compute(ctx, lambda: ctx.input_shape(0)))
    shape = static_output_shape(ctx, 0)
    if shape is not None:  # the usual case, without the calls that the fallback needs
        return numel(shape)

    def from_inputs() -> Shape:  # only asked when the output's own shape is not static
        idx = [i for i in (inputs if inputs is not None else range(len(ctx.node.input))) if ctx.has_input(i)]
        return broadcast_shapes(*(ctx.input_shape(i) for i in idx))

    return numel(shape_or_compute(ctx, from_inputs))


_UNTYPED = (None, None)


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def static_attr(ctx: NodeContext, name: str) -> object:
    value = ctx.attr(name)
    if value is None:
        raise Uncountable(f"{ctx.op_type} attribute '{name}' is missing")
    return value


def int_list_input(ctx: NodeContext, i: int) -> Optional[list[int]]:
    """A constant 1-D integer input (axes, sizes, trip counts...) as a list, or None."""
    value = ctx.input_value(i)
    return None if value is None else [int(v) for v in value.reshape(-1)]
