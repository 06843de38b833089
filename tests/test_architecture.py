"""Architecture detection on models built with onnx.helper the way exporters write them.

The transformers here are written out as PyTorch's exporter emits them: MatMul–Softmax–MatMul
attention with Reshape/Transpose to heads, scale and mask glue, decomposed LayerNorm and
GELU; the decoders mask causally with Trilu, a triangular constant buffer or compared
positions, and keep a KV cache.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis.architecture import detect

F = TensorProto.FLOAT


class Builder:
    """Nodes and seeded initializers with unique names."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def fresh(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, base: str = "c") -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, shape, base: str = "w") -> str:
        return self.const((self.rng.standard_normal(shape) * 0.02).astype(np.float32), base)

    def op(self, op_type: str, inputs, n_out: int = 1, domain: str = "", **attrs):
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain or None, **attrs))
        return outs[0] if n_out == 1 else outs

    def linear(self, x: str, d_in: int, d_out: int, bias: bool = True) -> str:
        y = self.op("MatMul", [x, self.weight((d_in, d_out))])
        return self.op("Add", [y, self.const(np.zeros(d_out, np.float32), "b")]) if bias else y

    def layer_norm(self, x: str, width: int, fused: bool = False) -> str:
        gamma, beta = self.const(np.ones(width, np.float32), "ln_g"), self.const(np.zeros(width, np.float32), "ln_b")
        if fused:
            return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)
        mean = self.op("ReduceMean", [x], axes=[-1], keepdims=1)
        centred = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Pow", [centred, self.const(np.array(2.0, np.float32))])], axes=[-1], keepdims=1)
        std = self.op("Sqrt", [self.op("Add", [var, self.const(np.array(1e-5, np.float32))])])
        normed = self.op("Div", [centred, std])
        return self.op("Add", [self.op("Mul", [normed, gamma]), beta])

    def rms_norm(self, x: str, width: int) -> str:
        var = self.op("ReduceMean", [self.op("Pow", [x, self.const(np.array(2.0, np.float32))])], axes=[-1], keepdims=1)
        inv = self.op("Reciprocal", [self.op("Sqrt", [self.op("Add", [var, self.const(np.array(1e-6, np.float32))])])])
        return self.op("Mul", [self.op("Mul", [x, inv]), self.const(np.ones(width, np.float32), "rms_g")])

    def gelu(self, x: str) -> str:
        erf = self.op("Erf", [self.op("Div", [x, self.const(np.array(1.4142135, np.float32))])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [erf, self.const(np.array(1.0, np.float32))])]),
                               self.const(np.array(0.5, np.float32))])

    def silu(self, x: str) -> str:
        return self.op("Mul", [x, self.op("Sigmoid", [x])])

    def heads(self, x: str, n: int, d: int, perm) -> str:
        shape = self.const(np.array([0, 0, n, d], np.int64), "heads_shape")
        return self.op("Transpose", [self.op("Reshape", [x, shape])], perm=perm)

    def merge(self, x: str, width: int) -> str:
        t = self.op("Transpose", [x], perm=[0, 2, 1, 3])
        return self.op("Reshape", [t, self.const(np.array([0, 0, width], np.int64), "merge_shape")])

    def model(self, inputs, outputs, opset: int = 17, extra=()) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "g", inputs, outputs, initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    *[helper.make_opsetid(d, v) for d, v in extra]])
        m.ir_version = 8
        return m


def embed(b: Builder, vocab: int, hidden: int, max_pos: int) -> str:
    tokens = b.op("Gather", [b.weight((vocab, hidden), "word_embeddings"), "input_ids"])
    seq = b.op("Gather", [b.op("Shape", ["input_ids"]), b.const(np.array(1, np.int64))], axis=0)
    positions = b.op("Range", [b.const(np.array(0, np.int64)), seq, b.const(np.array(1, np.int64))])
    pos = b.op("Gather", [b.weight((max_pos, hidden), "position_embeddings"), positions])
    return b.op("Add", [tokens, pos])


def encoder(layers: int = 2, heads: int = 4, hidden: int = 32, ffn: int = 64, vocab: int = 100, max_pos: int = 16,
            fused_ln: bool = False) -> onnx.ModelProto:
    """BERT-style post-LN encoder with a padding mask, as torch.onnx exports it."""
    b = Builder(1)
    d = hidden // heads
    x = b.layer_norm(embed(b, vocab, hidden, max_pos), hidden, fused_ln)
    ext = b.op("Unsqueeze", [b.op("Unsqueeze", ["attention_mask", b.const(np.array([1], np.int64))]),
                             b.const(np.array([2], np.int64))])
    mask = b.op("Mul", [b.op("Sub", [b.const(np.array(1.0, np.float32)), b.op("Cast", [ext], to=F)]),
                        b.const(np.array(-10000.0, np.float32))])
    for _ in range(layers):
        q = b.heads(b.linear(x, hidden, hidden), heads, d, [0, 2, 1, 3])
        k = b.heads(b.linear(x, hidden, hidden), heads, d, [0, 2, 3, 1])
        v = b.heads(b.linear(x, hidden, hidden), heads, d, [0, 2, 1, 3])
        scores = b.op("Add", [b.op("Div", [b.op("MatMul", [q, k]), b.const(np.array(np.sqrt(d), np.float32))]), mask])
        ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
        x = b.layer_norm(b.op("Add", [b.linear(b.merge(ctx, hidden), hidden, hidden), x]), hidden, fused_ln)
        h = b.linear(b.gelu(b.linear(x, hidden, ffn)), ffn, hidden)
        x = b.layer_norm(b.op("Add", [h, x]), hidden, fused_ln)
    b.nodes[-1].output[0] = "last_hidden_state"
    return b.model(
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", F, ["batch", "sequence", hidden])],
    )


def _causal_mask(b: Builder, kind: str, max_pos: int) -> tuple[str, str]:
    """(op, mask): apply as Where(mask, scores, -inf) ('where') or Add(scores, mask) ('add')."""
    seq = b.op("Shape", ["input_ids"], start=1, end=2)
    if kind == "trilu":  # torch.tril(torch.ones(S, S))
        square = b.op("Concat", [seq, seq], axis=0)
        ones = b.op("ConstantOfShape", [square], value=numpy_helper.from_array(np.array([1.0], np.float32)))
        keep = b.op("Cast", [b.op("Trilu", [ones], upper=0)], to=TensorProto.BOOL)
        return "where", keep
    if kind == "buffer":  # GPT-2's registered 'bias' buffer, sliced to the sequence
        buffer = b.const(np.tril(np.ones((1, 1, max_pos, max_pos), bool)), "attn_bias")
        zero = b.const(np.array([0], np.int64))
        rows = b.op("Slice", [buffer, zero, seq, b.const(np.array([2], np.int64))])
        return "where", b.op("Slice", [rows, zero, seq, b.const(np.array([3], np.int64))])
    if kind == "range":  # masking_utils: kv_idx <= q_idx
        n = b.op("Squeeze", [seq, b.const(np.array([0], np.int64))])
        r = b.op("Range", [b.const(np.array(0, np.int64)), n, b.const(np.array(1, np.int64))])
        q_idx = b.op("Unsqueeze", [r, b.const(np.array([1], np.int64))])
        kv_idx = b.op("Unsqueeze", [r, b.const(np.array([0], np.int64))])
        return "where", b.op("LessOrEqual", [kv_idx, q_idx])
    if kind == "additive":  # a float constant: 0 below the diagonal, -inf above
        tri = np.triu(np.full((max_pos, max_pos), -np.inf, np.float32), 1)
        zero = b.const(np.array([0, 0], np.int64))
        return "add", b.op("Slice", [b.const(tri, "causal_bias"), zero, b.op("Concat", [seq, seq], axis=0)])
    raise ValueError(kind)


def bidirectional_layers(b: Builder, x: str, layers: int, heads: int, hidden: int, ffn: int) -> str:
    """Pre-LN encoder layers without any mask (as in a seq2seq encoder)."""
    d = hidden // heads
    for _ in range(layers):
        h = b.layer_norm(x, hidden)
        q = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 1, 3])
        k = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 3, 1])
        v = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 1, 3])
        ctx = b.op("MatMul", [b.op("Softmax", [b.op("MatMul", [q, k])], axis=-1), v])
        x = b.op("Add", [x, b.linear(b.merge(ctx, hidden), hidden, hidden)])
        x = b.op("Add", [x, b.linear(b.op("Relu", [b.linear(b.layer_norm(x, hidden), hidden, ffn)]), ffn, hidden)])
    return b.layer_norm(x, hidden)


def decoder(layers: int = 2, heads: int = 4, kv_heads: int = 4, hidden: int = 32, ffn: int = 64, vocab: int = 100,
            max_pos: int = 16, mask: str = "trilu", cache: bool = False, rotary: bool = False,
            cross: bool = False, encoder_layers: int = 0) -> onnx.ModelProto:
    """GPT/Llama-style pre-norm decoder: causal mask, optional GQA, KV cache, rotary and cross-attention.

    With ``encoder_layers`` the encoder is in the same graph (a whole seq2seq model) and
    the cross-attention reads its output instead of an ``encoder_hidden_states`` input.
    """
    b = Builder(2)
    d = hidden // heads
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])]
    memory = "encoder_hidden_states"
    if encoder_layers:
        src = b.op("Gather", [b.weight((vocab, hidden), "src_embed"), "source_ids"])
        memory = bidirectional_layers(b, src, encoder_layers, heads, hidden, ffn)
        inputs.append(helper.make_tensor_value_info("source_ids", TensorProto.INT64, ["batch", "source_sequence"]))
    elif cross:
        inputs.append(helper.make_tensor_value_info("encoder_hidden_states", F, ["batch", "encoder_sequence", hidden]))
    x = embed(b, vocab, hidden, max_pos) if not rotary else b.op("Gather", [b.weight((vocab, hidden), "embed"), "input_ids"])
    outputs = []
    how, keep = _causal_mask(b, mask, max_pos) if mask else (None, None)
    neg = b.const(np.array(-np.inf, np.float32))
    if rotary:
        cos = b.op("Unsqueeze", [b.op("Gather", [b.const(np.cos(np.arange(max_pos * d).reshape(max_pos, d)).astype(np.float32), "cos_cached"),
                                                 "position_ids"]), b.const(np.array([1], np.int64))])
        sin = b.op("Unsqueeze", [b.op("Gather", [b.const(np.sin(np.arange(max_pos * d).reshape(max_pos, d)).astype(np.float32), "sin_cached"),
                                                 "position_ids"]), b.const(np.array([1], np.int64))])
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"]))

    def rope(t: str) -> str:
        half = d // 2
        first = b.op("Slice", [t, b.const(np.array([0], np.int64)), b.const(np.array([half], np.int64)),
                               b.const(np.array([3], np.int64))])
        second = b.op("Slice", [t, b.const(np.array([half], np.int64)), b.const(np.array([d], np.int64)),
                                b.const(np.array([3], np.int64))])
        rotated = b.op("Concat", [b.op("Neg", [second]), first], axis=-1)
        return b.op("Add", [b.op("Mul", [t, cos]), b.op("Mul", [rotated, sin])])

    def attend(q, k, v, masked: bool) -> str:
        scores = b.op("Mul", [b.op("MatMul", [q, k]), b.const(np.array(1 / np.sqrt(d), np.float32))])
        if masked and how == "where":
            scores = b.op("Where", [keep, scores, neg])
        elif masked and how == "add":
            scores = b.op("Add", [scores, keep])
        return b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])

    def repeat(t: str) -> str:
        if kv_heads == heads:
            return t
        n_rep = heads // kv_heads
        shape = b.op("Shape", [t])
        target = b.op("Concat", [b.op("Slice", [shape, b.const(np.array([0], np.int64)), b.const(np.array([2], np.int64))]),
                                 b.const(np.array([n_rep], np.int64)),
                                 b.op("Slice", [shape, b.const(np.array([2], np.int64)), b.const(np.array([4], np.int64))])], axis=0)
        expanded = b.op("Expand", [b.op("Unsqueeze", [t, b.const(np.array([2], np.int64))]), target])
        return b.op("Reshape", [expanded, b.const(np.array([0, heads, -1, d], np.int64))])

    for i in range(layers):
        h = b.rms_norm(x, hidden) if rotary else b.layer_norm(x, hidden)
        q = b.heads(b.linear(h, hidden, heads * d, bias=not rotary), heads, d, [0, 2, 1, 3])
        k = b.heads(b.linear(h, hidden, kv_heads * d, bias=not rotary), kv_heads, d, [0, 2, 1, 3])
        v = b.heads(b.linear(h, hidden, kv_heads * d, bias=not rotary), kv_heads, d, [0, 2, 1, 3])
        if rotary:
            q, k = rope(q), rope(k)
        if cache:
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", F,
                                                            ["batch", kv_heads, "past_sequence", d]))
            k = b.op("Concat", [f"past_key_values.{i}.key", k], axis=2)
            v = b.op("Concat", [f"past_key_values.{i}.value", v], axis=2)
            b.nodes.append(helper.make_node("Identity", [k], [f"present.{i}.key"]))
            b.nodes.append(helper.make_node("Identity", [v], [f"present.{i}.value"]))
            outputs += [helper.make_tensor_value_info(f"present.{i}.{kind}", F, None) for kind in ("key", "value")]
        kt = b.op("Transpose", [repeat(k)], perm=[0, 1, 3, 2])
        ctx = attend(q, kt, repeat(v), masked=True)
        x = b.op("Add", [x, b.linear(b.merge(ctx, heads * d), heads * d, hidden, bias=not rotary)])
        if cross:
            h = b.layer_norm(x, hidden)
            q = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 1, 3])
            k = b.heads(b.linear(memory, hidden, hidden), heads, d, [0, 2, 3, 1])
            v = b.heads(b.linear(memory, hidden, hidden), heads, d, [0, 2, 1, 3])
            x = b.op("Add", [x, b.linear(b.merge(attend(q, k, v, masked=False), hidden), hidden, hidden)])
        h = b.rms_norm(x, hidden) if rotary else b.layer_norm(x, hidden)
        if rotary:  # SwiGLU
            h = b.op("Mul", [b.silu(b.linear(h, hidden, ffn, bias=False)), b.linear(h, hidden, ffn, bias=False)])
            x = b.op("Add", [x, b.linear(h, ffn, hidden, bias=False)])
        else:
            x = b.op("Add", [x, b.linear(b.gelu(b.linear(h, hidden, ffn)), ffn, hidden)])
    x = b.rms_norm(x, hidden) if rotary else b.layer_norm(x, hidden)
    b.nodes.append(helper.make_node("MatMul", [x, b.weight((hidden, vocab), "lm_head")], ["logits"]))
    outputs.insert(0, helper.make_tensor_value_info("logits", F, ["batch", "sequence", vocab]))
    return b.model(inputs, outputs)


