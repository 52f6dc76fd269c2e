"""The safe wrappers installed on SDK methods (``wrapt`` signature ``(wrapped, instance, args, kwargs)``).

Guarantees (docs/architecture.md, "Rules that keep it in shape"): a fault in our code is logged
and the SDK call proceeds untouched; the user's exception propagates as the same object; the span is current while the SDK call runs; a
call made inside another of our calls, or with instrumentation suppressed, is not traced again.
Sync wrappers never run an event loop; async wrappers never block one.

Routing: a provider whose calls nest in ways the guard cannot tell apart (an agent loop the SDK
runs inside the user's call, whose model turns are calls of ours too) gives a :data:`Route`: it
replaces the start step (which call is traced, as which operation, under which parent) and the
rest (the call, its failure, its result or stream) is the core's. Without one, the start step is
the guard above and costs what it did.
"""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from .faults import log_fault
from .invocation import GENAI_CALL_KEY, GenAITelemetry, Invocation
from .operation import Operation
from .streams import AsyncStreamProxy, SyncStreamProxy

_attach = otel_context.attach
_detach = otel_context.detach
_get_current = otel_context.get_current


#: A routing hook: ``route(instance, args, kwargs)`` -> the started :class:`Invocation` of this call
#: (``GenAITelemetry.start`` of the operation it chose, under the parent it chose), or ``None`` to
#: pass the call through untraced. Its result (or stream) is then read by the operation it started
#: (``invocation.operation``) with the call's own ``kwargs``. A fault in it is logged and the call
#: passes through.
Route = Callable[[Any, tuple, dict], "Invocation | None"]


def traced(context: Any) -> bool:
    """Whether a call in ``context`` is traced by the guard: not inside one of our calls, and
    instrumentation not suppressed (``opentelemetry.instrumentation.utils``)."""
    return context.get(GENAI_CALL_KEY) is None and is_instrumentation_enabled()


def _starter(telemetry: GenAITelemetry, operation: Operation) -> Route:
    """The default start step: ``operation``'s span under the current context, when :func:`traced`."""

    def start(instance: Any, args: tuple, kwargs: dict[str, Any]) -> Invocation | None:
        parent = _get_current()
        if parent.get(GENAI_CALL_KEY) is None and is_instrumentation_enabled():  # traced(parent), inline
            return telemetry.start(operation, instance, kwargs, parent)
        return None

    return start


def _guarded(route: Route) -> Route:
    """``route`` with its faults logged (the call then passes through untraced)."""
    where = getattr(route, "__qualname__", None) or type(route).__qualname__

    def start(instance: Any, args: tuple, kwargs: dict[str, Any]) -> Invocation | None:
        try:
            return route(instance, args, kwargs)
        except Exception:
            log_fault(where)
            return None

    return start


def _complete(invocation: Invocation, result: Any, kwargs: dict[str, Any], proxy_type: type) -> Any:
    """Return the user's result: a stream wrapped in a proxy, a result one of the operation's
    ``result_handlers`` takes, anything else as is (span ended)."""
    operation = invocation.operation
    try:
        if operation.stream_types and isinstance(result, operation.stream_types):
            return proxy_type(result, invocation, operation.new_accumulator(kwargs))
        for types, handler in operation.result_handlers:
            if isinstance(result, types):
                return handler(invocation, result, kwargs)
        invocation.finish(result)
    except Exception:
        log_fault(f"{type(operation).__name__}.complete")
        if not invocation.ended:
            invocation.finish(None)
    return result


def sync_wrapper(
    telemetry: GenAITelemetry, operation: Operation, route: Route | None = None, proxy: type = SyncStreamProxy
) -> Callable[..., Any]:
    """A ``wrapt`` wrapper tracing a synchronous SDK method as ``operation`` (or as its ``route``
    says); a stream result (``operation.stream_types``) is returned in ``proxy``: :class:`SyncStreamProxy`,
    or for a function returning an async generator without being awaited :class:`AsyncStreamProxy`,
    or a lazy proxy (``streams``) for a stream whose body runs while it is read."""
    start = _starter(telemetry, operation) if route is None else _guarded(route)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        invocation = start(instance, args, kwargs) if telemetry.active else None
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = _attach(invocation.context)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            invocation.fail(exc)
            raise
        _detach(token)
        return _complete(invocation, result, kwargs, proxy)

    return wrapper


def async_wrapper(
    telemetry: GenAITelemetry, operation: Operation, route: Route | None = None, proxy: type = AsyncStreamProxy
) -> Callable[..., Any]:
    """A ``wrapt`` wrapper tracing an ``async def`` SDK method as ``operation`` (or as its
    ``route`` says); a stream result is returned in ``proxy`` (see :func:`sync_wrapper`)."""
    start = _starter(telemetry, operation) if route is None else _guarded(route)

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        invocation = start(instance, args, kwargs) if telemetry.active else None
        if invocation is None:
            return await wrapped(*args, **kwargs)
        token = _attach(invocation.context)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            invocation.fail(exc)
            raise
        _detach(token)
        return _complete(invocation, result, kwargs, proxy)

    return wrapper
