"""Tensor types and shapes: symbolic-dim binding, ONNX shape inference, and the gaps it leaves.

ONNX shape inference (with data propagation) does most of the work. It stops at the
first operator whose schema it does not know (the ``com.microsoft`` contrib operators),
so a second pass walks the graph in execution order and fills what is still missing:
contrib operators through the registry's shape functions, standard operators through
``onnx.shape_inference.infer_node_outputs`` one node at a time.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator, Optional

import numpy as np
import onnx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from onnx import helper, numpy_helper, shape_inference
from onnx.onnx_cpp2py_export.shape_inference import infer_shapes as _infer_shapes

from mkdocs_onnx.analysis.computed import kept_whole
from mkdocs_onnx.analysis.costs import NodeContext, shape_function, subgraph_inputs_function
from mkdocs_onnx.analysis.graphs import node_label, qualified_op, topological_order
from mkdocs_onnx.analysis.index import DEFAULT_DOMAINS, Graph, IndexedModel, Node
from mkdocs_onnx.analysis.report import TensorInfo
from mkdocs_onnx.analysis.tensors import FLOAT_TYPES, PLAIN_RAW, SMALL_CONSTANT_ELEMENTS, dtype_name, small_value, type_name
from mkdocs_onnx.analysis.values import EVALUATED_OPS, Values, evaluate

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
    for value_info in index.main.real_input_protos():
        dims_read = value_info.type.tensor_type.shape.dim[:]  # sliced: one call, and its length known
        for axis, dim in enumerate(dims_read):
            if axis == 0 and len(dims_read) > 1 and not dim.dim_param and (not dim.HasField("dim_value") or dim.dim_value < 0):
                # An unnamed leading dim (or -1, as some converters write) is the batch.
                label = f"{value_info.name}[0]"
                binding.values[label] = dims.get(label, batch_size)
                binding.batch_dims.append(label)
                dim.dim_value = binding.values[label]
                index.note_edit("dims bound")
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
    for name, value in binding.values.items():  # 'past_sequence_length + sequence_length' (Optimum)
        if value is None and _ARITHMETIC_DIM.search(name):
            bound_value = _evaluate_dim(name, bound)
            if bound_value is not None:
                binding.values[name] = bound[name] = bound_value
    # Dims asked for that no graph input has may name dims inside subgraphs (a generation
    # loop's decoder: its past length): they are bound there, and reported when they were.
    inner = {k: v for k, v in dims.items() if k not in binding.values} if len(index.graphs) > 1 else {}
    if bound or inner:
        used: set[str] = set()
        for graph in index.graphs:
            names = bound if graph is index.main else {**bound, **inner}
            proto = graph.proto
            for value_info in (*proto.input, *proto.output, *proto.value_info):
                _substitute(value_info.type, names, used)
        binding.values.update((k, v) for k, v in inner.items() if k in used)
        if used:
            index.note_edit("dims bound")
    return binding


_ARITHMETIC_DIM = re.compile(r"[-+*/]")
_DIM_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
                  ast.FloorDiv: operator.floordiv}


def _evaluate_dim(expression: str, bound: dict[str, int]) -> Optional[int]:
    """The value of a dim named by arithmetic on other dims ('a + b', 'encoder_sequence_length / 2',
    as Optimum names them) once those are bound; None when it is anything else or not whole."""
    def value(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in _DIM_OPERATORS:
            return Fraction(_DIM_OPERATORS[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.Name) and node.id in bound:
            return Fraction(bound[node.id])
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        raise ValueError(expression)

    try:
        result = value(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None
    return int(result) if result.denominator == 1 and result >= 0 else None


def _is_batch_like(name: str, axis: int) -> bool:
    if _BATCH_NAME.search(name):
        return True
    return axis == 0 and not _NOT_BATCH_NAME.search(name)


def _substitute(tp: onnx.TypeProto, bound: dict[str, int], used: set[str]) -> None:
    """Give the dims of ``tp`` named in ``bound`` their values; add the names it used to ``used``."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        for dim in tp.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in bound:
                used.add(dim.dim_param)
                dim.dim_value = bound[dim.dim_param]
    elif kind in ("sequence_type", "optional_type"):
        _substitute(getattr(tp, kind).elem_type, bound, used)


