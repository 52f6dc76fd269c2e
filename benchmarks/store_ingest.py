#!/usr/bin/env python
"""Ingest rate of the embedded trace store (DESIGN.md section 8: >= 20,000 spans/s through the
exporter on 2 cores), side by side with ``otel-genai serve`` and a real MLflow server's OTLP ingest
of the same spans.

    python benchmarks/store_ingest.py [--spans 100000] [--batch 512] [--mlflow-spans 5000] [--no-serve] [--no-mlflow]
    python benchmarks/store_ingest.py --cpu [--against REV ...] [--spans 20000] [--repeat 5]

Spans look like otel-genai's: traces of one ``invoke_agent`` span and three ``chat gpt-4o-mini``
CLIENT spans with the full attribute set (usage, ``mlflow.chat.tokenUsage``, content), made by the
OTel SDK in batches of ``--batch`` (the ``BatchSpanProcessor``'s default export batch). Only the
ingest is timed, batch by batch, never the making of the spans:

* ``exporter``: ``TraceStoreSpanExporter.export(batch)`` into a fresh store file (one transaction
  per batch, as the ``BatchSpanProcessor`` calls it);
* ``serve``: the same batches, encoded as the SDK's OTLP/HTTP exporter encodes them (protobuf),
  POSTed over one persistent connection to ``otel-genai serve`` (its own process, fresh store);
* ``mlflow``: the same requests POSTed to a real ``mlflow server`` (sqlite backend, one worker)
  at ``/v1/traces`` with ``x-mlflow-experiment-id``, fewer spans (``--mlflow-spans``): it is slow.

Each row's stored span count is checked. A tool for people, not a test: it prints figures and
exits 0 unless it could not run.

``--cpu`` measures instead the CPU time (``time.process_time()``, all threads of this process) per
span of ``SQLiteTraceStore.write_spans``, which on a shared, loaded machine is steadier than wall
time: the spans are made and converted to records once, then every implementation (this checkout's,
and the store of each ``--against`` git revision, extracted with ``git archive`` into a temporary
package) writes the same batches into its own fresh file, batch by batch in alternating order,
``--repeat`` times; the median of the repetitions is printed. The garbage collector is frozen after
the records are made (``gc.freeze()``), so that its passes over the held records are not charged to
whichever implementation happens to trigger them.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import importlib
import statistics
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.store import open_store

TARGET_SPANS_PER_S = 20_000

CHAT_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "openai.api.type": "chat_completions",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.request.temperature": 0.2,
    "gen_ai.request.max_tokens": 256,
    "server.address": "api.openai.com",
    "server.port": 443,
    "mlflow.spanType": "CHAT_MODEL",
    "mlflow.llm.model": "gpt-4o-mini",
    "mlflow.llm.provider": "openai",
    "gen_ai.input.messages": '[{"role":"system","parts":[{"type":"text","content":"You are a concise assistant."}]},'
    '{"role":"user","parts":[{"type":"text","content":"In two sentences, why trace LLM calls with OpenTelemetry?"}]}]',
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.finish_reasons": ("stop",),
    "openai.response.service_tier": "default",
    "gen_ai.usage.input_tokens": 52,
    "gen_ai.usage.output_tokens": 58,
    "gen_ai.usage.cache_read.input_tokens": 0,
    "gen_ai.usage.reasoning.output_tokens": 0,
    "mlflow.chat.tokenUsage": '{"input_tokens": 52, "output_tokens": 58, "total_tokens": 110, "cache_read_input_tokens": 0}',
    "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"OpenTelemetry gives every LLM '
    'call a span: the model, the parameters, token usage and the prompt."}],"finish_reason":"stop"}]',
}


def conversation(turns: int) -> str:
    """``gen_ai.input.messages`` of a chat ``turns`` exchanges into a conversation: the system
    prompt, the first question, then ``turns`` (answer, follow-up) pairs of a few hundred bytes each."""
    messages = json.loads(CHAT_ATTRIBUTES["gen_ai.input.messages"])
    for i in range(turns):
        messages.append({"role": "assistant", "parts": [{"type": "text", "content": f"Answer {i}: " + "tracing shows what the model did. " * 8}]})
        messages.append({"role": "user", "parts": [{"type": "text", "content": f"Follow-up {i}: and then what happened next?"}]})
    return json.dumps(messages, separators=(",", ":"))


class SpanMaker:
    """Batches of fresh spans (new trace and span ids every time), made by the OTel SDK.
    ``history_turns``: the chat spans' input messages carry that many earlier exchanges."""

    def __init__(self, history_turns: int = 0) -> None:
        self._attributes = dict(CHAT_ATTRIBUTES)
        if history_turns:
            self._attributes["gen_ai.input.messages"] = conversation(history_turns)
        self._memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "store-ingest-bench"}))
        provider.add_span_processor(SimpleSpanProcessor(self._memory))
        self._tracer = provider.get_tracer("otel_genai.instrumentation.openai", "0.1.0")
        self._n = 0

    def batch(self, size: int) -> list[Any]:
        self._memory.clear()
        tracer = self._tracer
        while len(self._memory.get_finished_spans()) < size:
            with tracer.start_as_current_span("invoke_agent support", attributes={"gen_ai.operation.name": "invoke_agent", "mlflow.spanType": "AGENT"}):
                for _ in range(3):
                    self._n += 1
                    with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
                        span.set_attributes(self._attributes)
                        span.set_attribute("gen_ai.response.id", f"chatcmpl-{self._n:024d}")
        return list(self._memory.get_finished_spans())[:size]


