"""Which store to use, and the adapter that opens it: :func:`open_store` and its backend table.

A store is named by a URI or a plain path (a path means SQLite)::

    sqlite:///abs/path/traces.db        the SQLite adapter (otel_genai.store.sqlite)
    /abs/path/traces.db, ~/traces.db    the same

With nothing given, :func:`resolve_store_uri` takes ``$OTEL_GENAI_STORE_URI``, else
``$OTEL_GENAI_STORE_PATH`` (a path), else the per-user default file
``platformdirs.user_data_dir("otel-genai")/traces.db`` (:func:`default_store_path`).

Adding a backend is one adapter module with an ``open_uri(uri, *, read_only, timeout_s)`` function
returning a :class:`~otel_genai.store.interface.TraceStore`, plus one line in :data:`BACKENDS`.
Adapters are imported only when a URI of theirs is opened, so an uninstalled driver costs nothing.

The module-level reads (:func:`search_traces`, :func:`get_trace`, :func:`get_last_trace_id`) open the
store read-only for one call.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Union

from .interface import DEFAULT_TIMEOUT_S, PagedList, PathLike, StoreError, TimeLike, TraceStore
from .model import Trace
from .query import DEFAULT_MAX_RESULTS

STORE_URI_ENV = "OTEL_GENAI_STORE_URI"
"""Environment variable naming the store by URI (``sqlite:///abs/path.db``); wins over :data:`STORE_PATH_ENV`."""
STORE_PATH_ENV = "OTEL_GENAI_STORE_PATH"
"""Environment variable naming the store file; overrides the per-user default."""

#: URI scheme -> ``"module:function"`` of the adapter opening it; a plain path is ``sqlite``
BACKENDS: Dict[str, str] = {
    "sqlite": "otel_genai.store.sqlite:open_uri",
    "postgresql": "otel_genai.store.postgres:open_uri", "postgres": "otel_genai.store.postgres:open_uri",
}
DEFAULT_BACKEND = "sqlite"

_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def default_store_path(path: Optional[PathLike] = None) -> Path:
    """The SQLite store file: ``path`` if given, else ``$OTEL_GENAI_STORE_PATH``, else
    ``platformdirs.user_data_dir("otel-genai")/traces.db``. ``~`` is expanded; nothing is created."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get(STORE_PATH_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("otel-genai", appauthor=False)) / "traces.db"


def resolve_store_uri(store: Optional[PathLike] = None) -> str:
    """The store to use, as given: ``store`` (a URI or a path) if given, else ``$OTEL_GENAI_STORE_URI``,
    else the path of :func:`default_store_path` (``$OTEL_GENAI_STORE_PATH`` or the per-user file)."""
    if store is not None and str(store) != "":
        return os.fspath(store)
    env = os.environ.get(STORE_URI_ENV, "").strip()
    if env:
        return env
    return str(default_store_path())


def redact_uri(uri: str) -> str:
    """``uri`` without its password, for messages and ``location`` (``postgresql://user@host:5432/db``);
    a path or a URI without a password is returned as it is."""
    from urllib.parse import urlsplit, urlunsplit

    if not _URI.match(uri):
        return uri
    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        netloc = parts.netloc.rpartition("@")[2]
        if parts.username is not None:
            netloc = f"{parts.username}@{netloc}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return f"<invalid {store_scheme(uri)} URI>"


def store_scheme(uri: str) -> str:
    """The backend scheme of a store URI (lower case); a plain path is :data:`DEFAULT_BACKEND`."""
    match = _URI.match(uri)
    return match.group(1).lower() if match else DEFAULT_BACKEND


def open_store(
    store: Optional[PathLike] = None,
    *,
    read_only: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> TraceStore:
    """Open the store named by ``store`` (see :func:`resolve_store_uri`) with its backend's adapter.

    Args:
        store: a URI (``sqlite:///abs/path.db``) or a path; ``None``: the environment or the default.
        read_only: never create or modify anything (the store must exist).
        timeout_s: seconds an operation waits for another writer's lock before failing.

    Raises:
        StoreError: the URI's scheme has no backend, or the URI is invalid for its backend; and
            whatever the adapter raises (:class:`~otel_genai.store.interface.StoreNotFoundError`,
            :class:`~otel_genai.store.interface.ForeignStoreError`, ...).
    """
    uri = resolve_store_uri(store)
    scheme = store_scheme(uri)
    target = BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise StoreError(f"unsupported trace store URI scheme {scheme!r} (supported: {known}, or a file path)")
    module_name, _, function = target.partition(":")
    opener = getattr(importlib.import_module(module_name), function)
    return opener(uri, read_only=read_only, timeout_s=timeout_s)


# --- one-call reads -----------------------------------------------------------------------------


def _reader(path: Optional[PathLike], store: Optional[PathLike]) -> TraceStore:
    if path is not None and store is not None:
        raise ValueError("pass path= or store=, not both")
    return open_store(store if store is not None else path, read_only=True)


def search_traces(
    filter_string: Optional[str] = "",
    order_by: Optional[Sequence[str]] = None,
    max_results: Optional[int] = DEFAULT_MAX_RESULTS,
    page_token: Optional[str] = None,
    include_spans: bool = True,
    *,
    path: Optional[PathLike] = None,
    store: Optional[str] = None,
    **filters: Any,
) -> PagedList:
    """Stored traces matching ``filter_string`` (MLflow's grammar, :mod:`otel_genai.store.query`),
    newest first unless ``order_by`` says otherwise: :meth:`TraceStore.search_traces` on the store
    opened read-only for this call.

    Args:
        filter_string: e.g. ``"trace.status = 'ERROR' AND trace.total_tokens > 1000"``; ``""``: all.
            An ``int`` here is ``max_results`` (the former first argument); ``None`` with no
            ``max_results`` means every trace.
        order_by: e.g. ``["cost DESC"]`` (keys ``timestamp_ms``, ``execution_time_ms``,
            ``total_tokens``, ``cost``).
        max_results: page size (default 100; ``None``: all).
        page_token: the previous page's ``.token``.
        include_spans: ``False``: only ``trace.info`` is filled, much cheaper.
        path: the SQLite store file; store: a store URI (at most one of the two; default
            :func:`resolve_store_uri`).
        filters: today's keywords: ``status`` (``"OK"`` / ``"ERROR"``), ``root_span_name``,
            ``min_start_time`` / ``max_start_time`` (a ``datetime``, naive = local time, or ns).

    Returns:
        a :class:`~otel_genai.store.interface.PagedList` of :class:`~otel_genai.store.model.Trace`
        (a list; ``.token``: the next page's token, ``None`` on the last page).

    Raises:
        StoreNotFoundError: the store does not exist (it is not created).
        StoreError: the location is not a readable trace store.
        ValueError: a malformed filter (naming the offending token), order or page token, both
            ``path`` and ``store``, or a ``status`` other than OK / ERROR.
        TypeError: an unknown filter keyword.
    """
    with _reader(path, store) as opened:
        return opened.search_traces(filter_string, order_by, max_results, page_token, include_spans, **filters)


def get_trace(trace_id: str, *, path: Optional[PathLike] = None, store: Optional[str] = None) -> Optional[Trace]:
    """The stored trace ``trace_id`` (32 hex characters, as OTel prints it; a ``tr-`` prefix is
    accepted) with its spans in start order, or ``None`` when no such trace is stored.

    ``path`` / ``store``: as for :func:`search_traces`. Raises :class:`StoreNotFoundError` when the
    store does not exist (it is not created).
    """
    with _reader(path, store) as opened:
        return opened.get_trace(trace_id)


def get_last_trace_id(*, path: Optional[PathLike] = None, store: Optional[str] = None) -> Optional[str]:
    """Id of the most recently started trace in the store, or ``None`` when it holds none.

    Raises :class:`StoreNotFoundError` when the store does not exist.
    """
    with _reader(path, store) as opened:
        return opened.get_last_trace_id()


# --- one-call writes: tags and deletion ---------------------------------------------------------


def _writer(path: Optional[PathLike], store: Optional[PathLike]) -> TraceStore:
    if path is not None and store is not None:
        raise ValueError("pass path= or store=, not both")
    return open_store(store if store is not None else path)


def set_trace_tag(trace_id: str, key: str, value: str, *, path: Optional[PathLike] = None,
                  store: Optional[str] = None) -> None:
    """Set tag ``key`` = ``value`` on the stored trace ``trace_id`` (MLflow's ``set_trace_tag``).

    Raises :class:`~otel_genai.store.interface.TraceNotFoundError` for an unknown trace, ``ValueError``
    for an empty key."""
    with _writer(path, store) as opened:
        opened.set_trace_tag(trace_id, key, value)


def delete_trace_tag(trace_id: str, key: str, *, path: Optional[PathLike] = None,
                     store: Optional[str] = None) -> bool:
    """Remove tag ``key`` from the stored trace ``trace_id``; ``True`` if it was set.

    Raises :class:`~otel_genai.store.interface.TraceNotFoundError` for an unknown trace."""
    with _writer(path, store) as opened:
        return opened.delete_trace_tag(trace_id, key)


def delete_traces(
    *,
    older_than: Optional[Union[TimeLike, _dt.timedelta]] = None,
    trace_ids: Optional[Iterable[str]] = None,
    max_traces: Optional[int] = None,
    path: Optional[PathLike] = None,
    store: Optional[str] = None,
) -> int:
    """Delete whole traces: those older than ``older_than`` (a ``datetime`` / ns / ``timedelta``
    ago), the ``trace_ids``, and all but the ``max_traces`` newest (the union); returns how many.
    See :meth:`TraceStore.delete_traces`."""
    with _writer(path, store) as opened:
        return opened.delete_traces(older_than=older_than, trace_ids=trace_ids, max_traces=max_traces)
