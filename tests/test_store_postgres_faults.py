"""The PostgreSQL trace store under faults, on a real server (``postgres_server``): a writer killed
with SIGKILL in the middle of a batch, the same batch sent twice (one after the other, after a
failure, from two processes at once), writers whose batches overlap in opposite orders, a connection
the server terminates, processes racing to create the schema, and the errors a user sees (server
unreachable, no database, another application's tables, a newer schema).

What is checked is what the store holds afterwards, read back through the public read API or with
SQL beside it: each span exactly once and never part of a batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psycopg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai.exporters.store import TraceStoreSpanExporter, span_to_record
from otel_genai.store import (
    ForeignStoreError,
    SpanRecord,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
    StoreWriteError,
    open_store,
    search_traces,
)
from otel_genai.store.postgres import SCHEMA_VERSION
from postgres_support import PASSWORD, WriteLock, free_port, query

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)
USAGE = '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}'

SPANS_HELPER = textwrap.dedent(
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def make_spans(writer, batch, n):
        # n finished SDK spans, one trace each, tagged with their writer and batch
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("faults")
        for i in range(n):
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attribute("writer", writer)
                span.set_attribute("batch", batch)
                span.set_attribute("mlflow.chat.tokenUsage", '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}')
        return list(memory.get_finished_spans())
    """
)
_helpers: dict = {}
exec(SPANS_HELPER, _helpers)  # noqa: S102 - the same helper here and in the child processes
make_spans = _helpers["make_spans"]


@pytest.fixture
def pg(postgres_server) -> str:
    """A fresh, empty PostgreSQL database's URI (dropped afterwards)."""
    uri = postgres_server.create_database()
    yield uri
    postgres_server.drop_database(uri)