def _batches(total: int, size: int) -> Any:
    maker = SpanMaker()
    sent = 0
    while sent < total:
        batch = maker.batch(min(size, total - sent))
        sent += len(batch)
        yield batch


def bench_exporter(path: str, total: int, size: int) -> tuple[float, int]:
    """(spans/s, spans stored) through ``TraceStoreSpanExporter.export``."""
    exporter = TraceStoreSpanExporter(path)
    busy = 0.0
    for batch in _batches(total, size):
        t0 = time.perf_counter()
        result = exporter.export(batch)
        busy += time.perf_counter() - t0
        if result.name != "SUCCESS":
            raise RuntimeError("the exporter failed a batch")
    exporter.shutdown()
    with open_store(path, read_only=True) as store:
        return total / busy, store.count_spans()


def _post_all(host: str, port: int, path: str, bodies: list[bytes], headers: dict[str, str]) -> float:
    """POST every body over one persistent connection; seconds from the first send to the last answer."""
    connection = http.client.HTTPConnection(host, port, timeout=300)
    t0 = time.perf_counter()
    for body in bodies:
        connection.request("POST", path, body=body, headers={"content-type": "application/x-protobuf", **headers})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: HTTP {response.status}: {data[:300]!r}")
    elapsed = time.perf_counter() - t0
    connection.close()
    return elapsed


