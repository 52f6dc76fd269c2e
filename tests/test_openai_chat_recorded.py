"""Every recorded ``/v1/chat/completions`` interaction, replayed through the real ``openai`` client
(sync and async) from a loopback server: one ``chat <model>`` CLIENT span whose attributes and
``mlflow.chat.tokenUsage`` match the recorded response, and content JSON valid against semconv
v1.41.1 when capture is on (absent when off)."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import openai
import pytest
from openai.resources.chat.completions.completions import Completions
from opentelemetry.trace import SpanKind, StatusCode

from conftest import validate_content
from recorded import Interaction, Replayer, load_interactions

INTERACTIONS = load_interactions("openai", "/chat/completions")
_CREATE_PARAMS = set(inspect.signature(Completions.create).parameters)


def _kwargs(interaction: Interaction) -> dict[str, Any]:
    """The recorded request body as ``create()`` kwargs (unknown keys go through ``extra_body``)."""
    body = dict(interaction.request_body)
    extra = {k: body.pop(k) for k in list(body) if k not in _CREATE_PARAMS}
    return {**body, "extra_body": extra} if extra else body


def _expected(interaction: Interaction) -> dict[str, Any]:
    """What the recorded response says: id, model, finish reasons, usage, output texts per choice."""
    if interaction.is_stream:
        events = interaction.sse_events()
        first = lambda key: next((e[key] for e in events if e.get(key)), None)  # noqa: E731
        usage = next((e["usage"] for e in events if e.get("usage")), None)
        choices: dict[int, dict[str, Any]] = {}
        for event in events:
            for choice in event.get("choices") or ():
                state = choices.setdefault(choice["index"], {"text": "", "finish_reason": None})
                delta = choice.get("delta") or {}
                state["text"] += delta.get("content") or ""
                if choice.get("finish_reason"):
                    state["finish_reason"] = choice["finish_reason"]
        ordered = [choices[i] for i in sorted(choices)]
        return {"id": first("id"), "model": first("model"), "usage": usage, "choices": ordered}
    body = interaction.json()
    ordered = [
        {"text": (c.get("message") or {}).get("content") or "", "finish_reason": c.get("finish_reason")}
        for c in body.get("choices") or ()
    ]
    return {"id": body.get("id"), "model": body.get("model"), "usage": body.get("usage"), "choices": ordered}


def _call_sync(client: openai.OpenAI, interaction: Interaction) -> Any:
    result = client.chat.completions.create(**_kwargs(interaction))
    if interaction.is_stream:
        for _ in result:
            pass
    return result


async def _call_async(client: openai.AsyncOpenAI, interaction: Interaction) -> Any:
    result = await client.chat.completions.create(**_kwargs(interaction))
    if interaction.is_stream:
        async for _ in result:
            pass
    return result


def _run(replayer: Replayer, interaction: Interaction, mode: str) -> Any:
    base_url = replayer.play(interaction) + "/v1"
    if mode == "sync":
        with openai.OpenAI(api_key="test", base_url=base_url, max_retries=0) as client:
            return _call_sync(client, interaction)

    async def main() -> Any:
        async with openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0) as client:
            return await _call_async(client, interaction)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("interaction", INTERACTIONS, ids=lambda i: i.id)
def test_recorded_chat_completion_becomes_one_matching_span(interaction, mode, telemetry, instrument, replayer):
    instrument("SPAN_ONLY")
    if interaction.status >= 400:
        with pytest.raises(openai.APIStatusError) as caught:
            _run(replayer, interaction, mode)
        (span,) = telemetry.spans()
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == f"openai.{type(caught.value).__name__}"
        assert "mlflow.chat.tokenUsage" not in span.attributes
        return

    _run(replayer, interaction, mode)
    expected = _expected(interaction)
    (span,) = telemetry.spans()
    attrs = span.attributes
    model = interaction.request_body["model"]
    assert span.name == f"chat {model}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == model
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["gen_ai.response.id"] == expected["id"]
    assert attrs.get("gen_ai.response.model") == (expected["model"] or None)
    reasons = [c["finish_reason"] for c in expected["choices"] if c["finish_reason"]]
    assert list(attrs.get("gen_ai.response.finish_reasons", ())) == reasons
    if interaction.is_stream:
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    else:
        assert "gen_ai.request.stream" not in attrs
    for param, attribute in (("temperature", "gen_ai.request.temperature"), ("seed", "gen_ai.request.seed")):
        if interaction.request_body.get(param) is not None:
            assert attrs[attribute] == interaction.request_body[param]

    usage = expected["usage"]
    if usage:
        cached = ((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        assert attrs["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
        mlflow_usage = json.loads(attrs["mlflow.chat.tokenUsage"])
        assert mlflow_usage["input_tokens"] == usage["prompt_tokens"]
        assert mlflow_usage["output_tokens"] == usage["completion_tokens"]
        assert mlflow_usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        if cached is not None:
            assert attrs["gen_ai.usage.cache_read.input_tokens"] == cached
            assert mlflow_usage["cache_read_input_tokens"] == cached
    else:  # a stream without include_usage reports no usage rather than a guess
        assert "gen_ai.usage.input_tokens" not in attrs
        assert "mlflow.chat.tokenUsage" not in attrs

    inputs = validate_content("gen_ai.input.messages", attrs["gen_ai.input.messages"])
    assert len(inputs) == len(interaction.request_body["messages"])
    outputs = validate_content("gen_ai.output.messages", attrs["gen_ai.output.messages"])
    assert len(outputs) == len(expected["choices"])
    for message, choice in zip(outputs, expected["choices"]):
        text = "".join(p["content"] for p in message["parts"] if p["type"] == "text")
        assert choice["text"] in text  # refusals / audio transcripts may add text parts
        assert message["finish_reason"] == (choice["finish_reason"] or "")
    if interaction.request_body.get("tools"):
        tools = validate_content("gen_ai.tool.definitions", attrs["gen_ai.tool.definitions"])
        assert [t["name"] for t in tools] == [t["function"]["name"] for t in interaction.request_body["tools"]]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "interaction",
    [i for i in INTERACTIONS if i.status == 200][:12],
    ids=lambda i: i.id,
)
def test_recorded_chat_without_content_capture_records_no_content(interaction, mode, telemetry, instrument, replayer):
    instrument("NO_CONTENT")
    _run(replayer, interaction, mode)
    (span,) = telemetry.spans()
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions", "gen_ai.system_instructions"):
        assert key not in span.attributes
    assert span.attributes["gen_ai.response.id"] == _expected(interaction)["id"]
