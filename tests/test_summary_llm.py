"""summarize() against a real HTTP server speaking the OpenAI chat-completions API."""

from __future__ import annotations

import json
import logging
import os
import socket
import time

import pytest

from mkdocs_onnx.summary import Summary, SummaryConfig, summarize

try:
    from test_summary_support import answer, cnn_entry, fake_llm, small_cnn_report
except ImportError:  # pragma: no cover - run from another root
    from tests.test_summary_support import answer, cnn_entry, fake_llm, small_cnn_report

KEY_ENV = "MKDOCS_ONNX_TEST_LLM_KEY"
GOOD = answer(
    "A tiny convolutional neural network for digits: 2,010 parameters, 69.6 KFLOPs per inference.",
    "tiny-cnn is a small CNN with 2,010 parameters (7.85 KiB of weights) ending in a fully connected layer. "
    "One inference costs 69.6 KFLOPs and needs 24.5 KiB of activation memory at its peak. "
    "On the Test GPU it fits easily, at a roofline lower bound of 4.50 µs per inference.",
)
MLP = answer(
    "A multi-layer perceptron (MLP) for digits with 2,010 parameters.",
    "tiny-cnn is a multi-layer perceptron designed for digit classification, with 2,010 parameters.",
)


@pytest.fixture
def report():
    return small_cnn_report()


@pytest.fixture
def llm(monkeypatch):
    with fake_llm(monkeypatch, KEY_ENV) as server:
        yield server


@pytest.fixture
def sleeps():
    return []


def config(server, **kw) -> SummaryConfig:
    return SummaryConfig(**{"model": "test-model", "base_url": server.base_url, "api_key_env": KEY_ENV,
                            "timeout": 5, "retries": 2, **kw})


def run(report, server, tmp_path, sleeps, log=None, **kw) -> Summary:
    return summarize(report, cnn_entry(), config(server, **kw), str(tmp_path / "cache"), log,
                     sleep=sleeps.append)


