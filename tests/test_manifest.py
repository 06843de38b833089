"""models.yml: validation messages name file, line, entry and field; values come out typed."""

from __future__ import annotations

import os
import textwrap

import pytest

from mkdocs_onnx.errors import ManifestError
from mkdocs_onnx.manifest import load_manifest, slugify, unique_slugs

SHA = "a" * 64


def load(write_manifest, text):
    return load_manifest(write_manifest(textwrap.dedent(text)), display="models.yml")


def error(write_manifest, text) -> str:
    with pytest.raises(ManifestError) as info:
        load(write_manifest, text)
    return str(info.value)


def test_full_entry_with_defaults(write_manifest, tmp_path):
    entries = load(
        write_manifest,
        """\
        defaults:
          dims: {batch: 1}
          license: MIT
          links: {home: https://example.org}
        models:
          - name: MNIST
            path: models/mnist.onnx
            description: Handwritten digit classifier.
            task: image-classification
            tags: [vision, cnn]
            dims: {sequence: 128}
            links: {paper: https://arxiv.org/abs/1}
          - name: MNIST fp16
            path: /abs/mnist16.onnx
            variant_of: MNIST
            license: Apache-2.0
            dims: {batch: 4}
        """,
    )
    first, second = entries
    assert first.name == "MNIST" and first.slug == "mnist" and first.line == 6
    assert first.source == "path" and first.location == "models/mnist.onnx"
    assert first.resolved_path == os.path.join(str(tmp_path), "models", "mnist.onnx")
    assert first.dims == {"batch": 1, "sequence": 128}  # mappings merge key by key
    assert first.links == {"home": "https://example.org", "paper": "https://arxiv.org/abs/1"}
    assert first.license == "MIT" and first.tags == ["vision", "cnn"]
    assert second.slug == "mnist-fp16" and second.variant_of == "MNIST"
    assert second.license == "Apache-2.0" and second.dims == {"batch": 4}
    assert second.resolved_path == "/abs/mnist16.onnx"


def test_missing_file_is_not_a_manifest_error(write_manifest):
    (entry,) = load(write_manifest, "models:\n  - name: ghost\n    path: nowhere/ghost.onnx\n")
    assert not os.path.exists(entry.resolved_path)


def test_url_and_package_sources(write_manifest):
    import onnx

    url, pkg = load(
        write_manifest,
        f"""\
        models:
          - name: remote
            url: https://example.org/m.onnx
            sha256: {SHA.upper()}
          - name: resnet
            package: onnx/backend/test/data/light/light_resnet50.onnx
        """,
    )
    assert url.source == "url" and url.sha256 == SHA and url.resolved_path is None
    assert pkg.source == "package"
    assert pkg.resolved_path.startswith(os.path.dirname(onnx.__file__))
    assert os.path.isfile(pkg.resolved_path)


def test_package_not_installed_is_left_to_the_build(write_manifest):
    (entry,) = load(write_manifest, "models:\n  - name: x\n    package: no_such_pkg_zz/m.onnx\n")
    assert entry.resolved_path is None


@pytest.mark.parametrize(
    "body, line, entry, field, words",
    [
        ("  - name: A\n    path: a.onnx\n    tag: [x]\n", 4, "'A'", "tag", "did you mean 'tags'"),
        ("  - name: A\n    path: a.onnx\n  - name: A\n    path: b.onnx\n", 4, "'A'", "name", "duplicate"),
        ("  - path: a.onnx\n    task: x\n", 2, "#1", "name", "missing"),
        ("  - name: A\n    task: x\n", 2, "'A'", "path", "missing"),
        ("  - name: A\n    path: a.onnx\n    url: https://x.org/a.onnx\n    sha256: " + SHA + "\n",
         4, "'A'", "url", "only one"),
        ("  - name: A\n    url: https://x.org/a.onnx\n", 3, "'A'", "url", "sha256"),
        ("  - name: A\n    url: ftp://x.org/a.onnx\n    sha256: " + SHA + "\n", 3, "'A'", "url", "http"),
        ("  - name: A\n    url: https://x.org/a.onnx\n    sha256: abc\n", 4, "'A'", "sha256", "64 hexadecimal"),
        ("  - name: A\n    path: a.onnx\n    tags: vision\n", 4, "'A'", "tags", "list"),
        ("  - name: A\n    path: a.onnx\n    tags: [vision, 3]\n", 4, "'A'", "tags", "list of text"),
        ("  - name: A\n    path: a.onnx\n    dims: {batch: 0}\n", 4, "'A'", "dims", "positive integer"),
        ("  - name: A\n    path: a.onnx\n    dims: {batch: true}\n", 4, "'A'", "dims", "positive integer"),
        ("  - name: A\n    path: a.onnx\n    dims: [1]\n", 4, "'A'", "dims", "positive integers"),
        ("  - name: A\n    path: a.onnx\n    links: {x: 'javascript:alert(1)'}\n", 4, "'A'", "links", "http(s)"),
        ("  - name: A\n    path: a.onnx\n    links: {x: 'file:///etc/passwd'}\n", 4, "'A'", "links", "http(s)"),
        ("  - name: A\n    path: a.onnx\n    variant_of: B\n", 4, "'A'", "variant_of", "no model"),
        ("  - name: A\n    package: ../evil/a.onnx\n", 3, "'A'", "package", ".."),
        ("  - name: ''\n    path: a.onnx\n", 2, "#1", "name", "empty"),
        ("  - name: A\n    path: a.onnx\n    path: b.onnx\n", 4, "'A'", "path", "given twice"),
    ],
)
def test_errors_name_file_line_entry_field(write_manifest, body, line, entry, field, words):
    message = error(write_manifest, "models:\n" + body)
    assert message.startswith(f"models.yml:{line}: entry {entry}: field '{field}': "), message
    assert words in message, message
    assert "\n" not in message


