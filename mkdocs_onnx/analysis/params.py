"""Parameters: which constant tensors are weights, how many elements they hold, who uses them.

A weight is a constant tensor wherever it lives: an initializer, the value of a
``Constant`` node, or the output of ``ConstantOfShape`` fed by a constant shape (the
placeholder fills that stand in for weights in files shipped without them). Each is
counted once, by name, however many nodes read it.

What is *not* a weight is decided by how the graph uses a tensor, not by its size:
integer tensors are shapes, indices and axes unless a quantized operator reads them as
weights; any tensor read only as an operator's configuration (a Reshape target, Resize
scales, Clip bounds) is a constant too. Normalization running statistics are weights
that training does not update: non-trainable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import onnx

from mkdocs_onnx.analysis.index import IndexedModel, Node, walk
from mkdocs_onnx.analysis.report import Params
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, QUANTIZED_INT_TYPES, dtype_name, nbytes
from mkdocs_onnx.analysis.values import Values

# Inputs that configure an operator rather than carry data, by op type and input index.
CONFIG_SLOTS: dict[str, frozenset[int]] = {
    op: frozenset(slots)
    for op, slots in {
        "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Pad": {1, 2, 3},
        "Resize": {1, 2, 3}, "Upsample": {1}, "Clip": {1, 2}, "ConstantOfShape": {0},
        "TopK": {1}, "Split": {1}, "Squeeze": {1}, "Unsqueeze": {1}, "Gather": {1},
        "GatherElements": {1}, "GatherND": {1}, "ScatterND": {1}, "ScatterElements": {1},
        "OneHot": {1, 2}, "Range": {0, 1, 2}, "CumSum": {1}, "NonMaxSuppression": {2, 3, 4},
        "ReduceSum": {1}, "ReduceMean": {1}, "ReduceMax": {1}, "ReduceMin": {1},
        "ReduceProd": {1}, "ReduceL1": {1}, "ReduceL2": {1}, "ReduceLogSum": {1},
        "ReduceLogSumExp": {1}, "ReduceSumSquare": {1}, "Trilu": {1}, "Loop": {0, 1},
        "DFT": {1, 2}, "RandomNormalLike": {0}, "RandomUniformLike": {0}, "CenterCropPad": {1},
        "Col2Im": {1, 2}, "GridSample": {1}, "RoiAlign": {1, 2}, "MaxUnpool": {2},
        "If": {0}, "Dropout": {1, 2}, "BlackmanWindow": {0}, "HannWindow": {0},
        "HammingWindow": {0}, "STFT": {1, 2, 3}, "Mod": set(), "Where": {0},
    }.items()
}

# Inputs where a quantized operator reads integer data as weights.
QUANTIZED_WEIGHT_SLOTS: dict[str, frozenset[int]] = {
    op: frozenset(slots)
    for op, slots in {
        "DequantizeLinear": {0}, "QLinearConv": {3, 8}, "ConvInteger": {1},
        "MatMulInteger": {0, 1}, "QLinearMatMul": {0, 3}, "MatMulNBits": {1},
        "DynamicQuantizeMatMul": {1}, "QAttention": {1}, "QGemm": {3, 6},
        "GatherBlockQuantized": {0}, "MatMulIntegerToFloat": {1}, "QOrderedMatMul": {1},
    }.items()
}

NON_TRAINABLE_SLOTS = {"BatchNormalization": frozenset({3, 4})}

# Operators through which a weight flows unchanged in content; a weight is attributed to
# the node that finally computes with it, not to the Reshape or Cast in between.
PASS_THROUGH = frozenset({
    "Reshape", "Transpose", "Cast", "CastLike", "Identity", "Squeeze", "Unsqueeze",
    "Flatten", "DequantizeLinear",
})


@dataclass
class ConstTensor:
    name: str
    elem_type: int
    numel: int
    placeholder: bool  # a ConstantOfShape fill, not trained values


@dataclass(slots=True)
class Use:
    node: Node
    slot: int
    owner: int  # index of the top-level node (in execution order) this use belongs to


@dataclass
class ParamsResult:
    params: Params
    weights: dict[str, ConstTensor]
    constant_names: set[str]  # weights, non-weight constants and tensors folded from them
    per_node: dict[int, int] = field(default_factory=dict)  # top-level node index -> weight elements
    weights_bytes: int = 0
    unused: list[str] = field(default_factory=list)


def find_constants(index: IndexedModel, values: Values) -> dict[str, ConstTensor]:
    """Every constant tensor in the model and its subgraphs, by name."""
    found: dict[str, ConstTensor] = {}
    for graph in index.graphs:
        for t in graph.initializers:
            found.setdefault(t.name, ConstTensor(t.name, t.elem_type, _numel(t.dims), False))
        for node in graph.nodes:
            if node.domain not in ("", "ai.onnx") or not node.output or not node.output[0]:
                continue
            if node.op_type == "Constant":
                found.setdefault(node.output[0], _constant_node_tensor(node))
            elif node.op_type == "ConstantOfShape" and node.input and node.input[0] in values:
                shape = values[node.input[0]].astype(np.int64).ravel().tolist()
                found.setdefault(node.output[0], ConstTensor(node.output[0], _fill_type(node), _numel(shape), True))
    return found


def _fill_type(node: Node) -> int:
    """Element type of a ConstantOfShape: its 'value' tensor's, float32 by default."""
    if "value" not in node.attrs:
        return onnx.TensorProto.FLOAT
    fill = node.tensor("value")
    return fill.elem_type if fill is not None else onnx.TensorProto.UNDEFINED


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= max(int(d), 0)
    return n


