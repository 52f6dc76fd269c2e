"""Running the app: :class:`TraceServer` binds a socket and serves :func:`~.app.build_app` with uvicorn.

uvicorn (https://www.uvicorn.org/) runs the event loop, accepts connections on our socket and stops
gracefully (open requests finish; at most the read timeout, plus one second, is waited for them); its
HTTP/1.1 wire layer is :class:`~.http11.HTTP11Protocol` (the read timeout from a request's first byte,
chunked decoding with precise errors). uvicorn's logging set-up and signal capture are left out: the
command installs its own SIGTERM / Ctrl-C handling, and an embedding program keeps its logging.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import threading
from typing import Iterator, Optional

import uvicorn

from ..store.backends import open_store
from ..store.interface import PathLike, TraceStore
from .app import Settings, build_app
from .http11 import protocol_factory
from .ingest import TRACES_PATH

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
#: the OTel Collector's own default ``max_request_body_size`` (20 MiB), applied to the body as
#: received and again after decompression
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
#: seconds a request may take to arrive from its first byte, and a kept-alive connection may stay idle
DEFAULT_READ_TIMEOUT_S = 10.0
TOKEN_ENV = "OTEL_GENAI_SERVE_TOKEN"


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the caller handles signals (cli/serve.py)
        yield


class TraceServer:
    """OTLP/HTTP ingest, the JSON API and the trace viewer over one trace store, on one port.

    Args:
        store: an open :class:`~otel_genai.store.interface.TraceStore` (not closed by :meth:`close`),
            or a store URI or path to open (``None``: :func:`~otel_genai.store.resolve_store_uri`);
            opened read-only when ``read_only``.
        host, port: where to listen (``port=0``: a free port, see :attr:`port`).
        token: when set, writes (``POST /v1/traces``, the API's tag and delete calls) need
            ``Authorization: Bearer <token>`` (else 401); reads too when ``protect_reads``.
        protect_reads: require the token for the API's reads as well.
        read_only: accept no writes (ingest and API writes answer 403).
        max_body_bytes: largest accepted ingest body, both as received and after decompression (else 413).
        read_timeout_s: seconds a request may take to arrive, from its first byte to the end of its
            body (else 408, or the connection is closed), and a kept-alive connection may stay idle.

    Use :meth:`serve_forever` (blocking), or as a context manager (serves in a daemon thread). The
    socket is bound in the constructor.

    Raises:
        ValueError: ``port`` not in 0..65535, ``max_body_bytes`` < 1, ``read_timeout_s`` not a
            positive finite number, ``protect_reads`` without a token.
        OSError: the address is taken or cannot be bound.
        StoreError: the store cannot be opened (e.g. :class:`~otel_genai.store.interface.ForeignStoreError`).
    """

    def __init__(
        self,
        store: TraceStore | PathLike | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: Optional[str] = None,
        protect_reads: bool = False,
        read_only: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
        if not (read_timeout_s > 0 and math.isfinite(read_timeout_s)):
            raise ValueError(f"read_timeout_s must be a positive number of seconds, not {read_timeout_s}")
        if protect_reads and not token:
            raise ValueError("protect_reads needs a token")
        self._owns_store = store is None or isinstance(store, (str, os.PathLike))
        self.store: TraceStore = open_store(store, read_only=read_only) if self._owns_store else store
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.settings = Settings(token=token, protect_reads=protect_reads, read_only=read_only,
                                 max_body_bytes=max_body_bytes)
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.socket(family, socket.SOCK_STREAM)
            try:
                self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._socket.bind((host, port))
                self._socket.listen(128)
                self._socket.setblocking(False)
            except BaseException:
                self._socket.close()
                raise
        except BaseException:
            if self._owns_store:
                self.store.close()
            raise
        self.app = build_app(self.store, self.settings)
        config = uvicorn.Config(
            self.app, http=protocol_factory(read_timeout_s), lifespan="off", log_config=None,
            log_level="warning", access_log=False, proxy_headers=False, server_header=False,
            date_header=False, timeout_graceful_shutdown=int(math.ceil(read_timeout_s)) + 1, ws="none",
        )
        config.load()  # now, not on the first request: a server that says it listens answers at once
        self._uvicorn = _Uvicorn(config)
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()
        self._stopped.set()

    @property
    def host(self) -> str:
        return self._socket.getsockname()[0]

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

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
        """Serve until :meth:`shutdown` is called (from another thread or a signal handler)."""
        self._stopped.clear()
        try:
            asyncio.run(self._uvicorn.serve(sockets=[self._socket]))
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever`; from another thread, waits for it to return."""
        self._uvicorn.should_exit = True
        if threading.current_thread() is not threading.main_thread() or self._thread is not None:
            if self._thread is not threading.current_thread():
                self._stopped.wait(30)

    def close(self) -> None:
        """Release the socket and (if this server opened it) the store."""
        self._socket.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "TraceServer":
        self._stopped.clear()
        self._thread = threading.Thread(target=self.serve_forever, name="otel-genai-server", daemon=True)
        self._thread.start()
        deadline = 50
        while not self._uvicorn.started and deadline and self._thread.is_alive():
            threading.Event().wait(0.05)
            deadline -= 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.close()


#: the name ``otel-genai serve`` had before it served the viewer too
OTLPReceiver = TraceServer
