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
(_, _INPUT_NAMES), (_, _OUTPUT_NAMES), *_OPTIONAL_USAGE_ATTRIBUTES = GEN_AI_USAGE_ATTRIBUTES
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
    get = attributes.get
    # the usual case first (ints as the SDKs report them); anything else goes through _first_count
    inp = get(_INPUT_NAMES[0])
    if type(inp) is not int or inp < 0:
        inp = _first_count(attributes, _INPUT_NAMES)
    out = get(_OUTPUT_NAMES[0])
    if type(out) is not int or out < 0:
        out = _first_count(attributes, _OUTPUT_NAMES)
    if inp is None and out is None:
        return None
    inp, out = inp or 0, out or 0
    usage = {INPUT: inp, OUTPUT: out, TOTAL: inp + out}
    for key, names in _OPTIONAL_USAGE_ATTRIBUTES:
        value = get(names[0])
        if type(value) is not int or value < 0:
            value = _first_count(attributes, names)
        if value is not None:
            usage[key] = value
    return usage


def _first_count(attributes: Mapping[str, Any], names: Tuple[str, ...]) -> Optional[int]:
    """The token count of the first of ``names`` that ``attributes`` holds as a count."""
    for name in names:
        value = attributes.get(name)
        if value is None:
            continue
        if type(value) is int and value >= 0:  # the usual case, first
            return value
        value = _count(value)
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
    numbers = numeric_entries(value, USAGE_KEYS)
    return None if numbers is None else {key: int(v) for key, v in numbers.items()}


def numeric_entries(value: Any, keys: Sequence[str]) -> Optional[Dict[str, Any]]:
    """The int / float entries among ``keys`` of a JSON object given as text or as a mapping
    (booleans and other types left out); ``None`` when ``value`` is missing or not a JSON object.
    Shared by the ``mlflow.chat.tokenUsage`` and ``mlflow.llm.cost`` readers."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if type(value) is not dict and not isinstance(value, Mapping):
        return None
    out = {}
    for key in keys:
        v = value.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out


def usage_json(usage: Optional[Mapping[str, int]]) -> Optional[str]:
    """``usage`` (token counts by :data:`USAGE_KEYS`) as compact JSON text, for storing; ``None`` stays ``None``."""
    if usage is None:
        return None
    keys = tuple(usage)
    template = _usage_templates.get(keys)
    if template is None:  # a few key sets in practice: one format string each
        template = "{{%s}}" % ",".join(['"%s":{:d}' % key.replace("{", "{{").replace("}", "}}") for key in keys])
        if len(_usage_templates) < 256:
            _usage_templates[keys] = template
    return template.format(*usage.values())


#: usage keys (in order) -> the ``str.format`` template of :func:`usage_json`
_usage_templates: Dict[tuple, str] = {}


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


class TraceDetails(NamedTuple):
    """What the read API keeps per trace beside its :class:`TraceSummary` (folded the same way:
    :func:`summarize_details`, :func:`merge_details`).

    Fields:
        provider, provider_start_ns: ``gen_ai.provider.name`` of the earliest-starting span naming a
            model, and that span's start.
        service_name: the root span's resource ``service.name`` (until the root is stored: the first
            seen); root_seen: the root span gave it.
        request_preview, request_rank: the request preview and its rank (the lowest rank wins):
            ``-1`` set explicitly (:data:`REQUEST_PREVIEW_ATTRIBUTE`), else the start (ns) of the
            span whose ``gen_ai.input.messages`` gave the first user message, else
            :data:`FALLBACK_RANK` for the root's ``mlflow.spanInputs``.
        response_preview, response_rank: the same for the response (the highest rank wins):
            :data:`FALLBACK_RANK` set explicitly, else the end (ns) of the span whose
            ``gen_ai.output.messages`` gave the final output text, else ``-1`` for the root's
            ``mlflow.spanOutputs``.
    """

    provider: Optional[str] = None
    provider_start_ns: Optional[int] = None
    service_name: Optional[str] = None
    root_seen: bool = False
    request_preview: Optional[str] = None
    request_rank: Optional[int] = None
    response_preview: Optional[str] = None
    response_rank: Optional[int] = None


def summarize_batch(records: Sequence[Any], usages: Sequence[Optional[Mapping[str, int]]]) -> Dict[str, TraceSummary]:
    """``{trace_id: TraceSummary}`` of the spans of one batch, for :func:`merge_summaries`.

    Args:
        records: :class:`~otel_genai.store.model.SpanRecord` s, in arrival order.
        usages: ``span_usage(record.attributes)`` of each record, in the same order.

    Raises ``TypeError`` / ``AttributeError`` / ``ValueError`` for records of the wrong shape.
    (:func:`fold_batch` gives this, the details, tags and metadata in one pass.)
    """
    folded: Dict[str, list] = {}
    for rec, usage in zip(records, usages, strict=True):
        trace_id, start, end, attributes = rec[0], rec[5], rec[6], rec[9]
        t = folded.get(trace_id)
        if t is None:
            t = folded[trace_id] = _new_summary(start, end)
        _fold_summary(t, rec[1], rec[2], rec[3], start, end, rec[7], span_model(attributes) if attributes else None, usage)
    return {trace_id: TraceSummary(*t) for trace_id, t in folded.items()}


def _new_summary(start: int, end: int) -> list:
    """A trace's summary while folding: [start, end, root_id, root_name, root_status, model, model_start, usage]."""
    return [start, end, None, None, None, None, None, False]


