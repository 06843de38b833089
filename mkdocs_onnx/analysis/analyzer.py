"""analyze(): one ONNX file in, one Report out."""

from __future__ import annotations

import os
from collections import Counter
from typing import Optional

import onnx

from mkdocs_onnx.analysis import architecture, risks
from mkdocs_onnx.analysis.flops import count_flops
from mkdocs_onnx.analysis.graphs import iter_graphs, node_label, node_tensors, qualified_op, topological_order
from mkdocs_onnx.analysis.loading import LoadedModel, load_bytes, load_model
from mkdocs_onnx.analysis.memory import peak_activation, tensor_bytes
from mkdocs_onnx.analysis.params import ParamsResult, count_params, find_uses
from mkdocs_onnx.analysis.report import (
    GraphSummary, Memory, Metadata, ModelInfo, NodeCost, Report, TensorInfo,
)
from mkdocs_onnx.analysis.shapes import (
    bind_dims, collect_types, constant_values, graph_inputs, infer, refine, type_info,
)
from mkdocs_onnx.analysis.tensors import SMALL_CONSTANT_ELEMENTS, dtype_name, nbytes, tensor_numel
from mkdocs_onnx.errors import AnalysisError


def analyze(path: str | os.PathLike, *, name: Optional[str] = None, dims: Optional[dict[str, int]] = None,
            batch_size: int = 1) -> Report:
    """Analyse the ONNX model at ``path``.

    ``dims`` binds symbolic dims by name; other batch-like dims take ``batch_size``.
    Raises :class:`AnalysisError` with a one-line reason when the file cannot be analysed.
    """
    path = os.fspath(path)
    _check_batch_size(path, batch_size)
    return _analyze_loaded(load_model(path), name, dims, batch_size)


def analyze_model(model: onnx.ModelProto, *, name: str = "model", dims: Optional[dict[str, int]] = None,
                  batch_size: int = 1, path: str = "<memory>") -> Report:
    """Analyse a model held in memory (as built with ``onnx.helper``)."""
    _check_batch_size(name, batch_size)
    return _analyze_loaded(load_bytes(model.SerializeToString(), path), name, dims, batch_size)


def _check_batch_size(where: str, batch_size: int) -> None:
    if batch_size < 1:
        raise AnalysisError(f"{where}: batch size must be at least 1, not {batch_size}")


