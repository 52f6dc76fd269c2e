"""One inference call's telemetry: the span, its metrics and its optional content event.

:class:`GenAITelemetry` holds what an instrumentor creates once (tracer, instruments, logger,
content policy). :class:`Invocation` is created per call by the wrappers; it ends exactly once,
whichever of ``finish`` / ``finish_stream`` / ``fail`` comes first.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import get_logger
from opentelemetry.metrics import get_meter

from ... import _last_trace
from ...semconv import attributes as A
from ...semconv import dialect, mlflow
from ...semconv.content import ContentCapture, refresh_blob_policy
from ...semconv.messages import content_json
from ...semconv.usage import TokenUsage
from ...tracing.context import current_agent
from ...tracing.tool_calls import offer
from ...tracing.trace_attributes import TRACE_ATTRIBUTES_KEY
from .errors import record_error
from .faults import log_fault
from .frameworks import current as _framework_run
from .frameworks import resolve as _framework_parent
from .lifecycle import open_invocations as _open_invocations
from .metrics import GenAIMetrics, LatestGenAIMetrics
from .operation import Operation, StreamAccumulator

# Context key marking "inside one of our GenAI calls": a nested instrumented call (a helper that
# calls another instrumented method) passes straight through, so one user call = one span.
GENAI_CALL_KEY = otel_context.create_key("otel_genai.inside_genai_call")

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"
_perf_counter = time.perf_counter


class GenAITelemetry:
    """Tracer, metric instruments, event logger and content policy of one instrumentor.

    Args:
        scope_name: instrumentation scope (e.g. ``otel_genai.instrumentation.openai``).
        version: instrumentation version.
        capture: the content-capture policy.
        tracer_provider / meter_provider / logger_provider: explicit providers, else the globals.
    """

    __slots__ = ("tracer", "metrics", "logger", "capture", "capture_enabled", "content_on_span", "latest", "active")

    def __init__(
        self,
        scope_name: str,
        version: str,
        capture: ContentCapture,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        latest: bool = False,
    ) -> None:
        self.tracer = trace.get_tracer(scope_name, version, tracer_provider, schema_url=_SCHEMA_URL)
        # the semantic-conventions-genai "latest experimental" dialect, when opted in (semconv.dialect)
        self.latest = latest
        meter = get_meter(scope_name, version, meter_provider, schema_url=_SCHEMA_URL)
        self.metrics = LatestGenAIMetrics(meter) if latest else GenAIMetrics(meter)
        self.logger = get_logger(scope_name, version, logger_provider, schema_url=_SCHEMA_URL) if capture.on_event else None
        self.capture = capture
        self.capture_enabled = capture.enabled  # read on every call: plain booleans, not enum properties
        self.content_on_span = capture.on_span
        # False after uninstrument(): wrappers the SDK captured earlier (a client's cached
        # ``with_raw_response`` methods) then pass calls straight through
        self.active = True

    @classmethod
    def from_instrument_kwargs(cls, scope_name: str, version: str, kwargs: dict[str, Any]) -> GenAITelemetry:
        """Build from ``BaseInstrumentor.instrument(**kwargs)``: ``tracer_provider``, ``meter_provider``,
        ``logger_provider`` and ``capture_content`` (a :class:`ContentCapture` or its name; default:
        ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else ``NO_CONTENT`` as the spec asks);
        the dialect from ``OTEL_SEMCONV_STABILITY_OPT_IN`` (``semconv.dialect``)."""
        refresh_blob_policy()
        capture = kwargs.get("capture_content")
        if capture is None:
            capture = ContentCapture.from_env()
        elif not isinstance(capture, ContentCapture):
            capture = ContentCapture.parse(str(capture))
        return cls(
            scope_name,
            version,
            capture,
            kwargs.get("tracer_provider"),
            kwargs.get("meter_provider"),
            kwargs.get("logger_provider"),
            dialect.latest_experimental(),
        )

    def start(self, operation: Operation, instance: Any, kwargs: dict[str, Any], parent: Any = None) -> Invocation | None:
        """Start the span for one call (a child of ``parent``, default: the current context);
        ``None`` (and a logged fault) if our code fails."""
        try:
            return Invocation(self, operation, instance, kwargs, parent)
        except Exception:
            log_fault(f"{type(operation).__name__}.request")
            return None


class Invocation:
    """The span of one SDK call, from request to the end of its response (or stream)."""

    __slots__ = (
        "telemetry",
        "operation",
        "span",
        "context",
        "attributes",
        "request_content",
        "capture_output",
        "start",
        "ended",
        "accumulator",
        "chunk_times",
        "returned",
    )

    def __init__(
        self, telemetry: GenAITelemetry, operation: Operation, instance: Any, kwargs: dict[str, Any], parent: Any = None
    ) -> None:
        attributes = operation.request(instance, kwargs)
        mlflow.add_request_attributes(attributes)
        self.request_content = operation.request_content(kwargs) if telemetry.capture_enabled else None
        span_attributes = attributes
        if self.request_content and telemetry.content_on_span:
            span_attributes = dict(attributes)
            for key, value in self.request_content.items():
                span_attributes[key] = content_json(value)
        span_name = operation.span_name  # the operation's naming hook, if any (Operation.span_name)
        if span_name is None:
            model = attributes.get(A.GEN_AI_REQUEST_MODEL)
            name = f"{operation.operation_name} {model}" if model else operation.operation_name
        else:
            name = span_name(attributes)
        self.telemetry = telemetry
        self.operation = operation
        self.attributes = attributes
        if parent is None:
            parent = otel_context.get_current()
        # hook (frameworks.py): inside a framework run (LangChain) this span nests in its structure, and
        # is its model run's one inference span; no framework run open: one ContextVar read
        framework_run = _framework_run.get()
        if framework_run is not None:
            parent = _framework_parent(framework_run, parent, operation.operation_name)
        stamp = otel_context.get_value(TRACE_ATTRIBUTES_KEY, parent)
        if stamp:  # inside otel_genai.attributes(...): session, user, tags, metadata
            span_attributes = {**span_attributes, **stamp}
        self.span = telemetry.tracer.start_span(name, context=parent, kind=operation.span_kind, attributes=span_attributes)
        self.context = otel_context.set_value(GENAI_CALL_KEY, True, trace.set_span_in_context(self.span, parent))
        # a span the sampler dropped records nothing: its output content is not built (unless for the event)
        self.capture_output = telemetry.capture_enabled and (telemetry.logger is not None or self.span.is_recording())
        self.start = _perf_counter()
        self.ended = False
        # set by a stream proxy: what the stream delivered so far, and when the SDK call returned it
        self.accumulator: StreamAccumulator | None = None
        self.chunk_times: list[float] | None = None
        self.returned: float | None = None
        _open_invocations[id(self)] = self

    # --- non-streamed result -----------------------------------------------------------------
    def finish(self, result: Any) -> None:
        """End the span from a complete (non-streamed) result; ``None``: the body was never seen (a raw
        response whose bytes the user read himself), the span ends without response attributes."""
        if self.ended:
            return
        if result is None:
            self._end({}, None, {}, None, None, None)
            return
        try:
            response, usage, content = self.operation.response(result, self._wants_output())
        except Exception:
            log_fault(f"{type(self.operation).__name__}.response")
            response, usage, content = {}, None, {}
        self._end(response, usage, content, None, None, None)

    # --- streamed result -----------------------------------------------------------------------
    def stream_started(self, accumulator: StreamAccumulator, chunk_times: list[float]) -> None:
        """A stream proxy took over the result: the span now ends with the stream. ``chunk_times``
        is the proxy's list of chunk arrival times (``perf_counter`` s), appended to as chunks arrive."""
        self.accumulator = accumulator
        self.chunk_times = chunk_times
        self.returned = _perf_counter()

    def finish_stream(self, exc: BaseException | None = None, complete: bool = False) -> None:
        """End the span now, from what the stream delivered.

        Args:
            exc: the exception that ended the stream (SDK error, the user's exception in a ``with``
                block, ``CancelledError``...): status ERROR with its ``error.type``.
            complete: True when the stream was read to its end; otherwise it was left early
                (``close()``, ``break`` inside ``with``) and is marked so (see :meth:`_end`).
        """
        if self.ended:
            return
        self._end_stream(exc, complete, None)

    def abandon(self) -> None:
        """End a span the consumer stopped reading without telling us (garbage collection, interpreter
        exit): with what arrived, at the time the consumer last received something (the last chunk,
        else the SDK call's return), not at the time the object is collected."""
        if self.ended:
            return
        if self.accumulator is None:  # a call still in flight (e.g. in a daemon thread at exit)
            self._end({}, None, {}, None, None, None, complete=False)
            return
        chunk_times = self.chunk_times
        self._end_stream(None, False, chunk_times[-1] if chunk_times else self.returned)

    def _end_stream(self, exc: BaseException | None, complete: bool, end_at: float | None) -> None:
        accumulator = self.accumulator
        try:
            response, usage, content = accumulator.result(self._wants_output())
        except Exception:
            log_fault(f"{type(accumulator).__name__}.result")
            response, usage, content = {}, None, {}
        ttfc = None
        chunk_times = self.chunk_times
        if chunk_times:
            ttfc = chunk_times[0] - self.start
            response[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
            chunk_times = list(chunk_times)  # the proxy's list may still grow after the span ends
        self._end(response, usage, content, exc, ttfc, chunk_times, complete, end_at)

    # --- failure ---------------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """End the span as failed: status ERROR, ``error.type``, an ``exception`` event."""
        if self.ended:
            return
        self._end({}, None, {}, exc, None, None)

    def _wants_output(self) -> bool:
        """Build the output messages: content is captured, or an ``otel_genai.trace`` agent is open
        and its tool spans want the tool-call ids the response asks for (the content is then used for
        that alone, never recorded)."""
        return self.capture_output or current_agent(self.context) is not None

    def _end(
        self,
        response: dict[str, Any],
        usage: TokenUsage | None,
        content: dict[str, Any],
        exc: BaseException | None,
        ttfc: float | None,
        chunk_times: list[float] | None,
        complete: bool = True,
        end_at: float | None = None,
    ) -> None:
        """End the span once. ``complete=False``: the response was not received whole (a stream left
        early, a call cut short by the process exit); ``end_at``: the ``perf_counter`` time the span
        ends at (default: now)."""
        self.ended = True
        _open_invocations.pop(id(self), None)
        span = self.span
        end_time = None
        try:
            now = _perf_counter()
            if end_at is not None and end_at < now:
                start_ns = getattr(span, "start_time", None)
                if start_ns:
                    end_time = start_ns + int((end_at - self.start) * 1e9)
                now = end_at
            duration = now - self.start
            error = None
            if usage is not None:
                response.update(usage.span_attributes())
                token_usage = mlflow.token_usage(usage, self.operation.operation_name)
                if token_usage is not None:
                    response[A.MLFLOW_CHAT_TOKEN_USAGE] = token_usage
            if not complete and exc is None:
                _mark_incomplete(response, content)
            if self.telemetry.latest and content:
                _drop_message_finish_reasons(content)
            if content and self.telemetry.content_on_span:
                for key, value in content.items():
                    response[key] = content_json(value)
            if exc is not None:
                error = record_error(span, exc)
            span.set_attributes(response)
            if exc is None and content:
                offer_tool_calls(content, self.context)
            response_model = response.get(A.GEN_AI_RESPONSE_MODEL)
            self.telemetry.metrics.submit(
                self.attributes, response_model, error, span.get_span_context(), duration, usage, ttfc, chunk_times
            )
            if self.telemetry.logger is not None:
                self._emit_event(response, content)
        except Exception:
            log_fault("Invocation.end")
        finally:
            span.end(end_time)
            _last_trace.remember(span)

    def _emit_event(self, response: dict[str, Any], content: dict[str, Any]) -> None:
        """One ``gen_ai.client.inference.operation.details`` log record with structured content."""
        attributes = {**self.attributes, **response}
        for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_SYSTEM_INSTRUCTIONS, A.GEN_AI_TOOL_DEFINITIONS):
            attributes.pop(key, None)
        attributes.update(self.request_content or {})
        attributes.update(content)
        self.telemetry.logger.emit(
            event_name=A.GEN_AI_INFERENCE_DETAILS_EVENT,
            attributes=attributes,
            context=self.context,
        )


