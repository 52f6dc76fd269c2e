"""Where a :func:`~otel_genai.tracing.trace` span lives: its handle, kept in the OpenTelemetry context.

The innermost traced span's :class:`~otel_genai.tracing.span.TracedSpan` is stored under
:data:`HANDLE_KEY` beside the OTel span itself, so asyncio tasks, threads given a copied context and
propagated contexts carry it. Each lookup here is one context-variable read and one dict lookup
(O(1)), cheap enough for the instrumentation core to make on every inference call.

This module imports nothing of the instrumentation core, so the core can import the tool-call seam
(:mod:`otel_genai.tracing.tool_calls`) at any point of its own import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

if TYPE_CHECKING:
    from .span import TracedSpan

HANDLE_KEY = otel_context.create_key("otel_genai.traced_span")


def current_span() -> TracedSpan | None:
    """The innermost span made by :func:`~otel_genai.tracing.trace` that is current here, or ``None``."""
    return otel_context.get_value(HANDLE_KEY)  # type: ignore[return-value]


def current_agent(context: Any = None) -> TracedSpan | None:
    """The nearest open ``invoke_agent`` span of ``context`` (default: the current context), or ``None``.

    ``context`` is an ``opentelemetry.context.Context``; the agent is the innermost traced span's
    nearest enclosing agent (itself, if it is one)."""
    return getattr(otel_context.get_value(HANDLE_KEY, context), "agent", None)
