"""otel-genai: OpenTelemetry-native tracing of ``openai`` and ``anthropic`` calls.

One line (``otel_genai.autolog()``) or zero (``opentelemetry-instrument python app.py``) turns every
LLM call into a GenAI semantic-convention span, stored in an embedded SQLite trace store by default
or shipped over OTLP. Read traces back with :func:`get_trace`, :func:`search_traces` and
:func:`get_last_active_trace_id` (the shapes follow MLflow's ``Trace``: ``trace.info.token_usage``,
``trace.data.spans``, ``span.get_attribute("mlflow.chat.tokenUsage")``).

Importing this package never imports ``openai`` or ``anthropic``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .store import Trace

__all__ = ["SpanType", "__version__", "autolog", "get_last_active_trace_id", "get_trace", "search_traces", "trace"]


def __getattr__(name: str) -> Any:
    """``trace`` and ``SpanType`` (agent / tool / step spans, :mod:`otel_genai.tracing`), imported on first use."""
    if name in ("trace", "SpanType"):
        from . import tracing

        return getattr(tracing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def autolog(disable: bool = False, *, capture_content: Any = None) -> None:
    """Instrument every installed GenAI SDK in-process; see :mod:`otel_genai._autolog`."""
    from ._autolog import autolog as _autolog

    _autolog(disable, capture_content=capture_content)


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


def search_traces(max_results: int = 100, *, path: Any = None, store: str | None = None, **filters: Any) -> list[Trace]:
    """Traces from the trace store, newest first (``[]`` when there is no store yet).

    ``path`` / ``store``: as for :func:`get_trace`. ``filters``: see
    :func:`otel_genai.store.search_traces` (``status``, ``root_span_name``, ``min_start_time``,
    ``max_start_time``, ``include_spans``).
    """
    from . import store as _store

    _flush()
    try:
        return _store.search_traces(max_results, path=path, store=store, **filters)
    except _store.StoreNotFoundError:
        return []
