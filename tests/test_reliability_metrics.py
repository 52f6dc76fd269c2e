"""Metrics recorded off the caller's hot path (``instrumentation/_core/metrics.py``) lose nothing:
every finished call is in the next collection, an exporting reader's shutdown exports every call,
the queue is bounded (the caller records when it is full), a queued call keeps no span alive, and a
stream still gives one ``time_per_output_chunk`` value per chunk after the first. Also: a span the
sampler drops changes nothing for the caller."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import _Span as SDKSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_genai.instrumentation._core import metrics as core_metrics
from otel_genai.instrumentation.openai import OpenAIInstrumentor

CHUNKS = 6
_COMMON = {"id": "chatcmpl-m", "created": 1, "model": "gpt-4o-mini-2024-07-18"}
CHAT = json.dumps(
    {
        **_COMMON,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()
STREAM = b"".join(
    b"data: " + json.dumps({**_COMMON, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"w{i}"}, "finish_reason": None}]}).encode() + b"\n\n"
    for i in range(CHUNKS)
) + b"data: [DONE]\n\n"


def _client() -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=CHAT)

    return openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), max_retries=0)


def chat(client: openai.OpenAI) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content


def stream(client: openai.OpenAI) -> int:
    return sum(1 for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True))


class Collecting(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.points: dict[str, int] = {}

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self.points[metric.name] = sum(p.count for p in metric.data.data_points)  # cumulative
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


@pytest.fixture
def instrumented():
    instrumentor = OpenAIInstrumentor()

    def instrument(meter_provider, tracer_provider=None):
        instrumentor.instrument(
            tracer_provider=tracer_provider or TracerProvider(), meter_provider=meter_provider, capture_content="SPAN_ONLY"
        )
        return _client()

    yield instrument
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    core_metrics.drain()


def counts(reader: InMemoryMetricReader) -> dict[str, int]:
    out: dict[str, int] = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                out[metric.name] = sum(p.count for p in metric.data.data_points)
    return out


def test_every_finished_call_is_in_the_next_collection(instrumented):
    reader = InMemoryMetricReader()
    client = instrumented(MeterProvider(metric_readers=[reader]))
    for _ in range(3):
        chat(client)
        assert stream(client) == CHUNKS
    assert counts(reader) == {
        "gen_ai.client.operation.duration": 6,
        "gen_ai.client.token.usage": 6,  # input and output of the 3 chat calls (the streams report none)
        "gen_ai.client.operation.time_to_first_chunk": 3,
        "gen_ai.client.operation.time_per_output_chunk": 3 * (CHUNKS - 1),  # one per chunk after the first
    }


def test_shutdown_exports_every_call(instrumented):
    exporter = Collecting()
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)])
    client = instrumented(provider)
    for _ in range(200):
        chat(client)
    provider.shutdown()  # what happens at interpreter exit: the last collection sees every call
    assert exporter.points["gen_ai.client.operation.duration"] == 200


def test_the_queue_is_bounded_and_drops_nothing(instrumented, monkeypatch):
    monkeypatch.setattr(core_metrics, "_MAX_PENDING", 20)
    monkeypatch.setattr(core_metrics, "_WAKE_AT", 10**9)  # the thread is never woken: only the bound drains
    seen = []
    submit = core_metrics.GenAIMetrics.submit

    def watching(self, *args, **kwargs):
        submit(self, *args, **kwargs)
        seen.append(len(core_metrics._pending))

    monkeypatch.setattr(core_metrics.GenAIMetrics, "submit", watching)
    reader = InMemoryMetricReader()
    client = instrumented(MeterProvider(metric_readers=[reader]))
    for _ in range(150):
        chat(client)
    assert max(seen) <= 20
    assert counts(reader)["gen_ai.client.operation.duration"] == 150


def test_a_queued_call_keeps_no_span_alive(instrumented):
    ended: list[int] = []

    class Ids(SpanProcessor):
        def on_end(self, span) -> None:
            ended.append(span.context.span_id)  # ids only: this processor keeps no span

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(Ids())
    core_metrics.drain()
    client = instrumented(MeterProvider(metric_readers=[InMemoryMetricReader()]), tracer_provider)
    with core_metrics._drain_lock:  # nothing is recorded meanwhile: the calls stay queued
        for _ in range(30):
            chat(client)
        assert len(core_metrics._pending) == 30
        gc.collect()
        ours = set(ended)
        alive = [o for o in gc.get_objects() if isinstance(o, SDKSpan) and o.context.span_id in ours]
        assert len(ended) == 30 and len(alive) <= 1  # the last one may be remembered


def test_a_dropped_span_changes_nothing_for_the_caller(instrumented):
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    client = instrumented(MeterProvider(metric_readers=[reader]), tracer_provider)
    assert chat(client) == "ok"
    assert stream(client) == CHUNKS
    assert spans.get_finished_spans() == ()
    assert counts(reader)["gen_ai.client.operation.duration"] == 2  # metrics do not depend on sampling


EXITING_APP = """
import json, sys
import httpx2, openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from otel_genai.instrumentation.openai import OpenAIInstrumentor

class Printing(MetricExporter):
    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        for rm in metrics_data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == "gen_ai.client.operation.duration":
                        print("exported", sum(p.count for p in m.data.data_points), flush=True)
        return MetricExportResult.SUCCESS
    def force_flush(self, timeout_millis=10_000):
        return True
    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass

body = sys.argv[1].encode()
provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(Printing(), export_interval_millis=600_000)])
OpenAIInstrumentor().instrument(tracer_provider=TracerProvider(), meter_provider=provider)
transport = httpx2.MockTransport(lambda r: httpx2.Response(200, content=body, headers={"content-type": "application/json"}))
client = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=transport), max_retries=0)
for _ in range(500):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
# no shutdown, no flush: the interpreter exits right after the last call
"""


def test_interpreter_exit_exports_every_call():
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", EXITING_APP, CHAT.decode()], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    exported = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("exported")]
    assert exported and exported[-1] == 500, done.stdout
