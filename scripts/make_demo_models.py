#!/usr/bin/env python3
"""Build the demo zoo's small models into models/ (deterministic: fixed seeds, no timestamps).

    python scripts/make_demo_models.py [OUT_DIR]

Each model is a real architecture at toy size, built with onnx.helper and numpy, with
random (seeded) weights — they are for analysing, not for predicting anything — and
passes ``onnx.checker.check_model(full_check=True)``:

- lenet5.onnx: LeNet-5 style CNN, [batch, 1, 32, 32] → 10 logits
- mnist_mlp.onnx: 784-128-64-10 multi-layer perceptron
- lstm_sentiment.onnx: embedding + LSTM text classifier, [batch, 64] token ids → 2 logits
- tiny_transformer.onnx: 2-layer, 4-head, hidden-64 pre-LN transformer encoder with
  MatMul-Softmax-MatMul attention and a GELU MLP, [batch, sequence] token ids → 4 logits
- boosted_trees.onnx: gradient-boosted trees (30 trees of depth 3) over 4 features, 3
  classes, as skl2onnx exports scikit-learn's GradientBoostingClassifier
- tiny_transformer_int4.onnx: the transformer with every MatMul weight quantized to 4 bits
  in blocks of 32 (ONNX Runtime's MatMulNBits, as its 4-bit LLM builds store them)
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 20  # Gelu is an ai.onnx operator from opset 20
IR_VERSION = 9
PRODUCER = ("mkdocs-onnx make_demo_models.py", "1")


class GraphBuilder:
    """Collects nodes and seeded initializers with readable, unique names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count: dict[str, int] = {}

    def name(self, base: str) -> str:
        self._count[base] = self._count.get(base, 0) + 1
        return base if self._count[base] == 1 else f"{base}_{self._count[base]}"

    def weight(self, name: str, shape: tuple[int, ...], scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        std = scale if scale is not None else (2.0 / max(fan_in, 1)) ** 0.5
        return self.const(name, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, outputs: int = 1, **attrs) -> str | list[str]:
        node_name = self.name(name or op_type.lower())
        outs = [node_name] if outputs == 1 else [f"{node_name}_out{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, **attrs))
        return outs[0] if outputs == 1 else outs

    def linear(self, x: str, d_in: int, d_out: int, name: str) -> str:
        """x @ W + b for inputs of any rank (MatMul + Add, as exporters emit)."""
        w = self.weight(f"{name}.weight", (d_in, d_out), scale=(1.0 / d_in) ** 0.5)
        b = self.const(f"{name}.bias", np.zeros(d_out, np.float32))
        return self.op("Add", [self.op("MatMul", [x, w], name=f"{name}/MatMul"), b], name=f"{name}/Add")

    def model(self, name: str, inputs, outputs, doc: str, props: dict[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            ir_version=IR_VERSION,
            producer_name=PRODUCER[0],
            producer_version=PRODUCER[1],
            doc_string=doc,
        )
        helper.set_model_props(model, props)
        return model


def lenet5() -> onnx.ModelProto:
    g = GraphBuilder(seed=5)
    x = g.op("Conv", ["image", g.weight("conv1.weight", (6, 1, 5, 5)), g.const("conv1.bias", np.zeros(6, np.float32))],
             name="conv1", kernel_shape=[5, 5])
    x = g.op("MaxPool", [g.op("Relu", [x], name="relu1")], name="pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Conv", [x, g.weight("conv2.weight", (16, 6, 5, 5)), g.const("conv2.bias", np.zeros(16, np.float32))],
             name="conv2", kernel_shape=[5, 5])
    x = g.op("MaxPool", [g.op("Relu", [x], name="relu2")], name="pool2", kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Flatten", [x], name="flatten", axis=1)
    for i, (d_in, d_out) in enumerate([(400, 120), (120, 84), (84, 10)], start=1):
        w = g.weight(f"fc{i}.weight", (d_out, d_in))
        x = g.op("Gemm", [x, w, g.const(f"fc{i}.bias", np.zeros(d_out, np.float32))], name=f"fc{i}", transB=1)
        if i < 3:
            x = g.op("Relu", [x], name=f"relu_fc{i}")
    g.nodes[-1].output[0] = "logits"
    return g.model(
        "lenet5",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        "LeNet-5 style digit classifier (LeCun et al., 1998) with ReLU and max pooling; random weights.",
        {"architecture": "LeNet-5", "weights": "random (seed 5)"},
    )


def mnist_mlp() -> onnx.ModelProto:
    g = GraphBuilder(seed=7)
    x = "pixels"
    sizes = [784, 128, 64, 10]
    for i, (d_in, d_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        w = g.weight(f"fc{i}.weight", (d_out, d_in))
        x = g.op("Gemm", [x, w, g.const(f"fc{i}.bias", np.zeros(d_out, np.float32))], name=f"fc{i}", transB=1)
        if d_out != 10:
            x = g.op("Relu", [x], name=f"relu{i}")
    g.nodes[-1].output[0] = "logits"
    return g.model(
        "mnist_mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        "784-128-64-10 multi-layer perceptron for flattened 28x28 digits; random weights.",
        {"architecture": "MLP", "weights": "random (seed 7)"},
    )


def lstm_sentiment(vocab: int = 1000, embed: int = 32, hidden: int = 64, seq: int = 64) -> onnx.ModelProto:
    g = GraphBuilder(seed=11)
    emb = g.op("Gather", [g.weight("embedding.weight", (vocab, embed), scale=0.1), "token_ids"], name="embedding")
    seq_first = g.op("Transpose", [emb], name="to_seq_first", perm=[1, 0, 2])  # [seq, batch, embed]
    w = g.weight("lstm.W", (1, 4 * hidden, embed), scale=(1.0 / embed) ** 0.5)
    r = g.weight("lstm.R", (1, 4 * hidden, hidden), scale=(1.0 / hidden) ** 0.5)
    b = g.const("lstm.B", np.zeros((1, 8 * hidden), np.float32))
    _, y_h, _ = g.op("LSTM", [seq_first, w, r, b], name="lstm", outputs=3, hidden_size=hidden, direction="forward")
    last = g.op("Squeeze", [y_h, g.const("axis0", np.array([0], np.int64))], name="last_hidden")  # [batch, hidden]
    w_out = g.weight("classifier.weight", (2, hidden))
    g.op("Gemm", [last, w_out, g.const("classifier.bias", np.zeros(2, np.float32))], name="classifier", transB=1)
    g.nodes[-1].output[0] = "logits"
    return g.model(
        "lstm_sentiment",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["batch", seq])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        f"Embedding ({vocab}x{embed}) + single-layer LSTM (hidden {hidden}) sentiment classifier over "
        f"{seq}-token sequences; random weights.",
        {"architecture": "LSTM", "weights": "random (seed 11)"},
    )


def tiny_transformer(
    vocab: int = 1000, hidden: int = 64, heads: int = 4, layers: int = 2, ffn: int = 256,
    max_positions: int = 128, classes: int = 4,
) -> onnx.ModelProto:
    g = GraphBuilder(seed=13)
    head_dim = hidden // heads
    tokens = g.op("Gather", [g.weight("embeddings.word", (vocab, hidden), scale=0.02), "input_ids"], name="word_embeddings")
    # Positions 0..sequence-1, computed from the input's symbolic shape.
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"], name="input_shape"), g.const("one", np.array(1, np.int64))],
                   name="sequence_length", axis=0)
    positions = g.op("Range", [g.const("zero", np.array(0, np.int64)), seq_len, "one"], name="positions")
    pos = g.op("Gather", [g.weight("embeddings.position", (max_positions, hidden), scale=0.02), positions],
               name="position_embeddings")
    x = g.op("Add", [tokens, pos], name="embeddings")

    split_heads = g.const("split_heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = g.const("merge_heads_shape", np.array([0, 0, hidden], np.int64))
    scale = g.const("attention_scale", np.array(1.0 / np.sqrt(head_dim), np.float32))

    def layer_norm(v: str, name: str) -> str:
        gamma = g.const(f"{name}.weight", np.ones(hidden, np.float32))
        beta = g.const(f"{name}.bias", np.zeros(hidden, np.float32))
        return g.op("LayerNormalization", [v, gamma, beta], name=name, axis=-1, epsilon=1e-5)

    for i in range(layers):
        p = f"layer{i}"
        h = layer_norm(x, f"{p}.attention_norm")
        q, k, v = (
            g.op("Transpose", [g.op("Reshape", [g.linear(h, hidden, hidden, f"{p}.attention.{n}"), split_heads],
                                    name=f"{p}.attention.{n}/split_heads")],
                 name=f"{p}.attention.{n}/transpose", perm=perm)
            for n, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3]))
        )
        scores = g.op("Mul", [g.op("MatMul", [q, k], name=f"{p}.attention/QK"), scale], name=f"{p}.attention/scale")
        probs = g.op("Softmax", [scores], name=f"{p}.attention/softmax", axis=-1)
        context = g.op("MatMul", [probs, v], name=f"{p}.attention/AV")
        context = g.op("Reshape", [g.op("Transpose", [context], name=f"{p}.attention/merge_transpose", perm=[0, 2, 1, 3]),
                                   merge_heads], name=f"{p}.attention/merge_heads")
        x = g.op("Add", [x, g.linear(context, hidden, hidden, f"{p}.attention.output")], name=f"{p}.attention/residual")
        h = layer_norm(x, f"{p}.mlp_norm")
        h = g.op("Gelu", [g.linear(h, hidden, ffn, f"{p}.mlp.fc1")], name=f"{p}.mlp/gelu")
        x = g.op("Add", [x, g.linear(h, ffn, hidden, f"{p}.mlp.fc2")], name=f"{p}.mlp/residual")

    x = layer_norm(x, "final_norm")
    pooled = g.op("ReduceMean", [x, g.const("sequence_axis", np.array([1], np.int64))], name="mean_pool", keepdims=0)
    g.linear(pooled, hidden, classes, "classifier")
    g.nodes[-1].output[0] = "logits"
    return g.model(
        "tiny_transformer",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        f"{layers}-layer pre-LN transformer encoder (hidden {hidden}, {heads} heads, MLP {ffn}, GELU) with "
        f"learned positions up to {max_positions} tokens and a mean-pooled {classes}-class head; random weights.",
        {"architecture": "transformer-encoder", "weights": "random (seed 13)", "max_positions": str(max_positions)},
    )


def tiny_transformer_int4(block_size: int = 32) -> onnx.ModelProto:
    """The transformer with each MatMul by a weight replaced by ONNX Runtime's MatMulNBits:
    4-bit asymmetric quantization in blocks of ``block_size`` along K, one float scale and
    one 4-bit zero point per block, two values to a byte (low nibble first)."""
    model = tiny_transformer()
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    nodes, kept = [], {t.name for t in graph.initializer}
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is None or len(w.dims) != 2:
            nodes.append(node)
            continue
        packed, scales, zero_points = _quantize_4bit(numpy_helper.to_array(w), block_size)
        kept.discard(w.name)
        graph.initializer.extend([numpy_helper.from_array(packed, f"{w.name}.q4"),
                                  numpy_helper.from_array(scales, f"{w.name}.scales"),
                                  numpy_helper.from_array(zero_points, f"{w.name}.zero_points")])
        k, n = w.dims
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], f"{w.name}.q4", f"{w.name}.scales",
                                                      f"{w.name}.zero_points"], list(node.output), name=node.name,
                                      domain="com.microsoft", K=k, N=n, bits=4, block_size=block_size))
    initializers = [t for t in graph.initializer if t.name in kept or t.name.endswith((".q4", ".scales", ".zero_points"))]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    model.doc_string += " Weights of the MatMuls quantized to 4 bits (MatMulNBits, blocks of 32)."
    helper.set_model_props(model, {"architecture": "transformer-encoder", "weights": "random (seed 13), 4-bit",
                                   "max_positions": "128"})
    return model


