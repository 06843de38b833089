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
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import numpy as np
import onnx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from onnx import helper, numpy_helper, shape_inference
from onnx.onnx_cpp2py_export.shape_inference import infer_shapes as _infer_shapes

from mkdocs_onnx.analysis.costs import NodeContext, shape_function
from mkdocs_onnx.analysis.graphs import topological_order
from mkdocs_onnx.analysis.index import DEFAULT_DOMAINS, Graph, IndexedModel, Node
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, PLAIN_RAW, small_value
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
    initializers = {t.name for t in graph.initializer[:]}  # repeated fields are sliced: one call each
    return [i for i in graph.input[:] if i.name not in initializers]


def bind_dims(index: IndexedModel, dims: dict[str, int], batch_size: int) -> DimBinding:
    """Replace symbolic input dims by the values asked for, in place.

    A dim named by ``dims`` takes that value. Otherwise a batch-like dim (its name says
    batch, or it is the leading dim of an input and its name does not say sequence,
    time or the like) takes ``batch_size``. All other dims stay symbolic: whatever
    depends on them is reported as uncounted, never guessed.
    """
    binding = DimBinding(values={})
    for value_info in _real_inputs(index.main):
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


def _real_inputs(graph: Graph) -> list[onnx.ValueInfoProto]:
    """``graph_inputs`` of an indexed graph, from the names the index already read."""
    initializers = {t.name for t in graph.initializers}
    protos = graph.proto.input
    return [protos[position] for position, name in enumerate(graph.inputs) if name not in initializers]


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


def infer(model: onnx.ModelProto, warnings: list[str]) -> Optional[_LiteModel]:
    """ONNX shape inference with data propagation: the types of the inferred model, None on failure."""
    try:
        data = model.SerializeToString()  # once: inference takes the bytes, the size check reads their length
        if len(data) > _PROTOBUF_LIMIT:
            return _LiteModel.FromString(_infer_via_path(model))
        # The C++ entry point takes and gives bytes: only the types are parsed back, not the model.
        # (No type check, no strict mode, data propagation.)
        return _LiteModel.FromString(_infer_shapes(data, False, False, True))
    except Exception as e:  # inference is best effort; the second pass fills what it can
        warnings.append(f"ONNX shape inference failed ({_first_line(e)}); shapes come from the file and per-node inference")
        return None


def _infer_via_path(model: onnx.ModelProto) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
        onnx.save_model(model, src, save_as_external_data=True, location="weights.bin")
        shape_inference.infer_shapes_path(src, dst, check_type=False, strict_mode=False, data_prop=True)
        with open(dst, "rb") as f:
            return f.read()


def _lite_model_class() -> type:
    """A message class that reads, from a serialized ModelProto, only what :func:`collect_types` needs.

    Its value infos keep their ``type`` as the serialized ``TypeProto``: the bytes key a
    cache of decoded types (a model repeats a few shapes over thousands of tensors), and
    parsing skips the nodes' other fields and the tensors. Field numbers are onnx.proto's.
    """
    file = descriptor_pb2.FileDescriptorProto(name="mkdocs_onnx_types.proto", package="mkdocs_onnx_types",
                                              syntax="proto2")
    field = descriptor_pb2.FieldDescriptorProto
    one, many = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    messages = {  # message: (field name, number, label, type or message name)
        "ValueInfo": [("name", 1, one, field.TYPE_STRING), ("type", 2, one, field.TYPE_BYTES)],
        "Attribute": [("type", 20, one, field.TYPE_INT32), ("g", 6, one, "Graph"), ("graphs", 11, many, "Graph")],
        "Node": [("attribute", 5, many, "Attribute")],
        "Graph": [("node", 1, many, "Node"), ("input", 11, many, "ValueInfo"), ("output", 12, many, "ValueInfo"),
                  ("value_info", 13, many, "ValueInfo")],
        "Model": [("graph", 7, one, "Graph")],
    }
    for name, fields in messages.items():
        message = file.message_type.add(name=name)
        for field_name, number, label, kind in fields:
            if isinstance(kind, str):
                message.field.add(name=field_name, number=number, label=label, type=field.TYPE_MESSAGE,
                                  type_name=f".mkdocs_onnx_types.{kind}")
            else:
                message.field.add(name=field_name, number=number, label=label, type=kind)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("mkdocs_onnx_types.Model"))


_LiteModel = _lite_model_class()


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def infer_types(model: onnx.ModelProto, index: IndexedModel, warnings: list[str]) -> tuple[dict[str, TypeInfo], set[str]]:
    """Whole-model ONNX inference: every tensor's type, and the names whose type it computed.

    The second are the tensors inference wrote a value info for that the file did not
    declare (empty when inference failed); :func:`refine` trusts those.
    """
    inferred = infer(model, warnings)
    if inferred is None:  # the file's own declarations are all there is
        return collect_types(model, index)[0], set()
    types, described = collect_types(inferred, index)
    return types, described - _declared_names(index)


