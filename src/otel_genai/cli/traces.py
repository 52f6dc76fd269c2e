"""The ``otel-genai`` command.

Subcommands are added by *registrars*: functions that receive the ``add_subparsers()`` object, add
their parser(s) and set ``handler=<function(args) -> int>`` with ``set_defaults``. To add one, write
``def register_x(subparsers): ...`` and append it to :data:`SUBCOMMANDS`.

``otel-genai demo``         run an instrumented example app against a local endpoint, print its token usage.
``otel-genai traces list``  newest traces of the embedded store, one line each.
``otel-genai traces show``  one trace as a span tree, with token usage per LLM span and in total.
``otel-genai serve``        an OTLP/HTTP receiver in front of the store (:mod:`otel_genai.store.receiver`).

Errors the user can act on (no store file, another application's database, unknown trace id, a
port in use) print one line on stderr and exit 1; bad arguments print argparse's one-line
``otel-genai <command>: error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import signal
import sys
import threading
from typing import Callable, Dict, List, Optional, Sequence

from .demo.run import DemoError, register_demo
from .store import (
    StoreError,
    StoreNotFoundError,
    Trace,
    TraceStore,
    default_store_path,
)
from .store.db import ForeignStoreError
from .store.receiver import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    TOKEN_ENV,
    OTLPReceiver,
)
from .store.usage import BASE_KEYS, CACHE_KEYS, aggregate_span_usage

PROG = "otel-genai"

#: a registrar adds one subcommand (or group) to the top-level ``add_subparsers()`` object
SubcommandRegistrar = Callable[["argparse._SubParsersAction"], None]


class CliError(Exception):
    """A user-facing error: printed as ``otel-genai: error: <message>``, exit status 1."""


# --- formatting helpers -------------------------------------------------------------------------


def _fmt_duration(ms: float) -> str:
    if ms < 1:
        return f"{ms * 1000:.0f} us"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def _fmt_local(dt: _dt.datetime) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _fmt_tokens(usage: Optional[dict], key: str) -> str:
    if not usage or key not in usage:
        return "-"
    return str(usage[key])


def _fmt_usage(usage: dict) -> str:
    parts = [
        f"input {usage.get(BASE_KEYS[0], 0)}",
        f"output {usage.get(BASE_KEYS[1], 0)}",
        f"total {usage.get(BASE_KEYS[2], 0)}",
    ]
    labels = {CACHE_KEYS[0]: "cache read", CACHE_KEYS[1]: "cache creation"}
    parts += [f"{labels[k]} {usage[k]}" for k in CACHE_KEYS if k in usage]
    return ", ".join(parts)


def _clip(text: Optional[str], width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(headers: Sequence[str], rows: List[Sequence[str]], right: Sequence[int] = ()) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


# --- traces -------------------------------------------------------------------------------------


_OTHER_FILE_HINT = "pass --store PATH or set OTEL_GENAI_STORE_PATH"


def _open_store(path: Optional[str]) -> TraceStore:
    resolved = default_store_path(path)
    try:
        return TraceStore(resolved, read_only=True)
    except StoreNotFoundError:
        raise CliError(
            f"no trace store at {resolved} (nothing has been exported there yet; {_OTHER_FILE_HINT})"
        ) from None
    except ForeignStoreError as exc:
        raise CliError(f"{exc} ({_OTHER_FILE_HINT})") from None


def _cmd_traces_list(args: argparse.Namespace) -> int:
    with _open_store(args.store) as store:
        traces = store.search_traces(args.limit, status=args.status, include_spans=False)
        if not traces:
            print(f"No traces in {store.path}.")
            return 0
    headers = ["TRACE ID", "START", "DURATION", "ROOT SPAN", "MODEL", "STATUS", "IN", "OUT", "TOTAL"]
    rows = []
    for t in traces:
        info = t.info
        rows.append([
            info.trace_id,
            _fmt_local(info.start_time),
            _fmt_duration(info.duration_ms),
            _clip(info.root_span_name, 32),
            _clip(info.model, 28),
            info.status,
            _fmt_tokens(info.token_usage, BASE_KEYS[0]),
            _fmt_tokens(info.token_usage, BASE_KEYS[1]),
            _fmt_tokens(info.token_usage, BASE_KEYS[2]),
        ])
    print(_table(headers, rows, right=(2, 6, 7, 8)))
    return 0


#: span label in `traces show`, from ``gen_ai.operation.name`` (else ``mlflow.spanType``, else the OTel kind)
_OPERATION_LABELS = {
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
    "chat": "LLM",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
}


def _span_label(span) -> str:
    """What a span is: ``AGENT``, ``TOOL``, ``LLM``, ``EMBEDDING``, an MLflow span type, else its OTel kind."""
    attributes = span.attributes
    label = _OPERATION_LABELS.get(attributes.get("gen_ai.operation.name"))
    if label is None:
        span_type = attributes.get("mlflow.spanType")
        label = span_type if isinstance(span_type, str) and span_type else span.kind
    return label


def _tool_details(span) -> str:
    """`` call <id>  <arguments> -> <result>`` for a tool span (content only when it was captured)."""
    attributes = span.attributes
    out = ""
    call_id = attributes.get("gen_ai.tool.call.id")
    if call_id:
        out += f"  call {call_id}"
    arguments = attributes.get("gen_ai.tool.call.arguments")
    result = attributes.get("gen_ai.tool.call.result")
    if arguments is not None or result is not None:
        out += f"  {_clip(str(arguments) if arguments is not None else '', 48)} -> {_clip(str(result) if result is not None else '', 48)}"
    return out


def _span_lines(trace: Trace) -> List[str]:
    """The span tree, one line per span: name, label (agent / tool / LLM ...), duration, status,
    the span's own token usage (LLM spans), a tool's call id, arguments and result, and an agent's
    subtotal of the tokens used beneath it."""
    spans = trace.data.spans  # in start order
    ids = {s.span_id for s in spans}
    children: Dict[Optional[str], list] = {}
    for s in spans:
        parent = s.parent_id if s.parent_id in ids and s.parent_id != s.span_id else None
        children.setdefault(parent, []).append(s)
    lines: List[str] = []
    seen = set()
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        status = span.status
        if status == "ERROR" and span.status_message:
            status = f"ERROR ({_clip(span.status_message.splitlines()[0], 60)})"
        label = _span_label(span)
        line = f"{'  ' * depth}{span.name}  [{label}]  {_fmt_duration(span.duration_ms)}  {status}"
        usage = span.token_usage
        if usage is not None:
            line += "  tokens: " + _fmt_usage(usage)
        if label == "TOOL":
            line += _tool_details(span)
        elif label == "AGENT" and usage is None and depth:  # a root agent's subtotal is the trace total
            subtotal = aggregate_span_usage(_subtree(span, children))
            if subtotal is not None:
                line += "  subtotal: " + _fmt_usage(subtotal)
        lines.append(line)
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    # spans in a parent cycle (malformed input) are not reachable from a root: list them anyway
    for s in spans:
        if s.span_id not in seen:
            lines.append(f"{s.name}  [{_span_label(s)}]  {_fmt_duration(s.duration_ms)}  {s.status}  (detached)")
    return lines


def _subtree(root, children: Dict[Optional[str], list]) -> list:
    """``root`` and every span beneath it (``root`` first, as a root: its own parent left out)."""
    out, stack, seen = [], [root], set()
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        out.append(span)
        stack.extend(children.get(span.span_id, []))
    return out


def _cmd_traces_show(args: argparse.Namespace) -> int:
    with _open_store(args.store) as store:
        if args.last:
            trace_id = store.get_last_trace_id()
            if trace_id is None:
                raise CliError(f"the trace store at {store.path} holds no traces")
        else:
            trace_id = store.resolve_trace_id(args.trace_id)  # TraceNotFound / Ambiguous: StoreError
        trace = store.get_trace(trace_id)
    if trace is None:  # removed between the two reads
        raise CliError(f"no trace with id {trace_id!r} in {store.path}")
    info = trace.info
    header = (
        f"Trace {info.trace_id}  {info.status}  started {_fmt_local(info.start_time)}"
        f"  duration {_fmt_duration(info.duration_ms)}  spans {len(trace.data.spans)}"
    )
    if info.model:
        header += f"  model {info.model}"
    print(header)
    print()
    for line in _span_lines(trace):
        print(line)
    print()
    if info.token_usage is None:
        print("Total tokens: none reported")
    else:
        print("Total tokens: " + _fmt_usage(info.token_usage))
    return 0


# --- argument types: a bad value is argparse's one-line error, exit status 2 ----------------------


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def _port(text: str) -> int:
    """A TCP port, 0..65535 (0: any free port)."""
    value = _int(text)
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


def register_traces(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai traces list|show``: read the embedded trace store."""
    traces = subparsers.add_parser(
        "traces", help="list and show traces stored by the embedded trace store",
        description="Read the embedded SQLite trace store (default: $OTEL_GENAI_STORE_PATH, else "
        "traces.db in the per-user data directory).",
    )
    traces.set_defaults(handler=lambda args: _usage_error(traces))
    sub = traces.add_subparsers(dest="traces_command", metavar="{list,show}")

    store_help = "the trace store file (default: $OTEL_GENAI_STORE_PATH or the per-user data dir)"
    p_list = sub.add_parser("list", help="newest traces first, one line each")
    p_list.add_argument("--store", metavar="PATH", help=store_help)
    p_list.add_argument("--limit", "-n", type=_positive_int, default=20, metavar="N",
                        help="show at most N traces (default 20)")
    p_list.add_argument("--status", choices=("OK", "ERROR"), type=str.upper,
                        help="only traces with this status")
    p_list.set_defaults(handler=_cmd_traces_list)

    p_show = sub.add_parser("show", help="one trace as a span tree with token usage")
    which = p_show.add_mutually_exclusive_group(required=True)
    which.add_argument("trace_id", nargs="?", metavar="TRACE_ID",
                       help="trace id (32 hex) or a unique prefix of at least 8 hex characters")
    which.add_argument("--last", action="store_true", help="the most recently started trace")
    p_show.add_argument("--store", metavar="PATH", help=store_help)
    p_show.set_defaults(handler=_cmd_traces_show)


