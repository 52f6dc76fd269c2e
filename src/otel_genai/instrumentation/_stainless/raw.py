"""Raw-response results of the Stainless SDKs (``with_raw_response`` / ``with_streaming_response``,
their ``APIResponse`` with ``parse()``, ``http_response._content`` and ``_parsed_by_type``): the user
gets the SDK's own object (a transparent proxy where needed) and the span still carries the
response, whichever way the body is read.

* A raw response whose body is already read (``with_raw_response`` of a non-streamed call): parsed
  once, right away; the SDK caches the parse, so the user's ``.parse()`` returns the same object.
* Otherwise (a streamed call, or ``with_streaming_response`` whose body is read lazily): a proxy
  hooks ``parse()`` (a stream it returns is wrapped in a stream proxy, the same one every time),
  ``read()`` / ``text()`` / ``json()`` (the body is then parsed from memory) and ``close()`` (ends the
  span with what is known). Garbage collection ends it too.
"""

from __future__ import annotations

import inspect
from typing import Any

import wrapt

from .._core import lifecycle
from .._core.faults import log_fault
from .._core.invocation import Invocation
from .._core.streams import AsyncStreamProxy, SyncStreamProxy


def complete_raw(invocation: Invocation, raw: Any, kwargs: dict[str, Any]) -> Any:
    """The user's result for a raw response ``raw`` (ends the span now or later): an
    :attr:`~otel_genai.instrumentation._core.operation.Operation.result_handlers` handler."""
    streaming = kwargs.get("stream") is True
    read = getattr(raw, "http_response", None) is not None and _body_read(raw)
    if read and not streaming and not _is_coroutine_parse(raw):
        try:
            invocation.finish(raw.parse())
        except Exception:
            log_fault("raw_response.parse")
            invocation.finish(None)
        return raw
    proxy_type = AsyncRawResponseProxy if _is_coroutine_parse(raw) else SyncRawResponseProxy
    return proxy_type(raw, invocation, kwargs)


def _is_coroutine_parse(raw: Any) -> bool:
    return inspect.iscoroutinefunction(type(raw).parse)


def _body_read(raw: Any) -> bool:
    return getattr(raw.http_response, "_content", None) is not None


class _RawResponseProxyBase(wrapt.ObjectProxy):
    def __init__(self, raw: Any, invocation: Invocation, kwargs: dict[str, Any]) -> None:
        super().__init__(raw)
        self._self_invocation = invocation
        self._self_kwargs = kwargs
        self._self_stream = None

    def _self_on_body(self, body: Any, custom_type: Any) -> Any:
        """Attach telemetry to a parsed body; returns what the user gets."""
        invocation = self._self_invocation
        if invocation.ended or custom_type is not None:
            return body
        try:
            operation = invocation.operation
            if operation.stream_types and isinstance(body, operation.stream_types):
                if self._self_stream is None:
                    proxy_type = AsyncStreamProxy if hasattr(body, "__anext__") else SyncStreamProxy
                    self._self_stream = proxy_type(body, invocation, operation.new_accumulator(self._self_kwargs))
                return self._self_stream
            invocation.finish(body)
        except Exception:
            log_fault("raw_response.body")
        return body

    def _self_end_from_cache(self) -> None:
        """Closing: end the span, with the parsed body when the SDK has already read it."""
        invocation = self._self_invocation
        if invocation.ended or self._self_stream is not None:
            return
        body = None
        try:
            if self._self_kwargs.get("stream") is not True and _body_read(self.__wrapped__):
                cached = self.__wrapped__._parsed_by_type
                body = next(iter(cached.values())) if cached else None
        except Exception:
            log_fault("raw_response.close")
        invocation.finish(body)

    def __del__(self) -> None:
        try:
            if not lifecycle.finalizing():  # see streams._StreamProxyBase.__del__
                self._self_end_from_cache()
        except Exception:
            pass


class SyncRawResponseProxy(_RawResponseProxyBase):
    """Proxy for a raw response with a synchronous ``parse()``."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_on_body(self.__wrapped__.parse(*args, **kwargs), kwargs.get("to"))

    def _self_parse_after_read(self) -> None:
        if not self._self_invocation.ended and self._self_kwargs.get("stream") is not True:
            try:
                body = self.__wrapped__.parse()  # from memory now; the SDK caches it for the user
            except Exception:
                log_fault("raw_response.parse")
                return
            self._self_on_body(body, None)

    def read(self) -> bytes:
        data = self.__wrapped__.read()
        self._self_parse_after_read()
        return data

    def text(self) -> str:
        text = self.__wrapped__.text()
        self._self_parse_after_read()
        return text

    def json(self) -> object:
        value = self.__wrapped__.json()
        self._self_parse_after_read()
        return value

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end_from_cache()


class AsyncRawResponseProxy(_RawResponseProxyBase):
    """Proxy for a raw response with ``async def parse()`` (``with_streaming_response`` of async clients)."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_on_body(await self.__wrapped__.parse(*args, **kwargs), kwargs.get("to"))

    async def _self_parse_after_read(self) -> None:
        if not self._self_invocation.ended and self._self_kwargs.get("stream") is not True:
            try:
                body = await self.__wrapped__.parse()  # from memory now; the SDK caches it for the user
            except Exception:
                log_fault("raw_response.parse")
                return
            self._self_on_body(body, None)

    async def read(self) -> bytes:
        data = await self.__wrapped__.read()
        await self._self_parse_after_read()
        return data

    async def text(self) -> str:
        text = await self.__wrapped__.text()
        await self._self_parse_after_read()
        return text

    async def json(self) -> object:
        value = await self.__wrapped__.json()
        await self._self_parse_after_read()
        return value

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end_from_cache()
