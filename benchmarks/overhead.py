#!/usr/bin/env python
"""Overhead of otel-genai on the real ``openai`` and ``anthropic`` clients, side by side with the
official OTel instrumentations and with a bare OTel SDK span (DESIGN.md section 8, performance budget).

    python benchmarks/overhead.py [--calls N] [--rounds R] [--official v2,genai,anthropic|none]

Everything runs in-process: ``openai.OpenAI`` talks to an ``httpx2.MockTransport`` that answers
with a canned ``chat.completion`` (one choice, usage with token details) or a 40-chunk SSE stream
(``stream_options={"include_usage": True}``, the last chunk carries the usage); ``anthropic.Anthropic``
likewise gets a canned ``Message`` for ``messages.create``. No network.

Variants, interleaved in rounds (the order rotates every round), each timed per call with
``time.perf_counter_ns``; figures are medians of per-call microseconds over all rounds:

* ``bare``       the SDKs, not instrumented;
* ``otel-genai`` ``OpenAIInstrumentor`` / ``AnthropicInstrumentor`` with ``capture_content="SPAN_ONLY"``;
* ``official``   ``opentelemetry-instrumentation-openai-v2`` and/or its successor
  ``opentelemetry-instrumentation-genai-openai``, and ``opentelemetry-instrumentation-genai-anthropic``
  (whichever are installed and work), content capture on through
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY``;
* ``in-situ floor`` a ``wrapt`` wrapper on ``Completions.create`` around one bare span with our chat
  span's attributes;
* ``floor``      that bare span alone in a tight loop (request half at ``start_span``, response half
  by ``set_attributes``, then ``end``), no SDK call.

Two figures per variant: the caller's latency (median per call, what the user waits) and the
process's CPU per call (all threads, mean per block: it includes work done off the caller's thread,
such as otel-genai's deferred metric recording, which each block's CPU figure settles before it
stops the clock).

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
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

# The official instrumentations read content capture from the environment when instrumented.
# Ours is given capture_content explicitly (same policy). Set before anything imports them.
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
warnings.filterwarnings("ignore", message="The model .* is deprecated", category=DeprecationWarning)

import httpx2
import openai

try:
    import anthropic
except ImportError:  # the messages.create rows are skipped
    anthropic = None
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
# issue 13's targets, on added CPU per call
TARGET_VS_OFFICIAL = 0.35  # chat, whole streams, anthropic create / stream, gemini: ours / the official instrumentation's
TARGET_CHUNK_CPU_US = 5.0  # a streamed chunk
TARGET_VS_INSITU = 1.5  # chat: ours / a bare SDK span with the same attributes around the same call
TARGET_NO_CONTENT_VS_INSITU = 1.2  # the same with content capture off
TARGET_DECORATOR = 1.1  # otel_genai.trace / a bare SDK span (start_as_current_span)

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


# --- anthropic messages.create -------------------------------------------------------------------
ANTHROPIC_MODEL = "claude-sonnet-4-5"
ANTHROPIC_BODY = json.dumps(
    {
        "id": "msg_01BenchA1b2C3d4E5f6G7h8I9",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 52, "output_tokens": 58, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
    }
).encode()
MESSAGES_KWARGS: dict[str, Any] = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 256,  # (anthropic 2.x has no sampling parameters of its own)
    "system": MESSAGES[0]["content"],
    "messages": [MESSAGES[1]],
}
ANTHROPIC_CLIENT: Any = None
if anthropic is not None:
    _anthropic_headers = {"content-type": "application/json", "request-id": "req_bench"}
    ANTHROPIC_CLIENT = anthropic.Anthropic(
        api_key="sk-ant-bench",
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda request: httpx2.Response(200, headers=_anthropic_headers, content=ANTHROPIC_BODY))
        ),
        max_retries=0,
    )


def messages_call() -> None:
    ANTHROPIC_CLIENT.messages.create(**MESSAGES_KWARGS)


def _anthropic_stream_body() -> bytes:
    """A Messages SSE stream: message_start, a text block of 37 deltas, message_delta (stop_reason,
    usage), message_stop: 42 events."""
    words = ANSWER.split(" ")
    pieces = [" ".join(words[i::37]) for i in range(37)]
    message = json.loads(ANTHROPIC_BODY)
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": start}),
              ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " " + p}}) for p in pieces]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 58}}),
               ("message_stop", {"type": "message_stop"})]
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


ANTHROPIC_STREAM_CLIENT: Any = None
if anthropic is not None:
    _anthropic_stream_body_bytes = _anthropic_stream_body()
    _stream_headers = {"content-type": "text/event-stream", "request-id": "req_bench"}
    ANTHROPIC_STREAM_CLIENT = anthropic.Anthropic(
        api_key="sk-ant-bench",
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda request: httpx2.Response(200, headers=_stream_headers, content=_anthropic_stream_body_bytes))
        ),
        max_retries=0,
    )


def messages_stream_call() -> None:
    with ANTHROPIC_STREAM_CLIENT.messages.stream(**MESSAGES_KWARGS) as stream:
        for _ in stream:
            pass
        if stream.get_final_message().usage.output_tokens != 58:
            raise RuntimeError("anthropic stream: no final usage")


# workload key -> (title, call, timed calls per block as a fraction of --calls)
WORKLOADS: dict[str, tuple[str, Callable[[], None], float]] = {
    "chat": ("openai chat.completions.create, non-streaming", chat_call, 1.0),
    "stream": (f"openai chat stream, {STREAM_CHUNKS} chunks iterated to the end", stream_call, 0.25),  # ~5 chat calls each
}
if ANTHROPIC_CLIENT is not None:
    WORKLOADS["messages"] = ("anthropic messages.create, non-streaming", messages_call, 1.0)
    WORKLOADS["messages_stream"] = ("anthropic messages.stream(), 42 events iterated to the end", messages_stream_call, 0.25)
OPENAI = ("chat", "stream")
ANTHROPIC = ("messages", "messages_stream")
#: workloads whose per-chunk figure is printed: key -> chunks per call
CHUNKS = {"stream": STREAM_CHUNKS, "messages_stream": 42}

# the Gemini and LangChain rows live beside this script (they need google-genai / langchain)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import gemini_variants
except ImportError as exc:  # google-genai is not installed: its rows are skipped
    gemini_variants = None
    print(f"gemini rows skipped: {exc}", file=sys.stderr)
else:
    WORKLOADS.update(gemini_variants.WORKLOADS)
    CHUNKS["gemini_stream"] = gemini_variants.STREAM_CHUNKS


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
def _drain_ours() -> None:
    """Record the metrics otel-genai deferred (see ``instrumentation/_core/metrics.py``)."""
    from otel_genai.instrumentation._core.metrics import drain

    drain()


class Variant:
    """An instrumentation that can be switched on and off between blocks, and the workloads it runs."""

    def __init__(
        self,
        key: str,
        label: str,
        make: Callable[[], Any] | None,
        workloads: tuple[str, ...],
        settle: Callable[[], None] | None = None,
        capture_kwarg: bool | str = False,
    ) -> None:
        self.key, self.label = key, label
        self.workloads = tuple(w for w in workloads if w in WORKLOADS)
        self.settle = settle  # finishes work the variant left for later, inside the CPU measurement
        self._make = make
        self._capture_kwarg = capture_kwarg
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
        if self._capture_kwarg:
            kwargs["capture_content"] = self._capture_kwarg if isinstance(self._capture_kwarg, str) else "SPAN_ONLY"
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
    after the SDK's own ~1 ms of work), as opposed to the standalone floor's tight loop.

    With ``metrics=True`` it also records, synchronously and with the SDK's own API, the three
    measurements semconv asks of a chat call (``gen_ai.client.operation.duration`` and
    ``gen_ai.client.token.usage`` for input and output, with the metric attributes ours uses): what
    OpenTelemetry itself costs for the same information, spans and metrics."""

    def __init__(self, tracer: Any, name: str, request: dict[str, Any], response: dict[str, Any], metrics: bool = False) -> None:
        key, label = ("insitu_metrics", "bare span + 3 metric records (in-situ floor)") if metrics else (
            "insitu", "bare span around create() (in-situ floor)")
        super().__init__(key, label, None, ("chat",))
        self._tracer, self._name, self._request, self._response = tracer, name, request, response
        self._metrics = metrics

    def enable(self, tracer_provider: Any, meter_provider: Any, skip_dep_check: bool = False) -> None:
        from openai.resources.chat.completions.completions import Completions
        from wrapt import wrap_function_wrapper

        tracer, name, request, response = self._tracer, self._name, self._request, self._response
        if not self._metrics:

            def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=request)
                result = wrapped(*args, **kwargs)
                span.set_attributes(response)
                span.end()
                return result

        else:
            meter = meter_provider.get_meter("benchmarks.floor")
            duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
            tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
            keys = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "server.address", "server.port",
                    "gen_ai.response.model")
            attrs = {k: v for k, v in {**request, **response}.items() if k in keys}
            input_attrs = {**attrs, "gen_ai.token.type": "input"}
            output_attrs = {**attrs, "gen_ai.token.type": "output"}
            set_span_in_context = __import__("opentelemetry.trace", fromlist=["set_span_in_context"]).set_span_in_context

            def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                start = time.perf_counter()
                span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=request)
                result = wrapped(*args, **kwargs)
                span.set_attributes(response)
                span.end()
                context = set_span_in_context(span)
                duration.record(time.perf_counter() - start, attrs, context)
                tokens.record(52, input_attrs, context)
                tokens.record(58, output_attrs, context)
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


