"""``OpenAIInstrumentor``: GenAI spans and metrics for the ``openai`` SDK (entry point ``otel_genai_openai``).

Usage (library path)::

    OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``, ``logger_provider``
(default: the global ones) and ``capture_content`` (a :class:`~otel_genai.semconv.ContentCapture`
or one of its names; default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
``NO_CONTENT`` as the spec asks).
"""

from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ...version import __version__
from .._core import GenAITelemetry, async_wrapper, sync_wrapper
from .._core.imports import ImportHooks
from .._core.streams import close_hook, exit_hook
from . import _common, chat, completions, embeddings, images, responses

SCOPE_NAME = "otel_genai.instrumentation.openai"

# Every instrumented method: (module, class, method, is_async, Operation factory taking the
# stream types). Each API-family module declares its own rows in ``METHODS``.
_METHODS = chat.METHODS + responses.METHODS + embeddings.METHODS + completions.METHODS + images.METHODS
_CLOSE_HOOKS = chat.CLOSE_HOOKS + responses.CLOSE_HOOKS
_EXIT_HOOKS = chat.EXIT_HOOKS + responses.EXIT_HOOKS
# every module named in the tables, each wrapped when the app imports it (openai imports its
# resource modules lazily, on first use of ``client.chat``, ``client.responses``, ...)
_MODULES = tuple(dict.fromkeys(row[0] for row in _METHODS + _CLOSE_HOOKS + _EXIT_HOOKS))


class OpenAIInstrumentor(BaseInstrumentor):
    """Traces ``openai`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original method. ``instrument()`` never imports ``openai``:
    each module is wrapped when the app imports it (``_core.imports``)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 2.0",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = self._telemetry = GenAITelemetry.from_instrument_kwargs(SCOPE_NAME, __version__, kwargs)
        # (owner, attribute) pairs wrapped so far. Set here, never in ``__init__``: the instrumentor
        # is a singleton (``BaseInstrumentor.__new__``), constructed again by every caller.
        self._wrapped: list[tuple[Any, str]] = []
        self._hooks = ImportHooks()
        self._hooks.when_imported("openai.lib.azure", _set_azure_types)
        for module_name in _MODULES:
            self._hooks.when_imported(module_name, lambda module: self._wrap_module(telemetry, module))

    def _wrap_module(self, telemetry: GenAITelemetry, module: Any) -> None:
        """Wrap the table rows of ``module`` (just imported by the app, or already there)."""
        from openai._legacy_response import LegacyAPIResponse
        from openai._response import APIResponse, AsyncAPIResponse
        from openai._streaming import AsyncStream, Stream

        name = module.__name__
        raw_response_types = (LegacyAPIResponse, APIResponse, AsyncAPIResponse)
        for module_name, cls, method, is_async, operation_type in _METHODS:
            if module_name == name:
                operation = operation_type((AsyncStream if is_async else Stream,))
                operation.raw_response_types = raw_response_types
                self._wrap(module, cls, method, (async_wrapper if is_async else sync_wrapper)(telemetry, operation))
        for module_name, cls, method, is_async, attribute in _CLOSE_HOOKS:
            if module_name == name:
                self._wrap(module, cls, method, close_hook(attribute, is_async))
        for module_name, cls, method, is_async in _EXIT_HOOKS:
            if module_name == name:
                self._wrap(module, cls, method, exit_hook(is_async))

    def _wrap(self, module: Any, cls: str, method: str, wrapper: Any) -> None:
        wrap_function_wrapper(module, f"{cls}.{method}", wrapper)
        self._wrapped.append((getattr(module, cls), method))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry.active = False
        self._hooks.cancel()
        for owner, method in reversed(self._wrapped):
            unwrap(owner, method)
        self._wrapped = []


def _set_azure_types(module: Any) -> None:
    _common.AZURE_CLIENT_TYPES = (module.AzureOpenAI, module.AsyncAzureOpenAI)
