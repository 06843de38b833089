"""Learned values that classical-ML operators hold in attributes (params.in_attributes),
each expected count read off the attributes the test writes."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.render.card import render_card
from mkdocs_onnx.render.index import models_csv, render_index
from mkdocs_onnx.render.terminal import render_text_card

try:
    from test_render_factory import mnist_ctx
    from test_render_helpers import to_html
except ImportError:  # tests/ is a package
    from tests.test_render_factory import mnist_ctx
    from tests.test_render_helpers import to_html

ML = "ai.onnx.ml"


def ml_model(nodes, inputs, outputs, ml_opset: int = 3):
    graph = helper.make_graph(nodes, "classical", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, ml_opset)])


def features(n: int = 4):
    return [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n])]


def test_a_scaled_logistic_regression_holds_its_coefficients_intercepts_offsets_and_scales():
    nodes = [
        helper.make_node("Scaler", ["X"], ["scaled"], domain=ML, offset=[0.0] * 4, scale=[1.0] * 4),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "scores"], domain=ML, coefficients=[0.1] * 12,
                         intercepts=[0.0] * 3, classlabels_ints=[0, 1, 2], post_transform="SOFTMAX"),
        helper.make_node("ZipMap", ["scores"], ["probabilities"], domain=ML, classlabels_int64s=[0, 1, 2]),
    ]
    report = analyze_model(ml_model(nodes, features(), [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])]))
    # 3 classes × 4 features + 3 intercepts; 4 offsets + 4 scales; class labels are not learned values
    assert report.params.in_attributes_by_op == {"ai.onnx.ml.LinearClassifier": 15, "ai.onnx.ml.Scaler": 8}
    assert report.params.in_attributes == 23
    assert report.params.total == 0  # no weight tensors: the contract's figure stays as it is


def _legacy_trees(**weights):
    # tree 0: root 0 -> leaf 1 | branch 2 -> leaves 3, 4; tree 1: root 0 -> leaves 1, 2
    return helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=2,
        nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1], nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
        nodes_modes=["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 3, 0, 0, 1, 0, 0], nodes_falsenodeids=[2, 0, 4, 0, 0, 2, 0, 0],
        nodes_featureids=[0] * 8, nodes_values=[0.5] * 8,
        target_treeids=[0, 0, 0, 1, 1, 1], target_nodeids=[1, 3, 4, 1, 1, 2], target_ids=[0, 0, 0, 0, 1, 0],
        **weights)


def test_a_tree_ensemble_holds_one_threshold_per_branch_its_leaf_weights_and_base_values():
    report = analyze_model(ml_model([_legacy_trees(target_weights=[0.1] * 6, base_values=[0.0, 0.0])], features(),
                                    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2])]))
    # 3 branch nodes (leaves list a threshold too, unused), 6 leaf weights, 2 base values
    assert report.params.in_attributes_by_op == {"ai.onnx.ml.TreeEnsembleRegressor": 3 + 6 + 2}


def test_tensor_valued_attributes_count_their_elements():
    weights = numpy_helper.from_array(np.full(6, 0.1, np.float32), "w")
    base = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    report = analyze_model(ml_model([_legacy_trees(target_weights_as_tensor=weights, base_values_as_tensor=base)],
                                    features(), [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2])]))
    assert report.params.in_attributes == 3 + 6 + 2


def test_the_unified_tree_ensemble_holds_its_splits_and_leaf_weights():
    # ai.onnx.ml 5 TreeEnsemble: one tree, two splits, three leaves
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain=ML, n_targets=1, aggregate_function=1, post_transform=0, tree_roots=[0],
        nodes_featureids=[0, 1], nodes_modes=numpy_helper.from_array(np.zeros(2, np.uint8)),
        nodes_splits=numpy_helper.from_array(np.array([0.5, 1.5], np.float32)),
        nodes_truenodeids=[0, 1], nodes_trueleafs=[1, 1], nodes_falsenodeids=[1, 2], nodes_falseleafs=[0, 1],
        leaf_targetids=[0, 0, 0], leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32)))
    report = analyze_model(ml_model([node], features(2), [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
                                    ml_opset=5))
    assert report.params.in_attributes_by_op == {"ai.onnx.ml.TreeEnsemble": 2 + 3}
    assert report.flops.total == 2 + 1  # the two splits on the longest path, the leaf's weight


def test_neural_networks_hold_nothing_in_attributes():
    ctx = mnist_ctx()
    assert ctx.report.params.in_attributes == 0
    html = to_html(render_card(ctx, []))
    assert "Held in operator attributes" not in html


def test_card_index_csv_and_terminal_show_the_values_held_in_attributes():
    ctx = mnist_ctx()
    ctx.report.params.in_attributes = 3348
    ctx.report.params.in_attributes_by_op = {"ai.onnx.ml.TreeEnsembleClassifier": 3348}
    card = to_html(render_card(ctx, []))
    assert "Held in operator attributes" in card and "3,348" in card
    assert 'id="fn:attributes"' in card and 'href="#fn:attributes"' in card
    index = to_html(render_index([ctx], []))
    assert "+ 3,348 in attributes" in index
    row = list(csv.DictReader(io.StringIO(models_csv([ctx]))))[0]
    assert row["params_in_attributes"] == "3348" and row["params_total"] == str(ctx.report.params.total)
    assert "Held in operator attributes: 3,348 learned values" in render_text_card(ctx.report)


def test_the_demo_boosted_trees_figures_follow_from_their_shape():
    from helpers import REPO
    from mkdocs_onnx import analyze

    trees, depth, classes = 10 * 3, 3, 3  # 10 boosting stages × 3 classes, full trees of depth 3
    r = analyze(REPO / "models" / "boosted_trees.onnx")
    # per sample: a comparison per level and one leaf weight per tree, the base values, a softmax
    # of 5 FLOPs per class score and an argmax over the classes
    assert r.flops.total == trees * depth + trees + classes + 5 * classes + (classes - 1)
    # a threshold per branch node (2^depth − 1), a weight per leaf (2^depth), the base values
    assert r.params.in_attributes == trees * (2**depth - 1) + trees * 2**depth + classes
    assert r.architecture.family == "classical-ml" and r.flops.uncounted_ops == {}


def test_the_parameter_chart_of_a_classical_model_draws_what_its_operators_hold():
    from mkdocs_onnx.render.charts import params_chart

    ctx = mnist_ctx()
    report = ctx.report
    report.params.total, report.params.by_dtype = 0, {}
    report.nodes = []  # no weight tensors, so no per-node weights either
    report.params.in_attributes = 453
    report.params.in_attributes_by_op = {"ai.onnx.ml.TreeEnsembleClassifier": 453}
    chart = params_chart(report)
    assert chart.alt == ("Bar chart of learned values held in operator attributes by operator type: "
                         "ai.onnx.ml.TreeEnsembleClassifier 453.")
    assert "No weights" not in chart.svg


def test_peak_memory_with_one_value_of_unknown_size_is_worded_in_the_singular():
    ctx = mnist_ctx()
    ctx.report.memory.activations_unknown = 1
    assert "the size of 1 intermediate value is unknown" in render_card(ctx, [])
    assert "lower bound, 1 value of unknown size" in render_text_card(ctx.report)
    ctx.report.memory.activations_unknown = 3
    assert "the sizes of 3 intermediate values are unknown" in re.sub(r"<[^>]+>", "", render_card(ctx, []))
