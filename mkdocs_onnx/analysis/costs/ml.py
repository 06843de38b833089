"""Classical machine-learning operators (the ``ai.onnx.ml`` domain).

Formulas follow each operator's definition in the ONNX-ML spec, with the conventions of
the other modules: a multiply-accumulate counts 2, a comparison, an add or an absolute
value 1, and the per-element costs of Sigmoid (4) and Softmax (5) for the score
transforms. N is the number of samples (rows of X, 1 for a 1-D X) and C the features.

A tree ensemble's cost depends on the path each sample takes; its figure is the
longest path of every tree, an upper bound, and the card's notes say so.

ONNX shape inference gives no shape for Scaler, Normalizer, Imputer and LinearRegressor
outputs; the shape functions below give them, so that what follows them is counted too.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from mkdocs_onnx.analysis.costs.elementwise import SOFTMAX_PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import NodeContext, TypeInfo, Uncountable, cost, shape

ML = "ai.onnx.ml"

# Score transforms (post_transform), FLOPs per score. PROBIT (an inverse error function)
# has no fixed cost to state, so a node using it is uncounted.
_POST_TRANSFORM = {"NONE": 0, "LOGISTIC": 4, "SOFTMAX": SOFTMAX_PER_ELEMENT, "SOFTMAX_ZERO": SOFTMAX_PER_ELEMENT}

# Operators that look up, pick or rearrange values (label and one-hot encodings, maps,
# feature selection): exactly 0 FLOPs, as for the default domain's data movement.
ZERO_FLOP_ML_OPS = ("ArrayFeatureExtractor", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
                    "LabelEncoder", "OneHotEncoder", "ZipMap")


@cost(*ZERO_FLOP_ML_OPS, domain=ML)
def no_arithmetic(ctx: NodeContext) -> int:
    """0 FLOPs: the operator looks values up, selects or rearranges them."""
    return 0


@shape("Scaler", "Normalizer", domain=ML)
def float_of_input_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Scaler and Normalizer: float values in X's shape."""
    return [(TensorProto.FLOAT, ctx.input_type(0)[1])]


@shape("Imputer", domain=ML)
def as_input(ctx: NodeContext) -> list[TypeInfo]:
    """Imputer: X with some values replaced, same type and shape."""
    return [ctx.input_type(0)]


@shape("LinearRegressor", domain=ML)
def linear_regressor_shape(ctx: NodeContext) -> list[TypeInfo]:
    """LinearRegressor: float [N, targets]."""
    x = ctx.input_type(0)[1]
    samples = None if x is None else (x[0] if len(x) == 2 else 1)
    return [(TensorProto.FLOAT, (samples, ctx.attr("targets", 1)))]


@cost("Scaler", domain=ML)
def scaler(ctx: NodeContext) -> int:
    """Scaler: (x − offset) · scale, 2 × input elements."""
    return 2 * ctx.input_numel(0)


@cost("Binarizer", "Imputer", domain=ML)
def compare_each(ctx: NodeContext) -> int:
    """Binarizer (x > threshold) and Imputer (x is the replaced value?): 1 comparison per input element."""
    return ctx.input_numel(0)


@cost("Normalizer", domain=ML)
def normalizer(ctx: NodeContext) -> int:
    """Normalizer, per row of C: MAX 2C − 1 (max, divides), L1 3C − 1 (abs, sum, divides), L2 3C (squares, sum, sqrt, divides)."""
    n, c = _samples_and_features(ctx)
    norm = ctx.attr("norm", "MAX")
    per_row = {"MAX": 2 * c - 1, "L1": 3 * c - 1, "L2": 3 * c}.get(norm)
    if per_row is None:
        raise Uncountable(f"Normalizer norm '{norm}' is not MAX, L1 or L2")
    return n * per_row


@cost("LinearRegressor", domain=ML)
def linear_regressor(ctx: NodeContext) -> int:
    """LinearRegressor: 2·N·T·C (X · coefficientsᵀ for T targets) + N·T with intercepts + the score transform of N·T scores."""
    n, c = _samples_and_features(ctx)
    targets = ctx.attr("targets", 1)
    return _linear_scores(ctx, n, c, targets) + n * targets * _post_transform(ctx)


