"""Streams (DESIGN.md §4; regression catalogue §9 A, B): ``messages.create(stream=True)`` and the
``messages.stream()`` helper, sync and async. The span carries the final message's usage and content
whichever way the stream was consumed (events, ``text_stream``, ``get_final_message()``,
``get_final_text()``, ``until_done()``, ``current_message_snapshot``), the helpers still return what
they return without us, and a helper left early keeps its snapshot. How the span of either API ends
however the stream ends (exhausted, ``break`` inside ``with``, ``close()``, an exception in the user's
loop, garbage collection, cancellation) is the provider contract's (``tests/contract/``)."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from opentelemetry.trace import StatusCode

from anthropic_support import (  # noqa: F401  (fixtures)
    MODEL,
    TEXT_PIECES,
    USER,
    aclient,
    assert_stream_usage,
    canned,
    client,
    instrument_anthropic,
    only_span,
    output_parts,
    output_text,
    sdk_native_tracing_at_default,
    sse_response,
    text_stream_events,
)

FULL_TEXT = "".join(TEXT_PIECES)
KWARGS = {"model": MODEL, "max_tokens": 64, "messages": USER}


def assert_complete(span) -> None:
    """The whole message: text, finish reason, usage (input 10 + cache 20 + 5, output 12)."""
    assert span.status.status_code is StatusCode.UNSET
    assert output_text(span) == FULL_TEXT
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["end_turn"]
    assert span.attributes["gen_ai.response.id"] == "msg_stream_1"
    assert span.attributes["anthropic.request.id"] == "req_test_1"
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert_stream_usage(span)


def assert_partial(span, received_text: str) -> None:
    """A stream left before message_delta: the text so far, the input counts, no invented output;
    finish reason ``error`` marks it as not read to its end (docs/lifecycle.md)."""
    assert output_text(span) == received_text
    assert FULL_TEXT.startswith(received_text) and received_text != FULL_TEXT
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 35
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert "mlflow.chat.tokenUsage" not in span.attributes


# --- messages.stream(): every way of consuming it records the final message ------------------------------
SYNC_CONSUMERS = {
    "events": lambda s: "".join(e.delta.text for e in s if e.type == "content_block_delta"),
    "text_stream": lambda s: "".join(s.text_stream),
    "get_final_message": lambda s: s.get_final_message().content[0].text,
    "get_final_text": lambda s: s.get_final_text(),
    "until_done": lambda s: (s.until_done(), s.current_message_snapshot.content[0].text)[1],
}


@pytest.mark.parametrize("consume", SYNC_CONSUMERS, ids=str)
def test_stream_helper_records_final_message_however_consumed(consume, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = client(canned.play(sse_response(text_stream_events())))
    with c.messages.stream(**KWARGS) as stream:
        assert isinstance(stream, MessageStream)
        assert SYNC_CONSUMERS[consume](stream) == FULL_TEXT
        assert stream.request_id == "req_test_1"
        assert stream.current_message_snapshot.usage.output_tokens == 12
        assert_complete(only_span(telemetry))  # ended at exhaustion, before the with block exits
    assert_complete(only_span(telemetry))


def test_stream_helper_without_with_block_ends_span_when_exhausted(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    manager = client(canned.play(sse_response(text_stream_events()))).messages.stream(**KWARGS)
    assert telemetry.spans() == []  # nothing is sent until the manager is entered
    stream = manager.__enter__()
    assert stream.get_final_text() == FULL_TEXT
    assert_complete(only_span(telemetry))


ASYNC_CONSUMERS = ["events", "text_stream", "get_final_message", "get_final_text", "until_done"]


async def _consume_async(stream: AsyncMessageStream, how: str) -> str:
    if how == "events":
        return "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    if how == "text_stream":
        return "".join([t async for t in stream.text_stream])
    if how == "get_final_message":
        return (await stream.get_final_message()).content[0].text
    if how == "get_final_text":
        return await stream.get_final_text()
    await stream.until_done()
    return stream.current_message_snapshot.content[0].text


@pytest.mark.parametrize("consume", ASYNC_CONSUMERS)
async def test_async_stream_helper_records_final_message_however_consumed(consume, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = aclient(canned.play(sse_response(text_stream_events())))
    async with c.messages.stream(**KWARGS) as stream:
        assert isinstance(stream, AsyncMessageStream)
        assert await _consume_async(stream, consume) == FULL_TEXT
    assert_complete(only_span(telemetry))


async def test_async_beta_stream_helper_in_async_with(canned, telemetry, instrument_anthropic):
    """openllmetry#3701: ``async with client.beta.messages.stream()``."""
    instrument_anthropic()
    async with aclient(canned.play(sse_response(text_stream_events()))).beta.messages.stream(**KWARGS) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == FULL_TEXT
    assert_complete(only_span(telemetry))


# --- messages.stream(): left early -------------------------------------------------------------------------
def test_stream_helper_break_inside_with_ends_span_once_with_partial_output(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    received = []
    with client(canned.play(sse_response(text_stream_events()))).messages.stream(**KWARGS) as stream:
        for text in stream.text_stream:
            received.append(text)
            if len(received) == 2:
                break
        snapshot = stream.current_message_snapshot.content[0].text
        assert telemetry.spans() == []
    assert snapshot == "".join(received)
    span = only_span(telemetry)
    assert_partial(span, "".join(received))


# --- messages.create(stream=True) --------------------------------------------------------------------------
def test_error_event_mid_stream_ends_span_as_error_with_the_sdk_exception(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    events = text_stream_events()[:4] + [{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    with pytest.raises(anthropic.APIStatusError):
        for _ in client(canned.play(sse_response(events))).messages.create(**KWARGS, stream=True):
            pass
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].startswith("anthropic.")


def test_streaming_metrics_report_time_to_first_chunk_and_per_chunk(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    for _ in client(canned.play(sse_response(text_stream_events()))).messages.create(**KWARGS, stream=True):
        pass
    (first,) = telemetry.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    (per_chunk,) = telemetry.metric_points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == len(text_stream_events()) - 2  # every event after the first; no ping
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 35, "output": 12}


def test_empty_stream_keeps_its_finish_reason(canned, telemetry, instrument_anthropic):
    """openllmetry#4362: a stream with no content block still reports why it stopped."""
    instrument_anthropic()
    events = [e for e in text_stream_events(stop_reason="max_tokens") if not e["type"].startswith("content_block")]
    with client(canned.play(sse_response(events))).messages.stream(**KWARGS) as stream:
        assert stream.get_final_message().stop_reason == "max_tokens"
    span = only_span(telemetry)
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["max_tokens"]
    assert output_parts(span) == []
