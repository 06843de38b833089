"""Builders shared by the cost-formula tests: one node, its tensor types, its FLOPs."""

from __future__ import annotations

import functools
import warnings

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


@functools.cache
def _node_cases() -> dict:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators overflow casts on purpose
        return {case.name: case for case in collect_testcases()}


def node_case(name: str):
    """The onnx package's node test case ``name`` (its ``model``), or None in an onnx without it."""
    return _node_cases().get(name)
