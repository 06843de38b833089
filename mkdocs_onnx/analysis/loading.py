"""Reading a model file: one parse, no external weights, a checksum and the file sizes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import onnx
from google.protobuf.message import DecodeError

from mkdocs_onnx.analysis.graphs import iter_graphs, node_tensors
from mkdocs_onnx.analysis.tensors import is_external, nbytes, tensor_numel
from mkdocs_onnx.errors import AnalysisError


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    path: str
    sha256: str
    file_bytes: int
    external_data_bytes: int = 0
    external_data_files: list[str] = field(default_factory=list)
    missing_external_data: list[str] = field(default_factory=list)


def load_model(path: str) -> LoadedModel:
    """Parse ``path`` once, without reading external-data files (only their sizes)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise AnalysisError(f"{path}: cannot read the file ({e.strerror or e})") from None
    return load_bytes(data, path)


def load_bytes(data: bytes, path: str) -> LoadedModel:
    """Parse a model already in memory; ``path`` names it and locates its external data."""
    if not data:
        raise AnalysisError(f"{path}: the file is empty (0 bytes)")
    model = _parse(path, data)
    loaded = LoadedModel(model, path, hashlib.sha256(data).hexdigest(), len(data))
    _measure_external_data(loaded)
    return loaded


def _parse(path: str, data: bytes) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise AnalysisError(f"{path}: not an ONNX model (protobuf parse failed: {e})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise AnalysisError(f"{path}: not an ONNX model (the protobuf holds no graph)")
    return model


def _external_tensors(model: onnx.ModelProto):
    for _, graph in iter_graphs(model.graph):
        yield from (t for t in graph.initializer if is_external(t))
        for node in graph.node:
            yield from (t for t in node_tensors(node) if is_external(t))


def _measure_external_data(loaded: LoadedModel) -> None:
    """Sum the external data each tensor declares, and note the files that are missing."""
    base = os.path.dirname(os.path.abspath(loaded.path))
    sizes: dict[str, int] = {}
    for tensor in _external_tensors(loaded.model):
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        length = int(info["length"]) if info.get("length", "").isdigit() else None
        if length is None:
            length = nbytes(tensor.data_type, tensor_numel(tensor)) or 0
        sizes[location] = sizes.get(location, 0) + length
    for location in sorted(sizes):
        full = os.path.normpath(os.path.join(base, location))
        loaded.external_data_files.append(location)
        if os.path.isfile(full):
            sizes[location] = os.path.getsize(full)  # the file as stored, padding included
        else:
            loaded.missing_external_data.append(location)
    loaded.external_data_bytes = sum(sizes.values())
