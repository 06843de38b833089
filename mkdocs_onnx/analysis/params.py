"""Parameters: which constant tensors are weights, how many elements they hold, who uses them.

A weight is a constant tensor wherever it lives: an initializer, the value of a
``Constant`` node, or the output of ``ConstantOfShape`` fed by a constant shape (the
placeholder fills that stand in for weights in files shipped without them). Each is
counted once, by name, however many nodes read it.

What is *not* a weight is decided by how the graph uses a tensor, not by its size:
integer tensors are shapes, indices and axes unless a quantized operator reads them as
weights; any tensor read only as an operator's configuration (a Reshape target, Resize
scales, Clip bounds) is a constant too, and so is a recurrent operator's initial state. A
tensor's role is read through the ops that only move or broadcast it. Neither are weights
the literals of formulas (ε, 1/√d) nor what an exporter computed from token positions and
folded into constants (:mod:`.computed`); a tied embedding the exporter stored twice
counts once (:mod:`.copies`). Normalization running statistics are weights that training
does not update: non-trainable.

Quantized models: a weight packed several values to a byte counts the values it holds
(:mod:`.packing`), and the scales and zero points that say how values are stored are
counted apart (``Params.quantization``), so an int8 or 4-bit model has the parameters of
its float original.

What classical-ML operators learned is held in their attributes, not in tensors; it is
counted apart (:mod:`.attribute_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np
import onnx

from mkdocs_onnx.analysis.attribute_params import count_attribute_params
from mkdocs_onnx.analysis.computed import computed_constants
from mkdocs_onnx.analysis.copies import transposed_copies
from mkdocs_onnx.analysis.graphs import fold_constants
from mkdocs_onnx.analysis.index import IndexedModel, Node, walk
from mkdocs_onnx.analysis.packing import PACKED_READERS, Unpacked, unpacked
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
        "DequantizeLinear": {0}, "QLinearConv": {3, 8}, "QLinearConvTranspose": {3, 8}, "ConvInteger": {1},
        "MatMulInteger": {0, 1}, "QLinearMatMul": {0, 3}, "MatMulNBits": {1}, "MatMulBnb4": {1},
        "DynamicQuantizeMatMul": {1}, "QAttention": {1}, "QGemm": {3, 6},
        "GatherBlockQuantized": {0}, "MatMulIntegerToFloat": {1}, "QOrderedMatMul": {2},
        "DynamicQuantizeLSTM": {1, 2}, "QEmbedLayerNormalization": {2, 3, 4, 5, 6}, "QMoE": {2, 5, 8},
        "MatMulNBitsQkv": {3, 6, 9}, "MatMulNBitsMlp": {3, 6},
    }.items()
}

# Inputs that hold the scales and zero points of quantized tensors. They describe how
# values are stored, not what was learned: counted apart, so that an int8 model has the
# parameters of its float original.
QUANTIZATION_SLOTS: dict[str, frozenset[int]] = {
    op: frozenset(slots)
    for op, slots in {
        "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2}, "ConvInteger": {2, 3}, "MatMulInteger": {2, 3},
        "QLinearConv": {1, 2, 4, 5, 6, 7}, "QLinearConvTranspose": {1, 2, 4, 5, 6, 7},
        "QLinearMatMul": {1, 2, 4, 5, 6, 7}, "QGemm": {1, 2, 4, 5, 7, 8},
        "QLinearAdd": {1, 2, 4, 5, 6, 7}, "QLinearMul": {1, 2, 4, 5, 6, 7},
        "QLinearWhere": {2, 3, 5, 6, 7, 8},
        **{op: {1, 2, 3, 4} for op in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "QLinearAveragePool",
                                       "QLinearGlobalAveragePool", "QLinearReduceMean")},
        "MatMulNBits": {2, 3}, "MatMulBnb4": {2}, "GatherBlockQuantized": {2, 3},
        "DynamicQuantizeMatMul": {2, 3}, "MatMulIntegerToFloat": {2, 3, 4, 5}, "QAttention": {3, 4, 6, 7},
        "QOrderedMatMul": {1, 3, 4, 7}, "DynamicQuantizeLSTM": {8, 9, 10, 11},
        "QEmbedLayerNormalization": set(range(8, 18)),
        "QMoE": {3, 6, 9, 11, 12, 13, 15, 16, 17, 18, 19, 20},
        "MatMulNBitsQkv": {4, 7, 10}, "MatMulNBitsMlp": {4, 7},
    }.items()
}

NON_TRAINABLE_SLOTS = {"BatchNormalization": frozenset({3, 4})}

# Inputs that hold a recurrent operator's initial hidden and cell state: where the
# sequence starts from (zeros, as exporters write them), not what training learned.
STATE_SLOTS: dict[str, frozenset[int]] = {
    "RNN": frozenset({5}), "GRU": frozenset({5}), "LSTM": frozenset({5, 6}), "DynamicQuantizeLSTM": frozenset({5, 6}),
}
# Inputs that hold what is computed from token positions (see .computed): rotary
# embedding's cos/sin caches, an attention mask. (RotaryEmbedding: ONNX's takes the caches
# at 1 and 2, ONNX Runtime's at 2 and 3; the other slot is the integer position ids.)
POSITION_SLOTS: dict[str, frozenset[int]] = {
    op: frozenset(slots)
    for op, slots in {
        "RotaryEmbedding": {1, 2, 3}, "GroupQueryAttention": {7, 8}, "PagedAttention": {8, 9},
        "SparseAttention": {9, 10}, "Attention": {3},
    }.items()
}
# Float tensors at these inputs are constants, not weights.
_NOT_WEIGHT_SLOTS = {op: frozenset().union(*(slots.get(op, ()) for slots in (CONFIG_SLOTS, STATE_SLOTS, POSITION_SLOTS)))
                     for op in CONFIG_SLOTS.keys() | STATE_SLOTS.keys() | POSITION_SLOTS.keys()}

# Operators through which a weight flows unchanged in content; a weight is attributed to
# the node that finally computes with it, not to the Reshape or Cast in between.
PASS_THROUGH = frozenset({
    "Reshape", "Transpose", "Cast", "CastLike", "Identity", "Squeeze", "Unsqueeze",
    "Flatten", "DequantizeLinear",
})
# What a constant's role is read through: its final readers decide (exporters Expand a
# zero initial state to the batch before the LSTM reads it).
_ROLE_THROUGH = PASS_THROUGH | {"Expand"}


# A constant tensor: (element type, elements, form). A plain tuple: a model has thousands,
# and a tuple is the cheapest to build. Its form: stored with dims, a scalar (rank 0, as
# exporters write the literals of a formula), or a placeholder (a ConstantOfShape fill
# that stands in for weights, not trained values).
ConstTensor = tuple[int, int, int]
STORED, SCALAR, PLACEHOLDER = 0, 1, 2

# Elementwise arithmetic: a one-element constant that only these read may be a literal of
# a formula (a norm's epsilon, attention's 1/√d, GELU's 0.044715, a -inf fill), not a
# learned weight (see _is_literal).
_ARITHMETIC = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Where",
    "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "QLinearAdd", "QLinearMul",
})

# One read of a tensor: (node, slot, owner) = the reading node, the input slot it reads
# at, and the index of the top-level node (in execution order) the read belongs to.
# A plain tuple too: a model has one per node input.
Use = tuple[Node, int, int]

@dataclass
class ParamsResult:
    params: Params
    constant_names: set[str]  # weights, non-weight constants and tensors folded from them
    per_node: dict[int, int] = field(default_factory=dict)  # top-level node index -> weight elements
    weights_bytes: int = 0
    unused: list[str] = field(default_factory=list)
    float64_weights: int = 0  # weight tensors stored as float64
    largest_weight: tuple[str, int] = ("", 0)  # the weight of most bytes (the first of equals), and its bytes


def find_constants(index: IndexedModel, values: Values) -> dict[str, ConstTensor]:
    """Every constant tensor in the model and its subgraphs, by name (the first of a name wins)."""
    found: dict[str, ConstTensor] = {}
    for graph in index.graphs:
        for t in graph.initializers:
            if t.name not in found:
                found[t.name] = (t.elem_type, _numel(t.dims), STORED if t.dims else SCALAR)
        for node in graph.nodes:
            op_type = node.op_type
            if op_type != "Constant" and op_type != "ConstantOfShape":
                continue
            if node.domain not in ("", "ai.onnx") or not node.output or not node.output[0]:
                continue
            if op_type == "Constant":
                found.setdefault(node.output[0], _constant_node_tensor(node))
            elif node.input:
                shape = values.get(node.input[0])  # reading a value may compute it, as it always did here
                if shape is not None:
                    found.setdefault(node.output[0], (_fill_type(node), _shape_numel(shape), PLACEHOLDER))
    return found


_INT64 = np.dtype(np.int64)
_ABSENT = object()


def _shape_numel(value: np.ndarray) -> int:
    """Elements of a tensor whose shape is ``value`` (the usual 1-D int64 one read without a copy)."""
    if value.dtype is _INT64 and value.ndim == 1:
        return _numel(value.tolist())
    return _numel(value.astype(np.int64).ravel().tolist())


def _fill_type(node: Node) -> int:
    """Element type of a ConstantOfShape: its 'value' tensor's, float32 by default."""
    value = node.attrs.get("value", _ABSENT)
    if value is _ABSENT:
        return onnx.TensorProto.FLOAT
    tensors = node.tensors
    if tensors and tensors[0].proto is value:  # the usual case: its one tensor attribute
        return tensors[0].elem_type
    fill = node.tensor("value")
    return fill.elem_type if fill is not None else onnx.TensorProto.UNDEFINED


