"""``otel-genai traces``: read and manage a trace store, for people (tables by ``rich``) and scripts (``--json``).

==========================  ===========================================================================
``traces search`` (``list``)  traces matching ``--filter`` (MLflow's grammar), ``--order-by``, one table
                            row each: id, start (local time, the zone in the caption), duration, name,
                            model, service, status, tokens, cost; ``--json``: one ``Trace.to_dict()``
                            ``info`` per line
``traces show ID``          one trace: header, span tree (the span type as stored, token usage and cost
                            per LLM span, tool calls), ``--content``: the messages and tool calls;
                            ``--json``: the whole trace
``traces export``           ``--format jsonl`` (``Trace.to_dict()`` per line) or ``otlp-json`` (an OTLP
                            ``ExportTraceServiceRequest`` per line, as a collector's file exporter writes)
``traces import FILE``      such a file (either format) into the store
``traces delete``           ``--older-than 30d``, ``--id ID``, ``--keep N``, ``--filter ...``
``traces set-tag`` / ``delete-tag``  a stored trace's tags
==========================  ===========================================================================

Token usage and cost are the store's (:mod:`otel_genai.store.summary`, :mod:`otel_genai.store.pricing`).
A span's status reads ``OK`` when the OTel status is UNSET and the trace is OK (OTel leaves healthy spans
UNSET; ``--json`` keeps the stored value).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ..semconv import attributes as _A
from ..store import Trace
from ..store.summary import BASE_KEYS, CACHE_KEYS, aggregate_span_usage
from ._common import CliError, add_store_argument, open_for_command, positive_int, usage_error

EXAMPLES = {
    "search": """examples:
  otel-genai traces search --filter "trace.status = 'ERROR'"
  otel-genai traces search --filter "tag.env = 'prod' AND trace.total_tokens > 1000" --order-by "cost DESC"
  otel-genai traces search --filter "metadata.\\`mlflow.trace.session\\` = 'conv-7'" --json""",
    "show": """examples:
  otel-genai traces show 4bf92f3577b34da6
  otel-genai traces show --last --content
  otel-genai traces show --last --json > trace.json""",
    "export": """examples:
  otel-genai traces export > traces.jsonl
  otel-genai traces export --format otlp-json --filter "trace.timestamp_ms > 1767225600000" > otlp.json""",
    "import": """examples:
  otel-genai traces import traces.jsonl
  otel-genai traces import /var/otelcol/file-exporter.json --store sqlite:///tmp/copy.db""",
    "delete": """examples:
  otel-genai traces delete --older-than 30d
  otel-genai traces delete --keep 10000
  otel-genai traces delete --id 4bf92f3577b34da6a3ce929d0e0e4736 --filter "trace.status = 'ERROR'\"""",
    "set-tag": """examples:
  otel-genai traces set-tag 4bf92f3577b34da6 reviewed yes""",
    "delete-tag": """examples:
  otel-genai traces delete-tag 4bf92f3577b34da6 reviewed""",
}


