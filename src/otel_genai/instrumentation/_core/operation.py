"""The contract between a provider module and the core: how one API family (e.g. OpenAI chat
completions) maps onto the span contract (semconv v1.41.1 "GenAI spans"; README "What a span carries").

A provider writes one :class:`Operation` subclass per API family. Every method runs inside the
user's call, so each one must be cheap; any exception it raises is caught by the core, logged once,
and costs only telemetry.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from ...semconv.usage import TokenUsage


class StreamAccumulator:
    """Collects what a stream's chunks carry (text, tool-call deltas, finish reasons, usage).

    ``on_chunk`` is called once per chunk, in order, on the hot path; ``result`` once when the stream
    ends, however it ends, with whatever arrived so far.
    """

    __slots__ = ()

    def on_stream(self, stream: Any) -> None:
        """Called once with the SDK's stream object when a proxy starts wrapping it, before any chunk
        (e.g. to read a request id off its response headers). Default: nothing."""

    def on_chunk(self, chunk: Any) -> None:
        """Fold one chunk into the running state."""
        raise NotImplementedError

    def result(self, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        """``(response attributes, usage, content)``; see :meth:`Operation.response`."""
        raise NotImplementedError


class Operation:
    """One instrumented API family.

    Class attributes:
        operation_name: ``gen_ai.operation.name`` value.

    Instance attributes (set by the instrumentor that builds it):
        stream_types: result types that are streams (wrapped in a proxy, span ends with the stream).
        result_handlers: ``(types, handler)`` pairs for other results that end the span later (e.g.
            the Stainless SDKs' raw responses): ``handler(invocation, result, kwargs)`` returns what
            the user gets.
        context: the provider's per-instrument state (its client classes and caches), or ``None``.
    """

    operation_name: ClassVar[str]

    def __init__(
        self,
        stream_types: tuple[type, ...] = (),
        result_handlers: tuple[tuple[tuple[type, ...], Callable[..., Any]], ...] = (),
        context: Any = None,
    ) -> None:
        self.stream_types = stream_types
        self.result_handlers = result_handlers
        self.context = context

    def request(self, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Span attributes known before the call: operation, provider, request model, server address
        and port, request parameters (``gen_ai.*`` only: the MLflow keys are derived by
        ``semconv.mlflow``). Only str/bool/int/float/sequence values."""
        raise NotImplementedError

    def request_content(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Content attributes (``gen_ai.input.messages``, ``gen_ai.system_instructions``,
        ``gen_ai.tool.definitions``) as JSON-ready values; called only when content is captured.
        Must never consume or mutate the user's inputs."""
        return {}

    def response(self, result: Any, capture_content: bool) -> tuple[dict[str, Any], TokenUsage | None, dict[str, Any]]:
        """From a non-streamed result: ``(attributes, usage, content)`` where ``content`` holds
        ``gen_ai.output.messages`` as a JSON-ready value (empty unless ``capture_content``)."""
        raise NotImplementedError

    def new_accumulator(self, kwargs: dict[str, Any]) -> StreamAccumulator:
        """A fresh accumulator for a streamed result."""
        raise NotImplementedError
