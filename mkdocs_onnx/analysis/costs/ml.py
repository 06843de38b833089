"""Classical machine-learning operators (the ``ai.onnx.ml`` domain).

Formulas follow each operator's definition in the ONNX-ML spec, with the conventions of
the other modules: a multiply-accumulate counts 2, a comparison, an add or an absolute
value 1, and the per-element costs of Sigmoid (4) and Softmax (5) for the score
transforms. N is the number of samples (rows of X, 1 for a 1-D X) and C the features.

Tree ensembles are in :mod:`.trees`, support vector machines in :mod:`.svm`; the
helpers they share with the linear models are here.

ONNX shape inference gives no shape for Scaler, Normalizer, Imputer and LinearRegressor
outputs; the shape functions below give them, so that what follows them is counted too.
"""

from __future__ import annotations

from onnx import TensorProto

from mkdocs_onnx.analysis.costs.elementwise import PER_ELEMENT, SOFTMAX_PER_ELEMENT
from mkdocs_onnx.analysis.costs.registry import NodeContext, TypeInfo, Uncountable, cost, shape

ML = "ai.onnx.ml"

# Score transforms (post_transform), FLOPs per score. PROBIT (an inverse error function)
# has no fixed cost to state, so a node using it is uncounted.
SIGMOID_PER_ELEMENT = PER_ELEMENT["Sigmoid"][0]
_POST_TRANSFORM = {"NONE": 0, "LOGISTIC": SIGMOID_PER_ELEMENT, "SOFTMAX": SOFTMAX_PER_ELEMENT,
                   "SOFTMAX_ZERO": SOFTMAX_PER_ELEMENT}

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
    n, c = samples_and_features(ctx)
    norm = ctx.attr("norm", "MAX")
    per_row = {"MAX": 2 * c - 1, "L1": 3 * c - 1, "L2": 3 * c}.get(norm)
    if per_row is None:
        raise Uncountable(f"Normalizer norm '{norm}' is not MAX, L1 or L2")
    return n * per_row


@cost("LinearRegressor", domain=ML)
def linear_regressor(ctx: NodeContext) -> int:
    """LinearRegressor: 2·N·T·C (X · coefficientsᵀ for T targets) + N·T with intercepts + the score transform of N·T scores."""
    n, c = samples_and_features(ctx)
    targets = ctx.attr("targets", 1)
    return _linear_scores(ctx, n, c, targets) + n * targets * post_transform(ctx)


@cost("LinearClassifier", domain=ML)
def linear_classifier(ctx: NodeContext) -> int:
    """LinearClassifier: 2·N·K·C for K score columns (+ N·K with intercepts), N negations when one column
    scores two classes, the score transform of the N·K' final scores, and N·(K' − 1) comparisons for the label."""
    n, c = samples_and_features(ctx)
    coefficients = ctx.attr("coefficients") or []
    if c == 0 or len(coefficients) % c:
        raise Uncountable(f"LinearClassifier has {len(coefficients)} coefficients for {c} features")
    columns = len(coefficients) // c
    flops = _linear_scores(ctx, n, c, columns)
    scores = columns
    if columns == 1 and class_count(ctx) == 2:  # one score column stands for two classes: [−s, s]
        flops += n
        scores = 2
    return flops + n * scores * post_transform(ctx) + n * (scores - 1)


def samples(ctx: NodeContext) -> int:
    """N: the rows of X, 1 for a 1-D X."""
    shape = ctx.input_shape(0)
    return shape[0] if len(shape) == 2 else 1


def samples_and_features(ctx: NodeContext) -> tuple[int, int]:
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


def post_transform(ctx: NodeContext) -> int:
    """FLOPs per score of the node's score transform."""
    name = ctx.attr("post_transform", "NONE")
    per_score = _POST_TRANSFORM.get(name)
    if per_score is None:
        raise Uncountable(f"{ctx.op_type} post_transform '{name}' has no FLOPs formula")
    return per_score


def class_count(ctx: NodeContext) -> int:
    """K: the node's class labels, integer or string."""
    return max(len(ctx.attr("classlabels_ints") or ctx.attr("classlabels_int64s") or []),
               len(ctx.attr("classlabels_strings") or []))
