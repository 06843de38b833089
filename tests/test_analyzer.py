"""The analyzer against published figures and hand counts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import LIGHT, MNIST, corpus_file, model, tensor, value
from mkdocs_onnx import AnalysisError, analyze
from mkdocs_onnx.analysis import analyze_model


# --- The ONNX Model Zoo MNIST model (mnist-8) ------------------------------------------


def test_mnist_parameters_exclude_reshape_shapes():
    r = analyze(corpus_file(MNIST))
    # Conv1 W 8x1x5x5 + its bias 8x1x1, Conv2 W 16x8x5x5 + bias 16x1x1, FC W 16x4x4x10 + bias 1x10.
    expected = 8 * 1 * 5 * 5 + 8 + 16 * 8 * 5 * 5 + 16 + 16 * 4 * 4 * 10 + 10
    assert expected == 5994
    assert r.params.total == expected
    assert r.params.constants == 2 + 2  # the two int64 Reshape target shapes of 2 elements
    assert r.params.by_dtype == {"float32": expected}
    assert r.params.non_trainable == 0 and r.params.placeholder == 0


def test_mnist_flops_by_hand():
    r = analyze(corpus_file(MNIST))
    conv1 = 2 * (8 * 28 * 28) * (1 * 5 * 5)  # SAME padding keeps 28x28; no bias input
    add1 = relu1 = 8 * 28 * 28
    pool1 = (8 * 14 * 14) * (2 * 2 - 1)  # 2x2 max: 3 comparisons per output
    conv2 = 2 * (16 * 14 * 14) * (8 * 5 * 5)
    add2 = relu2 = 16 * 14 * 14
    pool2 = (16 * 4 * 4) * (3 * 3 - 1)  # 3x3 stride 3: 14 -> 4
    matmul = 2 * 1 * 256 * 10
    add3 = 10
    expected = conv1 + add1 + relu1 + pool1 + conv2 + add2 + relu2 + pool2 + matmul + add3
    assert r.flops.total == expected
    assert r.flops.uncounted_ops == {}
    assert r.flops.by_op_type["Conv"] == conv1 + conv2
    assert r.flops.by_op_type["Reshape"] == 0


def test_mnist_graph_and_io():
    r = analyze(corpus_file(MNIST))
    assert r.graph.op_counts == {"Conv": 2, "Relu": 2, "MaxPool": 2, "Add": 3, "Reshape": 2, "MatMul": 1}
    assert r.graph.node_count == 12
    assert [(t.name, t.dtype, t.shape) for t in r.graph.inputs] == [("Input3", "float32", [1, 1, 28, 28])]
    assert [(t.name, t.shape) for t in r.graph.outputs] == [("Plus214_Output_0", [1, 10])]
    assert r.metadata.opsets == {"ai.onnx": 8}
    assert r.metadata.producer_name == "CNTK"
    assert r.architecture.family == "cnn"


def test_mnist_peak_activation_by_liveness():
    r = analyze(corpus_file(MNIST))
    # The largest step is the first Add: its input and output, 8x28x28 float32 each, are live together
    # (the graph input was freed after the first Conv).
    assert r.memory.peak_activation_bytes == 2 * 8 * 28 * 28 * 4
    assert r.memory.peak_node == "Plus30"
    assert r.memory.weights_bytes == 5994 * 4
    assert r.memory.activations_unknown == 0


def test_peak_activation_counts_what_a_subgraph_allocates_while_its_node_runs():
    then = helper.make_graph(
        [helper.make_node("Mul", ["R", "R"], ["t1"]), helper.make_node("Add", ["t1", "R"], ["t2"]),
         helper.make_node("Neg", ["t2"], ["then_out"])], "then", [], [value("then_out", [1, 256])])
    other = helper.make_graph([helper.make_node("Identity", ["R"], ["else_out"])], "else", [], [value("else_out", [1, 256])])
    nodes = [helper.make_node("Relu", ["X"], ["R"]),
             helper.make_node("If", ["C"], ["Y"], then_branch=then, else_branch=other, name="branch")]
    r = analyze_model(model(nodes, [value("X", [1, 256]), value("C", [1], TensorProto.BOOL)], [value("Y", [1, 256])]))
    row = 256 * 4  # bytes of one (1, 256) float32 tensor
    # while the If runs: R (read by the branches), C (1 byte) and the If's output live outside;
    # inside the then-branch, t1 and t2 are live together when Add runs (its output goes out)
    assert r.memory.peak_activation_bytes == (row + 1 + row) + 2 * row
    assert r.memory.peak_node == "branch" and r.memory.activations_unknown == 0


# --- The onnx package's light models: weights as ConstantOfShape fills ----------------------


@pytest.mark.parametrize("name, published", [
    ("light_vgg19.onnx", 143_667_240),
    ("light_bvlc_alexnet.onnx", 60_965_224),
    ("light_squeezenet.onnx", 1_235_496),  # version 1.1, as torchvision publishes it
])
def test_light_models_match_published_parameter_counts(name, published):
    r = analyze(LIGHT / name)
    assert r.params.total == published
    assert r.params.placeholder > 0.99 * published  # ConstantOfShape fills, said so in the report
    assert any(k.id == "placeholder-weights" for k in r.risks)


def test_light_resnet50_matches_the_published_count_and_its_batchnorm_statistics():
    r = analyze(LIGHT / "light_resnet50.onnx")
    # torchvision's published ResNet-50 count (weights, biases, BN scale and shift)
    assert r.params.trainable == 25_557_032
    # BN running mean and variance, 2 per channel. The 53 BN layers: the stem's (64 channels),
    # then per stage of n bottlenecks of width w, 3 per block (w, w and 4w) and the shortcut's (4w).
    stages = [(3, 64), (4, 128), (6, 256), (3, 512)]
    channels = 64 + sum(n * (w + w + 4 * w) + 4 * w for n, w in stages)
    assert r.params.non_trainable == 2 * channels == 53_120
    assert r.params.trainable + r.params.non_trainable == r.params.total


# --- Weights wherever they live ------------------------------------------------------------


def test_weights_in_constant_nodes_are_parameters_and_shared_weights_count_once():
    w = helper.make_node("Constant", [], ["W"], value=tensor("Wv", (4, 3)))
    shape = helper.make_node("Constant", [], ["S"], value=numpy_helper.from_array(np.array([1, 3], np.int64)))
    nodes = [
        w, shape,
        helper.make_node("MatMul", ["X", "W"], ["A"]),
        helper.make_node("MatMul", ["X", "W"], ["B"]),  # the same weight again
        helper.make_node("Add", ["A", "B"], ["C"]),
        helper.make_node("Reshape", ["C", "S"], ["Y"]),
    ]
    r = analyze_model(model(nodes, [value("X", [1, 4])], [value("Y", [1, 3])]))
    assert r.params.total == 4 * 3
    assert r.params.constants == 2
    assert r.params.shared_tensors == 1
    assert r.flops.total == 2 * (2 * 1 * 4 * 3) + 1 * 3


def _tied_lm(projection: np.ndarray, table: np.ndarray) -> onnx.ModelProto:
    """ids -> embedding table [V, D] -> ReLU -> · projection [D, V]: logits."""
    nodes = [helper.make_node("Gather", ["E", "ids"], ["h"]), helper.make_node("Relu", ["h"], ["a"]),
             helper.make_node("MatMul", ["a", "P"], ["logits"])]
    return model(nodes, [value("ids", [1, 8], TensorProto.INT64)], [value("logits", [1, 8, table.shape[0]])],
                 [numpy_helper.from_array(table, "E"), numpy_helper.from_array(projection, "P")])


@pytest.mark.parametrize("tied", [True, False])
def test_a_tied_embedding_stored_again_transposed_counts_once(tied):
    """TorchScript folds the transpose a tied output projection needs into a second copy of the
    embedding (GPT-2 from Optimum: 163 M stored, 124 M parameters); an untied one of the
    same shape is its own weights."""
    vocab, width = 500, 64
    rng = np.random.default_rng(0)
    table = rng.standard_normal((vocab, width)).astype(np.float32)
    projection = table.T.copy() if tied else rng.standard_normal((width, vocab)).astype(np.float32)
    r = analyze_model(_tied_lm(projection, table))
    assert r.params.total == (1 if tied else 2) * vocab * width
    assert r.params.shared_tensors == (1 if tied else 0)
    assert r.memory.weights_bytes == 2 * vocab * width * 4  # stored twice either way


def test_a_merged_decoder_counts_its_tied_embedding_once_though_its_branches_read_it():
    """Optimum's merged decoders keep the weights in the main graph and read them in the If's
    branches: one branch embeds with the table, the other projects with its transposed copy."""
    rng = np.random.default_rng(1)
    table = rng.standard_normal((500, 64)).astype(np.float32)
    embed = helper.make_graph([helper.make_node("Gather", ["E", "ids"], ["Y"])], "embed", [], [value("Y", None)])
    project = helper.make_graph([helper.make_node("MatMul", ["X", "P"], ["Y"])], "project", [], [value("Y", None)])
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=embed, else_branch=project)
    inputs = [value("ids", [1, 8], TensorProto.INT64), value("X", [1, 8, 64]), value("cond", [], TensorProto.BOOL)]
    r = analyze_model(model([node], inputs, [value("Y", None)],
                            [numpy_helper.from_array(table, "E"), numpy_helper.from_array(table.T.copy(), "P")]))
    assert r.params.total == 500 * 64


def test_two_fills_of_transposed_shapes_are_no_copy_of_each_other():
    r = analyze_model(_tied_lm(np.zeros((64, 500), np.float32), np.zeros((500, 64), np.float32)))
    assert r.params.total == 2 * 500 * 64


def test_quantized_int8_weights_count_with_their_dtype_and_their_scale_and_zero_point_apart():
    inits = [
        numpy_helper.from_array(np.ones((8, 4), np.int8), "Wq"),
        numpy_helper.from_array(np.array(0.1, np.float32), "scale"),
        numpy_helper.from_array(np.array(0, np.int8), "zp"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["Wq", "scale", "zp"], ["W"]),
        helper.make_node("MatMul", ["X", "W"], ["Y"]),
    ]
    r = analyze_model(model(nodes, [value("X", [2, 8])], [value("Y", [2, 4])], inits))
    # the scale and zero point say how the weight is stored: not parameters, but stored bytes
    assert r.params.by_dtype == {"int8": 8 * 4}
    assert r.params.total == 8 * 4 and r.params.quantization == 1 + 1
    assert r.memory.weights_bytes == 8 * 4 + 4 + 1
    # The weight is attributed to the MatMul that computes with it, not to DequantizeLinear.
    matmul = next(n for n in r.nodes if n.op_type == "MatMul")
    assert matmul.params == 8 * 4


def test_a_qdq_model_counts_its_weight_dequantization_apart_as_folded_at_load():
    """QuantizeLinear/DequantizeLinear pairs around a Conv, as ONNX Runtime's quantizer writes a QDQ model."""
    inits = [
        numpy_helper.from_array(np.ones((8, 3, 3, 3), np.int8), "Wq"),
        numpy_helper.from_array(np.array(0.1, np.float32), "ws"), numpy_helper.from_array(np.array(0, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.1, np.float32), "xs"), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
        numpy_helper.from_array(np.ones((8,), np.int32), "Bq"), numpy_helper.from_array(np.array(0.01, np.float32), "bs"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["X", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["Wq", "ws", "wz"], ["wd"], name="weights"),
        helper.make_node("DequantizeLinear", ["Bq", "bs"], ["bd"], name="bias"),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["Y"], pads=[1, 1, 1, 1]),
    ]
    r = analyze_model(model(nodes, [value("X", [1, 3, 8, 8])], [value("Y", None)], inits))
    activations = 3 * 8 * 8
    conv = 2 * (8 * 8 * 8) * 27 + 8 * 8 * 8  # 8 filters over 8×8 positions, 3·3·3 MACs each, + the bias add
    # per inference: quantize (3 per element) and dequantize (2) the input, then the Conv
    assert r.flops.total == 3 * activations + 2 * activations + conv
    assert r.flops.by_op_type == {"Conv": conv, "DequantizeLinear": 2 * activations, "QuantizeLinear": 3 * activations}
    # once, at load: the weights' (w − zero point) · scale, the bias's · scale (no zero point)
    assert r.flops.folded == 2 * 8 * 27 + 8
    folded = {n.name: n.flops for n in r.nodes if n.folded}
    assert folded == {"weights": 2 * 8 * 27, "bias": 8}
    # the Conv, an integer kernel once fused, reads the weights quantized: int8 values, scale, zero point;
    # the bias as int32 with its scale
    conv = next(n for n in r.nodes if n.op_type == "Conv")
    assert conv.weight_bytes_read == (8 * 27 + 4 + 1) + (8 * 4 + 4)
    from mkdocs_onnx.render.terminal import render_text_card

    assert "; 440 more in nodes computed from constants only, which runtimes fold or fuse" in render_text_card(r)