def _numel(dims) -> int:
    """Elements of a tensor of ``dims``; a negative dim (a malformed file) holds none."""
    n = 1
    for d in dims:
        if d < 0:
            return 0
        n *= d
    return n


_CONSTANT_ATTRIBUTES = {  # Constant's value attributes: element type, and whether the value is one element
    "value_float": (onnx.TensorProto.FLOAT, True), "value_floats": (onnx.TensorProto.FLOAT, False),
    "value_int": (onnx.TensorProto.INT64, True), "value_ints": (onnx.TensorProto.INT64, False),
    "value_string": (onnx.TensorProto.STRING, True), "value_strings": (onnx.TensorProto.STRING, False),
}


def _constant_node_tensor(node: Node) -> ConstTensor:
    for attr_name in node.attrs:
        if attr_name == "value":
            t = node.tensor(attr_name)
            if t is None:  # not a tensor: reads as an empty one
                return onnx.TensorProto.UNDEFINED, 1, STORED
            return t.elem_type, _numel(t.dims), STORED if t.dims else SCALAR
        if attr_name == "sparse_value":
            values = node.attr(attr_name).values
            return values.data_type, _numel(values.dims), STORED
        if attr_name in _CONSTANT_ATTRIBUTES:
            elem_type, scalar = _CONSTANT_ATTRIBUTES[attr_name]
            return (elem_type, 1, SCALAR) if scalar else (elem_type, len(node.attr(attr_name)), STORED)
    return onnx.TensorProto.UNDEFINED, 0, STORED


