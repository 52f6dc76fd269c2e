"""The PostgreSQL adapter of :class:`~otel_genai.store.interface.TraceStore`: the SQL and the connections.

Opened through :func:`otel_genai.store.open_store` with ``postgresql://user:password@host:5432/db``
(or ``postgres://``; any libpq connection URI, e.g. ``?sslmode=require`` or
``?options=-csearch_path%3Dotel``: https://www.postgresql.org/docs/15/libpq-connect.html). The driver is
psycopg 3 with its connection pool (``pip install 'otel-genai[postgresql]'``); no ORM.

Any number of processes (app processes exporting with ``OTEL_TRACES_EXPORTER=otel_genai``, several
``otel-genai serve`` receivers) write into one database at once. The tables are those of the SQLite
adapter (:mod:`otel_genai.store.sqlite`), in the connection's current schema (``search_path``):

* ``resources``: resource attributes (JSON text), stored once, keyed by a hash of their content.
* ``traces``: one :class:`~otel_genai.store.summary.TraceSummary` row per trace, with a surrogate
  ``trace_key``; merged with each batch by :func:`~otel_genai.store.summary.merge_summaries` in the
  batch's transaction.
* ``spans``: one row per span, primary key ``(trace_key, span_id)``: a span sent again (a retried
  batch) replaces the stored one, so it is stored once. Attributes and events are JSON text (exactly
  what the SQLite adapter stores: no value is rewritten, NaN and key order survive).
* ``otel_genai_schema``: the schema version (one row); what marks a database as holding a store.

Text columns use the ``"C"`` collation, so ids compare and sort bytewise as in SQLite, whatever the
database's locale.

**Writes.** Every :meth:`PostgresTraceStore.write_spans` call is one transaction: all of the batch
or, on any error, none of it. Concurrent writers never deadlock: each transaction locks the rows it
touches in one global order (resources by id, then traces by trace id; a trace's spans are written
only while its row is locked), so two writers wait for each other at most once and never in a cycle.
A trace's summary is read ``FOR UPDATE`` and merged in Python, so batches of one trace arriving
through different processes at the same time never lose each other's root, range or model.

**Schema migrations** (:data:`MIGRATIONS`) run once: a process opening the store for writing takes a
transaction-level advisory lock (``pg_advisory_xact_lock``,
https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS) before it reads the version
and applies the missing steps, so processes starting together apply each step exactly once.

**Errors.** A server that cannot be reached or is shutting down, a connection lost, no pooled connection
within ``timeout_s``, a lock waited on for longer than ``timeout_s`` (``lock_timeout``), a
serialization failure or a deadlock (SQLSTATE classes 08, 40, 53, 55P03, 57) are
:class:`StoreUnavailableError`: nothing of the batch was stored and a retry may succeed. A batch the
database rejects for its content (SQLSTATE classes 22, 23: a missing name, a value out of range) is
:class:`StoreWriteError`. A database whose ``traces`` / ``spans`` / ``resources`` tables are not ours
is :class:`ForeignStoreError` and is never modified.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

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

SCHEMES = ("postgresql", "postgres")
#: ``pg_advisory_xact_lock`` key serialising schema migrations (the bytes ``b"ogenschm"``)
MIGRATION_LOCK_KEY = 0x6F67656E7363686D
#: connections a store keeps open at most (a receiver's threads share them)
POOL_MAX_SIZE = 8

# The schema, as steps: MIGRATIONS[v] takes a store from version v to v + 1.
MIGRATIONS: Tuple[Tuple[str, ...], ...] = (
    (
        """CREATE TABLE resources (
            resource_id TEXT COLLATE "C" PRIMARY KEY,
            attributes  TEXT NOT NULL
        )""",
        """CREATE TABLE traces (
            trace_key        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            trace_id         TEXT COLLATE "C" NOT NULL UNIQUE,
            start_time_ns    BIGINT NOT NULL,
            end_time_ns      BIGINT NOT NULL,
            root_span_id     TEXT COLLATE "C",
            root_span_name   TEXT COLLATE "C",
            root_status_code TEXT COLLATE "C",
            model            TEXT COLLATE "C",
            model_start_ns   BIGINT,
            has_token_usage  BOOLEAN NOT NULL DEFAULT FALSE
        )""",
        "CREATE INDEX traces_by_start ON traces (start_time_ns, trace_id)",
        """CREATE TABLE spans (
            trace_key      BIGINT NOT NULL REFERENCES traces (trace_key),
            span_id        TEXT COLLATE "C" NOT NULL,
            parent_id      TEXT COLLATE "C",
            name           TEXT COLLATE "C" NOT NULL,
            kind           TEXT COLLATE "C" NOT NULL,
            start_time_ns  BIGINT NOT NULL,
            end_time_ns    BIGINT NOT NULL,
            status_code    TEXT COLLATE "C" NOT NULL,
            status_message TEXT,
            attributes     TEXT NOT NULL,
            events         TEXT,
            resource_id    TEXT COLLATE "C",
            scope_name     TEXT COLLATE "C",
            scope_version  TEXT COLLATE "C",
            token_usage    TEXT,
            seq            BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (trace_key, span_id)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_OUR_TABLES = ("resources", "traces", "spans")


def open_uri(uri: PathLike, *, read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> "PostgresTraceStore":
    """The adapter for ``postgresql://`` / ``postgres://`` URIs: :class:`PostgresTraceStore`."""
    return PostgresTraceStore(str(uri), read_only=read_only, timeout_s=timeout_s)


def redact(uri: str) -> str:
    """``uri`` without its password (for messages and ``location``): ``postgresql://user@host:5432/db``."""
    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        netloc = parts.netloc.rpartition("@")[2]
        if parts.username is not None:
            netloc = f"{parts.username}@{netloc}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<invalid PostgreSQL URI>"


class _ForeignDatabaseError(ForeignStoreError):
    """A PostgreSQL database whose tables named like ours belong to another application."""

    def __init__(self, location: str, detail: str):
        StoreError.__init__(
            self,
            f"{location} holds tables of another application ({detail}), not an otel-genai trace store;"
            " they are left untouched (use another database, or another schema with"
            " ?options=-csearch_path%3D<schema>)",
        )
        self.path = location  # type: ignore[assignment]  # a URI here, not a file
        self.detail = detail


# SQLSTATE classes / codes after which a retry may succeed (PostgreSQL manual, Appendix A)
_RETRYABLE_CLASSES = ("08", "40", "53", "57", "58")
_RETRYABLE_CODES = ("55P03", "55006")


def _retryable(exc: BaseException) -> bool:
    import psycopg

    state = getattr(exc, "sqlstate", None)
    if state:
        return state[:2] in _RETRYABLE_CLASSES or state in _RETRYABLE_CODES
    # no SQLSTATE: the connection failed or broke (the client's own OperationalError)
    return isinstance(exc, psycopg.OperationalError)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if hasattr(obj, "keys"):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return str(obj)


# as the SQLite adapter: ensure_ascii keeps lone surrogates (and NUL, which PostgreSQL text cannot
# hold) as \\u escapes
_dumps = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode


def _text(value: Optional[str]) -> Optional[str]:
    """A string for a text column: PostgreSQL text cannot hold NUL (it becomes U+FFFD)."""
    if value is not None and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _text_summary(summary: TraceSummary) -> TraceSummary:
    """``summary`` with :func:`_text` applied to its root id, name, status and model."""
    fields = (summary.root_span_id, summary.root_span_name, summary.root_status_code, summary.model)
    if not any(isinstance(v, str) and "\x00" in v for v in fields):
        return summary
    return summary._replace(root_span_id=_text(fields[0]), root_span_name=_text(fields[1]),
                            root_status_code=_text(fields[2]), model=_text(fields[3]))


_SUMMARY_COLUMNS = (
    "start_time_ns, end_time_ns, root_span_id, root_span_name, root_status_code, model, model_start_ns,"
    " has_token_usage"
)
_INSERT_RESOURCES = (
    "INSERT INTO resources (resource_id, attributes)"
    " SELECT * FROM unnest(%s::text[], %s::text[]) ORDER BY 1 ON CONFLICT DO NOTHING"
)
# new traces get their row (in trace-id order); existing rows are left for the locked merge below
_INSERT_TRACES = (
    f"INSERT INTO traces (trace_id, {_SUMMARY_COLUMNS})"
    " SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::text[], %s::bigint[], %s::boolean[]) ORDER BY 1 ON CONFLICT (trace_id) DO NOTHING"
)
_LOCK_TRACES = (
    f"SELECT trace_key, trace_id, {_SUMMARY_COLUMNS} FROM traces WHERE trace_id = ANY(%s::text[])"
    " ORDER BY trace_id FOR UPDATE"
)
_UPDATE_TRACE = (
    "UPDATE traces SET start_time_ns = %s, end_time_ns = %s, root_span_id = %s, root_span_name = %s,"
    " root_status_code = %s, model = %s, model_start_ns = %s, has_token_usage = %s WHERE trace_key = %s"
)
_SPAN_COLUMNS = (
    "trace_key, span_id, parent_id, name, kind, start_time_ns, end_time_ns, status_code, status_message,"
    " attributes, events, resource_id, scope_name, scope_version, token_usage"
)
_UPSERT_SPANS = (
    f"INSERT INTO spans ({_SPAN_COLUMNS})"
    " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],"
    " %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::text[]) ORDER BY 1, 2"
    " ON CONFLICT (trace_key, span_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SPAN_COLUMNS.split(", ")[2:])
)
_TRACE_SELECT = f"SELECT trace_key, trace_id, {_SUMMARY_COLUMNS} FROM traces"
_SPAN_SELECT = (
    "SELECT s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns,"
    " s.status_code, s.status_message, s.attributes, s.events, r.attributes, s.scope_name,"
    " s.scope_version FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id"
    " WHERE s.trace_key = %s ORDER BY s.start_time_ns, s.seq"
)
_ROOT_NODES_SELECT = (
    "SELECT trace_key, span_id, parent_id, name, status_code FROM spans WHERE trace_key = ANY(%s)"
    " ORDER BY trace_key, start_time_ns, seq"
)
_USAGE_NODES_SELECT = "SELECT trace_key, span_id, parent_id, token_usage FROM spans WHERE trace_key = ANY(%s)"
#: rows fetched at a time while searching
_FETCH_CHUNK = 500


def _reads(method: Any) -> Any:
    """A read method whose driver errors become :class:`StoreError` (retryable ones
    :class:`StoreUnavailableError`) naming the store."""

    @functools.wraps(method)
    def read(self: "PostgresTraceStore", *args: Any, **kwargs: Any) -> Any:
        import psycopg
        import psycopg_pool

        try:
            return method(self, *args, **kwargs)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._error(exc, "read from") from exc

    return read


class PostgresTraceStore:
    """A pool of connections to one PostgreSQL database holding a trace store; a
    :class:`~otel_genai.store.interface.TraceStore`. Thread-safe (each call takes a pooled connection).

    Args:
        uri: a libpq connection URI, ``postgresql://user:password@host:5432/dbname[?param=value]``.
        read_only: never create or modify anything: the database must hold a store (else
            :class:`StoreNotFoundError`), and the connections are read-only
            (``default_transaction_read_only``). Otherwise the database is created when it does not
            exist (this needs the ``CREATEDB`` privilege) and the schema is created or migrated.
        timeout_s: how long (seconds) a call waits for a pooled connection, or for a lock another
            writer holds (``lock_timeout``), before failing with :class:`StoreUnavailableError`;
            connecting waits at least 2 s (libpq's ``connect_timeout`` granularity).

    Attributes: ``uri`` (as given), ``location`` (the URI without its password), ``read_only``.

    Raises:
        StoreNotFoundError: ``read_only`` and the database does not exist or holds no store.
        ForeignStoreError: the database's ``traces`` / ``spans`` / ``resources`` are another
            application's (nothing is modified).
        StoreUnavailableError: the server cannot be reached now.
        StoreError: a newer schema than this otel-genai knows, missing privileges, a bad URI, or
            psycopg is not installed.
    """

    def __init__(self, uri: str, *, read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        try:
            import psycopg  # noqa: F401
            import psycopg_pool
        except ImportError as exc:
            raise StoreError(
                "the PostgreSQL trace store needs psycopg 3 and psycopg_pool:"
                " pip install 'otel-genai[postgresql]'"
            ) from exc
        if uri.lower().startswith("postgres://"):
            uri = "postgresql://" + uri[len("postgres://"):]
        self.uri = uri
        self.location = redact(uri)
        self.read_only = read_only
        self.timeout_s = timeout_s
        self._resource_cache: dict = {}
        self._closed = False
        self._lock = threading.Lock()
        self._kwargs = {"connect_timeout": max(2, int(timeout_s + 0.999)), "application_name": "otel-genai"}
        options = f"-c lock_timeout={max(1, int(timeout_s * 1000))}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        self._kwargs["options"] = options
        self._set_up()
        self._pool = psycopg_pool.ConnectionPool(
            uri, kwargs=self._kwargs, min_size=1, max_size=POOL_MAX_SIZE, timeout=timeout_s,
            open=False, name="otel-genai",
        )
        try:
            self._pool.open(wait=False)
        except Exception as exc:  # noqa: BLE001 - opening only starts the pool's workers
            raise StoreError(f"cannot open a connection pool to {self.location}: {exc}") from exc

    # --- connection and schema ----------------------------------------------------------------

    def _connect(self, uri: Optional[str] = None) -> Any:
        import psycopg

        try:
            return psycopg.connect(uri or self.uri, autocommit=True, **self._kwargs)
        except psycopg.Error as exc:
            raise self._error(exc, "connect to") from exc

    def _error(self, exc: BaseException, doing: str) -> StoreError:
        """The :class:`StoreError` for a driver error met while ``doing`` (``"read from"``, ...) the store."""
        import psycopg_pool

        if isinstance(exc, psycopg_pool.PoolTimeout):
            return StoreUnavailableError(f"could not {doing} {self.location}: no connection within {self.timeout_s:g} s")
        state = getattr(exc, "sqlstate", None)
        if state == "3D000" or self._no_database(exc):  # invalid_catalog_name: no such database
            return StoreNotFoundError(self.location)
        message = str(exc).strip().replace(self.uri, self.location)
        if state == "55P03":  # lock_not_available: lock_timeout ran out
            return StoreUnavailableError(
                f"could not {doing} {self.location}: locked by another process for over {self.timeout_s:g} s ({message})"
            )
        if _retryable(exc):
            return StoreUnavailableError(f"could not {doing} {self.location} now: {message}")
        return StoreError(f"could not {doing} {self.location}: {message}")

    def _no_database(self, exc: BaseException) -> bool:
        """A failed connection because the database does not exist. libpq gives a failed connection
        no SQLSTATE, so this reads the server's message (``FATAL: database "x" does not exist``, as
        long as the server's ``lc_messages`` is English)."""
        name = urlsplit(self.uri).path.lstrip("/")
        return bool(name) and f'database "{name}" does not exist' in str(exc)

    def _set_up(self) -> None:
        """Check what the database holds; for writing, create it and the schema or migrate."""
        try:
            conn = self._connect()
        except StoreNotFoundError:
            if self.read_only:
                raise
            self._create_database()
            conn = self._connect()
        import psycopg

        try:
            with conn:
                version = self._classify(conn)
                if self.read_only:
                    if version is None:
                        raise StoreNotFoundError(self.location)
                elif version != SCHEMA_VERSION:
                    self._migrate(conn)
        except psycopg.Error as exc:
            raise self._error(exc, "set up the trace store in") from exc

    def _classify(self, conn: Any) -> Optional[int]:
        """The schema version of the store in ``conn``'s database, ``None`` when it holds none.

        Raises :class:`ForeignStoreError` when tables named like ours exist without our version
        table, and :class:`StoreError` for a schema newer than :data:`SCHEMA_VERSION`."""
        # read from pg_tables with this statement's snapshot: after waiting for the advisory lock, a
        # backend's relation cache (what to_regclass() reads) may not show tables committed meanwhile
        found = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
            " AND tablename = ANY(%s)", (["otel_genai_schema", *_OUR_TABLES],),
        )}
        if "otel_genai_schema" not in found:
            present = [name for name in _OUR_TABLES if name in found]
            if present:
                raise _ForeignDatabaseError(self.location, "tables " + ", ".join(repr(t) for t in present))
            return None
        row = conn.execute("SELECT version FROM otel_genai_schema").fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} was written by a newer otel-genai (schema {version} > {SCHEMA_VERSION})"
            )
        return version

    def _migrate(self, conn: Any) -> None:
        """Apply the missing :data:`MIGRATIONS` under the advisory lock (one process at a time)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            version = self._classify(conn)  # again, under the lock: another process may have done it
            if version is None:
                conn.execute("CREATE TABLE otel_genai_schema (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO otel_genai_schema (version) VALUES (0)")
                version = 0
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute("UPDATE otel_genai_schema SET version = %s", (SCHEMA_VERSION,))

    def _create_database(self) -> None:
        """Create the URI's database (connected to the server's ``postgres`` database); a database
        created meanwhile by another process is fine."""
        import psycopg
        from psycopg import sql

        parts = urlsplit(self.uri)
        name = parts.path.lstrip("/")
        if not name:
            raise StoreNotFoundError(self.location)
        conn = self._connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass
        except psycopg.Error as exc:
            raise self._error(exc, f"create the database {name!r} on") from exc
        finally:
            conn.close()

    def close(self) -> None:
        """Close the pool's connections (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def __enter__(self) -> "PostgresTraceStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _session(self, work: Any) -> Any:
        """``work(conn)`` on a pooled connection, committed when it returns (rolled back if it
        raises). A connection found broken (the server restarted, or ended it while it sat idle in
        the pool) is dropped and ``work`` runs once more on a new one, so a batch is not lost to a
        connection that died while no one used it. Running a write twice is safe even when the first
        COMMIT did reach the server: a batch written again is stored once (span id as the key, and
        :func:`~otel_genai.store.summary.merge_summaries` of a summary with itself is the summary)."""
        import psycopg

        if self._closed:
            raise StoreError(f"the trace store {self.location} is closed")
        for attempt in (1, 2):
            used = None
            try:
                with self._pool.connection() as conn:
                    used = conn
                    return work(conn)
            except psycopg.OperationalError:
                # the pool has closed the connection it got back broken; the others idle in it
                # likely died with it (a server restart): test them all before trying again
                if attempt == 1 and used is not None and (used.broken or used.closed):
                    self._pool.check()
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- writes -------------------------------------------------------------------------------

    def _resource_key(self, attributes: Any) -> tuple:
        """(resource_id, JSON) for a resource-attributes mapping, cached by object identity; the id
        is the SQLite adapter's (a hash of the sorted JSON), so both name a resource alike."""
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

        A span whose ``(trace_id, span_id)`` is already stored replaces it (and of two in one batch,
        the later one is kept). Returns the number of records given.

        Raises:
            StoreUnavailableError: the server cannot be reached, a lock or a connection was not had
                within ``timeout_s``, or the transaction was cancelled (a deadlock, a shutdown);
                nothing was stored, retry later.
            StoreWriteError: an invalid record (wrong types, a missing name, an out-of-range time).
            StoreError: the store is closed or opened read-only.
        """
        import psycopg
        import psycopg_pool

        records = list(records)
        if self.read_only:
            raise StoreError(f"the trace store {self.location} is open read-only")
        try:
            usages = [span_usage(rec[9]) if rec[9] else None for rec in records]
            arrived = summarize_batch(records, usages)
            resources: Dict[str, str] = {}
            spans: Dict[tuple, tuple] = {}  # (trace_id, span_id) -> row; the last of duplicates wins
            for rec, usage in zip(records, usages, strict=True):
                (trace_id, span_id, parent_id, name, kind, start, end, status_code, status_message,
                 attributes, events, resource_attributes, scope_name, scope_version) = rec
                if resource_attributes:
                    resource_id, resource_json = self._resource_key(resource_attributes)
                    resources[resource_id] = resource_json
                else:
                    resource_id = None
                if not isinstance(trace_id, str) or not isinstance(span_id, str):
                    raise TypeError(f"trace and span ids are hex strings, not {trace_id!r}, {span_id!r}")
                if not isinstance(start, int) or not isinstance(end, int):
                    raise TypeError(f"span times are ns as int, not {start!r}, {end!r}")
                spans[(trace_id, span_id)] = (
                    trace_id, span_id, parent_id, _text(name), kind, start, end, status_code,
                    _text(status_message), _dumps(attributes) if attributes else "{}",
                    _dumps(events) if events else None, resource_id, _text(scope_name),
                    _text(scope_version), usage_json(usage),
                )
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise StoreWriteError(f"invalid span record, batch not stored: {exc!r}") from exc
        if not spans:
            return 0
        new_traces = sorted((trace_id, _text_summary(summary)) for trace_id, summary in arrived.items())
        try:
            self._session(lambda conn: self._write(conn, resources, new_traces, spans))
        except psycopg.Error as exc:
            if _retryable(exc):
                raise self._error(exc, f"write {len(spans)} spans to") from exc
            raise StoreWriteError(
                f"could not write {len(spans)} spans to {self.location}: {str(exc).strip()}"
            ) from exc
        except psycopg_pool.PoolTimeout as exc:
            raise self._error(exc, f"write {len(spans)} spans to") from exc
        return len(records)

    @staticmethod
    def _write(conn: Any, resources: Dict[str, str], arrived: List[Tuple[str, TraceSummary]],
               spans: Dict[tuple, tuple]) -> None:
        """The statements of one batch (inside its transaction); rows locked in key order."""
        cur = conn.cursor()
        if resources:
            ids = sorted(resources)
            cur.execute(_INSERT_RESOURCES, (ids, [resources[i] for i in ids]))
        trace_ids = [trace_id for trace_id, _ in arrived]
        columns = [list(c) for c in zip(*(summary for _, summary in arrived))]
        cur.execute(_INSERT_TRACES, (trace_ids, *columns))
        keys: Dict[str, int] = {}
        updates = []
        summaries = dict(arrived)
        for trace_key, trace_id, *values in cur.execute(_LOCK_TRACES, (trace_ids,)):
            keys[trace_id] = trace_key
            stored = TraceSummary(*values)
            merged = merge_summaries(stored, summaries[trace_id])
            if merged != stored:
                updates.append((*merged, trace_key))
        if updates:
            cur.executemany(_UPDATE_TRACE, updates)
        rows = [(keys[row[0]], *row[1:]) for row in spans.values()]
        rows.sort(key=lambda row: (row[0], row[1]))
        cur.execute(_UPSERT_SPANS, [list(c) for c in zip(*rows)])

    # --- reads --------------------------------------------------------------------------------

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Optional[tuple]:
        return self._session(lambda conn: conn.execute(sql, params).fetchone())

    @_reads
    def count_traces(self) -> int:
        """Number of stored traces."""
        return self._one("SELECT count(*) FROM traces")[0]

    @_reads
    def count_spans(self) -> int:
        """Number of stored spans."""
        return self._one("SELECT count(*) FROM spans")[0]

    @_reads
    def get_last_trace_id(self) -> Optional[str]:
        """Id of the trace that started last, or ``None`` for an empty store."""
        row = self._one("SELECT trace_id FROM traces ORDER BY start_time_ns DESC, trace_id DESC LIMIT 1")
        return row[0] if row else None

    @_reads
    def resolve_trace_id(self, id_or_prefix: str, *, min_prefix: int = 8) -> str:
        """Full trace id for a full id or a unique prefix of at least ``min_prefix`` hex characters.

        Raises :class:`TraceNotFoundError` (no match, or prefix too short) or
        :class:`AmbiguousTraceIdError` (several traces share the prefix).
        """
        tid = normalize_trace_id(id_or_prefix)
        if self._one("SELECT 1 FROM traces WHERE trace_id = %s", (tid,)):
            return tid
        if len(tid) >= 32 or any(c not in "0123456789abcdef" for c in tid):
            raise TraceNotFoundError(f"no trace with id {id_or_prefix!r} in {self.location}")
        if len(tid) < min_prefix:
            raise TraceNotFoundError(
                f"no trace with id {id_or_prefix!r} in {self.location}"
                f" (a trace id prefix needs at least {min_prefix} hex characters)"
            )
        rows = self._session(lambda conn: conn.execute(
            "SELECT trace_id FROM traces WHERE trace_id >= %s AND trace_id < %s LIMIT 2", (tid, tid + "~"),
        ).fetchall())
        if not rows:
            raise TraceNotFoundError(f"no trace with id {id_or_prefix!r} in {self.location}")
        if len(rows) > 1:
            raise AmbiguousTraceIdError(
                f"trace id prefix {id_or_prefix!r} matches several traces in {self.location}"
            )
        return rows[0][0]

    @_reads
    def get_trace(self, trace_id: str) -> Optional[Trace]:
        """The trace with this exact id (32 hex; ``tr-`` prefix accepted) with all its spans, or
        ``None`` when it is not stored."""
        tid = normalize_trace_id(trace_id)

        def read(conn: Any) -> Optional[Trace]:
            row = conn.execute(_TRACE_SELECT + " WHERE trace_id = %s", (tid,)).fetchone()
            return None if row is None else self._trace_with_spans(conn, row)

        return self._session(read)

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
            op = "=" if wanted == "ERROR" else "IS DISTINCT FROM"
            where.append(f"(root_span_id IS NULL OR root_status_code {op} 'ERROR')")
        else:
            wanted = None
        if root_span_name is not None:
            where.append("(root_span_name = %s OR root_span_id IS NULL)")
            params.append(root_span_name)
        if min_start_time is not None:
            where.append("start_time_ns >= %s")
            params.append(to_ns(min_start_time))
        if max_start_time is not None:
            where.append("start_time_ns <= %s")
            params.append(to_ns(max_start_time))
        sql = _TRACE_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time_ns DESC, trace_id DESC"

        chunk = max_results if max_results is not None else _FETCH_CHUNK

        def read(conn: Any) -> List[Trace]:
            out: List[Trace] = []
            # a server-side cursor: rows come a chunk at a time, not the whole table at once
            with conn.cursor(name="otel_genai_search") as cursor:
                cursor.execute(sql, params)
                while max_results is None or len(out) < max_results:
                    rows = cursor.fetchmany(chunk)
                    if not rows:
                        break
                    if include_spans:
                        traces = [self._trace_with_spans(conn, row) for row in rows]
                    else:
                        traces = self._traces_without_spans(conn, rows)
                    for trace in traces:
                        info = trace.info
                        if wanted is not None and info.status != wanted:
                            continue
                        if root_span_name is not None and info.root_span_name != root_span_name:
                            continue
                        out.append(trace)
                        if max_results is not None and len(out) >= max_results:
                            break
            return out

        return self._session(read)

    # --- helpers (a connection held) ----------------------------------------------------------

    def _trace_with_spans(self, conn: Any, row: tuple) -> Trace:
        """A trace row and all its spans; root stand-in and usage computed from the spans."""
        spans = self._load_spans(conn, row[0], row[1])
        nodes = [(s.span_id, s.parent_id, s.name, s.status) for s in spans]
        return _trace(row, spans, nodes, aggregate_span_usage(spans))

    def _traces_without_spans(self, conn: Any, rows: Sequence[tuple]) -> List[Trace]:
        """Trace rows as traces without spans: usage from the spans' stored ``token_usage`` (for the
        traces that have some), a root stand-in read only for root-less traces."""
        usage_keys = [row[0] for row in rows if row[9]]
        usage: Dict[int, Any] = {}
        if usage_keys:
            nodes: Dict[int, list] = {}
            for key, sid, pid, tokens in conn.execute(_USAGE_NODES_SELECT, (usage_keys,)):
                nodes.setdefault(key, []).append((sid, pid, tokens))
            usage = {key: aggregate_token_usage(n) for key, n in nodes.items()}
        rootless = [row[0] for row in rows if row[4] is None]
        root_nodes: Dict[int, list] = {}
        if rootless:
            for key, *node in conn.execute(_ROOT_NODES_SELECT, (rootless,)):
                root_nodes.setdefault(key, []).append(tuple(node))
        return [_trace(row, [], root_nodes.get(row[0], ()), usage.get(row[0])) for row in rows]

    @staticmethod
    def _load_spans(conn: Any, trace_key: int, trace_id: str) -> List[Span]:
        resources: dict = {}
        spans = []
        for (sid, pid, name, kind, start, end, code, message, attrs, events, res, scope,
             scope_version) in conn.execute(_SPAN_SELECT, (trace_key,)):
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


def _trace(row: tuple, spans: List[Span], root_nodes: Sequence[tuple], usage: Optional[dict]) -> Trace:
    """A :class:`Trace` from a ``_TRACE_SELECT`` row; ``root_nodes`` (start order) give the stand-in
    root when the row has no root."""
    _key, tid, start, end, root_id, root_name, root_status, model, _model_start, _has_usage = row
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
