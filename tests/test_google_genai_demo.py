"""The demo endpoint's Gemini API (``otel_genai.demo.gemini_api``) on the real ``google-genai``
client, and the AI-gateway example (``examples/gemini_gateway.py``) run as a program: what it prints
and what it stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google import genai
from google.genai import types

import otel_genai
from otel_genai.demo import fixture, gemini_api, weather
from otel_genai.demo.server import LoopbackServer
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gemini_gateway.py"


@pytest.fixture(scope="module")
def endpoint():
    with LoopbackServer(fixture.respond) as server:
        yield server


def _client(base_url: str) -> genai.Client:
    return genai.Client(api_key="demo-key", http_options={"base_url": base_url + "/gateway/gemini", "api_version": "v1beta"})


def test_plain_and_streamed_answers_in_the_gemini_wire_format(endpoint):
    client = _client(endpoint.base_url)
    plain = client.models.generate_content(model="gemini-v1", contents="Hello")
    assert plain.text == gemini_api.PLAIN_ANSWER
    assert plain.model_version == "gemini-v1"
    assert (plain.usage_metadata.prompt_token_count, plain.usage_metadata.candidates_token_count) == (5, 12)
    chunks = list(client.models.generate_content_stream(model="gemini-v1", contents="Hello"))
    assert "".join(c.text for c in chunks) == gemini_api.PLAIN_ANSWER
    assert len(chunks) == len(gemini_api.PLAIN_ANSWER.split()) and chunks[-1].candidates[0].finish_reason == "STOP"
    assert endpoint.requests[-1].path == "/gateway/gemini/v1beta/models/gemini-v1:streamGenerateContent?alt=sse"


def test_automatic_function_calling_against_the_demo_endpoint_is_one_agent_trace(endpoint, instrumentors, telemetry):
    instrumentors(GoogleGenAIInstrumentor)
    seen = []

    def get_weather(city: str) -> str:
        """The current weather of a city."""
        seen.append(city)
        return "sunny, 21 °C"

    client = _client(endpoint.base_url)
    chat = client.chats.create(model="gemini-2.5-flash", config=types.GenerateContentConfig(tools=[get_weather]))
    answer = chat.send_message("What's the weather like in Tokyo?")
    assert seen == ["Tokyo"]
    assert answer.text == weather.final_answer("Tokyo", json.dumps({"result": "sunny, 21 °C"}))
    names = sorted(s.name for s in telemetry.spans())
    assert names == ["chat gemini-2.5-flash", "chat gemini-2.5-flash", "execute_tool get_weather", "invoke_agent"]
    (tool,) = [s for s in telemetry.spans() if s.name == "execute_tool get_weather"]
    assert tool.attributes["gen_ai.tool.call.id"] == "call_demo_tokyo"


def test_a_bad_request_is_a_gemini_error(endpoint):
    import httpx2

    response = httpx2.post(endpoint.base_url + "/v1beta/models/gemini-v1:generateContent", content=b'{"contents": []}')
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_the_gateway_example_prints_both_answers_and_stores_two_traces(tmp_path):
    store = tmp_path / "traces.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GOOGLE_", "GEMINI_"))}
    env["OTEL_GENAI_STORE_PATH"] = str(store)
    done = subprocess.run([sys.executable, str(EXAMPLE)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [gemini_api.PLAIN_ANSWER, gemini_api.PLAIN_ANSWER]
    traces = sorted(otel_genai.search_traces(path=store), key=lambda t: t.info.request_time)
    assert [[(s.name, s.attributes["server.address"]) for s in t.data.spans] for t in traces] == [[("chat gemini-v1", "127.0.0.1")]] * 2
    plain, streamed = traces
    assert plain.info.token_usage == {"input_tokens": 5, "output_tokens": 12, "total_tokens": 17}
    assert streamed.info.token_usage == {"input_tokens": 6, "output_tokens": 12, "total_tokens": 18}
    assert streamed.data.spans[0].attributes["gen_ai.request.stream"] is True