def _fold_summary(t: list, span_id: str, parent_id: Optional[str], name: str, start: int, end: int,
                  status_code: str, model: Optional[str], usage: Optional[Mapping[str, int]]) -> None:
    """Fold one span (its :func:`span_model` and :func:`span_usage` given) into ``t`` (:func:`_new_summary`)."""
    if start < t[0]:
        t[0] = start
    if end > t[1]:
        t[1] = end
    if parent_id is None:
        t[2], t[3], t[4] = span_id, name, status_code
    if model is not None and (t[5] is None or start < t[6]):
        t[5], t[6] = model, start
    if usage is not None:
        t[7] = True


def summarize_details(records: Sequence[Any]) -> Dict[str, TraceDetails]:
    """``{trace_id: TraceDetails}`` of the spans of one batch (arrival order), for :func:`merge_details`.
    A preview's messages are decoded once per trace and batch (only the winning source)."""
    folded: Dict[str, list] = {}
    for rec in records:
        trace_id, attributes = rec[0], rec[9]
        t = folded.get(trace_id)
        if t is None:
            t = folded[trace_id] = _new_details()
        _fold_details(t, rec[2], rec[5], rec[6], attributes, rec[11], span_model(attributes) if attributes else None)
    return {trace_id: _details(t) for trace_id, t in folded.items()}


def _new_details() -> list:
    """A trace's details while folding: [provider, provider_start, service, root_seen, request src, rank, response src, rank]."""
    return [None, None, None, False, None, None, None, None]


def _fold_details(t: list, parent_id: Optional[str], start: int, end: int, attributes: Mapping[str, Any],
                  resource: Any, model: Optional[str]) -> None:
    """Fold one span (``model``: its :func:`span_model`) into ``t`` (:func:`_new_details`)."""
    if parent_id is None:
        service = _service_name(resource)
        if service is not None:
            t[2], t[3] = service, True
    elif t[2] is None:
        t[2] = _service_name(resource)
    if attributes:
        if model is not None and (t[1] is None or start < t[1]):
            provider = attributes.get(_A.GEN_AI_PROVIDER_NAME)
            t[0], t[1] = provider if isinstance(provider, str) else None, start
        _fold_previews(t, parent_id, start, end, attributes)


def _details(t: list) -> TraceDetails:
    """The :class:`TraceDetails` of a folded ``t``: the winning preview sources decoded (once)."""
    return TraceDetails(t[0], t[1], t[2], t[3], _preview(t[4], _request_text), t[5], _preview(t[6], _response_text), t[7])


