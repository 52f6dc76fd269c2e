"""The demo endpoint's Gemini API: ``POST .../models/{model}:generateContent`` and
``:streamGenerateContent`` (any prefix: ``/v1beta``, ``/v1``, or an AI gateway's
``/gateway/gemini/v1beta``), in the REST wire format (a ``GenerateContentResponse``; for a stream,
``alt=sse`` events ``data: {...}`` each carrying the response so far's usage and the last one the
finish reason).

Scenarios, chosen from the request: a function-call round trip (a request with function
declarations gets a ``functionCall`` of the first one, with arguments for the question's city; a
request whose last turn carries a ``functionResponse`` gets an answer quoting it), else a plain
answer. The model in the path is echoed as ``modelVersion`` (a gateway's endpoint name included).
Token counts are word counts, so the figures are the same every run.
"""

from __future__ import annotations

import json
from typing import Any

from . import weather
from .server import Request, Response

PLAIN_ANSWER = "Gemini's calls become OpenTelemetry spans with their model, latency and token usage."

_JSON = [("Content-Type", "application/json; charset=UTF-8")]
_SSE = [("Content-Type", "text/event-stream")]


def _error(status: int, message: str) -> Response:
    body = {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}
    return Response(status, json.dumps(body).encode(), _JSON)


def _texts(content: Any) -> list[str]:
    """The texts of a ``Content``'s parts (function calls and responses as their JSON)."""
    texts: list[str] = []
    for part in (content or {}).get("parts") or () if isinstance(content, dict) else ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        for key in ("functionCall", "functionResponse"):
            if isinstance(part.get(key), dict):
                texts.append(json.dumps(part[key]))
    return texts


def _function_responses(content: Any) -> list[dict[str, Any]]:
    parts = (content or {}).get("parts") or () if isinstance(content, dict) else ()
    return [p["functionResponse"] for p in parts if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]


def _declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        declaration
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or ()
        if isinstance(declaration, dict) and declaration.get("name")
    ]


def _model(path: str) -> str:
    """``models/{model}:action`` -> the model (or gateway endpoint) name."""
    return path.rsplit("/models/", 1)[-1].split(":", 1)[0] or "gemini-2.5-flash"


def respond(request: Request, chunk_delay: float = 0.0) -> Response:
    """Answer one ``generateContent`` / ``streamGenerateContent`` request."""
    try:
        body = json.loads(request.body)
        contents = body["contents"]
        if not isinstance(contents, list) or not contents:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(400, "expected a JSON body with a non-empty contents list")
    path = request.path.split("?", 1)[0]
    model = _model(path)
    question = next(iter(_texts(contents[0])), "")
    city = weather.city_in(question)
    slug = city.lower().replace(" ", "_")
    prompt = sum(4 + sum(weather.count_tokens(t) for t in _texts(c)) for c in contents)
    system = body.get("systemInstruction") or body.get("system_instruction")
    prompt += sum(weather.count_tokens(t) for t in _texts(system)) if isinstance(system, dict) else 0
    results = _function_responses(contents[-1])
    declarations = _declarations(body)
    if results:
        text = weather.final_answer(city, json.dumps(results[-1].get("response")))
        parts, response_id, output = [{"text": text}], f"demo-gemini-{slug}-2", weather.count_tokens(text)
    elif declarations:
        declaration = declarations[0]
        schema = declaration.get("parametersJsonSchema") or declaration.get("parameters_json_schema") or declaration.get("parameters")
        call = {"id": f"call_demo_{slug}", "name": declaration["name"], "args": weather.tool_arguments(_lower_types(schema), city)}
        parts, response_id, output = [{"functionCall": call}], f"demo-gemini-{slug}-1", 12
    else:
        parts, response_id, output = [{"text": PLAIN_ANSWER}], "demo-gemini-plain", weather.count_tokens(PLAIN_ANSWER)
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}
    if path.endswith(":streamGenerateContent"):
        return Response(200, _stream(model, response_id, parts, usage), _SSE, chunk_delay)
    answer = _response(model, response_id, parts, "STOP", usage)
    return Response(200, json.dumps(answer).encode(), _JSON)


def _lower_types(schema: Any) -> Any:
    """A Gemini ``Schema`` (``"type": "OBJECT"``) read as JSON Schema, for :func:`weather.tool_arguments`."""
    return {**schema, "type": str(schema.get("type", "")).lower()} if isinstance(schema, dict) else schema


def _response(model: str, response_id: str, parts: list, finish: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": response_id}


def _stream(model: str, response_id: str, parts: list, usage: dict[str, Any]) -> list[bytes]:
    """One event per word of a text answer (the prompt's count on each, the output's on the last),
    or one event for a function call."""
    open_usage = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
    text = parts[0].get("text") if len(parts) == 1 else None
    if isinstance(text, str):
        words = text.split(" ")
        pieces = [[{"text": w if i == 0 else " " + w}] for i, w in enumerate(words)]
    else:
        pieces = [parts]
    events = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        event = _response(model, response_id, piece, "STOP" if last else None, usage if last else open_usage)
        events.append(f"data: {json.dumps(event)}\r\n\r\n".encode())
    return events
