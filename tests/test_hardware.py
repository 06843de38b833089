"""Per-node roofline and memory estimates, checked against arithmetic done by hand."""

from __future__ import annotations

import pytest

from mkdocs_onnx.analysis.report import (
    Architecture,
    Flops,
    GraphSummary,
    Memory,
    Metadata,
    ModelInfo,
    NodeCost,
    Params,
    Report,
    TensorInfo,
)
from mkdocs_onnx.errors import DeviceError
from mkdocs_onnx.hardware import DeviceProfile, add_estimates, estimate, get_profile
from mkdocs_onnx.hardware.estimate import native_precision

MiB = 2**20


def make_report(nodes, by_dtype=None, weights_bytes=2_000_000, peak_activation_bytes=1_500_000,
                io_dtype="float32", activations_unknown=0) -> Report:
    """A hand-built Report: only the fields the estimator reads carry meaning."""
    by_dtype = {"float32": weights_bytes // 4} if by_dtype is None else by_dtype
    total = sum(by_dtype.values())
    return Report(
        model=ModelInfo(name="hand", path="hand.onnx", sha256="0" * 64, file_bytes=weights_bytes),
        metadata=Metadata(ir_version=8, producer_name="test", producer_version="0", domain="",
                          model_version=1, opsets={"": 17}, doc_string="", metadata_props={}, graph_name="g"),
        graph=GraphSummary(node_count=len(nodes), op_counts={}, inputs=[TensorInfo("x", io_dtype, [1, 8])],
                           outputs=[TensorInfo("y", io_dtype, [1, 8])], initializer_count=1, subgraph_count=0),
        params=Params(total=total, trainable=total, non_trainable=0, constants=0, by_dtype=by_dtype,
                      placeholder=0, weight_tensors=1, shared_tensors=0),
        flops=Flops(total=sum(n.flops or 0 for n in nodes), by_op_type={}, uncounted_ops={}, uncounted=[], notes=[]),
        memory=Memory(weights_bytes=weights_bytes, peak_activation_bytes=peak_activation_bytes, peak_node=None,
                      activations_unknown=activations_unknown, file_bytes=weights_bytes),
        architecture=Architecture(family="mlp", evidence=[]),
        dims={},
        nodes=nodes,
    )


def two_nodes_and_a_gap() -> list[NodeCost]:
    return [
        # 2 GFLOP; reads 3 MB of which 2 MB weights; writes 1 MB -> 2 MB activations + 2 MB weights
        NodeCost("fc", "MatMul", flops=2_000_000_000, params=500_000, bytes_read=3_000_000,
                 weight_bytes_read=2_000_000, bytes_written=1_000_000),
        # 1 MFLOP; reads 1 MB, writes 1 MB, no weights
        NodeCost("act", "Relu", flops=1_000_000, params=0, bytes_read=1_000_000,
                 weight_bytes_read=0, bytes_written=1_000_000),
        # not counted by the analyser: must add nothing
        NodeCost("custom", "MyOp", flops=None, params=0, bytes_read=None, weight_bytes_read=0, bytes_written=None),
    ]


def profile(peak_fp32: float, bandwidth: float, memory: int = 10**9, **peaks: float) -> DeviceProfile:
    return DeviceProfile(id="test", name="Test device", vendor="test", kind="custom", memory_bytes=memory,
                         memory_bandwidth_bytes_per_s=bandwidth, peak_flops={"fp32": peak_fp32, **peaks})


COMPUTE_BOUND = profile(peak_fp32=1e12, bandwidth=1e12)  # ridge point: 1 FLOP/byte
MEMORY_BOUND = profile(peak_fp32=1e15, bandwidth=1e9)  # ridge point: 1e6 FLOP/byte


def test_roofline_compute_bound_by_hand():
    est = estimate(make_report(two_nodes_and_a_gap()), COMPUTE_BOUND)
    fc = max(2e9 / 1e12, (2e6 + 2e6) / 1e12)  # 2 ms, compute-bound
    act = max(1e6 / 1e12, (1e6 + 1e6) / 1e12)  # 2 µs, memory-bound
    assert est.latency_s == pytest.approx(fc + act)
    assert est.bottleneck == "compute"
    assert est.details["compute_bound_share"] == pytest.approx(2e-3 / (2e-3 + 2e-6))
    assert est.details["memory_bound_share"] == pytest.approx(2e-6 / (2e-3 + 2e-6))
    assert est.arithmetic_intensity == pytest.approx((2e9 + 1e6) / (4e6 + 2e6))
    assert est.details["uncounted_nodes"] == 1
    assert est.details["counted_nodes"] == 2
    assert est.details["peak_flops"] == 1e12 and est.details["bandwidth"] == 1e12
    assert est.precision == "fp32"
    assert "lower bound" in est.details["formula"]
    assert any(n.startswith("1 node without a FLOP or byte count adds nothing") for n in est.details["notes"])



def test_fp32_is_bounded_at_the_tf32_tensor_core_peak_where_the_device_has_one():
    """Runtimes compute fp32 matrix products in TF32 by default: on an H200 an fp32 CNN ran in
    0.7 × a bound taken at the fp32 peak (benchmarks/roofline_vs_measured.py)."""
    device = profile(peak_fp32=1e12, bandwidth=1e12, tf32=8e12)
    est = estimate(make_report(two_nodes_and_a_gap()), device, "fp32")
    fc = max(2e9 / 8e12, (2e6 + 2e6) / 1e12)  # 250 µs, compute-bound at the TF32 peak
    act = max(1e6 / 8e12, (1e6 + 1e6) / 1e12)  # 2 µs, memory-bound
    assert est.latency_s == pytest.approx(fc + act)
    assert est.details["peak_flops"] == 8e12 and est.precision == "fp32"
    assert any("TF32 tensor-core peak" in n for n in est.details["notes"])
    assert estimate(make_report(two_nodes_and_a_gap()), device, "tf32").latency_s == pytest.approx(fc + act)


def test_nodes_folded_at_load_add_no_time():
    folded = NodeCost("dequantize weights", "DequantizeLinear", flops=4_000_000_000, params=0, bytes_read=0,
                      weight_bytes_read=0, bytes_written=0, folded=True)
    with_folded = estimate(make_report([*two_nodes_and_a_gap(), folded]), COMPUTE_BOUND)
    assert with_folded.latency_s == pytest.approx(estimate(make_report(two_nodes_and_a_gap()), COMPUTE_BOUND).latency_s)
    assert with_folded.details["uncounted_nodes"] == 1 and with_folded.details["counted_nodes"] == 2

def test_roofline_memory_bound_by_hand():
    est = estimate(make_report(two_nodes_and_a_gap()), MEMORY_BOUND)
    fc = max(2e9 / 1e15, (2e6 + 2e6) / 1e9)  # 4 ms, memory-bound
    act = max(1e6 / 1e15, (1e6 + 1e6) / 1e9)  # 2 ms, memory-bound
    assert est.latency_s == pytest.approx(fc + act)
    assert est.latency_s == pytest.approx(6e-3)
    assert est.bottleneck == "memory bandwidth"
    assert est.details["memory_bound_share"] == pytest.approx(1.0)
    assert est.details["compute_bound_share"] == pytest.approx(0.0)
    assert est.details["top_nodes"][0]["name"] == "fc"


def test_batch_scaling_by_hand():
    est = estimate(make_report(two_nodes_and_a_gap()), COMPUTE_BOUND, batch_sizes=(1, 4))
    rows = {row["batch"]: row for row in est.details["batches"]}
    # batch 4: FLOPs and activation bytes x4, weight bytes read once
    fc = max(4 * 2e9 / 1e12, (4 * 2e6 + 2e6) / 1e12)
    act = max(4 * 1e6 / 1e12, (4 * 2e6) / 1e12)
    assert rows[4]["latency_s"] == pytest.approx(fc + act)
    assert rows[4]["throughput_per_s"] == pytest.approx(4 / (fc + act))
    assert rows[1]["latency_s"] == pytest.approx(est.latency_s)
    # memory: weights once + peak activations x batch + workspace max(10%, 128 MiB)
    assert rows[4]["memory_required_bytes"] == round(2e6 + 4 * 1.5e6 + 128 * MiB)


def test_memory_fits_margin_and_workspace_by_hand():
    report = make_report(two_nodes_and_a_gap())
    est = estimate(report, COMPUTE_BOUND)
    assert est.memory_required_bytes == round(2e6 + 1.5e6 + 128 * MiB)  # 10% of 3.5 MB < 128 MiB
    assert est.details["workspace_bytes"] == 128 * MiB
    assert est.fits is True
    assert est.details["margin_bytes"] == 10**9 - est.memory_required_bytes

    pct = estimate(report, COMPUTE_BOUND, workspace_min_bytes=0)
    assert pct.memory_required_bytes == round((2e6 + 1.5e6) * 1.10)
    assert pct.details["workspace_bytes"] == round(0.1 * 3.5e6)

    small = profile(peak_fp32=1e12, bandwidth=1e12, memory=3_000_000)
    tight = estimate(report, small, workspace_min_bytes=0)
    assert tight.fits is False
    assert tight.details["margin_bytes"] == 3_000_000 - round(3.5e6 * 1.1)


def test_default_precision_is_the_weights_dtype():
    fp16 = make_report(two_nodes_and_a_gap(), by_dtype={"float16": 1_000_000, "float32": 10})
    assert native_precision(fp16)[0] == "fp16"
    est = estimate(fp16, profile(1e12, 1e12, fp16=4e12))
    # at the model's own precision the Report's bytes are used unchanged
    assert est.precision == "fp16"
    assert est.latency_s == pytest.approx(max(2e9 / 4e12, 4e6 / 1e12) + max(1e6 / 4e12, 2e6 / 1e12))
    assert native_precision(make_report([], by_dtype={"int8": 100, "float32": 5}))[0] == "int8"
    assert native_precision(make_report([], by_dtype={"bfloat16": 7}))[0] == "bf16"
    # without float or int8 weights, the inputs' and outputs' float type; without one either, none
    assert native_precision(make_report([], by_dtype={"int64": 7}, io_dtype="int64"))[0] is None
    # 4-bit weights (MatMulNBits) are dequantized to the activations' type: fp16 here, not int8
    four_bit = native_precision(make_report([], by_dtype={"uint4": 1_000_000}, io_dtype="float16"))
    assert four_bit == ("fp16", "no float or int8 weights; inputs and outputs in float16")


def test_requested_lower_precision_rescales_bytes_by_hand():
    report = make_report(two_nodes_and_a_gap())  # float32 weights (500k elements) and activations
    est = estimate(report, profile(1e12, 1e9, fp16=2e12), precision="fp16")
    assert est.precision == "fp16"
    assert est.details["weight_scale"] == pytest.approx(0.5)
    assert est.details["activation_scale"] == pytest.approx(0.5)
    fc = max(2e9 / 2e12, (1e6 + 1e6) / 1e9)
    act = max(1e6 / 2e12, 1e6 / 1e9)
    assert est.latency_s == pytest.approx(fc + act)
    assert est.memory_required_bytes == round(1e6 + 0.75e6 + 128 * MiB)


def test_explicit_unsupported_precision_says_so():
    est = estimate(make_report(two_nodes_and_a_gap()), get_profile("t4"), precision="bf16")
    assert est.fits is None and est.latency_s is None
    assert est.bottleneck == "unsupported precision"
    assert "not supported" in est.details["message"] and "Tesla T4" in est.details["message"]
    assert est.details["supported_precisions"] == ["fp32", "fp16", "int8"]


def test_default_precision_falls_back_when_missing():
    bf16 = make_report(two_nodes_and_a_gap(), by_dtype={"bfloat16": 1_000_000}, weights_bytes=2_000_000)
    est = estimate(bf16, get_profile("t4"))
    assert est.precision == "fp16"
    assert est.latency_s is not None
    assert est.details["precision_source"] == "fallback from bf16"
    assert any("no bf16" in n for n in est.details["notes"])

    int8 = make_report(two_nodes_and_a_gap(), by_dtype={"int8": 2_000_000})
    on_mac = estimate(int8, get_profile("apple-m1"))
    assert on_mac.precision == "fp16"


def test_unknown_throughput_keeps_memory_but_no_latency():
    derived = DeviceProfile(id="detected-x", name="Mystery GPU", vendor="NVIDIA", kind="custom",
                            memory_bytes=8 * 2**30, memory_bandwidth_bytes_per_s=None, peak_flops={})
    est = estimate(make_report(two_nodes_and_a_gap()), derived)
    assert est.latency_s is None and est.bottleneck == "unknown"
    assert est.fits is True
    assert est.details["batches"][0]["throughput_per_s"] is None
    assert any("unknown" in n for n in est.details["notes"])


def test_no_overhead_on_empty_model():
    est = estimate(make_report([]), COMPUTE_BOUND)
    assert est.latency_s is None  # nothing counted: no invented latency
    assert est.arithmetic_intensity is None


def test_bad_precision_raises():
    with pytest.raises(DeviceError, match="unknown precision"):
        estimate(make_report(two_nodes_and_a_gap()), COMPUTE_BOUND, precision="fp64")


def test_details_contract_keys():
    est = estimate(make_report(two_nodes_and_a_gap()), get_profile("h100-sxm"))
    for key in ("formula", "peak_flops", "bandwidth", "compute_bound_share", "memory_bound_share",
                "workspace_bytes", "uncounted_nodes", "margin_bytes", "batches"):
        assert key in est.details
    assert [row["batch"] for row in est.details["batches"]] == [1, 2, 4, 8, 16, 32, 64]
    assert est.device == "NVIDIA H100 80GB HBM3"
    # the estimate travels inside the Report's JSON
    report = make_report(two_nodes_and_a_gap())
    report.hardware.append(est)
    again = Report.from_json(report.to_json())
    assert again.hardware[0].details["batches"][3]["batch"] == 8


def test_add_estimates_appends_and_reports_warnings():
    report = make_report(two_nodes_and_a_gap())
    warnings = add_estimates(report, ["h100-sxm", "t4"], precision="bf16")
    assert [h.details["device_id"] for h in report.hardware] == ["h100-sxm", "t4"]
    assert report.hardware[0].details["how"] == "database entry 'h100-sxm'"
    assert report.hardware[1].latency_s is None
    assert len(warnings) == 1 and "bf16 is not supported by Tesla T4" in warnings[0]


def test_classical_ml_operators_on_an_accelerator_are_flagged_and_counts_read_in_the_singular():
    report = make_report(two_nodes_and_a_gap(), activations_unknown=1)
    report.graph.op_counts = {"ai.onnx.ml.TreeEnsembleClassifier": 1, "ai.onnx.ml.ZipMap": 1, "Cast": 1}
    notes = estimate(report, COMPUTE_BOUND).details["notes"]
    assert ("ai.onnx.ml operators (TreeEnsembleClassifier, ZipMap) run on the CPU in ONNX Runtime, and GPU "
            "runtimes such as TensorRT do not support them: this estimate assumes Test device runs them") in notes
    assert "1 activation of unknown size: peak activations is a lower bound" in notes
    assert "1 node without a FLOP or byte count adds nothing: latency is a lower bound" in notes  # the gap
    cpu = DeviceProfile(id="cpu", name="A CPU", vendor="test", kind="cpu", memory_bytes=10**9,
                        memory_bandwidth_bytes_per_s=1e10, peak_flops={"fp32": 1e11})
    assert not any("ai.onnx.ml" in n for n in estimate(report, cpu).details["notes"])  # where they do run


def test_a_bound_under_a_microsecond_says_what_it_leaves_out():
    # 400 FLOPs, reads 200 bytes and writes 200: max(400 / 1e12, 400 / 1e12) = 0.4 ns on COMPUTE_BOUND
    tiny = [NodeCost("act", "Relu", flops=400, params=0, bytes_read=200, weight_bytes_read=0, bytes_written=200)]
    est = estimate(make_report(tiny, weights_bytes=0, by_dtype={}), COMPUTE_BOUND)
    assert est.latency_s == pytest.approx(0.4e-9)
    launch = [n for n in est.details["notes"] if "under a microsecond" in n]
    assert launch == ["the bound, 0.400 ns, is under a microsecond, less than launching one kernel or dispatching "
                      "one operator takes: at this size those per-node costs, which a roofline leaves out, set the latency"]
    big = estimate(make_report(two_nodes_and_a_gap()), COMPUTE_BOUND)  # 2.002 ms
    assert not any("under a microsecond" in n for n in big.details["notes"])

    from mkdocs_onnx.summary import fallback_summary

    report = make_report(tiny, weights_bytes=0, by_dtype={})
    report.hardware = [est]
    assert ("one inference takes at least 0.400 ns (a roofline lower bound, which leaves out the per-node launch "
            "costs that set the latency at this size)") in fallback_summary(report, None).text
