"""The demo's local endpoint: the project's own canned answers in the exact wire formats of the
OpenAI Chat Completions API (JSON bodies; SSE ``data:`` events ending in ``data: [DONE]`` for
streams), the OpenAI Responses API (:mod:`.responses_api`), the Anthropic Messages API
(:mod:`.anthropic_api`) and an Open-Meteo-shaped ``GET /v1/forecast`` (:mod:`.weather`).
:func:`respond` routes a request by its path.

Chat Completions scenarios, chosen from the request: a plain answer, a streamed answer (with the
usage chunk when ``stream_options.include_usage`` is set), and a two-turn tool call (first a
``tool_calls`` answer calling the first tool with arguments for the question's city, then a final
answer that quotes the tool's result). Token counts are deterministic (a word count), so the demo
prints the same figures every run.
"""

from __future__ import annotations

import json
from typing import Any

from . import anthropic_api, gemini_api, responses_api, weather
from .server import Request, Response

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1763726400

PLAIN_ANSWER = (
    "OpenTelemetry gives every LLM call a span: the model, the latency and the tokens it used, "
    "in the same trace as the rest of your app."
)
STREAMED_ANSWER = "Spans, metrics and logs: three signals, one context, zero vendor lock-in."


def _count(text: str) -> int:
    return max(1, len(text.split()))


def _prompt_tokens(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        total += 4 + (_count(content) if isinstance(content, str) else 1)
    return total


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def chat_completion(
    completion_id: str, message: dict[str, Any], finish_reason: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """A ``chat.completion`` object with one choice."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": _usage(prompt_tokens, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": "fp_demo0001",
    }


def chat_chunks(completion_id: str, pieces: list[str], prompt_tokens: int, include_usage: bool) -> list[bytes]:
    """SSE events of a streamed ``chat.completion.chunk`` answer, ``[DONE]`` last."""

    def chunk(delta: dict[str, Any], finish_reason: str | None, usage: Any = None, choices: bool = True) -> bytes:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": RESPONSE_MODEL,
            "service_tier": "default",
            "system_fingerprint": "fp_demo0001",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}] if choices else [],
        }
        if include_usage:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": piece}, None) for piece in pieces]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(chunk({}, None, _usage(prompt_tokens, _count("".join(pieces))), choices=False))
    events.append(b"data: [DONE]\n\n")
    return events


def split_words(text: str) -> list[str]:
    """``text`` as stream pieces, one word (with its leading space) each."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


_ROUTES = (
    ("POST", "/chat/completions", lambda request, delay: chat_respond(request, delay)),
    ("POST", "/responses", responses_api.respond),
    ("POST", "/v1/messages", anthropic_api.respond),
    ("POST", ":generateContent", gemini_api.respond),
    ("POST", ":streamGenerateContent", gemini_api.respond),
    ("GET", "/v1/forecast", lambda request, delay: weather.forecast(request)),
)


def respond(request: Request, chunk_delay: float = 0.0) -> Response:
    """Answer one request: ``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/messages``
    or ``GET /v1/forecast``; anything else is a 404."""
    path = request.path.split("?", 1)[0].rstrip("/")
    for method, suffix, route in _ROUTES:
        if request.method == method and path.endswith(suffix):
            return route(request, chunk_delay)
    return Response(404, b'{"error": {"message": "the demo endpoint serves POST /v1/chat/completions, '
                    b'/v1/responses and /v1/messages, and GET /v1/forecast"}}')


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def chat_respond(request: Request, chunk_delay: float = 0.0) -> Response:
    """Answer one ``POST /v1/chat/completions`` as the demo scenarios describe."""
    try:
        body = json.loads(request.body)
        messages = body["messages"]
    except (ValueError, KeyError, TypeError):
        return Response(400, b'{"error": {"message": "expected a JSON body with messages"}}')
    json_headers = [("Content-Type", "application/json"), ("x-request-id", "req_demo")]
    prompt = _prompt_tokens(messages)
    tool_results = [m for m in messages if isinstance(m, dict) and m.get("role") == "tool"]
    if tool_results:
        text = weather.final_answer(weather.city_in(_last_user_text(messages)), tool_results[-1].get("content"))
        answer = chat_completion("chatcmpl-demo-tool-2", {"role": "assistant", "content": text}, "stop", prompt, _count(text))
        return Response(200, json.dumps(answer).encode(), json_headers)
    if body.get("tools"):
        function = (body["tools"][0] or {}).get("function") or {}
        arguments = json.dumps(weather.tool_arguments(function.get("parameters"), weather.city_in(_last_user_text(messages))))
        call = {"id": "call_demo_weather", "type": "function", "function": {"name": function.get("name") or "get_weather", "arguments": arguments}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        answer = chat_completion("chatcmpl-demo-tool-1", message, "tool_calls", prompt, 12)
        return Response(200, json.dumps(answer).encode(), json_headers)
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = chat_chunks("chatcmpl-demo-stream", split_words(STREAMED_ANSWER), prompt, include_usage)
        return Response(200, events, [("Content-Type", "text/event-stream")], chunk_delay)
    answer = chat_completion("chatcmpl-demo-plain", {"role": "assistant", "content": PLAIN_ANSWER}, "stop", prompt, _count(PLAIN_ANSWER))
    return Response(200, json.dumps(answer).encode(), json_headers)
