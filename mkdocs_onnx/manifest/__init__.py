"""models.yml: validated entries (shape only; files are checked at build time)."""

from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.manifest.load import load_manifest, parse_manifest
from mkdocs_onnx.manifest.slug import slugify, unique_slugs
from mkdocs_onnx.manifest.sources import package_file

__all__ = ["ModelEntry", "load_manifest", "parse_manifest", "slugify", "unique_slugs", "package_file"]
