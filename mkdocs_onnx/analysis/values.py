"""Values of small integer tensors computed by the graph itself (shape arithmetic).

Exported PyTorch and TensorFlow models compute Reshape targets and Resize sizes with
Shape → Gather → Unsqueeze → Concat chains. ONNX data propagation covers only part of
these; evaluating the few operators involved, on tiny tensors, lets every downstream
shape become static. One small function per operator, as in the cost registry.

:class:`Values` holds them with the model's small constants, each decoded or evaluated
when first read.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import numpy as np
import onnx

from mkdocs_onnx.analysis.costs.registry import node_attr
from mkdocs_onnx.analysis.index import Node
from mkdocs_onnx.analysis.tensors import SMALL_CONSTANT_ELEMENTS, to_array

Value = Optional[np.ndarray]
Evaluator = Callable[[Node, list[Value], list], list[Value]]
# Deferred work: (its rank in deferral order, the outputs it sets, the inputs it reads, the
# function and its arguments). A plain tuple, and no closure: thousands are made per model,
# and most never run.
_Deferred = tuple[int, Sequence[str], Sequence[str], Callable[..., None], tuple]

_EVALUATORS: dict[str, Evaluator] = {}
EVALUATED_OPS = _EVALUATORS.keys()  # the default-domain operators with an evaluator


class Values:
    """Small tensor values by name: the model's constants, and values its nodes compute.

    A mapping (``in``, ``get``, ``[]``) whose entries may be deferred: a constant is
    decoded, and a node whose outputs already have static types is evaluated, only when
    one of its values is first read. Most values are never read (biases, normalization
    statistics, the small float fills of weights in files shipped without them); those
    that are (a Reshape target, a Resize scale, a trip count) come out exactly as if
    computed in order, because once a deferred node is reached in execution order its
    inputs and their types no longer change.
    """

    def __init__(self):
        self._known: dict[str, np.ndarray] = {}
        self._pending: dict[str, _Deferred] = {}  # name -> what computes it
        self._deferrals = 0  # their count so far: deferred work runs in the order it was deferred

    def defer(self, outputs: Sequence[str], inputs: Sequence[str], compute: Callable[..., None], *args) -> None:
        """Run ``compute(*args)`` (which sets the values of ``outputs`` from those of ``inputs``) on first read."""
        deferred = (self._deferrals, outputs, inputs, compute, args)
        self._deferrals += 1
        for name in outputs:
            if name:
                self._pending[name] = deferred

    def defer_decoding(self, name: str, decode: Callable[[Any], Value], source) -> None:
        """Give ``name`` the value ``decode(source)`` (None: no value) when first read."""
        if name:  # what defer does, written out: a model defers hundreds of constants
            self._pending[name] = (self._deferrals, (name,), (), self._decode, (name, decode, source))
            self._deferrals += 1

    def _decode(self, name: str, decode: Callable[[Any], Value], source) -> None:
        value = decode(source)
        if value is not None:
            self._known[name] = value

    def _force(self, name: str) -> None:
        """Compute ``name`` and the deferred values it depends on, earliest first."""
        deferred = self._pending[name]
        _, _, inputs, _, _ = deferred
        if not inputs:  # it reads no other value (a constant): nothing to order
            self._run(deferred)
            return
        needed: dict[int, _Deferred] = {}
        stack = [name]
        while stack:
            deferred = self._pending.get(stack.pop())
            if deferred is None:
                continue
            order, _, inputs, _, _ = deferred
            if order not in needed:
                needed[order] = deferred
                stack.extend(inputs)
        for order in sorted(needed):
            self._run(needed[order])

    def _run(self, deferred: _Deferred) -> None:
        _, outputs, _, compute, args = deferred
        for output in outputs:
            self._pending.pop(output, None)
        compute(*args)

    def holds(self, name: str) -> bool:
        """Whether ``name`` has a value or a deferred one (without computing it)."""
        return name in self._known or name in self._pending

    def knows_all(self, names: list[str]) -> bool:
        """``all(name in self for name in names if name)``, without a call per name."""
        known, pending = self._known, self._pending
        for name in names:
            if name:
                if name in pending:
                    self._force(name)
                if name not in known:
                    return False
        return True

    def __contains__(self, name: object) -> bool:
        if name in self._pending:
            self._force(name)
        return name in self._known

    def get(self, name: str, default=None):
        if name in self._pending:
            self._force(name)
        return self._known.get(name, default)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._pending:
            self._force(name)
        return self._known[name]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self._known[name] = value

    def __len__(self) -> int:
        return len(self._known) + len(self._pending)


def evaluator(*op_types: str):
    def register(fn: Evaluator) -> Evaluator:
        for op in op_types:
            _EVALUATORS[op] = fn
        return fn

    return register


_attr = node_attr


def evaluator_for(node: Node) -> Optional[Evaluator]:
    """The evaluator of ``node``'s operator, None when its values are never computed here."""
    if node.domain not in ("", "ai.onnx"):
        return None
    return _EVALUATORS.get(node.op_type)


def evaluate(node: Node, values: dict[str, np.ndarray], types: dict) -> list[Value]:
    """Output values of ``node`` when it is a supported op on known inputs, else []."""
    fn = evaluator_for(node)
    if fn is None:
        return []
    inputs = [values.get(name) if name else None for name in node.input]
    input_types = [types.get(name) for name in node.input]
    try:
        outputs = fn(node, inputs, input_types)
    except Exception:  # inconsistent shapes in a broken model: the value stays unknown
        return []
    return [o if o is not None and o.size <= SMALL_CONSTANT_ELEMENTS else None for o in outputs]


