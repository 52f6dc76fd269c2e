"""``GoogleGenAIInstrumentor``: GenAI spans and metrics for the ``google-genai`` SDK (Gemini
Developer API and Vertex AI; entry point ``otel_genai_google_genai``, extra ``[gemini]``).

Usage (library path)::

    GoogleGenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``, ``logger_provider``
(default: the global ones) and ``capture_content`` (a :class:`~otel_genai.semconv.ContentCapture`
or one of its names; default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
``NO_CONTENT`` as the spec asks).

Traced, sync and async (``client.aio``), one span per call: ``models.generate_content``,
``models.generate_content_stream``, ``models.embed_content``, chat sessions
(``chats.create(...).send_message[_stream]``: their ``models`` calls), ``caches.create``, the
Interactions API (``interactions.create``, streamed or not) and automatic function calling (an
``invoke_agent`` span over one ``chat`` span per model turn and one ``execute_tool`` span per
function the SDK runs; ``afc``). Built on ``_core`` only: the SDK is not Stainless-generated.
"""

from __future__ import annotations

from typing import Any

from .._core.imports import ImportHooks
from .._core.instrumentor import GenAIInstrumentor, Method
from . import afc, caches, chats, interactions, models
from ._common import GeminiClients
from ._routing import GENERATORS, Route, wrapper_for


class GoogleGenAIInstrumentor(GenAIInstrumentor):
    """Traces ``google-genai`` calls as GenAI semantic-convention spans with the ``gen_ai.client.*``
    metrics. Idempotent; ``uninstrument()`` restores every original. ``instrument()`` never imports
    ``google.genai``: each module is wrapped when the app imports it."""

    scope_name = "otel_genai.instrumentation.google_genai"
    dependencies = ("google-genai >= 1.0",)

    METHODS = models.METHODS + chats.METHODS + caches.METHODS + interactions.METHODS + afc.METHODS

    context: GeminiClients

    def methods(self) -> tuple[Method, ...]:
        return self.METHODS

    def on_instrument(self, hooks: ImportHooks) -> None:
        self.context = GeminiClients()

    def new_operation(self, method: Method) -> Any:
        if method.module == interactions.MODULE:
            stream_types = interactions.stream_types(method)
            operation = method.operation(stream_types, (), self.context)
            operation.agent_operation = interactions.CreateAgentInteraction(stream_types, (), self.context)
            return operation
        return method.operation(GENERATORS, (), self.context)

    def wrapper(self, method: Method, owner: Any) -> Any:
        kind = method.kind
        if kind == afc.TOOL_RUN:
            return afc.tool_hook(self.telemetry, method.is_async)
        if kind == afc.TOOL_BATCH:
            return afc.batch_hook(method.is_async)
        operation = self.new_operation(method)
        agent = None
        chat_request = None
        if kind == models.CHAT_ENTRY:
            agent, operation, chat_request = operation, None, chats.chat_request
        elif method.operation is models.GenerateContent:
            agent = afc.AutomaticFunctionCalling(GENERATORS, (), self.context)
        elif method.operation is models.GenerateContentStream:
            agent = afc.StreamedAutomaticFunctionCalling(GENERATORS, (), self.context)
        route = Route(self.telemetry, kind, operation, agent, chat_request)
        return wrapper_for(getattr(owner, method.name), route, method.is_async, lazy=method.module != interactions.MODULE)


SCOPE_NAME = GoogleGenAIInstrumentor.scope_name

__all__ = ["GoogleGenAIInstrumentor", "SCOPE_NAME"]
