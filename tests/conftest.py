"""Shared fixtures and helpers: small models, hand-made reports, throwaway MkDocs projects."""

from __future__ import annotations

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def light_model(name: str) -> str:
    """Path of one of the onnx package's small ``light_*`` test models."""
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"light_{name}.onnx")


@pytest.fixture
def write_manifest(tmp_path):
    """Write ``text`` as tmp_path/models.yml and return its path."""

    def write(text: str, name: str = "models.yml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def make_report(name: str = "m", flops: int = 1000):
    """A small hand-made Report (no analyzer needed)."""
    from mkdocs_onnx.analysis import report as r

    return r.Report(
        model=r.ModelInfo(name=name, path=f"{name}.onnx", sha256="0" * 64, file_bytes=10),
        metadata=r.Metadata(ir_version=9, producer_name="test", producer_version="1", domain="",
                            model_version=1, opsets={"ai.onnx": 17}, doc_string="", metadata_props={},
                            graph_name="g"),
        graph=r.GraphSummary(node_count=1, op_counts={"Relu": 1},
                             inputs=[r.TensorInfo("x", "float32", ["batch", 3])],
                             outputs=[r.TensorInfo("y", "float32", ["batch", 3])],
                             initializer_count=0, subgraph_count=0),
        params=r.Params(total=0, trainable=0, non_trainable=0, constants=0, by_dtype={}, placeholder=0,
                        weight_tensors=0, shared_tensors=0),
        flops=r.Flops(total=flops, by_op_type={"Relu": flops}, uncounted_ops={}, uncounted=[], notes=[]),
        memory=r.Memory(weights_bytes=0, peak_activation_bytes=24, peak_node="relu", activations_unknown=0,
                        file_bytes=10),
        architecture=r.Architecture(family="mlp", evidence=["one Relu"]),
        dims={"batch": 1},
        batch_dims=["batch"],
    )


def make_project(root, models, *, plugin=None, nav=None, extra_manifest: str = ""):
    """A tiny MkDocs project under ``root`` with the onnx plugin and the given models.

    ``models`` maps a model name to a source file to copy (str path), raw bytes to write
    (e.g. a file that is not ONNX) or None (a path that does not exist). Returns root.
    """
    import pathlib
    import shutil

    import yaml

    root = pathlib.Path(root)
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "index.md").write_text("# Home\n\nSee the [models](models/index.md).\n")
    (root / "models").mkdir(exist_ok=True)
    entries = []
    for i, (name, source) in enumerate(models.items()):
        target = f"models/m{i}.onnx"
        if isinstance(source, (bytes, bytearray)):
            (root / target).write_bytes(source)
        elif source is not None:
            shutil.copyfile(source, root / target)
        entries.append({"name": name, "path": target, "description": f"{name} for tests.", "task": "test",
                        "tags": ["test"], "license": "MIT", "links": {"home": "https://example.org/"}})
    (root / "models.yml").write_text(yaml.safe_dump({"models": entries}, sort_keys=False) + extra_manifest)
    config = {
        "site_name": "test zoo",
        "theme": {"name": "material"},
        "markdown_extensions": ["attr_list", "md_in_html", "admonition", "pymdownx.details",
                                "pymdownx.superfences", {"pymdownx.tabbed": {"alternate_style": True}},
                                "tables", "footnotes", "abbr", {"toc": {"permalink": True}}],
        "plugins": ["search", {"onnx": {"device": ["t4"], "cache_dir": ".cache", **(plugin or {})}}],
    }
    if nav is not None:
        config["nav"] = nav
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def build_project(root, site_dir: str = "site"):
    """Build the project at ``root`` the way ``mkdocs build`` does; returns the site folder."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(root / site_dir))
    build(config)
    return root / site_dir


@pytest.fixture(autouse=True)
def _no_llm_credentials(monkeypatch):
    """Tests never reach an LLM service: summaries fall back to the metrics unless a test opts in."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def in_process(monkeypatch):
    """Analyse in this process, so that a test can observe the analyzer being called."""
    import mkdocs_onnx.zoo as zoo

    monkeypatch.setattr(zoo, "worker_count", lambda *args, **kwargs: 1)
