"""The Gemini case (``google-genai``): ``models.generate_content`` (plain, function declarations) and
``models.generate_content_stream``, on a real ``genai.Client`` pointed at the loopback server
(``http_options.base_url``; the SDK talks ``httpx2``, its async client ``aiohttp`` when installed),
with canned bodies in the Gemini REST shapes (``GenerateContentResponse`` JSON, ``alt=sse`` events)."""

from __future__ import annotations

import contextlib
import inspect
import json
from collections import deque
from collections.abc import AsyncIterator, Iterator

import httpx2
from google import genai
from google.genai import errors, types

from gemini_support import GEMINI_ENV
from otel_genai.demo.server import Response
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_genai.instrumentation.google_genai.models import GenerateContent, GenerateContentAccumulator

from ..case import ProviderCase, StreamApi

MODEL = "gemini-2.5-flash"
USER = "Say something about spans."
SYSTEM = "Be brief."
JSON = [("Content-Type", "application/json")]
SSE = [("Content-Type", "text/event-stream")]
PIECES = ["Spans", " all the way", " down."]
TOOLS = [types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="Weather", parameters_json_schema={"type": "object"})])]
CALL = {"id": "call_weather_1", "name": "get_weather", "args": {"city": "Paris"}}
STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}
# the final usage: 30 prompt tokens (20 of them cached) + 5 tool-use prompt tokens; 9 candidates + 3 thoughts
FINAL_USAGE = {
    "promptTokenCount": 30, "cachedContentTokenCount": 20, "toolUsePromptTokenCount": 5,
    "candidatesTokenCount": 9, "thoughtsTokenCount": 3, "totalTokenCount": 47,
}
OPEN_USAGE = {"promptTokenCount": 30, "cachedContentTokenCount": 20, "toolUsePromptTokenCount": 5, "totalTokenCount": 35}
NO_RETRY = types.HttpRetryOptions(attempts=1)


def _response(response_id: str, parts: list, finish: str | None, usage: dict) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": MODEL, "responseId": response_id}


def _json(body: dict, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), JSON)


def _plain() -> Response:
    return _json(_response("resp_plain_1", [{"text": "Spans all the way down."}], "STOP",
                           {"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18}))


def _tool_call() -> Response:
    return _json(_response("resp_tool_1", [{"functionCall": CALL}], "STOP",
                           {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25}))


def _stream(chunk_delay: float) -> Response:
    events = [
        _response("resp_stream_1", [{"text": piece}], "STOP" if last else None, FINAL_USAGE if last else OPEN_USAGE)
        for last, piece in ((i == len(PIECES) - 1, piece) for i, piece in enumerate(PIECES))
    ]
    chunks = [f"data: {json.dumps(event)}\r\n\r\n".encode() for event in events]
    return Response(200, chunks if chunk_delay > 0 else b"".join(chunks), SSE, chunk_delay=chunk_delay)


def _error(status: int) -> Response:
    return _json({"error": {"code": status, "message": f"canned {STATUS[status]}", "status": STATUS[status]}}, status)


# a genai.Client closes its HTTP client when collected, even while a stream it returned is still
# unread: the contract's one-line calls (``api.open(case.client(url))``) keep no reference, so these do
_LIVE: deque = deque(maxlen=64)


def _keep(client: genai.Client) -> genai.Client:
    _LIVE.append(client)
    return client


def _client(base_url: str) -> genai.Client:
    return _keep(genai.Client(api_key="test", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta", retry_options=NO_RETRY)))


class RaisingTransport(httpx2.BaseTransport):
    """Raises ``exc`` for every request, as a user's custom transport might."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        raise self.exc


def _raising_client(exc: BaseException) -> genai.Client:
    options = types.HttpOptions(
        base_url="http://127.0.0.1:9", api_version="v1beta", retry_options=NO_RETRY,
        httpx_client=httpx2.Client(transport=RaisingTransport(exc)),
    )
    return _keep(genai.Client(api_key="test", http_options=options))


def _config(**kwargs) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(system_instruction=SYSTEM, **kwargs)


def _closing(opened):
    """The SDK's streams are (async) generators, not context managers: the case opens them in
    ``contextlib.closing`` / ``aclosing`` (a "helper" in ``StreamApi`` terms: ``with`` gives the stream),
    as an app closes a generator it may leave early. ``client.aio`` returns it from a coroutine."""
    if inspect.isawaitable(opened):

        async def resolve():
            return contextlib.aclosing(await opened)

        return resolve()
    return contextlib.closing(opened)


def _surface(manager) -> None:
    assert isinstance(manager.thing, (Iterator, AsyncIterator))  # a (async) generator, as the SDK returns it


def _chunk_text(chunk) -> str:
    return "".join(p.text for c in chunk.candidates or () for p in (c.content.parts if c.content else None) or () if p.text)


CASE = ProviderCase(
    name="google_genai.generate_content",
    sdk="google.genai",
    error_module="google.genai.errors",
    instrumentor=GoogleGenAIInstrumentor,
    scope="otel_genai.instrumentation.google_genai",
    provider="gcp.gemini",
    span_name=f"chat {MODEL}",
    client=_client,
    aclient=lambda base_url: _client(base_url).aio,
    raising_client=_raising_client,
    plain_response=_plain,
    stream_response=_stream,
    tool_call_response=_tool_call,
    error_response=_error,
    plain=lambda c, **kw: c.models.generate_content(model=MODEL, contents=USER, config=_config(**kw)),
    tool_call=lambda c, **kw: c.models.generate_content(model=MODEL, contents=USER, config=types.GenerateContentConfig(tools=TOOLS, **kw)),
    streams=(
        StreamApi(
            "generate_content_stream",
            lambda c: _closing(c.models.generate_content_stream(model=MODEL, contents=USER)),
            _chunk_text,
            helper=True,
            surface=_surface,
        ),
    ),
    text=lambda result: result.text,
    tool_calls=lambda result: [{"id": c.id, "name": c.name, "arguments": c.args} for c in result.function_calls or ()],
    dump=lambda result: result.model_dump(exclude={"sdk_http_response"}),
    user_text=USER,
    system_text=SYSTEM,
    system_attribute="gen_ai.system_instructions",
    plain_text="Spans all the way down.",
    plain_id="resp_plain_1",
    stream_text="".join(PIECES),
    tool_finish_reason="tool_call",
    stream_attributes={  # input = prompt 30 (cached 20 included) + tool-use prompt 5; output = candidates 9 + thoughts 3
        "gen_ai.response.id": "resp_stream_1",
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 35,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 20,
        "gen_ai.usage.reasoning.output_tokens": 3,
        "mlflow.chat.tokenUsage": {"input_tokens": 35, "output_tokens": 12, "total_tokens": 47, "cache_read_input_tokens": 20},
    },
    partial_attributes={"gen_ai.response.id": "resp_stream_1", "gen_ai.usage.input_tokens": 35},
    header_attributes={},
    errors={400: errors.ClientError, 429: errors.ClientError},
    connection_error=None,  # google-genai lets a transport's exception through as it is
    extraction_faults=((GenerateContent, "response"), (GenerateContentAccumulator, "on_chunk")),
    request_fault=(GenerateContent, "request"),
    unset_params={"temperature": None, "top_p": None, "top_k": None, "stop_sequences": None, "max_output_tokens": None, "seed": None},
    unset_attributes=(
        "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.top_k", "gen_ai.request.stop_sequences",
        "gen_ai.request.max_tokens", "gen_ai.request.seed",
    ),
    env_unset=GEMINI_ENV,
)
