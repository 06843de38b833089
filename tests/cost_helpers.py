"""Builders shared by the cost-formula tests: one node, its tensor types, its FLOPs."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from mkdocs_onnx.analysis.costs import NodeContext, cost_function, shape_function

F = TensorProto.FLOAT
MS = "com.microsoft"


def make_ctx(op, inputs, outputs=(("Y", None),), *, domain="", constants=None, subgraph_cost=None, **attrs):
    """inputs/outputs: (name, shape) pairs; name "" = absent input, shape None = unknown."""
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs], domain=domain or None, **attrs)
    types = {n: (F, tuple(s)) for n, s in [*inputs, *outputs] if n and s is not None}
    ctx = NodeContext(node=node, types=types, constants=dict(constants or {}))
    if subgraph_cost is not None:
        ctx.subgraph_cost = subgraph_cost
    return ctx


def cost_of(ctx: NodeContext) -> int:
    return cost_function(ctx.node.domain, ctx.op_type)(ctx)


def flops(op, inputs, outputs=(("Y", None),), *, domain="", **kw) -> int:
    return cost_of(make_ctx(op, inputs, outputs, domain=domain, **kw))


def shapes(op, inputs, outputs, *, domain=MS, **kw):
    return shape_function(domain, op)(make_ctx(op, inputs, outputs, domain=domain, **kw))


def ints(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)
