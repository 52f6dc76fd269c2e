"""The trace store and its exporter, with real SDK spans, on each backend (``store_uri``: a real SQLite
file and a real PostgreSQL server); the tests of what only a file has take a SQLite file (``db_file``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_genai.exporters.store import TraceStoreSpanExporter
from postgres_support import WriteLock, query
from otel_genai.store import (
    STORE_PATH_ENV,
    AmbiguousTraceIdError,
    SpanRecord,
    StoreError,
    StoreNotFoundError,
    StoreWriteError,
    TraceNotFoundError,
    open_store,
    aggregate_token_usage,
    default_store_path,
    get_last_trace_id,
    get_trace,
    search_traces,
)

USAGE = "mlflow.chat.tokenUsage"
REPO = Path(__file__).resolve().parents[1]


def usage(inp: int, out: int, **cache: int) -> str:
    return json.dumps({"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out, **cache})


def tid(span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def sid(span) -> str:
    return format(span.get_span_context().span_id, "016x")


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """A SQLite store file that does not exist yet, in directories that do not exist yet."""
    return tmp_path / "nested" / "dir" / "traces.db"


@pytest.fixture
def db(store_uri: str, db_file: Path) -> str:
    """A fresh store's URI on each backend; on SQLite a file in directories that do not exist yet."""
    return "sqlite://" + str(db_file) if store_uri.startswith("sqlite:") else store_uri


@pytest.fixture
def provider(db: str):
    tp = TracerProvider(resource=Resource.create({"service.name": "store-tests"}))
    tp.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(db)))
    yield tp
    tp.shutdown()


def record(trace_id: str, span_id: str, parent_id=None, name="s", start=1_000, end=2_000, **kw) -> SpanRecord:
    return SpanRecord(trace_id, span_id, parent_id, name, kw.pop("kind", "INTERNAL"), start, end, **kw)


# --- round trip ---------------------------------------------------------------------------------


