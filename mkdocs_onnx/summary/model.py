"""The executive summary shown on a card: plain data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Summary:
    tldr: str  # one line
    text: str  # one paragraph
    source: str  # "llm" | "metrics"
    author: str  # the LLM model that wrote it, or "mkdocs-onnx (from the metrics)"
    note: str = ""  # why the fallback was used, if it was
