"""Elementwise arithmetic, comparisons, activations, Softmax and friends.

Convention: every elementary operation on one element counts 1 FLOP, and so does each
transcendental (exp, log, tanh, erf, sqrt, pow, sin...), comparison, min/max and
rounding. Integer and boolean elementwise ops are counted the same way, so that every
elementwise node has a cost. Costs are per *output* element, after broadcasting.

Most operators here are a fixed count per element; their formulas are made by
:func:`per_element` so that each one still carries its own one-line docstring.
"""

from __future__ import annotations

from typing import Callable

from onnx import TensorProto

from mkdocs_onnx.analysis.costs._common import broadcast_numel, broadcast_shapes
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape

# op -> (FLOPs per output element, what they are). Also used by rnn.py for activations.
PER_ELEMENT: dict[str, tuple[int, str]] = {
    # binary arithmetic and comparisons: one operation
    **{op: (1, "one operation") for op in (
        "Add", "Sub", "Mul", "Div", "Mod", "Pow",
        "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
        "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    )},
    # unary: one operation or one transcendental
    **{op: (1, "one operation or transcendental") for op in (
        "Abs", "Neg", "Relu", "Floor", "Ceil", "Round", "Sign", "Reciprocal", "Sqrt",
        "Exp", "Log", "Erf", "Tanh", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
        "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "BitwiseNot", "IsNaN", "IsInf",
    )},
    "Sigmoid": (4, "neg, exp, add 1, reciprocal"),
    "HardSigmoid": (4, "max(0, min(1, alpha*x + beta)): mul, add, min, max"),
    "HardSwish": (5, "x * HardSigmoid(x): mul, add, min, max, mul"),
    "LeakyRelu": (2, "compare, mul by alpha"),
    "PRelu": (2, "compare, mul by slope"),
    "ThresholdedRelu": (1, "compare with alpha"),
    "Elu": (4, "compare, exp, sub 1, mul by alpha"),
    "Selu": (5, "compare, exp, mul by alpha, sub alpha, mul by gamma"),
    "Celu": (7, "max(0,x) + min(0, alpha*(exp(x/alpha)-1)): div, exp, sub, mul, min, max, add"),
    "Softplus": (3, "log(exp(x) + 1): exp, add, log"),
    "Softsign": (3, "x / (1 + |x|): abs, add, div"),
    "Mish": (5, "x * tanh(softplus(x)): exp, add, log, tanh, mul"),
    "Swish": (6, "x * sigmoid(alpha*x): mul, 4 for sigmoid, mul"),
    "Shrink": (2, "compare with lambd, add or sub bias"),
    "Hardmax": (1, "one comparison per element to find the row maximum"),
    # also used for RNN activations (names as in the LSTM/GRU/RNN 'activations' attribute)
    "Affine": (2, "alpha*x + beta: mul, add"),
    "ScaledTanh": (3, "alpha*tanh(beta*x): mul, tanh, mul"),
}

SOFTMAX_PER_ELEMENT = 5
# com.microsoft's clamped SwiGLU, G·sigmoid(α·G)·(L + β): α·G, the sigmoid, two multiplies, + β
SWIGLU_CLAMPED_PER_ELEMENT = PER_ELEMENT["Sigmoid"][0] + 4
SWIGLU_CLAMP = 3  # with a limit: G = min(g, limit), L = clamp(l, −limit, limit)
GELU_ERF_PER_ELEMENT = 5  # 0.5*x*(1 + erf(x/sqrt(2))): div, erf, add, mul, mul
SILU_PER_ELEMENT = PER_ELEMENT["Sigmoid"][0] + 1  # x * sigmoid(x), fused into some operators
# 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))) as ONNX's Gelu function body computes it (x^3 is
# one Pow, as everywhere here): pow, mul, add, mul, tanh, add, mul, mul
GELU_TANH_PER_ELEMENT = 8


def per_element(op: str, flops: int, what: str) -> Callable[[NodeContext], int]:
    """Make and register the formula ``flops × output elements`` for ``op``."""

    def formula(ctx: NodeContext) -> int:
        return flops * broadcast_numel(ctx)

    formula.__name__ = f"cost_{op}"
    formula.__doc__ = f"{op}: {flops} × output elements ({what})."
    # The analyzer multiplies this by the elements of a static output 0 itself, without a
    # context: what the formula does in that case (see broadcast_numel).
    formula.flops_per_element = flops
    return cost(op)(formula)


for _op, (_flops, _what) in PER_ELEMENT.items():
    if _op not in ("Affine", "ScaledTanh"):  # RNN activation names, not ONNX operators
        per_element(_op, _flops, _what)


@cost("Sum", "Max", "Min")
def variadic(ctx: NodeContext) -> int:
    """Sum/Max/Min: (n_inputs − 1) × output elements (one add or compare per extra input)."""
    n = sum(1 for i in range(len(ctx.node.input)) if ctx.has_input(i))
    return (n - 1) * broadcast_numel(ctx)


@cost("Mean")
def mean(ctx: NodeContext) -> int:
    """Mean: n_inputs × output elements ((n − 1) adds + 1 divide)."""
    n = sum(1 for i in range(len(ctx.node.input)) if ctx.has_input(i))
    return n * broadcast_numel(ctx)


@cost("Clip")
def clip(ctx: NodeContext) -> int:
    """Clip: bounds × output elements (one min and/or one max: 2 with both bounds, 1 with one, 0 with none)."""
    # opset >= 11 passes the bounds as inputs 1 and 2, older opsets as attributes
    bounds = sum(1 for i in (1, 2) if ctx.has_input(i)) + sum(1 for a in ("min", "max") if ctx.attr(a) is not None)
    return bounds * broadcast_numel(ctx)


@cost("Gelu")
def gelu(ctx: NodeContext) -> int:
    """Gelu: 5 × elements with approximate='none' (div, erf, add, mul, mul); 8 with 'tanh' (pow, mul, add, mul, tanh, add, mul, mul)."""
    per = GELU_TANH_PER_ELEMENT if ctx.attr("approximate", "none") == "tanh" else GELU_ERF_PER_ELEMENT
    return per * broadcast_numel(ctx)


@cost("SwiGLU")
def swiglu(ctx: NodeContext) -> int:
    """SwiGLU: 7 × output elements (Swish of the gate: 6, times the value: 1)."""
    return (PER_ELEMENT["Swish"][0] + 1) * broadcast_numel(ctx)


@cost("SwiGLU", domain=MS)
def ms_swiglu(ctx: NodeContext) -> int:
    """SwiGLU (com.microsoft): 8 × output elements (α·G, sigmoid 4, G·σ, L + β, the product) + 3 with a limit (the clamps)."""
    limit = ctx.attr("limit", 0.0)
    return (SWIGLU_CLAMPED_PER_ELEMENT + (SWIGLU_CLAMP if limit and limit > 0 else 0)) * numel(_swiglu_output(ctx))


def _swiglu_output(ctx: NodeContext) -> tuple:
    """The gate's shape; half its last dim when gate holds both halves (no 'up' input)."""
    gate = ctx.input_shape(0)
    return gate if ctx.has_input(1) else (*gate[:-1], gate[-1] // 2)


@shape("SwiGLU", domain=MS)
def ms_swiglu_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, gate = ctx.input_type(0)
    return [(elem, None if gate is None else _swiglu_output(ctx))]


@cost("ScaledSiLU", domain=MS)
def scaled_silu(ctx: NodeContext) -> int:
    """ScaledSiLU: 6 × elements (the scale 1, then x·sigmoid(x) 5)."""
    return (1 + SILU_PER_ELEMENT) * ctx.input_numel(0)


@cost("ComplexMul", "ComplexMulConj", domain=MS)
def complex_mul(ctx: NodeContext) -> int:
    """ComplexMul/ComplexMulConj: 6 per complex product (4 multiplies, 2 adds) over (…, 2) pairs = 3 × output elements."""
    return 3 * broadcast_numel(ctx)


@shape("ComplexMul", "ComplexMulConj", domain=MS)
def complex_mul_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [(ctx.input_type(0)[0], broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1)))]


@cost("IsAllFinite", domain=MS)
def is_all_finite(ctx: NodeContext) -> int:
    """IsAllFinite: one test per element of every input (into one bool)."""
    return sum(ctx.input_numel(i) for i in range(len(ctx.node.input)) if ctx.has_input(i))


@shape("IsAllFinite", domain=MS)
def is_all_finite_shape(ctx: NodeContext) -> list[TypeInfo]:
    return [(TensorProto.BOOL, ())]


@cost("Softmax", "LogSoftmax")
def softmax(ctx: NodeContext) -> int:
    """Softmax/LogSoftmax: 5 × input elements (max, sub max, exp, sum, div — or sub log-sum; the one log per row of LogSoftmax is not counted)."""
    return SOFTMAX_PER_ELEMENT * numel(ctx.input_shape(0))


@cost("BiasSoftmax", domain=MS)
def bias_softmax(ctx: NodeContext) -> int:
    """BiasSoftmax: 6 × data elements (the bias add 1, then softmax 5)."""
    return (1 + SOFTMAX_PER_ELEMENT) * ctx.input_numel(0)


@cost("BiasDropout", domain=MS)
def bias_dropout(ctx: NodeContext) -> int:
    """BiasDropout (inference): data elements × (1 for the bias + 1 if a residual is given); dropout passes through."""
    if ctx.has_input(4):
        training = ctx.input_value(4)
        if training is None or training.any():  # a random mask scales what it keeps
            raise Uncountable("BiasDropout training_mode is not a constant false: training drops a random mask")
    return (1 + (1 if ctx.has_input(2) else 0)) * ctx.input_numel(0)


@shape("BiasSoftmax", "ScaledSiLU", domain=MS)
def same_as_input(ctx: NodeContext) -> list[TypeInfo]:
    """One output with the type and shape of input 0 (also Inverse's and com.microsoft Trilu's)."""
    return [ctx.input_type(0)]


@shape("Dropout")
def dropout_shape(ctx: NodeContext) -> list[TypeInfo]:
    """The output like the data, the optional mask of the data's shape. Only consulted where
    ONNX's inference leaves the mask untyped, as it does before opset 10, where the mask
    has the data's element type (a bool from opset 10 on, which ONNX types itself)."""
    return [ctx.input_type(0)] * len(ctx.node.output)


@shape("BiasDropout", domain=MS)
def bias_dropout_shape(ctx: NodeContext) -> list[TypeInfo]:
    """The output like the data; the optional mask a bool tensor of the data's shape."""
    elem, data = ctx.input_type(0)
    return [(elem, data), (TensorProto.BOOL, data)][:len(ctx.node.output)]


_COMPARISONS = frozenset({"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Not",
                          "IsNaN", "IsInf"})


def elementwise_shape(ctx: NodeContext) -> list:
    """Output type of an elementwise op: A's shape under legacy ``broadcast=1``, else numpy broadcasting.

    Only consulted when ONNX inference gives no shape, as for opsets whose schemas
    predate shape inference (files exported in 2017 use them).
    """
    elem, first = ctx.input_type(0)
    if ctx.attr("broadcast") == 1 or len(ctx.node.input) == 1:
        shape_ = first
    else:
        shapes = [ctx.input_type(i)[1] for i in range(len(ctx.node.input)) if ctx.has_input(i)]
        if any(s is None for s in shapes):
            raise Uncountable("an input shape is unknown")
        shape_ = broadcast_shapes(*shapes)
    return [(9 if ctx.op_type in _COMPARISONS else elem, shape_)]  # 9: TensorProto.BOOL


for _op in (*PER_ELEMENT, "Sum", "Max", "Min", "Mean"):
    shape(_op)(elementwise_shape)