def find_uses(order: list[Node]) -> dict[str, list[Use]]:
    """Who reads each tensor, with the top-level node each use belongs to, in execution order."""
    uses: dict[str, list[Use]] = {}
    for owner, top in enumerate(order):
        if top.subgraphs:
            for node in with_subgraph_nodes(top):
                _record_uses(uses, node, owner)
        else:
            _record_uses(uses, top, owner)
    return uses


def _record_uses(uses: dict[str, list[Use]], node: Node, owner: int) -> None:
    """Add ``node``'s reads, on behalf of top-level node ``owner``, to ``uses``."""
    for slot, name in enumerate(node.input):
        if name:
            uses.setdefault(name, []).append((node, slot, owner))


def with_subgraph_nodes(top: Node) -> list[Node]:
    """``top`` and every node of its subgraphs (nested ones too), in the order ONNX nests them."""
    nodes = [top]
    for body in top.subgraphs:
        for graph in walk(body):
            nodes.extend(graph.nodes)
    return nodes


def folded_names(index: IndexedModel, constants: Iterable[str]) -> set[str]:
    """Constants plus tensors computed only from constants (runtimes fold them at load)."""
    return fold_constants(index.graphs, constants)


def count_params(index: IndexedModel, values: Values, uses: dict[str, list[Use]]) -> ParamsResult:
    """Weights and other constants; ``uses`` is :func:`find_uses` of the main graph's execution order.

    One pass over the constants tallies everything; a constant read once (most of them) is
    judged from its one reader inline, which is ~2% of analyze() on a CNN.
    """
    tensors = find_constants(index, values)
    outputs = set(index.main.outputs)
    scales = _dynamic_scales(index)
    computed = computed_constants(index, values, lambda name: only_arithmetic_reads(name, uses))
    copies = transposed_copies(index)  # a tied embedding stored again for the output projection
    per_node: dict[int, int] = {}
    by_type: dict[int, int] = {}  # weight elements by element type
    packed_by_dtype: dict[str, int] = {}  # packed weights' values by the type they unpack to
    total = non_trainable = placeholders = shared = constants_elements = weights_bytes = weight_tensors = float64 = 0
    quantization = 0
    largest = None
    unused = []
    for name, (elem_type, numel, form) in tensors.items():
        if not numel:  # an empty tensor (an omitted Resize scale, say) holds nothing to count
            continue
        if name in computed:  # computed from positions, not learned
            constants_elements += numel
            continue
        if name in copies:  # the weights of another tensor, stored again: counted once, stored twice
            shared += 1
            weights_bytes += nbytes(elem_type, numel) or 0
            continue
        tensor_uses = uses.get(name)
        if tensor_uses is None:
            if name not in outputs:
                unused.append(name)
                continue
            tensor_uses = ()
        single = len(tensor_uses) == 1  # the usual constant: one reader, whose operator and slot decide
        if single:
            reader, slot, owner = tensor_uses[0]
            op_type = reader.op_type
            packed = unpacked(reader, slot, elem_type, numel) if op_type in PACKED_READERS else None
            quantizes = _reads_quantization(reader, slot, scales)
        else:
            packed = _unpacked_read(tensor_uses, elem_type, numel)
            quantizes = _only_quantization(tensor_uses, scales)
        if quantizes:  # scales and zero points: stored, but no parameter
            quantization += packed[0] if packed else numel
            weights_bytes += nbytes(elem_type, numel) or 0
            continue
        if numel == 1 and _is_literal(name, elem_type, form, uses, values):
            constants_elements += numel
            continue
        if single:
            if elem_type in _WEIGHT_TYPES:
                if slot == 0 and op_type in _ROLE_THROUGH:
                    is_weight = not _only_in(_final_uses(name, uses), _NOT_WEIGHT_SLOTS)
                else:
                    is_weight = slot not in _NOT_WEIGHT_SLOTS.get(op_type, _NO_SLOTS)
            else:
                is_weight = slot in QUANTIZED_WEIGHT_SLOTS.get(op_type, _NO_SLOTS)
            if not is_weight:  # shapes, indices, axes, and configuration values such as Resize scales
                constants_elements += numel
                continue
            if slot in NON_TRAINABLE_SLOTS.get(op_type, _NO_SLOTS):
                non_trainable += numel
            if slot == 0 and op_type in PASS_THROUGH:
                owner = _attributed_owner(name, uses)
        else:
            if not reads_as_weight(name, elem_type, uses):
                constants_elements += numel
                continue
            if _any_in(tensor_uses, NON_TRAINABLE_SLOTS):
                non_trainable += numel
            if _read_by_several_nodes(tensor_uses):
                shared += 1
            owner = _attributed_owner(name, uses)
        size = nbytes(elem_type, numel) or 0  # as stored
        if packed is not None:  # count the values, under the type they unpack to
            numel, packed_dtype = packed
            packed_by_dtype[packed_dtype] = packed_by_dtype.get(packed_dtype, 0) + numel
        else:
            by_type[elem_type] = by_type.get(elem_type, 0) + numel
        weight_tensors += 1
        total += numel
        if form == PLACEHOLDER:
            placeholders += numel
        weights_bytes += size
        if largest is None or size > largest[1]:
            largest = (name, size)
        if elem_type == _DOUBLE:
            float64 += 1
        if owner is not None:
            per_node[owner] = per_node.get(owner, 0) + numel
    by_dtype = packed_by_dtype
    for elem_type, numel in by_type.items():
        dtype = dtype_name(elem_type)
        by_dtype[dtype] = by_dtype.get(dtype, 0) + numel
    params = Params(
        total=total,
        trainable=total - non_trainable,
        non_trainable=non_trainable,
        constants=constants_elements,
        by_dtype=dict(sorted(by_dtype.items())),
        placeholder=placeholders,
        weight_tensors=weight_tensors,
        shared_tensors=shared,
        quantization=quantization,
    )
    params.in_attributes_by_op = count_attribute_params(index)
    params.in_attributes = sum(params.in_attributes_by_op.values())
    return ParamsResult(params, folded_names(index, tensors), per_node, weights_bytes, sorted(unused),
                        float64, largest or ("", 0))


