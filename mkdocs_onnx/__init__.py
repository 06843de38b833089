"""mkdocs-onnx: verified model cards for ONNX models, as a library, a CLI and an MkDocs plugin."""

__version__ = "0.1.0"

from mkdocs_onnx.analysis import analyze  # noqa: E402
from mkdocs_onnx.analysis.report import Report  # noqa: E402
from mkdocs_onnx.errors import AnalysisError, ManifestError  # noqa: E402

__all__ = ["analyze", "Report", "AnalysisError", "ManifestError", "__version__"]
