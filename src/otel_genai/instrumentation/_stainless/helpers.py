"""Hooks on the Stainless SDKs' stream helpers (openai's ``ChatCompletionStream`` /
``ResponseStream`` and their managers, anthropic's ``MessageStream`` and its manager): the helper wraps
the raw stream the core proxies (its ``_raw_stream``) but closes the HTTP response directly and drops
the exception that left its ``with`` block, so both need a hook to reach our span.
"""

from __future__ import annotations

from typing import Any

from .._core.faults import log_fault
from .._core.streams import end_stream

RAW_STREAM = "_raw_stream"  # where every Stainless stream helper keeps the raw stream


def close_hook(is_async: bool) -> Any:
    """A ``wrapt`` wrapper for a helper's ``close()``: after the original runs, the proxy at
    ``instance._raw_stream`` ends its span, so leaving a helper's ``with`` block early ends the span
    at once rather than at garbage collection."""
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            try:
                return await wrapped(*args, **kwargs)
            finally:
                end_stream(getattr(instance, RAW_STREAM, None))

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            end_stream(getattr(instance, RAW_STREAM, None))

    return wrapper


def exit_hook(is_async: bool) -> Any:
    """A ``wrapt`` wrapper for a helper's (or its manager's) ``__exit__`` / ``__aexit__``: when an
    exception leaves the ``with`` block, the span ends as failed with it (status ERROR,
    ``error.type``) before the helper closes the stream; the exception passes through unchanged."""

    def end_with_error(instance: Any, args: tuple) -> None:
        exc = args[1] if len(args) > 1 else None
        if exc is not None:
            try:
                _end_helper_stream(instance, exc)
            except Exception:
                log_fault("stream helper exit")

    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            end_with_error(instance, args)
            return await wrapped(*args, **kwargs)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        end_with_error(instance, args)
        return wrapped(*args, **kwargs)

    return wrapper


def _end_helper_stream(helper: Any, exc: BaseException) -> None:
    """End the proxy behind ``helper`` with ``exc``: the helper's own ``_raw_stream``, or that of the
    helper a stream manager keeps in a private attribute."""
    if end_stream(getattr(helper, RAW_STREAM, None), exc):
        return
    for value in getattr(helper, "__dict__", {}).values():
        if end_stream(getattr(value, RAW_STREAM, None), exc):
            return
