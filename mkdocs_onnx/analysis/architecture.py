"""Architecture family from graph structure, with the evidence for the verdict.

Families are decided from what the graph does (convolutions, recurrences, attention
patterns, tree ensembles), not from operator-count thresholds: one MatMul does not make
a CNN an MLP.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import onnx

from mkdocs_onnx.analysis.graphs import iter_graphs
from mkdocs_onnx.analysis.report import Architecture

CONV_OPS = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger", "FusedConv", "NhwcConv"}
DENSE_OPS = {"Gemm", "MatMul", "QLinearMatMul", "MatMulInteger", "MatMulNBits", "FusedMatMul", "QGemm"}
RNN_OPS = {"LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"}
FUSED_ATTENTION_OPS = {
    "Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention",
    "PackedMultiHeadAttention", "DecoderMaskedMultiHeadAttention", "DecoderAttention",
    "QAttention", "LongformerAttention", "SparseAttention",
}
DECODER_OPS = {"GroupQueryAttention", "DecoderMaskedMultiHeadAttention", "DecoderAttention", "RotaryEmbedding", "Trilu"}
# Ops that may sit between the score MatMul and Softmax, or Softmax and the value MatMul.
_ATTENTION_GLUE = {"Add", "Div", "Mul", "Where", "Cast", "Dropout", "Sub", "Reshape", "Transpose", "Identity"}
_DECODER_INPUT_WORDS = ("past_key", "past_value", "past_key_values", "use_cache", "cache_position")


def detect(model: onnx.ModelProto) -> Architecture:
    nodes = [n for _, g in iter_graphs(model.graph) for n in g.node]
    ops = Counter(n.op_type for n in nodes if n.domain in ("", "ai.onnx", "com.microsoft"))
    ml_ops = Counter(n.op_type for n in nodes if n.domain == "ai.onnx.ml")
    evidence: list[str] = []

    convs = sum(ops[o] for o in CONV_OPS)
    dense = sum(ops[o] for o in DENSE_OPS)
    rnns = sum(ops[o] for o in RNN_OPS) + _recurrent_loops(nodes)
    attention = sum(ops[o] for o in FUSED_ATTENTION_OPS) + _attention_patterns(model)

    if convs:
        evidence.append(f"{convs} convolution node{'s' * (convs != 1)}")
    if rnns:
        evidence.append(f"{rnns} recurrent node{'s' * (rnns != 1)} (LSTM/GRU/RNN or a looped cell)")
    if attention:
        evidence.append(f"{attention} attention block{'s' * (attention != 1)} (fused op or MatMul-Softmax-MatMul)")
    if dense:
        evidence.append(f"{dense} matrix-multiply node{'s' * (dense != 1)} (Gemm/MatMul)")
    if ml_ops:
        evidence.append("ai.onnx.ml operators: " + ", ".join(sorted(ml_ops)))

    family = _decide(model, nodes, convs, dense, rnns, attention, ml_ops, evidence)
    return Architecture(family=family, evidence=evidence)


def _decide(model, nodes, convs, dense, rnns, attention, ml_ops, evidence) -> str:
    if ml_ops and not (convs or rnns or attention):
        return "classical-ml"
    if attention:
        if rnns:
            evidence.append("attention together with recurrence")
            return "hybrid"
        if _has_patch_embedding(nodes):
            evidence.append("a strided convolution cuts the image into patches before attention")
            return "vision-transformer"
        decoder = _decoder_signals(model, nodes)
        encoder_inputs = [i.name for i in model.graph.input if "encoder" in i.name.lower()]
        if decoder and encoder_inputs:
            evidence.append("decoder reads encoder states: " + ", ".join(encoder_inputs[:3]))
            return "encoder-decoder"
        if decoder:
            evidence.extend(decoder)
            return "transformer-decoder"
        return "transformer-encoder"
    if rnns:
        if convs >= 2:
            evidence.append("convolutional front end feeding a recurrent layer")
            return "hybrid"
        return "rnn"
    if convs:
        return "cnn"
    if dense:
        return "mlp"
    evidence.append("no convolution, recurrence, attention or dense layer found")
    return "unknown"


def _recurrent_loops(nodes: Iterable[onnx.NodeProto]) -> int:
    """Loop/Scan nodes whose body multiplies by weights: a recurrent cell written out."""
    count = 0
    for node in nodes:
        if node.op_type in ("Loop", "Scan"):
            body = next((a.g for a in node.attribute if a.name == "body"), None)
            if body is not None and any(n.op_type in DENSE_OPS for _, g in iter_graphs(body) for n in g.node):
                count += 1
    return count


def _attention_patterns(model: onnx.ModelProto) -> int:
    """Softmax nodes fed (through masking/scaling glue) by a MatMul and feeding a MatMul."""
    count = 0
    for _, graph in iter_graphs(model.graph):
        producer = {o: n for n in graph.node for o in n.output}
        consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in graph.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        for node in graph.node:
            if node.op_type == "Softmax" and _reaches_matmul_up(node, producer) and _reaches_matmul_down(node, consumers):
                count += 1
    return count


def _reaches_matmul_up(node, producer, depth: int = 4) -> bool:
    for name in node.input[:1] if node.op_type == "Softmax" else node.input:
        p = producer.get(name)
        if p is None:
            continue
        if p.op_type in ("MatMul", "Einsum"):
            return True
        if depth and p.op_type in _ATTENTION_GLUE and _reaches_matmul_up(p, producer, depth - 1):
            return True
    return False


def _reaches_matmul_down(node, consumers, depth: int = 3) -> bool:
    for out in node.output:
        for c in consumers.get(out, []):
            if c.op_type in ("MatMul", "Einsum"):
                return True
            if depth and c.op_type in _ATTENTION_GLUE and _reaches_matmul_down(c, consumers, depth - 1):
                return True
    return False


def _has_patch_embedding(nodes) -> bool:
    for node in nodes:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: list(a.ints) for a in node.attribute}
        kernel, strides = attrs.get("kernel_shape"), attrs.get("strides")
        if kernel and strides and kernel == strides and min(kernel) >= 4:
            return True
    return False


def _decoder_signals(model, nodes) -> list[str]:
    signals = []
    decoder_ops = sorted({n.op_type for n in nodes if n.op_type in DECODER_OPS})
    if decoder_ops:
        signals.append("causal or cached decoding operators: " + ", ".join(decoder_ops))
    names = [i.name for i in (*model.graph.input, *model.graph.output)]
    cache = [n for n in names if any(w in n.lower() for w in _DECODER_INPUT_WORDS) or n.lower().startswith("present")]
    if cache:
        signals.append("KV-cache inputs/outputs: " + ", ".join(cache[:4]) + (" ..." if len(cache) > 4 else ""))
    return signals
