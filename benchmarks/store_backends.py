#!/usr/bin/env python
"""The trace store's backends side by side on one machine: SQLite (a file) and PostgreSQL (a server).

    python benchmarks/store_backends.py [--spans 40000] [--processes 1,4] [--receivers 1,2]
                                        [--traces 10000,100000] [--repeat 5] [--backends sqlite,postgresql]
                                        [--postgres URI]

Rows, each on a fresh store of each backend:

* ``exporter, N processes``: N processes each ``TraceStoreSpanExporter.export()`` their share of
  ``--spans`` spans in batches of 512 (the ``BatchSpanProcessor``'s default), all started together;
  spans/s = all spans / wall time from the start signal to the last process done. Spans look like
  otel-genai's (``benchmarks/store_ingest.py``: an agent span and three chat spans with the full
  attribute set), made before the clock starts.
* ``serve, N receivers``: N ``otel-genai serve --store <store>`` processes side by side; four
  client threads POST pre-encoded OTLP/protobuf batches of 512 spans
  (``benchmarks/receiver_ingest.py``) to the receivers in turn over persistent connections;
  spans/s = all spans / wall time.
* ``search_traces`` at ``--traces`` traces (two spans each: an agent root with a tag, a chat span
  with model, provider and token usage; written with ``write_spans`` in batches of 512 spans): the
  median ms of ``--repeat`` runs (after one warm-up) of each query of :data:`QUERIES` (a page of
  100 without spans), and of the default listing (a page of 100 with spans).

The PostgreSQL store is ``ANALYZE``d after it is filled, as its autovacuum would (the steady state of
a running server); SQLite is not (its adapter never runs ``ANALYZE``). Every row's stored span count is checked. PostgreSQL is a throw-away cluster made with ``initdb``
(``tests/postgres_support.py``, Debian's ``postgresql`` package) on 127.0.0.1, ``fsync`` on and
``synchronous_commit=off``, the durability of SQLite in WAL mode with ``synchronous=NORMAL`` (what
the SQLite adapter uses): a commit survives the application's crash, not necessarily the OS's.
``--postgres URI`` uses your server instead (each row gets a fresh database, created and dropped:
the user needs ``CREATEDB``). Other load on the machine lowers the figures: the load average is
printed. A tool for people, not a test: it prints figures and exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Tuple
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import receiver_ingest  # noqa: E402  (benchmarks/receiver_ingest.py: OTLP request bodies)
from otel_genai.store import SpanRecord, open_store  # noqa: E402

BATCH = 512
#: (label, filter_string, order_by) of the search rows
QUERIES = [
    ("newest first, no filter", None, None),
    ("status + tokens", "trace.status = 'ERROR' AND trace.total_tokens > 1000", None),
    ("tag", "tag.env = 'prod'", None),
    ("model + cost, by cost", "trace.model = 'gpt-4o-mini' AND trace.cost > 0.0001", ["cost DESC"]),
    ("span attribute (scan)", "span.attributes.`gen_ai.request.model` = 'gpt-4o' AND trace.status = 'ERROR'", None),
]
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-3-5-haiku-20241022", "anthropic")]
T0 = 1_750_000_000_000_000_000

# one exporting process: makes its spans, says "ready", waits for "go", exports, says its seconds
EXPORTER_CHILD = """
import sys, time
sys.path[:0] = [{here!r}]
from store_ingest import SpanMaker
from otel_genai.exporters.store import TraceStoreSpanExporter
uri, total, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
maker = SpanMaker()
batches = []
while sum(map(len, batches)) < total:
    batches.append(maker.batch(min(size, total - sum(map(len, batches)))))
exporter = TraceStoreSpanExporter(uri, busy_timeout_s=60)
exporter.export(maker.batch(4))  # opens the store (and creates its schema) before the clock starts
print("ready", flush=True)
sys.stdin.readline()
failed = 0
t0 = time.perf_counter()
for batch in batches:
    failed += exporter.export(batch).name != "SUCCESS"
