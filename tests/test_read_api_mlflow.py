"""Tags, a session and a user set with ``otel_genai.attributes`` / ``update_current_trace`` arrive as
such in a real ``mlflow server`` (its REST API shows them: ``trace_info.tags`` and
``trace_metadata["mlflow.trace.session"]`` / ``["mlflow.trace.user"]``), and read the same from the
embedded store: one representation for both (MLflow 3.x OTLP ingest, ``SqlAlchemyStore.log_spans``)."""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_genai
from otel_genai.demo.fixture import respond
from otel_genai.demo.server import LoopbackServer
from otel_genai.exporters.store import TraceStoreSpanExporter
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.store import open_store
from otel_genai.store.pricing import CostSpanExporter
from shipping import start_mlflow, stop_process, wait_until


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    server, uri = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        stop_process(server)


def mlflow_trace_info(uri: str, trace_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{uri}/api/3.0/mlflow/traces/tr-{trace_id}", timeout=10) as response:
            return json.loads(response.read())["trace"]["trace_info"]
    except urllib.error.HTTPError:
        return None


def test_tags_session_and_user_arrive_in_mlflow_and_in_the_store(mlflow_uri, tmp_path, monkeypatch):
    store = tmp_path / "traces.db"
    provider = TracerProvider()
    to_mlflow = CostSpanExporter(OTLPSpanExporter(endpoint=f"{mlflow_uri}/v1/traces",
                                                  headers={"x-mlflow-experiment-id": "0"}), enabled=True)
    provider.add_span_processor(SimpleSpanProcessor(to_mlflow))
    provider.add_span_processor(SimpleSpanProcessor(TraceStoreSpanExporter(store, retention=None)))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content="SPAN_ONLY")
    try:
        with LoopbackServer(respond) as server:
            client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="test", max_retries=0)

            @otel_genai.trace(kind="agent")
            def support(question: str) -> str:
                otel_genai.update_current_trace(tags={"stage": "beta"})
                reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
                return reply.choices[0].message.content

            with otel_genai.attributes(session_id="conv-42", user_id="ada", tags={"env": "prod"}):
                support("What is OpenTelemetry?")
                trace_id = otel_genai.get_last_active_trace_id()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    info = wait_until(lambda: mlflow_trace_info(mlflow_uri, trace_id), 30, "the trace in MLflow")
    assert info["tags"]["env"] == "prod" and info["tags"]["stage"] == "beta"
    assert info["trace_metadata"]["mlflow.trace.session"] == "conv-42"
    assert info["trace_metadata"]["mlflow.trace.user"] == "ada"
    assert json.loads(info["trace_metadata"]["mlflow.trace.cost"])["total_cost"] > 0

    with open_store(store, read_only=True) as opened:
        ours = opened.get_trace(trace_id).info
    assert {k: ours.tags[k] for k in ("env", "stage")} == {"env": "prod", "stage": "beta"}
    assert (ours.session_id, ours.user_id) == ("conv-42", "ada")
    assert json.loads(info["trace_metadata"]["mlflow.trace.cost"])["total_cost"] == pytest.approx(ours.cost["total_cost"])
