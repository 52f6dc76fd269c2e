"""The tool-call seam: ``gen_ai.tool.call.id`` on the ``execute_tool`` spans the app opens for the tool
calls a model response asked for.

When an inference call made inside an ``invoke_agent`` span returns tool calls, the instrumentation
core :func:`offer` s them to that agent; each agent keeps the calls not yet answered (at most
:data:`MAX_PENDING`, the newest). The next ``execute_tool`` span of that agent opened through
:func:`~otel_genai.tracing.trace` with ``kind="tool"``, no ``tool_call_id=`` and the same tool name
:func:`claim` s the oldest of them (the one whose arguments equal the tool's bound arguments, when
several calls name the same tool and their arguments are known), so the trace links each tool run
to the model's request for it (OpenTelemetry semantic conventions v1.41.1, GenAI spans, "Execute tool
span": ``gen_ai.tool.call.id``, ``gen_ai.tool.name``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry import context as otel_context

from ..instrumentation._core.faults import log_fault
from ..semconv.messages import decode_arguments
from .context import HANDLE_KEY

MAX_PENDING = 64


def offer(calls: Iterable[tuple[str, str] | tuple[str, str, Any]], context: Any = None) -> None:
    """Offer the tool calls a model response just asked for to the agent they were made in.

    Args:
        calls: ``(tool_name, call_id)`` pairs as the provider response gives them (OpenAI Chat
            Completions ``message.tool_calls[i].function.name`` / ``.id``; Responses API
            ``function_call`` items' ``name`` / ``call_id``; Anthropic ``tool_use`` blocks' ``name`` /
            ``id``), in the response's order, optionally with a third element, the call's arguments
            (JSON text or a decoded dict), which tells apart several calls of the same tool. Pairs
            with an empty name or id are skipped. Iterated only when an agent is open: a generator
            expression costs the caller nothing outside agents.
        context: the ``opentelemetry.context.Context`` the inference call ran in (the core's
            ``Invocation.context``; default: the current context).

    Does nothing (one context lookup, O(1)) unless ``context`` holds an open ``invoke_agent`` span
    made by :func:`~otel_genai.tracing.trace`. Never raises: a fault is logged and swallowed.
    """
    agent = getattr(otel_context.get_value(HANDLE_KEY, context), "agent", None)
    if agent is None:
        return
    try:
        pending = agent.pending_tool_calls
        for call in calls:
            name, call_id = call[0], call[1]
            if name and call_id:
                pending.append((str(name), str(call_id), decode_arguments(call[2]) if len(call) > 2 else None))
        del pending[:-MAX_PENDING]
    except Exception:
        log_fault("tool_calls.offer")


def record_tool_calls(calls: Iterable[tuple[str, str, Any]]) -> None:
    """Note the tool calls a model response just asked for: ``(call_id, tool_name, arguments)`` triples,
    ``arguments`` as JSON text or a dict.

    The public spelling of :func:`offer` for code that reads the response itself (the
    instrumentation core calls :func:`offer`): the next ``tool`` span of the current agent with the
    same name (and, if they tell them apart, the same arguments) takes the call's id as
    ``gen_ai.tool.call.id``. Does nothing outside an agent; never raises.
    """
    offer((name, call_id, arguments) for call_id, name, arguments in calls)


def claim(agent: Any, name: str, arguments: dict[str, Any] | None) -> str | None:
    """Take the pending call of ``agent`` that a tool span named ``name`` answers and return its id, or
    ``None`` when none is pending for that name. ``arguments``: the tool's bound arguments, when
    captured; among several calls of one tool, the first whose arguments equal them wins, else the
    oldest."""
    pending = agent.pending_tool_calls
    if not pending:
        return None
    same_name = [i for i, (tool, _, _) in enumerate(pending) if tool == name]
    if not same_name:
        return None
    chosen = same_name[0]
    if arguments is not None and len(same_name) > 1:
        chosen = next((i for i in same_name if pending[i][2] == arguments), chosen)
    return pending.pop(chosen)[1]