def _mark_incomplete(response: dict[str, Any], content: dict[str, Any]) -> None:
    """A response the consumer did not read to its end, with no finish reason received: finish reason
    ``error`` (semconv's value for a generation that did not finish normally), on the span and on
    each output message that has none. A stream read to its end always carries the provider's."""
    if not response.get(A.GEN_AI_RESPONSE_FINISH_REASONS):
        response[A.GEN_AI_RESPONSE_FINISH_REASONS] = (A.FINISH_REASON_ERROR,)
    for message in content.get(A.GEN_AI_OUTPUT_MESSAGES) or ():
        if isinstance(message, dict) and not message.get("finish_reason"):
            message["finish_reason"] = A.FINISH_REASON_ERROR


def _drop_message_finish_reasons(content: dict[str, Any]) -> None:
    """The latest dialect: output messages carry no ``finish_reason`` (deprecated in the GenAI
    repository's output-messages schema; it is on ``gen_ai.response.finish_reasons``)."""
    for message in content.get(A.GEN_AI_OUTPUT_MESSAGES) or ():
        if isinstance(message, dict):
            message.pop("finish_reason", None)


def offer_tool_calls(content: dict[str, Any], context: Any) -> None:
    """Hand the tool calls an inference response asked for (its output messages' ``tool_call``
    parts) to the open ``otel_genai.trace`` agent of ``context``, so the ``execute_tool`` spans the app
    opens for them get their ``gen_ai.tool.call.id`` (``otel_genai.tracing.tool_calls.offer``)."""
    if current_agent(context) is None:
        return
    offer(
        (
            (part.get("name"), part.get("id"), part.get("arguments"))
            for message in content.get(A.GEN_AI_OUTPUT_MESSAGES) or ()
            for part in message.get("parts") or ()
            if part.get("type") == "tool_call"
        ),
        context,
    )