def test_round_trip_ids_attributes_status_events(provider, db):
    tracer = provider.get_tracer("tests.scope", "1.2.3")
    with tracer.start_as_current_span("agent run") as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.response.finish_reasons": ("stop", "length"),
                "server.port": 443,
                "gen_ai.request.temperature": 0.5,
                "gen_ai.request.stream": False,
                USAGE: usage(10, 5),
                "plain.true": "true",
                "plain.number": "123",
                "not.json": "{oops",
                "json.list": "[1, 2]",
            },
        ) as chat:
            chat.add_event("gen_ai.chunk", {"index": 3, "tags": ("a", "b")}, timestamp=123456789)
        with pytest.raises(ValueError):
            with tracer.start_as_current_span("tool") as tool:
                raise ValueError("bad tool")

    trace = get_trace(tid(root), store=db)
    assert trace is not None
    info = trace.info
    assert info.trace_id == tid(root) and len(info.trace_id) == 32
    assert info.status == "OK"  # root UNSET -> OK, even though a child failed
    assert info.root_span_name == "agent run"
    assert info.model == "gpt-4o-mini-2024-07-18"  # response model preferred over request model
    assert info.token_usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert info.start_time_ns == root.start_time and info.end_time_ns == root.end_time
    assert info.duration_ms == pytest.approx((root.end_time - root.start_time) / 1e6)
    assert info.start_time.tzinfo == dt.timezone.utc
    assert info.start_time == dt.datetime.fromtimestamp(root.start_time // 1000 / 1e6, dt.timezone.utc)

    spans = trace.data.spans
    assert [s.name for s in spans] == ["agent run", "chat gpt-4o-mini", "tool"]
    s_root, s_chat, s_tool = spans
    assert [s.span_id for s in spans] == [sid(root), sid(chat), sid(tool)]
    assert s_root.parent_id is None
    assert s_chat.parent_id == sid(root) and s_tool.parent_id == sid(root)
    assert {s.trace_id for s in spans} == {tid(root)}
    assert (s_root.kind, s_chat.kind) == ("INTERNAL", "CLIENT")
    assert (s_chat.start_time_ns, s_chat.end_time_ns) == (chat.start_time, chat.end_time)
    assert s_chat.duration_ms == pytest.approx((chat.end_time - chat.start_time) / 1e6)

    assert s_chat.status == "UNSET" and s_chat.status_message is None
    assert s_tool.status == "ERROR" and "bad tool" in s_tool.status_message
    assert s_tool.events[0]["name"] == "exception"
    assert s_tool.events[0]["attributes"]["exception.type"] == "ValueError"
    assert s_tool.events[0]["attributes"]["exception.message"] == "bad tool"
    assert s_chat.events == [
        {"name": "gen_ai.chunk", "time_ns": 123456789, "attributes": {"index": 3, "tags": ["a", "b"]}}
    ]

    attrs = s_chat.attributes
    assert attrs["gen_ai.response.finish_reasons"] == ["stop", "length"]
    assert attrs["server.port"] == 443 and isinstance(attrs["server.port"], int)
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.stream"] is False
    assert attrs[USAGE] == usage(10, 5)  # raw value: still the JSON string
    assert s_chat.get_attribute(USAGE) == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert s_chat.token_usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert s_chat.get_attribute("plain.true") == "true"
    assert s_chat.get_attribute("plain.number") == "123"
    assert s_chat.get_attribute("not.json") == "{oops"
    assert s_chat.get_attribute("json.list") == [1, 2]
    assert s_chat.get_attribute("server.port") == 443
    assert s_chat.get_attribute("missing") is None
    assert s_root.token_usage is None

    assert s_chat.resource_attributes["service.name"] == "store-tests"
    assert (s_chat.scope_name, s_chat.scope_version) == ("tests.scope", "1.2.3")


def test_root_error_makes_trace_error(provider, db):
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        root.set_status(Status(StatusCode.ERROR, "it broke"))
    trace = get_trace(tid(root), store=db)
    assert trace.info.status == "ERROR"
    assert trace.data.spans[0].status_message == "it broke"
    assert get_trace("tr-" + tid(root).upper(), store=db).info.trace_id == tid(root)  # MLflow-style id
    assert get_trace("0" * 32, store=db) is None


def test_sqlite_store_is_wal(db_file):
    with open_store(db_file) as store:
        store.write_spans([record("12" * 16, "1" * 16)])
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- listing ------------------------------------------------------------------------------------


def _timed_trace(tracer, name: str, start_s: int, error: bool = False, tokens=None) -> str:
    root = tracer.start_span(name, start_time=start_s * 10**9)
    ctx = trace_api.set_span_in_context(root)
    if tokens:
        child = tracer.start_span("chat m", context=ctx, start_time=start_s * 10**9 + 1000,
                                  attributes={USAGE: usage(*tokens)})
        child.end(end_time=start_s * 10**9 + 2000)
    if error:
        root.set_status(Status(StatusCode.ERROR, "failed"))
    root.end(end_time=start_s * 10**9 + 5_000_000)
    return tid(root)


def test_search_traces_newest_first_and_filters(provider, db):
    tracer = provider.get_tracer("t")
    middle = _timed_trace(tracer, "middle", 1_700_000_100, error=True, tokens=(3, 4))
    oldest = _timed_trace(tracer, "oldest", 1_700_000_000, tokens=(1, 1))
    newest = _timed_trace(tracer, "newest", 1_700_000_200)

    traces = search_traces(store=db)
    assert [t.info.trace_id for t in traces] == [newest, middle, oldest]
    assert [t.info.root_span_name for t in traces] == ["newest", "middle", "oldest"]
    assert traces[1].info.duration_ms == pytest.approx(5.0)
    assert traces[1].info.start_time == dt.datetime.fromtimestamp(1_700_000_100, dt.timezone.utc)
    assert [len(t.data.spans) for t in traces] == [1, 2, 2]

    assert [t.info.trace_id for t in search_traces(2, store=db)] == [newest, middle]
    assert [t.info.trace_id for t in search_traces(store=db, status="ERROR")] == [middle]
    assert [t.info.trace_id for t in search_traces(store=db, status="ok")] == [newest, oldest]
    assert [t.info.trace_id for t in search_traces(store=db, root_span_name="oldest")] == [oldest]
    after = dt.datetime.fromtimestamp(1_700_000_050, dt.timezone.utc)
    assert [t.info.trace_id for t in search_traces(store=db, min_start_time=after)] == [newest, middle]
    assert [t.info.trace_id for t in search_traces(store=db, max_start_time=1_700_000_100 * 10**9)] == [
        middle, oldest,
    ]

    light = search_traces(store=db, include_spans=False)
    assert [t.data.spans for t in light] == [[], [], []]
    assert [t.info.token_usage for t in light] == [
        None,
        {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    ]
    assert [t.info for t in light] == [t.info for t in traces]
    assert get_last_trace_id(store=db) == newest


# --- MLflow token aggregation -------------------------------------------------------------------


def test_token_usage_counts_nested_usage_once(provider, db):
    tracer = provider.get_tracer("t")
    cached_call = {USAGE: usage(100, 20, cache_read_input_tokens=30)}
    with tracer.start_as_current_span("agent") as root:
        with tracer.start_as_current_span("llm wrapper", attributes=cached_call):
            # the SDK span inside a framework span reporting the same call: not counted again
            with tracer.start_as_current_span("chat inner", attributes=cached_call):
                pass
        with tracer.start_as_current_span("chat 2", attributes={USAGE: usage(7, 3)}):
            pass
        with tracer.start_as_current_span("tool"):
            # no ancestor carries usage: counted
            with tracer.start_as_current_span("chat 3", attributes={USAGE: usage(5, 1, cache_creation_input_tokens=4)}):
                pass
    expected = {
        "input_tokens": 112,
        "output_tokens": 24,
        "total_tokens": 136,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 4,
    }
    assert get_trace(tid(root), store=db).info.token_usage == expected
    # the summary path (no spans loaded) aggregates from SQL and must agree
    (light,) = search_traces(store=db, include_spans=False)
    assert light.info.token_usage == expected


def test_cache_keys_only_when_a_counted_span_has_them(provider, db):
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("outer", attributes={USAGE: usage(10, 5)}) as root:
        with tracer.start_as_current_span("inner", attributes={USAGE: usage(10, 5, cache_read_input_tokens=3)}):
            pass
    assert get_trace(tid(root), store=db).info.token_usage == {
        "input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
    }
    with tracer.start_as_current_span("no usage at all") as bare:
        pass
    assert get_trace(tid(bare), store=db).info.token_usage is None


def test_aggregate_token_usage_rules():
    u = {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3}
    # parent "gone" is not among the spans: "a" is the root of its subtree; "b" is under usage
    nodes = [("a", "gone", json.dumps(u)), ("b", "a", json.dumps(u)), ("c", None, None), ("d", "c", u)]
    assert aggregate_token_usage(nodes) == {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}
    assert aggregate_token_usage([("a", None, None), ("b", "a", "not json")]) is None
    assert aggregate_token_usage([]) is None
    # a deep chain does not hit the recursion limit
    chain = [(str(i), str(i - 1) if i else None, None) for i in range(5000)] + [("x", "4999", u)]
    assert aggregate_token_usage(chain) == u


def test_orphan_spans_and_late_root(db):
    trace_id = "ab" * 16
    with open_store(db) as store:
        # children arrive first; their parent ("root") is not stored yet
        store.write_spans([
            record(trace_id, "1" * 16, "f" * 16, "chat a", 2_000, 3_000, attributes={USAGE: usage(4, 1)}),
            record(trace_id, "2" * 16, "1" * 16, "inner", 2_100, 2_900, attributes={USAGE: usage(4, 1)}),
        ])
        info = store.get_trace(trace_id).info
        assert info.root_span_name == "chat a"  # stand-in: earliest span whose parent is not stored
        assert info.token_usage == {"input_tokens": 4, "output_tokens": 1, "total_tokens": 5}
        assert store.search_traces(include_spans=False)[0].info.root_span_name == "chat a"
        # the real root arrives later: summary switches to it and widens the time range
        store.write_spans([
            record(trace_id, "f" * 16, None, "agent", 1_000, 9_000, status_code="ERROR"),
        ])
        info = store.get_trace(trace_id).info
        assert (info.root_span_name, info.status) == ("agent", "ERROR")
        assert (info.start_time_ns, info.end_time_ns) == (1_000, 9_000)
        assert info.token_usage == {"input_tokens": 4, "output_tokens": 1, "total_tokens": 5}
        # a span ending after the root (background work) keeps the root and widens the end
        store.write_spans([record(trace_id, "3" * 16, "f" * 16, "late", 8_000, 12_000)])
        (row,) = query(db, "SELECT root_span_id, root_span_name, root_status_code, end_time_ns"
                           " FROM traces WHERE trace_id = ?", (trace_id,))
        assert row == ("f" * 16, "agent", "ERROR", 12_000)
        assert [t.info.status for t in store.search_traces(status="ERROR", include_spans=False)] == ["ERROR"]


def test_model_comes_from_the_earliest_span_that_has_one(db):
    trace_id = "cd" * 16
    with open_store(db) as store:
        store.write_spans([record(trace_id, "2" * 16, "1" * 16, "late", 5_000, 6_000,
                                  attributes={"gen_ai.request.model": "late-model"})])
        store.write_spans([record(trace_id, "3" * 16, "1" * 16, "early", 2_000, 3_000,
                                  attributes={"gen_ai.request.model": "early-model"})])
        store.write_spans([record(trace_id, "1" * 16, None, "root", 1_000, 7_000)])
        assert store.get_trace(trace_id).info.model == "early-model"


# --- writes: transactions, duplicates, concurrency ----------------------------------------------


def test_batch_is_all_or_nothing(db):
    with open_store(db) as store:
        assert store.write_spans([record("11" * 16, "1" * 16), record("11" * 16, "2" * 16, "1" * 16)]) == 2
        bad_batch = [
            record("22" * 16, "1" * 16, name="stored first"),
            record("22" * 16, "2" * 16, name=None),  # NOT NULL violation in the middle of the batch
            record("33" * 16, "3" * 16, name="after"),
        ]
        with pytest.raises(StoreWriteError):
            store.write_spans(bad_batch)
        assert (store.count_traces(), store.count_spans()) == (1, 2)
        assert store.get_trace("22" * 16) is None and store.get_trace("33" * 16) is None
        assert len(store.get_trace("11" * 16).data.spans) == 2
        # the store is still usable afterwards
        assert store.write_spans([record("22" * 16, "1" * 16)]) == 1


def test_exporter_batch_is_all_or_nothing(db):
    memory = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tp.get_tracer("t")
    for name in ("a", "b", "c"):
        with tracer.start_as_current_span(name):
            pass
    a, b, c = memory.get_finished_spans()
    broken = ReadableSpan(name=None, context=b.context, parent=None, resource=b.resource,
                          start_time=b.start_time, end_time=b.end_time)
    exporter = TraceStoreSpanExporter(db)
    assert exporter.export([a, broken, c]) is SpanExportResult.FAILURE
    assert exporter.export([a]) is SpanExportResult.SUCCESS
    with open_store(db, read_only=True) as store:
        assert store.count_spans() == 1
        assert store.get_trace(tid(c)) is None
    exporter.shutdown()


def test_duplicate_spans_replace_instead_of_failing(db):
    t = "44" * 16
    with open_store(db) as store:
        store.write_spans([record(t, "1" * 16, name="first"), record(t, "1" * 16, name="second")])
        store.write_spans([record(t, "1" * 16, name="third")])
        spans = store.get_trace(t).data.spans
        assert [s.name for s in spans] == ["third"]
        assert store.count_spans() == 1


def test_batch_processor_and_threads(db):
    exporter = TraceStoreSpanExporter(db)
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=128))
    tracer = tp.get_tracer("t")

    def work():
        for _ in range(100):
            with tracer.start_as_current_span("root"):
                for _ in range(4):
                    with tracer.start_as_current_span("child"):
                        pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert tp.force_flush()
    with open_store(db, read_only=True) as store:
        assert (store.count_traces(), store.count_spans()) == (400, 2000)
    tp.shutdown()
    assert exporter.export([object()]) is SpanExportResult.FAILURE  # after shutdown