def test_weight_only_int4_dequantization_counts_at_every_call_and_its_reader_reads_packed_weights():
    """Blocked int4 weights feeding a MatMul of float activations, as a 4-bit language model's
    QDQ export writes them: the kernel dequantizes at every call (as MatMulNBits does)."""
    weights = helper.make_tensor("Wq", TensorProto.INT4, [64, 32], [0] * (64 * 32))
    scales = numpy_helper.from_array(np.ones((2, 32), np.float32), "scale")  # one per block of 32 rows
    nodes = [helper.make_node("DequantizeLinear", ["Wq", "scale"], ["W"], axis=0, block_size=32, name="dequantize"),
             helper.make_node("MatMul", ["X", "W"], ["Y"], name="matmul")]
    r = analyze_model(model(nodes, [value("X", [1, 64])], [value("Y", None)], [weights, scales], opset=21))
    matmul_flops, dequantize_flops = 2 * 1 * 64 * 32, 64 * 32  # w · scale per weight: there is no zero point
    assert r.flops.total == matmul_flops + dequantize_flops and r.flops.folded == 0
    rows = {n.name: n for n in r.nodes}
    assert not rows["dequantize"].folded and rows["dequantize"].bytes_read == rows["dequantize"].bytes_written == 0
    assert rows["matmul"].weight_bytes_read == 64 * 32 // 2 + 2 * 32 * 4  # packed int4 and the float scales
    assert rows["matmul"].bytes_read == 64 * 4 + rows["matmul"].weight_bytes_read