print(time.perf_counter() - t0, failed, flush=True)
exporter.shutdown()
"""


class Backends:
    """Fresh stores of each backend: ``fresh(name)`` is a context manager yielding a store URI."""

    def __init__(self, workdir: str, postgres: str | None) -> None:
        self.workdir = workdir
        self._server = None
        self._postgres = postgres
        self._n = 0

    def _admin_uri(self) -> str:
        if self._postgres is None:
            from postgres_support import PostgresServer

            self._server = PostgresServer().start(durable=True)
            self._postgres = self._server.uri()
        return self._postgres

    @contextmanager
    def fresh(self, backend: str) -> Iterator[str]:
        self._n += 1
        if backend == "sqlite":
            yield "sqlite://" + os.path.join(self.workdir, f"store-{self._n}.db")
            return
        import psycopg

        admin = self._admin_uri()
        name = f"otel_genai_bench_{os.getpid()}_{self._n}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(admin)._replace(path="/" + name))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self._admin_uri()) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def stored_spans(uri: str) -> int:
    with open_store(uri, read_only=True) as store:
        return store.count_spans()


def exporter_row(uri: str, total: int, processes: int) -> Tuple[float, int]:
    """(spans/s, failed batches) of ``processes`` exporting processes sharing ``total`` spans."""
    open_store(uri).close()
    script = EXPORTER_CHILD.format(here=str(HERE))
    share = total // processes
    env = {**os.environ, "OTEL_GENAI_RAISE_FAULTS": "0"}
    children = [subprocess.Popen([sys.executable, "-c", script, uri, str(share), str(BATCH)], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    for child in children:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("an exporting process did not start")
    t0 = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    answers = [child.stdout.readline().split() for child in children]
    wall = time.perf_counter() - t0
    for child in children:
        child.wait(60)
    failed = sum(int(a[1]) for a in answers)
    expected = share * processes + 4 * processes
    if failed == 0 and stored_spans(uri) != expected:
        raise SystemExit(f"{uri}: {stored_spans(uri)} spans stored, {expected} sent")
    return share * processes / wall, failed


def send_round_robin(endpoints: List[Tuple[str, int]], bodies: List[bytes], clients: int) -> float:
    """POST ``bodies`` from ``clients`` threads, client i to endpoint i mod len; wall seconds."""
    shares = [bodies[i::clients] for i in range(clients)]
    errors: list = []

    def client(i: int) -> None:
        import http.client

        host, port = endpoints[i % len(endpoints)]
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            for body in shares[i]:
                conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a receiver answered {errors[:5]}")
    return time.perf_counter() - t0


def serve_row(uri: str, bodies: List[bytes], receivers: int, clients: int = 4) -> float:
    """spans/s through ``receivers`` ``otel-genai serve`` processes into one store."""
    open_store(uri).close()
    servers, endpoints = [], []
    try:
        for _ in range(receivers):
            server = subprocess.Popen([*receiver_ingest.SERVE, "--port", "0", "--store", uri],
                                      stdout=subprocess.PIPE, text=True)
            servers.append(server)
            match = re.search(r"http://([\d.]+):(\d+)/v1/traces", server.stdout.readline())
            if not match:
                raise SystemExit("otel-genai serve did not start")
            endpoints.append((match.group(1), int(match.group(2))))
        elapsed = send_round_robin(endpoints, bodies, clients)
    finally:
        for server in servers:
            server.terminate()
            server.wait(15)
    spans = len(bodies) * BATCH
    if stored_spans(uri) != spans:
        raise SystemExit(f"{uri}: {stored_spans(uri)} spans stored, {spans} sent")
    return spans / elapsed


def fill(store, traces: int) -> float:
    """Write ``traces`` traces of two spans (every 10th an ERROR, 3 of 4 tagged ``env=prod``); seconds."""
    batch, started = [], time.perf_counter()
    for i in range(traces):
        tid, start = f"{i + 1:032x}", T0 + i * 1_000_000_000
        model, provider = MODELS[i % 3]
        batch.append(SpanRecord(tid, "00000000000000a1", None, "invoke_agent support", "INTERNAL", start,
                                start + (i % 900 + 1) * 1_000_000, "ERROR" if i % 10 == 0 else "UNSET",
                                attributes={"mlflow.spanType": "AGENT", "mlflow.traceTag.env": "prod" if i % 4 else "dev"},
                                resource_attributes={"service.name": "bench"}))
        batch.append(SpanRecord(tid, "00000000000000a2", "00000000000000a1", f"chat {model}", "CLIENT", start + 1000,
                                start + 2000, attributes={
                                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                    "gen_ai.request.model": model, "mlflow.spanType": "CHAT_MODEL",
                                    "gen_ai.usage.input_tokens": 10 + i * 7 % 3000, "gen_ai.usage.output_tokens": 5 + i % 800},
                                resource_attributes={"service.name": "bench"}))
        if len(batch) >= BATCH:
            store.write_spans(batch)
            batch = []
    if batch:
        store.write_spans(batch)
    return time.perf_counter() - started


def analyze(uri: str) -> None:
    """``ANALYZE`` the database: the planner statistics a running server's autovacuum keeps (it
    analyzes a table once about 10% of it changed, within a minute), which a store filled seconds ago
    does not have yet: without them PostgreSQL plans the filtered queries 10-100x slower."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("ANALYZE")


