"""``TraceStoreSpanExporter``: an OpenTelemetry ``SpanExporter`` writing into a trace store.

Registered in the ``opentelemetry_traces_exporter`` entry-point group as ``otel_genai``, so
``OTEL_TRACES_EXPORTER=otel_genai`` selects it like any exporter (the SDK's auto-configuration builds it
with no arguments; the store then comes from :func:`otel_genai.store.resolve_store_uri`:
``$OTEL_GENAI_STORE_URI``, ``$OTEL_GENAI_STORE_PATH``, else the per-user SQLite file). It writes
through the :class:`~otel_genai.store.TraceStore` interface, so any backend of
:func:`otel_genai.store.open_store` works.

Each ``export()`` batch is one transaction (all-or-nothing). ``export()`` never raises: when the store
is locked, corrupt or unwritable it logs one warning (further consecutive failures at debug level) and
returns ``FAILURE``. A path naming another application's SQLite database is refused for good: one
warning, the file is never modified, and every export returns ``FAILURE``.

**Retention** (optional, :class:`RetentionPolicy`): ``OTEL_GENAI_STORE_MAX_AGE`` (``30d``, ``12h``,
``15m``, ``90s`` or a number of seconds) deletes traces that started longer ago than that;
``OTEL_GENAI_STORE_MAX_TRACES`` (an int) keeps only that many newest traces. The policy runs after a
successful export at most once per :data:`RETENTION_INTERVAL_S`, in its own daemon thread on its own
connection, so ``export()`` never waits for it; the store gives the freed space back to the file
system (SQLite: incremental vacuum). An invalid value is logged once and ignored.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import threading
import time
from typing import Any, List, NamedTuple, Optional, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..store.backends import STORE_PATH_ENV, open_store, redact_uri, resolve_store_uri
from ..store.interface import DEFAULT_TIMEOUT_S, ForeignStoreError, PathLike, TraceStore
from ..store.model import SpanRecord

_logger = logging.getLogger(__name__)

__all__ = ["RetentionPolicy", "TraceStoreSpanExporter", "span_to_record"]

MAX_AGE_ENV = "OTEL_GENAI_STORE_MAX_AGE"
MAX_TRACES_ENV = "OTEL_GENAI_STORE_MAX_TRACES"
#: seconds between two runs of the retention policy (at most)
RETENTION_INTERVAL_S = 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> _dt.timedelta:
    """``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"2w"`` or a number of seconds -> ``timedelta``.
    Raises ``ValueError`` for anything else (or a negative duration)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"invalid duration {text!r}: write e.g. 30d, 12h, 15m, 90s or a number of seconds")
    return _dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


class RetentionPolicy(NamedTuple):
    """What the exporter deletes after its exports: traces older than ``max_age``, and all but the
    ``max_traces`` newest (``None``: no such limit)."""

    max_age: Optional[_dt.timedelta] = None
    max_traces: Optional[int] = None

    @classmethod
    def from_env(cls) -> Optional["RetentionPolicy"]:
        """The policy ``OTEL_GENAI_STORE_MAX_AGE`` / ``OTEL_GENAI_STORE_MAX_TRACES`` set, or ``None``
        when neither is set. Raises ``ValueError`` for an invalid value."""
        age = os.environ.get(MAX_AGE_ENV, "").strip()
        count = os.environ.get(MAX_TRACES_ENV, "").strip()
        if not age and not count:
            return None
        max_traces = None
        if count:
            try:
                max_traces = int(count)
            except ValueError:
                raise ValueError(f"{MAX_TRACES_ENV} must be an integer, not {count!r}") from None
            if max_traces < 0:
                raise ValueError(f"{MAX_TRACES_ENV} must be >= 0, not {count!r}")
        return cls(parse_duration(age) if age else None, max_traces)

    def apply(self, store: TraceStore) -> int:
        """Delete what the policy says from ``store``; returns how many traces were deleted."""
        return store.delete_traces(older_than=self.max_age, max_traces=self.max_traces)


def span_to_record(span: ReadableSpan, resource_cache: Optional[list] = None) -> SpanRecord:
    """Convert an SDK ``ReadableSpan`` to the store's neutral :class:`SpanRecord`.

    Ids become lowercase hex (trace 32, span 16 characters); kind and status code become their enum
    names (``"CLIENT"``, ``"ERROR"``); times stay in ns; attribute tuples are stored as JSON arrays.
    ``resource_cache`` (a 2-item list ``[resource, attributes_dict]``) lets a batch convert a shared
    ``Resource`` once.
    """
    ctx = span.context
    parent = span.parent
    status = span.status
    start = span.start_time or 0
    end = span.end_time or start
    events = span.events
    resource = span.resource
    if resource_cache is not None and resource_cache[0] is resource:
        resource_attributes = resource_cache[1]
    else:
        resource_attributes = dict(resource.attributes) if resource is not None else {}
        if resource_cache is not None:
            resource_cache[0], resource_cache[1] = resource, resource_attributes
    scope = span.instrumentation_scope
    return SpanRecord(
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        format(parent.span_id, "016x") if parent is not None else None,
        span.name,
        span.kind.name,
        start,
        end,
        status.status_code.name,
        status.description,
        dict(span.attributes),
        [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in events
        ]
        if events
        else (),
        resource_attributes,
        scope.name if scope is not None else None,
        scope.version if scope is not None else None,
    )