def test_a_node_folded_at_load_whose_cost_is_unknown_is_said_not_hidden():
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    nodes = [helper.make_node("Frob", ["W"], ["W2"], domain="com.example", name="frob"),
             helper.make_node("MatMul", ["X", "W2"], ["Y"])]
    r = analyze_model(model(nodes, [value("X", [2, 4])], [value("Y", [2, 4])], [w], extra_opsets=[("com.example", 1)]))
    assert r.flops.folded == 0 and "frob" not in [u.node for u in r.flops.uncounted]  # it is no part of an inference
    assert "not counted in the FLOPs folded at load: frob (com.example.Frob: no cost formula for com.example.Frob)" \
        in r.flops.notes


def test_batchnorm_statistics_are_non_trainable():
    c = 3
    inits = [tensor("scale", (c,)), tensor("bias", (c,)), tensor("mean", (c,)), tensor("var", (c,))]
    nodes = [helper.make_node("BatchNormalization", ["X", "scale", "bias", "mean", "var"], ["Y"])]
    r = analyze_model(model(nodes, [value("X", [1, c, 4, 4])], [value("Y", [1, c, 4, 4])], inits))
    assert r.params.total == 4 * c
    assert r.params.non_trainable == 2 * c
    assert r.params.trainable == 2 * c


