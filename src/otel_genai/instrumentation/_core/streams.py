"""Stream proxies: the SDK's stream object, unchanged to the user, whose span ends exactly once.

A proxy (``wrapt.ObjectProxy``) keeps the SDK surface: ``isinstance`` checks, ``.response``,
context managers and every other attribute pass through. The span ends with what the stream
delivered, whichever way it ends (docs/lifecycle.md): exhausted, ``break`` inside ``with``,
``close()``/``aclose()``, garbage collection, an exception from the SDK or the user's loop, task
cancellation (``CancelledError`` is a ``BaseException``).
"""

from __future__ import annotations

from typing import Any

import wrapt

from . import lifecycle
from .faults import log_fault
from .invocation import Invocation, _perf_counter
from .operation import StreamAccumulator


class _StreamProxyBase(wrapt.ObjectProxy):
    """Shared state and ending logic of the sync and async proxies. The accumulator and the chunk
    times live on the invocation too, so the process-exit handler can end an open stream's span
    without the proxy (see ``lifecycle``)."""

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
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


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
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()


def end_stream(stream: Any, exc: BaseException | None = None) -> bool:
    """End the span of ``stream`` if it is one of our proxies: failed with ``exc`` if given, else as
    left early (no-op when already ended). Returns whether ``stream`` is one of our proxies."""
    if isinstance(stream, _StreamProxyBase):
        stream._self_end(exc)
        return True
    return False
