"""OTLP trace export requests -> store records, and their ingest: the protocol, not the transport.

:func:`ingest` is what a receiver does with one request body: decode it
(:func:`parse_export_request`: protobuf or OTLP JSON -> ``ExportTraceServiceRequest``), turn its
spans into :class:`~otel_genai.store.model.SpanRecord` s (:func:`request_to_records`, shared by both
encodings), store the valid ones in one transaction, and build the ``ExportTraceServiceResponse``
(``partial_success`` counts the spans left out). See https://opentelemetry.io/docs/specs/otlp/.

Errors are the domain's, never HTTP's: :class:`MalformedRequestError` for a body that is not a
request, and the store's own (:class:`~otel_genai.store.interface.StoreUnavailableError`,
:class:`~otel_genai.store.interface.StoreWriteError`). The HTTP layer
(:mod:`otel_genai.server.ingest`) maps them to status codes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .interface import TraceStore
from .model import SpanRecord

__all__ = [
    "JSON",
    "PROTOBUF",
    "MalformedRequestError",
    "ingest",
    "parse_export_request",
    "request_to_records",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class MalformedRequestError(ValueError):
    """A body that is not a valid OTLP ``ExportTraceServiceRequest`` in its encoding; nothing of it is stored."""


def ingest(store: TraceStore, body: bytes, media_type: str) -> ExportTraceServiceResponse:
    """Decode one OTLP export request (``media_type`` :data:`PROTOBUF` or :data:`JSON`) and store its
    valid spans in one transaction.

    Returns the ``ExportTraceServiceResponse`` to send (``partial_success`` counts the spans left out).

    Raises:
        MalformedRequestError: ``body`` is not a valid request of ``media_type`` (nothing stored).
        StoreUnavailableError, StoreWriteError: the store did not take the batch (nothing stored).
    """
    request = parse_export_request(body, media_type)
    records, rejected = request_to_records(request)
    if records:
        store.write_spans(records)
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = len(rejected)
        shown = "; ".join(rejected[:3]) + ("; ..." if len(rejected) > 3 else "")
        response.partial_success.error_message = f"{len(rejected)} spans rejected: {shown}"
    return response


def parse_export_request(body: bytes, media_type: str) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from a protobuf (:data:`PROTOBUF`) or OTLP JSON body.

    Raises :class:`MalformedRequestError` when ``body`` is not a valid request in that encoding.

    OTLP JSON differs from protobuf's canonical JSON mapping in its ids: ``traceId``, ``spanId`` and
    ``parentSpanId`` (spans and links) are hex strings, not base64. They are converted before
    parsing; enum fields may be integers or names; unknown fields are ignored, as the spec asks.
    """
    request = ExportTraceServiceRequest()
    if media_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise MalformedRequestError(f"malformed protobuf ExportTraceServiceRequest: {exc}") from None
        return request
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedRequestError(f"malformed JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedRequestError("malformed OTLP JSON: the body must be a JSON object with resourceSpans")
    try:
        _hex_ids_to_base64(data)
        json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedRequestError(f"malformed OTLP JSON ExportTraceServiceRequest: {exc}") from None
    return request


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(data: dict[str, Any]) -> None:
    """Rewrite the hex id strings of an OTLP JSON request in place as base64 (protobuf's JSON form)."""
    for resource_spans in _items(data, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert_ids(span)
                for link in _items(span, "links"):
                    _convert_ids(link)


def _items(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in keys:
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f"{key!r} must be a JSON array")
            return value
    return []


def _convert_ids(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in _ID_FIELDS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a hex string, got {value!r}")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"{key} is not a hex string: {value!r}") from None
        obj[key] = base64.b64encode(raw).decode("ascii")


_KINDS = ("INTERNAL", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")  # index = OTLP SpanKind
_STATUS_CODES = ("UNSET", "OK", "ERROR")  # index = OTLP Status.StatusCode
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


def request_to_records(request: ExportTraceServiceRequest) -> tuple[list[SpanRecord], list[str]]:
    """The spans of an export request as store records, and why each left-out span was rejected.

    A span is rejected when its trace id is not 16 bytes (or all zero), its span id not 8 bytes (or
    all zero), or its parent span id neither empty nor 8 bytes. Ids become lowercase hex, kind and
    status their names (``SPAN_KIND_UNSPECIFIED`` is taken as ``INTERNAL``), attribute values plain
    Python values (arrays -> lists, key-value lists -> dicts). Links and dropped counts are not kept.
    """
    records: list[SpanRecord] = []
    rejected: list[str] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)  # one dict shared by its spans
        for scope_spans in resource_spans.scope_spans:
            scope_name, scope_version = scope_spans.scope.name, scope_spans.scope.version  # "" as the SDK has it
            for span in scope_spans.spans:
                trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
                if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
                    rejected.append(f"span {span.name!r}: invalid trace id {trace_id.hex()!r}")
                    continue
                if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
                    rejected.append(f"span {span.name!r}: invalid span id {span_id.hex()!r}")
                    continue
                if parent_id and len(parent_id) != 8:
                    rejected.append(f"span {span.name!r}: invalid parent span id {parent_id.hex()!r}")
                    continue
                kind = span.kind
                code = span.status.code
                records.append(SpanRecord(
                    trace_id.hex(),
                    span_id.hex(),
                    parent_id.hex() if parent_id and parent_id != _ZERO_SPAN_ID else None,
                    span.name,
                    _KINDS[kind] if 0 <= kind < len(_KINDS) else "INTERNAL",
                    span.start_time_unix_nano,
                    span.end_time_unix_nano or span.start_time_unix_nano,
                    _STATUS_CODES[code] if 0 <= code < len(_STATUS_CODES) else "UNSET",
                    span.status.message or None,
                    _attributes(span.attributes),
                    [
                        {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _attributes(e.attributes)}
                        for e in span.events
                    ],
                    resource,
                    scope_name,
                    scope_version,
                ))
    return records, rejected


def _attributes(key_values: Any) -> dict[str, Any]:
    out = {}
    for kv in key_values:
        value = _any_value(kv.value)
        if value is not None:
            out[kv.key] = value
    return out


def _any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (``None`` when it holds nothing)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value
    return None

