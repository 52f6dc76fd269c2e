"""The JSON API under ``/api/`` and the server's modes, over real HTTP on 127.0.0.1, on SQLite and on a
real PostgreSQL server: the shapes the viewer reads (summary, spans, sessions), paging, errors (a bad
filter names its token, an unknown trace is 404), tags and deletion, ``--read-only`` (no write is
accepted, on ingest or the API), the bearer token on writes and, with ``protect_reads``, on reads; the
viewer's page and assets, with their Content-Security-Policy."""

from __future__ import annotations

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_genai.server import TraceServer
from otel_genai.store import open_store

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def finished_spans(n_traces: int, *, session: str = "s-1", service: str = "api-test") -> list:
    """``n_traces`` traces: an agent span (``session.id``) over one chat span (usage, model); the
    last trace fails (its chat span and so its agent span: an ERROR trace)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("api.test")
    for i in range(n_traces):
        with tracer.start_as_current_span(f"agent-{i}", attributes={"session.id": session, "mlflow.spanType": "AGENT"}) as agent:
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as chat:
                chat.set_attributes({
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.request.temperature": 0.5, "gen_ai.usage.input_tokens": 10 + i,
                    "gen_ai.usage.output_tokens": 5, "gen_ai.response.time_to_first_chunk": 0.25,
                    "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
                })
                if i == n_traces - 1:
                    chat.set_status(Status(StatusCode.ERROR, "rate limited"))
            if i == n_traces - 1:
                agent.set_status(Status(StatusCode.ERROR, "the model call failed"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


@pytest.fixture
def server(store_uri):
    with TraceServer(store_uri, port=0) as s:
        yield s


def ingest(server: TraceServer, spans: list, token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    assert OTLPSpanExporter(endpoint=server.endpoint, headers=headers).export(spans) == SpanExportResult.SUCCESS


def get(server: TraceServer, path: str, **params) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=10)


def features(server: TraceServer) -> dict:
    return get(server, "/api/info").json()["features"]


def test_the_list_and_one_trace_have_the_shapes_the_viewer_reads(server):
    spans = finished_spans(2)
    ingest(server, spans)
    answer = get(server, "/api/traces")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    rows = answer.json()["traces"]
    assert [r["root_span_name"] for r in rows] == ["agent-1", "agent-0"]  # newest first
    newest, oldest = rows
    assert newest["status"] == "ERROR" and oldest["status"] == "OK" and newest["service"] == "api-test" and newest["span_count"] == 2
    assert newest["models"] == ["gpt-4o-mini-2024-07-18"] and newest["session_id"] == "s-1"
    assert oldest["token_usage"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert newest["start_time_ms"] > oldest["start_time_ms"] and newest["duration_ms"] > 0
    detail = get(server, f"/api/traces/{oldest['trace_id'][:10]}").json()  # a unique prefix is enough
    assert detail["trace"] == oldest
    agent, chat = detail["spans"]
    assert agent["parent_id"] is None and chat["parent_id"] == agent["span_id"] and agent["span_type"] == "AGENT"
    assert chat["offset_ms"] >= 0 and chat["kind"] == "CLIENT" and chat["model"] == "gpt-4o-mini-2024-07-18"
    assert chat["token_usage"]["total_tokens"] == 15 and chat["time_to_first_chunk_ms"] == 250
    assert chat["cost"]["total_cost"] > 0 and chat["cost"] == oldest["cost"]  # its one priced call is the total
    assert chat["attributes"]["gen_ai.request.temperature"] == 0.5
    assert chat["attributes"]["gen_ai.input.messages"].startswith('[{"role":"user"')  # raw, as stored
    assert chat["resource_attributes"]["service.name"] == "api-test" and chat["scope"]["name"] == "api.test"


def test_sessions_group_traces_by_session_id(server):
    ingest(server, finished_spans(2, session="s-a") + finished_spans(1, session="s-b"))
    groups = get(server, "/api/sessions").json()["sessions"]
    assert [g["session_id"] for g in groups] == ["s-b", "s-a"]  # the latest session first
    assert [g["trace_count"] for g in groups] == [1, 2]
    assert groups[1]["total_tokens"] == 15 + 16
    assert [t["root_span_name"] for t in groups[1]["traces"]] == ["agent-0", "agent-1"]  # in start order


def test_errors_bad_queries_unknown_traces_and_paths(server):
    ingest(server, finished_spans(1))
    assert get(server, "/api/traces", max_results="0").status_code == 400
    assert "max_results must be an integer" in get(server, "/api/traces", max_results="ten").json()["error"]
    missing = get(server, "/api/traces/" + "ab" * 16)
    assert missing.status_code == 404 and "error" in missing.json()
    assert get(server, "/api/nope").status_code == 404
    bad = get(server, "/api/traces", filter_string="trace.status = = 'OK'")
    assert bad.status_code == 400 and bad.json()["error"].startswith("invalid filter_string at position 15:")
    assert get(server, "/api/traces", order_by="tokens DESC").status_code == 400
    assert get(server, "/api/traces", page_token="not-a-token").status_code == 400


def test_filter_order_and_pages_are_the_stores(server):
    ingest(server, finished_spans(5))
    assert features(server) == {"filter_string": True, "order_by": True, "paging": True, "tags": True, "delete": True}
    errors = get(server, "/api/traces", filter_string="trace.status = 'ERROR'").json()["traces"]
    assert [r["root_span_name"] for r in errors] == ["agent-4"]
    by_tokens = get(server, "/api/traces", order_by="total_tokens ASC").json()["traces"]
    assert [r["token_usage"]["total_tokens"] for r in by_tokens] == [15, 16, 17, 18, 19]
    seen, token = [], None
    while True:
        page = get(server, "/api/traces", max_results="2", **({"page_token": token} if token else {})).json()
        seen += [r["root_span_name"] for r in page["traces"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [f"agent-{i}" for i in range(4, -1, -1)]


def test_tags_and_deletion(server):
    ingest(server, finished_spans(2))
    first, second = (r["trace_id"] for r in get(server, "/api/traces").json()["traces"])
    tag_url = f"{server.url}/api/traces/{first}/tags/env"
    assert requests.put(tag_url, json={"value": 3}, timeout=10).status_code == 400  # a string only
    assert requests.put(tag_url, json={"value": "x" * 70_000}, timeout=10).status_code == 413
    assert requests.put(tag_url, json={"value": "prod"}, timeout=10).status_code == 200
    assert get(server, f"/api/traces/{first}").json()["trace"]["tags"] == {"env": "prod"}
    assert requests.delete(tag_url, timeout=10).status_code == 200
    assert get(server, f"/api/traces/{first}").json()["trace"]["tags"] == {}
    deleted = requests.delete(f"{server.url}/api/traces/{first}", timeout=10)
    assert deleted.status_code == 200 and deleted.json() == {"trace_id": first, "deleted": 1}
    assert [r["trace_id"] for r in get(server, "/api/traces").json()["traces"]] == [second]
    assert requests.delete(f"{server.url}/api/traces/{first}", timeout=10).status_code == 404


def test_read_only_accepts_no_write_and_still_serves_reads(store_uri):
    with open_store(store_uri) as writer:  # a store with one trace in it
        from otel_genai.store.otlp import ingest as ingest_body

        ingest_body(writer, encode_spans(finished_spans(1)).SerializeToString(), "application/x-protobuf")
    with TraceServer(store_uri, port=0, read_only=True) as server:
        refused = requests.post(server.endpoint, data=encode_spans(finished_spans(1)).SerializeToString(),
                                headers=PROTOBUF, timeout=10)
        assert refused.status_code == 403
        (row,) = get(server, "/api/traces").json()["traces"]
        assert requests.delete(f"{server.url}/api/traces/{row['trace_id']}", timeout=10).status_code == 403
        assert requests.put(f"{server.url}/api/traces/{row['trace_id']}/tags/k", json={"value": "v"},
                            timeout=10).status_code == 403
        assert get(server, "/api/info").json()["read_only"] is True
        assert server.store.count_traces() == 1


def test_the_token_protects_writes_and_with_protect_reads_reads_too(store_uri):
    with TraceServer(store_uri, port=0, token="s3cret") as server:
        ingest(server, finished_spans(1), token="s3cret")
        assert get(server, "/api/traces").status_code == 200  # reads are open by default
        (row,) = get(server, "/api/traces").json()["traces"]
        unauth = requests.delete(f"{server.url}/api/traces/{row['trace_id']}", timeout=10)
        assert unauth.status_code == 401 and unauth.headers["WWW-Authenticate"] == "Bearer"
    with TraceServer(store_uri, port=0, token="s3cret", protect_reads=True) as server:
        for path in ("/api/traces", "/api/info", f"/api/traces/{row['trace_id']}", "/api/sessions"):
            assert get(server, path).status_code == 401, path
        ok = requests.get(server.url + "/api/traces", headers={"Authorization": "Bearer s3cret"}, timeout=10)
        assert ok.status_code == 200 and len(ok.json()["traces"]) == 1
        assert get(server, "/").status_code == 200  # the page holds no data; it asks for the token
    with pytest.raises(ValueError, match="protect_reads needs a token"):
        TraceServer(store_uri, port=0, protect_reads=True)


def test_the_viewer_page_and_assets_are_served_with_a_same_origin_policy(server):
    for path in ("/", "/sessions", "/traces/" + "ab" * 16):
        page = get(server, path)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert 'src="/static/viewer.js"' in page.text
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    script = get(server, "/static/viewer.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert ".innerHTML" not in script.text and "insertAdjacentHTML" not in script.text  # text nodes only
    assert get(server, "/static/viewer.css").status_code == 200
    assert get(server, "/static/nope.js").status_code == 404
    # nothing from another origin: no http(s) URL in the page or its assets
    for body in (get(server, "/").text, script.text, get(server, "/static/viewer.css").text):
        assert "http://" not in body and "https://" not in body
