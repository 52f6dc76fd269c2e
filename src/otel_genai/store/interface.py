"""What every trace-store backend offers: the :class:`TraceStore` protocol and its errors.

A backend is one adapter module (``store/sqlite.py`` today) whose class satisfies :class:`TraceStore`
and raises only the errors below; :func:`otel_genai.store.open_store` picks the adapter from a URI.
The exporter, the ``serve`` receiver, the CLI and ``otel_genai.search_traces`` / ``get_trace`` use a
store only through this protocol, so they work on any backend.

Errors, by what the caller does about them:

* :class:`StoreUnavailableError`: the store cannot serve the request *now* (locked by another
  writer, the server unreachable); retrying later may succeed. ``serve`` answers 503 + ``Retry-After``.
* :class:`StoreWriteError`: a batch that will never be stored as it is (an invalid record, a
  constraint the data breaks); retrying the same batch fails the same way.
* :class:`StoreNotFoundError`: reading a store that does not exist (reads never create one).
* :class:`ForeignStoreError`: the location holds another application's data; it is never modified.
* :class:`TraceNotFoundError`, :class:`AmbiguousTraceIdError`: an id (prefix) that names no trace,
  or several.
* :class:`StoreError`: the base class, and anything else (a damaged store, a newer schema, an
  unsupported URI).

Units everywhere: times in ns since the Unix epoch, token counts in tokens.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
from pathlib import Path
from typing import Any, Iterable, List, Optional, Protocol, Union

from .model import SpanRecord, Trace

PathLike = Union[str, "os.PathLike[str]"]
#: a point in time: ns since the Unix epoch, or a ``datetime`` (naive = local time)
TimeLike = Union[int, _dt.datetime]
#: seconds a store operation waits for another writer's lock (or a connection) before it fails
DEFAULT_TIMEOUT_S = 2.0


class StoreError(Exception):
    """Base class of trace-store errors (unreadable, unwritable, not a trace store, ...)."""


class StoreUnavailableError(StoreError):
    """The store cannot serve this request now (e.g. locked by another process); retry later.

    Nothing of a batch that failed this way was stored.
    """


class StoreWriteError(StoreError):
    """A batch could not be written and retrying it unchanged will not help; nothing of it was stored."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """Reading from a store that does not exist (reads never create it).

    ``filename`` is the store's location (a file path for SQLite); ``str()`` reads
    ``[Errno 2] no trace store: '<location>'``.
    """

    def __init__(self, location: PathLike):
        super().__init__(errno.ENOENT, "no trace store", str(location))


class ForeignStoreError(StoreError):
    """The location holds another application's database: otel-genai neither reads nor writes it.

    ``path`` is the file (a ``pathlib.Path``); ``detail`` says what identified it (its tables, or its
    application id).
    """

    def __init__(self, path: PathLike, detail: str):
        super().__init__(
            f"{path} is a SQLite database of another application ({detail}), not an otel-genai trace"
            " store; it is left untouched"
        )
        self.path = Path(path)
        self.detail = detail


class TraceNotFoundError(StoreError, LookupError):
    """No stored trace has the given id (or id prefix)."""


class AmbiguousTraceIdError(StoreError, LookupError):
    """A trace id prefix matches more than one stored trace."""


def normalize_trace_id(trace_id: str) -> str:
    """Lower-case hex form of a trace id; an MLflow-style ``tr-`` prefix is dropped."""
    tid = str(trace_id).strip().lower()
    if tid.startswith("tr-"):
        tid = tid[3:]
    return tid


def to_ns(value: TimeLike) -> int:
    """ns since the Unix epoch for a ``datetime`` (naive = local time) or an int (returned as is)."""
    if isinstance(value, _dt.datetime):
        return int(value.timestamp() * 1_000_000) * 1000
    return int(value)


class TraceStore(Protocol):
    """One open trace store. Implementations are thread-safe and usable as context managers.

    ``location`` (str) names the store in messages: a file path for SQLite, a URI without its
    password for a server.
    """

    location: str

    def write_spans(self, records: Iterable[SpanRecord]) -> int:
        """Store a batch in one transaction: all of it or, on any error, none.

        A span whose ``(trace_id, span_id)`` is stored already replaces it, so a retried batch is
        stored once. The spans of one trace may come in any number of batches, in any order.
        Returns the number of spans written.

        Raises:
            StoreUnavailableError: the store cannot take the batch now (retry later).
            StoreWriteError: the batch is invalid (retrying it unchanged will fail again).
            ForeignStoreError: the location is another application's database.
        """
        ...

    def get_trace(self, trace_id: str) -> Optional[Trace]:
        """The trace with this exact id (32 hex; ``tr-`` prefix accepted) with its spans in start
        order, or ``None`` when it is not stored."""
        ...

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
        """Stored traces, newest (latest start) first; see :func:`otel_genai.store.search_traces`.

        Raises ``ValueError`` for a ``status`` other than ``"OK"`` / ``"ERROR"``.
        """
        ...

    def get_last_trace_id(self) -> Optional[str]:
        """Id of the trace that started last, or ``None`` for an empty store."""
        ...

    def resolve_trace_id(self, id_or_prefix: str, *, min_prefix: int = 8) -> str:
        """Full trace id for a full id or a unique prefix of at least ``min_prefix`` hex characters.

        Raises :class:`TraceNotFoundError` (no match, or prefix too short) or
        :class:`AmbiguousTraceIdError` (several traces share the prefix).
        """
        ...

    def count_traces(self) -> int:
        """Number of stored traces."""
        ...

    def count_spans(self) -> int:
        """Number of stored spans."""
        ...

    def close(self) -> None:
        """Release the connection(s); idempotent. Later calls raise :class:`StoreError`."""
        ...

    def __enter__(self) -> "TraceStore": ...

    def __exit__(self, *exc: Any) -> None: ...
