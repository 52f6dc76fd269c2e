"""A span specification (:class:`SpanSpec`): what ``otel_genai.trace(...)`` returns. Its attributes are
worked out once; each call or ``with`` block starts one span from it.

Span names and attributes follow the OpenTelemetry semantic conventions v1.41.1: GenAI agent spans
("Invoke agent span": ``invoke_agent {gen_ai.agent.name}``) and GenAI spans ("Execute tool span":
``execute_tool {gen_ai.tool.name}``), both of kind INTERNAL; other kinds are plain spans named as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind

from ..instrumentation._core.faults import log_fault
from ..semconv import attributes as A
from ..semconv.messages import to_json
from .context import HANDLE_KEY
from .runtime import active_tracer, capture_on_span
from .shells import decorate
from .span import AGENT, NOOP, PLAIN, TOOL, TracedSpan, attribute_value
from .tool_calls import claim

_CONTEXT_MANAGER_NAMES = {AGENT: "", TOOL: "tool", PLAIN: "span"}


def resolve_kind(kind: Any, span_type: Any) -> tuple[str, str]:
    """(our kind, ``mlflow.spanType``) from ``kind=`` / ``span_type=`` (synonyms, case-insensitive).

    Raises ``TypeError`` when both are given and disagree."""
    values = {str(v).strip().upper() for v in (kind, span_type) if v is not None}
    if len(values) > 1:
        raise TypeError(f"otel_genai.trace: kind={kind!r} and span_type={span_type!r} disagree; give one")
    if not values:
        return PLAIN, A.MLflowSpanType.CHAIN
    value = values.pop()
    if value == A.MLflowSpanType.AGENT:
        return AGENT, A.MLflowSpanType.AGENT
    if value == A.MLflowSpanType.TOOL:
        return TOOL, A.MLflowSpanType.TOOL
    return PLAIN, value or A.MLflowSpanType.CHAIN


def _static_attributes(
    kind: str, span_type: str, attributes: dict[str, Any] | None, description: str | None, provider: str | None
) -> dict[str, Any]:
    """The attributes every span of one spec starts with."""
    static: dict[str, Any] = {A.MLFLOW_SPAN_TYPE: span_type}
    if kind == AGENT:
        static[A.GEN_AI_OPERATION_NAME] = A.GenAIOperationName.INVOKE_AGENT
        if description:
            static[A.GEN_AI_AGENT_DESCRIPTION] = description
        if provider:
            static[A.GEN_AI_PROVIDER_NAME] = provider
    elif kind == TOOL:
        static[A.GEN_AI_OPERATION_NAME] = A.GenAIOperationName.EXECUTE_TOOL
        static[A.GEN_AI_TOOL_TYPE] = A.GenAIToolType.FUNCTION
        if description:
            static[A.GEN_AI_TOOL_DESCRIPTION] = description
    for key, value in (attributes or {}).items():
        static[key] = attribute_value(value)
    return static


class SpanSpec:
    """What ``trace(...)`` returns: apply it to a function, or enter it as a (sync or async) context
    manager. One spec may be entered several times, nested, and from concurrent tasks."""

    __slots__ = ("name", "kind", "span_type", "static", "output_reducer", "tool_call_id")

    def __init__(
        self,
        name: str | None,
        kind: Any,
        span_type: Any,
        attributes: dict[str, Any] | None,
        tool_call_id: str | None,
        description: str | None,
        provider: str | None,
        output_reducer: Callable[[list[Any]], Any] | None,
    ) -> None:
        """See :func:`~otel_genai.tracing.trace` for the arguments; raises ``TypeError`` when ``kind``
        and ``span_type`` disagree."""
        self.kind, self.span_type = resolve_kind(kind, span_type)
        self.name = name
        self.output_reducer = output_reducer
        self.tool_call_id = None if tool_call_id is None else str(tool_call_id)
        self.static = _static_attributes(self.kind, self.span_type, attributes, description, provider)

    # the decorator ----------------------------------------------------------------------------
    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``func`` (plain, ``async``, generator or async generator) so each call is one span."""
        if not callable(func):
            raise TypeError(f"otel_genai.trace: expected a function to decorate, got {type(func).__name__}")
        return decorate(func, self)

    # the context manager ---------------------------------------------------------------------------
    def __enter__(self) -> TracedSpan:
        tracer = active_tracer()
        if tracer is None:
            return NOOP
        return self.enter(tracer, self.name or _CONTEXT_MANAGER_NAMES[self.kind]) or NOOP

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        handle = otel_context.get_value(HANDLE_KEY)
        if isinstance(handle, TracedSpan) and handle.owner is self and handle.token is not None:
            handle._end(exc)  # else: entered while no SDK was configured
        return False

    async def __aenter__(self) -> TracedSpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # starting a span: the shells and the context manager ---------------------------------------------
    def enter(self, tracer: Any, name: str, bind: Any = None, args: tuple = (), kwargs: Any = None) -> TracedSpan | None:
        """Start a span and make it current (a call, a ``with`` block); ``None`` after a fault of ours
        (logged): the caller then runs the user's code untraced. ``bind(args, kwargs)`` gives the
        inputs, called only when content is captured."""
        handle = self.begin(tracer, name, bind, args, kwargs)
        if handle is not None:
            handle._attach()
        return handle

    def begin(self, tracer: Any, name: str, bind: Any = None, args: tuple = (), kwargs: Any = None) -> TracedSpan | None:
        """Start a span, not current yet (a generator makes it current for each of its steps); ``None``
        after a fault of ours (logged)."""
        try:
            return self._start(tracer, name, bind, args, kwargs)
        except Exception:
            log_fault("trace.start")
            return None

    def _start(self, tracer: Any, name: str, bind: Any, args: tuple, kwargs: Any) -> TracedSpan:
        kind = self.kind
        current = otel_context.get_current()  # read once: the parent of the span and of its context
        parent: TracedSpan | None = current.get(HANDLE_KEY)  # type: ignore[assignment]
        agent = parent.agent if parent is not None else None
        attributes = dict(self.static)
        if kind == AGENT:
            span_name = f"{A.GenAIOperationName.INVOKE_AGENT} {name}" if name else A.GenAIOperationName.INVOKE_AGENT
            if name:
                attributes[A.GEN_AI_AGENT_NAME] = name
        elif kind == TOOL:
            span_name = f"{A.GenAIOperationName.EXECUTE_TOOL} {name}"
            attributes[A.GEN_AI_TOOL_NAME] = name
            if agent is not None and agent.name:
                attributes[A.GEN_AI_AGENT_NAME] = agent.name
        else:
            span_name = name
        capture = capture_on_span()
        arguments = _record_inputs(kind, bind, args, kwargs, attributes) if capture and bind is not None else None
        call_id = self.tool_call_id
        if kind == TOOL:
            if call_id is None and agent is not None:
                call_id = claim(agent, name, arguments)
            if call_id is not None:
                attributes[A.GEN_AI_TOOL_CALL_ID] = call_id
        span = tracer.start_span(span_name, context=current, kind=SpanKind.INTERNAL, attributes=attributes)
        handle = TracedSpan(span, kind, name, self, agent, capture and span.is_recording())
        handle.tool_call_id = call_id
        handle.context = otel_context.set_value(HANDLE_KEY, handle, otel_trace.set_span_in_context(span, current))
        return handle


def _record_inputs(kind: str, bind: Any, args: tuple, kwargs: Any, attributes: dict[str, Any]) -> Any:
    """Bind the call's inputs and add them to ``attributes`` as JSON; returns them (for matching a
    tool call's arguments) even when they cannot be serialized (a fault, logged)."""
    arguments = None
    try:
        arguments = bind(args, kwargs)
        text = to_json(arguments)
        attributes[A.MLFLOW_SPAN_INPUTS] = text
        if kind == TOOL:
            attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS] = text
    except Exception:
        log_fault("trace.inputs")
    return arguments
