"""Reading a model file: one parse, no external weights, a checksum and the file sizes;
then the calls of its local functions inlined, as runtimes run them."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Iterable, Optional

import onnx
from google.protobuf.message import DecodeError
from onnx import inliner

from mkdocs_onnx.analysis.index import Tensor
from mkdocs_onnx.analysis.tensors import nbytes
from mkdocs_onnx.errors import AnalysisError


# Files from this size up are hashed on a thread while they are parsed and analysed:
# hashlib releases the GIL, and hashing large embedded weights (1-2 GB/s) takes as long
# as parsing them or longer. Below this size, starting a thread costs more than it saves.
_HASH_IN_BACKGROUND_BYTES = 1 << 20

# Files up to this size keep their bytes for the analysis: shape inference reads them
# instead of serializing the model again while nothing has changed it. Larger files hold
# weights, which are stripped before inference, so their bytes would only take memory.
_KEEP_BYTES = 64 << 20


class _Digest:
    """The sha256 of some bytes, computed on a thread when they are large; ``known`` when
    the caller has it already."""

    def __init__(self, data: bytes, known: Optional[str] = None):
        self._hexdigest: Optional[str] = known
        self._error: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        if known is not None:
            return
        if len(data) >= _HASH_IN_BACKGROUND_BYTES:
            self._thread = threading.Thread(target=self._compute, args=(data,), daemon=True)
            self._thread.start()
        else:
            self._compute(data)

    def _compute(self, data: bytes) -> None:
        try:
            self._hexdigest = hashlib.sha256(data).hexdigest()
        except BaseException as e:  # raised to whoever asks for the digest, not lost with the thread
            self._error = e

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return self._hexdigest


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    path: str
    digest: _Digest
    file_bytes: int
    external_data_bytes: int = 0
    external_data_files: list[str] = field(default_factory=list)
    missing_external_data: list[str] = field(default_factory=list)
    data: Optional[bytes] = field(default=None, repr=False)  # the bytes parsed, when kept (see _KEEP_BYTES)
    inlined_functions: dict[str, int] = field(default_factory=dict)  # "domain.name" -> calls (see inline_functions)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def load_model(path: str, sha256: Optional[str] = None) -> LoadedModel:
    """Parse ``path`` once, without reading external-data files (only their sizes).

    ``sha256``: the file's checksum when the caller has computed it (then it is not hashed again).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise AnalysisError(f"{path}: cannot read the file ({e.strerror or e})") from None
    return load_bytes(data, path, sha256)


def load_bytes(data: bytes, path: str, sha256: Optional[str] = None) -> LoadedModel:
    """Parse a model already in memory; ``path`` names it and locates its external data.

    The external data is measured later (:func:`measure_external_data`), from the
    analyzer's index of the model, which reads every tensor anyway.
    """
    if not data:
        raise AnalysisError(f"{path}: the file is empty (0 bytes)")
    digest = _Digest(data, sha256)
    model = _parse(path, data)
    return LoadedModel(model, path, digest, len(data), data=data if len(data) <= _KEEP_BYTES else None)


def _parse(path: str, data: bytes) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise AnalysisError(f"{path}: not an ONNX model (protobuf parse failed: {e})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise AnalysisError(f"{path}: not an ONNX model (the protobuf holds no graph)")
    return model


def measure_external_data(loaded: LoadedModel, tensors: Iterable[Tensor]) -> None:
    """Sum the external data the model's ``tensors`` declare, and note the files that are missing."""
    sizes: dict[str, int] = {}
    for tensor in tensors:
        if not tensor.external:
            continue
        info = {e.key: e.value for e in tensor.proto.external_data}
        location = info.get("location", "")
        length = int(info["length"]) if info.get("length", "").isdigit() else None
        if length is None:
            length = nbytes(tensor.elem_type, tensor.numel) or 0
        sizes[location] = sizes.get(location, 0) + length
    if not sizes:  # the common case: every tensor is in the file, no path to resolve
        return
    base = os.path.dirname(os.path.abspath(loaded.path))
    for location in sorted(sizes):
        full = inside_folder(base, location)
        loaded.external_data_files.append(location)
        if full is not None:
            sizes[location] = os.path.getsize(full)  # the file as stored, padding included
        else:  # absent, or named outside the model's folder (where runtimes do not look either)
            loaded.missing_external_data.append(location)
    loaded.external_data_bytes = sum(sizes.values())


def inside_folder(base: str, location: str) -> Optional[str]:
    """The file an external-data ``location`` names, when it exists and its name keeps inside
    the folder ``base`` (as ONNX requires). The name is checked, not where links lead: a data
    file linked into the folder (as git-annex and DVC keep files) is the folder's own."""
    if not location or os.path.isabs(location):
        return None
    path = os.path.normpath(os.path.join(base, location))
    return path if os.path.commonpath([base, path]) == base and os.path.isfile(path) else None


def inline_functions(loaded: LoadedModel, warnings: list[str]) -> None:
    """Replace the calls of the model's local functions by the functions' bodies, as runtimes do.

    A node calling a function has no formula of its own: inlined, its body is counted node
    by node, shaped by inference, and read by architecture detection. ``loaded`` then holds
    the inlined model (and no longer the bytes it was parsed from); its
    ``inlined_functions`` counts the calls. A model that cannot be inlined stays as it was,
    with a warning: the calls are then uncounted.
    """
    model = loaded.model
    if not model.functions:
        return
    local = {(f.domain, f.name) for f in model.functions}
    calls: dict[str, int] = {}
    for node in _graph_nodes(model.graph):
        if (node.domain, node.op_type) in local:
            name = f"{node.domain}.{node.op_type}"
            calls[name] = calls.get(name, 0) + 1
    if not calls:  # defined but never called: nothing to inline
        return
    try:
        inlined = inliner.inline_local_functions(model)
    except Exception as e:  # e.g. a model past protobuf's 2 GB limit
        warnings.append(f"the model's local functions could not be inlined ({str(e).splitlines()[0][:200]}); "
                        "the nodes that call them are not counted")
        return
    loaded.model, loaded.data = inlined, None
    loaded.inlined_functions = dict(sorted(calls.items()))


def _graph_nodes(graph: onnx.GraphProto) -> Iterable[onnx.NodeProto]:
    """The nodes of ``graph`` and of the graphs its nodes hold (If, Loop, Scan bodies)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graph_nodes(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for g in attribute.graphs:
                    yield from _graph_nodes(g)
