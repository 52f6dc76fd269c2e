"""otel-genai: OpenTelemetry-native tracing of ``openai`` and ``anthropic`` calls.

One line (``otel_genai.autolog()``) or zero (``opentelemetry-instrument python app.py``) turns every
LLM call into a GenAI semantic-convention span, stored in an embedded SQLite trace store by default
or shipped over OTLP. Read traces back with :func:`get_trace`, :func:`search_traces` (MLflow's
``filter_string`` grammar plus GenAI fields) and :func:`get_last_active_trace_id` (the shapes follow
MLflow's ``Trace``: ``trace.info.state``, ``trace.info.token_usage``, ``trace.info.cost``,
``trace.data.spans``, ``span.inputs``, ``span.get_attribute("mlflow.chat.tokenUsage")``). Group and
label traces with :func:`attributes` (session, user, tags, metadata) and
:func:`update_current_trace`; manage stored ones with :func:`set_trace_tag`,
:func:`delete_trace_tag` and :func:`delete_traces`.

Importing this package never imports ``openai`` or ``anthropic``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .store import Trace

__all__ = [
    "SpanType",
    "__version__",
    "attributes",
    "autolog",
    "delete_trace_tag",
    "delete_traces",
    "get_last_active_trace_id",
    "get_trace",
    "search_traces",
    "set_trace_tag",
    "trace",
    "update_current_trace",
]


def __getattr__(name: str) -> Any:
    """``trace`` and ``SpanType`` (agent / tool / step spans, :mod:`otel_genai.tracing`), and
    ``attributes`` / ``update_current_trace`` (:mod:`otel_genai.tracing.trace_attributes`), imported
    on first use."""
    if name in ("trace", "SpanType"):
        from . import tracing

        return getattr(tracing, name)
    if name in ("attributes", "update_current_trace"):
        from .tracing import trace_attributes

        return getattr(trace_attributes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def autolog(disable: bool = False, *, capture_content: Any = None) -> None:
    """Instrument every installed GenAI SDK in-process; see :mod:`otel_genai._autolog`. Also adds the
    processor that stamps :func:`attributes` values on every span and lets
    :func:`update_current_trace` reach the trace's root span."""
    from ._autolog import autolog as _autolog

    _autolog(disable, capture_content=capture_content)
    if not disable:
        from .instrumentation._core.faults import log_fault
        from .tracing.trace_attributes import install_processor

        try:
            install_processor()
        except Exception:
            log_fault("autolog.trace_attributes")


def _flush() -> None:
    """Push finished spans through the global provider's processors, so reads see them."""
    from opentelemetry import trace

    force_flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if force_flush is not None:
        force_flush()


def get_last_active_trace_id() -> str | None:
    """The id (32 hex chars) of this process's last finished GenAI trace, or ``None``."""
    from ._last_trace import last_trace_id

    return last_trace_id()


def get_trace(trace_id: str, *, path: Any = None, store: str | None = None) -> Trace | None:
    """One trace from the trace store (``None`` if unknown or no store yet).

    Flushes this process's pending spans first. ``path`` (a SQLite file) or ``store`` (a store URI,
    e.g. ``sqlite:///abs/path.db``) names the store; with neither, ``$OTEL_GENAI_STORE_URI``, else
    ``$OTEL_GENAI_STORE_PATH``, else the file in the user data directory.
    """
    from . import store as _store

    _flush()
    try:
        return _store.get_trace(trace_id, path=path, store=store)
    except _store.StoreNotFoundError:
        return None


_DEFAULT: Any = object()  # search_traces' max_results when not given: 100


def search_traces(
    filter_string: str | None = "",
    order_by: list[str] | None = None,
    max_results: Any = _DEFAULT,
    page_token: str | None = None,
    include_spans: bool = True,
    *,
    path: Any = None,
    store: str | None = None,
    **filters: Any,
) -> list[Trace]:
    """Traces from the trace store matching ``filter_string``, newest first (``[]`` when there is no
    store yet); MLflow's ``mlflow.search_traces(filter_string=..., order_by=..., max_results=...)``.

    Example::

        traces = otel_genai.search_traces(
            filter_string="trace.status = 'OK' AND tag.env = 'prod' AND trace.total_tokens > 100",
            order_by=["cost DESC"], max_results=20)
        more = otel_genai.search_traces(..., page_token=traces.token)  # None on the last page

    The grammar (``AND`` only; ``trace.status``, ``trace.timestamp_ms``, ``trace.execution_time_ms``,
    ``trace.name``, ``tag.<key>``, ``metadata.<key>``, ``span.name``, ``span.type``,
    ``span.attributes.<key>``, and ``trace.model``, ``trace.provider``, ``trace.*_tokens``,
    ``trace.cost``) is in :mod:`otel_genai.store.query`; a malformed filter raises ``ValueError``
    naming the offending token. Returns a list with ``.token`` (the next page's token).

    Flushes this process's pending spans first. ``path`` / ``store``: as for :func:`get_trace`.
    ``filters``: today's keywords (``status``, ``root_span_name``, ``min_start_time``,
    ``max_start_time``); an ``int`` as the first argument is ``max_results``, as before. Default
    page size: 100.
    """
    from . import store as _store
    from .store.query import DEFAULT_MAX_RESULTS

    _flush()
    try:
        return _store.search_traces(filter_string, order_by, DEFAULT_MAX_RESULTS if max_results is _DEFAULT else max_results,
                                    page_token, include_spans, path=path, store=store, **filters)
    except _store.StoreNotFoundError:
        from .store.interface import PagedList

        return PagedList([], None)


def set_trace_tag(trace_id: str, key: str, value: str, *, path: Any = None, store: str | None = None) -> None:
    """Set tag ``key`` = ``value`` on a stored trace (MLflow's ``mlflow.set_trace_tag``); flushes
    pending spans first. Raises ``otel_genai.store.TraceNotFoundError`` for an unknown trace."""
    from . import store as _store

    _flush()
    _store.set_trace_tag(trace_id, key, value, path=path, store=store)


def delete_trace_tag(trace_id: str, key: str, *, path: Any = None, store: str | None = None) -> bool:
    """Remove tag ``key`` from a stored trace (MLflow's ``mlflow.delete_trace_tag``); ``True`` if it was set."""
    from . import store as _store

    _flush()
    return _store.delete_trace_tag(trace_id, key, path=path, store=store)


def delete_traces(*, older_than: Any = None, trace_ids: Any = None, max_traces: int | None = None,
                  path: Any = None, store: str | None = None) -> int:
    """Delete stored traces: started before ``older_than`` (a ``datetime``, ns since the epoch, or a
    ``timedelta`` ago), the ``trace_ids``, and all but the ``max_traces`` newest (the union of what
    is given); returns how many. The store file gives the space back. ``0`` when there is no store."""
    from . import store as _store

    _flush()
    try:
        return _store.delete_traces(older_than=older_than, trace_ids=trace_ids, max_traces=max_traces,
                                    path=path, store=store)
    except _store.StoreNotFoundError:
        return 0
