"""The analyzer's speed work takes shortcuts; each must leave every figure as it was.

The shortcuts: every node is read from protobuf once into an index that all passes share;
out-of-order graphs are sorted in place; constants and computed values are decoded or
evaluated when first read; per-node inference is not repeated where the whole-model
inference already saw the same inputs; weights never reach shape inference; large files
are hashed on a thread, and a checksum the build computed is not computed again. A byte-for-byte comparison of reports over the benchmark models
and ONNX's node tests was made when they were introduced; these tests keep each shortcut
honest on the cases it is meant for.
"""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers import model, tensor, value
from mkdocs_onnx import analyze
from mkdocs_onnx.analysis import analyze_model, loading, shapes
from mkdocs_onnx.analysis.analyzer import _sort_in_place
from mkdocs_onnx.analysis.index import IndexedModel
from mkdocs_onnx.analysis.values import Values


def _proto_graph_names(graph: onnx.GraphProto) -> list[str]:
    """Graph names depth first, read straight from protobuf (what the index must reproduce)."""
    names = [graph.name]
    for node in graph.node:
        for a in node.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                names.extend(_proto_graph_names(sub))
    return names


def _branch(name: str, op: str, output: str) -> onnx.GraphProto:
    return helper.make_graph([helper.make_node(op, ["X"], [output])], name, [], [value(output, [4])])


def _if_model(then_op: str = "Neg", else_op: str = "Identity") -> onnx.ModelProto:
    cond = helper.make_node("Greater", ["S", "T"], ["C"])
    branch = helper.make_node("If", ["C"], ["Y"], then_branch=_branch("then", then_op, "A"),
                              else_branch=_branch("else", else_op, "B"))
    return model([cond, branch], [value("X", [4]), value("S", []), value("T", [])], [value("Y", [4])])


def test_the_index_holds_every_graph_in_nesting_order_and_each_node_as_written():
    inner = _if_model().graph
    inner.name = "body"
    m = _if_model()
    loop_body = helper.make_graph([helper.make_node("If", ["C"], ["Y"], then_branch=_branch("then2", "Abs", "P"),
                                                    else_branch=_branch("else2", "Neg", "Q"))],
                                  "loop_body", [value("i", []), value("c", [])], [value("c_out", [])])
    m.graph.node.append(helper.make_node("Loop", ["", ""], [], body=loop_body))
    index = IndexedModel(m)
    assert [g.name for g in index.graphs] == _proto_graph_names(m.graph)
    for graph in index.graphs:
        for node, proto in zip(graph.nodes, graph.proto.node):
            assert (node.op_type, node.domain, node.name, node.input, node.output) == \
                (proto.op_type, proto.domain, proto.name, list(proto.input), list(proto.output))
            assert node.proto is proto


def test_untyped_attributes_of_old_files_are_typed_while_indexing():
    node = helper.make_node("Transpose", ["X"], ["Y"], perm=[1, 0])
    node.attribute[0].type = onnx.AttributeProto.UNDEFINED
    m = model([node], [value("X", [2, 3])], [value("Y", None)])
    index = IndexedModel(m)
    assert m.graph.node[0].attribute[0].type == onnx.AttributeProto.INTS
    assert index.main.nodes[0].attr("perm") == [1, 0]


def test_out_of_order_nodes_are_sorted_in_place_and_give_the_same_report():
    nodes = [helper.make_node("Relu", ["A"], ["Y"], name="relu"), helper.make_node("Neg", ["X"], ["A"], name="neg")]
    shuffled = model(nodes, [value("X", [3, 5])], [value("Y", [3, 5])])
    ordered = model(nodes[::-1], [value("X", [3, 5])], [value("Y", [3, 5])])

    index = IndexedModel(shuffled)
    before = {n.name: n.proto for n in index.main.nodes}
    order = _sort_in_place(index, "shuffled")
    assert [n.name for n in order] == [n.name for n in shuffled.graph.node] == ["neg", "relu"]
    assert all(n.proto is before[n.name] for n in order)  # moved, not copied

    def figures(m):
        report = analyze_model(m).to_dict()
        del report["model"]  # the checksum differs: the files differ
        return report

    assert figures(shuffled) == figures(ordered)


def test_each_if_branch_is_costed_on_its_own():
    # Subgraph costs were once cached by id() of short-lived protobuf wrappers, so one
    # branch could be given the other's cost; indexed graphs live as long as the analysis.
    report = analyze_model(_if_model("Neg", "Identity"))
    assert report.flops.by_op_type["If"] == 4
    assert any("then 4, else 0" in note for note in report.flops.notes), report.flops.notes


