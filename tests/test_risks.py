"""Deployment notes: each fires on a model where it holds and stays silent where it does not."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from helpers import model, tensor, value
from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis.risks import Facts, assess


def _ids(m: onnx.ModelProto, **kw) -> set[str]:
    return {r.id for r in analyze_model(m, **kw).risks}


def _dense(opset: int = 17, dtype=np.float32, x_type=TensorProto.FLOAT, dims=("batch", 4)) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 3), dtype), "W")
    return model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", list(dims), x_type)],
                 [value("Y", [dims[0], 3], x_type)], [w], opset=opset)


def test_a_clean_modern_model_gets_no_notes():
    assert _ids(_dense()) == set()


# --- symbolic dims -------------------------------------------------------------------------------


def test_symbolic_dims_fire_when_unbound_and_not_when_bound():
    m = _dense(dims=("batch", "features"))
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "sequence"
    assert "symbolic-dims" in _ids(m)
    assert "symbolic-dims" not in _ids(m, dims={"sequence": 4})


# --- operators ------------------------------------------------------------------------------------


def test_uncounted_operators():
    node = helper.make_node("Frobnicate", ["X"], ["Y"], domain="example.custom")
    m = model([node], [value("X", [2])], [value("Y", [2])], extra_opsets=[("example.custom", 1)])
    assert {"uncounted-ops", "custom-domain"} <= _ids(m)
    assert "uncounted-ops" not in _ids(_dense())


def test_custom_domain_fires_for_contrib_ops_not_for_ai_onnx_ml_or_local_functions():
    gelu = helper.make_node("FastGelu", ["X"], ["Y"], domain="com.microsoft")
    r = analyze_model(model([gelu], [value("X", [2, 4])], [value("Y", [2, 4])], extra_opsets=[("com.microsoft", 1)]))
    note = next(k for k in r.risks if k.id == "custom-domain")
    assert "com.microsoft" in note.message and "FastGelu" in note.message

    scaler = helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml", offset=[0.0], scale=[2.0])
    ml = model([scaler], [value("X", [2, 1])], [value("Y", [2, 1])], extra_opsets=[("ai.onnx.ml", 3)])
    assert "custom-domain" not in _ids(ml)
    assert "ml-operators" in _ids(ml)

    fn = helper.make_function("local.fns", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    call = helper.make_node("Double", ["X"], ["Y"], domain="local.fns")
    m = model([call], [value("X", [2])], [value("Y", [2])], extra_opsets=[("local.fns", 1)])
    m.functions.extend([fn])
    assert "custom-domain" not in _ids(m)  # defined in the file itself: any runtime inlines it


def test_ml_operators_only_when_used():
    assert "ml-operators" not in _ids(_dense())


# --- versions --------------------------------------------------------------------------------------


def test_old_opset_fires_below_11_only_when_default_domain_ops_are_used():
    assert "old-opset" in _ids(_dense(opset=9))
    assert "old-opset" not in _ids(_dense(opset=11))
    scaler = helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml", offset=[0.0], scale=[2.0])
    ml_only = model([scaler], [value("X", [2, 1])], [value("Y", [2, 1])], opset=9, extra_opsets=[("ai.onnx.ml", 1)])
    assert "old-opset" not in _ids(ml_only)  # it imports opset 9 but runs no default-domain operator


def test_old_ir_version():
    m = _dense(opset=8)
    m.ir_version = 3
    assert "old-ir-version" in _ids(m)
    assert "old-ir-version" not in _ids(_dense())


# --- data types and weights -----------------------------------------------------------------------------


def test_float64_weights_and_inputs_fire_float32_does_not():
    r = analyze_model(_dense(dtype=np.float64, x_type=TensorProto.DOUBLE))
    note = next(k for k in r.risks if k.id == "float64")
    assert "1 weight tensor" in note.message and "X" in note.message
    cast = model([helper.make_node("Cast", ["X"], ["D"], to=TensorProto.DOUBLE),
                  helper.make_node("Cast", ["D"], ["Y"], to=TensorProto.FLOAT)],
                 [value("X", [2, 2])], [value("Y", [2, 2])])
    assert "computed tensor" in next(k for k in analyze_model(cast).risks if k.id == "float64").message
    assert "float64" not in _ids(_dense())


def test_placeholder_weights():
    shape = numpy_helper.from_array(np.array([4, 3], np.int64), "W_shape")
    fill = helper.make_node("ConstantOfShape", ["W_shape"], ["W"], value=numpy_helper.from_array(np.array([0.0], np.float32)))
    m = model([fill, helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 4])], [value("Y", [1, 3])], [shape])
    assert "placeholder-weights" in _ids(m)
    assert "placeholder-weights" not in _ids(_dense())


def _external_model(tmp_path, rows: int, cols: int, create: bool):
    """A MatMul whose weight lives in an external file (created, or left missing)."""
    w = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[rows, cols])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="weights.bin")
    w.external_data.add(key="length", value=str(rows * cols * 4))
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, rows])], [value("Y", [1, cols])], [w])
    if create:
        (tmp_path / "weights.bin").write_bytes(np.zeros(rows * cols, np.float32).tobytes())
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_large_tensor_fires_at_a_gibibyte(tmp_path):
    from mkdocs_onnx import analyze

    big = analyze(_external_model(tmp_path, 16384, 16384, create=False))  # 1 GiB declared, file not shipped
    ids = {k.id for k in big.risks}
    assert "large-tensor" in ids and "missing-external-data" in ids
    small = tmp_path / "small"
    small.mkdir()
    ok = analyze(_external_model(small, 64, 32, create=True))
    assert {k.id for k in ok.risks} & {"large-tensor", "missing-external-data"} == set()


# --- control flow -----------------------------------------------------------------------------------------------


def _loop(m_input: str, inits=(), inputs=()) -> onnx.ModelProto:
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "X"], ["acc_out"])],
        "body",
        [value("i", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("acc_in", [2, 3])],
        [value("cond_out", [], TensorProto.BOOL), value("acc_out", [2, 3])],
    )
    cond = numpy_helper.from_array(np.array(True), "c")
    node = helper.make_node("Loop", [m_input, "c", "X"], ["Y"], body=body)
    return model([node], [value("X", [2, 3]), *inputs], [value("Y", [2, 3])], [cond, *inits])


def test_loops_with_run_time_trip_counts_fire_static_ones_do_not():
    static = _loop("M", inits=[numpy_helper.from_array(np.array(5, np.int64), "M")])
    assert "dynamic-control-flow" not in _ids(static)
    dynamic = _loop("M", inputs=[value("M", [], TensorProto.INT64)])
    assert "dynamic-control-flow" in _ids(dynamic)
    until = _loop("M", inits=[numpy_helper.from_array(np.array(2**63 - 1, np.int64), "M")])
    assert "dynamic-control-flow" in _ids(until)  # M = INT64_MAX: "until cond is false"


def test_loop_trip_count_from_bound_shape_is_known():
    shape = [helper.make_node("Shape", ["S"], ["s"]), helper.make_node("ReduceProd", ["s"], ["M"], keepdims=0)]
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "X"], ["acc_out"])],
        "body", [value("i", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("acc_in", [2, 3])],
        [value("cond_out", [], TensorProto.BOOL), value("acc_out", [2, 3])])
    node = helper.make_node("Loop", ["M", "c", "X"], ["Y"], body=body)
    m = model([*shape, node], [value("X", [2, 3]), value("S", ["steps"])], [value("Y", [2, 3])],
              [numpy_helper.from_array(np.array(True), "c")])
    assert "dynamic-control-flow" in _ids(m)
    assert "dynamic-control-flow" not in _ids(m, dims={"steps": 4})


def test_scan_over_an_unbound_length_fires():
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
                              helper.make_node("Identity", ["s_out"], ["y_t"])], "body",
                             [value("s_in", [3]), value("x_t", [3])], [value("s_out", [3]), value("y_t", [3])])
    scan = helper.make_node("Scan", ["s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1)
    m = model([scan], [value("s0", [3]), value("xs", ["time", 3])], [value("ys", ["time", 3])])
    assert "dynamic-control-flow" in _ids(m)
    assert "dynamic-control-flow" not in _ids(m, dims={"time": 10})


# --- files and initializers ----------------------------------------------------------------------------------------


def test_missing_external_data_only_when_missing(tmp_path):
    from mkdocs_onnx import analyze

    assert "missing-external-data" in {k.id for k in analyze(_external_model(tmp_path, 8, 4, create=False)).risks}
    other = tmp_path / "ok"
    other.mkdir()
    assert "missing-external-data" not in {k.id for k in analyze(_external_model(other, 8, 4, create=True)).risks}


def test_unused_initializers_fire_and_subgraph_outputs_are_not_unused():
    m = _dense()
    m.graph.initializer.append(tensor("leftover", (8, 8)))
    r = analyze_model(m)
    note = next(k for k in r.risks if k.id == "unused-initializers")
    assert "1 constant tensor" in note.message and "leftover" in note.message

    k = tensor("k", (2, 3), value=1.0)
    then = helper.make_graph([], "then", [], [value("k", [2, 3])], initializer=[k])
    other = helper.make_graph([helper.make_node("Neg", ["X"], ["n"])], "else", [], [value("n", [2, 3])])
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=then, else_branch=other)
    branchy = model([node], [value("X", [2, 3]), value("cond", [], TensorProto.BOOL)], [value("Y", [2, 3])])
    assert "unused-initializers" not in _ids(branchy)  # the then-branch returns it


# --- the API -------------------------------------------------------------------------------------------------------------


def test_facts_built_by_hand_still_work():
    r = analyze_model(_dense())
    facts = Facts(2, ("W", 10), ["x"], ["com.example"], 1)
    ids = {k.id for k in assess(r, facts)}
    assert {"float64", "unused-initializers", "custom-domain", "dynamic-control-flow"} <= ids


def test_every_note_has_advice_and_a_known_severity(tmp_path):
    from mkdocs_onnx import analyze

    r = analyze(_external_model(tmp_path, 8, 4, create=False))
    for note in r.risks:
        assert note.severity in ("info", "warning", "error") and note.advice and note.message


# --- quantization and runtime optimizations ------------------------------------------------------


def _quantized_note(m: onnx.ModelProto) -> str:
    notes = {k.id: k for k in analyze_model(m).risks}
    return notes["quantized"].message if "quantized" in notes else ""


def test_the_quantization_format_is_named_with_what_it_needs():
    scale, zp = numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(0, np.uint8), "z")
    w = numpy_helper.from_array(np.ones((4, 3), np.int8), "Wq")
    # QDQ: activations quantized and dequantized around a float MatMul, the weight dequantized
    qdq = model([helper.make_node("QuantizeLinear", ["X", "s", "z"], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                 helper.make_node("DequantizeLinear", ["Wq", "s"], ["W"]),
                 helper.make_node("MatMul", ["xd", "W"], ["Y"])], [value("X", [2, 4])], [value("Y", [2, 3])],
                [scale, zp, w])
    assert _quantized_note(qdq) == "Quantized: QuantizeLinear/DequantizeLinear pairs (the QDQ format)."
    # weight-only: only the weights are stored quantized
    weight_only = model([helper.make_node("DequantizeLinear", ["Wq", "s"], ["W"]),
                         helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [2, 4])], [value("Y", [2, 3])],
                        [scale, w])
    assert "weight-only QDQ" in _quantized_note(weight_only)
    # dequantizing an input the model is given says nothing about its weights
    given = model([helper.make_node("DequantizeLinear", ["Xq", "s"], ["Y"])], [value("Xq", [2, 4], TensorProto.INT8)],
                  [value("Y", [2, 4])], [scale])
    assert _quantized_note(given) == ""
    # QOperator: the input quantized at the boundary, then an integer product; no QDQ claimed
    qop = model([helper.make_node("QuantizeLinear", ["X", "s", "z"], ["xq"]),
                 helper.make_node("QLinearMatMul", ["xq", "s", "z", "Wq", "s", "z", "s", "z"], ["Y"])],
                [value("X", [2, 4])], [value("Y", [2, 3], TensorProto.UINT8)],
                [scale, zp, numpy_helper.from_array(np.ones((4, 3), np.uint8), "Wq")])
    assert _quantized_note(qop) == "Quantized: integer operators (the QOperator format)."
    assert _quantized_note(_dense()) == ""


def test_a_model_saved_by_onnx_runtime_after_its_session_optimizations_says_so():
    fused = helper.make_node("FusedGemm", ["X", "W"], ["Y"], domain="com.microsoft", activation="Relu")
    m = model([fused], [value("X", [2, 4])], [value("Y", [2, 3])], [tensor("W", (4, 3))],
              extra_opsets=[("com.microsoft", 1)])
    note = next(k for k in analyze_model(m).risks if k.id == "runtime-optimized")
    assert "FusedGemm" in note.message and "execution providers" in note.advice
    # the transformer optimizer's fusions travel between providers: no such note
    gelu = helper.make_node("BiasGelu", ["X", "B"], ["Y"], domain="com.microsoft")
    m = model([gelu], [value("X", [2, 4])], [value("Y", [2, 4])], [tensor("B", (4,))],
              extra_opsets=[("com.microsoft", 1)])
    assert "runtime-optimized" not in _ids(m)