def _analyze_loaded(loaded: LoadedModel, name: Optional[str], dims: Optional[dict[str, int]],
                    batch_size: int) -> Report:
    path = loaded.path
    try:
        return _analyze(loaded, name or _default_name(path), dims or {}, batch_size)
    except AnalysisError:
        raise
    except RecursionError:
        raise AnalysisError(f"{path}: the graph nests too deeply to analyse") from None
    except Exception as e:  # malformed models reach corners no check anticipated; say so in one line
        raise AnalysisError(f"{path}: analysis failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None


def _default_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _analyze(loaded: LoadedModel, name: str, dims: dict[str, int], batch_size: int) -> Report:
    from mkdocs_onnx import __version__

    model = loaded.model
    warnings: list[str] = []
    inputs = [_tensor_info(v) for v in graph_inputs(model.graph)]  # before binding: keep symbolic names
    declared_outputs = [_tensor_info(v) for v in model.graph.output]
    binding = bind_dims(model, dims, batch_size)
    _imply_default_opset(model, warnings)
    _type_untyped_attributes(model)
    warnings.extend(_structural_warnings(model))
    order = _sort_in_place(model.graph, loaded.path)
    values = constant_values(model)
    params = count_params(model, order, values)
    facts = _facts(model, params)
    _strip_weight_data(model)

    inferred = infer(model, warnings)
    types = collect_types(inferred)
    refine(model, types, values)

    flops = count_flops(order, types, values)
    uses = find_uses(model, order)
    peak = peak_activation(model.graph, order, types, uses, params.constant_names)

    report = Report(
        model=ModelInfo(
            name=name, path=loaded.path, sha256=loaded.sha256, file_bytes=loaded.file_bytes,
            external_data_bytes=loaded.external_data_bytes,
            external_data_files=loaded.external_data_files,
            missing_external_data=loaded.missing_external_data,
        ),
        metadata=_metadata(model),
        graph=_graph_summary(model, inputs, _outputs(declared_outputs, types)),
        params=params.params,
        flops=flops.flops,
        memory=Memory(
            weights_bytes=params.weights_bytes,
            peak_activation_bytes=peak.peak_bytes,
            peak_node=peak.peak_node,
            activations_unknown=peak.unknown,
            file_bytes=loaded.file_bytes + loaded.external_data_bytes,
        ),
        architecture=architecture.detect(model, types=types, values=values, inputs=inputs),
        dims=dict(sorted(binding.values.items())),
        batch_dims=binding.batch_dims,
        nodes=_node_costs(order, flops.per_node, params, types),
        warnings=warnings,
        analyzer_version=__version__,
    )
    report.risks = risks.assess(report, facts, types=types, values=values)
    return report


def _structural_warnings(model: onnx.ModelProto) -> list[str]:
    """Defects that leave the file analysable but not runnable: say them, do not stop."""
    found = []
    newest = onnx.defs.onnx_opset_version()
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and o.version > newest:
            found.append(f"the file asks for default-domain opset {o.version}, newer than the {newest} the installed "
                         "onnx package knows; operators are read with their latest known definitions")
    available = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    available |= {o for n in model.graph.node for o in n.output}
    dangling = sorted({i for n in model.graph.node for i in n.input if i and i not in available})
    if dangling:
        shown = ", ".join(f"'{d}'" for d in dangling[:5]) + (", ..." if len(dangling) > 5 else "")
        found.append(f"{len(dangling)} tensor(s) are read but never produced: {shown}; what depends on them is uncounted")
    return found


def _sort_in_place(graph: onnx.GraphProto, where: str) -> list[onnx.NodeProto]:
    """Put the nodes in execution order (ONNX inference reads them in file order)."""
    order = topological_order(graph, where=where)
    if any(a is not b for a, b in zip(order, graph.node)):
        sorted_nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in order]
        del graph.node[:]
        graph.node.extend(sorted_nodes)
    return list(graph.node)


def _imply_default_opset(model: onnx.ModelProto, warnings: list[str]) -> None:
    """Files from before IR version 3 may omit the default opset, which then is opset 1."""
    if any(o.domain in ("", "ai.onnx") for o in model.opset_import):
        return
    if any(n.domain in ("", "ai.onnx") for n in model.graph.node):
        model.opset_import.add(domain="", version=1)
        warnings.append("the file imports no default-domain opset; read as opset 1, as the ONNX spec implies for old files")


_ATTRIBUTE_FIELDS = (
    ("floats", onnx.AttributeProto.FLOATS), ("ints", onnx.AttributeProto.INTS),
    ("strings", onnx.AttributeProto.STRINGS), ("tensors", onnx.AttributeProto.TENSORS),
    ("graphs", onnx.AttributeProto.GRAPHS), ("f", onnx.AttributeProto.FLOAT), ("i", onnx.AttributeProto.INT),
    ("s", onnx.AttributeProto.STRING), ("t", onnx.AttributeProto.TENSOR), ("g", onnx.AttributeProto.GRAPH),
)


def _type_untyped_attributes(model: onnx.ModelProto) -> None:
    """IR version 1 files leave attribute types unset; ONNX inference needs them."""
    for _, graph in iter_graphs(model.graph):
        for node in graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.UNDEFINED:
                    a.type = next((t for f, t in _ATTRIBUTE_FIELDS if _is_set(a, f)), onnx.AttributeProto.UNDEFINED)


def _is_set(a: onnx.AttributeProto, field_name: str) -> bool:
    return len(getattr(a, field_name)) > 0 if field_name.endswith("s") and len(field_name) > 1 else a.HasField(field_name)