def merge_details(stored: Optional[TraceDetails], arrived: TraceDetails) -> TraceDetails:
    """The details after ``arrived`` (a later batch) joins ``stored`` (``None``: a new trace): the
    provider of the earlier-starting model span, the root's service name, the better-ranked
    previews (``stored`` wins ties)."""
    if stored is None:
        return arrived
    provider = arrived if arrived.provider_start_ns is not None and (
        stored.provider_start_ns is None or arrived.provider_start_ns < stored.provider_start_ns) else stored
    if arrived.root_seen or stored.service_name is None:
        service, root_seen = arrived.service_name or stored.service_name, arrived.root_seen or stored.root_seen
    else:
        service, root_seen = stored.service_name, stored.root_seen
    request = arrived if arrived.request_rank is not None and (
        stored.request_rank is None or arrived.request_rank < stored.request_rank) else stored
    response = arrived if arrived.response_rank is not None and (
        stored.response_rank is None or arrived.response_rank > stored.response_rank) else stored
    return TraceDetails(provider.provider, provider.provider_start_ns, service, root_seen,
                        request.request_preview, request.request_rank, response.response_preview, response.response_rank)


def _service_name(resource: Any) -> Optional[str]:
    name = resource.get("service.name") if resource else None
    return name if isinstance(name, str) else None


#: the rank of the weakest preview source (the root's ``mlflow.spanInputs`` / an explicit response)
FALLBACK_RANK = 1 << 62
REQUEST_PREVIEW_ATTRIBUTE = "otel_genai.trace.request_preview"
RESPONSE_PREVIEW_ATTRIBUTE = "otel_genai.trace.response_preview"
#: previews are cut to this many characters (MLflow cuts its previews to 1000 too)
PREVIEW_LENGTH = 1000


def _fold_previews(t: list, parent_id: Optional[str], start: int, end: int, attributes: Mapping[str, Any]) -> None:
    """Keep the best request / response preview source seen so far in ``t`` (raw, decoded later:
    at most one decode per trace and batch). A source is ``("text"|"messages"|"json", value)``."""
    explicit = attributes.get(REQUEST_PREVIEW_ATTRIBUTE)
    if explicit is not None:
        t[4], t[5] = ("text", explicit), -1
    else:
        messages = attributes.get(_A.GEN_AI_INPUT_MESSAGES)
        if messages is not None and (t[5] is None or start < t[5]):
            t[4], t[5] = ("messages", messages), start
        elif parent_id is None and t[5] is None and attributes.get(_A.MLFLOW_SPAN_INPUTS) is not None:
            t[4], t[5] = ("json", attributes.get(_A.MLFLOW_SPAN_INPUTS)), FALLBACK_RANK
    explicit = attributes.get(RESPONSE_PREVIEW_ATTRIBUTE)
    if explicit is not None:
        t[6], t[7] = ("text", explicit), FALLBACK_RANK
    else:
        messages = attributes.get(_A.GEN_AI_OUTPUT_MESSAGES)
        if messages is not None and (t[7] is None or end > t[7]) and t[7] != FALLBACK_RANK:
            t[6], t[7] = ("messages", messages), end
        elif parent_id is None and t[7] is None and attributes.get(_A.MLFLOW_SPAN_OUTPUTS) is not None:
            t[6], t[7] = ("json", attributes.get(_A.MLFLOW_SPAN_OUTPUTS)), -1


def _preview(source: Optional[tuple], from_messages: Any) -> Optional[str]:
    if source is None:
        return None
    kind, value = source
    try:
        if kind == "messages" and from_messages is _request_text and isinstance(value, str):
            text = _request_text_of_json(value)
        elif kind == "messages":
            text = from_messages(json.loads(value) if isinstance(value, str) else value)
        elif kind == "json":
            text = _json_preview(value)
        else:
            text = str(value)
    except (ValueError, TypeError, AttributeError):
        return None
    if text is None:
        return None
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 3] + "..."


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _parts_text(message: Any) -> str:
    parts = message.get("parts") if _is_mapping(message) else None
    texts = [p.get("content") for p in parts or () if _is_mapping(p) and p.get("type") == "text"]
    return "".join([t for t in texts if type(t) is str or isinstance(t, str)])


