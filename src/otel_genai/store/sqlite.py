"""The SQLite adapter of :class:`~otel_genai.store.interface.TraceStore`: the SQL and the connection.

Opened through :func:`otel_genai.store.open_store` with ``sqlite:///abs/path.db`` or a plain path
(default ``platformdirs.user_data_dir("otel-genai")/traces.db``). One file, WAL mode, written by any
number of processes (SQLite serialises writers; WAL lets readers run alongside). Tables:

* ``spans``: one row per span (attributes, events as JSON text; times in ns since the epoch),
  unique on ``(trace, span_id)``; a re-sent span replaces the stored one. ``token_usage`` holds the
  span's usage (:func:`~otel_genai.store.summary.span_usage`) as JSON, so a trace's usage is
  aggregated without decoding attributes.
* ``resources``: resource attributes, stored once and referenced by the spans.
* ``traces``: one :class:`~otel_genai.store.summary.TraceSummary` row per trace, merged with each
  batch (:func:`~otel_genai.store.summary.merge_summaries`) in the same transaction as the spans, so
  listing traces never scans spans.

What a summary or a trace's usage *is* lives in :mod:`otel_genai.store.summary`, and what both SQL
adapters do alike around their SQL (the reads' and deletion's argument checks, rows -> records, the
index rows) in :mod:`otel_genai.store.adapter`; this module only stores and fetches. Every
:meth:`SQLiteTraceStore.write_spans` call is one ``BEGIN IMMEDIATE`` transaction: all of the batch is
stored, or none. A lock held too long by another connection is
:class:`StoreUnavailableError` (retry later); other failures are :class:`StoreWriteError` / :class:`StoreError`.

A store carries a marker, ``PRAGMA application_id = APPLICATION_ID``, set with the schema. Before it
writes anything, the adapter checks what the file is: a missing or empty file (0 bytes, or a
SQLite database without a single table) becomes a store; a file with the marker, or a store created
before the marker existed (our three tables with our columns, ``user_version`` 1; marked when next
opened for writing), is used; anything else is another application's database and is refused
(:class:`ForeignStoreError`) without being modified, whether it was opened for reading or writing.

Stores written before spans' ``gen_ai.usage.*`` counted (otel-genai 0.1) keep the ``token_usage``
their spans had then (``mlflow.chat.tokenUsage`` only) for listings; a trace read with its spans
always takes its usage from their attributes.
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
import logging
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence
from urllib.parse import unquote, urlsplit

from . import adapter
from .interface import (
    DEFAULT_TIMEOUT_S,
    ForeignStoreError,
    PathLike,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
    StoreWriteError,
    PagedList,
    normalize_trace_id,
)
from .model import Span, SpanRecord, Trace
from .pricing import cost_json, span_cost_of, warm_up
from .query import SQLITE, compile_filter, compile_order
from .summary import TraceDetails, TraceSummary, fold_batch, merge_details, merge_summaries, usage_json

SCHEME = "sqlite"
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of every store otel-genai creates (the bytes ``b"ogen"``)
APPLICATION_ID = 0x6F67656E
#: ``user_version`` of the stores written before :data:`APPLICATION_ID` was set (recognised by their tables)
_UNMARKED_SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = DEFAULT_TIMEOUT_S
_logger = logging.getLogger(__name__)


def open_uri(uri: PathLike, *, read_only: bool = False, timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> "SQLiteTraceStore":
    """The adapter for ``sqlite:///abs/path.db`` (percent-decoded) or a plain file path (``~`` expanded).

    ``timeout_s``: seconds a statement waits for another connection's lock. Raises
    :class:`StoreError` for a ``sqlite://`` URI with a host, a relative path or a query, and what
    :class:`SQLiteTraceStore` raises.
    """
    return SQLiteTraceStore(uri_to_path(uri), read_only=read_only, busy_timeout_s=timeout_s)


def uri_to_path(uri: PathLike) -> Path:
    """The file a ``sqlite:///abs/path.db`` URI or a plain path names (``~`` expanded)."""
    text = str(uri)
    if not text.lower().startswith(SCHEME + "://"):
        return Path(text).expanduser()
    parts = urlsplit(text)
    path = unquote(parts.path)
    if parts.netloc or parts.query or parts.fragment or not path.startswith("/"):
        raise StoreError(f"invalid SQLite store URI {text!r}: write sqlite:///absolute/path/traces.db")
    return Path(path)


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS resources (
        resource_id TEXT PRIMARY KEY,
        attributes  TEXT NOT NULL
    ) WITHOUT ROWID""",
    # trace_key: a surrogate in arrival order, so the span index grows at its end instead of at
    # random places (random trace ids would dirty one index page per span in large stores)
    """CREATE TABLE IF NOT EXISTS traces (
        trace_key        INTEGER PRIMARY KEY,
        trace_id         TEXT NOT NULL UNIQUE,
        start_time_ns    INTEGER NOT NULL,
        end_time_ns      INTEGER NOT NULL,
        root_span_id     TEXT,
        root_span_name   TEXT,
        root_status_code TEXT,
        model            TEXT,
        model_start_ns   INTEGER,
        has_token_usage  INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_time_ns)",
    """CREATE TABLE IF NOT EXISTS spans (
        trace_key      INTEGER NOT NULL REFERENCES traces (trace_key),
        span_id        TEXT NOT NULL,
        parent_id      TEXT,
        name           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        start_time_ns  INTEGER NOT NULL,
        end_time_ns    INTEGER NOT NULL,
        status_code    TEXT NOT NULL,
        status_message TEXT,
        attributes     TEXT NOT NULL,
        events         TEXT,
        resource_id    TEXT,
        scope_name     TEXT,
        scope_version  TEXT,
        token_usage    TEXT,
        UNIQUE (trace_key, span_id)
    )""",
)


