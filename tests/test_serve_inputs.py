"""``otel-genai serve`` input checks (issue 10, defect 8), against a real ``serve`` process on 127.0.0.1.

Bad arguments are argparse's one error line and exit status 2 (never a traceback); the receiver's
constructor rejects them too. From its first byte, a request must arrive within ``--read-timeout``:
a client that stalls or trickles gets 408 (or, in its headers, a closed connection) while other
clients are served meanwhile, and an idle kept-alive connection is closed. Chunked bodies, plain and
gzip, with extensions and trailers, are decoded and stored; malformed ones are 400 and store nothing.
Raw sockets, so that the bytes on the wire are exactly the test's."""

from __future__ import annotations

import gzip
import http.client
import socket
import subprocess
import sys
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_genai.store import open_store
from otel_genai.store.receiver import DEFAULT_READ_TIMEOUT_S, OTLPReceiver
from shipping import clean_env, stop_process
from test_ship_receiver import make_spans, start_serve

CLI = [sys.executable, "-m", "otel_genai.cli"]
READ_TIMEOUT_S = 1.0
MAX_BODY = 64 * 1024
SPANS_PER_BODY = 3


def fresh_body() -> bytes:
    """A protobuf export request of one new trace (:data:`SPANS_PER_BODY` spans with new ids)."""
    return encode_spans(make_spans(n_traces=1)).SerializeToString()


BODY = fresh_body()  # for requests that are refused: nothing of it is stored


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "error"), [
    (["--port", "70000"], "argument --port: must be a port number from 0 to 65535 (0 picks a free one): 70000"),
    (["--port", "-1"], "argument --port: must be a port number from 0 to 65535 (0 picks a free one): -1"),
    (["--port", "http"], "argument --port: not an integer: 'http'"),
    (["--max-body-size", "0"], "argument --max-body-size: must be positive: 0"),
    (["--max-body-size", "-5"], "argument --max-body-size: must be positive: -5"),
    (["--read-timeout", "0"], "argument --read-timeout: must be a positive number of seconds: 0"),
    (["--read-timeout", "-2.5"], "argument --read-timeout: must be a positive number of seconds: -2.5"),
    (["--read-timeout", "nan"], "argument --read-timeout: must be a positive number of seconds: nan"),
    (["--read-timeout", "soon"], "argument --read-timeout: not a number of seconds: 'soon'"),
])
def test_bad_arguments_are_one_error_line_and_exit_2(tmp_path, args, error):
    store = tmp_path / "traces.db"
    done = subprocess.run([*CLI, "serve", "--store", str(store), *args], capture_output=True, text=True,
                          timeout=60, env=clean_env())
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("usage: otel-genai serve") and "Traceback" not in done.stderr
    assert lines[-1] == f"otel-genai serve: error: {error}"
    assert not store.exists()


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"port": 70000}, "port must be in 0..65535, not 70000"),
    ({"max_body_bytes": 0}, "max_body_bytes must be at least 1, not 0"),
    ({"read_timeout_s": 0}, "read_timeout_s must be a positive number of seconds, not 0"),
    ({"read_timeout_s": float("inf")}, "read_timeout_s must be a positive number of seconds, not inf"),
])
def test_the_receiver_rejects_bad_settings_before_opening_the_store(tmp_path, kwargs, error):
    store = tmp_path / "traces.db"
    with pytest.raises(ValueError) as raised:
        OTLPReceiver(store, **kwargs)
    assert str(raised.value) == error
    assert not store.exists()


