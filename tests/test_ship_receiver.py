"""``otel-genai serve``: the OTLP/HTTP receiver in front of the trace store, over real HTTP on
127.0.0.1. What the OTel SDK's own OTLP exporter sends (protobuf, gzip or not) and OTLP JSON are
stored exactly as the in-process store exporter stores the same spans; every bad request gets its
4xx and stores nothing; a batch is stored whole or not at all; concurrent exporters lose nothing.
Every receiver writes into a fresh store of each backend (``store_uri``: SQLite, PostgreSQL); the
reference the in-process exporter writes is a SQLite file."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import re
import subprocess
import sys
import threading
import zlib

import pytest
import requests
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace import Status as SpanStatus

import otel_genai
from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.store import open_store
from otel_genai.store.receiver import OTLPReceiver
from postgres_support import WriteLock
from shipping import AGENT_TURNS, STANDALONE, base_usage, clean_env, expected_usage, run_app, stop_process, store_snapshot

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
USAGE = '{"input_tokens":12,"output_tokens":5,"total_tokens":17}'


def make_spans(service: str = "shop", n_traces: int = 2) -> list:
    """Finished SDK spans of every shape the store keeps: kinds, statuses, events, typed attributes."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shipping.tests", "1.2.3")
    for i in range(n_traces):
        with tracer.start_as_current_span("agent", attributes={"mlflow.spanType": "AGENT", "i": i}):
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as llm:
                llm.set_attributes({
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.request.temperature": 0.25,
                    "gen_ai.request.stream": False,
                    "gen_ai.response.finish_reasons": ("stop", "length"),
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 5,
                    "mlflow.chat.tokenUsage": USAGE,
                    "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi ✓"}]}]',
                    "flags": (True, False),
                    "ratios": (0.5, 1.5),
                })
                llm.add_event("gen_ai.first_chunk", {"n": 1})
            with tracer.start_as_current_span("tool", kind=SpanKind.INTERNAL) as tool:
                tool.set_status(SpanStatus(StatusCode.ERROR, "tool failed"))
                tool.record_exception(ValueError("boom"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def direct_snapshot(tmp_path, spans) -> dict:
    """What the in-process store exporter stores for ``spans``: the reference."""
    path = tmp_path / "direct.db"
    exporter = TraceStoreSpanExporter(path)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    return store_snapshot(path)


def otlp_json(spans) -> bytes:
    """OTLP JSON for SDK spans: the protobuf request in JSON, ids in hex, enums as integers."""
    data = json_format.MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(data).encode()


@pytest.fixture
def receiver(store_uri):
    with OTLPReceiver(store_uri, port=0) as r:
        yield r


def where(receiver: OTLPReceiver) -> str:
    """The URI (or file) of the receiver's store, to open it again beside the receiver."""
    store = receiver.store
    return getattr(store, "uri", None) or str(store.path)


def stored(receiver: OTLPReceiver) -> dict:
    return store_snapshot(where(receiver))


def status_message(response: requests.Response) -> str:
    if response.headers["Content-Type"] == "application/x-protobuf":
        return Status.FromString(response.content).message
    return response.json()["message"]


# --- what arrives is what the in-process exporter stores ----------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_sdk_otlp_exporter_spans_are_stored_exactly_as_the_store_exporter_stores_them(tmp_path, receiver, compression):
    spans = make_spans()
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint, compression=compression)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    got = stored(receiver)
    assert got == direct_snapshot(tmp_path, spans)
    # and the values really are there, decoded
    trace = otel_genai.get_trace(spans[0].context.trace_id.to_bytes(16, "big").hex(), store=where(receiver))
    assert trace.info.token_usage == json.loads(USAGE) and trace.info.model == "gpt-4o-mini"
    llm = next(s for s in trace.data.spans if s.name == "chat gpt-4o-mini")
    assert llm.kind == "CLIENT" and llm.attributes["gen_ai.response.finish_reasons"] == ["stop", "length"]
    assert llm.attributes["gen_ai.request.temperature"] == 0.25 and llm.attributes["flags"] == [True, False]
    assert llm.get_attribute("gen_ai.input.messages")[0]["parts"][0]["content"] == "hi ✓"
    assert llm.events[0]["name"] == "gen_ai.first_chunk" and llm.events[0]["attributes"] == {"n": 1}
    assert llm.resource_attributes["service.name"] == "shop"
    assert (llm.scope_name, llm.scope_version) == ("shipping.tests", "1.2.3")
    tool = next(s for s in trace.data.spans if s.name == "tool")
    assert (tool.status, tool.status_message) == ("ERROR", "tool failed") and tool.events[0]["name"] == "exception"


def test_otlp_json_is_stored_like_protobuf_and_answered_in_json(tmp_path, receiver):
    spans = make_spans()
    response = requests.post(receiver.endpoint, data=otlp_json(spans), headers=JSON)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {}  # an ExportTraceServiceResponse with nothing rejected
    assert stored(receiver) == direct_snapshot(tmp_path, spans)


def test_otlp_json_as_written_by_hand_hex_ids_enum_ints_and_names(receiver):
    body = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "hand"}}]},
            "scopeSpans": [{
                "scope": {"name": "manual", "version": "0.1"},
                "spans": [
                    {
                        "traceId": "5B8EFFF798038103D269B633813FC60C",  # upper-case hex is fine
                        "spanId": "EEE19B7EC3C1B174",
                        "name": "chat gpt-4o",
                        "kind": 3,
                        "startTimeUnixNano": "1544712660000000000",
                        "endTimeUnixNano": 1544712661000000000,
                        "attributes": [
                            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "123"}},
                            {"key": "gen_ai.request.top_p", "value": {"doubleValue": 0.9}},
                            {"key": "ok", "value": {"boolValue": True}},
                            {"key": "stops", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}},
                            {"key": "meta", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": 7}}]}}},
                            {"key": "mlflow.chat.tokenUsage", "value": {"stringValue": USAGE}},
                        ],
                        "events": [{"timeUnixNano": "1544712660500000000", "name": "first",
                                    "attributes": [{"key": "x", "value": {"stringValue": "y"}}]}],
                        "status": {"code": 2, "message": "bad"},
                        "someFutureField": {"ignored": True},
                    },
                    {
                        "traceId": "5b8efff798038103d269b633813fc60c",
                        "spanId": "0000000000000001",
                        "parentSpanId": "eee19b7ec3c1b174",
                        "name": "child",
                        "kind": "SPAN_KIND_SERVER",
                        "startTimeUnixNano": "1544712660100000000",
                        "endTimeUnixNano": "1544712660200000000",
                        "status": {"code": "STATUS_CODE_OK"},
                    },
                ],
            }],
        }]
    }
    response = requests.post(receiver.endpoint, json=body)
    assert response.status_code == 200, response.text
    trace = otel_genai.get_trace("5b8efff798038103d269b633813fc60c", store=where(receiver))
    root, child = trace.data.spans
    assert (root.span_id, root.parent_id, root.kind, root.status, root.status_message) == (
        "eee19b7ec3c1b174", None, "CLIENT", "ERROR", "bad")
    assert (root.start_time_ns, root.end_time_ns) == (1544712660000000000, 1544712661000000000)
    assert root.attributes == {
        "gen_ai.usage.input_tokens": 123, "gen_ai.request.top_p": 0.9, "ok": True, "stops": ["a", "b"],
        "meta": {"k": 7}, "mlflow.chat.tokenUsage": USAGE,
    }
    assert root.events == [{"name": "first", "time_ns": 1544712660500000000, "attributes": {"x": "y"}}]
    assert (child.parent_id, child.kind, child.status) == ("eee19b7ec3c1b174", "SERVER", "OK")
    assert root.resource_attributes == {"service.name": "hand"} and root.scope_name == "manual"
    # the span reports gen_ai.usage.input_tokens: that counts, mlflow.chat.tokenUsage is only the fallback
    assert trace.info.token_usage == {"input_tokens": 123, "output_tokens": 0, "total_tokens": 123}
    assert trace.info.status == "ERROR"


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_spans_with_invalid_ids_are_rejected_and_counted_the_rest_stored(receiver, encoding):
    request = encode_spans(make_spans(n_traces=1))
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = bytes(16)  # all zero
    spans[1].span_id = b"\x01\x02"  # wrong length
    kept = spans[2]
    if encoding == "protobuf":
        response = requests.post(receiver.endpoint, data=request.SerializeToString(), headers=PROTOBUF)
        answer = ExportTraceServiceResponse.FromString(response.content)
    else:
        data = json_format.MessageToDict(request)
        for span in data["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in span:
                    span[key] = base64.b64decode(span[key]).hex()
        response = requests.post(receiver.endpoint, json=data)
        answer = json_format.Parse(response.content, ExportTraceServiceResponse())
    assert response.status_code == 200
    assert answer.partial_success.rejected_spans == 2
    assert "invalid trace id" in answer.partial_success.error_message
    assert "invalid span id" in answer.partial_success.error_message
    assert receiver.store.count_spans() == 1
    (trace,) = otel_genai.search_traces(store=where(receiver))
    assert [s.span_id for s in trace.data.spans] == [kept.span_id.hex()]


# --- bad requests: the right 4xx, a message, nothing stored -------------------------------------

GOOD = encode_spans(make_spans(n_traces=1)).SerializeToString()
GOOD_JSON = otlp_json(make_spans(n_traces=1))

BAD_REQUESTS = {
    "garbage protobuf": (400, GOOD[:3] + b"\xff\xff\xff\xff", PROTOBUF, "malformed protobuf"),
    "truncated protobuf": (400, GOOD[:-7], PROTOBUF, "malformed protobuf"),
    "invalid JSON": (400, b'{"resourceSpans": [', JSON, "malformed JSON"),
    "JSON not an object": (400, b"[1, 2]", JSON, "must be a JSON object"),
    "JSON bad hex id": (400, GOOD_JSON.replace(b'"traceId": "', b'"traceId": "zz', 1), JSON, "not a hex string"),
    "JSON wrong field type": (400, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5, "traceId": "00"}]}]}]}',
                              JSON, "malformed OTLP JSON"),
    "JSON truncated": (400, GOOD_JSON[: len(GOOD_JSON) // 2], JSON, "malformed JSON"),
    "plain text": (415, b"hello", {"Content-Type": "text/plain"}, "unsupported Content-Type"),
    "no content type": (415, GOOD, {}, "unsupported Content-Type"),
    "brotli": (415, GOOD, {**PROTOBUF, "Content-Encoding": "br"}, "unsupported Content-Encoding"),
    "gzip truncated": (400, gzip.compress(GOOD)[:-12], {**PROTOBUF, "Content-Encoding": "gzip"}, "truncated gzip"),
    "gzip header lies": (400, GOOD, {**PROTOBUF, "Content-Encoding": "gzip"}, "malformed gzip"),
    "gzip of garbage": (400, gzip.compress(b"\xff" * 50), {**PROTOBUF, "Content-Encoding": "gzip"}, "malformed protobuf"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_get_their_4xx_with_a_message_and_store_nothing(receiver, case):
    status, body, headers, message = BAD_REQUESTS[case]
    response = requests.post(receiver.endpoint, data=body, headers=headers)
    assert response.status_code == status, response.content
    assert message in status_message(response)
    assert receiver.store.count_spans() == 0
    # the receiver is still fine afterwards
    assert requests.post(receiver.endpoint, data=GOOD, headers=PROTOBUF).status_code == 200
    assert receiver.store.count_spans() == 3


def test_error_answers_use_the_requests_encoding(receiver):
    pb = requests.post(receiver.endpoint, data=b"\xff\xff", headers=PROTOBUF)
    assert pb.headers["Content-Type"] == "application/x-protobuf"
    assert Status.FromString(pb.content).code == 3  # INVALID_ARGUMENT
    js = requests.post(receiver.endpoint, data=b"{", headers=JSON)
    assert js.headers["Content-Type"] == "application/json" and js.json()["code"] == 3


def test_oversized_bodies_get_413_raw_and_after_decompression(store_uri):
    with OTLPReceiver(store_uri, port=0, max_body_bytes=len(GOOD) - 1) as r:
        raw = requests.post(r.endpoint, data=GOOD, headers=PROTOBUF)
        assert raw.status_code == 413 and "limit" in status_message(raw)
        bomb = gzip.compress(GOOD)  # small on the wire, over the limit once inflated
        assert len(bomb) < r.max_body_bytes
        inflated = requests.post(r.endpoint, data=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
        assert inflated.status_code == 413 and "decompressed" in status_message(inflated)
        huge = requests.post(r.endpoint, data=b"\0" * (8 * 1024 * 1024), headers=PROTOBUF)
        assert huge.status_code == 413
        assert r.store.count_spans() == 0
    with OTLPReceiver(store_uri, port=0, max_body_bytes=len(GOOD)) as r:
        assert requests.post(r.endpoint, data=GOOD, headers=PROTOBUF).status_code == 200
        assert r.store.count_spans() == 3


def test_bearer_token_is_required_when_set(store_uri):
    with OTLPReceiver(store_uri, port=0, token="s3cret") as r:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"},
                        {"Authorization": "s3cret"}):
            response = requests.post(r.endpoint, data=GOOD, headers={**PROTOBUF, **headers})
            assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
            assert "bearer token" in status_message(response)
        assert r.store.count_spans() == 0
        assert requests.get(r.url + "/health").status_code == 200  # health needs no token
        exporter = OTLPSpanExporter(endpoint=r.endpoint, headers={"Authorization": "Bearer s3cret"})
        assert exporter.export(make_spans(n_traces=1)) == SpanExportResult.SUCCESS
        assert r.store.count_spans() == 3


def test_routes_health_wrong_method_unknown_path(receiver):
    health = requests.get(receiver.url + "/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    get = requests.get(receiver.endpoint)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    assert requests.put(receiver.endpoint, data=GOOD, headers=PROTOBUF).status_code == 405
    metrics = requests.post(receiver.url + "/v1/metrics", data=b"", headers=PROTOBUF)
    assert metrics.status_code == 404 and "traces only" in status_message(metrics)
    assert requests.post(receiver.url + "/nope", data=GOOD, headers=PROTOBUF).status_code == 404
    assert receiver.store.count_spans() == 0


def test_chunked_body_and_keep_alive_connection(receiver):
    conn = http.client.HTTPConnection(receiver.host, receiver.port, timeout=10)
    try:
        conn.request("POST", "/v1/traces", body=iter([GOOD[:10], GOOD[10:]]), headers=PROTOBUF, encode_chunked=True)
        first = conn.getresponse()
        assert first.status == 200 and first.read() == b""
        conn.request("POST", "/v1/traces", body=b"\xff\xff", headers=PROTOBUF)  # same connection
        second = conn.getresponse()
        assert second.status == 400 and second.read()
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert receiver.store.count_spans() == 3


def test_a_body_shorter_than_its_content_length_is_rejected(receiver):
    conn = http.client.HTTPConnection(receiver.host, receiver.port, timeout=10)
    try:
        conn.putrequest("POST", "/v1/traces")
        conn.putheader("Content-Type", "application/x-protobuf")
        conn.putheader("Content-Length", str(len(GOOD)))
        conn.endheaders()
        conn.send(GOOD[:-20])
        conn.sock.shutdown(1)  # the client stops sending
        response = conn.getresponse()
        assert response.status == 400 and b"truncated body" in response.read()
    finally:
        conn.close()
    assert receiver.store.count_spans() == 0


# --- all or nothing, concurrency ----------------------------------------------------------------


def test_a_batch_the_store_cannot_take_is_503_and_stores_nothing_then_retry_succeeds(store_uri):
    store = open_store(store_uri, timeout_s=0.2)
    with OTLPReceiver(store, port=0) as r:
        blocker = WriteLock(store_uri)  # another writer holds the lock
        try:
            response = requests.post(r.endpoint, data=GOOD, headers=PROTOBUF)
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
            assert "cannot take the batch" in status_message(response)
        finally:
            blocker.release()
        assert store.count_spans() == 0
        # exporters retry a 503: the same batch then lands whole
        assert requests.post(r.endpoint, data=GOOD, headers=PROTOBUF).status_code == 200
        assert store.count_spans() == 3
    store.close()


def test_concurrent_exporters_lose_nothing(receiver):
    clients, batches, traces_per_batch = 8, 10, 5
    sent: dict[int, list] = {}
    errors: list = []

    def client(n: int) -> None:
        try:
            use_json = n % 2 == 1
            exporter = OTLPSpanExporter(endpoint=receiver.endpoint)
            for _ in range(batches):
                spans = make_spans(service=f"client-{n}", n_traces=traces_per_batch)
                sent.setdefault(n, []).extend(spans)
                if use_json:
                    assert requests.post(receiver.endpoint, data=otlp_json(spans), headers=JSON).status_code == 200
                else:
                    assert exporter.export(spans) == SpanExportResult.SUCCESS
            exporter.shutdown()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    all_spans = [s for spans in sent.values() for s in spans]
    assert receiver.store.count_spans() == len(all_spans) == clients * batches * traces_per_batch * 3
    assert receiver.store.count_traces() == clients * batches * traces_per_batch
    stored_ids = {(t, s.span_id) for t, v in stored(receiver).items() for s in v["spans"]}
    assert stored_ids == {(format(s.context.trace_id, "032x"), format(s.context.span_id, "016x")) for s in all_spans}


# --- the command, and an instrumented app end to end -------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_genai.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )
    line = process.stdout.readline()
    match = re.search(r"at (http://127\.0\.0\.1:\d+/v1/traces)", line)
    if not match:
        stop_process(process)
        raise AssertionError(f"no endpoint in {line!r}: {process.stderr.read()}")
    return process, match.group(1)


def test_serve_command_receives_with_token_and_stops_on_sigterm(store_uri):
    store = store_uri
    process, endpoint = start_serve("--store", store, "--token", "t0k")
    try:
        assert requests.post(endpoint, data=GOOD, headers=PROTOBUF).status_code == 401
        ok = requests.post(endpoint, data=GOOD, headers={**PROTOBUF, "Authorization": "Bearer t0k"})
        assert ok.status_code == 200
        # the port is taken now: a second serve on it fails with one line
        port = endpoint.split(":")[2].split("/")[0]
        taken = subprocess.run([sys.executable, "-m", "otel_genai.cli", "serve", "--port", port, "--store", store],
                               capture_output=True, text=True, timeout=60, env=clean_env())
        assert taken.returncode == 1
        assert taken.stderr.startswith(f"otel-genai: error: cannot listen on 127.0.0.1:{port}")
    finally:
        process.terminate()
        assert process.wait(15) == 0
    assert [len(t.data.spans) for t in otel_genai.search_traces(store=store)] == [3]


def test_instrumented_app_to_serve_stores_the_same_traces_as_its_own_store_exporter(tmp_path, replayer, receiver):
    direct = tmp_path / "direct.db"
    env = clean_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint,
        OTEL_TRACES_EXPORTER="otlp,otel_genai",  # both: over OTLP to serve, and straight into a store
        OTEL_GENAI_STORE_PATH=str(direct),
    )
    run_app(tmp_path, replayer, env)
    received, reference = stored(receiver), store_snapshot(direct)
    assert received == reference and len(received) == 2
    usage = {v["info"].root_span_name: base_usage(v["info"].token_usage) for v in received.values()}
    assert usage == {"chat gpt-3.5-turbo": expected_usage(STANDALONE), "agent": expected_usage(*AGENT_TURNS)}


def test_zlib_deflate_body(receiver):
    response = requests.post(receiver.endpoint, data=zlib.compress(GOOD), headers={**PROTOBUF, "Content-Encoding": "deflate"})
    assert response.status_code == 200 and receiver.store.count_spans() == 3
