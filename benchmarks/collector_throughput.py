#!/usr/bin/env python
"""Spans/s through app -> otelcol-genai -> ``otel-genai serve``, and the latency the collector adds.

    bash collector/build && python benchmarks/collector_throughput.py [--spans 51200] [--batch 512]

Each row starts ``otel-genai serve`` as its own process on a fresh store (127.0.0.1, free ports) and,
for the collector rows, ``collector/bin/otelcol-genai`` (``$OTELCOL_GENAI_BIN``) on
``collector-config/otel-genai-store.yaml`` in front of it. Bodies are pre-encoded
``ExportTraceServiceRequest``s of otel-genai-like chat spans (``receiver_ingest.py``'s), each batch
new traces, sent by one client over a persistent HTTP/1.1 connection.

* throughput: from the first request until the store holds every span (the collector answers as soon
  as it has queued a batch, so only the store's count says the spans arrived); the collector's CPU
  seconds (user + system, from /proc) per 10,000 spans beside it; and the collector alone, its
  exporter swapped for ``debug`` (what it takes in from two clients when no backend limits it);
* latency: one single-span request at a time, from sending it until the span is in the store (the
  store polled every 2 ms): straight to serve; through the collector with the shipped config (its
  batch processor holds a lone span up to its 2 s timeout); and through the same config with the
  batch processor taken out (the cost of the hop itself).

The load average is printed: other load lowers the figures. A tool for people, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from receiver_ingest import batches, send_all, template_request  # noqa: E402

from otel_genai.store import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "collector-config" / "otel-genai-store.yaml"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(interval)
    raise SystemExit(f"{what}: not within {timeout} s")


def post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Serve:
    def __init__(self, workdir: str):
        self.store_path = os.path.join(workdir, f"serve-{time.monotonic_ns()}.db")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "otel_genai.cli", "serve", "--port", "0", "--store", self.store_path],
            stdout=subprocess.PIPE, text=True)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1/traces", self.process.stdout.readline())
        if not match:
            raise SystemExit("otel-genai serve did not start")
        self.port = int(match.group(1))
        self.store = open_store(self.store_path)

    def count(self) -> int:
        return self.store.count_spans()

    def stop(self) -> None:
        self.store.close()
        self.process.terminate()
        self.process.wait(15)


class Collector:
    def __init__(self, binary: str, config: Path, serve: Serve, workdir: str):
        self.port, grpc = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL")}
        env.update(OTELCOL_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{self.port}", OTELCOL_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{grpc}",
                   OTEL_GENAI_SERVE_ENDPOINT=f"http://127.0.0.1:{serve.port}")
        self.log = open(os.path.join(workdir, f"otelcol-{self.port}.log"), "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([binary, f"--config={config}", "--set=service.telemetry.metrics.level=none"],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: post(self.port, b"") == 200, 60, "otelcol-genai")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def throughput(binary: str | None, bodies: list[bytes], spans: int, workdir: str) -> tuple[float, float | None]:
    """(spans/s until all are stored, collector CPU s per 10k spans or None)."""
    serve = Serve(workdir)
    collector = Collector(binary, CONFIG, serve, workdir) if binary else None
    try:
        cpu0 = collector.cpu_seconds() if collector else 0.0
        start = time.perf_counter()
        send_all("127.0.0.1", collector.port if collector else serve.port, bodies, 1, "protobuf")
        wait_for(lambda: serve.count() >= spans, 300, "every span in the store", interval=0.01)
        elapsed = time.perf_counter() - start
        if serve.count() != spans:
            raise SystemExit(f"stored {serve.count()} spans, sent {spans}")
        cpu = (collector.cpu_seconds() - cpu0) / spans * 10_000 if collector else None
        return spans / elapsed, cpu
    finally:
        if collector:
            collector.stop()
        serve.stop()


def latency(binary: str | None, config: Path, samples: int, workdir: str) -> list[float]:
    """Seconds from sending a one-span request until the span is stored, ``samples`` times."""
    template = template_request(1)
    bodies = batches(template, samples, "protobuf")
    serve = Serve(workdir)
    collector = Collector(binary, config, serve, workdir) if binary else None
    port = collector.port if collector else serve.port
    out = []
    try:
        for n, body in enumerate(bodies, 1):
            start = time.perf_counter()
            if post(port, body) != 200:
                raise SystemExit("a request was refused")
            wait_for(lambda: serve.count() >= n, 30, "the span in the store", interval=0.002)  # noqa: B023
            out.append(time.perf_counter() - start)
    finally:
        if collector:
            collector.stop()
        serve.stop()
    return out


def without_batch(workdir: str) -> Path:
    data = yaml.safe_load(CONFIG.read_text())
    del data["processors"]["batch"]
    (pipeline,) = data["service"]["pipelines"].values()
    pipeline["processors"].remove("batch")
    path = Path(workdir) / "otel-genai-store-no-batch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def collector_alone(binary: str, bodies: list[bytes], spans: int, workdir: str) -> tuple[float, float]:
    """(spans/s the collector takes in with no backend behind it, its CPU s per 10k spans)."""
    data = yaml.safe_load(CONFIG.read_text())
    data["exporters"] = {"debug/null": {"verbosity": "basic"}}
    (pipeline,) = data["service"]["pipelines"].values()
    pipeline["exporters"] = ["debug/null"]
    config = Path(workdir) / "otel-genai-store-to-debug.yaml"
    config.write_text(yaml.safe_dump(data))
    serve = Serve(workdir)  # unused by this config; Collector() wants one
    collector = Collector(binary, config, serve, workdir)
    try:
        cpu0 = collector.cpu_seconds()
        elapsed = send_all("127.0.0.1", collector.port, bodies, 2, "protobuf")
        time.sleep(2.5)  # the last batch leaves after the batch timeout
        return spans / elapsed, (collector.cpu_seconds() - cpu0) / spans * 10_000
    finally:
        collector.stop()
        serve.stop()


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=51200)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--latency-samples", type=int, default=40)
    args = parser.parse_args()
    binary = os.environ.get("OTELCOL_GENAI_BIN") or str(ROOT / "collector" / "bin" / "otelcol-genai")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary} is missing: run `bash collector/build` first")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"{version}; Python {platform.python_version()}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    count = max(1, args.spans // args.batch)
    spans = count * args.batch
    template = template_request(args.batch)
    with tempfile.TemporaryDirectory() as workdir:
        print(f"\nthroughput, {spans} spans in {count} protobuf requests of {args.batch}, one client:")
        direct, _ = throughput(None, batches(template, count, "protobuf"), spans, workdir)
        print(f"  app -> serve                        {direct:9,.0f} spans/s")
        via, cpu = throughput(binary, batches(template, count, "protobuf"), spans, workdir)
        print(f"  app -> otelcol-genai -> serve       {via:9,.0f} spans/s   "
              f"(collector CPU {cpu:.2f} s per 10,000 spans)")
        alone, alone_cpu = collector_alone(binary, batches(template, count, "protobuf"), spans, workdir)
        print(f"  app -> otelcol-genai -> debug       {alone:9,.0f} spans/s   "
              f"(collector CPU {alone_cpu:.2f} s per 10,000 spans; no backend: what the collector takes in, two clients)")
        print(f"\nlatency, one span per request, sent to stored (load average {os.getloadavg()[0]:.1f}):")
        print(f"  app -> serve                        {ms(latency(None, CONFIG, args.latency_samples, workdir))}")
        nobatch = without_batch(workdir)
        print(f"  app -> otelcol-genai -> serve       {ms(latency(binary, nobatch, args.latency_samples, workdir))}"
              "   (batch processor taken out: the hop)")
        print(f"  same, the shipped config            {ms(latency(binary, CONFIG, max(5, args.latency_samples // 4), workdir))}"
              "   (batch timeout 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
