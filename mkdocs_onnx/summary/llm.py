"""Executive summaries from any OpenAI-compatible chat-completions server.

The LLM sees only the Report's verified facts (see :mod:`.facts`). Its answer is parsed,
sanitised and checked against the Report (:mod:`.grounding`); a rejected answer is asked
for once more with the reasons, then replaced by :func:`.fallback.fallback_summary`.
Accepted answers are cached on disk (:mod:`.cache`), so a rebuild sends no request.
Without an API key nothing touches the network.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any, Callable, Mapping, Optional, Union

from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.summary import cache
from mkdocs_onnx.summary.config import SummaryConfig
from mkdocs_onnx.summary.facts import facts_json
from mkdocs_onnx.summary.fallback import fallback_summary
from mkdocs_onnx.summary.grounding import check
from mkdocs_onnx.summary.model import Summary
from mkdocs_onnx.summary.sanitize import sanitize, sanitize_tldr

_log = logging.getLogger(__name__)

PROMPT_VERSION = "1"
BACKOFF_S = 0.5  # first retry delay; doubles each time
MAX_RETRY_AFTER_S = 5.0  # a server's Retry-After is honoured up to this

SYSTEM_PROMPT = """\
You write the executive summary at the top of a model card on a model-zoo website. \
The user message holds verified facts about one ONNX model as JSON, measured from the graph by a static analyzer. \
Rules:
- Use only these facts. Do not add figures, accuracy, benchmarks, training data or device specifications that are not in them.
- Describe the architecture exactly as the "family" field says ("family_meaning" spells it out); never call the model anything else.
- Quote figures as they are written in the facts, with the same units.
- Latencies are lower bounds from a roofline model, not measurements; say so if you quote one.
- If "placeholder_weights" is true, say that the file does not carry the trained weights.
- "description_from_manifest" is the publisher's own description: use it for purpose and context only.
Answer with one JSON object and nothing else:
{"tldr": "<one sentence, at most 200 characters>", "summary": "<one paragraph of 3 to 5 sentences for a reader choosing a model>"}
Plain text only: no markdown, no HTML, no links, no lists."""


class _Failure(Exception):
    """No usable answer; the message is the note shown on the card."""


class _Unavailable(_Failure):
    """The server did not answer (timeouts, connection errors, 5xx, 429) through every retry."""


# Once the server has failed a model through every retry, the next models of the build do
# not wait for it again (a zoo of hundreds would otherwise wait minutes per model).
OUTAGE_S = 300.0
_outages: dict[tuple[str, str], tuple[float, str]] = {}  # (base_url, model) -> (when, why)


def _messages(facts: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Facts:\n" + facts},
    ]


def _correction(reasons: list[str]) -> str:
    return (
        "Your answer was rejected: " + "; ".join(reasons) + ". Write it again using only the facts: quote figures "
        "exactly as written there and describe the architecture as the \"family\" field says. "
        "Answer with the JSON object only."
    )


def summarize(
    report: Report,
    entry: Optional[ModelEntry],
    config: Union[SummaryConfig, Mapping[str, Any], None] = None,
    cache_dir: Optional[str] = None,
    log: Optional[logging.Logger] = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """The executive summary of ``report``: the LLM's when it gives a grounded answer, else
    the one written from the metrics, with ``note`` saying why. Never raises for network,
    server or answer problems. ``config`` may also be the plugin's ``summary:`` mapping."""
    cfg = SummaryConfig.coerce(config)
    log = log or _log
    if not cfg.enabled:
        return fallback_summary(report, entry, note="LLM summaries are disabled in the configuration")
    api_key = (os.environ.get(cfg.api_key_env) or "").strip() if cfg.api_key_env else ""
    if not api_key:  # decided before anything network-related is even built
        return fallback_summary(report, entry, note=f"no API key in ${cfg.api_key_env}")

    facts = facts_json(report, entry)
    key = cache.summary_key(facts, PROMPT_VERSION, cfg.model, cfg.base_url)
    hit = cache.load(cache_dir, key)
    if hit is not None:
        tldr, text = sanitize_tldr(hit["tldr"]), sanitize(hit["text"])
        if tldr and text and not check(tldr + "\n" + text, report, entry):
            return Summary(tldr=tldr, text=text, source="llm", author=hit["author"])
        log.debug("summary cache entry %s no longer passes the checks; asking again", key)

    name = (entry.name if entry is not None and entry.name else "") or report.model.name
    server = (cfg.base_url or "", cfg.model)
    outage = _outages.get(server)
    if outage is not None and time.monotonic() - outage[0] < OUTAGE_S:
        return fallback_summary(report, entry, note=f"{outage[1]} for an earlier model; the server is not asked "
                                                    f"again for {OUTAGE_S / 60:g} minutes")
    try:
        tldr, text = _ask(report, entry, cfg, api_key, facts, sleep, log, name)
    except _Unavailable as exc:
        _outages[server] = (time.monotonic(), str(exc))
        log.warning("%s: no LLM summary (%s); the next models use the summary written from the metrics "
                    "without asking", name, exc)
        return fallback_summary(report, entry, note=str(exc))
    except _Failure as exc:
        note = str(exc)
        log.warning("%s: no LLM summary (%s); using the summary written from the metrics", name, note)
        return fallback_summary(report, entry, note=note)
    cache.store(cache_dir, key, {
        "tldr": tldr, "text": text, "author": cfg.model, "model": cfg.model,
        "base_url": cfg.base_url or "", "prompt_version": PROMPT_VERSION,
    })
    return Summary(tldr=tldr, text=text, source="llm", author=cfg.model)


