"""Traces out of the store as files, and back: JSON lines of :meth:`Trace.to_dict` and OTLP JSON
(the ``ExportTraceServiceRequest`` JSON mapping that an OpenTelemetry Collector's ``file`` exporter
writes, one request per line; https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).

* :func:`trace_to_otlp_json`: one stored trace -> one ``ExportTraceServiceRequest`` JSON object
  (spans grouped by resource and scope; ids as hex, times as decimal strings, enums as numbers);
* :func:`trace_to_records`: a ``Trace.to_dict()`` object (a ``jsonl`` line) -> :class:`SpanRecord` s;
* :func:`import_lines`: a file of either kind, line by line, into a store (each line one
  transaction). OTLP lines go through :func:`otel_genai.store.otlp.ingest`, as ``serve`` does.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from .interface import TraceStore
from .model import SpanRecord, Trace

#: OTel span kind names -> OTLP ``Span.SpanKind`` numbers
SPAN_KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
#: OTel status code names -> OTLP ``Status.StatusCode`` numbers
STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}


def any_value(value: Any) -> Dict[str, Any]:
    """A Python attribute value as an OTLP JSON ``AnyValue`` (int64 as a decimal string)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def key_values(attributes: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """``{key: value}`` as OTLP JSON ``KeyValue`` s."""
    return [{"key": str(k), "value": any_value(v)} for k, v in attributes.items()]


def trace_to_otlp_json(trace: Trace) -> Dict[str, Any]:
    """One ``ExportTraceServiceRequest`` (OTLP JSON) holding every span of ``trace``."""
    groups: Dict[Tuple[str, Any, Any], Dict[str, Any]] = {}
    resources: Dict[str, Dict[str, Any]] = {}
    for span in trace.data.spans:
        resource_key = json.dumps(span.resource_attributes, sort_keys=True, default=str)
        resource = resources.get(resource_key)
        if resource is None:
            resource = resources[resource_key] = {
                "resource": {"attributes": key_values(span.resource_attributes)}, "scopeSpans": []}
        key = (resource_key, span.scope_name, span.scope_version)
        scope = groups.get(key)
        if scope is None:
            scope_info: Dict[str, Any] = {"name": span.scope_name or ""}
            if span.scope_version:
                scope_info["version"] = span.scope_version
            scope = groups[key] = {"scope": scope_info, "spans": []}
            resource["scopeSpans"].append(scope)
        out: Dict[str, Any] = {
            "traceId": span.trace_id,
            "spanId": span.span_id,
            "name": span.name,
            "kind": SPAN_KINDS.get(span.kind, 0),
            "startTimeUnixNano": str(span.start_time_ns),
            "endTimeUnixNano": str(span.end_time_ns),
            "attributes": key_values(span.attributes),
            "status": {"code": STATUS_CODES.get(str(span.status), 0)},
        }
        if span.parent_id:
            out["parentSpanId"] = span.parent_id
        if span.status_message:
            out["status"]["message"] = span.status_message
        if span.events:
            out["events"] = [{"timeUnixNano": str(e.get("time_ns", 0)), "name": e.get("name", ""),
                              "attributes": key_values(e.get("attributes") or {})} for e in span.events]
        scope["spans"].append(out)
    return {"resourceSpans": list(resources.values())}


def trace_to_records(data: Mapping[str, Any]) -> List[SpanRecord]:
    """The spans of a ``Trace.to_dict()`` object as :class:`SpanRecord` s (``KeyError`` /
    ``TypeError`` for another shape)."""
    trace = Trace.from_dict(data)
    return [
        SpanRecord(s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.start_time_ns, s.end_time_ns, str(s.status),
                   s.status_message, s.attributes, s.events, s.resource_attributes, s.scope_name, s.scope_version)
        for s in trace.data.spans
    ]


def import_lines(store: TraceStore, lines: Iterable[str]) -> Tuple[int, int]:
    """Store each line of ``lines``: an OTLP JSON ``ExportTraceServiceRequest`` (has
    ``resourceSpans``) or a ``Trace.to_dict()`` object (has ``info``); blank lines are skipped.
    Returns ``(lines stored, spans stored)``.

    Raises ``ValueError`` naming the line number for a line that is neither (nothing of that line
    is stored; earlier lines are), and the store's errors.
    """
    from .otlp import MalformedRequestError, ingest

    count = spans = 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"line {number}: not JSON: {exc}") from None
        if isinstance(data, dict) and "resourceSpans" in data:
            before = store.count_spans()
            try:
                response = ingest(store, text.encode("utf-8"), "application/json")
            except MalformedRequestError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            rejected = response.partial_success.rejected_spans if response.HasField("partial_success") else 0
            if rejected:
                raise ValueError(f"line {number}: {rejected} spans were rejected: {response.partial_success.error_message}")
            spans += store.count_spans() - before
        elif isinstance(data, dict) and "info" in data:
            try:
                records = trace_to_records(data)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number}: not a trace: {exc!r}") from None
            spans += store.write_spans(records)
        else:
            raise ValueError(f"line {number}: neither an OTLP JSON export request (resourceSpans) nor a trace (info)")
        count += 1
    return count, spans


__all__ = ["any_value", "import_lines", "key_values", "trace_to_otlp_json", "trace_to_records"]
