"""The trace store under concurrency and faults (issue 7): real SQLite files and a real PostgreSQL
server (``store_uri``, where the test is not about a file), real threads, real processes, a real SIGKILL.

* concurrent writers, threads and processes, lose no span;
* a writer killed with SIGKILL in the middle of a batch leaves a readable store holding only whole
  batches, and the next writer carries on;
* a corrupt or locked store file gives a clear error, and an instrumented app exporting into it
  keeps running with unchanged results.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.store import StoreError, open_store, search_traces
from otel_genai.store.postgres import redact
from postgres_support import is_postgres, query, sqlite_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork-free subprocesses")

SRC = str(Path(__file__).resolve().parents[1] / "src")

# Spans made by the SDK (one trace per span), tagged with the batch they are written in.
SPANS_HELPER = textwrap.dedent(
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def make_spans(writer, batch, n):
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("reliability")
        for i in range(n):
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attribute("writer", writer)
                span.set_attribute("batch", batch)
                span.set_attribute("mlflow.chat.tokenUsage", '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}')
        return list(memory.get_finished_spans())
    """
)
_helpers: dict = {}
exec(SPANS_HELPER, _helpers)  # noqa: S102 - the same helper in this process and in the child processes
make_spans = _helpers["make_spans"]


def stored_batches(path: Path) -> dict[tuple[str, int], int]:
    """{(writer, batch): number of stored spans} read back through the public read API."""
    counts: dict[tuple[str, int], int] = {}
    for trace in search_traces(None, path=path):
        for span in trace.data.spans:
            key = (span.attributes["writer"], span.attributes["batch"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def integrity(path: Path | str) -> str:
    """``"ok"`` for a sound store: SQLite's ``PRAGMA integrity_check``; on PostgreSQL (whose pages a
    client crash cannot damage) every span's trace row exists and every trace has a span."""
    if is_postgres(str(path)):
        (orphans, empty), = query(str(path), "SELECT (SELECT count(*) FROM spans s WHERE NOT EXISTS"
                                  " (SELECT 1 FROM traces t WHERE t.trace_key = s.trace_key)),"
                                  " (SELECT count(*) FROM traces t WHERE NOT EXISTS"
                                  " (SELECT 1 FROM spans s WHERE s.trace_key = t.trace_key))")
        return "ok" if (orphans, empty) == (0, 0) else f"{orphans} orphan spans, {empty} traces without spans"
    with sqlite3.connect(sqlite_file(str(path))) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def run_child(script: str, *args: str, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", SPANS_HELPER + textwrap.dedent(script), *args], env=env, **popen)


# --- concurrent writers ---------------------------------------------------------------------------------
def test_thread_writers_lose_no_span(store_uri):
    path = store_uri
    writers, batches, size = 6, 20, 25
    prepared = {w: [make_spans(f"t{w}", b, size) for b in range(batches)] for w in range(writers)}
    results: list[SpanExportResult] = []

    def write(w: int) -> None:
        exporter = TraceStoreSpanExporter(path, busy_timeout_s=30)  # its own connection
        for batch in prepared[w]:
            results.append(exporter.export(batch))
        exporter.shutdown()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(SpanExportResult.SUCCESS) == writers * batches
    assert stored_batches(path) == {(f"t{w}", b): size for w in range(writers) for b in range(batches)}


def test_writers_opening_a_new_store_together_all_get_it(tmp_path):
    # SQLite answers the switch to WAL "database is locked" at once while another connection holds a
    # lock: six writers opening one new file together must all get the store (no error, no lost batch)
    from otel_genai.store.sqlite import SQLiteTraceStore

    failures: list[BaseException] = []

    def open_store(path: Path) -> None:
        try:
            SQLiteTraceStore(path, busy_timeout_s=30).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    for attempt in range(60):
        path = tmp_path / f"new{attempt}.db"
        threads = [threading.Thread(target=open_store, args=(path,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failures == []


def test_threads_sharing_one_batch_processor_lose_no_span(store_uri):
    path = store_uri
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(TraceStoreSpanExporter(path), max_queue_size=10_000, schedule_delay_millis=10))
    tracer = provider.get_tracer("app")

    def work(w: int) -> None:
        for b in range(10):
            for _ in range(30):
                with tracer.start_as_current_span("work") as span:
                    span.set_attribute("writer", f"p{w}")
                    span.set_attribute("batch", b)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.force_flush(30_000)
    provider.shutdown()
    assert stored_batches(path) == {(f"p{w}", b): 30 for w in range(4) for b in range(10)}


PROCESS_WRITER = """
import sys
from otel_genai.exporters.store import TraceStoreSpanExporter
path, writer, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
exporter = TraceStoreSpanExporter(path, busy_timeout_s=60)
prepared = [make_spans(writer, b, size) for b in range(batches)]
print("ready", flush=True)
sys.stdin.readline()  # start together
failed = sum(exporter.export(batch).name != "SUCCESS" for batch in prepared)
exporter.shutdown()
sys.exit(1 if failed else 0)
"""


def test_process_writers_lose_no_span_while_a_reader_reads(store_uri):
    path = store_uri
    open_store(path).close()  # schema first: the writers race only on spans
    writers, batches, size = 4, 15, 40
    children = [
        run_child(PROCESS_WRITER, str(path), f"w{w}", str(batches), str(size), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    reads = 0
    while any(child.poll() is None for child in children):
        search_traces(20, path=path, include_spans=False)  # a reader alongside the writers never fails
        reads += 1
        time.sleep(0.01)
    assert [child.wait(60) for child in children] == [0] * writers
    assert reads >= 1
    assert stored_batches(path) == {(f"w{w}", b): size for w in range(writers) for b in range(batches)}
    assert integrity(path) == "ok"


# --- SIGKILL in the middle of a batch ---------------------------------------------------------------------
KILLED_BEFORE_COMMIT = """
import sys, time
from otel_genai.store import open_store
from otel_genai.exporters.store import span_to_record

import os

WAL = sys.argv[1] + "-wal"

class PausesBeforeCommit:
    # the store's connection, except that the third COMMIT announces itself and waits to be killed
    def __init__(self, conn):
        self._conn, self._commits = conn, 0
    def execute(self, sql, *args):
        if sql == "COMMIT":
            self._commits += 1
            if self._commits == 3:
                print("inside batch 2 before COMMIT, wal", os.path.getsize(WAL), flush=True)
                time.sleep(60)
        return self._conn.execute(sql, *args)
    def __getattr__(self, name):
        return getattr(self._conn, name)

store = open_store(sys.argv[1])
store._conn.execute("PRAGMA cache_size=8")  # a small page cache: a batch's pages spill into the WAL before COMMIT
store._conn = PausesBeforeCommit(store._conn)
for batch in range(5):
    store.write_spans([span_to_record(s) for s in make_spans("k", batch, 300)])
    print("committed", batch, "wal", os.path.getsize(WAL), flush=True)
"""


def test_sigkill_before_commit_leaves_only_whole_batches(tmp_path):
    path = tmp_path / "traces.db"
    child = run_child(KILLED_BEFORE_COMMIT, str(path), stdout=subprocess.PIPE, text=True)
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("inside batch 2"):
            break
    assert [line.split()[:2] for line in lines[:2]] == [["committed", "0"], ["committed", "1"]], lines
    wal_after_batch_1, wal_inside_batch_2 = int(lines[1].split()[-1]), int(lines[2].split()[-1])
    assert wal_inside_batch_2 > wal_after_batch_1  # batch 2's uncommitted pages are in the WAL file
    child.send_signal(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL

    assert integrity(path) == "ok"
    assert stored_batches(path) == {("k", 0): 300, ("k", 1): 300}  # batch 2 is not there at all
    with open_store(path) as store:  # the next writer carries on
        assert store.count_traces() == store.count_spans() == 600
    exporter = TraceStoreSpanExporter(path)
    assert exporter.export(make_spans("k", 9, 10)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert stored_batches(path)[("k", 9)] == 10


KILLED_ANYWHERE = """
import sys
from otel_genai.exporters.store import TraceStoreSpanExporter
exporter = TraceStoreSpanExporter(sys.argv[1], busy_timeout_s=30)
writer = sys.argv[2]
prepared = [make_spans(writer, b, 400) for b in range(6)]
print("ready", flush=True)
batch = 0
while True:
    exporter.export(prepared[batch % 6])
    batch += 1
"""


def test_sigkill_at_random_moments_leaves_only_whole_batches(store_uri):
    path = store_uri
    open_store(path).close()  # schema first: the kills land in batches, not in the schema's creation
    rng = random.Random(7)
    for attempt in range(3):
        child = run_child(KILLED_ANYWHERE, str(path), f"r{attempt}", stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.15, 0.6))  # batches of 400 spans: most of the time is spent inside one
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        child.stdout.close()
        assert integrity(path) == "ok"
        for (writer, batch), count in stored_batches(path).items():
            assert count == 400, f"{writer} batch {batch}: {count} of 400 spans stored"
    with open_store(path) as store:
        assert store.count_traces() == store.count_spans()


# --- corrupt or locked store files --------------------------------------------------------------------------
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()


class StoreApp:
    """An instrumented openai app exporting into the store at ``path`` through a BatchSpanProcessor."""

    def __init__(self, path: Path, busy_timeout_s: float = 0.1) -> None:
        self.exporter = TraceStoreSpanExporter(path, busy_timeout_s=busy_timeout_s)
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter, schedule_delay_millis=10))
        self.instrumentor = OpenAIInstrumentor()
        self.instrumentor.instrument(tracer_provider=self.provider, capture_content="SPAN_ONLY")
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=COMPLETION, headers={"content-type": "application/json"}))
        self.client = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=transport), max_retries=0)

    def calls(self, n: int) -> list[float]:
        latencies = []
        for _ in range(n):
            t0 = time.perf_counter()
            result = self.client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            latencies.append(time.perf_counter() - t0)
            assert result.choices[0].message.content == "ok"
        return latencies

    def close(self) -> None:
        self.instrumentor.uninstrument()
        self.provider.shutdown()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_store_gives_a_clear_error_and_the_app_keeps_running(tmp_path, caplog, damage):
    path = tmp_path / "traces.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(64 * 1024))
    else:
        exporter = TraceStoreSpanExporter(path)
        exporter.export(make_spans("x", 0, 200))
        exporter.shutdown()
        data = path.read_bytes()
        path.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))  # header intact, every page after it trashed
    app = StoreApp(path)
    try:
        with caplog.at_level(logging.WARNING, logger="otel_genai.exporters.store"):
            latencies = app.calls(30)
            app.provider.force_flush(10_000)  # the exports fail; nothing is raised
        assert max(latencies) < 0.5
    finally:
        app.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "otel_genai.exporters.store" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0], warnings  # said once, naming the file
    with pytest.raises(StoreError) as raised:
        search_traces(path=path)
    message = str(raised.value)
    assert str(path) in message and ("not a usable otel-genai trace store" in message or "not a database" in message)


