"""Hand-built Reports and CardContexts for the renderer tests (no ONNX file needed).

``mnist_report()`` follows the ONNX model zoo's mnist-8: 12 nodes, 5,994 parameters
(Conv 8x1x5x5 + 8, Conv 16x8x5x5 + 16, MatMul 256x10 + 10) plus 4 shape elements.
"""

from __future__ import annotations

import copy

from mkdocs_onnx.analysis.report import (
    Architecture,
    Flops,
    GraphSummary,
    HardwareEstimate,
    Memory,
    Metadata,
    ModelInfo,
    NodeCost,
    Params,
    Report,
    Risk,
    TensorInfo,
    UncountedNode,
)
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.summary.model import Summary

MNIST_NODES = [
    # name, op_type, flops, params, bytes_read, weight_bytes_read, bytes_written
    ("Times212_reshape1", "Reshape", 0, 2560, 10256, 10256, 10240),
    ("Convolution28", "Conv", 313_600, 200, 3936, 800, 25088),
    ("Plus30", "Add", 6272, 8, 25120, 32, 25088),
    ("ReLU32", "Relu", 6272, 0, 25088, 0, 25088),
    ("Pooling66", "MaxPool", 6272, 0, 25088, 0, 6272),
    ("Convolution110", "Conv", 1_254_400, 3200, 19072, 12800, 12544),
    ("Plus112", "Add", 3136, 16, 12608, 64, 12544),
    ("ReLU114", "Relu", 3136, 0, 12544, 0, 12544),
    ("Pooling160", "MaxPool", 2304, 0, 12544, 0, 1024),
    ("Times212_reshape0", "Reshape", 0, 0, 1040, 16, 1024),
    ("Times212", "MatMul", 5120, 0, 11264, 10240, 40),
    ("Plus214", "Add", 10, 10, 80, 40, 40),
]


def _hardware() -> list[HardwareEstimate]:
    return [
        HardwareEstimate(
            device="NVIDIA GeForce RTX 4050 Laptop GPU",
            precision="fp32",
            memory_required_bytes=121_968,
            fits=True,
            latency_s=1.52e-6,
            bottleneck="memory_bandwidth",
            arithmetic_intensity=6.49,
            details={
                "batch": 1,
                "device_memory_bytes": 6 * 1024**3,
                "memory_bandwidth_bytes_per_s": 192e9,
                "peak_flops_per_s": 1.0e13,
                "compute_bound_share": 0.31,
                "batches": [
                    {"batch": 1, "latency_s": 1.52e-6, "throughput_per_s": 657_894.7, "memory_required_bytes": 121_968},
                    {"batch": 8, "latency_s": 6.1e-6, "throughput_per_s": 1_311_475.4, "memory_required_bytes": 425_000},
                    {"batch": 64},  # missing keys must not break the table
                ],
                "launch_overhead_s": 5e-6,
            },
        ),
        HardwareEstimate(
            device="Raspberry Pi 5 (Cortex-A76) <b>",
            precision="fp32",
            memory_required_bytes=121_968,
            fits=True,
            latency_s=0.000213,
            bottleneck="compute",
            arithmetic_intensity=6.49,
            details={"memory_bytes": 8 * 1024**3, "bandwidth_bytes_per_s": 17e9, "peak_flops": 7.5e9},
        ),
    ]


