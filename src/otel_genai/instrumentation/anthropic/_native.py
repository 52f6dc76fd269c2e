"""The anthropic SDK's own OpenTelemetry tracing (2.x, on by default): one ``anthropic.messages.create``
CLIENT span per API call, started by ``anthropic._base_client.start_api_call_span`` from
``SyncAPIClient.request`` / ``AsyncAPIClient.request``, whose trace context the SDK also writes into
the request headers (``traceparent``) unless its ``propagation`` option is off.

While one of our GenAI spans is current (``GENAI_CALL_KEY`` set by the core wrapper around the SDK
call), that span would be a second span for the same call. The wrapper below then hands the SDK a
``NonRecordingSpan`` that carries *our* span's context instead of starting its own: the SDK
records nothing on it and ends nothing, but still propagates (its ``traceparent`` names our span)
and still makes it current for the HTTP client (its spans nest under ours). Every other request
(not inside one of our calls: ``count_tokens``, ``models.list``, batches, ...; or with our
instrumentation suppressed) gets the SDK's own span as before. ``uninstrument()`` unwraps the
function, restoring the SDK's behaviour exactly.
"""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan

from .._core.faults import log_fault
from .._core.invocation import GENAI_CALL_KEY

MODULE = "anthropic._base_client"
FUNCTION = "start_api_call_span"

_get_value = otel_context.get_value


def start_api_call_span_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """``wrapt`` wrapper for ``start_api_call_span``: our span's context instead of a duplicate span."""
    if _get_value(GENAI_CALL_KEY) is None:
        return wrapped(*args, **kwargs)
    try:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return NonRecordingSpan(context)
    except Exception:
        log_fault("anthropic.start_api_call_span")
    return wrapped(*args, **kwargs)
