"""``otel-genai serve``: receive OTLP/HTTP traces into a trace store (:mod:`otel_genai.store.receiver`)."""

from __future__ import annotations

import argparse
import math
import os
import signal
import threading

from ..store.receiver import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    TOKEN_ENV,
    OTLPReceiver,
)
from ._common import CliError, add_store_argument, int_arg, open_for_command, positive_int


def register_serve(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai serve``: receive OTLP/HTTP traces into the trace store."""
    p = subparsers.add_parser(
        "serve",
        help="receive OTLP/HTTP traces (protobuf or JSON) into the embedded trace store",
        description="An OTLP/HTTP receiver in front of the trace store: POST /v1/traces "
        "(application/x-protobuf or application/json, gzip or not), GET /health. Point an app "
        "(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:PORT/v1/traces) or a collector's otlphttp "
        "exporter at it.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help=f"port to bind, 0..65535 (default {DEFAULT_PORT}; 0 picks a free one)")
    add_store_argument(p)
    p.add_argument("--token", default=None,
                   help=f"require 'Authorization: Bearer TOKEN' on /v1/traces (default: ${TOKEN_ENV}, else none)")
    p.add_argument("--max-body-size", type=positive_int, default=DEFAULT_MAX_BODY_BYTES, metavar="BYTES",
                   help=f"largest accepted body, compressed or not (default {DEFAULT_MAX_BODY_BYTES})")
    p.add_argument("--read-timeout", type=_positive_seconds, default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
                   help="time a request may take to arrive from its first byte, and a kept-alive connection"
                   f" may stay idle (default {DEFAULT_READ_TIMEOUT_S:g}); a slower request gets 408")
    p.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; exit status 0. A store or address that cannot be used is a :class:`CliError`."""
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    store = open_for_command(args.store, read_only=False)
    try:
        receiver = OTLPReceiver(
            store, host=args.host, port=args.port, token=token, max_body_bytes=args.max_body_size,
            read_timeout_s=args.read_timeout,
        )
    except OSError as exc:  # the address is taken, or not ours
        store.close()
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    # SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=receiver.shutdown, daemon=True).start())
    auth = "bearer token required" if token else "no authentication"
    print(f"otel-genai: receiving OTLP/HTTP traces at {receiver.endpoint} -> {store.location}"
          f" ({auth}; Ctrl-C to stop)", flush=True)
    try:
        receiver.serve_forever()
    finally:
        receiver.close()
        store.close()
    return 0


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
