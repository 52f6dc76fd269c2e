"""The SQLite trace store: path resolution, schema, batched writes, queries.

One file (default ``platformdirs.user_data_dir("otel-genai")/traces.db``), WAL mode, written by any
number of processes (SQLite serialises writers; WAL lets readers run alongside). Tables:

* ``spans``: one row per span (attributes, events as JSON text; times in ns since the epoch),
  unique on ``(trace, span_id)``; a re-sent span replaces the stored one.
* ``resources``: resource attributes, stored once and referenced by the spans.
* ``traces``: one summary row per trace (earliest start, latest end, root span name/status once the
  root arrives, first model seen, whether any span carries ``mlflow.chat.tokenUsage``), kept up to
  date by an UPSERT in the same transaction as the spans, so listing traces never scans spans.

Every :meth:`TraceStore.write_spans` call is one transaction: all of the batch is stored, or none.

A store carries a marker, ``PRAGMA application_id = APPLICATION_ID``, set with the schema. Before it
writes anything, :class:`TraceStore` checks what the file is: a missing or empty file (0 bytes, or a
SQLite database without a single table) becomes a store; a file with the marker, or a store created
before the marker existed (our three tables with our columns, ``user_version`` 1; marked when next
opened for writing), is used; anything else is another application's database and is refused
(:class:`ForeignStoreError`) without being modified, whether it was opened for reading or writing.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Union

from ..semconv import attributes as _A
from .model import Span, SpanRecord, Trace, TraceData, TraceInfo
from .usage import TOKEN_USAGE_ATTRIBUTE, aggregate_span_usage, aggregate_token_usage

STORE_PATH_ENV = "OTEL_GENAI_STORE_PATH"
"""Environment variable naming the store file; overrides the per-user default."""

SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of every store otel-genai creates (the bytes ``b"ogen"``)
APPLICATION_ID = 0x6F67656E
#: ``user_version`` of the stores written before :data:`APPLICATION_ID` was set (recognised by their tables)
_UNMARKED_SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = 2.0

PathLike = Union[str, "os.PathLike[str]"]
TimeLike = Union[int, _dt.datetime]


class StoreError(Exception):
    """Base class of trace-store errors (unreadable, unwritable, not a trace store, ...)."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """Reading from a store file that does not exist (reads never create the file)."""

    def __init__(self, path: PathLike):
        super().__init__(errno.ENOENT, "no trace store", str(path))  # str(): "[Errno 2] no trace store: '<path>'"


class ForeignStoreError(StoreError):
    """The file is a SQLite database of another application: otel-genai neither reads nor writes it.

    ``path`` is the file; ``detail`` says what identified it (its tables, or its application id).
    """

    def __init__(self, path: PathLike, detail: str):
        super().__init__(
            f"{path} is a SQLite database of another application ({detail}), not an otel-genai trace"
            " store; it is left untouched"
        )
        self.path = Path(path)
        self.detail = detail


class StoreWriteError(StoreError):
    """A batch could not be written; nothing of that batch was stored."""


class TraceNotFoundError(StoreError, LookupError):
    """No stored trace has the given id (or id prefix)."""


class AmbiguousTraceIdError(StoreError, LookupError):
    """A trace id prefix matches more than one stored trace."""


def default_store_path(path: Optional[PathLike] = None) -> Path:
    """Where the trace store lives: ``path`` if given, else ``$OTEL_GENAI_STORE_PATH``, else
    ``platformdirs.user_data_dir("otel-genai")/traces.db``. ``~`` is expanded; nothing is created."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get(STORE_PATH_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("otel-genai", appauthor=False)) / "traces.db"


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
_NEWER_MODEL = "excluded.model IS NOT NULL AND (model IS NULL OR excluded.model_start_ns < model_start_ns)"
_UPSERT_TRACE = f"""
INSERT INTO traces (trace_id, start_time_ns, end_time_ns, root_span_id, root_span_name,
                    root_status_code, model, model_start_ns, has_token_usage)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id) DO UPDATE SET
    start_time_ns    = min(start_time_ns, excluded.start_time_ns),
    end_time_ns      = max(end_time_ns, excluded.end_time_ns),
    root_span_id     = coalesce(excluded.root_span_id, root_span_id),
    root_span_name   = CASE WHEN excluded.root_span_id IS NULL THEN root_span_name
                            ELSE excluded.root_span_name END,
    root_status_code = CASE WHEN excluded.root_span_id IS NULL THEN root_status_code
                            ELSE excluded.root_status_code END,
    model            = CASE WHEN {_NEWER_MODEL} THEN excluded.model ELSE model END,
    model_start_ns   = CASE WHEN {_NEWER_MODEL} THEN excluded.model_start_ns ELSE model_start_ns END,
    has_token_usage  = max(has_token_usage, excluded.has_token_usage)
"""