def mnist_report(*, hardware: bool = True, placeholder: int = 0) -> Report:
    nodes = [NodeCost(n, op, f, p, br, wbr, bw) for n, op, f, p, br, wbr, bw in MNIST_NODES]
    by_op: dict[str, int] = {}
    for n in nodes:
        by_op[n.op_type] = by_op.get(n.op_type, 0) + (n.flops or 0)
    op_counts: dict[str, int] = {}
    for n in nodes:
        op_counts[n.op_type] = op_counts.get(n.op_type, 0) + 1
    total_params = sum(n.params for n in nodes)
    return Report(
        model=ModelInfo(name="mnist.onnx", path="/models/mnist.onnx", sha256="ab" * 32, file_bytes=26_454),
        metadata=Metadata(
            ir_version=3,
            producer_name="CNTK",
            producer_version="2.5.1",
            domain="ai.cntk",
            model_version=1,
            opsets={"ai.onnx": 8},
            doc_string="",
            metadata_props={},
            graph_name="CNTKGraph",
        ),
        graph=GraphSummary(
            node_count=12,
            op_counts=op_counts,
            inputs=[TensorInfo("Input3", "float32", [1, 1, 28, 28])],
            outputs=[TensorInfo("Plus214_Output_0", "float32", [1, 10])],
            initializer_count=8,
            subgraph_count=0,
        ),
        params=Params(
            total=total_params,
            trainable=total_params,
            non_trainable=0,
            constants=4,
            by_dtype={"float32": total_params},
            placeholder=placeholder,
            weight_tensors=6,
            shared_tensors=0,
        ),
        flops=Flops(total=sum(by_op.values()), by_op_type=by_op, uncounted_ops={}, uncounted=[], notes=[]),
        memory=Memory(
            weights_bytes=total_params * 4,
            peak_activation_bytes=50_176,
            peak_node="Plus30",
            activations_unknown=0,
            file_bytes=26_454,
        ),
        architecture=Architecture(
            family="cnn",
            evidence=["2 Conv nodes", "MaxPool after each convolution", "MatMul classifier head"],
            task_guess="image-classification",
            blocks=["Conv-Add-Relu-MaxPool x2"],
        ),
        dims={},
        risks=[
            Risk("old-opset", "info", "Opset 8 is old; some runtimes deprecate it.", "Convert with onnx.version_converter."),
        ],
        hardware=_hardware() if hardware else [],
        nodes=nodes,
        warnings=[],
        analyzer_version="0.1.0",
    )


def transformer_report() -> Report:
    """A bigger, symbolic-dims model with uncounted ops, placeholder weights and no hardware."""
    r = mnist_report(hardware=False, placeholder=1_000_000)
    r.model = ModelInfo(
        name="bert-tiny.onnx", path="/m/bert.onnx", sha256="cd" * 32, file_bytes=5_000_000,
        external_data_bytes=97_000_000, external_data_files=["bert.onnx.data"],
    )
    r.metadata.opsets = {"ai.onnx": 17, "com.microsoft": 1}
    r.metadata.doc_string = "A *tiny* BERT.\n\nSecond paragraph with [a link](javascript:alert(1))."
    r.metadata.metadata_props = {"author": "someone <x@y>"}
    r.graph.inputs = [TensorInfo("input_ids", "int64", ["batch", "sequence"]), TensorInfo("mask", "int64", None)]
    r.graph.op_counts = {"MatMul": 96, "Add": 120, "com.microsoft.Attention": 12, "LayerNormalization": 25}
    r.graph.node_count = sum(r.graph.op_counts.values())
    r.params = Params(
        total=25_557_032, trainable=25_500_000, non_trainable=57_032, constants=40, by_dtype={"float32": 25_557_032},
        placeholder=1_000_000, weight_tensors=200, shared_tensors=1,
    )
    r.flops = Flops(
        total=3_200_000_000,
        by_op_type={"MatMul": 3_100_000_000, "Add": 100_000_000, "LayerNormalization": 0},
        uncounted_ops={"com.microsoft.Attention": 12},
        uncounted=[UncountedNode(f"attn_{i}", "com.microsoft.Attention", "no formula for this contrib op") for i in range(12)],
        notes=["Attention cost not modelled."],
    )
    r.nodes = [
        NodeCost("mm", "MatMul", 3_100_000_000, 25_000_000, 100, 100, 10),
        NodeCost("add", "Add", 100_000_000, 557_032, None, 0, None),
        NodeCost("ln", "LayerNormalization", 0, 0, 10, 0, 10),
    ] + [NodeCost(f"attn_{i}", "com.microsoft.Attention", None, 0, None, 0, None, subgraph="") for i in range(12)]
    r.memory = Memory(
        weights_bytes=102_228_128, peak_activation_bytes=3_145_728, peak_node=None, activations_unknown=3,
        file_bytes=102_000_000,
    )
    r.architecture = Architecture("transformer-encoder", ["12 attention blocks"], None, [])
    r.dims = {"batch": 1, "sequence": 128, "past": None}
    r.batch_dims = ["batch"]
    r.risks = [
        Risk("contrib-ops", "warning", "Uses com.microsoft contrib operators.", "Needs onnxruntime."),
        Risk("fp64", "error", "Has float64 <ops>.", ""),
    ]
    r.warnings = ["shape inference failed for 3 tensors"]
    return r