def infer(model: onnx.ModelProto, warnings: list[str], source: Optional[bytes] = None,
          subgraphs: bool = True) -> Optional[_LiteModel]:
    """ONNX shape inference with data propagation: the types of the inferred model, None on failure.

    ``source``: serialized bytes that parse to ``model`` as it is now (the file's own, while
    nothing has changed it); inference reads them instead of a fresh serialization.
    ``subgraphs``: whether to read the types of subgraphs too (else the nodes are skipped).
    """
    lite = _LiteModel if subgraphs else _LiteGraphModel
    try:
        # once: inference takes the bytes, the size check reads their length
        data = source if source is not None else model.SerializeToString()
        if len(data) > _PROTOBUF_LIMIT:
            return lite.FromString(_infer_via_path(model))
        # The C++ entry point takes and gives bytes: only the types are parsed back, not the model.
        # (No type check, no strict mode, data propagation.)
        return lite.FromString(_infer_shapes(data, False, False, True))
    except Exception as e:  # inference is best effort; the second pass fills what it can
        warnings.append(f"ONNX shape inference failed ({_first_line(e)}); shapes come from the file and per-node inference")
        return None


# A file's bytes stand for its model only well below the size limit: serializing the parsed
# model again may take more bytes (a packed list is written unpacked), and a model past the
# limit takes another way through inference.
_SOURCE_LIMIT = _PROTOBUF_LIMIT // 4


def strip_weight_data(index: IndexedModel) -> None:
    """Drop the data of large tensors: shape inference needs only their dims and type.

    Everything that reads weight values has run by now; small tensors (shapes, axes)
    keep their data so that data propagation still works, and so do possible attention
    masks, which architecture detection reads. Stripping twice changes nothing more.
    """
    for t in index.tensors():
        # math.prod(t.dims): t.numel, without a property call
        if math.prod(t.dims) > SMALL_CONSTANT_ELEMENTS and not t.external and not kept_whole(t):
            proto = t.proto
            for name in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
                proto.ClearField(name)
            proto.data_location = onnx.TensorProto.EXTERNAL
            del proto.external_data[:]
            proto.external_data.add(key="location", value="__stripped__")
            index.note_edit("weight data stripped")


def _infer_via_path(model: onnx.ModelProto) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
        onnx.save_model(model, src, save_as_external_data=True, location="weights.bin")
        shape_inference.infer_shapes_path(src, dst, check_type=False, strict_mode=False, data_prop=True)
        with open(dst, "rb") as f:
            return f.read()


def _lite_model_class(subgraphs: bool) -> type:
    """A message class that reads, from a serialized ModelProto, only what :func:`collect_types` needs.

    Its value infos keep their ``type`` as the serialized ``TypeProto``: the bytes key a
    cache of decoded types (a model repeats a few shapes over thousands of tensors), and
    parsing skips the nodes' other fields and the tensors. Field numbers are onnx.proto's.
    Without ``subgraphs``, it skips the nodes altogether (a third of the time, where no
    node holds a graph).
    """
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
    if not subgraphs:
        del messages["Attribute"], messages["Node"]
        messages["Graph"] = messages["Graph"][1:]
    package = "mkdocs_onnx_types" if subgraphs else "mkdocs_onnx_graph_types"
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto2")
    for name, fields in messages.items():
        message = file.message_type.add(name=name)
        for field_name, number, label, kind in fields:
            if isinstance(kind, str):
                message.field.add(name=field_name, number=number, label=label, type=field.TYPE_MESSAGE,
                                  type_name=f".{package}.{kind}")
            else:
                message.field.add(name=field_name, number=number, label=label, type=kind)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Model"))


