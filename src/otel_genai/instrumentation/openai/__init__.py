"""``OpenAIInstrumentor``: GenAI spans and metrics for the ``openai`` SDK (entry point ``otel_genai_openai``).

Usage (library path)::

    OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``, ``logger_provider``
(default: the global ones) and ``capture_content`` (a :class:`~otel_genai.semconv.ContentCapture`
or one of its names; default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
``NO_CONTENT`` as the spec asks).
"""

from __future__ import annotations

import importlib
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ...version import __version__
from .._core import GenAITelemetry, async_wrapper, sync_wrapper
from .._core.streams import close_hook, exit_hook
from . import _common, chat, completions, embeddings, images, responses

SCOPE_NAME = "otel_genai.instrumentation.openai"

# Every instrumented method: (module, class, method, is_async, Operation factory taking the
# stream types). Each API-family module declares its own rows in ``METHODS``.
_METHODS = chat.METHODS + responses.METHODS + embeddings.METHODS + completions.METHODS + images.METHODS
_CLOSE_HOOKS = chat.CLOSE_HOOKS + responses.CLOSE_HOOKS
_EXIT_HOOKS = chat.EXIT_HOOKS + responses.EXIT_HOOKS


class OpenAIInstrumentor(BaseInstrumentor):
    """Traces ``openai`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original method."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 2.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import openai
        from openai._legacy_response import LegacyAPIResponse
        from openai._response import APIResponse, AsyncAPIResponse
        from openai.lib.azure import AsyncAzureOpenAI, AzureOpenAI

        telemetry = self._telemetry = GenAITelemetry.from_instrument_kwargs(SCOPE_NAME, __version__, kwargs)
        _common.AZURE_CLIENT_TYPES = (AzureOpenAI, AsyncAzureOpenAI)
        raw_response_types = (LegacyAPIResponse, APIResponse, AsyncAPIResponse)
        for module, cls, method, is_async, operation_type in _METHODS:
            operation = operation_type((openai.AsyncStream if is_async else openai.Stream,))
            operation.raw_response_types = raw_response_types
            wrapper = (async_wrapper if is_async else sync_wrapper)(telemetry, operation)
            wrap_function_wrapper(module, f"{cls}.{method}", wrapper)
        for module, cls, method, is_async, attribute in _CLOSE_HOOKS:
            wrap_function_wrapper(module, f"{cls}.{method}", close_hook(attribute, is_async))
        for module, cls, method, is_async in _EXIT_HOOKS:
            wrap_function_wrapper(module, f"{cls}.{method}", exit_hook(is_async))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry.active = False
        for module, cls, method, *_ in _METHODS + _CLOSE_HOOKS + _EXIT_HOOKS:
            unwrap(getattr(importlib.import_module(module), cls), method)
