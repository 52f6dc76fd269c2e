"""OpenAI Responses API (``responses.create`` / ``parse`` / ``stream()``) against the real ``openai``
client over loopback HTTP.

Part 1 replays every recorded ``/v1/responses`` interaction (../shared/recorded/openai, azure and
assistants skipped), sync and async: one ``chat <model>`` CLIENT span whose attributes and
``mlflow.chat.tokenUsage`` match the recorded response (JSON or SSE), content valid against semconv
v1.41.1. Part 2 checks behaviour against this file's own Responses fixture server: request
parameters, content conversion (tool round trips, hosted tools, blobs), streams left early, the
``parse`` / ``stream()`` / raw-response helpers, errors and metrics.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import re
from functools import partial
from typing import Any

import openai
import pydantic
import pytest
from openai.lib.streaming.responses._responses import AsyncResponseStream, ResponseStream
from openai.resources.responses.responses import AsyncResponses, Responses
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import SpanKind, StatusCode

from conftest import cancel_mid_stream, validate_content
from otel_genai.demo.server import LoopbackServer, Request, Response
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.instrumentation.openai.responses import ResponsesStreamAccumulator
from recorded import Interaction, Replayer, load_interactions

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")
TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def only_span(telemetry) -> Any:
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def validated(span) -> dict[str, Any]:
    """Every content attribute of ``span``, decoded and validated against its schema."""
    return {k: validate_content(k, span.attributes[k]) for k in CONTENT_KEYS if k in span.attributes}


def parts_of(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [p for m in messages for p in m["parts"] if p["type"] == kind]


def text_of(messages: list[dict[str, Any]]) -> str:
    return "".join(p["content"] for p in parts_of(messages, "text"))


# ==================================================================================================
# Part 1: recorded traffic
# ==================================================================================================
INTERACTIONS = load_interactions("openai", "/responses")
_CREATE_PARAMS = set(inspect.signature(Responses.create).parameters)


def test_recorded_traffic_is_there():
    assert len(INTERACTIONS) >= 30
    assert any(i.is_stream for i in INTERACTIONS) and any(not i.is_stream for i in INTERACTIONS)


def _kwargs(interaction: Interaction) -> dict[str, Any]:
    """The recorded request body as ``create()`` kwargs (unknown keys go through ``extra_body``)."""
    body = dict(interaction.request_body)
    extra = {k: body.pop(k) for k in list(body) if k not in _CREATE_PARAMS}
    return {**body, "extra_body": extra} if extra else body


def _recorded_response(interaction: Interaction) -> tuple[dict[str, Any], bool]:
    """The response object the recording holds, and whether it is final (a terminal SSE event)."""
    if not interaction.is_stream:
        return interaction.json(), True
    events = interaction.sse_events()
    final = next((e["response"] for e in reversed(events) if e.get("type") in TERMINAL_EVENTS), None)
    if final is not None:
        return final, True
    return next(e["response"] for e in events if e.get("type") == "response.created"), False


def _expected_finish_reason(body: dict[str, Any]) -> str | None:
    status = body.get("status")
    if status == "completed":
        return "tool_call" if any(o["type"] == "function_call" for o in body["output"]) else "stop"
    if status == "incomplete":
        return {"max_output_tokens": "length"}.get(body["incomplete_details"]["reason"], body["incomplete_details"]["reason"])
    return {"failed": "error"}.get(status)


def _run(replayer: Replayer, interaction: Interaction, mode: str) -> Any:
    base_url = replayer.play(interaction) + "/v1"
    if mode == "sync":
        with openai.OpenAI(api_key="test", base_url=base_url, max_retries=0) as client:
            result = client.responses.create(**_kwargs(interaction))
            if interaction.is_stream:
                assert isinstance(result, openai.Stream)
                for _ in result:
                    pass
            return result

    async def main() -> Any:
        async with openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0) as client:
            result = await client.responses.create(**_kwargs(interaction))
            if interaction.is_stream:
                assert isinstance(result, openai.AsyncStream)
                async for _ in result:
                    pass
            return result

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", INTERACTIONS, ids=lambda i: i.id)
def test_recorded_response_becomes_one_matching_span(interaction, mode, telemetry, instrument, replayer):
    instrument("SPAN_ONLY")
    _run(replayer, interaction, mode)
    body, final = _recorded_response(interaction)
    request = interaction.request_body
    span = only_span(telemetry)
    attrs = span.attributes

    assert span.name == f"chat {request['model']}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["openai.api.type"] == "responses"
    assert attrs["mlflow.spanType"] == "CHAT_MODEL"
    assert attrs["gen_ai.request.model"] == request["model"]
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["gen_ai.response.id"] == body["id"]
    assert attrs["gen_ai.response.model"] == body["model"]

    # request parameters as recorded
    for param, attribute in (
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("max_output_tokens", "gen_ai.request.max_tokens"),
    ):
        assert attrs.get(attribute) == request.get(param)
    if request.get("service_tier") not in (None, "auto"):
        assert attrs["openai.request.service_tier"] == request["service_tier"]
    else:
        assert "openai.request.service_tier" not in attrs
    fmt = (request.get("text") or {}).get("format", {}).get("type")
    assert attrs.get("gen_ai.output.type") == {"json_schema": "json", "json_object": "json", "text": "text"}.get(fmt)
    if interaction.is_stream:
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    else:
        assert "gen_ai.request.stream" not in attrs

    # response: finish reason, service tier, usage (input includes cached; mlflow JSON agrees)
    finish = _expected_finish_reason(body) if final else None
    assert list(attrs.get("gen_ai.response.finish_reasons", ())) == ([finish] if finish else [])
    if final and body.get("service_tier"):
        assert attrs["openai.response.service_tier"] == body["service_tier"]
    usage = body.get("usage") if final else None
    if usage:
        cached = usage["input_tokens_details"]["cached_tokens"]
        reasoning = usage["output_tokens_details"]["reasoning_tokens"]
        assert attrs["gen_ai.usage.input_tokens"] == usage["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == usage["output_tokens"]
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == cached
        assert attrs["gen_ai.usage.reasoning.output_tokens"] == reasoning
        mlflow_usage = json.loads(attrs["mlflow.chat.tokenUsage"])
        assert mlflow_usage == {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"],
            "cache_read_input_tokens": cached,
        }
    else:
        assert "gen_ai.usage.input_tokens" not in attrs
        assert "mlflow.chat.tokenUsage" not in attrs

    # content, valid against the v1.41.1 schemas
    content = validated(span)
    recorded_input = request["input"]
    if isinstance(recorded_input, str):
        assert content["gen_ai.input.messages"] == [{"role": "user", "parts": [{"type": "text", "content": recorded_input}]}]
    else:
        assert [m["role"] for m in content["gen_ai.input.messages"]] == [m["role"] for m in recorded_input]
        for message, item in zip(content["gen_ai.input.messages"], recorded_input):
            recorded_text = item["content"] if isinstance(item["content"], str) else "".join(c["text"] for c in item["content"])
            assert text_of([message]) == recorded_text
    (output,) = content["gen_ai.output.messages"]
    assert output["role"] == "assistant"
    assert output["finish_reason"] == (finish or "")
    items = body["output"]
    assert text_of([output]) == "".join(
        c["text"] for o in items if o["type"] == "message" for c in o["content"] if c["type"] == "output_text"
    )
    assert [(p["id"], p["name"], p["arguments"]) for p in parts_of([output], "tool_call")] == [
        (o["call_id"], o["name"], json.loads(o["arguments"])) for o in items if o["type"] == "function_call"
    ]
    summaries = ["\n\n".join(s["text"] for s in o["summary"]) for o in items if o["type"] == "reasoning"]
    assert [p["content"] for p in parts_of([output], "reasoning")] == [s for s in summaries if s]
    if request.get("tools"):
        tools = content["gen_ai.tool.definitions"]
        assert [(t["type"], t["name"]) for t in tools] == [(t["type"], t["name"]) for t in request["tools"]]
        assert tools[0]["parameters"] == request["tools"][0]["parameters"]
    else:
        assert "gen_ai.tool.definitions" not in content


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", [i for i in INTERACTIONS if i.status == 200][::4], ids=lambda i: i.id)
def test_recorded_response_without_content_capture_records_no_content(interaction, mode, telemetry, instrument, replayer):
    instrument("NO_CONTENT")
    _run(replayer, interaction, mode)
    span = only_span(telemetry)
    for key in CONTENT_KEYS:
        assert key not in span.attributes
    assert span.attributes["gen_ai.response.id"] == _recorded_response(interaction)[0]["id"]
    assert "mlflow.chat.tokenUsage" in span.attributes


# ==================================================================================================
# Part 2: behaviour, against this file's own Responses fixture server
# ==================================================================================================
ANSWER = "Spans show where the time of an agent goes."
PIECES = re.findall(r"\S+\s*", ANSWER)
USAGE = {
    "input_tokens": 42,
    "input_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 4},
    "output_tokens": 17,
    "output_tokens_details": {"reasoning_tokens": 5},
    "total_tokens": 59,
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEATHER_ARGUMENTS = '{"city": "Paris"}'
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
MODEL = "gpt-4.1-mini"


def _message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_fixture", "type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _output(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, Any]:
    """(output items, status, incomplete_details) the fixture answers ``body`` with."""
    model = body.get("model")
    items = body.get("input") if isinstance(body.get("input"), list) else []
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if model == "hosted-model":
        return [
            {"id": "rs_fixture", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Look it up first."}]},
            {"id": "ws_fixture", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "tracing agents"}},
            {"id": "ig_fixture", "type": "image_generation_call", "status": "completed", "result": PNG_B64, "output_format": "png"},
            _message(ANSWER),
        ], "completed", None
    if model == "failed-model":
        return [], "failed", None
    if model == "short-model":
        return [_message(PIECES[0])], "incomplete", {"reason": "max_output_tokens"}
    if body.get("tools") and not answered:
        return [{
            "id": "fc_fixture", "type": "function_call", "status": "completed",
            "call_id": "call_weather", "name": "get_weather", "arguments": WEATHER_ARGUMENTS,
        }], "completed", None
    return [_message(ANSWER)], "completed", None


def _response(body: dict[str, Any], output: list[dict[str, Any]], status: str, incomplete: Any) -> dict[str, Any]:
    return {
        "id": "resp_fixture", "object": "response", "created_at": 1700000000, "status": status,
        "model": f"{body.get('model')}-2025-04-14", "output": output, "incomplete_details": incomplete,
        "error": None, "usage": USAGE, "service_tier": "default", "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": body.get("tools") or [], "text": body.get("text") or {"format": {"type": "text"}},
    }


def _sse(events: list[dict[str, Any]]) -> list[bytes]:
    chunks = []
    for number, event in enumerate(events):
        event["sequence_number"] = number
        chunks.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    return chunks


def _stream_events(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events of a streamed response that ends as ``final``."""
    started = {**final, "status": "in_progress", "output": [], "usage": None, "service_tier": "auto"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    for index, item in enumerate(final["output"]):
        at = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "message":
            events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "content": [], "status": "in_progress"}})
            events.append({"type": "response.content_part.added", **at, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
            text = item["content"][0]["text"]
            for piece in re.findall(r"\S+\s*", text):
                events.append({"type": "response.output_text.delta", **at, "content_index": 0, "delta": piece, "logprobs": []})
            events.append({"type": "response.output_text.done", **at, "content_index": 0, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", **at, "content_index": 0, "part": item["content"][0]})
        elif item["type"] == "function_call":
            events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": "", "status": "in_progress"}})
            arguments = item["arguments"]
            for start in range(0, len(arguments), 6):
                events.append({"type": "response.function_call_arguments.delta", **at, "delta": arguments[start:start + 6]})
            events.append({"type": "response.function_call_arguments.done", **at, "arguments": arguments, "name": item["name"]})
        elif item["type"] == "reasoning":
            events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}})
            for summary_index, summary in enumerate(item["summary"]):
                events.append({"type": "response.reasoning_summary_part.added", **at, "summary_index": summary_index, "part": {"type": "summary_text", "text": ""}})
                events.append({"type": "response.reasoning_summary_text.delta", **at, "summary_index": summary_index, "delta": summary["text"]})
                events.append({"type": "response.reasoning_summary_part.done", **at, "summary_index": summary_index, "part": summary})
        else:
            events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    terminal = "response.completed" if final["status"] == "completed" else f"response.{final['status']}"
    events.append({"type": terminal, "response": final})
    return events


def respond(request: Request, chunk_delay: float = 0.0) -> Response:
    if request.method != "POST" or not request.path.endswith("/responses"):
        return Response(404, b'{"error": {"message": "not found"}}')
    body = json.loads(request.body)
    if body.get("model") == "missing-model":
        return Response(404, b'{"error": {"message": "The model does not exist", "type": "invalid_request_error"}}', [("content-type", "application/json")])
    final = _response(body, *_output(body))
    if body.get("stream"):
        return Response(200, _sse(_stream_events(final)), [("content-type", "text/event-stream")], chunk_delay)
    return Response(200, json.dumps(final).encode(), [("content-type", "application/json")])


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(respond) as server:
        yield server.base_url + "/v1"


@pytest.fixture(scope="module")
def slow_endpoint():
    with LoopbackServer(partial(respond, chunk_delay=0.03)) as server:
        yield server.base_url + "/v1"


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=base_url, max_retries=0)