_NO_SLOTS: frozenset[int] = frozenset()
# Element types of weights, unless only read as configuration; other types are weights
# only where a quantized operator reads them as such.
_WEIGHT_TYPES = FLOAT_TYPES | QUANTIZED_INT_TYPES
_DOUBLE = onnx.TensorProto.DOUBLE


def is_quantization_input(op_type: str, slot: int) -> bool:
    """Input ``slot`` of ``op_type`` holds a scale or a zero point."""
    if op_type == "QLinearConcat":  # Y_scale, Y_zero_point, then (X, its scale, its zero point) per input
        return slot < 2 or (slot - 2) % 3 != 0
    return slot in QUANTIZATION_SLOTS.get(op_type, _NO_SLOTS)


def _reads_quantization(node: Node, slot: int, dynamic_scales: frozenset[str]) -> bool:
    """``node`` reads input ``slot`` as a scale or zero point: at a quantized operator's
    scale or zero-point input, or as the weight's scale that ONNX Runtime's dynamic
    quantization multiplies with the activations' scale (``Mul(x_scale, w_scale)``)."""
    if dynamic_scales and node.op_type == "Mul" and slot < 2 and len(node.input) == 2:
        return node.input[1 - slot] in dynamic_scales
    return is_quantization_input(node.op_type, slot)


