"""Trace-level token usage, aggregated from the spans' ``mlflow.chat.tokenUsage`` the way MLflow does.

MLflow's rule (``mlflow.tracing.utils.aggregate_usage_from_spans`` and the ``_aggregate_from_spans``
helper it grew into): walk the span tree from its roots; a span's usage counts only if no ancestor
carries usage (an outer span that already reports a call's usage, e.g. a framework span around an SDK
span, must not be counted twice). Spans whose parent is not among the trace's spans are roots of their
own subtree. ``input_tokens``, ``output_tokens`` and ``total_tokens`` are always in the result; the
cache keys ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` only when some counted span
reports them. No span with usage -> ``None``. The walk is iterative (deep traces do not hit Python's
recursion limit, a problem MLflow fixed the same way).

All values are token counts (int).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional, Tuple

from ..semconv import attributes as _A

TOKEN_USAGE_ATTRIBUTE = _A.MLFLOW_CHAT_TOKEN_USAGE  # "mlflow.chat.tokenUsage"
BASE_KEYS = (_A.MLFLOW_INPUT_TOKENS, _A.MLFLOW_OUTPUT_TOKENS, _A.MLFLOW_TOTAL_TOKENS)
CACHE_KEYS = (_A.MLFLOW_CACHE_READ_INPUT_TOKENS, _A.MLFLOW_CACHE_CREATION_INPUT_TOKENS)

#: (span_id, parent_id or None, the span's ``mlflow.chat.tokenUsage`` value: JSON str, mapping or None)
UsageNode = Tuple[str, Optional[str], Any]


def parse_token_usage(value: Any) -> Optional[dict]:
    """Decode one ``mlflow.chat.tokenUsage`` value (a JSON string or a mapping) to a dict of counts.

    Returns ``{key: int}`` holding the numeric entries among :data:`BASE_KEYS` and :data:`CACHE_KEYS`
    (floats are truncated to int, booleans and other types are ignored), or ``None`` when ``value`` is
    missing or is not a JSON object.
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
    for key in BASE_KEYS + CACHE_KEYS:
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[key] = int(v)
    return out


def aggregate_token_usage(nodes: Iterable[UsageNode]) -> Optional[dict]:
    """Total token usage of one trace, MLflow's way (see the module docstring).

    Args:
        nodes: one ``(span_id, parent_id, usage)`` per span of the trace, where ``usage`` is the span's
            ``mlflow.chat.tokenUsage`` value (JSON string or mapping) or ``None``.

    Returns:
        ``{"input_tokens": int, "output_tokens": int, "total_tokens": int}`` plus
        ``"cache_read_input_tokens"`` / ``"cache_creation_input_tokens"`` (summed) when some counted
        span has them; ``None`` when no span carries usage.
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
            for key in CACHE_KEYS:
                if key in usage:
                    totals[key] = totals.get(key, 0) + usage[key]
        below = ancestor_has_usage or usage is not None
        for child in children.get(span_id, ()):
            stack.append((child, below))
    return totals if found else None


def aggregate_span_usage(spans: Iterable[Any]) -> Optional[dict]:
    """:func:`aggregate_token_usage` over objects with ``span_id``, ``parent_id`` and ``attributes``
    (e.g. :class:`otel_genai.store.model.Span`)."""
    return aggregate_token_usage(
        (s.span_id, s.parent_id, s.attributes.get(TOKEN_USAGE_ATTRIBUTE)) for s in spans
    )
