"""Tensor types and shapes: symbolic-dim binding, ONNX shape inference, and the gaps it leaves.

ONNX shape inference (with data propagation) does most of the work. It stops at the
first operator whose schema it does not know (the ``com.microsoft`` contrib operators),
so a second pass walks the graph in execution order and fills what is still missing:
contrib operators through the registry's shape functions, standard operators through
``onnx.shape_inference.infer_node_outputs`` one node at a time.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from mkdocs_onnx.analysis.costs import NodeContext, shape_function
from mkdocs_onnx.analysis.costs.registry import attribute_value
from mkdocs_onnx.analysis.graphs import iter_graphs, topological_order
from mkdocs_onnx.analysis.tensors import small_value
from mkdocs_onnx.analysis.values import evaluate

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


def bind_dims(model: onnx.ModelProto, dims: dict[str, int], batch_size: int) -> DimBinding:
    """Replace symbolic input dims by the values asked for, in place.

    A dim named by ``dims`` takes that value. Otherwise a batch-like dim (its name says
    batch, or it is the leading dim of an input and its name does not say sequence,
    time or the like) takes ``batch_size``. All other dims stay symbolic: whatever
    depends on them is reported as uncounted, never guessed.
    """
    binding = DimBinding(values={})
    for value_info in graph_inputs(model.graph):
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
        for _, graph in iter_graphs(model.graph):
            for value_info in (*graph.input, *graph.output, *graph.value_info):
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
        if model.ByteSize() > _PROTOBUF_LIMIT:
            return _infer_via_path(model)
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
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


def collect_types(model: onnx.ModelProto) -> dict[str, TypeInfo]:
    """Every tensor's (element type, shape) known after inference, subgraphs included."""
    types: dict[str, TypeInfo] = {}
    for _, graph in iter_graphs(model.graph):
        for t in graph.initializer:
            types[t.name] = (t.data_type, tuple(t.dims))
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                types[node.output[0]] = _constant_type(node)
        for value_info in (*graph.input, *graph.value_info, *graph.output):
            info = type_info(value_info.type)
            if info[0] is not None and (value_info.name not in types or types[value_info.name][1] is None):
                types[value_info.name] = info
    return types


def _constant_type(node: onnx.NodeProto) -> TypeInfo:
    for attr in node.attribute:
        if attr.name == "value":
            return (attr.t.data_type, tuple(attr.t.dims))
        if attr.name in ("value_float", "value_int"):
            return (onnx.TensorProto.FLOAT if attr.name == "value_float" else onnx.TensorProto.INT64, ())
        if attr.name in ("value_floats", "value_ints"):
            n = len(attr.floats) if attr.name == "value_floats" else len(attr.ints)
            return (onnx.TensorProto.FLOAT if attr.name == "value_floats" else onnx.TensorProto.INT64, (n,))
    return (None, None)


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
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
            dims.append(d.dim_param)  # inference names the dims it cannot size unk__N: those are unknown
        else:
            dims.append(None)
    return (elem, tuple(dims))


def constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Values of the small constants (shapes, axes, trip counts) that formulas may read."""
    values: dict[str, np.ndarray] = {}
    for _, graph in iter_graphs(model.graph):
        for t in graph.initializer:
            v = small_value(t)
            if v is not None:
                values[t.name] = v
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                v = _constant_node_value(node)
                if v is not None:
                    values[node.output[0]] = v
    return values


def _constant_node_value(node: onnx.NodeProto) -> Optional[np.ndarray]:
    for attr in node.attribute:
        if attr.name == "value":
            return small_value(attr.t)
        if attr.name in ("value_float", "value_int", "value_floats", "value_ints"):
            return np.asarray(attribute_value(attr))
    return None


def refine(model: onnx.ModelProto, types: dict[str, TypeInfo], values: dict[str, np.ndarray]) -> int:
    """Walk every graph in execution order and improve what inference left open.

    Small integer tensors computed by shape arithmetic get their values (added to
    ``values``); outputs without a fully static shape are inferred again from the now
    better-known inputs. Returns how many tensors gained a type or shape.
    """
    opsets = list(model.opset_import)
    improved = 0
    for _, graph in iter_graphs(model.graph):
        try:
            order = topological_order(graph)
        except Exception:  # a cyclic graph is reported by the analyzer itself
            return improved
        for node in order:
            _propagate_values(node, values, types)
            if all(_static(types.get(o)) for o in node.output if o):
                continue
            outputs = _infer_node(node, types, values, opsets)
            for name, info in zip(node.output, outputs):
                if name and info and _better(info, types.get(name)):
                    types[name] = info
                    improved += 1
    return improved


def _propagate_values(node: onnx.NodeProto, values: dict[str, np.ndarray], types: dict[str, TypeInfo]) -> None:
    if all(o in values for o in node.output if o):
        return
    for name, value in zip(node.output, evaluate(node, values, types)):
        if name and value is not None and name not in values:
            values[name] = value
            if not _static(types.get(name)):
                types[name] = (helper.np_dtype_to_tensor_dtype(value.dtype), tuple(int(d) for d in value.shape))


def _static(info: Optional[TypeInfo]) -> bool:
    return info is not None and info[1] is not None and all(isinstance(d, int) for d in info[1])


def _better(new: TypeInfo, old: Optional[TypeInfo]) -> bool:
    if new[0] is None or new[1] is None:
        return old is None or old[0] is None
    if old is None or old[1] is None:
        return True
    return sum(isinstance(d, int) for d in new[1]) > sum(isinstance(d, int) for d in old[1])


def _infer_node(node, types, values, opsets) -> list[Optional[TypeInfo]]:
    inferred = _infer_with_schema(node, types, values, opsets)
    if any(info and info[1] is not None for info in inferred):
        return inferred
    fn = shape_function(node.domain, node.op_type)
    if fn is None:
        return inferred
    try:
        return list(fn(NodeContext(node=node, types=types, constants=values)))
    except Exception:  # not enough known about the inputs
        return inferred


def _infer_with_schema(node, types, values, opsets) -> list[Optional[TypeInfo]]:
    try:
        schema = onnx.defs.get_schema(node.op_type, _opset_version(opsets, node.domain), node.domain)
    except Exception:
        return []
    input_types = {}
    for name in node.input:
        if name and name in types and types[name][0] is not None:
            elem, shape = types[name]
            input_types[name] = helper.make_tensor_type_proto(elem, list(shape) if shape is not None else None)
    if any(name and name not in input_types for name in node.input):
        return []
    data = {n: numpy_helper.from_array(values[n], n) for n in node.input if n in values}
    try:
        out = shape_inference.infer_node_outputs(schema, node, input_types, data, opset_imports=opsets)
    except Exception:
        return []
    return [type_info(out[o]) if o in out else None for o in node.output]


def _opset_version(opsets, domain: str) -> int:
    domain = "" if domain == "ai.onnx" else domain
    for o in opsets:
        if (o.domain or "") == domain:
            return o.version
    return onnx.defs.onnx_opset_version()
