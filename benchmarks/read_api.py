#!/usr/bin/env python
"""``search_traces`` latency at scale: filtered queries over a store of ``--traces`` traces.

    python benchmarks/read_api.py [--traces 100000] [--store URI] [--repeat 5]

Fills a fresh store (a temporary SQLite file, or ``--store`` e.g. an empty PostgreSQL database) with
traces of two spans each (an agent root, a ``chat`` span with model, provider, token usage and a
``mlflow.traceTag.env`` tag), written with ``write_spans`` in batches of 512 spans, then times each
query below (page of 100, ``include_spans=False``, the median of ``--repeat`` runs after one warm-up):

* status + tokens, tag, model + cost ordered by cost, session metadata (indexed summary columns,
  tag/metadata tables);
* a span attribute (``span.attributes.<key>``: a scan of span JSON, the slow path);
* a second page (``page_token``).

A tool for people, not a test: it prints figures and exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sqlite3
import sys
import tempfile
import time

from otel_genai.store import SpanRecord, open_store

QUERIES = [
    ("status + tokens", "trace.status = 'ERROR' AND trace.total_tokens > 1000", None),
    ("tag", "tag.env = 'prod'", None),
    ("model + cost, by cost", "trace.model = 'gpt-4o-mini' AND trace.cost > 0.0001", ["cost DESC"]),
    ("session metadata", "metadata.`mlflow.trace.session` = 'session-42'", None),
    ("time range", "trace.timestamp_ms >= {mid} AND trace.execution_time_ms > 100", None),
    ("span attribute (scan)", "span.attributes.`gen_ai.request.model` = 'claude-3-5-haiku-20241022' AND trace.status = 'ERROR'", None),
]
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-3-5-haiku-20241022", "anthropic")]
T0 = 1_750_000_000_000_000_000


def fill(store, traces: int, seed: int = 7) -> float:
    """Write ``traces`` traces; returns the seconds it took."""
    rng = random.Random(seed)
    batch, started = [], time.perf_counter()
    for i in range(traces):
        tid = f"{i + 1:032x}"
        start = T0 + i * 1_000_000_000
        model, provider = MODELS[i % 3]
        inp, out = rng.randint(10, 3000), rng.randint(5, 800)
        batch.append(SpanRecord(tid, "00000000000000a1", None, "invoke_agent support", "INTERNAL", start,
                                start + rng.randint(1, 900) * 1_000_000, "ERROR" if i % 10 == 0 else "UNSET",
                                attributes={"mlflow.spanType": "AGENT", "mlflow.traceTag.env": "prod" if i % 4 else "dev",
                                            "session.id": f"session-{i % 5000}"},
                                resource_attributes={"service.name": "bench"}))
        batch.append(SpanRecord(tid, "00000000000000a2", "00000000000000a1", f"chat {model}", "CLIENT", start + 1000,
                                start + 2000, attributes={
                                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                    "gen_ai.request.model": model, "mlflow.spanType": "CHAT_MODEL",
                                    "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out},
                                resource_attributes={"service.name": "bench"}))
        if len(batch) >= 512:
            store.write_spans(batch)
            batch = []
    if batch:
        store.write_spans(batch)
    return time.perf_counter() - started


def timed(store, text: str, order, repeat: int, page_token=None):
    store.search_traces(text, order_by=order, max_results=100, include_spans=False, page_token=page_token)
    times, found = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        found = store.search_traces(text, order_by=order, max_results=100, include_spans=False, page_token=page_token)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=100_000, help="traces in the store (default 100000)")
    parser.add_argument("--store", help="a store URI (default: a temporary SQLite file)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (default 5)")
    args = parser.parse_args()
    tmp = None
    uri = args.store
    if uri is None:
        tmp = tempfile.mkdtemp(prefix="otel-genai-read-")
        uri = os.path.join(tmp, "traces.db")
    print(f"otel-genai search_traces latency: python {platform.python_version()}, sqlite {sqlite3.sqlite_version},"
          f" {os.cpu_count()} CPUs; store {uri}")
    with open_store(uri) as store:
        if store.count_traces() == 0:
            took = fill(store, args.traces)
            print(f"  filled {args.traces:,} traces ({2 * args.traces:,} spans) in {took:.1f} s"
                  f" ({2 * args.traces / took:,.0f} spans/s through write_spans)")
        count = store.count_traces()
        mid = (T0 // 1_000_000) + (count // 2) * 1000
        print(f"\n  {'query (page of 100, no spans)':<34}{'median ms':>10}{'rows':>6}  filter")
        for label, text, order in QUERIES:
            text = text.format(mid=mid)
            ms, found = timed(store, text, order, args.repeat)
            print(f"  {label:<34}{ms:>10.1f}{len(found):>6}  {text}" + (f"  order_by={order}" if order else ""))
            if label == "tag":
                ms2, page2 = timed(store, text, order, args.repeat, page_token=found.token)
                print(f"  {'tag, second page':<34}{ms2:>10.1f}{len(page2):>6}  (page_token)")
        ms, found = timed(store, "trace.status = 'OK'", None, args.repeat)
        t = time.perf_counter()
        store.search_traces("trace.status = 'OK'", max_results=100, include_spans=True)
        print(f"  {'status, with spans':<34}{(time.perf_counter() - t) * 1000:>10.1f}{len(found):>6}  include_spans=True")
    if tmp is not None:
        size = os.path.getsize(os.path.join(tmp, "traces.db"))
        print(f"\n  store file: {size / 1e6:.0f} MB for {count:,} traces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