def test_read_timeout_default_is_shown_in_help():
    done = subprocess.run([*CLI, "serve", "--help"], capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode == 0 and "--read-timeout SECONDS" in done.stdout
    assert f"(default {DEFAULT_READ_TIMEOUT_S:g})" in " ".join(done.stdout.split())


# --- a real serve process -----------------------------------------------------------------------


class Serve:
    """The ``otel-genai serve`` process under test, and raw connections to it."""

    def __init__(self, process: subprocess.Popen, endpoint: str, store) -> None:
        self.process, self.endpoint, self.store = process, endpoint, store
        self.host, port = endpoint.split("/")[2].split(":")
        self.port = int(port)

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)

    def stored_spans(self) -> int:
        with open_store(self.store, read_only=True) as store:
            return store.count_spans()


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    store = tmp_path_factory.mktemp("serve") / "traces.db"
    process, endpoint = start_serve("--store", str(store), "--read-timeout", str(READ_TIMEOUT_S),
                                    "--max-body-size", str(MAX_BODY))
    try:
        yield Serve(process, endpoint, store)
    finally:
        stop_process(process)
    assert process.returncode == 0, process.stderr.read()


@pytest.fixture
def spans_before(serve):
    return serve.stored_spans()


def post_head(content_length: int | None = None, **headers: str) -> bytes:
    """A POST /v1/traces request line and headers (protobuf), with ``Content-Length`` if given."""
    lines = ["POST /v1/traces HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-protobuf"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, sizes: list[int], size_format: str = "{:x}", trailer: bytes = b"") -> bytes:
    """``body`` as chunks of ``sizes`` bytes (the rest in a last chunk), then the 0 chunk and ``trailer``."""
    out, at = b"", 0
    for size in [*sizes, len(body)]:
        piece = body[at:at + size]
        if piece:
            out += size_format.format(len(piece)).encode() + b"\r\n" + piece + b"\r\n"
        at += len(piece)
    return out + b"0\r\n" + trailer + b"\r\n"


def response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """The next HTTP response on ``sock``: (status, headers in lower case, body)."""
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# --- read timeouts ------------------------------------------------------------------------------


def test_a_body_shorter_than_announced_gets_408_after_the_read_timeout(serve, spans_before):
    with serve.connect() as sock:
        started = time.monotonic()
        sock.sendall(post_head(100) + b"abc")  # announces 100 bytes, sends 3, then nothing
        status, headers, body = response(sock)
        waited = time.monotonic() - started
        assert status == 408 and headers["connection"] == "close"
        assert b"did not arrive in full within the 1-second read timeout" in body
        assert READ_TIMEOUT_S * 0.9 <= waited < READ_TIMEOUT_S + 3
        assert closed_by_server(sock)
    assert serve.stored_spans() == spans_before


