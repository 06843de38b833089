"""Shortcuts of type inference; each must leave every figure as it was.

Inference reads the file's own bytes while no pass has changed the model; a node whose
outputs whole-model inference typed but could not shape is not inferred again when it
would see no more than that inference did; equal integer constants are decoded once.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, shape_inference

from helpers import model, tensor, value
from mkdocs_onnx.analysis import analyze_model, shapes
from mkdocs_onnx.analysis.index import IndexedModel
from mkdocs_onnx.analysis.loading import load_model
from mkdocs_onnx.analysis.tensors import small_value


def _relu_model(input_shape) -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", input_shape)], [value("Y", input_shape)])


def _sent_to_inference(monkeypatch, m: onnx.ModelProto, tmp_path, change=None) -> tuple[bytes, bytes, onnx.ModelProto]:
    """(the bytes inference was given, the file's bytes, the model as loaded) for ``m`` saved,
    loaded and maybe changed."""
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    loaded = load_model(str(path))
    index = IndexedModel(loaded.model)
    if change is not None:
        change(loaded.model, index)
    sent = []
    infer_shapes = shapes._infer_shapes
    monkeypatch.setattr(shapes, "_infer_shapes", lambda data, *args: sent.append(data) or infer_shapes(data, *args))
    shapes.infer_types(loaded.model, index, [], source=loaded.data)
    assert len(sent) == 1
    return sent[0], loaded.data, loaded.model


def test_inference_reads_the_files_bytes_while_nothing_changed_the_model(monkeypatch, tmp_path):
    sent, data, _ = _sent_to_inference(monkeypatch, _relu_model([1, 3]), tmp_path)
    assert sent is data


def test_a_changed_model_is_serialized_again(monkeypatch, tmp_path):
    def bind(m, index):
        shapes.bind_dims(index, {}, 1)  # the leading symbolic dim becomes the batch

    def sort(m, index):
        index.set_main_order(list(index.main.nodes))

    def import_opset(m, index):
        m.opset_import.add(domain="com.example", version=1)

    for m, change in ((_relu_model(["N", 3]), bind), (_relu_model([1, 3]), sort), (_relu_model([1, 3]), import_opset),
                      (_untyped_attribute_model(), None)):
        sent, data, loaded = _sent_to_inference(monkeypatch, m, tmp_path, change)
        assert sent is not data and sent == loaded.SerializeToString()


def _untyped_attribute_model() -> onnx.ModelProto:
    """A Transpose whose perm is written without its type, as IR version 1 files write attributes."""
    m = model([helper.make_node("Transpose", ["X"], ["Y"], perm=[1, 0])], [value("X", [2, 3])], [value("Y", [3, 2])])
    m.graph.node[0].attribute[0].type = onnx.AttributeProto.UNDEFINED  # the index types it again
    return m


def test_weights_are_stripped_before_inference_reads_anything(monkeypatch, tmp_path):
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 128])], [value("Y", [1, 128])],
              [tensor("W", [128, 128])])
    sent, data, _ = _sent_to_inference(monkeypatch, m, tmp_path)
    assert sent is not data and len(sent) < 4096 < len(data)


def test_outputs_inference_typed_but_could_not_shape_are_not_inferred_again(monkeypatch):
    # The axes come from a graph input: ONNX inference types U but cannot tell its rank.
    nodes = [helper.make_node("Unsqueeze", ["X", "axes"], ["U"]), helper.make_node("Relu", ["U"], ["Y"])]
    m = model(nodes, [value("X", [2, 3]), value("axes", [1], TensorProto.INT64)], [value("Y", None)], opset=13)
    asked = []
    infer_node = shapes._infer_node
    monkeypatch.setattr(shapes, "_infer_node", lambda node, *rest: asked.append(node.op_type) or infer_node(node, *rest))
    report = analyze_model(m)
    assert asked == ["Relu"]  # the producer of the declared output is always asked
    assert report.graph.outputs[0].shape is None


def test_equal_integer_constants_are_decoded_once():
    index = IndexedModel(model([], [], [value("Y", [1])], [tensor("a", [3], np.int64, 7), tensor("b", [3], np.int64, 7),
                                                            tensor("c", [1, 3], np.int64, 7)]))
    shared: dict = {}
    a, b, c = (small_value(t, shared) for t in index.main.initializers)
    assert a is b and a.tolist() == [7, 7, 7] and c.shape == (1, 3) and len(shared) == 2


def _reshape_case():
    node = helper.make_node("Reshape", ["X", "S"], ["Y"])
    x_type = helper.make_tensor_type_proto(TensorProto.FLOAT, [2, 3, 4])
    s_type = helper.make_tensor_type_proto(TensorProto.INT64, [2])
    target = onnx.numpy_helper.from_array(np.array([6, -1], dtype=np.int64), "S")
    return onnx.defs.get_schema("Reshape", 21), node, {"X": x_type, "S": s_type}, {"S": target}


def test_per_node_inference_answers_as_onnx_public_function_does():
    schema, node, input_types, data = _reshape_case()
    public = shape_inference.infer_node_outputs(schema, node, input_types, data,
                                                opset_imports=[helper.make_opsetid("", 21)])
    fast = shapes._node_outputs(schema, node, {k: t.SerializeToString() for k, t in input_types.items()},
                                {k: t.SerializeToString() for k, t in data.items()}, {"": 21})
    assert {k: onnx.TypeProto.FromString(v) for k, v in fast.items()} == public
    assert shapes.type_info(public["Y"]) == (TensorProto.FLOAT, (6, 4))  # 24 elements as [6, -1]


def test_an_onnx_whose_private_entry_point_changed_still_gets_per_node_inference():
    schema, node, input_types, data = _reshape_case()

    class ChangedEntryPoint:  # refuses the arguments the fast path gives, as a new signature would
        def __init__(self):
            self.calls = 0

        def _infer_node_outputs(self, *args):
            self.calls += 1
            if self.calls == 1:
                raise TypeError("incompatible function arguments")
            return schema._infer_node_outputs(*args)  # the public function's own call

    changed = ChangedEntryPoint()
    out = shapes._node_outputs(changed, node, {k: t.SerializeToString() for k, t in input_types.items()},
                               {k: t.SerializeToString() for k, t in data.items()}, {"": 21})
    assert changed.calls == 2
    assert shapes.type_info(onnx.TypeProto.FromString(out["Y"])) == (TensorProto.FLOAT, (6, 4))
