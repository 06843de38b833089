"""FLOPs formulas of elementwise ops, normalizations, pooling, reductions, resizes and
zero-cost data movement. Expected values are worked out by hand from the definitions.
"""

from __future__ import annotations

import numpy as np
import pytest

from cost_helpers import flops, ints, make_ctx
from mkdocs_onnx.analysis.costs import Uncountable, cost_function


# --- elementwise ------------------------------------------------------------------------


def test_add_broadcasts_without_an_output_shape():
    assert flops("Add", [("A", (2, 3, 4)), ("B", (4,))]) == 2 * 3 * 4


def test_add_uses_inferred_output():
    assert flops("Mul", [("A", (2, 1)), ("B", (1, 5))], [("Y", (2, 5))]) == 10


@pytest.mark.parametrize(
    "op, per_element",
    [
        ("Relu", 1), ("Abs", 1), ("Neg", 1), ("Exp", 1), ("Log", 1), ("Sqrt", 1), ("Tanh", 1), ("Erf", 1),
        ("Reciprocal", 1), ("Floor", 1), ("Not", 1),
        ("Sigmoid", 4),      # neg, exp, +1, 1/x
        ("HardSigmoid", 4),  # alpha*x, +beta, min 1, max 0
        ("HardSwish", 5),    # HardSigmoid + multiply by x
        ("LeakyRelu", 2),    # compare, alpha*x
        ("PRelu", 2),        # compare, slope*x
        ("ThresholdedRelu", 1),
        ("Elu", 4),          # compare, exp, -1, *alpha
        ("Selu", 5),         # compare, exp, *alpha, -alpha, *gamma
        ("Celu", 7),         # x/alpha, exp, -1, *alpha, min, max, add
        ("Softplus", 3),     # exp, +1, log
        ("Softsign", 3),     # abs, +1, divide
        ("Mish", 5),         # exp, +1, log, tanh, multiply
        ("Swish", 6),        # alpha*x, sigmoid (4), multiply
        ("Shrink", 2),       # compare, +/- bias
        ("Hardmax", 1),
    ],
)
def test_unary_per_element(op, per_element):
    inputs = [("X", (3, 7))] + ([("slope", (7,))] if op == "PRelu" else [])
    assert flops(op, inputs) == per_element * 3 * 7


@pytest.mark.parametrize("op", ["Sub", "Div", "Pow", "Equal", "Less", "Greater", "And", "Mod"])
def test_binary_one_per_output(op):
    assert flops(op, [("A", (4, 5)), ("B", (4, 5))]) == 20


def test_variadic_sum_max_mean():
    three = [("A", (2, 6)), ("B", (2, 6)), ("C", (6,))]
    assert flops("Sum", three) == (3 - 1) * 12
    assert flops("Max", three[:2]) == (2 - 1) * 12
    assert flops("Mean", three) == (3 - 1) * 12 + 12  # adds then one divide


def test_clip_counts_bounds():
    assert flops("Clip", [("X", (10,)), ("lo", ()), ("hi", ())]) == 2 * 10
    assert flops("Clip", [("X", (10,)), ("lo", ())]) == 1 * 10
    assert flops("Clip", [("X", (10,)), ("", None), ("hi", ())]) == 1 * 10
    assert flops("Clip", [("X", (10,))], min=0.0, max=6.0) == 2 * 10  # opset 6 attributes
    assert flops("Clip", [("X", (10,))]) == 0  # no bounds: identity


def test_gelu_exact_and_tanh():
    assert flops("Gelu", [("X", (4, 8))]) == 5 * 32  # x/√2, erf, +1, *x, *0.5
    # x³ (one Pow), ×0.044715, +x, ×√(2/π), tanh, +1, ×x, ×0.5: ONNX's function body
    assert flops("Gelu", [("X", (4, 8))], approximate="tanh") == 8 * 32


def test_swiglu():
    assert flops("SwiGLU", [("A", (2, 8)), ("B", (2, 8))]) == (6 + 1) * 16


def test_softmax_and_log_softmax():
    assert flops("Softmax", [("X", (2, 10))]) == 5 * 20  # max, sub, exp, sum, div
    assert flops("LogSoftmax", [("X", (2, 10))], axis=1) == 5 * 20


