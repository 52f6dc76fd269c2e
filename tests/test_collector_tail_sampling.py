"""collector-config/genai-tail-sampling.yaml on the real otelcol-genai, in front of ``otel-genai serve``:
a mix of traces goes in and exactly the expected ones arrive: every trace with an error span, every
trace with a call over the token budget, every trace over the latency bound, and of the rest the
configured share (0 % and 100 % here, so that the outcome is exact)."""

from __future__ import annotations

import time

import pytest
from opentelemetry import trace as api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

import otel_genai
from shipping import (
    CONFIG_DIR,
    otelcol,  # noqa: F401 - the session fixture
    span_count,
    start_collector,
    start_serve,
    stop_process,
    wait_until,
)

BUDGET = 1000
LATENCY_MS = 5000


def chat(tracer, name: str, input_tokens: int, output_tokens: int, error: bool = False, start_ns: int | None = None):
    span = tracer.start_span(name, kind=SpanKind.CLIENT, start_time=start_ns, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens})
    if error:
        span.set_status(Status(StatusCode.ERROR, "RateLimitError"))
        span.set_attribute("error.type", "openai.RateLimitError")
    span.end()


def send_mix(endpoint: str) -> dict[str, str]:
    """One trace of each kind (an agent root span and its calls); returns {kind: trace id hex}."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    tracer = provider.get_tracer("tail-sampling-test")
    ids = {}

    def trace(kind: str, calls, start_ns: int | None = None) -> None:
        root = tracer.start_span(f"invoke_agent {kind}", start_time=start_ns,
                                 attributes={"gen_ai.operation.name": "invoke_agent"})
        with api.use_span(root, end_on_exit=True):
            for args in calls:
                chat(tracer, f"chat {kind}", *args)
        ids[kind] = format(root.get_span_context().trace_id, "032x")

    trace("cheap", [(100, 20), (150, 30)])
    trace("error", [(100, 20), (10, 0, True)])
    trace("over-budget", [(900, 101)])                       # 1001 tokens in one call
    trace("at-budget", [(900, 100)])                         # 1000: not over
    trace("budget-only-summed", [(600, 0), (600, 0)])        # over only in total: the budget is per call
    trace("slow", [(10, 10)], start_ns=time.time_ns() - (LATENCY_MS + 2000) * 1_000_000)
    trace("cheap-2", [(5, 5)])
    provider.shutdown()
    return ids


KEPT_BY_POLICY = {"error", "over-budget", "slow"}


@pytest.mark.parametrize("percentage", [0, 100])
def test_tail_sampling_keeps_errors_expensive_and_slow_traces_and_a_share_of_the_rest(tmp_path, otelcol, percentage):
    store = tmp_path / "sampled.db"
    serve, base = start_serve(store, tmp_path)
    collector, endpoint = start_collector(
        otelcol, CONFIG_DIR / "genai-tail-sampling.yaml", tmp_path,
        GENAI_SAMPLED_EXPORT_ENDPOINT=base, GENAI_TOKEN_BUDGET=str(BUDGET), GENAI_LATENCY_THRESHOLD_MS=str(LATENCY_MS),
        GENAI_SAMPLE_PERCENTAGE=str(percentage), GENAI_TAIL_DECISION_WAIT="1s",
    )
    try:
        ids = send_mix(endpoint)
        expected = KEPT_BY_POLICY if percentage == 0 else set(ids)
        spans = {"cheap": 3, "error": 3, "over-budget": 2, "at-budget": 2, "budget-only-summed": 3, "slow": 2, "cheap-2": 2}
        wait_until(lambda: span_count(store) == sum(spans[k] for k in expected), 30, "the sampled traces")
        time.sleep(4)  # two decision waits and a batch timeout: anything else would have arrived by now
        stored = {t.info.trace_id: len(t.data.spans) for t in otel_genai.search_traces(max_results=None, path=store)}
        assert stored == {ids[k]: spans[k] for k in expected}  # whole traces, exactly the expected ones
    finally:
        stop_process(collector)
        stop_process(serve)