def median_ms(call, repeat: int) -> Tuple[float, int]:
    """(median ms of ``repeat`` calls after one warm-up, rows of the last)."""
    call()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        found = call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, len(found)


def search_rows(uri: str, traces: int, repeat: int) -> List[Tuple[str, float, int]]:
    """(label, median ms, rows) of :data:`QUERIES` on a store of ``traces`` traces; first, how it was filled."""
    out = []
    with open_store(uri) as store:
        took = fill(store, traces)
        out.append((f"(filled in {took:.0f} s: {2 * traces / took:,.0f} spans/s through write_spans)", 0.0, 0))
        if uri.startswith("postgresql"):
            analyze(uri)
        for label, text, order in QUERIES:
            out.append((label, *median_ms(lambda: store.search_traces(
                text, order_by=order, max_results=100, include_spans=False), repeat)))
        out.append(("default listing, with spans", *median_ms(lambda: store.search_traces(max_results=100), repeat)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=40_000, help="spans per ingest row (default 40000)")
    parser.add_argument("--processes", default="1,4", help="exporting processes per row (default 1,4)")
    parser.add_argument("--receivers", default="1,2", help="serve receivers per row (default 1,2)")
    parser.add_argument("--traces", default="10000,100000", help="store sizes of the search rows (default 10000,100000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (default 5)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="default sqlite,postgresql")
    parser.add_argument("--postgres", help="a PostgreSQL URI whose user may CREATE DATABASE (default: a throw-away cluster)")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    workdir = tempfile.mkdtemp(prefix="otel-genai-backends-")
    stores = Backends(workdir, args.postgres)
    try:
        pg = f", PostgreSQL {stores.version()}" if "postgresql" in backends else ""
        print(f"otel-genai store backends: python {platform.python_version()}, SQLite {sqlite3.sqlite_version}{pg},"
              f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"\n  {'ingest (spans/s)':<34}" + "".join(f"{b:>14}" for b in backends))
        for n in [int(x) for x in args.processes.split(",") if x.strip()]:
            cells = []
            for backend in backends:
                with stores.fresh(backend) as uri:
                    rate, failed = exporter_row(uri, args.spans, n)
                cells.append(f"{rate:>14,.0f}" if not failed else f"{rate:>9,.0f} ({failed} failed)")
            print(f"  {f'exporter, {n} process' + ('es' if n > 1 else ''):<34}" + "".join(cells), flush=True)
        bodies = receiver_ingest.batches(receiver_ingest.template_request(BATCH), args.spans // BATCH, "protobuf")
        for n in [int(x) for x in args.receivers.split(",") if x.strip()]:
            cells = []
            for backend in backends:
                with stores.fresh(backend) as uri:
                    cells.append(f"{serve_row(uri, bodies, n):>14,.0f}")
            print(f"  {f'serve, {n} receiver' + ('s' if n > 1 else '') + ', 4 clients':<34}" + "".join(cells), flush=True)
        for traces in [int(x) for x in args.traces.split(",") if x.strip()]:
            results = {}
            for backend in backends:
                with stores.fresh(backend) as uri:
                    results[backend] = search_rows(uri, traces, args.repeat)
            print(f"\n  {f'search_traces at {traces:,} traces (ms)':<34}" + "".join(f"{b:>14}" for b in backends))
            for i, (label, _, _) in enumerate(results[backends[0]]):
                if i == 0:
                    for backend in backends:
                        print(f"    {backend}: {results[backend][0][0]}")
                    continue
                print(f"  {label:<34}" + "".join(f"{results[b][i][1]:>14.1f}" for b in backends), flush=True)
    finally:
        stores.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
