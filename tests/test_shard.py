"""Sharded analysis: shards analysed apart, their caches merged, give the site of one cold build."""

from __future__ import annotations

import shutil

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config

import mkdocs_onnx.zoo as zoo
from conftest import make_project
from helpers import LIGHT
from mkdocs_onnx.cli import main as cli

MODELS = {f"Model {i}": str(LIGHT / name) for i, name in enumerate(
    ["light_squeezenet.onnx", "light_bvlc_alexnet.onnx", "light_zfnet512.onnx", "light_shufflenet.onnx",
     "light_inception_v1.onnx"])}


def _build(root, site: str, cache) -> dict[str, bytes]:
    config = load_config(config_file=str(root / "mkdocs.yml"), site_dir=str(root / site))
    config.plugins["onnx"].config.cache_dir = str(cache)
    build(config)
    return {str(p.relative_to(root / site)): p.read_bytes() for p in sorted((root / site / "models").rglob("*")) if p.is_file()}


def test_two_shards_merged_build_the_same_site_as_one_cold_build(tmp_path, monkeypatch, capsys):
    root = make_project(tmp_path / "zoo", MODELS)
    cold = _build(root, "site-cold", tmp_path / "cold-cache")

    for shard in ("1/2", "2/2"):
        assert cli(["analyze-manifest", str(root / "models.yml"), "--shard", shard,
                    "--cache-dir", str(tmp_path / f"cache-{shard[0]}")]) == 0
    out = capsys.readouterr().out
    assert "shard 1/2: 3 models, 3 analysed" in out and "shard 2/2: 2 models, 2 analysed" in out
    merged = tmp_path / "merged"
    for shard in ("1", "2"):
        shutil.copytree(tmp_path / f"cache-{shard}", merged, dirs_exist_ok=True)

    def no_analysis(*args, **kwargs):
        raise AssertionError("the merged cache should hold every report")

    monkeypatch.setattr(zoo, "analyze", no_analysis)
    assert _build(root, "site-merged", merged) == cold


def test_a_failing_model_makes_the_shard_fail_naming_it(tmp_path, capsys):
    root = make_project(tmp_path / "zoo", {"Good": str(LIGHT / "light_squeezenet.onnx"), "Broken": b"not onnx"})
    assert cli(["analyze-manifest", str(root / "models.yml"), "--cache-dir", str(tmp_path / "c")]) == 1
    captured = capsys.readouterr()
    assert "model 'Broken'" in captured.err and "1 analysed" in captured.out


@pytest.mark.parametrize("shard", ["0/2", "3/2", "x", "1/0"])
def test_bad_shard_is_a_usage_error(shard, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli(["analyze-manifest", "models.yml", "--shard", shard])
    assert exit_info.value.code == 2
