"""Executive summaries for model cards: an LLM's (through any OpenAI-compatible server),
checked against the Report and cached, or one written from the metrics.

Only the standard library and ``openai`` (imported lazily, only when a key is set) are
used; nothing here touches the network without an API key in the configured variable.
"""

from mkdocs_onnx.summary.config import SummaryConfig
from mkdocs_onnx.summary.fallback import fallback_summary
from mkdocs_onnx.summary.llm import PROMPT_VERSION, summarize
from mkdocs_onnx.summary.model import Summary

__all__ = ["Summary", "SummaryConfig", "summarize", "fallback_summary", "PROMPT_VERSION"]
