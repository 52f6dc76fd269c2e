"""``OpenAIInstrumentor``: GenAI spans and metrics for the ``openai`` SDK (entry point ``otel_genai_openai``).

Usage (library path)::

    OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``, ``logger_provider``
(default: the global ones) and ``capture_content`` (a :class:`~otel_genai.semconv.ContentCapture`
or one of its names; default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
``NO_CONTENT`` as the spec asks).
"""

from __future__ import annotations

from typing import Any

from .._core.imports import ImportHooks
from .._stainless import StainlessInstrumentor
from . import _common, chat, completions, embeddings, images, responses


class OpenAIInstrumentor(StainlessInstrumentor):
    """Traces ``openai`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original method. ``instrument()`` never imports ``openai``:
    each module is wrapped when the app imports it (openai imports its resource modules lazily, on
    first use of ``client.chat``, ``client.responses``, ...)."""

    scope_name = "otel_genai.instrumentation.openai"
    dependencies = ("openai >= 2.0",)
    sdk = "openai"

    # every wrapped method; each API-family module declares its own rows
    METHODS = (
        chat.METHODS + responses.METHODS + embeddings.METHODS + completions.METHODS + images.METHODS
        + chat.HELPER_HOOKS + responses.HELPER_HOOKS
    )

    def methods(self) -> tuple:
        return self.METHODS

    def on_instrument(self, hooks: ImportHooks) -> None:
        self.context = clients = _common.OpenAIClients()

        def azure_types(module: Any) -> None:
            clients.azure_types = (module.AzureOpenAI, module.AsyncAzureOpenAI)

        hooks.when_imported("openai.lib.azure", azure_types)


SCOPE_NAME = OpenAIInstrumentor.scope_name