def collect_types(inferred, index: IndexedModel) -> tuple[dict[str, TypeInfo], set[str]]:
    """Every tensor's (element type, shape) known after inference, subgraphs included,
    and the names of the value infos it holds.

    Constants come from the index (inference leaves them as they were); the value infos
    inference added are read from ``inferred`` (what :func:`infer` gives, or the ModelProto
    when inference failed), whose graphs mirror the indexed ones.
    """
    types: dict[str, TypeInfo] = {}
    described: set[str] = set()
    decoded: dict[bytes, TypeInfo] = {}  # see _add_type
    for graph, proto in _inferred_graphs(index, inferred.graph):
        for t in graph.initializers:
            types[t.name] = (t.elem_type, t.dims)
        for node in graph.nodes:
            if node.op_type == "Constant" and node.domain in DEFAULT_DOMAINS and node.output:
                types[node.output[0]] = _constant_type(node)
        # Inference keeps the graph inputs as they were: their names are the index's, and
        # only those not typed yet are read (IR < 4 files list every initializer there).
        inputs = proto.input
        for position, name in enumerate(graph.inputs):
            known = types.get(name)
            if known is None or known[1] is None:
                _add_type(types, name, inputs[position].type, decoded)
        for value_info in proto.value_info[:]:
            name = value_info.name
            described.add(name)
            known = types.get(name)
            if known is None or known[1] is None:
                _add_type(types, name, value_info.type, decoded)
        for value_info in proto.output[:]:
            name = value_info.name
            known = types.get(name)
            if known is None or known[1] is None:
                _add_type(types, name, value_info.type, decoded)
    return types, described


def _add_type(types: dict[str, TypeInfo], name: str, tp: bytes | onnx.TypeProto,
              decoded: dict[bytes, TypeInfo]) -> None:
    """Give ``name`` the type ``tp`` describes, when it says an element type.

    A model's tensors share a few types: looking up the serialized TypeProto in ``decoded``
    costs a fraction of reading its shape dim by dim (the same bytes decode the same way).
    """
    data = tp if type(tp) is bytes else tp.SerializeToString()  # bytes: what :func:`infer` gives
    info = decoded.get(data)
    if info is None:
        info = decoded[data] = type_info(onnx.TypeProto.FromString(data))
    if info[0] is not None:
        types[name] = info


def _declared_names(index: IndexedModel) -> set[str]:
    """Tensors whose type the file itself declares (graph inputs and outputs, value infos)."""
    names = set()
    for graph in index.graphs:
        names.update(graph.inputs, graph.outputs)
        names.update(v.name for v in graph.proto.value_info)
    return names


def _inferred_graphs(index: IndexedModel, proto) -> Iterator[tuple[Graph, Any]]:
    """(indexed graph, its counterpart in the inferred model), depth first like ``index.walk``.

    Inference adds value infos but keeps every node where it was, so the subgraphs of
    the n-th node of a graph are those of the n-th ``NodeProto`` of its counterpart.
    """
    if len(index.graphs) == 1:  # the common case: no subgraphs to look for
        return iter([(index.main, proto)])
    return _graph_pairs(index.main, proto)


def _graph_pairs(graph: Graph, proto) -> Iterator[tuple[Graph, Any]]:
    yield graph, proto
    for position, node in enumerate(graph.nodes):
        if node.subgraphs:
            protos = _graph_attributes(proto.node[position])
            for sub, sub_proto in zip(node.subgraphs, protos):
                yield from _graph_pairs(sub, sub_proto)


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
    if not tp.HasField("tensor_type"):  # the oneof holds another kind of type, or none
        return (None, None)
    tensor_type = tp.tensor_type
    elem = tensor_type.elem_type or None
    if not tensor_type.HasField("shape"):
        return (elem, None)
    dims = []
    for d in tensor_type.shape.dim[:]:  # sliced: one call, where iterating reads dim by dim
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
            name = t.name
            if t.elem_type in FLOAT_TYPES or values.holds(name):
                _add_constant(values, name, small_value, t, t.elem_type in FLOAT_TYPES)
            else:  # the common case, in short: an integer constant decoded now
                value = small_value(t)
                if value is not None:
                    values[name] = value
        for node in graph.nodes:
            if node.op_type == "Constant" and node.domain in DEFAULT_DOMAINS and node.output:
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
    schemas: Optional[_SchemaInference] = None  # built for the first node asked (most models ask none)
    as_inferred = dict(types)  # a type that refine replaces is no longer what inference saw
    initializers: Optional[set[str]] = None  # likewise
    improved = 0
    for graph in index.graphs:
        try:
            order = topological_order(graph)
        except Exception:  # a cyclic graph is reported by the analyzer itself
            return improved
        for node in order:
            if _propagate_values(node, values, types) or _all_static(node.output, types):
                continue
            if settled:
                if initializers is None:
                    initializers = {t.name for g in index.graphs for t in g.initializers}
                if _unchanged_since_inference(node, settled, types, as_inferred, values, initializers):
                    continue
            if schemas is None:
                schemas = _SchemaInference(list(index.model.opset_import))
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


