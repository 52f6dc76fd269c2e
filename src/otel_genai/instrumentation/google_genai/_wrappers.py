"""The wrappers of the ``google-genai`` rows: the core's call lifecycle (``_core.invocation``) with a
routing step the core's ``sync_wrapper`` / ``async_wrapper`` lack, and stream proxies for the SDK's
streams, which are plain (async) generators.

Routing (one decision per call, before the SDK runs; see ``afc`` for the loop it serves):

* inside an automatic-function-calling loop of ours (``afc.AFC_KEY`` set), a model request (the
  user-facing ``generate_content[_stream]`` a ``Chat`` calls per turn, or the private
  ``_generate_content[_stream]`` ``Models`` calls per turn) is one ``chat`` span, a child of the
  loop's span, although another call of ours is open (the core's guard would pass it through);
* otherwise a call made inside one of ours, or with instrumentation suppressed, passes through;
* a user's call that runs an AFC loop is one ``invoke_agent`` span (``Chat.send_message[_stream]``
  only ever matters then: without the loop, the chat's ``models`` call is the span);
* any other user call is one span of the row's operation.

Streams: ``generate_content_stream`` returns a generator (an async generator from ``client.aio``),
with no ``close()`` on the async one and no ``with`` on either. The proxies (the core's, subclassed)
keep the generator's surface (``isinstance``, ``send``, ``throw``, ``aclose``) and add ``with`` /
``async with`` and an awaitable ``close()``, so the stream rules of ``docs/lifecycle.md`` hold:
exhausted, ``break`` inside ``with``, ``close()`` / ``aclose()``, garbage collection, an error,
cancellation. A ``close()`` while an exception propagates (``contextlib.closing`` left by the
user's exception) ends the span as failed by that exception, as leaving ``with stream:`` does. The Interactions API's streams (``eventstreaming.Stream``) already have all of that:
the core's proxies as they are.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ...semconv import attributes as A
from .._core.faults import log_fault
from .._core.invocation import GENAI_CALL_KEY, GenAITelemetry, Invocation
from .._core.operation import Operation
from .._core.streams import AsyncStreamProxy, SyncStreamProxy
from .afc import AFC_KEY, afc_active
from .models import CHAT_ENTRY, ENTRY, TURN

_attach = otel_context.attach
_detach = otel_context.detach
_get_current = otel_context.get_current
_GeneratorType = types.GeneratorType
_AsyncGeneratorType = types.AsyncGeneratorType


def _propagating() -> BaseException | None:
    """The exception propagating while ``close()`` runs (``contextlib.closing`` leaving its block
    because the user's loop raised, or a ``finally:`` doing the same), if any: the stream ended
    because of it, so the span fails with it, as ``__exit__`` does for ``with stream:``."""
    exc = sys.exc_info()[1]
    if exc is None or isinstance(exc, (GeneratorExit, StopIteration, StopAsyncIteration)):
        return None
    return exc


class GeminiStream(SyncStreamProxy):
    """A ``generate_content_stream`` generator whose span ends exactly once; usable in ``with``
    (leaving the block closes the generator). The generator's body (its HTTP request, an AFC loop's
    turns and tools) runs while it is stepped, long after the call returned: each step runs with
    the span's context current, as the call itself did."""

    def __next__(self) -> Any:
        token = _attach(self._self_invocation.context)
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            _detach(token)
            self._self_end(complete=True)
            raise
        except BaseException as exc:
            _detach(token)
            self._self_end(exc)
            raise
        _detach(token)
        self._self_on_chunk(chunk)
        return chunk

    def __enter__(self) -> GeminiStream:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(exc)
        return False

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(_propagating())


class GeminiAsyncStream(AsyncStreamProxy):
    """A ``client.aio`` ``generate_content_stream`` async generator whose span ends exactly once;
    usable in ``async with``; ``close()`` is ``aclose()`` (awaitable), as the SDKs' streams have it.
    Each step runs with the span's context current (see :class:`GeminiStream`)."""

    async def __anext__(self) -> Any:
        token = _attach(self._self_invocation.context)
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            _detach(token)
            self._self_end(complete=True)
            raise
        except BaseException as exc:
            _detach(token)
            self._self_end(exc)
            raise
        _detach(token)
        self._self_on_chunk(chunk)
        return chunk

    async def __aenter__(self) -> GeminiAsyncStream:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end(exc)
        return False

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end(_propagating())

    async def close(self) -> None:
        await self.aclose()


