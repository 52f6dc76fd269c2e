#!/usr/bin/env python
"""Overhead of otel-genai on the real ``openai`` client, side by side with the official OTel
instrumentation and with a bare OTel SDK span (DESIGN.md section 8, performance budget).

    python benchmarks/overhead.py [--calls N] [--rounds R] [--official v2,genai|none]

Everything runs in-process: ``openai.OpenAI`` talks to an ``httpx2.MockTransport`` that answers
with a canned ``chat.completion`` (one choice, usage with token details) or a 40-chunk SSE stream
(``stream_options={"include_usage": True}``, the last chunk carries the usage). No network.

Variants, interleaved in rounds (the order rotates every round), each timed per call with
``time.perf_counter_ns``; figures are medians of per-call microseconds over all rounds:

* ``bare``      the SDK, not instrumented;
* ``otel-genai`` ``OpenAIInstrumentor().instrument(capture_content="SPAN_ONLY")``;
* ``official``  ``opentelemetry-instrumentation-openai-v2`` and/or its successor
  ``opentelemetry-instrumentation-genai-openai`` (whichever are installed), content capture on
  through ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``;
* ``floor``     a bare SDK span carrying exactly the attributes of our chat span (request half at
  ``start_span``, response half by ``set_attributes``, then ``end``), no SDK call.

All instrumented variants share one SDK ``TracerProvider`` (``BatchSpanProcessor`` -> a null
exporter) and one ``MeterProvider`` (``InMemoryMetricReader``). Instrumentors are uninstrumented
after their block so the variants can interleave. This is a tool for people, not a test: it
prints figures, ratios and PASS/MISS against the section 8 targets, and always exits 0 unless it
could not run at all.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

# The official instrumentations read content capture from the environment when instrumented.
# Ours is given capture_content explicitly (same policy). Set before anything imports them.
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"

import httpx2
import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

STREAM_CHUNKS = 40
TARGET_CHAT_VS_OFFICIAL = 0.35
TARGET_CHUNK_VS_OFFICIAL = 0.5
TARGET_VS_FLOOR = 1.6

# --- canned wire data -----------------------------------------------------------------------------
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
ANSWER = (
    "OpenTelemetry gives every LLM call a span: the model, the parameters, token usage and, when you "
    "opt in, the prompt and the completion. Spans from your web framework and your database end up "
    "in the same trace, so a slow answer can be explained end to end."
)
USAGE = {
    "prompt_tokens": 52,
    "completion_tokens": 58,
    "total_tokens": 110,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
COMMON = {
    "id": "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K1l2",
    "created": 1737000000,
    "model": RESPONSE_MODEL,
    "service_tier": "default",
    "system_fingerprint": "fp_0ba0d124f1",
}
CHAT_BODY = json.dumps(
    {
        **COMMON,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
).encode()


def _stream_body() -> bytes:
    """40 ``data:`` events: role, 37 content deltas, finish_reason, usage (``choices: []``), then [DONE]."""
    words = ANSWER.split(" ")
    pieces = [" ".join(words[i::37]) for i in range(37)]  # 37 non-empty content deltas
    base = {**COMMON, "object": "chat.completion.chunk"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "logprobs": None, "finish_reason": None}], "usage": None}]
    for piece in pieces:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": " " + piece}, "logprobs": None, "finish_reason": None}], "usage": None})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}], "usage": None})
    chunks.append({**base, "choices": [], "usage": USAGE})
    assert len(chunks) == STREAM_CHUNKS
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


STREAM_BODY = _stream_body()

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant for an observability team."},
    {"role": "user", "content": "In two sentences, why trace LLM calls with OpenTelemetry?"},
]
CHAT_KWARGS: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "temperature": 0.2, "max_tokens": 256}
STREAM_KWARGS: dict[str, Any] = {**CHAT_KWARGS, "stream": True, "stream_options": {"include_usage": True}}


def _client(body: bytes, content_type: str) -> openai.OpenAI:
    headers = {"content-type": content_type, "x-request-id": "req_bench"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    return openai.OpenAI(
        api_key="sk-bench",
        base_url="https://api.openai.com/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )


CHAT_CLIENT = _client(CHAT_BODY, "application/json")
STREAM_CLIENT = _client(STREAM_BODY, "text/event-stream")


def chat_call() -> None:
    CHAT_CLIENT.chat.completions.create(**CHAT_KWARGS)


def stream_call() -> None:
    n = 0
    for _ in STREAM_CLIENT.chat.completions.create(**STREAM_KWARGS):
        n += 1
    if n != STREAM_CHUNKS:
        raise RuntimeError(f"stream yielded {n} chunks, expected {STREAM_CHUNKS}")


# --- telemetry pipeline ---------------------------------------------------------------------------
class NullSpanExporter(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class _StartAttributes(SpanProcessor):
    """Remembers each span's attributes as they were at start (the request half)."""

    def __init__(self) -> None:
        self.at_start: dict[int, dict[str, Any]] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.at_start[span.context.span_id] = dict(span.attributes or {})


