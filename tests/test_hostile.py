"""Hostile and broken input: inert rendering, contained paths, bounded failures, nothing lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from conftest import build_project, make_project
from helpers import LIGHT, corpus_models, model, tensor, value
from mkdocs_onnx import AnalysisError, analyze
from mkdocs_onnx.analysis import analyze_model

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
MD_LINK = "[click](javascript:alert(3))"
MD_IMAGE = "![pixel](http://evil.example/p.png)"
HOSTILE = f"{SCRIPT} {IMG} {MD_LINK} {MD_IMAGE}"
TIME_BOUND_S = 20


def _bounded(fn):
    """Run ``fn``; it must end with a report or AnalysisError within the time bound."""
    started = time.monotonic()
    try:
        result = fn()
    except AnalysisError as e:
        result = e
    assert time.monotonic() - started < TIME_BOUND_S
    return result


# --- one test per kind of broken model ----------------------------------------------------


def _write(tmp_path, data: bytes, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind, data, message", [
    ("zero bytes", b"", "empty"),
    ("random bytes", bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)), "not an ONNX model"),
    ("truncated protobuf", (LIGHT / "light_resnet50.onnx").read_bytes()[:5000], "not an ONNX model"),
    ("a protobuf that is not a model", numpy_helper.from_array(np.ones(3, np.float32), "t").SerializeToString(),
     "not an ONNX model"),
    ("a model with no graph", onnx.ModelProto(ir_version=8).SerializeToString(), "no graph"),
])
def test_unparseable_files_are_one_line_errors(tmp_path, kind, data, message):
    path = _write(tmp_path, data)
    error = _bounded(lambda: analyze(path))
    assert isinstance(error, AnalysisError), kind
    assert message in str(error) and str(path) in str(error) and "\n" not in str(error)


def test_cyclic_graph_is_an_error_naming_the_cycle():
    nodes = [helper.make_node("Relu", ["B"], ["A"], name="first"), helper.make_node("Neg", ["A"], ["B"], name="second")]
    error = _bounded(lambda: analyze_model(model(nodes, [value("X", [4])], [value("B", [4])])))
    assert isinstance(error, AnalysisError) and "cycle" in str(error) and "'first'" in str(error)


def test_nodes_out_of_topological_order_are_analysed():
    nodes = [helper.make_node("Relu", ["A"], ["Y"]), helper.make_node("Neg", ["X"], ["A"])]
    report = _bounded(lambda: analyze_model(model(nodes, [value("X", [3, 5])], [value("Y", [3, 5])])))
    assert report.flops.total == 15 + 15


def test_dangling_inputs_are_reported_and_their_nodes_uncounted():
    nodes = [helper.make_node("Relu", ["nowhere"], ["Y"]), helper.make_node("Neg", ["X"], ["Z"])]
    report = _bounded(lambda: analyze_model(model(nodes, [value("X", [4])], [value("Y", None), value("Z", [4])])))
    assert any("never produced" in w and "'nowhere'" in w for w in report.warnings)
    assert report.flops.uncounted_ops == {"Relu": 1}
    assert report.flops.total == 4  # the Neg still counts


def test_dims_of_two_to_the_62_give_exact_figures_without_allocating():
    big = 2**62
    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[big, 4])  # declared, no data
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"])]
    report = _bounded(lambda: analyze_model(model(nodes, [value("X", [1, big])], [value("Y", [1, 4])], [w])))
    assert report.params.total == big * 4
    assert report.flops.total == 2 * 1 * big * 4
    assert any(r.id == "large-tensor" for r in report.risks)


def test_missing_external_data_gets_numbers_and_a_note(tmp_path):
    m = model([helper.make_node("MatMul", ["X", "W"], ["Y"])], [value("X", [1, 64])], [value("Y", [1, 32])],
              [tensor("W", (64, 32))])
    onnx.save_model(m, tmp_path / "m.onnx", save_as_external_data=True, location="gone.bin", size_threshold=0)
    (tmp_path / "gone.bin").unlink()
    report = _bounded(lambda: analyze(tmp_path / "m.onnx"))
    assert report.params.total == 64 * 32 and report.model.missing_external_data == ["gone.bin"]


def test_unknown_domains_and_operators_are_uncounted_with_the_reason():
    nodes = [helper.make_node("Frobnicate", ["X"], ["Y"], domain="com.example")]
    m = model(nodes, [value("X", [4])], [value("Y", [4])], extra_opsets=[("com.example", 1)])
    report = _bounded(lambda: analyze_model(m))
    assert report.flops.uncounted_ops == {"com.example.Frobnicate": 1}
    assert "no cost formula" in report.flops.uncounted[0].reason
    assert any(r.id == "custom-domain" for r in report.risks)


def test_an_opset_newer_than_onnx_knows_is_analysed_with_a_warning():
    m = model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", [2, 3])], [value("Y", [2, 3])],
              opset=onnx.defs.onnx_opset_version() + 5)
    report = _bounded(lambda: analyze_model(m))
    assert report.flops.total == 6
    assert any("newer than" in w for w in report.warnings)



def test_a_node_onnx_inference_rejects_is_named_with_why_and_what_it_costs():
    """float32 data into a Conv with float16 weights, as a half-finished fp16 conversion leaves
    it: whole-model inference skips the node quietly; the second pass, asked once the Conv's
    input shape is known, says which node ONNX rejects and why."""
    from mkdocs_onnx.analysis.index import IndexedModel
    from mkdocs_onnx.analysis.shapes import constant_values, refine

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float16), "W")
    nodes = [helper.make_node("Conv", ["X", "W"], ["C"], name="conv"), helper.make_node("Relu", ["C"], ["Y"])]
    index = IndexedModel(model(nodes, [value("X", [1, 3, 8, 8])], [value("Y", None)], initializers=[weight]))
    types = {"X": (TensorProto.FLOAT, (1, 3, 8, 8)), "W": (TensorProto.FLOAT16, (4, 3, 3, 3)), "C": (TensorProto.FLOAT, None)}
    warnings: list[str] = []
    refine(index, types, constant_values(index), warnings=warnings)
    (warning,) = warnings
    assert warning.startswith("ONNX shape inference rejects node conv (Conv) given the types of its inputs: ")
    assert "W has inconsistent type tensor(float16)" in warning and "not counted" in warning
    assert types["C"] == (TensorProto.FLOAT, None)


def test_rejected_nodes_beyond_three_are_counted_not_listed():
    from mkdocs_onnx.analysis.shapes import _rejections

    nodes = [helper.make_node("Relu", [f"x{i}"], [f"y{i}"], name=f"r{i}") for i in range(5)]
    rejected = {n.name: (n, "why") for n in nodes}
    found = _rejections(rejected, {"y4": (TensorProto.FLOAT, (2,))})  # r4's output was shaped after all
    assert [w.split(" given")[0] for w in found[:3]] == [f"ONNX shape inference rejects node r{i} (Relu)" for i in range(3)]
    assert found[3:] == ["ONNX shape inference rejects 1 more node"]


# --- fuzzed bytes of real models ----------------------------------------------------------------

_SEEDS = sorted(LIGHT.glob("light_*.onnx"))[:4] + corpus_models()[:12]
_SEED_BYTES = [p.read_bytes() for p in _SEEDS if p.stat().st_size < 4_000_000]


@st.composite
def _mutated_model(draw):
    data = bytearray(draw(st.sampled_from(_SEED_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 64)):]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutated_model())
def test_fuzzed_models_give_a_report_or_our_error_in_bounded_time(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "m.onnx"
    path.write_bytes(data)
    result = _bounded(lambda: analyze(path))
    if isinstance(result, AnalysisError):
        assert "\n" not in str(result)
    else:
        assert result.flops.total >= 0 and result.params.total >= 0


# --- hostile text in a built site ------------------------------------------------------------------


def _hostile_model() -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", [HOSTILE], ["y"], name=f"relu {SCRIPT}", doc_string=HOSTILE)]
    m = model(nodes, [value(HOSTILE, [1, 4])], [value("y", [1, 4])])
    m.doc_string = HOSTILE
    m.producer_name = SCRIPT
    m.graph.name = IMG
    helper.set_model_props(m, {IMG: HOSTILE, "license": MD_LINK})
    return m


def _site_text(site) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in site.rglob("*") if p.suffix in (".html", ".json", ".csv", ".svg", ".xml"))


def test_hostile_names_and_manifest_text_render_inert_and_stay_inside_the_site(tmp_path):
    onnx.save_model(_hostile_model(), tmp_path / "hostile.onnx")
    root = make_project(tmp_path / "zoo", {"placeholder": str(tmp_path / "hostile.onnx")})
    manifest = yaml.safe_load((root / "models.yml").read_text())
    entry = manifest["models"][0]
    entry.update(name=f"../../{SCRIPT}", description=HOSTILE, task=IMG, tags=[SCRIPT, MD_IMAGE],
                 license=MD_LINK, links={"home": "https://example.org/", "paper": "http://ok.example/p"})
    manifest["models"].append({"name": "../escape", "path": "../../outside.onnx"})  # does not exist
    (root / "models.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    site = build_project(root)

    html = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert "<script>alert(1)" not in html
    assert not re.search(r"<img[^>]*onerror", html)
    assert not re.search(r"""href=["']?\s*javascript:""", html, re.I)
    assert not re.search(r"""<img[^>]*src=["']?http://evil""", html)
    assert "alert(1)" in html  # the text itself is shown, as text
    # Nothing was written outside the site folder, and the card's folder is a clean slug.
    outside = {p.name for p in tmp_path.iterdir()}
    assert outside == {"hostile.onnx", "zoo"}
    card_folders = [p.name for p in (site / "models").iterdir() if p.is_dir()]
    assert card_folders and all(re.fullmatch(r"[a-z0-9-]+", name) for name in card_folders), card_folders
    # Machine-readable outputs carry the text verbatim, in their own escaping.
    assert "../escape" in (site / "models" / "models.json").read_text()


