"""Tensor types and shapes: symbolic-dim binding, ONNX shape inference, and the gaps it leaves.

ONNX shape inference (with data propagation) does most of the work. It stops at the
first operator whose schema it does not know (the ``com.microsoft`` contrib operators),
so a second pass walks the graph in execution order and fills what is still missing:
contrib operators through the registry's shape functions, standard operators through
``onnx.shape_inference.infer_node_outputs`` one node at a time.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from mkdocs_onnx.analysis.costs import NodeContext, shape_function
from mkdocs_onnx.analysis.graphs import topological_order
from mkdocs_onnx.analysis.index import Graph, IndexedModel, Node
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, small_value
from mkdocs_onnx.analysis.values import Values, evaluate, evaluator_for

TypeInfo = tuple[Optional[int], Optional[tuple]]

_PROTOBUF_LIMIT = 2**31 - 1
_BATCH_NAME = re.compile(r"batch|^(n|b|bs|N|B|bsz)$", re.IGNORECASE)
_NOT_BATCH_NAME = re.compile(r"seq|len|time|token|step|past|total|height|width|channel", re.IGNORECASE)


@dataclass
class DimBinding:
    values: dict[str, Optional[int]]  # every symbolic dim of the graph inputs -> bound value
    batch_dims: list[str] = field(default_factory=list)


def graph_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Real graph inputs: IR < 4 models also list their initializers as inputs."""
    initializers = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in initializers]


def bind_dims(index: IndexedModel, dims: dict[str, int], batch_size: int) -> DimBinding:
    """Replace symbolic input dims by the values asked for, in place.

    A dim named by ``dims`` takes that value. Otherwise a batch-like dim (its name says
    batch, or it is the leading dim of an input and its name does not say sequence,
    time or the like) takes ``batch_size``. All other dims stay symbolic: whatever
    depends on them is reported as uncounted, never guessed.
    """
    binding = DimBinding(values={})
    for value_info in graph_inputs(index.model.graph):
        shape = value_info.type.tensor_type.shape
        for axis, dim in enumerate(shape.dim):
            if axis == 0 and len(shape.dim) > 1 and not dim.dim_param and (not dim.HasField("dim_value") or dim.dim_value < 0):
                # An unnamed leading dim (or -1, as some converters write) is the batch.
                label = f"{value_info.name}[0]"
                binding.values[label] = dims.get(label, batch_size)
                binding.batch_dims.append(label)
                dim.dim_value = binding.values[label]
                continue
            if not dim.HasField("dim_param"):
                continue
            name = dim.dim_param
            if name in dims:
                binding.values[name] = dims[name]
            elif _is_batch_like(name, axis):
                binding.values.setdefault(name, batch_size)
                if name not in binding.batch_dims:
                    binding.batch_dims.append(name)
            else:
                binding.values.setdefault(name, None)
    bound = {k: v for k, v in binding.values.items() if v is not None}
    if bound:
        for graph in index.graphs:
            proto = graph.proto
            for value_info in (*proto.input, *proto.output, *proto.value_info):
                _substitute(value_info.type, bound)
    return binding


def _is_batch_like(name: str, axis: int) -> bool:
    if _BATCH_NAME.search(name):
        return True
    return axis == 0 and not _NOT_BATCH_NAME.search(name)


def _substitute(tp: onnx.TypeProto, bound: dict[str, int]) -> None:
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        for dim in tp.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in bound:
                dim.dim_value = bound[dim.dim_param]
    elif kind in ("sequence_type", "optional_type"):
        _substitute(getattr(tp, kind).elem_type, bound)