def _quantize_4bit(w: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, scales, zero points) of a (K, N) weight in MatMulNBits' layout: B is (N, K/block,
    block/2) bytes, scales (N·K/block,) floats, zero points (N, K/block/2) bytes."""
    k, n = w.shape
    blocks = w.T.reshape(n, k // block_size, block_size)
    low, high = blocks.min(axis=2, keepdims=True), blocks.max(axis=2, keepdims=True)
    scale = np.maximum(high - low, 1e-8) / 15
    zero = np.clip(np.round(-low / scale), 0, 15)
    q = np.clip(np.round(blocks / scale) + zero, 0, 15).astype(np.uint8)
    packed = q[..., 0::2] | (q[..., 1::2] << 4)
    zero = zero.reshape(n, k // block_size).astype(np.uint8)
    zero_packed = zero[:, 0::2] | (zero[:, 1::2] << 4)
    return packed, scale.reshape(-1).astype(np.float32), zero_packed


def boosted_trees(features: int = 4, classes: int = 3, stages: int = 10, depth: int = 3) -> onnx.ModelProto:
    """Gradient-boosted trees as scikit-learn's GradientBoostingClassifier is exported by
    skl2onnx: one tree per class and boosting stage, each leaf adding to its class's score,
    a softmax, and a ZipMap of the probabilities."""
    rng = np.random.default_rng(13)
    nodes: dict[str, list] = {name: [] for name in ("treeids", "nodeids", "modes", "featureids", "values",
                                                    "truenodeids", "falsenodeids")}
    leaves: dict[str, list] = {name: [] for name in ("treeids", "nodeids", "ids", "weights")}
    branches = 2**depth - 1
    for tree in range(stages * classes):
        for node in range(2 * branches + 1):  # heap order: the children of node i are 2i + 1 and 2i + 2
            leaf = node >= branches
            for name, value in (("treeids", tree), ("nodeids", node), ("modes", "LEAF" if leaf else "BRANCH_LEQ"),
                                ("featureids", 0 if leaf else int(rng.integers(features))),
                                ("values", 0.0 if leaf else round(float(rng.normal()), 3)),
                                ("truenodeids", 0 if leaf else 2 * node + 1),
                                ("falsenodeids", 0 if leaf else 2 * node + 2)):
                nodes[name].append(value)
            if leaf:
                for name, value in (("treeids", tree), ("nodeids", node), ("ids", tree % classes),
                                    ("weights", round(float(rng.normal(scale=0.1)), 4))):
                    leaves[name].append(value)
    labels = list(range(classes))
    trees = helper.make_node(
        "TreeEnsembleClassifier", ["features"], ["label", "probabilities"], name="gradient_boosting", domain="ai.onnx.ml",
        classlabels_int64s=labels, post_transform="SOFTMAX", base_values=[round(1.0 / classes, 4)] * classes,
        **{f"nodes_{name}": values for name, values in nodes.items()},
        **{f"class_{name}": values for name, values in leaves.items()})
    zipmap = helper.make_node("ZipMap", ["probabilities"], ["output_probability"], name="zipmap", domain="ai.onnx.ml",
                              classlabels_int64s=labels)
    probability_map = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    graph = helper.make_graph(
        [trees, zipmap], "boosted_trees",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
         helper.make_value_info("output_probability", probability_map)])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
        ir_version=IR_VERSION, producer_name=PRODUCER[0], producer_version=PRODUCER[1],
        doc_string=f"Gradient-boosted trees: {stages} stages x {classes} classes, depth {depth}, "
                   f"over {features} features; random splits.")
    helper.set_model_props(model, {"architecture": "gradient-boosted trees", "weights": "random (seed 13)"})
    return model


MODELS = {
    "lenet5.onnx": lenet5,
    "mnist_mlp.onnx": mnist_mlp,
    "lstm_sentiment.onnx": lstm_sentiment,
    "tiny_transformer.onnx": tiny_transformer,
    "boosted_trees.onnx": boosted_trees,
    "tiny_transformer_int4.onnx": tiny_transformer_int4,
}


def main(argv: list[str]) -> int:
    out_dir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
    os.makedirs(out_dir, exist_ok=True)
    for filename, build in MODELS.items():
        model = build()
        onnx.checker.check_model(model, full_check=True)
        path = os.path.join(out_dir, filename)
        data = model.SerializeToString(deterministic=True)
        with open(path, "wb") as fh:
            fh.write(data)
        print(f"{path}: {len(data)} bytes, {len(model.graph.node)} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