def _parser(sub: Any, name: str, help_text: str, description: str, **kwargs: Any) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_text, description=description, epilog=EXAMPLES.get(name),
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def register_traces(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai traces search|list|show|export|import|delete|set-tag|delete-tag``."""
    traces = subparsers.add_parser(
        "traces", help="search, show, export, import and delete stored traces",
        description="Read and manage the trace store (default: $OTEL_GENAI_STORE_URI, else "
        "$OTEL_GENAI_STORE_PATH, else traces.db in the per-user data directory).",
        epilog="examples:\n  otel-genai traces search --filter \"trace.status = 'ERROR'\"\n  otel-genai traces show --last",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    traces.set_defaults(handler=lambda args: usage_error(traces))
    sub = traces.add_subparsers(dest="traces_command", metavar="{search,list,show,export,import,delete,set-tag,delete-tag}")

    for name, aliases in (("search", ["list"]),):
        p = _parser(sub, name, "traces matching a filter, newest first, one row each",
                    "Traces matching --filter (MLflow's search_traces grammar: AND only; trace.status, "
                    "trace.timestamp_ms, trace.execution_time_ms, trace.name, tag.<key>, metadata.<key>, span.name, "
                    "span.type, span.attributes.<key>, trace.model, trace.provider, trace.input_tokens, "
                    "trace.output_tokens, trace.total_tokens, trace.cost).", aliases=aliases)
        add_store_argument(p)
        p.add_argument("--filter", "-f", dest="filter_string", metavar="FILTER", help="e.g. \"trace.status = 'ERROR'\"")
        p.add_argument("--order-by", action="append", metavar="KEY [ASC|DESC]",
                       help="timestamp_ms, execution_time_ms, total_tokens or cost; repeatable (default: timestamp_ms DESC)")
        p.add_argument("--limit", "-n", type=positive_int, default=20, metavar="N", help="at most N traces (default 20)")
        p.add_argument("--page-token", metavar="TOKEN", help="the next page (printed under a full page)")
        p.add_argument("--status", choices=("OK", "ERROR"), type=str.upper, help="only traces with this status")
        p.add_argument("--json", action="store_true", help="one JSON object (the trace's info) per line")
        p.set_defaults(handler=_cmd_search)

    p = _parser(sub, "show", "one trace as a span tree with tokens and cost",
                "One trace: its summary, then its spans as a tree (type, duration, status, tokens, cost, tool calls).")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("trace_id", nargs="?", metavar="TRACE_ID",
                       help="trace id (32 hex) or a unique prefix of at least 8 hex characters")
    which.add_argument("--last", action="store_true", help="the most recently started trace")
    p.add_argument("--content", action="store_true", help="also the captured messages, tool calls, inputs and outputs")
    p.add_argument("--json", action="store_true", help="the whole trace as JSON (Trace.to_dict())")
    add_store_argument(p)
    p.set_defaults(handler=_cmd_show)

    p = _parser(sub, "export", "write traces to stdout as JSON lines or OTLP JSON",
                "Write the traces matching --filter (all by default), oldest first, one per line.")
    add_store_argument(p)
    p.add_argument("--filter", "-f", dest="filter_string", metavar="FILTER")
    p.add_argument("--format", choices=("jsonl", "otlp-json"), default="jsonl",
                   help="jsonl: Trace.to_dict() per line (default); otlp-json: an OTLP ExportTraceServiceRequest per line")
    p.set_defaults(handler=_cmd_export)

    p = _parser(sub, "import", "store traces from a JSON lines or OTLP JSON file",
                "Store each line of FILE ('-': stdin): an OTLP JSON export request (what a collector's file "
                "exporter writes) or a line of `traces export --format jsonl`.")
    p.add_argument("file", metavar="FILE")
    add_store_argument(p)
    p.set_defaults(handler=_cmd_import)

    p = _parser(sub, "delete", "delete traces by age, id, count or filter",
                "Delete whole traces: those selected by any of the options (their union). The store gives the "
                "space back to the file system.")
    add_store_argument(p)
    p.add_argument("--older-than", metavar="AGE", help="started longer ago than AGE (30d, 12h, 15m, 90s)")
    p.add_argument("--id", dest="ids", action="append", metavar="TRACE_ID", help="this trace (repeatable)")
    p.add_argument("--keep", type=int, metavar="N", help="all but the N newest traces")
    p.add_argument("--filter", "-f", dest="filter_string", metavar="FILTER", help="the traces matching FILTER")
    p.set_defaults(handler=_cmd_delete)

    p = _parser(sub, "set-tag", "set a tag on a stored trace", "Set tag KEY to VALUE on the trace TRACE_ID.")
    p.add_argument("trace_id", metavar="TRACE_ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", metavar="VALUE")
    add_store_argument(p)
    p.set_defaults(handler=_cmd_set_tag)

    p = _parser(sub, "delete-tag", "remove a tag from a stored trace", "Remove tag KEY from the trace TRACE_ID.")
    p.add_argument("trace_id", metavar="TRACE_ID")
    p.add_argument("key", metavar="KEY")
    add_store_argument(p)
    p.set_defaults(handler=_cmd_delete_tag)


# --- output ---------------------------------------------------------------------------------------


def _console() -> Any:
    """A ``rich`` console on the current ``sys.stdout`` (so redirections and captures see it);
    ``COLUMNS`` or the terminal sets the width (80 when neither says)."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _search(store: Any, args: argparse.Namespace, **extra: Any) -> Any:
    try:
        return store.search_traces(args.filter_string or "", **extra)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# --- search ---------------------------------------------------------------------------------------


def _cmd_search(args: argparse.Namespace) -> int:
    with open_for_command(args.store, read_only=True) as store:
        traces = _search(store, args, order_by=args.order_by, max_results=args.limit, page_token=args.page_token,
                         include_spans=False, status=args.status)
        location = store.location
    if args.json:
        for t in traces:
            print(json.dumps(t.info.to_dict(), ensure_ascii=False))
        return 0
    if not traces:
        print(f"No traces in {location}" + (" match the filter." if args.filter_string or args.status else "."))
        return 0
    console = _console()
    console.print(_traces_table(traces, console.width))
    if traces.token:
        console.print(f"more: --page-token {traces.token}", markup=False)
    return 0


def _traces_table(traces: Sequence[Trace], width: int) -> Any:
    """The rows as a ``rich`` table no wider than ``width``: fixed columns keep their width, name /
    model / service shrink (with an ellipsis); below 120 columns the ids are cut to 16 characters
    (a prefix ``traces show`` accepts), the start shows no year nor seconds, and service, input and
    output tokens are left out."""
    from rich.table import Table

    wide = width >= 120
    zone = _dt.datetime.now().astimezone().strftime("%Z, UTC%z")
    rows = []
    for t in traces:
        info = t.info
        start = _fmt_local(info.start_time) if wide else info.start_time.astimezone().strftime("%m-%d %H:%M")
        row = {"TRACE ID": info.trace_id if wide else info.trace_id[:16], "START": start,
               "DURATION": _fmt_duration(info.duration_ms), "NAME": info.root_span_name or "-", "MODEL": info.model or "-",
               "SERVICE": info.service_name or "-", "STATUS": _STATES.get(info.state, info.state),
               "IN": _fmt_tokens(info.token_usage, BASE_KEYS[0]), "OUT": _fmt_tokens(info.token_usage, BASE_KEYS[1]),
               "TOTAL": _fmt_tokens(info.token_usage, BASE_KEYS[2]), "COST": _fmt_cost(info.cost)}
        rows.append(row)
    columns = ["TRACE ID", "START", "DURATION", "NAME", "MODEL"] + (["SERVICE"] if wide else []) + ["STATUS"] + (
        ["IN", "OUT"] if wide else []) + ["TOTAL", "COST"]
    flexible = {"NAME": 3, "MODEL": 2, "SERVICE": 1}
    table = Table(box=None, pad_edge=False, show_edge=False, caption=f"times: local ({zone})",
                  caption_justify="left", expand=False, padding=(0, 2, 0, 0), header_style="bold")
    longest = {name: max([len(name)] + [len(r[name]) for r in rows]) for name in columns}
    room = width - sum(longest[c] for c in columns if c not in flexible) - 2 * len(columns)
    shown = [c for c in columns if c in flexible]
    widths = {c: min(longest[c], 4) for c in shown}
    room -= sum(widths.values())
    while room > 0:  # share what is left by ratio, never beyond a column's longest cell
        growing = [c for c in shown if widths[c] < longest[c]]
        if not growing:
            break
        for c in growing:
            step = min(room, flexible[c], longest[c] - widths[c])
            widths[c] += step
            room -= step
    for name in columns:
        right = name in ("DURATION", "IN", "OUT", "TOTAL", "COST")
        if name in flexible:
            table.add_column(name, overflow="ellipsis", no_wrap=True, width=widths[name])
        else:
            table.add_column(name, no_wrap=True, min_width=longest[name], justify="right" if right else "left")
    for row in rows:
        table.add_row(*[row[c] for c in columns], style="red" if row["STATUS"] == "ERROR" else None)
    return table


_STATES = {"IN_PROGRESS": "RUNNING"}


# --- show -----------------------------------------------------------------------------------------

#: the span type shown for a span without ``mlflow.spanType``, from ``gen_ai.operation.name``
def _span_label(span: Any) -> str:
    """The span type as stored (``mlflow.spanType``), else MLflow's type for its ``gen_ai.operation.name``,
    else the OTel kind."""
    label = span.span_type
    return span.kind if label == "UNKNOWN" else label


def _shown_status(span: Any, trace_state: str) -> str:
    status = str(span.status)
    if status == "UNSET" and trace_state == "OK":
        return "OK"
    if status == "ERROR" and span.status_message:
        return f"ERROR ({_clip(span.status_message.splitlines()[0], 60)})"
    return status


def _tool_details(span: Any) -> str:
    """`` call <id>  <arguments> -> <result>`` for a tool span (content only when it was captured)."""
    attributes = span.attributes
    out = ""
    call_id = attributes.get(_A.GEN_AI_TOOL_CALL_ID)
    if call_id:
        out += f"  call {call_id}"
    arguments = attributes.get(_A.GEN_AI_TOOL_CALL_ARGUMENTS)
    result = attributes.get(_A.GEN_AI_TOOL_CALL_RESULT)
    if arguments is not None or result is not None:
        out += f"  {_clip(str(arguments) if arguments is not None else '', 48)} -> {_clip(str(result) if result is not None else '', 48)}"
    return out


_INFERENCE_TYPES = {"CHAT_MODEL", "LLM", "EMBEDDING"}


def _usage_hint(span: Any) -> str:
    """Why an inference span has no usage, when the reason is known: an OpenAI stream without
    ``stream_options={"include_usage": True}`` reports none."""
    attributes = span.attributes
    if span.token_usage is None and attributes.get("gen_ai.request.stream") is True:
        if str(attributes.get(_A.GEN_AI_PROVIDER_NAME, "")).endswith("openai"):
            return '  tokens: none reported (a stream reports usage only with stream_options={"include_usage": True})'
        return "  tokens: none reported by the stream"
    return ""


def _span_lines(trace: Trace, content: bool = False) -> List[str]:
    """The span tree, one line per span: name, type, duration, status, the span's own token usage
    and cost (LLM spans), a tool's call id, arguments and result, an agent's subtotal; with
    ``content``, the messages / inputs / outputs under each span."""
    spans = trace.data.spans  # in start order
    state = trace.info.state
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
        label = _span_label(span)
        line = f"{'  ' * depth}{span.name}  [{label}]  {_fmt_duration(span.duration_ms)}  {_shown_status(span, state)}"
        usage = span.token_usage
        if usage is not None:
            line += "  tokens: " + _fmt_usage(usage)
            if span.cost is not None:
                line += "  cost " + _fmt_cost(span.cost)
        elif label in _INFERENCE_TYPES:
            line += _usage_hint(span)
        if label == "TOOL":
            line += _tool_details(span)
        elif label == "AGENT" and usage is None and depth:  # a root agent's subtotal is the trace total
            subtotal = aggregate_span_usage(_subtree(span, children))
            if subtotal is not None:
                line += "  subtotal: " + _fmt_usage(subtotal)
        lines.append(line)
        if content:
            lines.extend(f"{'  ' * (depth + 2)}{text}" for text in _content_lines(span, label))
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    for s in spans:  # spans in a parent cycle (malformed input) are not reachable from a root
        if s.span_id not in seen:
            lines.append(f"{s.name}  [{_span_label(s)}]  {_fmt_duration(s.duration_ms)}  {s.status}  (detached)")
    return lines


def _content_lines(span: Any, label: str) -> List[str]:
    """The captured content of a span as short lines: messages (role: text; tool calls as
    ``name(arguments)``; tool results), else the inputs and outputs."""
    out: List[str] = []
    attributes = span.attributes
    instructions = span.get_attribute(_A.GEN_AI_SYSTEM_INSTRUCTIONS) if hasattr(_A, "GEN_AI_SYSTEM_INSTRUCTIONS") else None
    if isinstance(instructions, list):
        out.append("system: " + _clip(" ".join(str(p.get("content", "")) for p in instructions if isinstance(p, dict)), 200))
    inputs = span.get_attribute(_A.GEN_AI_INPUT_MESSAGES)
    outputs = span.get_attribute(_A.GEN_AI_OUTPUT_MESSAGES)
    if isinstance(inputs, list) or isinstance(outputs, list):
        for prefix, messages in (("", inputs), ("-> ", outputs)):
            for message in messages if isinstance(messages, list) else ():
                out.extend(prefix + line for line in _message_lines(message))
        return out
    if label == "TOOL" and (_A.GEN_AI_TOOL_CALL_ARGUMENTS in attributes or _A.GEN_AI_TOOL_CALL_RESULT in attributes):
        return out
    if span.inputs is not None:
        out.append("inputs: " + _clip(_compact(span.inputs), 200))
    if span.outputs is not None:
        out.append("outputs: " + _clip(_compact(span.outputs), 200))
    return out


def _message_lines(message: Any) -> List[str]:
    if not isinstance(message, dict):
        return [_clip(_compact(message), 200)]
    role = message.get("role", "?")
    lines = []
    for part in message.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            lines.append(f"{role}: {_clip(str(part.get('content', '')), 200)}")
        elif kind == "tool_call":
            lines.append(f"{role}: tool call {part.get('name')}({_clip(_compact(part.get('arguments')), 120)})"
                         + (f"  id {part['id']}" if part.get("id") else ""))
        elif kind == "tool_call_response":
            lines.append(f"{role}: tool result {_clip(_compact(part.get('response')), 160)}"
                         + (f"  id {part['id']}" if part.get("id") else ""))
        elif kind == "reasoning":
            lines.append(f"{role} (reasoning): {_clip(str(part.get('content', '')), 160)}")
        else:
            lines.append(f"{role}: [{kind}]")
    return lines


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _subtree(root: Any, children: Dict[Optional[str], list]) -> list:
    """``root`` and every span beneath it."""
    out, stack, seen = [], [root], set()
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        out.append(span)
        stack.extend(children.get(span.span_id, []))
    return out


def _cmd_show(args: argparse.Namespace) -> int:
    with open_for_command(args.store, read_only=True) as store:
        if args.last:
            trace_id = store.get_last_trace_id()
            if trace_id is None:
                raise CliError(f"the trace store at {store.location} holds no traces")
        else:
            trace_id = store.resolve_trace_id(args.trace_id)  # TraceNotFound / Ambiguous: StoreError
        trace = store.get_trace(trace_id)
    if trace is None:  # removed between the two reads
        raise CliError(f"no trace with id {trace_id!r} in {store.location}")
    if args.json:
        print(trace.to_json(pretty=True))
        return 0
    info = trace.info
    header = (f"Trace {info.trace_id}  {info.state}  started {_fmt_local(info.start_time, zone=True)}"
              f"  duration {_fmt_duration(info.duration_ms)}  spans {len(trace.data.spans)}")
    if info.model:
        header += f"  model {info.model}"
    if info.service_name:
        header += f"  service {info.service_name}"
    print(header)
    details = []
    if info.session_id:
        details.append(f"session {info.session_id}")
    if info.user_id:
        details.append(f"user {info.user_id}")
    if info.tags:
        details.append("tags " + ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())))
    if details:
        print("  ".join(details))
    print()
    for line in _span_lines(trace, content=args.content):
        print(line)
    print()
    total = "Total tokens: none reported" if info.token_usage is None else "Total tokens: " + _fmt_usage(info.token_usage)
    if info.cost is not None:
        total += f"  cost {_fmt_cost(info.cost)}"
    print(total)
    return 0


