"""The cost registry as a whole: coverage, documentation and the uncountable contract.

Per-formula tests are in test_costs_linear.py, test_costs_elementwise.py and
test_costs_sequence.py.
"""

from __future__ import annotations

import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, shape_inference

from mkdocs_onnx.analysis.costs import (
    NodeContext,
    Uncountable,
    cost_function,
    registered_costs,
    shape_function,
)

MS = "com.microsoft"

# Every operator the brief names; each must have a formula.
REQUIRED_DEFAULT = """
Conv ConvTranspose MatMul Gemm Einsum
Add Sub Mul Div Pow Relu Abs Neg Max Min Sum Mean Sigmoid Tanh Erf Gelu HardSigmoid HardSwish LeakyRelu PRelu
Elu Selu Celu Softplus Softsign Mish Clip Softmax LogSoftmax Exp Log Sqrt Reciprocal Equal Less Greater
BatchNormalization InstanceNormalization LayerNormalization GroupNormalization LpNormalization
MeanVarianceNormalization RMSNormalization
MaxPool AveragePool LpPool GlobalAveragePool GlobalMaxPool GlobalLpPool
ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare
ArgMax ArgMin CumSum TopK
Resize Upsample LSTM GRU RNN
QLinearConv QLinearMatMul MatMulInteger ConvInteger QuantizeLinear DequantizeLinear DynamicQuantizeLinear
If Loop Scan
Reshape Transpose Flatten Squeeze Unsqueeze Concat Split Slice Gather GatherElements GatherND ScatterND Pad
Identity Cast Shape Size Expand Tile Constant ConstantOfShape Dropout DepthToSpace SpaceToDepth NonZero Range Where
""".split()

REQUIRED_MS = """
Attention MultiHeadAttention GroupQueryAttention SkipLayerNormalization SkipSimplifiedLayerNormalization
FastGelu BiasGelu Gelu QuickGelu BiasAdd RotaryEmbedding MatMulNBits QLinearAdd QLinearMul QLinearSigmoid
FusedConv FusedMatMul SimplifiedLayerNormalization EmbedLayerNormalization
QLinearGlobalAveragePool QLinearAveragePool QLinearConcat QLinearSoftmax QGemm DynamicQuantizeMatMul MatMulIntegerToFloat
GroupNorm SkipGroupNorm BiasSplitGelu GatherBlockQuantized MoE QMoE
NhwcConv NhwcMaxPool QLinearConv ConvTransposeWithDynamicPads QAttention QEmbedLayerNormalization MatMulBnb4
DecoderMaskedSelfAttention DecoderMaskedMultiHeadAttention FusedGemm GemmFastGelu Inverse CDist BiasSoftmax BiasDropout
Trilu RemovePadding RestorePadding Tokenizer GatedRelativePositionBias RelativePositionBias
""".split()

SHAPES_MS = """
Attention MultiHeadAttention GroupQueryAttention SkipLayerNormalization SkipSimplifiedLayerNormalization
FastGelu BiasGelu Gelu QuickGelu BiasAdd MatMulNBits QLinearAdd QLinearMul QLinearSigmoid FusedConv FusedMatMul
RotaryEmbedding SimplifiedLayerNormalization EmbedLayerNormalization
QLinearGlobalAveragePool QLinearAveragePool QLinearConcat QLinearSoftmax QGemm DynamicQuantizeMatMul MatMulIntegerToFloat
GroupNorm SkipGroupNorm BiasSplitGelu GatherBlockQuantized MoE QMoE
NhwcConv NhwcMaxPool QLinearConv QAttention QEmbedLayerNormalization MatMulBnb4
DecoderMaskedSelfAttention DecoderMaskedMultiHeadAttention FusedGemm GemmFastGelu Inverse CDist BiasSoftmax BiasDropout
Trilu RemovePadding RestorePadding Tokenizer GatedRelativePositionBias RelativePositionBias
""".split()


@pytest.mark.parametrize("op", REQUIRED_DEFAULT)
def test_default_domain_op_is_registered(op):
    assert cost_function("", op) is not None
    assert cost_function("ai.onnx", op) is cost_function("", op)


@pytest.mark.parametrize("op", REQUIRED_MS)
def test_contrib_op_is_registered(op):
    assert cost_function(MS, op) is not None


@pytest.mark.parametrize("op", SHAPES_MS)
def test_contrib_shape_function_is_registered(op):
    assert shape_function(MS, op) is not None


def test_default_domain_coverage_report(capsys):
    """Lists (does not fail on) ONNX operators without a formula: they are reported as uncounted,
    as are those registered only to say why no formula can exist (their work follows the data)."""
    from mkdocs_onnx.analysis.costs.data_dependent import data_dependent

    ops = sorted({s.name for s in onnx.defs.get_all_schemas() if s.domain == ""})
    missing = [op for op in ops if cost_function("", op) is None]
    reasoned = [op for op in ops if cost_function("", op) is data_dependent]
    with capsys.disabled():
        print(f"\n{len(ops) - len(missing) - len(reasoned)}/{len(ops)} default-domain operators have a FLOPs "
              f"formula; {len(reasoned)} cannot have one, and say why ({' '.join(reasoned)}); "
              f"without one: {' '.join(missing)}")
    assert len(missing) < len(ops) // 4


def test_every_formula_documents_itself():
    """The model card quotes each formula's docstring: it must exist and name its operator family."""
    for domain, op in registered_costs():
        doc = cost_function(domain, op).__doc__
        assert doc and doc.strip(), f"{domain or 'ai.onnx'}::{op} has no docstring"