def _request_text(messages: Any) -> Optional[str]:
    """The text of the first user message of ``gen_ai.input.messages`` (semconv v1.41.1 schema)."""
    for message in messages if isinstance(messages, list) else ():
        if _is_mapping(message) and message.get("role") == "user":
            return _parts_text(message) or None
    return None


_decoder = json.JSONDecoder()
_WHITESPACE = " \t\n\r"  # JSON's (RFC 8259 section 2)


def _request_text_of_json(text: str) -> Optional[str]:
    """:func:`_request_text` of ``gen_ai.input.messages`` JSON text, decoding the array one message at
    a time and stopping at the first user message: a long conversation's history after it is not
    decoded (so, unlike ``json.loads``, a defect there does not void the preview).

    Raises ``ValueError`` for text that is not JSON up to that message (as ``json.loads``)."""
    end = len(text)
    i = len(text) - len(text.lstrip(_WHITESPACE))
    if not text.startswith("[", i):
        return _request_text(json.loads(text))  # not an array: as before (None, or the JSON error)
    i += 1
    while i < end and text[i] in _WHITESPACE:
        i += 1
    if text.startswith("]", i):
        json.loads(text)  # an empty array: any trailing defect is an error, as before
        return None
    while True:
        message, i = _decoder.raw_decode(text, i)
        if _is_mapping(message) and message.get("role") == "user":
            return _parts_text(message) or None
        while i < end and text[i] in _WHITESPACE:
            i += 1
        if text.startswith(",", i):
            i += 1
            while i < end and text[i] in _WHITESPACE:
                i += 1
        elif text.startswith("]", i):
            if text[i + 1:].strip(_WHITESPACE):
                raise ValueError("extra data after the messages array")
            return None
        else:
            raise ValueError(f"expected ',' or ']' at {i} of the messages array")


def _response_text(messages: Any) -> Optional[str]:
    """The text of the last output message of ``gen_ai.output.messages`` that has text."""
    for message in reversed(messages if isinstance(messages, list) else ()):
        text = _parts_text(message)
        if text:
            return text
    return None