def mlp() -> onnx.ModelProto:
    b = Builder(3)
    x = "features"
    sizes = [20, 64, 64, 64, 3]
    for i, (a, c) in enumerate(zip(sizes, sizes[1:])):
        x = b.op("Gemm", [x, b.weight((c, a)), b.const(np.zeros(c, np.float32))], transB=1)
        if i < len(sizes) - 2:
            x = b.op("Relu", [x])
    b.nodes[-1].output[0] = "logits"
    return b.model([helper.make_tensor_value_info("features", F, ["batch", 20])],
                   [helper.make_tensor_value_info("logits", F, ["batch", 3])])


def cnn(convs: int = 6, silu: bool = False, residual: bool = True) -> onnx.ModelProto:
    """Conv-BN-activation stack (stride 2 every other layer), residual Adds, Flatten and an MLP head."""
    b = Builder(4)
    x, c, size = "image", 3, 32
    for i in range(convs):
        out = 8 * (1 + i // 2)
        stride = 2 if i % 2 == 1 else 1
        y = b.op("Conv", [x, b.weight((out, c, 3, 3)), b.const(np.zeros(out, np.float32))],
                 kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
        bn = [b.const(np.ones(out, np.float32)), b.const(np.zeros(out, np.float32)), b.const(np.zeros(out, np.float32)),
              b.const(np.ones(out, np.float32))]
        y = b.op("BatchNormalization", [y, *bn])
        y = b.silu(y) if silu else b.op("Relu", [y])
        if residual and stride == 1:
            z = b.op("Conv", [y, b.weight((out, out, 3, 3))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            y = b.op("Add", [y, z])
        x, c, size = y, out, size // stride
    flat = b.op("Flatten", [x], axis=1)
    h = b.op("Relu", [b.op("Gemm", [flat, b.weight((c * size * size, 32)), b.const(np.zeros(32, np.float32))])])
    b.nodes.append(helper.make_node("Gemm", [h, b.weight((32, 10)), b.const(np.zeros(10, np.float32))], ["logits"]))
    return b.model([helper.make_tensor_value_info("image", F, ["batch", 3, 32, 32])],
                   [helper.make_tensor_value_info("logits", F, ["batch", 10])])


def vit(layers: int = 2, heads: int = 4, hidden: int = 32, patch: int = 8, head: bool = True) -> onnx.ModelProto:
    """A ViT on 32 × 32 images; without ``head``, the backbone: every patch token's hidden state."""
    b = Builder(5)
    d = hidden // heads
    p = b.op("Conv", ["pixel_values", b.weight((hidden, 3, patch, patch)), b.const(np.zeros(hidden, np.float32))],
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = b.op("Transpose", [b.op("Reshape", [p, b.const(np.array([0, hidden, -1], np.int64))])], perm=[0, 2, 1])
    for _ in range(layers):
        h = b.layer_norm(x, hidden, fused=True)
        q = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 1, 3])
        k = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 3, 1])
        v = b.heads(b.linear(h, hidden, hidden), heads, d, [0, 2, 1, 3])
        ctx = b.op("MatMul", [b.op("Softmax", [b.op("Mul", [b.op("MatMul", [q, k]), b.const(np.array(0.35, np.float32))])],
                                   axis=-1), v])
        x = b.op("Add", [x, b.linear(b.merge(ctx, hidden), hidden, hidden)])
        x = b.op("Add", [x, b.linear(b.gelu(b.linear(b.layer_norm(x, hidden, fused=True), hidden, 4 * hidden)),
                                     4 * hidden, hidden)])
    if not head:
        b.nodes.append(helper.make_node("LayerNormalization", [x, b.const(np.ones(hidden, np.float32)),
                                                               b.const(np.zeros(hidden, np.float32))], ["last_hidden"]))
        return b.model([helper.make_tensor_value_info("pixel_values", F, ["batch", 3, 32, 32])],
                       [helper.make_tensor_value_info("last_hidden", F, ["batch", (32 // patch) ** 2, hidden])])
    pooled = b.op("ReduceMean", [x], axes=[1], keepdims=0)
    b.nodes.append(helper.make_node("Gemm", [pooled, b.weight((hidden, 10)), b.const(np.zeros(10, np.float32))], ["logits"]))
    return b.model([helper.make_tensor_value_info("pixel_values", F, ["batch", 3, 32, 32])],
                   [helper.make_tensor_value_info("logits", F, ["batch", 10])])


def fused_gqa_decoder(layers: int = 3, heads: int = 8, kv_heads: int = 2, hidden: int = 64,
                      int4: bool = False) -> onnx.ModelProto:
    """An ONNX Runtime GenAI style decoder: GroupQueryAttention with a float16 KV cache.
    ``int4``: as its int4 builds store it, every projection a MatMulNBits of 4-bit blocks
    of 32 and the token table a GatherBlockQuantized."""
    b = Builder(6)
    d = hidden // heads
    H = TensorProto.FLOAT16
    if int4:
        def matmul(x, k, n):
            packed = b.const(np.zeros((n, k // 32, 16), np.uint8), "w_q4")
            scales = b.const(np.ones(n * k // 32, np.float16), "w_scales")
            return b.op("MatMulNBits", [x, packed, scales], domain="com.microsoft", K=k, N=n, bits=4, block_size=32)
        table = b.const(np.zeros((50, hidden // 2), np.uint8), "embed_tokens_q4")
        x = b.op("GatherBlockQuantized", [table, "input_ids", b.const(np.ones((50, hidden // 32), np.float16))],
                 domain="com.microsoft", bits=4, block_size=32, quantize_axis=1)
    else:
        def matmul(x, k, n):
            return b.op("MatMul", [x, b.const(np.zeros((k, n), np.float16))])
        x = b.op("Gather", [b.const(np.zeros((50, hidden), np.float16), "embed_tokens"), "input_ids"])
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])]
    outputs = []
    for i in range(layers):
        h = b.op("SimplifiedLayerNormalization", [x, b.const(np.ones(hidden, np.float16))], axis=-1, epsilon=1e-6)
        q, k, v = matmul(h, hidden, heads * d), matmul(h, hidden, kv_heads * d), matmul(h, hidden, kv_heads * d)
        past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        inputs += [helper.make_tensor_value_info(n, H, ["batch", kv_heads, "past_sequence", d]) for n in (past_k, past_v)]
        attn, pk, pv = b.op("GroupQueryAttention", [q, k, v, past_k, past_v, "seqlens_k", "total_sequence_length"],
                            n_out=3, domain="com.microsoft", num_heads=heads, kv_num_heads=kv_heads)
        b.nodes[-1].output[1], b.nodes[-1].output[2] = f"present.{i}.key", f"present.{i}.value"
        outputs += [helper.make_tensor_value_info(f"present.{i}.{n}", H, ["batch", kv_heads, "total_sequence", d])
                    for n in ("key", "value")]
        x = b.op("Add", [x, matmul(attn, heads * d, hidden)])
    matmul(x, hidden, 50)
    b.nodes[-1].output[0] = "logits"
    inputs += [helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
               helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    return b.model(inputs, [helper.make_tensor_value_info("logits", H, ["batch", "sequence", 50]), *outputs],
                   extra=[("com.microsoft", 1)])


# --- Families -------------------------------------------------------------------------------------------


def _arch(m: onnx.ModelProto, **kw):
    return analyze_model(m, **kw).architecture


@pytest.mark.parametrize("fused_ln", [False, True])
def test_encoder_is_a_transformer_encoder_with_heads_layers_and_normalization(fused_ln):
    a = _arch(encoder(fused_ln=fused_ln))
    assert a.family == "transformer-encoder"
    t = a.transformer
    assert (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size) == (2, 4, 4, 8, 32)
    assert (t.vocab_size, t.context_length, t.intermediate_size) == (100, 16, 64)
    assert t.kv_cache_bytes_per_token is None and t.kv_cache_bytes_at_bound_sequence is None  # no cache in an encoder
    assert "2 × encoder layer: self-attention (4 heads, MHA, head dim 8) + MLP (32 → 64 → 32, GELU)" in a.blocks
    assert any("LayerNorm" in e and "5 ×" in e for e in a.evidence), a.evidence  # decomposed or fused, recognised
    assert any("token table 100 × 32" in b and "position table 16 × 32" in b for b in a.blocks)
    assert any(b.startswith("4 residual connections") for b in a.blocks), a.blocks
    assert a.task_guess == "embedding"


@pytest.mark.parametrize("mask", ["trilu", "buffer", "range", "additive"])
def test_decoder_causal_masks_are_recognised(mask):
    a = _arch(decoder(mask=mask), dims={"sequence": 8})
    assert a.family == "transformer-decoder", a.evidence
    assert any("causal" in e for e in a.evidence)
    t = a.transformer
    assert (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size, t.vocab_size) == (2, 4, 4, 8, 32, 100)
    # 2 (K, V) × 2 layers × 4 KV heads × 8 head dim × 4 bytes
    assert t.kv_cache_bytes_per_token == 2 * 2 * 4 * 8 * 4
    assert t.kv_cache_bytes_at_bound_sequence == t.kv_cache_bytes_per_token * 8  # batch 1 × 8 tokens
    assert "2 × decoder layer: causal self-attention (4 heads, MHA, head dim 8) + MLP (32 → 64 → 32, GELU)" in a.blocks
    assert a.task_guess == "language-modelling"


def test_llama_style_decoder_with_gqa_rotary_and_kv_cache():
    a = _arch(decoder(layers=3, heads=4, kv_heads=2, mask="range", cache=True, rotary=True),
              dims={"sequence": 4, "past_sequence": 12})
    assert a.family == "transformer-decoder"
    assert any("KV-cache inputs/outputs" in e for e in a.evidence)
    assert any("rotary" in e for e in a.evidence)
    t = a.transformer
    assert (t.layers, t.heads, t.kv_heads, t.head_dim) == (3, 4, 2, 8)
    assert t.intermediate_size == 64
    assert t.kv_cache_bytes_per_token == 2 * 3 * 2 * 8 * 4
    assert t.kv_cache_bytes_at_bound_sequence == t.kv_cache_bytes_per_token * (12 + 4)
    assert any(b.startswith("3 × decoder layer: causal self-attention (4 heads, GQA, 2 KV heads, head dim 8, rotary)")
               and "gated SiLU" in b for b in a.blocks), a.blocks
    assert any("RMSNorm" in e for e in a.evidence)


def test_kv_cache_without_a_mask_still_makes_a_decoder():
    a = _arch(decoder(mask="", cache=True), dims={"sequence": 1, "past_sequence": 7})
    assert a.family == "transformer-decoder"
    assert a.transformer.kv_cache_bytes_at_bound_sequence == 2 * 2 * 4 * 8 * 4 * 8


def test_multi_query_attention_is_named():
    a = _arch(decoder(heads=4, kv_heads=1))
    assert a.transformer.kv_heads == 1
    assert any("MQA" in b for b in a.blocks)


def test_cross_attention_makes_an_encoder_decoder():
    a = _arch(decoder(cross=True, mask="trilu"))
    assert a.family == "encoder-decoder"
    assert any("cross-attention" in e for e in a.evidence)
    t = a.transformer
    assert t.layers == 2 and t.decoder_layers == 2 and t.heads == 4
    assert any("causal self-attention" in b and "cross-attention" in b and b.startswith("2 × decoder layer") for b in a.blocks)


def test_whole_seq2seq_graph_is_an_encoder_decoder():
    a = _arch(decoder(cross=True, encoder_layers=3, mask="range"))
    assert a.family == "encoder-decoder"
    t = a.transformer
    assert (t.layers, t.encoder_layers, t.decoder_layers, t.heads) == (5, 3, 2, 4)
    assert "3 × encoder layer: self-attention (4 heads, MHA, head dim 8) + MLP (32 → 64 → 32, ReLU)" in a.blocks
    assert any(b.startswith("2 × decoder layer: causal self-attention") and "cross-attention" in b for b in a.blocks)
    assert t.kv_cache_bytes_per_token == 2 * 2 * 4 * 8 * 4  # the decoder's self-attention only


def test_fused_bert_attention():
    b = Builder(10)
    x = b.op("Gather", [b.weight((30, 16), "word"), "input_ids"])
    for _ in range(2):
        att = b.op("Attention", [x, b.weight((16, 48)), b.const(np.zeros(48, np.float32)), "mask_index"],
                   domain="com.microsoft", num_heads=2)
        x = b.op("SkipLayerNormalization", [b.linear(att, 16, 16, bias=False), x, b.const(np.ones(16, np.float32)),
                                            b.const(np.zeros(16, np.float32))], domain="com.microsoft")
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    m = b.model([helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", 8]),
                 helper.make_tensor_value_info("mask_index", TensorProto.INT32, ["batch"])],
                [helper.make_tensor_value_info("last_hidden_state", F, ["batch", 8, 16])], extra=[("com.microsoft", 1)])
    a = _arch(m)
    assert a.family == "transformer-encoder"
    t = a.transformer
    assert (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size, t.vocab_size, t.context_length) == (2, 2, 2, 8, 16, 30, 8)
    assert any("LayerNorm (fused with the residual Add)" in e for e in a.evidence)


def test_fused_group_query_attention():
    r = analyze_model(fused_gqa_decoder(), dims={"sequence": 1, "past_sequence": 15})
    a = r.architecture
    assert a.family == "transformer-decoder"
    t = a.transformer
    assert (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size) == (3, 8, 2, 8, 64)
    assert t.kv_cache_bytes_per_token == 2 * 3 * 2 * 8 * 2  # float16 cache
    # The present.* buffers hold past_sequence (15) positions: ONNX Runtime passes the past
    # buffer's shape through when the total length is a run-time value.
    assert t.kv_cache_bytes_at_bound_sequence == t.kv_cache_bytes_per_token * 15
    assert any("GroupQueryAttention" in e for e in a.evidence)


def test_an_int4_decoder_is_the_same_decoder_with_the_same_parameters():
    dims = {"sequence": 1, "past_sequence": 15}
    plain, int4 = analyze_model(fused_gqa_decoder(), dims=dims), analyze_model(fused_gqa_decoder(int4=True), dims=dims)
    t, q = plain.architecture.transformer, int4.architecture.transformer
    assert int4.architecture.family == "transformer-decoder"
    assert (q.layers, q.heads, q.kv_heads, q.head_dim, q.hidden_size, q.vocab_size) == \
        (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size, t.vocab_size) == (3, 8, 2, 8, 64, 50)
    # 3 layers of Q (64×64), K and V (64×16 each), O (64×64); the head 64×50; the token table 50×64
    weights = 3 * (64 * 64 + 2 * 64 * 16 + 64 * 64) + 64 * 50 + 50 * 64
    norms = 3 * 64  # the float16 RMSNorm scales stay float
    assert plain.params.total == int4.params.total == weights + norms
    assert int4.params.by_dtype == {"uint4": weights, "float16": norms}
    # the same work, plus dequantizing: every projection weight once a call ((w − zp)·scale),
    # and the one token's row of the table
    assert int4.flops.total == plain.flops.total + 2 * (weights - 50 * 64) + 2 * 64
    # the projections run at the activations' float16, their 4-bit weights dequantized
    from mkdocs_onnx.hardware.estimate import native_precision
    assert native_precision(int4)[0] == "fp16"


def fused_nbits_decoder(layers: int = 2, heads: int = 8, kv_heads: int = 2, hidden: int = 64,
                        inter: int = 128) -> onnx.ModelProto:
    """A decoder as ONNX Runtime's newest int4 builds fuse it: RMSNorm and the Q, K, V
    projections in one MatMulNBitsQkv, GroupQueryAttention, the output projection, then
    RMSNorm, gate and up projections and SiLU in one MatMulNBitsMlp, the down projection."""
    b = Builder(7)
    d = hidden // heads
    H = TensorProto.FLOAT16

    def packed(n, k):
        return [b.const(np.zeros((n, k // 32, 16), np.uint8), "w_q4"), b.const(np.ones(n * k // 32, np.float16), "w_s"), ""]

    def nbits(x, k, n):
        return b.op("MatMulNBits", [x, *packed(n, k)[:2]], domain="com.microsoft", K=k, N=n, bits=4, block_size=32)

    x = b.op("Gather", [b.const(np.zeros((50, hidden), np.float16), "embed_tokens"), "input_ids"])
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])]
    outputs = []
    for i in range(layers):
        q, k, v = b.op("MatMulNBitsQkv", [x, "", b.const(np.ones(hidden, np.float16)), *packed(heads * d, hidden),
                                          *packed(kv_heads * d, hidden), *packed(kv_heads * d, hidden)], n_out=3,
                       domain="com.microsoft", K=hidden, Nq=heads * d, Nkv=kv_heads * d, bits=4, block_size=32)
        past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        inputs += [helper.make_tensor_value_info(n, H, ["batch", kv_heads, "past_sequence", d]) for n in (past_k, past_v)]
        attn = b.op("GroupQueryAttention", [q, k, v, past_k, past_v, "seqlens_k", "total_sequence_length"], n_out=3,
                    domain="com.microsoft", num_heads=heads, kv_num_heads=kv_heads)[0]
        b.nodes[-1].output[1], b.nodes[-1].output[2] = f"present.{i}.key", f"present.{i}.value"
        outputs += [helper.make_tensor_value_info(f"present.{i}.{n}", H, None) for n in ("key", "value")]
        x = b.op("Add", [x, nbits(attn, heads * d, hidden)])
        h = b.op("MatMulNBitsMlp", [x, "", b.const(np.ones(hidden, np.float16)), *packed(inter, hidden),
                                    *packed(inter, hidden)], domain="com.microsoft", K=hidden, N=inter,
                 activation="silu", bits=4, block_size=32)
        x = b.op("Add", [x, nbits(h, inter, hidden)])
    nbits(x, hidden, 50)
    b.nodes[-1].output[0] = "logits"
    inputs += [helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
               helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    return b.model(inputs, [helper.make_tensor_value_info("logits", H, None), *outputs], extra=[("com.microsoft", 1)])


def test_a_decoder_of_fused_4_bit_projections_reads_as_its_layers():
    r = analyze_model(fused_nbits_decoder(), dims={"sequence": 1, "past_sequence": 15})
    a, t = r.architecture, r.architecture.transformer
    assert a.family == "transformer-decoder"
    assert (t.layers, t.heads, t.kv_heads, t.head_dim, t.hidden_size, t.intermediate_size, t.vocab_size) == \
        (2, 8, 2, 8, 64, 128, 50)
    assert any("MLP (64 → 128 → 64, gated SiLU)" in block for block in a.blocks), a.blocks
    # per layer Q 64×64, K and V 64×16, O 64×64, gate and up 64×128, down 128×64; the head 64×50
    weights = 2 * (64 * 64 + 2 * 64 * 16 + 64 * 64 + 2 * 64 * 128 + 128 * 64) + 64 * 50
    assert r.params.by_dtype == {"uint4": weights, "float16": 50 * 64 + 2 * 2 * 64}
    assert not r.flops.uncounted
    assert next(k for k in r.risks if k.id == "quantized").message.startswith("Quantized: 4-bit weights")


def test_vision_transformer_from_patch_embedding():
    a = _arch(vit())
    assert a.family == "vision-transformer"
    assert any("patch embedding" in e for e in a.evidence)
    assert a.transformer.layers == 2 and a.transformer.heads == 4
    assert a.task_guess == "image-classification"


def test_a_vision_transformer_backbone_outputs_embeddings_not_boxes():
    """[batch, 256 patches, 128]: the width is the transformer's hidden size, so these are the
    patch tokens' hidden states (as a ViT or DINO backbone gives them), not 256 candidate boxes."""
    a = _arch(vit(hidden=128, patch=2, head=False))
    assert a.family == "vision-transformer"
    assert a.task_guess == "embedding", a.evidence


def test_plain_mlp_is_an_mlp_not_a_transformer():
    a = _arch(mlp())
    assert a.family == "mlp"
    assert a.transformer is None
    assert "dense layers: 20 → 64 → 64 → 64 → 3 (ReLU between layers)" in a.blocks
    assert a.task_guess == "tabular"


def test_cnn_with_mlp_head_is_a_cnn():
    a = _arch(cnn())
    assert a.family == "cnn"
    assert a.transformer is None
    assert "6 × Conv → BatchNorm → ReLU" in a.blocks
    assert any(b.startswith("3 residual connections") for b in a.blocks), a.blocks
    assert any(b.startswith("dense head:") and "→ 32 → 10" in b for b in a.blocks)
    assert a.task_guess == "image-classification"


def test_silu_gates_are_not_residual_connections():
    a = _arch(cnn(silu=True, residual=False))
    assert a.family == "cnn"
    assert "6 × Conv → BatchNorm → SiLU" in a.blocks
    assert not any("residual" in b for b in a.blocks)


def test_a_single_softmax_does_not_make_attention():
    b = Builder(7)
    h = b.op("Relu", [b.linear("x", 16, 32)])
    b.nodes.append(helper.make_node("Softmax", [b.linear(h, 32, 5)], ["probs"], axis=-1))
    a = _arch(b.model([helper.make_tensor_value_info("x", F, ["batch", 16])],
                      [helper.make_tensor_value_info("probs", F, ["batch", 5])]))
    assert a.family == "mlp" and a.transformer is None


def test_lstm_and_gru_are_rnns():
    b = Builder(8)
    y, _, _ = b.op("LSTM", ["x", b.weight((1, 64, 8)), b.weight((1, 64, 16))], n_out=3, hidden_size=16)
    y2, _ = b.op("GRU", [b.op("Squeeze", [y, b.const(np.array([1], np.int64))]), b.weight((2, 48, 16)),
                         b.weight((2, 48, 16))], n_out=2, hidden_size=16, direction="bidirectional")
    b.nodes.append(helper.make_node("Identity", [y2], ["y"]))
    a = _arch(b.model([helper.make_tensor_value_info("x", F, [10, 1, 8])], [helper.make_tensor_value_info("y", F, None)]))
    assert a.family == "rnn"
    assert "1 × LSTM (hidden 16, forward)" in a.blocks and "1 × GRU (hidden 16, bidirectional)" in a.blocks


def test_scan_with_a_weighted_state_is_recurrent_and_without_is_not():
    def scan_model(weighted: bool) -> onnx.ModelProto:
        w = numpy_helper.from_array(np.ones((8, 4), np.float32), "W")
        nodes = [helper.make_node("Concat", ["x_t", "h"], ["xh"], axis=-1)]
        if weighted:
            nodes += [helper.make_node("MatMul", ["xh", "W"], ["pre"]), helper.make_node("Tanh", ["pre"], ["h_new"])]
        else:
            nodes += [helper.make_node("Slice", ["xh", "s0", "s1", "ax"], ["h_new"])]
        nodes.append(helper.make_node("Identity", ["h_new"], ["y_t"]))
        consts = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("s0", 0), ("s1", 4), ("ax", 1))]
        body = helper.make_graph(nodes, "cell", [helper.make_tensor_value_info("h", F, [1, 4]),
                                                 helper.make_tensor_value_info("x_t", F, [1, 4])],
                                 [helper.make_tensor_value_info("h_new", F, [1, 4]), helper.make_tensor_value_info("y_t", F, [1, 4])],
                                 initializer=consts)
        scan = helper.make_node("Scan", ["h0", "xs"], ["h_last", "ys"], body=body, num_scan_inputs=1)
        g = helper.make_graph([scan], "g", [helper.make_tensor_value_info("h0", F, [1, 4]),
                                            helper.make_tensor_value_info("xs", F, [5, 1, 4])],
                              [helper.make_tensor_value_info("ys", F, [5, 1, 4])], initializer=[w])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m

    assert _arch(scan_model(True)).family == "rnn"
    assert _arch(scan_model(False)).family == "unknown"


def test_tree_ensemble_compiled_to_tensors_is_classical_ml():
    """Hummingbird's tree traversal: compare features with thresholds, Gather the next node."""
    b = Builder(9)
    feat = b.op("Gather", ["input", b.const(np.array([0, 3, 1], np.int64), "root_features")], axis=1)
    go_right = b.op("Cast", [b.op("Not", [b.op("Less", [feat, b.const(np.array([0.5, 1.0, 2.0], np.float32), "thresholds")])])],
                    to=TensorProto.INT64)
    node = b.op("Add", [go_right, b.const(np.array([0, 2, 4], np.int64), "tree_offsets")])
    leaves = b.op("Gather", [b.const(np.arange(6, dtype=np.float32).reshape(6, 1), "leaf_values"), node], axis=0)
    b.nodes.append(helper.make_node("ReduceSum", [leaves, b.const(np.array([1], np.int64))], ["output"], keepdims=0))
    a = _arch(b.model([helper.make_tensor_value_info("input", F, ["batch", 4])],
                      [helper.make_tensor_value_info("output", F, ["batch", 1])]))
    assert a.family == "classical-ml"
    assert any("tree traversal" in e for e in a.evidence)


def test_ai_onnx_ml_models_are_classical_ml():
    node = helper.make_node("LinearRegressor", ["x"], ["y"], domain="ai.onnx.ml", coefficients=[1.0, 2.0], intercepts=[0.5])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, ["N", 2])], [helper.make_tensor_value_info("y", F, ["N", 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    a = _arch(m)
    assert a.family == "classical-ml" and a.task_guess == "tabular"


def test_detect_works_on_a_bare_model_without_shapes():
    a = detect(encoder())
    assert a.family == "transformer-encoder"
    assert a.transformer.layers == 2 and a.transformer.heads == 4


def test_architecture_round_trips_through_json():
    from mkdocs_onnx.analysis.report import Report

    r = analyze_model(decoder(), dims={"sequence": 8})
    back = Report.from_json(r.to_json())
    assert back.architecture == r.architecture
    assert back.architecture.transformer.heads == 4


def test_tree_ensemble_gemm_strategy_is_classical_ml():
    """Hummingbird's GEMM strategy: X·A < B selects paths, ·C == D finds the leaf, ·E gives its value."""
    b = Builder(11)
    paths = b.op("Cast", [b.op("Less", [b.op("MatMul", ["input", b.const(np.eye(4, 6, dtype=np.float32), "A")]),
                                        b.const(np.full(6, 0.5, np.float32), "B")])], to=F)
    leaf = b.op("Cast", [b.op("Equal", [b.op("MatMul", [paths, b.const(np.ones((6, 7), np.float32), "C")]),
                                        b.const(np.full(7, 2.0, np.float32), "D")])], to=F)
    b.nodes.append(helper.make_node("MatMul", [leaf, b.const(np.ones((7, 1), np.float32), "E")], ["output"]))
    a = _arch(b.model([helper.make_tensor_value_info("input", F, ["batch", 4])],
                      [helper.make_tensor_value_info("output", F, ["batch", 1])]))
    assert a.family == "classical-ml", a.evidence


def test_cnn_backbone_with_attention_is_hybrid_and_conv_lstm_too():
    b = Builder(12)
    x = "image"
    for c_in, c_out in ((3, 8), (8, 16), (16, 16), (16, 16), (16, 32)):
        x = b.op("Relu", [b.op("Conv", [x, b.weight((c_out, c_in, 3, 3))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    tokens = b.op("Transpose", [b.op("Reshape", [x, b.const(np.array([0, 32, -1], np.int64))])], perm=[0, 2, 1])
    q = b.heads(b.linear(tokens, 32, 32), 4, 8, [0, 2, 1, 3])
    k = b.heads(b.linear(tokens, 32, 32), 4, 8, [0, 2, 3, 1])
    v = b.heads(b.linear(tokens, 32, 32), 4, 8, [0, 2, 1, 3])
    b.nodes.append(helper.make_node("MatMul", [b.op("Softmax", [b.op("MatMul", [q, k])], axis=-1), v], ["features"]))
    a = _arch(b.model([helper.make_tensor_value_info("image", F, [1, 3, 16, 16])],
                      [helper.make_tensor_value_info("features", F, None)]))
    assert a.family == "hybrid" and a.transformer.heads == 4

    b = Builder(13)
    x = b.op("Relu", [b.op("Conv", ["image", b.weight((8, 1, 3, 3))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    seq = b.op("Transpose", [b.op("Reshape", [x, b.const(np.array([1, 8 * 32, 100], np.int64))])], perm=[2, 0, 1])
    y, _, _ = b.op("LSTM", [seq, b.weight((1, 64, 256)), b.weight((1, 64, 16))], n_out=3, hidden_size=16)
    b.nodes.append(helper.make_node("Identity", [y], ["y"]))
    a = _arch(b.model([helper.make_tensor_value_info("image", F, [1, 1, 32, 100])], [helper.make_tensor_value_info("y", F, None)]))
    assert a.family == "hybrid"
    assert any("convolutional-recurrent" in e for e in a.evidence)


@pytest.mark.parametrize("causal, family", [(1, "transformer-decoder"), (0, "transformer-encoder")])
def test_standard_attention_operator(causal, family):
    """ai.onnx Attention (opset 23) on 4-D query/key/value: heads from the shapes, causality from is_causal."""
    b = Builder(14)
    x = "hidden"
    q, k, v = (b.op("Transpose", [b.op("Reshape", [b.linear(x, 32, width), b.const(np.array([0, 0, n, 8], np.int64))])],
                    perm=[0, 2, 1, 3]) for width, n in ((32, 4), (16, 2), (16, 2)))
    b.nodes.append(helper.make_node("Attention", [q, k, v], ["context"], is_causal=causal))
    m = b.model([helper.make_tensor_value_info("hidden", F, [1, 6, 32])], [helper.make_tensor_value_info("context", F, None)],
                opset=23)
    a = _arch(m)
    assert a.family == family
    t = a.transformer
    assert (t.heads, t.kv_heads, t.head_dim, t.hidden_size) == (4, 2, 8, 32)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_task_evidence_quotes_the_outputs_as_the_card_lists_them(batch_size):
    # A pixel-shuffle upscaler (Conv to 9 channels, DepthToSpace by 3) with a symbolic batch:
    # the card lists input and output with the dim's name, so the reason for the guess
    # must too, whatever value the batch was bound to for the figures.
    w = numpy_helper.from_array(np.full((9, 1, 3, 3), 0.1, np.float32), "w")
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("DepthToSpace", ["c"], ["output"], blocksize=3)],
        "upscaler",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", 1, 16, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", 1, 48, 48])],
        [w]), opset_imports=[helper.make_opsetid("", 17)])
    r = analyze_model(m, batch_size=batch_size)
    assert r.dims == {"batch_size": batch_size}
    assert r.graph.outputs[0].shape == ["batch_size", 1, 48, 48]
    assert r.architecture.task_guess == "super-resolution"
    assert r.architecture.task_evidence == ("image input 'input' [batch_size, 1, 16, 16]; "
                                            "output 'output' [batch_size, 1, 48, 48] is 3× larger")


# --- Quantized graphs: the same networks, stored in integers ----------------------------------


def qdq_mlp(zero_point: int) -> onnx.ModelProto:
    """Two dense layers in the QDQ format: between them, the activations are quantized to
    uint8 with ``zero_point``. Quantizers drop a ReLU there when the range starts at 0."""
    b = Builder(5)
    x = "features"
    for i, (a, c) in enumerate([(20, 16), (16, 3)]):
        w = b.op("DequantizeLinear", [b.const(np.ones((a, c), np.int8)), b.const(np.array(0.1, np.float32))])
        x = b.op("MatMul", [x, w])
        if i == 0:
            q = b.op("QuantizeLinear", [x, b.const(np.array(0.1, np.float32)), b.const(np.array(zero_point, np.uint8))])
            x = b.op("DequantizeLinear", [q, b.const(np.array(0.1, np.float32)), b.const(np.array(zero_point, np.uint8))])
    b.nodes[-1].output[0] = "logits"
    return b.model([helper.make_tensor_value_info("features", F, ["batch", 20])],
                   [helper.make_tensor_value_info("logits", F, ["batch", 3])])


def test_a_quantization_onto_a_range_from_zero_is_a_relu():
    a = _arch(qdq_mlp(zero_point=0))  # uint8 code 0 is the real value 0: negatives saturate to 0
    assert a.family == "mlp"
    assert "dense layers: 20 → 16 → 3 (ReLU in the requantization between layers)" in a.blocks
    centred = _arch(qdq_mlp(zero_point=128))  # the range holds negatives too: no activation
    assert "no activation between dense layers" in centred.evidence


def test_qlinear_attention_is_attention():
    """The QOperator format's attention: QLinearMatMul → QLinearSoftmax → QLinearMatMul of
    activations, each with its scales and zero points (here 2 heads of 8 over 4 tokens)."""
    b = Builder(6)
    scale, zp = b.const(np.array(0.1, np.float32)), b.const(np.array(128, np.uint8))
    x = "tokens"
    heads = []
    for _ in range(3):  # Q, K, V: (4, 16) @ (16, 16), split into 2 heads of 8
        y = b.op("QLinearMatMul", [x, scale, zp, b.const(np.ones((16, 16), np.uint8)), scale, zp, scale, zp])
        y = b.op("Reshape", [y, b.const(np.array([4, 2, 8], np.int64))])
        heads.append(b.op("Transpose", [y], perm=[1, 0, 2]))
    q, k, v = heads
    kt = b.op("Transpose", [k], perm=[0, 2, 1])
    scores = b.op("QLinearMatMul", [q, scale, zp, kt, scale, zp, scale, zp])
    probabilities = b.op("QLinearSoftmax", [scores, scale, zp, scale, zp], domain="com.microsoft", axis=-1, opset=13)
    b.op("QLinearMatMul", [probabilities, scale, zp, v, scale, zp, scale, zp])
    b.nodes[-1].output[0] = "context"
    m = b.model([helper.make_tensor_value_info("tokens", TensorProto.UINT8, [4, 16])],
                [helper.make_tensor_value_info("context", TensorProto.UINT8, None)])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    a = _arch(m)
    assert a.family.startswith("transformer"), (a.family, a.evidence)
    assert a.transformer.heads == 2 and a.transformer.head_dim == 8


def test_an_image_whose_channel_dim_is_named_is_still_an_image():
    """Optimum declares pixel_values as [batch_size, num_channels, height, width]."""
    from mkdocs_onnx.analysis.report import TensorInfo
    from mkdocs_onnx.analysis.task import guess_task

    image = TensorInfo("pixel_values", "float32", ["batch_size", "num_channels", "height", "width"])
    task, why = guess_task("vision-transformer", [image], [TensorInfo("logits", "float32", ["batch_size", 10])])
    assert task == "image-classification", why


def test_start_and_end_logits_make_extractive_question_answering():
    from mkdocs_onnx.analysis.report import TensorInfo
    from mkdocs_onnx.analysis.task import guess_task

    ids = TensorInfo("input_ids", "int64", ["batch_size", "sequence_length"])
    outputs = [TensorInfo(n, "float32", ["batch_size", "sequence_length"]) for n in ("start_logits", "end_logits")]
    assert guess_task("transformer-encoder", [ids], outputs)[0] == "question-answering"


@pytest.mark.parametrize("thresholds, traversal", [(np.array(8, np.int64), False), (np.arange(16, dtype=np.int64), True)])
def test_a_cut_off_compared_with_is_no_tree_traversal(thresholds, traversal):
    """T5's relative-position buckets compare with one cut-off (Less than 8) and Gather a learned
    table by the result; a tree ensemble compares with a threshold per node."""
    b = Builder(9)
    small = b.op("Less", ["positions", b.const(thresholds, "cut")])
    index = b.op("Where", [small, "positions", b.const(np.array(8, np.int64))])
    b.nodes.append(helper.make_node("Gather", [b.weight((32, 4), "bias_table"), index], ["bias"]))
    m = b.model([helper.make_tensor_value_info("positions", TensorProto.INT64, [16])],
                [helper.make_tensor_value_info("bias", F, [16, 4])])
    evidence = _arch(m).evidence
    assert any(e.startswith("tree traversal") for e in evidence) == traversal, evidence


def test_gpt2_fused_qkv_through_a_2d_gemm_is_multi_head_attention():
    """GPT-2's Conv1D as TorchScript exports it: the tokens flattened to 2-D, one Gemm to 3 × width,
    reshaped back to 3-D, then Split into Q, K and V: each is a third of the Gemm's width."""
    b = Builder(11)
    heads, d, width, seq = 4, 8, 32, 16
    flat = b.op("Reshape", ["x", b.const(np.array([-1, width], np.int64))])
    qkv = b.op("Gemm", [flat, b.weight((width, 3 * width)), b.const(np.zeros(3 * width, np.float32))])
    back = b.op("Reshape", [qkv, b.const(np.array([1, seq, 3 * width], np.int64))])
    q, k, v = b.op("Split", [back, b.const(np.array([width] * 3, np.int64))], n_out=3, axis=-1)
    q, v = b.heads(q, heads, d, [0, 2, 1, 3]), b.heads(v, heads, d, [0, 2, 1, 3])
    k = b.heads(k, heads, d, [0, 2, 3, 1])
    ctx = b.op("MatMul", [b.op("Softmax", [b.op("MatMul", [q, k])], axis=-1), v])
    b.nodes.append(helper.make_node("Identity", [b.merge(ctx, width)], ["y"]))
    m = b.model([helper.make_tensor_value_info("x", F, [1, seq, width])], [helper.make_tensor_value_info("y", F, None)])
    t = _arch(m).transformer
    assert (t.heads, t.kv_heads, t.head_dim) == (heads, heads, d)


def test_the_two_branches_of_a_merged_decoder_are_one_set_of_layers():
    """Optimum's merged decoders: an If runs the layers with the KV cache or without, never both;
    each branch holds the whole decoder, which must count once (here one attention layer)."""
    def branch(name: str, cached: bool) -> onnx.GraphProto:
        b = Builder(12)
        q = b.heads(b.op("MatMul", ["x", "Wq"]), 4, 8, [0, 2, 1, 3])
        k_new = b.op("MatMul", ["x", "Wk"])
        k = b.heads(b.op("Concat", ["past", k_new], axis=1) if cached else k_new, 4, 8, [0, 2, 3, 1])
        v = b.heads(b.op("MatMul", ["x", "Wv"]), 4, 8, [0, 2, 1, 3])
        ctx = b.op("MatMul", [b.op("Softmax", [b.op("MatMul", [q, k])], axis=-1), v])
        b.nodes.append(helper.make_node("Identity", [b.merge(ctx, 32)], ["y"]))
        return helper.make_graph(b.nodes, name, [], [helper.make_tensor_value_info("y", F, None)], initializer=b.inits)

    rng = np.random.default_rng(13)
    weights = [numpy_helper.from_array((rng.standard_normal((32, 32)) * 0.02).astype(np.float32), w) for w in ("Wq", "Wk", "Wv")]
    node = helper.make_node("If", ["use_cache"], ["y"], then_branch=branch("with_past", True),
                            else_branch=branch("without_past", False))
    graph = helper.make_graph([node], "merged", [helper.make_tensor_value_info("x", F, [1, 4, 32]),
                                                 helper.make_tensor_value_info("past", F, [1, 4, 32]),
                                                 helper.make_tensor_value_info("use_cache", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", F, None)], initializer=weights)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    assert _arch(m).transformer.layers == 1


def test_gelu_tanh_after_a_flattened_projection_is_no_residual():
    """h + 0.044715·h³ adds two things computed from one projection, h: no shortcut, even where
    the exporter computes h's Reshape target from the shape of the layer's input (TorchScript)."""
    b = Builder(14)
    width = 32
    flat = b.op("Reshape", ["x", b.const(np.array([-1, width], np.int64))])
    projected = b.op("Gemm", [flat, b.weight((width, 4 * width)), b.const(np.zeros(4 * width, np.float32))])
    target = b.op("Concat", [b.op("Slice", [b.op("Shape", ["x"]), b.const(np.array([0], np.int64)),
                                            b.const(np.array([2], np.int64))]),
                             b.const(np.array([4 * width], np.int64))], axis=0)
    h = b.op("Reshape", [projected, target])
    cubed = b.op("Mul", [b.op("Pow", [h, b.const(np.array(3.0, np.float32))]), b.const(np.array(0.044715, np.float32))])
    b.nodes.append(helper.make_node("Add", [h, cubed], ["y"]))
    m = b.model([helper.make_tensor_value_info("x", F, [1, 16, width])], [helper.make_tensor_value_info("y", F, None)])
    assert not any("residual" in block for block in _arch(m).blocks)
