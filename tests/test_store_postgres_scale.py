"""Many writers, one PostgreSQL database (a real server, ``postgres_server``): app processes
exporting with ``OTEL_TRACES_EXPORTER=otel_genai`` under ``opentelemetry-instrument``, and two
``otel-genai serve`` receivers side by side. Every span arrives once, and the spans of one trace that
come through different processes or receivers, in different batches and any order, make one trace
with the right root, time range, status and token usage."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_genai.demo.run import instrument_command
from otel_genai.store import open_store, search_traces
from shipping import clean_env, stop_process

USAGE = '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}'
SHARED_TRACE = "5ca1ab1e" * 4
SHARED_ROOT = "00000000000000aa"


@pytest.fixture
def pg(postgres_server) -> str:
    """A fresh, empty PostgreSQL database's URI (dropped afterwards)."""
    uri = postgres_server.create_database()
    yield uri
    postgres_server.drop_database(uri)


# --- many app processes exporting straight into the database -----------------------------------------

# Runs under opentelemetry-instrument with OTEL_TRACES_EXPORTER=otel_genai: the SDK's own
# auto-configuration builds the exporter (a BatchSpanProcessor) from the entry point.
APP = textwrap.dedent(
    """
    import sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags, set_span_in_context

    writer, traces = int(sys.argv[1]), int(sys.argv[2])
    SHARED_TRACE, SHARED_ROOT = int(sys.argv[3], 16), int(sys.argv[4], 16)
    provider = trace.get_tracer_provider()

    class SharedRoot(RandomIdGenerator):
        # the ids of the one trace every process adds to: writer 0 makes its root span
        def generate_trace_id(self):
            return SHARED_TRACE
        def generate_span_id(self):
            return SHARED_ROOT

    if writer == 0:
        provider.id_generator = SharedRoot()
        # a tracer of its own: the SDK caches tracers by scope, each keeps the id generator it was made with
        root = provider.get_tracer("app.root").start_span("agent", start_time=1_000, attributes={"writer": writer})
        root.set_status(Status(StatusCode.ERROR, "the agent failed"))
        root.end(end_time=50_000)
        provider.id_generator = RandomIdGenerator()
    tracer = provider.get_tracer("app")
    remote = set_span_in_context(NonRecordingSpan(SpanContext(SHARED_TRACE, SHARED_ROOT, True, TraceFlags(1))))
    for n in range(3):  # children of the shared root, from every process
        span = tracer.start_span("chat", context=remote, start_time=2_000 + writer * 10 + n,
                                 attributes={"writer": writer, "mlflow.chat.tokenUsage": '%s'})
        span.end(end_time=3_000 + writer * 10 + n)
    for t in range(traces):  # and traces of its own
        with tracer.start_as_current_span("request", attributes={"writer": writer, "t": t}):
            for n in range(2):
                with tracer.start_as_current_span("chat", attributes={"writer": writer, "mlflow.chat.tokenUsage": '%s'}):
                    pass
    """
) % (USAGE, USAGE)


