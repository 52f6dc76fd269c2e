"""Recorded Gemini API traffic (``../shared/recorded/gemini``: vcrpy cassettes of the ``google-genai``
SDK) served from a real loopback HTTP server, the SDK calls that replay each cassette, and what a
recorded response says its span must carry.

The SDK (``google-genai`` 3.x) talks ``httpx2``, which respx / vcrpy do not patch: the real client
is pointed at the loopback server with ``http_options={"base_url": ..., "api_version": "v1beta"}``
(the recordings' paths are ``/v1beta/...``; the cassettes' README). A recorded request body is the
REST form; :func:`generate_kwargs` turns it back into the SDK call's ``contents`` / ``config``
(SDK models validated from the JSON, so ``inlineData`` base64 becomes bytes again).

Most recorded responses have no headers at all; the SDK needs a ``Content-Type`` to parse the
Interactions API's, so the server adds ``application/json`` / ``text/event-stream`` when absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from otel_genai.demo.server import LoopbackServer, Request, Response

RECORDED = Path(os.environ.get("OTEL_GENAI_RECORDED", Path(__file__).resolve().parents[2] / "shared" / "recorded")) / "gemini"

GEMINI_ENV = ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")


@dataclass
class Exchange:
    """One recorded request / response."""

    path: str  # with the query (``?alt=sse``)
    request_body: dict[str, Any]
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def api(self) -> str:
        """``generateContent``, ``streamGenerateContent``, ``batchEmbedContents``, ``cachedContents``, ``interactions``."""
        path = self.path.split("?", 1)[0]
        return path.rsplit(":", 1)[1] if ":" in path else path.rsplit("/", 1)[1]

    @property
    def model(self) -> str | None:
        path = self.path.split("?", 1)[0]
        if "/models/" in path and ":" in path:
            return path.split("/models/", 1)[1].split(":", 1)[0]
        return None

    def decoded(self) -> bytes:
        if any(k.lower() == "content-encoding" and "gzip" in v for k, v in self.headers):
            import gzip

            return gzip.decompress(self.body)
        return self.body

    def json(self) -> Any:
        return json.loads(self.decoded())

    def events(self) -> list[Any]:
        """The ``data:`` payloads of an SSE body, decoded (without ``[DONE]``)."""
        found = []
        for line in self.decoded().decode().splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    found.append(json.loads(data))
        return found

    @property
    def is_sse(self) -> bool:
        return self.decoded().lstrip().startswith((b"data:", b"event:"))


@dataclass
class Cassette:
    """One recorded file: its exchanges in order."""

    name: str  # e.g. ``test_instrumentation/test_generate_content``
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.exchanges[0].api


def load_cassettes() -> list[Cassette]:
    """Every recorded Gemini cassette (raises if the recordings are missing: the set-up provides them)."""
    if not RECORDED.is_dir():
        raise FileNotFoundError(f"recorded Gemini traffic not found at {RECORDED} (set OTEL_GENAI_RECORDED)")
    cassettes = []
    for file in sorted(RECORDED.rglob("*.yaml")):
        cassette = Cassette(file.relative_to(RECORDED).as_posix()[:-5])
        for item in yaml.safe_load(file.read_text())["interactions"]:
            request, response = item["request"], item["response"]
            parts = urlsplit(request["uri"])
            body = response["body"]["string"]
            cassette.exchanges.append(
                Exchange(
                    path=parts.path + (f"?{parts.query}" if parts.query else ""),
                    request_body=json.loads(request["body"]),
                    status=response["status"]["code"],
                    headers=[(k, v) for k, values in (response.get("headers") or {}).items() for v in values],
                    body=body if isinstance(body, bytes) else body.encode(),
                )
            )
        cassettes.append(cassette)
    return cassettes


class GeminiReplayer:
    """A loopback server answering queued exchanges in order (500 in Gemini's error format when none
    is left); every request is kept."""

    def __init__(self) -> None:
        self.queue: list[Exchange] = []
        self.server = LoopbackServer(self._respond).start()

    def _respond(self, request: Request) -> Response:
        if not self.queue:
            return Response(500, b'{"error": {"code": 500, "message": "no recorded exchange left", "status": "INTERNAL"}}',
                            [("Content-Type", "application/json")])
        exchange = self.queue.pop(0)
        headers = list(exchange.headers)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "text/event-stream" if exchange.is_sse else "application/json"))
        return Response(exchange.status, exchange.body, headers)

    def play(self, *exchanges: Exchange) -> str:
        """Answer the next requests with ``exchanges``; returns the base URL."""
        self.queue[:] = exchanges
        self.server.requests.clear()
        return self.server.base_url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def stop(self) -> None:
        self.server.stop()


def client(base_url: str, **http_options: Any) -> Any:
    """A real ``genai.Client`` on ``base_url`` (Gemini Developer API, ``v1beta``, no retries)."""
    from google import genai

    return genai.Client(api_key="test", http_options={"base_url": base_url, "api_version": "v1beta", **http_options})


# --- the SDK call of a recorded request -----------------------------------------------------------------
def generate_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """``contents`` / ``config`` of ``models.generate_content`` for a recorded ``generateContent`` body
    (SDK models validated from the REST JSON: camel-case names, base64 bytes)."""
    from google.genai import types

    contents = [types.Content.model_validate_json(json.dumps(c)) for c in body["contents"]]
    config: dict[str, Any] = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent"):
        if key in body:
            config[key] = body[key]
    kwargs: dict[str, Any] = {"contents": contents}
    if config or "generationConfig" in body:
        kwargs["config"] = types.GenerateContentConfig.model_validate_json(json.dumps(config))
    return kwargs


def embed_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """``contents`` / ``config`` of ``models.embed_content`` for a recorded ``batchEmbedContents`` body:
    one request of several parts was one ``Content``; several requests were a list of them."""
    from google.genai import types

    requests = body["requests"]
    contents = [types.Content.model_validate_json(json.dumps(r["content"])) for r in requests]
    kwargs: dict[str, Any] = {"contents": contents[0] if len(contents) == 1 else contents}
    task_type = requests[0].get("taskType")
    if task_type:
        kwargs["config"] = types.EmbedContentConfig(task_type=task_type)
    return kwargs


def cache_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """``model`` / ``config`` of ``caches.create`` for a recorded ``cachedContents`` body."""
    from google.genai import types

    config = {k: v for k, v in body.items() if k != "model"}
    return {"model": body["model"], "config": types.CreateCachedContentConfig.model_validate_json(json.dumps(config))}


def get_weather(location: str, unit: str = "fahrenheit") -> dict[str, Any]:
    """This function will be automatically executed by Google GenAI.
    It must return a JSON-serializable value."""
    return {"location": location, "temperature": 65, "unit": unit, "condition": "foggy", "humidity": "85%"}


# --- what a recorded response says ----------------------------------------------------------------------
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}


def expected_usage(usage: dict[str, Any] | None) -> dict[str, int]:
    """The ``gen_ai.usage.*`` a recorded ``usageMetadata`` gives (docs: input = prompt + tool-use
    prompt, output = candidates + thoughts, cache read = cached content, reasoning = thoughts)."""
    if not usage:
        return {}
    out: dict[str, int] = {}
    if "promptTokenCount" in usage or "toolUsePromptTokenCount" in usage:
        out["gen_ai.usage.input_tokens"] = usage.get("promptTokenCount", 0) + usage.get("toolUsePromptTokenCount", 0)
    if "candidatesTokenCount" in usage or "thoughtsTokenCount" in usage:
        out["gen_ai.usage.output_tokens"] = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    if "cachedContentTokenCount" in usage:
        out["gen_ai.usage.cache_read.input_tokens"] = usage["cachedContentTokenCount"]
    if "thoughtsTokenCount" in usage:
        out["gen_ai.usage.reasoning.output_tokens"] = usage["thoughtsTokenCount"]
    return out


def expected_generation(exchange: Exchange) -> dict[str, Any]:
    """From a ``generateContent`` JSON or ``streamGenerateContent`` SSE response: response id, model
    version, finish reasons (mapped; ``tool_call`` for a candidate with function calls), usage (the
    last chunk's), and per candidate its joined text and its function calls ``[(name, args)]``."""
    chunks = exchange.events() if exchange.is_sse else [exchange.json()]
    out: dict[str, Any] = {"attributes": {}, "texts": {}, "calls": {}}
    reasons: dict[int, str] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("responseId"):
            out["attributes"]["gen_ai.response.id"] = chunk["responseId"]
        if chunk.get("modelVersion"):
            out["attributes"]["gen_ai.response.model"] = chunk["modelVersion"]
        if chunk.get("usageMetadata"):
            usage = chunk["usageMetadata"]
        for candidate in chunk.get("candidates") or ():
            index = candidate.get("index", 0)
            for part in (candidate.get("content") or {}).get("parts") or ():
                if "text" in part:
                    key = "thought" if part.get("thought") else "text"
                    out["texts"].setdefault(index, {}).setdefault(key, "")
                    out["texts"][index][key] += part["text"]
                if "functionCall" in part:
                    out["calls"].setdefault(index, []).append((part["functionCall"]["name"], part["functionCall"].get("args")))
            if candidate.get("finishReason"):
                raw = candidate["finishReason"]
                reason = _FINISH.get(raw, raw)
                reasons[index] = "tool_call" if reason == "stop" and out["calls"].get(index) else reason
    if reasons:
        out["attributes"]["gen_ai.response.finish_reasons"] = tuple(reasons[i] for i in sorted(reasons))
    out["attributes"].update(expected_usage(usage))
    return out


# --- canned responses in the Gemini REST shapes ---------------------------------------------------------
JSON_HEADERS = [("Content-Type", "application/json")]
SSE_HEADERS = [("Content-Type", "text/event-stream")]


def generation(response_id: str, parts: list, finish: str | None = "STOP", usage: dict | None = None, model: str = "gemini-2.5-flash") -> dict:
    """A ``GenerateContentResponse`` body: one candidate with ``parts``."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
    if usage is not None:
        body["usageMetadata"] = usage
    return body


def json_response(body: dict, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), JSON_HEADERS)


def sse_response(events: list[dict], chunk_delay: float = 0.0) -> Response:
    """An ``alt=sse`` stream of ``events`` (one chunk per event when ``chunk_delay`` > 0)."""
    chunks = [f"data: {json.dumps(event)}\r\n\r\n".encode() for event in events]
    return Response(200, chunks if chunk_delay > 0 else b"".join(chunks), SSE_HEADERS, chunk_delay=chunk_delay)
