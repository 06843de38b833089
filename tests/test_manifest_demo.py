"""The demo zoo at the repository root: models.yml, models/ and the script that builds them."""

from __future__ import annotations

import os
import subprocess
import sys

import onnx
import pytest

from conftest import ROOT
from mkdocs_onnx.manifest import load_manifest

DEMO_MODELS = ["lenet5.onnx", "mnist_mlp.onnx", "lstm_sentiment.onnx", "tiny_transformer.onnx"]


def test_demo_manifest_lists_local_models():
    entries = load_manifest(os.path.join(ROOT, "models.yml"))
    assert len(entries) >= 10
    assert {e.source for e in entries} == {"path", "package"}  # nothing to download
    for entry in entries:
        assert entry.resolved_path and os.path.isfile(entry.resolved_path), entry.name
        assert entry.description and entry.task and entry.license and entry.tags, entry.name
    transformer = next(e for e in entries if e.location == "models/tiny_transformer.onnx")
    assert transformer.dims["sequence"] == 128


@pytest.mark.parametrize("name", DEMO_MODELS)
def test_demo_models_are_small_and_valid(name):
    path = os.path.join(ROOT, "models", name)
    assert os.path.getsize(path) < 1_000_000
    onnx.checker.check_model(onnx.load(path), full_check=True)


def test_the_script_reproduces_the_committed_models(tmp_path):
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_demo_models.py"), str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in DEMO_MODELS:
        assert (tmp_path / name).read_bytes() == open(os.path.join(ROOT, "models", name), "rb").read(), name


def test_transformer_has_symbolic_dims_and_attention():
    model = onnx.load(os.path.join(ROOT, "models", "tiny_transformer.onnx"))
    (inp,) = model.graph.input
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "sequence"]
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LayerNormalization") == 5 and ops.count("Softmax") == 2 and ops.count("Gelu") == 2