def test_grounded_answer_becomes_the_summary_and_is_cached(report, llm, tmp_path, sleeps):
    llm.reply(GOOD)
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm" and s.author == "test-model" and s.note == ""
    assert s.tldr.startswith("A tiny convolutional neural network") and "69.6 KFLOPs" in s.text
    assert len(llm.requests) == 1
    request = llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"].get("authorization") == "Bearer dummy-key"
    body = request["json"]
    assert body["model"] == "test-model" and body["max_tokens"] == 400 and body["temperature"] == 0.2
    facts = json.loads(body["messages"][-1]["content"].split("\n", 1)[1])
    assert facts["family"] == "cnn" and facts["parameters"]["total"] == "2,010"
    assert facts["hardware_estimates"][0]["latency_lower_bound_batch_1"] == "4.50 µs"
    assert facts["description_from_manifest"] == "A tiny digit classifier for tests."
    files = list((tmp_path / "cache" / "summaries").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["author"] == "test-model"

    again = run(report, llm, tmp_path, sleeps)  # a rebuild: no request at all
    assert again == s and len(llm.requests) == 1


def test_cache_key_includes_the_llm_model_and_the_facts(report, llm, tmp_path, sleeps):
    llm.reply(GOOD).reply(GOOD).reply(GOOD)
    run(report, llm, tmp_path, sleeps)
    run(report, llm, tmp_path, sleeps, model="other-model")
    assert len(llm.requests) == 2
    report.params.total = 2011  # other facts (a changed model) -> asked again
    run(report, llm, tmp_path, sleeps)
    assert len(llm.requests) == 3


def test_corrupt_cache_entry_is_ignored_and_rewritten(report, llm, tmp_path, sleeps):
    llm.reply(GOOD).reply(GOOD)
    run(report, llm, tmp_path, sleeps)
    (entry_file,) = (tmp_path / "cache" / "summaries").glob("*.json")
    entry_file.write_text("{not json")
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm" and len(llm.requests) == 2
    assert json.loads(entry_file.read_text())["tldr"] == s.tldr


def test_server_error_on_every_attempt_falls_back(report, llm, tmp_path, sleeps, caplog):
    llm.default = {"status": 500}
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        s = run(report, llm, tmp_path, sleeps)
    assert time.monotonic() - started < 5
    assert s.source == "metrics" and s.author == "mkdocs-onnx (from the metrics)"
    assert s.note == "server error 500 after 3 attempts"
    assert len(llm.requests) == 3 and sleeps == [0.5, 1.0]  # exponential backoff, injectable sleep
    assert "server error 500" in caplog.text
    assert not (tmp_path / "cache" / "summaries").exists() or not list((tmp_path / "cache" / "summaries").iterdir())


def test_a_server_down_for_one_model_is_not_asked_again_for_the_next(llm, tmp_path, sleeps):
    llm.default = {"status": 500}
    first = run(small_cnn_report(), llm, tmp_path, sleeps)
    second = run(small_cnn_report(latency_s=9.9e-6), llm, tmp_path, sleeps)  # other facts: no cache hit
    assert len(llm.requests) == 3  # the first model's attempts only
    assert first.note == "server error 500 after 3 attempts"
    assert second.source == "metrics" and "earlier model" in second.note and "server error 500" in second.note


def test_server_error_then_success_is_retried(report, llm, tmp_path, sleeps):
    llm.reply(status=503).reply(GOOD)
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm" and len(llm.requests) == 2 and sleeps == [0.5]


def test_rate_limited_is_retried_then_falls_back(report, llm, tmp_path, sleeps):
    llm.default = {"status": 429, "headers": {"Retry-After": "1"}}
    s = run(report, llm, tmp_path, sleeps, retries=1)
    assert s.source == "metrics" and s.note == "rate limited (429) after 2 attempts"
    assert len(llm.requests) == 2 and sleeps == [1.0]  # Retry-After honoured (capped)


def test_client_errors_are_not_retried(report, llm, tmp_path, sleeps):
    llm.default = {"status": 401, "body": {"error": {"message": "Incorrect API key provided", "type": "auth"}}}
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "metrics" and len(llm.requests) == 1 and sleeps == []
    assert "401" in s.note and "Incorrect API key" in s.note


def test_timeout_falls_back_quickly(report, llm, tmp_path, sleeps):
    llm.default = {"delay": 2.0, "content": GOOD}
    started = time.monotonic()
    s = run(report, llm, tmp_path, sleeps, timeout=0.3, retries=1)
    elapsed = time.monotonic() - started
    assert s.source == "metrics" and s.note.startswith("timed out") and "after 2 attempts" in s.note
    assert len(llm.requests) == 2 and elapsed < 1.8


def test_connection_refused_falls_back(report, monkeypatch, tmp_path, sleeps):
    monkeypatch.setenv(KEY_ENV, "dummy-key")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = SummaryConfig(base_url=f"http://127.0.0.1:{port}/v1", api_key_env=KEY_ENV, retries=1, timeout=2)
    s = summarize(report, cnn_entry(), cfg, None, sleep=sleeps.append)
    assert s.source == "metrics" and s.note.startswith("could not connect") and sleeps == [0.5]


def test_answer_is_sanitised(report, llm, tmp_path, sleeps):
    llm.reply(answer(
        "**TL;DR:** A tiny CNN <script>alert(1)</script> with 2,010 parameters.",
        "tiny-cnn is a small convolutional network. ![x](http://evil/x.png) See [the docs](http://evil/docs) "
        "or http://evil/raw.\n\n<img src=x onerror=alert(1)> It costs 69.6 KFLOPs.",
    ))
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm"
    for text in (s.tldr, s.text):
        assert "![" not in text and "](" not in text and "http" not in text and "evil" not in text
        assert "\n" not in text and "  " not in text
    assert "<script>alert(1)</script>" in s.tldr  # kept as text: the renderer escapes it
    assert not s.tldr.startswith(("TL;DR", "*"))
    assert "See the docs or" in s.text


def test_mlp_claim_is_rejected_retried_once_then_falls_back(report, llm, tmp_path, sleeps, caplog):
    llm.reply(MLP).reply(MLP)
    with caplog.at_level(logging.WARNING):
        s = run(report, llm, tmp_path, sleeps)
    assert s.source == "metrics"
    assert s.note.startswith("answer rejected by the grounding check: ")
    assert "calls the model an MLP but the graph is a cnn" in s.note
    assert len(llm.requests) == 2
    retry_messages = llm.requests[1]["json"]["messages"]
    assert retry_messages[-2]["role"] == "assistant" and retry_messages[-2]["content"] == MLP
    assert "calls the model an MLP but the graph is a cnn" in retry_messages[-1]["content"]
    assert "calls the model an MLP" in caplog.text
    assert "convolutional neural network" in s.text  # the fallback states the real family
    # a rejected answer is not cached: the next build asks again
    llm.reply(GOOD)
    assert run(report, llm, tmp_path, sleeps).source == "llm" and len(llm.requests) == 3


def test_rejected_answer_corrected_on_the_retry_is_used(report, llm, tmp_path, sleeps):
    llm.reply(MLP).reply(GOOD)
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm" and len(llm.requests) == 2 and "2,010 parameters" in s.text


def test_wrong_latency_is_rejected(report, llm, tmp_path, sleeps):
    wrong = answer("A tiny CNN with 2,010 parameters.",
                   "tiny-cnn is a small CNN; on the Test GPU its theoretical latency is about 0.0003 ms.")
    llm.reply(wrong).reply(wrong)
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "metrics" and '"0.0003 ms"' in s.note and "latency" in s.note
    assert "4.50 µs" in s.text  # the fallback quotes the real lower bound


def test_plain_text_answer_is_accepted(report, llm, tmp_path, sleeps):
    llm.reply("TL;DR: A tiny CNN with 2,010 parameters.\n\ntiny-cnn is a small convolutional neural network "
              "costing 69.6 KFLOPs per inference.")
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "llm" and s.tldr == "A tiny CNN with 2,010 parameters."
    assert s.text.startswith("tiny-cnn is a small convolutional neural network")


def test_malformed_answers_fall_back(report, llm, tmp_path, sleeps):
    llm.reply('{"tldr": "cut off').reply("ok")
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "metrics" and s.note.startswith("malformed answer") and len(llm.requests) == 2


def test_non_json_response_body_falls_back(report, llm, tmp_path, sleeps):
    llm.default = {"status": 200, "body": b"<html>gateway says hi</html>"}
    s = run(report, llm, tmp_path, sleeps)
    assert s.source == "metrics" and s.note.startswith("malformed answer")


def test_no_api_key_means_no_network_at_all(report, monkeypatch, tmp_path):
    import openai

    def forbidden(*_args, **_kwargs):
        raise AssertionError("a network connection was attempted without an API key")

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(openai, "OpenAI", forbidden)
    s = summarize(report, cnn_entry(), SummaryConfig(base_url="http://127.0.0.1:9/v1"), str(tmp_path))
    assert s.source == "metrics" and s.note == "no API key in $OPENAI_API_KEY"
    assert "convolutional neural network" in s.text
    assert not (tmp_path / "summaries").exists()


def test_blank_key_and_disabled_config_fall_back_without_requests(report, llm, tmp_path, sleeps, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "   ")
    assert run(report, llm, tmp_path, sleeps).note == f"no API key in ${KEY_ENV}"
    monkeypatch.setenv(KEY_ENV, "dummy-key")
    s = run(report, llm, tmp_path, sleeps, enabled=False)
    assert s.source == "metrics" and "disabled" in s.note
    assert llm.requests == []


def test_plugin_style_mapping_config_is_accepted(report, llm, tmp_path):
    """The zoo passes the plugin's ``summary:`` sub-config as a plain dict."""
    llm.reply(GOOD)
    mapping = {"model": "test-model", "base_url": llm.base_url, "api_key_env": KEY_ENV, "temperature": 0.2,
               "max_tokens": 400, "timeout": 5, "retries": 0, "unknown_key": 1}
    s = summarize(report, cnn_entry(), mapping)
    assert s.source == "llm" and s.author == "test-model" and len(llm.requests) == 1


def test_default_key_env_is_read_only_from_the_environment(report, llm, tmp_path, sleeps, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    llm.reply(GOOD)
    s = summarize(report, cnn_entry(), SummaryConfig(model="m", base_url=llm.base_url), None, sleep=sleeps.append)
    assert s.source == "llm" and llm.requests[0]["headers"]["authorization"] == "Bearer from-env"
    assert os.environ.get(KEY_ENV) == "dummy-key"
