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

from typing import Any

from ...semconv import attributes as A
from .._core.imports import ImportHooks
from .._core.instrumentor import Method
from .._stainless import StainlessInstrumentor
from . import _common, _native, messages

# (module, client class names, provider name): recorded when the app imports the module
_PROVIDER_CLIENTS = (
    ("anthropic.lib.bedrock", ("AnthropicBedrock", "AsyncAnthropicBedrock"), A.GenAIProviderName.AWS_BEDROCK),
    ("anthropic.lib.vertex", ("AnthropicVertex", "AsyncAnthropicVertex"), A.GenAIProviderName.GCP_VERTEX_AI),
)

_NATIVE = "native_span"  # ``Method.kind`` of the SDK's own span hook (``_native``)


class AnthropicInstrumentor(StainlessInstrumentor):
    """Traces ``anthropic`` calls as GenAI semantic-convention spans (one CLIENT span per call) with
    the ``gen_ai.client.*`` metrics. Idempotent (instrumenting twice does not double-wrap);
    ``uninstrument()`` restores every original function. ``instrument()`` never imports
    ``anthropic``: each module is wrapped when the app imports it (``_core.imports``)."""

    scope_name = "otel_genai.instrumentation.anthropic"
    dependencies = ("anthropic >= 1.0",)
    sdk = "anthropic"

    METHODS = messages.METHODS + messages.HELPER_HOOKS + (Method(_native.MODULE, None, _native.FUNCTION, kind=_NATIVE),)

    def methods(self) -> tuple:
        return self.METHODS

    def on_instrument(self, hooks: ImportHooks) -> None:
        self.context = clients = _common.AnthropicClients(self.telemetry.capture.enabled)
        for module_name, names, provider in _PROVIDER_CLIENTS:

            def add(module: Any, names: tuple[str, ...] = names, provider: str = provider) -> None:
                types = tuple(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))
                if types:
                    clients.add_provider_types(types, provider)

            hooks.when_imported(module_name, add)

    def wrapper(self, method: Method, owner: Any) -> Any:
        if method.kind == messages.STREAM_HELPER:
            return messages.stream_helper_wrapper(self.telemetry, self.new_operation(method), method.is_async)
        if method.kind == _NATIVE:
            return _native.start_api_call_span_wrapper
        return super().wrapper(method, owner)


SCOPE_NAME = AnthropicInstrumentor.scope_name
