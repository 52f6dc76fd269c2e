#!/usr/bin/env python
"""Memory over many instrumented calls (DESIGN.md section 8 / issue 7: RSS after 100k instrumented
calls within 10 MiB of RSS after 10k).

    python benchmarks/memory.py [--calls 100000] [--bare]

The real ``openai`` client over an in-process ``httpx2.MockTransport`` (the canned chat completion
and 40-chunk stream of ``overhead.py``), instrumented by otel-genai with content capture on, a
``BatchSpanProcessor`` to a null exporter and a ``MeterProvider`` whose ``PeriodicExportingMetricReader``
collects every second (to an exporter that drops the data). Every tenth call is a stream read to the end.
Prints the process's resident set size (after ``gc.collect()``) at checkpoints. ``--bare`` runs
the same calls uninstrumented, for reference. Takes ~2-3 minutes for 100k calls on 2 cores.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import overhead  # noqa: E402 - the canned clients and calls
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import (  # noqa: E402
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

TARGET_MIB = 10.0


class NullMetricExporter(MetricExporter):
    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def rss_mib() -> float:
    """Resident set size of this process, MiB (Linux ``/proc``; else ``ru_maxrss``, the peak)."""
    gc.collect()
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--bare", action="store_true", help="do not instrument (reference run)")
    args = parser.parse_args()

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(overhead.NullSpanExporter()))
    meter_provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(NullMetricExporter(), export_interval_millis=1000)])
    if not args.bare:
        from otel_genai.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content="SPAN_ONLY")

    checkpoints = sorted({min(args.calls, c) for c in (1_000, 10_000, 25_000, 50_000, 75_000, args.calls)})
    print(f"otel-genai memory benchmark: {args.calls} calls ({'bare SDK' if args.bare else 'instrumented, content on'}), every 10th a {overhead.STREAM_CHUNKS}-chunk stream")
    print(f"  {'calls':>8} {'RSS MiB':>9} {'s':>6}")
    rss: dict[int, float] = {}
    started = time.perf_counter()
    done = 0
    for checkpoint in checkpoints:
        while done < checkpoint:
            if done % 10 == 9:
                overhead.stream_call()
            else:
                overhead.chat_call()
            done += 1
        rss[checkpoint] = rss_mib()
        print(f"  {checkpoint:>8} {rss[checkpoint]:9.1f} {time.perf_counter() - started:6.0f}", flush=True)
    tracer_provider.shutdown()
    meter_provider.shutdown()

    if 10_000 in rss and args.calls > 10_000:
        growth = rss[args.calls] - rss[10_000]
        verdict = "PASS" if growth <= TARGET_MIB else "MISS"
        print(f"RSS after {args.calls} calls - RSS after 10000 = {growth:+.1f} MiB   target <= {TARGET_MIB:g} MiB  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
