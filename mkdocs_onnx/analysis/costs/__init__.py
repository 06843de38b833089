"""Per-operator FLOPs formulas and contrib-operator shape functions.

Importing this package registers every formula (see :mod:`.registry` for the contract
and the conventions: a multiply-accumulate is 2 FLOPs, an uncountable node raises
:class:`Uncountable` rather than counting 0). Formulas are grouped by family, like
``onnx.reference.ops``; each one's docstring is its one-line formula.
"""

from mkdocs_onnx.analysis.costs.registry import (
    NodeContext,
    SubgraphCost,
    Uncountable,
    cost_function,
    registered_costs,
    shape_function,
    subgraph_inputs_function,
)

# imported for their registrations
from mkdocs_onnx.analysis.costs import (  # noqa: E402,F401
    attention,
    control_flow,
    conv,
    data_dependent,
    data_movement,
    diffusion,
    elementwise,
    losses,
    matmul,
    ml,
    moe,
    normalization,
    pooling,
    qoperator,
    quantized,
    reduce,
    resize,
    rnn,
    sampling,
    signal,
    state_space,
    svm,
    text,
    trees,
)

__all__ = ["NodeContext", "Uncountable", "SubgraphCost", "cost_function", "shape_function", "subgraph_inputs_function",
           "registered_costs"]
