"""The trace store never writes into another application's SQLite file (issue 10, defect 7).

A store path naming an existing database of another application is refused, by the exporter (one
warning, ``FAILURE``, never an exception), the read API and the CLI (one error line, exit 1), and
the file is left exactly as it was: same bytes, same mtime, no files created beside it. An empty
file (0 bytes, or a database without tables) becomes a store; our stores carry
``PRAGMA application_id``, and stores written before that marker keep working."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_genai
from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.store import SpanRecord, StoreError, open_store, search_traces
from otel_genai.store import sqlite as store_sqlite
from otel_genai.store.sqlite import APPLICATION_ID, SCHEMA_VERSION, ForeignStoreError
from shipping import clean_env, free_port

CLI = [sys.executable, "-m", "otel_genai.cli"]
HINT = "(pass --store PATH|URI or set OTEL_GENAI_STORE_URI / OTEL_GENAI_STORE_PATH)"


def foreign_db(path: Path, journal_mode: str = "delete") -> Path:
    """Another application's database: its own tables and rows, closed."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal_mode}")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE TABLE tags (note_id INTEGER, tag TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [("buy milk",), ("call bob",)])
    conn.commit()
    conn.close()
    return path


def fingerprint(path: Path) -> tuple:
    """What must not change: the file's bytes and mtime, and the files in its directory."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def pragmas(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def one_span():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("work"):
        pass
    return memory.get_finished_spans()[0]


def record(trace_id: str = "ab" * 16, span_id: str = "cd" * 8) -> SpanRecord:
    return SpanRecord(trace_id, span_id, None, "root", "INTERNAL", 1_000, 2_000, "OK", None, {}, (), {}, None, None)


def message(path: Path, detail: str = "tables 'notes', 'tags'") -> str:
    return (f"{path} is a SQLite database of another application ({detail}), not an otel-genai trace store;"
            " it is left untouched")


# --- a foreign file is refused and left untouched -----------------------------------------------


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("read_only", [False, True])
def test_opening_a_foreign_database_raises_and_leaves_it_untouched(tmp_path, journal_mode, read_only):
    path = foreign_db(tmp_path / "app.db", journal_mode)
    before = fingerprint(path)
    with pytest.raises(ForeignStoreError) as raised:
        open_store(path, read_only=read_only)
    assert str(raised.value) == message(path)
    assert isinstance(raised.value, StoreError) and raised.value.path == path
    assert fingerprint(path) == before


def test_the_read_api_refuses_a_foreign_database(tmp_path):
    path = foreign_db(tmp_path / "app.db")
    before = fingerprint(path)
    for read in (lambda: search_traces(path=path), lambda: otel_genai.get_trace("ab" * 16, path=path)):
        with pytest.raises(ForeignStoreError):
            read()
    assert fingerprint(path) == before


def test_another_application_id_is_foreign_even_without_tables(tmp_path):
    path = tmp_path / "claimed.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id=1234")
    conn.close()
    before = fingerprint(path)
    with pytest.raises(ForeignStoreError, match=r"application id 0x000004d2"):
        open_store(path)
    assert fingerprint(path) == before


def test_tables_named_like_ours_with_other_columns_are_foreign(tmp_path):
    path = tmp_path / "lookalike.db"
    conn = sqlite3.connect(path)
    for table in ("spans", "traces", "resources"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, payload TEXT)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    with pytest.raises(ForeignStoreError, match="tables 'resources', 'spans', 'traces'"):
        open_store(path)
    assert fingerprint(path) == before


def test_exporter_warns_once_returns_failure_and_never_touches_the_file_again(tmp_path, caplog):
    path = foreign_db(tmp_path / "app.db")
    before = fingerprint(path)
    exporter = TraceStoreSpanExporter(path)
    with caplog.at_level(logging.DEBUG, logger="otel_genai.exporters.store"):
        results = [exporter.export([one_span()]) for _ in range(3)]
    assert results == [SpanExportResult.FAILURE] * 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"otel-genai: dropped 1 spans and will export no more: {message(path)}"
        " (choose another file, e.g. with OTEL_GENAI_STORE_PATH)"
    ]
    assert fingerprint(path) == before
    # refused for good: even a file that becomes empty is not opened again by this exporter
    path.write_bytes(b"")
    assert exporter.export([one_span()]) is SpanExportResult.FAILURE
    assert path.read_bytes() == b""
    exporter.shutdown()


APP = textwrap.dedent(
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_genai.exporters.store import TraceStoreSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(TraceStoreSpanExporter()))  # as OTEL_TRACES_EXPORTER builds it
    tracer = provider.get_tracer("app")
    for batch in range(3):
        with tracer.start_as_current_span(f"work {batch}"):
            pass
        provider.force_flush()
    provider.shutdown()
    print("app finished")
    """
)


