"""Exporter faults never reach the app (issue 7): the real OTLP/HTTP exporter behind a real
``BatchSpanProcessor``, pointed at a loopback endpoint that refuses connections, hangs, or answers
500/503, while an instrumented ``openai`` client keeps making calls.

The app's calls return what the bare SDK returns, raise nothing, and take no longer than without
telemetry (the export runs on the processor's thread); memory stays bounded by the processor's
queue; when the endpoint comes back, the spans still queued arrive; shutdown is bounded.
"""

from __future__ import annotations

import gc
import http.server
import json
import socket
import statistics
import sys
import threading
import time
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import _Span as SDKSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_genai.instrumentation._core import metrics as core_metrics
from otel_genai.instrumentation.openai import OpenAIInstrumentor

EXPORT_TIMEOUT_S = 0.5  # per export request; a call that waited for an export would take this long

# --- the LLM: a canned chat completion and stream over an in-process transport ----------------------
_COMMON = {"id": "chatcmpl-rel", "created": 1737000000, "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_rel"}
_USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
CHAT_BODY = json.dumps(
    {
        **_COMMON,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Traces explain latency."}, "finish_reason": "stop"}],
        "usage": _USAGE,
    }
).encode()
_CHUNKS = [
    {**_COMMON, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": w}, "finish_reason": None}]}
    for w in ("Traces ", "explain ", "latency.")
] + [
    {**_COMMON, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {**_COMMON, "object": "chat.completion.chunk", "choices": [], "usage": _USAGE},
]
STREAM_BODY = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in _CHUNKS) + b"data: [DONE]\n\n"
MESSAGES = [{"role": "user", "content": "Why trace LLM calls?"}]


def _handler(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM_BODY)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=CHAT_BODY)


def llm_client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(_handler)), max_retries=0
    )


def app_call(client: openai.OpenAI, i: int) -> Any:
    """One app call: a chat completion, every fifth call a stream read to the end."""
    if i % 5 == 4:
        return [c.model_dump() for c in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)]
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).model_dump()


# --- the OTLP endpoint ---------------------------------------------------------------------------------
class Endpoint:
    """A loopback OTLP/HTTP traces endpoint whose behaviour can change: ``ok`` (stores the span ids
    it receives), ``hang`` (holds every request unanswered until released), ``500`` / ``503``."""

    def __init__(self, mode: str = "ok", port: int = 0) -> None:
        self.mode = mode
        self.requests = 0
        self.received: set[bytes] = set()
        self.hung = threading.Event()  # set once a request is being held
        self.release = threading.Event()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                endpoint.requests += 1
                mode = endpoint.mode
                if mode == "hang":
                    endpoint.hung.set()
                    endpoint.release.wait(10)
                    self.close_connection = True
                    return  # no answer: the client times out or sees the connection close
                if mode in ("500", "503"):
                    self.send_response(int(mode))
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        endpoint.received.update(span.span_id for span in scope_spans.spans)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def refused_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Ended(SpanProcessor):
    """The span ids of the spans that ended, in order."""

    def __init__(self) -> None:
        self.span_ids: list[int] = []

    def on_end(self, span: Any) -> None:
        self.span_ids.append(span.context.span_id)


class App:
    """An app with the full pipeline: instrumented openai client, BatchSpanProcessor -> OTLP/HTTP."""

    def __init__(self, port: int, max_queue_size: int = 2048, max_export_batch_size: int = 64) -> None:
        self.exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=EXPORT_TIMEOUT_S)
        self.processor = BatchSpanProcessor(
            self.exporter,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_millis=20,
            export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000),
        )
        self.ended = _Ended()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(self.ended)
        self.tracer_provider.add_span_processor(self.processor)
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
        self.instrumentor = OpenAIInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, capture_content="SPAN_ONLY"
        )
        self.client = llm_client()

    def calls(self, n: int, start: int = 0) -> tuple[list[Any], list[float]]:
        """Make ``n`` app calls; their results and latencies (s)."""
        results, latencies = [], []
        for i in range(start, start + n):
            t0 = time.perf_counter()
            results.append(app_call(self.client, i))
            latencies.append(time.perf_counter() - t0)
        return results, latencies

    def close(self) -> float:
        """Uninstrument and shut the pipeline down; returns how long the shutdown took (s)."""
        self.instrumentor.uninstrument()
        t0 = time.perf_counter()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        return time.perf_counter() - t0


