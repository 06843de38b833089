"""Learned values that classical-ML operators hold in attributes, not in tensors.

A linear model's coefficients, an SVM's support vectors and a tree ensemble's split
thresholds and leaf weights are written as attributes of their ``ai.onnx.ml`` node. They
are what such a model learned, so a card that said "0 parameters" for them would mislead;
they are not weight tensors either (``params.total`` counts those), so they are counted
apart, by operator. Values a node only configures itself with (a post transform, class
labels, category vocabularies, tree structure) are not counted.
"""

from __future__ import annotations

import math
from typing import Any

from onnx import AttributeProto, TensorProto

from mkdocs_onnx.analysis.index import IndexedModel, Node

ML = "ai.onnx.ml"

_TREE_WEIGHTS = ("base_values", "base_values_as_tensor")
# op type -> the attributes whose elements are learned values (list, scalar or tensor attributes)
LEARNED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "LinearClassifier": ("coefficients", "intercepts"),
    "LinearRegressor": ("coefficients", "intercepts"),
    "SVMClassifier": ("coefficients", "support_vectors", "rho", "prob_a", "prob_b"),
    "SVMRegressor": ("coefficients", "support_vectors", "rho"),
    "Scaler": ("offset", "scale"),
    "Binarizer": ("threshold",),
    "Imputer": ("imputed_value_floats", "imputed_value_int64s"),
    "TreeEnsembleClassifier": ("class_weights", "class_weights_as_tensor", *_TREE_WEIGHTS),
    "TreeEnsembleRegressor": ("target_weights", "target_weights_as_tensor", *_TREE_WEIGHTS),
    "TreeEnsemble": ("nodes_splits", "leaf_weights"),  # ai.onnx.ml 5: one split per branch node
}
# Legacy tree ensembles list a threshold for every node, leaves included (unused there).
_LEGACY_TREES = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})


def count_attribute_params(index: IndexedModel) -> dict[str, int]:
    """``ai.onnx.ml.<op type>`` -> the learned values its nodes hold in attributes, subgraphs included."""
    counts: dict[str, int] = {}
    for node in index.nodes():
        names = LEARNED_ATTRIBUTES.get(node.op_type) if node.domain == ML else None
        if names is None:
            continue
        held = sum(_element_count(node.attrs.get(name)) for name in names)
        if node.op_type in _LEGACY_TREES:
            held += _branch_count(node)
        if held:
            key = f"{ML}.{node.op_type}"
            counts[key] = counts.get(key, 0) + held
    return counts


def _element_count(value: Any) -> int:
    """Elements of an attribute as the index holds it: undecoded, or decoded (a list, a tensor, a number)."""
    if value is None:
        return 0
    if type(value) is AttributeProto:  # not decoded yet: read the length, not the items
        if value.type == AttributeProto.FLOATS:
            return len(value.floats)
        if value.type == AttributeProto.INTS:
            return len(value.ints)
        if value.type == AttributeProto.TENSOR:
            return math.prod(value.t.dims)
        return 1 if value.type in (AttributeProto.FLOAT, AttributeProto.INT) else 0
    if isinstance(value, TensorProto):
        return math.prod(value.dims)
    if isinstance(value, list):
        return len(value)
    return 1 if isinstance(value, (int, float)) else 0


def _branch_count(node: Node) -> int:
    """The nodes of a legacy tree ensemble that split (each holds a threshold; leaves hold none)."""
    modes = node.attrs.get("nodes_modes")
    if type(modes) is AttributeProto:
        modes = modes.strings
    return sum(1 for mode in modes or () if mode not in (b"LEAF", "LEAF"))