_LiteModel = _lite_model_class(subgraphs=True)
_LiteGraphModel = _lite_model_class(subgraphs=False)  # the main graph's types only


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def infer_types(model: onnx.ModelProto, index: IndexedModel, warnings: list[str],
                source: Optional[bytes] = None) -> tuple[dict[str, TypeInfo], set[str]]:
    """Whole-model ONNX inference: every tensor's type, and the names whose type it computed.

    The second are the tensors inference wrote a value info for that the file did not
    declare (empty when inference failed); :func:`refine` trusts those.

    Weight data is stripped first (:func:`strip_weight_data`). ``source``: the bytes the
    model was parsed from; while no pass has changed the model (``index.as_parsed()``),
    inference reads them, and the model is not serialized again.
    """
    strip_weight_data(index)
    if source is not None and not (index.as_parsed() and len(source) <= _SOURCE_LIMIT):
        source = None
    inferred = infer(model, warnings, source, subgraphs=len(index.graphs) > 1)
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
        _add_value_infos(types, proto.value_info[:], decoded, described)
        _add_value_infos(types, proto.output[:], decoded, None)
    return types, described


def _add_type(types: dict[str, TypeInfo], name: str, tp: bytes | onnx.TypeProto,
              decoded: dict[bytes, TypeInfo]) -> None:
    """Give ``name`` the type ``tp`` describes, when it says an element type.

    A model's tensors share a few types: looking up the serialized TypeProto in ``decoded``
    costs a fraction of reading its shape dim by dim (the same bytes decode the same way).
    """
    info = decoded.get(tp) if type(tp) is bytes else None  # bytes: what :func:`infer` gives
    if info is None:
        info = _decoded_type(tp, decoded)
    if info[0] is not None:
        types[name] = info


def _add_value_infos(types: dict[str, TypeInfo], value_infos: list, decoded: dict[bytes, TypeInfo],
                     described: Optional[set[str]]) -> None:
    """:func:`_add_type` for each value info whose tensor has no shape yet (written out: a model
    has thousands); their names go to ``described`` when given."""
    known_type, decoded_type = types.get, decoded.get  # looked up once, not per value info
    for value_info in value_infos:
        name = value_info.name
        if described is not None:
            described.add(name)
        known = known_type(name)
        if known is None or known[1] is None:
            tp = value_info.type
            info = decoded_type(tp) if type(tp) is bytes else None
            if info is None:
                info = _decoded_type(tp, decoded)
            if info[0] is not None:
                types[name] = info


def _decoded_type(tp: bytes | onnx.TypeProto, decoded: dict[bytes, TypeInfo]) -> TypeInfo:
    """The type ``tp`` describes, decoded once per distinct serialized TypeProto."""
    data = tp if type(tp) is bytes else tp.SerializeToString()
    info = decoded.get(data)
    if info is None:
        info = decoded[data] = type_info(onnx.TypeProto.FromString(data))
    return info


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


def tensor_info(value_info: onnx.ValueInfoProto, types: Optional[dict[str, TypeInfo]] = None) -> TensorInfo:
    """A graph input or output as the file declares it; where it declares no shape, the one
    in ``types`` (inference's) when given."""
    tp = value_info.type
    elem, shape = type_info(tp)
    dtype = type_name(tp)
    if shape is None and types and types.get(value_info.name, (None, None))[1] is not None:
        elem, shape = types[value_info.name]
        dtype = dtype_name(elem)
    return TensorInfo(value_info.name, dtype, list(shape) if shape is not None else None)


def constant_values(index: IndexedModel) -> Values:
    """Values of the small constants (shapes, axes, trip counts) that formulas may read.

    Integer constants (shapes, axes, indices: what formulas read) are decoded now;
    floating-point ones (biases, normalization statistics: seldom read) when first read
    (see :class:`Values`). A later constant of the same name (in a subgraph) replaces an
    earlier one when it decodes, as if all were read in order.
    """
    values = Values()
    shared: dict = {}  # equal integer constants decoded once (see small_value)
    for graph in index.graphs:
        for t in graph.initializers:
            name = t.name
            if values.holds(name):
                _add_constant(values, name, small_value, t, t.elem_type in FLOAT_TYPES)
            elif t.elem_type in FLOAT_TYPES:  # common, in short: a float constant, decoded when first read
                values.defer_decoding(name, small_value, t)
            else:  # the common case, in short: an integer constant decoded now
                value = small_value(t, shared)
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
        values.defer_decoding(name, decode, source)
        return
    value = decode(source)
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