def test_relative_links_are_allowed(write_manifest):
    (entry,) = load(write_manifest, "models:\n  - name: A\n    path: a.onnx\n    links: {notes: ../notes.md}\n")
    assert entry.links == {"notes": "../notes.md"}


def test_top_level_and_defaults_errors(write_manifest):
    assert "did you mean 'models'" in error(write_manifest, "model:\n  - name: A\n    path: a\n")
    assert error(write_manifest, "defaults: {}\n").startswith("models.yml:1: field 'models': missing")
    msg = error(write_manifest, "defaults:\n  name: x\nmodels: []\n")
    assert msg.startswith("models.yml:2: entry defaults: field 'name':") and "cannot have a default" in msg
    msg = error(write_manifest, "defaults:\n  tags: x\nmodels: []\n")
    assert msg.startswith("models.yml:2: entry defaults: field 'tags':")
    assert error(write_manifest, "models: {a: 1}\n").startswith("models.yml:1: field 'models': must be a list")
    assert "empty" in error(write_manifest, "")


def test_invalid_yaml_names_the_line(write_manifest):
    message = error(write_manifest, "models:\n  - name: A\n    path: [unclosed\n")
    assert message.startswith("models.yml:") and "not valid YAML" in message


def test_display_defaults_to_the_path(write_manifest):
    path = write_manifest("models:\n  - name: A\n")
    with pytest.raises(ManifestError, match=f"^{path}:2: entry 'A': field 'path'"):
        load_manifest(path)


def test_unreadable_manifest(tmp_path):
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "absent.yml")


def test_yaml_anchors_and_merge_keys(write_manifest):
    entries = load(
        write_manifest,
        """\
        models:
          - &base
            name: A
            path: a.onnx
            tags: [x]
          - <<: *base
            name: B
        """,
    )
    assert [e.name for e in entries] == ["A", "B"] and entries[1].tags == ["x"]
    assert entries[1].line == 6


def test_bare_list_and_empty_models(write_manifest):
    assert [e.name for e in load(write_manifest, "- name: A\n  path: a.onnx\n")] == ["A"]
    assert load(write_manifest, "models: []\n") == []


@pytest.mark.parametrize(
    "name, slug",
    [("ResNet-50 (fp16)", "resnet-50-fp16"), ("模型", "model"), ("..", "model"),
     ("Élan v2", "elan-v2"), ("a/../b", "a-b"), ("  ", "model")],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_unique_slugs():
    assert unique_slugs(["A", "a", "a-2", "..", "!!"]) == ["a", "a-2", "a-2-2", "model", "model-2"]
    for slug in unique_slugs(["x" * 500, "Ünïcödé", "../../etc"]):
        assert slug and slug != ".." and set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_repeated_top_level_key(write_manifest):
    msg = error(write_manifest, "models: []\nmodels:\n  - name: A\n    path: a\n")
    assert msg.startswith("models.yml:2: field 'models': given twice (first at line 1)")


def test_all_digit_sha256_stays_text(write_manifest):
    (entry,) = load(write_manifest, f"models:\n  - name: A\n    url: https://x.org/a.onnx\n    sha256: {'0' * 64}\n")
    assert entry.sha256 == "0" * 64