_CONSTANT_ATTRIBUTES = {  # Constant's value attributes: element type, and whether the value is one element
    "value_float": (onnx.TensorProto.FLOAT, True), "value_floats": (onnx.TensorProto.FLOAT, False),
    "value_int": (onnx.TensorProto.INT64, True), "value_ints": (onnx.TensorProto.INT64, False),
    "value_string": (onnx.TensorProto.STRING, True), "value_strings": (onnx.TensorProto.STRING, False),
}


def _constant_node_tensor(node: Node) -> ConstTensor:
    name = node.output[0]
    for attr_name in node.attrs:
        if attr_name == "value":
            t = node.tensor(attr_name)
            return ConstTensor(name, t.elem_type, _numel(t.dims), False) if t is not None else \
                ConstTensor(name, onnx.TensorProto.UNDEFINED, 1, False)  # not a tensor: reads as an empty one
        if attr_name == "sparse_value":
            values = node.attr(attr_name).values
            return ConstTensor(name, values.data_type, _numel(values.dims), False)
        if attr_name in _CONSTANT_ATTRIBUTES:
            elem_type, scalar = _CONSTANT_ATTRIBUTES[attr_name]
            return ConstTensor(name, elem_type, 1 if scalar else len(node.attr(attr_name)), False)
    return ConstTensor(name, onnx.TensorProto.UNDEFINED, 0, False)


def find_uses(order: list[Node]) -> dict[str, list[Use]]:
    """Who reads each tensor, with the top-level node each use belongs to, in execution order."""
    uses: dict[str, list[Use]] = {}

    def record(node: Node, index: int) -> None:
        for slot, name in enumerate(node.input):
            if name:
                uses.setdefault(name, []).append(Use(node, slot, index))

    for index, top in enumerate(order):
        record(top, index)
        for body in top.subgraphs:
            for graph in walk(body):
                for node in graph.nodes:
                    record(node, index)
    return uses


def folded_names(index: IndexedModel, constants: set[str]) -> set[str]:
    """Constants plus tensors computed only from constants (runtimes fold them at load)."""
    known = set(constants)
    for graph in index.graphs:
        for node in graph.nodes:
            inputs = [i for i in node.input if i]
            if inputs and not node.has_graph_attribute and known.issuperset(inputs):
                known.update(filter(None, node.output))
    return known


