"""A loopback HTTP server answering canned responses, built on the standard library's
``http.server.ThreadingHTTPServer``. Used by ``otel-genai demo`` (an OpenAI-compatible endpoint
from the project's own fixture) and by the tests (replaying recorded API traffic).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Request:
    """What the client sent: method, path (with query), headers (lower-case keys) and body bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    """What to answer: status, headers and body.

    ``body`` bytes are sent with a ``Content-Length``; a list of byte chunks is sent with chunked
    transfer encoding, one flush per chunk, ``chunk_delay`` seconds apart (a live SSE stream).
    """

    status: int
    body: bytes | list[bytes]
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunk_delay: float = 0.0


Responder = Callable[[Request], Response]

# hop-by-hop or length headers that the server computes itself
_SKIPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class LoopbackServer:
    """Serve ``responder`` on ``127.0.0.1`` (an ephemeral port by default) in a daemon thread.

    Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>``. Every request is kept in
    ``requests`` for assertions.
    """

    def __init__(self, responder: Responder, host: str = "127.0.0.1", port: int = 0) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms ACK stalls

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(request)
                try:
                    response = outer.responder(request)
                except Exception as exc:  # a broken fixture answers 500 with the reason
                    response = Response(500, f'{{"error": {{"message": "fixture error: {exc}"}}}}'.encode())
                self.send_response(response.status)
                for name, value in response.headers:
                    if name.lower() not in _SKIPPED_HEADERS:
                        self.send_header(name, value)
                if isinstance(response.body, bytes):
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in response.body:
                        if response.chunk_delay:
                            time.sleep(response.chunk_delay)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):  # the client left early
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):  # a client dropped a kept-alive connection
                    pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="otel-genai-loopback", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