def refine(index: IndexedModel, types: dict[str, TypeInfo], values: Values, settled: set[str] = frozenset(),
           warnings: Optional[list[str]] = None) -> int:
    """Walk every graph in execution order and improve what inference left open.

    Small integer tensors computed by shape arithmetic get their values (added to
    ``values``); outputs without a fully static shape are inferred again from the now
    better-known inputs. ``settled`` names the tensors whose type ONNX inference of the
    whole model computed (not read from the file): a node whose outputs are all settled
    and whose inputs are as that inference saw them is not asked again. Nodes that ONNX
    inference rejects (inputs of conflicting types, say), and whose outputs stay unknown,
    are named in ``warnings``. Returns how many tensors gained a type or shape.
    """
    schemas: Optional[_SchemaInference] = None  # built for the first node asked (most models ask none)
    inferred: Optional[_Inferred] = None  # likewise, for the first node whose outputs inference left open
    retyped: dict[str, Optional[TypeInfo]] = {}  # the types values replaced before then, as inference left them
    improved = 0
    for graph in index.graphs:
        try:
            order = topological_order(graph)
        except Exception:  # a cyclic graph is reported by the analyzer itself
            return improved
        for node in order:
            if node.subgraphs:  # its subgraphs are walked later: type their inputs first where inference cannot
                improved += _type_subgraph_inputs(node, types, values)
            if node.op_type in EVALUATED_OPS and node.domain in DEFAULT_DOMAINS:  # shape arithmetic, maybe
                if _all_static(node.output, types):  # its values can only matter to their readers: on first read
                    if not values.knows_all(node.output):
                        values.defer(node.output, node.input, _assign_values, node, values, types)
                    continue
                if not values.knows_all(node.output):  # a value gives its tensor a type: inference needs it now
                    if settled and inferred is None:
                        for name in node.output:
                            retyped.setdefault(name, types.get(name))
                    _assign_values(node, values, types)
            if _all_static(node.output, types):  # most nodes: inference left nothing open
                continue
            if settled:
                if inferred is None:
                    inferred = _Inferred(index, settled, types, retyped)
                if _unchanged_since_inference(node, graph, inferred, types, values):
                    continue
            if schemas is None:
                schemas = _SchemaInference(list(index.model.opset_import))
            outputs = _infer_node(node, types, values, schemas)
            for name, info in zip(node.output, outputs):
                if name and info and _better(info, types.get(name)):
                    types[name] = info
                    improved += 1
    if schemas is not None and schemas.rejected and warnings is not None:
        warnings.extend(_rejections(schemas.rejected, types))
    return improved


def _type_subgraph_inputs(node: Node, types: dict[str, TypeInfo], values: Values) -> int:
    """Give the inputs of ``node``'s subgraphs the types its registry function says they are called with."""
    fn = subgraph_inputs_function(node.domain, node.op_type)
    if fn is None:
        return 0
    ctx = NodeContext(node=node, types=types, constants=values)
    improved = 0
    try:
        called_with = fn(ctx)
    except Exception:  # not enough known about the node's inputs
        return 0
    for attribute, infos in called_with.items():
        graph = ctx.subgraph(attribute)
        for name, info in zip(graph.inputs if graph is not None else (), infos):
            if info is not None and _better(info, types.get(name)):
                types[name] = info
                improved += 1
    return improved


