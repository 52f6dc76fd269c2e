"""Stream proxies: the SDK's stream object, unchanged to the user, whose span ends exactly once.

A proxy (``wrapt.ObjectProxy``) keeps the SDK surface: ``isinstance`` checks, ``.response``,
context managers and every other attribute pass through. The span ends with what the stream
delivered, whichever way it ends (docs/lifecycle.md): exhausted, ``break`` inside ``with``,
``close()``/``aclose()``, garbage collection, an exception from the SDK or the user's loop, task
cancellation (``CancelledError`` is a ``BaseException``).

A stream that is no context manager (a plain generator) is one under the proxy: ``with`` /
``async with`` return the proxy and leaving the block closes the stream (``aclose()`` for an async
generator, whose ``close()`` the async proxy maps to it). A stream whose body runs while it is read
(a generator: its HTTP request, the turns of an agent loop) takes the lazy proxies, which make the
span's context current on each step, as the call's own body had it.
"""

from __future__ import annotations

import sys
from types import AsyncGeneratorType
from typing import Any

import wrapt
from opentelemetry import context as otel_context

from . import lifecycle
from .faults import log_fault
from .invocation import Invocation, _perf_counter
from .operation import StreamAccumulator

_attach = otel_context.attach
_detach = otel_context.detach


def _propagating() -> BaseException | None:
    """The exception propagating while ``close()`` runs (``contextlib.closing`` left because the
    user's loop raised, or a ``finally:`` doing the same), if any."""
    exc = sys.exc_info()[1]
    if exc is None or isinstance(exc, (GeneratorExit, StopIteration, StopAsyncIteration)):
        return None
    return exc


def _aclose(stream: Any) -> Any:
    """The awaitable that closes an async stream: ``aclose()`` for an async generator (which has no
    ``close()``), else the SDK stream's ``close()``."""
    return stream.aclose() if isinstance(stream, AsyncGeneratorType) else stream.close()


class _StreamProxyBase(wrapt.ObjectProxy):
    """Shared state and ending logic of the sync and async proxies. The accumulator and the chunk
    times live on the invocation too, so the process-exit handler can end an open stream's span
    without the proxy (see ``lifecycle``).

    ``_self_close_fails``: a ``close()`` while an exception propagates ends the span as failed by
    it (as ``__exit__`` does for ``with stream:``), instead of as left early; set by the lazy proxies.
    """

    _self_close_fails = False

    def __init__(self, stream: Any, invocation: Invocation, accumulator: StreamAccumulator) -> None:
        super().__init__(stream)
        self._self_invocation = invocation
        self._self_accumulator = accumulator
        self._self_chunk_times: list[float] = []
        invocation.stream_started(accumulator, self._self_chunk_times)
        try:
            accumulator.on_stream(stream)
        except Exception:
            log_fault(f"{type(accumulator).__name__}.on_stream")

    def _self_on_chunk(self, chunk: Any) -> None:
        self._self_chunk_times.append(_perf_counter())
        try:
            self._self_accumulator.on_chunk(chunk)
        except Exception:
            log_fault(f"{type(self._self_accumulator).__name__}.on_chunk")

    def _self_end(self, exc: BaseException | None = None, complete: bool = False) -> None:
        invocation = self._self_invocation
        if not invocation.ended:
            invocation.finish_stream(exc, complete)

    def __del__(self) -> None:
        # collected without being closed (``break`` outside ``with``): the span ends at the last
        # chunk the consumer received. Nothing at all while the interpreter tears down: the exit
        # handler has ended the span, and no thread, lock or I/O may be touched now.
        try:
            if not self._self_invocation.ended and not lifecycle.finalizing():
                self._self_invocation.abandon()
        except Exception:
            pass

    def __copy__(self) -> Any:  # wrapt refuses to copy proxies; a stream cannot be copied either
        raise NotImplementedError("streams cannot be copied")

    def __reduce_ex__(self, protocol: int) -> Any:
        raise NotImplementedError("streams cannot be pickled")


class SyncStreamProxy(_StreamProxyBase):
    """Proxy for a synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_end(complete=True)
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_on_chunk(chunk)
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__exit__", None)
            if exit_ is None:  # no context manager (a generator): leaving the block closes it
                self.__wrapped__.close()
                return False
            return exit_(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(_propagating() if self._self_close_fails else None)


class AsyncStreamProxy(_StreamProxyBase):
    """Proxy for an asynchronous SDK stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end(complete=True)
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_on_chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__aexit__", None)
            if exit_ is None:  # no context manager (an async generator): leaving the block closes it
                await _aclose(self.__wrapped__)
                return False
            return await exit_(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    async def close(self) -> None:
        try:
            await _aclose(self.__wrapped__)
        finally:
            self._self_end(_propagating() if self._self_close_fails else None)


class LazySyncStreamProxy(SyncStreamProxy):
    """A stream whose body runs while it is read (a generator: its HTTP request, an agent loop's
    turns and tools run in ``__next__``, long after the call returned): each step runs with the
    span's context current, as the call itself did, so what the body traces nests under the span.
    The body is the call still in progress, so a ``close()`` while an exception propagates fails the
    span with it (``_self_close_fails``)."""

    _self_close_fails = True

    def __next__(self) -> Any:
        token = _attach(self._self_invocation.context)
        try:
            return SyncStreamProxy.__next__(self)
        finally:
            _detach(token)


class LazyAsyncStreamProxy(AsyncStreamProxy):
    """:class:`LazySyncStreamProxy` for an async generator; ``aclose()`` (the generator's own way
    to close) is ``close()``."""

    _self_close_fails = True

    async def __anext__(self) -> Any:
        token = _attach(self._self_invocation.context)
        try:
            return await AsyncStreamProxy.__anext__(self)
        finally:
            _detach(token)

    async def aclose(self) -> None:
        await self.close()


def end_stream(stream: Any, exc: BaseException | None = None) -> bool:
    """End the span of ``stream`` if it is one of our proxies: failed with ``exc`` if given, else as
    left early (no-op when already ended). Returns whether ``stream`` is one of our proxies."""
    if isinstance(stream, _StreamProxyBase):
        stream._self_end(exc)
        return True
    return False