@cost("LinearClassifier", domain=ML)
def linear_classifier(ctx: NodeContext) -> int:
    """LinearClassifier: 2·N·K·C for K score columns (+ N·K with intercepts), N negations when one column
    scores two classes, the score transform of the N·K' final scores, and N·(K' − 1) comparisons for the label."""
    n, c = _samples_and_features(ctx)
    coefficients = ctx.attr("coefficients") or []
    if c == 0 or len(coefficients) % c:
        raise Uncountable(f"LinearClassifier has {len(coefficients)} coefficients for {c} features")
    columns = len(coefficients) // c
    flops = _linear_scores(ctx, n, c, columns)
    scores = columns
    if columns == 1 and _class_count(ctx) == 2:  # one score column stands for two classes: [−s, s]
        flops += n
        scores = 2
    return flops + n * scores * _post_transform(ctx) + n * (scores - 1)


@cost("TreeEnsembleRegressor", domain=ML)
def tree_ensemble_regressor(ctx: NodeContext) -> int:
    """TreeEnsembleRegressor, at most, per sample: one comparison per branch on the longest path of each tree,
    one add (or comparison for MIN/MAX) per leaf weight reached, T with base values, T divides for AVERAGE,
    and the score transform of the T targets."""
    n = _samples(ctx)
    targets = ctx.attr("n_targets", 1)
    per_sample = _tree_work(ctx, "target") + _base_values(ctx, targets)
    if ctx.attr("aggregate_function", "SUM") == "AVERAGE":
        per_sample += targets
    return n * (per_sample + targets * _post_transform(ctx))


@cost("TreeEnsembleClassifier", domain=ML)
def tree_ensemble_classifier(ctx: NodeContext) -> int:
    """TreeEnsembleClassifier, at most, per sample: one comparison per branch on the longest path of each tree,
    one add per class weight reached, K with base values, 1 when the weights score one class of two,
    the score transform of the K scores and K − 1 comparisons for the label."""
    n = _samples(ctx)
    classes = _class_count(ctx)
    per_sample = _tree_work(ctx, "class") + _base_values(ctx, classes)
    if len(set(ctx.attr("class_ids") or [])) == 1 and classes == 2:  # the other class's score is derived
        per_sample += 1
    return n * (per_sample + classes * _post_transform(ctx) + classes - 1)


def _samples(ctx: NodeContext) -> int:
    shape = ctx.input_shape(0)
    return shape[0] if len(shape) == 2 else 1


def _samples_and_features(ctx: NodeContext) -> tuple[int, int]:
    """(N, C) of X, [N, C] or [C]."""
    shape = ctx.input_shape(0)
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) != 2:
        raise Uncountable(f"{ctx.op_type} input has rank {len(shape)}, not 1 or 2")
    return shape[0], shape[1]


def _linear_scores(ctx: NodeContext, n: int, c: int, columns: int) -> int:
    """X · Wᵀ for ``columns`` rows of W, and the intercepts' adds when there are any."""
    return 2 * n * columns * c + (n * columns if ctx.attr("intercepts") else 0)


def _post_transform(ctx: NodeContext) -> int:
    name = ctx.attr("post_transform", "NONE")
    per_score = _POST_TRANSFORM.get(name)
    if per_score is None:
        raise Uncountable(f"{ctx.op_type} post_transform '{name}' has no FLOPs formula")
    return per_score


def _class_count(ctx: NodeContext) -> int:
    return max(len(ctx.attr("classlabels_ints") or ctx.attr("classlabels_int64s") or []),
               len(ctx.attr("classlabels_strings") or []))


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
        modes = ctx.attr("nodes_modes") or []
        if not len(trees) or len({len(trees), len(ids), len(true_ids), len(false_ids), len(modes)}) != 1:
            raise Uncountable(f"{self.op_type} node attributes are missing or of different lengths")
        self.leaves = np.array([mode == "LEAF" for mode in modes])
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