def _rejections(rejected: dict[str, tuple[Node, str]], types: dict[str, TypeInfo], shown: int = 3) -> list[str]:
    """A warning for each of the first rejected nodes whose outputs stay unknown, then how many more."""
    unresolved = [(label, node, why) for label, (node, why) in rejected.items() if not _all_static(node.output, types)]
    found = [f"ONNX shape inference rejects node {label} ({qualified_op(node)}) given the types of its inputs: {why}. "
             "The shapes of its outputs stay unknown, and what depends on them is not counted"
             for label, node, why in unresolved[:shown]]
    if len(unresolved) > shown:
        more = len(unresolved) - shown
        found.append(f"ONNX shape inference rejects {more} more node{'s' if more != 1 else ''}")
    return found


class _Inferred:
    """What whole-model inference computed (``settled``: see :func:`refine`), and what it saw."""

    def __init__(self, index: IndexedModel, settled: set[str], types: dict[str, TypeInfo],
                 retyped: dict[str, Optional[TypeInfo]]):
        self.settled = settled
        # The types as inference left them (``retyped``: those refine has replaced so far, as
        # they were): a type that refine replaces is no longer what inference saw.
        self.types = dict(types)
        for name, info in retyped.items():
            if info is None:
                self.types.pop(name, None)
            else:
                self.types[name] = info
        self.initializers = {t.name for g in index.graphs for t in g.initializers}  # likewise their data
        self.main = index.main
        # Whether inference of the model saw each main-graph input exactly as per-node inference
        # does: with IR version 4 or later it takes the type of an initializer that is not a graph
        # input from the initializer, and it reads each domain's opset from one import only.
        domains = [o.domain for o in index.model.opset_import]
        self.same_view = index.model.ir_version >= 4 and len(set(domains)) == len(domains)
        self.main_inputs = set(index.main.inputs)


def _unchanged_since_inference(node: Node, graph: Graph, inferred: _Inferred, types: dict[str, TypeInfo],
                               values: Values) -> bool:
    """Whether inferring ``node`` alone again can only repeat what ONNX inference of the model gave.

    Per-node inference is the same ONNX function the whole-model pass applied, given
    the node's input types and the values of its constant inputs. So when every output
    has a shape that pass computed, and every input has the type it had then and no value
    beyond the initializer data it had then, asking again gives nothing better: it only
    costs (most of all on graphs whose dims stay symbolic, where every node is asked).
    Nodes holding subgraphs are always asked (the pass saw their outer scope too).

    An output that pass typed but could not shape (its rank depends on data) is not
    shaped by asking again either, as long as the node sees no more than that pass saw
    (see ``_Inferred.same_view``) and no shape function of the registry would be tried
    in its place. An output it could not type is always asked: the answer is recorded.
    """
    if node.subgraphs:
        return False
    settled = inferred.settled
    shapeless = False
    for name in node.output:
        if name:
            if name not in settled:
                return False
            info = types.get(name)
            if info is None or info[1] is None:
                if info is None or info[0] is None:
                    return False
                shapeless = True
    if shapeless and not _sees_what_inference_saw(node, graph, inferred):
        return False
    as_inferred = inferred.types
    for name in node.input:
        if not name:
            continue
        info = types.get(name)
        if info is None or info[0] is None or info is not as_inferred.get(name):
            return False
        if name not in inferred.initializers and values.holds(name):
            return False
    return True


def _sees_what_inference_saw(node: Node, graph: Graph, inferred: _Inferred) -> bool:
    """Whether per-node inference of ``node`` is given no more than inference of the model was
    (and no registry shape function could follow it)."""
    if graph is not inferred.main or not inferred.same_view or shape_function(node.domain, node.op_type) is not None:
        return False
    for name in node.input:  # an initializer also listed as a graph input was typed from the input
        if name in inferred.initializers and name in inferred.main_inputs:
            return False
    return True


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
    """ONNX's inference of ``node``; a registry shape function gives what it leaves out
    (all outputs, or an optional one, such as the mask of a Dropout before opset 10)."""
    inferred = schemas.infer(node, types, values)
    shaped = [info is not None and info[1] is not None for info in inferred]
    fn = shape_function(node.domain, node.op_type)
    if fn is None or (shaped and all(shaped) and len(inferred) == len(node.output)):
        return inferred
    try:
        computed = list(fn(NodeContext(node=node, types=types, constants=values)))
    except Exception:  # not enough known about the inputs
        return inferred
    if not any(shaped):
        return computed
    return [known if is_shaped else (computed[i] if i < len(computed) else known)
            for i, (known, is_shaped) in enumerate(zip(inferred, shaped))]


