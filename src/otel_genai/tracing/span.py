"""The handle of one traced span (:class:`TracedSpan`): what the user sets on it, and how it ends.

Every method that runs inside the user's code is guarded: a fault of ours is logged once by
``faults.log_fault`` and swallowed; the span's end uses the core's ``record_error``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from .. import _last_trace
from ..instrumentation._core.errors import record_error
from ..instrumentation._core.faults import log_fault
from ..semconv import attributes as A
from ..semconv.messages import to_json

# our kinds of span: ``invoke_agent``, ``execute_tool``, or a plain one
AGENT, TOOL, PLAIN = "agent", "tool", "plain"


def attribute_value(value: Any) -> Any:
    """A user-supplied attribute value as OTel accepts it: primitives and lists of primitives as they
    are, anything else as JSON text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    return to_json(value)


class TracedSpan:
    """One span made by :func:`~otel_genai.tracing.trace`: what ``with otel_genai.trace(...) as span``
    gives you, and what :func:`~otel_genai.tracing.current_span` returns inside a decorated function.

    ``span`` is the underlying OpenTelemetry span. Content setters respect the content policy; no
    method raises (a fault of ours is logged and swallowed).
    """

    __slots__ = ("span", "kind", "name", "owner", "agent", "capture", "context", "token", "pending_tool_calls", "tool_call_id")

    def __init__(self, span: Any, kind: str, name: str, owner: Any, agent: TracedSpan | None, capture: bool) -> None:
        """``owner``: the spec that made it (its ``output_reducer``); ``agent``: the enclosing agent's
        handle; ``capture``: whether content is recorded on this span."""
        self.span = span
        self.kind = kind
        self.name = name
        self.owner = owner
        self.capture = capture
        self.tool_call_id: str | None = None
        # the nearest enclosing agent (this span, if it is one): tool spans take its name and call ids
        self.agent: TracedSpan | None = self if kind == AGENT else agent
        self.pending_tool_calls: list[tuple[str, Any, Any]] | None = [] if kind == AGENT else None
        # the context in which this span is current, and the token while it is attached
        self.context: Any = None
        self.token: Any = None

    # public API -------------------------------------------------------------------------------
    @property
    def trace_id(self) -> str:
        """The trace id, 32 lowercase hex characters."""
        return format(self.span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        """The span id, 16 lowercase hex characters."""
        return format(self.span.get_span_context().span_id, "016x")

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (non-primitive values are stored as JSON text)."""
        try:
            self.span.set_attribute(key, attribute_value(value))
        except Exception:
            log_fault("TracedSpan.set_attribute")

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set several attributes at once."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_inputs(self, inputs: Any) -> None:
        """Record the inputs (``mlflow.spanInputs``; tools: ``gen_ai.tool.call.arguments``) as JSON, if
        content is captured."""
        self._set_content(inputs, A.MLFLOW_SPAN_INPUTS, A.GEN_AI_TOOL_CALL_ARGUMENTS, False)

    def set_outputs(self, outputs: Any) -> None:
        """Record the outputs (``mlflow.spanOutputs``; tools: ``gen_ai.tool.call.result``, a string as it
        is, anything else as JSON), if content is captured."""
        self._set_content(outputs, A.MLFLOW_SPAN_OUTPUTS, A.GEN_AI_TOOL_CALL_RESULT, True)

    def _set_content(self, value: Any, key: str, tool_key: str, tool_takes_text: bool) -> None:
        if not self.capture:
            return
        try:
            text = to_json(value)
            self.span.set_attribute(key, text)
            if self.kind == TOOL:
                self.span.set_attribute(tool_key, value if tool_takes_text and isinstance(value, str) else text)
        except Exception:
            log_fault(f"TracedSpan.{key}")

    def set_tool_call_id(self, tool_call_id: str) -> None:
        """Set ``gen_ai.tool.call.id`` (tool spans: the id of the model's tool call this run answers)."""
        if tool_call_id is not None:
            self.tool_call_id = str(tool_call_id)
            self.span.set_attribute(A.GEN_AI_TOOL_CALL_ID, self.tool_call_id)

    # lifecycle: used by the decorator shells, the generator driver and the context manager --------
    def _attach(self) -> None:
        """Make this span current (until :meth:`_detach`)."""
        self.token = otel_context.attach(self.context)

    def _detach(self) -> None:
        token, self.token = self.token, None
        if token is not None:
            otel_context.detach(token)

    def _returned(self, result: Any, reduce: bool = False) -> Any:
        """End after a normal return: ``result`` (for a generator, ``reduce``: the list of its items,
        through the spec's ``output_reducer``) becomes the outputs. Returns ``result`` unchanged."""
        if self.capture:
            try:
                reducer = self.owner.output_reducer if reduce else None
                self.set_outputs(result if reducer is None else reducer(result))
            except Exception:
                log_fault("trace.outputs")
        self._end()
        return result

    def _end(self, exc: BaseException | None = None) -> None:
        """Detach if attached, record ``exc`` (the user's exception, left to propagate) if any, end."""
        self._detach()
        self.context = None  # it holds this handle: a cycle, left for the garbage collector otherwise
        if exc is not None:
            try:
                record_error(self.span, exc)
            except Exception:
                log_fault("trace.fail")
        try:
            self.span.end()
            _last_trace.remember(self.span)
        except Exception:
            log_fault("trace.end")


class _NoopSpan(TracedSpan):
    """What ``with trace(...)`` gives while no SDK is configured: every method does nothing."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(otel_trace.INVALID_SPAN, PLAIN, "", None, None, False)

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_tool_call_id(self, tool_call_id: str) -> None:
        pass


NOOP = _NoopSpan()