@pytest.mark.parametrize("through_expand", [False, True])
def test_a_recurrent_initial_state_is_a_constant_not_a_weight(through_expand):
    """torch.nn.LSTM(16, 32) has 4·32·(16 + 32) weights and 2·4·32 biases; exporters add a zero
    initial state, read by the LSTM directly (torch.export) or Expanded to the batch first
    (TorchScript). Neither is a parameter: torch counts 6,400, and so must the file."""
    inp, hidden = 16, 32
    inits = [tensor("W", (1, 4 * hidden, inp)), tensor("R", (1, 4 * hidden, hidden)), tensor("B", (1, 8 * hidden)),
             tensor("h0", (1, 1, hidden), value=0.0), tensor("c0", (1, 1, hidden), value=0.0)]
    nodes = [helper.make_node("LSTM", ["X", "W", "R", "B", "", "h", "c"], ["Y", "Y_h", "Y_c"], hidden_size=hidden)]
    if through_expand:
        inits.append(numpy_helper.from_array(np.array([1, 2, hidden], np.int64), "batch_shape"))
        nodes[:0] = [helper.make_node("Expand", ["h0", "batch_shape"], ["h"]),
                     helper.make_node("Expand", ["c0", "batch_shape"], ["c"])]
    else:
        nodes[0].input[5:] = ["h0", "c0"]
        inits[4].dims[1] = inits[3].dims[1] = 2  # the batch of X
        inits[3].raw_data = inits[4].raw_data = np.zeros((1, 2, hidden), np.float32).tobytes()
    r = analyze_model(model(nodes, [value("X", [5, 2, inp])], [value("Y", [5, 1, 2, hidden])], inits))
    assert r.params.total == 4 * hidden * (inp + hidden) + 2 * 4 * hidden == 6400
    stored_batch = 1 if through_expand else 2
    assert r.params.constants == 2 * stored_batch * hidden + (3 if through_expand else 0)  # + the Expand's shape