def test_elementwise_symbolic_output_names_dim():
    with pytest.raises(Uncountable, match="'batch'"):
        flops("Relu", [("X", ("batch", 3))], [("Y", ("batch", 3))])


def test_elementwise_unknown_shape():
    with pytest.raises(Uncountable, match="unknown"):
        flops("Relu", [("X", None)])


# --- normalization ----------------------------------------------------------------------


def test_batch_norm_inference():
    inputs = [("X", (2, 3, 4, 4)), ("s", (3,)), ("b", (3,)), ("m", (3,)), ("v", (3,))]
    assert flops("BatchNormalization", inputs) == 2 * (2 * 3 * 4 * 4)  # x*scale' + shift'


def test_instance_norm():
    e, groups = 2 * 3 * 4 * 4, 2 * 3  # statistics per (n, c)
    # mean e, centre e, variance 2e, rsqrt 3 per group, normalize e, scale e, bias e
    expected = e + e + 2 * e + 3 * groups + e + e + e
    assert flops("InstanceNormalization", [("X", (2, 3, 4, 4)), ("s", (3,)), ("b", (3,))]) == expected


def test_layer_norm_last_axis_with_and_without_bias():
    e, rows = 2 * 5 * 8, 2 * 5
    stats = e + e + 2 * e + 3 * rows + e  # mean, centre, variance, rsqrt, normalize
    assert flops("LayerNormalization", [("X", (2, 5, 8)), ("g", (8,)), ("b", (8,))]) == stats + e + e
    assert flops("LayerNormalization", [("X", (2, 5, 8)), ("g", (8,))]) == stats + e


def test_layer_norm_axis_1():
    e, rows = 2 * 5 * 8, 2  # normalized over (5, 8)
    assert flops("LayerNormalization", [("X", (2, 5, 8)), ("g", (5, 8)), ("b", (5, 8))], axis=1) == (
        e + e + 2 * e + 3 * rows + e + e + e
    )


def test_group_norm():
    e, groups = 2 * 6 * 4 * 4, 2 * 3
    got = flops("GroupNormalization", [("X", (2, 6, 4, 4)), ("s", (6,)), ("b", (6,))], num_groups=3)
    assert got == e + e + 2 * e + 3 * groups + e + e + e


def test_mean_variance_norm_default_axes():
    e, groups = 2 * 3 * 4 * 4, 3  # axes (0, 2, 3): one group per channel
    assert flops("MeanVarianceNormalization", [("X", (2, 3, 4, 4))]) == e + e + 2 * e + 3 * groups + e


def test_rms_norms():
    e, rows = 2 * 5 * 8, 2 * 5
    # squares e, sums e - rows, mean divide rows, +eps, sqrt, reciprocal (3 rows), normalize e, scale e
    expected = e + (e - rows) + rows + 3 * rows + e + e
    assert flops("RMSNormalization", [("X", (2, 5, 8)), ("g", (8,))]) == expected
    assert flops("SimplifiedLayerNormalization", [("X", (2, 5, 8)), ("g", (8,))]) == expected
    assert flops("SimplifiedLayerNormalization", [("X", (2, 5, 8)), ("g", (8,))], domain="com.microsoft") == expected


def test_lp_norm():
    e, rows = 4 * 8, 4
    assert flops("LpNormalization", [("X", (4, 8))]) == e + (e - rows) + rows + e  # squares, adds, sqrt, divide
    assert flops("LpNormalization", [("X", (4, 8))], p=1) == e + (e - rows) + e  # abs, adds, divide


def test_lrn():
    e = 1 * 8 * 4 * 4
    # squares e, window sums (5 - 1) per element, then *alpha/size, +bias, ^beta, divide
    assert flops("LRN", [("X", (1, 8, 4, 4))], size=5) == e + 4 * e + 4 * e


# --- pooling ----------------------------------------------------------------------------


def test_max_pool_computed_and_inferred_output():
    # 8x8 -> 4x4 with 2x2 windows: 3 comparisons per output
    assert flops("MaxPool", [("X", (1, 3, 8, 8))], kernel_shape=[2, 2], strides=[2, 2]) == 3 * 4 * 4 * (4 - 1)
    assert flops("MaxPool", [("X", (1, 3, 8, 8))], [("Y", (1, 3, 4, 4))], kernel_shape=[2, 2], strides=[2, 2]) == 144


