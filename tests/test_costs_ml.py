"""FLOPs of the classical-ML operators (ai.onnx.ml), each expected figure worked out by hand
from the operator's definition in the ONNX-ML spec."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from cost_helpers import flops, make_ctx, node_case
from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis.costs import Uncountable, cost_function
from mkdocs_onnx.analysis.costs.registry import int_array_attr
from mkdocs_onnx.analysis.index import Node

ML = "ai.onnx.ml"


def ml_flops(op, inputs, outputs=(("Y", None),), **attrs) -> int:
    return flops(op, inputs, outputs, domain=ML, **attrs)


def ml_notes(op, inputs, **attrs) -> list[str]:
    ctx = make_ctx(op, inputs, (("Y", None),), domain=ML, **attrs)
    cost_function(ML, op)(ctx)
    return ctx.notes


def test_linear_regressor_is_a_product_with_intercepts_and_its_score_transform():
    x = [("X", [4, 21])]
    coefficients = [0.5] * 42  # 2 targets × 21 features
    # X · Wᵀ: 4 samples × 2 targets × 21 features, a multiply-accumulate each = 2·4·2·21
    assert ml_flops("LinearRegressor", x, targets=2, coefficients=coefficients) == 336
    # + one add per score for the intercepts
    assert ml_flops("LinearRegressor", x, targets=2, coefficients=coefficients, intercepts=[1.0, 2.0]) == 336 + 8
    # + a sigmoid (4 FLOPs) per score
    assert ml_flops("LinearRegressor", x, targets=2, coefficients=coefficients, post_transform="LOGISTIC") == 336 + 32
    # a 1-D input is one sample
    assert ml_flops("LinearRegressor", [("X", [21])], coefficients=[0.5] * 21) == 42


def test_linear_classifier_adds_its_softmax_and_the_label_argmax():
    # 5 samples, 3 features, 4 classes: scores 2·5·4·3 = 120, intercepts 20,
    # softmax 5 per score = 100, argmax 3 comparisons per sample = 15
    assert ml_flops("LinearClassifier", [("X", [5, 3])], coefficients=[0.1] * 12, intercepts=[0.0] * 4,
                    classlabels_ints=[0, 1, 2, 3], post_transform="SOFTMAX") == 120 + 20 + 100 + 15


def test_binary_linear_classifier_scores_two_classes_from_one_column():
    # one column of 3 coefficients scores [−s, s] for two classes: 2·2·1·3 = 12, 2 negations,
    # a sigmoid on each of the 2 × 2 scores = 16, one comparison per sample for the label = 2
    assert ml_flops("LinearClassifier", [("X", [2, 3])], coefficients=[0.1] * 3, classlabels_ints=[0, 1],
                    post_transform="LOGISTIC") == 12 + 2 + 16 + 2


def test_linear_classifier_with_coefficients_that_do_not_divide_by_the_features_is_uncounted():
    with pytest.raises(Uncountable, match="7 coefficients for 3 features"):
        ml_flops("LinearClassifier", [("X", [2, 3])], coefficients=[0.1] * 7, classlabels_ints=[0, 1])


def test_probit_has_no_formula_and_says_so():
    with pytest.raises(Uncountable, match="post_transform 'PROBIT'"):
        ml_flops("LinearRegressor", [("X", [1, 2])], coefficients=[1.0, 1.0], post_transform="PROBIT")


def test_scaler_binarizer_imputer_and_normalizer_per_element_and_per_row():
    x = [("X", [6, 4])]
    assert ml_flops("Scaler", x, offset=[0.0] * 4, scale=[1.0] * 4) == 2 * 24  # subtract, multiply
    assert ml_flops("Binarizer", x, threshold=0.5) == 24  # one comparison each
    assert ml_flops("Imputer", x, imputed_value_floats=[0.0], replaced_value_float=-1.0) == 24
    rows = [("X", [2, 5])]
    assert ml_flops("Normalizer", rows, norm="MAX") == 2 * (4 + 5)  # max of 5, 5 divides, per row
    assert ml_flops("Normalizer", rows, norm="L1") == 2 * (5 + 4 + 5)  # abs, sum, divides
    assert ml_flops("Normalizer", rows, norm="L2") == 2 * (5 + 4 + 1 + 5)  # squares, sum, sqrt, divides


@pytest.mark.parametrize("op", ["ZipMap", "ArrayFeatureExtractor", "FeatureVectorizer", "OneHotEncoder",
                                "LabelEncoder", "CategoryMapper", "DictVectorizer", "CastMap"])
def test_lookups_and_rearrangements_are_a_known_zero(op):
    assert ml_flops(op, [("X", None)]) == 0


def _tree(tree_id: int, branches: dict[int, tuple[int, int]], leaves: list[int]) -> dict[str, list]:
    """Node attributes of one tree: ``branches`` node -> (true child, false child)."""
    ids = sorted([*branches, *leaves])
    return {
        "nodes_treeids": [tree_id] * len(ids), "nodes_nodeids": ids,
        "nodes_modes": ["BRANCH_LEQ" if i in branches else "LEAF" for i in ids],
        "nodes_truenodeids": [branches.get(i, (0, 0))[0] for i in ids],
        "nodes_falsenodeids": [branches.get(i, (0, 0))[1] for i in ids],
        "nodes_featureids": [0] * len(ids), "nodes_values": [0.5] * len(ids),
    }


def _ensemble(*trees: dict[str, list]) -> dict[str, list]:
    return {key: [v for t in trees for v in t[key]] for key in trees[0]}


# tree 0: root 0 -> leaf 1 | branch 2 -> leaves 3, 4 (longest path: 2 branches)
# tree 1: root 0 -> leaves 1, 2 (1 branch)
TWO_TREES = _ensemble(_tree(0, {0: (1, 2), 2: (3, 4)}, [1, 3, 4]), _tree(1, {0: (1, 2)}, [1, 2]))


def test_tree_ensemble_regressor_counts_the_longest_path_and_the_weights_reached():
    # leaves of tree 0 add one weight each; leaf 1 of tree 1 adds two (both targets), leaf 2 one
    weights = {"target_treeids": [0, 0, 0, 1, 1, 1], "target_nodeids": [1, 3, 4, 1, 1, 2],
               "target_ids": [0, 0, 0, 0, 1, 0], "target_weights": [1.0] * 6}
    # per sample: tree 0 2 comparisons + 1 add, tree 1 1 comparison + 2 adds, base values 2 adds = 8
    assert ml_flops("TreeEnsembleRegressor", [("X", [3, 4])], n_targets=2, base_values=[0.0, 0.0],
                    **TWO_TREES, **weights) == 3 * 8
    # AVERAGE divides each of the 2 targets by the tree count
    assert ml_flops("TreeEnsembleRegressor", [("X", [3, 4])], n_targets=2, base_values=[0.0, 0.0],
                    aggregate_function="AVERAGE", **TWO_TREES, **weights) == 3 * 10
    notes = ml_notes("TreeEnsembleRegressor", [("X", [3, 4])], n_targets=2, **TWO_TREES, **weights)
    assert notes == ["counted the longest root-to-leaf path of each of its 2 trees, an upper bound: "
                     "a sample that reaches a shallower leaf costs less."]


def test_tree_ensemble_classifier_adds_score_transform_and_label():
    one_tree = _tree(0, {0: (1, 2)}, [1, 2])
    # each leaf scores the 3 classes
    weights = {"class_treeids": [0] * 6, "class_nodeids": [1, 1, 1, 2, 2, 2], "class_ids": [0, 1, 2] * 2,
               "class_weights": [0.1] * 6}
    # per sample: 1 comparison, 3 adds, softmax of 3 scores 15, argmax 2 comparisons = 21
    assert ml_flops("TreeEnsembleClassifier", [("X", [1, 4])], classlabels_int64s=[0, 1, 2],
                    post_transform="SOFTMAX", **one_tree, **weights) == 21


def test_binary_tree_ensemble_classifier_derives_the_second_score():
    one_tree = _tree(0, {0: (1, 2)}, [1, 2])
    weights = {"class_treeids": [0, 0], "class_nodeids": [1, 2], "class_ids": [0, 0], "class_weights": [0.3, 0.7]}
    # per sample: 1 comparison, 1 add, 1 for the other class's score, sigmoid of 2 scores 8, 1 comparison
    assert ml_flops("TreeEnsembleClassifier", [("X", [2, 4])], classlabels_int64s=[0, 1],
                    post_transform="LOGISTIC", **one_tree, **weights) == 2 * 12


def test_malformed_trees_are_uncounted_with_the_reason():
    cyclic = _tree(0, {0: (1, 0)}, [1])  # node 0's false branch is itself
    with pytest.raises(Uncountable, match="not a set of trees"):
        ml_flops("TreeEnsembleRegressor", [("X", [1, 4])], **cyclic)
    shared = _tree(0, {0: (1, 1)}, [1])  # both branches lead to one node
    with pytest.raises(Uncountable, match="not a set of trees"):
        ml_flops("TreeEnsembleRegressor", [("X", [1, 4])], **shared)
    dangling = _tree(0, {0: (1, 9)}, [1])
    with pytest.raises(Uncountable, match="branches to node 9"):
        ml_flops("TreeEnsembleRegressor", [("X", [1, 4])], **dangling)


def test_a_scikit_learn_style_pipeline_is_counted_end_to_end():
    # Scaler -> LinearClassifier (label, probabilities) -> ZipMap, as skl2onnx writes a logistic regression
    nodes = [
        helper.make_node("Scaler", ["X"], ["scaled"], domain=ML, offset=[0.0] * 4, scale=[1.0] * 4),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"], domain=ML,
                         coefficients=[0.1] * 12, intercepts=[0.0] * 3, classlabels_ints=[0, 1, 2],
                         post_transform="SOFTMAX"),
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain=ML, classlabels_int64s=[0, 1, 2]),
    ]
    graph = helper.make_graph(nodes, "pipeline", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                               helper.make_tensor_value_info("output_probability", TensorProto.UNDEFINED, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, 1)])
    report = analyze_model(model, dims={"N": 10})
    scaler = 2 * 10 * 4
    classifier = 2 * 10 * 3 * 4 + 10 * 3 + 5 * 10 * 3 + 10 * 2
    assert report.flops.by_op_type == {"ai.onnx.ml.Scaler": scaler, "ai.onnx.ml.LinearClassifier": classifier,
                                       "ai.onnx.ml.ZipMap": 0}
    assert report.flops.total == scaler + classifier
    assert report.flops.uncounted_ops == {}


def test_outputs_onnx_inference_leaves_unshaped_get_shapes_so_what_follows_is_counted():
    # ONNX infers no shape for Imputer, Scaler, LinearRegressor or Normalizer outputs
    nodes = [
        helper.make_node("Imputer", ["X"], ["filled"], domain=ML, imputed_value_floats=[0.0], replaced_value_float=-1.0),
        helper.make_node("Scaler", ["filled"], ["scaled"], domain=ML, offset=[0.0] * 4, scale=[1.0] * 4),
        helper.make_node("LinearRegressor", ["scaled"], ["scores"], domain=ML, coefficients=[0.1] * 8,
                         intercepts=[0.0, 0.0], targets=2),
        helper.make_node("Normalizer", ["scores"], ["Y"], domain=ML, norm="L2"),
    ]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, 1)])
    report = analyze_model(model, dims={"N": 10})
    assert report.flops.uncounted_ops == {}
    assert report.flops.by_op_type == {
        "ai.onnx.ml.Imputer": 10 * 4,  # one comparison per element
        "ai.onnx.ml.Scaler": 2 * 10 * 4,
        "ai.onnx.ml.LinearRegressor": 2 * 10 * 2 * 4 + 10 * 2,  # product and intercepts
        "ai.onnx.ml.Normalizer": 10 * (3 * 2),  # per row of 2: squares, sum, sqrt, divides
    }
    assert report.graph.outputs[0].shape == [10, 2]


def test_id_lists_read_alike_from_indexed_nodes_protos_and_decoded_attributes():
    proto = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, nodes_nodeids=[0, 1, 2])
    indexed, decoded = Node(proto), Node(proto)
    decoded.attr("nodes_nodeids")  # read once: the node now holds a list
    for node in (proto, indexed, decoded):
        ids = int_array_attr(node, "nodes_nodeids")
        assert ids.dtype == np.int64 and ids.tolist() == [0, 1, 2]
        assert int_array_attr(node, "nodes_treeids").tolist() == []


def test_svm_regressor_kernels_per_support_vector():
    x = [("X", [2, 3])]
    # RBF over 3 features: 3 differences, 3 squares summed (6), × −gamma, exp = 11; + the coefficient's
    # multiply-accumulate = 13 per support vector; 4 vectors + rho = 53 per sample
    assert ml_flops("SVMRegressor", x, n_supports=4, kernel_type="RBF", coefficients=[1.0] * 4,
                    support_vectors=[0.0] * 12, rho=[0.5]) == 2 * 53
    assert ml_flops("SVMRegressor", x, n_supports=4, kernel_type="RBF", one_class=1, coefficients=[1.0] * 4,
                    support_vectors=[0.0] * 12, rho=[0.5]) == 2 * 54  # + the sign test
    # without support vectors: one dot product with the coefficients, + rho
    assert ml_flops("SVMRegressor", x, coefficients=[1.0] * 3, rho=[0.5]) == 2 * (2 * 3 + 1)


def test_svm_classifier_one_vs_one():
    x = [("X", [1, 4])]
    svc = dict(classlabels_ints=[0, 1, 2], vectors_per_class=[2, 1, 2], support_vectors=[0.0] * 20,
               coefficients=[1.0] * 10, rho=[0.0] * 3)
    # 5 linear kernels of 2·4 = 40; pairs (0,1), (0,2), (1,2) multiply-accumulate over 3, 4 and 3 vectors = 20;
    # 2 adds and a vote per pair = 9; the label's argmax over 3 votes = 2
    assert ml_flops("SVMClassifier", x, kernel_type="LINEAR", **svc) == 40 + 20 + 9 + 2
    # a polynomial kernel: 2·4 + 3 each
    assert ml_flops("SVMClassifier", x, kernel_type="POLY", **svc) == 5 * 11 + 20 + 9 + 2
    with pytest.raises(Uncountable, match="probability estimates"):
        ml_flops("SVMClassifier", x, kernel_type="LINEAR", prob_a=[1.0] * 3, prob_b=[0.0] * 3, **svc)


def test_linear_svm_classifier_without_support_vectors():
    # liblinear: a dot product and rho per class, softmax of the 3 scores, argmax
    assert ml_flops("SVMClassifier", [("X", [1, 4])], classlabels_ints=[0, 1, 2], coefficients=[1.0] * 12,
                    rho=[0.0], kernel_type="RBF", post_transform="SOFTMAX") == 3 * (8 + 1) + 15 + 2


def test_unified_tree_ensemble_with_a_set_membership_branch():
    from onnx import numpy_helper

    # tree A: node 0 (<=) -> leaf 0 | node 1 (member of {1, 2, 3}) -> leaves 1, 2; tree B: node 2 -> leaves 3, 4
    attrs = dict(
        tree_roots=[0, 2], n_targets=1, aggregate_function=0, post_transform=2,  # AVERAGE, LOGISTIC
        nodes_modes=numpy_helper.from_array(np.array([0, 6, 0], np.uint8)),
        membership_values=numpy_helper.from_array(np.array([1, 2, 3, np.nan], np.float32)),
        nodes_truenodeids=[0, 1, 3], nodes_trueleafs=[1, 1, 1],
        nodes_falsenodeids=[1, 2, 4], nodes_falseleafs=[0, 1, 1],
        nodes_featureids=[0, 1, 2], nodes_splits=numpy_helper.from_array(np.zeros(3, np.float32)),
        leaf_targetids=[0] * 5, leaf_weights=numpy_helper.from_array(np.ones(5, np.float32)))
    # per sample: tree A's costliest path 1 + 3 comparisons, tree B's 1; a leaf weight added per tree (2);
    # the average's divide (1); a sigmoid (4) on the one target = 12
    assert ml_flops("TreeEnsemble", [("X", [2, 3])], **attrs) == 2 * 12
    broken = {**attrs, "nodes_falsenodeids": [1, 7, 4], "nodes_falseleafs": [0, 0, 1]}
    with pytest.raises(Uncountable, match="does not hold"):
        ml_flops("TreeEnsemble", [("X", [2, 3])], **broken)


@pytest.mark.parametrize("case_name, expected", [
    # 3 samples; the root leads to two branch nodes: 2 comparisons, then 1 leaf weight added
    ("test_ai_onnx_ml_tree_ensemble_single_tree", 3 * (2 + 1)),
    # 6 samples; root (1) -> a 4-member set (4) -> a 2-member set (2), then 1 leaf weight
    ("test_ai_onnx_ml_tree_ensemble_set_membership", 6 * (1 + 4 + 2 + 1)),
])
def test_onnx_own_tree_ensemble_cases(case_name, expected):
    report = analyze_model(node_case(case_name).model, name=case_name)
    assert report.flops.total == expected and report.flops.uncounted_ops == {}