def _node_outputs(schema: onnx.defs.OpSchema, node: onnx.NodeProto, input_types: dict[str, bytes],
                  data: dict[str, bytes], opsets: dict[str, int]) -> dict[str, bytes]:
    """The serialized output types of ``node``, from the C++ entry point that
    ``shape_inference.infer_node_outputs`` calls once it has serialized its arguments.

    An onnx release whose private entry point takes other arguments gets the public
    function instead (slower, same answer), rather than no inference at all.
    """
    try:
        return schema._infer_node_outputs(node.SerializeToString(), input_types, data, {}, opsets, onnx.IR_VERSION)
    except (AttributeError, TypeError):
        out = shape_inference.infer_node_outputs(
            schema, node, {name: onnx.TypeProto.FromString(t) for name, t in input_types.items()},
            {name: onnx.TensorProto.FromString(t) for name, t in data.items()},
            opset_imports=[helper.make_opsetid(domain, version) for domain, version in opsets.items()])
        return {name: t.SerializeToString() for name, t in out.items()}


class _SchemaInference:
    """ONNX inference of single nodes, with what every node shares built once: schemas,
    opset imports, serialized input types (one per distinct type) and decoded output types.

    It calls what ``onnx.shape_inference.infer_node_outputs`` calls, with the bytes that
    function would build: that function serializes every input type and parses every
    output type again at each call, where here each distinct type is serialized once and
    each distinct output decoded once (a model repeats a few types over many nodes).
    """

    def __init__(self, opsets: list[onnx.OperatorSetIdProto]):
        self.opsets = {o.domain: o.version for o in opsets}  # as infer_node_outputs reads them: the last listed
        self.versions: dict[str, int] = {}  # domain -> the version the model imports (the first listed)
        for o in opsets:
            self.versions.setdefault(o.domain or "", o.version)
        self._schemas: dict[tuple[str, str], Optional[onnx.defs.OpSchema]] = {}
        self._type_bytes: dict[TypeInfo, bytes] = {}
        self._decoded: dict[bytes, TypeInfo] = {}
        self.rejected: dict[str, tuple[Node, str]] = {}  # node label -> (node, why ONNX inference rejected it)

    def infer(self, node: Node, types, values: Values) -> list[Optional[TypeInfo]]:
        schema = self._schema(node)
        if schema is None:
            return []
        input_types = {}
        for name in node.input:
            if name:
                info = types.get(name)
                if info is None or info[0] is None:  # an input of unknown type: nothing to infer from
                    return []
                input_types[name] = self._serialized_type(info)
        data = {n: _tensor(values[n], n).SerializeToString() for n in node.input if n in values}
        try:
            out = _node_outputs(schema, node.proto, input_types, data, self.opsets)
        except Exception as e:  # every input has a type: ONNX finds the node itself inconsistent
            self.rejected.setdefault(node_label(node), (node, _first_line(e)))
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
        if info is None:  # equal bytes parse to equal types
            info = self._decoded[data] = type_info(onnx.TypeProto.FromString(data))
        return info


# The element types whose TensorProto ``numpy_helper.from_array`` writes as plain raw data.
_RAW_ELEMENT_TYPES = {dtype: elem for elem, dtype in PLAIN_RAW.items()}


def _tensor(array: np.ndarray, name: str) -> onnx.TensorProto:
    """``numpy_helper.from_array(array, name)``; the common types built directly."""
    elem = _RAW_ELEMENT_TYPES.get(array.dtype)
    if elem is None or not name or sys.byteorder != "little":
        return numpy_helper.from_array(array, name)
    return onnx.TensorProto(dims=array.shape, data_type=elem, name=name, raw_data=array.tobytes())


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
