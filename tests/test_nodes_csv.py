"""The per-node CSV of real models sums exactly to the report's totals, with no filler row."""

from __future__ import annotations

import csv
import io

import pytest

from helpers import LIGHT, REPO, corpus_models
from mkdocs_onnx import analyze
from mkdocs_onnx.render.index import UNATTRIBUTED, nodes_csv

MODELS = sorted(LIGHT.glob("light_*.onnx")) + sorted((REPO / "models").glob("*.onnx")) + corpus_models()


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_per_node_columns_sum_to_the_totals(path):
    try:
        report = analyze(path, dims={"sequence": 16, "length": 16, "height": 64, "width": 64})
    except Exception as e:  # the corpus holds models that fail on purpose; they have no table
        pytest.skip(f"not analysable: {e}")
    rows = list(csv.DictReader(io.StringIO(nodes_csv(report))))
    assert all(row["name"] != UNATTRIBUTED for row in rows)
    assert len(rows) == len(report.nodes)
    assert sum(int(row["flops"] or 0) for row in rows) == report.flops.total
    assert sum(int(row["params"] or 0) for row in rows) == report.params.total
