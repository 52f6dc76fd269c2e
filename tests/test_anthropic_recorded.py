"""Every recorded ``/v1/messages`` interaction (../shared/recorded/anthropic/**), replayed through the
real ``anthropic`` client (sync and async) from the loopback server, with the SDK's native tracing at
its default: exactly one ``chat <model>`` CLIENT span (ours), whose attributes and
``mlflow.chat.tokenUsage`` match the recorded response and whose content is valid semconv v1.41.1
JSON. Each cassette is replayed through the API it was recorded with: ``messages.create`` (plain or
``stream=True``), ``messages.stream()`` consumed by iteration, ``text_stream`` or
``get_final_message()``/``get_final_text()``, ``beta.messages.stream()``. The Bedrock recordings
(``/model/.../invoke``) replay through ``AnthropicBedrock`` / ``AsyncAnthropicBedrock``."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any
from urllib.parse import unquote, urlsplit

import anthropic
import pytest
from anthropic.resources.messages.messages import Messages as StableMessages
from opentelemetry.trace import SpanKind, StatusCode

from anthropic_support import (  # noqa: F401  (fixtures)
    instrument_anthropic,
    only_span,
    sdk_native_tracing_at_default,
)
from conftest import validate_content
from recorded import Interaction, Replayer, load_interactions

INTERACTIONS = load_interactions("anthropic", "/v1/messages")
BEDROCK = load_interactions("anthropic", "/invoke")
_CREATE_PARAMS = set(inspect.signature(StableMessages.create).parameters)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _api(interaction: Interaction) -> str:
    """The API the cassette was recorded with (its test name says which)."""
    name = interaction.cassette
    if not interaction.is_stream:
        return "create"
    if "text_stream_helper" in name:
        return "text_stream"
    if "streaming_helper_methods" in name:
        return "final_message"
    if "stream_manager" in name:
        return "beta_stream" if "beta" in name else "stream"
    return "create_stream"


def _kwargs(interaction: Interaction, helper: bool) -> dict[str, Any]:
    """The recorded request body as kwargs (unknown keys, e.g. the old ``output_format``, go
    through ``extra_body``; the stream helpers take no ``stream``)."""
    body = dict(interaction.request_body)
    if helper:
        body.pop("stream", None)
    extra = {k: body.pop(k) for k in list(body) if k not in _CREATE_PARAMS}
    return {**body, "extra_body": extra} if extra else body


def _call_sync(c: anthropic.Anthropic, interaction: Interaction, api: str) -> str | None:
    """Runs the call; returns the text the SDK surface gave back (helpers), if any."""
    kwargs = _kwargs(interaction, api not in ("create", "create_stream"))
    if api == "create":
        c.messages.create(**kwargs)
    elif api == "create_stream":
        with c.messages.create(**kwargs) as stream:
            for _ in stream:
                pass
    elif api in ("stream", "beta_stream"):
        resource = c.beta.messages if api == "beta_stream" else c.messages
        with resource.stream(**kwargs) as stream:
            for _ in stream:
                pass
            return "".join(b.text for b in stream.current_message_snapshot.content if b.type == "text")
    elif api == "text_stream":
        with c.messages.stream(**kwargs) as stream:
            return "".join(stream.text_stream)
    elif api == "final_message":
        with c.messages.stream(**kwargs) as stream:
            final = stream.get_final_message()
            text = stream.get_final_text()
            assert text == "".join(b.text for b in final.content if b.type == "text")
            return text
    return None


async def _call_async(c: anthropic.AsyncAnthropic, interaction: Interaction, api: str) -> str | None:
    kwargs = _kwargs(interaction, api not in ("create", "create_stream"))
    if api == "create":
        await c.messages.create(**kwargs)
    elif api == "create_stream":
        async with await c.messages.create(**kwargs) as stream:
            async for _ in stream:
                pass
    elif api in ("stream", "beta_stream"):
        resource = c.beta.messages if api == "beta_stream" else c.messages
        async with resource.stream(**kwargs) as stream:
            async for _ in stream:
                pass
            return "".join(b.text for b in stream.current_message_snapshot.content if b.type == "text")
    elif api == "text_stream":
        async with c.messages.stream(**kwargs) as stream:
            return "".join([t async for t in stream.text_stream])
    elif api == "final_message":
        async with c.messages.stream(**kwargs) as stream:
            final = await stream.get_final_message()
            text = await stream.get_final_text()
            assert text == "".join(b.text for b in final.content if b.type == "text")
            return text
    return None


def _run(replayer: Replayer, interaction: Interaction, mode: str) -> str | None:
    base_url = replayer.play(interaction)
    api = _api(interaction)
    if mode == "sync":
        with anthropic.Anthropic(api_key="test", base_url=base_url, max_retries=0) as c:
            return _call_sync(c, interaction, api)

    async def main() -> str | None:
        async with anthropic.AsyncAnthropic(api_key="test", base_url=base_url, max_retries=0) as c:
            return await _call_async(c, interaction, api)

    return asyncio.run(main())


def _expected(interaction: Interaction) -> dict[str, Any]:
    """What the recording says: id, model, stop reason, usage, text, thinking, tool calls."""
    if interaction.is_stream:
        events = interaction.sse_events()
        start = next(e["message"] for e in events if e["type"] == "message_start")
        usage = dict(start["usage"])
        usage.pop("output_tokens", None)  # a placeholder until message_delta
        stop_reason = None
        blocks: dict[int, dict[str, Any]] = {}
        for event in events:
            if event["type"] == "content_block_start":
                blocks[event["index"]] = {**event["content_block"], "json": ""}
            elif event["type"] == "content_block_delta":
                block, delta = blocks[event["index"]], event["delta"]
                if delta["type"] == "text_delta":
                    block["text"] += delta["text"]
                elif delta["type"] == "thinking_delta":
                    block["thinking"] += delta["thinking"]
                elif delta["type"] == "input_json_delta":
                    block["json"] += delta["partial_json"]
            elif event["type"] == "message_delta":
                stop_reason = event["delta"].get("stop_reason") or stop_reason
                usage.update({k: v for k, v in event["usage"].items() if v is not None})
        content = [blocks[i] for i in sorted(blocks)]
        for block in content:
            if block["type"] == "tool_use":
                block["input"] = json.loads(block["json"] or "{}")
        return {"id": start["id"], "model": start["model"], "stop_reason": stop_reason, "usage": usage, "content": content}
    body = interaction.json()
    return {"id": body["id"], "model": body["model"], "stop_reason": body["stop_reason"], "usage": body["usage"], "content": body["content"]}


def _header(interaction: Interaction, name: str) -> str | None:
    return next((v for k, v in interaction.headers if k.lower() == name), None)


def _assert_usage(attrs: Any, usage: dict[str, Any]) -> None:
    """Anthropic token rule: input = input + cache read + cache creation, each exactly once."""
    cache_read = usage.get("cache_read_input_tokens")
    cache_write = usage.get("cache_creation_input_tokens")
    total_input = usage["input_tokens"] + (cache_read or 0) + (cache_write or 0)
    assert attrs["gen_ai.usage.input_tokens"] == total_input
    assert attrs["gen_ai.usage.output_tokens"] == usage["output_tokens"]
    mlflow = json.loads(attrs["mlflow.chat.tokenUsage"])
    assert mlflow["input_tokens"] == total_input
    assert mlflow["output_tokens"] == usage["output_tokens"]
    assert mlflow["total_tokens"] == total_input + usage["output_tokens"]
    if cache_read is not None:
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == cache_read
        assert mlflow["cache_read_input_tokens"] == cache_read
    else:
        assert "gen_ai.usage.cache_read.input_tokens" not in attrs
        assert "cache_read_input_tokens" not in mlflow
    if cache_write is not None:
        assert attrs["gen_ai.usage.cache_write.input_tokens"] == cache_write
        assert mlflow["cache_creation_input_tokens"] == cache_write
    else:
        assert "gen_ai.usage.cache_write.input_tokens" not in attrs


def _assert_output(attrs: Any, expected: dict[str, Any]) -> None:
    (output,) = validate_content("gen_ai.output.messages", attrs["gen_ai.output.messages"])
    assert output["role"] == "assistant"
    assert output["finish_reason"] == expected["stop_reason"]
    parts = output["parts"]
    assert [p["type"] for p in parts] == [
        {"text": "text", "thinking": "reasoning", "redacted_thinking": "reasoning", "tool_use": "tool_call"}[b["type"]]
        for b in expected["content"]
    ]
    for part, block in zip(parts, expected["content"]):
        if block["type"] == "text":
            assert part["content"] == block["text"]
        elif block["type"] == "thinking":
            assert part["content"] == block["thinking"]
        elif block["type"] == "tool_use":
            assert (part["id"], part["name"], part["arguments"]) == (block["id"], block["name"], block["input"])


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", INTERACTIONS, ids=lambda i: i.id)
def test_recorded_message_becomes_one_matching_span(interaction, mode, telemetry, instrument_anthropic, replayer):
    instrument_anthropic("SPAN_ONLY")
    returned_text = _run(replayer, interaction, mode)
    expected = _expected(interaction)
    span = only_span(telemetry)  # ours only: the SDK's own anthropic.messages.create span is suppressed
    attrs = span.attributes
    model = interaction.request_body["model"]
    assert span.name == f"chat {model}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["mlflow.llm.provider"] == "anthropic"
    assert attrs["mlflow.spanType"] == "CHAT_MODEL"
    assert attrs["gen_ai.request.model"] == model
    assert attrs["gen_ai.request.max_tokens"] == interaction.request_body["max_tokens"]
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == urlsplit(replayer.server.base_url).port
    assert attrs["gen_ai.response.id"] == expected["id"]
    assert attrs["gen_ai.response.model"] == expected["model"]
    assert list(attrs["gen_ai.response.finish_reasons"]) == [expected["stop_reason"]]
    assert attrs["anthropic.request.id"] == _header(interaction, "request-id")
    if interaction.is_stream:
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    else:
        assert "gen_ai.request.stream" not in attrs
    if "output_format" in interaction.request_body:
        assert attrs["gen_ai.output.type"] == "json"
    _assert_usage(attrs, expected["usage"])

    inputs = validate_content("gen_ai.input.messages", attrs["gen_ai.input.messages"])
    assert [m["role"] for m in inputs] == [m["role"] for m in interaction.request_body["messages"]]
    assert "data:" not in attrs["gen_ai.input.messages"] and len(attrs["gen_ai.input.messages"]) < 20_000  # no base64
    _assert_output(attrs, expected)
    if returned_text is not None:  # what the helper gave the user is what the span recorded
        assert returned_text == "".join(b["text"] for b in expected["content"] if b["type"] == "text")
    system = interaction.request_body.get("system")
    if system:
        instructions = validate_content("gen_ai.system_instructions", attrs["gen_ai.system_instructions"])
        texts = [system] if isinstance(system, str) else [b["text"] for b in system]
        assert [p["content"] for p in instructions] == texts
    if interaction.request_body.get("tools"):
        tools = validate_content("gen_ai.tool.definitions", attrs["gen_ai.tool.definitions"])
        assert [t["name"] for t in tools] == [t["name"] for t in interaction.request_body["tools"]]
        assert all(t["type"] == "function" and "parameters" in t for t in tools)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", INTERACTIONS[::4], ids=lambda i: i.id)
def test_recorded_message_without_content_capture_records_no_content(interaction, mode, telemetry, instrument_anthropic, replayer):
    instrument_anthropic("NO_CONTENT")
    _run(replayer, interaction, mode)
    span = only_span(telemetry)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions", "gen_ai.system_instructions"):
        assert key not in span.attributes
    expected = _expected(interaction)
    assert span.attributes["gen_ai.response.id"] == expected["id"]
    _assert_usage(span.attributes, expected["usage"])


# --- Bedrock recordings (/model/{model}/invoke) ----------------------------------------------------------
def _bedrock_model(interaction: Interaction) -> str:
    return unquote(interaction.path.split("/")[2])


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", BEDROCK, ids=lambda i: i.id)
def test_recorded_bedrock_message_is_one_aws_bedrock_span(interaction, mode, telemetry, instrument_anthropic, replayer):
    instrument_anthropic("SPAN_ONLY")
    base_url = replayer.play(interaction)
    model = _bedrock_model(interaction)
    kwargs = {"model": model, "max_tokens": interaction.request_body["max_tokens"], "messages": interaction.request_body["messages"]}
    beta = "beta" in interaction.cassette
    raw = "raw_response" in interaction.cassette
    options = {"aws_region": "us-east-1", "api_key": "test", "base_url": base_url, "max_retries": 0}

    def call(messages: Any) -> Any:
        return (messages.with_raw_response.create if raw else messages.create)(**kwargs)

    if mode == "sync":
        c = anthropic.AnthropicBedrock(**options)
        result = call(c.beta.messages if beta else c.messages)
        message = result.parse() if raw else result
    else:

        async def main() -> Any:
            c = anthropic.AsyncAnthropicBedrock(**options)
            result = await call(c.beta.messages if beta else c.messages)
            return (await result.parse()) if raw else result

        message = asyncio.run(main())
    body = interaction.json()
    assert message.id == body["id"]
    span = only_span(telemetry)
    attrs = span.attributes
    assert span.name == f"chat {model}"
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["gen_ai.response.id"] == body["id"]
    assert attrs["gen_ai.response.model"] == body["model"]
    assert list(attrs["gen_ai.response.finish_reasons"]) == [body["stop_reason"]]
    _assert_usage(attrs, body["usage"])
    _assert_output(attrs, {"stop_reason": body["stop_reason"], "content": body["content"]})
