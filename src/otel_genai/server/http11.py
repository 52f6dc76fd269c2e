"""The HTTP/1.1 connection protocol uvicorn runs for ``otel-genai serve``: framing and read timeouts.

uvicorn (https://www.uvicorn.org/settings/#implementation: ``http=`` takes a protocol class) owns the
event loop, the listening socket, graceful shutdown and the ASGI calls; this class is the wire layer it
plugs in. It exists because uvicorn's stock protocols (h11, httptools) cannot give the answers
``serve`` has documented since issue 10: a read timeout from a request's *first byte* (a trickling
client gets 408, stalled headers close the connection; their only timeout is keep-alive idleness),
and a malformed chunked body answered with what is wrong in it rather than "Invalid HTTP request".

Per connection, one request at a time (RFC 9112):

* **Head**: request line and header fields up to :data:`MAX_HEAD_BYTES` (else 431 and close); a head
  that is not HTTP/1.x is 400 and close. The ASGI scope is built from it (``http_version``, lower-case
  header names, ``query_string``).
* **Body framing** (RFC 9112 §6): ``Transfer-Encoding: chunked`` is decoded here (chunk extensions and
  trailers ignored, at most 64 trailer lines); ``Content-Length``; neither means no body. Any other
  transfer coding, or an unparsable ``Content-Length``, cannot be framed: the app sees an empty body and
  the connection closes after its answer (the ingest route answers 501 / 400 for them).
* **Errors in the body** reach the app from ``receive()`` as :class:`BodyError` (400, a truncated or
  malformed body) or :class:`ReadTimeout` (408), and the connection closes after the answer.
* **Timeouts**: from a request's first byte, its head and body must arrive within ``read_timeout_s``:
  else, in the head, the connection is closed; in the body, ``receive()`` raises :class:`ReadTimeout`.
  A connection idle (between requests) for as long is closed. A slow client costs a timer, not a thread.
* **After the answer**: a body the app left unread is read away when its length is known and at most
  :data:`DRAIN_LIMIT` bytes (so the client reads the answer), else the connection is closed. An answer
  without ``Content-Length`` is sent chunked. ``Connection: close`` from the client, an HTTP/1.0 request
  without keep-alive, or the app's own ``Connection: close`` end the connection after the answer.
* ``Expect: 100-continue`` is answered when the app first reads the body.
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
from typing import Any, Callable, Optional

_logger = logging.getLogger(__name__)

#: the largest request line + header fields accepted (the same order as nginx's default buffers)
MAX_HEAD_BYTES = 64 * 1024
#: an unread body of a known length up to this size is read away after the answer; beyond it, close
DRAIN_LIMIT = 64 * 1024 * 1024
#: reading pauses while this many decoded body bytes wait for the app
HIGH_WATER = 4 * 1024 * 1024
_MAX_TRAILER_LINES = 64
_LINE_LIMIT = 1024
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_PHRASES = {s.value: s.phrase.encode() for s in http.HTTPStatus}


class BodyError(Exception):
    """The request body is malformed or cut short: answer ``http_status`` (400) and close."""

    def __init__(self, http_status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message


class ReadTimeout(TimeoutError):
    """The request did not arrive in full within the read timeout: answer 408 and close."""


def chunk_size(line: bytes) -> int:
    """The size in a chunk-size line (``1a;ext=v\\r\\n``, RFC 9112 §7.1); ``ValueError`` unless hex digits."""
    if not line.endswith(b"\n"):
        raise ValueError("chunk-size line cut short or too long")
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > 16 or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"invalid chunk size {digits[:20]!r}")
    return int(digits, 16)


def protocol_factory(read_timeout_s: float) -> Callable[..., "HTTP11Protocol"]:
    """What to pass as uvicorn's ``Config(http=...)``: :class:`HTTP11Protocol` with this read timeout."""
    return functools.partial(HTTP11Protocol, read_timeout_s=read_timeout_s)


class _Cycle:
    """One request: its scope, the body as decoded so far, and the answer's progress."""

    __slots__ = (
        "scope", "framing", "remaining", "chunk_state", "chunk_left", "chunk_size", "trailers", "body",
        "received", "body_done", "final_sent", "error", "must_close", "expect_continue", "event",
        "response_started", "response_complete", "chunked_out", "head_only", "draining", "disconnected",
    )

    def __init__(self, scope: dict, framing: str, length: int, must_close: bool, expect_continue: bool) -> None:
        self.scope = scope
        self.framing = framing  # "length", "chunked" or "unknown"
        self.remaining = length
        self.chunk_state = "size"
        self.chunk_left = 0
        self.chunk_size = 0
        self.trailers = 0
        self.body = bytearray()
        self.received = 0
        self.body_done = framing != "chunked" and length == 0
        self.final_sent = False
        self.error: Optional[Exception] = None
        self.must_close = must_close or framing == "unknown"
        self.expect_continue = expect_continue
        self.event = asyncio.Event()
        self.response_started = False
        self.response_complete = False
        self.chunked_out = False
        self.head_only = scope["method"] == "HEAD"
        self.draining = False
        self.disconnected = False


