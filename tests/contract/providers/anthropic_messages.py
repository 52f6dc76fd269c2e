"""The Anthropic Messages case: ``messages.create`` (plain, tools, ``stream=True``) and the
``messages.stream()`` helper, with ``anthropic_support``'s canned message bodies and SSE events."""

from __future__ import annotations

import anthropic
from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStreamManager

from anthropic_support import ANTHROPIC_ENV, MODEL, USER, error_response, json_response, message, sse_response, text_stream_events
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.anthropic.messages import Messages, MessagesStreamAccumulator

from ..case import ProviderCase, StreamApi
from ._stainless import factories

SYSTEM = "Be brief."
KWARGS = {"model": MODEL, "max_tokens": 64, "messages": USER}
TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
ERRORS = {400: ("invalid_request_error", anthropic.BadRequestError), 429: ("rate_limit_error", anthropic.RateLimitError)}


def _stream_surface(stream) -> None:
    assert isinstance(stream, (anthropic.Stream, anthropic.AsyncStream))
    assert stream.response.headers["request-id"] == "req_test_1"


def _manager_surface(manager) -> None:
    assert isinstance(manager, (MessageStreamManager, AsyncMessageStreamManager))


def _event_text(event) -> str:
    return event.delta.text if event.type == "content_block_delta" and event.delta.type == "text_delta" else ""


client, aclient, raising_client = factories(anthropic.Anthropic, anthropic.AsyncAnthropic)

CASE = ProviderCase(
    name="anthropic.messages",
    sdk="anthropic",
    instrumentor=AnthropicInstrumentor,
    scope="otel_genai.instrumentation.anthropic",
    provider="anthropic",
    span_name=f"chat {MODEL}",
    client=client,
    aclient=aclient,
    raising_client=raising_client,
    plain_response=lambda: json_response(message()),
    stream_response=lambda chunk_delay: sse_response(text_stream_events(), chunk_delay=chunk_delay),
    tool_call_response=lambda: json_response(message([TOOL_USE], stop_reason="tool_use")),
    error_response=lambda status: error_response(status, ERRORS[status][0]),
    plain=lambda c, **kw: c.messages.create(**KWARGS, system=SYSTEM, **kw),
    tool_call=lambda c, **kw: c.messages.create(**KWARGS, tools=TOOLS, **kw),
    streams=(
        StreamApi("create(stream=True)", lambda c: c.messages.create(**KWARGS, stream=True), _event_text, surface=_stream_surface),
        StreamApi(
            "messages.stream()",
            lambda c: c.messages.stream(**KWARGS),
            lambda event: event.text if event.type == "text" else "",
            helper=True,
            surface=_manager_surface,
        ),
    ),
    text=lambda result: "".join(block.text for block in result.content if block.type == "text"),
    tool_calls=lambda result: [{"id": b.id, "name": b.name, "arguments": b.input} for b in result.content if b.type == "tool_use"],
    dump=lambda result: result.model_dump(),
    user_text=USER[0]["content"],
    system_text=SYSTEM,
    system_attribute="gen_ai.system_instructions",
    plain_text="Spans all the way down.",
    plain_id="msg_test_1",
    stream_text="Spans all the way down.",
    tool_finish_reason="tool_use",
    stream_attributes={  # input = 10 + cache read 20 + cache write 5, counted once
        "gen_ai.response.id": "msg_stream_1",
        "gen_ai.response.finish_reasons": ("end_turn",),
        "anthropic.request.id": "req_test_1",
        "gen_ai.usage.input_tokens": 35,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 20,
        "gen_ai.usage.cache_write.input_tokens": 5,
        "mlflow.chat.tokenUsage": {
            "input_tokens": 35, "output_tokens": 12, "total_tokens": 47, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 5,
        },
    },
    partial_attributes={"gen_ai.response.id": "msg_stream_1", "gen_ai.usage.input_tokens": 35, "anthropic.request.id": "req_test_1"},
    header_attributes={"anthropic.request.id": "req_test_1"},
    errors={status: exc for status, (_, exc) in ERRORS.items()},
    connection_error=anthropic.APIConnectionError,
    extraction_faults=((Messages, "response"), (MessagesStreamAccumulator, "on_chunk")),
    request_fault=(Messages, "request"),
    # anthropic 2.x sends sampling parameters through extra_body
    unset_params={
        "stop_sequences": anthropic.NOT_GIVEN, "metadata": anthropic.omit, "service_tier": None,
        "extra_body": {"temperature": None, "top_p": None, "top_k": None},
    },
    unset_attributes=("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.top_k", "gen_ai.request.stop_sequences"),
    uninstrumented_scopes=("com.anthropic.sdk.python",),  # the SDK's own span is back
    env_unset=ANTHROPIC_ENV,
)