# --- failures never raise -----------------------------------------------------------------------


def _one_span() -> ReadableSpan:
    memory = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(memory))
    with tp.get_tracer("t").start_as_current_span("x"):
        pass
    return memory.get_finished_spans()[0]


def test_unwritable_path_returns_failure_and_warns_once(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "traces.db"
    exporter = TraceStoreSpanExporter(path)  # construction never touches the disk
    with caplog.at_level(logging.DEBUG, logger="otel_genai.exporters.store"):
        assert exporter.export([_one_span()]) is SpanExportResult.FAILURE
        assert exporter.export([_one_span()]) is SpanExportResult.FAILURE
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path.parent) in warnings[0].getMessage()
    assert not path.exists()
    exporter.shutdown()


def test_locked_store_fails_then_recovers(db, caplog):
    exporter = TraceStoreSpanExporter(db, busy_timeout_s=0.05)
    assert exporter.export([_one_span()]) is SpanExportResult.SUCCESS
    locker = WriteLock(db)
    try:
        with caplog.at_level(logging.WARNING, logger="otel_genai.exporters.store"):
            assert exporter.export([_one_span()]) is SpanExportResult.FAILURE
        assert "locked" in caplog.records[-1].getMessage()
    finally:
        locker.release()
    assert exporter.export([_one_span()]) is SpanExportResult.SUCCESS
    with open_store(db, read_only=True) as store:
        assert store.count_spans() == 2
    exporter.shutdown()


