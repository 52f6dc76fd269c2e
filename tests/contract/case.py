"""What the contract suite needs to know about one provider API: a :class:`ProviderCase`.

Adding a provider (Gemini, LangChain, ...) is one module in ``providers/`` that defines ``CASE``;
:data:`CASES` finds it, and every contract test runs against it. A case says:

- how to build its clients (sync and async, pointed at the loopback server; one whose transport
  raises a given exception);
- its canned responses in the provider's wire format (plain, stream, tool call, an HTTP error);
- its instrumentor, and how to call the plain, tool-call and streamed APIs (a call takes the client
  and returns the result, or an awaitable of it for an async client);
- how to read output text and tool calls from a result, and text from what a stream yields;
- what the canned responses say (texts, ids, finish reasons, attributes), against which the spans
  are checked.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from otel_genai.demo.server import Response


@dataclass(frozen=True)
class StreamApi:
    """One streaming API of a provider.

    Attributes:
        name: for test ids (``create(stream=True)``, ``messages.stream()``).
        open: ``client -> `` what the API returns: the SDK's stream (itself a context manager), or
            for a helper the manager whose ``__enter__`` returns the stream; an awaitable of the
            stream for an async client's ``create(stream=True)``.
        item_text: the output text an item the stream yields carries (``""`` for none).
        helper: ``open`` returns a stream manager (``with ... as stream``), not the stream.
        surface: asserts the stream (before ``with``) is still what the SDK returns without us.
    """

    name: str
    open: Callable[[Any], Any]
    item_text: Callable[[Any], str]
    helper: bool = False
    surface: Callable[[Any], None] = lambda stream: None


@dataclass(frozen=True)
class ProviderCase:
    """One instrumented provider API (see the module docstring)."""

    name: str
    sdk: str  # the SDK's top-level package: every function it defines must be restored by uninstrument()
    instrumentor: type
    scope: str  # our instrumentation scope name
    provider: str  # gen_ai.provider.name
    span_name: str
    # clients
    client: Callable[[str], Any]  # base URL -> sync client (no retries)
    aclient: Callable[[str], Any]
    raising_client: Callable[[BaseException], Any]  # a sync client whose transport raises the exception
    # canned responses
    plain_response: Callable[[], Response]
    stream_response: Callable[[float], Response]  # chunk_delay -> SSE body (one event per chunk if > 0)
    tool_call_response: Callable[[], Response]
    error_response: Callable[[int], Response]  # an HTTP error status in the provider's error format
    # calls: (client, **extra request kwargs) -> result, or an awaitable of it for an async client
    plain: Callable[..., Any]
    tool_call: Callable[..., Any]
    streams: tuple[StreamApi, ...]
    # reading results
    text: Callable[[Any], str]
    tool_calls: Callable[[Any], list[dict[str, Any]]]  # [{"id", "name", "arguments"}]
    dump: Callable[[Any], Any]  # a plain result as comparable data
    # what the canned responses say
    user_text: str  # the user's message of every call
    system_text: str  # the system instruction of every plain call
    system_attribute: str  # where the content says it (gen_ai.system_instructions or gen_ai.input.messages)
    plain_text: str
    plain_id: str
    stream_text: str
    tool_finish_reason: str
    stream_attributes: dict[str, Any]  # a stream read to its end carries at least these
    partial_attributes: dict[str, Any]  # ... a stream left after its first text
    header_attributes: dict[str, Any]  # ... a stream closed before any item (from the response headers)
    errors: dict[int, type[BaseException]]  # HTTP status -> the SDK's exception
    connection_error: type[BaseException] | None  # what the SDK wraps a transport's Exception in (None: not wrapped)
    # our own code, to inject faults into: the response extraction and the per-chunk step; the request step
    extraction_faults: tuple[tuple[Any, str], ...]
    request_fault: tuple[Any, str]
    unset_params: dict[str, Any]  # request kwargs given as the SDK's "not given" values
    unset_attributes: tuple[str, ...]  # ... and the attributes they must not produce
    uninstrumented_scopes: tuple[str, ...] = ()  # the spans a call makes once we are uninstrumented
    wraps: bool = True  # instrument() wraps SDK functions (False: a framework hooked through its callbacks)
    error_module: str = ""  # the module error.type names the SDK's exceptions by (default: ``sdk``, as Stainless SDKs export them)
    env_unset: tuple[str, ...] = field(default=())  # variables removed for each test


def _load() -> list[ProviderCase]:
    from . import providers

    modules = (m.name for m in pkgutil.iter_modules(providers.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{providers.__name__}.{name}").CASE for name in sorted(modules)]


CASES: list[ProviderCase] = _load()
