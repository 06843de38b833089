"""Names that two subgraphs both define, made distinct.

ONNX scopes names by graph: the then and else branches of an If may each define
'/decoder/Cast_output_0' (Hugging Face Optimum's merged decoders do, for hundreds of
names). The analysis keys shapes and values by name across the whole model, so such a
name would mix two tensors. Before anything is indexed, a name that a subgraph defines
and another graph defined already is renamed in that subgraph (and in the graphs nested
in it, which may read it), as ONNX's inliner does when it flattens scopes. A subgraph
may not redefine a name of the graphs around it, so only siblings and cousins collide.
"""

from __future__ import annotations

from typing import Iterator

import onnx

from mkdocs_onnx.analysis.loading import LoadedModel


def separate_subgraph_names(loaded: LoadedModel) -> int:
    """Rename the names subgraphs define twice; how many were renamed. (Worth calling on a
    model of two subgraphs or more.)"""
    main = loaded.model.graph
    taken = set(_defined(main))
    renamed = sum(_separate(body, taken) for node in main.node for body in _subgraphs(node))
    if renamed:
        loaded.data = None  # the file's bytes no longer stand for the model
    return renamed


def _separate(graph: onnx.GraphProto, taken: set[str]) -> int:
    """Rename what ``graph`` defines that ``taken`` holds, then do the same in its subgraphs."""
    mapping = {}
    for name in _defined(graph):
        if name in taken and name not in mapping:
            mapping[name] = _fresh(name, taken)
        taken.add(mapping.get(name, name))
    if mapping:
        _rename(graph, mapping)
    return len(mapping) + sum(_separate(body, taken) for node in graph.node for body in _subgraphs(node))


def _defined(graph: onnx.GraphProto) -> Iterator[str]:
    for v in graph.input:
        yield v.name
    for t in graph.initializer:
        yield t.name
    for t in graph.sparse_initializer:
        yield t.values.name
    for node in graph.node:
        yield from (o for o in node.output if o)


def _fresh(name: str, taken: set[str]) -> str:
    n = 1
    while f"{name}__{n}" in taken:
        n += 1
    return f"{name}__{n}"


def _rename(graph: onnx.GraphProto, mapping: dict[str, str]) -> None:
    """Apply ``mapping`` to every name ``graph`` defines or reads, nested subgraphs included."""
    for v in (*graph.input, *graph.output, *graph.value_info):
        v.name = mapping.get(v.name, v.name)
    for t in graph.initializer:
        t.name = mapping.get(t.name, t.name)
    for t in graph.sparse_initializer:
        t.values.name = mapping.get(t.values.name, t.values.name)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]
        for body in _subgraphs(node):
            _rename(body, mapping)


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs
