#!/usr/bin/env python
"""Ingest rate of ``otel-genai serve``: spans/s stored through the OTLP/HTTP receiver.

    python benchmarks/receiver_ingest.py [--spans 100000] [--batch 512] [--clients 1,4]
                                         [--encodings protobuf,gzip,json] [--command "python other_server.py"]

For each row, starts ``otel-genai serve`` as its own process (127.0.0.1, a free port, a fresh store
file in a temporary directory), sends pre-encoded ``ExportTraceServiceRequest`` batches over persistent
HTTP/1.1 connections from ``--clients`` threads and times from the first request to the last answer.
Every batch holds new traces (unique ids), so each span is a real insert; each span looks like an
otel-genai chat span (17 attributes incl. ``mlflow.chat.tokenUsage`` and content, resource and
scope). Rows: protobuf, protobuf + gzip, OTLP JSON (``--encodings``); for each client count.
``--command`` measures another server instead (it gets ``--port 0 --store PATH`` appended and must print
``http://HOST:PORT/v1/traces`` on its first line), e.g. an older receiver, for an A/B on the same machine
under the same load. The store's own span
count is checked against what was sent after each row. Other load on the machine lowers the
figures: the load average is printed. A tool for people, not a test: it prints
figures and exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_genai.store import open_store


def template_request(batch: int):
    """One export request of ``batch`` chat spans, as the SDK's OTLP exporter encodes them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "ingest-bench"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otel_genai.instrumentation.openai", "0.1.0")
    for i in range(batch):
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 256,
                "server.address": "api.openai.com", "server.port": 443,
                "gen_ai.response.id": f"chatcmpl-{i:020d}", "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 17,
                "mlflow.chat.tokenUsage": '{"input_tokens":42,"output_tokens":17,"total_tokens":59}',
                "mlflow.spanType": "CHAT_MODEL", "mlflow.llm.model": "gpt-4o-mini", "mlflow.llm.provider": "openai",
                "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say hello in one short sentence."}]}]',
            })
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def batches(template, count: int, encoding: str) -> list[bytes]:
    """``count`` bodies: the template with fresh trace ids (span ids kept: unique per trace)."""
    spans = template.resource_spans[0].scope_spans[0].spans
    out = []
    for _ in range(count):
        for span in spans:
            span.trace_id = os.urandom(16)
        if encoding == "json":
            data = json_format.MessageToDict(template)
            for s in data["resourceSpans"][0]["scopeSpans"][0]["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64decode(s[key]).hex()
            out.append(json.dumps(data).encode())
        else:
            body = template.SerializeToString()
            out.append(gzip.compress(body, 6) if encoding == "gzip" else body)
    return out


def send_all(host: str, port: int, bodies: list[bytes], clients: int, encoding: str) -> float:
    headers = {"Content-Type": "application/json" if encoding == "json" else "application/x-protobuf"}
    if encoding == "gzip":
        headers["Content-Encoding"] = "gzip"
    shares = [bodies[i::clients] for i in range(clients)]
    errors: list = []

    def client(share: list[bytes]) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            for body in share:
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"the receiver answered {errors[:5]}")
    return elapsed


SERVE = [sys.executable, "-m", "otel_genai.cli", "serve"]


def run_row(store_path: str, bodies: list[bytes], clients: int, encoding: str, command: list[str] = SERVE) -> float:
    """Start the server (``otel-genai serve``) on a fresh store, send ``bodies``, stop it; the seconds it took."""
    server = subprocess.Popen(
        [*command, "--port", "0", "--store", store_path],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        match = re.search(r"http://([\d.]+):(\d+)/v1/traces", server.stdout.readline())
        if not match:
            raise SystemExit("otel-genai serve did not start")
        return send_all(match.group(1), int(match.group(2)), bodies, clients, encoding)
    finally:
        server.terminate()
        server.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000, help="spans per row (default 100000)")
    parser.add_argument("--batch", type=int, default=512, help="spans per request (default 512, the SDK's batch size)")
    parser.add_argument("--clients", default="1,4", help="concurrent clients, comma-separated (default 1,4)")
    parser.add_argument("--encodings", default="protobuf,gzip,json", help="bodies, comma-separated (default all three)")
    parser.add_argument("--command", default=None, help="the server command to measure (default: otel-genai serve)")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]
    encodings = [e for e in args.encodings.split(",") if e]
    command = shlex.split(args.command) if args.command else SERVE
    count = max(1, args.spans // args.batch)

    with tempfile.TemporaryDirectory(prefix="otel-genai-ingest-") as workdir:
        run_rows(workdir, args.batch, count, client_counts, encodings, command)
    return 0


def run_rows(workdir: str, batch: int, count: int, client_counts: list[int],
             encodings: list[str] = ["protobuf", "gzip", "json"], command: list[str] = SERVE) -> None:
    print(f"otel-genai serve ingest rate: {count} requests x {batch} spans per row, each row into a fresh store")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()},"
          f" load average {os.getloadavg()[0]:.1f}")
    print(f"{'body':<16}{'clients':>8}{'spans':>10}{'seconds':>10}{'spans/s':>12}{'MB/s in':>10}")
    template = template_request(batch)
    print(f"server: {' '.join(command)}")
    for encoding in encodings:
        for clients in client_counts:
            bodies = batches(template, count, encoding)
            size_mb = sum(len(b) for b in bodies) / 1e6
            store_path = os.path.join(workdir, f"{encoding}-{clients}.db")
            elapsed = run_row(store_path, bodies, clients, encoding, command)
            with open_store(store_path, read_only=True) as reader:
                if reader.count_spans() != count * batch:
                    raise SystemExit(f"the store holds {reader.count_spans()} spans, {count * batch} were sent")
            print(f"{encoding:<16}{clients:>8}{count * batch:>10}{elapsed:>10.2f}"
                  f"{count * batch / elapsed:>12,.0f}{size_mb / elapsed:>10.1f}")


if __name__ == "__main__":
    sys.exit(main())
