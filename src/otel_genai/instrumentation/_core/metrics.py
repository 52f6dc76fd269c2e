"""The GenAI client metric instruments (names and buckets from ``semconv.metrics``)."""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import Meter

from ...semconv import attributes as A
from ...semconv import metrics as M
from ...semconv.usage import TokenUsage

_METRIC_ATTRIBUTE_KEYS = (
    A.GEN_AI_OPERATION_NAME,
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_REQUEST_MODEL,
    A.SERVER_ADDRESS,
    A.SERVER_PORT,
)


class GenAIMetrics:
    """``gen_ai.client.operation.duration`` (s), ``gen_ai.client.token.usage`` ({token}) and, for
    streams, ``gen_ai.client.operation.time_to_first_chunk`` / ``time_per_output_chunk`` (s)."""

    __slots__ = ("duration", "token_usage", "time_to_first_chunk", "time_per_output_chunk")

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            M.CLIENT_OPERATION_DURATION,
            unit=M.UNIT_SECONDS,
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=M.DURATION_BUCKETS,
        )
        self.token_usage = meter.create_histogram(
            M.CLIENT_TOKEN_USAGE,
            unit=M.UNIT_TOKENS,
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=M.TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            M.CLIENT_TIME_TO_FIRST_CHUNK,
            unit=M.UNIT_SECONDS,
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=M.CHUNK_TIME_BUCKETS,
        )
        self.time_per_output_chunk = meter.create_histogram(
            M.CLIENT_TIME_PER_OUTPUT_CHUNK,
            unit=M.UNIT_SECONDS,
            description="Time between consecutive chunks of a streamed response, after the first",
            explicit_bucket_boundaries_advisory=M.CHUNK_TIME_BUCKETS,
        )

    @staticmethod
    def attributes(span_attributes: dict[str, Any], response_model: Any, error: str | None) -> dict[str, Any]:
        """Metric attributes: the low-cardinality subset of the span's, plus response model / error."""
        attrs = {key: span_attributes[key] for key in _METRIC_ATTRIBUTE_KEYS if key in span_attributes}
        if response_model is not None:
            attrs[A.GEN_AI_RESPONSE_MODEL] = response_model
        if error is not None:
            attrs[A.ERROR_TYPE] = error
        return attrs

    def record(
        self,
        attrs: dict[str, Any],
        duration_s: float,
        usage: TokenUsage | None,
        first_chunk_s: float | None = None,
        chunk_intervals_s: list[float] | None = None,
    ) -> None:
        """Record one finished operation (durations in seconds, usage in tokens)."""
        self.duration.record(duration_s, attrs)
        if usage is not None:
            if usage.input_tokens is not None:
                self.token_usage.record(usage.input_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: A.GenAITokenType.INPUT})
            if usage.output_tokens is not None:
                self.token_usage.record(usage.output_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: A.GenAITokenType.OUTPUT})
        if first_chunk_s is None:
            return
        if A.ERROR_TYPE in attrs:  # the chunk metrics carry no error.type
            attrs = {k: v for k, v in attrs.items() if k != A.ERROR_TYPE}
        self.time_to_first_chunk.record(first_chunk_s, attrs)
        if chunk_intervals_s:
            record = self.time_per_output_chunk.record
            for interval in chunk_intervals_s:  # one per chunk after the first (semconv)
                record(interval, attrs)
