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

What a summary or a trace's usage *is* lives in :mod:`otel_genai.store.summary`; this module only
stores and fetches. Every :meth:`SQLiteTraceStore.write_spans` call is one ``BEGIN IMMEDIATE``
transaction: all of the batch is stored, or none. A lock held too long by another connection is
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
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence
from urllib.parse import unquote, urlsplit

from .interface import (
    DEFAULT_TIMEOUT_S,
    AmbiguousTraceIdError,
    ForeignStoreError,
    PathLike,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
    StoreWriteError,
    TimeLike,
    TraceNotFoundError,
    normalize_trace_id,
    to_ns,
)
from .model import Span, SpanRecord, Trace, TraceData, TraceInfo
from .summary import (
    TraceSummary,
    aggregate_span_usage,
    aggregate_token_usage,
    merge_summaries,
    span_usage,
    stand_in_root,
    summarize_batch,
    trace_status,
    usage_json,
)

SCHEME = "sqlite"
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of every store otel-genai creates (the bytes ``b"ogen"``)
APPLICATION_ID = 0x6F67656E
#: ``user_version`` of the stores written before :data:`APPLICATION_ID` was set (recognised by their tables)
_UNMARKED_SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = DEFAULT_TIMEOUT_S


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
    " scope_version, token_usage) VALUES ((SELECT trace_key FROM traces WHERE trace_id = ?),"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SUMMARY_COLUMNS = (
    "start_time_ns, end_time_ns, root_span_id, root_span_name, root_status_code, model, model_start_ns,"
    " has_token_usage"
)
_SELECT_SUMMARIES = "SELECT trace_id, " + _SUMMARY_COLUMNS + " FROM traces WHERE trace_id IN ({marks})"
# the merged summary replaces the row's values in place (trace_key, which the spans reference, stays)
_UPSERT_SUMMARY = f"""
INSERT INTO traces (trace_id, {_SUMMARY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id) DO UPDATE SET
    start_time_ns = excluded.start_time_ns, end_time_ns = excluded.end_time_ns,
    root_span_id = excluded.root_span_id, root_span_name = excluded.root_span_name,
    root_status_code = excluded.root_status_code, model = excluded.model,
    model_start_ns = excluded.model_start_ns, has_token_usage = excluded.has_token_usage
"""
_TRACE_SELECT = "SELECT trace_key, trace_id, " + _SUMMARY_COLUMNS + " FROM traces"
_SPAN_SELECT = (
    "SELECT s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns,"
    " s.status_code, s.status_message, s.attributes, s.events, r.attributes, s.scope_name,"
    " s.scope_version FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id"
    " WHERE s.trace_key = ? ORDER BY s.start_time_ns, s.rowid"
)
_ROOT_NODES_SELECT = (
    "SELECT span_id, parent_id, name, status_code FROM spans WHERE trace_key = ? ORDER BY start_time_ns, rowid"
)
_USAGE_NODES_SELECT = "SELECT trace_key, span_id, parent_id, token_usage FROM spans WHERE trace_key IN ({marks})"
#: most ``?`` parameters in one ``IN (...)`` list
_IN_CHUNK = 500


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if hasattr(obj, "keys"):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return str(obj)


# ensure_ascii (the default) keeps lone surrogates from failing the UTF-8 encode of a whole batch
_dumps = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode


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