def _ask(report, entry, cfg: SummaryConfig, api_key: str, facts: str, sleep, log, name) -> tuple[str, str]:
    try:
        import openai
    except ImportError:
        raise _Failure("the openai package is not installed (pip install openai)") from None
    client = openai.OpenAI(api_key=api_key, base_url=cfg.base_url or None, timeout=float(cfg.timeout), max_retries=0)
    messages = _messages(facts)
    try:
        for attempt in (1, 2):  # a rejected or malformed answer is asked for once more
            content = _complete(openai, client, cfg, messages, sleep, log, name)
            parsed = parse_answer(content)
            if parsed is None:
                reasons = ["it was not the requested JSON object with \"tldr\" and \"summary\""]
                failure = "malformed answer"
            else:
                tldr, text = sanitize_tldr(parsed[0]), sanitize(parsed[1])
                reasons = check(tldr + "\n" + text, report, entry) if tldr and text else ["it was empty"]
                failure = "answer rejected by the grounding check: " + "; ".join(reasons)
                if tldr and text and not reasons:
                    return tldr, text
                if not (tldr and text):
                    failure = "malformed answer (empty)"
            if attempt == 1:
                log.info("%s: LLM answer not accepted (%s); asking once more", name, failure)
                messages = messages + [
                    {"role": "assistant", "content": content[:4000]},
                    {"role": "user", "content": _correction(reasons)},
                ]
        raise _Failure(failure)
    finally:
        try:
            client.close()
        except Exception:  # pragma: no cover - closing is best effort
            pass


