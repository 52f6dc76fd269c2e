"""collector-config/genai-to-mlflow.yaml: the OTTL transform that gives GenAI spans from any
instrumentation MLflow's keys, on the real otelcol-genai.

* Spans emitted by the official ``opentelemetry-instrumentation-genai-openai`` (1.3b0; gen_ai.* only,
  no MLflow keys) for recorded OpenAI traffic go through the config into a real ``mlflow server``:
  MLflow shows the recorded token usage on each trace, and the span types.
  The official package registers the ``openai`` instrumentor entry point, so installed beside
  otel-genai it would double every zero-code span in the rest of the suite: it is installed here
  with ``pip --target`` into the user cache directory and put on the app's ``PYTHONPATH`` only.
* The same processors in front of ``otel-genai serve`` show exactly what the transform adds: the
  derived keys on spans that lack them, nothing on spans that already have them, nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

import otel_genai
from otel_genai.exporters import mlflow as preset
from shipping import (
    AGENT_TURNS,
    CONFIG_DIR,
    INTERACTIONS,
    STANDALONE,
    base_usage,
    clean_env,
    derived_config,
    expected_usage,
    mlflow_trace_info,
    otelcol,  # noqa: F401 - the session fixture
    span_count,
    start_collector,
    start_mlflow,
    start_serve,
    stop_process,
    store_snapshot,
    to_serve,
    wait_until,
)

CONFIG = CONFIG_DIR / "genai-to-mlflow.yaml"
OFFICIAL = ("opentelemetry-instrumentation-genai-openai==1.3b0", "opentelemetry-util-genai==1.3b0")


@pytest.fixture(scope="session")
def official_site() -> Path:
    """A directory holding the official GenAI OpenAI instrumentation (its other dependencies, the
    OTel API/SDK and instrumentation, are the suite's own)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    site = cache / "otel-genai" / "pydeps" / "-".join(p.replace("==", "-") for p in OFFICIAL)
    if not (site / ".complete").exists():
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
                               "--target", str(site), *OFFICIAL], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        (site / ".complete").write_text("")
    return site


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    server, uri = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        stop_process(server)


#: the recorded calls, instrumented by the official package only, exported over OTLP/HTTP
OFFICIAL_APP = textwrap.dedent(
    """
    import json, os
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_genai.exporters.store import TraceStoreSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "official-genai-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["APP_OTLP_ENDPOINT"])))
    provider.add_span_processor(BatchSpanProcessor(TraceStoreSpanExporter(os.environ["APP_REFERENCE_STORE"])))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=os.environ["APP_BASE_URL"], api_key="test", max_retries=0)
    standalone, *turns = json.loads(os.environ["APP_CALLS"])
    client.chat.completions.create(**standalone)
    with provider.get_tracer("official-app").start_as_current_span("agent"):
        for kwargs in turns:
            client.chat.completions.create(**kwargs)
    provider.shutdown()
    """
)