def count_params(index: IndexedModel, values: Values, uses: dict[str, list[Use]]) -> ParamsResult:
    """Weights and other constants; ``uses`` is :func:`find_uses` of the main graph's execution order."""
    tensors = find_constants(index, values)
    outputs = set(index.main.outputs)
    weights: dict[str, ConstTensor] = {}
    constants_elements = 0
    unused = []
    for name, t in tensors.items():
        tensor_uses = uses.get(name, [])
        if not tensor_uses and name not in outputs:
            unused.append(name)
        elif _is_weight(t, tensor_uses):
            weights[name] = t
        else:  # shapes, indices, axes, and configuration values such as Resize scales
            constants_elements += t.numel
    result = ParamsResult(
        params=_summarise(weights, uses, constants_elements),
        weights=weights,
        constant_names=folded_names(index, set(tensors)),
        unused=sorted(unused),
    )
    result.weights_bytes = sum(nbytes(t.elem_type, t.numel) or 0 for t in weights.values())
    for name, t in weights.items():
        owner = _attributed_owner(name, uses)
        if owner is not None:
            result.per_node[owner] = result.per_node.get(owner, 0) + t.numel
    return result


def _is_weight(t: ConstTensor, tensor_uses: list[Use]) -> bool:
    if t.elem_type in FLOAT_TYPES or t.elem_type in QUANTIZED_INT_TYPES:
        return not _only_in(tensor_uses, CONFIG_SLOTS)
    return _any_in(tensor_uses, QUANTIZED_WEIGHT_SLOTS)


def _only_in(tensor_uses: list[Use], slots: dict[str, frozenset[int]]) -> bool:
    """Every use (at least one) is at one of ``slots`` of its operator."""
    if not tensor_uses:
        return False
    for u in tensor_uses:
        if u.slot not in slots.get(u.node.op_type, ()):
            return False
    return True


def _any_in(tensor_uses: list[Use], slots: dict[str, frozenset[int]]) -> bool:
    """Some use is at one of ``slots`` of its operator."""
    for u in tensor_uses:
        if u.slot in slots.get(u.node.op_type, ()):
            return True
    return False


def _read_by_several_nodes(tensor_uses: list[Use]) -> bool:
    """A shared weight: more than one node reads it."""
    first = tensor_uses[0].node if tensor_uses else None
    for u in tensor_uses:
        if u.node is not first:
            return True
    return False


def _summarise(weights: dict[str, ConstTensor], uses: dict[str, list[Use]], constants_elements: int) -> Params:
    by_dtype: dict[str, int] = {}
    non_trainable = placeholder = shared = 0
    for name, t in weights.items():
        dtype = dtype_name(t.elem_type)
        by_dtype[dtype] = by_dtype.get(dtype, 0) + t.numel
        tensor_uses = uses.get(name, [])
        if _any_in(tensor_uses, NON_TRAINABLE_SLOTS):
            non_trainable += t.numel
        if t.placeholder:
            placeholder += t.numel
        if _read_by_several_nodes(tensor_uses):
            shared += 1
    total = sum(t.numel for t in weights.values())
    return Params(
        total=total,
        trainable=total - non_trainable,
        non_trainable=non_trainable,
        constants=constants_elements,
        by_dtype=dict(sorted(by_dtype.items())),
        placeholder=placeholder,
        weight_tensors=len(weights),
        shared_tensors=shared,
    )


def _attributed_owner(name: str, uses: dict[str, list[Use]], depth: int = 0) -> Optional[int]:
    """The top-level node that computes with weight ``name``, following pass-through ops."""
    tensor_uses = uses.get(name, [])
    if not tensor_uses:
        return None
    first = tensor_uses[0]  # uses are recorded in execution order: the first has the smallest owner
    node = first.node
    if node.op_type in PASS_THROUGH and first.slot == 0 and node.output and depth < 16:
        downstream = _attributed_owner(node.output[0], uses, depth + 1)
        if downstream is not None:
            return downstream
    return first.owner