# --- variants ---------------------------------------------------------------------------------------
class Variant:
    """An instrumentation that can be switched on and off between blocks."""

    chat_only = False

    def __init__(self, key: str, label: str, make: Callable[[], Any] | None) -> None:
        self.key, self.label = key, label
        self._make = make
        self._instrumentor: Any = None

    def enable(self, tracer_provider: Any, meter_provider: Any, skip_dep_check: bool = False) -> None:
        if self._make is None:
            return
        self._instrumentor = self._make()
        kwargs: dict[str, Any] = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "skip_dep_check": skip_dep_check,  # checked once, in validate(); it costs ms per instrument()
        }
        if self.key == "ours":
            kwargs["capture_content"] = "SPAN_ONLY"
        self._instrumentor.instrument(**kwargs)
        if not self._instrumentor.is_instrumented_by_opentelemetry:
            raise RuntimeError("instrument() did not instrument (dependency check failed?)")

    def disable(self) -> None:
        if self._instrumentor is not None:
            self._instrumentor.uninstrument()
            self._instrumentor = None


class SpanAroundCall(Variant):
    """The in-situ floor: a ``wrapt`` wrapper on ``Completions.create`` that starts a bare span with
    the request half of our chat span's attributes, calls the SDK, sets the response half, ends it.
    What any instrumentation with one such span must add, measured where ours runs (caches cold
    after the SDK's own ~1 ms of work), as opposed to the standalone floor's tight loop."""

    chat_only = True

    def __init__(self, tracer: Any, name: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        super().__init__("insitu", "bare span around create() (in-situ floor)", None)
        self._tracer, self._name, self._request, self._response = tracer, name, request, response

    def enable(self, tracer_provider: Any, meter_provider: Any, skip_dep_check: bool = False) -> None:
        from openai.resources.chat.completions.completions import Completions
        from wrapt import wrap_function_wrapper

        tracer, name, request, response = self._tracer, self._name, self._request, self._response

        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=request)
            result = wrapped(*args, **kwargs)
            span.set_attributes(response)
            span.end()
            return result

        wrap_function_wrapper(Completions, "create", wrapper)

    def disable(self) -> None:
        from openai.resources.chat.completions.completions import Completions
        from opentelemetry.instrumentation.utils import unwrap

        unwrap(Completions, "create")


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ours() -> Any:
    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _official_v2() -> Any:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _official_genai() -> Any:
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


OFFICIAL = {
    "v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry.instrumentation.openai_v2", _official_v2),
    "genai": ("opentelemetry-instrumentation-genai-openai", "opentelemetry.instrumentation.genai.openai", _official_genai),
}