def _json_preview(value: Any) -> Optional[str]:
    """A ``mlflow.spanInputs`` / ``mlflow.spanOutputs`` value as preview text: a JSON string's text,
    else the JSON itself."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return json.dumps(value)


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


def trace_state(root_status_code: Optional[str], root_stored: bool) -> str:
    """MLflow's ``TraceInfo.state``: ``"IN_PROGRESS"`` until the root span (no parent) is stored,
    then ``"ERROR"`` if its status is ERROR, else ``"OK"``."""
    if not root_stored:
        return "IN_PROGRESS"
    return "ERROR" if root_status_code == "ERROR" else "OK"


# --- aggregation over the span tree (usage, cost) -------------------------------------------------


def aggregate_tree(nodes: Iterable[Tuple[str, Optional[str], Optional[Mapping[str, Any]]]],
                   keys: Sequence[str], default: Any = 0) -> Optional[Dict[str, Any]]:
    """Sum ``keys`` of the values of a span tree, a span's value counting only if no ancestor has
    one (MLflow's ``_aggregate_from_nodes``, as for usage in :func:`aggregate_token_usage`).

    ``nodes``: ``(span_id, parent_id, value mapping or None)``; every key of ``keys`` is in the
    result (``default`` when no counted span has it). ``None`` when no span has a value.
    """
    value_by_id: dict = {}
    parent_by_id: dict = {}
    for span_id, parent_id, value in nodes:
        parent_by_id[span_id] = parent_id
        value_by_id[span_id] = value
    children: dict = {}
    roots = []
    for span_id, parent_id in parent_by_id.items():
        if parent_id is not None and parent_id in parent_by_id:
            children.setdefault(parent_id, []).append(span_id)
        else:
            roots.append(span_id)
    totals = dict.fromkeys(keys, default)
    found = False
    stack = [(root, False) for root in roots]
    while stack:
        span_id, ancestor_has = stack.pop()
        value = value_by_id[span_id]
        if value is not None and not ancestor_has:
            found = True
            for key in keys:
                totals[key] += value.get(key, default)
        below = ancestor_has or value is not None
        for child in children.get(span_id, ()):
            stack.append((child, below))
    return totals if found else None


# --- span types, tags and metadata ------------------------------------------------------------------

#: ``gen_ai.operation.name`` -> MLflow span type (``mlflow.entities.SpanType``) when ``mlflow.spanType`` is absent
SPAN_TYPES_BY_OPERATION: Mapping[str, str] = {
    _A.GenAIOperationName.CHAT: "CHAT_MODEL",
    _A.GenAIOperationName.GENERATE_CONTENT: "CHAT_MODEL",
    _A.GenAIOperationName.TEXT_COMPLETION: "LLM",
    _A.GenAIOperationName.EMBEDDINGS: "EMBEDDING",
    _A.GenAIOperationName.EXECUTE_TOOL: "TOOL",
    _A.GenAIOperationName.INVOKE_AGENT: "AGENT",
    _A.GenAIOperationName.CREATE_AGENT: "AGENT",
}
UNKNOWN_SPAN_TYPE = "UNKNOWN"


def span_type(attributes: Mapping[str, Any]) -> str:
    """A span's type, as MLflow names it: its ``mlflow.spanType`` (as stored: ``CHAT_MODEL``,
    ``LLM``, ``TOOL``, ``AGENT``, ``CHAIN``, ...), else from ``gen_ai.operation.name``
    (:data:`SPAN_TYPES_BY_OPERATION`), else ``"UNKNOWN"`` (MLflow's ``SpanType.UNKNOWN``)."""
    value = attributes.get(_A.MLFLOW_SPAN_TYPE)
    if isinstance(value, str) and value:
        if value.startswith('"') and value.endswith('"') and len(value) > 1:  # MLflow's JSON-encoded form
            value = value[1:-1]
        return value
    return SPAN_TYPES_BY_OPERATION.get(attributes.get(_A.GEN_AI_OPERATION_NAME), UNKNOWN_SPAN_TYPE)


TAG_PREFIX = "mlflow.traceTag."
METADATA_PREFIX = "otel_genai.trace.metadata."
_PREFIXES = (TAG_PREFIX, METADATA_PREFIX)
_SESSION_ID, _USER_ID = "session.id", "user.id"
#: the trace-metadata keys MLflow's OTLP ingest fills from a span's ``session.id`` (else
#: ``gen_ai.conversation.id``) and ``user.id`` (``mlflow.tracing.constant.TraceMetadataKey``)
SESSION_METADATA, USER_METADATA = "mlflow.trace.session", "mlflow.trace.user"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def tags_and_metadata(records: Sequence[Any]) -> Dict[str, Tuple[Dict[str, str], Dict[str, str]]]:
    """``{trace_id: (tags, metadata)}`` carried by a batch's span attributes (only traces that carry
    some): ``mlflow.traceTag.<key>`` -> tag, ``otel_genai.trace.metadata.<key>`` -> metadata,
    ``session.id`` (else ``gen_ai.conversation.id``) -> ``mlflow.trace.session``, ``user.id`` ->
    ``mlflow.trace.user``. Later records win."""
    out: Dict[str, Tuple[Dict[str, str], Dict[str, str]]] = {}
    for rec in records:
        attributes = rec[9]
        if attributes:
            _carry(out, rec[0], attributes)
    return out


def _carry(out: Dict[str, Tuple[Dict[str, str], Dict[str, str]]], trace_id: str, attributes: Mapping[str, Any]) -> None:
    """Fold the tags and metadata one span carries into ``out`` (see :func:`tags_and_metadata`)."""
    found = None
    get = attributes.get
    session = get(_SESSION_ID)
    if session is None:
        session = get(_A.GEN_AI_CONVERSATION_ID)
    user = get(_USER_ID)
    if session is not None or user is not None:
        found = out.setdefault(trace_id, ({}, {}))
        if session is not None:
            found[1][SESSION_METADATA] = _text(session)
        if user is not None:
            found[1][USER_METADATA] = _text(user)
    plan = _carried_names(attributes)
    if plan:
        found = found or out.setdefault(trace_id, ({}, {}))
        for name, which, key in plan:
            found[which][key] = _text(attributes[name])


#: attribute names (a span's, in order) -> ``((name, 0 tag / 1 metadata, key), ...)``: spans of one
#: instrumentation share their names, so each set of names is scanned for the prefixes once
_carried_plans: Dict[tuple, tuple] = {}
_CARRIED_PLANS_MAX = 1024


def _carried_names(attributes: Mapping[str, Any]) -> tuple:
    """``((name, 0|1, key), ...)`` of the attributes that are tags (0) or metadata (1), in their order."""
    names = tuple(attributes)
    plan = _carried_plans.get(names)
    if plan is None:
        found = []
        for name in names:
            if not name.startswith(_PREFIXES):
                continue
            if name.startswith(TAG_PREFIX) and len(name) > len(TAG_PREFIX):
                found.append((name, 0, name[len(TAG_PREFIX):]))
            elif name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX):
                found.append((name, 1, name[len(METADATA_PREFIX):]))
        plan = tuple(found)
        if len(_carried_plans) >= _CARRIED_PLANS_MAX:
            _carried_plans.clear()
        _carried_plans[names] = plan
    return plan