#: the read API's tables, beside the v1 tables above (so a store of the first release is still
#: recognised by them, and read-only opens of one build these as TEMP tables from its spans):
#: ``trace_index`` (one :class:`~otel_genai.store.summary.TraceIndex` row per trace, the columns the
#: filter grammar compares, indexed), ``trace_tags`` / ``trace_metadata`` (key/value per trace),
#: ``span_index`` (each span's MLflow type and cost)
_INDEX_SCHEMA = (
    """CREATE {temp}TABLE IF NOT EXISTS trace_index (
        trace_key         INTEGER PRIMARY KEY,
        trace_id          TEXT NOT NULL,
        start_time_ns     INTEGER NOT NULL,
        state             TEXT NOT NULL,
        status            TEXT NOT NULL,
        name              TEXT,
        timestamp_ms      INTEGER NOT NULL,
        execution_time_ms INTEGER NOT NULL,
        input_tokens      INTEGER,
        output_tokens     INTEGER,
        total_tokens      INTEGER,
        token_usage       TEXT,
        input_cost        REAL,
        output_cost       REAL,
        total_cost        REAL,
        cost              TEXT,
        model             TEXT,
        provider          TEXT,
        service_name      TEXT,
        provider_start_ns INTEGER,
        root_seen         INTEGER NOT NULL DEFAULT 0,
        request_preview   TEXT,
        request_rank      INTEGER,
        response_preview  TEXT,
        response_rank     INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_index_by_start ON trace_index (start_time_ns, trace_id)",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_index_by_tokens ON trace_index (total_tokens)",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_index_by_cost ON trace_index (total_cost)",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_index_by_duration ON trace_index (execution_time_ms)",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_index_by_model ON trace_index (model)",
    """CREATE {temp}TABLE IF NOT EXISTS trace_tags (
        trace_key INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (trace_key, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_tags_by_key ON trace_tags (key, value)",
    """CREATE {temp}TABLE IF NOT EXISTS trace_metadata (
        trace_key INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (trace_key, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS {temp_schema}trace_metadata_by_key ON trace_metadata (key, value)",
    """CREATE {temp}TABLE IF NOT EXISTS span_index (
        trace_key INTEGER NOT NULL, span_id TEXT NOT NULL, span_type TEXT NOT NULL, cost TEXT,
        PRIMARY KEY (trace_key, span_id)
    ) WITHOUT ROWID""",
)
_INDEX_TABLES = ("trace_index", "trace_tags", "trace_metadata", "span_index")


def _index_schema(temp: bool) -> List[str]:
    return [st.format(temp="TEMP " if temp else "", temp_schema="temp." if temp else "") for st in _INDEX_SCHEMA]



@functools.lru_cache(maxsize=None)
def _schema_columns() -> dict:
    """{table: (column, ...)} of the schema above, read from an in-memory database built with it."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        return {table: _columns(conn, table) for table in ("resources", "traces", "spans")}
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> tuple:
    return tuple(row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,)))


# what a database file holds, for :func:`_classify`
_EMPTY, _OURS, _UNMARKED = "empty", "ours", "unmarked"


def _switch_to_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """``PRAGMA journal_mode=WAL`` (persistent: once per file). SQLite answers it "database is locked"
    at once, without waiting in its busy handler, while another connection holds a lock on the file
    (several writers opening a new store together): retried with a short backoff for up to
    ``timeout_s`` seconds; a file another connection switched meanwhile answers ``wal`` at once.

    Raises:
        sqlite3.OperationalError: still locked after ``timeout_s``, or another SQLite error.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _classify(conn: sqlite3.Connection, path: PathLike) -> str:
    """What the database open on ``conn`` is, read without writing anything.

    Returns ``"empty"`` (no schema object and no application id: a new or 0-byte file),
    ``"ours"`` (our :data:`APPLICATION_ID`) or ``"unmarked"`` (a store written before the marker:
    ``user_version`` 1 and our three tables with exactly our columns).

    Raises:
        ForeignStoreError: anything else (another application id, or other tables).
        sqlite3.Error: the file cannot be read as a database.
    """
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if application_id == APPLICATION_ID:
        return _OURS
    if application_id != 0:
        raise ForeignStoreError(path, f"application id {application_id:#010x}")
    objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    if not objects:
        return _EMPTY
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == _UNMARKED_SCHEMA_VERSION and all(
        _columns(conn, table) == columns for table, columns in _schema_columns().items()
    ):
        return _UNMARKED
    tables = sorted(name for kind, name in objects if kind == "table" and not name.startswith("sqlite_"))
    shown = ", ".join(repr(t) for t in tables[:5]) + (", ..." if len(tables) > 5 else "")
    raise ForeignStoreError(path, f"tables {shown}" if tables else "no tables but other schema objects")


_INSERT_RESOURCE = "INSERT OR IGNORE INTO resources (resource_id, attributes) VALUES (?, ?)"
_INSERT_SPAN = (
    "INSERT OR REPLACE INTO spans (trace_key, span_id, parent_id, name, kind, start_time_ns,"
    " end_time_ns, status_code, status_message, attributes, events, resource_id, scope_name,"
    " scope_version, token_usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# the merged summary replaces the row's values in place (trace_key, which the spans reference, stays)
_UPSERT_SUMMARY = f"""
INSERT INTO traces (trace_id, {adapter.SUMMARY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id) DO UPDATE SET
    start_time_ns = excluded.start_time_ns, end_time_ns = excluded.end_time_ns,
    root_span_id = excluded.root_span_id, root_span_name = excluded.root_span_name,
    root_status_code = excluded.root_status_code, model = excluded.model,
    model_start_ns = excluded.model_start_ns, has_token_usage = excluded.has_token_usage
"""
_UPSERT_INDEX = (
    "INSERT OR REPLACE INTO trace_index (trace_key, trace_id, start_time_ns, " + adapter.INDEX_COLUMNS
    + ", provider_start_ns, root_seen, request_preview, request_rank, response_preview, response_rank)"
    " VALUES (" + ", ".join("?" * 25) + ")"
)
_SELECT_STORED = (
    "SELECT tr.trace_id, tr.trace_key, " + ", ".join("tr." + c.strip() for c in adapter.SUMMARY_COLUMNS.split(","))
    + ", " + ", ".join("t." + c.strip() for c in adapter.DETAIL_COLUMNS.split(","))
    + " FROM traces tr LEFT JOIN trace_index t ON t.trace_key = tr.trace_key WHERE tr.trace_id IN ({marks})"
)
_INSERT_SPAN_INDEX = "INSERT OR REPLACE INTO span_index (trace_key, span_id, span_type, cost) VALUES (?, ?, ?, ?)"
_UPSERT_TAG = "INSERT OR REPLACE INTO trace_tags (trace_key, key, value) VALUES (?, ?, ?)"
_UPSERT_METADATA = "INSERT OR REPLACE INTO trace_metadata (trace_key, key, value) VALUES (?, ?, ?)"
#: a trace's row for reading: the keys, the summary's time range and root, the index
_TRACE_SELECT = f"SELECT {adapter.TRACE_ROW} FROM trace_index t JOIN traces tr ON tr.trace_key = t.trace_key"
_SPAN_SELECT = (
    f"SELECT {adapter.SPAN_ROW} FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id"
    " LEFT JOIN span_index si ON si.trace_key = s.trace_key AND si.span_id = s.span_id"
    " WHERE s.trace_key = ? ORDER BY s.start_time_ns, s.rowid"
)
_INDEX_NODES_SELECT = (
    "SELECT s.trace_key, s.span_id, s.parent_id, s.name, s.status_code, s.token_usage, si.cost FROM spans s"
    " LEFT JOIN span_index si ON si.trace_key = s.trace_key AND si.span_id = s.span_id"
    " WHERE s.trace_key IN ({marks}) ORDER BY s.trace_key, s.start_time_ns, s.rowid"
)
#: most ``?`` parameters in one ``IN (...)`` list
_IN_CHUNK = 500


def _is_locked(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock (not a broken file)."""
    return getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _in_chunks(values: Sequence[Any]) -> Iterable[tuple]:
    """``(part, "?,?,...")`` for ``values`` in slices of at most :data:`_IN_CHUNK`."""
    for i in range(0, len(values), _IN_CHUNK):
        part = values[i:i + _IN_CHUNK]
        yield part, ",".join("?" * len(part))


def _reads(method: Any) -> Any:
    """A read method whose SQLite errors become a :class:`StoreError` naming the file: a store
    damaged past its schema page opens fine and fails only when its pages are read."""

    @functools.wraps(method)
    def read(self: "SQLiteTraceStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc

    return read


class SQLiteTraceStore(adapter.SQLTraceStore):
    """A connection to one trace-store file; a :class:`~otel_genai.store.interface.TraceStore`.
    Thread-safe: one connection, guarded by a lock.

    Args:
        path: the store file (``~`` expanded).
        read_only: open for reading only. The file must exist (else :class:`StoreNotFoundError`) and
            is never created or modified. Otherwise the file and its parent directories are created
            on first use, the schema is set up and the database is switched to WAL mode.
        busy_timeout_s: how long (seconds) a statement waits for another writer's lock before failing.

    Attributes: ``path`` (the file, a ``pathlib.Path``), ``location`` (``str(path)``), ``read_only``.

    The file is checked before anything is written (see the module docstring): it must be missing,
    empty, or a store; a store made before the marker existed gets it on its first writable open.

    Raises:
        StoreNotFoundError: ``read_only`` and the file does not exist.
        ForeignStoreError: the file is another application's SQLite database (it is not modified).
        StoreUnavailableError: another process holds the file's lock for longer than ``busy_timeout_s``.
        StoreError: the file cannot be opened, is not a usable trace store (corrupt, empty when
            ``read_only``), or was written by a newer otel-genai.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._resource_key = adapter.ResourceIds()
        self._busy_timeout_s = busy_timeout_s
        self._conn = self._open(busy_timeout_s)
        if not read_only:
            warm_up()  # genai-prices loads while nothing is written yet

    # --- connection ---------------------------------------------------------------------------

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        path = self.path
        if path.exists():
            # what the file is, asked before using it: read-only (a writable connection to another
            # application's database could change it just by closing: a checkpoint, a recovery) and,
            # for a WAL database closed cleanly, immutable (else the -wal and -shm files are created)
            probe = self._connect(busy_timeout_s, read_only=True, immutable=self._wal_without_log())
            self._set_up(probe, busy_timeout_s, self._check_kind)
            probe.close()
        elif self.read_only:
            raise StoreNotFoundError(path)
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the trace store directory {path.parent}: {exc}") from exc
        conn = self._connect(busy_timeout_s, read_only=self.read_only)
        # checked again on the connection kept: the file may have changed since the probe
        self._set_up(conn, busy_timeout_s, self._read_only_set_up if self.read_only else self._create_schema)
        return conn

    def _wal_without_log(self) -> bool:
        """The file is a WAL-mode SQLite database (header byte 18 is 2) with no ``-wal`` file beside it."""
        try:
            with open(self.path, "rb") as f:
                header = f.read(20)
        except OSError:
            return False
        wal_mode = header[:16] == b"SQLite format 3\x00" and header[18:19] == b"\x02"
        return wal_mode and not Path(f"{self.path}-wal").exists()

    def _connect(self, busy_timeout_s: float, *, read_only: bool, immutable: bool = False) -> sqlite3.Connection:
        if read_only:
            target = self.path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
        else:
            target = str(self.path)
        try:
            return sqlite3.connect(
                target, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False, uri=read_only
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the trace store {self.path}: {exc}") from exc

    def _set_up(self, conn: sqlite3.Connection, busy_timeout_s: float, step: Any) -> None:
        """Run ``step(conn)``; on any failure close ``conn`` and raise (SQLite errors as :class:`StoreError`)."""
        try:
            step(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._read_error(exc, f" (waited {busy_timeout_s:g} s)") from exc
        except BaseException:
            conn.close()
            raise

    def _check_kind(self, conn: sqlite3.Connection) -> str:
        """:func:`_classify` the file; for reading, it must hold a store (not only be empty)."""
        kind = _classify(conn, self.path)
        if self.read_only:
            if kind == _EMPTY:
                raise StoreError(f"{self.path} is empty: no spans have been stored in it yet")
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"spans", "traces", "resources"} <= names:
                raise StoreError(f"{self.path} is not an otel-genai trace store (its tables are missing)")
        return kind

    def _read_only_set_up(self, conn: sqlite3.Connection) -> None:
        """Check the file; a store written before the read API's tables existed gets them as TEMP
        tables built from its spans (the file is not touched)."""
        self._check_kind(conn)
        if not _has_index(conn):
            for statement in _index_schema(temp=True):
                conn.execute(statement)
            _build_index(conn)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        """Under the write lock, classify the file again (another process may have set it up, or
        written into it, since the read-only look), create the schema or set the marker; then WAL."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            kind = _classify(conn, self.path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer otel-genai (schema {version} > {SCHEMA_VERSION})"
                )
            if kind == _EMPTY:
                # freed pages go back to the file system on delete (PRAGMA incremental_vacuum); only
                # takes effect before the first table exists
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            if kind == _EMPTY or version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if not _has_index(conn):
                for statement in _index_schema(temp=False):
                    conn.execute(statement)
                _build_index(conn)
            if kind != _OURS:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        _switch_to_wal(conn, self._busy_timeout_s)
        conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the trace store {self.path} is closed")
        return self._conn

    def _read_error(self, exc: sqlite3.Error, waited: str = "") -> StoreError:
        """The :class:`StoreError` for a SQLite error met while opening or reading."""
        if _is_locked(exc):
            return StoreUnavailableError(f"the trace store {self.path} is locked by another process{waited}: {exc}")
        return StoreError(f"{self.path} is not a usable otel-genai trace store: {exc}")

    # --- writes -------------------------------------------------------------------------------

    def write_spans(self, records: Iterable[SpanRecord]) -> int:
        """Store a batch of spans in one transaction: all of them, or (on any error) none.

        A span whose ``(trace_id, span_id)`` is already stored replaces it. Returns the number of
        spans written. Each span is priced here (:mod:`otel_genai.store.pricing`) and each touched
        trace's ``trace_index`` row, tags and metadata are updated in the same transaction. What the
        batch gives (usage, cost and type per span; summary, details, tags and metadata per trace)
        comes from one pass over its records (:func:`~otel_genai.store.summary.fold_batch`), and
        each table is written with one ``executemany``.

        Raises:
            StoreUnavailableError: the database stayed locked for ``busy_timeout_s``, or the disk is
                full, read-only or failing (SQLite's operational errors); retry later.
            StoreWriteError: an invalid record (wrong types, a missing name, ...).
        """
        records = list(records)
        try:
            batch = fold_batch(records, span_cost_of)
            resources: dict = {}
            span_rows = []
            index_rows = []
            cached_resource: Any = None
            resource_id = None
            for rec, usage, cost, kind in zip(records, batch.usages, batch.costs, batch.span_types, strict=True):
                (trace_id, span_id, parent_id, name, kind_name, start, end, status_code, status_message,
                 attributes, events, resource_attributes, scope_name, scope_version) = rec
                if not resource_attributes:
                    resource_id = cached_resource = None
                elif resource_attributes is not cached_resource:  # a batch's spans share one resource
                    resource_id, resource_json = self._resource_key(resource_attributes)
                    resources[resource_id] = resource_json
                    cached_resource = resource_attributes
                span_rows.append([
                    trace_id, span_id, parent_id, name, kind_name, start, end, status_code,
                    status_message, adapter.dumps(attributes) if attributes else "{}",
                    adapter.dumps(events) if events else None, resource_id, scope_name, scope_version,
                    usage_json(usage),
                ])
                index_rows.append([trace_id, span_id, kind, cost_json(cost)])
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise StoreWriteError(f"invalid span record, batch not stored: {exc!r}") from exc
        if not span_rows:
            return 0

        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if resources:
                        conn.executemany(_INSERT_RESOURCE, resources.items())
                    stored = self._stored_summaries(conn, list(batch.summaries))
                    merged = {tid: merge_summaries(stored[tid][1] if tid in stored else None, summary)
                              for tid, summary in batch.summaries.items()}
                    details = {tid: merge_details(stored[tid][2] if tid in stored else None, d)
                               for tid, d in batch.details.items()}
                    conn.executemany(_UPSERT_SUMMARY, [(tid, *m[:8]) for tid, m in merged.items()])
                    keys = {tid: found[0] for tid, found in stored.items()}
                    keys.update(_trace_keys(conn, [tid for tid in merged if tid not in keys]))
                    for row in span_rows:
                        row[0] = keys[row[0]]
                    for row in index_rows:
                        row[0] = keys[row[0]]
                    conn.executemany(_INSERT_SPAN, span_rows)
                    conn.executemany(_INSERT_SPAN_INDEX, index_rows)
                    if batch.carried:  # one statement per table for the whole batch
                        tag_rows, metadata_rows = [], []
                        for tid, (tags, metadata) in batch.carried.items():
                            key = keys[tid]
                            tag_rows.extend([(key, k, v) for k, v in tags.items()])
                            metadata_rows.extend([(key, k, v) for k, v in metadata.items()])
                        if tag_rows:
                            conn.executemany(_UPSERT_TAG, tag_rows)
                        if metadata_rows:
                            conn.executemany(_UPSERT_METADATA, metadata_rows)
                    _write_index(conn, [(keys[tid], tid, summary, details[tid]) for tid, summary in merged.items()],
                                 {tid: nodes for tid, nodes in batch.nodes.items() if tid not in stored})
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(
                    f"could not write {len(span_rows)} spans to {self.path}: {exc}"
                ) from exc
            except sqlite3.Error as exc:
                raise StoreWriteError(f"could not write {len(span_rows)} spans to {self.path}: {exc}") from exc
        return len(span_rows)

    @staticmethod
    def _stored_summaries(conn: sqlite3.Connection, trace_ids: List[str]) -> Dict[str, tuple]:
        """``{trace_id: (trace_key, TraceSummary, TraceDetails or None)}`` of each of ``trace_ids``
        that is stored (write lock held)."""
        out = {}
        for part, marks in _in_chunks(trace_ids):
            for trace_id, key, *v in conn.execute(_SELECT_STORED.format(marks=marks), part):
                details = adapter.details_from_row(v[8:]) if v[11] is not None else None
                out[trace_id] = (key, adapter.summary_from_row(v), details)
        return out

    # --- tags, deletion -----------------------------------------------------------------------

    def _trace_key(self, conn: sqlite3.Connection, trace_id: str) -> int:
        row = conn.execute("SELECT trace_key FROM traces WHERE trace_id = ?", (normalize_trace_id(trace_id),)).fetchone()
        if row is None:
            raise self._not_found(trace_id)
        return row[0]

    def _write(self, work: Any) -> Any:
        """Run ``work(conn)`` in one ``BEGIN IMMEDIATE`` transaction (lock held); SQLite errors as store errors."""
        if self.read_only:
            raise StoreError(f"the trace store {self.path} was opened read-only")
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"could not write to {self.path}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreWriteError(f"could not write to {self.path}: {exc}") from exc

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set tag ``key`` of the stored trace ``trace_id``; see :meth:`TraceStore.set_trace_tag`."""
        if not key:
            raise ValueError("a trace tag needs a non-empty key")
        self._write(lambda conn: conn.execute(_UPSERT_TAG, (self._trace_key(conn, trace_id), str(key), str(value))))

    def delete_trace_tag(self, trace_id: str, key: str) -> bool:
        """Remove tag ``key``; ``True`` if it was set. See :meth:`TraceStore.delete_trace_tag`."""
        return self._write(lambda conn: conn.execute(
            "DELETE FROM trace_tags WHERE trace_key = ? AND key = ?", (self._trace_key(conn, trace_id), str(key))
        ).rowcount > 0)

    def _delete(self, deletion: adapter.Deletion) -> int:
        """:meth:`~otel_genai.store.adapter.SQLTraceStore.delete_traces`' SQL. The file's free pages
        are then returned to the file system (``PRAGMA incremental_vacuum``; a store created before
        that was set up is converted once, by a full ``VACUUM``)."""
        cutoff, ids, max_traces = deletion

        def work(conn: sqlite3.Connection) -> int:
            doomed: set = set()
            if cutoff is not None:
                doomed.update(r[0] for r in conn.execute("SELECT trace_key FROM traces WHERE start_time_ns < ?", (cutoff,)))
            for part, marks in _in_chunks(ids):
                doomed.update(r[0] for r in conn.execute(f"SELECT trace_key FROM traces WHERE trace_id IN ({marks})", part))
            if max_traces is not None:
                doomed.update(r[0] for r in conn.execute(
                    "SELECT trace_key FROM traces ORDER BY start_time_ns DESC, trace_id DESC LIMIT -1 OFFSET ?",
                    (max_traces,)))
            keys = sorted(doomed)
            for part, marks in _in_chunks(keys):
                for table in adapter.TRACE_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE trace_key IN ({marks})", part)
            return len(keys)

        deleted = self._write(work)
        if deleted:
            self._give_back_space()
        return deleted

    def _give_back_space(self) -> None:
        """Return free pages to the file system (after a delete)."""
        with self._lock:
            conn = self._connection()
            try:
                if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                    conn.execute("VACUUM")  # once: switches an older store to incremental vacuum
                conn.execute("PRAGMA incremental_vacuum").fetchall()
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.OperationalError as exc:  # busy: the space is reclaimed next time
                _logger.debug("otel-genai: could not compact %s: %s", self.path, exc)

    # --- reads --------------------------------------------------------------------------------

    @_reads
    def count_traces(self) -> int:
        """Number of stored traces."""
        with self._lock:
            return self._connection().execute("SELECT count(*) FROM traces").fetchone()[0]

    @_reads
    def count_spans(self) -> int:
        """Number of stored spans."""
        with self._lock:
            return self._connection().execute("SELECT count(*) FROM spans").fetchone()[0]

    @_reads
    def get_last_trace_id(self) -> Optional[str]:
        """Id of the trace that started last, or ``None`` for an empty store."""
        with self._lock:
            row = self._connection().execute(
                "SELECT trace_id FROM traces ORDER BY start_time_ns DESC, trace_id DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    @_reads
    def _has_trace(self, trace_id: str) -> bool:
        with self._lock:
            return self._connection().execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is not None

    @_reads
    def _with_prefix(self, prefix: str) -> List[str]:
        with self._lock:
            rows = self._connection().execute(
                "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? LIMIT 2", (prefix, prefix + "~"),
            ).fetchall()
        return [row[0] for row in rows]

    @_reads
    def _read_trace(self, trace_id: str) -> Optional[Trace]:
        with self._lock:
            rows = self._connection().execute(
                _TRACE_SELECT + " WHERE t.trace_key = (SELECT trace_key FROM traces WHERE trace_id = ?)", (trace_id,)
            ).fetchall()
            if not rows:
                return None
            return self._traces(rows, include_spans=True)[0]

    @_reads
    def _search(self, conditions: list, order: tuple, offset: int, max_results: Optional[int],
                include_spans: bool) -> PagedList:
        """:meth:`~otel_genai.store.adapter.SQLTraceStore.search_traces`' page: the filter and order
        compiled for SQLite (a rare tag or metadata value drives the query from its index)."""
        with self._lock:
            conn = self._connection()
            where, params = compile_filter(conditions, SQLITE, lambda cond: _few_traces(conn, cond))
            sql = f"{_TRACE_SELECT} WHERE {where} ORDER BY {compile_order(order, SQLITE)} LIMIT ? OFFSET ?"
            params += [-1 if max_results is None else max_results + 1, offset]
            rows = conn.execute(sql, params).fetchall()
            return adapter.page(rows, offset, max_results, lambda found: self._traces(found, include_spans))

    # --- helpers (lock held) ------------------------------------------------------------------

    def _traces(self, rows: Sequence[tuple], include_spans: bool) -> List[Trace]:
        """``_TRACE_SELECT`` rows as traces, with their tags and metadata (and spans)."""
        keys = [row[0] for row in rows]
        spans = {row[0]: self._load_spans(row[0], row[1]) for row in rows} if include_spans else None
        return adapter.traces_from_rows(rows, spans, _key_values(self._conn, "trace_tags", keys),
                                        _key_values(self._conn, "trace_metadata", keys))

    def _load_spans(self, trace_key: int, trace_id: str) -> List[Span]:
        resources: dict = {}
        return [adapter.span_from_row(trace_id, row, resources) for row in self._conn.execute(_SPAN_SELECT, (trace_key,))]


# --- the read API's index (module functions: used on any connection, lock held) ----------------


def _has_index(conn: sqlite3.Connection) -> bool:
    """The read API's tables exist (in the main or the temp schema)."""
    names = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' UNION SELECT name FROM sqlite_temp_master WHERE type = 'table'")}
    return all(t in names for t in _INDEX_TABLES)


#: a tag / metadata value held by fewer traces than this drives the query from its index
_FEW_TRACES = 2000


def _few_traces(conn: sqlite3.Connection, cond: Any) -> bool:
    """Whether fewer than :data:`_FEW_TRACES` traces have this tag / metadata key and value (one
    probe of the covering ``(key, value)`` index, at most that many entries read)."""
    table = "trace_tags" if cond.field.kind == "tag" else "trace_metadata"
    found = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE key = ? AND value = ? LIMIT ?)",
                         (cond.field.name, str(cond.value), _FEW_TRACES)).fetchone()[0]
    return found < _FEW_TRACES


