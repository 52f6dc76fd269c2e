"""How each ``google-genai`` row's calls are traced: the core's routing hook (``_core.wrappers.Route``),
one decision per call, before the SDK runs (see ``afc`` for the loop it serves):

* inside an automatic-function-calling loop of ours (``afc.AFC_KEY`` set), a model request (the
  user-facing ``generate_content[_stream]`` a ``Chat`` calls per turn, or the private
  ``_generate_content[_stream]`` ``Models`` calls per turn) is one ``chat`` span, a child of the
  loop's span, although another call of ours is open (the core's guard would pass it through);
* otherwise a call made inside one of ours, or with instrumentation suppressed, passes through;
* a user's call that runs an AFC loop is one ``invoke_agent`` span (``Chat.send_message[_stream]``
  only ever matters then: without the loop, the chat's ``models`` call is the span);
* any other user call is one span of the row's operation (for ``interactions.create``, the one its
  ``select`` picks).

The call itself, its failure and its result are the core's (``_core.wrappers``). Streams:
``generate_content_stream`` returns a generator (an async generator from ``client.aio``) whose body
(its HTTP request, an AFC loop's turns and tools) runs while it is read, with no ``close()`` on the
async one and no ``with`` on either: the core's lazy proxies (``_core.streams``) give it ``with`` /
``async with`` and an awaitable ``close()``, run each step in the span's context, and end the span
as failed when it is closed while an exception propagates (``docs/lifecycle.md``). The Interactions
API's streams (``eventstreaming.Stream``) are the SDKs' usual kind: the core's plain proxies.
"""

from __future__ import annotations

import inspect
from types import AsyncGeneratorType, GeneratorType
from typing import Any, Callable

from opentelemetry import context as otel_context

from .._core.invocation import GenAITelemetry, Invocation
from .._core.operation import Operation
from .._core.streams import AsyncStreamProxy, LazyAsyncStreamProxy, LazySyncStreamProxy, SyncStreamProxy
from .._core.wrappers import async_wrapper, sync_wrapper, traced
from .afc import AFC_KEY, afc_active
from .models import CHAT_ENTRY, TURN

_get_current = otel_context.get_current
_set_value = otel_context.set_value

#: ``Operation.stream_types`` of the ``models`` / ``chats`` rows: their streams are generators
GENERATORS = (GeneratorType, AsyncGeneratorType)


class Route:
    """The routing hook of one row: its ``role`` (``models.ENTRY`` / ``TURN`` / ``CHAT_ENTRY``), its
    operation, the AFC operation when the call may run the loop (``None`` otherwise), and for a chat
    row how to read the request (``chats.chat_request``). Called as the core's ``Route``."""

    __slots__ = ("telemetry", "role", "operation", "select", "agent", "chat_request")

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
        self.select = getattr(operation, "select", None)
        self.agent = agent
        self.chat_request = chat_request

    def __call__(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Invocation | None:
        context = _get_current()
        role = self.role
        if self.agent is not None and role != CHAT_ENTRY and context.get(AFC_KEY) is not None:
            # a model turn of our AFC loop: a chat span under the loop's, whatever the guard says
            invocation = self.telemetry.start(self.operation, instance, kwargs, context)
            if invocation is not None:
                invocation.context = _set_value(AFC_KEY, None, invocation.context)
            return invocation
        if role == TURN or not traced(context):
            return None
        if self.agent is not None:
            request = self.chat_request(instance, args, kwargs) if self.chat_request is not None else kwargs
            if afc_active(request.get("config")):
                invocation = self.telemetry.start(self.agent, instance, request, context)
                if invocation is not None:
                    invocation.context = _set_value(AFC_KEY, invocation, invocation.context)
                return invocation
        if role == CHAT_ENTRY:
            return None
        operation = self.operation if self.select is None else self.select(kwargs)
        return self.telemetry.start(operation, instance, kwargs, context)


def wrapper_for(function: Any, route: Route, is_async: bool, lazy: bool) -> Callable[..., Any]:
    """The core wrapper that fits ``function``: awaited (``async def`` returning a value or an async
    generator) or not (a plain function, a generator function, an async generator function); its
    streams in the core's async proxies for a ``client.aio`` row (``is_async``), lazy ones for
    generators (``lazy``)."""
    target = inspect.unwrap(function) if callable(function) else function
    if lazy:
        proxy = LazyAsyncStreamProxy if is_async else LazySyncStreamProxy
    else:
        proxy = AsyncStreamProxy if is_async else SyncStreamProxy
    build = async_wrapper if inspect.iscoroutinefunction(target) else sync_wrapper
    return build(route.telemetry, route.operation, route, proxy)