class TraceStoreSpanExporter(SpanExporter):
    """Export finished spans into a trace store (by default the embedded SQLite file).

    Args:
        path: the store: a file path or a store URI (``sqlite:///abs/path.db``); ``None`` (what the
            SDK's auto-configuration passes) -> :func:`otel_genai.store.resolve_store_uri`
            (``$OTEL_GENAI_STORE_URI``, ``$OTEL_GENAI_STORE_PATH`` or the per-user data directory).
            The store is opened lazily on the first export, so building the exporter never touches
            the disk and never fails.
        busy_timeout_s: seconds to wait for another process's write lock before the batch fails.
        retention: a :class:`RetentionPolicy`, ``None`` (keep everything), or ``"env"`` (the
            default): the policy of ``OTEL_GENAI_STORE_MAX_AGE`` / ``OTEL_GENAI_STORE_MAX_TRACES``.

    The file must be missing, empty or an otel-genai store: another application's SQLite database
    is never written to (one warning; every export then returns ``FAILURE``).

    Use with a ``BatchSpanProcessor`` (one transaction per batch: tens of thousands of spans/s); a
    ``SimpleSpanProcessor`` works too but pays one transaction per span.
    """

    def __init__(self, path: Optional[PathLike] = None, *, busy_timeout_s: float = DEFAULT_TIMEOUT_S,
                 retention: Any = "env"):
        self._location = resolve_store_uri(path)
        if retention == "env":
            try:
                retention = RetentionPolicy.from_env()
            except ValueError as exc:
                _logger.warning("otel-genai: no trace retention: %s", exc)
                retention = None
        self._retention: Optional[RetentionPolicy] = retention
        self._retention_due = 0.0  # time.monotonic() of the next run
        self._retention_thread: Optional[threading.Thread] = None
        self._busy_timeout_s = busy_timeout_s
        self._store: Optional[TraceStore] = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._shutdown = False
        self._failing = False
        self._refused: Optional[ForeignStoreError] = None  # the path is another application's database
        self._abandoned: List[Any] = []

    @property
    def location(self) -> str:
        """The store this exporter writes to, as given or resolved: a file path or a URI (without its password)."""
        return redact_uri(self._location)

    def _get_store(self) -> TraceStore:
        store = self._store
        if store is not None and self._pid == os.getpid():
            return store
        with self._lock:
            if self._pid != os.getpid():
                # forked child: never use (or close) the parent's SQLite connection
                if self._store is not None:
                    self._abandoned.append(self._store)
                self._store, self._pid = None, os.getpid()
            if self._store is None:
                self._store = open_store(self._location, timeout_s=self._busy_timeout_s)
            return self._store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans`` as one transaction; ``SUCCESS`` or ``FAILURE`` (nothing stored), never raises."""
        if self._shutdown:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        if self._refused is not None:
            _logger.debug("otel-genai: dropped %d spans: %s", len(spans), self._refused)
            return SpanExportResult.FAILURE
        try:
            cache: list = [None, None]
            records = [span_to_record(s, cache) for s in spans]
            self._get_store().write_spans(records)
        except ForeignStoreError as exc:  # never retried: the file is left alone from now on
            self._refused = exc
            _logger.warning(
                "otel-genai: dropped %d spans and will export no more: %s (choose another file, e.g. with %s)",
                len(spans), exc, STORE_PATH_ENV,
            )
            return SpanExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - an exporter must never raise into the SDK
            self._report_failure(len(spans), exc)
            return SpanExportResult.FAILURE
        if self._failing:
            self._failing = False
            _logger.info("otel-genai: the trace store at %s accepts spans again", redact_uri(self._location))
        if self._retention is not None:
            self._maybe_apply_retention()
        return SpanExportResult.SUCCESS

    def _maybe_apply_retention(self) -> None:
        """Start the retention policy in a daemon thread when it is due and not running already."""
        now = time.monotonic()
        running = self._retention_thread
        if now < self._retention_due or (running is not None and running.is_alive()):
            return
        self._retention_due = now + RETENTION_INTERVAL_S
        thread = threading.Thread(target=self._apply_retention, name="otel-genai-retention", daemon=True)
        self._retention_thread = thread
        thread.start()

    def _apply_retention(self) -> None:
        policy = self._retention
        if policy is None or self._shutdown:
            return
        try:
            with open_store(self._location, timeout_s=self._busy_timeout_s) as store:
                deleted = policy.apply(store)
            if deleted:
                _logger.debug("otel-genai: retention deleted %d traces from %s", deleted, redact_uri(self._location))
        except Exception as exc:  # noqa: BLE001 - a background job; the next run retries
            _logger.debug("otel-genai: trace retention failed: %s", exc)

    def wait_for_retention(self, timeout_s: float = 10.0) -> None:
        """Wait for a running retention pass to finish (tests, shutdown)."""
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout_s)

    def _report_failure(self, count: int, exc: Exception) -> None:
        if self._failing:
            _logger.debug("otel-genai: trace store export failed again: %s", exc)
            return
        self._failing = True
        _logger.warning(
            "otel-genai: dropped %d spans: could not write them to the trace store at %s: %s "
            "(further failures are logged at debug level until a write succeeds)",
            count,
            redact_uri(self._location),
            exc,
        )

    def shutdown(self) -> None:
        """Close the store (after a running retention pass, at most 5 s); later exports return ``FAILURE``."""
        self.wait_for_retention(5.0)
        with self._lock:
            self._shutdown = True
            store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:  # noqa: BLE001
                _logger.debug("otel-genai: closing the trace store failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every export is committed before it returns."""
        return True