def _ours_anthropic() -> Any:
    from otel_genai.instrumentation.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


def _official_v2() -> Any:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _official_genai() -> Any:
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _official_anthropic() -> Any:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


# key -> (distribution, module, factory, workloads)
OFFICIAL = {
    "v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry.instrumentation.openai_v2", _official_v2, OPENAI),
    "genai": ("opentelemetry-instrumentation-genai-openai", "opentelemetry.instrumentation.genai.openai", _official_genai, OPENAI),
    "anthropic": (
        "opentelemetry-instrumentation-genai-anthropic",
        "opentelemetry.instrumentation.genai.anthropic",
        _official_anthropic,
        ANTHROPIC,
    ),
}


if gemini_variants is not None:
    OFFICIAL.update(gemini_variants.OFFICIAL)


def _openinference_openai() -> Any:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _openinference_anthropic() -> Any:
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


def _openllmetry_openai() -> Any:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def _openllmetry_anthropic() -> Any:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


# the other peers (content capture at their defaults: both record prompts and completions):
# key -> (distribution, module, factory, workloads). Install them into a separate benchmark venv
# (see benchmarks/README.md): they must not sit beside otel-genai's test environment.
PEERS = {
    "openinference_openai": ("openinference-instrumentation-openai", "openinference.instrumentation.openai", _openinference_openai, OPENAI),
    "openinference_anthropic": (
        "openinference-instrumentation-anthropic", "openinference.instrumentation.anthropic", _openinference_anthropic, ANTHROPIC,
    ),
    "openllmetry_openai": ("opentelemetry-instrumentation-openai", "opentelemetry.instrumentation.openai", _openllmetry_openai, OPENAI),
    "openllmetry_anthropic": (
        "opentelemetry-instrumentation-anthropic", "opentelemetry.instrumentation.anthropic", _openllmetry_anthropic, ANTHROPIC,
    ),
}


