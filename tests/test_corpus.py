"""Every real model and every operator test case gives a report or a clear error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from helpers import CORPUS, corpus_models
from mkdocs_onnx import AnalysisError, analyze
from mkdocs_onnx.analysis import analyze_model


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real-model corpus not present ({CORPUS}); it lives outside the repository")
@pytest.mark.parametrize("path", corpus_models(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_model_gives_a_report_or_a_one_line_error(path):
    try:
        report = analyze(path)
    except AnalysisError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    assert report.graph.node_count > 0
    assert report.flops.total >= 0 and report.params.total >= 0
    # Every node is either counted or listed with a reason; the per-node table sums to the totals.
    assert sum(n.flops for n in report.nodes if n.flops is not None) == report.flops.total
    assert sum(n.params for n in report.nodes) == report.params.total
    assert len(report.flops.uncounted) == sum(report.flops.uncounted_ops.values())
    assert all(u.reason for u in report.flops.uncounted)


def _testcases():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators overflow casts on purpose
        return collect_testcases()


def test_every_onnx_operator_test_case_gives_a_report():
    cases = _testcases()
    assert len(cases) > 1000
    failures = []
    for case in cases:
        try:
            report = analyze_model(case.model, name=case.name)
        except AnalysisError as e:
            failures.append(f"{case.name}: {e}")
            continue
        if report.flops.total < 0 or any(n.flops is not None and n.flops < 0 for n in report.nodes):
            failures.append(f"{case.name}: negative FLOPs")
    assert not failures, "\n".join(failures[:20])


def _bound_dims(model, inputs) -> dict[str, int]:
    """The symbolic input dims, bound to the sizes of the case's input data."""
    dims = {}
    for declared, data in zip(model.graph.input, inputs):
        if isinstance(data, np.ndarray) and declared.type.HasField("tensor_type"):
            for dim, size in zip(declared.type.tensor_type.shape.dim, data.shape):
                if dim.dim_param:
                    dims[dim.dim_param] = int(size)
    return dims


def test_every_single_node_case_writes_the_bytes_of_its_expected_outputs():
    """ONNX's operator test cases carry the outputs each operator must produce: where we
    know a node's output shapes (everything but strings, sequences and data-dependent
    sizes), the bytes it writes are those of the expected outputs."""
    mismatches, checked = [], 0
    for case in _testcases():
        graph = case.model.graph
        if len(graph.node) != 1 or not case.data_sets:
            continue
        inputs, outputs = case.data_sets[0]
        expected = dict(zip((o.name for o in graph.output), outputs))
        produced = [expected.get(name) for name in graph.node[0].output if name]
        if not all(isinstance(v, np.ndarray) and v.dtype != object for v in produced):
            continue
        row = next(n for n in analyze_model(case.model, name=case.name, dims=_bound_dims(case.model, inputs)).nodes
                   if not n.subgraph)
        if row.bytes_written is None or graph.node[0].op_type == "Constant":
            continue  # an unknown size is reported as such, not guessed; a constant is no work
        checked += 1
        if row.bytes_written != sum(v.nbytes for v in produced):
            mismatches.append(f"{case.name}: {row.bytes_written} != {[v.shape for v in produced]}")
    assert checked > 1000
    assert not mismatches, "\n".join(mismatches[:20])
