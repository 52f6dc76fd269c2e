"""``POST /v1/traces``: OTLP/HTTP trace ingest into the store, as an ASGI endpoint.

What it speaks (https://opentelemetry.io/docs/specs/otlp/#otlphttp):

* ``POST /v1/traces`` with ``Content-Type: application/x-protobuf`` or ``application/json`` (OTLP JSON:
  lowerCamelCase keys, hex trace/span ids, enums as integers or names), optionally
  ``Content-Encoding: gzip`` (or ``deflate``). The answer is an ``ExportTraceServiceResponse`` in the
  request's encoding; spans with invalid ids are left out and counted in ``partial_success``.
* A batch is one store transaction: all of its valid spans are stored, or none (503 + ``Retry-After``
  when the store cannot take it now: the client retries; 500 when the store refuses it for good).
* The body comes with a ``Content-Length`` or ``Transfer-Encoding: chunked``.
* Errors carry a ``google.rpc.Status`` with a message: 400 malformed body, 401 missing/wrong bearer
  token, 403 the server is read-only, 404 unknown path, 405 wrong method, 408 request not received
  within the read timeout, 411 no length, 413 body over the size limit (compressed or not), 415 other
  content types or encodings, 501 other transfer codings.

Decoding and storing a body is :func:`otel_genai.store.otlp.ingest` (run in a worker thread: it is
CPU and store bound); its domain errors are mapped to status codes by :func:`as_ingest_error`.
"""

from __future__ import annotations

import hmac
import logging
import zlib
from typing import Any, Optional

from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..store.interface import StoreUnavailableError, StoreWriteError
from ..store.otlp import JSON, PROTOBUF, MalformedRequestError, ingest
from .http11 import BodyError

_logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
HEALTH_PATH = "/health"

# google.rpc.Code for each HTTP status we answer with
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 408: 4, 411: 3, 413: 8, 415: 3, 500: 13, 501: 12, 503: 14}


class IngestError(Exception):
    """A request that is answered with an HTTP error status and a ``google.rpc.Status`` message.

    ``close``: the connection cannot be reused (the body's end is unknown or was not read).
    """

    def __init__(self, http_status: int, message: str, headers: tuple[tuple[str, str], ...] = (),
                 close: bool = False) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.headers = headers
        self.close = close


def as_ingest_error(exc: Exception, method: str, path: str) -> IngestError:
    """The HTTP answer to a failed request: domain errors by their meaning, anything unexpected 500."""
    if isinstance(exc, IngestError):
        return exc
    if isinstance(exc, ClientDisconnect):  # nobody reads the answer; nothing to log
        return IngestError(400, "the client closed the connection before its body arrived", close=True)
    if isinstance(exc, TimeoutError):
        return IngestError(408, str(exc), close=True)
    if isinstance(exc, BodyError):
        return IngestError(exc.http_status, exc.message, close=True)
    if isinstance(exc, MalformedRequestError):
        return IngestError(400, str(exc))
    if isinstance(exc, StoreUnavailableError):
        return IngestError(503, f"the trace store cannot take the batch now: {exc}", (("Retry-After", "1"),))
    if isinstance(exc, StoreWriteError):
        return IngestError(500, f"the trace store refused the batch: {exc}")
    _logger.exception("otel-genai serve: unexpected error on %s %s", method, path)
    return IngestError(500, f"internal error: {exc!r}")


def media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def status_response(exc: IngestError, request_media_type: str) -> Response:
    """The error answer: a ``google.rpc.Status`` in the request's encoding (JSON if it has none)."""
    status = Status(code=_RPC_CODES.get(exc.http_status, 2), message=exc.message)
    if request_media_type == PROTOBUF:
        content_type, body = PROTOBUF, status.SerializeToString()
    else:
        content_type, body = JSON, encode_message(status, JSON)
    headers = dict(exc.headers)
    if exc.close:
        headers["Connection"] = "close"
    return Response(body, status_code=exc.http_status, media_type=content_type, headers=headers)


def check_token(request: Request, token: Optional[str]) -> None:
    """401 unless ``Authorization: Bearer <token>`` (constant-time compare); nothing when ``token`` is None."""
    if token is None:
        return
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise IngestError(401, "missing or wrong bearer token", (("WWW-Authenticate", "Bearer"),))


