"""The decorator's shells: one per kind of function (plain, ``async``, generator, async generator), each
a few lines around the span of one call, and ONE generator driver (:class:`GeneratorRun`) behind
both generator shells.

Every shell first asks for the tracer (``None`` while no SDK is configured: the user's function runs
as if undecorated). The user's exceptions pass through unchanged; ours are logged and swallowed
inside the span methods, which never raise.

A generator's span covers its whole iteration but is current only while the generator's own code
runs (each ``send`` / ``throw`` / ``close`` step), and ends once: exhausted, left by an exception,
or closed early (``break``, ``close()`` / ``aclose()``, garbage collection).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from opentelemetry.context import attach as _attach
from opentelemetry.context import detach as _detach

from .binding import InputBinder
from .runtime import active_tracer
from .span import TracedSpan


def decorate(func: Callable[..., Any], spec: Any) -> Callable[..., Any]:
    """``func`` wrapped in the shell of its kind (the same kind of callable, ``functools.wraps``-ed),
    each call one span of ``spec`` (a :class:`~otel_genai.tracing.spec.SpanSpec`)."""
    name = spec.name or getattr(func, "__name__", None) or "span"
    if inspect.isasyncgenfunction(func):
        shell = _async_generator_shell
    elif inspect.isgeneratorfunction(func):
        shell = _generator_shell
    elif inspect.iscoroutinefunction(func):
        shell = _coroutine_shell
    else:
        shell = _call_shell
    return functools.wraps(func)(shell(func, spec, name, InputBinder(func)))


# --- plain and async functions: the span is current for the whole call -----------------------------


def _call_shell(func: Callable[..., Any], spec: Any, name: str, bind: InputBinder) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        handle = None if tracer is None else spec.enter(tracer, name, bind, args, kwargs)
        if handle is None:
            return func(*args, **kwargs)
        try:
            return handle._returned(func(*args, **kwargs))
        except BaseException as exc:
            handle._end(exc)
            raise

    return call


def _coroutine_shell(func: Callable[..., Any], spec: Any, name: str, bind: InputBinder) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        handle = None if tracer is None else spec.enter(tracer, name, bind, args, kwargs)
        if handle is None:
            return await func(*args, **kwargs)
        try:
            return handle._returned(await func(*args, **kwargs))
        except BaseException as exc:
            handle._end(exc)
            raise

    return call


# --- generators: the span covers the iteration, current during each step -----------------------------


def _generator_shell(func: Callable[..., Any], spec: Any, name: str, bind: InputBinder) -> Callable[..., Any]:
    def generator(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        handle = None if tracer is None else spec.begin(tracer, name, bind, args, kwargs)
        if handle is None:
            return (yield from func(*args, **kwargs))
        return (yield from GeneratorRun(handle, func, args, kwargs))  # yield from: send/throw/close pass on

    return generator


def _async_generator_shell(func: Callable[..., Any], spec: Any, name: str, bind: InputBinder) -> Callable[..., Any]:
    async def async_generator(*args: Any, **kwargs: Any) -> Any:
        tracer = active_tracer()
        handle = None if tracer is None else spec.begin(tracer, name, bind, args, kwargs)
        steps = func(*args, **kwargs) if handle is None else AsyncGeneratorRun(handle, func, args, kwargs)
        # what ``yield from`` does for a generator, which async generators lack
        step = steps.asend(None)
        while True:
            try:
                item = await step
            except StopAsyncIteration:
                return
            try:
                step = steps.asend((yield item))
            except GeneratorExit:  # closed early: break, aclose(), garbage collection
                await steps.aclose()
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on
                step = steps.athrow(exc)

    return async_generator


class GeneratorRun:
    """The span of one generator run, driving the user's generator (``inner``) one step at a time.

    The shell ``yield from`` s it (the iterator protocol: ``send`` / ``throw`` / ``close``), or, for an
    async generator, awaits :class:`AsyncGeneratorRun`'s ``asend`` / ``athrow`` / ``aclose``. Each step
    runs with the span current, then: an item is recorded (when content is captured); the end of
    the generator (``StopIteration`` / ``StopAsyncIteration``, or a completed close) ends the span
    with the items as outputs; any other exception ends it with status ERROR. Exceptions propagate
    as raised.
    """

    __slots__ = ("handle", "context", "items", "inner")

    def __init__(self, handle: TracedSpan, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.handle = handle
        self.context = handle.context
        self.items: list[Any] | None = [] if handle.capture else None
        try:
            self.inner = func(*args, **kwargs)  # runs none of the generator's code yet
        except BaseException as exc:
            handle._end(exc)
            raise

    # one step, sync and async: the span is current while the generator's own code runs -------------
    def _step(self, method: Callable[..., Any] | None = None, *args: Any) -> Any:
        token = _attach(self.context)
        try:
            item = next(self.inner) if method is None else method(*args)
        except BaseException as exc:
            self._stopped(token, exc)
            raise
        _detach(token)
        if self.items is not None:
            self.items.append(item)
        return item

    async def _astep(self, awaitable: Any) -> Any:
        token = _attach(self.context)
        try:
            item = await awaitable
        except BaseException as exc:
            self._stopped(token, exc)
            raise
        _detach(token)
        if self.items is not None:
            self.items.append(item)
        return item

    def _stopped(self, token: Any, exc: BaseException) -> None:
        _detach(token)
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self.handle._returned(self.items, reduce=True)
        else:
            self.handle._end(exc)

    # the iterator protocol, for ``yield from`` (which calls ``__next__`` to send ``None``) ----------
    def __iter__(self) -> GeneratorRun:
        return self

    __next__ = _step  # a for loop's step, without one more call

    def send(self, value: Any) -> Any:
        return self._step(self.inner.send, value)

    def throw(self, *exc: Any) -> Any:
        return self._step(self.inner.throw, *exc)

    def close(self) -> None:
        items, self.items = self.items, None  # a completed close records no item, and ends the span
        self._step(self.inner.close)
        self.handle._returned(items, reduce=True)


class AsyncGeneratorRun(GeneratorRun):
    """:class:`GeneratorRun` for an async generator: ``asend`` / ``athrow`` / ``aclose``."""

    __slots__ = ()

    def asend(self, value: Any) -> Any:
        return self._astep(self.inner.asend(value))

    def athrow(self, exc: BaseException) -> Any:
        return self._astep(self.inner.athrow(exc))

    async def aclose(self) -> None:
        items, self.items = self.items, None
        await self._astep(self.inner.aclose())
        self.handle._returned(items, reduce=True)