def aclient(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0)


def output_message(span) -> dict[str, Any]:
    (message,) = validate_content("gen_ai.output.messages", span.attributes["gen_ai.output.messages"])
    return message


MLFLOW_USAGE = {"input_tokens": 42, "output_tokens": 17, "total_tokens": 59, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 4}


def assert_fixture_usage(attrs) -> None:
    assert attrs["gen_ai.usage.input_tokens"] == 42  # OpenAI's input_tokens already include the cached ones
    assert attrs["gen_ai.usage.output_tokens"] == 17
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 10
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 4
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 5
    assert json.loads(attrs["mlflow.chat.tokenUsage"]) == MLFLOW_USAGE


# --- the span contract -------------------------------------------------------------------------
def test_create_span_carries_request_parameters_response_usage_and_content(endpoint, telemetry, instrument):
    instrument()
    result = client(endpoint).responses.create(
        model=MODEL, input="Say something about tracing.", instructions="Answer in one sentence.",
        temperature=0.2, top_p=0.9, max_output_tokens=64, service_tier="flex",
        previous_response_id="resp_previous", conversation={"id": "conv_fixture"},
        text={"format": {"type": "json_schema", "name": "Answer", "schema": {"type": "object"}}},
    )
    span = only_span(telemetry)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["openai.request.service_tier"] == "flex"
    assert attrs["gen_ai.request.previous_response.id"] == "resp_previous"
    assert attrs["gen_ai.conversation.id"] == "conv_fixture"
    assert attrs["gen_ai.output.type"] == "json"
    assert attrs["mlflow.llm.model"] == MODEL
    assert attrs["mlflow.llm.provider"] == "openai"
    assert "gen_ai.request.stream" not in attrs
    assert attrs["gen_ai.response.id"] == result.id == "resp_fixture"
    assert attrs["gen_ai.response.model"] == f"{MODEL}-2025-04-14"
    assert attrs["openai.response.service_tier"] == "default"
    assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    assert_fixture_usage(attrs)
    content = validated(span)
    assert content["gen_ai.system_instructions"] == [{"type": "text", "content": "Answer in one sentence."}]
    assert content["gen_ai.input.messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Say something about tracing."}]}]
    assert content["gen_ai.output.messages"] == [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]