def _only_quantization(tensor_uses: Sequence[Use], dynamic_scales: frozenset[str]) -> bool:
    """Every use (at least one) reads the tensor as a scale or zero point."""
    for node, slot, _ in tensor_uses:
        if not _reads_quantization(node, slot, dynamic_scales):
            return False
    return bool(tensor_uses)


def _dynamic_scales(index: IndexedModel) -> frozenset[str]:
    """The activation scales DynamicQuantizeLinear computes (its second output), in a model
    that has any (most have none, and are not walked for them)."""
    if ("", "DynamicQuantizeLinear") not in index.op_counts():
        return frozenset()
    return frozenset(node.output[1] for node in index.nodes()
                     if node.op_type == "DynamicQuantizeLinear" and len(node.output) > 1 and node.output[1])


def _unpacked_read(tensor_uses: Sequence[Use], elem_type: int, numel: int) -> Optional[Unpacked]:
    """What the tensor holds where some use reads it packed (see :mod:`.packing`)."""
    for node, slot, _ in tensor_uses:
        if node.op_type in PACKED_READERS:
            found = unpacked(node, slot, elem_type, numel)
            if found is not None:
                return found
    return None


def _only_in(tensor_uses: Sequence[Use], slots: dict[str, frozenset[int]]) -> bool:
    """Every use (at least one) is at one of ``slots`` of its operator."""
    if not tensor_uses:
        return False
    for node, slot, _ in tensor_uses:
        if slot not in slots.get(node.op_type, ()):
            return False
    return True