def _propagate_values(node: Node, values: Values, types: dict[str, TypeInfo]) -> bool:
    """Compute the values of a shape-arithmetic node's outputs, or defer them; whether deferred.

    They are deferred only when the outputs' shapes are all static already.
    """
    if evaluator_for(node) is None:  # most operators compute no shape arithmetic: skip them at once
        return False
    if values.knows_all(node.output):
        return False
    if _all_static(node.output, types):  # the values can only matter to their readers
        values.defer(node.output, node.input, lambda: _assign_values(node, values, types))
        return True
    _assign_values(node, values, types)  # a value gives its tensor a type: downstream inference needs it now
    return False


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
    """ONNX inference of single nodes, with what every node shares built once.

    It calls the C++ entry point that ``onnx.shape_inference.infer_node_outputs`` wraps,
    with the bytes that wrapper would pass: input types are serialized once per distinct
    type, and each distinct output type is decoded once.
    """

    def __init__(self, opsets: list[onnx.OperatorSetIdProto]):
        self.versions: dict[str, int] = {}  # domain -> the version the model imports (the first listed)
        self.imports: dict[str, int] = {}  # as infer_node_outputs passes them (the last listed)
        for o in opsets:
            domain, version = o.domain, o.version
            self.versions.setdefault(domain or "", version)
            self.imports[domain] = version
        self._schemas: dict[tuple[str, str], Optional[onnx.defs.OpSchema]] = {}
        self._type_bytes: dict[TypeInfo, bytes] = {}
        self._decoded: dict[bytes, TypeInfo] = {}

    def infer(self, node: Node, types, values: Values) -> list[Optional[TypeInfo]]:
        schema = self._schema(node)
        if schema is None:
            return []
        input_types = {}
        for name in node.input:
            info = types.get(name) if name else None
            if info is not None and info[0] is not None:
                input_types[name] = self._serialized_type(info)
        if any(name and name not in input_types for name in node.input):
            return []
        data = {n: _serialized_tensor(values[n], n) for n in node.input if n in values}
        try:
            out = schema._infer_node_outputs(node.proto.SerializeToString(), input_types, data, {}, self.imports,
                                             onnx.IR_VERSION)
        except Exception:
            return []
        return [self._type_info(out[o]) if o in out else None for o in node.output]

    def _schema(self, node: Node) -> Optional[onnx.defs.OpSchema]:
        key = (node.op_type, node.domain)
        if key not in self._schemas:
            self._schemas[key] = _schema(node.op_type, self._version(node.domain), node.domain)
        return self._schemas[key]

    def _version(self, domain: str) -> int:
        version = self.versions.get("" if domain == "ai.onnx" else domain)
        return version if version is not None else _newest_opset()

    def _serialized_type(self, info: TypeInfo) -> bytes:
        data = self._type_bytes.get(info)
        if data is None:
            elem, shape = info
            proto = helper.make_tensor_type_proto(elem, list(shape) if shape is not None else None)
            data = self._type_bytes[info] = proto.SerializeToString()
        return data

    def _type_info(self, data: bytes) -> TypeInfo:
        info = self._decoded.get(data)
        if info is None:
            info = self._decoded[data] = type_info(onnx.TypeProto.FromString(data))
        return info


# The element types whose TensorProto ``numpy_helper.from_array`` writes as plain raw data.
_RAW_ELEMENT_TYPES = {dtype: elem for elem, dtype in PLAIN_RAW.items()}


def _serialized_tensor(array: np.ndarray, name: str) -> bytes:
    """``numpy_helper.from_array(array, name)``, serialized; the common types built directly."""
    elem = _RAW_ELEMENT_TYPES.get(array.dtype)
    if elem is None or not name or sys.byteorder != "little":
        return numpy_helper.from_array(array, name).SerializeToString()
    return onnx.TensorProto(dims=array.shape, data_type=elem, name=name, raw_data=array.tobytes()).SerializeToString()


@functools.cache  # ONNX's own table, asked for the same few operators by every model
def _schema(op_type: str, version: int, domain: str) -> Optional[onnx.defs.OpSchema]:
    """The schema of an operator as of an opset version, None when ONNX knows none."""
    try:
        return onnx.defs.get_schema(op_type, version, domain)
    except Exception:
        return None


@functools.cache
def _newest_opset() -> int:
    return onnx.defs.onnx_opset_version()