# --- export, import, delete, tags ------------------------------------------------------------------


def _all_traces(store: Any, args: argparse.Namespace, include_spans: bool) -> Iterable[Trace]:
    token = None
    while True:
        page = _search(store, args, order_by=["timestamp_ms ASC"], max_results=200, page_token=token,
                       include_spans=include_spans)
        yield from page
        token = page.token
        if token is None:
            return


def _cmd_export(args: argparse.Namespace) -> int:
    from ..store.export import trace_to_otlp_json

    with open_for_command(args.store, read_only=True) as store:
        for trace in _all_traces(store, args, include_spans=True):
            if args.format == "jsonl":
                print(json.dumps(trace.to_dict(), ensure_ascii=False, separators=(",", ":")))
            else:
                print(json.dumps(trace_to_otlp_json(trace), ensure_ascii=False, separators=(",", ":")))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ..store.export import import_lines

    try:
        handle = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    with handle, open_for_command(args.store, read_only=False) as store:
        try:
            lines, spans = import_lines(store, handle)
        except ValueError as exc:
            raise CliError(f"{args.file}: {exc}") from None
        print(f"Imported {lines} line{'s' * (lines != 1)} ({spans} new span{'s' * (spans != 1)}) into {store.location}.")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from ..exporters.store import parse_duration

    if args.older_than is None and not args.ids and args.keep is None and not args.filter_string:
        raise CliError("say which traces to delete: --older-than AGE, --id TRACE_ID, --keep N or --filter FILTER")
    if args.keep is not None and args.keep < 0:
        raise CliError(f"--keep must be >= 0, not {args.keep}")
    try:
        age = parse_duration(args.older_than) if args.older_than is not None else None
    except ValueError as exc:
        raise CliError(f"--older-than: {exc}") from None
    with open_for_command(args.store, read_only=False) as store:
        ids = [store.resolve_trace_id(i) for i in args.ids or ()]
        if args.filter_string:
            ids += [t.info.trace_id for t in _all_traces(store, args, include_spans=False)]
        deleted = store.delete_traces(older_than=age, trace_ids=ids or None, max_traces=args.keep)
        print(f"Deleted {deleted} trace{'s' * (deleted != 1)} from {store.location}.")
    return 0


