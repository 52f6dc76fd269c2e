"""``otel-genai serve``: OTLP/HTTP ingest, the JSON read API and the trace viewer over a trace store
(:mod:`otel_genai.server`); ``otel-genai ui`` (:mod:`.ui`) is the same server, announced as the viewer."""

from __future__ import annotations

import argparse
import math
import os
import signal
import threading
from typing import Callable

from ..server.runner import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    TOKEN_ENV,
    TraceServer,
)
from ._common import CliError, add_store_argument, int_arg, open_for_command, positive_int


def register_serve(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai serve``: receive OTLP/HTTP traces into the trace store, and serve the viewer."""
    p = subparsers.add_parser(
        "serve",
        help="receive OTLP/HTTP traces (protobuf or JSON) into the trace store; the viewer at /",
        description="An OTLP/HTTP receiver in front of the trace store: POST /v1/traces "
        "(application/x-protobuf or application/json, gzip or not), GET /health; the trace viewer at / "
        "and its JSON API under /api/. Point an app "
        "(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:PORT/v1/traces) or a collector's otlphttp "
        "exporter at it.",
    )
    add_server_arguments(p, host=True)
    p.add_argument("--max-body-size", type=positive_int, default=DEFAULT_MAX_BODY_BYTES, metavar="BYTES",
                   help=f"largest accepted body, compressed or not (default {DEFAULT_MAX_BODY_BYTES})")
    p.add_argument("--read-timeout", type=_positive_seconds, default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
                   help="time a request may take to arrive from its first byte, and a kept-alive connection"
                   f" may stay idle (default {DEFAULT_READ_TIMEOUT_S:g}); a slower request gets 408")
    p.set_defaults(handler=_cmd_serve)


def add_server_arguments(p: argparse.ArgumentParser, *, host: bool) -> None:
    """The options ``serve`` and ``ui`` share: ``--port``, ``--store``, ``--token``, ``--protect-reads``,
    ``--read-only`` (and ``--host`` when ``host``)."""
    if host:
        p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help=f"port to bind, 0..65535 (default {DEFAULT_PORT}; 0 picks a free one)")
    add_store_argument(p)
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on writes: /v1/traces, tags, deletion"
                   f" (default: ${TOKEN_ENV}, else none)")
    p.add_argument("--protect-reads", action="store_true",
                   help="require the token for the API's reads too (the viewer asks for it)")
    p.add_argument("--read-only", action="store_true",
                   help="open the store read-only and accept no writes (to share a store for viewing)")


def run_server(args: argparse.Namespace, announce: Callable[[TraceServer], None], *, host: str = DEFAULT_HOST,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> int:
    """Open the store, serve until SIGTERM or Ctrl-C (exit status 0; Ctrl-C: 130), ``announce(server)``
    once listening. A store or address that cannot be used is a :class:`CliError`."""
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    if args.protect_reads and not token:
        raise CliError(f"--protect-reads needs a token (--token or ${TOKEN_ENV})")
    store = open_for_command(args.store, read_only=args.read_only)
    try:
        server = TraceServer(
            store, host=host, port=args.port, token=token, protect_reads=args.protect_reads,
            read_only=args.read_only, max_body_bytes=max_body_bytes, read_timeout_s=read_timeout_s,
        )
    except OSError as exc:  # the address is taken, or not ours
        store.close()
        raise CliError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from None
    # SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    announce(server)
    try:
        server.serve_forever()
    finally:
        server.close()
        store.close()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    def announce(server: TraceServer) -> None:
        token = server.settings.token
        if server.settings.read_only:
            auth = "read-only"
        elif token:
            auth = "bearer token required" + (" for reads too" if server.settings.protect_reads else "")
        else:
            auth = "no authentication"
        print(f"otel-genai: receiving OTLP/HTTP traces at {server.endpoint} -> {server.store.location}"
              f" ({auth}; viewer at {server.url}/; Ctrl-C to stop)", flush=True)

    return run_server(args, announce, host=args.host, max_body_bytes=args.max_body_size,
                      read_timeout_s=args.read_timeout)


def _port(text: str) -> int:
    """A TCP port, 0..65535 (0: any free port)."""
    value = int_arg(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0 picks a free one): {value}")
    return value


def _positive_seconds(text: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text}")
    return value