def _trace_keys(conn: sqlite3.Connection, trace_ids: Sequence[str]) -> Dict[str, int]:
    out = {}
    for part, marks in _in_chunks(trace_ids):
        out.update(conn.execute(f"SELECT trace_id, trace_key FROM traces WHERE trace_id IN ({marks})", part))
    return out


def _write_index(conn: sqlite3.Connection, traces: Sequence[tuple], fresh: Optional[Dict[str, list]] = None) -> None:
    """Upsert the ``trace_index`` rows of ``traces`` (``(trace_key, trace_id, TraceSummary, TraceDetails)``),
    reading the stored spans of those that need them (:func:`~otel_genai.store.summary.needs_spans`).

    ``fresh``: ``{trace_id: [(span_id, parent_id, name, status, usage, cost, start), ...]}`` for
    traces that had no span stored before this batch: their spans are all in hand, so nothing is read.
    """
    fresh = fresh or {}
    nodes = adapter.group_rows(itertools.chain.from_iterable(
        conn.execute(_INDEX_NODES_SELECT.format(marks=marks), part)
        for part, marks in _in_chunks(adapter.keys_needing_spans(traces, fresh))))
    conn.executemany(_UPSERT_INDEX, adapter.index_rows(traces, fresh, nodes))


_BACKFILL_SPANS = (
    "SELECT t.trace_id, s.trace_key, s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns,"
    " s.status_code, s.status_message, s.attributes, r.attributes FROM spans s JOIN traces t ON t.trace_key = s.trace_key"
    " LEFT JOIN resources r ON r.resource_id = s.resource_id WHERE s.trace_key IN ({marks})"
    " ORDER BY s.trace_key, s.rowid"
)


