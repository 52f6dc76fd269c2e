"""``otel_genai.trace``: spans for your own agent, tool and step functions, in OpenTelemetry terms.

The MLflow docs decorate a tool-calling agent's functions with ``@mlflow.trace(span_type=...)`` so a
trace reads agent -> LLM call -> tool -> LLM call. ``otel_genai.trace`` does the same with
OpenTelemetry spans that follow the GenAI semantic conventions (v1.41.1):

========  ===========================  ==========================================================
kind      span (kind INTERNAL)         attributes
========  ===========================  ==========================================================
agent     ``invoke_agent {name}``      ``gen_ai.operation.name=invoke_agent``, ``gen_ai.agent.name``,
                                       ``mlflow.spanType=AGENT``
tool      ``execute_tool {name}``      ``gen_ai.operation.name=execute_tool``, ``gen_ai.tool.name``,
                                       ``gen_ai.tool.type=function``, ``gen_ai.tool.call.id`` (when
                                       known), ``gen_ai.agent.name`` (inside an agent),
                                       ``mlflow.spanType=TOOL``
other     ``{name}``                   ``mlflow.spanType`` (``CHAIN`` unless you name an MLflow type)
========  ===========================  ==========================================================

Use it as a decorator, bare or with arguments, on plain, ``async``, generator and async-generator
functions, or as a context manager (``with`` / ``async with``)::

    @otel_genai.trace(kind="tool")              # or span_type="TOOL" / SpanType.TOOL, MLflow-style
    def get_weather(city: str) -> str: ...

    @otel_genai.trace(span_type=SpanType.AGENT)
    def run_tool_agent(question: str): ...

    @otel_genai.trace                           # a plain (CHAIN) span named after the function
    def step(): ...

    with otel_genai.trace("lookup", kind="tool", tool_call_id=call.id) as span:
        span.set_inputs({"city": city})
        span.set_outputs(result)

Content (``mlflow.spanInputs`` / ``mlflow.spanOutputs``: the bound arguments and the return value;
for tools also ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result``) follows the content
policy ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, where otel-genai's distribution
default ``SPAN_ONLY`` applies when it is unset (:func:`set_content_capture` overrides both). With
capture off, arguments are neither bound nor serialized. A generator's output is the list of the
items it yielded (or ``output_reducer(items)``); its span covers the iteration, ends when the
generator is exhausted, closed early or garbage-collected, and is current only while the
generator's own code runs.

Exceptions set status ERROR, ``error.type`` and an ``exception`` event, then propagate unchanged.
With no OpenTelemetry SDK configured, a decorated call costs one provider lookup (well under a
microsecond) and creates nothing. A fault in this module never reaches your code.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, Status, StatusCode

from .. import _last_trace
from ..semconv import attributes as A
from ..semconv.content import ContentCapture
from ..semconv.messages import decode_arguments, to_json
from ..version import __version__

__all__ = ["SpanType", "TracedSpan", "current_span", "record_tool_calls", "set_content_capture", "trace"]

F = TypeVar("F", bound=Callable[..., Any])

SCOPE_NAME = "otel_genai.tracing"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"
_logger = logging.getLogger(__name__)
_reported: set[str] = set()

# our innermost span's handle, kept in the OTel context (so asyncio tasks and propagated contexts carry it)
_HANDLE_KEY = otel_context.create_key("otel_genai.traced_span")
_MAX_PENDING_TOOL_CALLS = 64


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


_AGENT, _TOOL, _PLAIN = "agent", "tool", "plain"


def _fault(where: str) -> None:
    """Log the exception being handled as our fault (once per site at WARNING) and swallow it."""
    if where in _reported:
        _logger.debug("otel-genai: internal error in %s (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    _logger.warning("otel-genai: internal error in %s; the traced code is unaffected", where, exc_info=True)


# --- tracer and content policy, resolved per call ---------------------------------------------------

_tracer_state: list[Any] = [object(), None]  # [provider seen last, its tracer or None when no-op]
_MISSING = object()
# ``get_tracer_provider()`` reads the environment on every call while no provider is set (about a
# microsecond); reading the global it returns is what keeps the no-SDK path negligible.
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _active_tracer() -> Any:
    """Our tracer from the global provider, or ``None`` while no SDK provider is set (the fast path)."""
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


_capture_override: list[ContentCapture | None] = [None]


def set_content_capture(capture: ContentCapture | str | None) -> None:
    """Override the content policy of :func:`trace` spans (``None``: back to the environment variable,
    else ``SPAN_ONLY``). Accepts a :class:`ContentCapture` or its name (``"NO_CONTENT"``, ``"true"``...)."""
    if capture is not None and not isinstance(capture, ContentCapture):
        capture = ContentCapture.parse(str(capture), ContentCapture.SPAN_ONLY)
    _capture_override[0] = capture


def _capture_on_span() -> bool:
    override = _capture_override[0]
    if override is not None:
        return override.on_span
    return ContentCapture.from_env(ContentCapture.SPAN_ONLY).on_span


def _attribute_value(value: Any) -> Any:
    """A user-supplied attribute value as OTel accepts it: primitives as they are, the rest as JSON."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    return to_json(value)