def _ctx(op, inputs, outputs=(("Y", None),)):
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs])
    types = {n: (TensorProto.FLOAT, s) for n, s in [*inputs, *outputs] if n and s is not None}
    return NodeContext(node=node, types=types, constants={})


@pytest.mark.parametrize(
    "op, inputs",
    [
        ("MatMul", [("A", ("batch", 4)), ("B", (4, 4))]),
        ("Conv", [("X", (1, 3, "height", 32)), ("W", (8, 3, 3, 3))]),
        ("LayerNormalization", [("X", (1, "seq", 32)), ("g", (32,))]),
        ("Softmax", [("X", ("rows", 32))]),
        ("GlobalAveragePool", [("X", (1, "C", 7, 7))]),
    ],
)
def test_symbolic_dims_are_named_in_the_reason(op, inputs):
    symbolic = next(d for _, s in inputs for d in s if isinstance(d, str))
    with pytest.raises(Uncountable, match=f"'{symbolic}'"):
        cost_function("", op)(_ctx(op, inputs))


@pytest.mark.parametrize("op", ["MatMul", "Conv", "Relu", "ReduceSum", "BatchNormalization", "MaxPool"])
def test_unknown_shapes_are_uncountable_not_zero(op):
    inputs = [("A", None), ("B", None)] if op in ("MatMul", "Conv") else [("X", None)]
    node = helper.make_node(op, [n for n, _ in inputs], ["Y"], kernel_shape=[2, 2]) if op == "MaxPool" else None
    ctx = _ctx(op, inputs) if node is None else NodeContext(node=node, types={}, constants={})
    with pytest.raises(Uncountable):
        cost_function("", op)(ctx)


def test_unregistered_op_has_no_formula():
    assert cost_function("", "NoSuchOperator") is None
    assert cost_function("com.example", "Conv") is None


# --- computed output shapes agree with ONNX shape inference -----------------------------

def _inferred_output(node, inputs):
    """Output shape of ``node`` according to onnx shape inference (None when it gives none)."""
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]))
    dims = model.graph.output[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims) or None


window = st.fixed_dictionaries({
    "size": st.integers(5, 12), "k": st.integers(1, 4), "stride": st.integers(1, 3), "dilation": st.integers(1, 2),
    "pad": st.tuples(st.integers(0, 2), st.integers(0, 2)), "auto_pad": st.sampled_from(["NOTSET", "VALID", "SAME_UPPER"]),
})


@settings(max_examples=60, deadline=None)
@given(window, st.sampled_from([1, 2]))
def test_conv_output_computed_like_shape_inference(w, group):
    attrs = dict(strides=[w["stride"]], dilations=[w["dilation"]], auto_pad=w["auto_pad"])
    if w["auto_pad"] == "NOTSET":
        attrs["pads"] = list(w["pad"])
    padded = w["size"] + (sum(w["pad"]) if w["auto_pad"] == "NOTSET" else 0)
    if w["auto_pad"] != "SAME_UPPER" and w["dilation"] * (w["k"] - 1) + 1 > padded:
        return  # the window does not fit: not a valid model
    inputs = [("X", (1, 4, w["size"])), ("W", (6, 4 // group, w["k"]))]
    node = helper.make_node("Conv", ["X", "W"], ["Y"], group=group, **attrs)
    inferred = _inferred_output(node, inputs)
    assert inferred is not None
    computed = cost_function("", "Conv")(_ctx_with(node, inputs))
    assert computed == cost_function("", "Conv")(_ctx_with(node, inputs + [("Y", inferred)]))


@settings(max_examples=60, deadline=None)
@given(window, st.booleans())
def test_pool_output_computed_like_shape_inference(w, ceil_mode):
    if w["auto_pad"] != "NOTSET":
        ceil_mode = False
    attrs = dict(kernel_shape=[w["k"]], strides=[w["stride"]], auto_pad=w["auto_pad"], ceil_mode=int(ceil_mode))
    if w["auto_pad"] == "NOTSET":
        attrs["pads"] = [min(p, w["k"] - 1) for p in w["pad"]]  # pads must be smaller than the kernel
    inputs = [("X", (1, 3, w["size"]))]
    node = helper.make_node("AveragePool", ["X"], ["Y"], **attrs)
    inferred = _inferred_output(node, inputs)
    assert inferred is not None
    computed = cost_function("", "AveragePool")(_ctx_with(node, inputs))
    assert computed == cost_function("", "AveragePool")(_ctx_with(node, inputs + [("Y", inferred)]))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 4), st.integers(1, 3), st.integers(0, 1), st.integers(0, 1))
def test_conv_transpose_output_computed_like_shape_inference(size, k, stride, pad, extra):
    extra = min(extra, stride - 1)  # output_padding must be smaller than the stride
    inputs = [("X", (1, 4, size)), ("W", (4, 2, k)), ("B", (2,))]
    node = helper.make_node("ConvTranspose", ["X", "W", "B"], ["Y"], strides=[stride], pads=[pad, pad],
                            output_padding=[extra])
    inferred = _inferred_output(node, inputs)
    if inferred is None or min(inferred) <= 0:
        return
    computed = cost_function("", "ConvTranspose")(_ctx_with(node, inputs))
    assert computed == cost_function("", "ConvTranspose")(_ctx_with(node, inputs + [("Y", inferred)]))


def _ctx_with(node, shapes):
    return NodeContext(node=node, types={n: (TensorProto.FLOAT, s) for n, s in shapes}, constants={})
