"""What every traced call resolves before anything else: our tracer (``None`` while no OpenTelemetry SDK
is configured: the fast path) and whether content goes on the span.

The content policy is the one of :mod:`otel_genai.semconv.content` (``ContentCapture.from_env``:
parsed once, fails closed on an unknown value), with the distribution's default (``SPAN_ONLY``) when
the variable is unset, unless :func:`set_content_capture` overrides it.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from ..semconv.content import DISTRIBUTION_DEFAULT, ContentCapture
from ..version import __version__

SCOPE_NAME = "otel_genai.tracing"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"

# --- the tracer -----------------------------------------------------------------------------------

_tracer_state: list[Any] = [object(), None]  # [provider seen last, its tracer or None when no-op]
_MISSING = object()
# ``get_tracer_provider()`` reads the environment on every call while no provider is set (about a
# microsecond); reading the global it returns is what keeps the no-SDK path negligible.
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def active_tracer() -> Any:
    """Our tracer from the global provider, or ``None`` while no SDK provider is set (the fast path:
    one module-global read). A provider set later is picked up on the next call."""
    provider = getattr(otel_trace, "_TRACER_PROVIDER", _MISSING)
    if provider is None and not _PROVIDER_FROM_ENV:
        return None
    if provider is None or provider is _MISSING:
        provider = otel_trace.get_tracer_provider()
    state = _tracer_state
    if provider is state[0]:
        return state[1]
    tracer = None
    if not isinstance(provider, (ProxyTracerProvider, NoOpTracerProvider)):
        tracer = provider.get_tracer(SCOPE_NAME, __version__, schema_url=_SCHEMA_URL)
    state[0], state[1] = provider, tracer
    return tracer


# --- the content policy -----------------------------------------------------------------------------

_DEFAULT = ContentCapture(DISTRIBUTION_DEFAULT)
_capture_override: list[ContentCapture | None] = [None]


def set_content_capture(capture: ContentCapture | str | None) -> None:
    """Override the content policy of :func:`~otel_genai.tracing.trace` spans.

    ``capture``: a :class:`~otel_genai.semconv.content.ContentCapture` or its name (``"NO_CONTENT"``,
    ``"SPAN_ONLY"``, ``"true"``, ...; an unknown name means ``NO_CONTENT``), or ``None``: back to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else ``SPAN_ONLY``."""
    if capture is not None and not isinstance(capture, ContentCapture):
        capture = ContentCapture.parse(str(capture), _DEFAULT)
    _capture_override[0] = capture


def capture_on_span() -> bool:
    """True when traced spans record content (inputs, outputs, tool arguments and results)."""
    override = _capture_override[0]
    if override is not None:
        return override.on_span
    return ContentCapture.from_env(_DEFAULT).on_span
