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
from .._core.imports import ImportHooks
from .._core.streams import exit_hook
from . import _common, _native, messages

SCOPE_NAME = "otel_genai.instrumentation.anthropic"

# (module, client class names, provider name): recorded when the app imports the module
_PROVIDER_CLIENTS = (
    ("anthropic.lib.bedrock", ("AnthropicBedrock", "AsyncAnthropicBedrock"), A.GenAIProviderName.AWS_BEDROCK),
    ("anthropic.lib.vertex", ("AnthropicVertex", "AsyncAnthropicVertex"), A.GenAIProviderName.GCP_VERTEX_AI),
)


class AnthropicInstrumentor(BaseInstrumentor):
    """Traces ``anthropic`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original function. ``instrument()`` never imports
    ``anthropic``: each module is wrapped when the app imports it (``_core.imports``)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = self._telemetry = GenAITelemetry.from_instrument_kwargs(SCOPE_NAME, __version__, kwargs)
        _common.reset()
        # (owner, attribute) pairs wrapped so far. Set here, never in ``__init__``: the instrumentor
        # is a singleton (``BaseInstrumentor.__new__``), constructed again by every caller.
        self._wrapped: list[tuple[Any, str]] = []
        self._hooks = hooks = ImportHooks()
        for module_name, names, provider in _PROVIDER_CLIENTS:
            hooks.when_imported(module_name, lambda module, n=names, p=provider: _add_provider_types(module, n, p))
        modules = dict.fromkeys(row[0] for row in messages.METHODS + messages.EXIT_HOOKS)
        for module_name in modules:
            hooks.when_imported(module_name, lambda module: self._wrap_module(telemetry, module))
        hooks.when_imported(_native.MODULE, self._wrap_native)

    def _wrap_module(self, telemetry: GenAITelemetry, module: Any) -> None:
        """Wrap the table rows of ``module`` (just imported by the app, or already there); rows this
        SDK version lacks are skipped."""
        from anthropic import AsyncStream, Stream

        name = module.__name__
        for module_name, cls_name, method, is_async, kind in messages.METHODS:
            owner = getattr(module, cls_name, None) if module_name == name else None
            if owner is None or not callable(getattr(owner, method, None)):
                continue
            stream_types = (AsyncStream,) if is_async else (Stream,)
            if kind == messages.STREAM_HELPER:
                operation = messages.Messages(stream_types, telemetry.capture.enabled, streaming=True)
                wrapper = messages.stream_helper_wrapper(telemetry, operation, is_async)
            else:
                operation = messages.Messages(stream_types, telemetry.capture.enabled)
                operation.raw_response_types = _raw_response_types()
                wrapper = (async_wrapper if is_async else sync_wrapper)(telemetry, operation)
            self._wrap(owner, method, wrapper)
        for module_name, cls_name, method, is_async in messages.EXIT_HOOKS:
            owner = getattr(module, cls_name, None) if module_name == name else None
            if owner is not None and callable(getattr(owner, method, None)):
                self._wrap(owner, method, exit_hook(is_async))

    def _wrap_native(self, module: Any) -> None:
        if callable(getattr(module, _native.FUNCTION, None)):
            self._wrap(module, _native.FUNCTION, _native.start_api_call_span_wrapper)

    def _wrap(self, owner: Any, name: str, wrapper: Any) -> None:
        wrap_function_wrapper(owner, name, wrapper)
        self._wrapped.append((owner, name))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry.active = False
        self._hooks.cancel()
        for owner, name in reversed(self._wrapped):
            unwrap(owner, name)
        self._wrapped = []
        _common.reset()


def _add_provider_types(module: Any, names: tuple[str, ...], provider: str) -> None:
    types = tuple(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))
    if types:
        _common.PROVIDER_TYPES.append((types, provider))


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
