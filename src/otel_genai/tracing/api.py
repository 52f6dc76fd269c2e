"""The public API: :func:`trace` (decorator and context manager) and :class:`SpanType` (MLflow's span
type names, accepted as ``span_type=``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .spec import SpanSpec


class SpanType:
    """MLflow's span type names (``mlflow.entities.SpanType``), accepted as ``span_type=``.

    ``AGENT`` and ``TOOL`` make GenAI ``invoke_agent`` / ``execute_tool`` spans; any other value
    makes a plain span with that ``mlflow.spanType``.
    """

    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAIN = "CHAIN"
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    EMBEDDING = "EMBEDDING"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    UNKNOWN = "UNKNOWN"


def trace(
    func: Callable[..., Any] | str | None = None,
    /,
    name: str | None = None,
    *,
    kind: str | None = None,
    span_type: str | None = None,
    attributes: dict[str, Any] | None = None,
    tool_call_id: str | None = None,
    description: str | None = None,
    provider: str | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
) -> Any:
    """Trace a function (decorator, bare or with arguments) or a block (context manager).

    Args:
        func: the function, when used as a bare ``@trace``; a string here is taken as ``name``.
        name: the agent / tool / span name; default: the function's ``__name__``.
        kind: ``"agent"``, ``"tool"``, or anything else for a plain span (``"chain"`` by default).
        span_type: MLflow's spelling of ``kind`` (``"AGENT"``, ``"TOOL"``, ``SpanType.RETRIEVER``, ...);
            give ``kind`` or ``span_type``, not two different ones.
        attributes: extra span attributes (non-primitive values are stored as JSON text).
        tool_call_id: tools: ``gen_ai.tool.call.id``, when you know it (else taken from the agent's
            pending tool calls, see :mod:`otel_genai.tracing.tool_calls`).
        description: ``gen_ai.agent.description`` / ``gen_ai.tool.description``.
        provider: agents: ``gen_ai.provider.name`` of the model the agent runs on.
        output_reducer: generators: turns the list of yielded items into the recorded output.

    Raises:
        TypeError: ``kind`` and ``span_type`` disagree, ``name`` given twice, or something not
            callable given to decorate. Nothing else: the traced code's own exceptions pass through
            unchanged, and faults of ours are logged and swallowed.

    Returns:
        The wrapped function (same kind: plain, ``async``, generator, async generator), or, called
        without a function, an object that decorates a function or works as ``with`` /
        ``async with`` context manager yielding a :class:`~otel_genai.tracing.span.TracedSpan`.
    """
    if isinstance(func, str):
        if name is not None:
            raise TypeError("otel_genai.trace: name given twice")
        func, name = None, func
    spec = SpanSpec(name, kind, span_type, attributes, tool_call_id, description, provider, output_reducer)
    if func is not None:
        return spec(func)
    return spec
