"""Anthropic instrumentor behaviour the span contract promises (DESIGN.md §3-§5; regression catalogue
§9 B, C, F, H, I, J): the provider and server of the client actually used (Anthropic, AsyncAnthropic,
AnthropicBedrock, AnthropicVertex, any base_url), raw and streaming responses, a fault in the native
span hook, the SDK's tool runner, metrics. The guarantees every provider shares (errors and faults
pass the call through, event mode, concurrency, uninstrument / instrument twice, how a stream ends)
are in ``tests/contract/``."""

from __future__ import annotations

import json

import anthropic
import pytest

from anthropic_support import (  # noqa: F401  (fixtures)
    MODEL,
    USER,
    aclient,
    assert_stream_usage,
    canned,
    client,
    instrument_anthropic,
    json_response,
    message,
    mlflow_usage,
    only_span,
    output_text,
    sdk_native_tracing_at_default,
    sse_response,
    text_stream_events,
)
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor, _native

KWARGS = {"model": MODEL, "max_tokens": 64, "messages": USER}


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


# --- providers and servers --------------------------------------------------------------------------------
def _bedrock(base_url: str | None = None, is_async: bool = False):
    cls = anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock
    return cls(aws_region="us-east-1", api_key="test", base_url=base_url, max_retries=0)


def _vertex(base_url: str | None = None, is_async: bool = False):
    cls = anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex
    return cls(region="us-east5", project_id="proj", access_token="test", base_url=base_url, max_retries=0)


