"""Support vector machines of the classical-ML domain: SVMClassifier and SVMRegressor.

A kernel between a sample and one vector of C features costs, as the reference evaluator
computes it: LINEAR a dot product, 2C; POLY and SIGMOID the dot product, a multiply by
gamma, an add of coef0 and a power or a tanh, 2C + 3; RBF C differences, C squares summed
(2C), a multiply by −gamma and an exp, 3C + 2.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.ml import ML, class_count, post_transform, samples_and_features
from mkdocs_onnx.analysis.costs.registry import NodeContext, Uncountable, cost


def kernel_flops(ctx: NodeContext, features: int) -> int:
    """FLOPs of the node's kernel between a sample and one vector of ``features``."""
    kernel = ctx.attr("kernel_type", "LINEAR")
    per_kernel = {"LINEAR": 2 * features, "POLY": 2 * features + 3, "SIGMOID": 2 * features + 3,
                  "RBF": 3 * features + 2}.get(kernel)
    if per_kernel is None:
        raise Uncountable(f"{ctx.op_type} kernel_type '{kernel}' is not LINEAR, POLY, RBF or SIGMOID")
    return per_kernel


@cost("SVMRegressor", domain=ML)
def svm_regressor(ctx: NodeContext) -> int:
    """SVMRegressor, per sample: V kernels with a multiply-accumulate of their coefficient each, + rho
    (V = n_supports; without support vectors, one linear kernel with the coefficients), 1 comparison for
    a one-class SVM, and the score transform of the one score."""
    n, c = samples_and_features(ctx)
    supports = ctx.attr("n_supports", 0)
    per_sample = supports * (kernel_flops(ctx, c) + 2) + 1 if supports else 2 * c + 1
    if ctx.attr("one_class", 0):
        per_sample += 1
    return n * (per_sample + post_transform(ctx))


@cost("SVMClassifier", domain=ML)
def svm_classifier(ctx: NodeContext) -> int:
    """SVMClassifier, per sample, one-vs-one over K classes and V support vectors: V kernels, for each of the
    K(K−1)/2 class pairs the multiply-accumulates over both classes' vectors (2(K−1)·V in all), 2 adds and a
    vote, K − 1 comparisons for the label, and the score transform of the pair scores. Without support
    vectors (liblinear): K dot products (2C) + rho, the transform of the K scores and K − 1 comparisons."""
    n, c = samples_and_features(ctx)
    per_class = ctx.attr("vectors_per_class") or []
    vectors = sum(per_class)
    classes = max(class_count(ctx), 1)
    if not vectors:  # the kernel is linear whatever kernel_type says
        scores = classes
        per_sample = classes * (2 * c + 1)
    else:
        if ctx.attr("prob_a"):
            raise Uncountable("SVMClassifier probability estimates (prob_a, prob_b) iterate until they converge")
        scores = classes * (classes - 1) // 2
        per_sample = vectors * kernel_flops(ctx, c) + 2 * (classes - 1) * vectors + 3 * scores
    return n * (per_sample + scores * post_transform(ctx) + classes - 1)
