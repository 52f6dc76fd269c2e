"""OpenAI chat behaviour the span contract promises (DESIGN.md §3-§5, regression catalogue §9),
against the real ``openai`` client and the demo's OpenAI-compatible loopback endpoint."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import logging
from functools import partial

import httpx2
import openai
import pytest
from openai.resources.chat.completions.completions import AsyncCompletions, Completions
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import StatusCode

from conftest import cancel_mid_stream
from otel_genai.demo import fixture
from otel_genai.demo.server import LoopbackServer
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.instrumentation.openai.chat import ChatCompletions, ChatStreamAccumulator

USER = [{"role": "user", "content": "Say something about tracing."}]
STREAM_PIECES = fixture.split_words(fixture.STREAMED_ANSWER)


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(fixture.respond) as server:
        yield server.base_url + "/v1"


@pytest.fixture(scope="module")
def slow_endpoint():
    """Streams one SSE event every 50 ms, so a consumer can be cancelled mid-stream."""
    with LoopbackServer(partial(fixture.respond, chunk_delay=0.05)) as server:
        yield server.base_url + "/v1"


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=base_url, max_retries=0)


def aclient(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0)


def only_span(telemetry):
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def output_text(span) -> str:
    messages = json.loads(span.attributes["gen_ai.output.messages"])
    return "".join(p["content"] for m in messages for p in m["parts"] if p["type"] == "text")


# --- the span contract -------------------------------------------------------------------------
def test_chat_span_carries_request_parameters_usage_and_mlflow_keys(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).chat.completions.create(
        model="gpt-4o-mini", messages=USER, temperature=0.2, top_p=0.9, max_tokens=50, seed=7,
        stop="END", frequency_penalty=0.1, presence_penalty=0.3, n=1, response_format={"type": "json_object"},
    )
    span = only_span(telemetry)
    a = span.attributes
    assert span.name == "chat gpt-4o-mini" and span.kind is trace.SpanKind.CLIENT
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.top_p"], a["gen_ai.request.max_tokens"]) == (0.2, 0.9, 50)
    assert a["gen_ai.request.seed"] == 7 and list(a["gen_ai.request.stop_sequences"]) == ["END"]
    assert (a["gen_ai.request.frequency_penalty"], a["gen_ai.request.presence_penalty"]) == (0.1, 0.3)
    assert "gen_ai.request.choice.count" not in a  # only when != 1
    assert a["gen_ai.output.type"] == "json"
    assert a["server.port"] == int(endpoint.split(":")[2].split("/")[0])
    assert a["gen_ai.response.id"] == result.id == "chatcmpl-demo-plain"
    assert a["gen_ai.response.model"] == fixture.RESPONSE_MODEL
    assert a["openai.response.service_tier"] == "default"
    assert a["openai.response.system_fingerprint"] == "fp_demo0001"
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
    assert a["gen_ai.usage.cache_read.input_tokens"] == 0
    assert a["mlflow.spanType"] == "CHAT_MODEL" and a["mlflow.llm.provider"] == "openai"
    assert json.loads(a["mlflow.chat.tokenUsage"]) == {
        "input_tokens": result.usage.prompt_tokens,
        "output_tokens": result.usage.completion_tokens,
        "total_tokens": result.usage.total_tokens,
        "cache_read_input_tokens": 0,
    }
    assert output_text(span) == fixture.PLAIN_ANSWER


def test_metrics_record_duration_and_input_output_tokens(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.sum > 0
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.response.model"] == fixture.RESPONSE_MODEL
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": result.usage.prompt_tokens, "output": result.usage.completion_tokens}
    assert telemetry.metric_points("gen_ai.client.operation.time_to_first_chunk") == []


def test_streaming_metrics_report_time_to_first_chunk_and_per_chunk(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    (ttfc,) = telemetry.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    (per_chunk,) = telemetry.metric_points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == len(chunks) - 1


def test_stream_with_include_usage_records_usage_and_text(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    usage = [c.usage for c in stream if c.usage][0]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["stop"]
    assert output_text(span) == fixture.STREAMED_ANSWER


# --- §4 / §9 A: the stream's span ends exactly once, however the stream ends --------------------
def test_stream_keeps_sdk_type_surface(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    assert isinstance(stream, openai.Stream)
    assert isinstance(stream.response, httpx2.Response)
    with stream as entered:
        assert entered is stream  # Stream.__enter__ returns the proxy (openinference PR#591)
        assert "".join(c.choices[0].delta.content or "" for c in entered if c.choices) == fixture.STREAMED_ANSWER
    assert only_span(telemetry).attributes["gen_ai.response.id"] == "chatcmpl-demo-stream"


def test_stream_break_inside_with_ends_span_once_with_partial_output(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:
        for index, _ in enumerate(stream):
            if index == 2:
                break
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert output_text(span) == "".join(STREAM_PIECES[:2])
    del stream
    gc.collect()
    assert len(telemetry.spans()) == 1


def test_stream_close_without_reading_ends_span(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    assert telemetry.spans() == []
    stream.close()
    stream.close()
    span = only_span(telemetry)
    assert "gen_ai.response.id" not in span.attributes


def test_stream_dropped_unfinished_ends_span_on_garbage_collection(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    next(stream)
    next(stream)
    assert telemetry.spans() == []
    del stream
    gc.collect()
    assert output_text(only_span(telemetry)) == STREAM_PIECES[0]


class UserLoopError(Exception):
    pass


def test_exception_in_users_stream_loop_propagates_and_ends_span_as_error(endpoint, telemetry, instrument):
    instrument()
    error = UserLoopError("stop here")
    with pytest.raises(UserLoopError) as caught:
        with client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:
            for _ in stream:
                raise error
    assert caught.value is error
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("UserLoopError")


async def test_async_stream_cancelled_mid_stream_ends_span_once(slow_endpoint, telemetry, instrument):
    instrument()
    received = []
    started = asyncio.Event()

    async def consume():
        stream = await aclient(slow_endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        async for chunk in stream:
            received.append(chunk)
            started.set()

    await cancel_mid_stream(consume, started)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert 0 < len(received) < len(STREAM_PIECES) + 2


async def test_async_stream_break_in_async_with_and_aclose(endpoint, telemetry, instrument):
    instrument()
    async with await aclient(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:
        assert isinstance(stream, openai.AsyncStream)
        async for _ in stream:
            break
    stream2 = await aclient(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    await stream2.close()
    assert [s.name for s in telemetry.spans()] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]


# --- §5 / §9 I: never break the user's call -------------------------------------------------------
class Boom(BaseException):
    """Not an Exception: the SDK lets it through untouched, so identity can be checked."""


class RaisingTransport(httpx2.BaseTransport):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def handle_request(self, request):
        raise self.exc


def test_user_exception_passes_through_as_the_same_object(telemetry, instrument):
    instrument()
    boom = Boom()
    raising = openai.OpenAI(api_key="t", base_url="http://127.0.0.1:9/v1", http_client=httpx2.Client(transport=RaisingTransport(boom)))
    with pytest.raises(Boom) as caught:
        raising.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert caught.value is boom
    assert only_span(telemetry).attributes["error.type"] == "test_openai_chat_behaviour.Boom"


def test_api_error_sets_error_type_and_exception_event(telemetry, instrument):
    instrument()
    with LoopbackServer(lambda r: fixture.Response(429, b'{"error": {"message": "slow down"}}')) as server:
        with pytest.raises(openai.RateLimitError):
            client(server.base_url + "/v1").chat.completions.create(model="gpt-4o-mini", messages=USER)
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "openai.RateLimitError"
    assert [e.name for e in span.events] == ["exception"]
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "openai.RateLimitError"


def test_fault_in_our_extraction_leaves_the_call_and_its_result_untouched(endpoint, telemetry, instrument, monkeypatch, swallow_faults):
    def broken(*args, **kwargs):
        raise RuntimeError("bug in otel-genai")

    bare = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    instrument()
    monkeypatch.setattr(ChatCompletions, "response", broken)
    monkeypatch.setattr(ChatStreamAccumulator, "on_chunk", broken)
    traced = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert traced.model_dump() == bare.model_dump()
    chunks = list(client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fixture.STREAMED_ANSWER
    monkeypatch.setattr(ChatCompletions, "request", broken)
    again = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert again.model_dump() == bare.model_dump()
    assert len(telemetry.spans()) == 2  # the request() fault skips that call's span, nothing else


def test_broken_exporter_never_breaks_the_app(endpoint, telemetry, instrument):
    class BrokenExporter:
        def export(self, spans):
            raise ConnectionError("collector is down")

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=0):
            return True

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(BrokenExporter()))
    instrument()
    result = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert result.choices[0].message.content == fixture.PLAIN_ANSWER
    assert len(telemetry.spans()) == 1


# --- §9 D: parameters and inputs -------------------------------------------------------------------
def test_not_given_omit_and_none_parameters_give_no_attribute_warnings(endpoint, telemetry, instrument, caplog):
    instrument()
    with caplog.at_level(logging.WARNING):
        client(endpoint).chat.completions.create(
            model="gpt-4o-mini", messages=USER, temperature=openai.NOT_GIVEN, top_p=openai.omit,
            max_tokens=None, seed=None, stop=None, n=None, service_tier=openai.NOT_GIVEN,
        )
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    attrs = only_span(telemetry).attributes
    for key in ("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens", "gen_ai.request.seed"):
        assert key not in attrs


def test_generator_message_content_is_not_consumed(endpoint, telemetry, instrument):
    server_requests = []
    instrument()
    with LoopbackServer(lambda r: (server_requests.append(r), fixture.respond(r))[1]) as server:
        messages = (m for m in USER)
        client(server.base_url + "/v1").chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert json.loads(server_requests[0].body)["messages"] == USER
    assert "gen_ai.input.messages" not in only_span(telemetry).attributes


def test_tool_call_turns_are_captured_as_tool_call_parts(endpoint, telemetry, instrument):
    instrument()
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}]
    c = client(endpoint)
    first = c.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    messages = USER + [first.choices[0].message, {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}]
    c.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    span1, span2 = telemetry.spans()
    out1 = json.loads(span1.attributes["gen_ai.output.messages"])
    assert out1[0]["parts"] == [{"type": "tool_call", "id": "call_demo_weather", "name": "get_weather", "arguments": {"city": "Paris"}}]
    assert out1[0]["finish_reason"] == "tool_calls"
    in2 = json.loads(span2.attributes["gen_ai.input.messages"])
    assert in2[1]["parts"][0]["type"] == "tool_call"  # the SDK model from turn 1, read without dumping it
    assert in2[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": call.id, "response": "sunny, 21C"}]}
    assert json.loads(span2.attributes["gen_ai.tool.definitions"])[0]["name"] == "get_weather"


def test_event_only_mode_emits_one_details_log_record_and_no_span_content(endpoint, telemetry):
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
        logger_provider=logger_provider, capture_content="EVENT_ONLY",
    )
    try:
        client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        instrumentor.uninstrument()
    span = only_span(telemetry)
    assert "gen_ai.input.messages" not in span.attributes
    (record,) = exporter.get_finished_logs()
    log = record.log_record
    assert log.event_name == "gen_ai.client.inference.operation.details"
    assert log.attributes["gen_ai.input.messages"][0]["parts"][0]["content"] == USER[0]["content"]
    assert log.attributes["gen_ai.output.messages"][0]["parts"][0]["content"] == fixture.PLAIN_ANSWER
    assert log.span_id == span.context.span_id


# --- §9 H: loops, tasks and threads ----------------------------------------------------------------
async def test_sync_client_inside_a_running_event_loop(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert result.id == only_span(telemetry).attributes["gen_ai.response.id"]


async def test_parents_are_correct_across_asyncio_gather(endpoint, telemetry, instrument):
    instrument()
    tracer = telemetry.tracer_provider.get_tracer("test")
    c = aclient(endpoint)

    async def agent(name):
        with tracer.start_as_current_span(name) as parent:
            await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
            await asyncio.sleep(0)
            await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
            return parent.get_span_context().span_id

    parents = await asyncio.gather(*(agent(f"agent-{i}") for i in range(3)))
    llm = [s for s in telemetry.spans() if s.name.startswith("chat")]
    assert sorted(p for p in parents) == sorted({s.parent.span_id for s in llm})
    for parent in parents:
        assert sum(1 for s in llm if s.parent.span_id == parent) == 2


def test_parents_are_correct_across_a_thread_pool(endpoint, telemetry, instrument):
    instrument()
    tracer = telemetry.tracer_provider.get_tracer("test")
    c = client(endpoint)

    def work(i):
        with tracer.start_as_current_span(f"job-{i}") as parent:
            c.chat.completions.create(model="gpt-4o-mini", messages=USER)
            return parent.get_span_context().span_id

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        parents = list(pool.map(work, range(8)))
    llm = [s for s in telemetry.spans() if s.name.startswith("chat")]
    assert sorted(s.parent.span_id for s in llm) == sorted(parents)


# --- §9 J: instrument / uninstrument -------------------------------------------------------------
def test_uninstrument_restores_originals_and_instrument_twice_does_not_double_wrap(endpoint, telemetry, instrument):
    originals = (Completions.create, AsyncCompletions.create)
    instrumentor = instrument()
    instrument()
    assert Completions.create is not originals[0]
    client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(telemetry.spans()) == 1
    instrumentor.uninstrument()
    assert (Completions.create, AsyncCompletions.create) == originals
    client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(telemetry.spans()) == 1


def test_suppressed_instrumentation_emits_nothing(endpoint, telemetry, instrument):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    instrument()
    with suppress_instrumentation():
        client(endpoint).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert telemetry.spans() == []


# --- §9 E: chunk edge cases ---------------------------------------------------------------------------
def _sse(chunks):
    base = {"id": "chatcmpl-edge", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    return [b"data: " + json.dumps({**base, **c}).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def _serve(chunks):
    return LoopbackServer(lambda r: fixture.Response(200, _sse(chunks), [("Content-Type", "text/event-stream")]))


def test_streamed_tool_call_deltas_with_null_arguments_are_assembled_into_the_output(telemetry, instrument):
    """contrib PR#4350 (arguments=None in a delta) and logfire#542 (streamed tool calls missing from output)."""
    call = lambda **f: {"index": 0, **f}  # noqa: E731
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            call(id="call_1", type="function", function={"name": "get_weather", "arguments": None})]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [call(function={"arguments": '{"city": '})]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [call(function={"arguments": None})]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [call(function={"arguments": '"Paris"}'})]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    instrument()
    with _serve(chunks) as server:
        list(client(server.base_url + "/v1").chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    span = only_span(telemetry)
    (message,) = json.loads(span.attributes["gen_ai.output.messages"])
    assert message["parts"] == [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["tool_calls"]


def test_empty_content_stream_keeps_its_finish_reason(telemetry, instrument):
    """openllmetry#4362: a stream that carries no content still reports why it stopped."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]},
    ]
    instrument()
    with _serve(chunks) as server:
        list(client(server.base_url + "/v1").chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    span = only_span(telemetry)
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["content_filter"]
    (message,) = json.loads(span.attributes["gen_ai.output.messages"])
    assert message == {"role": "assistant", "parts": [], "finish_reason": "content_filter"}
