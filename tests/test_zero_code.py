"""The main job end to end: an app's openai calls under ``opentelemetry-instrument`` (real
subprocess, real entry points), nothing else configured, land in the embedded store; with an OTLP
endpoint they leave over OTLP/HTTP-protobuf instead. Plus ``autolog()`` and ``otel-genai demo``.
The store is each backend's in turn (``store_uri``: a SQLite file named by ``OTEL_GENAI_STORE_PATH``, a
PostgreSQL database named by ``OTEL_GENAI_STORE_URI``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import otel_genai
from otel_genai.cli import main as cli_main
from otel_genai.demo import fixture
from otel_genai.demo.run import instrument_command
from otel_genai.demo.server import LoopbackServer, Response
from otel_genai.distro import apply_defaults, default_settings
from postgres_support import store_env
from recorded import load_interactions

RECORDED_CHAT = next(i for i in load_interactions("openai", "/chat/completions") if i.cassette == "test_chat/test_chat")

APP = textwrap.dedent(
    """
    import json, os, openai
    client = openai.OpenAI(base_url=os.environ["APP_BASE_URL"], api_key="test", max_retries=0)
    result = client.chat.completions.create(**json.loads(os.environ["APP_KWARGS"]))
    print(result.id)
    """
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env.update(extra)
    return env


def run_app(tmp_path: Path, env: dict[str, str], source: str = APP) -> subprocess.CompletedProcess:
    app = tmp_path / "app.py"
    app.write_text(source)
    return subprocess.run(
        instrument_command() + [sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120
    )


def test_opentelemetry_instrument_with_nothing_configured_stores_the_trace(tmp_path, replayer, capsys, store_uri):
    store = store_uri
    base_url = replayer.play(RECORDED_CHAT) + "/v1"
    env = clean_env(
        **store_env(store), APP_BASE_URL=base_url, APP_KWARGS=json.dumps(RECORDED_CHAT.request_body)
    )
    done = run_app(tmp_path, env)
    assert done.returncode == 0, done.stderr
    recorded = RECORDED_CHAT.json()
    assert done.stdout.strip() == recorded["id"]

    (trace,) = otel_genai.search_traces(store=store)
    (span,) = trace.data.spans
    assert span.name == "chat gpt-3.5-turbo" and span.kind == "CLIENT"
    assert span.attributes["gen_ai.response.id"] == recorded["id"]
    usage = recorded["usage"]
    expected = {
        "input_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
    }
    assert trace.info.token_usage == expected
    assert span.get_attribute("mlflow.chat.tokenUsage") == expected
    # the distribution's content default is SPAN_ONLY
    assert span.get_attribute("gen_ai.input.messages")[0]["parts"][0]["content"] == "Tell me a joke about opentelemetry"

    assert cli_main(["traces", "show", "--last", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert trace.info.trace_id in shown and "chat gpt-3.5-turbo" in shown
    for value in expected.values():
        assert str(value) in shown


def test_otlp_endpoint_switches_export_to_otlp_http_protobuf(tmp_path, replayer):
    received = []

    def collector(request):
        received.append(request)
        return Response(200, b"", [("Content-Type", "application/x-protobuf")])

    store = tmp_path / "traces.db"
    with LoopbackServer(collector) as otlp:
        env = clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.base_url,
            OTEL_GENAI_STORE_PATH=str(store),
            APP_BASE_URL=replayer.play(RECORDED_CHAT) + "/v1",
            APP_KWARGS=json.dumps(RECORDED_CHAT.request_body),
        )
        done = run_app(tmp_path, env)
    assert done.returncode == 0, done.stderr
    traces = [r for r in received if r.path == "/v1/traces"]
    assert traces and traces[0].headers["content-type"] == "application/x-protobuf"
    export = ExportTraceServiceRequest.FromString(traces[0].body)
    names = [s.name for rs in export.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert names == ["chat gpt-3.5-turbo"]
    assert any(r.path == "/v1/metrics" for r in received)
    assert not store.exists()


def test_distro_defaults_fill_only_what_the_user_left_unset():
    assert default_settings({})["OTEL_TRACES_EXPORTER"] == "otel_genai"
    assert default_settings({})["OTEL_METRICS_EXPORTER"] == "none"
    otlp = default_settings({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert otlp["OTEL_TRACES_EXPORTER"] == "otlp" and otlp["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert otlp["OTEL_METRICS_EXPORTER"] == "none"  # a traces-only endpoint says nothing about metrics
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}
    apply_defaults(env)
    assert env["OTEL_TRACES_EXPORTER"] == "console"
    assert env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == "NO_CONTENT"
    assert env["OTEL_LOGS_EXPORTER"] == "none"


AUTOLOG_APP = textwrap.dedent(
    """
    import json, os, sys, openai, otel_genai
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    own = None
    if sys.argv[1] == "own-provider":
        own = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(own))
        trace.set_tracer_provider(provider)
    otel_genai.autolog()
    otel_genai.autolog()  # idempotent
    client = openai.OpenAI(base_url=os.environ["APP_BASE_URL"], api_key="test", max_retries=0)
    kwargs = json.loads(os.environ["APP_KWARGS"])
    client.chat.completions.create(**kwargs)

    last = otel_genai.get_trace(otel_genai.get_last_active_trace_id())
    print(json.dumps({
        "trace_id": last.info.trace_id,
        "usage": last.info.token_usage,
        "spans": [s.name for s in last.data.spans],
        "own": None if own is None else [s.name for s in own.get_finished_spans()],
        "same_provider": own is None or trace.get_tracer_provider() is provider,
    }))
    otel_genai.autolog(disable=True)
    client.chat.completions.create(**kwargs)
    print(len(otel_genai.search_traces()), None if own is None else len(own.get_finished_spans()))
    """
)


@pytest.mark.parametrize("mode", ["no-provider", "own-provider"])
def test_autolog_traces_into_the_store_and_adds_to_an_existing_provider(tmp_path, replayer, mode, store_uri):
    app = tmp_path / "autolog_app.py"
    app.write_text(AUTOLOG_APP)
    env = clean_env(
        **store_env(store_uri),
        APP_BASE_URL=replayer.play(RECORDED_CHAT, RECORDED_CHAT) + "/v1",
        APP_KWARGS=json.dumps(RECORDED_CHAT.request_body),
    )
    done = subprocess.run([sys.executable, str(app), mode], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    report = json.loads(first)
    usage = RECORDED_CHAT.json()["usage"]
    assert report["usage"]["input_tokens"] == usage["prompt_tokens"]
    assert report["spans"] == ["chat gpt-3.5-turbo"]
    assert report["same_provider"] is True
    if mode == "own-provider":
        assert report["own"] == ["chat gpt-3.5-turbo"]  # the app's own exporter still gets the span
    assert second == ("1 None" if mode == "no-provider" else "1 1")  # nothing traced after disable


def test_demo_prints_the_stored_token_usage_and_leaves_no_store(tmp_path):
    env = clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "otel_genai.cli", "demo"], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("== Total token usage ==") == 3
    assert fixture.PLAIN_ANSWER in out
    plain_prompt = 4 + len("In one sentence, why trace LLM calls with OpenTelemetry?".split())
    plain_output = len(fixture.PLAIN_ANSWER.split())
    assert f"Input tokens: {plain_prompt}\n  Output tokens: {plain_output}\n  Total tokens: {plain_prompt + plain_output}" in out
    assert not (tmp_path / "data").exists()


def test_demo_with_store_keeps_three_traces(store_uri):
    store = store_uri
    done = subprocess.run(
        [sys.executable, "-m", "otel_genai.cli", "demo", "--store", store],
        env=clean_env(), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    traces = otel_genai.search_traces(store=store)
    assert sorted(t.info.root_span_name for t in traces) == ["chat gpt-4o-mini", "chat gpt-4o-mini", "weather_agent"]
    agent = next(t for t in traces if t.info.root_span_name == "weather_agent")
    llm = [s for s in agent.data.spans if s.name == "chat gpt-4o-mini"]
    assert len(llm) == 2 and all(s.parent_id == agent.data.spans[0].span_id for s in llm)
    assert agent.info.token_usage["total_tokens"] == sum(s.get_attribute("mlflow.chat.tokenUsage")["total_tokens"] for s in llm)


def test_demo_live_without_api_key_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli_main(["demo", "--live"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "otel-genai: error: --live needs OPENAI_API_KEY in the environment"
