"""Everything a card page needs, gathered by the build and handed to the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.summary.model import Summary


@dataclass
class CardContext:
    entry: ModelEntry
    report: Optional[Report] = None  # None when the model could not be analysed
    error: Optional[str] = None  # why, when report is None
    summary: Optional[Summary] = None
    device_notes: list[str] = field(default_factory=list)  # how the device profiles were chosen
    model_file: Optional[str] = None  # file name of the downloadable copy next to the card
    analysis_seconds: float = 0.0
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        return self.report is not None

    @property
    def task(self) -> str:
        """The model's task: the manifest's, else the analyzer's guess ('' when neither says one)."""
        return self.entry.task or self.guessed_task

    @property
    def guessed_task(self) -> str:
        """The analyzer's guess at the task, when the manifest gives none (else '')."""
        if self.entry.task or self.report is None:
            return ""
        return self.report.architecture.task_guess or ""
