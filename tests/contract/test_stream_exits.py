"""However a stream ends, its span ends exactly once and says what the stream delivered
(docs/lifecycle.md), for every streaming API of every provider case: read to its end (sync and
async; the SDK's stream type kept, ``with`` returning it), ``break`` inside ``with``, ``close()``
(before reading, mid-stream, twice), dropped and garbage-collected, an exception in the user's loop
(passing through as the same object), cancellation (inside ``async with`` or not)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from opentelemetry.trace import StatusCode

from conftest import cancel_mid_stream

from .support import aenter, assert_attributes, enter, only_span, output_text, read_until_text, resolved


def pytest_generate_tests(metafunc):
    if "api" in metafunc.fixturenames:
        metafunc.parametrize("api", [0, 1], ids=["create-stream", "helper"], indirect=True)


@pytest.fixture
def api(request, case):
    """Each streaming API of the case (create(stream=True), then its stream helper); a case without
    a helper has no helper tests (``conftest.pytest_collection_modifyitems`` leaves them out)."""
    return case.streams[request.param]


def ended_once(telemetry, case):
    """The stream's one span, ended once: one span of ours, one duration recorded."""
    span = only_span(telemetry, case)
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    return span


def assert_complete(span, case) -> None:
    assert span.status.status_code is StatusCode.UNSET
    assert output_text(span) == case.stream_text
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert_attributes(span, case.stream_attributes)


def assert_partial(span, case, received: str) -> None:
    """A stream left after ``received``: the text so far, what the start said, no invented output;
    finish reason ``error`` says it was not read to its end; not a failure."""
    assert received and case.stream_text.startswith(received) and received != case.stream_text
    assert span.status.status_code is StatusCode.UNSET
    assert output_text(span) == received
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert "mlflow.chat.tokenUsage" not in span.attributes
    assert_attributes(span, case.partial_attributes)


# --- read to its end ----------------------------------------------------------------------------------
def test_stream_read_to_its_end_keeps_the_sdk_surface_and_records_everything(api, case, canned, telemetry, instrument_case):
    instrument_case()
    opened = api.open(case.client(canned.play(case.stream_response(0.0))))
    api.surface(opened)
    assert telemetry.spans() == []
    with opened as stream:
        if not api.helper:
            assert stream is opened  # __enter__ returns the proxy (openinference PR#591), still traced
        assert "".join(api.item_text(item) for item in stream) == case.stream_text
        assert_complete(ended_once(telemetry, case), case)  # ended at exhaustion, before the with block exits
    assert_complete(ended_once(telemetry, case), case)


async def test_async_stream_read_to_its_end_records_everything_and_close_ends_nothing_twice(api, case, canned, telemetry, instrument_case):
    instrument_case()
    opened = await resolved(api.open(case.aclient(canned.play(case.stream_response(0.0)))))
    api.surface(opened)
    async with opened as stream:
        if not api.helper:
            assert stream is opened
        assert "".join([api.item_text(item) async for item in stream]) == case.stream_text
    await stream.close()
    assert_complete(ended_once(telemetry, case), case)


# --- left early ---------------------------------------------------------------------------------------
def test_break_inside_with_ends_the_span_once_with_the_partial_output(api, case, canned, telemetry, instrument_case):
    instrument_case()
    with api.open(case.client(canned.play(case.stream_response(0.0)))) as stream:
        received = read_until_text(api, stream, 2)
        assert telemetry.spans() == []
    assert_partial(ended_once(telemetry, case), case, received)
    del stream
    gc.collect()
    ended_once(telemetry, case)


async def test_async_break_inside_async_with_ends_the_span_once(api, case, canned, telemetry, instrument_case):
    instrument_case()
    received = []
    async with await resolved(api.open(case.aclient(canned.play(case.stream_response(0.0))))) as stream:
        async for item in stream:
            if api.item_text(item):
                received.append(api.item_text(item))
                break
    assert_partial(ended_once(telemetry, case), case, "".join(received))
    await stream.close()
    ended_once(telemetry, case)


def test_close_before_reading_ends_the_span_with_what_the_headers_said(api, case, canned, telemetry, instrument_case):
    instrument_case()
    stream = enter(api, case.client(canned.play(case.stream_response(0.0))))
    assert telemetry.spans() == []
    stream.close()
    stream.close()
    span = ended_once(telemetry, case)
    assert "gen_ai.response.id" not in span.attributes
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert_attributes(span, case.header_attributes)


async def test_async_close_before_reading_ends_the_span_once(api, case, canned, telemetry, instrument_case):
    instrument_case()
    stream = await aenter(api, case.aclient(canned.play(case.stream_response(0.0))))
    await stream.close()
    await stream.close()
    assert "gen_ai.response.id" not in ended_once(telemetry, case).attributes


def test_close_mid_stream_ends_the_span_at_once(api, case, canned, telemetry, instrument_case):
    instrument_case()
    stream = enter(api, case.client(canned.play(case.stream_response(0.0))))
    received = read_until_text(api, stream, 1)
    stream.close()
    assert_partial(ended_once(telemetry, case), case, received)
    stream.close()
    ended_once(telemetry, case)


def test_stream_dropped_unfinished_ends_its_span_on_garbage_collection(api, case, canned, telemetry, instrument_case):
    instrument_case()
    stream = enter(api, case.client(canned.play(case.stream_response(0.0))))
    received = read_until_text(api, stream, 1)
    assert telemetry.spans() == []
    del stream
    gc.collect()
    assert_partial(ended_once(telemetry, case), case, received)


# --- failures -----------------------------------------------------------------------------------------
class UserLoopError(Exception):
    """The user's own exception, raised while reading the stream."""


def test_exception_in_the_users_loop_passes_through_and_ends_the_span_as_error(api, case, canned, telemetry, instrument_case):
    instrument_case()
    error = UserLoopError("stop here")
    with pytest.raises(UserLoopError) as caught:
        with api.open(case.client(canned.play(case.stream_response(0.0)))) as stream:
            for _ in stream:
                raise error
    assert caught.value is error
    span = ended_once(telemetry, case)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{__name__}.UserLoopError"
    assert [event.name for event in span.events] == ["exception"]


@pytest.mark.parametrize("in_with", [True, False], ids=["in-async-with", "bare"])
async def test_cancelled_mid_stream_ends_the_span_once_as_cancelled(in_with, api, case, canned, telemetry, instrument_case):
    instrument_case()
    client = case.aclient(canned.play(case.stream_response(0.05)))  # one event every 50 ms
    started = asyncio.Event()
    received = []

    async def read(stream) -> None:
        async for item in stream:
            if api.item_text(item):
                received.append(api.item_text(item))
                started.set()

    async def consume() -> None:
        if in_with:
            async with await resolved(api.open(client)) as stream:
                await read(stream)
        else:
            await read(await aenter(api, client))

    await cancel_mid_stream(consume, started)
    span = ended_once(telemetry, case)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert received and "".join(received) != case.stream_text
    assert output_text(span).startswith("".join(received))
