"""The safe wrappers installed on SDK methods (``wrapt`` signature ``(wrapped, instance, args, kwargs)``).

Guarantees (docs/architecture.md, "Rules that keep it in shape"): a fault in our code is logged and the SDK call proceeds untouched; the
user's exception propagates as the same object; the span is current while the SDK call runs; a
call made inside another of our calls, or with instrumentation suppressed, is not traced again.
Sync wrappers never run an event loop; async wrappers never block one.
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


def _traced_parent() -> Any:
    """The current context if this call is to be traced, else ``None`` (inside one of our calls,
    or instrumentation suppressed)."""
    parent = _get_current()
    if parent.get(GENAI_CALL_KEY) is None and is_instrumentation_enabled():
        return parent
    return None


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


def sync_wrapper(telemetry: GenAITelemetry, operation: Operation) -> Callable[..., Any]:
    """A ``wrapt`` wrapper tracing a synchronous SDK method as ``operation``."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        parent = _traced_parent() if telemetry.active else None
        if parent is None:
            return wrapped(*args, **kwargs)
        invocation = telemetry.start(operation, instance, kwargs, parent)
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
        return _complete(invocation, result, kwargs, SyncStreamProxy)

    return wrapper


def async_wrapper(telemetry: GenAITelemetry, operation: Operation) -> Callable[..., Any]:
    """A ``wrapt`` wrapper tracing an ``async def`` SDK method as ``operation``."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        parent = _traced_parent() if telemetry.active else None
        if parent is None:
            return await wrapped(*args, **kwargs)
        invocation = telemetry.start(operation, instance, kwargs, parent)
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
        return _complete(invocation, result, kwargs, AsyncStreamProxy)

    return wrapper