def test_corrupt_store(db_file):
    db_file.parent.mkdir(parents=True)
    db_file.write_bytes(b"this is not a sqlite database" * 200)
    exporter = TraceStoreSpanExporter(db_file)
    assert exporter.export([_one_span()]) is SpanExportResult.FAILURE
    with pytest.raises(StoreError, match="not a database"):
        search_traces(path=db_file)


def test_reading_a_missing_store_raises_and_creates_nothing(tmp_path):
    missing = tmp_path / "no" / "such" / "traces.db"
    for call in (lambda: search_traces(path=missing), lambda: get_trace("ab" * 16, path=missing),
                 lambda: get_last_trace_id(path=missing)):
        with pytest.raises(StoreNotFoundError) as err:
            call()
        assert isinstance(err.value, FileNotFoundError)
        assert str(missing) in str(err.value)
    assert not missing.exists() and not missing.parent.exists()


# --- ids, paths, auto-configuration -------------------------------------------------------------


def test_resolve_trace_id_prefix(db):
    with open_store(db) as store:
        store.write_spans([
            record("abcdef01" + "0" * 24, "1" * 16),
            record("abcdef01" + "1" * 24, "1" * 16),
            record("12345678" + "9" * 24, "1" * 16),
        ])
        assert store.resolve_trace_id("12345678") == "12345678" + "9" * 24
        assert store.resolve_trace_id("ABCDEF01" + "1" * 24) == "abcdef01" + "1" * 24
        with pytest.raises(AmbiguousTraceIdError):
            store.resolve_trace_id("abcdef01")
        with pytest.raises(TraceNotFoundError, match="at least 8"):
            store.resolve_trace_id("1234567")
        with pytest.raises(TraceNotFoundError):
            store.resolve_trace_id("ffffffff")