def test_deferred_values_are_computed_on_first_read_in_the_order_deferred():
    values = Values()
    ran = []

    def compute(name, result):
        def run():
            ran.append(name)
            if result is not None:
                values[name] = result
        return run

    values["a"] = np.array([2])
    values.defer(["b"], ["a"], compute("b", np.array([3])))
    values.defer(["c"], ["b"], compute("c", np.array([4])))
    values.defer(["nothing"], [], compute("nothing", None))
    assert ran == [] and values.holds("c") and len(values) == 4
    assert values["c"].tolist() == [4]
    assert ran == ["b", "c"]  # what c reads first, each once
    assert "nothing" not in values and ran[-1] == "nothing"
    assert values.get("b").tolist() == [3] and ran == ["b", "c", "nothing"]


def test_float_constants_decoded_lazily_still_reach_whoever_reads_them():
    # The exponent 2.0 is a float constant, decoded only when the structure pass asks
    # whether the Pow squares (it is how a decomposed LayerNorm is recognised).
    nodes = [
        helper.make_node("ReduceMean", ["X"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["X", "mean"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["Y"]),
    ]
    inits = [tensor("two", [], value=2.0), tensor("eps", [], value=1e-5)]
    report = analyze_model(model(nodes, [value("X", [2, 8])], [value("Y", [2, 8])], inits, opset=13))
    assert any(b.startswith("normalization: 1 × LayerNorm (decomposed") for b in report.architecture.blocks)


def _symbolic_chain() -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["X"], ["A"]), helper.make_node("Neg", ["A"], ["B"]),
             helper.make_node("Abs", ["B"], ["Y"])]
    return model(nodes, [value("X", [1, "height"])], [value("Y", [1, "height"])])


def test_nodes_inference_already_settled_are_not_inferred_again(monkeypatch):
    asked = []
    infer_node = shapes._infer_node
    monkeypatch.setattr(shapes, "_infer_node", lambda node, *rest: asked.append(node.op_type) or infer_node(node, *rest))
    report = analyze_model(_symbolic_chain())
    assert asked == ["Abs"]  # only the producer of the declared output: the file's type may be wrong
    assert sorted(report.flops.uncounted_ops) == ["Abs", "Neg", "Relu"]
    assert all("symbolic dim 'height'" in u.reason for u in report.flops.uncounted)


def test_a_declared_type_inference_could_not_merge_is_still_corrected():
    # ONNX inference keeps Y's declared [N, 5] (it cannot merge [2, 3] into it) and gives Z
    # the same; inferring Relu and then Neg again finds [2, 3] for both.
    declared = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 5])
    nodes = [helper.make_node("Relu", ["X"], ["Y"]), helper.make_node("Neg", ["Y"], ["Z"])]
    m = model(nodes, [value("X", [2, 3])], [value("Z", None)])
    m.graph.value_info.append(declared)
    report = analyze_model(m)
    assert report.flops.by_op_type == {"Neg": 6, "Relu": 6}
    assert report.graph.outputs[0].shape == [2, 3]


def test_weights_never_reach_shape_inference(monkeypatch):
    sent = []
    infer_shapes = shapes._infer_shapes  # the C++ entry point: serialized model in, serialized model out
    monkeypatch.setattr(shapes, "_infer_shapes", lambda data, *args: sent.append(len(data)) or infer_shapes(data, *args))
    weight = tensor("W", [1024, 1024])  # 4 MiB
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 1024])], [value("Y", [1, 1024])], [weight])
    report = analyze_model(m)
    assert report.params.total == 1024 * 1024 and report.flops.total == 2 * 1024 * 1024
    assert sent and max(sent) < 4096


@pytest.mark.parametrize("size", [1000, 1 << 20])  # hashed inline, hashed on a thread
def test_the_checksum_is_the_sha256_of_the_whole_file(tmp_path, size):
    side = int(np.sqrt(size / 4)) + 1
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, side])], [value("Y", [1, side])],
              [tensor("W", [side, side])])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    data = path.read_bytes()
    assert analyze(path).model.sha256 == hashlib.sha256(data).hexdigest()


def test_a_checksum_the_caller_computed_is_taken_and_the_file_not_hashed_again(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    onnx.save(model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", [4])], [value("Y", [4])]), path)
    known = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(loading._Digest, "_compute", lambda *args: pytest.fail("the file was hashed again"))
    assert analyze(path, sha256=known).model.sha256 == known


def test_a_build_hashes_each_model_file_once(tmp_path, monkeypatch, in_process):
    # The build hashes every file to key its cache; the analyzer takes that checksum.
    from conftest import build_project, make_project
    from helpers import LIGHT

    root = make_project(tmp_path / "zoo", {"SqueezeNet": str(LIGHT / "light_squeezenet.onnx")})
    hashed = []
    compute = loading._Digest._compute
    monkeypatch.setattr(loading._Digest, "_compute", lambda self, data: hashed.append(len(data)) or compute(self, data))
    build_project(root)
    assert hashed == []
    expected = hashlib.sha256((LIGHT / "light_squeezenet.onnx").read_bytes()).hexdigest()
    assert any(expected in page.read_text() for page in (root / "site" / "models").rglob("*.html"))