def test_max_pool_ceil_mode():
    # 7 wide, window 2, stride 2: floor -> 3, ceil -> 4
    assert flops("MaxPool", [("X", (1, 1, 7, 7))], kernel_shape=[2, 2], strides=[2, 2]) == 3 * 3 * 3
    assert flops("MaxPool", [("X", (1, 1, 7, 7))], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1) == 4 * 4 * 3


def test_average_pool_padded():
    # 3x3, pads 1, stride 1 keeps 5x5; 8 adds + 1 divide per output
    got = flops("AveragePool", [("X", (1, 2, 5, 5))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    assert got == (2 * 5 * 5) * (8 + 1)


def test_lp_pool():
    # 4 outputs of 2x2 windows: 4 powers, 3 adds, 1 root
    assert flops("LpPool", [("X", (1, 1, 4, 4))], kernel_shape=[2, 2], strides=[2, 2]) == 4 * (4 + 3 + 1)


def test_global_pools():
    x = [("X", (2, 16, 7, 7))]
    assert flops("GlobalAveragePool", x) == 2 * 16 * (49 - 1) + 2 * 16
    assert flops("GlobalMaxPool", x) == 2 * 16 * (49 - 1)
    assert flops("GlobalLpPool", x) == 2 * 16 * (49 + 48 + 1)


def test_pool_window_larger_than_input():
    with pytest.raises(Uncountable, match="negative output size"):
        flops("MaxPool", [("X", (1, 1, 2, 2))], kernel_shape=[5, 5])


def test_pool_missing_kernel_shape():
    with pytest.raises(Uncountable, match="kernel_shape"):
        flops("MaxPool", [("X", (1, 1, 4, 4))])


# --- reductions -------------------------------------------------------------------------


def test_reduce_sum_axes_input():
    # (2,3,4) over axis 1: 8 outputs, each 3 inputs -> 2 adds
    ctx = make_ctx("ReduceSum", [("X", (2, 3, 4)), ("axes", (1,))], constants={"axes": ints(1)})
    assert cost_function("", "ReduceSum")(ctx) == 8 * 2


def test_reduce_family_over_axis_1():
    e, o = 24, 8
    x = [("X", (2, 3, 4))]
    assert flops("ReduceMean", x, axes=[1]) == (e - o) + o
    assert flops("ReduceMax", x, axes=[1]) == e - o
    assert flops("ReduceProd", x, axes=[1]) == e - o
    assert flops("ReduceL1", x, axes=[1]) == e + (e - o)  # abs, adds
    assert flops("ReduceSumSquare", x, axes=[1]) == e + (e - o)  # squares, adds
    assert flops("ReduceL2", x, axes=[1]) == e + (e - o) + o  # squares, adds, sqrt
    assert flops("ReduceLogSum", x, axes=[1]) == (e - o) + o  # adds, log
    assert flops("ReduceLogSumExp", x, axes=[1]) == e + (e - o) + o  # exp, adds, log


def test_reduce_all_and_noop():
    assert flops("ReduceMin", [("X", (2, 3, 4))]) == 24 - 1
    assert flops("ReduceSum", [("X", (2, 3, 4))], noop_with_empty_axes=1) == 0


def test_reduce_over_an_empty_axis_is_not_negative():
    # 8 outputs, each folding 0 inputs: nothing to add (the sum is just its identity, 0)
    assert flops("ReduceSum", [("X", (2, 0, 4))], axes=[1]) == 0
    assert flops("ReduceMax", [("X", (2, 0, 4))], axes=[1]) == 0
    assert flops("ReduceL2", [("X", (2, 0, 4))], axes=[1]) == 8  # one sqrt per output
    assert flops("ArgMax", [("X", (2, 0, 4))], axis=1) == 0


def test_reduce_axes_not_constant():
    with pytest.raises(Uncountable, match="axes"):
        flops("ReduceSum", [("X", (2, 3, 4)), ("axes", (1,))])


def test_arg_max_cumsum_topk():
    assert flops("ArgMax", [("X", (2, 3, 4))], axis=1) == 8 * (3 - 1)
    ctx = make_ctx("CumSum", [("X", (2, 5)), ("axis", ())], constants={"axis": ints(1)})
    assert cost_function("", "CumSum")(ctx) == 2 * (5 - 1)
    ctx = make_ctx("TopK", [("X", (2, 100)), ("K", (1,))], constants={"K": ints(4)})
    assert cost_function("", "TopK")(ctx) == 200 * 2  # log2(4) comparisons per element
    ctx = make_ctx("TopK", [("X", (2, 100)), ("K", (1,))], [("V", (2, 1)), ("I", (2, 1))])
    assert cost_function("", "TopK")(ctx) == 200 * 1  # k read from the output shape


# --- resize -----------------------------------------------------------------------------


def test_resize_nearest_is_free_even_without_shapes():
    assert flops("Resize", [("X", None), ("", None), ("scales", None)], mode="nearest") == 0
    assert flops("Resize", [("X", None), ("", None), ("scales", None)]) == 0


def test_resize_bilinear_from_sizes():
    out = 1 * 3 * 20 * 20
    ctx = make_ctx("Resize", [("X", (1, 3, 10, 10)), ("", None), ("", None), ("sizes", (4,))],
                   constants={"sizes": ints(1, 3, 20, 20)}, mode="linear")
    assert cost_function("", "Resize")(ctx) == out * (4 + 3)  # 4 weighted neighbours: 4 mul, 3 add


def test_resize_bicubic_from_scales():
    out = 1 * 3 * 20 * 20
    ctx = make_ctx("Resize", [("X", (1, 3, 10, 10)), ("", None), ("scales", (4,))],
                   constants={"scales": np.array([1, 1, 2, 2], np.float32)}, mode="cubic")
    assert cost_function("", "Resize")(ctx) == out * (16 + 15)  # 16 neighbours


def test_resize_linear_1d_and_upsample():
    assert flops("Resize", [("X", (1, 1, 10))], [("Y", (1, 1, 30))], mode="linear") == 30 * (2 + 1)
    ctx = make_ctx("Upsample", [("X", (1, 2, 4, 4)), ("scales", (4,))],
                   constants={"scales": np.array([1, 1, 2, 2], np.float32)}, mode="linear")
    assert cost_function("", "Upsample")(ctx) == (2 * 8 * 8) * 7


def test_resize_linear_without_constant_scales():
    with pytest.raises(Uncountable):
        flops("Resize", [("X", (1, 3, 10, 10)), ("", None), ("scales", (4,))], mode="linear")


# --- data movement ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["Reshape", "Transpose", "Concat", "Gather", "Slice", "Cast", "Identity", "Where", "Dropout", "Expand",
           "Shape", "Constant", "Pad", "Tile", "DepthToSpace", "NonZero", "Range", "ConstantOfShape"],
)
def test_data_movement_is_a_known_zero(op):
    assert flops(op, [("X", None)]) == 0


def test_scatter_with_reduction_counts_updates():
    inputs = [("data", (10, 3)), ("idx", (4, 1)), ("updates", (4, 3))]
    assert flops("ScatterND", inputs) == 0
    assert flops("ScatterND", inputs, reduction="add") == 4 * 3


@pytest.mark.parametrize("case", ["test_gelu_tanh_1", "test_gelu_tanh_2", "test_gelu_default_1", "test_gelu_default_2"])
def test_gelu_costs_what_onnx_own_function_body_for_it_costs(case):
    """ONNX ships each Gelu test case also expanded into its function body; counted node by
    node, that body must cost what the Gelu formula says, plus the one square root it takes of
    a constant (√(2/π) or √2) on a single element."""
    from onnx.backend.test.case.node import collect_testcases

    from mkdocs_onnx.analysis import analyze_model

    models = {c.name: c.model for c in collect_testcases() if c.name in (case, case + "_expanded")}
    fused, expanded = analyze_model(models[case]), analyze_model(models[case + "_expanded"])
    assert set(fused.flops.by_op_type) == {"Gelu"}
    assert expanded.flops.total == fused.flops.total + 1
