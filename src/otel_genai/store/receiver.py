"""``otel-genai serve``: an OTLP/HTTP trace receiver in front of a trace store: the HTTP layer.

Any process or OpenTelemetry Collector can ship spans into the store over the standard OTLP/HTTP
protocol::

    otel-genai serve                       # http://127.0.0.1:4318/v1/traces -> the default store
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:4318/v1/traces opentelemetry-instrument python app.py

What it speaks (https://opentelemetry.io/docs/specs/otlp/#otlphttp):

* ``POST /v1/traces`` with ``Content-Type: application/x-protobuf`` or ``application/json`` (OTLP JSON:
  lowerCamelCase keys, hex trace/span ids, enums as integers or names), optionally
  ``Content-Encoding: gzip`` (or ``deflate``). The answer is an ``ExportTraceServiceResponse`` in the
  request's encoding; spans with invalid ids are left out and counted in ``partial_success``.
* A batch is one store transaction: all of its valid spans are stored, or none (503 + ``Retry-After``
  when the store cannot take it now: the client retries; 500 when the store refuses it for good).
* The body comes with a ``Content-Length`` or ``Transfer-Encoding: chunked``.
* Errors carry a ``google.rpc.Status`` with a message: 400 malformed body, 401 missing/wrong bearer
  token (``--token``), 404 unknown path, 405 wrong method, 408 request not received within the read
  timeout, 411 no length, 413 body over the size limit (compressed or not), 415 other content types or
  encodings, 501 other transfer codings.
* Timeouts: from its first byte, a request (headers and body) must arrive within the read timeout
  (``--read-timeout``, default 10 s), else 408 (or, in the headers, the connection is closed); a kept-
  alive connection idle for as long is closed. A slow client holds only its own thread.
* ``GET /health`` answers ``{"status": "ok"}`` (no token needed).

Built on the standard library's ``http.server`` (a thread per connection, HTTP/1.1 keep-alive); the
store is shared by the threads (every :class:`~otel_genai.store.interface.TraceStore` is thread-safe).
Binds ``127.0.0.1`` unless told otherwise.

This module knows HTTP only: decoding and storing a request body is
:func:`otel_genai.store.otlp.ingest`, whose domain errors :func:`_as_ingest_error` maps to status codes.
The command line (``otel-genai serve``) is in :mod:`otel_genai.cli.serve`. Layout, top-down:
:class:`OTLPReceiver` (server lifecycle), the request handler (HTTP checks, timeouts, error answers),
body decompression and the error encoding.
"""

from __future__ import annotations

import hmac
import io
import logging
import math
import os
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.rpc.status_pb2 import Status

from .backends import open_store
from .interface import PathLike, StoreUnavailableError, StoreWriteError, TraceStore
from .otlp import JSON, PROTOBUF, MalformedRequestError, ingest

_logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_READ_TIMEOUT_S",
    "TOKEN_ENV",
    "IngestError",
    "OTLPReceiver",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
#: the OTel Collector's own default ``max_request_body_size`` (20 MiB), applied to the body as
#: received and again after decompression
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
#: seconds a request may take to arrive from its first byte, and a kept-alive connection may stay idle
DEFAULT_READ_TIMEOUT_S = 10.0
TOKEN_ENV = "OTEL_GENAI_SERVE_TOKEN"
TRACES_PATH = "/v1/traces"
HEALTH_PATH = "/health"

# a rejected request's unread body is drained (so the client reads our answer) up to this size;
# beyond it the connection is simply closed
_DRAIN_LIMIT = 64 * 1024 * 1024
_MAX_TRAILER_LINES = 64


# --- the server ---------------------------------------------------------------------------------


