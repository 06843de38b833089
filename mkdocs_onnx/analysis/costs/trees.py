"""Tree ensembles of the classical-ML domain: TreeEnsembleClassifier/Regressor and, from
ai.onnx.ml 5, TreeEnsemble.

A sample's cost depends on the path it takes through each tree; the figure is that of
the longest path of every tree, an upper bound, and the card's notes say so. Ensembles
hold up to hundreds of thousands of nodes, so they are walked as arrays, a level at a
time, rather than node by node.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from mkdocs_onnx.analysis.costs.ml import (ML, SIGMOID_PER_ELEMENT, SOFTMAX_PER_ELEMENT, class_count, post_transform,
                                           samples)
from mkdocs_onnx.analysis.costs.registry import NodeContext, Uncountable, cost, node_attr


@cost("TreeEnsembleRegressor", domain=ML)
def tree_ensemble_regressor(ctx: NodeContext) -> int:
    """TreeEnsembleRegressor, at most, per sample: one comparison per branch on the longest path of each tree,
    one add (or comparison for MIN/MAX) per leaf weight reached, T with base values, T divides for AVERAGE,
    and the score transform of the T targets."""
    n = samples(ctx)
    targets = ctx.attr("n_targets", 1)
    per_sample = _tree_work(ctx, "target") + _base_values(ctx, targets)
    if ctx.attr("aggregate_function", "SUM") == "AVERAGE":
        per_sample += targets
    return n * (per_sample + targets * post_transform(ctx))


@cost("TreeEnsembleClassifier", domain=ML)
def tree_ensemble_classifier(ctx: NodeContext) -> int:
    """TreeEnsembleClassifier, at most, per sample: one comparison per branch on the longest path of each tree,
    one add per class weight reached, K with base values, 1 when the weights score one class of two,
    the score transform of the K scores and K − 1 comparisons for the label."""
    n = samples(ctx)
    classes = class_count(ctx)
    per_sample = _tree_work(ctx, "class") + _base_values(ctx, classes)
    if classes == 2 and len(np.unique(ctx.int_array("class_ids"))) == 1:  # the other class's score is derived
        per_sample += 1
    return n * (per_sample + classes * post_transform(ctx) + classes - 1)


@cost("TreeEnsemble", domain=ML)
def tree_ensemble(ctx: NodeContext) -> int:
    """TreeEnsemble (ai.onnx.ml 5), at most, per sample: the comparisons on the longest path of each tree
    (one per branch, one per member of a set-membership branch's set), one add (or comparison for MIN/MAX)
    per tree for the leaf reached, T divides for AVERAGE, and the score transform of the T targets."""
    n = samples(ctx)
    targets = ctx.attr("n_targets", 1)
    per_sample = _unified_longest_paths(ctx)
    roots = len(ctx.attr("tree_roots") or [])
    per_sample += roots + (targets if ctx.attr("aggregate_function", 1) == _AVERAGE else 0)
    transform = _UNIFIED_POST_TRANSFORM.get(ctx.attr("post_transform", 0))
    if transform is None:
        raise Uncountable(f"TreeEnsemble post_transform {ctx.attr('post_transform')} has no FLOPs formula")
    ctx.notes.append(f"counted the longest root-to-leaf path of each of its {roots} trees, "
                     "an upper bound: a sample that reaches a shallower leaf costs less.")
    return n * (per_sample + targets * transform)


# TreeEnsemble's enums: aggregate_function AVERAGE; post_transform NONE, SOFTMAX, LOGISTIC,
# SOFTMAX_ZERO (PROBIT, 4, has no fixed cost); nodes_modes BRANCH_MEMBER.
_AVERAGE = 0
_UNIFIED_POST_TRANSFORM = {0: 0, 1: SOFTMAX_PER_ELEMENT, 2: SIGMOID_PER_ELEMENT, 3: SOFTMAX_PER_ELEMENT}
_MEMBER = 6


def _unified_longest_paths(ctx: NodeContext) -> int:
    """Σ over trees of the comparisons on the costliest root-to-leaf path of TreeEnsemble's trees.

    Its branch nodes are numbered from 0; each child is a node or, where the ``*_leafs``
    flag is set, a leaf. Leaves cost nothing more, so a tree's costliest path ends at the
    branch node with the largest cost so far plus its own.
    """
    true_ids, false_ids = ctx.int_array("nodes_truenodeids"), ctx.int_array("nodes_falsenodeids")
    true_leaf, false_leaf = ctx.int_array("nodes_trueleafs") != 0, ctx.int_array("nodes_falseleafs") != 0
    roots = ctx.int_array("tree_roots")
    branches = len(true_ids)
    if not branches or len({branches, len(false_ids), len(true_leaf), len(false_leaf)}) != 1:
        raise Uncountable("TreeEnsemble node attributes are missing or of different lengths")
    if (roots < 0).any() or (roots >= branches).any():
        raise Uncountable("TreeEnsemble tree_roots name nodes it does not hold")
    own = _comparisons_per_node(ctx, branches)
    best = np.zeros(len(roots), dtype=np.int64)
    level, tree, before, visits = roots, np.arange(len(roots)), np.zeros(len(roots), dtype=np.int64), 0
    while level.size:
        visits += level.size
        if visits > branches:  # in trees no node is reached twice (a cycle would never end)
            raise Uncountable("TreeEnsemble is not a set of trees (a node is reached twice)")
        through = before + own[level]
        np.maximum.at(best, tree, through)
        to_true, to_false = ~true_leaf[level], ~false_leaf[level]
        children = np.concatenate([true_ids[level][to_true], false_ids[level][to_false]])
        if ((children < 0) | (children >= branches)).any():
            raise Uncountable("TreeEnsemble branches to a node it does not hold")
        level = children
        tree = np.concatenate([tree[to_true], tree[to_false]])
        before = np.concatenate([through[to_true], through[to_false]])
    return int(best.sum())


def _comparisons_per_node(ctx: NodeContext, branches: int) -> np.ndarray:
    """1 per branch node; a set-membership node compares with each member of its set
    (``membership_values`` lists the sets in node order, each ended by a NaN)."""
    own = np.ones(branches, dtype=np.int64)
    modes = ctx.attr("nodes_modes")
    if modes is None:
        return own
    members_at = np.flatnonzero(_tensor_values(modes) == _MEMBER)
    if members_at.size:
        values = _tensor_values(ctx.attr("membership_values"))
        ends = np.flatnonzero(np.isnan(values))
        if values.size and not np.isnan(values[-1]):  # the last set may go unterminated
            ends = np.append(ends, values.size)
        sizes = np.diff(np.concatenate([[-1], ends])) - 1
        if len(sizes) < members_at.size:
            raise Uncountable("TreeEnsemble membership_values hold fewer sets than its BRANCH_MEMBER nodes")
        own[members_at] = np.maximum(np.asarray(sizes[: members_at.size], dtype=np.int64), 1)
    return own


def _tensor_values(value) -> np.ndarray:
    """A tensor attribute's values (from its protobuf or an indexed tensor)."""
    if value is None:
        return np.zeros(0)
    return numpy_helper.to_array(getattr(value, "proto", value)).ravel()


def _base_values(ctx: NodeContext, count: int) -> int:
    """The adds of the base values (one per score) when the node has any."""
    return count if ctx.attr("base_values") or ctx.attr("base_values_as_tensor") is not None else 0


def _tree_work(ctx: NodeContext, weights: str) -> int:
    """Per sample, at most: the branches on each tree's longest path, and the most weights a leaf adds.

    ``weights``: 'class' or 'target', the prefix of the attributes that attach weights to leaves.
    """
    ensemble = _Ensemble(ctx)
    depth = ensemble.depths()
    reached = ensemble.leaves & (depth >= 0)  # leaves no root leads to cost nothing
    weights_per_leaf = ensemble.count_at_nodes(ctx.int_array(f"{weights}_treeids"), ctx.int_array(f"{weights}_nodeids"))
    ctx.notes.append(f"counted the longest root-to-leaf path of each of its {ensemble.tree_count} trees, "
                     "an upper bound: a sample that reaches a shallower leaf costs less.")
    return ensemble.sum_of_tree_maxima(depth, reached) + ensemble.sum_of_tree_maxima(weights_per_leaf, reached)


class _Ensemble:
    """The trees of a TreeEnsembleClassifier/Regressor, as its node attributes describe them.

    Ensembles hold up to hundreds of thousands of nodes, so they are walked as arrays,
    a level at a time, rather than node by node.
    """

    def __init__(self, ctx: NodeContext):
        self.op_type = ctx.op_type
        trees, ids, true_ids, false_ids = (ctx.int_array(name) for name in
                                           ("nodes_treeids", "nodes_nodeids", "nodes_truenodeids", "nodes_falsenodeids"))
        modes = node_attr(ctx.node, "nodes_modes") or []  # bytes, compared as they are (not decoded)
        if not len(trees) or len({len(trees), len(ids), len(true_ids), len(false_ids), len(modes)}) != 1:
            raise Uncountable(f"{self.op_type} node attributes are missing or of different lengths")
        self.leaves = np.array([mode == b"LEAF" for mode in modes], dtype=bool)
        # each tree's first node is its root, as the reference evaluator reads it
        tree_values, self.roots, self.tree_of = np.unique(trees, return_index=True, return_inverse=True)
        self.tree_count = len(tree_values)
        # (tree, node id) pairs as one sortable key, to find a node's position from its id
        self._width = int(max(ids.max(), true_ids.max(), false_ids.max())) + 1
        if min(ids.min(), true_ids.min(), false_ids.min()) < 0:
            raise Uncountable(f"{self.op_type} has negative node ids")
        keys = trees * self._width + ids
        self._order = np.argsort(keys, kind="stable")
        self._sorted_keys = keys[self._order]
        branches = ~self.leaves
        self.true_at = self._positions(trees[branches], true_ids[branches])
        self.false_at = self._positions(trees[branches], false_ids[branches])
        self.branch_number = np.cumsum(branches) - 1  # a branch's row in true_at/false_at

    def _positions(self, trees: np.ndarray, ids: np.ndarray, *, missing: str = "raise") -> np.ndarray:
        """The positions of nodes ``ids`` of ``trees`` (−1 for those not held, when ``missing`` is 'skip')."""
        keys = trees * self._width + ids
        found = np.searchsorted(self._sorted_keys, keys)
        found = np.minimum(found, len(self._sorted_keys) - 1)
        held = self._sorted_keys[found] == keys
        if missing == "raise" and not held.all():
            tree, node = trees[~held][0], ids[~held][0]
            raise Uncountable(f"{self.op_type} tree {tree} branches to node {node}, which it does not hold")
        return np.where(held, self._order[found], -1)

    def depths(self) -> np.ndarray:
        """Each node's depth (the branches above it), −1 where no root leads."""
        depth = np.full(len(self.leaves), -1, dtype=np.int64)
        level, d, visits = self.roots, 0, 0
        while level.size:
            visits += level.size
            if visits > len(depth):  # in trees no node is reached twice (a cycle would never end)
                raise Uncountable(f"{self.op_type} is not a set of trees (a node is reached twice)")
            depth[level] = d
            rows = self.branch_number[level[~self.leaves[level]]]
            level, d = np.concatenate([self.true_at[rows], self.false_at[rows]]), d + 1
        return depth

    def count_at_nodes(self, trees: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """How many of the (tree, node) pairs name each node (weights attached to leaves)."""
        counts = np.zeros(len(self.leaves), dtype=np.int64)
        if len(trees) and len(trees) == len(ids):
            positions = self._positions(trees, ids, missing="skip")
            np.add.at(counts, positions[positions >= 0], 1)
        return counts

    def sum_of_tree_maxima(self, per_node: np.ndarray, where: np.ndarray) -> int:
        """Σ over trees of the largest ``per_node`` value among the tree's ``where`` nodes."""
        maxima = np.zeros(self.tree_count, dtype=np.int64)
        np.maximum.at(maxima, self.tree_of[where], per_node[where])
        return int(maxima.sum())