def _tensor_info(value_info: onnx.ValueInfoProto) -> TensorInfo:
    elem, shape = type_info(value_info.type)
    kind = value_info.type.WhichOneof("value")
    dtype = dtype_name(elem) if kind == "tensor_type" else (kind or "unknown").replace("_type", "")
    return TensorInfo(value_info.name, dtype, list(shape) if shape is not None else None)


def _outputs(declared: list[TensorInfo], types) -> list[TensorInfo]:
    """Outputs as declared; where the file declares no shape, the inferred one."""
    result = []
    for t in declared:
        if t.shape is None and t.name in types and types[t.name][1] is not None:
            elem, shape = types[t.name]
            t = TensorInfo(t.name, dtype_name(elem), list(shape))
        result.append(t)
    return result


def _metadata(model: onnx.ModelProto) -> Metadata:
    opsets = {}
    for o in model.opset_import:
        opsets["ai.onnx" if o.domain in ("", "ai.onnx") else o.domain] = int(o.version)
    return Metadata(
        ir_version=int(model.ir_version),
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        domain=model.domain,
        model_version=int(model.model_version),
        opsets=dict(sorted(opsets.items())),
        doc_string=model.doc_string,
        metadata_props={p.key: p.value for p in model.metadata_props},
        graph_name=model.graph.name,
    )


def _graph_summary(model: onnx.ModelProto, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> GraphSummary:
    graphs = list(iter_graphs(model.graph))
    op_counts = Counter(qualified_op(n) for _, g in graphs for n in g.node)
    return GraphSummary(
        node_count=sum(op_counts.values()),
        op_counts=dict(sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        inputs=inputs,
        outputs=outputs,
        initializer_count=sum(len(g.initializer) for _, g in graphs),
        subgraph_count=len(graphs) - 1,
    )


def _node_costs(order, per_node_flops, params: ParamsResult, types) -> list[NodeCost]:
    rows = []
    for i, node in enumerate(order):
        if _is_folded(node, params.constant_names):
            rows.append(NodeCost(node_label(node, i), qualified_op(node), per_node_flops[i], params.per_node.get(i, 0),
                                 bytes_read=0, weight_bytes_read=0, bytes_written=0, folded=True))
            continue
        read = [tensor_bytes(types.get(n)) for n in node.input if n]
        written = [tensor_bytes(types.get(n)) for n in node.output if n]
        weight_read = sum(b or 0 for n, b in zip([n for n in node.input if n], read) if n in params.constant_names)
        rows.append(NodeCost(
            name=node_label(node, i),
            op_type=qualified_op(node),
            flops=per_node_flops[i],
            params=params.per_node.get(i, 0),
            bytes_read=None if None in read else sum(read),
            weight_bytes_read=weight_read,
            bytes_written=None if None in written else sum(written),
            subgraph="",
        ))
    return rows


def _is_folded(node: onnx.NodeProto, constants: set[str]) -> bool:
    outputs = [o for o in node.output if o]
    return bool(outputs) and all(o in constants for o in outputs)


def _facts(model: onnx.ModelProto, params: ParamsResult) -> risks.Facts:
    return risks.Facts.from_model(model, params)


def _strip_weight_data(model: onnx.ModelProto) -> None:
    """Drop the data of large tensors: shape inference needs only their dims and type.

    Everything that reads weight values has run by now; small tensors (shapes, axes)
    keep their data so that data propagation still works.
    """
    for _, graph in iter_graphs(model.graph):
        tensors = list(graph.initializer)
        for node in graph.node:
            tensors.extend(node_tensors(node))
        for t in tensors:
            if tensor_numel(t) > SMALL_CONSTANT_ELEMENTS and t.data_location != onnx.TensorProto.EXTERNAL:
                for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
                    t.ClearField(field)
                t.data_location = onnx.TensorProto.EXTERNAL
                del t.external_data[:]
                t.external_data.add(key="location", value="__stripped__")