class SQLiteTraceStore:
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
        self._resource_cache: dict = {}
        self._conn = self._open(busy_timeout_s)

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
        self._set_up(conn, busy_timeout_s, self._check_kind if self.read_only else self._create_schema)
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
            if kind == _EMPTY or version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if kind != _OURS:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "SQLiteTraceStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

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

    def _resource_key(self, attributes: Any) -> tuple:
        """(resource_id, JSON) for a resource-attributes mapping, cached by object identity."""
        cached = self._resource_cache.get(id(attributes))
        if cached is not None and cached[0] is attributes:
            return cached[1], cached[2]
        text = _dumps(dict(sorted(dict(attributes).items())))
        key = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
        if len(self._resource_cache) > 64:
            self._resource_cache.clear()
        self._resource_cache[id(attributes)] = (attributes, key, text)
        return key, text

    def write_spans(self, records: Iterable[SpanRecord]) -> int:
        """Store a batch of spans in one transaction: all of them, or (on any error) none.

        A span whose ``(trace_id, span_id)`` is already stored replaces it. Returns the number of
        spans written.

        Raises:
            StoreUnavailableError: the database stayed locked for ``busy_timeout_s``, or the disk is
                full, read-only or failing (SQLite's operational errors); retry later.
            StoreWriteError: an invalid record (wrong types, a missing name, ...).
        """
        records = list(records)
        try:
            usages = [span_usage(rec[9]) if rec[9] else None for rec in records]
            arrived = summarize_batch(records, usages)
            resources: dict = {}
            span_rows = []
            for rec, usage in zip(records, usages, strict=True):
                (trace_id, span_id, parent_id, name, kind, start, end, status_code, status_message,
                 attributes, events, resource_attributes, scope_name, scope_version) = rec
                if resource_attributes:
                    resource_id, resource_json = self._resource_key(resource_attributes)
                    resources[resource_id] = resource_json
                else:
                    resource_id = None
                span_rows.append((
                    trace_id, span_id, parent_id, name, kind, start, end, status_code,
                    status_message, _dumps(attributes) if attributes else "{}",
                    _dumps(events) if events else None, resource_id, scope_name, scope_version,
                    usage_json(usage),
                ))
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
                    stored = self._stored_summaries(conn, list(arrived))
                    conn.executemany(_UPSERT_SUMMARY, [
                        (trace_id, *merge_summaries(stored.get(trace_id), summary))
                        for trace_id, summary in arrived.items()
                    ])
                    conn.executemany(_INSERT_SPAN, span_rows)
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
    def _stored_summaries(conn: sqlite3.Connection, trace_ids: List[str]) -> Dict[str, TraceSummary]:
        """The stored :class:`TraceSummary` of each of ``trace_ids`` that has one (write lock held)."""
        out = {}
        for part, marks in _in_chunks(trace_ids):
            for trace_id, *values in conn.execute(_SELECT_SUMMARIES.format(marks=marks), part):
                out[trace_id] = TraceSummary(*values[:-1], bool(values[-1]))
        return out

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
    def resolve_trace_id(self, id_or_prefix: str, *, min_prefix: int = 8) -> str:
        """Full trace id for a full id or a unique prefix of at least ``min_prefix`` hex characters.

        Raises :class:`TraceNotFoundError` (no match, or prefix too short) or
        :class:`AmbiguousTraceIdError` (several traces share the prefix).
        """
        tid = normalize_trace_id(id_or_prefix)
        with self._lock:
            conn = self._connection()
            if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (tid,)).fetchone():
                return tid
            if len(tid) >= 32 or any(c not in "0123456789abcdef" for c in tid):
                raise TraceNotFoundError(f"no trace with id {id_or_prefix!r} in {self.path}")
            if len(tid) < min_prefix:
                raise TraceNotFoundError(
                    f"no trace with id {id_or_prefix!r} in {self.path}"
                    f" (a trace id prefix needs at least {min_prefix} hex characters)"
                )
            rows = conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? LIMIT 2",
                (tid, tid + "~"),
            ).fetchall()
        if not rows:
            raise TraceNotFoundError(f"no trace with id {id_or_prefix!r} in {self.path}")
        if len(rows) > 1:
            raise AmbiguousTraceIdError(
                f"trace id prefix {id_or_prefix!r} matches several traces in {self.path}"
            )
        return rows[0][0]

    @_reads
    def get_trace(self, trace_id: str) -> Optional[Trace]:
        """The trace with this exact id (32 hex; ``tr-`` prefix accepted) with all its spans, or
        ``None`` when it is not stored."""
        tid = normalize_trace_id(trace_id)
        with self._lock:
            row = self._connection().execute(_TRACE_SELECT + " WHERE trace_id = ?", (tid,)).fetchone()
            if row is None:
                return None
            return self._trace_with_spans(row)

    @_reads
    def search_traces(
        self,
        max_results: Optional[int] = 100,
        *,
        status: Optional[str] = None,
        root_span_name: Optional[str] = None,
        min_start_time: Optional[TimeLike] = None,
        max_start_time: Optional[TimeLike] = None,
        include_spans: bool = True,
    ) -> List[Trace]:
        """Stored traces, newest (latest start) first. See :func:`otel_genai.store.search_traces`."""
        if max_results is not None and max_results <= 0:
            return []
        where, params = [], []
        if status is not None:
            wanted = status.upper()
            if wanted not in ("OK", "ERROR"):
                raise ValueError(f"status must be 'OK' or 'ERROR', not {status!r}")
            # narrowed in SQL by the stored root's status; root-less traces take it from a stand-in: below
            op = "=" if wanted == "ERROR" else "IS NOT"
            where.append(f"(root_span_id IS NULL OR root_status_code {op} 'ERROR')")
        else:
            wanted = None
        if root_span_name is not None:
            where.append("(root_span_name = ? OR root_span_id IS NULL)")
            params.append(root_span_name)
        if min_start_time is not None:
            where.append("start_time_ns >= ?")
            params.append(to_ns(min_start_time))
        if max_start_time is not None:
            where.append("start_time_ns <= ?")
            params.append(to_ns(max_start_time))
        sql = _TRACE_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time_ns DESC, trace_id DESC"

        out: List[Trace] = []
        with self._lock:
            cursor = self._connection().execute(sql, params)
            chunk = max_results if max_results is not None else _IN_CHUNK
            while max_results is None or len(out) < max_results:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    break
                if include_spans:
                    traces = [self._trace_with_spans(row) for row in rows]
                else:
                    traces = self._traces_without_spans(rows)
                for trace in traces:
                    info = trace.info
                    if wanted is not None and info.status != wanted:
                        continue
                    if root_span_name is not None and info.root_span_name != root_span_name:
                        continue
                    out.append(trace)
                    if max_results is not None and len(out) >= max_results:
                        break
            cursor.close()
        return out

    # --- helpers (lock held) ------------------------------------------------------------------

    def _trace_with_spans(self, row: tuple) -> Trace:
        """A trace row and all its spans; root stand-in and usage computed from the spans."""
        spans = self._load_spans(row[0], row[1])
        nodes = [(s.span_id, s.parent_id, s.name, s.status) for s in spans]
        return _trace(row, spans, nodes, aggregate_span_usage(spans))

    def _traces_without_spans(self, rows: Sequence[tuple]) -> List[Trace]:
        """Trace rows as traces without spans: usage from the spans' stored ``token_usage`` (for the
        traces that have some), a root stand-in read only for root-less traces."""
        usage = self._usage_for([row[0] for row in rows if row[9]])
        return [
            _trace(row, [], self._conn.execute(_ROOT_NODES_SELECT, (row[0],)).fetchall() if row[4] is None else (),
                   usage.get(row[0]))
            for row in rows
        ]

    def _load_spans(self, trace_key: int, trace_id: str) -> List[Span]:
        resources: dict = {}
        spans = []
        for (sid, pid, name, kind, start, end, code, message, attrs, events, res, scope,
             scope_version) in self._conn.execute(_SPAN_SELECT, (trace_key,)):
            if res is not None:
                parsed = resources.get(res)
                if parsed is None:
                    parsed = resources[res] = json.loads(res)
                res = dict(parsed)
            spans.append(Span(
                trace_id=trace_id, span_id=sid, parent_id=pid, name=name, kind=kind,
                start_time_ns=start, end_time_ns=end, status=code, status_message=message,
                attributes=json.loads(attrs), events=json.loads(events) if events else [],
                resource_attributes=res or {}, scope_name=scope, scope_version=scope_version,
            ))
        return spans

    def _usage_for(self, trace_keys: Sequence[int]) -> dict:
        """{trace_key: aggregated token usage} for traces known to carry usage."""
        nodes: dict = {}
        for part, marks in _in_chunks(trace_keys):
            for key, sid, pid, usage in self._conn.execute(_USAGE_NODES_SELECT.format(marks=marks), part):
                nodes.setdefault(key, []).append((sid, pid, usage))
        return {key: aggregate_token_usage(n) for key, n in nodes.items()}


def _trace(row: tuple, spans: List[Span], root_nodes: Sequence[tuple], usage: Optional[dict]) -> Trace:
    """A :class:`Trace` from a ``_TRACE_SELECT`` row; ``root_nodes`` (start order) give the stand-in
    root when the row has no root."""
    key, tid, start, end, root_id, root_name, root_status, model, _model_start, _has_usage = row
    if root_id is None:
        found = stand_in_root(root_nodes)
        if found is not None:
            root_name, root_status = found
    info = TraceInfo(
        trace_id=tid,
        status=trace_status(root_status),
        start_time_ns=start,
        end_time_ns=end,
        root_span_name=root_name,
        token_usage=usage,
        model=model,
    )
    return Trace(info=info, data=TraceData(spans=spans))