def test_service_tier_auto_and_stream_false_are_not_recorded(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).responses.create(model=MODEL, input="hi", service_tier="auto", stream=False, text={"format": {"type": "text"}}, conversation="conv_plain")
    attrs = only_span(telemetry).attributes
    assert "openai.request.service_tier" not in attrs
    assert "gen_ai.request.stream" not in attrs
    assert attrs["gen_ai.output.type"] == "text"
    assert attrs["gen_ai.conversation.id"] == "conv_plain"


def test_metrics_record_duration_and_input_output_tokens(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).responses.create(model=MODEL, input="hi")
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.response.model"] == f"{MODEL}-2025-04-14"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 42, "output": 17}


def test_incomplete_response_reports_length_finish_reason(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).responses.create(model="short-model", input="Tell me everything.", max_output_tokens=1)
    span = only_span(telemetry)
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["length"]
    assert output_message(span) == {"role": "assistant", "parts": [{"type": "text", "content": PIECES[0]}], "finish_reason": "length"}


def test_streamed_failed_response_reports_error_finish_reason(endpoint, telemetry, instrument):
    instrument()
    events = list(client(endpoint).responses.create(model="failed-model", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET  # the call itself succeeded
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["error"]
    assert output_message(span) == {"role": "assistant", "parts": [], "finish_reason": "error"}


def test_api_error_sets_error_type_and_no_usage(endpoint, telemetry, instrument):
    instrument()
    with pytest.raises(openai.NotFoundError):
        client(endpoint).responses.create(model="missing-model", input="hi")
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "openai.NotFoundError"
    assert [e.name for e in span.events] == ["exception"]
    assert "mlflow.chat.tokenUsage" not in span.attributes


# --- §9 D: parameters and inputs -------------------------------------------------------------------
def test_not_given_omit_and_none_parameters_give_no_attribute_warnings(endpoint, telemetry, instrument, caplog):
    instrument()
    with caplog.at_level(logging.WARNING):
        client(endpoint).responses.create(
            model=MODEL, input="hi", temperature=openai.NOT_GIVEN, top_p=openai.omit, max_output_tokens=None,
            service_tier=None, previous_response_id=None, conversation=None, instructions=None, text=openai.omit,
            tools=openai.omit, stream=openai.omit,
        )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    attrs = only_span(telemetry).attributes
    for key in (
        "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens", "openai.request.service_tier",
        "gen_ai.request.previous_response.id", "gen_ai.conversation.id", "gen_ai.output.type", "gen_ai.request.stream",
        "gen_ai.system_instructions", "gen_ai.tool.definitions",
    ):
        assert key not in attrs


def test_generator_input_is_left_untouched(endpoint, telemetry, instrument):
    # openai cannot send a generator as ``input`` (its JSON encoder raises); we must not read it
    # either, and the SDK's own error must come through unchanged
    instrument()
    items = ({"role": "user", "content": text} for text in ("one", "two"))
    with pytest.raises(TypeError, match="generator is not JSON serializable"):
        client(endpoint).responses.create(model=MODEL, input=items)
    assert inspect.getgeneratorstate(items) == inspect.GEN_CREATED
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "TypeError"
    assert "gen_ai.input.messages" not in span.attributes


def test_multimodal_input_becomes_blob_uri_and_file_parts_without_base64(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).responses.create(model=MODEL, input=[
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is in these?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}", "detail": "auto"},
            {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
            {"type": "input_image", "file_id": "file-img", "detail": "auto"},
            {"type": "input_file", "file_id": "file-pdf"},
            {"type": "input_file", "filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PNG_B64}"},
            {"type": "input_file", "file_url": "https://example.com/a.pdf"},
        ]},
    ])
    span = only_span(telemetry)
    assert all(PNG_B64 not in str(value) for value in span.attributes.values())
    developer, user = validated(span)["gen_ai.input.messages"]
    assert developer == {"role": "developer", "parts": [{"type": "text", "content": "Be brief."}]}
    assert user["parts"] == [
        {"type": "text", "content": "What is in these?"},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": ""},
        {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
        {"type": "file", "modality": "image", "file_id": "file-img"},
        {"type": "file", "modality": "document", "file_id": "file-pdf"},
        {"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": ""},
        {"type": "uri", "modality": "document", "uri": "https://example.com/a.pdf"},
    ]


def test_blob_content_is_kept_when_enabled(endpoint, telemetry, instrument, monkeypatch):
    monkeypatch.setenv("OTEL_GENAI_CAPTURE_BLOB_CONTENT", "true")
    instrument()
    client(endpoint).responses.create(model=MODEL, input=[
        {"role": "user", "content": [{"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}", "detail": "auto"}]},
    ])
    (message,) = validated(only_span(telemetry))["gen_ai.input.messages"]
    assert message["parts"] == [{"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG_B64}]


# --- tools ---------------------------------------------------------------------------------------
def test_function_call_round_trip_gives_tool_call_and_tool_call_response_parts(endpoint, telemetry, instrument):
    instrument()
    c = client(endpoint)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    first = c.responses.create(model=MODEL, input=question, tools=[WEATHER_TOOL, {"type": "web_search"}])
    (call,) = [item for item in first.output if item.type == "function_call"]
    answer = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}
    c.responses.create(model=MODEL, input=question + first.output + [answer], tools=[WEATHER_TOOL])  # SDK models as input
    span1, span2 = telemetry.spans()

    assert list(span1.attributes["gen_ai.response.finish_reasons"]) == ["tool_call"]
    assert output_message(span1) == {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_weather", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_call",
    }
    tools = validated(span1)["gen_ai.tool.definitions"]
    assert tools == [
        {"type": "function", "name": "get_weather", "description": WEATHER_TOOL["description"], "parameters": WEATHER_TOOL["parameters"]},
        {"type": "web_search", "name": "web_search"},
    ]

    inputs = validated(span2)["gen_ai.input.messages"]
    assert inputs == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_weather", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_weather", "response": "sunny, 21C"}]},
    ]
    assert list(span2.attributes["gen_ai.response.finish_reasons"]) == ["stop"]


def test_hosted_tools_and_reasoning_become_server_tool_call_reasoning_and_blob_parts(endpoint, telemetry, instrument):
    instrument()
    client(endpoint).responses.create(model="hosted-model", input="Research tracing.", tools=[{"type": "web_search"}, {"type": "image_generation"}])
    span = only_span(telemetry)
    assert all(PNG_B64 not in str(value) for value in span.attributes.values())
    message = output_message(span)
    assert message["finish_reason"] == "stop"  # hosted tool calls need nothing from the client
    assert message["parts"] == [
        {"type": "reasoning", "content": "Look it up first."},
        {"type": "server_tool_call", "id": "ws_fixture", "name": "web_search",
         "server_tool_call": {"type": "web_search", "action": {"type": "search", "query": "tracing agents"}}},
        {"type": "server_tool_call", "id": "ig_fixture", "name": "image_generation", "server_tool_call": {"type": "image_generation"}},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": ""},
        {"type": "text", "content": ANSWER},
    ]
    assert validated(span)["gen_ai.tool.definitions"] == [
        {"type": "web_search", "name": "web_search"}, {"type": "image_generation", "name": "image_generation"},
    ]


def test_previous_output_items_sent_back_join_one_assistant_message(endpoint, telemetry, instrument):
    instrument()
    c = client(endpoint)
    first = c.responses.create(model="hosted-model", input="Research tracing.")
    c.responses.create(model=MODEL, input=[{"role": "user", "content": "Research tracing."}, *first.output, {"role": "user", "content": "Shorter."}])
    inputs = validated(telemetry.spans()[1])["gen_ai.input.messages"]
    assert [m["role"] for m in inputs] == ["user", "assistant", "assistant", "user"]
    # reasoning + hosted calls form one assistant message; the output message item is its own message
    assert [p["type"] for p in inputs[1]["parts"]] == ["reasoning", "server_tool_call", "server_tool_call", "blob"]
    assert inputs[2]["parts"] == [{"type": "text", "content": ANSWER}]


def test_event_only_mode_emits_plain_structured_content(endpoint, telemetry, caplog):
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
        logger_provider=logger_provider, capture_content="EVENT_ONLY",
    )
    try:
        c = client(endpoint)
        first = c.responses.create(model="hosted-model", input="Research tracing.")
        with caplog.at_level(logging.WARNING):
            c.responses.create(model=MODEL, input=[{"role": "user", "content": "hi"}, *first.output], tools=[WEATHER_TOOL])
    finally:
        instrumentor.uninstrument()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    span = telemetry.spans()[1]
    assert not any(key in span.attributes for key in CONTENT_KEYS)
    record = exporter.get_finished_logs()[1].log_record
    assert record.event_name == "gen_ai.client.inference.operation.details"
    assert record.span_id == span.context.span_id
    messages = record.attributes["gen_ai.input.messages"]
    assert messages[1]["parts"][1]["server_tool_call"]["action"]["query"] == "tracing agents"
    # structured (not JSON strings) and plain: the same value survives a JSON round trip
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions"):
        value = record.attributes[key]
        plain = json.loads(json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
        validate_content(key, json.dumps(plain))


# --- streams ---------------------------------------------------------------------------------------
def test_stream_records_output_usage_and_time_to_first_chunk(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).responses.create(model=MODEL, input="hi", stream=True)
    assert isinstance(stream, openai.Stream)
    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert "".join(deltas) == ANSWER
    span = only_span(telemetry)
    attrs = span.attributes
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert attrs["gen_ai.response.id"] == "resp_fixture"
    assert attrs["openai.response.service_tier"] == "default"  # from response.completed, not created's "auto"
    assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    assert_fixture_usage(attrs)
    assert output_message(span) == {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}
    assert telemetry.metric_points("gen_ai.client.operation.time_to_first_chunk")


def test_streamed_function_call_is_recorded(endpoint, telemetry, instrument):
    instrument()
    events = list(client(endpoint).responses.create(model=MODEL, input="Weather?", tools=[WEATHER_TOOL], stream=True))
    assert events[-1].type == "response.completed"
    message = output_message(only_span(telemetry))
    assert message["parts"] == [{"type": "tool_call", "id": "call_weather", "name": "get_weather", "arguments": {"city": "Paris"}}]
    assert message["finish_reason"] == "tool_call"


def test_stream_break_inside_with_ends_span_once_with_partial_output(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).responses.create(model=MODEL, input="hi", stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta" and event.delta == PIECES[2]:
                break
    span = only_span(telemetry)
    attrs = span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.response.id"] == "resp_fixture"  # from response.created
    assert attrs["gen_ai.response.model"] == f"{MODEL}-2025-04-14"
    assert "openai.response.service_tier" not in attrs  # created's "auto" is the request's echo
    assert attrs["gen_ai.response.finish_reasons"] == ("error",)  # left early (docs/lifecycle.md)
    assert "mlflow.chat.tokenUsage" not in attrs
    assert output_message(span) == {"role": "assistant", "parts": [{"type": "text", "content": "".join(PIECES[:3])}], "finish_reason": "error"}
    del stream
    gc.collect()
    assert len(telemetry.spans()) == 1


def test_stream_cut_in_a_function_call_keeps_the_partial_arguments(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).responses.create(model=MODEL, input="Weather?", tools=[WEATHER_TOOL], stream=True) as stream:
        for event in stream:
            if event.type == "response.function_call_arguments.delta":
                break
    message = output_message(only_span(telemetry))
    assert message["parts"] == [{"type": "tool_call", "id": "call_weather", "name": "get_weather", "arguments": WEATHER_ARGUMENTS[:6]}]


def test_stream_close_without_reading_ends_span(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).responses.create(model=MODEL, input="hi", stream=True)
    assert telemetry.spans() == []
    stream.close()
    stream.close()
    span = only_span(telemetry)
    assert "gen_ai.response.id" not in span.attributes
    assert span.status.status_code is StatusCode.UNSET


def test_stream_dropped_unfinished_ends_span_on_garbage_collection(endpoint, telemetry, instrument):
    instrument()
    stream = client(endpoint).responses.create(model=MODEL, input="hi", stream=True)
    events = [next(stream) for _ in range(6)]  # created, in_progress, item added, part added, 2 deltas
    assert [e.type for e in events][-2:] == ["response.output_text.delta"] * 2
    assert telemetry.spans() == []
    del stream
    gc.collect()
    assert output_message(only_span(telemetry))["parts"] == [{"type": "text", "content": "".join(PIECES[:2])}]


async def test_async_stream_break_in_async_with_and_close(endpoint, telemetry, instrument):
    instrument()
    c = aclient(endpoint)
    async with await c.responses.create(model=MODEL, input="hi", stream=True) as stream:
        assert isinstance(stream, openai.AsyncStream)
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
    stream2 = await c.responses.create(model=MODEL, input="hi", stream=True)
    await stream2.close()
    first, second = telemetry.spans()
    assert output_message(first)["parts"] == [{"type": "text", "content": PIECES[0]}]
    assert "gen_ai.output.messages" not in second.attributes  # nothing arrived
    assert "gen_ai.response.id" not in second.attributes


async def test_async_stream_cancelled_mid_stream_ends_span_once(slow_endpoint, telemetry, instrument):
    instrument()
    received = []
    started = asyncio.Event()

    async def consume():
        stream = await aclient(slow_endpoint).responses.create(model=MODEL, input="hi", stream=True)
        async for event in stream:
            received.append(event)
            if event.type == "response.output_text.delta":
                started.set()

    await cancel_mid_stream(consume, started)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert "".join(e.delta for e in received if e.type == "response.output_text.delta") in text_of([output_message(span)])


def test_accumulator_keeps_deltas_that_arrive_without_an_item_added_event():
    from types import SimpleNamespace as E

    accumulator = ResponsesStreamAccumulator()
    accumulator.on_chunk(E(type="response.output_text.delta", output_index=0, content_index=0, delta="Hel"))
    accumulator.on_chunk(E(type="response.output_text.delta", output_index=0, content_index=0, delta="lo"))
    accumulator.on_chunk(E(type="response.function_call_arguments.delta", output_index=1, delta='{"a"'))
    accumulator.on_chunk(E(type="response.function_call_arguments.delta", output_index=1, delta=None))
    accumulator.on_chunk(E(type="response.some_future_event", output_index=0))
    attrs, usage, content = accumulator.result(True)
    assert attrs == {} and usage is None
    validate_content("gen_ai.output.messages", json.dumps(content["gen_ai.output.messages"]))
    assert content["gen_ai.output.messages"][0]["parts"] == [
        {"type": "text", "content": "Hello"},
        {"type": "tool_call", "id": None, "name": "", "arguments": '{"a"'},
    ]
    assert accumulator.result(False)[2] == {}


# --- helpers: parse, stream(), raw responses ---------------------------------------------------------
class Person(pydantic.BaseModel):
    name: str
    age: int


PERSON_JSON = '{"name": "Alice", "age": 30}'


@pytest.fixture(scope="module")
def person_endpoint():
    def answer(request: Request) -> Response:
        body = json.loads(request.body)
        final = _response(body, [_message(PERSON_JSON)], "completed", None)
        if body.get("stream"):
            return Response(200, _sse(_stream_events(final)), [("content-type", "text/event-stream")])
        return Response(200, json.dumps(final).encode(), [("content-type", "application/json")])

    with LoopbackServer(answer) as server:
        yield server.base_url + "/v1"


def test_parse_posts_itself_and_yields_exactly_one_span(person_endpoint, telemetry, instrument):
    instrument()
    result = client(person_endpoint).responses.parse(model=MODEL, input="Who?", text_format=Person)
    assert result.output_parsed == Person(name="Alice", age=30)
    span = only_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.response.id"] == "resp_fixture"
    assert_fixture_usage(span.attributes)
    assert text_of([output_message(span)]) == PERSON_JSON


async def test_async_parse_yields_exactly_one_span(person_endpoint, telemetry, instrument):
    instrument()
    result = await aclient(person_endpoint).responses.parse(model=MODEL, input="Who?", text_format=Person)
    assert result.output_parsed.age == 30
    assert only_span(telemetry).attributes["gen_ai.output.type"] == "json"


def test_stream_helper_get_final_response_records_usage_and_output(person_endpoint, telemetry, instrument):
    instrument()
    with client(person_endpoint).responses.stream(model=MODEL, input="Who?", text_format=Person) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Person(name="Alice", age=30)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.output.type"] == "json"
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["stop"]
    assert_fixture_usage(span.attributes)
    assert text_of([output_message(span)]) == PERSON_JSON


def test_stream_helper_text_events_record_output(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).responses.stream(model=MODEL, input="hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    assert text == ANSWER
    assert text_of([output_message(only_span(telemetry))]) == ANSWER


async def test_async_stream_helper_records_usage(person_endpoint, telemetry, instrument):
    instrument()
    async with aclient(person_endpoint).responses.stream(model=MODEL, input="Who?", text_format=Person) as stream:
        final = await stream.get_final_response()
    assert final.output_parsed.name == "Alice"
    assert_fixture_usage(only_span(telemetry).attributes)


def test_stream_helper_left_early_ends_span_when_the_with_block_exits(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).responses.stream(model=MODEL, input="hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
        assert telemetry.spans() == []
    # ResponseStream.close() closes the HTTP response, not our proxy: the close hook ends the span
    span = only_span(telemetry)
    assert output_message(span)["parts"] == [{"type": "text", "content": PIECES[0]}]
    assert "mlflow.chat.tokenUsage" not in span.attributes
    del stream
    gc.collect()
    assert len(telemetry.spans()) == 1


async def test_async_stream_helper_left_early_ends_span_when_the_with_block_exits(endpoint, telemetry, instrument):
    instrument()
    async with aclient(endpoint).responses.stream(model=MODEL, input="hi") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
        assert telemetry.spans() == []
    assert output_message(only_span(telemetry))["parts"] == [{"type": "text", "content": PIECES[0]}]


def test_stream_helper_never_entered_makes_no_span(endpoint, telemetry, instrument):
    instrument()
    manager = client(endpoint).responses.stream(model=MODEL, input="hi")  # create() runs on __enter__
    del manager
    gc.collect()
    assert telemetry.spans() == []


def test_with_raw_response_records_the_parsed_response(endpoint, telemetry, instrument):
    instrument()
    raw = client(endpoint).responses.with_raw_response.create(model=MODEL, input="hi")
    assert raw.headers["content-type"] == "application/json"
    span = only_span(telemetry)  # the body was already read: the span ended with its usage
    assert_fixture_usage(span.attributes)
    parsed = raw.parse()
    assert parsed.id == "resp_fixture" == span.attributes["gen_ai.response.id"]
    assert raw.parse() is parsed


def test_with_raw_response_of_a_stream_records_the_parsed_stream(endpoint, telemetry, instrument):
    instrument()
    raw = client(endpoint).responses.with_raw_response.create(model=MODEL, input="hi", stream=True)
    assert telemetry.spans() == []
    events = list(raw.parse())
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == ANSWER
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.stream"] is True
    assert_fixture_usage(span.attributes)
    assert text_of([output_message(span)]) == ANSWER


async def test_async_with_streaming_response_parse(endpoint, telemetry, instrument):
    instrument()
    async with aclient(endpoint).responses.with_streaming_response.create(model=MODEL, input="hi") as response:
        result = await response.parse()
    assert result.id == "resp_fixture"
    assert_fixture_usage(only_span(telemetry).attributes)


def test_with_streaming_response_bytes_read_by_the_user_end_the_span_at_close(endpoint, telemetry, instrument):
    instrument()
    with client(endpoint).responses.with_streaming_response.create(model=MODEL, input="hi") as response:
        assert json.loads(b"".join(response.iter_bytes()))["id"] == "resp_fixture"
    span = only_span(telemetry)
    assert "gen_ai.usage.input_tokens" not in span.attributes


# --- instrument / uninstrument -------------------------------------------------------------------
def test_uninstrument_restores_create_parse_and_the_close_hooks(endpoint, telemetry, instrument):
    originals = (Responses.create, AsyncResponses.create, Responses.parse, AsyncResponses.parse, ResponseStream.close, AsyncResponseStream.close)
    instrumentor = instrument()
    instrument()
    assert Responses.create is not originals[0] and Responses.parse is not originals[2]
    assert ResponseStream.close is not originals[4]
    client(endpoint).responses.create(model=MODEL, input="hi")
    assert len(telemetry.spans()) == 1
    instrumentor.uninstrument()
    assert (Responses.create, AsyncResponses.create, Responses.parse, AsyncResponses.parse, ResponseStream.close, AsyncResponseStream.close) == originals
    client(endpoint).responses.create(model=MODEL, input="hi")
    assert len(telemetry.spans()) == 1