# --- one pass over a batch ---------------------------------------------------------------------------


class BatchFold(NamedTuple):
    """What a store derives from one batch of records, in one pass (:func:`fold_batch`).

    Fields:
        usages, costs, span_types: per record, in order: :func:`span_usage` (``None`` without
            attributes), the cost (``{"input_cost", "output_cost", "total_cost"}`` USD, or ``None``)
            and :func:`span_type` (``"UNKNOWN"`` without attributes).
        summaries, details: ``{trace_id: TraceSummary}`` (as :func:`summarize_batch`) and
            ``{trace_id: TraceDetails}`` (as :func:`summarize_details`).
        carried: ``{trace_id: (tags, metadata)}`` (as :func:`tags_and_metadata`).
        nodes: ``{trace_id: [(span_id, parent_id, name, status_code, usage, cost, start_time_ns), ...]}``
            in arrival order: the :data:`IndexNode` s of :func:`index_trace` for a trace whose
            spans are all in this batch.
    """

    usages: List[Optional[Dict[str, int]]]
    costs: List[Optional[Dict[str, float]]]
    span_types: List[str]
    summaries: Dict[str, TraceSummary]
    details: Dict[str, TraceDetails]
    carried: Dict[str, Tuple[Dict[str, str], Dict[str, str]]]
    nodes: Dict[str, List[tuple]]


def fold_batch(records: Sequence[Any], cost_of: Optional[Any] = None) -> BatchFold:
    """:func:`span_usage`, cost, :func:`span_type`, :func:`summarize_batch`, :func:`summarize_details`
    and :func:`tags_and_metadata` of a batch (:class:`~otel_genai.store.model.SpanRecord` s, arrival
    order) in one pass, each span's attributes looked at once: the same results as those functions.

    ``cost_of``: ``(attributes, usage, model) -> cost or None`` for a span with attributes (e.g.
    :func:`otel_genai.store.pricing.span_cost_of`); ``None``: no costs.

    Raises ``TypeError`` / ``AttributeError`` / ``ValueError`` / ``IndexError`` for records of the wrong shape.
    """
    usages: list = []
    costs: list = []
    types: list = []
    folded: Dict[str, tuple] = {}
    carried: Dict[str, Tuple[Dict[str, str], Dict[str, str]]] = {}
    for rec in records:
        trace_id, span_id, parent_id, name = rec[0], rec[1], rec[2], rec[3]
        start, end, status_code, attributes = rec[5], rec[6], rec[7], rec[9]
        t = folded.get(trace_id)
        if t is None:
            t = folded[trace_id] = (_new_summary(start, end), _new_details(), [])
        if attributes:
            usage = _gen_ai_usage(attributes)
            if usage is None:
                usage = parse_token_usage(attributes.get(TOKEN_USAGE_ATTRIBUTE))
            model = span_model(attributes)
            cost = cost_of(attributes, usage, model) if cost_of is not None else None
            kind = span_type(attributes)
            _carry(carried, trace_id, attributes)
        else:
            usage = model = cost = None
            kind = UNKNOWN_SPAN_TYPE
        usages.append(usage)
        costs.append(cost)
        types.append(kind)
        _fold_summary(t[0], span_id, parent_id, name, start, end, status_code, model, usage)
        _fold_details(t[1], parent_id, start, end, attributes, rec[11], model)
        t[2].append((span_id, parent_id, name, status_code, usage, cost, start))
    return BatchFold(
        usages, costs, types,
        {trace_id: TraceSummary(*t[0]) for trace_id, t in folded.items()},
        {trace_id: _details(t[1]) for trace_id, t in folded.items()},
        carried,
        {trace_id: t[2] for trace_id, t in folded.items()},
    )


