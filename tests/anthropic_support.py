"""Anthropic-specific pieces of the ``test_anthropic_*`` modules: the SDK's native tracing held at
its default, clients, canned Anthropic responses (JSON or SSE, optionally one event per chunk with a
delay) and span helpers. The generic machinery (``telemetry``, ``instrument_anthropic``, ``canned``:
the loopback server answering queued responses) is in ``conftest.py``; it is re-exported here so
the test modules' ``from anthropic_support import ...`` keeps working.

Every test module imports ``sdk_native_tracing_at_default`` (autouse): the anthropic SDK's own
tracing stays at its default (clients get no ``open_telemetry`` option, no ``ANTHROPIC_OPEN_TELEMETRY*``
variable is set), and the global tracer provider it uses is the test's, so a span the SDK would add
beside ours is seen by ``telemetry.spans()``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from conftest import canned, instrument_anthropic  # noqa: F401  (re-exported)
from otel_genai.demo.server import Response

MODEL = "claude-sonnet-4-6"
USER = [{"role": "user", "content": "Say something about tracing."}]
ANTHROPIC_ENV = (
    "ANTHROPIC_OPEN_TELEMETRY",
    "ANTHROPIC_OPEN_TELEMETRY_PROPAGATION",
    "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE",
    "ANTHROPIC_OPEN_TELEMETRY_TRACES_MAX_CONTENT_BYTES",
)


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def sdk_native_tracing_at_default(global_tracer_provider, monkeypatch):
    """The SDK's native tracing at its default, made observable through ``global_tracer_provider``."""
    for name in ANTHROPIC_ENV:
        monkeypatch.delenv(name, raising=False)


# --- clients ------------------------------------------------------------------------------------------
def client(base_url: str, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", base_url=base_url, max_retries=0, **kwargs)


def aclient(base_url: str, **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="test", base_url=base_url, max_retries=0, **kwargs)


# --- response builders ----------------------------------------------------------------------------------
def usage(input_tokens: int = 10, output_tokens: int = 12, cache_read: int | None = None, cache_creation: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if cache_read is not None:
        out["cache_read_input_tokens"] = cache_read
    if cache_creation is not None:
        out["cache_creation_input_tokens"] = cache_creation
    return out


def message(content: list[dict[str, Any]] | None = None, stop_reason: str | None = "end_turn", **usage_kwargs: Any) -> dict[str, Any]:
    return {
        "id": "msg_test_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL + "-20260101",
        "content": content if content is not None else [{"type": "text", "text": "Spans all the way down."}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage(**usage_kwargs),
    }


def json_response(body: dict[str, Any], status: int = 200, request_id: str = "req_test_1") -> Response:
    return Response(status, json.dumps(body).encode(), [("content-type", "application/json"), ("request-id", request_id)])


def error_response(status: int, error_type: str, text: str = "bad") -> Response:
    body = {"type": "error", "error": {"type": error_type, "message": text}}
    return json_response(body, status=status)


def sse_response(events: list[dict[str, Any]], chunk_delay: float = 0.0, request_id: str = "req_test_1") -> Response:
    """An SSE body, one event per chunk when ``chunk_delay`` (a live stream), else in one piece."""
    chunks = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    headers = [("content-type", "text/event-stream; charset=utf-8"), ("request-id", request_id)]
    return Response(200, chunks if chunk_delay else b"".join(chunks), headers, chunk_delay=chunk_delay)


TEXT_PIECES = ["Spans ", "all ", "the ", "way ", "down."]


def text_stream_events(
    pieces: list[str] = TEXT_PIECES,
    start_usage: dict[str, Any] | None = None,
    delta_usage: dict[str, Any] | None = None,
    stop_reason: str = "end_turn",
) -> list[dict[str, Any]]:
    """message_start (input 10 + cache read 20 + cache write 5) .. text deltas .. message_delta (output 12)."""
    start = {
        "id": "msg_stream_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL + "-20260101",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage or {"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    events.append({"type": "ping"})
    for piece in pieces:
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": delta_usage or {"output_tokens": 12},
        }
    )
    events.append({"type": "message_stop"})
    return events


# --- span helpers ---------------------------------------------------------------------------------------
def only_span(telemetry) -> Any:
    """The one span the call produced (ours); fails if the SDK added its own or none ended."""
    spans = telemetry.spans()
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    span = spans[0]
    assert span.instrumentation_scope.name == "otel_genai.instrumentation.anthropic"
    return span


def content(span, key: str = "gen_ai.output.messages") -> Any:
    return json.loads(span.attributes[key])


def output_parts(span) -> list[dict[str, Any]]:
    (message_,) = content(span)
    return message_["parts"]


def output_text(span) -> str:
    return "".join(p["content"] for p in output_parts(span) if p["type"] == "text")


def mlflow_usage(span) -> dict[str, Any]:
    return json.loads(span.attributes["mlflow.chat.tokenUsage"])


def assert_stream_usage(span, input_tokens: int = 35, output_tokens: int = 12, cache_read: int = 20, cache_write: int = 5) -> None:
    """The default ``text_stream_events`` usage: input = 10 + 20 + 5, counted once."""
    attrs = span.attributes
    assert attrs["gen_ai.usage.input_tokens"] == input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == output_tokens
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == cache_read
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == cache_write
    assert mlflow_usage(span) == {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }
