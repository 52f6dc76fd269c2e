"""What an Anthropic span says (DESIGN.md §3; regression catalogue §9 D, E, G): content blocks as
semconv v1.41.1 parts in both directions (tool use, tool results, thinking, redacted thinking, server
tools, images/documents without their base64), system instructions, tool definitions, request
parameters, finish reasons, ids, and the prompt-caching token rule, non-streamed and streamed."""

from __future__ import annotations

import json
import logging

import anthropic
import pydantic
import pytest

from anthropic_support import (  # noqa: F401  (fixtures)
    MODEL,
    USER,
    canned,
    client,
    content,
    instrument_anthropic,
    json_response,
    message,
    mlflow_usage,
    only_span,
    output_parts,
    sdk_native_tracing_at_default,
    sse_response,
    text_stream_events,
)
from conftest import validate_content

KWARGS = {"model": MODEL, "max_tokens": 64, "messages": USER}
PNG = "iVBORw0KGgo" + "A" * 200_000  # ~200 kB of base64 that must not reach a span
PDF = "JVBERi0xLjQK" + "B" * 100_000


def _validated(span) -> dict[str, object]:
    """Every content attribute of the span, decoded and checked against its semconv schema."""
    return {
        key: validate_content(key, span.attributes[key])
        for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")
        if key in span.attributes
    }


# --- output content -------------------------------------------------------------------------------------
RESPONSE_BLOCKS = [
    {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig"},
    {"type": "redacted_thinking", "data": "EncryptedOpaque" * 100},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "weather SF"}},
    {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [
            {"type": "web_search_result", "url": "https://example.com/w", "title": "Weather", "encrypted_content": "X" * 5000, "page_age": None}
        ],
    },
    {"type": "text", "text": "Let me check the local clock."},
    {"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {"timezone": "America/Los_Angeles"}},
]


def _assert_response_parts(parts: list[dict[str, object]]) -> None:
    assert parts == [
        {"type": "reasoning", "content": "The user wants weather."},
        {"type": "reasoning", "content": "", "redacted": True},
        {
            "type": "server_tool_call",
            "id": "srvtoolu_1",
            "name": "web_search",
            "server_tool_call": {"type": "web_search", "query": "weather SF"},
        },
        {
            "type": "server_tool_call_response",
            "id": "srvtoolu_1",
            "server_tool_call_response": {
                "type": "web_search_tool_result",
                "content": [{"type": "web_search_result", "url": "https://example.com/w", "title": "Weather"}],
            },
        },
        {"type": "text", "content": "Let me check the local clock."},
        {"type": "tool_call", "id": "toolu_1", "name": "get_time", "arguments": {"timezone": "America/Los_Angeles"}},
    ]


def test_response_blocks_become_reasoning_server_tool_and_tool_call_parts(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    result = client(canned.play(json_response(message(RESPONSE_BLOCKS, stop_reason="tool_use")))).messages.create(**KWARGS)
    assert [b.type for b in result.content] == [b["type"] for b in RESPONSE_BLOCKS]
    span = only_span(telemetry)
    (output,) = _validated(span)["gen_ai.output.messages"]
    assert output["finish_reason"] == "tool_use"
    _assert_response_parts(output["parts"])
    assert "EncryptedOpaque" not in span.attributes["gen_ai.output.messages"]
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["tool_use"]


def _stream_events_for(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    """The SSE events the API sends for ``blocks``: text/thinking/tool input arrive as deltas."""
    events = text_stream_events()[:1]
    for index, block in enumerate(blocks):
        start, deltas = dict(block), []
        if block["type"] == "text":
            start["text"], deltas = "", [{"type": "text_delta", "text": block["text"]}]
        elif block["type"] == "thinking":
            start["thinking"] = ""
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]}, {"type": "signature_delta", "signature": "sig"}]
        elif block["type"] in ("tool_use", "server_tool_use"):
            text = json.dumps(block["input"])
            start["input"] = {}
            deltas = [{"type": "input_json_delta", "partial_json": ""}] + [
                {"type": "input_json_delta", "partial_json": text[i : i + 5]} for i in range(0, len(text), 5)
            ]
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})
    events += text_stream_events(stop_reason="tool_use")[-2:]
    return events


def test_streamed_blocks_assemble_into_the_same_parts(canned, telemetry, instrument_anthropic):
    """logfire#542: streamed tool calls (input_json_delta assembled) appear in the output."""
    instrument_anthropic()
    with client(canned.play(sse_response(_stream_events_for(RESPONSE_BLOCKS)))).messages.stream(**KWARGS) as stream:
        final = stream.get_final_message()
    assert final.content[-1].input == {"timezone": "America/Los_Angeles"}
    span = only_span(telemetry)
    (output,) = _validated(span)["gen_ai.output.messages"]
    assert output["finish_reason"] == "tool_use"
    _assert_response_parts(output["parts"])


def test_input_json_delta_without_its_block_start_still_becomes_a_tool_call(canned, telemetry, instrument_anthropic):
    """openllmetry#4050: a tool-input delta whose content_block_start never arrived."""
    instrument_anthropic()
    events = text_stream_events()[:1] + [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
        {"type": "content_block_stop", "index": 0},
    ] + text_stream_events(stop_reason="tool_use")[-2:]
    received = list(client(canned.play(sse_response(events))).messages.create(**KWARGS, stream=True))
    assert len(received) == len(events)
    span = only_span(telemetry)
    assert output_parts(span) == [{"type": "tool_call", "id": None, "name": "", "arguments": {"city": "Paris"}}]


def test_tool_call_without_arguments_keeps_its_empty_input(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    blocks = [{"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}]
    for _ in client(canned.play(sse_response(_stream_events_for(blocks)))).messages.create(**KWARGS, stream=True):
        pass
    assert output_parts(only_span(telemetry)) == [{"type": "tool_call", "id": "toolu_9", "name": "now", "arguments": {}}]


# --- input content ---------------------------------------------------------------------------------------
def _rich_history() -> list[dict[str, object]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "image", "source": {"type": "file", "file_id": "file_img"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
                {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"}},
            ],
        },
        {"role": "assistant", "content": RESPONSE_BLOCKS},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "10:42"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [
                        {"type": "text", "text": "chart:"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    ],
                },
                {"type": "tool_result", "tool_use_id": "toolu_3", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ],
        },
    ]


def test_input_blocks_become_parts_and_base64_is_not_copied(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    c = client(canned.play(json_response(message())))
    c.messages.create(model=MODEL, max_tokens=64, messages=_rich_history())
    span = only_span(telemetry)
    raw = span.attributes["gen_ai.input.messages"]
    assert len(raw) < 5_000 and PNG[:40] not in raw and PDF[:40] not in raw
    user, assistant, results = _validated(span)["gen_ai.input.messages"]
    assert user == {
        "role": "user",
        "parts": [
            {"type": "text", "content": "Compare these."},
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": ""},
            {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
            {"type": "file", "modality": "image", "file_id": "file_img"},
            {"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": ""},
            {"type": "uri", "modality": "document", "uri": "https://example.com/a.pdf"},
            {"type": "text", "content": "plain notes"},
        ],
    }
    assert assistant["role"] == "assistant"
    _assert_response_parts(assistant["parts"])
    assert results == {
        "role": "user",
        "parts": [
            {"type": "tool_call_response", "id": "toolu_1", "response": "10:42"},
            {
                "type": "tool_call_response",
                "id": "toolu_2",
                "response": [
                    {"type": "text", "content": "chart:"},
                    {"type": "blob", "modality": "image", "mime_type": "image/png", "content": ""},
                ],
            },
            {"type": "tool_call_response", "id": "toolu_3", "response": "ab"},
        ],
    }
    # the request itself still carried every byte
    sent = json.loads(canned.requests[-1].body)
    assert sent["messages"][0]["content"][1]["source"]["data"] == PNG


def test_blob_content_is_kept_when_the_policy_says_so(canned, telemetry, instrument_anthropic, monkeypatch):
    monkeypatch.setenv("OTEL_GENAI_CAPTURE_BLOB_CONTENT", "true")
    instrument_anthropic()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}
    client(canned.play(json_response(message()))).messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": [image]}])
    (user,) = content(only_span(telemetry), "gen_ai.input.messages")
    assert user["parts"] == [{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "aGVsbG8="}]


def test_system_instructions_and_tool_definitions(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    tools = [
        {"name": "get_time", "description": "Current time", "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ]
    system = [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}]
    client(canned.play(json_response(message()))).messages.create(**KWARGS, system=system, tools=tools)
    validated = _validated(only_span(telemetry))
    assert validated["gen_ai.system_instructions"] == [{"type": "text", "content": "Be brief."}, {"type": "text", "content": "Be kind."}]
    assert validated["gen_ai.tool.definitions"] == [
        {"type": "function", "name": "get_time", "description": "Current time", "parameters": tools[0]["input_schema"]},
        {"type": "web_search_20250305", "name": "web_search"},
    ]


def test_system_string_and_beta_runnable_tool_definitions(canned, telemetry, instrument_anthropic):
    instrument_anthropic()

    @anthropic.beta_tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    client(canned.play(json_response(message()))).beta.messages.create(**KWARGS, system="Be brief.", tools=[get_weather])
    validated = _validated(only_span(telemetry))
    assert validated["gen_ai.system_instructions"] == [{"type": "text", "content": "Be brief."}]
    (tool,) = validated["gen_ai.tool.definitions"]
    assert (tool["type"], tool["name"], tool["description"]) == ("function", "get_weather", "Weather for a city.")
    assert tool["parameters"]["properties"]["city"]["type"] == "string"


def test_generator_messages_and_block_content_are_not_consumed(canned, telemetry, instrument_anthropic):
    """genai changelog #522: capturing content never consumes the user's iterables."""
    instrument_anthropic()
    c = client(canned.play(json_response(message()), json_response(message())))
    c.messages.create(model=MODEL, max_tokens=64, messages=(m for m in USER))
    assert json.loads(canned.requests[-1].body)["messages"] == USER  # the SDK still got every message
    assert "gen_ai.input.messages" not in telemetry.spans()[0].attributes
    blocks = [{"type": "text", "text": "hi"}]
    c.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": (b for b in blocks)}])
    assert json.loads(canned.requests[-1].body)["messages"][0]["content"] == blocks
    assert json.loads(telemetry.spans()[1].attributes["gen_ai.input.messages"]) == [{"role": "user", "parts": []}]


# --- request parameters, finish reasons, ids ------------------------------------------------------------------
def test_request_parameters_with_semconv_names(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    client(canned.play(json_response(message(stop_reason="stop_sequence")))).messages.create(
        **KWARGS, stop_sequences=["END"], stream=False, extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40}
    )  # this SDK (2.12) has no sampling parameters of its own: they go through extra_body
    attrs = only_span(telemetry).attributes
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.top_k"] == 40.0 and isinstance(attrs["gen_ai.request.top_k"], float)
    assert list(attrs["gen_ai.request.stop_sequences"]) == ["END"]
    assert "gen_ai.request.stream" not in attrs  # set if and only if the request streams
    assert "gen_ai.output.type" not in attrs
    assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop_sequence"]
    assert attrs["gen_ai.response.id"] == "msg_test_1"
    assert attrs["gen_ai.response.model"] == MODEL + "-20260101"
    assert attrs["anthropic.request.id"] == "req_test_1"


def test_omit_and_not_given_parameters_give_no_attribute_warnings(canned, telemetry, instrument_anthropic, caplog):
    instrument_anthropic()
    with caplog.at_level(logging.WARNING):
        client(canned.play(json_response(message()))).messages.create(
            **KWARGS, stop_sequences=anthropic.omit, system=anthropic.omit, tools=anthropic.omit,
            metadata=anthropic.omit, thinking=anthropic.omit, timeout=anthropic.NOT_GIVEN, extra_body=None,
        )
    attrs = only_span(telemetry).attributes
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    assert "gen_ai.request.stop_sequences" not in attrs and "gen_ai.system_instructions" not in attrs


class Joke(pydantic.BaseModel):
    joke: str
    rating: int


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta.messages"])
def test_parse_is_one_span_with_json_output_type(beta, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    body = message([{"type": "text", "text": '{"joke": "trace me", "rating": 7}'}])
    c = client(canned.play(json_response(body)))
    parsed = (c.beta.messages if beta else c.messages).parse(**KWARGS, output_format=Joke)
    assert parsed.parsed_output == Joke(joke="trace me", rating=7)
    span = only_span(telemetry)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


def test_output_config_json_schema_sets_json_output_type(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    client(canned.play(json_response(message()))).messages.create(**KWARGS, output_config={"format": {"type": "json_schema", "schema": schema}})
    assert only_span(telemetry).attributes["gen_ai.output.type"] == "json"


# --- prompt caching token rule (G) ------------------------------------------------------------------------------
def test_cache_tokens_count_into_input_exactly_once(canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    body = message(input_tokens=10, output_tokens=12, cache_read=20, cache_creation=5)
    body["usage"]["output_tokens_details"] = {"thinking_tokens": 7}
    client(canned.play(json_response(body))).messages.create(**KWARGS)
    span = only_span(telemetry)
    attrs = span.attributes
    assert attrs["gen_ai.usage.input_tokens"] == 35
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 20
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 5
    assert attrs["gen_ai.usage.output_tokens"] == 12
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 7
    assert mlflow_usage(span) == {
        "input_tokens": 35, "output_tokens": 12, "total_tokens": 47, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 35, "output": 12}


@pytest.mark.parametrize(
    ("start_usage", "delta_usage", "expected_input", "expected_read", "expected_write"),
    [
        # message_delta repeats the cumulative input/cache counts: replaced, not added
        ({"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5, "output_tokens": 1},
         {"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5, "output_tokens": 12}, 35, 20, 5),
        # message_delta carries only output: message_start's input/cache counts stand
        ({"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5, "output_tokens": 1},
         {"output_tokens": 12}, 35, 20, 5),
        # message_delta updates a cache count: the later value wins
        ({"input_tokens": 10, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "output_tokens": 1},
         {"cache_read_input_tokens": 20, "output_tokens": 12}, 30, 20, 0),
    ],
    ids=["delta-repeats-input", "delta-output-only", "delta-updates-cache"],
)
def test_streamed_cache_tokens_are_never_double_counted(start_usage, delta_usage, expected_input, expected_read, expected_write, canned, telemetry, instrument_anthropic):
    instrument_anthropic()
    events = text_stream_events(start_usage=start_usage, delta_usage=delta_usage)
    with client(canned.play(sse_response(events))).messages.stream(**KWARGS) as stream:
        final = stream.get_final_message()
    span = only_span(telemetry)
    attrs = span.attributes
    assert attrs["gen_ai.usage.input_tokens"] == expected_input
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == expected_read
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == expected_write
    assert attrs["gen_ai.usage.output_tokens"] == 12
    assert mlflow_usage(span)["input_tokens"] == expected_input
    # the SDK's own final message agrees
    assert final.usage.input_tokens + final.usage.cache_read_input_tokens + final.usage.cache_creation_input_tokens == expected_input