# --- the span handle ------------------------------------------------------------------------------


class TracedSpan:
    """One span made by :func:`trace`: what ``with otel_genai.trace(...) as span`` gives you, and what
    :func:`current_span` returns inside a decorated function.

    ``span`` is the underlying OpenTelemetry span. Content setters respect the content policy.
    """

    __slots__ = ("span", "kind", "name", "owner", "agent", "capture", "token", "pending_tool_calls", "tool_call_id")

    def __init__(self, span: Any, kind: str, name: str, owner: Any, parent: TracedSpan | None, capture: bool) -> None:
        self.span = span
        self.kind = kind
        self.name = name
        self.owner = owner
        self.capture = capture
        self.token: Any = None
        self.tool_call_id: str | None = None
        # the nearest enclosing agent (this span, if it is one): tool spans take its name and call ids
        self.agent: TracedSpan | None = self if kind == _AGENT else (parent.agent if parent is not None else None)
        self.pending_tool_calls: list[tuple[Any, str, Any]] | None = [] if kind == _AGENT else None

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
            self.span.set_attribute(key, _attribute_value(value))
        except Exception:
            _fault("TracedSpan.set_attribute")

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set several attributes at once."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_inputs(self, inputs: Any) -> None:
        """Record the inputs (``mlflow.spanInputs``; tools: ``gen_ai.tool.call.arguments``) if content is captured."""
        if not self.capture:
            return
        try:
            text = to_json(inputs)
            self.span.set_attribute(A.MLFLOW_SPAN_INPUTS, text)
            if self.kind == _TOOL:
                self.span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, text)
        except Exception:
            _fault("TracedSpan.set_inputs")

    def set_outputs(self, outputs: Any) -> None:
        """Record the outputs (``mlflow.spanOutputs``; tools: ``gen_ai.tool.call.result``) if content is captured."""
        if not self.capture:
            return
        try:
            text = to_json(outputs)
            self.span.set_attribute(A.MLFLOW_SPAN_OUTPUTS, text)
            if self.kind == _TOOL:
                self.span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, outputs if isinstance(outputs, str) else text)
        except Exception:
            _fault("TracedSpan.set_outputs")

    def set_tool_call_id(self, tool_call_id: str) -> None:
        """Set ``gen_ai.tool.call.id`` (tool spans: the id of the model's tool call this run answers)."""
        if tool_call_id is not None:
            self.tool_call_id = str(tool_call_id)
            self.span.set_attribute(A.GEN_AI_TOOL_CALL_ID, self.tool_call_id)

    # lifecycle ----------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        try:
            span = self.span
            error = A.error_type(exc)
            span.set_attribute(A.ERROR_TYPE, error)
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc) or error))
        except Exception:
            _fault("trace.fail")
        self._end()

    def _end(self) -> None:
        try:
            self.span.end()
            _last_trace.remember(self.span)
        except Exception:
            _fault("trace.end")


