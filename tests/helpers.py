"""Shared test helpers: paths of the model corpus and small graph builders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MKDOCS_ONNX_CORPUS", REPO.parent / "shared" / "onnx-corpus"))
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MNIST = CORPUS / "github" / "webonnx+wonnx" / "tests" / "mnist-8.onnx"


def corpus_file(path: Path) -> Path:
    """``path`` when the real-model corpus is present, else skip the test saying why."""
    if not path.exists():
        pytest.skip(f"real-model corpus not present ({path}); it lives outside the repository")
    return path


def corpus_models() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.rglob("*.onnx"))


def tensor(name: str, shape, dtype=np.float32, value=None) -> onnx.TensorProto:
    data = np.full(shape, 0.5 if value is None else value, dtype=dtype)
    return numpy_helper.from_array(data, name)


def model(nodes, inputs, outputs, initializers=(), opset: int = 17, extra_opsets=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset), *[helper.make_opsetid(d, v) for d, v in extra_opsets]]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def value(name: str, shape, dtype=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)