def test_official_genai_instrumentation_spans_show_their_token_usage_in_mlflow(
        tmp_path, replayer, otelcol, official_site, mlflow_uri):
    experiment = preset.resolve_experiment_id(mlflow_uri, f"genai-to-mlflow-{uuid.uuid4().hex[:8]}")
    collector, endpoint = start_collector(otelcol, CONFIG, tmp_path, MLFLOW_TRACKING_URI=mlflow_uri,
                                          MLFLOW_EXPERIMENT_ID=experiment)
    reference = tmp_path / "sent.db"
    try:
        app = tmp_path / "official_app.py"
        app.write_text(OFFICIAL_APP)
        env = clean_env(PYTHONPATH=os.pathsep.join([str(official_site), os.environ.get("PYTHONPATH", "")]),
                        APP_OTLP_ENDPOINT=endpoint, APP_REFERENCE_STORE=str(reference),
                        APP_BASE_URL=replayer.play(*INTERACTIONS) + "/v1",
                        APP_CALLS=json.dumps([i.request_body for i in INTERACTIONS]))
        done = subprocess.run([sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        sent = otel_genai.search_traces(path=reference)
        assert sorted(len(t.data.spans) for t in sent) == [1, 3]
        for trace in sent:  # what the official instrumentation emits: GenAI semconv, no MLflow keys
            for span in trace.data.spans:
                assert "mlflow.chat.tokenUsage" not in span.attributes and "mlflow.spanType" not in span.attributes
        by_root = {t.info.root_span_name: t.info.trace_id for t in sent}
        expected = {"chat gpt-3.5-turbo": expected_usage(STANDALONE), "agent": expected_usage(*AGENT_TURNS)}

        from mlflow import MlflowClient

        for root, trace_id in by_root.items():
            info = wait_until(lambda: mlflow_trace_info(mlflow_uri, trace_id), 60, "trace in MLflow")  # noqa: B023
            assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == experiment
            assert base_usage(json.loads(info["trace_metadata"]["mlflow.trace.tokenUsage"])) == expected[root]
            trace = MlflowClient(mlflow_uri).get_trace(f"tr-{trace_id}")
            chats = [s for s in trace.data.spans if s.name.startswith("chat ")]
            assert len(chats) == (1 if root.startswith("chat") else 2)
            for span in chats:
                assert span.span_type == "CHAT_MODEL"
                usage = span.get_attribute("mlflow.chat.tokenUsage")
                usage = json.loads(usage) if isinstance(usage, str) else usage
                assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    finally:
        stop_process(collector)


def test_transform_adds_the_mlflow_keys_only_where_missing(tmp_path, otelcol):
    store = tmp_path / "received.db"
    serve, base = start_serve(store, tmp_path)
    config = derived_config(CONFIG, tmp_path, to_serve(base))
    collector, endpoint = start_collector(otelcol, config, tmp_path)
    sent: dict[str, dict] = {}
    try:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
        tracer = provider.get_tracer("another-genai-instrumentation")

        def span(name: str, kind=SpanKind.CLIENT, error: bool = False, **attributes) -> None:
            with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as s:
                if error:
                    s.set_status(Status(StatusCode.ERROR))
            sent[name] = attributes

        span("chat gpt-4o", **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100,
                               "gen_ai.usage.output_tokens": 20})
        span("chat cached", **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 300,
                               "gen_ai.usage.output_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 256})
        span("chat cache written", **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 50,
                                      "gen_ai.usage.output_tokens": 7, "gen_ai.usage.cache_read.input_tokens": 0,
                                      "gen_ai.usage.cache_write.input_tokens": 40})
        span("text_completion davinci", **{"gen_ai.operation.name": "text_completion",
                                           "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4})
        span("embeddings text-embedding-3-small", **{"gen_ai.operation.name": "embeddings",
                                                     "gen_ai.usage.input_tokens": 8})  # no output: no tokenUsage
        span("execute_tool get_weather", SpanKind.INTERNAL, **{"gen_ai.operation.name": "execute_tool"})
        span("invoke_agent planner", SpanKind.INTERNAL, **{"gen_ai.operation.name": "invoke_agent"})
        span("generate_content gemini", error=True, **{"gen_ai.operation.name": "generate_content",
                                                      "gen_ai.usage.input_tokens": 9, "gen_ai.usage.output_tokens": 0})
        # already carries MLflow's keys (e.g. otel-genai's own spans): left exactly as sent
        span("chat ours", **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 11,
                             "gen_ai.usage.output_tokens": 12, "mlflow.spanType": "LLM",
                             "mlflow.chat.tokenUsage": '{"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}'})
        span("GET /health", SpanKind.SERVER, **{"http.request.method": "GET"})  # not GenAI: untouched
        provider.shutdown()
        wait_until(lambda: span_count(store) == len(sent), 30, "the spans through the collector")
    finally:
        stop_process(collector)
        stop_process(serve)

    received = {s.name: s.attributes for t in store_snapshot(store).values() for s in t["spans"]}
    added = {name: {k: v for k, v in received[name].items() if k not in attributes}
             for name, attributes in sent.items()}
    for name, attributes in sent.items():  # nothing sent is changed
        assert {k: received[name][k] for k in attributes} == attributes, name

    assert {name: {k: (json.loads(v) if k == "mlflow.chat.tokenUsage" else v) for k, v in extra.items()}
            for name, extra in added.items()} == {
        "chat gpt-4o": {"mlflow.spanType": "CHAT_MODEL",
                        "mlflow.chat.tokenUsage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}},
        "chat cached": {"mlflow.spanType": "CHAT_MODEL",
                        "mlflow.chat.tokenUsage": {"input_tokens": 300, "output_tokens": 5, "total_tokens": 305,
                                                   "cache_read_input_tokens": 256}},
        "chat cache written": {"mlflow.spanType": "CHAT_MODEL",
                               "mlflow.chat.tokenUsage": {"input_tokens": 50, "output_tokens": 7, "total_tokens": 57,
                                                          "cache_read_input_tokens": 0,
                                                          "cache_creation_input_tokens": 40}},
        "text_completion davinci": {"mlflow.spanType": "LLM",
                                    "mlflow.chat.tokenUsage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}},
        "embeddings text-embedding-3-small": {"mlflow.spanType": "EMBEDDING"},
        "execute_tool get_weather": {"mlflow.spanType": "TOOL"},
        "invoke_agent planner": {"mlflow.spanType": "AGENT"},
        "generate_content gemini": {"mlflow.spanType": "LLM",
                                    "mlflow.chat.tokenUsage": {"input_tokens": 9, "output_tokens": 0, "total_tokens": 9}},
        "chat ours": {},
        "GET /health": {},
    }
    # the store reads the derived key the way MLflow does
    assert json.loads(received["chat gpt-4o"]["mlflow.chat.tokenUsage"])["total_tokens"] == 120
