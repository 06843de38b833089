"""Read and validate ``models.yml`` into :class:`ModelEntry` objects.

The manifest is about shape: fields, types, one source per model, unique names. Whether
a file exists or is a valid ONNX model is decided at build time, per model, so that one
bad file becomes one error card rather than a failed site.

Every error is a :class:`ManifestError` whose message names the manifest file, the line,
the entry and the field: ``models.yml:12: entry 'MNIST': field 'tags': ...``.
"""

from __future__ import annotations

import difflib
import os
from typing import Any, Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mkdocs_onnx.errors import ManifestError
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.manifest.fields import (
    ENTRY_FIELDS,
    SOURCE_FIELDS,
    TOP_LEVEL_FIELDS,
    check_field,
    check_source,
)
from mkdocs_onnx.manifest.slug import unique_slugs
from mkdocs_onnx.manifest.sources import package_file

NOT_DEFAULTABLE = ("name", *SOURCE_FIELDS, "sha256")
MERGED_MAPPINGS = ("dims", "links")  # defaults and entry are merged key by key


class _Context:
    """Where we are in the manifest, to build messages."""

    def __init__(self, display: str) -> None:
        self.display = display

    def error(self, node: Optional[Node], what: str, *, entry: str = "", field: str = "") -> ManifestError:
        line = node.start_mark.line + 1 if node is not None else 1
        parts = [f"{self.display}:{line}"]
        if entry:
            parts.append(f"entry {entry}")
        if field:
            parts.append(f"field '{field}'")
        parts.append(what)
        return ManifestError(": ".join(parts))


