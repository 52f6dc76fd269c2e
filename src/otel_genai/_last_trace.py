"""This process's last finished trace, for ``otel_genai.get_last_active_trace_id()``."""

from __future__ import annotations

from typing import Any

_last_trace_id: int | None = None


def remember(span: Any) -> None:
    """Record the trace id of a span that just ended (ours or a root span seen by our processor)."""
    global _last_trace_id
    trace_id = span.get_span_context().trace_id
    if trace_id:
        _last_trace_id = trace_id


def last_trace_id() -> str | None:
    """The last finished trace id as 32 lowercase hex chars, or ``None`` if none ended here."""
    return None if _last_trace_id is None else format(_last_trace_id, "032x")