# --- an interrupted build loses nothing -----------------------------------------------------------------


def test_a_build_killed_during_analysis_leaves_a_valid_cache(tmp_path):
    root = make_project(tmp_path, {f"m{i}": str(LIGHT / name) for i, name in enumerate(
        ["light_squeezenet.onnx", "light_bvlc_alexnet.onnx", "light_zfnet512.onnx", "light_shufflenet.onnx"])})
    # A build whose analyses are slowed down, killed while the second or third model is analysed.
    slow_build = textwrap.dedent(f"""
        import time, mkdocs_onnx.zoo as zoo
        real = zoo.analyze
        def slow(*args, **kwargs):
            time.sleep(0.6)
            return real(*args, **kwargs)
        zoo.analyze = slow
        from mkdocs.commands.build import build
        from mkdocs.config import load_config
        build(load_config({str(root / 'mkdocs.yml')!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", slow_build], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    reports = root / ".cache" / "reports"
    while time.monotonic() < deadline and len(list(reports.glob("*.json")) if reports.exists() else []) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = list(reports.glob("*.json"))
    assert 1 <= len(kept) < 4, "the build was not interrupted mid-way"

    site = build_project(root)  # the next build completes and reuses what was cached
    assert len(list(reports.glob("*.json"))) == 4
    assert all(p.read_text().strip().startswith("{") for p in reports.glob("*.json"))
    assert not list(reports.glob("*.tmp*"))
    assert (site / "models" / "index.html").exists()
