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

from .summary import span_type as _span_type
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


class SpanStatus(str):
    """A span's OTel status code (``"UNSET"``, ``"OK"``, ``"ERROR"``): a ``str``, so
    ``span.status == "ERROR"`` reads as before, with MLflow's ``SpanStatus`` fields ``status_code``
    (the same string) and ``description`` (the status message, or ``""``)."""

    description: str

    def __new__(cls, status_code: str, description: Optional[str] = None) -> "SpanStatus":
        obj = super().__new__(cls, status_code)
        obj.description = description or ""
        return obj

    @property
    def status_code(self) -> str:
        return str(self)

    def __reduce__(self) -> Any:
        return (SpanStatus, (str(self), self.description))


@dataclass(frozen=True)
class Span:
    """A stored span, read back, with MLflow's ``Span`` names (``span_type``, ``inputs``, ``outputs``,
    ``status.status_code``, ``get_attribute``).

    Attributes:
        trace_id: 32 hex characters.
        span_id: 16 hex characters.
        parent_id: 16 hex characters, or ``None`` for a root span.
        name, kind: as exported (kind like ``"CLIENT"``).
        start_time_ns, end_time_ns: nanoseconds since the Unix epoch.
        status: a :class:`SpanStatus`: the OTel status code (``"UNSET"``, ``"OK"``, ``"ERROR"``) as
            a ``str``, with ``.status_code`` and ``.description``.
        status_message: the OTel status description, or ``None``.
        attributes: raw OTel attribute values; sequences come back as lists. JSON-valued attributes
            (``mlflow.chat.tokenUsage``, ``gen_ai.input.messages``, ...) stay strings here; use
            :meth:`get_attribute` to get them decoded.
        events: list of ``{"name": str, "time_ns": int, "attributes": dict}``.
        resource_attributes: the producing resource's attributes.
        scope_name, scope_version: the instrumentation scope.
        cost: ``{"input_cost", "output_cost", "total_cost"}`` (USD) of an inference span priced
            when stored (:mod:`otel_genai.store.pricing`), else ``None``.
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
    cost: Optional[dict] = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, SpanStatus):
            object.__setattr__(self, "status", SpanStatus(self.status, self.status_message))

    def get_attribute(self, key: str) -> Any:
        """The attribute ``key``; string values holding a JSON object or array come back decoded.

        As MLflow's ``Span.get_attribute``: ``span.get_attribute("mlflow.chat.tokenUsage")`` returns
        ``{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}``. Other values, including
        strings such as ``"true"`` or ``"123"`` and strings that are not valid JSON, are returned as
        stored. ``None`` when the attribute is absent.
        """
        return _decode_json_container(self.attributes.get(key))

    @property
    def span_type(self) -> str:
        """MLflow's span type: ``mlflow.spanType`` as stored (``CHAT_MODEL``, ``TOOL``, ``AGENT``, ...),
        else derived from ``gen_ai.operation.name``, else ``"UNKNOWN"`` (:func:`otel_genai.store.summary.span_type`)."""
        return _span_type(self.attributes)

    @property
    def inputs(self) -> Any:
        """What went in: ``mlflow.spanInputs`` decoded (an ``otel_genai.trace`` span's bound
        arguments, or the request of an MLflow-parity inference span), else the inference span's
        captured ``gen_ai.input.messages`` (semconv v1.41.1 message list); ``None`` when not captured."""
        return _content(self.attributes, _SPAN_INPUTS, _INPUT_MESSAGES)

    @property
    def outputs(self) -> Any:
        """What came out: ``mlflow.spanOutputs`` decoded (a traced function's return value), else
        the captured ``gen_ai.output.messages``; ``None`` when not captured."""
        return _content(self.attributes, _SPAN_OUTPUTS, _OUTPUT_MESSAGES)

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

    def to_dict(self) -> dict:
        """A JSON-ready dict (see :meth:`Trace.to_dict`); :meth:`from_dict` reads it back."""
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "kind": self.kind,
            "span_type": self.span_type,
            "start_time_ns": self.start_time_ns,
            "end_time_ns": self.end_time_ns,
            "status": {"status_code": str(self.status), "description": self.status_message or ""},
            "attributes": dict(self.attributes),
            "events": list(self.events),
            "resource_attributes": dict(self.resource_attributes),
            "scope_name": self.scope_name,
            "scope_version": self.scope_version,
            "cost": self.cost,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Span":
        """The span :meth:`to_dict` made. Raises ``KeyError`` / ``TypeError`` for another shape."""
        status = d["status"]
        code = status["status_code"] if isinstance(status, Mapping) else status
        message = (status.get("description") or None) if isinstance(status, Mapping) else d.get("status_message")
        return cls(
            trace_id=d["trace_id"], span_id=d["span_id"], parent_id=d.get("parent_id"), name=d["name"],
            kind=d.get("kind", "INTERNAL"), start_time_ns=int(d["start_time_ns"]), end_time_ns=int(d["end_time_ns"]),
            status=code, status_message=message, attributes=dict(d.get("attributes") or {}),
            events=list(d.get("events") or []), resource_attributes=dict(d.get("resource_attributes") or {}),
            scope_name=d.get("scope_name"), scope_version=d.get("scope_version"), cost=d.get("cost"),
        )


_SPAN_INPUTS, _SPAN_OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"
_INPUT_MESSAGES, _OUTPUT_MESSAGES = "gen_ai.input.messages", "gen_ai.output.messages"


def _content(attributes: Mapping[str, Any], mlflow_key: str, messages_key: str) -> Any:
    value = attributes.get(mlflow_key)
    if value is None:
        value = attributes.get(messages_key)
        if value is None:
            return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class TraceInfo:
    """Summary of one trace, with MLflow's ``TraceInfo`` names (today's names kept as aliases).

    Attributes:
        trace_id: 32 hex characters (OTel trace id).
        status: ``"ERROR"`` if the root span's status is ERROR, else ``"OK"``. When the root span has
            not been stored (still running, or its parent lives in another process), the earliest
            span whose parent is not in the store stands in for it.
        start_time_ns: earliest span start, ns since the epoch.
        end_time_ns: latest span end, ns since the epoch.
        root_span_name: name of the root span (or its stand-in), ``None`` for an empty trace
            (MLflow's name: :attr:`trace_name`).
        token_usage: trace total of the spans' token usage (``gen_ai.usage.*``, else
            ``mlflow.chat.tokenUsage``) aggregated the MLflow way (see
            :func:`otel_genai.store.summary.aggregate_token_usage`): ``{"input_tokens",
            "output_tokens", "total_tokens"}`` plus ``cache_read_input_tokens`` /
            ``cache_creation_input_tokens`` / ``reasoning_output_tokens`` when some counted span
            reports them; ``None`` when no span reports usage.
        model: ``gen_ai.response.model`` (else ``gen_ai.request.model``) of the earliest-starting
            span that has one, or ``None``.
        state: MLflow's ``TraceState``: ``"OK"``, ``"ERROR"`` (the root span's status), or
            ``"IN_PROGRESS"`` while no root span (no parent) is stored.
        tags: ``{key: value}`` trace tags (``mlflow.traceTag.<key>`` span attributes, and
            :func:`otel_genai.set_trace_tag`).
        trace_metadata: ``{key: value}``: ``mlflow.trace.session`` / ``mlflow.trace.user`` (from the
            spans' ``session.id`` / ``gen_ai.conversation.id`` / ``user.id``) and the
            ``otel_genai.trace.metadata.<key>`` entries.
        cost: ``{"input_cost", "output_cost", "total_cost"}`` in USD (:mod:`otel_genai.store.pricing`),
            ``None`` when no span could be priced.
        request_preview, response_preview: the first user message / the final output text (at
            most 1000 characters), or what :func:`otel_genai.update_current_trace` set.
        provider: ``gen_ai.provider.name`` of the span that gave ``model``.
        service_name: the root span's resource ``service.name``.
    """

    trace_id: str
    status: str
    start_time_ns: int
    end_time_ns: int
    root_span_name: Optional[str] = None
    token_usage: Optional[dict] = None
    model: Optional[str] = None
    state: str = "OK"
    tags: dict = field(default_factory=dict)
    trace_metadata: dict = field(default_factory=dict)
    cost: Optional[dict] = None
    request_preview: Optional[str] = None
    response_preview: Optional[str] = None
    provider: Optional[str] = None
    service_name: Optional[str] = None

    @property
    def start_time(self) -> _dt.datetime:
        """Trace start as a timezone-aware UTC ``datetime``."""
        return ns_to_datetime(self.start_time_ns)

    @property
    def duration_ms(self) -> float:
        """Trace duration (latest span end - earliest span start) in milliseconds."""
        return (self.end_time_ns - self.start_time_ns) / 1e6

    @property
    def request_time(self) -> int:
        """MLflow's ``request_time``: the trace start in ms since the epoch."""
        return self.start_time_ns // 1_000_000

    @property
    def execution_duration(self) -> int:
        """MLflow's ``execution_duration``: the trace duration in ms (whole ms)."""
        return (self.end_time_ns - self.start_time_ns) // 1_000_000

    #: MLflow 2.x names of the same values
    timestamp_ms = request_time
    execution_time_ms = execution_duration

    @property
    def trace_name(self) -> Optional[str]:
        """The root span's name (MLflow's ``mlflow.traceName`` tag holds the same)."""
        return self.root_span_name

    @property
    def request_id(self) -> str:
        """MLflow 2.x's ``request_id``: the trace id."""
        return self.trace_id

    @property
    def session_id(self) -> Optional[str]:
        """``trace_metadata["mlflow.trace.session"]``, or ``None``."""
        return self.trace_metadata.get("mlflow.trace.session")

    @property
    def user_id(self) -> Optional[str]:
        """``trace_metadata["mlflow.trace.user"]``, or ``None``."""
        return self.trace_metadata.get("mlflow.trace.user")

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field plus the derived ``request_time``, ``execution_duration``,
        ``trace_name`` (see :meth:`Trace.to_dict`)."""
        return {
            "trace_id": self.trace_id,
            "state": self.state,
            "status": self.status,
            "request_time": self.request_time,
            "execution_duration": self.execution_duration,
            "start_time_ns": self.start_time_ns,
            "end_time_ns": self.end_time_ns,
            "trace_name": self.trace_name,
            "root_span_name": self.root_span_name,
            "request_preview": self.request_preview,
            "response_preview": self.response_preview,
            "tags": dict(self.tags),
            "trace_metadata": dict(self.trace_metadata),
            "token_usage": None if self.token_usage is None else dict(self.token_usage),
            "cost": None if self.cost is None else dict(self.cost),
            "model": self.model,
            "provider": self.provider,
            "service_name": self.service_name,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TraceInfo":
        """The info :meth:`to_dict` made (derived keys ignored)."""
        return cls(
            trace_id=d["trace_id"], status=d.get("status", "OK"), start_time_ns=int(d["start_time_ns"]),
            end_time_ns=int(d["end_time_ns"]), root_span_name=d.get("root_span_name", d.get("trace_name")),
            token_usage=d.get("token_usage"), model=d.get("model"), state=d.get("state", "OK"),
            tags=dict(d.get("tags") or {}), trace_metadata=dict(d.get("trace_metadata") or {}), cost=d.get("cost"),
            request_preview=d.get("request_preview"), response_preview=d.get("response_preview"),
            provider=d.get("provider"), service_name=d.get("service_name"),
        )


@dataclass(frozen=True)
class TraceData:
    """The spans of a trace, ordered by start time (empty when loaded without spans)."""

    spans: list = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    """One trace: ``info`` (:class:`TraceInfo`) and ``data`` (:class:`TraceData`).

    ``json.dumps(trace.to_dict())`` (or :meth:`to_json`) serialises it; :meth:`from_json` /
    :meth:`from_dict` read it back, equal to the original.
    """

    info: TraceInfo
    data: TraceData

    def to_dict(self) -> dict:
        """``{"info": {...}, "data": {"spans": [{...}, ...]}}``: plain JSON values only. ``info``
        holds ``trace_id``, ``state``, ``status``, ``request_time`` (ms), ``execution_duration``
        (ms), ``start_time_ns`` / ``end_time_ns``, ``trace_name``, ``root_span_name``, the previews,
        ``tags``, ``trace_metadata``, ``token_usage``, ``cost``, ``model``, ``provider``,
        ``service_name``; each span ``trace_id``, ``span_id``, ``parent_id``, ``name``, ``kind``,
        ``span_type``, times in ns, ``status`` ``{"status_code", "description"}``, ``attributes``,
        ``events``, ``resource_attributes``, the scope, ``cost``."""
        return {"info": self.info.to_dict(), "data": {"spans": [s.to_dict() for s in self.data.spans]}}

    def to_json(self, pretty: bool = False) -> str:
        """:meth:`to_dict` as JSON text (indented when ``pretty``)."""
        return json.dumps(self.to_dict(), indent=2 if pretty else None, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Trace":
        """The trace :meth:`to_dict` made. Raises ``KeyError`` / ``TypeError`` for another shape."""
        spans = [Span.from_dict(s) for s in (d.get("data") or {}).get("spans") or []]
        return cls(info=TraceInfo.from_dict(d["info"]), data=TraceData(spans=spans))

    @classmethod
    def from_json(cls, text: str) -> "Trace":
        """The trace :meth:`to_json` wrote. Raises ``ValueError`` for text that is not such JSON."""
        try:
            return cls.from_dict(json.loads(text))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an otel-genai trace JSON: {exc!r}") from exc