class ExclusiveLock:
    """Another process holding the store so that nobody reads or writes it until :meth:`close`:
    SQLite's ``locking_mode=EXCLUSIVE`` after a write; PostgreSQL's ``ACCESS EXCLUSIVE`` table locks
    in an open transaction (https://www.postgresql.org/docs/15/explicit-locking.html)."""

    def __init__(self, uri: str) -> None:
        if is_postgres(uri):
            import psycopg

            self._conn = psycopg.connect(uri)
            self._conn.execute("LOCK TABLE resources, traces, spans IN ACCESS EXCLUSIVE MODE")
        else:
            self._conn = sqlite3.connect(sqlite_file(uri), isolation_level=None)
            self._conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # held until this connection closes
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("CREATE TABLE IF NOT EXISTS lock_marker (x)")
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


def test_locked_store_gives_a_clear_error_and_the_app_keeps_running(store_uri, caplog):
    path = store_uri
    open_store(path).close()
    locker = ExclusiveLock(path)
    app = StoreApp(path, busy_timeout_s=0.1)
    try:
        with caplog.at_level(logging.WARNING, logger="otel_genai.exporters.store"):
            latencies = app.calls(20)
            app.provider.force_flush(10_000)
        assert max(latencies) < 0.5  # the busy wait happens on the processor's thread
        warnings = [r.getMessage() for r in caplog.records if r.name == "otel_genai.exporters.store" and r.levelno == logging.WARNING]
        assert warnings and "locked" in warnings[0] and redact(path) in warnings[0], warnings
        with pytest.raises(StoreError, match="locked by another process"):
            search_traces(path=path)
        locker.close()  # the other process lets go: spans flow again
        app.calls(5)
        assert app.provider.force_flush(10_000)
        assert len(search_traces(None, path=path)) >= 5
    finally:
        locker.close()
        app.close()