def _any_in(tensor_uses: Sequence[Use], slots: dict[str, frozenset[int]]) -> bool:
    """Some use is at one of ``slots`` of its operator."""
    for node, slot, _ in tensor_uses:
        if slot in slots.get(node.op_type, ()):
            return True
    return False


def _read_by_several_nodes(tensor_uses: Sequence[Use]) -> bool:
    """A shared weight: more than one node reads it."""
    if len(tensor_uses) < 2:
        return False
    first = tensor_uses[0][0]
    for node, _, _ in tensor_uses:
        if node is not first:
            return True
    return False


def reads_as_weight(name: str, elem_type: int, uses: dict[str, list[Use]]) -> bool:
    """Whether the graph reads constant ``name`` as a weight (its uses, not its values, decide)."""
    if elem_type in _WEIGHT_TYPES:
        return not _only_in(_final_uses(name, uses), _NOT_WEIGHT_SLOTS)
    return _any_in(uses.get(name, ()), QUANTIZED_WEIGHT_SLOTS)


def _is_literal(name: str, elem_type: int, form: int, uses: dict[str, list[Use]], values: Values) -> bool:
    """One-element ``name`` is a literal of a formula: only elementwise arithmetic reads it, and
    it is rank 0, or (as exporters also write literals, with shape [1]) it is shared by several
    nodes (attention's scale, once a layer) or holds a value no training leaves: 0, ±1, ±inf
    or the type's extremes. A one-output Linear's bias, [1] and read once, stays a weight."""
    if elem_type not in _WEIGHT_TYPES or not only_arithmetic_reads(name, uses):
        return False
    if form == SCALAR or _read_by_several_nodes(uses[name]):
        return True
    value = values.get(name)
    if value is None or value.size != 1:
        return False
    v = float(value.reshape(-1)[0])
    return v in (0.0, 1.0, -1.0) or abs(v) >= 3e38


def only_arithmetic_reads(name: str, uses: dict[str, list[Use]], depth: int = 0) -> bool:
    """Every final read (at least one) of ``name`` is elementwise arithmetic (see _ARITHMETIC).
    (What :func:`_final_uses` reads, without building the list: most tensors asked about are
    weights, whose first reader already says no.)"""
    tensor_uses = uses.get(name)
    if not tensor_uses:
        return False
    for node, slot, _ in tensor_uses:
        op = node.op_type
        if op in _ARITHMETIC:
            continue
        if not (slot == 0 and op in _ROLE_THROUGH and node.output and depth < 16
                and only_arithmetic_reads(node.output[0], uses, depth + 1)):
            return False
    return True


def configures(name: str, uses: dict[str, list[Use]]) -> bool:
    """Some node reads ``name`` as its configuration (a Reshape target, Slice bounds: CONFIG_SLOTS)."""
    return _any_in(uses.get(name, ()), CONFIG_SLOTS)


def _final_uses(name: str, uses: dict[str, list[Use]], depth: int = 0) -> list[Use]:
    """The reads of ``name``, with the reads of a :data:`_ROLE_THROUGH` op's data input
    replaced by the reads of what it outputs (a graph output is not a read: none)."""
    found: list[Use] = []
    for use in uses.get(name, ()):
        node, slot, _ = use
        if slot == 0 and node.op_type in _ROLE_THROUGH and node.output and depth < 16:
            found.extend(_final_uses(node.output[0], uses, depth + 1))
        else:
            found.append(use)
    return found


def _attributed_owner(name: str, uses: dict[str, list[Use]], depth: int = 0) -> Optional[int]:
    """The top-level node that computes with weight ``name``, following pass-through ops."""
    tensor_uses = uses.get(name)
    if not tensor_uses:
        return None
    node, slot, owner = tensor_uses[0]  # uses are recorded in execution order: the first has the smallest owner
    if slot == 0 and node.op_type in PASS_THROUGH and node.output and depth < 16:
        downstream = _attributed_owner(node.output[0], uses, depth + 1)
        if downstream is not None:
            return downstream
    return owner