def test_a_body_trickling_in_slowly_gets_408_though_no_single_read_waits_long(serve, spans_before):
    with serve.connect() as sock:
        started = time.monotonic()
        sock.sendall(post_head(len(BODY)))
        for i in range(len(BODY)):  # a byte every 0.2 s: never silent for a whole timeout
            try:
                sock.sendall(BODY[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            if time.monotonic() - started > READ_TIMEOUT_S + 1:
                break
            time.sleep(0.2)
        status, _, _ = response(sock)
        assert status == 408
        assert time.monotonic() - started < READ_TIMEOUT_S + 3
    assert serve.stored_spans() == spans_before


def test_stalled_headers_and_idle_connections_are_closed(serve):
    with serve.connect() as in_headers, serve.connect() as silent, serve.connect() as kept_alive:
        in_headers.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no end of headers
        kept_alive.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert response(kept_alive)[0] == 200
        started = time.monotonic()
        for sock in (in_headers, silent, kept_alive):
            assert closed_by_server(sock)
        assert time.monotonic() - started < READ_TIMEOUT_S + 3


def test_other_clients_are_served_while_some_stall(serve, spans_before):
    stalled = [serve.connect() for _ in range(4)]
    try:
        for sock in stalled:
            sock.sendall(post_head(len(BODY)) + BODY[:10])
        started = time.monotonic()
        ok = requests.post(serve.endpoint, data=fresh_body(), headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert ok.status_code == 200
        assert time.monotonic() - started < READ_TIMEOUT_S / 2  # not queued behind the stalled ones
        assert [response(sock)[0] for sock in stalled] == [408] * 4
    finally:
        for sock in stalled:
            sock.close()
    assert serve.stored_spans() == spans_before + SPANS_PER_BODY


def test_a_client_that_keeps_sending_requests_on_one_connection_is_not_cut_off(serve, spans_before):
    with serve.connect() as sock:
        for _ in range(3):  # longer than the timeout in total, each request prompt
            body = fresh_body()
            sock.sendall(post_head(len(body)) + body)
            assert response(sock)[0] == 200
            time.sleep(READ_TIMEOUT_S * 0.6)
    assert serve.stored_spans() == spans_before + 3 * SPANS_PER_BODY


# --- chunked bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_chunked_bodies_are_decoded_and_stored_and_the_connection_stays_usable(serve, spans_before, encoding):
    payload = fresh_body()
    payload = gzip.compress(payload) if encoding == "gzip" else payload
    with serve.connect() as sock:
        sock.sendall(post_head(Transfer_Encoding="chunked", Content_Encoding=encoding) + chunked(payload, [1, 7, 100]))
        status, headers, body = response(sock)
        assert (status, headers["content-type"], body) == (200, "application/x-protobuf", b"")
        assert "connection" not in headers
        # the body was read to its end: the next request on the connection is parsed from its first byte
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert response(sock)[0] == 200
    assert serve.stored_spans() == spans_before + SPANS_PER_BODY


def test_chunk_extensions_upper_case_sizes_and_trailers_are_accepted(serve, spans_before):
    body = chunked(fresh_body(), [16, 16], size_format="{:X};name=value", trailer=b"X-Checksum: 1\r\nX-Other: 2\r\n")
    with serve.connect() as sock:
        sock.sendall(post_head(Transfer_Encoding="chunked") + body)
        assert response(sock)[0] == 200
    assert serve.stored_spans() == spans_before + SPANS_PER_BODY


@pytest.mark.parametrize(("body", "why"), [
    (b"-5\r\nabcde\r\n0\r\n\r\n", b"invalid chunk size b'-5'"),
    (b"0x5\r\nabcde\r\n0\r\n\r\n", b"invalid chunk size b'0x5'"),
    (b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n", b"invalid chunk size b'1_0'"),
    (b"\r\nabc\r\n0\r\n\r\n", b"invalid chunk size b''"),
    (b"5\r\nabcdefgh\r\n0\r\n\r\n", b"no line break after a chunk's data"),
    (b"ffff", b"chunk-size line cut short"),
])
def test_malformed_chunked_bodies_are_400_and_store_nothing(serve, spans_before, body, why):
    with serve.connect() as sock:
        sock.sendall(post_head(Transfer_Encoding="chunked") + body)
        if body == b"ffff":
            sock.shutdown(socket.SHUT_WR)  # the client stops mid-line
        status, headers, answer = response(sock)
        assert (status, headers["connection"]) == (400, "close")
        assert b"malformed chunked body: " + why in answer
    assert serve.stored_spans() == spans_before


def test_a_chunked_body_over_the_size_limit_is_413(serve, spans_before):
    with serve.connect() as sock:
        sock.sendall(post_head(Transfer_Encoding="chunked") + chunked(b"x" * (MAX_BODY + 1), [MAX_BODY // 2] * 2))
        status, _, answer = response(sock)
        assert status == 413 and f"over the {MAX_BODY}-byte limit".encode() in answer
    assert serve.stored_spans() == spans_before


def test_other_transfer_codings_are_501(serve, spans_before):
    with serve.connect() as sock:
        sock.sendall(post_head(Transfer_Encoding="gzip, chunked") + chunked(gzip.compress(BODY), []))
        status, headers, answer = response(sock)
        assert (status, headers["connection"]) == (501, "close")
        assert b"unsupported Transfer-Encoding 'gzip, chunked'" in answer
    assert serve.stored_spans() == spans_before


def test_the_server_still_serves_after_all_of_the_above(serve):
    assert serve.process.poll() is None
    assert requests.get(serve.endpoint.replace("/v1/traces", "/health"), timeout=10).json() == {"status": "ok"}