def _build_index(conn: sqlite3.Connection) -> None:
    """Fill the read API's tables (main or TEMP, whichever exist) from the stored spans: for a store
    written before they existed. Reads every span once, a few hundred traces at a time."""
    keys = [r[0] for r in conn.execute("SELECT trace_key FROM traces ORDER BY trace_key")]
    for part, marks in _in_chunks(keys):
        records, key_of = [], {}
        for tid, key, sid, pid, name, kind, start, end, code, message, attrs, res in conn.execute(
                _BACKFILL_SPANS.format(marks=marks), part):
            key_of[tid] = key
            records.append(SpanRecord(tid, sid, pid, name, kind, start, end, code, message, json.loads(attrs),
                                      (), json.loads(res) if res else {}))
        batch = fold_batch(records, span_cost_of)
        conn.executemany(_INSERT_SPAN_INDEX, [
            (key_of[r.trace_id], r.span_id, kind, cost_json(cost))
            for r, kind, cost in zip(records, batch.span_types, batch.costs, strict=True)
        ])
        for tid, (tags, metadata) in batch.carried.items():
            conn.executemany(_UPSERT_TAG, [(key_of[tid], k, v) for k, v in tags.items()])
            conn.executemany(_UPSERT_METADATA, [(key_of[tid], k, v) for k, v in metadata.items()])
        summaries, all_details = batch.summaries, batch.details
        stored = conn.execute(f"SELECT trace_key, trace_id, start_time_ns, end_time_ns FROM traces WHERE trace_key IN ({marks})", part)
        traces = []
        for key, tid, start, end in stored:
            summary = summaries.get(tid) or TraceSummary(start, end)
            traces.append((key, tid, summary._replace(start_time_ns=start, end_time_ns=end),
                           all_details.get(tid) or TraceDetails()))
        _write_index(conn, traces)


def _key_values(conn: sqlite3.Connection, table: str, keys: Sequence[int]) -> Dict[int, Dict[str, str]]:
    """``{trace_key: {key: value}}`` of ``table`` (``trace_tags`` / ``trace_metadata``) for ``keys``."""
    return adapter.key_values(itertools.chain.from_iterable(
        conn.execute(f"SELECT trace_key, key, value FROM {table} WHERE trace_key IN ({marks})", part)
        for part, marks in _in_chunks(keys)))
