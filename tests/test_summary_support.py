"""Shared pieces of the summary tests (no tests here): a small CNN report and a
scriptable fake OpenAI-compatible chat-completions server on 127.0.0.1."""

from __future__ import annotations

import contextlib

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from onnx import helper

from mkdocs_onnx.analysis.report import HardwareEstimate
from mkdocs_onnx.manifest.entry import ModelEntry
from helpers import model, tensor, value


def small_cnn_report(latency_s: Optional[float] = 4.5e-6):
    """Conv(1->4, 3x3) -> Relu -> MaxPool -> Flatten -> Gemm(196->10): a LeNet-like CNN."""
    from mkdocs_onnx.analysis import analyze_model

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["p1"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    m = model(
        nodes,
        [value("x", [1, 1, 28, 28])],
        [value("y", [1, 10])],
        [tensor("w1", [4, 1, 3, 3]), tensor("b1", [4]), tensor("w2", [10, 196]), tensor("b2", [10])],
    )
    report = analyze_model(m, name="tiny-cnn")
    if latency_s is not None:
        report.hardware.append(HardwareEstimate(
            device="Test GPU", precision="fp32", memory_required_bytes=64 * 2**20, fits=True,
            latency_s=latency_s, bottleneck="memory bandwidth", arithmetic_intensity=1.0,
            details={"device_memory_bytes": 16 * 2**30},
        ))
    return report


def cnn_entry() -> ModelEntry:
    return ModelEntry(name="tiny-cnn", slug="tiny-cnn", source="path", location="models/tiny.onnx",
                      description="A tiny digit classifier for tests.", task="image classification")


class FakeLLM:
    """``POST /v1/chat/completions`` answering from a queue of scripted responses.

    Each response: ``content`` (the assistant text) or ``body`` (raw JSON / bytes),
    ``status`` (200), ``delay`` (seconds before answering), ``headers``. When the queue is
    empty ``default`` is used; without one the server answers 599 so the test fails.
    """

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.default: Optional[dict[str, Any]] = None
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake.lock:
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        payload = None
                    fake.requests.append({"path": self.path, "json": payload, "headers": {k.lower(): v for k, v in self.headers.items()}})
                    script = fake.queue.pop(0) if fake.queue else fake.default
                if self.path.rstrip("/") != "/v1/chat/completions":
                    script = {"status": 404, "body": {"error": {"message": "not found", "type": "invalid_request_error"}}}
                if script is None:
                    script = {"status": 599, "body": {"error": {"message": "unscripted request"}}}
                time.sleep(script.get("delay", 0))
                status = script.get("status", 200)
                body = script.get("body")
                if body is None and status == 200:
                    body = completion(script.get("content", ""), (payload or {}).get("model", "?"))
                elif body is None:
                    body = {"error": {"message": f"scripted status {status}", "type": "server_error", "code": None}}
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in script.get("headers", {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, content: str = "", **script: Any) -> "FakeLLM":
        self.queue.append({"content": content, **script})
        return self

    def __enter__(self) -> "FakeLLM":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(content: str, model_name: str = "test-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def answer(tldr: str, summary: str) -> str:
    return json.dumps({"tldr": tldr, "summary": summary})



@contextlib.contextmanager
def fake_llm(monkeypatch, key_env: str):
    """A FakeLLM server, with a dummy key in ``key_env`` and no proxy in the way."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(key_env, "dummy-key")
    with FakeLLM() as server:
        yield server