def test_constant_of_shape_fed_by_constant_shape_is_a_placeholder_weight():
    shape = numpy_helper.from_array(np.array([16, 8], np.int64), "W_shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["W_shape"], ["W"], value=numpy_helper.from_array(np.array([0.0], np.float32))),
        helper.make_node("MatMul", ["X", "W"], ["Y"]),
    ]
    r = analyze_model(model(nodes, [value("X", [1, 16])], [value("Y", [1, 8])], [shape]))
    assert r.params.total == 16 * 8
    assert r.params.placeholder == 16 * 8
    assert r.params.constants == 2


# --- FLOPs with symbolic dims ------------------------------------------------------------------


def _symbolic_encoder() -> onnx.ModelProto:
    """X[batch, sequence, 64] -> dense(64->32) + ReLU, and a sequence x sequence score MatMul."""
    inits = [tensor("W", (64, 32)), tensor("b", (32,)), numpy_helper.from_array(np.array([0, 2, 1], np.int64), "perm")]
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["H"]),
        helper.make_node("Add", ["H", "b"], ["Hb"]),
        helper.make_node("Relu", ["Hb"], ["A"]),
        helper.make_node("Transpose", ["A"], ["At"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["A", "At"], ["S"]),
    ]
    return model(nodes, [value("X", ["batch", "sequence", 64])], [value("S", ["batch", "sequence", "sequence"])],
                 inits[:2])


@pytest.mark.parametrize("batch, sequence", [(1, 8), (2, 8), (4, 16), (3, 100)])
def test_flops_scale_exactly_with_bound_dims(batch, sequence):
    r = analyze_model(_symbolic_encoder(), dims={"sequence": sequence}, batch_size=batch)
    dense = 2 * batch * sequence * 64 * 32
    bias = relu = batch * sequence * 32
    scores = 2 * batch * sequence * sequence * 32
    assert r.flops.total == dense + bias + relu + scores
    assert r.dims == {"batch": batch, "sequence": sequence}
    assert r.batch_dims == ["batch"]
    assert r.memory.activations_unknown == 0


