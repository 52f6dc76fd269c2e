"""Gemini with no code of ours in the app: a ``google-genai`` app under ``opentelemetry-instrument``
(real subprocess, real entry points, nothing else configured) lands in the embedded store with one
span per call, although the official ``opentelemetry-instrumentation-google-genai`` is installed
too; an app that calls ``otel_genai.autolog()`` the same. The
call automatic function calling turns into a small agent loop is stored as one trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

import gemini_support as G
import otel_genai
from otel_genai.demo.run import instrument_command
from otel_genai.distro import duplicate_of_ours, instrumented_sdks

CASSETTES = {c.name: c for c in G.load_cassettes()}
PLAIN = CASSETTES["test_instrumentation/test_async_generate_content"].exchanges[0]
AFC = CASSETTES["test_instrumentation/test_generate_content_with_automatic_tool_calling"].exchanges

APP = textwrap.dedent(
    """
    import json, os, sys
    from google import genai
    from google.genai import types
    sys.path.insert(0, os.environ["APP_TESTS"])
    import gemini_support as G

    client = genai.Client(api_key="test", http_options={"base_url": os.environ["APP_BASE_URL"], "api_version": "v1beta"})
    if os.environ.get("APP_AUTOLOG"):
        import otel_genai
        otel_genai.autolog()
    kwargs = G.generate_kwargs(json.loads(os.environ["APP_BODY"]))
    if os.environ.get("APP_AFC"):
        kwargs["config"].tools = [G.get_weather]
    result = client.models.generate_content(model=os.environ["APP_MODEL"], **kwargs)
    print(result.response_id)
    """
)


@pytest.fixture(scope="module")
def replayer():
    server = G.GeminiReplayer()
    yield server
    server.stop()


def _env(tmp_path: Path, base_url: str, exchange, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GOOGLE_", "GEMINI_"))}
    env.update(
        OTEL_GENAI_STORE_PATH=str(tmp_path / "traces.db"),
        APP_BASE_URL=base_url,
        APP_BODY=json.dumps(exchange.request_body),
        APP_MODEL=exchange.model,
        APP_TESTS=str(Path(__file__).parent),
        **extra,
    )
    return env


def _run(tmp_path: Path, env: dict[str, str], command: list[str]) -> subprocess.CompletedProcess:
    app = tmp_path / "app.py"
    app.write_text(APP)
    return subprocess.run(command + [sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120)


def _official_entry_point() -> metadata.EntryPoint:
    (entry_point,) = [ep for ep in metadata.entry_points(group="opentelemetry_instrumentor") if ep.name == "google-genai"]
    return entry_point


def test_the_distro_treats_the_official_google_genai_instrumentation_as_a_duplicate_of_ours(monkeypatch):
    """Its entry point is named after the distribution (``google-genai``) and its ``instruments``
    extra requires ``google-genai``; ours is keyed by the import name ``google.genai``."""
    monkeypatch.delenv("OTEL_GENAI_KEEP_INSTRUMENTATIONS", raising=False)
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", raising=False)
    entry_point = _official_entry_point()
    assert instrumented_sdks(entry_point) == {"google.genai"}
    assert duplicate_of_ours(entry_point) == {"google.genai"}
    assert duplicate_of_ours(entry_point, {"OTEL_GENAI_KEEP_INSTRUMENTATIONS": "google-genai"}) == set()
    assert duplicate_of_ours(entry_point, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "otel_genai_google_genai"}) == set()


def test_opentelemetry_instrument_stores_one_span_per_gemini_call(tmp_path, replayer):
    # the official instrumentation is installed, but requires google-genai<3: opentelemetry-instrument
    # itself skips it here for that conflict (on google-genai 2.x our distro does, as the test above shows)
    assert _official_entry_point()
    env = _env(tmp_path, replayer.play(PLAIN), PLAIN)
    done = _run(tmp_path, env, instrument_command())
    assert done.returncode == 0, done.stderr
    recorded = PLAIN.json()
    assert done.stdout.strip() == recorded["responseId"]

    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    (span,) = trace.data.spans
    assert (span.name, span.kind) == ("chat gemini-2.0-flash", "CLIENT")
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert span.attributes["gen_ai.response.id"] == recorded["responseId"]
    usage = recorded["usageMetadata"]
    expected = {
        "input_tokens": usage["promptTokenCount"],
        "output_tokens": usage["candidatesTokenCount"],
        "total_tokens": usage["totalTokenCount"],
    }
    assert trace.info.token_usage == expected
    assert span.get_attribute("mlflow.chat.tokenUsage") == expected
    # the distribution's content default is SPAN_ONLY
    assert span.get_attribute("gen_ai.input.messages")[0]["parts"][0]["content"] == "What's the weather like?"


def test_autolog_stores_the_automatic_function_calling_loop_as_one_trace(tmp_path, replayer):
    env = _env(tmp_path, replayer.play(*AFC), AFC[0], APP_AUTOLOG="1", APP_AFC="1")
    done = _run(tmp_path, env, [])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == AFC[1].json()["responseId"]
    (trace,) = otel_genai.search_traces(path=tmp_path / "traces.db")
    names = sorted(s.name for s in trace.data.spans)
    assert names == ["chat gemini-2.0-flash", "chat gemini-2.0-flash", "execute_tool get_weather", "invoke_agent"]
    turns = [json.loads(e.body)["usageMetadata"] for e in AFC]
    # each turn counted once: the agent span carries no usage of its own
    assert trace.info.token_usage == {
        "input_tokens": sum(t["promptTokenCount"] for t in turns),
        "output_tokens": sum(t["candidatesTokenCount"] for t in turns),
        "total_tokens": sum(t["totalTokenCount"] for t in turns),
    }


def test_instrument_does_not_import_the_sdk_and_wraps_it_when_the_app_does():
    code = textwrap.dedent(
        """
        import sys
        from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor
        GoogleGenAIInstrumentor().instrument()
        assert not [m for m in sys.modules if m.startswith("google.genai")], "instrument() imported google.genai"
        from google import genai
        from google.genai import models
        import wrapt
        assert isinstance(vars(models.Models)["generate_content"], wrapt.FunctionWrapper)
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
