"""collector-config/gateway.yaml (the scale-out front tier) and file-archive.yaml on the real
otelcol-genai: a gateway that takes OTLP only with the bearer token, answers its health probe, stamps
the resource, and routes by trace id with the loadbalancing exporter to two downstream collectors
(file-archive.yaml, OTLP/gRPC in, OTLP JSON files out): every trace lands whole on exactly one of
them, though each of its spans was a request of its own."""

from __future__ import annotations

import json
import urllib.request

import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from shipping import (
    CONFIG_DIR,
    free_port,
    otelcol,  # noqa: F401 - the session fixture
    start_collector,
    stop_process,
    wait_until,
)

TRACES, SPANS_PER_TRACE = 24, 3


def archived(path) -> list[tuple[str, str, dict]]:
    """(trace id, span id, resource attributes) of every span in an OTLP JSON lines file."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        for rs in json.loads(line).get("resourceSpans", ()):
            resource = {a["key"]: next(iter(a["value"].values())) for a in rs.get("resource", {}).get("attributes", ())}
            for ss in rs.get("scopeSpans", ()):
                out.extend((s["traceId"], s["spanId"], resource) for s in ss.get("spans", ()))
    return out


def test_gateway_authenticates_and_keeps_each_trace_on_one_downstream_collector(tmp_path, otelcol):
    token_file = tmp_path / "ingest-token"
    token_file.write_text("s3cret-ingest-token")
    files = [tmp_path / "sampler-a.jsonl", tmp_path / "sampler-b.jsonl"]
    downstream = []
    gateway = None
    try:
        for path in files:
            process, _ = start_collector(otelcol, CONFIG_DIR / "file-archive.yaml", tmp_path, OTELCOL_FILE_PATH=str(path))
            downstream.append(process)
        health = f"127.0.0.1:{free_port()}"
        gateway, endpoint = start_collector(
            otelcol, CONFIG_DIR / "gateway.yaml", tmp_path, ready_headers={"Authorization": "Bearer s3cret-ingest-token"},
            OTELCOL_INGEST_TOKEN_FILE=str(token_file), OTELCOL_HEALTH_ENDPOINT=health, DEPLOYMENT_ENVIRONMENT="staging",
            GENAI_TAIL_SAMPLERS="[" + ", ".join(p.grpc_endpoint for p in downstream) + "]",
        )
        with urllib.request.urlopen(f"http://{health}/", timeout=5) as probe:
            assert probe.status == 200
        refused = requests.post(endpoint, data=b"", headers={"Content-Type": "application/x-protobuf"}, timeout=5)
        assert refused.status_code == 401
        wrong = requests.post(endpoint, data=b"", timeout=5,
                              headers={"Content-Type": "application/x-protobuf", "Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        provider = TracerProvider(resource=Resource.create({"service.name": "scale-out-test"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
            endpoint=endpoint, timeout=10, headers={"Authorization": "Bearer s3cret-ingest-token"})))
        tracer = provider.get_tracer("scale-out-test")
        sent = set()
        for n in range(TRACES):
            with tracer.start_as_current_span(f"invoke_agent {n}") as root:
                for _ in range(SPANS_PER_TRACE - 1):
                    with tracer.start_as_current_span("chat gpt-4o-mini"):
                        pass
            sent.add(format(root.get_span_context().trace_id, "032x"))
        provider.shutdown()
        wait_until(lambda: sum(len(archived(p)) for p in files) == TRACES * SPANS_PER_TRACE, 60,
                   "every span in the archives", interval=0.5)
    finally:
        for process in [gateway, *downstream]:
            if process is not None:
                stop_process(process)
    per_file = [archived(p) for p in files]
    traces = [{t for t, _, _ in spans} for spans in per_file]
    assert traces[0] | traces[1] == sent and not traces[0] & traces[1]  # each trace on exactly one
    assert all(traces), "the load is spread over both downstream collectors"
    assert len({(t, s) for spans in per_file for t, s, _ in spans}) == TRACES * SPANS_PER_TRACE  # none twice
    for spans in per_file:
        for _, _, resource in spans:
            assert resource["deployment.environment.name"] == "staging"
            assert resource["service.name"] == "scale-out-test"
