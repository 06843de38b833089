"""LLM summaries on built cards, through a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import re

import pytest

from conftest import build_project, light_model, make_project
from test_summary_support import answer, fake_llm

KEY_ENV = "MKDOCS_ONNX_SITE_TEST_KEY"
GOOD = answer(
    "A compact convolutional neural network for image classification. <script>alert(1)</script>",
    "SqueezeNet is a convolutional neural network built from fire modules ![x](http://evil.example/x.png) "
    "that squeeze and expand channels to stay small.",
)
WRONG = answer("A multi-layer perceptron.", "SqueezeNet is a multi-layer perceptron (MLP) for images.")


@pytest.fixture
def llm(monkeypatch):
    with fake_llm(monkeypatch, KEY_ENV) as server:
        yield server


def _zoo(tmp_path, server):
    summary = {"model": "test-model", "base_url": server.base_url, "api_key_env": KEY_ENV, "timeout": 5, "retries": 0}
    return make_project(tmp_path, {"SqueezeNet": light_model("squeezenet")}, plugin={"summary": summary})


def test_llm_summary_on_the_card_inert_and_cached(tmp_path, llm):
    llm.reply(GOOD)
    root = _zoo(tmp_path, llm)
    card = (build_project(root) / "models" / "squeezenet" / "index.html").read_text()
    assert "squeeze and expand channels" in card and "test-model" in card
    assert "<script>alert(1)" not in card and "&lt;script&gt;alert" in card  # shown as text
    assert not re.search(r"<img[^>]*evil\.example", card) and "![x]" not in card
    assert len(llm.requests) == 1

    build_project(root)  # a rebuild asks nothing: the answer is cached
    assert len(llm.requests) == 1


def test_an_answer_contradicting_the_report_is_replaced_by_the_fallback(tmp_path, llm):
    llm.reply(WRONG).reply(WRONG)
    root = _zoo(tmp_path, llm)
    card = (build_project(root) / "models" / "squeezenet" / "index.html").read_text()
    assert len(llm.requests) == 2  # asked once more with the reason, then given up
    assert "multi-layer perceptron (MLP) for images" not in card
    assert "Generated from the metrics" in card and "grounding check" in card