def infer(model: onnx.ModelProto, warnings: list[str]) -> onnx.ModelProto:
    """ONNX shape inference with data propagation; on failure the model as it was."""
    try:
        data = model.SerializeToString()  # once: inference takes the bytes, the size check reads their length
        if len(data) > _PROTOBUF_LIMIT:
            return _infer_via_path(model)
        return shape_inference.infer_shapes(data, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # inference is best effort; the second pass fills what it can
        warnings.append(f"ONNX shape inference failed ({_first_line(e)}); shapes come from the file and per-node inference")
        return model


def _infer_via_path(model: onnx.ModelProto) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
        onnx.save_model(model, src, save_as_external_data=True, location="weights.bin")
        shape_inference.infer_shapes_path(src, dst, check_type=False, strict_mode=False, data_prop=True)
        return onnx.load(dst, load_external_data=False)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def infer_types(model: onnx.ModelProto, index: IndexedModel, warnings: list[str]) -> tuple[dict[str, TypeInfo], set[str]]:
    """Whole-model ONNX inference: every tensor's type, and the names whose type it computed.

    The second are the tensors inference wrote a value info for that the file did not
    declare (empty when inference failed); :func:`refine` trusts those.
    """
    declared = _declared_names(index)
    inferred = infer(model, warnings)
    types, described = collect_types(inferred, index)
    return types, (described - declared if inferred is not model else set())


def collect_types(inferred: onnx.ModelProto, index: IndexedModel) -> tuple[dict[str, TypeInfo], set[str]]:
    """Every tensor's (element type, shape) known after inference, subgraphs included,
    and the names of the value infos it holds.

    Constants come from the index (inference leaves them as they were); the value infos
    inference added are read from ``inferred``, whose graphs mirror the indexed ones.
    """
    types: dict[str, TypeInfo] = {}
    described: set[str] = set()
    for graph, proto in _inferred_graphs(index.main, inferred.graph):
        for t in graph.initializers:
            types[t.name] = (t.elem_type, t.dims)
        for node in graph.nodes:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                types[node.output[0]] = _constant_type(node)
        for infos, are_value_infos in ((proto.input, False), (proto.value_info, True), (proto.output, False)):
            for value_info in infos:
                name = value_info.name
                if are_value_infos:
                    described.add(name)
                known = types.get(name)
                if known is None or known[1] is None:
                    info = type_info(value_info.type)
                    if info[0] is not None:
                        types[name] = info
    return types, described


def _declared_names(index: IndexedModel) -> set[str]:
    """Tensors whose type the file itself declares (graph inputs and outputs, value infos)."""
    names = set()
    for graph in index.graphs:
        names.update(graph.inputs, graph.outputs)
        names.update(v.name for v in graph.proto.value_info)
    return names


def _inferred_graphs(graph: Graph, proto: onnx.GraphProto):
    """(indexed graph, its counterpart in the inferred model), depth first like ``index.walk``.

    Inference adds value infos but keeps every node where it was, so the subgraphs of
    the n-th node of a graph are those of the n-th ``NodeProto`` of its counterpart.
    """
    yield graph, proto
    for position, node in enumerate(graph.nodes):
        if node.subgraphs:
            protos = _graph_attributes(proto.node[position])
            for sub, sub_proto in zip(node.subgraphs, protos):
                yield from _inferred_graphs(sub, sub_proto)


def _graph_attributes(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    graphs = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            graphs.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            graphs.extend(attr.graphs)
    return graphs


def _constant_type(node: Node) -> TypeInfo:
    for name in node.attrs:
        if name == "value":
            return _tensor_type(node.attrs[name])
        if name in ("value_float", "value_int"):
            return (onnx.TensorProto.FLOAT if name == "value_float" else onnx.TensorProto.INT64, ())
        if name in ("value_floats", "value_ints"):
            value = node.attr(name)
            n = len(value) if isinstance(value, list) else 0
            return (onnx.TensorProto.FLOAT if name == "value_floats" else onnx.TensorProto.INT64, (n,))
    return (None, None)


def _tensor_type(value) -> TypeInfo:
    if isinstance(value, onnx.TensorProto):
        return (value.data_type, tuple(value.dims))
    return (onnx.TensorProto.UNDEFINED, ())  # a 'value' that is not a tensor reads as an empty one


def type_info(tp: onnx.TypeProto) -> TypeInfo:
    """(element type, shape) of a tensor type; shape items are int, dim name, or None."""
    if tp.WhichOneof("value") != "tensor_type":
        return (None, None)
    tensor_type = tp.tensor_type
    elem = tensor_type.elem_type or None
    if not tensor_type.HasField("shape"):
        return (elem, None)
    dims = []
    for d in tensor_type.shape.dim:
        value = d.dim_value
        if value > 0:  # the common case, read with one field access
            dims.append(value)
        else:
            dims.append(_rare_dim(d, value))
    return (elem, tuple(dims))


def _rare_dim(d: onnx.TensorShapeProto.Dimension, value: int) -> Optional[int | str]:
    """A dim whose dim_value reads 0: a real 0, a named dim, or nothing known."""
    kind = d.WhichOneof("value")
    if kind == "dim_value":
        return value if value >= 0 else None
    if kind == "dim_param":
        name = d.dim_param
        # inference names the dims it cannot size unk__N: those are unknown
        return name if name and not name.startswith("unk__") else None
    return None


def constant_values(index: IndexedModel) -> Values:
    """Values of the small constants (shapes, axes, trip counts) that formulas may read.

    Integer constants (shapes, axes, indices: what formulas read) are decoded now;
    floating-point ones (biases, normalization statistics: seldom read) when first read
    (see :class:`Values`). A later constant of the same name (in a subgraph) replaces an
    earlier one when it decodes, as if all were read in order.
    """
    values = Values()
    for graph in index.graphs:
        for t in graph.initializers:
            _add_constant(values, t.name, small_value, t, t.elem_type in FLOAT_TYPES)
        for node in graph.nodes:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                _add_constant(values, node.output[0], _constant_node_value, node, _constant_type(node)[0] in FLOAT_TYPES)
    return values


def _add_constant(values: Values, name: str, decode: Callable, source, defer: bool) -> None:
    """Give ``name`` the value ``decode(source)``, now or when first read (None: no value)."""
    if values.holds(name):  # a name defined twice: decode both, in order
        values.get(name)
    elif defer:
        values.defer([name], [], lambda: _set_value(values, name, decode(source)))
        return
    _set_value(values, name, decode(source))


def _set_value(values: Values, name: str, value: Optional[np.ndarray]) -> None:
    if value is not None:
        values[name] = value


def _constant_node_value(node: Node) -> Optional[np.ndarray]:
    for name in node.attrs:
        if name == "value":
            tensor = node.tensor(name)
            return small_value(tensor) if tensor is not None else None
        if name in ("value_float", "value_int", "value_floats", "value_ints"):
            return np.asarray(node.attr(name))
    return None


def refine(index: IndexedModel, types: dict[str, TypeInfo], values: Values, settled: set[str] = frozenset()) -> int:
    """Walk every graph in execution order and improve what inference left open.

    Small integer tensors computed by shape arithmetic get their values (added to
    ``values``); outputs without a fully static shape are inferred again from the now
    better-known inputs. ``settled`` names the tensors whose type ONNX inference of the
    whole model computed (not read from the file): a node whose outputs are all settled
    and whose inputs are as that inference saw them is not asked again. Returns how many
    tensors gained a type or shape.
    """
    schemas = _SchemaInference(list(index.model.opset_import))
    as_inferred = dict(types)  # a type that refine replaces is no longer what inference saw
    initializers = {t.name for g in index.graphs for t in g.initializers}
    improved = 0
    for graph in index.graphs:
        try:
            order = topological_order(graph)
        except Exception:  # a cyclic graph is reported by the analyzer itself
            return improved
        for node in order:
            _propagate_values(node, values, types)
            if _all_static(node.output, types):
                continue
            if settled and _unchanged_since_inference(node, settled, types, as_inferred, values, initializers):
                continue
            outputs = _infer_node(node, types, values, schemas)
            for name, info in zip(node.output, outputs):
                if name and info and _better(info, types.get(name)):
                    types[name] = info
                    improved += 1
    return improved


def _unchanged_since_inference(node: Node, settled: set[str], types: dict[str, TypeInfo],
                               as_inferred: dict[str, TypeInfo], values: Values, initializers: set[str]) -> bool:
    """Whether inferring ``node`` alone again can only repeat what ONNX inference of the model gave.

    Per-node inference is the same ONNX function the whole-model pass applied, given
    the node's input types and the values of its constant inputs. So when every output
    has a shape that pass computed, and every input has the type it had then and no value
    beyond the initializer data it had then, asking again gives nothing better: it only
    costs (most of all on graphs whose dims stay symbolic, where every node is asked).
    Nodes holding subgraphs are always asked (the pass saw their outer scope too).
    """
    if node.subgraphs:
        return False
    for name in node.output:
        if name and (name not in settled or types.get(name, (None, None))[1] is None):
            return False
    for name in node.input:
        if not name:
            continue
        info = types.get(name)
        if info is None or info[0] is None or info is not as_inferred.get(name):
            return False
        if values.holds(name) and name not in initializers:
            return False
    return True


def _propagate_values(node: Node, values: Values, types: dict[str, TypeInfo]) -> None:
    if evaluator_for(node) is None:  # most operators compute no shape arithmetic: skip them at once
        return
    if all(o in values for o in node.output if o):
        return
    if _all_static(node.output, types):  # the values can only matter to their readers
        values.defer(node.output, node.input, lambda: _assign_values(node, values, types))
    else:  # a value gives its tensor a type: downstream inference needs it now
        _assign_values(node, values, types)


def _assign_values(node: Node, values: Values, types: dict[str, TypeInfo]) -> None:
    for name, value in zip(node.output, evaluate(node, values, types)):
        if name and value is not None and name not in values:
            values[name] = value
            if not _static(types.get(name)):
                types[name] = (helper.np_dtype_to_tensor_dtype(value.dtype), tuple(int(d) for d in value.shape))


def _static(info: Optional[TypeInfo]) -> bool:
    if info is None or info[1] is None:
        return False
    for d in info[1]:
        if not isinstance(d, int):
            return False
    return True


def _all_static(names: list[str], types: dict[str, TypeInfo]) -> bool:
    """Every named tensor (absent ones, named '', aside) has a static shape."""
    for name in names:
        if name and not _static(types.get(name)):
            return False
    return True


def _better(new: TypeInfo, old: Optional[TypeInfo]) -> bool:
    if new[0] is None or new[1] is None:
        return old is None or old[0] is None
    if old is None or old[1] is None:
        return True
    return sum(isinstance(d, int) for d in new[1]) > sum(isinstance(d, int) for d in old[1])


def _infer_node(node: Node, types, values: Values, schemas: _SchemaInference) -> list[Optional[TypeInfo]]:
    inferred = schemas.infer(node, types, values)
    if any(info and info[1] is not None for info in inferred):
        return inferred
    fn = shape_function(node.domain, node.op_type)
    if fn is None:
        return inferred
    try:
        return list(fn(NodeContext(node=node, types=types, constants=values)))
    except Exception:  # not enough known about the inputs
        return inferred


class _SchemaInference:
    """ONNX inference of single nodes, with what every node shares (opsets, input types) built once."""

    def __init__(self, opsets: list[onnx.OperatorSetIdProto]):
        self.opsets = opsets
        self.versions: dict[str, int] = {}  # domain -> the version the model imports (the first listed)
        for o in opsets:
            self.versions.setdefault(o.domain or "", o.version)
        self._type_protos: dict[TypeInfo, onnx.TypeProto] = {}

    def infer(self, node: Node, types, values: Values) -> list[Optional[TypeInfo]]:
        try:
            schema = onnx.defs.get_schema(node.op_type, self._version(node.domain), node.domain)
        except Exception:
            return []
        input_types = {}
        for name in node.input:
            if name and name in types and types[name][0] is not None:
                input_types[name] = self._type_proto(types[name])
        if any(name and name not in input_types for name in node.input):
            return []
        data = {n: numpy_helper.from_array(values[n], n) for n in node.input if n in values}
        try:
            out = shape_inference.infer_node_outputs(schema, node.proto, input_types, data, opset_imports=self.opsets)
        except Exception:
            return []
        return [type_info(out[o]) if o in out else None for o in node.output]

    def _version(self, domain: str) -> int:
        version = self.versions.get("" if domain == "ai.onnx" else domain)
        return version if version is not None else _newest_opset()

    def _type_proto(self, info: TypeInfo) -> onnx.TypeProto:
        proto = self._type_protos.get(info)
        if proto is None:
            elem, shape = info
            proto = self._type_protos[info] = helper.make_tensor_type_proto(elem, list(shape) if shape is not None else None)
        return proto


@functools.cache
def _newest_opset() -> int:
    return onnx.defs.onnx_opset_version()
