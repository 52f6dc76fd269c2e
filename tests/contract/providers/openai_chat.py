"""The OpenAI Chat Completions case: ``chat.completions.create`` (plain, tools, ``stream=True``) and
the ``chat.completions.stream()`` helper, with the demo fixture's canned chat bodies."""

from __future__ import annotations

import json

import httpx2
import openai
from openai.lib.streaming.chat import AsyncChatCompletionStreamManager, ChatCompletionStreamManager

from otel_genai.demo import fixture
from otel_genai.demo.server import Response
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.instrumentation.openai.chat import ChatCompletions, ChatStreamAccumulator

from ..case import ProviderCase, StreamApi
from ._stainless import factories

MODEL = "gpt-4o-mini"
SYSTEM = "Be brief."
USER = {"role": "user", "content": "Say something about tracing."}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}]
JSON = [("Content-Type", "application/json"), ("x-request-id", "req_demo")]
PIECES = fixture.split_words(fixture.STREAMED_ANSWER)


def _json(body: dict, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), JSON)


def _plain() -> Response:
    message = {"role": "assistant", "content": fixture.PLAIN_ANSWER}
    return _json(fixture.chat_completion("chatcmpl-demo-plain", message, "stop", 14, 21))


def _tool_call() -> Response:
    call = {"id": "call_demo_weather", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return _json(fixture.chat_completion("chatcmpl-demo-tool-1", message, "tool_calls", 14, 12))


def _stream(chunk_delay: float) -> Response:
    events = fixture.chat_chunks("chatcmpl-demo-stream", PIECES, 10, include_usage=True)
    return Response(200, events, [("Content-Type", "text/event-stream"), ("x-request-id", "req_demo")], chunk_delay)


def _error(status: int) -> Response:
    return _json({"error": {"message": "slow down", "type": "requests", "code": None}}, status)


def _chunk_text(chunk) -> str:
    return "".join(choice.delta.content or "" for choice in chunk.choices)


def _stream_surface(stream) -> None:
    assert isinstance(stream, (openai.Stream, openai.AsyncStream))
    assert isinstance(stream.response, httpx2.Response)


def _manager_surface(manager) -> None:
    assert isinstance(manager, (ChatCompletionStreamManager, AsyncChatCompletionStreamManager))


def _tool_calls(result) -> list[dict]:
    calls = result.choices[0].message.tool_calls or []
    return [{"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in calls]


client, aclient, raising_client = factories(openai.OpenAI, openai.AsyncOpenAI, "/v1")

CASE = ProviderCase(
    name="openai.chat",
    sdk="openai",
    instrumentor=OpenAIInstrumentor,
    scope="otel_genai.instrumentation.openai",
    provider="openai",
    span_name=f"chat {MODEL}",
    client=client,
    aclient=aclient,
    raising_client=raising_client,
    plain_response=_plain,
    stream_response=_stream,
    tool_call_response=_tool_call,
    error_response=_error,
    plain=lambda c, **kw: c.chat.completions.create(model=MODEL, messages=[{"role": "system", "content": SYSTEM}, USER], **kw),
    tool_call=lambda c, **kw: c.chat.completions.create(model=MODEL, messages=[USER], tools=TOOLS, **kw),
    streams=(
        StreamApi(
            "create(stream=True)",
            lambda c: c.chat.completions.create(model=MODEL, messages=[USER], stream=True),
            _chunk_text,
            surface=_stream_surface,
        ),
        StreamApi(
            "chat.completions.stream()",
            lambda c: c.chat.completions.stream(model=MODEL, messages=[USER]),
            lambda event: event.delta if event.type == "content.delta" else "",
            helper=True,
            surface=_manager_surface,
        ),
    ),
    text=lambda result: result.choices[0].message.content or "",
    tool_calls=_tool_calls,
    dump=lambda result: result.model_dump(),
    user_text=USER["content"],
    system_text=SYSTEM,
    system_attribute="gen_ai.input.messages",  # chat keeps system messages among the input messages
    plain_text=fixture.PLAIN_ANSWER,
    plain_id="chatcmpl-demo-plain",
    stream_text=fixture.STREAMED_ANSWER,
    tool_finish_reason="tool_calls",
    stream_attributes={
        "gen_ai.response.id": "chatcmpl-demo-stream",
        "gen_ai.response.model": fixture.RESPONSE_MODEL,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": len(PIECES),
    },
    partial_attributes={"gen_ai.response.id": "chatcmpl-demo-stream"},
    header_attributes={},
    errors={400: openai.BadRequestError, 429: openai.RateLimitError},
    connection_error=None,  # openai wraps only httpx's own errors
    extraction_faults=((ChatCompletions, "response"), (ChatStreamAccumulator, "on_chunk")),
    request_fault=(ChatCompletions, "request"),
    unset_params={
        "temperature": openai.NOT_GIVEN, "top_p": openai.omit, "max_tokens": None, "seed": None, "stop": None, "n": None,
        "service_tier": openai.NOT_GIVEN,
    },
    unset_attributes=(
        "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens", "gen_ai.request.seed",
        "gen_ai.request.stop_sequences", "gen_ai.request.choice.count",
    ),
)