def test_default_store_path(monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_PATH_ENV, str(tmp_path / "from-env.db"))
    assert default_store_path() == tmp_path / "from-env.db"
    assert default_store_path(tmp_path / "explicit.db") == tmp_path / "explicit.db"
    monkeypatch.delenv(STORE_PATH_ENV)
    path = default_store_path()
    assert path.name == "traces.db" and "otel-genai" in str(path)


def test_entry_point_builds_the_exporter_with_no_arguments(monkeypatch, tmp_path):
    """What OTEL_TRACES_EXPORTER=otel_genai does: load the entry point, call it with no args, wrap it
    in a BatchSpanProcessor (the SDK's ``_init_tracing``)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    value = pyproject["project"]["entry-points"]["opentelemetry_traces_exporter"]["otel_genai"]
    exporter_class = EntryPoint("otel_genai", value, "opentelemetry_traces_exporter").load()
    assert exporter_class is TraceStoreSpanExporter

    monkeypatch.setenv(STORE_PATH_ENV, str(tmp_path / "env" / "traces.db"))
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(exporter_class()))
    with tp.get_tracer("t").start_as_current_span("auto") as span:
        pass
    tp.shutdown()
    assert get_trace(tid(span), path=tmp_path / "env" / "traces.db").info.root_span_name == "auto"