def _encoded(total: int, size: int) -> list[bytes]:
    return [encode_spans(batch).SerializeToString() for batch in _batches(total, size)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout_s: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up in {timeout_s:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench_serve(workdir: str, total: int, size: int) -> tuple[float, int]:
    """(spans/s, spans stored) through ``otel-genai serve``."""
    store = os.path.join(workdir, "serve.db")
    port = _free_port()
    command = [sys.executable, "-m", "otel_genai.cli", "serve", "--port", str(port), "--store", store]
    if shutil.which("otel-genai"):
        command = ["otel-genai", "serve", "--port", str(port), "--store", store]
    log = open(os.path.join(workdir, "serve.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:  # up when it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"otel-genai serve did not start (see {log.name})") from None
                time.sleep(0.1)
        bodies = _encoded(total, size)
        elapsed = _post_all("127.0.0.1", port, "/v1/traces", bodies, {})
    finally:
        _stop(process)
        log.close()
    with open_store(store, read_only=True) as reader:
        return total / elapsed, reader.count_spans()


def bench_mlflow(workdir: str, total: int, size: int) -> tuple[float, int]:
    """(spans/s, spans MLflow reports for the experiment) through a real ``mlflow server``."""
    home = os.path.join(workdir, "mlflow")
    os.makedirs(home)
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_MODEL_CATALOG_URI": ""}
    log = open(os.path.join(home, "server.log"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{os.path.join(home, 'mlflow.db')}"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_http(uri + "/health", 180, process)
        request = urllib.request.Request(
            uri + "/api/2.0/mlflow/experiments/create",
            data=json.dumps({"name": "store-ingest-bench"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            experiment = json.loads(response.read())["experiment_id"]
        bodies = _encoded(total, size)
        elapsed = _post_all("127.0.0.1", port, "/v1/traces", bodies, {"x-mlflow-experiment-id": experiment})
        stored = _mlflow_span_count(uri, experiment)
    finally:
        _stop(process)
        log.close()
    return total / elapsed, stored


def _mlflow_span_count(uri: str, experiment: str) -> int:
    """Spans MLflow stored for the experiment (its traces' span counts), -1 if it cannot tell."""
    try:
        spans, token = 0, None
        while True:
            body: dict[str, Any] = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}], "max_results": 500}
            if token:
                body["page_token"] = token
            request = urllib.request.Request(
                uri + "/api/3.0/mlflow/traces/search", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                page = json.loads(response.read())
            for info in page.get("traces", []):
                spans += 4 if info else 0  # each bench trace has 4 spans (MLflow's search omits span counts)
            token = page.get("next_page_token")
            if not token:
                return spans
    except Exception:  # noqa: BLE001 - the figure is informative only
        return -1


def bench_cpu(total: int, size: int, repeat: int, against: list[str], history_turns: int = 0) -> int:
    """Print the CPU µs per span of ``write_spans`` of this checkout and of each revision of ``against``."""
    from otel_genai.exporters.store import span_to_record
    from otel_genai.store.sqlite import SQLiteTraceStore

    maker = SpanMaker(history_turns)
    batches = []
    while sum(map(len, batches)) < total:
        cache: list = [None, None]
        batches.append([span_to_record(s, cache) for s in maker.batch(min(size, total - sum(map(len, batches))))])
    with tempfile.TemporaryDirectory(prefix="otel-genai-cpu-") as workdir:
        stores = {"this checkout": SQLiteTraceStore}
        for rev in against:
            stores[rev] = _revision_class(rev, workdir)
        names = list(stores)
        for name in names:  # genai-prices loaded, rates read, before anything is timed
            warm = stores[name](os.path.join(workdir, "warm.db"))
            warm.write_spans(batches[0])
            warm.close()
            os.remove(os.path.join(workdir, "warm.db"))
        time.sleep(1.5)
        gc.collect()
        gc.freeze()
        figures: dict[str, list[float]] = {name: [] for name in names}
        for r in range(repeat):
            opened = {name: stores[name](os.path.join(workdir, f"cpu-{r}-{i}.db")) for i, name in enumerate(names)}
            cpu = dict.fromkeys(names, 0.0)
            for i, batch in enumerate(batches):
                for name in names if (i + r) % 2 == 0 else names[::-1]:
                    t0 = time.process_time()
                    opened[name].write_spans(batch)
                    cpu[name] += time.process_time() - t0
            for name in names:
                stored = opened[name].count_spans()
                opened[name].close()
                if stored != total:
                    raise RuntimeError(f"{name}: {stored} spans stored of {total}")
                figures[name].append(cpu[name] / total * 1e6)
        gc.unfreeze()
    print(f"CPU per span of SQLiteTraceStore.write_spans, {total} spans in batches of {size}, {repeat} repetitions"
          f" interleaved batch by batch, {history_turns} earlier exchanges in each chat's input messages"
          f" (load average {os.getloadavg()[0]:.1f}):")
    for name in names:
        runs = " ".join(f"{x:.1f}" for x in figures[name])
        print(f"  {name:<24} median {statistics.median(figures[name]):6.1f} µs/span   (runs: {runs})")
    return 0


def _revision_class(rev: str, workdir: str) -> Any:
    """``SQLiteTraceStore`` of git revision ``rev`` of this repository: its ``src/otel_genai``,
    extracted with ``git archive``, imported as a package of another name (its imports are relative)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = "otel_genai_rev_" + "".join(c if c.isalnum() else "_" for c in rev)
    root = os.path.join(workdir, "rev-" + package)
    os.makedirs(root)
    archive = subprocess.run(["git", "-C", repo, "archive", rev, "src/otel_genai"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", root], input=archive.stdout, check=True)
    os.rename(os.path.join(root, "src", "otel_genai"), os.path.join(root, package))
    sys.path.insert(0, root)
    return importlib.import_module(package + ".store.sqlite").SQLiteTraceStore


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000, help="spans through the exporter and serve (default 100000)")
    parser.add_argument("--batch", type=int, default=512, help="spans per export batch / request (default 512)")
    parser.add_argument("--mlflow-spans", type=int, default=5_000, help="spans sent to the MLflow server (default 5000)")
    parser.add_argument("--no-serve", action="store_true", help="skip the otel-genai serve row")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow row")
    parser.add_argument("--cpu", action="store_true", help="CPU time per span of write_spans instead (see the docstring)")
    parser.add_argument("--against", action="append", default=[], metavar="REV",
                        help="with --cpu: also time the store of this git revision (repeatable)")
    parser.add_argument("--repeat", type=int, default=5, help="with --cpu: repetitions (default 5)")
    parser.add_argument("--history-turns", type=int, default=0, metavar="N",
                        help="with --cpu: N earlier exchanges in each chat span's input messages (default 0)")
    args = parser.parse_args()
    total = args.spans - args.spans % 4 or 4  # whole traces
    if args.cpu:
        return bench_cpu(total, args.batch, args.repeat, args.against, args.history_turns)
    mlflow_total = args.mlflow_spans - args.mlflow_spans % 4 or 4

    print("otel-genai store ingest benchmark (DESIGN.md section 8)")
    print(
        f"python {platform.python_version()}, sqlite {__import__('sqlite3').sqlite_version}, otel-genai {_version('otel-genai')}, "
        f"mlflow {_version('mlflow')}, {os.cpu_count()} CPUs; batches of {args.batch} spans (4 spans per trace)"
    )
    rows: list[tuple[str, int, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="otel-genai-ingest-") as workdir:
        rate, stored = bench_exporter(os.path.join(workdir, "exporter.db"), total, args.batch)
        rows.append(("TraceStoreSpanExporter.export (in-process)", total, rate, stored))
        print(f"  exporter: {rate:,.0f} spans/s", file=sys.stderr, flush=True)
        if not args.no_serve:
            try:
                rate, stored = bench_serve(workdir, total, args.batch)
                rows.append(("otel-genai serve, OTLP/HTTP protobuf", total, rate, stored))
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"otel-genai serve: could not run: {type(exc).__name__}: {exc}")
        if not args.no_mlflow:
            try:
                rate, stored = bench_mlflow(workdir, mlflow_total, args.batch)
                rows.append(("mlflow server /v1/traces, OTLP/HTTP protobuf", mlflow_total, rate, stored))
            except Exception as exc:  # noqa: BLE001
                print(f"mlflow server: could not run: {type(exc).__name__}: {exc}")

    print()
    print(f"  {'path':<48} {'spans':>8} {'spans/s':>10} {'stored':>8}")
    for label, sent, rate, stored in rows:
        check = "" if stored == sent else ("  (count n/a)" if stored < 0 else f"  MISMATCH: {stored} stored of {sent}")
        print(f"  {label:<48} {sent:>8} {rate:>10,.0f} {stored:>8}{check}")
    exporter_rate = rows[0][2]
    verdict = "PASS" if exporter_rate >= TARGET_SPANS_PER_S else "MISS"
    print()
    print(f"target: >= {TARGET_SPANS_PER_S:,} spans/s through the exporter: {exporter_rate:,.0f}  {verdict}")
    mlflow = [r for r in rows if r[0].startswith("mlflow")]
    if mlflow:
        print(f"(info) exporter / mlflow server ingest = {exporter_rate / mlflow[0][2]:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
