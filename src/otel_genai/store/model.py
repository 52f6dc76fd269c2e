"""Data shapes of the trace store: the neutral write record and the read-back classes.

Write side: :class:`SpanRecord`, a plain tuple any producer can build (the SDK exporter from a
``ReadableSpan``, the OTLP/HTTP receiver from decoded protobuf or JSON).

Read side, shaped like MLflow's trace entities so the seeds' examples read the same:
``trace.info.token_usage``, ``trace.data.spans``, ``span.get_attribute("mlflow.chat.tokenUsage")``.

Units: every ``*_ns`` value is nanoseconds since the Unix epoch (as in OTel), every ``*_ms`` value
is milliseconds, token counts are tokens.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from .summary import span_usage

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def ns_to_datetime(time_ns: int) -> _dt.datetime:
    """Nanoseconds since the epoch -> timezone-aware UTC ``datetime`` (microsecond precision)."""
    return _EPOCH + _dt.timedelta(microseconds=time_ns // 1000)


class SpanRecord(NamedTuple):
    """One finished span, in the store's neutral input form.

    Fields:
        trace_id: 32 lowercase hex characters (OTel trace id).
        span_id: 16 lowercase hex characters.
        parent_id: 16 hex characters, or ``None`` for a root span.
        name: span name.
        kind: ``"INTERNAL"``, ``"SERVER"``, ``"CLIENT"``, ``"PRODUCER"`` or ``"CONSUMER"``.
        start_time_ns, end_time_ns: nanoseconds since the Unix epoch.
        status_code: ``"UNSET"``, ``"OK"`` or ``"ERROR"``.
        status_message: the status description, or ``None``.
        attributes: span attributes, raw OTel values (str, bool, int, float, or sequences of them;
            sequences are stored as JSON arrays).
        events: sequence of ``{"name": str, "time_ns": int, "attributes": dict}``.
        resource_attributes: attributes of the producing resource (``service.name``, ...).
        scope_name, scope_version: the instrumentation scope.
    """

    trace_id: str
    span_id: str
    parent_id: Optional[str]
    name: str
    kind: str
    start_time_ns: int
    end_time_ns: int
    status_code: str = "UNSET"
    status_message: Optional[str] = None
    attributes: Mapping[str, Any] = _EMPTY
    events: Sequence[Mapping[str, Any]] = ()
    resource_attributes: Mapping[str, Any] = _EMPTY
    scope_name: Optional[str] = None
    scope_version: Optional[str] = None


def _decode_json_container(value: Any) -> Any:
    """Decode ``value`` if it is a string holding a JSON object or array; else return it unchanged."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError:
                return value
    return value


@dataclass(frozen=True)
class Span:
    """A stored span, read back.

    Attributes:
        trace_id: 32 hex characters.
        span_id: 16 hex characters.
        parent_id: 16 hex characters, or ``None`` for a root span.
        name, kind: as exported (kind like ``"CLIENT"``).
        start_time_ns, end_time_ns: nanoseconds since the Unix epoch.
        status: ``"UNSET"``, ``"OK"`` or ``"ERROR"`` (the OTel status code).
        status_message: the OTel status description, or ``None``.
        attributes: raw OTel attribute values; sequences come back as lists. JSON-valued attributes
            (``mlflow.chat.tokenUsage``, ``gen_ai.input.messages``, ...) stay strings here; use
            :meth:`get_attribute` to get them decoded.
        events: list of ``{"name": str, "time_ns": int, "attributes": dict}``.
        resource_attributes: the producing resource's attributes.
        scope_name, scope_version: the instrumentation scope.
    """

    trace_id: str
    span_id: str
    parent_id: Optional[str]
    name: str
    kind: str
    start_time_ns: int
    end_time_ns: int
    status: str
    status_message: Optional[str] = None
    attributes: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    resource_attributes: dict = field(default_factory=dict)
    scope_name: Optional[str] = None
    scope_version: Optional[str] = None

    def get_attribute(self, key: str) -> Any:
        """The attribute ``key``; string values holding a JSON object or array come back decoded.

        As MLflow's ``Span.get_attribute``: ``span.get_attribute("mlflow.chat.tokenUsage")`` returns
        ``{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}``. Other values, including
        strings such as ``"true"`` or ``"123"`` and strings that are not valid JSON, are returned as
        stored. ``None`` when the attribute is absent.
        """
        return _decode_json_container(self.attributes.get(key))

    @property
    def duration_ms(self) -> float:
        """Span duration in milliseconds."""
        return (self.end_time_ns - self.start_time_ns) / 1e6

    @property
    def start_time(self) -> _dt.datetime:
        """Span start as a timezone-aware UTC ``datetime``."""
        return ns_to_datetime(self.start_time_ns)

    @property
    def token_usage(self) -> Optional[dict]:
        """This span's own token usage as a dict of token counts, or ``None``: its ``gen_ai.usage.*``
        attributes, else its ``mlflow.chat.tokenUsage`` (:func:`otel_genai.store.summary.span_usage`)."""
        return span_usage(self.attributes)


@dataclass(frozen=True)
class TraceInfo:
    """Summary of one trace.

    Attributes:
        trace_id: 32 hex characters (OTel trace id).
        status: ``"ERROR"`` if the root span's status is ERROR, else ``"OK"``. When the root span has
            not been stored (still running, or its parent lives in another process), the earliest
            span whose parent is not in the store stands in for it.
        start_time_ns: earliest span start, ns since the epoch.
        end_time_ns: latest span end, ns since the epoch.
        root_span_name: name of the root span (or its stand-in), ``None`` for an empty trace.
        token_usage: trace total of the spans' token usage (``gen_ai.usage.*``, else
            ``mlflow.chat.tokenUsage``) aggregated the MLflow way (see
            :func:`otel_genai.store.summary.aggregate_token_usage`): ``{"input_tokens",
            "output_tokens", "total_tokens"}`` plus ``cache_read_input_tokens`` /
            ``cache_creation_input_tokens`` / ``reasoning_output_tokens`` when some counted span
            reports them; ``None`` when no span reports usage.
        model: ``gen_ai.response.model`` (else ``gen_ai.request.model``) of the earliest-starting
            span that has one, or ``None``.
    """

    trace_id: str
    status: str
    start_time_ns: int
    end_time_ns: int
    root_span_name: Optional[str] = None
    token_usage: Optional[dict] = None
    model: Optional[str] = None

    @property
    def start_time(self) -> _dt.datetime:
        """Trace start as a timezone-aware UTC ``datetime``."""
        return ns_to_datetime(self.start_time_ns)

    @property
    def duration_ms(self) -> float:
        """Trace duration (latest span end - earliest span start) in milliseconds."""
        return (self.end_time_ns - self.start_time_ns) / 1e6


@dataclass(frozen=True)
class TraceData:
    """The spans of a trace, ordered by start time (empty when loaded without spans)."""

    spans: list = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    """One trace: ``info`` (:class:`TraceInfo`) and ``data`` (:class:`TraceData`)."""

    info: TraceInfo
    data: TraceData

