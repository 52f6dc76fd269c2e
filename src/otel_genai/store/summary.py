"""The trace-summary rules, stated once: a span's token usage, the trace's usage, root, status,
time range and model. Pure functions on plain values; every store backend writes and reads with them.

None of them assumes that a whole trace arrives in one batch: a batch's spans are folded into a
:class:`TraceSummary` per trace (:func:`summarize_batch`), which :func:`merge_summaries` folds into
what is stored already; what needs the whole span tree (usage, a stand-in root) is computed when
the trace is read, from the spans stored by then.

**A span's usage** (:func:`span_usage`): ``gen_ai.usage.*`` when the span reports input or output
tokens there (any instrumentation: the official OpenTelemetry one, OpenLLMetry, a JS or Java app);
else the span's ``mlflow.chat.tokenUsage``. Read from ``gen_ai.usage.*``: ``input_tokens`` (older
name ``prompt_tokens``), ``output_tokens`` (``completion_tokens``), ``cache_read.input_tokens``,
``cache_write.input_tokens`` (older name ``cache_creation.input_tokens``), ``reasoning.output_tokens``;
``total_tokens`` is input + output. The result uses ``mlflow.chat.tokenUsage``'s keys
(:data:`BASE_KEYS`, :data:`OPTIONAL_KEYS`).

**A trace's usage** (:func:`aggregate_token_usage`, MLflow's rule from
``mlflow.tracing.utils.aggregate_usage_from_spans``): walk the span tree from its roots; a span's
usage counts only if no ancestor carries usage (a framework span that already reports a call's
usage around the SDK span must not be counted twice). Spans whose parent is not stored are roots of
their own subtree. The three :data:`BASE_KEYS` are always in the result; each of
:data:`OPTIONAL_KEYS` (cache read, cache creation, reasoning) only when some counted span reports it.
No span with usage -> ``None``. The walk is iterative (deep traces do not hit the recursion limit).

**Root and status**: the span without a parent is the root (when several arrive, the last one
stored); until it is stored, the earliest-starting span whose parent is not stored stands in for it
(:func:`stand_in_root`). The trace is ``"ERROR"`` when its root's status is ERROR, else ``"OK"``.

**Time range**: earliest span start to latest span end. **Model**: ``gen_ai.response.model`` (else
``gen_ai.request.model``) of the earliest-starting span that has one.

Units: times in ns since the Unix epoch, token counts in tokens.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ..semconv import attributes as _A

TOKEN_USAGE_ATTRIBUTE = _A.MLFLOW_CHAT_TOKEN_USAGE  # "mlflow.chat.tokenUsage"
INPUT, OUTPUT, TOTAL = _A.MLFLOW_INPUT_TOKENS, _A.MLFLOW_OUTPUT_TOKENS, _A.MLFLOW_TOTAL_TOKENS
CACHE_READ, CACHE_CREATION = _A.MLFLOW_CACHE_READ_INPUT_TOKENS, _A.MLFLOW_CACHE_CREATION_INPUT_TOKENS
REASONING = "reasoning_output_tokens"
#: always in a trace's usage (0 when no counted span reports them)
BASE_KEYS = (INPUT, OUTPUT, TOTAL)
#: cache keys: in a trace's usage only when some counted span reports them
CACHE_KEYS = (CACHE_READ, CACHE_CREATION)
OPTIONAL_KEYS = CACHE_KEYS + (REASONING,)
USAGE_KEYS = BASE_KEYS + OPTIONAL_KEYS

#: usage key -> the ``gen_ai.usage.*`` attributes that carry it, current name first
GEN_AI_USAGE_ATTRIBUTES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    (INPUT, (_A.GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens")),
    (OUTPUT, (_A.GEN_AI_USAGE_OUTPUT_TOKENS, "gen_ai.usage.completion_tokens")),
    (CACHE_READ, (_A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,)),
    (CACHE_CREATION, (_A.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, "gen_ai.usage.cache_creation.input_tokens")),
    (REASONING, (_A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,)),
)
_MODEL_ATTRIBUTES = (_A.GEN_AI_RESPONSE_MODEL, _A.GEN_AI_REQUEST_MODEL)

#: (span_id, parent_id or None, the span's usage: a mapping, its JSON text, or None)
UsageNode = Tuple[str, Optional[str], Any]


# --- one span -----------------------------------------------------------------------------------


def span_usage(attributes: Mapping[str, Any]) -> Optional[Dict[str, int]]:
    """One span's token usage from its attributes (see the module docstring), or ``None``.

    Returns ``{"input_tokens", "output_tokens", "total_tokens"}`` (those the span reports; from
    ``gen_ai.usage.*`` all three) plus any of :data:`OPTIONAL_KEYS` it reports, as token counts.
    """
    usage = _gen_ai_usage(attributes)
    if usage is None:
        usage = parse_token_usage(attributes.get(TOKEN_USAGE_ATTRIBUTE))
    return usage


def _gen_ai_usage(attributes: Mapping[str, Any]) -> Optional[Dict[str, int]]:
    (_, input_names), (_, output_names), *optional = GEN_AI_USAGE_ATTRIBUTES
    inp, out = _first_count(attributes, input_names), _first_count(attributes, output_names)
    if inp is None and out is None:
        return None
    usage = {INPUT: inp or 0, OUTPUT: out or 0}
    usage[TOTAL] = usage[INPUT] + usage[OUTPUT]
    for key, names in optional:
        value = _first_count(attributes, names)
        if value is not None:
            usage[key] = value
    return usage


def _first_count(attributes: Mapping[str, Any], names: Tuple[str, ...]) -> Optional[int]:
    """The token count of the first of ``names`` that ``attributes`` holds as a count."""
    value = attributes.get(names[0])
    if type(value) is int and value >= 0:  # the usual case, first
        return value
    for name in names:
        value = _count(attributes.get(name))
        if value is not None:
            return value
    return None


def _count(value: Any) -> Optional[int]:
    """A token count from an attribute value: an int, an integral float, or a digit string."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_token_usage(value: Any) -> Optional[Dict[str, int]]:
    """Decode one usage value in ``mlflow.chat.tokenUsage`` form (a JSON object string or a mapping).

    Returns ``{key: int}`` holding the numeric entries among :data:`USAGE_KEYS` (floats are
    truncated to int, booleans and other types are ignored), or ``None`` when ``value`` is missing
    or is not a JSON object.
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, Mapping):
        return None
    out = {}
    for key in USAGE_KEYS:
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[key] = int(v)
    return out


def usage_json(usage: Optional[Mapping[str, int]]) -> Optional[str]:
    """``usage`` (token counts by :data:`USAGE_KEYS`) as compact JSON text, for storing; ``None`` stays ``None``."""
    if usage is None:
        return None
    return "{%s}" % ",".join([f'"{key}":{count:d}' for key, count in usage.items()])


def span_model(attributes: Mapping[str, Any]) -> Optional[str]:
    """The model a span names: ``gen_ai.response.model``, else ``gen_ai.request.model`` (strings only)."""
    model = attributes.get(_MODEL_ATTRIBUTES[0]) or attributes.get(_MODEL_ATTRIBUTES[1])
    return model if isinstance(model, str) else None


# --- a trace's usage ----------------------------------------------------------------------------


def aggregate_token_usage(nodes: Iterable[UsageNode]) -> Optional[Dict[str, int]]:
    """Total token usage of one trace, MLflow's way (see the module docstring).

    Args:
        nodes: one ``(span_id, parent_id, usage)`` per stored span of the trace, where ``usage`` is
            the span's usage in ``mlflow.chat.tokenUsage`` form (mapping or JSON text, e.g. from
            :func:`span_usage`) or ``None``.

    Returns:
        ``{"input_tokens": int, "output_tokens": int, "total_tokens": int}`` plus those of
        :data:`OPTIONAL_KEYS` (summed) that some counted span has; ``None`` when no span carries usage.
    """
    usage_by_id: dict = {}
    parent_by_id: dict = {}
    for span_id, parent_id, usage in nodes:
        parent_by_id[span_id] = parent_id
        usage_by_id[span_id] = parse_token_usage(usage)

    children: dict = {}
    roots = []
    for span_id, parent_id in parent_by_id.items():
        if parent_id is not None and parent_id in parent_by_id:
            children.setdefault(parent_id, []).append(span_id)
        else:
            roots.append(span_id)

    totals = dict.fromkeys(BASE_KEYS, 0)
    found = False
    stack = [(root, False) for root in roots]
    while stack:
        span_id, ancestor_has_usage = stack.pop()
        usage = usage_by_id[span_id]
        if usage is not None and not ancestor_has_usage:
            found = True
            for key in BASE_KEYS:
                totals[key] += usage.get(key, 0)
            for key in OPTIONAL_KEYS:
                if key in usage:
                    totals[key] = totals.get(key, 0) + usage[key]
        below = ancestor_has_usage or usage is not None
        for child in children.get(span_id, ()):
            stack.append((child, below))
    return totals if found else None


def aggregate_span_usage(spans: Iterable[Any]) -> Optional[Dict[str, int]]:
    """:func:`aggregate_token_usage` over objects with ``span_id``, ``parent_id`` and ``attributes``
    (e.g. :class:`otel_genai.store.model.Span`), each span's usage taken by :func:`span_usage`."""
    return aggregate_token_usage((s.span_id, s.parent_id, span_usage(s.attributes)) for s in spans)


