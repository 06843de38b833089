"""The summary package without a server: fallback text, sanitising, parsing, cache, config."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

import mkdocs_onnx.summary as summary_pkg
from mkdocs_onnx.analysis.report import HardwareEstimate, UncountedNode
from mkdocs_onnx.summary import Summary, SummaryConfig, fallback_summary, summarize
from mkdocs_onnx.summary import cache
from mkdocs_onnx.summary.facts import facts_json
from mkdocs_onnx.summary.grounding import check
from mkdocs_onnx.summary.llm import PROMPT_VERSION, parse_answer
from mkdocs_onnx.summary.sanitize import TLDR_MAX_CHARS, sanitize, sanitize_tldr

try:
    from test_summary_support import cnn_entry, small_cnn_report
except ImportError:  # pragma: no cover
    from tests.test_summary_support import cnn_entry, small_cnn_report

from conftest import make_report


@pytest.fixture(scope="module")
def cnn():
    return small_cnn_report(latency_s=4.5e-6)


def test_exports_and_summary_fields():
    assert set(summary_pkg.__all__) >= {"Summary", "SummaryConfig", "summarize", "fallback_summary"}
    assert [f.name for f in dataclasses.fields(Summary)][:5] == ["tldr", "text", "source", "author", "note"]
    cfg = SummaryConfig()
    assert (cfg.model, cfg.base_url, cfg.api_key_env, cfg.temperature, cfg.max_tokens, cfg.timeout, cfg.retries,
            cfg.enabled) == ("gpt-4o-mini", None, "OPENAI_API_KEY", 0.2, 400, 30, 2, True)


def test_config_from_a_mapping():
    cfg = SummaryConfig.coerce({"model": "llama3", "base_url": "http://localhost:11434/v1", "timeout": 5,
                                "retries": None, "other": 1})
    assert cfg.model == "llama3" and cfg.base_url == "http://localhost:11434/v1" and cfg.timeout == 5
    assert cfg.retries == 2  # None means "default"
    assert SummaryConfig.coerce(None) == SummaryConfig()
    same = SummaryConfig(model="x")
    assert SummaryConfig.coerce(same) is same


# --- fallback -------------------------------------------------------------------------

def test_fallback_states_family_parameters_and_figures(cnn):
    s = fallback_summary(cnn, cnn_entry(), note="no API key in $OPENAI_API_KEY")
    assert s.source == "metrics" and s.author == "mkdocs-onnx (from the metrics)"
    assert s.note == "no API key in $OPENAI_API_KEY"
    assert s.text.startswith("tiny-cnn is a convolutional neural network (CNN) for image classification with "
                             "2,010 parameters (7.85 KiB of weights).")
    for figure in ("69.6 KFLOPs", "24.5 KiB of activation memory", "1 convolution node",
                   "On Test GPU (fp32, batch 1) it fits in device memory (64.0 MiB needed)", "at least 4.50 µs"):
        assert figure in s.text
    assert s.tldr == "Convolutional neural network for image classification: 2,010 parameters, 69.6 KFLOPs per inference."
    assert "\n" not in s.tldr and len(s.tldr) <= TLDR_MAX_CHARS
    assert "MLP" not in s.text and "perceptron" not in s.text


def test_fallback_is_deterministic_and_grounded(cnn):
    a = fallback_summary(cnn, cnn_entry())
    b = fallback_summary(copy.deepcopy(cnn), cnn_entry())
    assert json.dumps(dataclasses.asdict(a)).encode() == json.dumps(dataclasses.asdict(b)).encode()
    assert check(a.tldr + "\n" + a.text, cnn, cnn_entry()) == []


def test_fallback_counts_what_a_tree_ensemble_holds_in_attributes_not_no_parameters():
    r = make_report("trees")
    r.architecture.family = "classical-ml"
    r.params.in_attributes = 453
    r.params.in_attributes_by_op = {"ai.onnx.ml.TreeEnsembleClassifier": 453}
    s = fallback_summary(r)
    assert "453 learned values held in operator attributes" in s.tldr
    assert "with 453 learned values held in operator attributes." in s.text
    assert "no parameters" not in s.text + s.tldr and "no stored weights" not in s.text
    assert check(s.tldr + "\n" + s.text, r, None) == []  # every figure is one the facts hold


def test_fallback_gives_no_bound_of_zero_when_nothing_could_be_counted():
    # one custom operator without a formula: no FLOP counted, no intermediate size known
    r = make_report("tokenizer", flops=0)
    r.flops.uncounted_ops = {"ai.onnx.contrib.CLIPTokenizer": 1}
    r.memory.peak_activation_bytes, r.memory.activations_unknown = 0, 2
    s = fallback_summary(r)
    assert "at least 0" not in s.text + s.tldr and "0 B" not in s.text
    assert s.tldr.endswith(": no parameters, FLOPs not counted.")
    assert "Its compute could not be counted, and its activation memory is unknown" in s.text
    assert "No FLOP count for ai.onnx.contrib.CLIPTokenizer (1)." in s.text
    assert check(s.tldr + "\n" + s.text, r, None) == []


def test_fallback_uses_task_guess_units_and_warnings():
    r = make_report("big", flops=3_200_000_000)
    r.architecture.family = "transformer-decoder"
    r.architecture.task_guess = "text generation"
    r.params.total = r.params.trainable = 124_439_808
    r.params.placeholder = 1_000_000
    r.memory.weights_bytes = 497_759_232
    r.memory.activations_unknown = 3
    r.flops.uncounted_ops = {"Loop": 1, "NonMaxSuppression": 2}
    r.flops.uncounted = [UncountedNode("loop", "Loop", "data-dependent")]
    r.hardware = [HardwareEstimate("Tiny NPU", "int8", 600 * 2**20, False, None, "unknown", None)]
    s = fallback_summary(r, None)
    assert s.text.startswith("big is a transformer decoder for text generation with 124 M parameters (475 MiB of weights).")
    assert "costs at least 3.20 GFLOPs" in s.text and "needs at least 24 B of activation memory" in s.text
    assert "no count for Loop (1), NonMaxSuppression (2)" in s.text
    assert "Warning: 1.00 M of the parameters are placeholder fills" in s.text
    assert "On Tiny NPU (int8, batch 1) it does not fit in device memory (600 MiB needed); latency is not estimated." in s.text
    assert s.tldr == ("Transformer decoder for text generation: 124 M parameters, 3.20 GFLOPs (lower bound) per "
                      "inference, placeholder weights.")


@pytest.mark.parametrize("family,phrase", [
    ("mlp", "a multi-layer perceptron (MLP)"), ("rnn", "a recurrent neural network (RNN)"),
    ("vision-transformer", "a vision transformer (ViT)"), ("classical-ml", "a classical machine-learning model"),
    ("unknown", "a model whose architecture family could not be determined"), ("weird", "a model whose architecture"),
])
def test_fallback_family_phrases(family, phrase):
    r = make_report("m")
    r.architecture.family = family
    s = fallback_summary(r, None)
    assert s.text.startswith(f"m is {phrase}") and "no parameters and no stored weights" in s.text



def test_fallback_calls_a_graph_of_string_operators_that_tokenizes_a_tokenizer():
    r = make_report("cliptok", flops=0)
    r.architecture.family, r.architecture.task_guess = "unknown", "tokenization"  # no network layer
    s = fallback_summary(r, None)
    assert s.text.startswith("cliptok is a tokenizer (string operators, no neural-network layer) with no parameters")
    assert s.tldr == "Tokenizer: no parameters, 0 FLOPs per inference."
    r.architecture.family = "transformer-encoder"  # a tokenizer fused with its network is named by the network
    assert fallback_summary(r, None).text.startswith("cliptok is a transformer encoder for tokenization")


# --- sanitising -----------------------------------------------------------------------

def test_sanitize_removes_images_links_urls_and_collapses_whitespace():
    text = ("A  **small** model.\n\n![x](http://evil/x.png) See [the docs](https://evil/docs) "
            "and <https://evil/auto>, www.evil.com or javascript:alert(1).\n- a list item\n# heading\n"
            "[![badge](http://b/i.svg)](http://b/) `code` <script>alert(1)</script>")
    out = sanitize(text)
    assert "![" not in out and "](" not in out and "evil" not in out and "http" not in out
    assert "See the docs and" in out and "a list item heading" in out and "badge" in out
    assert "<script>alert(1)</script>" in out  # left as text: the renderer escapes
    assert "  " not in out and "\n" not in out and "**" not in out and "`" not in out
    assert out.startswith("A small model. x See")


def test_sanitize_limits_length_and_strips_tldr_label():
    assert sanitize_tldr("**TL;DR:** A CNN.") == "A CNN."
    assert sanitize_tldr("TLDR - A CNN.") == "A CNN."
    long = sanitize_tldr("word " * 200)
    assert len(long) <= TLDR_MAX_CHARS and long.endswith("…")
    assert sanitize("a\x00b\u200bc") == "a b c"


# --- parsing --------------------------------------------------------------------------

@pytest.mark.parametrize("content,expected", [
    ('{"tldr": "One line.", "summary": "A paragraph."}', ("One line.", "A paragraph.")),
    ('```json\n{"TL;DR": "One line.", "text": "A paragraph."}\n```', ("One line.", "A paragraph.")),
    ('Sure! {"tldr": "One line.", "summary": "A paragraph.", "extra": 1} Hope it helps.',
     ("One line.", "A paragraph.")),
    ('{"summary": "First sentence. Second sentence."}', ("First sentence.", "First sentence. Second sentence.")),
    ("TL;DR: One line.\n\nA paragraph here.", ("One line.", "A paragraph here.")),
    ("**TL;DR:** One line.\n\n**Summary:** A paragraph here.", ("One line.", "A paragraph here.")),
    ("One line.\n\nA paragraph\nover lines.", ("One line.", "A paragraph\nover lines.")),
    ("First sentence. Then the rest.", ("First sentence.", "Then the rest.")),
    ('{"tldr": "cut o', None),
    ("Just one sentence", None),
    ("", None),
    ('{"tldr": "only"}', None),
    ('["not", "an", "object"]', None),
])
def test_parse_answer(content, expected):
    assert parse_answer(content) == expected


# --- cache ----------------------------------------------------------------------------

def test_cache_key_covers_facts_prompt_model_and_base_url(cnn):
    facts = facts_json(cnn, cnn_entry())
    base = cache.summary_key(facts, PROMPT_VERSION, "m", None)
    assert base == cache.summary_key(facts_json(copy.deepcopy(cnn), cnn_entry()), PROMPT_VERSION, "m", None)
    others = {
        cache.summary_key(facts + " ", PROMPT_VERSION, "m", None),
        cache.summary_key(facts, PROMPT_VERSION + "x", "m", None),
        cache.summary_key(facts, PROMPT_VERSION, "n", None),
        cache.summary_key(facts, PROMPT_VERSION, "m", "http://localhost:8000/v1"),
    }
    assert base not in others and len(others) == 4


def test_cache_store_load_corrupt_and_unwritable(tmp_path):
    key = "k" * 64
    assert cache.load(str(tmp_path), key) is None and cache.load(None, key) is None
    cache.store(str(tmp_path), key, {"tldr": "t", "text": "x", "author": "a", "model": "a"})
    assert cache.load(str(tmp_path), key) == {"tldr": "t", "text": "x", "author": "a"}
    assert [p.name for p in (tmp_path / "summaries").iterdir()] == [f"{key}.json"]  # no temporary left behind
    (tmp_path / "summaries" / f"{key}.json").write_text('{"tldr": "t"}')
    assert cache.load(str(tmp_path), key) is None
    (tmp_path / "summaries" / f"{key}.json").write_bytes(b"\xff\xfe garbage")
    assert cache.load(str(tmp_path), key) is None
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache.store(str(blocker), key, {"tldr": "t", "text": "x", "author": "a"})  # logged, not raised


def test_cached_answer_that_no_longer_passes_is_not_used(cnn, tmp_path, monkeypatch):
    """An entry written by an older checker (or edited by hand) is re-checked on load."""
    monkeypatch.setenv("SUMMARY_TEST_KEY", "k")
    cfg = SummaryConfig(model="m", base_url="http://127.0.0.1:9/v1", api_key_env="SUMMARY_TEST_KEY", retries=0,
                        timeout=1)
    key = cache.summary_key(facts_json(cnn, cnn_entry()), PROMPT_VERSION, "m", cfg.base_url)
    cache.store(str(tmp_path), key, {"tldr": "Good.", "text": "A CNN with 2,010 parameters.", "author": "m"})
    s = summarize(cnn, cnn_entry(), cfg, str(tmp_path), sleep=lambda _s: None)
    assert s.source == "llm" and s.text == "A CNN with 2,010 parameters."
    cache.store(str(tmp_path), key, {"tldr": "Bad.", "text": "It is an MLP.", "author": "m"})
    s = summarize(cnn, cnn_entry(), cfg, str(tmp_path), sleep=lambda _s: None)  # asks; nobody listens on :9
    assert s.source == "metrics" and s.note.startswith("could not connect")


def test_facts_for_the_llm_never_state_an_unknown_figure_as_zero():
    from mkdocs_onnx.summary.facts import facts

    r = make_report("m", flops=0)
    r.flops.uncounted_ops = {"Conv": 49}
    r.memory.peak_activation_bytes, r.memory.activations_unknown = 0, 101
    f = facts(r)
    assert f["flops_per_inference"] == "unknown (nothing could be counted)"
    assert f["peak_activation_memory"] == "unknown (nothing could be counted)"
    r.flops.total, r.memory.peak_activation_bytes = 2_000_000, 4096  # partly counted: lower bounds
    f = facts(r)
    assert f["flops_per_inference"] == "2.00 MFLOPs (lower bound)" and f["peak_activation_memory"] == "4.00 KiB (lower bound)"
    r.flops.uncounted_ops, r.memory.activations_unknown = {}, 0  # all counted: the figures as they are
    assert facts(r)["flops_per_inference"] == "2.00 MFLOPs" and facts(r)["peak_activation_memory"] == "4.00 KiB"