# --- what a store indexes per trace ---------------------------------------------------------------


class TraceIndex(NamedTuple):
    """The searchable per-trace row derived from a :class:`TraceSummary` (and, when needed, the
    stored spans): the columns the filter grammar (:mod:`otel_genai.store.query`) compares.

    Fields: ``state`` (:func:`trace_state`), ``status`` (:func:`trace_status` of the root or its
    stand-in), ``name`` (the root's or the stand-in's name), ``timestamp_ms``,
    ``execution_time_ms`` (ms), ``input_tokens`` / ``output_tokens`` / ``total_tokens`` (``None``
    without usage), ``token_usage`` (its JSON), ``input_cost`` / ``output_cost`` / ``total_cost``
    (USD, ``None`` without cost), ``cost`` (its JSON), ``model``, ``provider``, ``service_name``.
    """

    state: str
    status: str
    name: Optional[str]
    timestamp_ms: int
    execution_time_ms: int
    input_tokens: Optional[int]
    output_tokens: Optional[int]
    total_tokens: Optional[int]
    token_usage: Optional[str]
    input_cost: Optional[float]
    output_cost: Optional[float]
    total_cost: Optional[float]
    cost: Optional[str]
    model: Optional[str]
    provider: Optional[str]
    service_name: Optional[str]


#: (span_id, parent_id, name, status_code, usage JSON or None, cost JSON or None) of a stored span, in start order
IndexNode = Tuple[str, Optional[str], str, str, Optional[str], Optional[str]]


def _usage_and_cost(nodes: Sequence[Sequence[Any]]) -> Tuple[Optional[Dict[str, int]], Optional[Dict[str, float]]]:
    """A trace's usage (:func:`aggregate_token_usage`'s result) and cost (summed the same way,
    keys ``input_cost`` / ``output_cost`` / ``total_cost``) in one walk of the span tree.
    ``nodes``: ``(span_id, parent_id, _, _, usage, cost, ...)``, usage and cost as mappings or JSON."""
    parse_cost = _pricing.parse_cost
    value_by_id: dict = {}  # span_id -> (parent_id, usage, cost)
    for node in nodes:
        usage, cost = node[4], node[5]
        if usage is not None and type(usage) is not dict:
            usage = parse_token_usage(usage)
        if cost is not None and type(cost) is not dict:
            cost = parse_cost(cost)
        value_by_id[node[0]] = (node[1], usage, cost)
    children: dict = {}
    stack = []
    for span_id, (parent_id, _, _) in value_by_id.items():
        if parent_id is not None and parent_id in value_by_id:
            found = children.get(parent_id)
            if found is None:
                children[parent_id] = [span_id]
            else:
                found.append(span_id)
        else:
            stack.append((span_id, False, False))
    found_usage = found_cost = False
    inp = out = total = 0
    optional: Optional[Dict[str, int]] = None
    input_cost = output_cost = total_cost = 0.0
    while stack:
        span_id, usage_above, cost_above = stack.pop()
        _, usage, cost = value_by_id[span_id]
        if usage is not None and not usage_above:
            found_usage = True
            get = usage.get
            inp += get(INPUT, 0)
            out += get(OUTPUT, 0)
            total += get(TOTAL, 0)
            if len(usage) > 3 or INPUT not in usage or OUTPUT not in usage or TOTAL not in usage:
                for key in OPTIONAL_KEYS:
                    if key in usage:
                        if optional is None:
                            optional = {}
                        optional[key] = optional.get(key, 0) + usage[key]
        if cost is not None and not cost_above:
            found_cost = True
            get = cost.get
            input_cost += get(_INPUT_COST, 0.0)
            output_cost += get(_OUTPUT_COST, 0.0)
            total_cost += get(_TOTAL_COST, 0.0)
        below = children.get(span_id)
        if below is not None:
            usage_below, cost_below = usage_above or usage is not None, cost_above or cost is not None
            for child in below:
                stack.append((child, usage_below, cost_below))
    usage_total = None
    if found_usage:
        usage_total = {INPUT: inp, OUTPUT: out, TOTAL: total}
        if optional:
            usage_total.update(optional)  # in the order they were first met, as summed in place
    cost_total = {_INPUT_COST: input_cost, _OUTPUT_COST: output_cost, _TOTAL_COST: total_cost} if found_cost else None
    return usage_total, cost_total