@evaluator("Shape")
def _shape(node, inputs, types):
    info = types[0]
    if info is None or info[1] is None:
        return []
    picked = info[1][_attr(node, "start", 0):_attr(node, "end", None)]
    for d in picked:
        if not isinstance(d, int):
            return []
    return [np.array(picked, dtype=np.int64)]


@evaluator("Size")
def _size(node, inputs, types):
    info = types[0]
    if info is None or info[1] is None or not all(isinstance(d, int) for d in info[1]):
        return []
    return [np.array(int(np.prod(info[1])), dtype=np.int64)]


def _needs(inputs, count: int) -> bool:
    return len(inputs) >= count and all(v is not None for v in inputs[:count])


@evaluator("Identity", "Cast")
def _identity(node, inputs, types):
    if not _needs(inputs, 1):
        return []
    if node.op_type == "Cast":
        to = onnx.helper.tensor_dtype_to_np_dtype(_attr(node, "to"))
        return [inputs[0].astype(to)]
    return [inputs[0]]


@evaluator("Gather")
def _gather(node, inputs, types):
    if not _needs(inputs, 2):
        return []
    # what np.take calls, given int64 indices as they are (astype would copy them)
    return [inputs[0].take(inputs[1].astype(np.int64, copy=False), axis=_attr(node, "axis", 0))]


@evaluator("Unsqueeze")
def _unsqueeze(node, inputs, types):
    axes = _attr(node, "axes") if len(inputs) < 2 else (None if inputs[1] is None else inputs[1].tolist())
    if inputs[0] is None or axes is None:
        return []
    out = inputs[0]
    rank = out.ndim + len(axes)
    shape = list(out.shape)
    for axis in sorted(a % rank for a in axes):  # what np.expand_dims does per axis, in one reshape
        if axis > len(shape):  # where np.expand_dims raises (a repeated axis): no value
            return []
        shape.insert(axis, 1)
    return [out.reshape(shape)]


@evaluator("Squeeze")
def _squeeze(node, inputs, types):
    if inputs[0] is None:
        return []
    axes = _attr(node, "axes") if len(inputs) < 2 else (None if inputs[1] is None else inputs[1].tolist())
    return [np.squeeze(inputs[0], axis=tuple(axes) if axes else None)]


@evaluator("Concat")
def _concat(node, inputs, types):
    if not inputs or any(v is None for v in inputs):
        return []
    # np.atleast_1d, written out: most inputs already have a dim, and are taken as they are
    return [np.concatenate([v if v.ndim else v.reshape(1) for v in inputs], axis=_attr(node, "axis", 0))]


@evaluator("Slice")
def _slice(node, inputs, types):
    if inputs[0] is None:
        return []
    if len(inputs) == 1:  # opset < 10 keeps the ranges in attributes
        starts, ends, axes, steps = _attr(node, "starts"), _attr(node, "ends"), _attr(node, "axes"), None
    else:
        if not _needs(inputs, 3):
            return []
        starts, ends = inputs[1].tolist(), inputs[2].tolist()
        axes = inputs[3].tolist() if len(inputs) > 3 and inputs[3] is not None else None
        steps = inputs[4].tolist() if len(inputs) > 4 and inputs[4] is not None else None
    data = inputs[0]
    axes = axes or list(range(len(starts)))
    steps = steps or [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a] = slice(s, e, st)
    return [data[tuple(index)]]


_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal,
    "Max": np.maximum, "Min": np.minimum, "Less": np.less, "Greater": np.greater,
}


@evaluator(*_BINARY)
def _binary(node, inputs, types):
    if not _needs(inputs, 2) or len(inputs) != 2:
        return []
    return [_BINARY[node.op_type](inputs[0], inputs[1])]


_UNARY = {"Neg": np.negative, "Abs": np.abs}  # T5's position_bias[:, :, -seq_length:], relative distances


@evaluator(*_UNARY)
def _unary(node, inputs, types):
    return [_UNARY[node.op_type](inputs[0])] if _needs(inputs, 1) else []


@evaluator("Div")
def _div(node, inputs, types):
    if not _needs(inputs, 2):
        return []
    a, b = inputs
    if np.issubdtype(a.dtype, np.integer):  # ONNX integer division truncates toward zero
        return [np.trunc(a / b).astype(a.dtype)]
    return [a / b]


@evaluator("Where")
def _where(node, inputs, types):
    return [np.where(*inputs)] if _needs(inputs, 3) else []


@evaluator("Reshape")
def _reshape(node, inputs, types):
    if not _needs(inputs, 2):
        return []
    shape = [d if d != 0 else inputs[0].shape[i] for i, d in enumerate(inputs[1].tolist())]
    return [inputs[0].reshape(shape)]


@evaluator("Range")
def _range(node, inputs, types):
    return [np.arange(inputs[0], inputs[1], inputs[2])] if _needs(inputs, 3) else []


@evaluator("ReduceProd")
def _reduce_prod(node, inputs, types):
    if inputs[0] is None or (len(inputs) > 1 and inputs[1] is not None) or _attr(node, "axes"):
        return []  # only the whole-tensor product appears in shape arithmetic
    keep = _attr(node, "keepdims", 1)
    return [np.prod(inputs[0], keepdims=bool(keep)).astype(inputs[0].dtype)]


@evaluator("ConstantOfShape")
def _constant_of_shape(node, inputs, types):
    # math.prod of the Python ints: what np.prod computes, without its per-call overhead
    if inputs[0] is None or int(math.prod(inputs[0].ravel().tolist())) > SMALL_CONSTANT_ELEMENTS:
        return []
    fill = _attr(node, "value")
    value = to_array(fill).ravel()[0] if fill is not None else np.float32(0)
    return [np.full(inputs[0].astype(np.int64).tolist(), value)]
