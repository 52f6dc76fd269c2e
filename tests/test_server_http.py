"""The server's HTTP/1.1 wire layer (``otel_genai.server.http11``, run by uvicorn) over raw sockets on
127.0.0.1, for what the receiver tests do not cover: pipelined requests answered in order, HEAD,
``Expect: 100-continue``, HTTP/1.0 and ``Connection: close``, a request head over the size limit, a
body left unread by a 413 read away so the connection stays usable, and a clean stop with a request
still arriving (RFC 9112)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai.server import TraceServer
from otel_genai.server.http11 import MAX_HEAD_BYTES


def body_of(n_spans: int = 2) -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for i in range(n_spans):
        with provider.get_tracer("http.test").start_as_current_span(f"s{i}"):
            pass
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans()).SerializeToString()


@pytest.fixture
def server(tmp_path):
    with TraceServer(tmp_path / "http.db", port=0, read_timeout_s=2, max_body_bytes=4096) as s:
        yield s


def connect(server: TraceServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=10)


def post(body: bytes, *extra: str) -> bytes:
    head = ["POST /v1/traces HTTP/1.1", "Host: x", "Content-Type: application/x-protobuf", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_readers: dict = {}


def read_response(sock: socket.socket, method: str = "GET") -> tuple[int, dict, bytes]:
    """The next answer on ``sock``: (status, headers in lower case, body). One buffered reader per socket,
    so that pipelined answers read ahead are not lost (``http.client`` keeps one reader per response)."""
    reader = _readers.get(sock)
    if reader is None:
        reader = _readers[sock] = sock.makefile("rb")
    line = reader.readline()
    if not line:
        raise ConnectionError("the server closed the connection without an answer")
    status = int(line.split()[1])
    headers = {}
    while (field := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = field.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        return read_response(sock, method)
    length = 0 if method == "HEAD" else int(headers.get("content-length", 0))
    return status, headers, reader.read(length)


def test_pipelined_requests_are_answered_in_order_on_one_connection(server):
    with connect(server) as sock:
        sock.sendall(post(body_of()) + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post(b"\xff\xff"))
        assert read_response(sock, "POST")[0] == 200
        assert read_response(sock)[2] == b'{"status":"ok"}'
        assert read_response(sock, "POST")[0] == 400
    assert server.store.count_spans() == 2


def test_head_gets_the_headers_without_a_body(server):
    with connect(server) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, "HEAD")
        assert status == 200 and int(headers["content-length"]) > 0 and body == b""
        assert read_response(sock)[2] == b'{"status":"ok"}'  # no stray body bytes before the next answer


def test_expect_100_continue_is_answered_before_the_body_is_sent(server):
    body = body_of()
    with connect(server) as sock:
        head = post(body, "Expect: 100-continue")[: -len(body)]
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert read_response(sock, "POST")[0] == 200
    assert server.store.count_spans() == 2


@pytest.mark.parametrize("request_head", [
    b"GET /health HTTP/1.0\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
])
def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(server, request_head):
    with connect(server) as sock:
        sock.sendall(request_head)
        status, headers, _ = read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        assert sock.recv(1) == b""


def test_a_request_head_over_the_limit_is_431_and_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10))
        status, headers, _ = read_response(sock)
        assert status == 431 and headers["connection"] == "close"


def test_malformed_request_lines_are_400(server):
    with connect(server) as sock:
        sock.sendall(b"NOT HTTP\r\n\r\n")
        assert read_response(sock)[0] == 400


def test_an_oversized_body_gets_413_and_is_read_away_so_the_connection_stays_usable(server):
    with connect(server) as sock:
        sock.sendall(post(b"\0" * 5000))  # over the 4096-byte limit
        status, headers, _ = read_response(sock, "POST")
        assert status == 413 and "connection" not in headers
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200


def test_the_server_stops_cleanly_while_a_request_is_still_arriving(tmp_path):
    server = TraceServer(tmp_path / "stop.db", port=0, read_timeout_s=1)
    server.__enter__()
    address = (server.host, server.port)
    sock = connect(server)
    sock.sendall(post(b"x" * 100)[:-50])  # half a body
    started = time.monotonic()
    stopper = threading.Thread(target=server.__exit__, args=(None, None, None))
    stopper.start()
    status, _, body = read_response(sock, "POST")  # the request times out (408), then the server is gone
    stopper.join(15)
    assert not stopper.is_alive() and time.monotonic() - started < 5
    assert status == 408 and b"read timeout" in body
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2)