class Route:
    """How one row's calls are traced: its ``role`` (``models.ENTRY`` / ``TURN`` / ``CHAT_ENTRY``),
    its operation, the AFC operation when the call may run the loop (``None`` otherwise), and for a
    chat row how to read the request (``chats.chat_request``)."""

    __slots__ = ("telemetry", "role", "operation", "agent", "chat_request")

    def __init__(
        self,
        telemetry: GenAITelemetry,
        role: str,
        operation: Operation | None,
        agent: Operation | None,
        chat_request: Callable[[Any, tuple, dict], dict[str, Any]] | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.role = role
        self.operation = operation
        self.agent = agent
        self.chat_request = chat_request

    def start(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[Invocation, dict[str, Any]] | None:
        """The invocation of this call and the request kwargs it was built from, or ``None`` to pass
        the call through untraced (never raises: a fault is logged)."""
        try:
            context = _get_current()
            loop = context.get(AFC_KEY)
            role = self.role
            if loop is not None and role != CHAT_ENTRY and self.agent is not None:
                # a model turn of our AFC loop: a chat span under the loop's, whatever the guard says
                invocation = self.telemetry.start(self.operation, instance, kwargs, context)
                if invocation is not None:
                    invocation.context = otel_context.set_value(AFC_KEY, None, invocation.context)
                    return invocation, kwargs
                return None
            if role == TURN or context.get(GENAI_CALL_KEY) is not None or not is_instrumentation_enabled():
                return None
            if self.agent is not None:
                request = self.chat_request(instance, args, kwargs) if self.chat_request is not None else kwargs
                if afc_active(request.get("config")):
                    invocation = self.telemetry.start(self.agent, instance, request, context)
                    if invocation is None:
                        return None
                    model = request.get("model")
                    if isinstance(model, str) and model:
                        invocation.span.set_attribute(A.GEN_AI_REQUEST_MODEL, model)
                        invocation.attributes[A.GEN_AI_REQUEST_MODEL] = model
                    invocation.context = otel_context.set_value(AFC_KEY, invocation, invocation.context)
                    return invocation, request
            if role == CHAT_ENTRY:
                return None
            operation = self.operation
            select = getattr(operation, "select", None)
            if select is not None:
                operation = select(kwargs)
            invocation = self.telemetry.start(operation, instance, kwargs, context)
            if invocation is None:
                return None
            return invocation, kwargs
        except Exception:
            log_fault("google_genai.route")
            return None


def complete(invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
    """What the user gets: a stream in its proxy (the span ends with it), anything else as it is
    (span ended now)."""
    operation = invocation.operation
    try:
        if isinstance(result, _GeneratorType):
            return GeminiStream(result, invocation, operation.new_accumulator(kwargs))
        if isinstance(result, _AsyncGeneratorType):
            return GeminiAsyncStream(result, invocation, operation.new_accumulator(kwargs))
        if operation.stream_types and isinstance(result, operation.stream_types):
            proxy = AsyncStreamProxy if hasattr(result, "__anext__") else SyncStreamProxy
            return proxy(result, invocation, operation.new_accumulator(kwargs))
        invocation.finish(result)
    except Exception:
        log_fault(f"{type(operation).__name__}.complete")
        if not invocation.ended:
            invocation.finish(None)
    return result


def sync_wrapper(route: Route) -> Callable[..., Any]:
    """A ``wrapt`` wrapper for a function that returns its result (or a generator / async generator)
    without being awaited."""
    telemetry = route.telemetry

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        started = route.start(instance, args, kwargs) if telemetry.active else None
        if started is None:
            return wrapped(*args, **kwargs)
        invocation, request = started
        token = _attach(invocation.context)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            invocation.fail(exc)
            raise
        _detach(token)
        return complete(invocation, result, request)

    return wrapper


def async_wrapper(route: Route) -> Callable[..., Any]:
    """A ``wrapt`` wrapper for an ``async def`` function (its result, or the async generator it returns)."""
    telemetry = route.telemetry

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        started = route.start(instance, args, kwargs) if telemetry.active else None
        if started is None:
            return await wrapped(*args, **kwargs)
        invocation, request = started
        token = _attach(invocation.context)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            invocation.fail(exc)
            raise
        _detach(token)
        return complete(invocation, result, request)

    return wrapper


def wrapper_for(function: Any, route: Route) -> Callable[..., Any]:
    """The wrapper that fits ``function``: awaited (``async def`` returning a value or an async
    generator) or not (a plain function, a generator function, an async generator function such as
    ``AsyncChat.send_message_stream``)."""
    target = inspect.unwrap(function) if callable(function) else function
    return async_wrapper(route) if inspect.iscoroutinefunction(target) else sync_wrapper(route)
