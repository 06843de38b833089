"""The demo models as ONNX Runtime rewrites them: quantized (dynamic, QDQ, QOperator),
with its graph optimizations (FusedConv, FusedGemm) and with its transformer fusions
(SkipLayerNormalization, BiasGelu).

A rewrite changes how a model is stored and run, not what it computes: the quantized
models must have the float original's parameters, the fused ones its FLOPs. Two ways of
writing the same network check each other, independently of any figure we computed.
Skipped where onnxruntime is not installed (it is a test dependency, not a runtime one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from helpers import REPO
from mkdocs_onnx import analyze
from mkdocs_onnx.analysis.graphs import node_label

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[test]')")
quantization = pytest.importorskip("onnxruntime.quantization")

MODELS = REPO / "models"
SEQUENCE = {"sequence": 16}  # the transformer's symbolic length, bound for every variant alike


class RandomInputs(quantization.CalibrationDataReader):
    """One batch of random inputs: calibration only needs ranges, not meaningful data."""

    def __init__(self, path: Path):
        rng = np.random.default_rng(0)
        self.batches = [{
            i.name: self._sample(rng, i.type.tensor_type)
            for i in onnx.load(str(path)).graph.input
        }]

    @staticmethod
    def _sample(rng, tensor_type):
        shape = [d.dim_value or SEQUENCE.get(d.dim_param, 1) for d in tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        if dtype.kind == "i":
            return rng.integers(0, 10, size=shape).astype(dtype)
        return rng.random(shape, dtype=np.float32).astype(dtype)

    def get_next(self):
        return self.batches.pop() if self.batches else None


def quantized(source: Path, target: Path, how: str) -> Path:
    if how == "dynamic":
        quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8)
    else:
        quantization.quantize_static(str(source), str(target), RandomInputs(source),
                                     quant_format=getattr(quantization.QuantFormat, how))
    return target


@pytest.mark.parametrize("how", ["dynamic", "QDQ", "QOperator"])
@pytest.mark.parametrize("name", ["lenet5", "mnist_mlp", "tiny_transformer", "lstm_sentiment"])
def test_a_quantized_model_has_the_parameters_of_its_float_original(tmp_path, name, how):
    source = MODELS / f"{name}.onnx"
    original = analyze(source, dims=SEQUENCE)
    rewritten = analyze(quantized(source, tmp_path / f"{name}.{how}.onnx", how), dims=SEQUENCE)
    assert rewritten.params.total == original.params.total
    assert rewritten.params.quantization > 0
    # what was quantized is stored in a quarter of the bytes (int8 for float32); static
    # quantization leaves the LSTM float
    assert rewritten.memory.weights_bytes < (0.3 if name != "lstm_sentiment" else 0.6) * original.memory.weights_bytes
    assert not rewritten.flops.uncounted
    # and the same network: family, attention heads, and an activation between the layers
    # even where the quantizer left it to the requantization
    assert rewritten.architecture.family == original.architecture.family
    if original.architecture.transformer:
        assert rewritten.architecture.transformer.heads == original.architecture.transformer.heads
    elif original.architecture.family in ("cnn", "mlp"):
        assert "ReLU" in " ".join(rewritten.architecture.blocks), rewritten.architecture.blocks


def optimized(source: Path, target: Path) -> Path:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


@pytest.mark.parametrize("name, fused", [
    ("lenet5", {"com.microsoft.FusedConv", "com.microsoft.FusedGemm"}),
    ("mnist_mlp", {"com.microsoft.FusedGemm"}),
    # the attention's 1/√d, a literal of the formula and no parameter, becomes FusedMatMul's alpha
    ("tiny_transformer", {"com.microsoft.FusedMatMul"}),
])
def test_onnx_runtime_fusions_keep_the_flops_the_parameters_and_the_architecture(tmp_path, name, fused):
    source = MODELS / f"{name}.onnx"
    original = analyze(source, dims=SEQUENCE)
    rewritten = analyze(optimized(source, tmp_path / f"{name}.ort.onnx"), dims=SEQUENCE)
    assert fused <= set(rewritten.graph.op_counts)  # the rewrite happened
    assert rewritten.flops.total == original.flops.total
    assert rewritten.params.total == original.params.total
    # a fused activation (FusedConv's, FusedGemm's) and a scaled product (FusedMatMul) read as before
    assert rewritten.architecture.family == original.architecture.family
    layers = [b for b in original.architecture.blocks if b.startswith(("dense", "2 × encoder"))]
    assert layers and set(layers) <= set(rewritten.architecture.blocks), rewritten.architecture.blocks


def test_transformer_fusions_keep_the_flops(tmp_path):
    pytest.importorskip("sympy", reason="onnxruntime's transformer optimizer needs sympy")
    from onnxruntime.transformers import optimizer

    source = MODELS / "tiny_transformer.onnx"
    fused = optimizer.optimize_model(str(source), model_type="bert", num_heads=4, hidden_size=64, opt_level=0)
    target = tmp_path / "tiny_transformer.fused.onnx"
    fused.save_model_to_file(str(target))
    original, rewritten = analyze(source, dims=SEQUENCE), analyze(target, dims=SEQUENCE)
    ops = set(rewritten.graph.op_counts)
    assert {"com.microsoft.SkipLayerNormalization", "com.microsoft.BiasGelu"} <= ops
    assert rewritten.flops.total == original.flops.total
    assert rewritten.params.total == original.params.total


@pytest.mark.parametrize("bits, dtype", [(4, "uint4"), (8, "uint8")])
def test_weight_only_quantization_to_matmul_nbits_keeps_the_parameters(tmp_path, bits, dtype):
    """ONNX Runtime's MatMulNBits quantizer, as 4-bit LLM exports use it: each weight
    becomes packed blocks of 32 with a scale and a zero point per block."""
    pytest.importorskip("onnx_ir", reason="onnxruntime's MatMulNBits quantizer needs onnx-ir")
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    source = MODELS / "tiny_transformer.onnx"
    config = nbits.DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False, bits=bits)
    quantizer = nbits.MatMulNBitsQuantizer(onnx.load(str(source)), algo_config=config)
    quantizer.process()
    target = tmp_path / f"tiny_transformer.{bits}bit.onnx"
    quantizer.model.save_model_to_file(str(target))
    original, rewritten = analyze(source, dims=SEQUENCE), analyze(target, dims=SEQUENCE)
    assert rewritten.graph.op_counts["com.microsoft.MatMulNBits"] == 13
    # the MatMul weights of 2 layers (Q, K, V and output 64×64; MLP 64×256 and 256×64) and the head's 64×4
    matmul_weights = 2 * (4 * 64 * 64 + 2 * 64 * 256) + 64 * 4
    assert rewritten.params.by_dtype[dtype] == matmul_weights
    assert rewritten.params.total == original.params.total
    # a scale and a zero point per block of 32 weights along K
    assert rewritten.params.quantization == 2 * matmul_weights // 32


# --- Shapes, against a run ---------------------------------------------------------------


def run_every_node(path: Path, dims: dict[str, int]) -> dict[str, int]:
    """Run the model in ONNX Runtime on random inputs with every node output exposed:
    each output's size in bytes, as the runtime computed it (None for a sequence or map)."""
    m = onnx.load(str(path))
    declared = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.ValueInfoProto(name=o) for n in m.graph.node for o in n.output
                          if o and o not in declared)
    rng = np.random.default_rng(0)
    initializers = {i.name for i in m.graph.initializer}
    feeds = {}
    for i in m.graph.input:
        if i.name in initializers:
            continue
        t = i.type.tensor_type
        shape = [d.dim_value or dims[d.dim_param] for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        feeds[i.name] = (rng.integers(0, 2, shape) if dtype.kind in "iu" else rng.random(shape)).astype(dtype)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    session = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return {o.name: getattr(v, "nbytes", None) for o, v in zip(session.get_outputs(), session.run(None, feeds))}


@pytest.mark.parametrize("path, dims", [
    *[(MODELS / f"{name}.onnx", {"batch": 2, "sequence": 16}) for name in
      ("lenet5", "mnist_mlp", "lstm_sentiment", "tiny_transformer", "boosted_trees")],
    *[(Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx", {}) for name in
      ("squeezenet", "shufflenet", "inception_v2", "densenet121")],
], ids=lambda v: v.stem if isinstance(v, Path) else "")
def test_every_node_writes_the_bytes_onnx_runtime_computes(path, dims):
    """Our shapes, from ONNX inference and our own shape functions, against a real run:
    every node's bytes written, the figure its FLOPs and the peak memory are built on."""
    actual = run_every_node(path, dims)
    report = analyze(path, dims=dims)
    model = onnx.load(str(path), load_external_data=False)
    rows = {n.name: n for n in report.nodes if not n.subgraph}
    checked = 0
    for node in model.graph.node:
        row = rows[node_label(node)]
        outputs = [actual[o] for o in node.output if o]
        if row.folded or node.op_type == "Constant" or None in outputs:
            continue  # computed at load (nothing written per inference), or not a tensor
        assert row.bytes_written == sum(outputs), (node.op_type, row.name)
        checked += 1
    assert checked  # some node ran (light models fold half of theirs, the weight fills)


def test_the_demo_4_bit_transformer_is_stored_as_onnx_runtime_reads_it():
    """The demo script packs the 4-bit weights itself: ONNX Runtime must compute what the
    float model computes, within 4-bit quantization error (a wrong layout gives noise)."""
    ids = np.random.default_rng(0).integers(0, 1000, (2, 16)).astype(np.int64)
    float_logits, int4_logits = (
        ort.InferenceSession(str(MODELS / name), providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids})[0]
        for name in ("tiny_transformer.onnx", "tiny_transformer_int4.onnx"))
    assert np.abs(int4_logits - float_logits).max() < 0.15 * np.abs(float_logits).max()
    original, packed = analyze(MODELS / "tiny_transformer.onnx", dims=SEQUENCE), \
        analyze(MODELS / "tiny_transformer_int4.onnx", dims=SEQUENCE)
    assert packed.params.total == original.params.total
    assert packed.params.by_dtype["uint4"] == 2 * (4 * 64 * 64 + 2 * 64 * 256) + 64 * 4