@pytest.mark.parametrize("expression, expected", [
    ("past_sequence_length + sequence_length", 12 + 4),  # Optimum's attention mask with a KV cache
    ("encoder_sequence_length / 2", 12 // 2),  # Whisper's encoder output after its stride-2 convolution
    ("sequence_length / 3", None),  # 4 / 3 frames: not a size, left unbound
    ("2 * sequence_length - 1", 2 * 4 - 1),
])
def test_a_dim_named_by_arithmetic_on_bound_dims_takes_its_value(expression, expected):
    inputs = [value("past", [1, "past_sequence_length"]), value("encoder", [1, "encoder_sequence_length"]),
              value("ids", [1, "sequence_length"]), value("mask", [1, expression])]
    nodes = [helper.make_node("Relu", ["mask"], ["Y"])]
    dims = {"past_sequence_length": 12, "encoder_sequence_length": 12, "sequence_length": 4}
    r = analyze_model(model(nodes, inputs, [value("Y", None)]), dims=dims)
    assert r.dims[expression] == expected
    assert (r.flops.total == expected) if expected else r.flops.uncounted  # Relu: one FLOP an element


def test_unbound_dims_are_uncounted_never_zero():
    r = analyze_model(_symbolic_encoder())  # sequence left unbound
    assert r.dims == {"batch": 1, "sequence": None}
    assert r.flops.uncounted_ops == {"Add": 1, "MatMul": 2, "Relu": 1}
    assert all("sequence" in u.reason for u in r.flops.uncounted if u.op_type == "MatMul")
    assert any(k.id == "symbolic-dims" for k in r.risks)
    assert r.memory.activations_unknown > 0  # the peak is then a lower bound, and says so


# --- Control flow ---------------------------------------------------------------------------------


def _branch(name: str, op: str, n_ops: int) -> onnx.GraphProto:
    nodes, prev = [], "X"
    for i in range(n_ops):
        nodes.append(helper.make_node(op, [prev, prev], [f"{name}{i}"]))
        prev = f"{name}{i}"
    return helper.make_graph(nodes, name, [], [value(prev, [2, 3])])


def test_if_costs_its_costlier_branch_and_says_so():
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=_branch("t", "Add", 1), else_branch=_branch("e", "Mul", 3))
    inputs = [value("X", [2, 3]), value("cond", [], TensorProto.BOOL)]
    r = analyze_model(model([node], inputs, [value("Y", [2, 3])]))
    assert r.flops.total == 3 * (2 * 3)  # else: three Mul of 6 elements
    assert r.graph.node_count == 1 + 1 + 3
    assert r.graph.op_counts == {"Mul": 3, "Add": 1, "If": 1}
    assert any("branch" in n for n in r.flops.notes)


def test_branches_that_define_the_same_names_are_counted_each_with_its_own_values():
    """Optimum's merged decoders: both branches of the If define '/decoder/Constant_4_output_0'
    (and hundreds more) with different values. Here each reshapes X[1, 4] by its own 'target':
    then [1, 4] and X·A[4, 8]; else [4, 1] and X·B[1, 16]."""
    def branch(name, target, weight):
        nodes = [helper.make_node("Constant", [], ["target"], value=numpy_helper.from_array(np.array(target, np.int64))),
                 helper.make_node("Reshape", ["X", "target"], ["h"]), helper.make_node("MatMul", ["h", weight.name], ["Y"])]
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                                 initializer=[weight])

    node = helper.make_node("If", ["cond"], ["Y"], then_branch=branch("then", [1, 4], tensor("A", (4, 8))),
                            else_branch=branch("else", [4, 1], tensor("B", (1, 16))))
    r = analyze_model(model([node], [value("X", [1, 4]), value("cond", [], TensorProto.BOOL)], [value("Y", None)]))
    then_flops, else_flops = 2 * 1 * 4 * 8, 2 * 4 * 1 * 16
    assert r.flops.total == else_flops and not r.flops.uncounted
    assert f"then {then_flops}, else {else_flops}" in r.flops.notes[0]


def test_a_slice_from_the_end_by_the_sequence_length_is_shaped():
    """T5's position_bias[:, :, -seq_length:]: the start is Neg of a length read from a shape."""
    nodes = [helper.make_node("Shape", ["X"], ["shape"]),
             helper.make_node("Gather", ["shape", "one"], ["seq"], axis=0),  # a scalar, as torch exports it
             helper.make_node("Neg", ["seq"], ["negated"]),
             helper.make_node("Unsqueeze", ["negated", "zero"], ["start"]),
             helper.make_node("Slice", ["bias", "start", "end", "axis"], ["tail"]),
             helper.make_node("Add", ["X", "tail"], ["Y"])]
    inits = [tensor("bias", (1, 32, 8)), numpy_helper.from_array(np.array(1, np.int64), "one"),
             numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([2**62], np.int64), "end"), numpy_helper.from_array(np.array([1], np.int64), "axis")]
    r = analyze_model(model(nodes, [value("X", [1, "sequence", 8])], [value("Y", None)], inits), dims={"sequence": 16})
    assert r.flops.total == 16 * 8 + 1 and not r.flops.uncounted  # the Add, and Neg on one element


