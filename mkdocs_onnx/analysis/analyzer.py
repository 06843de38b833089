"""analyze(): one ONNX file in, one Report out."""

from __future__ import annotations

import gc
import os
from typing import Optional

import onnx

# The package sets its version before it imports this module: read once here, not per analysis.
from mkdocs_onnx import __version__
from mkdocs_onnx.analysis import architecture, risks
from mkdocs_onnx.analysis.external import read_external_constants
from mkdocs_onnx.analysis.flops import FlopsResult, count_flops
from mkdocs_onnx.analysis.folding import Folding, find_folding
from mkdocs_onnx.analysis.graphs import execution_order, node_label, qualified_name, qualified_op, topological_order
from mkdocs_onnx.analysis.index import IndexedModel, Node
from mkdocs_onnx.analysis.loading import LoadedModel, inline_functions, load_bytes, load_model, measure_external_data
from mkdocs_onnx.analysis.memory import TensorSizes, peak_activation
from mkdocs_onnx.analysis.params import ParamsResult, count_params, find_uses
from mkdocs_onnx.analysis.report import (
    GraphSummary, Memory, Metadata, ModelInfo, NodeCost, Report, TensorInfo,
)
from mkdocs_onnx.analysis.scopes import separate_subgraph_names
from mkdocs_onnx.analysis.shapes import bind_dims, constant_values, infer_types, refine, tensor_info
from mkdocs_onnx.analysis.tensors import dtype_name
from mkdocs_onnx.errors import AnalysisError


def analyze(path: str | os.PathLike, *, name: Optional[str] = None, dims: Optional[dict[str, int]] = None,
            batch_size: int = 1, sha256: Optional[str] = None) -> Report:
    """Analyse the ONNX model at ``path``.

    ``dims`` binds symbolic dims by name; other batch-like dims take ``batch_size``.
    ``sha256`` is the file's checksum when the caller has computed it already (a build
    hashes every file to key its cache): the report takes it, and the file is not hashed again.
    Raises :class:`AnalysisError` with a one-line reason when the file cannot be analysed.
    """
    path = os.fspath(path)
    _check_batch_size(path, batch_size)
    return _analyze_loaded(load_model(path, sha256), name, dims, batch_size)


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
    # An analysis allocates many small objects that all live until it ends: the cyclic
    # collector, triggered by their count, would only walk them (and every older object) in vain.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _analyze(loaded, name or _default_name(path), dims or {}, batch_size)
    except AnalysisError:
        raise
    except RecursionError:
        raise AnalysisError(f"{path}: the graph nests too deeply to analyse") from None
    except Exception as e:  # malformed models reach corners no check anticipated; say so in one line
        raise AnalysisError(f"{path}: analysis failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    finally:
        if collecting:
            gc.enable()


def _default_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _analyze(loaded: LoadedModel, name: str, dims: dict[str, int], batch_size: int) -> Report:
    warnings: list[str] = []
    inline_functions(loaded, warnings)
    model = loaded.model
    index = IndexedModel(model)  # every node read once (untyped IR-1 attributes typed on the way)
    if len(index.graphs) > 2 and separate_subgraph_names(loaded):  # two subgraphs may both define a name
        index = IndexedModel(model)
    inputs = [tensor_info(v) for v in index.main.real_input_protos()]  # before binding: keep symbolic names
    declared_outputs = [tensor_info(v) for v in model.graph.output]  # likewise
    measure_external_data(loaded, index.tensors())
    binding = bind_dims(index, dims, batch_size)
    opsets = [(o.domain, o.version) for o in model.opset_import[:]]  # read once, for three uses
    _imply_default_opset(model, opsets, index, warnings)
    _, unproduced = execution_order(index.main, where=loaded.path)  # _sort_in_place takes it from here
    warnings.extend(_structural_warnings(opsets, index, unproduced))
    order = _sort_in_place(index, loaded.path)
    uses = find_uses(order)
    read_external_constants(index, loaded.path, uses)
    values = constant_values(index)
    params = count_params(index, values, uses)
    facts = risks.Facts.from_index(index, params, inlined_functions=loaded.inlined_functions)

    types, settled = infer_types(model, index, warnings, source=loaded.data)
    refine(index, types, values, settled, warnings)

    sizes = TensorSizes(types)
    folding = find_folding(order, params.constant_names, uses, sizes)
    flops = count_flops(order, types, values, folding.folded)
    peak = peak_activation(index.main, order, sizes, uses, params.constant_names)
    outputs = _outputs(declared_outputs, types)

    report = Report(
        model=ModelInfo(
            name=name, path=loaded.path, sha256=loaded.sha256, file_bytes=loaded.file_bytes,
            external_data_bytes=loaded.external_data_bytes,
            external_data_files=loaded.external_data_files,
            missing_external_data=loaded.missing_external_data,
        ),
        metadata=_metadata(model, opsets),
        graph=_graph_summary(index, inputs, outputs),
        params=params.params,
        flops=flops.flops,
        memory=Memory(
            weights_bytes=params.weights_bytes,
            peak_activation_bytes=peak.peak_bytes,
            peak_node=peak.peak_node,
            activations_unknown=peak.unknown,
            file_bytes=loaded.file_bytes + loaded.external_data_bytes,
        ),
        architecture=architecture.detect(model, types=types, values=values, inputs=inputs, index=index,
                                         outputs=outputs),
        dims=dict(sorted(binding.values.items())),
        batch_dims=binding.batch_dims,
        nodes=_node_costs(order, flops, params, sizes, folding),
        warnings=warnings,
        analyzer_version=__version__,
    )
    report.risks = risks.assess(report, facts, types=types, values=values)
    return report


def _structural_warnings(opsets: list[tuple[str, int]], index: IndexedModel, unproduced: set[str]) -> list[str]:
    """Defects that leave the file analysable but not runnable: say them, do not stop.

    ``opsets``: the model's (domain, version) imports; ``unproduced``: the names the main
    graph's nodes read that none of them produces.
    """
    found = []
    newest = _NEWEST_OPSET
    for domain, version in opsets:
        if domain in ("", "ai.onnx") and version > newest:
            found.append(f"the file asks for default-domain opset {version}, newer than the {newest} the installed "
                         "onnx package knows; operators are read with their latest known definitions")
    main = index.main
    dangling = unproduced.difference(main.inputs)  # files before IR 4 list their initializers as inputs too
    if dangling:
        dangling.difference_update([t.name for t in main.initializers])
    dangling = sorted(dangling)
    if dangling:
        shown = ", ".join(f"'{d}'" for d in dangling[:5]) + (", ..." if len(dangling) > 5 else "")
        found.append(f"{len(dangling)} tensor(s) are read but never produced: {shown}; what depends on them is uncounted")
    return found


def _sort_in_place(index: IndexedModel, where: str) -> list[Node]:
    """Put the main graph's nodes in execution order (ONNX inference reads them in file order).

    The protobuf's repeated field is sorted in place: no node is copied or re-serialised,
    and the index keeps pointing at the same ``NodeProto`` objects.
    """
    main = index.main
    order = topological_order(main, where=where)
    if order != main.nodes:  # Nodes compare by identity: another order, not a copy of the same
        position = {id(node.proto): i for i, node in enumerate(order)}
        main.proto.node.sort(key=lambda proto: position[id(proto)])
        index.set_main_order(order)
    return main.nodes


_NEWEST_OPSET = onnx.defs.onnx_opset_version()  # of the installed onnx package


def _imply_default_opset(model: onnx.ModelProto, opsets: list[tuple[str, int]], index: IndexedModel,
                         warnings: list[str]) -> None:
    """Files from before IR version 3 may omit the default opset, which then is opset 1
    (added to the model and to ``opsets``, its (domain, version) imports)."""
    if any(domain in ("", "ai.onnx") for domain, _ in opsets):
        return
    if any(n.domain in ("", "ai.onnx") for n in index.main.nodes):
        model.opset_import.add(domain="", version=1)
        opsets.append(("", 1))
        warnings.append("the file imports no default-domain opset; read as opset 1, as the ONNX spec implies for old files")


def _outputs(declared: list[TensorInfo], types) -> list[TensorInfo]:
    """Outputs as declared; where the file declares no shape, the inferred one."""
    result = []
    for t in declared:
        if t.shape is None and t.name in types and types[t.name][1] is not None:
            elem, shape = types[t.name]
            t = TensorInfo(t.name, dtype_name(elem), list(shape))
        result.append(t)
    return result


def _metadata(model: onnx.ModelProto, imports: list[tuple[str, int]]) -> Metadata:
    opsets = {}
    for domain, version in imports:
        opsets["ai.onnx" if domain in ("", "ai.onnx") else domain] = version
    return Metadata(
        ir_version=model.ir_version,
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        domain=model.domain,
        model_version=model.model_version,
        opsets=dict(sorted(opsets.items())),
        doc_string=model.doc_string,
        metadata_props={p.key: p.value for p in model.metadata_props},
        graph_name=model.graph.name,
    )


def _graph_summary(index: IndexedModel, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> GraphSummary:
    op_counts: dict[str, int] = {}
    for (domain, op_type), n in index.op_counts().items():
        op = qualified_name(domain, op_type)
        op_counts[op] = op_counts.get(op, 0) + n
    return GraphSummary(
        node_count=sum(op_counts.values()),
        op_counts=dict(sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))),  # most frequent first
        inputs=inputs,
        outputs=outputs,
        initializer_count=sum(len(g.initializers) for g in index.graphs),
        subgraph_count=len(index.graphs) - 1,
    )