def stored_batches(uri: str) -> dict:
    """{(writer, batch): number of stored spans}, read back through the public read API."""
    counts: dict = {}
    for trace in search_traces(None, store=uri):
        for span in trace.data.spans:
            key = (span.attributes["writer"], span.attributes["batch"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def run_child(script: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, TESTS, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", SPANS_HELPER + textwrap.dedent(script), *args], env=env, **popen)


def record(trace_id: str, span_id: str, parent_id=None, name="s", start=1_000, end=2_000, **kw) -> SpanRecord:
    kw.setdefault("attributes", {})
    kw.setdefault("resource_attributes", {})
    return SpanRecord(trace_id, span_id, parent_id, name, kw.pop("kind", "INTERNAL"), start, end, **kw)


# --- SIGKILL in the middle of a batch ---------------------------------------------------------------

KILLED_BEFORE_COMMIT = """
import sys, time
from otel_genai.exporters.store import span_to_record
from otel_genai.store import open_store, postgres

indexed = postgres._write_index
calls = [0]

def pauses_before_commit(cur, *args):
    # a batch's last statement (its traces' index rows), then (third batch) an announcement and a
    # wait to be killed, inside the transaction: before its COMMIT
    indexed(cur, *args)
    calls[0] += 1
    if calls[0] == 3:
        seen = cur.execute("SELECT count(*) FROM spans").fetchone()[0]
        print("inside batch 2 before COMMIT, spans seen", seen, flush=True)
        time.sleep(60)

postgres._write_index = pauses_before_commit
store = open_store(sys.argv[1])
for batch in range(5):
    store.write_spans([span_to_record(s) for s in make_spans("k", batch, 300)])
    print("committed", batch, flush=True)
"""


def test_sigkill_before_commit_leaves_only_whole_batches_and_the_retry_lands_once(pg):
    child = run_child(KILLED_BEFORE_COMMIT, pg, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("inside batch 2"):
            break
    assert lines[:2] == ["committed 0", "committed 1"], lines
    assert lines[2].endswith("spans seen 900")  # batch 2's 300 spans are written, not committed
    child.send_signal(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    child.stdout.close()

    assert stored_batches(pg) == {("k", 0): 300, ("k", 1): 300}  # batch 2 is not there at all
    # the server rolled the killed client's transaction back once its socket closed, so its locks
    # are gone: re-sending batch 2 (its trace rows were the killed transaction's) does not wait
    exporter = TraceStoreSpanExporter(pg, busy_timeout_s=5)
    batches = [make_spans("k", 2, 300), make_spans("k", 9, 10)]
    assert [exporter.export(b) for b in batches] == [SpanExportResult.SUCCESS] * 2
    assert exporter.export(batches[0]) is SpanExportResult.SUCCESS  # the same batch again: stored once
    exporter.shutdown()
    assert stored_batches(pg) == {("k", 0): 300, ("k", 1): 300, ("k", 2): 300, ("k", 9): 10}
    with open_store(pg, read_only=True) as store:
        assert store.count_traces() == store.count_spans() == 910


# --- the same batch twice -------------------------------------------------------------------------


def test_the_same_batch_twice_is_stored_once_and_reads_the_same(pg):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent"):
        for n in range(3):
            with tracer.start_as_current_span(f"chat {n}", attributes={"mlflow.chat.tokenUsage": USAGE}):
                pass
    spans = list(memory.get_finished_spans())
    exporter = TraceStoreSpanExporter(pg)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    (first,) = search_traces(store=pg)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.export(spans[::-1]) is SpanExportResult.SUCCESS  # in another order: still once
    exporter.shutdown()
    (again,) = search_traces(store=pg)
    assert again == first
    assert first.info.token_usage == {"input_tokens": 9, "output_tokens": 12, "total_tokens": 21}
    assert query(pg, "SELECT count(*), count(DISTINCT span_id) FROM spans") == [(4, 4)]


def test_a_batch_retried_after_a_failure_is_stored_once(pg):
    exporter = TraceStoreSpanExporter(pg, busy_timeout_s=0.2)
    assert exporter.export(make_spans("r", 0, 50)) is SpanExportResult.SUCCESS
    retried = make_spans("r", 1, 50)
    locker = WriteLock(pg)
    try:
        assert exporter.export(retried) is SpanExportResult.FAILURE  # lock_timeout: nothing stored
        assert stored_batches(pg) == {("r", 0): 50}
    finally:
        locker.release()
    assert exporter.export(retried) is SpanExportResult.SUCCESS
    assert exporter.export(retried) is SpanExportResult.SUCCESS  # and a retry of a success
    exporter.shutdown()
    assert stored_batches(pg) == {("r", 0): 50, ("r", 1): 50}


SENDS_WHEN_TOLD = """
import pickle, sys
from otel_genai.store import open_store
records = pickle.loads(bytes.fromhex(sys.stdin.readline()))
store = open_store(sys.argv[1], timeout_s=30)
print("ready", flush=True)
sys.stdin.readline()
print(store.write_spans(records), flush=True)
store.close()
"""


def test_the_same_batch_from_two_processes_at_once_is_stored_once(pg):
    import pickle

    records = [span_to_record(s) for s in make_spans("twice", 0, 400)]
    records = [r._replace(resource_attributes=dict(r.resource_attributes)) for r in records]
    # and children of one trace whose root comes in the same batch
    root = record("ab" * 16, "f" * 16, None, "agent", 1_000, 9_000, status_code="ERROR")
    records += [root] + [record("ab" * 16, f"{n:016x}", "f" * 16, "chat", 2_000 + n, 3_000 + n,
                                attributes={"mlflow.chat.tokenUsage": USAGE}) for n in range(1, 20)]
    payload = pickle.dumps(records).hex() + "\n"
    open_store(pg).close()
    children = [run_child(SENDS_WHEN_TOLD, pg, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    for child in children:
        child.stdin.write(payload)
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    assert [child.stdout.readline().strip() for child in children] == [str(len(records))] * 2
    assert [child.wait(30) for child in children] == [0, 0]
    assert query(pg, "SELECT count(*), count(DISTINCT (trace_key, span_id)) FROM spans") == [(420, 420)]
    with open_store(pg, read_only=True) as store:
        assert store.count_traces() == 401
        info = store.get_trace("ab" * 16).info
    assert (info.root_span_name, info.status, info.start_time_ns, info.end_time_ns) == ("agent", "ERROR", 1_000, 9_000)
    assert info.token_usage == {"input_tokens": 57, "output_tokens": 76, "total_tokens": 133}


# --- concurrency: no deadlock, no lost summary ----------------------------------------------------


def test_writers_touching_the_same_traces_in_opposite_orders_never_deadlock(pg):
    """Each batch holds spans of the same 60 traces, listed in ascending or descending order: were
    rows locked in arrival order, two such writers would wait for each other (PostgreSQL detects it
    after ``deadlock_timeout`` and cancels one: a deadlock error). They lock in trace-id order."""
    trace_ids = [f"{n:032x}" for n in range(1, 61)]
    open_store(pg).close()
    errors: list = []
    rounds = 15

    def writer(w: int) -> None:
        try:
            with open_store(pg, timeout_s=30) as store:
                for r in range(rounds):
                    ids = trace_ids if (w + r) % 2 else trace_ids[::-1]
                    store.write_spans([
                        record(t, f"{w:04x}{r:04x}{i:08x}", "f" * 16, "chat", 2_000 + w, 3_000 + r,
                               attributes={"mlflow.chat.tokenUsage": USAGE})
                        for i, t in enumerate(ids)
                    ])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with open_store(pg, read_only=True) as store:
        assert store.count_traces() == 60 and store.count_spans() == 60 * 6 * rounds
        info = store.get_trace(trace_ids[0]).info
    # every writer's batch widened the summary: nobody's merge was lost
    assert (info.start_time_ns, info.end_time_ns) == (2_000, 3_000 + rounds - 1)
    assert info.token_usage["total_tokens"] == 7 * 6 * rounds


def test_the_root_and_the_children_of_one_trace_written_at_once_by_many_writers(pg):
    """Batches of one trace arriving at the same time through different connections: the summary
    (root, range, status, model) is merged under the trace row's lock, so none of it is lost."""
    open_store(pg).close()
    trace_id = "cd" * 16
    batches = [[record(trace_id, "f" * 16, None, "agent", 5_000, 6_000, status_code="ERROR")]]
    batches += [[record(trace_id, f"{w:08x}{n:08x}", "f" * 16, "chat", 1_000 + w, 10_000 + w,
                        attributes={"gen_ai.request.model": f"m{w}", "gen_ai.provider.name": f"p{w}",
                                    "mlflow.chat.tokenUsage": USAGE})
                 for n in range(5)] for w in range(1, 9)]
    barrier = threading.Barrier(len(batches))
    errors: list = []

    def write(batch) -> None:
        try:
            with open_store(pg, timeout_s=30) as store:
                barrier.wait(10)
                store.write_spans(batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with open_store(pg, read_only=True) as store:
        (light,) = store.search_traces(include_spans=False)
        full = store.get_trace(trace_id)
    assert light.info == full.info
    info = full.info
    assert (info.root_span_name, info.status, info.model, info.provider) == ("agent", "ERROR", "m1", "p1")
    assert (info.start_time_ns, info.end_time_ns) == (1_001, 10_008)
    assert info.token_usage == {"input_tokens": 120, "output_tokens": 160, "total_tokens": 280}


# --- the server ends a connection -----------------------------------------------------------------


def terminate_store_connections(uri: str) -> int:
    """End the server side of every otel-genai connection to ``uri``'s database (``pg_terminate_backend``)."""
    ((killed,),) = query(uri, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                              " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                              " AND application_name = 'otel-genai'")
    return killed


def test_connections_the_server_ended_while_idle_are_replaced_and_no_batch_is_lost(pg):
    with open_store(pg) as store:
        store.write_spans([record("11" * 16, "1" * 16)])
        assert terminate_store_connections(pg) >= 1
        assert store.write_spans([record("22" * 16, "1" * 16)]) == 1  # on a new connection
        assert terminate_store_connections(pg) >= 1
        assert store.count_spans() == 2  # reads too
        assert query(pg, "SELECT count(*) FROM spans") == [(2,)]


# --- schema: migrations once, a newer schema refused ------------------------------------------------

OPENS_WHEN_TOLD = """
import sys
from otel_genai.store import open_store
print("ready", flush=True)
sys.stdin.readline()
open_store(sys.argv[1], timeout_s=30).close()
"""


def test_processes_opening_an_empty_database_at_once_create_the_schema_once(pg):
    children = [run_child(OPENS_WHEN_TOLD, pg, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(6)]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    assert [child.wait(60) for child in children] == [0] * 6
    assert query(pg, "SELECT version FROM otel_genai_schema") == [(SCHEMA_VERSION,)]
    tables = query(pg, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    assert tables == [("otel_genai_schema",), ("resources",), ("span_index",), ("spans",), ("trace_index",),
                      ("trace_metadata",), ("trace_tags",), ("traces",)]


def test_a_store_of_a_newer_schema_is_refused(pg):
    open_store(pg).close()
    with psycopg.connect(pg) as conn:
        conn.execute("UPDATE otel_genai_schema SET version = %s", (SCHEMA_VERSION + 1,))
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer otel-genai"):
            open_store(pg, read_only=read_only)


# --- what a user sees ------------------------------------------------------------------------------


def test_another_applications_tables_are_refused_and_left_alone(pg):
    with psycopg.connect(pg) as conn:
        conn.execute("CREATE TABLE traces (id serial PRIMARY KEY, payload text)")
        conn.execute("INSERT INTO traces (payload) VALUES ('theirs')")
    for read_only in (False, True):
        with pytest.raises(ForeignStoreError) as raised:
            open_store(pg, read_only=read_only)
        assert "'traces'" in str(raised.value) and PASSWORD not in str(raised.value)
    exporter = TraceStoreSpanExporter(pg)
    assert exporter.export(make_spans("x", 0, 3)) is SpanExportResult.FAILURE
    exporter.shutdown()
    assert query(pg, "SELECT id, payload FROM traces") == [(1, "theirs")]
    assert query(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == [(1,)]


def test_a_server_that_does_not_answer_is_unavailable_and_the_exporter_warns_once(caplog):
    uri = f"postgresql://someone:{PASSWORD}@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreUnavailableError) as raised:
        open_store(uri, timeout_s=0.5)
    assert "127.0.0.1" in str(raised.value) and PASSWORD not in str(raised.value)
    exporter = TraceStoreSpanExporter(uri, busy_timeout_s=0.5)
    import logging

    with caplog.at_level(logging.DEBUG, logger="otel_genai.exporters.store"):
        assert exporter.export(make_spans("x", 0, 1)) is SpanExportResult.FAILURE
        assert exporter.export(make_spans("x", 1, 1)) is SpanExportResult.FAILURE
    exporter.shutdown()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_reading_a_database_that_does_not_exist_or_holds_no_store_creates_nothing(postgres_server, pg):
    missing = postgres_server.uri("no_such_database")
    for uri in (missing, pg):  # no database; an empty database
        with pytest.raises(StoreNotFoundError) as raised:
            search_traces(store=uri)
        assert PASSWORD not in str(raised.value)
    assert query(postgres_server.uri(), "SELECT count(*) FROM pg_database WHERE datname = 'no_such_database'") == [(0,)]
    assert query(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == [(0,)]


def test_writing_creates_the_database_and_the_location_hides_the_password(postgres_server):
    uri = postgres_server.uri("made_by_the_store")
    try:
        with open_store(uri) as store:
            assert store.location == uri.replace(f":{PASSWORD}@", "@")
            assert store.write_spans([record("33" * 16, "1" * 16)]) == 1
        assert [t.info.trace_id for t in search_traces(store=uri.replace("postgresql://", "postgres://"))] == ["33" * 16]
    finally:
        postgres_server.drop_database(uri)


def test_an_invalid_record_is_a_write_error_and_nothing_of_the_batch_is_stored(pg):
    with open_store(pg) as store:
        for bad in (record("44" * 16, "2" * 16, start=2**63),  # past BIGINT
                    record("44" * 16, "2" * 16, name=None),  # NOT NULL
                    record("44" * 16, "2" * 16, start="soon")):  # not a time
            with pytest.raises(StoreWriteError):
                store.write_spans([record("44" * 16, "1" * 16), bad])
        assert store.count_spans() == 0
        # text PostgreSQL cannot hold (NUL) is kept as U+FFFD instead of failing the batch
        store.write_spans([record("44" * 16, "1" * 16, name="a\x00b", attributes={"k": "v\x00"})])
        (span,) = store.get_trace("44" * 16).data.spans
        assert (span.name, span.attributes) == ("a\ufffdb", {"k": "v\x00"})


def test_a_span_attribute_filter_survives_json_postgresql_cannot_read_and_a_parallel_plan(pg):
    """``span.attributes.<key>`` reads the stored JSON text in SQL; a span whose attributes hold a
    NaN (Python's json writes it, PostgreSQL's JSON parser refuses it) or a ``\\u0000`` must not fail
    the search, and neither must a plan that scans in parallel workers."""
    with psycopg.connect(pg, autocommit=True) as conn:  # every plan parallel where it can be
        dbname = conn.execute("SELECT current_database()").fetchone()[0]
        for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                        "max_parallel_workers_per_gather = 2"):
            conn.execute(f'ALTER DATABASE "{dbname}" SET {setting}')
    with open_store(pg) as store:
        store.write_spans(
            [record(f"{n:032x}", "1" * 16, attributes={"k": "wanted" if n % 2 else "other", "n": n, "l": [1, 2]})
             for n in range(1, 401)]
            + [record("ee" * 16, "1" * 16, attributes={"k": "wanted", "x": float("nan")}),
               record("ef" * 16, "1" * 16, attributes={"k": "wanted\x00"})]
        )
        found = store.search_traces("span.attributes.k = 'wanted'", max_results=None, include_spans=False)
        assert len(found) == 200  # the NaN span's JSON is unreadable to PostgreSQL: not matched, no error
        assert [t.info.trace_id for t in store.search_traces("span.attributes.l = '[1,2]'", max_results=3,
                                                              include_spans=False)] == [f"{n:032x}" for n in (400, 399, 398)]
        assert len(store.search_traces("span.attributes.n = '7'", include_spans=False)) == 1
