"""The trace store: one interface, adapters chosen by URI, and the OTLP ingest in front of it.

Layout, top-down:

* :mod:`.interface`: the :class:`TraceStore` protocol every backend satisfies, and its errors
  (:class:`StoreUnavailableError` retryable, :class:`StoreWriteError` not, ...).
* :mod:`.backends`: :func:`open_store` picks the adapter from a URI (``sqlite:///abs/path.db`` or a
  plain path; ``$OTEL_GENAI_STORE_URI``, ``$OTEL_GENAI_STORE_PATH``, else the per-user default file)
  through its one-line-per-backend table, and the one-call reads :func:`search_traces`,
  :func:`get_trace`, :func:`get_last_trace_id`.
* :mod:`.summary`: the trace-summary rules, pure and stated once: a span's and a trace's token
  usage (``gen_ai.usage.*`` from any instrumentation, ``mlflow.chat.tokenUsage`` as the fallback,
  MLflow's ancestor rule), root, status, time range, model.
* :mod:`.model`: the records: :class:`SpanRecord` in, MLflow-shaped :class:`Trace` out
  (``to_dict`` / ``to_json`` / ``from_json``).
* :mod:`.query`: the ``search_traces`` filter grammar (MLflow's, plus GenAI fields) -> AST -> SQL
  per dialect, ``order_by``, page tokens.
* :mod:`.pricing`: a span's cost with ``genai-prices``, at store time.
* :mod:`.export`: traces as JSON lines or OTLP JSON files, and back (``otel-genai traces export|import``).
* :mod:`.sqlite`: the SQLite adapter, :class:`SQLiteTraceStore` (SQL and connection handling only).
* :mod:`.otlp`: OTLP export requests (protobuf or JSON) -> :class:`SpanRecord`, and their ingest.
* :mod:`.receiver`: an alias of :mod:`otel_genai.server`, the HTTP server behind ``otel-genai serve`` / ``ui``.

Write: ``open_store().write_spans([SpanRecord, ...])`` (one transaction per batch), fed by
:class:`otel_genai.exporters.store.TraceStoreSpanExporter`, ``otel-genai serve`` or any producer.
"""

from .backends import (
    BACKENDS,
    STORE_PATH_ENV,
    STORE_URI_ENV,
    default_store_path,
    delete_trace_tag,
    delete_traces,
    get_last_trace_id,
    get_trace,
    open_store,
    resolve_store_uri,
    search_traces,
    set_trace_tag,
)
from .interface import (
    AmbiguousTraceIdError,
    ForeignStoreError,
    PagedList,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
    StoreWriteError,
    TraceNotFoundError,
    TraceStore,
)
from .model import Span, SpanRecord, SpanStatus, Trace, TraceData, TraceInfo
from .sqlite import SQLiteTraceStore
from .summary import aggregate_span_usage, aggregate_token_usage, parse_token_usage, span_usage

__all__ = [
    "BACKENDS",
    "STORE_PATH_ENV",
    "STORE_URI_ENV",
    "AmbiguousTraceIdError",
    "ForeignStoreError",
    "PagedList",
    "SQLiteTraceStore",
    "Span",
    "SpanRecord",
    "SpanStatus",
    "StoreError",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "StoreWriteError",
    "Trace",
    "TraceData",
    "TraceInfo",
    "TraceNotFoundError",
    "TraceStore",
    "aggregate_span_usage",
    "aggregate_token_usage",
    "default_store_path",
    "delete_trace_tag",
    "delete_traces",
    "get_last_trace_id",
    "get_trace",
    "open_store",
    "parse_token_usage",
    "resolve_store_uri",
    "search_traces",
    "set_trace_tag",
    "span_usage",
]
