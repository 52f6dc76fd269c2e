"""How a stream helper ends decides what its span says (docs/lifecycle.md): an exception leaving the
``with`` block of ``chat.completions.stream()``, ``responses.stream()`` or ``messages.stream()`` is a
failure (status ERROR, its ``error.type``; the exception passes through as the same object), a
cancelled async stream is a failure with the cancellation's class, a stream left early keeps what it
received and says it was not read to its end. Real clients against the loopback fixture endpoint."""

from __future__ import annotations

import asyncio
import gc

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode

from anthropic_support import instrument_anthropic, sdk_native_tracing_at_default  # noqa: F401  (fixtures)
from otel_genai.demo.fixture import respond
from otel_genai.demo.server import LoopbackServer

MESSAGES = [{"role": "user", "content": "Tell me a story"}]


class AppError(Exception):
    """The user's own exception, raised inside the ``with`` block."""


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(lambda request: respond(request, chunk_delay=0.02)) as server:
        yield server.base_url


@pytest.fixture
def both(instrument, instrument_anthropic):  # noqa: F811
    instrument()
    instrument_anthropic()


def helpers(base_url: str, is_async: bool) -> dict:
    """Each SDK's stream helper, opened on a client of ``base_url``."""
    oa = (openai.AsyncOpenAI if is_async else openai.OpenAI)(api_key="k", base_url=base_url + "/v1", max_retries=0)
    an = (anthropic.AsyncAnthropic if is_async else anthropic.Anthropic)(api_key="k", base_url=base_url, max_retries=0)
    return {
        "chat.completions.stream": lambda: oa.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES),
        "responses.stream": lambda: oa.responses.stream(model="gpt-4.1", input="Tell me a story"),
        "messages.stream": lambda: an.messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=MESSAGES),
        "beta.messages.stream": lambda: an.beta.messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=MESSAGES),
    }


HELPERS = ("chat.completions.stream", "responses.stream", "messages.stream", "beta.messages.stream")


def only_span(telemetry):
    (span,) = telemetry.spans()
    return span


def assert_failed_with(span, error_type: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type
    assert [event.name for event in span.events] == ["exception"]


@pytest.mark.parametrize("helper", HELPERS)
def test_user_exception_inside_a_stream_helper_marks_the_span_failed(endpoint, telemetry, both, helper):
    raised = AppError("the app failed while reading")
    with pytest.raises(AppError) as caught:
        with helpers(endpoint, False)[helper]() as stream:
            for _ in stream:
                raise raised
    assert caught.value is raised  # the user's exception, unchanged
    span = only_span(telemetry)
    assert_failed_with(span, f"{__name__}.AppError")


@pytest.mark.parametrize("helper", HELPERS)
async def test_user_exception_inside_an_async_stream_helper_marks_the_span_failed(endpoint, telemetry, both, helper):
    raised = AppError("the app failed while reading")
    with pytest.raises(AppError) as caught:
        async with helpers(endpoint, True)[helper]() as stream:
            async for _ in stream:
                raise raised
    assert caught.value is raised
    assert_failed_with(only_span(telemetry), f"{__name__}.AppError")


@pytest.mark.parametrize("helper", HELPERS)
async def test_async_stream_helper_cut_by_a_timeout_is_a_cancellation(endpoint, telemetry, both, helper):
    received = []

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:
            async with helpers(endpoint, True)[helper]() as stream:
                async for event in stream:
                    received.append(event)
                    if len(received) == 1:  # the fixture streams a chunk every 20 ms: cut it 10 ms after the first
                        deadline.reschedule(asyncio.get_running_loop().time() + 0.01)
    gc.collect()
    span = only_span(telemetry)
    assert received  # cut mid-stream
    assert_failed_with(span, "asyncio.exceptions.CancelledError")


@pytest.mark.parametrize("helper", HELPERS)
def test_stream_helper_read_to_its_end_is_not_marked(endpoint, telemetry, both, helper):
    with helpers(endpoint, False)[helper]() as stream:
        for _ in stream:
            pass
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert "error" not in span.attributes["gen_ai.response.finish_reasons"]


def test_anthropic_stream_helper_left_without_close_keeps_the_usage_it_read(endpoint, telemetry, both):
    manager = helpers(endpoint, False)["messages.stream"]()
    stream = manager.__enter__()
    for _ in stream.text_stream:
        break  # never closed: the span ends when the objects are collected
    del stream, manager
    gc.collect()
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.input_tokens"] > 0  # from message_start
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert span.status.status_code is StatusCode.UNSET
