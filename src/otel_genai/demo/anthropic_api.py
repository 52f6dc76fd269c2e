"""The demo endpoint's Anthropic Messages API: ``POST /v1/messages``, in the exact wire format (a
``message`` object; for ``stream: true`` the SSE events ``message_start`` ... ``message_stop``).

Scenarios, chosen from the request: a tool_use round trip (a request with ``tools`` gets a short
text block and one ``tool_use`` block for the first tool, with input for the question's city; a
request whose last user turn carries a ``tool_result`` gets an answer quoting it), else a plain
answer. The model id is echoed as the API does. Token counts are word counts.
"""

from __future__ import annotations

import json
from typing import Any

from . import weather
from .server import Request, Response

PLAIN_ANSWER = "Claude's calls become OpenTelemetry spans with their model, latency and token usage."

_JSON = [("Content-Type", "application/json"), ("request-id", "req_demo_messages")]


def _error(status: int, message: str) -> Response:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    return Response(status, json.dumps(body).encode(), _JSON)


def _block_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts += _block_texts(block.get("content"))
        elif block.get("type") == "tool_use":
            texts.append(json.dumps(block.get("input")))
    return texts


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_object(message_id: str, model: str, content: list[Any], stop_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
    """A ``message`` object as the API returns it."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _stream(message: dict[str, Any]) -> list[bytes]:
    """The SSE events of ``message``, block by block."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": 1}
    events = [_event("message_start", {"type": "message_start", "message": {
        **message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(_event("content_block_start", {"type": "content_block_start", "index": index,
                                                         "content_block": {"type": "text", "text": ""}}))
            if index == 0:
                events.append(_event("ping", {"type": "ping"}))
            words = block["text"].split(" ")
            for piece in [words[0]] + [" " + w for w in words[1:]]:
                events.append(_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                             "delta": {"type": "text_delta", "text": piece}}))
        else:
            events.append(_event("content_block_start", {"type": "content_block_start", "index": index,
                                                         "content_block": {**block, "input": {}}}))
            partial = json.dumps(block["input"])
            for piece in [""] + [partial[i : i + 8] for i in range(0, len(partial), 8)]:
                events.append(_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                             "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(_event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                           "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events


def respond(request: Request, chunk_delay: float = 0.0) -> Response:
    """Answer one ``POST /v1/messages``."""
    try:
        body = json.loads(request.body)
        messages = body["messages"]
        model = body["model"]
        if not isinstance(messages, list) or not messages:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(400, "expected a JSON body with model and a non-empty messages list")
    first_user = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), {})
    question = next(iter(_block_texts(first_user.get("content"))), "")
    city = weather.city_in(question)
    slug = city.lower().replace(" ", "_")
    input_tokens = sum(4 + sum(weather.count_tokens(t) for t in _block_texts(m.get("content")))
                       for m in messages if isinstance(m, dict))
    system = body.get("system")
    input_tokens += sum(weather.count_tokens(t) for t in _block_texts(system)) if system else 0
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    results = [b for b in last.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_result"] \
        if isinstance(last.get("content"), list) else []
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    if results:
        text = weather.final_answer(city, " ".join(_block_texts(results[-1].get("content"))))
        message = message_object(f"msg_demo_{slug}_2", model, [{"type": "text", "text": text}], "end_turn",
                                 _usage(input_tokens, weather.count_tokens(text)))
    elif tools:
        tool = tools[0]
        preface = f"I'll look up the current weather in {city}."
        content = [
            {"type": "text", "text": preface},
            {"type": "tool_use", "id": f"toolu_demo_{slug}", "name": tool["name"],
             "input": weather.tool_arguments(tool.get("input_schema"), city)},
        ]
        message = message_object(f"msg_demo_{slug}_1", model, content, "tool_use",
                                 _usage(input_tokens, weather.count_tokens(preface) + 12))
    else:
        message = message_object("msg_demo_plain", model, [{"type": "text", "text": PLAIN_ANSWER}], "end_turn",
                                  _usage(input_tokens, weather.count_tokens(PLAIN_ANSWER)))
    if body.get("stream"):
        return Response(200, _stream(message), [("Content-Type", "text/event-stream; charset=utf-8"),
                                                ("request-id", "req_demo_messages")], chunk_delay)
    return Response(200, json.dumps(message).encode(), _JSON)
