"""``AnthropicInstrumentor``: GenAI spans and metrics for the ``anthropic`` SDK (entry point
``otel_genai_anthropic``).

Usage (library path)::

    AnthropicInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider``, ``logger_provider``
(default: the global ones) and ``capture_content`` (a :class:`~otel_genai.semconv.ContentCapture`
or one of its names; default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else
``NO_CONTENT`` as the spec asks).

Traced: ``messages.create`` (incl. ``stream=True``), ``messages.parse``, ``messages.stream()`` and
their ``beta.messages`` twins, sync and async, on every client (``Anthropic``, ``AsyncAnthropic``,
``AnthropicBedrock``, ``AnthropicVertex``, any ``base_url``), incl. ``with_raw_response`` /
``with_streaming_response``. The SDK's own span for those calls is suppressed while ours is
active (see ``_native``); ``uninstrument()`` restores it.
"""

from __future__ import annotations

import importlib
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ...semconv import attributes as A
from ...version import __version__
from .._core import GenAITelemetry, async_wrapper, sync_wrapper
from .._core.streams import exit_hook
from . import _common, _native, messages

SCOPE_NAME = "otel_genai.instrumentation.anthropic"

# (module, client class names, provider name): imported lazily, tolerated when absent
_PROVIDER_CLIENTS = (
    ("anthropic.lib.bedrock", ("AnthropicBedrock", "AsyncAnthropicBedrock"), A.GenAIProviderName.AWS_BEDROCK),
    ("anthropic.lib.vertex", ("AnthropicVertex", "AsyncAnthropicVertex"), A.GenAIProviderName.GCP_VERTEX_AI),
)


class AnthropicInstrumentor(BaseInstrumentor):
    """Traces ``anthropic`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original function."""

    # (owner, attribute) pairs wrapped by ``_instrument``. Set there, never in ``__init__``: the
    # instrumentor is a singleton (``BaseInstrumentor.__new__``), constructed again by every caller.
    _wrapped: list[tuple[Any, str]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import anthropic  # a missing SDK skips this instrumentor

        telemetry = self._telemetry = GenAITelemetry.from_instrument_kwargs(SCOPE_NAME, __version__, kwargs)
        _common.reset()
        for module_name, names, provider in _PROVIDER_CLIENTS:
            module = _import(module_name)
            types = tuple(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))
            if types:
                _common.PROVIDER_TYPES.append((types, provider))
        raw_response_types = _raw_response_types()

        self._wrapped = []
        for module_name, cls_name, method, is_async, kind in messages.METHODS:
            owner = getattr(_import(module_name), cls_name, None)
            if owner is None or not callable(getattr(owner, method, None)):
                continue  # this SDK version lacks it
            stream_types = (anthropic.AsyncStream,) if is_async else (anthropic.Stream,)
            if kind == messages.STREAM_HELPER:
                operation = messages.Messages(stream_types, telemetry.capture.enabled, streaming=True)
                wrapper = messages.stream_helper_wrapper(telemetry, operation, is_async)
            else:
                operation = messages.Messages(stream_types, telemetry.capture.enabled)
                operation.raw_response_types = raw_response_types
                wrapper = (async_wrapper if is_async else sync_wrapper)(telemetry, operation)
            wrap_function_wrapper(owner, method, wrapper)
            self._wrapped.append((owner, method))

        for module_name, cls_name, method, is_async in messages.EXIT_HOOKS:
            owner = getattr(_import(module_name), cls_name, None)
            if owner is not None and callable(getattr(owner, method, None)):
                wrap_function_wrapper(owner, method, exit_hook(is_async))
                self._wrapped.append((owner, method))

        native = _import(_native.MODULE)
        if native is not None and callable(getattr(native, _native.FUNCTION, None)):
            wrap_function_wrapper(native, _native.FUNCTION, _native.start_api_call_span_wrapper)
            self._wrapped.append((native, _native.FUNCTION))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry.active = False
        for owner, name in reversed(self._wrapped):
            unwrap(owner, name)
        self._wrapped = []
        _common.reset()


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def _raw_response_types() -> tuple[type, ...]:
    """Result types of ``with_raw_response`` / ``with_streaming_response`` calls."""
    types: list[type] = []
    for module_name, names in (
        ("anthropic._response", ("APIResponse", "AsyncAPIResponse")),
        ("anthropic._legacy_response", ("LegacyAPIResponse",)),  # 0.x SDKs
    ):
        module = _import(module_name)
        types.extend(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))
    return tuple(types)
