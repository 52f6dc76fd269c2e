"""``otel-genai traces list|show``: read a trace store.

``traces list``  newest traces, one line each: start, duration, root span, model, status, tokens.
``traces show``  one trace as a span tree, with token usage per LLM span, agent subtotals and the total.

Token usage is the store's (:mod:`otel_genai.store.summary`): ``gen_ai.usage.*``, else
``mlflow.chat.tokenUsage``, each call counted once.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from typing import Dict, List, Optional, Sequence

from ..semconv import attributes as _A
from ..store import Trace
from ..store.summary import BASE_KEYS, CACHE_KEYS, aggregate_span_usage
from ._common import CliError, add_store_argument, open_for_command, positive_int, usage_error


def register_traces(subparsers: "argparse._SubParsersAction") -> None:
    """``otel-genai traces list|show``: read the embedded trace store."""
    traces = subparsers.add_parser(
        "traces", help="list and show traces stored by the embedded trace store",
        description="Read the trace store (default: $OTEL_GENAI_STORE_URI, else $OTEL_GENAI_STORE_PATH, "
        "else traces.db in the per-user data directory).",
    )
    traces.set_defaults(handler=lambda args: usage_error(traces))
    sub = traces.add_subparsers(dest="traces_command", metavar="{list,show}")

    p_list = sub.add_parser("list", help="newest traces first, one line each")
    add_store_argument(p_list)
    p_list.add_argument("--limit", "-n", type=positive_int, default=20, metavar="N",
                        help="show at most N traces (default 20)")
    p_list.add_argument("--status", choices=("OK", "ERROR"), type=str.upper,
                        help="only traces with this status")
    p_list.set_defaults(handler=_cmd_traces_list)

    p_show = sub.add_parser("show", help="one trace as a span tree with token usage")
    which = p_show.add_mutually_exclusive_group(required=True)
    which.add_argument("trace_id", nargs="?", metavar="TRACE_ID",
                       help="trace id (32 hex) or a unique prefix of at least 8 hex characters")
    which.add_argument("--last", action="store_true", help="the most recently started trace")
    add_store_argument(p_show)
    p_show.set_defaults(handler=_cmd_traces_show)


# --- the commands -------------------------------------------------------------------------------


def _cmd_traces_list(args: argparse.Namespace) -> int:
    with open_for_command(args.store, read_only=True) as store:
        traces = store.search_traces(args.limit, status=args.status, include_spans=False)
        if not traces:
            print(f"No traces in {store.location}.")
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
    _A.GenAIOperationName.INVOKE_AGENT: "AGENT",
    _A.GenAIOperationName.CREATE_AGENT: "AGENT",
    _A.GenAIOperationName.EXECUTE_TOOL: "TOOL",
    _A.GenAIOperationName.CHAT: "LLM",
    _A.GenAIOperationName.TEXT_COMPLETION: "LLM",
    _A.GenAIOperationName.GENERATE_CONTENT: "LLM",
    _A.GenAIOperationName.EMBEDDINGS: "EMBEDDING",
}


def _span_label(span) -> str:
    """What a span is: ``AGENT``, ``TOOL``, ``LLM``, ``EMBEDDING``, an MLflow span type, else its OTel kind."""
    attributes = span.attributes
    label = _OPERATION_LABELS.get(attributes.get(_A.GEN_AI_OPERATION_NAME))
    if label is None:
        span_type = attributes.get(_A.MLFLOW_SPAN_TYPE)
        label = span_type if isinstance(span_type, str) and span_type else span.kind
    return label


def _tool_details(span) -> str:
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


# --- formatting ---------------------------------------------------------------------------------


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
