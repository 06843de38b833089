"""Model-local functions (as onnxscript and torch's dynamo exporter write them): calls are
analysed as the functions' bodies, as runtimes inline them."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis import loading

OPSET = helper.make_opsetid("", 17)


def _linear() -> onnx.FunctionProto:
    return helper.make_function("custom", "Linear", ["x", "w", "b"], ["y"],
                                [helper.make_node("MatMul", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "b"], ["y"])],
                                opset_imports=[OPSET])


def _block() -> onnx.FunctionProto:
    """A function that calls another: Linear, then Relu."""
    return helper.make_function("custom", "Block", ["x", "w", "b"], ["y"],
                                [helper.make_node("Linear", ["x", "w", "b"], ["h"], domain="custom"),
                                 helper.make_node("Relu", ["h"], ["y"])],
                                opset_imports=[OPSET, helper.make_opsetid("custom", 1)])


def _model(nodes, functions, out_shape=(2, 4)) -> onnx.ModelProto:
    weights = [numpy_helper.from_array(np.ones((8, 4), np.float32), "W"),
               numpy_helper.from_array(np.ones((4,), np.float32), "B")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(out_shape))], weights)
    return helper.make_model(graph, opset_imports=[OPSET, helper.make_opsetid("custom", 1)], functions=functions)


LINEAR_FLOPS = 2 * 2 * 8 * 4 + 2 * 4  # (2×8)·(8×4) MACs, then the bias add over 2×4


def test_a_call_is_counted_as_its_body():
    m = _model([helper.make_node("Linear", ["X", "W", "B"], ["H"], domain="custom"),
                helper.make_node("Relu", ["H"], ["Y"])], [_linear()])
    report = analyze_model(m)
    assert report.flops.uncounted == []
    assert report.flops.total == LINEAR_FLOPS + 2 * 4  # + the Relu
    assert report.graph.op_counts == {"MatMul": 1, "Add": 1, "Relu": 1}
    assert report.params.total == 8 * 4 + 4
    assert report.architecture.family == "mlp"  # read from the body's MatMul, not from an unknown op
    (note,) = [r for r in report.risks if r.id == "local-functions"]
    assert note.severity == "info" and "(custom.Linear)" in note.message


def test_nested_calls_and_calls_in_subgraphs_are_inlined_too():
    m = _model([helper.make_node("Block", ["X", "W", "B"], ["Y"], domain="custom")], [_linear(), _block()])
    report = analyze_model(m)
    assert report.flops.total == LINEAR_FLOPS + 2 * 4 and report.flops.uncounted == []
    then = helper.make_graph([helper.make_node("Linear", ["X", "W", "B"], ["t"], domain="custom")], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 4])])
    other = helper.make_graph([helper.make_node("Linear", ["X", "W", "B"], ["e"], domain="custom")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 4])])
    cond = numpy_helper.from_array(np.array(True), "cond")
    m = _model([helper.make_node("Constant", [], ["c"], value=cond),
                helper.make_node("If", ["c"], ["Y"], then_branch=then, else_branch=other)], [_linear()])
    report = analyze_model(m)
    assert report.flops.uncounted == [] and report.flops.total == LINEAR_FLOPS  # one branch runs
    (note,) = [r for r in report.risks if r.id == "local-functions"]
    assert "custom.Linear ×2" in note.message


def test_a_function_never_called_changes_nothing():
    m = _model([helper.make_node("Relu", ["X"], ["Y"])], [_linear()], out_shape=(2, 8))
    report = analyze_model(m)
    assert report.flops.total == 2 * 8 and not any(r.id == "local-functions" for r in report.risks)


def test_a_model_that_cannot_be_inlined_says_so_and_leaves_the_calls_uncounted(monkeypatch):
    def fail(model):
        raise ValueError("too large to serialize")

    monkeypatch.setattr(loading.inliner, "inline_local_functions", fail)
    m = _model([helper.make_node("Linear", ["X", "W", "B"], ["Y"], domain="custom")], [_linear()])
    report = analyze_model(m)
    assert any("could not be inlined (too large to serialize)" in w for w in report.warnings)
    assert report.flops.uncounted_ops == {"custom.Linear": 1}