@pytest.fixture(scope="module")
def bare_results() -> tuple[list[Any], float]:
    """What the bare SDK returns for the app's calls, and its median latency."""
    client = llm_client()
    results, latencies = [], []
    for i in range(40):
        t0 = time.perf_counter()
        results.append(app_call(client, i))
        latencies.append(time.perf_counter() - t0)
    return results, statistics.median(latencies)


def _faulty_endpoint(mode: str) -> tuple[Endpoint | None, int]:
    if mode == "refused":
        return None, refused_port()
    endpoint = Endpoint(mode)
    return endpoint, endpoint.port


@pytest.mark.parametrize("mode", ["refused", "hang", "500", "503"])
def test_calls_unaffected_while_the_endpoint_fails(mode, bare_results):
    expected, bare_median = bare_results
    endpoint, port = _faulty_endpoint(mode)
    app = App(port)
    try:
        results, latencies = app.calls(len(expected))
        time.sleep(3 * 0.02)  # let the processor's thread start exporting into the fault
        more, more_latencies = app.calls(len(expected))
        assert results == expected and more == expected  # same results, nothing raised
        latencies += more_latencies
        # the export (EXPORT_TIMEOUT_S per attempt, retried) runs on the processor's thread: no call waits for it
        assert max(latencies) < EXPORT_TIMEOUT_S, f"a call took {max(latencies):.3f} s"
        # a call can wait for the GIL while the processor's thread encodes a batch or handles its
        # failure: up to one switch interval each time, the interpreter's scheduling and not a wait
        # for the export (which the max above bounds); allow two beside 5 ms
        assert statistics.median(latencies) < bare_median + 0.005 + 2 * sys.getswitchinterval()
        if endpoint is not None:
            assert endpoint.requests >= 1  # the fault was really exercised
            assert not endpoint.received
    finally:
        shutdown_s = app.close()
        if endpoint is not None:
            endpoint.close()
    # the app can exit: at most one export attempt in flight plus the processor's own bounds
    assert shutdown_s < 4 * EXPORT_TIMEOUT_S + 2, f"shutdown took {shutdown_s:.1f} s"


def _alive(span_ids: list[int]) -> int:
    """How many of these spans are still in memory."""
    gc.collect()
    ids = set(span_ids)
    return sum(1 for o in gc.get_objects() if isinstance(o, SDKSpan) and o.context.span_id in ids)


def test_memory_is_bounded_by_the_queue_while_the_endpoint_is_down():
    queue, batch = 64, 16
    app = App(refused_port(), max_queue_size=queue, max_export_batch_size=batch)
    try:
        app.calls(400)
        core_metrics.drain()  # (a call's pending metrics hold no span either way)
        assert len(app.ended.span_ids) == 400
        live = _alive(app.ended.span_ids)
        # 400 spans ended; what is kept is the queue, one batch being exported and the last span
        assert live <= queue + batch + 2, f"{live} spans alive"
    finally:
        app.close()


def test_queued_spans_arrive_when_the_endpoint_comes_back():
    endpoint = Endpoint("hang")
    app = App(endpoint.port, max_export_batch_size=8)
    try:
        app.calls(1)
        assert endpoint.hung.wait(5), "the processor never tried to export"
        # the processor's thread is stuck in the export: these spans wait in its queue
        results, latencies = app.calls(30, start=1)
        assert max(latencies) < EXPORT_TIMEOUT_S
        queued = set(app.ended.span_ids[1:])
        assert len(queued) == 30
        endpoint.mode = "ok"  # the endpoint comes back...
        endpoint.release.set()  # ...and drops the request it was holding
        assert app.tracer_provider.force_flush(10_000)
        received = {int.from_bytes(span_id, "big") for span_id in endpoint.received}
        assert queued <= received, f"{len(queued - received)} queued spans never arrived"
    finally:
        app.close()
        endpoint.close()


def test_endpoint_recovering_from_503_receives_later_spans():
    endpoint = Endpoint("503")
    app = App(endpoint.port)
    try:
        app.calls(10)
        deadline = time.monotonic() + 5
        while endpoint.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert endpoint.requests >= 1
        endpoint.mode = "ok"
        app.calls(10, start=10)
        assert app.tracer_provider.force_flush(10_000)
        assert len(endpoint.received) >= 10
    finally:
        app.close()
        endpoint.close()
