"""OpenAI chat behaviour the span contract promises (DESIGN.md §3-§5, regression catalogue §9),
against the real ``openai`` client and the demo's OpenAI-compatible loopback endpoint: what is
specific to Chat Completions. The guarantees every provider shares (errors and faults pass the call
through, event mode, loops and threads, instrument / uninstrument, how a stream ends) are in
``tests/contract/``."""

from __future__ import annotations

import json

import openai
import pytest
from opentelemetry import trace

from otel_genai.demo import fixture
from otel_genai.demo.server import LoopbackServer

USER = [{"role": "user", "content": "Say something about tracing."}]


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(fixture.respond) as server:
        yield server.base_url + "/v1"


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=base_url, max_retries=0)


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


# --- §5 / §9 I: never break the user's call -------------------------------------------------------
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


# --- §9 J: suppression ----------------------------------------------------------------------------
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
