"""GenAI client metric names, units and advisory bucket boundaries (semconv v1.41.1,
``docs/gen-ai/gen-ai-metrics.md``; and the opt-in "latest experimental" names, see
``semconv.dialect``). Kept in this one module because the spec is still moving them."""

from __future__ import annotations

CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"  # histogram, seconds
CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"  # histogram, {token}
CLIENT_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"  # histogram, seconds
CLIENT_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"  # histogram, seconds

# --- the semantic-conventions-genai "latest experimental" names (see ``semconv.dialect``) ------------
LATEST_INFERENCE_DURATION = "gen_ai.client.inference.duration"  # histogram, seconds
LATEST_TIME_TO_FIRST_CHUNK = "gen_ai.client.inference.time_to_first_chunk"  # histogram, seconds
LATEST_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.inference.time_per_output_chunk"  # histogram, seconds
LATEST_OPERATION_INPUT_TOKENS = "gen_ai.client.inference.operation.input_tokens"  # histogram, {token}
LATEST_OPERATION_OUTPUT_TOKENS = "gen_ai.client.inference.operation.output_tokens"  # histogram, {token}
LATEST_USAGE_INPUT_TOKENS = "gen_ai.client.inference.usage.input_tokens"  # counter, {token}
LATEST_USAGE_OUTPUT_TOKENS = "gen_ai.client.inference.usage.output_tokens"  # counter, {token}
LATEST_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.client.inference.usage.cache_read.input_tokens"  # counter
LATEST_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.client.inference.usage.cache_write.input_tokens"  # counter
LATEST_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.client.inference.usage.reasoning.output_tokens"  # counter
TOKEN_MODALITY = "gen_ai.token.modality"  # required on the usage counters
TOKEN_MODALITY_UNKNOWN = "unknown"
#: operations measured by ``gen_ai.client.inference.duration`` (the rest keep ``operation.duration``)
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})

UNIT_SECONDS = "s"
UNIT_TOKENS = "{token}"

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
CHUNK_TIME_BUCKETS = DURATION_BUCKETS  # the spec advises the duration buckets for both chunk metrics

# Not a semconv name: an observable instrument of ours that never reports a value. The SDK runs its
# callback before every collection, which records the measurements still queued (see
# ``instrumentation/_core/metrics.py``), so an export never misses a finished call.
PENDING_FLUSH_INSTRUMENT = "otel_genai.internal.metrics_flush"