def _node_costs(order: list[Node], flops: FlopsResult, params: ParamsResult, sizes: TensorSizes,
                folding: Folding) -> list[NodeCost]:
    constants = params.constant_names
    per_node_params = params.per_node
    per_node_flops = flops.per_node
    folded, dequantized = folding.folded, folding.quantized_bytes
    rows = []
    for i, node in enumerate(order):
        outputs = node.output
        name = node.name or node_label(node, i)
        op = node.op_type if not node.domain else qualified_op(node)
        if "" in outputs:
            outputs = [n for n in outputs if n]
        # NodeCost's fields in order: name, op type, flops, params, bytes read, weight bytes read, bytes written, subgraph, folded
        if i in folded:  # folded at load or fused: no work of its own in an inference
            rows.append(NodeCost(name, op, per_node_flops[i], per_node_params.get(i, 0), 0, 0, 0, "", True))
            continue
        if i in folding.dequantized_per_call:  # done inside its reader's kernel: FLOPs, but no bytes of its own
            rows.append(NodeCost(name, op, per_node_flops[i], per_node_params.get(i, 0), 0, 0, 0, "", False))
            continue
        read = weight_read = 0
        for n in node.input:
            if n:
                b = dequantized.get(n, sizes[n]) if dequantized else sizes[n]
                if b is None:
                    read = None
                else:
                    if read is not None:
                        read += b
                    if n in constants:
                        weight_read += b
        written = 0
        for n in outputs:
            b = sizes[n]
            if b is None:
                written = None
                break
            written += b
        if i in flops.weights_read:  # it reads only part of its weights (the experts its tokens run)
            unread = weight_read - round(weight_read * flops.weights_read[i])
            weight_read -= unread
            read = None if read is None else read - unread
        rows.append(NodeCost(name, op, per_node_flops[i], per_node_params.get(i, 0), read, weight_read, written, "", False))
    return rows