def test_an_app_with_the_store_path_set_to_a_foreign_file_runs_and_the_file_is_untouched(tmp_path):
    path = foreign_db(tmp_path / "app.db", "wal")
    before = fingerprint(path)
    done = subprocess.run([sys.executable, "-c", APP], env=clean_env(OTEL_GENAI_STORE_PATH=str(path)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "app finished\n"
    assert done.stderr.count("otel-genai: dropped") == 1 and message(path) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert fingerprint(path) == before


# --- the CLI: one line, exit 1, the file untouched ----------------------------------------------


@pytest.mark.parametrize("command", [["traces", "list"], ["traces", "show", "--last"], ["traces", "show", "ab" * 16],
                                     ["serve", "--port", "0"]])
def test_cli_on_a_foreign_file_is_one_error_line_and_exit_1(tmp_path, command):
    path = foreign_db(tmp_path / "app.db", "wal")
    before = fingerprint(path)
    done = subprocess.run([*CLI, *command, "--store", str(path)], capture_output=True, text=True, timeout=60,
                          env=clean_env())
    assert done.returncode == 1
    assert done.stderr == f"otel-genai: error: {message(path)} {HINT}\n"
    assert done.stdout == ""
    assert fingerprint(path) == before


def test_serve_refuses_a_foreign_file_before_listening(tmp_path):
    path = foreign_db(tmp_path / "app.db")
    port = free_port()
    done = subprocess.run([*CLI, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60,
                          env=clean_env(OTEL_GENAI_STORE_PATH=str(path)))
    assert (done.returncode, done.stderr) == (1, f"otel-genai: error: {message(path)} {HINT}\n")


# --- empty files and our own stores are used ----------------------------------------------------


def empty_database(path: Path) -> Path:
    """A SQLite database that once had a table and has none now."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE scratch (x)")
    conn.execute("DROP TABLE scratch")
    conn.close()
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize("make", [lambda p: p.write_bytes(b"") or p, empty_database], ids=["zero-bytes", "no-tables"])
def test_an_empty_file_becomes_a_store(tmp_path, make):
    path = make(tmp_path / "traces.db")
    exporter = TraceStoreSpanExporter(path)
    assert exporter.export([one_span()]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert pragmas(path) == (APPLICATION_ID, SCHEMA_VERSION)
    assert [t.info.root_span_name for t in search_traces(path=path)] == ["work"]


def test_reading_an_empty_file_says_so_and_leaves_it_empty(tmp_path):
    path = tmp_path / "traces.db"
    path.write_bytes(b"")
    done = subprocess.run([*CLI, "traces", "list", "--store", str(path)], capture_output=True, text=True,
                          timeout=60, env=clean_env())
    assert (done.returncode, done.stderr) == (1, f"otel-genai: error: {path} is empty: no spans have been stored in it yet\n")
    assert path.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["traces.db"]


def test_a_new_store_carries_the_marker(tmp_path):
    path = tmp_path / "new" / "traces.db"
    open_store(path).close()
    assert pragmas(path) == (APPLICATION_ID, SCHEMA_VERSION) == (0x6F67656E, 1)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE my_notes (x)")  # a user's own table in our store does not make it foreign
    conn.close()
    with open_store(path) as store:
        assert store.write_spans([record()]) == 1


def test_a_store_written_before_the_marker_is_read_as_is_and_marked_when_written(tmp_path):
    path = tmp_path / "traces.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in store_sqlite._SCHEMA:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO traces (trace_id, start_time_ns, end_time_ns) VALUES (?, 1, 2)", ("ef" * 16,))
    conn.close()
    assert pragmas(path) == (0, 1)

    before = fingerprint(path)
    assert [t.info.trace_id for t in search_traces(path=path, include_spans=False)] == ["ef" * 16]
    assert fingerprint(path)[:2] == before[:2]  # reading does not mark it
    with open_store(path) as store:
        store.write_spans([record()])
    assert pragmas(path) == (APPLICATION_ID, 1)
    assert {t.info.trace_id for t in search_traces(path=path, include_spans=False)} == {"ef" * 16, "ab" * 16}


def test_a_store_of_a_newer_otel_genai_is_not_written(tmp_path):
    path = tmp_path / "traces.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=r"written by a newer otel-genai \(schema 2 > 1\)"):
        open_store(path)
