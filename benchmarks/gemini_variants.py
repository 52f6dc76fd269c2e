#!/usr/bin/env python
"""The Gemini (``google-genai``) rows of ``benchmarks/overhead.py``, in its shapes, to be wired in
there: workloads (``WORKLOADS`` entries: title, call, share of ``--calls``), the bare /
otel-genai / official-``opentelemetry-instrumentation-google-genai`` variants built with
overhead.py's ``Variant`` class, and an ``OFFICIAL`` entry. Run on its own for a quick reading:

    python benchmarks/gemini_variants.py [--calls N] [--rounds R]

Everything in-process: a ``genai.Client`` (Gemini Developer API, default base URL) whose
``http_options.httpx_client`` is an ``httpx2.Client`` on an ``httpx2.MockTransport`` answering a
canned ``GenerateContentResponse`` (one candidate, usage with thoughts) or a 40-event
``alt=sse`` stream (usage on every event, the finish reason on the last). No network.

The official instrumentation declares ``google-genai >= 1.32, < 3``: with the 3.x SDK it is
instrumented with ``skip_dep_check=True`` (it runs; whether its spans are complete there is its
own business: the validation step counts one span per call and its attributes).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")

import httpx2
from google import genai
from google.genai import types

MODEL = "gemini-2.5-flash"
STREAM_CHUNKS = 40
ANSWER = (
    "Tracing LLM calls with OpenTelemetry puts each model call in the same trace as the request that "
    "caused it, with its latency, token usage and finish reason, so slow or costly calls are easy to find. "
    "Because the conventions are shared, the same spans feed any backend without vendor lock-in."
)
USAGE = {"promptTokenCount": 52, "candidatesTokenCount": 58, "thoughtsTokenCount": 12, "totalTokenCount": 122}
CONFIG = types.GenerateContentConfig(
    system_instruction="You are a concise assistant for an observability team.", temperature=0.2, max_output_tokens=256
)
CONTENTS = "In two sentences, why trace LLM calls with OpenTelemetry?"


def _response(parts: list, finish: str | None, usage: dict) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "bench-resp-1"}


PLAIN_BODY = json.dumps(_response([{"text": ANSWER}], "STOP", USAGE)).encode()


def _stream_body() -> bytes:
    words = ANSWER.split(" ")
    pieces = [" ".join(words[i::STREAM_CHUNKS]) for i in range(STREAM_CHUNKS)]
    open_usage = {"promptTokenCount": 52, "totalTokenCount": 52}
    events = [
        _response([{"text": " " + piece}], "STOP" if i == STREAM_CHUNKS - 1 else None, USAGE if i == STREAM_CHUNKS - 1 else open_usage)
        for i, piece in enumerate(pieces)
    ]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)


STREAM_BODY = _stream_body()


def _client(body: bytes, content_type: str) -> genai.Client:
    headers = {"content-type": content_type}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    options = types.HttpOptions(httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    return genai.Client(api_key="bench-key", http_options=options)


PLAIN_CLIENT = _client(PLAIN_BODY, "application/json")
STREAM_CLIENT = _client(STREAM_BODY, "text/event-stream")


def generate_call() -> None:
    PLAIN_CLIENT.models.generate_content(model=MODEL, contents=CONTENTS, config=CONFIG)


def stream_call() -> None:
    n = 0
    for _ in STREAM_CLIENT.models.generate_content_stream(model=MODEL, contents=CONTENTS, config=CONFIG):
        n += 1
    if n != STREAM_CHUNKS:
        raise RuntimeError(f"stream yielded {n} chunks, expected {STREAM_CHUNKS}")


#: workload key -> (title, call, timed calls per block as a fraction of --calls): overhead.WORKLOADS entries
WORKLOADS: dict[str, tuple[str, Callable[[], None], float]] = {
    "gemini": ("google-genai models.generate_content, non-streaming", generate_call, 1.0),
    "gemini_stream": (f"google-genai generate_content_stream, {STREAM_CHUNKS} chunks iterated to the end", stream_call, 0.25),
}
GEMINI = tuple(WORKLOADS)


def ours() -> Any:
    from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

    return GoogleGenAIInstrumentor()


class _OfficialGoogleGenAI:
    """``GoogleGenAiSdkInstrumentor`` instrumented past its ``google-genai < 3`` dependency check."""

    def __init__(self) -> None:
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

        self._inner = GoogleGenAiSdkInstrumentor()

    def instrument(self, **kwargs: Any) -> None:
        kwargs["skip_dep_check"] = True
        self._inner.instrument(**kwargs)

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return self._inner.is_instrumented_by_opentelemetry

    def uninstrument(self) -> None:
        self._inner.uninstrument()


def official() -> Any:
    return _OfficialGoogleGenAI()


#: overhead.OFFICIAL entry: key -> (distribution, module, factory, workloads)
OFFICIAL = {
    "google_genai": ("opentelemetry-instrumentation-google-genai", "opentelemetry.instrumentation.google_genai", official, GEMINI),
}


def variants(variant_cls: type, settle: Callable[[], None] | None = None) -> list[Any]:
    """``[bare, otel-genai, official]`` as overhead.py's ``Variant`` s (``variant_cls``), over the
    Gemini workloads; ``settle``: overhead.py's ``_drain_ours`` (our deferred metric recording)."""
    from importlib import metadata

    try:
        version = metadata.version(OFFICIAL["google_genai"][0])
    except metadata.PackageNotFoundError:
        version = "?"
    return [
        variant_cls("bare_gemini", "bare google-genai (not instrumented)", None, GEMINI),
        variant_cls("ours_gemini", "otel-genai", ours, GEMINI, settle=settle, capture_kwarg=True),
        variant_cls("google_genai", f"official google-genai {version}", official, GEMINI),
    ]


# --- a quick reading on its own ---------------------------------------------------------------------
def _quick(calls: int, rounds: int) -> int:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Null(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    from otel_genai.instrumentation._core.metrics import drain

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(Null()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    makers = {"bare": None, "otel-genai": ours, "official": official}
    cpu: dict[tuple[str, str], list[float]] = {(k, w): [] for k in makers for w in WORKLOADS}
    for r in range(rounds):
        for name, make in (list(makers.items())[r % 3:] + list(makers.items())[: r % 3]):
            instrumentor = make() if make else None
            if instrumentor is not None:
                kwargs = {"tracer_provider": tp, "meter_provider": mp}
                if name == "otel-genai":
                    kwargs["capture_content"] = "SPAN_ONLY"
                instrumentor.instrument(**kwargs)
            try:
                for w, (_, call, share) in WORKLOADS.items():
                    n = max(1, int(calls * share))
                    for _ in range(3):
                        call()
                    t0 = time.process_time_ns()
                    for _ in range(n):
                        call()
                    if name == "otel-genai":
                        drain()
                    cpu[(name, w)].append((time.process_time_ns() - t0) / n / 1000.0)
            finally:
                if instrumentor is not None:
                    instrumentor.uninstrument()
    tp.shutdown()
    print(f"google-genai {genai.__version__}; {rounds} rounds x {calls} calls (streams: a quarter); CPU µs per call, median of rounds")
    for w, (title, _, _) in WORKLOADS.items():
        bare = statistics.median(cpu[("bare", w)])
        line = f"  {title}: bare {bare:.0f}"
        for name in ("otel-genai", "official"):
            added = statistics.median(cpu[(name, w)]) - bare
            per = f" ({added / STREAM_CHUNKS:.1f}/chunk)" if w == "gemini_stream" else ""
            line += f"; {name} +{added:.0f}{per}"
        print(line)
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sys.exit(_quick(args.calls, args.rounds))