class OTLPReceiver:
    """An OTLP/HTTP trace receiver writing into one trace store.

    Args:
        store: an open :class:`~otel_genai.store.interface.TraceStore` (not closed by :meth:`close`),
            or a store URI or path to open (``None``: :func:`~otel_genai.store.resolve_store_uri`).
        host, port: where to listen (``port=0``: a free port, see :attr:`port`).
        token: when set, ``POST /v1/traces`` needs ``Authorization: Bearer <token>`` (else 401).
        max_body_bytes: largest accepted body, both as received and after decompression (else 413).
        read_timeout_s: seconds a request may take to arrive, from its first byte to the end of its
            body (else 408, or the connection is closed), and a kept-alive connection may stay idle.

    Use :meth:`serve_forever` (blocking), or as a context manager (serves in a daemon thread).
    The socket is bound in the constructor.

    Raises:
        ValueError: ``port`` not in 0..65535, ``max_body_bytes`` < 1, ``read_timeout_s`` not a
            positive finite number.
        OSError: the address is taken or cannot be bound.
        StoreError: the store cannot be opened (e.g. :class:`~otel_genai.store.interface.ForeignStoreError`).
    """

    def __init__(
        self,
        store: TraceStore | PathLike | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
        if not (read_timeout_s > 0 and math.isfinite(read_timeout_s)):
            raise ValueError(f"read_timeout_s must be a positive number of seconds, not {read_timeout_s}")
        self._owns_store = store is None or isinstance(store, (str, os.PathLike))
        self.store: TraceStore = open_store(store) if self._owns_store else store
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        server_class = _IPv6Server if ":" in host else _Server
        try:
            self._server = server_class((host, port), _Handler)
        except BaseException:
            if self._owns_store:
                self.store.close()
            raise
        self._server.receiver = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The traces endpoint, ``http://host:port/v1/traces``."""
        return self.url + TRACES_PATH

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` is called (from another thread or a signal)."""
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (waits for it to return)."""
        self._server.shutdown()

    def close(self) -> None:
        """Release the socket and (if this receiver opened it) the store."""
        self._server.server_close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> OTLPReceiver:
        self._thread = threading.Thread(target=self.serve_forever, name="otel-genai-receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    receiver: OTLPReceiver


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class IngestError(Exception):
    """A request that is answered with an HTTP error status and a ``google.rpc.Status`` message."""

    def __init__(self, http_status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.headers = headers


def _as_ingest_error(exc: Exception, method: str, path: str) -> IngestError:
    """The HTTP answer to a failed request: domain errors by their meaning, anything unexpected 500."""
    if isinstance(exc, IngestError):
        return exc
    if isinstance(exc, TimeoutError):
        return IngestError(408, str(exc))
    if isinstance(exc, MalformedRequestError):
        return IngestError(400, str(exc))
    if isinstance(exc, StoreUnavailableError):
        return IngestError(503, f"the trace store cannot take the batch now: {exc}", (("Retry-After", "1"),))
    if isinstance(exc, StoreWriteError):
        return IngestError(500, f"the trace store refused the batch: {exc}")
    _logger.exception("otel-genai serve: unexpected error on %s %s", method, path)
    return IngestError(500, f"internal error: {exc!r}")


# google.rpc.Code for each HTTP status we answer with
_RPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 408: 4, 411: 3, 413: 8, 415: 3, 500: 13, 501: 12, 503: 14}


class _TimedReader(io.RawIOBase):
    """A connection's reads, bounded in time (``timeout_s`` seconds).

    Waiting for a request's first byte lasts at most ``timeout_s`` (an idle connection); from that
    byte on, :attr:`deadline` bounds the whole request however slowly it trickles in. Reads past it
    raise ``TimeoutError``. The socket is left with ``timeout_s`` as its timeout, for our writes.
    """

    def __init__(self, sock: socket.socket, timeout_s: float) -> None:
        super().__init__()
        self._sock = sock
        self._timeout_s = timeout_s
        self.deadline: float | None = None  # monotonic time; None: between requests

    def next_request(self) -> None:
        """The next read waits for a new request: idle again until its first byte."""
        self.deadline = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            wait = self._timeout_s
        else:
            wait = self.deadline - time.monotonic()
            if wait <= 0:
                raise self._timed_out()
        self._sock.settimeout(wait)
        try:
            received = self._sock.recv_into(buffer)
        except TimeoutError:
            raise self._timed_out() from None
        finally:
            self._sock.settimeout(self._timeout_s)
        if self.deadline is None and received:
            self.deadline = time.monotonic() + self._timeout_s
        return received

    def _timed_out(self) -> TimeoutError:
        if self.deadline is None:
            return TimeoutError(f"no request within {self._timeout_s:g} s (idle connection)")
        return TimeoutError(f"the request did not arrive in full within the {self._timeout_s:g}-second read timeout")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._reader = _TimedReader(self.connection, self.server.receiver.read_timeout_s)
        self.connection.settimeout(self.server.receiver.read_timeout_s)  # for writes to a client that does not read
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.next_request()
        super().handle_one_request()  # a timeout in the request line or headers closes the connection

    def do_POST(self) -> None:
        self._answer(self._post)

    def do_GET(self) -> None:
        self._answer(self._get)

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _answer(self, route: Any) -> None:
        """Run ``route(path)`` -> (status, content type, body); a failure is answered with its status (:func:`_as_ingest_error`)."""
        self._body_read, self._unread = False, None  # per request: a connection carries several
        path = self.path.split("?", 1)[0]
        headers: tuple[tuple[str, str], ...] = ()
        try:
            status, content_type, body = route(path)
        except Exception as exc:  # noqa: BLE001 - every failure is answered; the server keeps serving
            if isinstance(exc, TimeoutError):  # the rest of the body may still come: never reuse
                self.close_connection = True
            exc = _as_ingest_error(exc, self.command, path)
            self._discard_body()
            status, headers = exc.http_status, exc.headers
            content_type, body = _encode_status(exc, self._media_type())
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    # --- routes ---

    def _get(self, path: str) -> tuple[int, str, bytes]:
        if path == HEALTH_PATH:
            return 200, JSON, b'{"status":"ok"}'
        if path == TRACES_PATH:
            raise IngestError(405, f"use POST for {TRACES_PATH}", (("Allow", "POST"),))
        raise IngestError(404, _not_found(path))

    def _post(self, path: str) -> tuple[int, str, bytes]:
        if path != TRACES_PATH:
            raise IngestError(404, _not_found(path))
        if self.command != "POST":
            raise IngestError(405, f"use POST for {TRACES_PATH}", (("Allow", "POST"),))
        receiver = self.server.receiver
        self._check_token(receiver.token)
        media_type = self._media_type()
        if media_type not in (PROTOBUF, JSON):
            raise IngestError(415, f"unsupported Content-Type {self.headers.get('Content-Type')!r}:"
                                   f" send {PROTOBUF} or {JSON}")
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in _DECOMPRESSORS:
            raise IngestError(415, f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none")
        body = _decompress(self._read_body(receiver.max_body_bytes), encoding, receiver.max_body_bytes)
        response = ingest(receiver.store, body, media_type)
        return 200, media_type, _encode_message(response, media_type)

    # --- HTTP details ---

    def _media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def _check_token(self, token: str | None) -> None:
        if token is None:
            return
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise IngestError(401, "missing or wrong bearer token", (("WWW-Authenticate", "Bearer"),))

    def _read_body(self, limit: int) -> bytes:
        """The request body (Content-Length or chunked), at most ``limit`` bytes, else 413."""
        self._body_read = True
        codings = self._transfer_codings()
        if codings == ["chunked"]:
            return self._read_chunked(limit)
        if codings:
            self.close_connection = True  # the body's end cannot be found
            raise IngestError(501, f"unsupported Transfer-Encoding {self.headers.get('Transfer-Encoding')!r}:"
                                   " send chunked or a Content-Length")
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            raise IngestError(411, "a Content-Length (or chunked transfer encoding) is required")
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise IngestError(400, f"invalid Content-Length {length_header!r}") from None
        if length > limit:
            self._body_read = False  # drained (or the connection closed) when answering
            self._unread = length
            raise IngestError(413, f"body of {length} bytes is over the {limit}-byte limit")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise IngestError(400, f"truncated body: {len(body)} of {length} bytes received")
        return body

    def _transfer_codings(self) -> list[str]:
        """The request's ``Transfer-Encoding`` codings, lower case (``[]`` when there is none)."""
        header = self.headers.get("Transfer-Encoding") or ""
        return [c.strip().lower() for c in header.split(",") if c.strip()]

    def _read_chunked(self, limit: int) -> bytes:
        """A ``Transfer-Encoding: chunked`` body (RFC 9112 §7.1): chunks of hex size, extensions and
        trailers ignored; at most ``limit`` bytes (else 413), 400 when malformed or cut short."""
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = _chunk_size(self.rfile.readline(1024))
                if chunk == 0:
                    for _ in range(_MAX_TRAILER_LINES):
                        if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                            return b"".join(parts)
                    raise ValueError("too many trailer lines")
                size += chunk
                if size > limit:
                    self.close_connection = True
                    raise IngestError(413, f"chunked body is over the {limit}-byte limit")
                data = self.rfile.read(chunk)
                if len(data) != chunk:
                    raise ValueError(f"chunk cut short: {len(data)} of {chunk} bytes")
                parts.append(data)
                if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise ValueError("no line break after a chunk's data")
        except TimeoutError:
            raise
        except (ValueError, OSError) as exc:
            self.close_connection = True
            raise IngestError(400, f"malformed chunked body: {exc}") from None

    def _discard_body(self) -> None:
        """After an early error, read away the unread body so the client gets our answer, or close."""
        if self._body_read or self.close_connection:
            return
        unread = self._unread
        if unread is None:  # rejected before reading: the declared length
            try:
                unread = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                unread = _DRAIN_LIMIT + 1
            if self._transfer_codings():  # its length is unknown
                unread = _DRAIN_LIMIT + 1
        if unread > _DRAIN_LIMIT:
            self.close_connection = True
            return
        try:
            while unread > 0:
                data = self.rfile.read(min(unread, 1 << 16))
                if not data:
                    break
                unread -= len(data)
        except OSError:
            unread = 1
        if unread:
            self.close_connection = True

    def handle(self) -> None:
        try:
            super().handle()
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass  # the client went away

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("otel-genai serve: %s - %s", self.address_string(), format % args)


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _chunk_size(line: bytes) -> int:
    """The size in a chunk-size line (``1a;ext=v\\r\\n``); ``ValueError`` unless it is hex digits."""
    if not line.endswith(b"\n"):
        raise ValueError("chunk-size line cut short or too long")
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > 16 or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"invalid chunk size {digits[:20]!r}")
    return int(digits, 16)


def _not_found(path: str) -> str:
    if path in ("/v1/metrics", "/v1/logs"):
        return f"this receiver takes traces only ({TRACES_PATH}); {path} is not served"
    return f"no such endpoint {path!r}: POST {TRACES_PATH}, GET {HEALTH_PATH}"


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


def _encode_message(message: Any, media_type: str) -> bytes:
    if media_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def _encode_status(exc: IngestError, media_type: str) -> tuple[str, bytes]:
    """The error answer: a ``google.rpc.Status`` in the request's encoding (JSON if it has none)."""
    status = Status(code=_RPC_CODES.get(exc.http_status, 2), message=exc.message)
    if media_type == PROTOBUF:
        return PROTOBUF, status.SerializeToString()
    return JSON, _encode_message(status, JSON)