def _complete(openai, client, cfg: SummaryConfig, messages, sleep, log, name) -> str:
    """One answer's text, retrying 429, 5xx, timeouts and connection errors with backoff."""
    attempts = 1 + max(0, int(cfg.retries))
    last = "no attempt"
    for i in range(attempts):
        retry_after = 0.0
        try:
            response = client.chat.completions.create(
                model=cfg.model,
                messages=messages,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
            )
        except openai.APITimeoutError:
            last = f"timed out ({cfg.timeout:g} s)"
        except openai.APIConnectionError as exc:
            last = f"could not connect to the server ({_short(exc.__cause__ or exc)})"
        except openai.RateLimitError as exc:
            last = "rate limited (429)"
            retry_after = _retry_after(exc)
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status >= 500:
                last = f"server error {status}"
            else:
                raise _Failure(f"the server refused the request ({status}: {_short(_error_message(exc))})") from None
        except (openai.OpenAIError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Failure(f"malformed answer ({_short(exc)})") from None  # e.g. a body that is not JSON
        except Exception as exc:  # a client-library surprise must not take the build down
            raise _Failure(f"request failed ({type(exc).__name__}: {_short(exc)})") from None
        else:
            content = _content(response)
            if content is None:
                raise _Failure("malformed answer (no message content)")
            return content
        if i + 1 < attempts:
            delay = max(BACKOFF_S * 2**i, min(retry_after, MAX_RETRY_AFTER_S))
            log.debug("%s: %s; retrying in %.1f s", name, last, delay)
            sleep(delay)
    raise _Unavailable(f"{last} after {attempts} attempts" if attempts > 1 else last)


def _content(response: Any) -> Optional[str]:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return content if isinstance(content, str) and content.strip() else None


def _retry_after(exc: Any) -> float:
    try:
        return max(0.0, float(exc.response.headers.get("retry-after", 0)))
    except (AttributeError, TypeError, ValueError):
        return 0.0


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return getattr(exc, "message", "") or str(exc)


def _short(exc: Any, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- parsing --------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_TLDR_KEYS = ("tldr", "tl;dr", "tl_dr", "tl-dr", "headline", "one_line", "oneline")
_TEXT_KEYS = ("summary", "text", "paragraph", "executive_summary", "description")
_MARKER = re.compile(r"^[\W_]*tl\s*;?\s*dr[\W_]*?\s*[:\-–—][\s*_]*(?P<line>.*)$", re.IGNORECASE | re.MULTILINE)
_LABEL = re.compile(r"^[\W_]*(?:executive\s+)?summary[\W_]*?\s*:[\s*_]*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def parse_answer(content: Optional[str]) -> Optional[tuple[str, str]]:
    """``(tldr, summary)`` from a JSON answer (fenced or not, extra keys ignored) or from
    plain text ("TL;DR: ...", a blank line, the paragraph); None if neither."""
    if not content or not content.strip():
        return None
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    data = _json_object(text)
    if data is not None:
        return _from_mapping(data)
    if text.startswith("{"):
        return None  # broken JSON (cut off?): not to be read as prose
    return _from_prose(text)


def _json_object(text: str) -> Optional[dict]:
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1] if "{" in text and "}" in text else ""):
        if not candidate:
            continue
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def _from_mapping(data: dict) -> Optional[tuple[str, str]]:
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    tldr = next((lowered[k] for k in _TLDR_KEYS if isinstance(lowered.get(k), str) and lowered[k].strip()), "")
    text = next((lowered[k] for k in _TEXT_KEYS if isinstance(lowered.get(k), str) and lowered[k].strip()), "")
    if not text:
        return None
    if not tldr:
        tldr = _SENTENCE.split(text.strip(), maxsplit=1)[0]
    return tldr.strip(), text.strip()


def _from_prose(text: str) -> Optional[tuple[str, str]]:
    marker = _MARKER.search(text)
    if marker:
        tldr = marker.group("line").strip()
        rest = (text[: marker.start()] + "\n" + text[marker.end() :]).strip()
        if not tldr:  # "TL;DR:" alone on its line: the next paragraph is the TL;DR
            parts = re.split(r"\n\s*\n", rest, maxsplit=1)
            tldr, rest = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
        rest = _LABEL.sub("", rest).strip()
        if not rest:
            sentences = _SENTENCE.split(tldr, maxsplit=1)
            return (sentences[0], tldr) if len(sentences) > 1 else None
        return tldr, rest
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paragraphs) >= 2:
        return paragraphs[0], _LABEL.sub("", " ".join(paragraphs[1:])).strip()
    sentences = _SENTENCE.split(paragraphs[0], maxsplit=1) if paragraphs else []
    if len(sentences) == 2:
        return sentences[0], sentences[1]
    return None