def _cmd_set_tag(args: argparse.Namespace) -> int:
    with open_for_command(args.store, read_only=False) as store:
        trace_id = store.resolve_trace_id(args.trace_id)
        try:
            store.set_trace_tag(trace_id, args.key, args.value)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    print(f"Trace {trace_id}: tag {args.key} = {args.value}")
    return 0


def _cmd_delete_tag(args: argparse.Namespace) -> int:
    with open_for_command(args.store, read_only=False) as store:
        trace_id = store.resolve_trace_id(args.trace_id)
        if not store.delete_trace_tag(trace_id, args.key):
            raise CliError(f"trace {trace_id} has no tag {args.key!r}")
    print(f"Trace {trace_id}: tag {args.key} removed")
    return 0


# --- formatting ---------------------------------------------------------------------------------


def _fmt_duration(ms: float) -> str:
    if ms < 1:
        return f"{ms * 1000:.0f} us"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def _fmt_local(dt: _dt.datetime, zone: bool = False) -> str:
    """``dt`` in local time (``%Y-%m-%d %H:%M:%S``, plus the zone name when ``zone``)."""
    local = dt.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if zone else "%Y-%m-%d %H:%M:%S")


def _fmt_tokens(usage: Optional[dict], key: str) -> str:
    if not usage or key not in usage:
        return "-"
    return str(usage[key])


def _fmt_cost(cost: Optional[dict]) -> str:
    """USD: to the cent from $1, else to a millionth of a dollar (``$0.000016``); ``-`` when unknown."""
    if not cost:
        return "-"
    total = cost.get("total_cost", 0.0)
    if total >= 1:
        return f"${total:,.2f}"
    text = f"{total:.6f}".rstrip("0").rstrip(".")
    return "$" + text if text not in ("0", "") else ("$0" if total == 0 else "<$0.000001")


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
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[: width - 3] + "..."