def validate(variant: Variant) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Instrument with an in-memory pipeline, make one chat and one stream call, check the spans.

    Returns (chat span request-half attributes, response-half attributes, stream span attribute count).
    """
    exporter = InMemorySpanExporter()
    starts = _StartAttributes()
    tp = TracerProvider()
    tp.add_span_processor(starts)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variant.enable(tp, mp)
    try:
        chat_call()
        stream_call()
    finally:
        variant.disable()
    spans = exporter.get_finished_spans()
    if len(spans) != 2:
        raise RuntimeError(f"expected 2 spans (chat, stream), got {len(spans)}: {[s.name for s in spans]}")
    chat, stream = spans
    if chat.kind is not SpanKind.CLIENT or not chat.name.startswith("chat"):
        raise RuntimeError(f"unexpected chat span {chat.name!r} ({chat.kind})")
    end_attrs = dict(chat.attributes or {})
    start_attrs = starts.at_start.get(chat.context.span_id, {})
    response_half = {k: v for k, v in end_attrs.items() if k not in start_attrs or start_attrs[k] != v}
    tp.shutdown()
    return start_attrs, response_half, len(stream.attributes or {})


# --- measurement ------------------------------------------------------------------------------------
def timed(fn: Callable[[], None], n: int) -> list[int]:
    pc = time.perf_counter_ns
    out = []
    append = out.append
    for _ in range(n):
        t0 = pc()
        fn()
        append(pc() - t0)
    return out


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=24, help="timed chat calls per variant per round; streams get a quarter of it (default 24)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds; the variants interleave inside each (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed chat calls after each instrument() (default 3)")
    parser.add_argument("--floor-spans", type=int, default=100, help="bare spans per round for the floor (default 100)")
    parser.add_argument("--official", default="v2,genai", help="official packages to compare: v2, genai, both comma-separated, or none")
    args = parser.parse_args()

    load_before = _load()
    print("otel-genai overhead benchmark (DESIGN.md section 8)")
    print(
        f"python {platform.python_version()}, openai {_dist_version('openai')}, httpx2 {_dist_version('httpx2')}, "
        f"opentelemetry-sdk {_dist_version('opentelemetry-sdk')}, otel-genai {_dist_version('otel-genai')}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{args.rounds} rounds x {args.calls} timed calls per variant (chat and {STREAM_CHUNKS}-chunk stream), "
        f"{args.warmup} warm-up calls per block; content capture SPAN_ONLY; BatchSpanProcessor -> null exporter; "
        "InMemoryMetricReader"
    )

    variants = [Variant("bare", "bare SDK (not instrumented)", None)]
    ours = Variant("ours", "otel-genai", _ours)
    variants.append(ours)
    wanted = [] if args.official.strip().lower() == "none" else [w.strip() for w in args.official.split(",") if w.strip()]
    for key in wanted:
        if key not in OFFICIAL:
            print(f"unknown --official entry {key!r} (known: {', '.join(OFFICIAL)})")
            continue
        dist, module, make = OFFICIAL[key]
        version = _dist_version(dist)
        if version is None:
            print(f"official: {dist} is NOT installed here (pip install {dist}); skipped")
            continue
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001 - report and go on
            hint = ""
            if isinstance(exc, ImportError) and getattr(exc, "name", None) == "httpx":
                hint = f" (it imports httpx; openai {openai.__version__} uses httpx2)"
            print(f"official: {dist} {version} does not work with openai {openai.__version__}: {type(exc).__name__}: {exc}{hint}; skipped")
            continue
        variants.append(Variant(key, f"official {dist.replace('opentelemetry-instrumentation-', '')} {version}", make))

    # validate every instrumented variant: exactly one CLIENT span per call, attributes recorded
    attr_counts: dict[str, tuple[int, int]] = {}
    floor_request: dict[str, Any] = {}
    floor_response: dict[str, Any] = {}
    for variant in list(variants[1:]):
        try:
            request_half, response_half, stream_count = validate(variant)
        except Exception as exc:  # noqa: BLE001
            if variant is ours:
                print(f"otel-genai failed validation: {type(exc).__name__}: {exc}")
                return 1
            print(f"official: {variant.label} does not work with openai {openai.__version__}: {type(exc).__name__}: {exc}; skipped")
            variants.remove(variant)
            continue
        attr_counts[variant.key] = (len(request_half) + len(response_half), stream_count)
        if variant is ours:
            floor_request, floor_response = request_half, response_half
    officials = [v for v in variants if v.key in OFFICIAL]
    if not officials:
        print("official: no official instrumentation available; ratios against it are n/a")
    print("span attributes (chat / stream): " + ", ".join(f"{v.label} {attr_counts[v.key][0]} / {attr_counts[v.key][1]}" for v in variants[1:]))

    # the shared benchmark pipeline
    null_exporter = NullSpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(null_exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    floor_tracer = tp.get_tracer("benchmarks.floor")
    floor_name = f"chat {MODEL}"
    floor_attrs_n = len(floor_request) + len(floor_response)

    variants.append(SpanAroundCall(floor_tracer, floor_name, floor_request, floor_response))

    def floor_span() -> None:
        span = floor_tracer.start_span(floor_name, kind=SpanKind.CLIENT, attributes=floor_request)
        span.set_attributes(floor_response)
        span.end()

    chat: dict[str, list[int]] = {v.key: [] for v in variants}
    stream: dict[str, list[int]] = {v.key: [] for v in variants}
    chat_rounds: dict[str, list[float]] = {v.key: [] for v in variants}
    stream_rounds: dict[str, list[float]] = {v.key: [] for v in variants}
    floor: list[int] = []
    floor_rounds: list[float] = []
    stream_calls = max(1, args.calls // 4)  # a 40-chunk stream costs ~5 chat calls

    # global warm-up: lazy imports, pydantic and wrapt caches, first-span allocations
    for variant in variants:
        variant.enable(tp, mp)
        try:
            timed(chat_call, 60)
            if not variant.chat_only:
                timed(stream_call, 15)
        finally:
            variant.disable()
    timed(floor_span, args.floor_spans)

    started = time.perf_counter()
    slots: list[Any] = [*variants, "floor"]
    progress_every = max(1, args.rounds // 5)
    for r in range(args.rounds):
        gc.collect()
        order = slots[r % len(slots):] + slots[: r % len(slots)]  # rotate: no variant always goes first
        for slot in order:
            if slot == "floor":
                samples = timed(floor_span, args.floor_spans)
                floor.extend(samples)
                floor_rounds.append(median_us(samples))
                continue
            slot.enable(tp, mp, skip_dep_check=True)
            try:
                timed(chat_call, args.warmup)
                samples = timed(chat_call, args.calls)
                chat[slot.key].extend(samples)
                chat_rounds[slot.key].append(median_us(samples))
                if not slot.chat_only:
                    samples = timed(stream_call, stream_calls)
                    stream[slot.key].extend(samples)
                    stream_rounds[slot.key].append(median_us(samples))
            finally:
                slot.disable()
        if (r + 1) % progress_every == 0 or r + 1 == args.rounds:
            print(f"  round {r + 1}/{args.rounds} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    tp.force_flush()
    exported = null_exporter.exported
    tp.shutdown()

    # --- report ---------------------------------------------------------------------------------------
    # "added" is the median over rounds of (variant's block median - bare's block median in the same
    # round): the blocks of one round run within ~0.2 s of each other, so this cancels the slow drift
    # of a shared machine that a difference of two overall medians would keep.
    def added(rounds: dict[str, list[float]], key: str) -> float:
        return statistics.median(v - b for v, b in zip(rounds[key], rounds["bare"]))

    def spread(values: list[float]) -> str:
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return f"[{q[0]:.0f} .. {q[2]:.0f}]"

    chat_med = {k: median_us(v) for k, v in chat.items()}
    stream_med = {k: median_us(v) for k, v in stream.items() if v}
    floor_med = median_us(floor)
    chat_added = {v.key: added(chat_rounds, v.key) for v in variants[1:]}
    stream_added = {v.key: added(stream_rounds, v.key) for v in variants[1:] if not v.chat_only}

    print()
    print(f"chat.completions.create, non-streaming       {'µs/call':>10} {'added µs':>9} {'':>9}  added per round, IQR")
    for v in variants:
        if v.key == "bare":
            print(f"  {v.label:<42} {chat_med[v.key]:10.1f} {'-':>9}")
        else:
            diffs = [a - b for a, b in zip(chat_rounds[v.key], chat_rounds["bare"])]
            print(f"  {v.label:<42} {chat_med[v.key]:10.1f} {chat_added[v.key]:+9.1f} {'':>9}  {spread(diffs)}")
    print(f"  {'bare OTel span, ' + str(floor_attrs_n) + ' attrs (floor), µs/span':<42} {floor_med:10.1f}")
    print()
    print(f"stream, {STREAM_CHUNKS} chunks iterated to the end     {'µs/call':>10} {'added µs':>9} {'µs/chunk':>9}  added per round, IQR")
    for v in variants:
        if v.chat_only:
            continue
        if v.key == "bare":
            print(f"  {v.label:<42} {stream_med[v.key]:10.1f} {'-':>9}")
        else:
            diffs = [a - b for a, b in zip(stream_rounds[v.key], stream_rounds["bare"])]
            print(f"  {v.label:<42} {stream_med[v.key]:10.1f} {stream_added[v.key]:+9.1f} {stream_added[v.key] / STREAM_CHUNKS:+9.2f}  {spread(diffs)}")

    def verdict(ratio: float, target: float) -> str:
        return "PASS" if ratio <= target else "MISS"

    print()
    print("targets (DESIGN.md section 8)")
    for off in officials:
        if chat_added[off.key] > 0:
            ratio = chat_added["ours"] / chat_added[off.key]
            print(f"  chat   ours added / {off.label} added = {chat_added['ours']:.1f} / {chat_added[off.key]:.1f} = {ratio:.2f}   target <= {TARGET_CHAT_VS_OFFICIAL}  {verdict(ratio, TARGET_CHAT_VS_OFFICIAL)}")
        else:
            print(f"  chat   {off.label} added <= 0 µs: ratio n/a")
        if stream_added[off.key] > 0:
            ours_chunk, off_chunk = stream_added["ours"] / STREAM_CHUNKS, stream_added[off.key] / STREAM_CHUNKS
            ratio = ours_chunk / off_chunk
            print(f"  stream ours per chunk / {off.label} per chunk = {ours_chunk:.2f} / {off_chunk:.2f} = {ratio:.2f}   target <= {TARGET_CHUNK_VS_OFFICIAL}  {verdict(ratio, TARGET_CHUNK_VS_OFFICIAL)}")
        else:
            print(f"  stream {off.label} added <= 0 µs: ratio n/a")
    if not officials:
        print("  chat / stream vs official: n/a (no official instrumentation could run here)")
    ratio = chat_added["ours"] / floor_med
    print(f"  chat   ours added / bare-span floor = {chat_added['ours']:.1f} / {floor_med:.1f} = {ratio:.2f}   target <= {TARGET_VS_FLOOR}  {verdict(ratio, TARGET_VS_FLOOR)}")
    if chat_added.get("insitu", 0) > 0:
        print(f"  (info) ours added / in-situ floor added = {chat_added['ours']:.1f} / {chat_added['insitu']:.1f} = {chat_added['ours'] / chat_added['insitu']:.2f}")
    load_after = _load()
    cpus = os.cpu_count() or 1
    # this process keeps ~1 CPU busy itself: only load beyond that means a neighbour
    if load_before > 0.5 * cpus or load_after > 1.0 + 0.5 * cpus:
        print(f"WARNING: load average was {load_before:.1f} before and {load_after:.1f} after on {os.cpu_count()} CPUs: "
              "other processes shared the CPUs, figures are noisy; rerun on an idle machine")
    print()
    print(f"spans exported to the null exporter: {exported}; measured for {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
