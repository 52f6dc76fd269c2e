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
from typing import Any, Generic, Iterable, List, Optional, Protocol, Sequence, TypeVar, Union

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


T = TypeVar("T")


class PagedList(List[T], Generic[T]):
    """A page of results: a ``list``, plus ``token``: the opaque string that fetches the next page
    (pass it as ``page_token=``), ``None`` on the last page. MLflow's ``PagedList`` has the same shape."""

    def __init__(self, items: Iterable[T] = (), token: Optional[str] = None) -> None:
        super().__init__(items)
        self.token = token


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
        filter_string: Optional[str] = "",
        order_by: Optional[Sequence[str]] = None,
        max_results: Optional[int] = 100,
        page_token: Optional[str] = None,
        include_spans: bool = True,
        *,
        status: Optional[str] = None,
        root_span_name: Optional[str] = None,
        min_start_time: Optional[TimeLike] = None,
        max_start_time: Optional[TimeLike] = None,
    ) -> "PagedList[Trace]":
        """Stored traces matching ``filter_string``, in ``order_by`` order, one page at a time.

        Args:
            filter_string: MLflow's ``search_traces`` grammar (``AND`` only; see
                :mod:`otel_genai.store.query` for the fields and operators), e.g.
                ``"trace.status = 'ERROR' AND tag.env = 'prod' AND trace.total_tokens > 1000"``.
                ``""`` / ``None``: every trace. Legacy (the first positional argument used to be
                ``max_results``): an ``int`` here is ``max_results``, and ``None`` with no
                ``max_results`` means all traces. Implementations pass both to
                :func:`otel_genai.store.query.search_arguments` (the default ``max_results`` is
                :data:`otel_genai.store.query.DEFAULT_MAX_RESULTS`, 100).
            order_by: e.g. ``["timestamp_ms DESC"]`` (the default), ``["cost DESC", "timestamp_ms"]``;
                keys ``timestamp_ms``, ``execution_time_ms``, ``total_tokens``, ``cost`` (also
                with a ``trace.`` prefix), ``ASC`` (default) or ``DESC``. Ties: newest first, then
                trace id. Traces without tokens / cost sort last either way.
            max_results: page size (``None``: everything, one page).
            page_token: the ``.token`` of the previous page (an opaque string), ``None``: the first.
            include_spans: ``False``: only ``trace.info`` is filled (no span is read).
            status, root_span_name, min_start_time, max_start_time: today's keyword filters, kept:
                ``status`` (``"OK"`` / ``"ERROR"``: ``info.status``, the root's or its stand-in's),
                the root (or stand-in) span's name, inclusive bounds on the start (``datetime``,
                naive = local time, or ns since the epoch). ANDed with ``filter_string``.

        Returns:
            a :class:`PagedList` of :class:`~otel_genai.store.model.Trace`; ``.token`` is the
            next page's token, ``None`` on the last page.

        Raises:
            ValueError: a malformed ``filter_string`` or ``order_by`` (the message names the
                offending token and its position), a bad ``page_token``, or a ``status`` other
                than OK / ERROR.
        """
        ...

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set (or replace) tag ``key`` of the stored trace ``trace_id`` to ``value`` (str()).

        A tag set here wins over the same tag carried by spans already stored; a span stored
        later that carries it (``mlflow.traceTag.<key>``) replaces it again.

        Raises:
            TraceNotFoundError: no stored trace has this id.
            ValueError: an empty ``key``.
        """
        ...

    def delete_trace_tag(self, trace_id: str, key: str) -> bool:
        """Remove tag ``key`` of the stored trace ``trace_id``; ``True`` if it was set.

        Raises:
            TraceNotFoundError: no stored trace has this id.
        """
        ...

    def delete_traces(
        self,
        *,
        older_than: Optional[Union[TimeLike, _dt.timedelta]] = None,
        trace_ids: Optional[Iterable[str]] = None,
        max_traces: Optional[int] = None,
    ) -> int:
        """Delete whole traces (their spans, tags and metadata); returns how many were deleted.

        Each argument given selects traces; the union is deleted:

        * ``older_than``: traces that started before this point (a ``datetime``, naive = local
          time, or ns since the epoch) or this long ago (a ``timedelta``);
        * ``trace_ids``: these traces (full ids; ``tr-`` accepted; unknown ids are ignored);
        * ``max_traces``: all but the ``max_traces`` newest (by start).

        With none given nothing is deleted. The freed space is given back to the file system
        where the backend can (SQLite: ``PRAGMA incremental_vacuum``), so a store under a
        retention policy stops growing.

        Raises:
            ValueError: a negative ``max_traces``.
            StoreUnavailableError: another writer holds the store (retry later).
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