def test_many_app_processes_export_into_one_database(pg, tmp_path: Path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    open_store(pg).close()
    writers, traces = 4, 150
    env = clean_env(OTEL_TRACES_EXPORTER="otel_genai", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                    OTEL_GENAI_STORE_URI=pg, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="64", OTEL_BSP_SCHEDULE_DELAY="20")
    children = [
        subprocess.Popen(instrument_command() + [sys.executable, str(app), str(w), str(traces), SHARED_TRACE, SHARED_ROOT],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    results = [child.communicate(timeout=180) for child in children]
    assert [child.returncode for child in children] == [0] * writers, [err for _, err in results]
    assert all("dropped" not in err for _, err in results), [err for _, err in results]

    with open_store(pg, read_only=True) as store:
        assert store.count_traces() == writers * traces + 1
        assert store.count_spans() == writers * traces * 3 + 1 + writers * 3
        shared = store.get_trace(SHARED_TRACE)
    info = shared.info
    assert (info.root_span_name, info.status) == ("agent", "ERROR")
    assert (info.start_time_ns, info.end_time_ns) == (1_000, 50_000)
    assert info.token_usage == {"input_tokens": 3 * 3 * writers, "output_tokens": 4 * 3 * writers,
                                "total_tokens": 7 * 3 * writers}
    assert sorted(s.attributes["writer"] for s in shared.data.spans if s.name == "chat") == sorted(
        w for w in range(writers) for _ in range(3))
    own = [t for t in search_traces(None, store=pg, include_spans=False) if t.info.trace_id != SHARED_TRACE]
    assert {t.info.root_span_name for t in own} == {"request"}
    assert {t.info.token_usage["total_tokens"] for t in own} == {14}


# --- two receivers, one database ---------------------------------------------------------------------


def start_serve(store: str) -> tuple[subprocess.Popen, str]:
    """``otel-genai serve --store <store> --port 0``; returns the process and its endpoint."""
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_genai.cli", "serve", "--port", "0", "--store", store],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )
    line = process.stdout.readline()
    match = re.search(r"at (http://127\.0\.0\.1:\d+/v1/traces)", line)
    if not match:
        stop_process(process)
        raise AssertionError(f"no endpoint in {line!r}: {process.stderr.read()}")
    return process, match.group(1)


def agent_traces(client: int, n: int) -> tuple[list, list]:
    """``n`` traces of an agent root (ERROR) and three children with usage; returns (roots, children)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"client-{client}"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("two-receivers")
    for _ in range(n):
        with tracer.start_as_current_span("agent") as root:
            for _ in range(3):
                with tracer.start_as_current_span("chat", attributes={"mlflow.chat.tokenUsage": USAGE}):
                    pass
            root.set_status(Status(StatusCode.ERROR, "failed"))
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    return [s for s in spans if s.parent is None], [s for s in spans if s.parent is not None]


def test_two_receivers_one_database_every_span_once_and_split_traces_whole(pg):
    open_store(pg).close()
    receivers = [start_serve(pg), start_serve(pg)]
    try:
        clients, batches, per_batch = 4, 6, 10
        sent: list = []
        errors: list = []

        def client(c: int) -> None:
            try:
                exporters = [OTLPSpanExporter(endpoint=endpoint) for _, endpoint in receivers]
                for b in range(batches):
                    roots, children = agent_traces(c, per_batch)
                    sent.extend(roots + children)
                    # the children through one receiver, the roots through the other, in either order
                    first, second = (children, roots) if b % 2 else (roots, children)
                    assert exporters[(c + b) % 2].export(first) == SpanExportResult.SUCCESS
                    assert exporters[(c + b + 1) % 2].export(second) == SpanExportResult.SUCCESS
                # and one batch sent to both receivers at once: still stored once
                roots, children = agent_traces(c, 5)
                sent.extend(roots + children)
                both = [threading.Thread(target=e.export, args=(roots + children,)) for e in exporters]
                for t in both:
                    t.start()
                for t in both:
                    t.join(60)
                for e in exporters:
                    e.shutdown()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors
        for process, endpoint in receivers:
            assert requests.get(endpoint.replace("/v1/traces", "/health"), timeout=10).status_code == 200
    finally:
        for process, _ in receivers:
            stop_process(process)
    assert [process.returncode for process, _ in receivers] == [0, 0]

    expected_traces = clients * (batches * per_batch + 5)
    with open_store(pg, read_only=True) as store:
        assert store.count_spans() == len(sent) == expected_traces * 4
        assert store.count_traces() == expected_traces
    traces = search_traces(None, store=pg)
    ids = {(t.info.trace_id, s.span_id) for t in traces for s in t.data.spans}
    assert ids == {(format(s.context.trace_id, "032x"), format(s.context.span_id, "016x")) for s in sent}
    roots = {format(s.context.trace_id, "032x"): s for s in sent if s.parent is None}
    for trace in traces:
        root, info = roots[trace.info.trace_id], trace.info
        assert (info.root_span_name, info.status) == ("agent", "ERROR")
        assert (info.start_time_ns, info.end_time_ns) == (root.start_time, root.end_time)
        assert info.token_usage == {"input_tokens": 9, "output_tokens": 12, "total_tokens": 21}
    # the light listing (summaries only) agrees with the traces read with their spans
    assert [t.info for t in search_traces(None, store=pg, include_spans=False)] == [t.info for t in traces]


def test_a_receiver_answers_503_while_the_database_is_locked_and_takes_the_retry(pg):
    """Stateless receivers in front of one database: a lock another process holds is a 503 with
    ``Retry-After`` (the OTLP exporter's retry signal), and the retried batch is stored once."""
    from postgres_support import WriteLock

    open_store(pg).close()
    process, endpoint = start_serve(pg)
    try:
        body = encode_spans(agent_traces(0, 2)[0]).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}
        locker = WriteLock(pg)
        try:
            response = requests.post(endpoint, data=body, headers=headers, timeout=30)
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        finally:
            locker.release()
        assert requests.post(endpoint, data=body, headers=headers, timeout=30).status_code == 200
        assert requests.post(endpoint, data=body, headers=headers, timeout=30).status_code == 200
    finally:
        stop_process(process)
    with open_store(pg, read_only=True) as store:
        assert (store.count_traces(), store.count_spans()) == (2, 2)