class _NoopSpan(TracedSpan):
    """What ``with trace(...)`` gives while no SDK is configured: every method does nothing."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(otel_trace.INVALID_SPAN, _PLAIN, "", None, None, False)

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_tool_call_id(self, tool_call_id: str) -> None:
        pass


_NOOP = _NoopSpan()


def current_span() -> TracedSpan | None:
    """The innermost span made by :func:`trace` that is current here, or ``None``."""
    return otel_context.get_value(_HANDLE_KEY)  # type: ignore[return-value]


def record_tool_calls(calls: Iterable[tuple[Any, str, Any]]) -> None:
    """Note the tool calls a model response just asked for: ``(call_id, tool_name, arguments)``.

    Called by instrumentation when an LLM call made inside a :func:`trace` agent returns tool calls;
    the next ``tool`` span of that agent with the same name (and, if they tell them apart, the same
    arguments) takes the call's id as ``gen_ai.tool.call.id``. Does nothing outside an agent.
    """
    handle = otel_context.get_value(_HANDLE_KEY)
    agent = getattr(handle, "agent", None)
    if agent is None or agent.pending_tool_calls is None:
        return
    try:
        pending = agent.pending_tool_calls
        pending.extend((call_id, name, decode_arguments(arguments)) for call_id, name, arguments in calls if call_id)
        del pending[:-_MAX_PENDING_TOOL_CALLS]
    except Exception:
        _fault("record_tool_calls")


def _claim_tool_call(agent: TracedSpan, name: str, arguments: dict[str, Any] | None) -> Any:
    pending = agent.pending_tool_calls
    if not pending:
        return None
    same_name = [i for i, (_, tool, _) in enumerate(pending) if tool == name]
    if not same_name:
        return None
    chosen = same_name[0]
    if arguments is not None and len(same_name) > 1:
        for i in same_name:
            if pending[i][2] == arguments:
                chosen = i
                break
    return pending.pop(chosen)[0]


# --- the span specification: decorator and context manager --------------------------------------------


def _resolve_kind(kind: Any, span_type: Any) -> tuple[str, str]:
    """(our kind, mlflow.spanType) from ``kind=`` / ``span_type=`` (synonyms, case-insensitive)."""
    values = {str(v).strip().upper() for v in (kind, span_type) if v is not None}
    if len(values) > 1:
        raise TypeError(f"otel_genai.trace: kind={kind!r} and span_type={span_type!r} disagree; give one")
    if not values:
        return _PLAIN, SpanType.CHAIN
    value = values.pop()
    if value == SpanType.AGENT:
        return _AGENT, SpanType.AGENT
    if value == SpanType.TOOL:
        return _TOOL, SpanType.TOOL
    return _PLAIN, value or SpanType.CHAIN


class _Trace:
    """What ``trace(...)`` returns: apply it to a function, or enter it as a context manager."""

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
        self.kind, self.span_type = _resolve_kind(kind, span_type)
        self.name = name
        self.output_reducer = output_reducer
        self.tool_call_id = None if tool_call_id is None else str(tool_call_id)
        static: dict[str, Any] = {A.MLFLOW_SPAN_TYPE: self.span_type}
        if self.kind == _AGENT:
            static[A.GEN_AI_OPERATION_NAME] = A.GenAIOperationName.INVOKE_AGENT
            if description:
                static[A.GEN_AI_AGENT_DESCRIPTION] = description
            if provider:
                static[A.GEN_AI_PROVIDER_NAME] = provider
        elif self.kind == _TOOL:
            static[A.GEN_AI_OPERATION_NAME] = A.GenAIOperationName.EXECUTE_TOOL
            static[A.GEN_AI_TOOL_TYPE] = A.GenAIToolType.FUNCTION
            if description:
                static[A.GEN_AI_TOOL_DESCRIPTION] = description
        for key, value in (attributes or {}).items():
            static[key] = _attribute_value(value)
        self.static = static

    # span start, shared by the decorator and the context manager ---------------------------------
    def _start(self, tracer: Any, name: str, inputs: Callable[[], dict[str, Any] | None] | None) -> TracedSpan:
        """Start the span (not yet current) and return its handle; raises only on our own faults."""
        kind = self.kind
        attributes = dict(self.static)
        parent: TracedSpan | None = otel_context.get_value(_HANDLE_KEY)  # type: ignore[assignment]
        if kind == _AGENT:
            span_name = f"{A.GenAIOperationName.INVOKE_AGENT} {name}" if name else A.GenAIOperationName.INVOKE_AGENT
            if name:
                attributes[A.GEN_AI_AGENT_NAME] = name
        elif kind == _TOOL:
            span_name = f"{A.GenAIOperationName.EXECUTE_TOOL} {name}"
            attributes[A.GEN_AI_TOOL_NAME] = name
            agent = parent.agent if parent is not None else None
            if agent is not None and agent.name:
                attributes[A.GEN_AI_AGENT_NAME] = agent.name
        else:
            span_name = name
        capture = _capture_on_span()
        arguments = None
        if capture and inputs is not None:
            try:
                arguments = inputs()
                if arguments is not None:
                    text = to_json(arguments)
                    attributes[A.MLFLOW_SPAN_INPUTS] = text
                    if kind == _TOOL:
                        attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS] = text
            except Exception:
                _fault("trace.inputs")
        call_id = self.tool_call_id
        if kind == _TOOL and call_id is None and parent is not None and parent.agent is not None:
            call_id = _claim_tool_call(parent.agent, name, arguments)
        if call_id is not None and kind == _TOOL:
            attributes[A.GEN_AI_TOOL_CALL_ID] = call_id
        span = tracer.start_span(span_name, kind=SpanKind.INTERNAL, attributes=attributes)
        handle = TracedSpan(span, kind, name, self, parent, capture and span.is_recording())
        handle.tool_call_id = call_id
        return handle

    @staticmethod
    def _context(handle: TracedSpan) -> Any:
        return otel_context.set_value(_HANDLE_KEY, handle, otel_trace.set_span_in_context(handle.span))

    def _finish(self, handle: TracedSpan, outputs: Any, reduce: bool = False) -> None:
        if handle.capture:
            try:
                if reduce and self.output_reducer is not None:
                    outputs = self.output_reducer(outputs)
                handle.set_outputs(outputs)
            except Exception:
                _fault("trace.outputs")
        handle._end()

    # context manager ---------------------------------------------------------------------------
    def __enter__(self) -> TracedSpan:
        tracer = _active_tracer()
        if tracer is None:
            return _NOOP
        try:
            default = {_AGENT: "", _TOOL: "tool"}.get(self.kind, "span")
            handle = self._start(tracer, self.name or default, None)
            handle.token = otel_context.attach(self._context(handle))
            return handle
        except Exception:
            _fault("trace.__enter__")
            return _NOOP

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        handle = otel_context.get_value(_HANDLE_KEY)
        if not isinstance(handle, TracedSpan) or handle.owner is not self or handle.token is None:
            return False  # entered while no SDK was configured
        token, handle.token = handle.token, None
        otel_context.detach(token)
        if exc is not None:
            handle._fail(exc)
        else:
            handle._end()
        return False

    async def __aenter__(self) -> TracedSpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # decorator ------------------------------------------------------------------------------------
    def __call__(self, func: F) -> F:
        if not callable(func):
            raise TypeError(f"otel_genai.trace: expected a function to decorate, got {type(func).__name__}")
        return _decorate(func, self)  # type: ignore[return-value]


_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _input_binder(func: Callable[..., Any]) -> Callable[[tuple, dict], dict[str, Any]]:
    """``(args, kwargs) -> {parameter: value}`` for ``func``, defaults applied, ``self``/``cls`` left out.

    Signatures of plain positional-or-keyword parameters (the common case) are bound by a loop that
    costs a fraction of ``inspect.Signature.bind``; anything else goes through ``bind``.
    """
    state: list[Any] = []  # [signature or None, simple parameter names or None, defaults, skip first]

    def prepare() -> None:
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            state[:] = [None, None, {}, False]
            return
        params = list(sig.parameters.values())
        skip = bool(params) and params[0].name in ("self", "cls")
        simple = all(p.kind in _SIMPLE_KINDS for p in params)
        names = tuple(p.name for p in params) if simple else None
        defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        state[:] = [sig, names, defaults, skip]

    def bind(args: tuple, kwargs: dict) -> dict[str, Any]:
        if not state:
            prepare()
        sig, names, defaults, skip = state
        if sig is None:
            return {"args": list(args), "kwargs": kwargs} if kwargs else {"args": list(args)}
        if names is not None and len(args) <= len(names):
            arguments: dict[str, Any] = {}
            count = len(args)
            for i, name in enumerate(names):
                if i < count:
                    arguments[name] = args[i]
                elif name in kwargs:
                    arguments[name] = kwargs[name]
                elif name in defaults:
                    arguments[name] = defaults[name]
                else:
                    break  # a missing argument: the call itself will say so
            else:
                # every keyword must name a parameter not already given by position
                if all(k in arguments and names.index(k) >= count for k in kwargs):
                    if skip:
                        arguments.pop(names[0], None)
                    return arguments
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return {"args": list(args), "kwargs": kwargs}
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if skip:
            arguments.pop(next(iter(sig.parameters)), None)
        return arguments

    return bind


def _decorate(func: Callable[..., Any], spec: _Trace) -> Callable[..., Any]:
    name = spec.name or getattr(func, "__name__", None) or "span"
    bind = _input_binder(func)

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            handle = ctx = None
            tracer = _active_tracer()
            if tracer is not None:
                try:
                    handle = spec._start(tracer, name, lambda: bind(args, kwargs))
                    ctx = spec._context(handle)
                except Exception:
                    _fault("trace.start")
                    handle = ctx = None
            items: list[Any] | None = [] if handle is not None and handle.capture else None
            agen = None
            try:
                agen = func(*args, **kwargs)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(ctx) if ctx is not None else None
                    try:
                        if thrown is not None:
                            exc, thrown = thrown, None
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(sent)
                    finally:
                        if token is not None:
                            otel_context.detach(token)
                    if items is not None:
                        items.append(item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # thrown in by the consumer: pass it on
                        thrown = exc
            except StopAsyncIteration:
                if handle is not None:
                    spec._finish(handle, items, reduce=True)
            except GeneratorExit:  # closed early (break, aclose(), garbage collection)
                token = otel_context.attach(ctx) if ctx is not None else None
                try:
                    if agen is not None:
                        await agen.aclose()
                except BaseException as exc:
                    if token is not None:
                        otel_context.detach(token)
                        token = None
                    if handle is not None:
                        handle._fail(exc)
                    raise
                finally:
                    if token is not None:
                        otel_context.detach(token)
                if handle is not None:
                    spec._finish(handle, items, reduce=True)
                raise
            except BaseException as exc:
                if handle is not None:
                    handle._fail(exc)
                raise

        return async_gen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = _active_tracer()
            if tracer is None:
                return (yield from func(*args, **kwargs))
            try:
                handle = spec._start(tracer, name, lambda: bind(args, kwargs))
                ctx = spec._context(handle)
            except Exception:
                _fault("trace.start")
                return (yield from func(*args, **kwargs))
            items: list[Any] | None = [] if handle.capture else None
            try:
                gen = func(*args, **kwargs)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(ctx)
                    try:
                        if thrown is not None:
                            exc, thrown = thrown, None
                            item = gen.throw(exc)
                        else:
                            item = gen.send(sent)
                    finally:
                        otel_context.detach(token)
                    if items is not None:
                        items.append(item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # thrown in by the consumer: pass it on
                        thrown = exc
            except StopIteration as stop:
                spec._finish(handle, items, reduce=True)
                return stop.value
            except GeneratorExit:  # closed early (break, close(), garbage collection)
                token = otel_context.attach(ctx)
                try:
                    gen.close()
                except BaseException as exc:
                    otel_context.detach(token)
                    handle._fail(exc)
                    raise
                otel_context.detach(token)
                spec._finish(handle, items, reduce=True)
                raise
            except BaseException as exc:
                handle._fail(exc)
                raise

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = _active_tracer()
            if tracer is None:
                return await func(*args, **kwargs)
            try:
                handle = spec._start(tracer, name, lambda: bind(args, kwargs))
                token = otel_context.attach(spec._context(handle))
            except Exception:
                _fault("trace.start")
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                otel_context.detach(token)
                handle._fail(exc)
                raise
            otel_context.detach(token)
            spec._finish(handle, result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer = _active_tracer()
        if tracer is None:
            return func(*args, **kwargs)
        try:
            handle = spec._start(tracer, name, lambda: bind(args, kwargs))
            token = otel_context.attach(spec._context(handle))
        except Exception:
            _fault("trace.start")
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            handle._fail(exc)
            raise
        otel_context.detach(token)
        spec._finish(handle, result)
        return result

    return wrapper


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
            pending tool calls, see :func:`record_tool_calls`).
        description: ``gen_ai.agent.description`` / ``gen_ai.tool.description``.
        provider: agents: ``gen_ai.provider.name`` of the model the agent runs on.
        output_reducer: generators: turns the list of yielded items into the recorded output.

    Returns:
        The wrapped function (same kind: plain, ``async``, generator, async generator), or, called
        without a function, an object that decorates a function or works as ``with`` /
        ``async with`` context manager yielding a :class:`TracedSpan`.
    """
    if isinstance(func, str):
        if name is not None:
            raise TypeError("otel_genai.trace: name given twice")
        func, name = None, func
    spec = _Trace(name, kind, span_type, attributes, tool_call_id, description, provider, output_reducer)
    if func is not None:
        return spec(func)
    return spec