_TRACE_COLUMNS = (
    "trace_key, trace_id, start_time_ns, end_time_ns, root_span_id, root_span_name, root_status_code, model,"
    " has_token_usage"
)
_SPAN_SELECT = (
    "SELECT s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns,"
    " s.status_code, s.status_message, s.attributes, s.events, r.attributes, s.scope_name,"
    " s.scope_version FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id"
    " WHERE s.trace_key = ? ORDER BY s.start_time_ns, s.rowid"
)
# the root span, or when it is absent, the earliest span whose parent is not stored
_STAND_IN_ROOT = (
    "SELECT s.name, s.status_code FROM spans s WHERE s.trace_key = ? AND (s.parent_id IS NULL OR"
    " NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_key = s.trace_key AND p.span_id = s.parent_id))"
    " ORDER BY s.start_time_ns LIMIT 1"
)

_MODEL_KEYS = (_A.GEN_AI_RESPONSE_MODEL, _A.GEN_AI_REQUEST_MODEL)


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


def _reads(method: Any) -> Any:
    """A read method whose SQLite errors become a :class:`StoreError` naming the file: a store
    damaged past its schema page opens fine and fails only when its pages are read."""

    @functools.wraps(method)
    def read(self: "TraceStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if _is_locked(exc):
                raise StoreError(f"the trace store {self.path} is locked by another process: {exc}") from exc
            raise StoreError(f"{self.path} is not a usable otel-genai trace store: {exc}") from exc

    return read


def _to_ns(value: TimeLike) -> int:
    if isinstance(value, _dt.datetime):
        return int(value.timestamp() * 1_000_000) * 1000
    return int(value)


def normalize_trace_id(trace_id: str) -> str:
    """Lower-case hex form of a trace id; an MLflow-style ``tr-`` prefix is dropped."""
    tid = str(trace_id).strip().lower()
    if tid.startswith("tr-"):
        tid = tid[3:]
    return tid


class TraceStore:
    """A connection to one trace-store file; thread-safe (one connection, guarded by a lock).

    Args:
        path: the store file; ``None`` -> :func:`default_store_path`.
        read_only: open for reading only. The file must exist (else :class:`StoreNotFoundError`) and
            is never created or modified. Otherwise the file and its parent directories are created
            on first use, the schema is set up and the database is switched to WAL mode.
        busy_timeout_s: how long (seconds) a statement waits for another writer's lock before failing.

    The file is checked before anything is written (see the module docstring): it must be missing,
    empty, or a store; a store made before the marker existed gets it on its first writable open.

    Raises:
        StoreNotFoundError: ``read_only`` and the file does not exist.
        ForeignStoreError: the file is another application's SQLite database (it is not modified).
        StoreError: the file cannot be opened, is not a usable trace store (corrupt, locked, empty
            when ``read_only``), or was written by a newer otel-genai.
    """

    def __init__(
        self,
        path: Optional[PathLike] = None,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self.path = default_store_path(path)
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
            if _is_locked(exc):
                raise StoreError(
                    f"the trace store {self.path} is locked by another process (waited {busy_timeout_s:g} s): {exc}"
                ) from exc
            raise StoreError(f"{self.path} is not a usable otel-genai trace store: {exc}") from exc
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

    def __enter__(self) -> "TraceStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the trace store {self.path} is closed")
        return self._conn

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
        spans written. Raises :class:`StoreWriteError` (nothing of the batch stored) on failure:
        a locked database (after ``busy_timeout_s``), a full or read-only disk, an invalid record.
        """
        span_rows = []
        traces: dict = {}
        resources: dict = {}
        try:
            for rec in records:
                (trace_id, span_id, parent_id, name, kind, start, end, status_code, status_message,
                 attributes, events, resource_attributes, scope_name, scope_version) = rec
                usage = attributes.get(TOKEN_USAGE_ATTRIBUTE) if attributes else None
                if usage is not None and not isinstance(usage, str):
                    usage = _dumps(usage)
                if resource_attributes:
                    resource_id, resource_json = self._resource_key(resource_attributes)
                    resources[resource_id] = resource_json
                else:
                    resource_id = None
                span_rows.append((
                    trace_id, span_id, parent_id, name, kind, start, end, status_code,
                    status_message, _dumps(attributes) if attributes else "{}",
                    _dumps(events) if events else None, resource_id, scope_name, scope_version,
                    usage,
                ))
                # per-trace summary: [start, end, root_id, root_name, root_status, model, model_start, usage]
                t = traces.get(trace_id)
                if t is None:
                    t = traces[trace_id] = [start, end, None, None, None, None, None, 0]
                else:
                    if start < t[0]:
                        t[0] = start
                    if end > t[1]:
                        t[1] = end
                if parent_id is None:
                    t[2], t[3], t[4] = span_id, name, status_code
                if attributes:
                    model = attributes.get(_MODEL_KEYS[0]) or attributes.get(_MODEL_KEYS[1])
                    if isinstance(model, str) and (t[5] is None or start < t[6]):
                        t[5], t[6] = model, start
                if usage is not None:
                    t[7] = 1
        except (TypeError, ValueError, AttributeError) as exc:
            raise StoreWriteError(f"invalid span record, batch not stored: {exc!r}") from exc
        if not span_rows:
            return 0
        trace_rows = [(tid, *t) for tid, t in traces.items()]

        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if resources:
                        conn.executemany(_INSERT_RESOURCE, resources.items())
                    conn.executemany(_UPSERT_TRACE, trace_rows)
                    conn.executemany(_INSERT_SPAN, span_rows)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreWriteError(
                    f"could not write {len(span_rows)} spans to {self.path}: {exc}"
                ) from exc
        return len(span_rows)

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
            row = self._connection().execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces WHERE trace_id = ?", (tid,)
            ).fetchone()
            if row is None:
                return None
            spans = self._load_spans(row[0], row[1])
            return self._build_trace(row, spans, None)

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
        """Stored traces, newest (latest start) first. See the module-level :func:`search_traces`."""
        if max_results is not None and max_results <= 0:
            return []
        where, params = [], []
        if status is not None:
            wanted = status.upper()
            if wanted not in ("OK", "ERROR"):
                raise ValueError(f"status must be 'OK' or 'ERROR', not {status!r}")
            # root-less traces take their status from a stand-in span: filtered below
            op = "=" if wanted == "ERROR" else "IS NOT"
            where.append(f"(root_span_id IS NULL OR root_status_code {op} 'ERROR')")
        else:
            wanted = None
        if root_span_name is not None:
            where.append("(root_span_name = ? OR root_span_id IS NULL)")
            params.append(root_span_name)
        if min_start_time is not None:
            where.append("start_time_ns >= ?")
            params.append(_to_ns(min_start_time))
        if max_start_time is not None:
            where.append("start_time_ns <= ?")
            params.append(_to_ns(max_start_time))
        sql = f"SELECT {_TRACE_COLUMNS} FROM traces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time_ns DESC, trace_id DESC"

        out: List[Trace] = []
        with self._lock:
            conn = self._connection()
            cursor = conn.execute(sql, params)
            chunk = max_results if max_results is not None else 500
            while max_results is None or len(out) < max_results:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    break
                usage = {} if include_spans else self._usage_for([r[0] for r in rows if r[8]])
                for row in rows:
                    spans = self._load_spans(row[0], row[1]) if include_spans else []
                    trace = self._build_trace(row, spans, usage.get(row[0]))
                    if row[4] is None:  # stand-in root: apply the filters SQL could not
                        if wanted is not None and trace.info.status != wanted:
                            continue
                        if root_span_name is not None and trace.info.root_span_name != root_span_name:
                            continue
                    out.append(trace)
                    if max_results is not None and len(out) >= max_results:
                        break
            cursor.close()
        return out

    # --- helpers (lock held) ------------------------------------------------------------------

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
        for i in range(0, len(trace_keys), 500):
            part = trace_keys[i:i + 500]
            marks = ",".join("?" * len(part))
            for key, sid, pid, usage in self._conn.execute(
                "SELECT trace_key, span_id, parent_id, token_usage FROM spans"
                f" WHERE trace_key IN ({marks})",
                part,
            ):
                nodes.setdefault(key, []).append((sid, pid, usage))
        return {key: aggregate_token_usage(n) for key, n in nodes.items()}

    def _build_trace(self, row: tuple, spans: List[Span], usage: Optional[dict]) -> Trace:
        key, tid, start, end, root_id, root_name, root_status, model, has_usage = row
        if root_id is None:
            if spans:
                ids = {s.span_id for s in spans}
                stand_in = next((s for s in spans if s.parent_id not in ids), None)
                if stand_in is not None:
                    root_name, root_status = stand_in.name, stand_in.status
            else:
                found = self._conn.execute(_STAND_IN_ROOT, (key,)).fetchone()
                if found:
                    root_name, root_status = found
        if spans and has_usage:
            usage = aggregate_span_usage(spans)
        info = TraceInfo(
            trace_id=tid,
            status="ERROR" if root_status == "ERROR" else "OK",
            start_time_ns=start,
            end_time_ns=end,
            root_span_name=root_name,
            token_usage=usage if has_usage else None,
            model=model,
        )
        return Trace(info=info, data=TraceData(spans=spans))


# --- module-level read API ----------------------------------------------------------------------


def _reader(path: Optional[PathLike]) -> TraceStore:
    return TraceStore(path, read_only=True)


def search_traces(
    max_results: Optional[int] = 100,
    *,
    path: Optional[PathLike] = None,
    status: Optional[str] = None,
    root_span_name: Optional[str] = None,
    min_start_time: Optional[TimeLike] = None,
    max_start_time: Optional[TimeLike] = None,
    include_spans: bool = True,
) -> List[Trace]:
    """Stored traces, newest first (by start time).

    Args:
        max_results: at most this many traces (``None``: all).
        path: the store file (default :func:`default_store_path`).
        status: ``"OK"`` or ``"ERROR"`` (the trace status, from its root span).
        root_span_name: only traces whose root span has exactly this name.
        min_start_time, max_start_time: inclusive bounds on the trace start, as a ``datetime``
            (naive = local time) or ns since the epoch.
        include_spans: load every trace's spans into ``trace.data.spans`` (``False``: only
            ``trace.info`` is filled, ``trace.data.spans`` is empty, which is much cheaper).

    Returns:
        list of :class:`~otel_genai.store.model.Trace`.

    Raises:
        StoreNotFoundError: the store file does not exist (it is not created).
        StoreError: the file is not a readable trace store.
    """
    with _reader(path) as store:
        return store.search_traces(
            max_results,
            status=status,
            root_span_name=root_span_name,
            min_start_time=min_start_time,
            max_start_time=max_start_time,
            include_spans=include_spans,
        )


def get_trace(trace_id: str, *, path: Optional[PathLike] = None) -> Optional[Trace]:
    """The stored trace ``trace_id`` (32 hex characters, as OTel prints it; a ``tr-`` prefix is
    accepted) with its spans in start order, or ``None`` when no such trace is stored.

    Raises :class:`StoreNotFoundError` when the store file does not exist (it is not created).
    """
    with _reader(path) as store:
        return store.get_trace(trace_id)


def get_last_trace_id(*, path: Optional[PathLike] = None) -> Optional[str]:
    """Id of the most recently started trace in the store, or ``None`` when it holds none.

    Raises :class:`StoreNotFoundError` when the store file does not exist.
    """
    with _reader(path) as store:
        return store.get_last_trace_id()