def validate(variant: Variant) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Instrument with an in-memory pipeline, make one call of each of the variant's workloads and
    check that each made exactly one CLIENT ``chat ...`` span.

    Returns {workload: (request-half attributes, response-half attributes)}.
    """
    exporter = InMemorySpanExporter()
    starts = _StartAttributes()
    tp = TracerProvider()
    tp.add_span_processor(starts)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    variant.enable(tp, mp)
    try:
        for workload in variant.workloads:
            exporter.clear()
            WORKLOADS[workload][1]()
            spans = exporter.get_finished_spans()
            if len(spans) != 1:
                raise RuntimeError(f"{workload}: expected 1 span, got {len(spans)}: {[s.name for s in spans]}")
            span = spans[0]
            ours = variant.key.startswith("ours")
            if ours and (span.kind is not SpanKind.CLIENT or not span.name.startswith(("chat", "generate_content"))):
                raise RuntimeError(f"{workload}: unexpected span {span.name!r} ({span.kind})")
            end_attrs = dict(span.attributes or {})
            start_attrs = starts.at_start.get(span.context.span_id, {})
            out[workload] = (start_attrs, {k: v for k, v in end_attrs.items() if k not in start_attrs or start_attrs[k] != v})
    finally:
        variant.disable()
        tp.shutdown()
    return out


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


def decorator_steps(tp: Any) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """``(bare_step, traced_step)``: a small function under ``@otel_genai.trace``, and the bare SDK
    span it stands for: ``start_as_current_span`` around the same body, given the same attributes
    (those the traced span ends with, its captured input and output included). ``otel_genai.trace``
    uses the global provider, which is set to ``tp`` here."""
    import otel_genai
    from opentelemetry import trace as trace_api

    @otel_genai.trace
    def traced_step(x: int) -> int:
        return x + 1

    # the attributes the traced span carries, read off one call on an in-memory pipeline
    probe = InMemorySpanExporter()
    probe_tp = TracerProvider()
    probe_tp.add_span_processor(SimpleSpanProcessor(probe))
    trace_api.set_tracer_provider(probe_tp)
    traced_step(1)
    (probe_span,) = probe.get_finished_spans()
    start_attrs = {k: v for k, v in (probe_span.attributes or {}).items() if "output" not in k}
    end_attrs = {k: v for k, v in (probe_span.attributes or {}).items() if "output" in k}
    trace_api._TRACER_PROVIDER = None  # the benchmark's provider replaces the probe's (set once otherwise)
    trace_api._TRACER_PROVIDER_SET_ONCE._done = False
    trace_api.set_tracer_provider(tp)
    tracer = tp.get_tracer("benchmarks.decorator")

    def bare_step(x: int) -> int:
        with tracer.start_as_current_span("traced_step", attributes=start_attrs) as span:
            result = x + 1
            span.set_attributes(end_attrs)
            return result

    return bare_step, traced_step


def measure_decorator(tp: Any, rounds: int, calls: int = 200) -> tuple[float, float]:
    """CPU µs per call of :func:`decorator_steps`' two functions, interleaved over ``rounds``;
    returns (bare, traced) medians over rounds."""
    bare_step, traced_step = decorator_steps(tp)
    cpu = time.process_time_ns
    results: dict[str, list[float]] = {"bare": [], "traced": []}
    for fn in (bare_step, traced_step):  # warm-up
        for i in range(calls):
            fn(i)
    for r in range(rounds):
        for key, fn in ((("bare", bare_step), ("traced", traced_step)) if r % 2 else (("traced", traced_step), ("bare", bare_step))):
            tp.force_flush()  # the span queue starts empty: no block pays for (or drops) another's spans
            c0 = cpu()
            for i in range(calls):
                fn(i)
            results[key].append((cpu() - c0) / 1000.0 / calls)
    return statistics.median(results["bare"]), statistics.median(results["traced"])


def ours_keys() -> dict[str, str]:
    """workload -> the key of the otel-genai variant that runs it (content on)."""
    keys = {w: "ours" for w in OPENAI}
    keys.update({w: "ours_anthropic" for w in ANTHROPIC})
    if gemini_variants is not None:
        keys.update({w: "ours_gemini" for w in gemini_variants.GEMINI})
    return keys


def build_variants(official: str, peers: bool) -> list[Variant]:
    """bare, otel-genai (content on and off, per SDK), the official instrumentations named in
    ``official`` (comma-separated keys of ``OFFICIAL``, or ``none``) and, with ``peers``, the
    installed ``PEERS``; each one that is not installed or does not import here is reported and
    left out."""
    variants = [Variant("bare", "bare SDK (not instrumented)", None, tuple(WORKLOADS))]
    ours = Variant("ours", "otel-genai", _ours, OPENAI, settle=_drain_ours, capture_kwarg=True)
    variants.append(ours)
    variants.append(Variant("ours_off", "otel-genai, content capture off", _ours, ("chat",), settle=_drain_ours, capture_kwarg="NO_CONTENT"))
    if "messages" in WORKLOADS:
        variants.append(Variant("ours_anthropic", "otel-genai", _ours_anthropic, ANTHROPIC, settle=_drain_ours, capture_kwarg=True))
        variants.append(Variant("ours_anthropic_off", "otel-genai, content capture off", _ours_anthropic, ("messages",),
                                settle=_drain_ours, capture_kwarg="NO_CONTENT"))
    if gemini_variants is not None:
        variants.append(Variant("ours_gemini", "otel-genai", gemini_variants.ours, gemini_variants.GEMINI, settle=_drain_ours,
                                capture_kwarg=True))
    wanted = [] if official.strip().lower() == "none" else [w.strip() for w in official.split(",") if w.strip()]
    candidates = [(key, OFFICIAL[key], "official") for key in wanted if key in OFFICIAL]
    for key in wanted:
        if key not in OFFICIAL:
            print(f"unknown --official entry {key!r} (known: {', '.join(OFFICIAL)})")
    candidates += [(key, entry, "peer") for key, entry in PEERS.items()] if peers else []
    for key, (dist, module, make, workloads), role in candidates:
        if not any(w in WORKLOADS for w in workloads):
            print(f"{role}: {dist}: its SDK is not installed here; skipped")
            continue
        version = _dist_version(dist)
        if version is None:
            print(f"{role}: {dist} is NOT installed here (pip install {dist}, in a benchmark venv); skipped")
            continue
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001 - report and go on
            hint = ""
            if isinstance(exc, ImportError) and getattr(exc, "name", None) == "httpx":
                hint = f" (it imports httpx; openai {openai.__version__} uses httpx2)"
            print(f"{role}: {dist} {version} does not work here: {type(exc).__name__}: {exc}{hint}; skipped")
            continue
        label = dist.replace("opentelemetry-instrumentation-", "official " if role == "official" else "OpenLLMetry ")
        label = label.replace("openinference-instrumentation-", "OpenInference ")
        variants.append(Variant(key, f"{label} {version}", make, workloads))
    return variants


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=24, help="timed calls per variant per round; streams get a quarter of it (default 24)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds; the variants interleave inside each (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls after each instrument() (default 3)")
    parser.add_argument("--floor-spans", type=int, default=100, help="bare spans per round for the floor (default 100)")
    parser.add_argument("--official", default="v2,genai,anthropic,google_genai",
                        help="official packages to compare: v2, genai, anthropic, google_genai, comma-separated, or none")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="leave out OpenInference and OpenLLMetry even when installed")
    args = parser.parse_args()

    load_before = _load()
    print("otel-genai overhead benchmark (DESIGN.md section 8)")
    print(
        f"python {platform.python_version()}, openai {_dist_version('openai')}, anthropic {_dist_version('anthropic')}, "
        f"httpx2 {_dist_version('httpx2')}, opentelemetry-sdk {_dist_version('opentelemetry-sdk')}, "
        f"otel-genai {_dist_version('otel-genai')}, {os.cpu_count()} CPUs"
    )
    print(
        f"{args.rounds} rounds x {args.calls} timed calls per variant and workload (a quarter for {STREAM_CHUNKS}-chunk streams), "
        f"{args.warmup} warm-up calls per block; content capture SPAN_ONLY; BatchSpanProcessor -> null exporter; "
        "InMemoryMetricReader"
    )

    variants = build_variants(args.official, args.peers)
    ours = variants[1]
    # validate every instrumented variant: exactly one CLIENT span per call
    attr_counts: dict[tuple[str, str], int] = {}
    floor_request: dict[str, Any] = {}
    floor_response: dict[str, Any] = {}
    for variant in list(variants[1:]):
        try:
            halves = validate(variant)
        except Exception as exc:  # noqa: BLE001
            if variant.key.startswith("ours"):
                print(f"otel-genai failed validation: {type(exc).__name__}: {exc}")
                return 1
            print(f"official: {variant.label} does not work here: {type(exc).__name__}: {exc}; skipped")
            variants.remove(variant)
            continue
        for workload, (request_half, response_half) in halves.items():
            attr_counts[(variant.key, workload)] = len(request_half) + len(response_half)
        if variant is ours:
            floor_request, floor_response = halves["chat"]
    print(
        "span attributes: "
        + "; ".join(
            f"{w}: " + ", ".join(f"{v.label} {attr_counts[(v.key, w)]}" for v in variants[1:] if (v.key, w) in attr_counts)
            for w in WORKLOADS
        )
    )

    # the shared benchmark pipeline
    null_exporter = NullSpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(null_exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    floor_tracer = tp.get_tracer("benchmarks.floor")
    floor_name = f"chat {MODEL}"
    floor_attrs_n = len(floor_request) + len(floor_response)

    variants.append(SpanAroundCall(floor_tracer, floor_name, floor_request, floor_response))
    variants.append(SpanAroundCall(floor_tracer, floor_name, floor_request, floor_response, metrics=True))

    def floor_span() -> None:
        span = floor_tracer.start_span(floor_name, kind=SpanKind.CLIENT, attributes=floor_request)
        span.set_attributes(floor_response)
        span.end()

    # per (variant, workload): all latency samples, per-round latency medians, per-round CPU µs/call
    samples: dict[tuple[str, str], list[int]] = {}
    lat_rounds: dict[tuple[str, str], list[float]] = {}
    cpu_rounds: dict[tuple[str, str], list[float]] = {}
    for v in variants:
        for w in v.workloads:
            samples[(v.key, w)], lat_rounds[(v.key, w)], cpu_rounds[(v.key, w)] = [], [], []
    floor: list[int] = []
    calls = {w: max(1, int(args.calls * share)) for w, (_, _, share) in WORKLOADS.items()}
    cpu = time.process_time_ns  # every thread of the process

    # global warm-up: lazy imports, pydantic and wrapt caches, first-span allocations
    for variant in variants:
        variant.enable(tp, mp)
        try:
            for w in variant.workloads:
                timed(WORKLOADS[w][1], 4 * calls[w])
        finally:
            variant.disable()
        if variant.settle:
            variant.settle()
    timed(floor_span, args.floor_spans)

    started = time.perf_counter()
    slots: list[Any] = [*variants, "floor"]
    progress_every = max(1, args.rounds // 5)
    for r in range(args.rounds):
        gc.collect()
        order = slots[r % len(slots):] + slots[: r % len(slots)]  # rotate: no variant always goes first
        for slot in order:
            if slot == "floor":
                floor.extend(timed(floor_span, args.floor_spans))
                continue
            slot.enable(tp, mp, skip_dep_check=True)
            try:
                for w in slot.workloads:
                    fn = WORKLOADS[w][1]
                    timed(fn, args.warmup)
                    if slot.settle:
                        slot.settle()
                    c0 = cpu()
                    block = timed(fn, calls[w])
                    if slot.settle:
                        slot.settle()
                    cpu_rounds[(slot.key, w)].append((cpu() - c0) / 1000.0 / calls[w])
                    samples[(slot.key, w)].extend(block)
                    lat_rounds[(slot.key, w)].append(median_us(block))
            finally:
                slot.disable()
        if (r + 1) % progress_every == 0 or r + 1 == args.rounds:
            print(f"  round {r + 1}/{args.rounds} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    decorator = measure_decorator(tp, args.rounds)
    tp.force_flush()
    exported = null_exporter.exported
    tp.shutdown()

    # --- report ---------------------------------------------------------------------------------------
    # "added" is the median over rounds of (variant's block figure - bare's block figure in the same
    # round): the blocks of one round run within ~0.2 s of each other, so this cancels the slow drift
    # of a shared machine that a difference of two overall medians would keep.
    def added(rounds: dict[tuple[str, str], list[float]], key: str, w: str) -> float:
        return statistics.median(a - b for a, b in zip(rounds[(key, w)], rounds[("bare", w)]))

    def spread(key: str, w: str) -> str:
        values = [a - b for a, b in zip(lat_rounds[(key, w)], lat_rounds[("bare", w)])]
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return f"[{q[0]:.0f} .. {q[2]:.0f}]"

    lat: dict[tuple[str, str], float] = {}
    cpu_added: dict[tuple[str, str], float] = {}
    floor_med = median_us(floor)
    for w, (title, _, _) in WORKLOADS.items():
        chunks = CHUNKS.get(w)
        print()
        print(f"{title}")
        print(f"  {'':<46} {'µs/call':>9} {'added µs':>9} {'CPU µs':>9} {'CPU added':>9} {'CPU/chunk':>9}  added per round, IQR")
        for v in variants:
            if w not in v.workloads:
                continue
            med = median_us(samples[(v.key, w)])
            cpu_med = statistics.median(cpu_rounds[(v.key, w)])
            if v.key == "bare":
                print(f"  {v.label:<46} {med:9.1f} {'-':>9} {cpu_med:9.1f} {'-':>9}")
                continue
            lat[(v.key, w)] = a = added(lat_rounds, v.key, w)
            cpu_added[(v.key, w)] = c = added(cpu_rounds, v.key, w)
            chunk = f"{c / chunks:+9.2f}" if chunks else f"{'':>9}"
            print(f"  {v.label:<46} {med:9.1f} {a:+9.1f} {cpu_med:9.1f} {c:+9.1f} {chunk}  {spread(v.key, w)}")
        if w == "chat":
            print(f"  {'bare OTel span, ' + str(floor_attrs_n) + ' attrs (standalone floor), µs/span':<46} {floor_med:9.1f}")

    def verdict(ratio: float, target: float | None) -> str:
        if target is None:
            return ""
        return f"target <= {target}  " + ("PASS" if ratio <= target else "MISS")

    def ratio_line(what: str, mine: str, theirs: str, theirs_label: str, w: str, target: float | None) -> None:
        if (mine, w) not in cpu_added or (theirs, w) not in cpu_added:
            return
        ca, cb = cpu_added[(mine, w)], cpu_added[(theirs, w)]
        a, b = lat[(mine, w)], lat[(theirs, w)]
        if cb <= 0:
            print(f"  {what:<15} {theirs_label}: added CPU <= 0 µs, ratio n/a")
            return
        wall = f"wall {a:.1f} / {b:.1f} = {a / b:.2f}" if b > 0 else "wall n/a"
        print(f"  {what:<15} CPU {ca:7.1f} / {cb:7.1f} = {ca / cb:5.2f}  {verdict(ca / cb, target):<20} ({wall})  vs {theirs_label}")

    print()
    print("targets (issue 13; CPU = every thread of the process, the figure that matters on a loaded server)")
    ours_of = ours_keys()
    comparators = [v for v in variants if v.key in OFFICIAL or v.key in PEERS]
    for w in WORKLOADS:
        mine = ours_of.get(w)
        if mine is None:
            continue
        for v in comparators:
            if w in v.workloads:
                ratio_line(w, mine, v.key, v.label, w, TARGET_VS_OFFICIAL if v.key in OFFICIAL else None)
        if w in CHUNKS and (mine, w) in cpu_added:
            per_chunk = cpu_added[(mine, w)] / CHUNKS[w]
            print(f"  {w:<15} CPU added per chunk {per_chunk:.2f} µs   {verdict(per_chunk, TARGET_CHUNK_CPU_US)}")
    for floor_key, floor_what in (("insitu_metrics", "span + metrics"), ("insitu", "span only")):
        insitu = cpu_added.get((floor_key, "chat"), 0.0)
        if insitu <= 0:
            continue
        target = floor_key == "insitu_metrics"  # the targets hold against what OTel costs for the same information
        ours_chat = cpu_added[("ours", "chat")]
        print(f"  chat            CPU ours / in-situ floor ({floor_what}) = {ours_chat:.1f} / {insitu:.1f} = {ours_chat / insitu:.2f}   "
              f"{verdict(ours_chat / insitu, TARGET_VS_INSITU if target else None)}")
        if ("ours_off", "chat") in cpu_added:
            off = cpu_added[("ours_off", "chat")]
            print(f"  chat, no content CPU ours / in-situ floor ({floor_what}) = {off:.1f} / {insitu:.1f} = {off / insitu:.2f}   "
                  f"{verdict(off / insitu, TARGET_NO_CONTENT_VS_INSITU if target else None)}")
    if decorator:
        bare_span, traced = decorator
        print(f"  otel_genai.trace CPU per call / bare SDK span = {traced:.1f} / {bare_span:.1f} = {traced / bare_span:.2f}   "
              f"{verdict(traced / bare_span, TARGET_DECORATOR)}")
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