@pytest.mark.parametrize(
    ("make", "provider"),
    [(client, "anthropic"), (_bedrock, "aws.bedrock"), (_vertex, "gcp.vertex_ai")],
    ids=["anthropic", "bedrock", "vertex"],
)
@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta.messages"])
def test_provider_and_server_come_from_the_client_actually_used(make, provider, beta, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    base_url = canned.play(json_response(message()))
    c = make(base_url)
    result = (c.beta.messages if beta else c.messages).create(**KWARGS)
    assert result.content[0].text == "Spans all the way down."
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == provider
    assert span.attributes["mlflow.llm.provider"] == provider
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == _port(base_url)
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


@pytest.mark.parametrize("make", [_bedrock, _vertex], ids=["bedrock", "vertex"])
async def test_async_bedrock_and_vertex_clients_are_traced(make, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = make(canned.play(json_response(message())), is_async=True)
    await c.messages.create(**KWARGS)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.provider.name"] == ("aws.bedrock" if make is _bedrock else "gcp.vertex_ai")


def test_default_endpoints_give_the_real_server_address_and_port(instrument_anthropic):
    instrument_anthropic()  # the provider classes are registered lazily, at instrument()
    cases = [
        (anthropic.Anthropic(api_key="x"), "anthropic", "api.anthropic.com"),
        (anthropic.AsyncAnthropic(api_key="x", base_url="https://gateway.example:8443/anthropic"), "anthropic", "gateway.example"),
        (_bedrock(), "aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com"),
        (_vertex(), "gcp.vertex_ai", "us-east5-aiplatform.googleapis.com"),
    ]
    for c, provider, host in cases:
        attrs = AnthropicInstrumentor().context.client_attributes(c.messages)  # the instrumentor's state
        assert (attrs["gen_ai.provider.name"], attrs["server.address"]) == (provider, host)
        assert attrs["server.port"] == (8443 if host == "gateway.example" else 443)


# --- raw and streaming responses (C) ---------------------------------------------------------------------
def test_with_raw_response_parse_and_headers(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    raw = client(canned.play(json_response(message()))).messages.with_raw_response.create(**KWARGS)
    assert raw.headers["request-id"] == "req_test_1"
    assert raw.parse().id == "msg_test_1"
    span = only_span(telemetry)
    assert span.attributes["anthropic.request.id"] == "req_test_1"
    assert mlflow_usage(span)["total_tokens"] == 22


def test_with_raw_response_of_a_stream_records_the_parsed_stream(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    raw = client(canned.play(sse_response(text_stream_events()))).messages.with_raw_response.create(**KWARGS, stream=True)
    stream = raw.parse()
    assert isinstance(stream, anthropic.Stream)
    assert stream is raw.parse()  # the same proxy every time
    for _ in stream:
        pass
    span = only_span(telemetry)
    assert output_text(span) == "Spans all the way down."
    assert span.attributes["anthropic.request.id"] == "req_test_1"
    assert_stream_usage(span)


@pytest.mark.parametrize("read", ["parse", "read", "json", "close"])
def test_with_streaming_response_records_usage_however_the_body_is_read(read, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    with client(canned.play(json_response(message()))).messages.with_streaming_response.create(**KWARGS) as response:
        assert isinstance(response, anthropic.APIResponse)  # opentelemetry-python-genai PR#397: type unchanged
        assert response.headers["request-id"] == "req_test_1"
        if read == "parse":
            assert response.parse().id == "msg_test_1"
        elif read == "read":
            assert json.loads(response.read())["id"] == "msg_test_1"
        elif read == "json":
            assert response.json()["id"] == "msg_test_1"
    span = only_span(telemetry)
    if read == "close":  # never read: the span ends with what is known
        assert "gen_ai.usage.input_tokens" not in span.attributes
    else:
        assert span.attributes["gen_ai.usage.input_tokens"] == 10


def test_with_streaming_response_of_a_stream(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    with client(canned.play(sse_response(text_stream_events()))).messages.with_streaming_response.create(**KWARGS, stream=True) as response:
        for _ in response.parse():
            pass
    assert_stream_usage(only_span(telemetry))


async def test_async_raw_and_streaming_responses_and_beta_parse(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = aclient(canned.play(json_response(message()), json_response(message()), sse_response(text_stream_events())))
    raw = await c.messages.with_raw_response.create(**KWARGS)
    assert (await raw.parse()).id == "msg_test_1"  # AsyncAPIResponse.parse() is a coroutine
    async with c.beta.messages.with_streaming_response.create(**KWARGS) as response:
        assert (await response.parse()).id == "msg_test_1"
    async with c.messages.with_streaming_response.create(**KWARGS, stream=True) as response:
        async for _ in await response.parse():
            pass
    spans = telemetry.spans()
    assert len(spans) == 3
    assert all(s.instrumentation_scope.name == "otel_genai.instrumentation.anthropic" for s in spans)
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [10, 10, 35]


def test_beta_with_raw_response_parse_method(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    body = message([{"type": "text", "text": '{"a": "b"}'}])
    raw = client(canned.play(json_response(body))).beta.messages.with_raw_response.parse(**KWARGS)
    assert raw.parse().content[0].text == '{"a": "b"}'
    assert only_span(telemetry).attributes["gen_ai.response.id"] == "msg_test_1"


# --- our own faults (I) ------------------------------------------------------------------------------------
def test_fault_in_the_native_span_hook_falls_back_to_the_sdk(canned, telemetry, instrument_anthropic, monkeypatch, swallow_faults):
    instrument_anthropic()

    def broken(context):
        raise ZeroDivisionError("our bug")

    monkeypatch.setattr(_native, "NonRecordingSpan", broken)
    result = client(canned.play(json_response(message()))).messages.create(**KWARGS)
    assert result.id == "msg_test_1"
    assert {s.instrumentation_scope.name for s in telemetry.spans()} == {"otel_genai.instrumentation.anthropic", "com.anthropic.sdk.python"}


# --- helpers built on our calls (B, F) ---------------------------------------------------------------------
def test_tool_runner_turns_are_one_chat_span_each_under_the_sdk_agent_span(canned, telemetry, instrument_anthropic):
    instrument_anthropic()

    @anthropic.beta_tool
    def get_time(timezone: str) -> str:
        """Time in a zone."""
        return "10:42"

    tool_call = message([{"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {"timezone": "UTC"}}], stop_reason="tool_use")
    c = client(canned.play(json_response(tool_call), json_response(message())))
    replies = list(c.beta.messages.tool_runner(**KWARGS, tools=[get_time], thread=False))
    assert [r.stop_reason for r in replies] == ["tool_use", "end_turn"]
    spans = telemetry.spans()
    chats = [s for s in spans if s.name == f"chat {MODEL}"]
    assert len(chats) == 2
    assert all(s.instrumentation_scope.name == "otel_genai.instrumentation.anthropic" for s in chats)
    assert "anthropic.messages.create" not in [s.name for s in spans]
    (agent,) = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]
    assert all(s.parent.span_id == agent.context.span_id for s in chats)
    second_input = json.loads(chats[1].attributes["gen_ai.input.messages"])
    assert second_input[-1]["parts"][0] == {"type": "tool_call_response", "id": "toolu_1", "response": "10:42"}


# --- metrics ----------------------------------------------------------------------------------------------
def test_metrics_record_duration_and_tokens_with_low_cardinality_attributes(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    base_url = canned.play(json_response(message(cache_read=20, cache_creation=5)))
    client(base_url).messages.create(**KWARGS)
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL + "-20260101",
        "server.address": "127.0.0.1",
        "server.port": _port(base_url),
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 35, "output": 12}
