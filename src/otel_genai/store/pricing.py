"""The cost of an inference span, from its model, provider and token counts, with ``genai-prices``
(the maintained price database Pydantic's Logfire uses), never a table of our own.

**When: at store time.** A span is priced when a store writes it (``write_spans``: in the
exporter's ``BatchSpanProcessor`` thread, or in ``otel-genai serve``), not while the user's call
runs, so pricing adds nothing to the per-call budget. Store time rather than read time because the
trace's cost is then an indexed column: ``search_traces("trace.cost > 0.01",
order_by=["cost DESC"])`` runs in SQL instead of pricing every trace on each read. The price used
is the one in force when the span was stored (``genai-prices`` as installed then).

**The shape is MLflow's** (``mlflow.llm.cost``, MLflow 3.x ``mlflow.tracing.constant.CostKey``):
``{"input_cost", "output_cost", "total_cost"}`` in USD, floats. A trace's cost
(``trace.info.cost``) sums its spans' costs with the same ancestor rule as its token usage
(:func:`otel_genai.store.summary.aggregate_token_usage`). A model ``genai-prices`` does not know,
or a span without token counts, has no cost (``None``): never a guess.

**Token counts** are the span's usage (:func:`otel_genai.store.summary.span_usage`):
``input_tokens`` (cache tokens included, as ``genai-prices`` counts them too), ``output_tokens``
(reasoning tokens included, as OpenAI and Anthropic report them), ``cache_read_input_tokens``,
``cache_creation_input_tokens`` (priced as cache writes).

**Speed.** ``genai-prices``' ``calc_price`` costs ~0.2 ms per call, which at the store's 20,000
spans/s would dominate a batch. For a model whose prices have no tiers, cost is linear in the
counts: the per-token rates are read once per (model, provider) from ``genai-prices`` itself (one
``calc_price`` per token kind) and applied in floating point; tiered models go through
``calc_price`` each time. ``tests/test_read_api.py`` checks both paths give ``calc_price``'s answer.

**On the span, for shipping** (a setting): ``OTEL_GENAI_SPAN_COST=true`` makes
:class:`CostSpanExporter` (wrap any exporter with it, e.g. the OTLP one to MLflow) add
``mlflow.llm.cost`` to each inference span it exports, in the exporter's thread.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..semconv import attributes as _A
from .summary import CACHE_CREATION, CACHE_READ, INPUT, OUTPUT, numeric_entries, span_model, span_usage

_logger = logging.getLogger(__name__)

COST_ATTRIBUTE = "mlflow.llm.cost"
INPUT_COST, OUTPUT_COST, TOTAL_COST = "input_cost", "output_cost", "total_cost"
COST_KEYS = (INPUT_COST, OUTPUT_COST, TOTAL_COST)
SPAN_COST_ENV = "OTEL_GENAI_SPAN_COST"

#: ``gen_ai.provider.name`` (semconv v1.41.1 values) -> ``genai-prices`` provider id, where they differ
PROVIDER_IDS: Mapping[str, str] = {
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "ibm.watsonx.ai": "ibm",
}

Cost = Dict[str, float]


def provider_id(provider: Optional[str]) -> Optional[str]:
    """The ``genai-prices`` provider id of a ``gen_ai.provider.name`` (``None`` stays ``None``)."""
    if not provider:
        return None
    return PROVIDER_IDS.get(provider, provider)


_rates_lock = threading.Lock()
_rates: Dict[Tuple[str, Optional[str]], Any] = {}
_TIERED = object()
_PROBE = 1_000_000


def _library_price(model: str, provider: Optional[str], counts: Mapping[str, int]) -> Optional[Tuple[float, float]]:
    """``(input_usd, output_usd)`` from ``genai_prices.calc_price``; ``None`` for an unknown model."""
    from genai_prices import Usage, calc_price

    try:
        result = calc_price(Usage(**counts), model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return float(result.input_price), float(result.output_price)


def _library_counts(usage: Mapping[str, int]) -> Dict[str, int]:
    counts = {"input_tokens": int(usage.get(INPUT, 0)), "output_tokens": int(usage.get(OUTPUT, 0))}
    if usage.get(CACHE_READ):
        counts["cache_read_tokens"] = int(usage[CACHE_READ])
    if usage.get(CACHE_CREATION):
        counts["cache_write_tokens"] = int(usage[CACHE_CREATION])
    return counts


def _model_rates(model: str, provider: Optional[str]) -> Any:
    """Per-token USD rates ``(input, output, cache_read, cache_write)`` of an untiered model, read
    from ``genai-prices``; :data:`_TIERED` for a tiered one; ``None`` for an unknown one. Cached."""
    key = (model, provider)
    found = _rates.get(key, _rates)
    if found is not _rates:
        return found
    from genai_prices import Usage, calc_price
    from genai_prices.types import TieredPrices

    try:
        probe = calc_price(Usage(input_tokens=_PROBE, output_tokens=_PROBE), model_ref=model, provider_id=provider)
    except LookupError:
        rates: Any = None
    else:
        if any(isinstance(v, TieredPrices) for v in vars(probe.model_price).values()):
            rates = _TIERED
        else:
            base_in = _library_price(model, provider, {"input_tokens": _PROBE})[0]  # type: ignore[index]
            out = _library_price(model, provider, {"output_tokens": _PROBE})[1]  # type: ignore[index]
            read = _library_price(model, provider, {"input_tokens": _PROBE, "cache_read_tokens": _PROBE})[0]  # type: ignore[index]
            write = _library_price(model, provider, {"input_tokens": _PROBE, "cache_write_tokens": _PROBE})[0]  # type: ignore[index]
            rates = (base_in / _PROBE, out / _PROBE, read / _PROBE, write / _PROBE)
    with _rates_lock:
        _rates[key] = rates
    return rates


_warm: list = []


def _exiting() -> bool:
    from ..instrumentation._core import lifecycle

    return lifecycle.exiting or lifecycle.finalizing()


def _dying_of_ctrl_c() -> bool:
    """The process exits because its main module raised ``KeyboardInterrupt`` (``sys.last_value``,
    set when the interpreter printed it). Then ``genai-prices`` is not imported for the first time:
    CPython resets its "die of SIGINT" flag whenever code is compiled from a string (``exec``, as
    ``namedtuple`` and ``dataclass`` do at import), so a first import in the exit flush made such a
    program exit with status 1 instead of -SIGINT. Its last spans are stored without a cost."""
    return _exiting() and isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)


def warm_up() -> None:
    """Load ``genai-prices`` (and its price data: ~0.5 s) in a daemon thread, once per process, so
    the first batch a store prices does not wait for it. Stores call this when opened for writing.

    Not while the process exits (a store first opened by the exit flush): a thread that starts
    importing then only delays the exit, and an import racing the interpreter's shutdown changed the
    exit status of a program dying of Ctrl-C (1 instead of -SIGINT, tests/test_lifecycle.py)."""
    if _warm or _exiting():
        return
    _warm.append(True)

    def load() -> None:
        try:
            price("gpt-4o-mini", "openai", {INPUT: 1, OUTPUT: 1})
        except Exception:  # noqa: BLE001 - only a warm-up
            _logger.debug("otel-genai: loading genai-prices failed", exc_info=True)

    threading.Thread(target=load, name="otel-genai-prices", daemon=True).start()


def price(model: Optional[str], provider: Optional[str], usage: Optional[Mapping[str, int]]) -> Optional[Cost]:
    """``{"input_cost", "output_cost", "total_cost"}`` (USD) of ``usage`` (token counts in
    ``mlflow.chat.tokenUsage`` keys) on ``model`` served by ``provider`` (a ``gen_ai.provider.name``);
    ``None`` when the model is unknown to ``genai-prices`` or there is no usage. Never raises for a
    strange model name (a fault in the library is logged at debug level and gives ``None``)."""
    if not model or not usage:
        return None
    if "genai_prices" not in sys.modules and _dying_of_ctrl_c():
        return None
    try:
        found = _rates_by_name.get((model, provider))
        if found is None:
            pid = provider_id(provider)
            found = (pid, _model_rates(model, pid))
            with _rates_lock:
                _rates_by_name[(model, provider)] = found
        pid, rates = found
        if rates is None:
            return None
        if rates is _TIERED:
            priced = _library_price(model, pid, _library_counts(usage))
            if priced is None:
                return None
            inp, out = priced
        else:
            rate_in, rate_out, rate_read, rate_write = rates
            get = usage.get
            read, write = int(get(CACHE_READ, 0) or 0), int(get(CACHE_CREATION, 0) or 0)
            uncached = max(int(get(INPUT, 0) or 0) - read - write, 0)
            # the probes priced inputs made only of cache reads / writes: these are per cached token
            inp = uncached * rate_in + read * rate_read + write * rate_write
            out = int(get(OUTPUT, 0) or 0) * rate_out
    except Exception:  # noqa: BLE001 - a price-library fault must not fail a batch
        _logger.debug("otel-genai: pricing %r failed", model, exc_info=True)
        return None
    return {INPUT_COST: inp, OUTPUT_COST: out, TOTAL_COST: inp + out}


#: ``(model, gen_ai.provider.name) -> (genai-prices provider id, rates)``: what :func:`price` looks up
#: per span, memoised per pair (the rates themselves are :func:`_model_rates`' cache)
_rates_by_name: Dict[Tuple[str, Optional[str]], Tuple[Optional[str], Any]] = {}


def span_cost(attributes: Mapping[str, Any], usage: Optional[Mapping[str, int]] = None) -> Optional[Cost]:
    """The cost of one span from its attributes: ``mlflow.llm.cost`` when the span carries it (a
    producer priced it already), else :func:`price` of its model (``gen_ai.response.model``, else
    ``gen_ai.request.model``), ``gen_ai.provider.name`` and usage (``usage``: its
    :func:`~otel_genai.store.summary.span_usage`, computed if not given)."""
    carried = attributes.get(COST_ATTRIBUTE)
    if carried is not None:
        return parse_cost(carried)
    if usage is None:
        usage = span_usage(attributes)
        if usage is None:
            return None
    provider = attributes.get(_A.GEN_AI_PROVIDER_NAME)
    return price(span_model(attributes), provider if isinstance(provider, str) else None, usage)


def span_cost_of(attributes: Mapping[str, Any], usage: Optional[Mapping[str, int]], model: Optional[str]) -> Optional[Cost]:
    """:func:`span_cost` of a span whose :func:`~otel_genai.store.summary.span_usage` (``usage``) and
    :func:`~otel_genai.store.summary.span_model` (``model``) are known already: the ``cost_of`` of
    :func:`~otel_genai.store.summary.fold_batch`. ``None`` without a carried cost and without usage."""
    carried = attributes.get(COST_ATTRIBUTE)
    if carried is not None:
        return parse_cost(carried)
    if usage is None:
        return None
    provider = attributes.get(_A.GEN_AI_PROVIDER_NAME)
    return price(model, provider if isinstance(provider, str) else None, usage)


def parse_cost(value: Any) -> Optional[Cost]:
    """A cost in ``mlflow.llm.cost`` form (JSON text or a mapping) -> ``{key: float}``; ``None`` if invalid."""
    numbers = numeric_entries(value, COST_KEYS)
    if not numbers or TOTAL_COST not in numbers:
        return None
    return {key: float(v) for key, v in numbers.items()}


def cost_json(cost: Optional[Mapping[str, float]]) -> Optional[str]:
    """``cost`` (finite floats) as compact JSON text for storing (``None`` stays ``None``)."""
    if cost is None:
        return None
    return "{%s}" % ",".join([f'"{key}":{float(value)!r}' for key, value in cost.items()])


def aggregate_cost(nodes: Sequence[Tuple[str, Optional[str], Any]]) -> Optional[Cost]:
    """A trace's cost: the sum of its spans' costs, a span counted only if no ancestor has a cost
    (MLflow's ``aggregate_cost_from_span_nodes``). ``nodes``: ``(span_id, parent_id, cost or its
    JSON or None)``. ``None`` when no span has a cost."""
    from .summary import aggregate_tree

    return aggregate_tree(((s, p, parse_cost(c)) for s, p, c in nodes), COST_KEYS, default=0.0)


@functools.lru_cache(maxsize=1)
def _span_cost_enabled(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def span_cost_enabled() -> bool:
    """``OTEL_GENAI_SPAN_COST`` is on (``true``/``1``/``yes``/``on``)."""
    return _span_cost_enabled(os.environ.get(SPAN_COST_ENV, ""))


class CostSpanExporter:
    """A ``SpanExporter`` wrapper adding ``mlflow.llm.cost`` (JSON) to each exported span that can
    be priced and does not carry it yet, before handing the batch to ``exporter``; in the exporter's
    thread, never on the call path. With ``enabled=None`` it follows ``OTEL_GENAI_SPAN_COST``."""

    def __init__(self, exporter: Any, *, enabled: Optional[bool] = None) -> None:
        self._exporter = exporter
        self._enabled = enabled

    def export(self, spans: Sequence[Any]) -> Any:
        enabled = span_cost_enabled() if self._enabled is None else self._enabled
        if enabled:
            spans = [self._priced(span) for span in spans]
        return self._exporter.export(spans)

    @staticmethod
    def _priced(span: Any) -> Any:
        try:
            attributes = span.attributes or {}
            if COST_ATTRIBUTE in attributes:
                return span
            cost = span_cost(attributes)
            if cost is None:
                return span
            from opentelemetry.sdk.trace import ReadableSpan

            return ReadableSpan(
                name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                attributes={**attributes, COST_ATTRIBUTE: cost_json(cost)}, events=span.events, links=span.links,
                kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        except Exception:  # noqa: BLE001 - an exporter never fails on our account
            _logger.debug("otel-genai: could not price a span", exc_info=True)
            return span

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


__all__ = [
    "COST_ATTRIBUTE",
    "COST_KEYS",
    "PROVIDER_IDS",
    "SPAN_COST_ENV",
    "CostSpanExporter",
    "aggregate_cost",
    "cost_json",
    "parse_cost",
    "price",
    "provider_id",
    "warm_up",
    "span_cost",
    "span_cost_of",
]