def test_if_with_a_constant_condition_costs_the_branch_taken():
    cond = numpy_helper.from_array(np.array(True), "cond")
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=_branch("t", "Add", 1), else_branch=_branch("e", "Mul", 3))
    r = analyze_model(model([node], [value("X", [2, 3])], [value("Y", [2, 3])], [cond]))
    assert r.flops.total == 1 * (2 * 3)  # then: one Add of 6 elements


def test_loop_costs_body_times_static_trip_count():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "X"], ["acc_out"])],
        "body",
        [value("i", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("acc_in", [2, 3])],
        [value("cond_out", [], TensorProto.BOOL), value("acc_out", [2, 3])],
    )
    inits = [numpy_helper.from_array(np.array(5, np.int64), "M"), numpy_helper.from_array(np.array(True), "c")]
    node = helper.make_node("Loop", ["M", "c", "X"], ["Y"], body=body)
    r = analyze_model(model([node], [value("X", [2, 3])], [value("Y", [2, 3])], inits))
    assert r.flops.total == 5 * (2 * 3)


# --- Files and broken input --------------------------------------------------------------------------


def test_missing_external_data_still_gives_numbers(tmp_path):
    w = tensor("W", (256, 128))
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 256])], [value("Y", [1, 128])], [w])
    path = tmp_path / "ext.onnx"
    onnx.save_model(m, path, save_as_external_data=True, location="ext.bin", size_threshold=0)
    (tmp_path / "ext.bin").unlink()
    r = analyze(path)
    assert r.params.total == 256 * 128
    assert r.memory.weights_bytes == 256 * 128 * 4
    assert r.flops.total == 2 * 256 * 128
    assert r.model.missing_external_data == ["ext.bin"]
    assert r.model.external_data_bytes == 256 * 128 * 4  # from the declared length
    assert any(k.id == "missing-external-data" for k in r.risks)


def test_nodes_out_of_order_are_sorted():
    nodes = [helper.make_node("Relu", ["A"], ["Y"]), helper.make_node("Neg", ["X"], ["A"])]
    r = analyze_model(model(nodes, [value("X", [4, 4])], [value("Y", [4, 4])]))
    assert r.flops.total == 16 + 16
    assert r.flops.uncounted_ops == {}


def test_a_cycle_is_a_clear_error():
    nodes = [helper.make_node("Relu", ["B"], ["A"]), helper.make_node("Neg", ["A"], ["B"])]
    with pytest.raises(AnalysisError, match="cycle"):
        analyze_model(model(nodes, [value("X", [4])], [value("B", [4])]))


