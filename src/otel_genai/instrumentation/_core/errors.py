"""Ending a span with an error, the same way for every span otel-genai makes: the inference spans of
:class:`~.invocation.Invocation` and the agent / tool / step spans of :func:`otel_genai.trace`.

What it records follows the OpenTelemetry semantic conventions v1.41.1, "Recording errors"
(``error.type``, status ERROR with a description) and the exception event (``exception.type``,
``exception.message``, ``exception.stacktrace``).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Status, StatusCode

from ...semconv.attributes import ERROR_TYPE, error_type


def record_error(span: Any, exc: BaseException) -> str:
    """Mark ``span`` (an ``opentelemetry.trace.Span``) as failed by ``exc``, and return its ``error.type``.

    Sets ``error.type`` (:func:`otel_genai.semconv.attributes.error_type`: the exception's public,
    fully-qualified class name), adds an ``exception`` event and sets status ERROR with the
    exception's message (its ``error.type`` when the message is empty). Does not end the span: the
    caller sets what else it has and ends it once. Raises only what the span itself raises (callers
    inside a user's call guard it with ``faults.log_fault``)."""
    error = error_type(exc)
    span.set_attribute(ERROR_TYPE, error)
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, str(exc) or error))
    return error
