"""The analysis core: ONNX file -> Report. Knows nothing of MkDocs, rendering or the network."""

from mkdocs_onnx.analysis.analyzer import analyze, analyze_model
from mkdocs_onnx.analysis.report import Report

__all__ = ["analyze", "analyze_model", "Report"]
