"""The LangChain case: a LangChain chat model (``ChatOpenAI``, the openai wire format) called with
``invoke`` / ``ainvoke`` and ``bind_tools(...).invoke``, traced by ``LangChainInstrumentor`` alone (no
SDK instrumentor under it: the span is made from LangChain's callbacks), with the demo fixture's
canned chat bodies. LangChain's streams are generators, not SDK stream objects with ``with`` / ``close()``:
the stream-exit contract does not apply (``streams=()``); ``tests/test_langchain_*.py`` cover them.

``wraps=False``: ``test_instrumentation``'s scan for the SDK functions ``instrument()`` wrapped assumes
a wrapper, which LangChain's callback hook is not (it wraps nothing: it adds one handler to
LangChain's configure hooks); every other contract test runs on this case."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import OpenAIInvalidRequestError, OpenAIRateLimitError

from otel_genai.demo import fixture
from otel_genai.demo.server import Response
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.instrumentation.langchain import models as lc_models

from ..case import ProviderCase
from ._stainless import RaisingTransport

MODEL = "gpt-4o-mini"
SYSTEM = "Be brief."
USER = "Say something about tracing."
JSON = [("Content-Type", "application/json"), ("x-request-id", "req_demo")]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}


def _json(body: dict, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode(), JSON)


def _plain() -> Response:
    message = {"role": "assistant", "content": fixture.PLAIN_ANSWER}
    return _json(fixture.chat_completion("chatcmpl-demo-plain", message, "stop", 14, 21))


def _tool_call() -> Response:
    call = {"id": "call_demo_weather", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    return _json(fixture.chat_completion("chatcmpl-demo-tool-1", {"role": "assistant", "content": None, "tool_calls": [call]},
                                         "tool_calls", 14, 12))


def _stream(chunk_delay: float) -> Response:
    events = fixture.chat_chunks("chatcmpl-demo-stream", fixture.split_words(fixture.STREAMED_ANSWER), 10, include_usage=True)
    return Response(200, events, [("Content-Type", "text/event-stream")], chunk_delay)


def _error(status: int) -> Response:
    return _json({"error": {"message": "slow down", "type": "requests", "code": None}}, status)


class _Async:
    """An async "client": the model, whose ``invoke`` is its ``ainvoke`` (the case's calls take either)."""

    def __init__(self, model: ChatOpenAI) -> None:
        self.model = model

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        return self.model.ainvoke(*args, **kwargs)

    def bind_tools(self, tools: list) -> _Async:
        return _Async(self.model.bind_tools(tools))  # type: ignore[arg-type]


def client(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=base_url + "/v1", api_key="test", max_retries=0)


def aclient(base_url: str) -> _Async:
    # its own HTTP client: LangChain caches a default async one per base URL, bound to the first loop
    model = ChatOpenAI(model=MODEL, base_url=base_url + "/v1", api_key="test", max_retries=0,
                       http_async_client=openai.DefaultAsyncHttpxClient())
    return _Async(model)


def raising_client(exc: BaseException) -> ChatOpenAI:
    http_client = httpx2.Client(transport=RaisingTransport(exc))
    return ChatOpenAI(model=MODEL, base_url="http://127.0.0.1:9/v1", api_key="test", max_retries=0, http_client=http_client)


def _tool_calls(result) -> list[dict]:
    return [{"id": c["id"], "name": c["name"], "arguments": c["args"]} for c in result.tool_calls]


CASE = ProviderCase(
    name="langchain.chat_model",
    sdk="openai",  # what raises (error.type = openai.RateLimitError ...); LangChain is hooked, nothing of openai wrapped
    instrumentor=LangChainInstrumentor,
    scope="otel_genai.instrumentation.langchain",
    provider="openai",
    span_name=f"chat {MODEL}",
    client=client,
    aclient=aclient,
    raising_client=raising_client,
    plain_response=_plain,
    stream_response=_stream,
    tool_call_response=_tool_call,
    error_response=_error,
    plain=lambda c, **kw: c.invoke([SystemMessage(SYSTEM), HumanMessage(USER)], **kw),
    tool_call=lambda c, **kw: c.bind_tools([TOOL]).invoke([HumanMessage(USER)], **kw),
    streams=(),
    wraps=False,
    text=lambda result: result.content,
    tool_calls=_tool_calls,
    dump=lambda result: result.model_dump(exclude={"id"}),
    user_text=USER,
    system_text=SYSTEM,
    system_attribute="gen_ai.input.messages",
    plain_text=fixture.PLAIN_ANSWER,
    plain_id="chatcmpl-demo-plain",
    stream_text=fixture.STREAMED_ANSWER,
    tool_finish_reason="tool_calls",
    stream_attributes={},
    partial_attributes={},
    header_attributes={},
    # LangChain re-raises the openai errors as its own subclasses, with the same message
    errors={400: OpenAIInvalidRequestError, 429: OpenAIRateLimitError},
    error_module="langchain_openai.chat_models.base",
    connection_error=None,  # the transport's exception reaches the user as it is
    extraction_faults=((lc_models, "response"),),
    request_fault=(lc_models, "request_attributes"),
    unset_params={"temperature": None, "top_p": None, "max_tokens": None, "stop": None},
    unset_attributes=("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens",
                      "gen_ai.request.stop_sequences"),
)
