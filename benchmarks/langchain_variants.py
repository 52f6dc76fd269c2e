#!/usr/bin/env python
"""Overhead of tracing one LangChain chain invocation: bare / otel-genai / OpenLLMetry, in the shape
``benchmarks/overhead.py`` uses (its ``WORKLOADS`` rows, ``Variant`` objects, ``validate``), so that
overhead.py can run these beside its own rows; also runnable on its own:

    python benchmarks/langchain_variants.py [--calls N] [--rounds R]

The workload is the seeds' chain, ``PromptTemplate | ChatOpenAI | StrOutputParser``, ``invoke``d once
per call; ``ChatOpenAI``'s ``openai`` client talks to an ``httpx2.MockTransport`` answering overhead.py's
canned ``chat.completion`` (no network). Variants:

* ``bare``                  LangChain, not instrumented;
* ``ours_langchain``        otel-genai as an app gets it from ``autolog()``: ``LangChainInstrumentor`` and
  ``OpenAIInstrumentor`` (4 spans: the chain, its prompt and parser, and ONE ``chat`` span, the openai
  SDK's), ``capture_content="SPAN_ONLY"``;
* ``ours_langchain_only``   ``LangChainInstrumentor`` alone (the chat span made from the callback);
* ``openllmetry_langchain`` OpenLLMetry's ``opentelemetry-instrumentation-langchain`` (content on, its
  default ``TRACELOOP_TRACE_CONTENT=true``), if installed. Install it only into a separate venv, e.g.::

      python -m venv /tmp/bench-venv
      echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/bench-venv/lib/python3.11/site-packages/main.pth
      /tmp/bench-venv/bin/pip install --no-deps opentelemetry-instrumentation-langchain opentelemetry-semantic-conventions-ai
      PYTHONPATH=src /tmp/bench-venv/bin/python benchmarks/langchain_variants.py

Same pipeline and method as overhead.py: one ``TracerProvider`` (``BatchSpanProcessor`` -> null
exporter) and ``MeterProvider`` (``InMemoryMetricReader``), variants interleaved in rotating rounds,
latency per call (median) and process CPU per call (every thread), "added" as the median over rounds
of the difference to ``bare`` in the same round. A tool for people, not a test.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402  (sets the content-capture environment before the SDKs are imported)

import httpx2  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import PromptTemplate  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from overhead import CHAT_BODY, MODEL, NullSpanExporter, Variant, median_us, timed  # noqa: E402

# --- the workload -----------------------------------------------------------------------------------
_HEADERS = {"content-type": "application/json", "x-request-id": "req_bench"}
def _answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, headers=_HEADERS, content=CHAT_BODY)


CHAIN_MODEL = ChatOpenAI(
    model=MODEL,
    api_key="sk-bench",
    base_url="https://api.openai.com/v1",
    http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)),
    max_retries=0,
    temperature=0.2,
    max_tokens=256,
)
CHAIN = PromptTemplate.from_template("In two sentences, why trace {what} with OpenTelemetry?") | CHAIN_MODEL | StrOutputParser()
CHAIN_INPUT = {"what": "LLM calls"}


def chain_call() -> None:
    if CHAIN.invoke(CHAIN_INPUT) != overhead.ANSWER:
        raise RuntimeError("the chain did not return the canned answer")


#: workload key -> (title, call, timed calls per block as a fraction of --calls), as overhead.WORKLOADS
WORKLOADS = {"langchain": ("langchain PromptTemplate | ChatOpenAI | StrOutputParser, invoke", chain_call, 0.5)}
LANGCHAIN = tuple(WORKLOADS)
overhead.WORKLOADS.update(WORKLOADS)  # Variant keeps only the workloads overhead.WORKLOADS knows

#: the spans one chain invocation must give, per variant (None: not checked beyond "at least one")
EXPECTED_SPANS = {
    "ours_langchain": ["PromptTemplate", f"chat {MODEL}", "StrOutputParser", "RunnableSequence"],
    "ours_langchain_only": ["PromptTemplate", f"chat {MODEL}", "StrOutputParser", "RunnableSequence"],
    "openllmetry_langchain": None,
}


# --- the variants -------------------------------------------------------------------------------------
class _Together:
    """Several instrumentors switched on and off as one (``Variant`` takes one)."""

    def __init__(self, *instrumentors: Any) -> None:
        self.instrumentors = instrumentors

    def instrument(self, **kwargs: Any) -> None:
        for instrumentor in self.instrumentors:
            instrumentor.instrument(**kwargs)

    def uninstrument(self) -> None:
        for instrumentor in reversed(self.instrumentors):
            instrumentor.uninstrument()

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return all(i.is_instrumented_by_opentelemetry for i in self.instrumentors)


def _ours_langchain() -> Any:
    from otel_genai.instrumentation.langchain import LangChainInstrumentor
    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    return _Together(LangChainInstrumentor(), OpenAIInstrumentor())


def _ours_langchain_only() -> Any:
    from otel_genai.instrumentation.langchain import LangChainInstrumentor

    return LangChainInstrumentor()


class _OpenLLMetry(_Together):
    """OpenLLMetry's instrumentor, with its ``uninstrument()`` completed: it calls
    ``unwrap("langchain_core.callbacks", "BaseCallbackManager.__init__")``, which finds no attribute of that
    dotted name and leaves the wrapper in place, so its handler would stay on for every variant that
    runs after it. Here the wrapper is removed as well."""

    def uninstrument(self) -> None:
        super().uninstrument()
        from langchain_core.callbacks.base import BaseCallbackManager
        from opentelemetry.instrumentation.utils import unwrap

        unwrap(BaseCallbackManager, "__init__")


def _openllmetry_langchain() -> Any:
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor

    return _OpenLLMetry(LangchainInstrumentor())


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def variants() -> list[Variant]:
    """``bare`` and every instrumented variant that can run here (OpenLLMetry only if installed)."""
    found = [
        Variant("bare", "bare LangChain (not instrumented)", None, LANGCHAIN),
        Variant("ours_langchain", "otel-genai (langchain + openai)", _ours_langchain, LANGCHAIN, settle=overhead._drain_ours,
                capture_kwarg=True),
        Variant("ours_langchain_only", "otel-genai (langchain alone)", _ours_langchain_only, LANGCHAIN,
                settle=overhead._drain_ours, capture_kwarg=True),
    ]
    version = _version("opentelemetry-instrumentation-langchain")
    if version is None:
        print("OpenLLMetry: opentelemetry-instrumentation-langchain is not installed here (see this file's docstring); skipped")
    else:
        found.append(Variant("openllmetry_langchain", f"OpenLLMetry langchain {version}", _openllmetry_langchain, LANGCHAIN))
    return found


def validate(variant: Variant) -> list[str]:
    """One chain invocation under ``variant`` with an in-memory pipeline; returns its span names
    (end order). Raises ``RuntimeError`` unless ours gives exactly the four spans with one chat span."""
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variant.enable(tp, mp)
    try:
        chain_call()
        names = [span.name for span in exporter.get_finished_spans()]
    finally:
        variant.disable()
        tp.shutdown()
    expected = EXPECTED_SPANS.get(variant.key)
    if expected is not None and sorted(names) != sorted(expected):
        raise RuntimeError(f"{variant.key}: expected spans {expected}, got {names}")
    if not names:
        raise RuntimeError(f"{variant.key}: no span")
    return names


# --- standalone run ---------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=24, help="timed calls per variant per round, halved (default 24)")
    parser.add_argument("--rounds", type=int, default=60, help="rounds; the variants interleave inside each (default 60)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls after each instrument() (default 3)")
    args = parser.parse_args()
    print(f"LangChain chain overhead: langchain-core {_version('langchain-core')}, "
          f"langchain-openai {_version('langchain-openai')}, openai {_version('openai')}, "
          f"opentelemetry-sdk {_version('opentelemetry-sdk')}, {os.cpu_count()} CPUs")
    found = variants()
    for variant in list(found[1:]):
        try:
            names = validate(variant)
        except Exception as exc:  # noqa: BLE001 - report and go on (ours failing is fatal)
            if variant.key.startswith("ours"):
                print(f"otel-genai failed validation: {type(exc).__name__}: {exc}")
                return 1
            print(f"{variant.label} does not work here: {type(exc).__name__}: {exc}; skipped")
            found.remove(variant)
            continue
        print(f"  {variant.label}: {len(names)} spans per invocation: {', '.join(names)}")

    null = NullSpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(null))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    calls = max(1, int(args.calls * WORKLOADS["langchain"][2]))
    lat: dict[str, list[float]] = {v.key: [] for v in found}
    cpu_rounds: dict[str, list[float]] = {v.key: [] for v in found}
    samples: dict[str, list[int]] = {v.key: [] for v in found}
    cpu = time.process_time_ns
    for variant in found:  # warm-up
        variant.enable(tp, mp)
        try:
            timed(chain_call, 4 * calls)
        finally:
            variant.disable()
    started = time.perf_counter()
    for r in range(args.rounds):
        gc.collect()
        order = found[r % len(found):] + found[: r % len(found)]
        for variant in order:
            variant.enable(tp, mp, skip_dep_check=True)
            try:
                timed(chain_call, args.warmup)
                if variant.settle:
                    variant.settle()
                c0 = cpu()
                block = timed(chain_call, calls)
                if variant.settle:
                    variant.settle()
                cpu_rounds[variant.key].append((cpu() - c0) / 1000.0 / calls)
                samples[variant.key].extend(block)
                lat[variant.key].append(median_us(block))
            finally:
                variant.disable()
    tp.force_flush()
    tp.shutdown()

    def added(rounds: dict[str, list[float]], key: str) -> float:
        return statistics.median(a - b for a, b in zip(rounds[key], rounds["bare"]))

    print()
    print(f"{WORKLOADS['langchain'][0]}: {args.rounds} rounds x {calls} calls, {time.perf_counter() - started:.0f} s")
    print(f"  {'':<40} {'µs/call':>9} {'added µs':>9} {'CPU µs':>9} {'CPU added':>9}")
    added_cpu: dict[str, float] = {}
    for variant in found:
        med, cpu_med = median_us(samples[variant.key]), statistics.median(cpu_rounds[variant.key])
        if variant.key == "bare":
            print(f"  {variant.label:<40} {med:9.1f} {'-':>9} {cpu_med:9.1f} {'-':>9}")
            continue
        added_cpu[variant.key] = c = added(cpu_rounds, variant.key)
        print(f"  {variant.label:<40} {med:9.1f} {added(lat, variant.key):+9.1f} {cpu_med:9.1f} {c:+9.1f}")
    if "openllmetry_langchain" in added_cpu and added_cpu["openllmetry_langchain"] > 0:
        for key in ("ours_langchain", "ours_langchain_only"):
            print(f"  CPU added, {key} / OpenLLMetry = {added_cpu[key]:.1f} / {added_cpu['openllmetry_langchain']:.1f} = "
                  f"{added_cpu[key] / added_cpu['openllmetry_langchain']:.2f}")
    print(f"spans exported: {null.exported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
