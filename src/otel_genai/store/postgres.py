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
* the read API's tables: ``trace_index`` (one :class:`~otel_genai.store.summary.TraceIndex` row per
  trace: the columns :mod:`otel_genai.store.query` filters and sorts on, indexed), ``trace_tags`` /
  ``trace_metadata`` (key/value per trace) and ``span_index`` (each span's MLflow type and cost).
* ``otel_genai_schema``: the schema version (one row); what marks a database as holding a store.

What both SQL adapters do alike around their SQL (the reads' and deletion's argument checks, rows ->
records, the index rows) is :mod:`otel_genai.store.adapter`; this module holds the SQL and the driver.

``search_traces`` runs the filter grammar of :mod:`otel_genai.store.query` in SQL with
:data:`DIALECT` (its ``POSTGRESQL`` dialect, a span attribute read by :data:`JSON_TEXT_FUNCTION`).

Text columns use the ``"C"`` collation, so ids compare and sort bytewise as in SQLite, whatever the
database's locale.

**Writes.** Every :meth:`PostgresTraceStore.write_spans` call is one transaction: all of the batch
or, on any error, none of it. Concurrent writers never deadlock: each transaction locks the rows it
touches in one global order (resources by id, then traces by trace id; a trace's spans, index row,
tags and metadata are written only while its ``traces`` row is locked, and so are a tag set by hand
and a deletion), so two writers wait for each other at most once and never in a cycle. A trace's
summary is read ``FOR UPDATE``, its details once that lock is held, both merged in Python
(:mod:`otel_genai.store.summary`), and its index row computed from the spans stored by then, so
batches of one trace arriving through different processes at the same time never lose each other's
root, range, model, provider, usage or cost. A pooled connection the server ended while it sat idle
is replaced and the batch written once more on a new one: writing a batch twice stores it once.

**Schema migrations** (:data:`MIGRATIONS`) run once: a process opening the store for writing takes a
transaction-level advisory lock (``pg_advisory_xact_lock``,
https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS) before it reads the version
and applies the missing steps, so processes starting together apply each step exactly once.

**Errors.** A server that cannot be reached or is shutting down, a connection lost, no pooled connection
within ``timeout_s``, a lock waited on for longer than ``timeout_s`` (``lock_timeout``), a
serialization failure or a deadlock (SQLSTATE classes 08, 40, 53, 55P03, 57) are
:class:`StoreUnavailableError`: nothing of the batch was stored and a retry may succeed. A batch the
database rejects for its content (SQLSTATE classes 22, 23: a missing name, a value out of range) is
:class:`StoreWriteError`; a NUL character, which PostgreSQL text cannot hold, is stored as U+FFFD
instead of failing the batch. A database that does not exist is :class:`StoreNotFoundError` when
reading, and is created when writing (with the ``CREATEDB`` privilege). A database whose tables named
like ours (``traces``, ``spans``, ...) are not ours is :class:`ForeignStoreError` and is never modified.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

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
from .backends import redact_uri
from .pricing import COST_ATTRIBUTE, cost_json, span_cost, warm_up
from .query import POSTGRESQL, compile_filter, compile_order
from .summary import (
    UNKNOWN_SPAN_TYPE,
    TraceDetails,
    TraceSummary,
    merge_details,
    merge_summaries,
    span_type,
    span_usage,
    summarize_batch,
    summarize_details,
    tags_and_metadata,
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
        # the read API's tables: the same columns as the SQLite adapter's
        """CREATE TABLE trace_index (
            trace_key         BIGINT PRIMARY KEY,
            trace_id          TEXT COLLATE "C" NOT NULL,
            start_time_ns     BIGINT NOT NULL,
            state             TEXT COLLATE "C" NOT NULL,
            status            TEXT COLLATE "C" NOT NULL,
            name              TEXT COLLATE "C",
            timestamp_ms      BIGINT NOT NULL,
            execution_time_ms BIGINT NOT NULL,
            input_tokens      BIGINT,
            output_tokens     BIGINT,
            total_tokens      BIGINT,
            token_usage       TEXT,
            input_cost        DOUBLE PRECISION,
            output_cost       DOUBLE PRECISION,
            total_cost        DOUBLE PRECISION,
            cost              TEXT,
            model             TEXT COLLATE "C",
            provider          TEXT COLLATE "C",
            service_name      TEXT COLLATE "C",
            provider_start_ns BIGINT,
            root_seen         BOOLEAN NOT NULL DEFAULT FALSE,
            request_preview   TEXT,
            request_rank      BIGINT,
            response_preview  TEXT,
            response_rank     BIGINT
        )""",
        "CREATE INDEX trace_index_by_start ON trace_index (start_time_ns, trace_id)",
        "CREATE INDEX trace_index_by_tokens ON trace_index (total_tokens)",
        "CREATE INDEX trace_index_by_cost ON trace_index (total_cost)",
        "CREATE INDEX trace_index_by_duration ON trace_index (execution_time_ms)",
        "CREATE INDEX trace_index_by_model ON trace_index (model)",
        """CREATE TABLE trace_tags (
            trace_key BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (trace_key, key)
        )""",
        "CREATE INDEX trace_tags_by_key ON trace_tags (key, value)",
        """CREATE TABLE trace_metadata (
            trace_key BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (trace_key, key)
        )""",
        "CREATE INDEX trace_metadata_by_key ON trace_metadata (key, value)",
        """CREATE TABLE span_index (
            trace_key BIGINT NOT NULL, span_id TEXT COLLATE "C" NOT NULL, span_type TEXT COLLATE "C" NOT NULL,
            cost TEXT, PRIMARY KEY (trace_key, span_id)
        )""",
        # a span attribute as the filter grammar compares it: a string as itself, anything else as
        # its JSON text as stored (json, not jsonb, keeps "[1,2]" as written, as SQLite's -> does).
        # NULL, not an error, for a span whose attributes PostgreSQL cannot read as JSON: a NaN or an
        # Infinity (Python's json writes them), a \u0000 (PostgreSQL text cannot hold it) or a lone
        # surrogate escape. Not PARALLEL SAFE: the exception block is a subtransaction, which a
        # parallel query cannot start. (Telling such documents apart first, with a regex or strpos(),
        # costs more per row than the subtransaction: about 15 us a row either way.)
        """CREATE FUNCTION otel_genai_json_text(doc TEXT, key TEXT) RETURNS TEXT
        LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE found JSON;
        BEGIN
            found := doc::json -> key;
            IF json_typeof(found) = 'string' THEN
                RETURN found #>> '{}';
            END IF;
            RETURN found::text;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END $$""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_OUR_TABLES = ("resources", "traces", "spans", "trace_index", "trace_tags", "trace_metadata", "span_index")
#: SQL of one span attribute's text (see the schema); the filter compiler passes the key three times
JSON_TEXT_FUNCTION = "otel_genai_json_text({col}, COALESCE({param}, {param}, {param}))"
#: the filter grammar's PostgreSQL dialect (:data:`otel_genai.store.query.POSTGRESQL`), a span
#: attribute read with :data:`JSON_TEXT_FUNCTION`
DIALECT = dataclasses.replace(POSTGRESQL, json_text=JSON_TEXT_FUNCTION)


def open_uri(uri: PathLike, *, read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> "PostgresTraceStore":
    """The adapter for ``postgresql://`` / ``postgres://`` URIs: :class:`PostgresTraceStore`."""
    return PostgresTraceStore(str(uri), read_only=read_only, timeout_s=timeout_s)


redact = redact_uri  # (the adapter's name for it)


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


# The batch's rows go in as one array per column (``unnest``), sent in binary (``%b``): a text
# array literal would have every quote in the attributes' JSON escaped, which costs more than the
# insert itself.
_INSERT_RESOURCES = (
    "INSERT INTO resources (resource_id, attributes)"
    " SELECT * FROM unnest(%b::text[], %b::text[]) ORDER BY 1 ON CONFLICT DO NOTHING"
)
# new traces get their row (in trace-id order) and are returned; existing rows are left for the
# locked merge below
_INSERT_TRACES = (
    f"INSERT INTO traces (trace_id, {adapter.SUMMARY_COLUMNS})"
    " SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::bigint[], %b::boolean[]) ORDER BY 1 ON CONFLICT (trace_id) DO NOTHING RETURNING trace_id"
)
_LOCK_TRACES = (
    f"SELECT trace_id, trace_key, {adapter.SUMMARY_COLUMNS} FROM traces"
    " WHERE trace_id = ANY(%b::text[]) ORDER BY trace_id FOR UPDATE"
)
# read in a statement of its own once the trace rows are locked: joined to the locked rows, a row of
# trace_index would be the version seen before waiting for the lock (a concurrent writer's details lost)
_SELECT_DETAILS = f"SELECT trace_key, {adapter.DETAIL_COLUMNS} FROM trace_index WHERE trace_key = ANY(%b::bigint[])"
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
    " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[],"
    " %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::text[]) ORDER BY 1, 2"
    " ON CONFLICT (trace_key, span_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SPAN_COLUMNS.split(", ")[2:])
)
_UPSERT_SPAN_INDEX = (
    "INSERT INTO span_index (trace_key, span_id, span_type, cost)"
    " SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[]) ORDER BY 1, 2"
    " ON CONFLICT (trace_key, span_id) DO UPDATE SET span_type = excluded.span_type, cost = excluded.cost"
)
_UPSERT_KEY_VALUES = (
    "INSERT INTO {table} (trace_key, key, value) SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[])"
    " ORDER BY 1, 2 ON CONFLICT (trace_key, key) DO UPDATE SET value = excluded.value"
)
_INDEX_ALL = (
    "trace_key, trace_id, start_time_ns, " + adapter.INDEX_COLUMNS
    + ", provider_start_ns, root_seen, request_preview, request_rank, response_preview, response_rank"
)
_UPSERT_INDEX = (
    f"INSERT INTO trace_index ({_INDEX_ALL}) SELECT * FROM unnest("
    "%b::bigint[], %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[],"
    " %b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::float8[], %b::float8[], %b::float8[], %b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::bigint[], %b::boolean[], %b::text[], %b::bigint[], %b::text[],"
    " %b::bigint[]) ORDER BY 1 ON CONFLICT (trace_key) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _INDEX_ALL.split(",")[1:])
)
_INDEX_NODES_SELECT = (
    "SELECT s.trace_key, s.span_id, s.parent_id, s.name, s.status_code, s.token_usage, si.cost FROM spans s"
    " LEFT JOIN span_index si ON si.trace_key = s.trace_key AND si.span_id = s.span_id"
    " WHERE s.trace_key = ANY(%s) ORDER BY s.trace_key, s.start_time_ns, s.seq"
)
#: a trace's row for reading (the SQLite adapter's): the keys, the summary's time range and root, the index
_TRACE_SELECT = f"SELECT {adapter.TRACE_ROW} FROM trace_index t JOIN traces tr ON tr.trace_key = t.trace_key"
_SPANS_SELECT = (
    f"SELECT s.trace_key, {adapter.SPAN_ROW} FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id"
    " LEFT JOIN span_index si ON si.trace_key = s.trace_key AND si.span_id = s.span_id"
    " WHERE s.trace_key = ANY(%s) ORDER BY s.trace_key, s.start_time_ns, s.seq"
)


def _texts(row: Sequence[Any]) -> tuple:
    """``row`` with :func:`_text` applied to its strings."""
    return tuple(_text(v) if type(v) is str else v for v in row)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> List[list]:
    """Rows -> ``width`` column lists (the arrays of an ``unnest`` insert)."""
    return [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]


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


class PostgresTraceStore(adapter.SQLTraceStore):
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
        self._resource_key = adapter.ResourceIds()  # the SQLite adapter's ids: both name a resource alike
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
        if not read_only:
            warm_up()  # genai-prices loads while nothing is written yet (as the SQLite adapter)

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

    def write_spans(self, records: Iterable[SpanRecord]) -> int:
        """Store a batch of spans in one transaction: all of them, or (on any error) none.

        A span whose ``(trace_id, span_id)`` is already stored replaces it (and of two in one batch,
        the later one is kept). Each span is priced here (:mod:`otel_genai.store.pricing`) and each
        touched trace's ``trace_index`` row, tags and metadata are updated in the same transaction.
        Returns the number of records given.

        Raises:
            StoreUnavailableError: the server cannot be reached, a lock or a connection was not had
                within ``timeout_s``, or the transaction was cancelled (a deadlock, a shutdown);
                nothing was stored, retry later.
            StoreWriteError: an invalid record (wrong types, a missing name, an out-of-range time).
            StoreError: the store is closed or opened read-only.
        """
        import psycopg

        records = list(records)
        if self.read_only:
            raise StoreError(f"the trace store {self.location} was opened read-only")
        try:
            usages = [span_usage(rec[9]) if rec[9] else None for rec in records]
            arrived = summarize_batch(records, usages)
            arrived_details = summarize_details(records)
            carried = tags_and_metadata(records)
            resources: Dict[str, str] = {}
            spans: Dict[tuple, tuple] = {}  # (trace_id, span_id) -> row; the last of duplicates wins
            span_types: Dict[tuple, tuple] = {}
            batch_nodes: Dict[str, list] = {}  # the batch's spans per trace, for traces new to the store
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
                    _text(status_message), adapter.dumps(attributes) if attributes else "{}",
                    adapter.dumps(events) if events else None, resource_id, _text(scope_name),
                    _text(scope_version), usage_json(usage),
                )
                cost = span_cost(attributes, usage) if usage is not None or (
                    attributes and COST_ATTRIBUTE in attributes) else None
                span_types[(trace_id, span_id)] = (
                    trace_id, span_id, _text(span_type(attributes)) if attributes else UNKNOWN_SPAN_TYPE, cost_json(cost),
                )
                batch_nodes.setdefault(trace_id, []).append((span_id, parent_id, name, status_code, usage, cost, start))
            batch = _Batch(
                resources,
                sorted((trace_id, _text_summary(summary)) for trace_id, summary in arrived.items()),
                arrived_details, carried, spans, span_types, batch_nodes,
            )
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise StoreWriteError(f"invalid span record, batch not stored: {exc!r}") from exc
        if not spans:
            return 0
        try:
            self._session(lambda conn: self._write(conn, batch))
        except psycopg.Error as exc:
            if _retryable(exc):
                raise self._error(exc, f"write {len(spans)} spans to") from exc
            raise StoreWriteError(
                f"could not write {len(spans)} spans to {self.location}: {str(exc).strip()}"
            ) from exc
        return len(records)

    @staticmethod
    def _write(conn: Any, batch: "_Batch") -> None:
        """The statements of one batch, in its transaction; rows locked in key order (module docstring)."""
        with conn.transaction():
            cur = conn.cursor()
            if batch.resources:
                ids = sorted(batch.resources)
                cur.execute(_INSERT_RESOURCES, (ids, [batch.resources[i] for i in ids]))
            arrived = dict(batch.summaries)
            fresh: set = set()
            locked: Dict[str, tuple] = {}
            missing = [trace_id for trace_id, _ in batch.summaries]
            while missing:  # twice at most: a trace deleted meanwhile is inserted again
                wanted = [(tid, arrived[tid]) for tid in missing]
                fresh.update(r[0] for r in cur.execute(
                    _INSERT_TRACES, ([tid for tid, _ in wanted], *_columns([s for _, s in wanted], 8))
                ).fetchall())
                for tid, key, *v in cur.execute(_LOCK_TRACES, (missing,)).fetchall():
                    locked[tid] = (key, adapter.summary_from_row(v))
                missing = [tid for tid in missing if tid not in locked]
            keys = {tid: found[0] for tid, found in locked.items()}
            stored_details = {key: adapter.details_from_row(v) for key, *v in cur.execute(
                _SELECT_DETAILS, ([keys[tid] for tid in keys if tid not in fresh],)).fetchall()}
            merged, details, updates = {}, {}, []
            for tid, summary in batch.summaries:
                key, stored = locked[tid]
                if tid in fresh:  # its row is this batch's summary
                    merged[tid], details[tid] = summary, batch.details[tid]
                    continue
                merged[tid] = merge_summaries(stored, summary)
                details[tid] = _text_details(merge_details(stored_details.get(key), batch.details[tid]))
                if merged[tid] != stored:
                    updates.append((*merged[tid], key))
            if updates:
                cur.executemany(_UPDATE_TRACE, updates)
            rows = sorted((keys[r[0]], *r[1:]) for r in batch.spans.values())
            cur.execute(_UPSERT_SPANS, _columns(rows, 15))
            rows = sorted((keys[r[0]], *r[1:]) for r in batch.span_types.values())
            cur.execute(_UPSERT_SPAN_INDEX, _columns(rows, 4))
            for table, which in (("trace_tags", 0), ("trace_metadata", 1)):
                rows = sorted(_texts((keys[tid], k, v)) for tid, pair in batch.carried.items()
                              for k, v in pair[which].items())
                if rows:
                    cur.execute(_UPSERT_KEY_VALUES.format(table=table), _columns(rows, 3))
            _write_index(cur, [(keys[tid], tid, merged[tid], details[tid]) for tid, _ in batch.summaries],
                         {tid: batch.nodes[tid] for tid in fresh})

    # --- tags, deletion -----------------------------------------------------------------------

    def _change(self, work: Any) -> Any:
        """``work(conn)`` in one transaction; driver errors as store errors (retryable ones
        :class:`StoreUnavailableError`)."""
        import psycopg

        if self.read_only:
            raise StoreError(f"the trace store {self.location} was opened read-only")

        def run(conn: Any) -> Any:
            with conn.transaction():
                return work(conn)

        try:
            return self._session(run)
        except psycopg.Error as exc:
            if _retryable(exc):
                raise self._error(exc, "write to") from exc
            raise StoreWriteError(f"could not write to {self.location}: {str(exc).strip()}") from exc

    def _lock_trace(self, conn: Any, trace_id: str) -> int:
        """The ``trace_key`` of ``trace_id``, its row locked (as a batch writing into it does)."""
        row = conn.execute("SELECT trace_key FROM traces WHERE trace_id = %s FOR UPDATE",
                           (normalize_trace_id(trace_id),)).fetchone()
        if row is None:
            raise self._not_found(trace_id)
        return row[0]

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set tag ``key`` of the stored trace ``trace_id``; see :meth:`TraceStore.set_trace_tag`."""
        if not key:
            raise ValueError("a trace tag needs a non-empty key")
        row = _texts((str(key), str(value)))
        self._change(lambda conn: conn.execute(
            _UPSERT_KEY_VALUES.format(table="trace_tags"), ([self._lock_trace(conn, trace_id)], [row[0]], [row[1]])))

    def delete_trace_tag(self, trace_id: str, key: str) -> bool:
        """Remove tag ``key``; ``True`` if it was set. See :meth:`TraceStore.delete_trace_tag`."""
        return self._change(lambda conn: conn.execute(
            "DELETE FROM trace_tags WHERE trace_key = %s AND key = %s", (self._lock_trace(conn, trace_id), _text(str(key)))
        ).rowcount > 0)

    def _delete(self, deletion: adapter.Deletion) -> int:
        """:meth:`~otel_genai.store.adapter.SQLTraceStore.delete_traces`' SQL. The rows are locked in
        trace-id order first, as a writer's are. The space is reused by the server's (auto)vacuum
        (https://www.postgresql.org/docs/15/routine-vacuuming.html); nothing is given back at once."""
        cutoff, ids, max_traces = deletion

        def work(conn: Any) -> int:
            doomed: set = set()
            if cutoff is not None:
                doomed.update(r[0] for r in conn.execute("SELECT trace_key FROM traces WHERE start_time_ns < %s", (cutoff,)))
            if ids:
                doomed.update(r[0] for r in conn.execute("SELECT trace_key FROM traces WHERE trace_id = ANY(%s)", (ids,)))
            if max_traces is not None:
                doomed.update(r[0] for r in conn.execute(
                    "SELECT trace_key FROM traces ORDER BY start_time_ns DESC, trace_id DESC OFFSET %s", (max_traces,)))
            if not doomed:
                return 0
            keys = [r[0] for r in conn.execute(
                "SELECT trace_key FROM traces WHERE trace_key = ANY(%s) ORDER BY trace_id FOR UPDATE", (sorted(doomed),))]
            for table in adapter.TRACE_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE trace_key = ANY(%s)", (keys,))
            return len(keys)

        return self._change(work)

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
    def _has_trace(self, trace_id: str) -> bool:
        return self._one("SELECT 1 FROM traces WHERE trace_id = %s", (trace_id,)) is not None

    @_reads
    def _with_prefix(self, prefix: str) -> List[str]:
        rows = self._session(lambda conn: conn.execute(
            "SELECT trace_id FROM traces WHERE trace_id >= %s AND trace_id < %s LIMIT 2", (prefix, prefix + "~"),
        ).fetchall())
        return [row[0] for row in rows]

    @_reads
    def _read_trace(self, trace_id: str) -> Optional[Trace]:
        def read(conn: Any) -> Optional[Trace]:
            rows = conn.execute(_TRACE_SELECT + " WHERE t.trace_key = (SELECT trace_key FROM traces"
                                " WHERE trace_id = %s)", (trace_id,)).fetchall()
            return _traces(conn, rows, include_spans=True)[0] if rows else None

        return self._session(read)

    @_reads
    def _search(self, conditions: list, order: tuple, offset: int, max_results: Optional[int],
                include_spans: bool) -> PagedList:
        """:meth:`~otel_genai.store.adapter.SQLTraceStore.search_traces`' page: the filter and order
        compiled in :data:`DIALECT`."""
        where, params = compile_filter(conditions, DIALECT)
        sql = f"{_TRACE_SELECT} WHERE {where} ORDER BY {compile_order(order, DIALECT)} LIMIT %s OFFSET %s"
        params += [None if max_results is None else max_results + 1, offset]  # LIMIT NULL: no limit
        return self._session(lambda conn: adapter.page(
            conn.execute(sql, params).fetchall(), offset, max_results, lambda rows: _traces(conn, rows, include_spans)))


class _Batch(NamedTuple):
    """One batch's rows and summaries, computed before its transaction (:meth:`PostgresTraceStore._write`)."""

    resources: Dict[str, str]  # resource_id -> attributes JSON
    summaries: List[Tuple[str, TraceSummary]]  # by trace id
    details: Dict[str, TraceDetails]
    carried: Dict[str, tuple]  # trace_id -> (tags, metadata) the spans carry
    spans: Dict[tuple, tuple]  # (trace_id, span_id) -> spans row (trace_id first)
    span_types: Dict[tuple, tuple]  # (trace_id, span_id) -> span_index row (trace_id first)
    nodes: Dict[str, list]  # trace_id -> (span_id, parent_id, name, status, usage, cost, start)


def _text_details(details: TraceDetails) -> TraceDetails:
    """``details`` with :func:`_text` applied to its strings (previews, provider, service)."""
    return TraceDetails(*_texts(details))


def _write_index(cur: Any, traces: Sequence[tuple], fresh: Dict[str, list]) -> None:
    """Upsert the ``trace_index`` rows of ``traces`` (``(trace_key, trace_id, TraceSummary,
    TraceDetails)``, their rows locked), reading the stored spans of those that need them
    (:func:`~otel_genai.store.summary.needs_spans`); ``fresh``: the batch's spans of traces new to the
    store (all their spans: nothing is read). As the SQLite adapter's ``_write_index``."""
    wanted = adapter.keys_needing_spans(traces, fresh)
    nodes = adapter.group_rows(cur.execute(_INDEX_NODES_SELECT, (wanted,))) if wanted else {}
    rows = sorted(_texts(row) for row in adapter.index_rows(traces, fresh, nodes))
    cur.execute(_UPSERT_INDEX, _columns(rows, 25))


def _key_values(conn: Any, table: str, keys: Sequence[int]) -> Dict[int, Dict[str, str]]:
    """``{trace_key: {key: value}}`` of ``table`` (``trace_tags`` / ``trace_metadata``) for ``keys``."""
    if not keys:
        return {}
    return adapter.key_values(conn.execute(f"SELECT trace_key, key, value FROM {table} WHERE trace_key = ANY(%s)", (list(keys),)))


def _traces(conn: Any, rows: Sequence[tuple], include_spans: bool) -> List[Trace]:
    """``_TRACE_SELECT`` rows as traces, with their tags and metadata (and spans: one query for all)."""
    keys = [row[0] for row in rows]
    spans = None
    if include_spans:
        spans = _load_spans(conn, {row[0]: row[1] for row in rows}) if rows else {}
    return adapter.traces_from_rows(rows, spans, _key_values(conn, "trace_tags", keys), _key_values(conn, "trace_metadata", keys))


def _load_spans(conn: Any, trace_ids: Dict[int, str]) -> Dict[int, List[Span]]:
    """``{trace_key: [Span, ...] in start order}`` of the traces ``{trace_key: trace_id}``."""
    resources: dict = {}
    out: Dict[int, List[Span]] = {}
    for key, *row in conn.execute(_SPANS_SELECT, (list(trace_ids),)):
        out.setdefault(key, []).append(adapter.span_from_row(trace_ids[key], row, resources))
    return out