@pytest.mark.parametrize("data, message", [(b"", "empty"), (b"\x00\xff garbage \x13", "not an ONNX model")])
def test_unreadable_files_are_one_line_errors(tmp_path, data, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(AnalysisError, match=message) as info:
        analyze(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


# --- The command line ---------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs_onnx", *args], capture_output=True, text=True, timeout=120)


def test_cli_json_has_the_contract_keys():
    out = _cli("analyze", str(LIGHT / "light_squeezenet.onnx"), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("schema_version", "model", "metadata", "graph", "params", "flops", "memory", "architecture",
                "dims", "risks"):
        assert key in data
    for key in ("name", "path", "sha256", "file_bytes", "external_data_bytes"):
        assert key in data["model"]
    for key in ("total", "trainable", "non_trainable", "constants", "by_dtype", "placeholder"):
        assert key in data["params"]
    assert data["schema_version"] == 1


def test_cli_markdown_and_exit_codes(tmp_path):
    out = _cli("analyze", str(LIGHT / "light_squeezenet.onnx"), "--format", "markdown", "--batch-size", "2")
    assert out.returncode == 0 and "FLOPs" in out.stdout and "MFLOPs" in out.stdout or "GFLOPs" in out.stdout
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nope")
    out = _cli("analyze", str(bad))
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "bad.onnx" in out.stderr
    assert _cli("analyze").returncode == 2
    assert _cli("analyze", str(bad), "--dim", "oops").returncode == 2


def test_inputs_and_outputs_that_are_not_tensors_are_named_by_their_whole_type():
    # A classifier's probabilities as ZipMap gives them: a sequence of maps from class to score
    probabilities = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    optional_ids = helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.INT32, ["n"]))
    nodes = [helper.make_node("ZipMap", ["scores"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1]),
             helper.make_node("Identity", ["maybe_ids"], ["same_ids"])]
    graph = helper.make_graph(
        nodes, "io", [value("scores", ["N", 2]), helper.make_value_info("maybe_ids", optional_ids)],
        [helper.make_value_info("probabilities", probabilities), helper.make_value_info("same_ids", optional_ids)])
    r = analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                              helper.make_opsetid("ai.onnx.ml", 3)]))
    assert [(t.dtype, t.shape, t.shape_text()) for t in r.graph.outputs] == [
        ("sequence(map(int64, float32))", None, ""),  # no shape to speak of, rather than an unknown rank
        ("optional(int32)", None, ""),
    ]
    assert [(t.dtype, t.shape_text()) for t in r.graph.inputs] == [("float32", "[N, 2]"), ("optional(int32)", "")]


def test_a_tensor_of_unknown_rank_says_so():
    r = analyze_model(model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", None)], [value("Y", None)]))
    assert [(t.dtype, t.shape, t.shape_text()) for t in r.graph.inputs] == [("float32", None, "unknown rank")]


def test_the_terminal_card_never_shows_an_uncounted_total_as_zero():
    """Every Conv of an image model whose height and width are unbound has an unknown shape:
    the card says the FLOPs and the peak are not known, never "0", and how to bind them."""
    nodes, previous = [], "X"
    for i in range(25):  # 25 × (3×3 Conv of 3 channels, Relu)
        nodes += [helper.make_node("Conv", [previous, f"W{i}"], [f"Y{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"Y{i}"], [f"R{i}"])]
        previous = f"R{i}"
    inits = [tensor(f"W{i}", (3, 3, 3, 3)) for i in range(25)]
    m = model(nodes, [value("X", [1, 3, "height", "width"])], [value("R24", None)], inits)
    from mkdocs_onnx.render.terminal import render_text_card

    text = render_text_card(analyze_model(m))
    assert "- FLOPs: not counted (no node's cost is known: 50 uncounted, listed below)" in text
    assert "- Peak activation memory: unknown (" in text
    assert "`--dim NAME=VALUE` (`height`, `width`)" in text
    assert text.count("- Uncounted: ") == 20 and "- … and 30 more uncounted nodes" in text
    bound = render_text_card(analyze_model(m, dims={"height": 8, "width": 8}))
    per_conv = 2 * (3 * 8 * 8) * 27  # 3 filters over 8×8 positions, 3·3·3 MACs each
    assert f"({25 * per_conv + 25 * 3 * 8 * 8:,} FLOPs" in bound and "Uncounted" not in bound


@pytest.mark.parametrize("opset, mask_bytes", [(9, 4), (13, 1)])
def test_a_dropout_mask_is_written_in_its_opsets_type(opset, mask_bytes):
    """Dropout's optional mask has the data's shape: its element type before opset 10
    (ONNX's inference leaves it untyped there), a bool from opset 10 on."""
    node = helper.make_node("Dropout", ["X"], ["Y", "mask"], name="drop")
    r = analyze_model(model([node], [value("X", [2, 3, 5])], [value("Y", None)], opset=opset))
    row = next(n for n in r.nodes if n.name == "drop")
    assert row.bytes_written == 2 * 3 * 5 * 4 + 2 * 3 * 5 * mask_bytes
