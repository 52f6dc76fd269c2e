"""The demo endpoint's OpenAI Responses API: ``POST /v1/responses``, in the exact wire format (a
``response`` object; for ``stream: true`` the SSE events ``response.created`` ... ``response.completed``).

Scenarios, chosen from the request: a function-call round trip (a request with function ``tools``
gets one ``function_call`` output item for the first tool, with arguments for the question's city;
a request whose ``input`` carries a ``function_call_output`` gets a message quoting it), else a
plain message. Token counts are word counts.
"""

from __future__ import annotations

import json
from typing import Any

from . import weather
from .server import Request, Response

RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1763726400
PLAIN_ANSWER = "Each OpenTelemetry span of this call carries the model, the latency and the tokens it used."

_JSON = [("Content-Type", "application/json"), ("x-request-id", "req_demo_responses")]


def _texts(value: Any) -> list[str]:
    """Every text in a Responses ``input`` (a string, or items with string or part-list content)."""
    if isinstance(value, str):
        return [value]
    texts: list[str] = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict):
            continue
        content = item.get("content", item.get("output"))
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if isinstance(item.get("arguments"), str):
            texts.append(item["arguments"])
    return texts


def _question(value: Any) -> str:
    if isinstance(value, str):
        return value
    for item in value if isinstance(value, list) else ():
        if isinstance(item, dict) and item.get("role") == "user":
            texts = _texts([item])
            if texts:
                return texts[0]
    return ""


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _tools_echo(tools: list[Any]) -> list[Any]:
    echoed = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            echoed.append({
                "type": "function",
                "description": tool.get("description"),
                "name": tool.get("name"),
                "parameters": tool.get("parameters"),
                "strict": tool.get("strict", True),
            })
        elif isinstance(tool, dict):
            echoed.append(tool)
    return echoed


def response_object(body: dict[str, Any], response_id: str, output: list[Any], usage: Any, status: str) -> dict[str, Any]:
    """A ``response`` object as the API returns it."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": RESPONSE_MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": _tools_echo(body.get("tools") or []),
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}] if status == "completed" else []
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "arguments": arguments, "call_id": call_id, "name": name}


def _sse(events: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for number, event in enumerate(events):
        event = {"type": event["type"], "sequence_number": number, **{k: v for k, v in event.items() if k != "type"}}
        out.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    return out


def _stream(body: dict[str, Any], final: dict[str, Any]) -> list[bytes]:
    """The SSE events of ``final`` (a completed response object), streamed item by item."""
    events: list[dict[str, Any]] = []
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    events.append({"type": "response.created", "response": started})
    events.append({"type": "response.in_progress", "response": started})
    for index, item in enumerate(final["output"]):
        base = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            events.append({"type": "response.output_item.added", "output_index": index, "item": _message_item(item["id"], "", "in_progress")})
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
            events.append({"type": "response.content_part.added", **base, "content_index": 0, "part": part})
            for piece in _pieces(text):
                events.append({"type": "response.output_text.delta", **base, "content_index": 0, "delta": piece, "logprobs": []})
            events.append({"type": "response.output_text.done", **base, "content_index": 0, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", **base, "content_index": 0, "part": {**part, "text": text}})
        else:
            added = _call_item(item["id"], item["call_id"], item["name"], "", "in_progress")
            events.append({"type": "response.output_item.added", "output_index": index, "item": added})
            for piece in _pieces(item["arguments"], size=8):
                events.append({"type": "response.function_call_arguments.delta", **base, "delta": piece})
            events.append({"type": "response.function_call_arguments.done", **base, "arguments": item["arguments"]})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": final})
    return _sse(events)


def _pieces(text: str, size: int = 0) -> list[str]:
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def respond(request: Request, chunk_delay: float = 0.0) -> Response:
    """Answer one ``POST /v1/responses``."""
    try:
        body = json.loads(request.body)
        given = body["input"]
    except (ValueError, KeyError, TypeError):
        return Response(400, b'{"error": {"message": "expected a JSON body with input", "type": "invalid_request_error"}}', _JSON)
    question = _question(given)
    city = weather.city_in(question)
    slug = city.lower().replace(" ", "_")
    texts = _texts(given)
    input_tokens = sum(weather.count_tokens(t) for t in texts) + 4 * (len(given) if isinstance(given, list) else 1)
    items = given if isinstance(given, list) else []
    results = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
    functions = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    if results:
        text = weather.final_answer(city, results[-1].get("output"))
        output = [_message_item(f"msg_demo_{slug}_2", text)]
        final = response_object(body, f"resp_demo_{slug}_2", output, _usage(input_tokens, weather.count_tokens(text)), "completed")
    elif functions:
        tool = functions[0]
        arguments = json.dumps(weather.tool_arguments(tool.get("parameters"), city))
        output = [_call_item(f"fc_demo_{slug}_1", f"call_demo_{slug}", tool.get("name") or "tool", arguments)]
        final = response_object(body, f"resp_demo_{slug}_1", output, _usage(input_tokens, 16), "completed")
    else:
        output = [_message_item("msg_demo_plain", PLAIN_ANSWER)]
        final = response_object(body, "resp_demo_plain", output, _usage(input_tokens, weather.count_tokens(PLAIN_ANSWER)), "completed")
    if body.get("stream"):
        return Response(200, _stream(body, final), [("Content-Type", "text/event-stream; charset=utf-8")], chunk_delay)
    return Response(200, json.dumps(final).encode(), _JSON)