# --- root, status, time range, model ------------------------------------------------------------


class TraceSummary(NamedTuple):
    """What a store keeps per trace so that listing traces never reads their spans.

    Fields:
        start_time_ns, end_time_ns: earliest span start, latest span end (ns since the epoch).
        root_span_id, root_span_name, root_status_code: the root span's, once it is stored (else ``None``).
        model, model_start_ns: the model of the earliest-starting span naming one, and that span's start.
        has_token_usage: some span of the trace carries usage (:func:`span_usage` is not ``None``).
    """

    start_time_ns: int
    end_time_ns: int
    root_span_id: Optional[str] = None
    root_span_name: Optional[str] = None
    root_status_code: Optional[str] = None
    model: Optional[str] = None
    model_start_ns: Optional[int] = None
    has_token_usage: bool = False


def summarize_batch(records: Sequence[Any], usages: Sequence[Optional[Mapping[str, int]]]) -> Dict[str, TraceSummary]:
    """``{trace_id: TraceSummary}`` of the spans of one batch, for :func:`merge_summaries`.

    Args:
        records: :class:`~otel_genai.store.model.SpanRecord` s, in arrival order.
        usages: ``span_usage(record.attributes)`` of each record, in the same order.

    Raises ``TypeError`` / ``AttributeError`` / ``ValueError`` for records of the wrong shape.
    """
    # per trace while folding: [start, end, root_id, root_name, root_status, model, model_start, usage]
    folded: Dict[str, list] = {}
    for rec, usage in zip(records, usages, strict=True):
        trace_id, span_id, parent_id, name = rec[0], rec[1], rec[2], rec[3]
        start, end, status_code, attributes = rec[5], rec[6], rec[7], rec[9]
        t = folded.get(trace_id)
        if t is None:
            t = folded[trace_id] = [start, end, None, None, None, None, None, False]
        else:
            if start < t[0]:
                t[0] = start
            if end > t[1]:
                t[1] = end
        if parent_id is None:
            t[2], t[3], t[4] = span_id, name, status_code
        if attributes:
            model = span_model(attributes)
            if model is not None and (t[5] is None or start < t[6]):
                t[5], t[6] = model, start
        if usage is not None:
            t[7] = True
    return {trace_id: TraceSummary(*t) for trace_id, t in folded.items()}


def merge_summaries(stored: Optional[TraceSummary], arrived: TraceSummary) -> TraceSummary:
    """The summary after ``arrived`` (a later batch) joins ``stored`` (``None``: a new trace).

    The time range widens; a root in ``arrived`` replaces the stored one; the model of the
    earlier-starting span wins (``stored`` on a tie); usage is kept once seen.
    """
    if stored is None:
        return arrived
    root = arrived if arrived.root_span_id is not None else stored
    newer_model = arrived.model is not None and (stored.model is None or arrived.model_start_ns < stored.model_start_ns)
    model = arrived if newer_model else stored
    return TraceSummary(
        min(stored.start_time_ns, arrived.start_time_ns),
        max(stored.end_time_ns, arrived.end_time_ns),
        root.root_span_id,
        root.root_span_name,
        root.root_status_code,
        model.model,
        model.model_start_ns,
        stored.has_token_usage or arrived.has_token_usage,
    )


#: (span_id, parent_id, name, status_code) of a stored span
RootNode = Tuple[str, Optional[str], str, str]


def stand_in_root(nodes: Sequence[RootNode]) -> Optional[Tuple[str, str]]:
    """``(name, status_code)`` of the span standing in for a root that is not stored: the first of
    ``nodes`` (spans in start order) whose parent is not among them; ``None`` if there is none."""
    ids = {node[0] for node in nodes}
    for _span_id, parent_id, name, status_code in nodes:
        if parent_id not in ids:
            return name, status_code
    return None


def trace_status(root_status_code: Optional[str]) -> str:
    """A trace's status from its root's (or stand-in's) status code: ``"ERROR"`` or ``"OK"``."""
    return "ERROR" if root_status_code == "ERROR" else "OK"


__all__: List[str] = [
    "BASE_KEYS",
    "CACHE_KEYS",
    "OPTIONAL_KEYS",
    "TOKEN_USAGE_ATTRIBUTE",
    "USAGE_KEYS",
    "TraceSummary",
    "aggregate_span_usage",
    "aggregate_token_usage",
    "merge_summaries",
    "parse_token_usage",
    "span_model",
    "span_usage",
    "stand_in_root",
    "summarize_batch",
    "trace_status",
    "usage_json",
]