# --- serve --------------------------------------------------------------------------------------


def register_serve(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai serve``: receive OTLP/HTTP traces into the embedded store."""
    p = subparsers.add_parser(
        "serve",
        help="receive OTLP/HTTP traces (protobuf or JSON) into the embedded trace store",
        description="An OTLP/HTTP receiver in front of the embedded trace store: POST /v1/traces "
        "(application/x-protobuf or application/json, gzip or not), GET /health. Point an app "
        "(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:PORT/v1/traces) or a collector's otlphttp "
        "exporter at it.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help=f"port to bind, 0..65535 (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--store", metavar="PATH",
                   help="the trace store file (default: $OTEL_GENAI_STORE_PATH or the per-user data dir)")
    p.add_argument("--token", default=None,
                   help=f"require 'Authorization: Bearer TOKEN' on /v1/traces (default: ${TOKEN_ENV}, else none)")
    p.add_argument("--max-body-size", type=_positive_int, default=DEFAULT_MAX_BODY_BYTES, metavar="BYTES",
                   help=f"largest accepted body, compressed or not (default {DEFAULT_MAX_BODY_BYTES})")
    p.add_argument("--read-timeout", type=_positive_seconds, default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
                   help="time a request may take to arrive from its first byte, and a kept-alive connection"
                   f" may stay idle (default {DEFAULT_READ_TIMEOUT_S:g}); a slower request gets 408")
    p.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    try:
        receiver = OTLPReceiver(
            args.store, host=args.host, port=args.port, token=token, max_body_bytes=args.max_body_size,
            read_timeout_s=args.read_timeout,
        )
    except ForeignStoreError as exc:
        raise CliError(f"{exc} ({_OTHER_FILE_HINT})") from None
    except OSError as exc:  # the address is taken, or not ours
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    # SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=receiver.shutdown, daemon=True).start())
    auth = "bearer token required" if token else "no authentication"
    print(f"otel-genai: receiving OTLP/HTTP traces at {receiver.endpoint} -> {receiver.store.path}"
          f" ({auth}; Ctrl-C to stop)", flush=True)
    try:
        receiver.serve_forever()
    finally:
        receiver.close()
    return 0


def _usage_error(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# --- the command --------------------------------------------------------------------------------

#: subcommand registrars, in help order; add e.g. ``register_demo`` here
SUBCOMMANDS: List[SubcommandRegistrar] = [
    register_demo,
    register_traces,
    register_serve,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``otel-genai`` argument parser, with every registrar in :data:`SUBCOMMANDS` applied."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="otel-genai: OpenTelemetry-native instrumentation for GenAI SDKs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.set_defaults(handler=lambda args: _usage_error(parser))
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("otel-genai")
    except Exception:  # noqa: BLE001 - not installed (running from a checkout)
        from .version import __version__

        return __version__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``otel-genai`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (CliError, StoreError, DemoError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `otel-genai traces list | head`: silence the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