#: the cost keys, :data:`otel_genai.store.pricing.COST_KEYS` (pricing imports this module, so they are
#: spelled here; tests/test_store_batch.py checks they are the same)
_INPUT_COST, _OUTPUT_COST, _TOTAL_COST = "input_cost", "output_cost", "total_cost"


def needs_spans(summary: TraceSummary) -> bool:
    """Whether :func:`index_trace` needs the trace's stored spans: no root yet (the stand-in), or usage."""
    return summary.root_span_id is None or summary.has_token_usage


def index_trace(summary: TraceSummary, details: Optional[TraceDetails] = None, nodes: Sequence[IndexNode] = ()) -> TraceIndex:
    """The :class:`TraceIndex` of a trace from its summary and details; ``nodes``: its stored spans
    when :func:`needs_spans`."""
    cost_json = _pricing.cost_json

    name, status_code = summary.root_span_name, summary.root_status_code
    if summary.root_span_id is None:
        found = stand_in_root([(n[0], n[1], n[2], n[3]) for n in nodes])
        if found is not None:
            name, status_code = found
    usage = cost = None
    if summary.has_token_usage and nodes:
        usage, cost = _usage_and_cost(nodes)
    start, end = summary.start_time_ns, summary.end_time_ns
    return TraceIndex(
        trace_state(summary.root_status_code, summary.root_span_id is not None),
        trace_status(status_code),
        name,
        start // 1_000_000,
        (end - start) // 1_000_000,
        usage[INPUT] if usage else None,
        usage[OUTPUT] if usage else None,
        usage[TOTAL] if usage else None,
        usage_json(usage),
        cost["input_cost"] if cost else None,
        cost["output_cost"] if cost else None,
        cost["total_cost"] if cost else None,
        cost_json(cost),
        summary.model,
        details.provider if details else None,
        details.service_name if details else None,
    )


# last: pricing imports this module (the functions above only use it when called)
from . import pricing as _pricing  # noqa: E402

__all__: List[str] = [
    "BASE_KEYS",
    "CACHE_KEYS",
    "OPTIONAL_KEYS",
    "TOKEN_USAGE_ATTRIBUTE",
    "USAGE_KEYS",
    "TraceDetails",
    "TraceIndex",
    "TraceSummary",
    "BatchFold",
    "aggregate_span_usage",
    "aggregate_tree",
    "fold_batch",
    "index_trace",
    "needs_spans",
    "span_type",
    "tags_and_metadata",
    "trace_state",
    "aggregate_token_usage",
    "merge_details",
    "merge_summaries",
    "parse_token_usage",
    "span_model",
    "span_usage",
    "stand_in_root",
    "summarize_batch",
    "summarize_details",
    "trace_status",
    "usage_json",
]