async def traces_endpoint(request: Request) -> Response:
    """``/v1/traces`` (every method routed here, so a wrong one gets our 405)."""
    settings = request.app.state.settings
    request_media_type = media_type(request)
    try:
        if request.method != "POST":
            raise IngestError(405, f"use POST for {TRACES_PATH}", (("Allow", "POST"),))
        check_token(request, settings.token)
        if settings.read_only:
            raise IngestError(403, "this server is read-only (--read-only): it takes no traces")
        if request_media_type not in (PROTOBUF, JSON):
            raise IngestError(415, f"unsupported Content-Type {request.headers.get('content-type')!r}:"
                                   f" send {PROTOBUF} or {JSON}")
        encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
        if encoding not in _DECOMPRESSORS:
            raise IngestError(415, f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none")
        body = await _read_body(request, settings.max_body_bytes)
        response = await run_in_threadpool(_decode_and_ingest, request.app.state.store, body, encoding,
                                           request_media_type, settings.max_body_bytes)
        return Response(encode_message(response, request_media_type), media_type=request_media_type)
    except Exception as exc:  # noqa: BLE001 - every failure is answered; the server keeps serving
        return status_response(as_ingest_error(exc, request.method, request.url.path), request_media_type)


def _decode_and_ingest(store: Any, body: bytes, encoding: str, request_media_type: str, limit: int) -> Any:
    return ingest(store, _decompress(body, encoding, limit), request_media_type)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body (Content-Length or chunked), at most ``limit`` bytes, else 413."""
    header = request.headers.get("transfer-encoding")
    if header is not None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise IngestError(501, f"unsupported Transfer-Encoding {header!r}: send chunked or a Content-Length",
                              close=True)
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise IngestError(413, f"chunked body is over the {limit}-byte limit", close=True)
            parts.append(part)
        return b"".join(parts)
    length_header = request.headers.get("content-length")
    if length_header is None:
        raise IngestError(411, "a Content-Length (or chunked transfer encoding) is required", close=True)
    try:
        length = int(length_header)
        if length < 0:
            raise ValueError
    except ValueError:
        raise IngestError(400, f"invalid Content-Length {length_header!r}", close=True) from None
    if length > limit:
        raise IngestError(413, f"body of {length} bytes is over the {limit}-byte limit")
    return await request.body()


def not_found_message(path: str) -> str:
    if path in ("/v1/metrics", "/v1/logs"):
        return f"this receiver takes traces only ({TRACES_PATH}); {path} is not served"
    return f"no such endpoint {path!r}: POST {TRACES_PATH}, GET {HEALTH_PATH}, the viewer at /, the API at /api/"


def _gunzip(data: bytes, limit: int) -> bytes:
    return _inflate(data, limit, 16 + zlib.MAX_WBITS, "gzip")


def _inflate_deflate(data: bytes, limit: int) -> bytes:
    return _inflate(data, limit, 32 + zlib.MAX_WBITS, "deflate")  # zlib or gzip header, auto


def _inflate(data: bytes, limit: int, wbits: int, name: str) -> bytes:
    """Decompress ``data`` (concatenated members too) to at most ``limit`` bytes, else 413; 400 if corrupt."""
    out: list[bytes] = []
    size = 0
    try:
        while data:
            d = zlib.decompressobj(wbits)
            chunk = d.decompress(data, limit - size + 1)
            size += len(chunk)
            out.append(chunk)
            if size > limit or d.unconsumed_tail:
                raise IngestError(413, f"decompressed body is over the {limit}-byte limit")
            if not d.eof:
                raise IngestError(400, f"truncated {name} body")
            data = d.unused_data
    except zlib.error as exc:
        raise IngestError(400, f"malformed {name} body: {exc}") from None
    return b"".join(out)


_DECOMPRESSORS = {"identity": None, "gzip": _gunzip, "x-gzip": _gunzip, "deflate": _inflate_deflate}


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    decompress = _DECOMPRESSORS[encoding]
    return body if decompress is None else decompress(body, limit)


def encode_message(message: Any, request_media_type: str) -> bytes:
    if request_media_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()