def load_manifest(path: str | os.PathLike[str], *, display: Optional[str] = None) -> list[ModelEntry]:
    """Parse and validate the manifest at ``path``; ``display`` is the name used in messages."""
    path = os.fspath(path)
    ctx = _Context(display or path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ManifestError(f"{ctx.display}: cannot read the manifest: {exc.strerror or exc}") from None
    return parse_manifest(text, base_dir=os.path.dirname(os.path.abspath(path)), display=ctx.display)


def parse_manifest(text: str, *, base_dir: str, display: str = "models.yml") -> list[ModelEntry]:
    """Validate manifest ``text``; relative paths resolve against ``base_dir``."""
    ctx = _Context(display)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{display}:{line}: not valid YAML: {problem}") from None
    if root is None:
        raise ctx.error(None, "the manifest is empty; expected a 'models:' list", field="models")

    defaults_node, models_node = _top_level(root, ctx)
    defaults = _defaults(defaults_node, ctx) if defaults_node is not None else {}
    if not isinstance(models_node, SequenceNode):
        raise ctx.error(models_node, "must be a list of models", field="models")

    entries: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(models_node.value, start=1):
        entry = _entry(item, index, defaults, base_dir, ctx)
        if entry.name in seen:
            raise ctx.error(
                item, f"duplicate name; already used by the entry at line {seen[entry.name]}",
                entry=f"'{entry.name}'", field="name",
            )
        seen[entry.name] = entry.line
        entries.append(entry)

    for entry, node in zip(entries, models_node.value):
        if entry.variant_of:
            _check_variant(entry, node, seen, ctx)

    for entry, slug in zip(entries, unique_slugs([e.name for e in entries])):
        entry.slug = slug
    return entries


def _top_level(root: Node, ctx: _Context) -> tuple[Optional[Node], Node]:
    """The ``defaults`` and ``models`` nodes; a bare list is accepted as the models list."""
    if isinstance(root, SequenceNode):
        return None, root
    if not isinstance(root, MappingNode):
        raise ctx.error(root, "the manifest must be a mapping with a 'models:' list", field="models")
    _no_repeats(root, ctx, "")
    found: dict[str, Node] = {}
    for key_node, value_node in _pairs(root):
        key = _key(key_node, ctx, "")
        if key not in TOP_LEVEL_FIELDS:
            raise ctx.error(key_node, f"unknown top-level key{_suggest(key, TOP_LEVEL_FIELDS)}", field=key)
        found[key] = value_node
    if "models" not in found:
        raise ctx.error(root, "missing; list the models under 'models:'", field="models")
    return found.get("defaults"), found["models"]


def _defaults(node: Node, ctx: _Context) -> dict[str, tuple[Any, Node]]:
    if _is_null(node):
        return {}
    if not isinstance(node, MappingNode):
        raise ctx.error(node, "must be a mapping of entry fields", field="defaults")
    _no_repeats(node, ctx, "defaults")
    out: dict[str, tuple[Any, Node]] = {}
    for key_node, value_node in _pairs(node):
        key = _key(key_node, ctx, "defaults")
        if key not in ENTRY_FIELDS:
            raise ctx.error(key_node, f"unknown field{_suggest(key, ENTRY_FIELDS)}", entry="defaults", field=key)
        if key in NOT_DEFAULTABLE:
            raise ctx.error(key_node, "cannot have a default; set it on each model", entry="defaults", field=key)
        value = _construct(value_node)
        problem = check_field(key, value)
        if problem:
            raise ctx.error(value_node, problem, entry="defaults", field=key)
        out[key] = (value, value_node)
    return out


def _entry(
    node: Node, index: int, defaults: dict[str, tuple[Any, Node]], base_dir: str, ctx: _Context
) -> ModelEntry:
    label = f"#{index}"
    if not isinstance(node, MappingNode):
        raise ctx.error(node, "must be a mapping with at least 'name' and a 'path'", entry=label)

    raw: dict[str, tuple[Any, Node]] = {}
    key_nodes: dict[str, Node] = {}
    repeated = _repeated_key(node)  # before merge keys (<<) are flattened in
    pairs = _pairs(node)  # later keys override merged ones
    name_value = next((_construct(v) for k, v in reversed(pairs) if _scalar(k) == "name"), None)
    if isinstance(name_value, str) and name_value.strip():
        label = f"'{name_value.strip()}'"
    if repeated:
        raise _repeat_error(repeated, ctx, label)
    for key_node, value_node in pairs:
        key = _key(key_node, ctx, label)
        raw[key] = (_value(key, value_node), value_node)
        key_nodes[key] = key_node

    for key, key_node in key_nodes.items():
        if key not in ENTRY_FIELDS:
            raise ctx.error(key_node, f"unknown field{_suggest(key, ENTRY_FIELDS)}", entry=label, field=key)

    if "name" not in raw:
        raise ctx.error(node, "missing; every model needs a unique name", entry=label, field="name")

    values: dict[str, Any] = {}
    for key, (value, value_node) in raw.items():
        problem = check_field(key, value)
        if problem:
            raise ctx.error(value_node, problem, entry=label, field=key)
        values[key] = value

    problem_field, problem = check_source(values)
    if problem:
        where = raw[problem_field][1] if problem_field in raw else node
        raise ctx.error(where, problem, entry=label, field=problem_field)

    for key, (default, _) in defaults.items():
        if key not in values:
            values[key] = default
        elif key in MERGED_MAPPINGS:
            values[key] = {**default, **values[key]}

    return _make_entry(values, node.start_mark.line + 1, base_dir)


def _make_entry(values: dict[str, Any], line: int, base_dir: str) -> ModelEntry:
    source = next(k for k in SOURCE_FIELDS if k in values)
    location = values[source]
    resolved: Optional[str] = None
    if source == "path":
        resolved = os.path.normpath(os.path.join(base_dir, os.path.expanduser(location)))
    elif source == "package":
        try:
            resolved = package_file(location)
        except LookupError:
            resolved = None  # reported on the model's card at build time
    return ModelEntry(
        name=values["name"].strip(),
        slug="",
        source=source,
        location=location,
        resolved_path=resolved,
        sha256=values["sha256"].lower() if values.get("sha256") else None,
        description=(values.get("description") or "").strip(),
        task=values.get("task") or "",
        tags=list(values.get("tags") or []),
        license=values.get("license") or "",
        dims=dict(values.get("dims") or {}),
        variant_of=values.get("variant_of") or "",
        links=dict(values.get("links") or {}),
        line=line,
    )


def _check_variant(entry: ModelEntry, node: MappingNode, names: dict[str, int], ctx: _Context) -> None:
    where = next((v for k, v in _pairs(node) if _scalar(k) == "variant_of"), node)
    label = f"'{entry.name}'"
    if entry.variant_of == entry.name:
        raise ctx.error(where, "a model cannot be a variant of itself", entry=label, field="variant_of")
    if entry.variant_of not in names:
        raise ctx.error(
            where, f"no model is named '{entry.variant_of}'{_suggest(entry.variant_of, names)}",
            entry=label, field="variant_of",
        )


# --- small YAML helpers ---------------------------------------------------------------

_LOADER = yaml.SafeLoader("")


def _pairs(node: MappingNode) -> list[tuple[Node, Node]]:
    """Key/value node pairs, with YAML merge keys (``<<: *anchor``) applied."""
    _LOADER.flatten_mapping(node)
    return list(node.value)


def _construct(node: Node) -> Any:
    return _LOADER.construct_document(node)


def _value(key: str, node: Node) -> Any:
    """The field's value; a digest stays text even when YAML would read its digits as a number."""
    if key == "sha256" and isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        return node.value
    return _construct(node)


def _scalar(node: Node) -> Any:
    return _construct(node) if isinstance(node, ScalarNode) else None


def _key(node: Node, ctx: _Context, label: str) -> str:
    key = _scalar(node)
    if not isinstance(key, str):
        raise ctx.error(node, f"keys must be field names, not {key!r}", entry=label)
    return key


def _no_repeats(node: MappingNode, ctx: _Context, label: str) -> None:
    repeated = _repeated_key(node)
    if repeated:
        raise _repeat_error(repeated, ctx, label)


def _repeat_error(repeated: tuple[Node, int], ctx: _Context, label: str) -> ManifestError:
    key_node, first_line = repeated
    return ctx.error(key_node, f"given twice (first at line {first_line})", entry=label, field=str(_scalar(key_node)))


def _repeated_key(node: MappingNode) -> Optional[tuple[Node, int]]:
    """The second of two equal keys (YAML keeps the last silently) and the first one's line."""
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = _scalar(key_node)
        if key in first:
            return key_node, first[key]
        first[key] = key_node.start_mark.line + 1
    return None


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and _construct(node) is None


def _suggest(word: str, known) -> str:
    """'; did you mean 'x'?' for the closest known word, else the list of known words."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; known: {', '.join(sorted(known))}" if known else ""
