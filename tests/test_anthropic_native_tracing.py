"""The anthropic SDK's own OpenTelemetry tracing (2.x, on by default) and ours (DESIGN.md §3 dedupe
rules, §9 F and J): with our instrumentor active every inference call has exactly one GenAI span,
ours, whatever the ``ANTHROPIC_OPEN_TELEMETRY*`` settings, while the SDK still propagates the trace
context (now naming our span) as it would have; calls we do not trace keep the SDK's span; after
``uninstrument()`` the SDK behaves exactly as before."""

from __future__ import annotations

import asyncio

import anthropic
import anthropic._base_client as base_client
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from anthropic_support import (  # noqa: F401  (fixtures)
    MODEL,
    USER,
    aclient,
    canned,
    client,
    instrument_anthropic,
    json_response,
    message,
    only_span,
    sdk_native_tracing_at_default,
    sse_response,
    text_stream_events,
)

SDK_SCOPE = "com.anthropic.sdk.python"
ORIGINAL_START_API_CALL_SPAN = base_client.start_api_call_span


def _traceparent(canned) -> str | None:
    return canned.requests[-1].headers.get("traceparent")


def _names(span) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def _sync_calls(c: anthropic.Anthropic) -> None:
    """One of each traced API, each answered by one queued response."""
    c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    for _ in c.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True):
        pass
    with c.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        stream.until_done()
    c.messages.parse(model=MODEL, max_tokens=64, messages=USER)
    c.beta.messages.create(model=MODEL, max_tokens=64, messages=USER)
    with c.beta.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        stream.get_final_message()


async def _async_calls(c: anthropic.AsyncAnthropic) -> None:
    await c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    async for _ in await c.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True):
        pass
    async with c.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        await stream.until_done()
    await c.messages.parse(model=MODEL, max_tokens=64, messages=USER)
    await c.beta.messages.create(model=MODEL, max_tokens=64, messages=USER)
    async with c.beta.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        await stream.get_final_message()


def _six_responses():
    events = text_stream_events()
    return [json_response(message()), sse_response(events), sse_response(events), json_response(message()), json_response(message()), sse_response(events)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_each_traced_api_is_one_genai_span_with_sdk_native_tracing_at_default(mode, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    base_url = canned.play(*_six_responses())
    if mode == "sync":
        _sync_calls(client(base_url))
    else:
        asyncio.run(_async_calls(aclient(base_url)))
    spans = telemetry.spans()
    assert [s.instrumentation_scope.name for s in spans] == ["otel_genai.instrumentation.anthropic"] * 6
    assert {s.name for s in spans} == {f"chat {MODEL}"}
    assert all(s.parent is None for s in spans)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ANTHROPIC_OPEN_TELEMETRY": "false"},
        {"ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE": "content"},
        {"ANTHROPIC_OPEN_TELEMETRY_PROPAGATION": "false"},
        {"ANTHROPIC_OPEN_TELEMETRY_TRACES_MAX_CONTENT_BYTES": "10"},
    ],
    ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()) or "default",
)
def test_one_genai_span_whatever_the_sdk_open_telemetry_settings_and_propagation_as_the_sdk_would(env, canned, telemetry, instrument_anthropic, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # without us: what the SDK does with these settings
    client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    sdk_spans = telemetry.spans()
    sdk_header = _traceparent(canned)
    assert len(sdk_spans) == (0 if env.get("ANTHROPIC_OPEN_TELEMETRY") == "false" else 1)
    telemetry.exporter.clear()

    instrument_anthropic()
    client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    span = only_span(telemetry)
    header = _traceparent(canned)
    assert (header is None) == (sdk_header is None)  # the SDK's propagation decision is kept
    if header is not None:  # ... and the context it sends is now our span's
        trace_id, span_id = _names(span)
        assert header.split("-")[1:3] == [trace_id, span_id]


def test_sdk_span_and_its_propagation_are_back_after_uninstrument(canned, telemetry, instrument_anthropic):
    instrumentor = instrument_anthropic()
    assert base_client.start_api_call_span is not ORIGINAL_START_API_CALL_SPAN
    client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    only_span(telemetry)
    telemetry.exporter.clear()

    instrumentor.uninstrument()
    assert base_client.start_api_call_span is ORIGINAL_START_API_CALL_SPAN
    client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    (span,) = telemetry.spans()
    assert span.name == "anthropic.messages.create"
    assert span.instrumentation_scope.name == SDK_SCOPE
    assert span.attributes["gen_ai.response.id"] == "msg_test_1"
    assert _traceparent(canned).split("-")[1:3] == list(_names(span))


def test_client_given_its_own_tracer_provider_still_gets_one_span(canned, telemetry, instrument_anthropic):
    exporter = InMemorySpanExporter()
    sdk_provider = TracerProvider()
    sdk_provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument_anthropic()
    c = client(canned.play(json_response(message())), open_telemetry={"tracer_provider": sdk_provider})
    c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    only_span(telemetry)
    assert exporter.get_finished_spans() == ()


def test_calls_we_do_not_trace_keep_the_sdk_span(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = client(canned.play(json_response({"input_tokens": 7})))
    assert c.messages.count_tokens(model=MODEL, messages=USER).input_tokens == 7
    (span,) = telemetry.spans()
    assert span.name == "anthropic.messages.count_tokens"
    assert span.instrumentation_scope.name == SDK_SCOPE


def test_http_client_runs_with_our_span_current(canned, telemetry, instrument_anthropic):
    """HTTP client instrumentation (an httpx span) would nest under our span."""
    instrument_anthropic()
    seen = []
    http_client = httpx2.Client(event_hooks={"request": [lambda request: seen.append(trace.get_current_span().get_span_context())]})
    c = client(canned.play(json_response(message())), http_client=http_client)
    c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    span = only_span(telemetry)
    assert [(s.trace_id, s.span_id) for s in seen] == [(span.context.trace_id, span.context.span_id)]


def test_calls_inside_an_application_span_are_children_of_it(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("agent step") as parent:
        client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    ours, _app = telemetry.spans()
    assert ours.parent.span_id == parent.get_span_context().span_id
    assert _traceparent(canned).split("-")[1:3] == list(_names(ours))


def test_suppressed_instrumentation_emits_no_span_of_ours(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    with suppress_instrumentation():
        client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert [s.instrumentation_scope.name for s in telemetry.spans()] in ([], [SDK_SCOPE])