class HTTP11Protocol(asyncio.Protocol):
    """One HTTP/1.1 connection, for uvicorn's ``Config(http=protocol_factory(read_timeout_s))``.

    The constructor signature is the one uvicorn calls (``config``, ``server_state``, ``app_state``);
    ``shutdown()`` is what uvicorn calls on each open connection when it stops.
    """

    def __init__(self, config: Any, server_state: Any, app_state: dict, _loop: Any = None, *,
                 read_timeout_s: float) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.read_timeout_s = read_timeout_s
        self.transport: Any = None
        self.buf = bytearray()
        self.cycle: Optional[_Cycle] = None
        self.eof = False
        self.reading_paused = False
        self.write_paused: Optional[asyncio.Future] = None
        self.deadline: Optional[asyncio.TimerHandle] = None  # from a request's first byte
        self.idle: Optional[asyncio.TimerHandle] = None  # between requests
        self.server: Any = None
        self.client: Any = None

    # --- asyncio.Protocol ---

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.server_state.connections.add(self)
        sock = transport.get_extra_info("socket")
        try:
            local, peer = sock.getsockname(), sock.getpeername()
            self.server, self.client = (str(local[0]), int(local[1])), (str(peer[0]), int(peer[1]))
        except (OSError, AttributeError, IndexError, TypeError):
            pass
        self._arm_idle()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.server_state.connections.discard(self)
        self._cancel_timers()
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnected = True
            cycle.event.set()
        if self.write_paused is not None and not self.write_paused.done():
            self.write_paused.set_result(None)

    def eof_received(self) -> bool:
        self.eof = True
        cycle = self.cycle
        if cycle is None or cycle.draining:
            self._close()
            return True
        if not cycle.body_done and cycle.error is None:
            self._pump_body(cycle)  # the decoder says how the body was cut short
            if not cycle.body_done and cycle.error is None:
                cycle.error = BodyError(400, f"truncated body: {cycle.received} of {cycle.received + cycle.remaining}"
                                             " bytes received")
                cycle.must_close = True
            cycle.event.set()
        return True  # keep the transport open to send the answer

    def data_received(self, data: bytes) -> None:
        if self.cycle is None and not self.buf:
            self._cancel_idle()
            self._arm_deadline()
        self.buf += data
        self._process()

    def pause_writing(self) -> None:
        if self.write_paused is None or self.write_paused.done():
            self.write_paused = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.write_paused is not None and not self.write_paused.done():
            self.write_paused.set_result(None)

    def shutdown(self) -> None:
        """uvicorn is stopping: close now if no request is in progress, else after its answer."""
        if self.cycle is None:
            self._close()
        else:
            self.cycle.must_close = True

    # --- requests ---

    def _process(self) -> None:
        """Parse what has arrived: a new request's head, or the current request's body."""
        while self.transport is not None and not self.transport.is_closing():
            cycle = self.cycle
            if cycle is not None:
                if not cycle.body_done and cycle.error is None:
                    self._pump_body(cycle)
                self._maybe_finish(cycle)
                return
            while self.buf[:2] == b"\r\n":  # empty lines before a request line are ignored (RFC 9112 §2.2)
                del self.buf[:2]
            if not self.buf:
                return
            end = self.buf.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEAD_BYTES:
                if len(self.buf) > MAX_HEAD_BYTES:
                    self._answer_and_close(431, b"request head over the size limit")
                elif self.eof:
                    self._close()
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            if not self._start(head):
                return

    def _start(self, head: bytes) -> bool:
        """Build the request's scope from its head and run the app on it; ``False`` when refused."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[0].isalpha():
            self._answer_and_close(400, b"malformed request line")
            return False
        method, target, version = parts
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
                self._answer_and_close(400, b"malformed header field")
                return False
            headers.append((name.lower(), value.strip()))
        keep_alive = version == b"HTTP/1.1"
        framing, length, expect = "length", 0, False
        codings: Optional[bytes] = None
        content_length: Optional[bytes] = None
        for name, value in headers:
            if name == b"connection":
                tokens = {t.strip().lower() for t in value.split(b",")}
                keep_alive = b"close" not in tokens and (keep_alive or b"keep-alive" in tokens)
            elif name == b"transfer-encoding":
                codings = value if codings is None else codings + b"," + value
            elif name == b"content-length":
                content_length = value if content_length in (None, value) else b"conflicting"
            elif name == b"expect":
                expect = value.lower() == b"100-continue"
        if codings is not None:
            framing = "chunked" if [c.strip().lower() for c in codings.split(b",") if c.strip()] == [b"chunked"] else "unknown"
        elif content_length is not None:
            if content_length.isdigit() and len(content_length) < 19:
                length = int(content_length)
            else:
                framing = "unknown"
        raw_path, _, query = target.partition(b"?")
        try:
            path = _unquote(raw_path.decode("ascii"))
        except UnicodeDecodeError:
            self._answer_and_close(400, b"non-ASCII request target")
            return False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version[5:].decode("ascii"),
            "method": method.decode("ascii").upper(),
            "scheme": "http",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "server": self.server,
            "client": self.client,
            "state": dict(self.app_state),
        }
        cycle = self.cycle = _Cycle(scope, framing, length if framing == "length" else 0, not keep_alive, expect)
        if cycle.body_done and self.deadline is not None:
            self._cancel_deadline()
        task = self.loop.create_task(self._run(cycle))
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)
        if not cycle.body_done:
            self._pump_body(cycle)
        return True

    def _pump_body(self, cycle: _Cycle) -> None:
        """Move body bytes from the buffer into the request (or away, when draining)."""
        if cycle.framing == "length":
            take = min(cycle.remaining, len(self.buf))
            if take:
                if not cycle.draining:
                    cycle.body += self.buf[:take]
                del self.buf[:take]
                cycle.remaining -= take
                cycle.received += take
            if cycle.remaining == 0:
                self._body_complete(cycle)
        elif cycle.framing == "chunked":
            try:
                self._decode_chunks(cycle)
            except ValueError as exc:
                cycle.error = BodyError(400, f"malformed chunked body: {exc}")
                cycle.must_close = True
                self._cancel_deadline()
        if not cycle.draining:
            cycle.event.set()
            if len(cycle.body) > HIGH_WATER and not self.reading_paused:
                self.reading_paused = True
                self.transport.pause_reading()

    def _decode_chunks(self, cycle: _Cycle) -> None:
        """RFC 9112 §7.1 chunked coding, incrementally; ``ValueError`` says what is malformed."""
        buf = self.buf
        while not cycle.body_done:
            state = cycle.chunk_state
            if state in ("size", "trailer"):
                nl = buf.find(b"\n", 0, _LINE_LIMIT)
                if nl < 0:
                    if state == "trailer" and self.eof:
                        self._body_complete(cycle)
                    elif len(buf) >= _LINE_LIMIT or self.eof:
                        if state == "size":
                            raise ValueError("chunk-size line cut short or too long")
                        del buf[:_LINE_LIMIT]
                        self._trailer_line(cycle)
                        continue
                    return
                line = bytes(buf[:nl + 1])
                del buf[:nl + 1]
                if state == "trailer":
                    if line in (b"\r\n", b"\n"):
                        self._body_complete(cycle)
                    else:
                        self._trailer_line(cycle)
                    continue
                size = chunk_size(line)
                if size == 0:
                    cycle.chunk_state = "trailer"
                else:
                    cycle.chunk_state, cycle.chunk_left, cycle.chunk_size = "data", size, size
            elif state == "data":
                if not buf:
                    if self.eof:
                        raise ValueError(f"chunk cut short: {cycle.chunk_size - cycle.chunk_left} of {cycle.chunk_size} bytes")
                    return
                take = min(cycle.chunk_left, len(buf))
                if not cycle.draining:
                    cycle.body += buf[:take]
                del buf[:take]
                cycle.received += take
                cycle.chunk_left -= take
                if cycle.chunk_left == 0:
                    cycle.chunk_state = "data_end"
            else:  # data_end: the line break after a chunk's data
                if buf[:1] == b"\n":
                    del buf[:1]
                elif buf[:2] == b"\r\n":
                    del buf[:2]
                elif len(buf) >= 2 or (buf and buf[:1] != b"\r") or self.eof:
                    raise ValueError("no line break after a chunk's data")
                else:
                    return
                cycle.chunk_state = "size"

    def _trailer_line(self, cycle: _Cycle) -> None:
        cycle.trailers += 1
        if cycle.trailers >= _MAX_TRAILER_LINES:
            raise ValueError("too many trailer lines")

    def _body_complete(self, cycle: _Cycle) -> None:
        cycle.body_done = True
        self._cancel_deadline()

    def _maybe_finish(self, cycle: _Cycle) -> None:
        """After the answer and the whole body: the connection is ready for the next request."""
        if not (cycle.response_complete and cycle.body_done) or cycle is not self.cycle:
            return
        self.cycle = None
        self.server_state.total_requests += 1
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        self._cancel_deadline()
        if self.buf:
            self._arm_deadline()
            self.loop.call_soon(self._process)
        elif self.eof:
            self._close()
        else:
            self._arm_idle()

    # --- the ASGI side ---

    async def _run(self, cycle: _Cycle) -> None:
        async def receive() -> dict:
            return await self._receive(cycle)

        async def send(message: dict) -> None:
            await self._send(cycle, message)

        try:
            await self.app(cycle.scope, receive, send)
        except Exception:  # noqa: BLE001 - answered with 500 and logged; the server keeps serving
            _logger.exception("otel-genai serve: unexpected error on %s %s", cycle.scope["method"], cycle.scope["path"])
            if not cycle.response_started:
                cycle.must_close = True
                await self._send(cycle, {"type": "http.response.start", "status": 500,
                                         "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await self._send(cycle, {"type": "http.response.body", "body": b"Internal Server Error"})
            else:
                self._close()
        else:
            if not cycle.response_complete and not cycle.disconnected:
                _logger.error("otel-genai serve: the app returned without completing its answer")
                self._close()

    async def _receive(self, cycle: _Cycle) -> dict:
        if cycle.expect_continue and not cycle.response_started:
            cycle.expect_continue = False
            if not cycle.body_done and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while True:
            if cycle.error is not None:
                raise cycle.error
            if cycle.body or (cycle.body_done and not cycle.final_sent):
                chunk = bytes(cycle.body)
                cycle.body.clear()
                if self.reading_paused:
                    self.reading_paused = False
                    self.transport.resume_reading()
                cycle.final_sent = cycle.body_done
                return {"type": "http.request", "body": chunk, "more_body": not cycle.body_done}
            if cycle.disconnected or cycle.response_complete:
                return {"type": "http.disconnect"}
            cycle.event.clear()
            await cycle.event.wait()

    async def _send(self, cycle: _Cycle, message: dict) -> None:
        if cycle.disconnected:
            return
        if self.write_paused is not None and not self.write_paused.done():
            await self.write_paused
        kind = message["type"]
        if not cycle.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
            cycle.response_started = True
            status = int(message["status"])
            headers = list(message.get("headers") or ())
            names = {name.lower() for name, _ in headers}
            for name, value in headers:
                if name.lower() == b"connection" and b"close" in value.lower():
                    cycle.must_close = True
            if cycle.error is not None:
                cycle.must_close = True
            if cycle.must_close and b"connection" not in names:
                headers.append((b"connection", b"close"))
            if b"content-length" not in names and status >= 200 and status not in (204, 304):
                cycle.chunked_out = True
                headers.append((b"transfer-encoding", b"chunked"))
            out = [b"HTTP/1.1 %d %s\r\n" % (status, _PHRASES.get(status, b""))]
            out += [b"%s: %s\r\n" % (name, value) for name, value in headers]
            out.append(b"\r\n")
            self.transport.write(b"".join(out))
            return
        if kind != "http.response.body" or cycle.response_complete:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if body and not cycle.head_only:
            self.transport.write(b"%x\r\n%s\r\n" % (len(body), body) if cycle.chunked_out else body)
        if more:
            return
        if cycle.chunked_out and not cycle.head_only:
            self.transport.write(b"0\r\n\r\n")
        cycle.response_complete = True
        cycle.event.set()
        if cycle.must_close:
            self._close()
            return
        if not cycle.body_done:
            if cycle.framing == "length" and cycle.remaining <= DRAIN_LIMIT:
                cycle.draining = True
                cycle.body.clear()
                self._pump_body(cycle)
            else:
                self._close()
                return
        self._maybe_finish(cycle)

    # --- timers, errors ---

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self.deadline = self.loop.call_later(self.read_timeout_s, self._deadline_passed)

    def _arm_idle(self) -> None:
        self._cancel_idle()
        self.idle = self.loop.call_later(self.read_timeout_s, self._close)

    def _cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _cancel_idle(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None

    def _cancel_timers(self) -> None:
        self._cancel_deadline()
        self._cancel_idle()

    def _deadline_passed(self) -> None:
        self.deadline = None
        cycle = self.cycle
        if cycle is None or cycle.draining:  # still in the head, or reading away an unread body
            self._close()
            return
        if not cycle.body_done and cycle.error is None:
            cycle.error = ReadTimeout(
                f"the request did not arrive in full within the {self.read_timeout_s:g}-second read timeout")
            cycle.must_close = True
            cycle.event.set()

    def _answer_and_close(self, status: int, message: bytes) -> None:
        """A request refused before the app sees it (its head is unusable)."""
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, _PHRASES.get(status, b""), len(message), message))
        self._close()

    def _close(self) -> None:
        self._cancel_timers()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)