def entry(name: str = "MNIST", slug: str = "mnist", **kw) -> ModelEntry:
    base = dict(
        name=name,
        slug=slug,
        source="path",
        location="models/mnist.onnx",
        description="Handwritten digit classifier.",
        task="image-classification",
        tags=["vision", "small"],
        license="MIT",
        links={"source": "https://github.com/onnx/models"},
    )
    base.update(kw)
    return ModelEntry(**base)


def mnist_ctx(**kw) -> CardContext:
    base = dict(
        entry=entry(),
        report=mnist_report(),
        summary=Summary(
            tldr="A small CNN for handwritten digits.",
            text="It has 5,994 parameters and needs about 1.6 MFLOPs per image.",
            source="llm",
            author="gpt-4o-mini",
        ),
        device_notes=["Devices from mkdocs.yml: rtx-4050-laptop, raspberry-pi-5."],
        model_file="mnist.onnx",
    )
    base.update(kw)
    return CardContext(**base)


def bert_ctx() -> CardContext:
    return CardContext(
        entry=entry("BERT tiny", "bert-tiny", task="text-classification", tags=["nlp"], location="models/bert.onnx",
                    dims={"sequence": 128}),
        report=transformer_report(),
        summary=None,
        device_notes=["No device was configured (device: none)."],
        model_file="bert-tiny.onnx",
    )


def error_ctx() -> CardContext:
    return CardContext(
        entry=entry("Broken <model>", "broken", source="url", location="https://example.com/broken.onnx",
                    description="Should fail.", task="image-classification"),
        report=None,
        error="models/broken.onnx: not an ONNX model (protobuf parse error at byte 12) [x](javascript:alert(1))",
    )


def evil_ctx() -> CardContext:
    """Untrusted text everywhere a model file, the manifest or an LLM can put it."""
    r = mnist_report()
    r.metadata.doc_string = "<script>alert('doc')</script> ![x](http://evil/x.png)"
    r.metadata.producer_name = "<img src=x onerror=alert(1)>"
    r.metadata.metadata_props = {"<b>key</b>": "[click](javascript:alert(1))", "k|ey": "a | b\nc"}
    r.graph.inputs = [TensorInfo("<script>in</script>", "float32", ["<b>n</b>", 3])]
    r.graph.op_counts = {"Conv": 2, "evil.<script>X</script>": 1, "[z](javascript:alert(1))": 1}
    r.flops.by_op_type["evil.<script>X</script>"] = 10
    r.flops.total += 10
    r.architecture.evidence = ["<iframe src=javascript:alert(1)>", "![img](http://evil/i.png)"]
    r.risks = [Risk("<x>", "warning", "[click](javascript:alert(1))", "<script>alert(2)</script>")]
    r.hardware[0].device = 'GPU" onmouseover="alert(1)'
    return CardContext(
        entry=entry(
            "<script>alert(1)</script>",
            "evil",
            description="Look: ![x](http://evil/x.png) and [click](javascript:alert(1)) <img src=x onerror=alert(1)>",
            task="<b>task</b>",
            tags=["<script>", "`code`"],
            license="[MIT](javascript:alert(1))",
            links={"bad": "javascript:alert(1)", "data": "data:text/html,<script>alert(1)</script>", "ok": "https://ok.example/a?b=1&c=2"},
        ),
        report=r,
        summary=Summary(
            tldr="<script>alert('llm')</script>",
            text="![pwn](http://evil/p.png) [x](javascript:alert(1))\n\n# Heading\n\n- list",
            source="llm",
            author="<b>gpt</b>",
        ),
        device_notes=["<img src=x onerror=alert(1)>"],
        model_file="evil model (1).onnx",
    )


def clone(report: Report) -> Report:
    return copy.deepcopy(report)


def test_factory_reports_roundtrip_json():
    for r in (mnist_report(), transformer_report()):
        assert Report.from_json(r.to_json()).to_json() == r.to_json()


def test_factory_mnist_matches_reference_figures():
    r = mnist_report()
    assert r.params.total == 5_994
    assert r.graph.node_count == len(r.nodes) == 12
    assert sum(r.graph.op_counts.values()) == 12
