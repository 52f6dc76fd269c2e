"""The contract between a provider module and the core: how one API family (e.g. OpenAI chat
completions) maps onto the span contract (semconv v1.41.1 "GenAI spans"; README "What a span carries").

A provider writes one :class:`Operation` subclass per API family. Every method runs inside the
user's call, so each one must be cheap; any exception it raises is caught by the core, logged once,
and costs only telemetry.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from opentelemetry.trace import SpanKind

from ...semconv import attributes as A
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
        span_kind: the span's kind: ``CLIENT`` (semconv v1.41.1: a call to a model or agent service),
            ``INTERNAL`` for an agent that runs in the user's process (semconv "Invoke agent" span).
        span_name: ``None`` (the name is ``{gen_ai.operation.name} {gen_ai.request.model}``, or the
            operation alone without a model), or a method ``span_name(attributes) -> str`` naming the
            span from its request attributes (e.g. :func:`agent_span_name`).

    Instance attributes (set by the instrumentor that builds it):
        stream_types: result types that are streams (wrapped in a proxy, span ends with the stream).
        result_handlers: ``(types, handler)`` pairs for other results that end the span later (e.g.
            the Stainless SDKs' raw responses): ``handler(invocation, result, kwargs)`` returns what
            the user gets.
        context: the provider's per-instrument state (its client classes and caches), or ``None``.
    """

    operation_name: ClassVar[str]
    span_kind: ClassVar[SpanKind] = SpanKind.CLIENT
    span_name: ClassVar[Callable[[dict[str, Any]], str] | None] = None

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


def agent_span_name(operation: Operation, attributes: dict[str, Any]) -> str:
    """An ``invoke_agent`` span's name (semconv v1.41.1 "Invoke agent" span): ``invoke_agent
    {gen_ai.agent.name}``, or ``invoke_agent`` alone when the agent has no name (whatever the request
    model). Use as an operation's ``span_name = agent_span_name``."""
    name = attributes.get(A.GEN_AI_AGENT_NAME)
    return f"{operation.operation_name} {name}" if isinstance(name, str) and name else operation.operation_name
