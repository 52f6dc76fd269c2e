"""The embedded SQLite trace store (DESIGN.md §6).

Write: :class:`TraceStore` ``.write_spans([SpanRecord, ...])`` (one transaction per batch), fed by
:class:`otel_genai.exporters.store.TraceStoreSpanExporter` or any other producer of
:class:`SpanRecord`. Read: :func:`search_traces`, :func:`get_trace`, :func:`get_last_trace_id`,
returning MLflow-shaped :class:`Trace` objects whose ``info.token_usage`` aggregates
``mlflow.chat.tokenUsage`` the way MLflow does (:mod:`otel_genai.store.usage`).

The file is :func:`default_store_path`: an explicit path, else ``$OTEL_GENAI_STORE_PATH``, else
``platformdirs.user_data_dir("otel-genai")/traces.db``.
"""

from .db import (
    STORE_PATH_ENV,
    AmbiguousTraceIdError,
    StoreError,
    StoreNotFoundError,
    StoreWriteError,
    TraceNotFoundError,
    TraceStore,
    default_store_path,
    get_last_trace_id,
    get_trace,
    search_traces,
)
from .model import Span, SpanRecord, Trace, TraceData, TraceInfo
from .usage import aggregate_span_usage, aggregate_token_usage, parse_token_usage

__all__ = [
    "STORE_PATH_ENV",
    "AmbiguousTraceIdError",
    "Span",
    "SpanRecord",
    "StoreError",
    "StoreNotFoundError",
    "StoreWriteError",
    "Trace",
    "TraceData",
    "TraceInfo",
    "TraceNotFoundError",
    "TraceStore",
    "aggregate_span_usage",
    "aggregate_token_usage",
    "default_store_path",
    "get_last_trace_id",
    "get_trace",
    "parse_token_usage",
    "search_traces",
]
